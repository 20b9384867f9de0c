//! Samples, register points, rollups, totals and the retention step.
//!
//! A sample row keeps its registers as an `INTEGER[]` of
//! `(register id << 16) | raw value` in layout order, so one register's
//! points are picked out in SQL.

use deadpool_postgres::Pool;
use futures_util::future::BoxFuture;
use tokio_postgres::Row;

use super::PgStore;
use super::num::{RowExt as _, big, limit};
use super::rollups;
use crate::store::telemetry::{Aggregate, Level, RawPoint, RetentionStep, TelemetryStore};
use crate::store::{HistoryQuery, StoreCounts, StoreError, StoredSample};

const APPROXIMATE: i16 = 1;
const DEVICE_TIME: i16 = 2;

/// Rows of each kind one retention step deletes at most.
const DELETE_BATCH: u64 = 5_000;

/// The flags column of a sample.
pub(super) fn flags(approximate: bool, device_time: bool) -> i16 {
    (if approximate { APPROXIMATE } else { 0 }) | (if device_time { DEVICE_TIME } else { 0 })
}

/// The registers column of a sample.
pub(super) fn encode_registers(registers: &[(u8, u16)]) -> Vec<i32> {
    registers
        .iter()
        .map(|&(id, raw)| (i32::from(id) << 16) | i32::from(raw))
        .collect()
}

fn decode_register(v: i32) -> (u8, u16) {
    let v = v as u32;
    ((v >> 16) as u8, (v & 0xffff) as u16)
}

const SAMPLE_COLUMNS: &str = "s.t_ms, s.upload, s.packet, s.flags, s.registers";

/// A stored sample from [`SAMPLE_COLUMNS`].
pub(super) fn sample(r: &Row) -> Result<StoredSample, StoreError> {
    let flags: i16 = r.try_get(3)?;
    let registers: Vec<i32> = r.try_get(4)?;
    Ok(StoredSample {
        t_ms: r.u64(0)?,
        upload_id: r.try_get(1)?,
        packet: usize::try_from(r.try_get::<_, i32>(2)?).unwrap_or(0),
        approximate: flags & APPROXIMATE != 0,
        device_time: flags & DEVICE_TIME != 0,
        registers: registers.into_iter().map(decode_register).collect(),
    })
}

const DEVICE_ROW: &str = "(SELECT id FROM devices WHERE device_id = $1)";

async fn history(
    pool: &Pool,
    device: &str,
    q: HistoryQuery,
) -> Result<Vec<StoredSample>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {SAMPLE_COLUMNS} FROM samples s WHERE s.device = {DEVICE_ROW}
             AND s.t_ms >= $2 AND s.t_ms < $3 ORDER BY s.t_ms, s.upload, s.pos LIMIT $4"
        ))
        .await?;
    let rows = client
        .query(
            &stmt,
            &[&device, &big(q.from_ms), &big(q.to_ms), &limit(q.limit)],
        )
        .await?;
    rows.iter().map(sample).collect()
}

async fn latest(pool: &Pool, device: &str) -> Result<Option<StoredSample>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {SAMPLE_COLUMNS} FROM samples s WHERE s.device = {DEVICE_ROW}
             ORDER BY s.t_ms DESC, s.upload DESC, s.pos DESC LIMIT 1"
        ))
        .await?;
    client
        .query_opt(&stmt, &[&device])
        .await?
        .as_ref()
        .map(sample)
        .transpose()
}

/// The `(t_ms, raw)` of one register in samples of a device, newest or oldest first.
async fn register_points(
    pool: &Pool,
    device: &str,
    register: u8,
    (from, to): (u64, u64),
    newest_first: bool,
    n: usize,
) -> Result<Vec<RawPoint>, StoreError> {
    let client = pool.get().await?;
    let order = if newest_first { "DESC" } else { "ASC" };
    let stmt = client
        .prepare_cached(&format!(
            "SELECT s.t_ms, r & 65535 FROM samples s, unnest(s.registers) r
             WHERE s.device = {DEVICE_ROW} AND s.t_ms >= $2 AND s.t_ms < $3 AND r >> 16 = $4
             ORDER BY s.t_ms {order}, s.upload {order}, s.pos {order} LIMIT $5"
        ))
        .await?;
    let rows = client
        .query(
            &stmt,
            &[
                &device,
                &big(from),
                &big(to),
                &i32::from(register),
                &limit(n),
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RawPoint {
                t_ms: r.u64(0)?,
                raw: u16::try_from(r.try_get::<_, i32>(1)?).unwrap_or(0),
            })
        })
        .collect()
}

/// Totals over the whole store.
pub(super) async fn counts(pool: &Pool) -> Result<StoreCounts, StoreError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT COUNT(*), COALESCE(SUM(uploads), 0)::bigint, COALESCE(SUM(samples), 0)::bigint
             FROM devices",
            &[],
        )
        .await?;
    Ok(StoreCounts {
        devices: row.u64(0)?,
        uploads: row.u64(1)?,
        samples: row.u64(2)?,
    })
}

/// Deletes raw samples and upload bodies before `raw_before_ms` and
/// 5-minute rollups before `aggregates_before_ms`, at most [`DELETE_BATCH`]
/// of each, in one transaction.
async fn retention_step(
    pool: &Pool,
    raw_before_ms: u64,
    aggregates_before_ms: u64,
) -> Result<RetentionStep, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let batch = big(DELETE_BATCH);
    let samples_deleted = tx
        .execute(
            "DELETE FROM samples WHERE ctid = ANY(ARRAY(
                SELECT ctid FROM samples WHERE t_ms < $1 LIMIT $2))",
            &[&big(raw_before_ms), &batch],
        )
        .await?;
    let five = rollups::table(Level::Minutes5);
    let aggregates_deleted = tx
        .execute(
            &format!(
                "DELETE FROM {five} WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM {five} WHERE bucket_ms < $1 LIMIT $2))"
            ),
            &[&big(aggregates_before_ms), &batch],
        )
        .await?;
    let uploads_deleted = tx
        .execute(
            "DELETE FROM uploads WHERE id = ANY(ARRAY(
                SELECT id FROM uploads u WHERE received_ms < $1
                AND NOT EXISTS (SELECT 1 FROM samples s WHERE s.upload = u.id) LIMIT $2))",
            &[&big(raw_before_ms), &batch],
        )
        .await?;
    tx.commit().await?;
    Ok(RetentionStep {
        samples_deleted,
        uploads_deleted,
        aggregates_deleted,
        more: [samples_deleted, uploads_deleted, aggregates_deleted].contains(&DELETE_BATCH),
    })
}

impl TelemetryStore for PgStore {
    fn history(
        &self,
        device: &str,
        query: HistoryQuery,
    ) -> BoxFuture<'_, Result<Vec<StoredSample>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move { history(&pool, &device, query).await })
    }

    fn latest(&self, device: &str) -> BoxFuture<'_, Result<Option<StoredSample>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move { latest(&pool, &device).await })
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
        self.run(move |pool| async move {
            register_points(&pool, &device, register, (from_ms, to_ms), false, limit).await
        })
    }

    fn point_before(
        &self,
        device: &str,
        register: u8,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, Result<Option<RawPoint>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let points =
                register_points(&pool, &device, register, (from_ms, to_ms), true, 1).await?;
            Ok(points.into_iter().next())
        })
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
        self.run(move |pool| async move {
            rollups::read(&pool, &device, register, level, (from_ms, to_ms)).await
        })
    }

    fn retention_step(
        &self,
        raw_before_ms: u64,
        aggregates_before_ms: u64,
    ) -> BoxFuture<'_, Result<RetentionStep, StoreError>> {
        self.run(move |pool| async move {
            retention_step(&pool, raw_before_ms, aggregates_before_ms).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_round_trip_through_their_column() {
        let regs = vec![(0, 2304), (9, 65535), (255, 0)];
        let column = encode_registers(&regs);
        let back: Vec<(u8, u16)> = column.into_iter().map(decode_register).collect();
        assert_eq!(back, regs);
    }
}
