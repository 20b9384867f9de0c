//! Samples and register points (read from blocks), rollups and the
//! retention step (run on the writer's connection).

use futures_util::future::BoxFuture;
use rusqlite::{Connection, params};

use super::rollups::RollupWriter;
use super::{SqliteStore, blocks, rollups};
use crate::store::telemetry::{Aggregate, Level, RawPoint, RetentionStep, TelemetryStore};
use crate::store::{HistoryQuery, StoreError, StoredSample};

/// Rows of each kind one retention step deletes at most: each step is one
/// short write transaction, so ingest, logins and admin writes interleave.
const DELETE_BATCH: u64 = 5_000;

/// Flushes the open rollups (so every block retention deletes is rolled
/// up), then deletes blocks whose samples all lie before `raw_before_ms`,
/// upload rows received before it and 5-minute rollups before
/// `aggregates_before_ms`, at most [`DELETE_BATCH`] of each, in one transaction.
fn retention_step(
    conn: &mut Connection,
    rollups: &mut RollupWriter,
    raw_before_ms: u64,
    aggregates_before_ms: u64,
) -> Result<RetentionStep, StoreError> {
    rollups.flush(conn)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let devices: Vec<i64> = tx
        .prepare_cached("SELECT id FROM devices ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut step = RetentionStep::default();
    let mut blocks_deleted = 0;
    let five = rollups::table(Level::Minutes5);
    for &device in &devices {
        let left = DELETE_BATCH - blocks_deleted;
        if left == 0 {
            break;
        }
        let doomed: Vec<(i64, u64)> = tx
            .prepare_cached(
                "SELECT id, samples FROM blocks WHERE device = ?1 AND t_first < ?2 AND t_last < ?2
                 LIMIT ?3",
            )?
            .query_map(params![device, raw_before_ms, left], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut delete = tx.prepare_cached("DELETE FROM blocks WHERE id = ?1")?;
        for (id, samples) in doomed {
            delete.execute([id])?;
            blocks_deleted += 1;
            step.samples_deleted += samples;
        }
    }
    step.aggregates_deleted = tx
        .prepare_cached(&format!(
            "DELETE FROM {five} WHERE (bucket_ms, device, register) IN (
                SELECT bucket_ms, device, register FROM {five} WHERE bucket_ms < ?1 LIMIT ?2)"
        ))?
        .execute(params![aggregates_before_ms, DELETE_BATCH])? as u64;
    step.uploads_deleted = tx
        .prepare_cached(
            "DELETE FROM uploads WHERE id IN (
                SELECT id FROM uploads WHERE received_ms < ?1 LIMIT ?2)",
        )?
        .execute(params![raw_before_ms, DELETE_BATCH])? as u64;
    step.more = [
        blocks_deleted,
        step.uploads_deleted,
        step.aggregates_deleted,
    ]
    .contains(&DELETE_BATCH);
    tx.commit()?;
    Ok(step)
}

impl TelemetryStore for SqliteStore {
    fn history(
        &self,
        device: &str,
        query: HistoryQuery,
    ) -> BoxFuture<'_, Result<Vec<StoredSample>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| blocks::history(c, &device, &query))
    }

    fn latest(&self, device: &str) -> BoxFuture<'_, Result<Option<StoredSample>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| blocks::latest(c, &device))
    }

    fn points(
        &self,
        device: &str,
        register: u8,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RawPoint>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| blocks::points(c, &device, register, (from_ms, to_ms), limit))
    }

    fn point_before(
        &self,
        device: &str,
        register: u8,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, Result<Option<RawPoint>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| blocks::point_before(c, &device, register, (from_ms, to_ms)))
    }

    fn aggregates(
        &self,
        device: &str,
        register: u8,
        level: Level,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, Result<Vec<Aggregate>, StoreError>> {
        let device = device.to_owned();
        let open = self.open_rollups.clone();
        self.read(move |c| {
            rollups::read_with_open(c, &open, &device, register, level, (from_ms, to_ms))
        })
    }

    fn retention_step(
        &self,
        raw_before_ms: u64,
        aggregates_before_ms: u64,
    ) -> BoxFuture<'_, Result<RetentionStep, StoreError>> {
        let writer = self.writer.clone();
        Box::pin(async move {
            writer
                .run(move |conn, rollups| {
                    retention_step(conn, rollups, raw_before_ms, aggregates_before_ms)
                })
                .await
        })
    }
}
