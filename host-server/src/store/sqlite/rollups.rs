//! Rollup rows (`aggregates_5m`, `aggregates_1h`, `aggregates_1d`): reads,
//! the merge of a batch's delta, and the one-time roll-up of samples stored
//! before rollups were kept at ingest.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::samples::decode_registers;
use crate::store::StoreError;
use crate::store::telemetry::{Aggregate, Level, RollupDelta, RollupTails};

/// The table of a level.
pub(super) fn table(level: Level) -> &'static str {
    match level {
        Level::Minutes5 => "aggregates_5m",
        Level::Hour => "aggregates_1h",
        Level::Day => "aggregates_1d",
    }
}

const COLUMNS: &str =
    "bucket_ms, count, sum, min, max, last, last_t_ms, area, covered_ms, first_t_ms";

fn row(r: &Row<'_>) -> rusqlite::Result<Aggregate> {
    row_at(r, 0)
}

/// An aggregate from the [`COLUMNS`] starting at column `at`.
fn row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<Aggregate> {
    Ok(Aggregate {
        bucket_ms: r.get(at)?,
        count: r.get(at + 1)?,
        sum: r.get(at + 2)?,
        min: r.get(at + 3)?,
        max: r.get(at + 4)?,
        last: r.get(at + 5)?,
        last_t_ms: r.get(at + 6)?,
        area: r.get(at + 7)?,
        covered_ms: r.get(at + 8)?,
        first_t_ms: r.get(at + 9)?,
    })
}

/// Stores one rollup row: an update in place when the row exists (its
/// index entry stays untouched), else an insert.
fn write(
    tx: &Transaction<'_>,
    key: (Level, i64, u8),
    a: &Aggregate,
    exists: bool,
) -> Result<(), StoreError> {
    let (level, device, register) = key;
    let sql = if exists {
        format!(
            "UPDATE {} SET count = ?4, sum = ?5, min = ?6, max = ?7, last = ?8, last_t_ms = ?9,
                area = ?10, covered_ms = ?11, first_t_ms = ?12
             WHERE device = ?1 AND register = ?2 AND bucket_ms = ?3",
            table(level)
        )
    } else {
        format!(
            "INSERT INTO {} (device, register, {COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            table(level)
        )
    };
    tx.prepare_cached(&sql)?.execute(params![
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
        a.covered_ms,
        a.first_t_ms
    ])?;
    Ok(())
}

/// Rollups of one register of a device at `level`, buckets in `[from, to)`.
pub(super) fn read(
    conn: &Connection,
    device: &str,
    register: u8,
    level: Level,
    (from, to): (u64, u64),
) -> Result<Vec<Aggregate>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {} WHERE device = (SELECT id FROM devices WHERE device_id = ?1)
         AND register = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4 ORDER BY bucket_ms",
        table(level)
    ))?;
    let rows = stmt.query_map(params![device, register, from, to], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Folds a batch's delta into the stored rows (the arithmetic is
/// [`Aggregate::merged`], the same for every backend).
pub(super) fn merge(tx: &Transaction<'_>, delta: &RollupDelta<i64>) -> Result<(), StoreError> {
    for (key, more) in delta.rows() {
        let name = table(key.level);
        let stored = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {name} WHERE device = ?1 AND register = ?2 AND bucket_ms = ?3"
            ))?
            .query_row(params![key.device, key.register, key.bucket_ms], row)
            .optional()?;
        let exists = stored.is_some();
        let a = stored.map_or(more, |s| s.merged(&more, key.level));
        write(tx, (key.level, key.device, key.register), &a, exists)?;
    }
    Ok(())
}

/// Samples rolled per merge during the backfill (bounds its memory).
const BACKFILL_CHUNK: usize = 50_000;

/// Rolls every stored sample into the rollups once, for databases written
/// before rollups were kept at ingest: 5-minute rows that retention made
/// earlier also feed the hourly and daily tables. One transaction.
pub(super) fn backfill(conn: &mut Connection, max_gap_ms: u64) -> Result<(), StoreError> {
    let done: i64 = conn.query_row(
        "SELECT value FROM meta WHERE key = 'rollups_backfilled'",
        [],
        |r| r.get(0),
    )?;
    if done != 0 {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let samples: u64 = tx.query_row("SELECT COUNT(*) FROM samples", [], |r| r.get(0))?;
    if samples > 0 {
        tracing::info!(
            samples,
            "rolling up the samples stored before rollups were kept"
        );
    }
    coarsen_old_rows(&tx)?;
    let devices: Vec<i64> = tx
        .prepare("SELECT id FROM devices ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for device in devices {
        let mut tails = RollupTails::default();
        let mut delta = RollupDelta::new(max_gap_ms);
        let mut pending = 0;
        let mut stmt =
            tx.prepare("SELECT t_ms, registers FROM samples WHERE device = ?1 ORDER BY t_ms")?;
        let mut rows = stmt.query([device])?;
        while let Some(r) = rows.next()? {
            let registers = decode_registers(r.get_ref(1)?.as_blob().unwrap_or_default());
            delta.add(device, &mut tails, r.get(0)?, &registers);
            pending += 1;
            if pending == BACKFILL_CHUNK {
                merge(&tx, &delta)?;
                delta = RollupDelta::new(max_gap_ms);
                pending = 0;
            }
        }
        merge(&tx, &delta)?;
        tx.execute(
            "UPDATE devices SET rollup_tail = ?2 WHERE id = ?1",
            params![device, tails.to_bytes()],
        )?;
    }
    tx.execute(
        "UPDATE meta SET value = 1 WHERE key = 'rollups_backfilled'",
        [],
    )?;
    tx.commit()?;
    Ok(())
}

/// Merges the 5-minute rows retention wrote before this version into
/// hourly and daily rows.
fn coarsen_old_rows(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let old: Vec<(i64, u8, Aggregate)> = tx
        .prepare(&format!(
            "SELECT device, register, {COLUMNS} FROM aggregates_5m ORDER BY device, register, bucket_ms"
        ))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, row_at(r, 2)?)))?
        .collect::<Result<_, _>>()?;
    let mut coarse: std::collections::BTreeMap<(i64, u8, Level, u64), Aggregate> =
        std::collections::BTreeMap::new();
    for (device, register, a) in old {
        for level in [Level::Hour, Level::Day] {
            let bucket_ms = level.bucket(a.bucket_ms);
            let at = Aggregate { bucket_ms, ..a };
            coarse
                .entry((device, register, level, bucket_ms))
                .and_modify(|c| *c = c.merged(&at, level))
                .or_insert(at);
        }
    }
    for ((device, register, level, _), a) in coarse {
        write(tx, (level, device, register), &a, false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{SqliteStore, samples, schema};
    use super::*;
    use crate::store::StoreOptions;

    /// A database as the server before rollups wrote it (schema version 2):
    /// raw samples, and one 5-minute row retention made from older samples.
    fn old_database(path: &std::path::Path) {
        let conn = schema::open(path, schema::Role::Write).unwrap();
        for sql in &schema::MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO devices (id, device_id, created_ms) VALUES (1, 'D1', 0)",
            [],
        )
        .unwrap();
        let mut blob = Vec::new();
        samples::encode_registers(&[(9, 1000), (0, 2300)], &mut blob);
        for t_ms in [36_000_000, 36_005_000, 36_010_000] {
            conn.execute(
                "INSERT INTO samples (device, t_ms, upload, packet, flags, registers)
                 VALUES (1, ?1, 1, 0, 2, ?2)",
                params![t_ms, blob],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO aggregates_5m VALUES (1, 9, 7200000, 2, 20.0, 5.0, 15.0, 15.0, 7260000,
                                                100.0, 60000)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn an_old_database_is_carried_forward() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        old_database(&path);
        drop(SqliteStore::open(&path, StoreOptions::command()).unwrap());
        let conn = schema::open(&path, schema::Role::Read).unwrap();
        let all = (0, u64::MAX / 2);
        let old_hour = read(&conn, "D1", 9, Level::Hour, all).unwrap();
        assert_eq!(old_hour.len(), 2);
        assert_eq!((old_hour[0].bucket_ms, old_hour[0].count), (7_200_000, 2));
        assert_eq!(
            (old_hour[0].area, old_hour[0].first_t_ms),
            (100.0, 7_200_000)
        );
        // 1000 W for 10 s, from the samples that were still raw.
        let new_hour = old_hour[1];
        assert_eq!((new_hour.bucket_ms, new_hour.count), (36_000_000, 3));
        assert_eq!((new_hour.area, new_hour.covered_ms), (10_000.0, 10_000));
        let day = read(&conn, "D1", 9, Level::Day, all).unwrap();
        assert_eq!((day[0].count, day[0].area), (5, 10_100.0));
        assert_eq!(read(&conn, "D1", 0, Level::Minutes5, all).unwrap().len(), 1);
        let tail: Vec<u8> = conn
            .query_row("SELECT rollup_tail FROM devices WHERE id = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(RollupTails::from_bytes(&tail).to_bytes(), tail);
        assert_eq!(tail.len(), 2 * 17, "the next upload's segments start here");
        // Opening again does not roll the samples up twice.
        drop(SqliteStore::open(&path, StoreOptions::command()).unwrap());
        let again = read(&conn, "D1", 9, Level::Day, all).unwrap();
        assert_eq!(again, day);
    }
}
