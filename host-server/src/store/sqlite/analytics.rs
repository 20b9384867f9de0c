//! Fleet fields, register points, 5-minute aggregates, upload counters and
//! the retention step (run on the writer's connection).

use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use super::devices::bump_epoch;
use crate::clock::now_ms;
use crate::query::buckets::{Bucket, Point, accumulate, aligned_edges};
use crate::store::CodecStats;
use crate::store::StoreError;
use crate::store::analytics::{
    AGGREGATE_MS, Aggregate, AnalyticsStore, DevicePatch, FleetDevice, RawPoint, RetentionStep,
    UploadStats,
};

/// Raw time one retention step rolls up for one device at most.
const STEP_WINDOW_MS: u64 = 24 * 3600 * 1000;
/// Upload bodies one retention step deletes at most.
const UPLOAD_DELETE_BATCH: i64 = 5000;

const FLEET_COLUMNS: &str = "device_id, name, location, description, firmware_version, created_ms, \
    last_seen_ms, upload_interval_s, retired_ms, uploads, samples, hmac_key IS NOT NULL";

fn fleet_row(r: &Row<'_>) -> rusqlite::Result<FleetDevice> {
    Ok(FleetDevice {
        device_id: r.get(0)?,
        name: r.get(1)?,
        location: r.get(2)?,
        description: r.get(3)?,
        firmware_version: r.get(4)?,
        created_ms: r.get(5)?,
        last_seen_ms: r.get(6)?,
        upload_interval_s: r.get(7)?,
        retired_ms: r.get(8)?,
        uploads: r.get(9)?,
        samples: r.get(10)?,
        key: if r.get(11)? { "own" } else { "fleet" },
    })
}

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
        .map_err(|e| StoreError(format!("sample registers: {e}")))
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

fn aggregates(
    conn: &Connection,
    device: &str,
    register: u8,
    range: (u64, u64),
) -> Result<Vec<Aggregate>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT bucket_ms, count, sum, min, max, last, last_t_ms, area, covered_ms
         FROM aggregates_5m WHERE device = {DEVICE_ROW} AND register = ?2
         AND bucket_ms >= ?3 AND bucket_ms < ?4 ORDER BY bucket_ms"
    ))?;
    let rows = stmt.query_map(params![device, register, range.0, range.1], |r| {
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
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn codec_rows(conn: &Connection, device: Option<i64>) -> Result<Vec<CodecStats>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT method, SUM(packets), SUM(failed), SUM(bytes), SUM(original_bytes)
         FROM device_codecs WHERE ?1 IS NULL OR device = ?1 GROUP BY method ORDER BY method",
    )?;
    let rows = stmt.query_map([device], |r| {
        Ok(CodecStats {
            method: r.get(0)?,
            packets: r.get(1)?,
            failed: r.get(2)?,
            bytes: r.get(3)?,
            original_bytes: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn upload_stats(
    conn: &Connection,
    device: Option<&str>,
    since_ms: u64,
) -> Result<Option<UploadStats>, StoreError> {
    let id: Option<i64> = match device {
        Some(d) => match conn
            .query_row("SELECT id FROM devices WHERE device_id = ?1", [d], |r| {
                r.get(0)
            })
            .optional()?
        {
            Some(id) => Some(id),
            None => return Ok(None),
        },
        None => None,
    };
    let (devices, uploads, duplicates, samples, last_seen_ms) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(uploads), 0), COALESCE(SUM(duplicates), 0),
                COALESCE(SUM(samples), 0), MAX(last_seen_ms)
         FROM devices WHERE ?1 IS NULL OR id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let recent_uploads = conn.query_row(
        "SELECT COUNT(*) FROM uploads WHERE (?1 IS NULL OR device = ?1) AND received_ms >= ?2",
        params![id, since_ms],
        |r| r.get(0),
    )?;
    Ok(Some(UploadStats {
        devices,
        uploads,
        duplicates,
        samples,
        recent_uploads,
        last_seen_ms,
        codecs: codec_rows(conn, id)?,
    }))
}

fn update_device(conn: &Connection, device: &str, p: &DevicePatch) -> Result<bool, StoreError> {
    let text = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_owned());
    Ok(conn.execute(
        "UPDATE devices SET
            name = CASE WHEN ?2 IS NULL THEN name WHEN ?2 = '' THEN NULL ELSE ?2 END,
            location = CASE WHEN ?3 IS NULL THEN location WHEN ?3 = '' THEN NULL ELSE ?3 END,
            description = CASE WHEN ?4 IS NULL THEN description WHEN ?4 = '' THEN NULL ELSE ?4 END,
            upload_interval_s = CASE WHEN ?5 IS NULL THEN upload_interval_s
                                     WHEN ?5 = 0 THEN NULL ELSE ?5 END
         WHERE device_id = ?1",
        params![
            device,
            text(&p.name),
            text(&p.location),
            text(&p.description),
            p.upload_interval_s
        ],
    )? == 1)
}

fn retire_device(conn: &Connection, device: &str) -> Result<bool, StoreError> {
    let retired = conn.execute(
        "UPDATE devices SET retired_ms = ?2, hmac_key = NULL, aes_key = NULL
         WHERE device_id = ?1 AND retired_ms IS NULL",
        params![device, now_ms()],
    )? == 1;
    if retired {
        bump_epoch(conn)?;
    }
    Ok(retired)
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
        step.aggregated = roll_up(&tx, device, (start, end), max_gap_ms)?;
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

/// Aggregates `[start, end)` of one device into 5-minute rows (merged with
/// rows already there, e.g. for samples that arrived late).
fn roll_up(
    tx: &Connection,
    device: i64,
    (start, end): (u64, u64),
    max_gap_ms: u64,
) -> Result<u64, StoreError> {
    let profile = crate::readings::profile();
    let mut series: std::collections::BTreeMap<u8, Vec<Point>> = Default::default();
    let mut stmt = tx.prepare_cached(
        "SELECT t_ms, registers FROM samples WHERE device = ?1 AND t_ms >= ?2 AND t_ms < ?3
         ORDER BY t_ms",
    )?;
    let mut rows = stmt.query(params![device, start.saturating_sub(max_gap_ms), end])?;
    while let Some(row) = rows.next()? {
        let t_ms: u64 = row.get(0)?;
        for c in registers_blob(row)?.chunks_exact(3) {
            if let Some(register) = profile.by_id(c[0]) {
                let raw = u16::from_le_bytes([c[1], c[2]]);
                let value = register.read(raw).value.to_f64();
                series.entry(c[0]).or_default().push(Point { t_ms, value });
            }
        }
    }
    let edges = aligned_edges(start, end, AGGREGATE_MS);
    let mut upsert = tx.prepare_cached(
        "INSERT INTO aggregates_5m
            (device, register, bucket_ms, count, sum, min, max, last, last_t_ms, area, covered_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (device, register, bucket_ms) DO UPDATE SET
            count = count + excluded.count, sum = sum + excluded.sum,
            min = MIN(min, excluded.min), max = MAX(max, excluded.max),
            last = CASE WHEN excluded.last_t_ms >= last_t_ms THEN excluded.last ELSE last END,
            last_t_ms = MAX(last_t_ms, excluded.last_t_ms),
            area = area + excluded.area,
            covered_ms = MIN(covered_ms + excluded.covered_ms, ?12)",
    )?;
    let mut written = 0;
    for (register, points) in &series {
        let mut buckets = vec![Bucket::default(); edges.len() - 1];
        accumulate(&edges, points, max_gap_ms, &mut buckets);
        for (b, bucket_ms) in buckets.iter().zip(&edges) {
            if b.count == 0 {
                continue;
            }
            upsert.execute(params![
                device,
                register,
                bucket_ms,
                b.count,
                b.sum,
                b.min,
                b.max,
                b.last,
                b.last_t_ms,
                b.area,
                b.covered_ms,
                AGGREGATE_MS
            ])?;
            written += 1;
        }
    }
    Ok(written)
}

impl AnalyticsStore for SqliteStore {
    fn fleet(&self) -> BoxFuture<'_, Result<Vec<FleetDevice>, StoreError>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {FLEET_COLUMNS} FROM devices ORDER BY device_id"
            ))?;
            let rows = stmt.query_map([], fleet_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn fleet_device(&self, device: &str) -> BoxFuture<'_, Result<Option<FleetDevice>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {FLEET_COLUMNS} FROM devices WHERE device_id = ?1"
            ))?
            .query_row([device], fleet_row)
            .optional()?)
        })
    }

    fn update_device(
        &self,
        device: &str,
        patch: DevicePatch,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |a| update_device(&a.0, &device, &patch))
    }

    fn retire_device(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |a| retire_device(&a.0, &device))
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

    fn upload_stats(
        &self,
        device: Option<&str>,
        since_ms: u64,
    ) -> BoxFuture<'_, Result<Option<UploadStats>, StoreError>> {
        let device = device.map(str::to_owned);
        self.read(move |c| upload_stats(c, device.as_deref(), since_ms))
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
