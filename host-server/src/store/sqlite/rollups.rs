//! Rollup rows (`aggregates_5m`, `aggregates_1h`, `aggregates_1d`): the
//! writer's open buckets, kept in memory and flushed in their own short
//! transactions with a watermark (the last block they hold), their rebuild
//! from the blocks past the watermark after a crash, reads that fold the
//! open buckets in, and the one-time preparation of databases written
//! before rollups were kept at ingest.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use solarwire_core::registers::Profile;

use crate::store::StoreError;
use crate::store::ingest::IngestBatch;
use crate::store::telemetry::{
    Aggregate, Level, OpenRollups, RollupDelta, RollupKey, RollupTails, overlay,
};

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

/// Folds rollup rows into the stored rows (the arithmetic is
/// [`Aggregate::merged`], the same for every backend).
pub(super) fn merge(
    tx: &Transaction<'_>,
    rows: impl IntoIterator<Item = (RollupKey<i64>, Aggregate)>,
) -> Result<(), StoreError> {
    for (key, more) in rows {
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

/// The stored rollup watermark: the last block the stored rows hold.
pub(super) fn watermark(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT value FROM meta WHERE key = 'rollup_watermark'",
        [],
        |r| r.get(0),
    )?)
}

/// Stores rollup rows, each device's tails and the watermark they reach, in one transaction.
fn store(
    conn: &mut Connection,
    rows: Vec<(RollupKey<i64>, Aggregate)>,
    tails: &HashMap<i64, RollupTails>,
    watermark: i64,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    merge(&tx, rows)?;
    let mut update = tx.prepare_cached("UPDATE devices SET rollup_tail = ?2 WHERE id = ?1")?;
    for (device, t) in tails {
        update.execute(params![device, t.to_bytes()])?;
    }
    drop(update);
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'rollup_watermark'",
        [watermark],
    )?;
    tx.execute("DELETE FROM blocks_rolled WHERE id <= ?1", [watermark])?;
    tx.commit()?;
    Ok(())
}

/// A device's stored tails (its last values as of the watermark) and the
/// profile its values are read with.
fn stored_tails(
    conn: &Connection,
    device: i64,
) -> Result<(RollupTails, &'static Profile), StoreError> {
    let row: Option<(Option<Vec<u8>>, Option<String>)> = conn
        .prepare_cached("SELECT rollup_tail, profile FROM devices WHERE id = ?1")?
        .query_row([device], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (bytes, profile) = row.unwrap_or_default();
    Ok((
        bytes
            .map(|b| RollupTails::from_bytes(&b))
            .unwrap_or_default(),
        crate::readings::device_profile(profile.as_deref()),
    ))
}

/// Blocks rolled up per transaction when rebuilding (bounds its memory).
const REBUILD_CHUNK: usize = 5_000;

/// Rolls the blocks past the stored watermark into the stored rows (what
/// the writer had not flushed when it stopped), in bounded transactions,
/// exactly as ingest did: blocks in commit order, from each device's tails
/// as of the watermark. Returns the new watermark.
fn rebuild(conn: &mut Connection, max_gap_ms: u64) -> Result<i64, StoreError> {
    let mut mark = watermark(conn)?;
    let mut rebuilt = 0usize;
    loop {
        let chunk = super::blocks::after(conn, mark, REBUILD_CHUNK)?;
        let Some(&(last, _, _)) = chunk.last() else {
            break;
        };
        let mut tails: HashMap<i64, RollupTails> = HashMap::new();
        let mut profiles: HashMap<i64, &Profile> = HashMap::new();
        let mut delta = RollupDelta::new(max_gap_ms);
        for (_, device, samples) in &chunk {
            if !tails.contains_key(device) {
                let (stored, profile) = stored_tails(conn, *device)?;
                tails.insert(*device, stored);
                profiles.insert(*device, profile);
            }
            let t = tails.entry(*device).or_default();
            let profile = profiles
                .get(device)
                .copied()
                .unwrap_or_else(crate::readings::profile);
            for s in samples {
                delta.add(*device, t, profile, s.t_ms, &s.registers);
            }
        }
        rebuilt += chunk.len();
        store(conn, delta.rows().collect(), &tails, last)?;
        mark = last;
    }
    if rebuilt > 0 {
        tracing::info!(
            blocks = rebuilt,
            "rollups rebuilt from the blocks past the watermark"
        );
    }
    Ok(mark)
}

/// How long a store waits for the rollup lease a closing store still holds.
const LEASE_WAIT: Duration = Duration::from_millis(500);

/// The lease of the one writer that keeps rollups open in memory: an
/// exclusive lock on `PATH-rollups.lock`, held while the writer lives (the
/// system frees it when a process dies). `None` when another writer holds it.
fn lease(path: &Path) -> Result<Option<File>, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push("-rollups.lock");
    let file = crate::private_file::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .map_err(|e| StoreError::new(format!("cannot open the rollup lease: {e}")))?;
    // A lock file an older version created 0644.
    crate::private_file::restrict(Path::new(&name)).map_err(StoreError::new)?;
    let until = Instant::now() + LEASE_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::new(format!(
                    "cannot take the rollup lease: {e}"
                )));
            }
        }
    }
}

/// Open rollup buckets are flushed at least this often.
pub(super) const FLUSH_EVERY: Duration = Duration::from_secs(10);
/// ... or once this many buckets are open.
const FLUSH_ROWS: usize = 50_000;

/// The writer's rollups: what committed batches added since the last flush
/// (shared with readers), each active device's tails, and block numbering.
///
/// Only the writer holding the lease keeps buckets open (and rebuilds them
/// after a crash); a second writer on the same database (a CLI command
/// while the server runs) stores its rollups in each commit instead and
/// lists its blocks in `blocks_rolled` so no rebuild counts them again.
pub(super) struct RollupWriter {
    lease: Option<File>,
    open: Arc<OpenRollups<i64>>,
    tails: HashMap<i64, RollupTails>,
    /// The last block committed.
    last_block: i64,
    open_rows: usize,
    flushed_at: Instant,
}

impl RollupWriter {
    /// Takes the lease when free and rebuilds what a previous writer left
    /// unflushed, then starts empty.
    pub(super) fn start(
        conn: &mut Connection,
        path: &Path,
        max_gap_ms: u64,
    ) -> Result<Self, StoreError> {
        let lease = lease(path)?;
        let mark = if lease.is_some() {
            rebuild(conn, max_gap_ms)?
        } else {
            watermark(conn)?
        };
        let last: i64 =
            conn.query_row("SELECT COALESCE(MAX(id), 0) FROM blocks", [], |r| r.get(0))?;
        Ok(Self {
            lease,
            open: Arc::new(OpenRollups::new(max_gap_ms, mark)),
            tails: HashMap::new(),
            last_block: last.max(mark),
            open_rows: 0,
            flushed_at: Instant::now(),
        })
    }

    /// What readers fold into the stored rows.
    pub(super) fn shared(&self) -> Arc<OpenRollups<i64>> {
        self.open.clone()
    }

    /// The id the next block gets: past every stored block and the
    /// watermark (another writer may have added blocks).
    pub(super) fn next_block(&self, tx: &Transaction<'_>) -> Result<i64, StoreError> {
        let stored: i64 = tx.query_row(
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM blocks), 0),
                        (SELECT value FROM meta WHERE key = 'rollup_watermark'))",
            [],
            |r| r.get(0),
        )?;
        Ok(stored.max(self.last_block) + 1)
    }

    /// Inside a batch's transaction, before its commit: without the lease,
    /// stores the batch's rollups and tails and lists `blocks` as rolled up.
    pub(super) fn in_commit(
        &self,
        tx: &Transaction<'_>,
        batch: &IngestBatch<i64>,
        blocks: std::ops::Range<i64>,
    ) -> Result<(), StoreError> {
        if self.lease.is_some() {
            return Ok(());
        }
        merge(tx, batch.rollups().rows())?;
        let mut tails = tx.prepare_cached("UPDATE devices SET rollup_tail = ?2 WHERE id = ?1")?;
        for d in batch.devices() {
            tails.execute(params![d.key, d.ledger.tails.to_bytes()])?;
        }
        let mut rolled = tx.prepare_cached("INSERT INTO blocks_rolled (id) VALUES (?1)")?;
        for id in blocks {
            rolled.execute([id])?;
        }
        Ok(())
    }

    /// Inside the transaction of a block written outside an ingest batch
    /// (a generic device's reading, named channels only: nothing to roll
    /// up): without the lease, lists it as rolled up.
    pub(super) fn outside_batch(&self, tx: &Transaction<'_>, block: i64) -> Result<(), StoreError> {
        if self.lease.is_none() {
            tx.prepare_cached("INSERT INTO blocks_rolled (id) VALUES (?1)")?
                .execute([block])?;
        }
        Ok(())
    }

    /// Takes in a committed block written outside an ingest batch.
    pub(super) fn committed_block(&mut self, block: i64) {
        self.last_block = self.last_block.max(block);
    }

    /// A device's current tails, when newer than the stored ones.
    pub(super) fn tails(&self, device: i64) -> Option<&RollupTails> {
        self.tails.get(&device)
    }

    /// Takes in a committed batch whose last block is `last_block`.
    pub(super) fn committed(&mut self, batch: &IngestBatch<i64>, last_block: i64) {
        self.last_block = self.last_block.max(last_block);
        if self.lease.is_none() {
            return;
        }
        for d in batch.devices() {
            self.tails.insert(d.key, d.ledger.tails.clone());
        }
        self.open.absorb(batch.rollups());
        self.open_rows += batch.rollups().rows().count();
    }

    /// Whether a flush is due.
    pub(super) fn due(&self) -> bool {
        self.open_rows >= FLUSH_ROWS
            || (self.flushed_at.elapsed() >= FLUSH_EVERY && self.last_block > self.open.watermark())
    }

    /// Stores everything open with the watermark it reaches (one short transaction).
    pub(super) fn flush(&mut self, conn: &mut Connection) -> Result<(), StoreError> {
        self.flushed_at = Instant::now();
        if self.lease.is_none() || self.last_block == self.open.watermark() {
            return Ok(());
        }
        store(conn, self.open.rows(), &self.tails, self.last_block)?;
        self.open.flushed(self.last_block);
        self.tails.clear();
        self.open_rows = 0;
        Ok(())
    }

    /// Forgets a removed device.
    pub(super) fn forget(&mut self, device: i64) {
        self.tails.remove(&device);
        self.open.forget(device);
    }
}

/// Rollups of one register of a device at `level`, buckets in `[from, to)`,
/// with the writer's open buckets folded in.
pub(super) fn read_with_open(
    conn: &Connection,
    open: &OpenRollups<i64>,
    device: &str,
    register: u8,
    level: Level,
    range: (u64, u64),
) -> Result<Vec<Aggregate>, StoreError> {
    loop {
        let tx = conn.unchecked_transaction()?;
        let Some(key) = tx
            .prepare_cached("SELECT id FROM devices WHERE device_id = ?1")?
            .query_row([device], |r| r.get::<_, i64>(0))
            .optional()?
        else {
            return Ok(Vec::new());
        };
        let mark = watermark(&tx)?;
        let stored = read(&tx, device, register, level, range)?;
        tx.finish()?;
        if let Some(unflushed) = open.unflushed(mark, key, register, level, range) {
            return Ok(overlay(stored, &unflushed, level));
        }
    }
}

/// Prepares a database written before rollups were kept at ingest: the
/// 5-minute rows retention made earlier also feed the hourly and daily
/// tables, and every block is marked not yet rolled up (the writer's start
/// then rolls them all up). Once.
pub(super) fn backfill(conn: &mut Connection) -> Result<(), StoreError> {
    let done: i64 = conn.query_row(
        "SELECT value FROM meta WHERE key = 'rollups_backfilled'",
        [],
        |r| r.get(0),
    )?;
    if done != 0 {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    coarsen_old_rows(&tx)?;
    tx.execute_batch(
        "UPDATE devices SET rollup_tail = NULL;
         UPDATE meta SET value = 0 WHERE key = 'rollup_watermark';
         UPDATE meta SET value = 1 WHERE key = 'rollups_backfilled';",
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
    use super::super::{SqliteStore, schema};
    use super::*;
    use crate::store::StoreOptions;

    /// A database as the server before rollups wrote it (schema version 2):
    /// raw samples, and one 5-minute row retention made from older samples.
    fn old_database(path: &Path) {
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
        // Pac (id 9) 1000 W and Vac1 (id 0) 2300, as 3-byte entries.
        let blob = [9u8, 0xe8, 0x03, 0, 0xfc, 0x08];
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
