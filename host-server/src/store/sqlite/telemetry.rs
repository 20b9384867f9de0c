//! Samples, register points, 5-minute aggregates and the retention step
//! (run on the writer's connection).

use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{SqliteStore, samples};
use crate::store::telemetry::{
    AGGREGATE_MS, Aggregate, RawPoint, RetentionStep, TelemetryStore, roll_up,
};
use crate::store::{HistoryQuery, StoreError, StoredSample};

/// Raw time one retention step rolls up for one device at most.
const STEP_WINDOW_MS: u64 = 24 * 3600 * 1000;
/// Upload bodies one retention step deletes at most.
const UPLOAD_DELETE_BATCH: i64 = 5000;

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

const AGGREGATE_COLUMNS: &str =
    "bucket_ms, count, sum, min, max, last, last_t_ms, area, covered_ms";

fn aggregate_row(r: &Row<'_>) -> rusqlite::Result<Aggregate> {
    Ok(Aggregate {
        bucket_ms: r.get(0)?,
        count: r.get(1)?,
        sum: r.get(2)?,
        min: r.get(3)?,
        max: r.get(4)?,
        last: r.get(5)?,
        last_t_ms: r.get(6)?,
        area: r.get(7)?,
        covered_ms: r.get(8)?,
    })
}

fn aggregates(
    conn: &Connection,
    device: &str,
    register: u8,
    range: (u64, u64),
) -> Result<Vec<Aggregate>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {AGGREGATE_COLUMNS} FROM aggregates_5m WHERE device = {DEVICE_ROW}
         AND register = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4 ORDER BY bucket_ms"
    ))?;
    let rows = stmt.query_map(params![device, register, range.0, range.1], aggregate_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Rolls up one device's oldest day of raw samples before `cutoff`, deletes
/// them, trims old upload bodies and aggregates, all in one transaction.
fn retention_step(
    conn: &mut Connection,
    raw_before_ms: u64,
    aggregates_before_ms: u64,
    max_gap_ms: u64,
) -> Result<RetentionStep, StoreError> {
    let cutoff = raw_before_ms - raw_before_ms % AGGREGATE_MS;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut step = RetentionStep::default();
    let devices: Vec<i64> = tx
        .prepare_cached("SELECT id FROM devices ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut oldest = None;
    for &device in &devices {
        let first: Option<u64> = tx
            .prepare_cached("SELECT MIN(t_ms) FROM samples WHERE device = ?1")?
            .query_row([device], |r| r.get(0))?;
        if let Some(first) = first.filter(|&t| t < cutoff) {
            if oldest.is_some() {
                step.more = true;
                break;
            }
            oldest = Some((device, first));
        }
    }
    if let Some((device, first)) = oldest {
        let start = first - first % AGGREGATE_MS;
        let end = cutoff.min(start + STEP_WINDOW_MS);
        step.more |= end < cutoff;
        step.aggregated = roll_up_range(&tx, device, (start, end), max_gap_ms)?;
        step.samples_deleted = tx
            .prepare_cached("DELETE FROM samples WHERE device = ?1 AND t_ms >= ?2 AND t_ms < ?3")?
            .execute(params![device, start, end])? as u64;
    }
    step.uploads_deleted = tx
        .prepare_cached(
            "DELETE FROM uploads WHERE id IN (
                SELECT id FROM uploads u WHERE received_ms < ?1
                AND NOT EXISTS (SELECT 1 FROM samples s WHERE s.upload = u.id) LIMIT ?2)",
        )?
        .execute(params![cutoff, UPLOAD_DELETE_BATCH])? as u64;
    step.more |= step.uploads_deleted == UPLOAD_DELETE_BATCH as u64;
    for &device in &devices {
        step.aggregates_deleted +=
            tx.prepare_cached("DELETE FROM aggregates_5m WHERE device = ?1 AND bucket_ms < ?2")?
                .execute(params![device, aggregates_before_ms])? as u64;
    }
    tx.commit()?;
    Ok(step)
}

/// Aggregates `[start, end)` of one device into 5-minute rows, merged with
/// rows already there (e.g. for samples that arrived late).
fn roll_up_range(
    tx: &Connection,
    device: i64,
    (start, end): (u64, u64),
    max_gap_ms: u64,
) -> Result<u64, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT t_ms, registers FROM samples WHERE device = ?1 AND t_ms >= ?2 AND t_ms < ?3
         ORDER BY t_ms",
    )?;
    let mut rows = stmt.query(params![device, start.saturating_sub(max_gap_ms), end])?;
    let mut samples = Vec::new();
    while let Some(row) = rows.next()? {
        samples.push((
            row.get::<_, u64>(0)?,
            samples::decode_registers(registers_blob(row)?),
        ));
    }
    let rolled = roll_up(
        samples.iter().map(|(t, regs)| (*t, regs.as_slice())),
        (start, end),
        max_gap_ms,
    );
    let mut existing = tx.prepare_cached(&format!(
        "SELECT {AGGREGATE_COLUMNS} FROM aggregates_5m
         WHERE device = ?1 AND register = ?2 AND bucket_ms = ?3"
    ))?;
    let mut upsert = tx.prepare_cached(
        "INSERT OR REPLACE INTO aggregates_5m
            (device, register, bucket_ms, count, sum, min, max, last, last_t_ms, area, covered_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for (register, fresh) in &rolled {
        let stored = existing
            .query_row(params![device, register, fresh.bucket_ms], aggregate_row)
            .optional()?;
        let a = stored.map_or(*fresh, |s| s.merged(fresh));
        upsert.execute(params![
            device,
            register,
            a.bucket_ms,
            a.count,
            a.sum,
            a.min,
            a.max,
            a.last,
            a.last_t_ms,
            a.area,
            a.covered_ms
        ])?;
    }
    Ok(rolled.len() as u64)
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
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, Result<Vec<Aggregate>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| aggregates(c, &device, register, (from_ms, to_ms)))
    }

    fn retention_step(
        &self,
        raw_before_ms: u64,
        aggregates_before_ms: u64,
        max_gap_ms: u64,
    ) -> BoxFuture<'_, Result<RetentionStep, StoreError>> {
        let writer = self.writer.clone();
        Box::pin(async move {
            writer
                .run(move |conn| {
                    retention_step(conn, raw_before_ms, aggregates_before_ms, max_gap_ms)
                })
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
