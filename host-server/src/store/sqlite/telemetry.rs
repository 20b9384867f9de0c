//! Samples, register points, rollups and the retention step (run on the
//! writer's connection).

use futures_util::future::BoxFuture;
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, rollups, samples};
use crate::store::telemetry::{Aggregate, Level, RawPoint, RetentionStep, TelemetryStore};
use crate::store::{HistoryQuery, StoreError, StoredSample};

/// Rows of each kind one retention step deletes at most: each step is one
/// short write transaction, so ingest, logins and admin writes interleave.
const DELETE_BATCH: u64 = 5_000;

/// The raw value of register `id` in a sample's register blob (3-byte entries).
fn register_value(blob: &[u8], id: u8) -> Option<u16> {
    blob.chunks_exact(3)
        .find(|c| c[0] == id)
        .map(|c| u16::from_le_bytes([c[1], c[2]]))
}

/// Column 1 of a sample query: the register blob.
fn registers_blob<'r>(row: &'r Row<'_>) -> Result<&'r [u8], StoreError> {
    row.get_ref(1)?
        .as_blob()
        .map_err(|e| StoreError::new(format!("sample registers: {e}")))
}

const DEVICE_ROW: &str = "(SELECT id FROM devices WHERE device_id = ?1)";

fn points(
    conn: &Connection,
    device: &str,
    register: u8,
    range: (u64, u64),
    limit: usize,
) -> Result<Vec<RawPoint>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT t_ms, registers FROM samples WHERE device = {DEVICE_ROW}
         AND t_ms >= ?2 AND t_ms < ?3 ORDER BY t_ms LIMIT ?4"
    ))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt.query(params![device, range.0, range.1, limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let blob = registers_blob(row)?;
        if let Some(raw) = register_value(blob, register) {
            out.push(RawPoint {
                t_ms: row.get(0)?,
                raw,
            });
        }
    }
    Ok(out)
}

fn point_before(
    conn: &Connection,
    device: &str,
    register: u8,
    range: (u64, u64),
) -> Result<Option<RawPoint>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT t_ms, registers FROM samples WHERE device = {DEVICE_ROW}
         AND t_ms >= ?2 AND t_ms < ?3 ORDER BY t_ms DESC LIMIT 64"
    ))?;
    let mut rows = stmt.query(params![device, range.0, range.1])?;
    while let Some(row) = rows.next()? {
        if let Some(raw) = register_value(registers_blob(row)?, register) {
            return Ok(Some(RawPoint {
                t_ms: row.get(0)?,
                raw,
            }));
        }
    }
    Ok(None)
}

/// Deletes raw samples and upload bodies before `raw_before_ms` and
/// 5-minute rollups before `aggregates_before_ms`, at most [`DELETE_BATCH`]
/// of each, in one transaction.
fn retention_step(
    conn: &mut Connection,
    raw_before_ms: u64,
    aggregates_before_ms: u64,
) -> Result<RetentionStep, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let devices: Vec<i64> = tx
        .prepare_cached("SELECT id FROM devices ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut step = RetentionStep::default();
    let five = rollups::table(Level::Minutes5);
    for &device in &devices {
        let left = DELETE_BATCH - step.samples_deleted;
        if left > 0 {
            step.samples_deleted +=
                tx.prepare_cached(
                    "DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples
                     WHERE device = ?1 AND t_ms < ?2 LIMIT ?3)",
                )?
                .execute(params![device, raw_before_ms, left])? as u64;
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
                SELECT id FROM uploads u WHERE received_ms < ?1
                AND NOT EXISTS (SELECT 1 FROM samples s WHERE s.upload = u.id) LIMIT ?2)",
        )?
        .execute(params![raw_before_ms, DELETE_BATCH])? as u64;
    step.more = [
        step.samples_deleted,
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
        self.read(move |c| samples::history(c, &device, &query))
    }

    fn latest(&self, device: &str) -> BoxFuture<'_, Result<Option<StoredSample>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| samples::latest(c, &device))
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
        self.read(move |c| points(c, &device, register, (from_ms, to_ms), limit))
    }

    fn point_before(
        &self,
        device: &str,
        register: u8,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, Result<Option<RawPoint>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| point_before(c, &device, register, (from_ms, to_ms)))
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
        self.read(move |c| rollups::read(c, &device, register, level, (from_ms, to_ms)))
    }

    fn retention_step(
        &self,
        raw_before_ms: u64,
        aggregates_before_ms: u64,
    ) -> BoxFuture<'_, Result<RetentionStep, StoreError>> {
        let writer = self.writer.clone();
        Box::pin(async move {
            writer
                .run(move |conn| retention_step(conn, raw_before_ms, aggregates_before_ms))
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_register_in_a_blob() {
        let blob = [0, 0x00, 0x09, 9, 0xb5, 0x04];
        assert_eq!(register_value(&blob, 9), Some(1205));
        assert_eq!(register_value(&blob, 0), Some(2304));
        assert_eq!(register_value(&blob, 7), None);
    }
}
