//! Block rows (`blocks`): writing an upload's blocks, the range reads the
//! sample queries share, and carrying the per-sample rows of older
//! databases into blocks.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::store::blocks::{self, Block, BlockSample, Newest, RangeScan, StoredBlock};
use crate::store::telemetry::RawPoint;
use crate::store::{HistoryQuery, StoreCounts, StoreError, StoredSample};

/// Stores one block of `device`'s upload `upload` as block `id`.
pub(super) fn insert(
    tx: &Transaction<'_>,
    id: i64,
    device: i64,
    upload: i64,
    block: &Block,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO blocks (id, device, t_first, t_last, upload, samples, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        device,
        block.t_first,
        block.t_last,
        upload,
        block.samples,
        block.data
    ])?;
    Ok(())
}

/// The row id of a device by its name.
fn device_key(conn: &Connection, device: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM devices WHERE device_id = ?1")?
        .query_row([device], |r| r.get(0))
        .optional()?)
}

/// Hands `f` the blocks of `device` starting in `[from_window, to)` that
/// end at or after `from`, in `t_first` order (`newest_first` reverses it),
/// while `wants` says so.
fn scan(
    conn: &Connection,
    device: i64,
    (from_window, from, to): (u64, u64, u64),
    newest_first: bool,
    mut wants: impl FnMut(u64) -> bool,
    mut f: impl FnMut(StoredBlock<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let order = if newest_first { "DESC" } else { "ASC" };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, upload, t_first, data FROM blocks
         WHERE device = ?1 AND t_first >= ?2 AND t_first < ?3 AND t_last >= ?4
         ORDER BY t_first {order}"
    ))?;
    let mut rows = stmt.query(params![device, from_window, to, from])?;
    while let Some(row) = rows.next()? {
        let t_first: u64 = row.get(2)?;
        if !wants(t_first) {
            break;
        }
        let data = row
            .get_ref(3)?
            .as_blob()
            .map_err(|e| StoreError::new(format!("block data: {e}")))?;
        f(StoredBlock {
            id: row.get(0)?,
            upload: row.get(1)?,
            t_first,
            data,
        })?;
    }
    Ok(())
}

/// What `pick` takes from a device's samples in `[from, to)`, oldest first, at most `limit`.
pub(super) fn range<T>(
    conn: &Connection,
    device: &str,
    (from, to): (u64, u64),
    limit: usize,
    mut pick: impl FnMut(BlockSample, i64) -> Option<T>,
) -> Result<Vec<T>, StoreError> {
    let Some(key) = device_key(conn, device)? else {
        return Ok(Vec::new());
    };
    let scan_state = std::cell::RefCell::new(RangeScan::new(from, to, limit));
    let bounds = (scan_state.borrow().first_window(), from, to);
    scan(
        conn,
        key,
        bounds,
        false,
        |t| scan_state.borrow().wants(t),
        |b| scan_state.borrow_mut().add(b, &mut pick),
    )?;
    Ok(scan_state.into_inner().finish())
}

/// The newest of what `pick` takes from a device's samples in `[from, to)`.
fn newest<T>(
    conn: &Connection,
    device: &str,
    (from, to): (u64, u64),
    mut pick: impl FnMut(BlockSample, i64) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    let Some(key) = device_key(conn, device)? else {
        return Ok(None);
    };
    let state = std::cell::RefCell::new(Newest::new(from, to));
    let bounds = (state.borrow().first_window(), from, to);
    scan(
        conn,
        key,
        bounds,
        true,
        |t| state.borrow().wants(t),
        |b| state.borrow_mut().add(b, &mut pick),
    )?;
    Ok(state.into_inner().finish())
}

/// Samples of a device in `[from, to)`, oldest first.
pub(super) fn history(
    conn: &Connection,
    device: &str,
    q: &HistoryQuery,
) -> Result<Vec<StoredSample>, StoreError> {
    range(conn, device, (q.from_ms, q.to_ms), q.limit, |s, upload| {
        Some(s.stored(upload))
    })
}

/// The newest sample of a device.
pub(super) fn latest(conn: &Connection, device: &str) -> Result<Option<StoredSample>, StoreError> {
    newest(conn, device, (0, i64::MAX as u64), |s, upload| {
        Some(s.stored(upload))
    })
}

fn register_point(register: u8) -> impl FnMut(BlockSample, i64) -> Option<RawPoint> {
    move |s, _| {
        s.registers
            .iter()
            .find(|r| r.0 == register)
            .map(|&(_, raw)| RawPoint { t_ms: s.t_ms, raw })
    }
}

/// Values of one register in `[from, to)`, oldest first, at most `limit`.
pub(super) fn points(
    conn: &Connection,
    device: &str,
    register: u8,
    range_ms: (u64, u64),
    limit: usize,
) -> Result<Vec<RawPoint>, StoreError> {
    range(conn, device, range_ms, limit, register_point(register))
}

/// The latest value of one register in `[from, to)`.
pub(super) fn point_before(
    conn: &Connection,
    device: &str,
    register: u8,
    range_ms: (u64, u64),
) -> Result<Option<RawPoint>, StoreError> {
    newest(conn, device, range_ms, register_point(register))
}

/// Totals over the whole store.
pub(crate) fn counts(conn: &Connection) -> Result<StoreCounts, StoreError> {
    Ok(conn.query_row(
        "SELECT (SELECT COUNT(*) FROM devices), (SELECT COALESCE(SUM(uploads), 0) FROM devices),
                (SELECT COALESCE(SUM(samples), 0) FROM devices)",
        [],
        |r| {
            Ok(StoreCounts {
                devices: r.get(0)?,
                uploads: r.get(1)?,
                samples: r.get(2)?,
            })
        },
    )?)
}

/// The per-sample rows of the schema before blocks: 3-byte register
/// entries (id, raw u16 LE), flags bit 0 approximate, bit 1 device time.
fn old_registers(blob: &[u8]) -> Vec<(u8, u16)> {
    blob.chunks_exact(3)
        .map(|c| (c[0], u16::from_le_bytes([c[1], c[2]])))
        .collect()
}

/// Carries the per-sample rows of a database written before blocks into
/// blocks (one per upload and window, in upload order, so block ids follow
/// commit order), then drops them; the rollup watermark moves past them
/// when their rollups are already stored. One transaction; nothing to do
/// when there is no `samples` table.
pub(super) fn carry_samples(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let old: Option<String> = tx
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'samples'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if old.is_none() {
        return Ok(());
    }
    let mut next_id: i64 =
        tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM blocks", [], |r| {
            r.get(0)
        })?;
    let mut carried = 0u64;
    {
        let mut stmt = tx.prepare(
            "SELECT device, upload, t_ms, packet, flags, registers FROM samples
             ORDER BY upload, rowid",
        )?;
        let mut rows = stmt.query([])?;
        let mut run: Vec<BlockSample> = Vec::new();
        let mut owner = (0i64, 0i64);
        let mut flush = |owner: (i64, i64), run: &mut Vec<BlockSample>| -> Result<(), StoreError> {
            if !run.is_empty() {
                insert(&tx, next_id, owner.0, owner.1, &blocks::encode(run))?;
                next_id += 1;
                run.clear();
            }
            Ok(())
        };
        while let Some(r) = rows.next()? {
            let flags: i64 = r.get(4)?;
            let sample = BlockSample {
                t_ms: r.get(2)?,
                device_time: flags & 2 != 0,
                approximate: flags & 1 != 0,
                packet: r.get(3)?,
                registers: old_registers(r.get_ref(5)?.as_blob().unwrap_or_default()),
                named: Vec::new(),
            };
            let this = (r.get(0)?, r.get(1)?);
            let same_window = run
                .first()
                .is_some_and(|f| blocks::window(f.t_ms) == blocks::window(sample.t_ms));
            if this != owner || !same_window {
                flush(owner, &mut run)?;
            }
            owner = this;
            run.push(sample);
            carried += 1;
        }
        flush(owner, &mut run)?;
    }
    tx.execute_batch("DROP TABLE samples")?;
    tx.execute(
        "UPDATE meta SET value = (SELECT COALESCE(MAX(id), 0) FROM blocks)
         WHERE key = 'rollup_watermark'
         AND (SELECT value FROM meta WHERE key = 'rollups_backfilled') = 1",
        [],
    )?;
    tx.commit()?;
    if carried > 0 {
        tracing::info!(samples = carried, "per-sample rows carried into blocks");
    }
    Ok(())
}

/// Decoded blocks of every device past `watermark` whose rollups are not
/// stored, in block order, at most `limit` blocks: `(block id, device, samples)`.
pub(super) fn after(
    conn: &Connection,
    watermark: i64,
    limit: usize,
) -> Result<Vec<(i64, i64, Vec<BlockSample>)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, device, data FROM blocks
             WHERE id > ?1 AND id NOT IN (SELECT id FROM blocks_rolled) ORDER BY id LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![watermark, i64::try_from(limit).unwrap_or(i64::MAX)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let data = r
            .get_ref(2)?
            .as_blob()
            .map_err(|e| StoreError::new(format!("block data: {e}")))?;
        out.push((r.get(0)?, r.get(1)?, blocks::decode(data)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{SqliteStore, rollups, schema};
    use super::*;
    use crate::store::StoreOptions;
    use crate::store::telemetry::Level;

    /// A database as the current main writes it (schema version 4): two
    /// uploads of per-sample rows (one crossing an hour edge, one sample
    /// at the same time as another upload's), their rollups already stored.
    fn main_database(path: &std::path::Path) -> Vec<StoredSample> {
        let mut conn = schema::open(path, schema::Role::Write).unwrap();
        for sql in &schema::MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(
            "UPDATE meta SET value = 1 WHERE key = 'rollups_backfilled';
             INSERT INTO devices (id, device_id, created_ms, samples) VALUES (1, 'D1', 0, 5);
             INSERT INTO uploads VALUES (1, 1, 7, 0, 'aggregated', x'00', '{}');
             INSERT INTO uploads VALUES (2, 1, 8, 0, 'aggregated', x'00', '{}');
             INSERT INTO aggregates_1h VALUES (1, 9, 3600000, 5, 5.0, 1.0, 1.0, 1.0, 3605000,
                                               0.0, 0, 3590000);",
        )
        .unwrap();
        let h = 3_600_000;
        let rows = [
            (1, h - 10_000, 0, 2, vec![(9, 10), (0, 2300)]),
            (1, h - 5_000, 0, 3, vec![(9, 11)]),
            (1, h, 1, 2, vec![(9, 12), (0, 2301)]),
            (2, h, 0, 0, vec![(9, 13)]),
            (2, h + 5_000, 0, 2, vec![(0, 2302), (9, 14)]),
        ];
        let mut expected = Vec::new();
        for (upload, t_ms, packet, flags, registers) in rows {
            let blob: Vec<u8> = registers
                .iter()
                .flat_map(|&(id, raw): &(u8, u16)| {
                    let [a, b] = raw.to_le_bytes();
                    [id, a, b]
                })
                .collect();
            tx.execute(
                "INSERT INTO samples (device, t_ms, upload, packet, flags, registers)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                params![t_ms, upload, packet, flags, blob],
            )
            .unwrap();
            expected.push(StoredSample {
                t_ms,
                device_time: flags & 2 != 0,
                upload_id: upload,
                packet,
                approximate: flags & 1 != 0,
                registers,
            });
        }
        tx.commit().unwrap();
        expected.sort_by_key(|s| s.t_ms);
        expected
    }

    #[test]
    fn a_database_of_main_is_carried_into_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("main.sqlite");
        let expected = main_database(&path);
        drop(SqliteStore::open(&path, StoreOptions::command()).unwrap());
        let conn = schema::open(&path, schema::Role::Read).unwrap();
        let all = HistoryQuery {
            from_ms: 0,
            to_ms: u64::MAX / 2,
            limit: 100,
        };
        assert_eq!(history(&conn, "D1", &all).unwrap(), expected);
        assert_eq!(latest(&conn, "D1").unwrap().as_ref(), expected.last());
        let old: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'samples'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0, "the per-sample rows are gone");
        // Three blocks: upload 1 before and after the hour edge, upload 2.
        let (blocks, samples): (i64, i64) = conn
            .query_row("SELECT COUNT(*), SUM(samples) FROM blocks", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((blocks, samples), (3, 5));
        // Their rollups were stored already: the watermark is past them and
        // opening again changes nothing.
        assert_eq!(rollups::watermark(&conn).unwrap(), 3);
        drop(SqliteStore::open(&path, StoreOptions::command()).unwrap());
        let hour = rollups::read(&conn, "D1", 9, Level::Hour, (0, u64::MAX / 2)).unwrap();
        assert_eq!(hour.iter().map(|a| a.count).sum::<u64>(), 5);
        assert_eq!(history(&conn, "D1", &all).unwrap(), expected);
    }
}
