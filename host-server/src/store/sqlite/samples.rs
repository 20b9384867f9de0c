//! Sample rows: the compact register blob, and the sample queries.
//!
//! A sample's registers are stored as 3-byte entries: the register id, then
//! the raw value as u16 little-endian, in layout order.

use rusqlite::{Connection, Row, params};

use crate::store::{HistoryQuery, StoreCounts, StoreError, StoredSample};

const APPROXIMATE: i64 = 1;
const DEVICE_TIME: i64 = 2;

/// Writes `(id, raw)` pairs into `out` (cleared first).
pub(crate) fn encode_registers(registers: &[(u8, u16)], out: &mut Vec<u8>) {
    out.clear();
    for &(id, raw) in registers {
        out.push(id);
        out.extend_from_slice(&raw.to_le_bytes());
    }
}

pub(super) fn decode_registers(blob: &[u8]) -> Vec<(u8, u16)> {
    blob.chunks_exact(3)
        .map(|c| (c[0], u16::from_le_bytes([c[1], c[2]])))
        .collect()
}

/// The flags column of a sample.
pub(crate) fn flags(approximate: bool, device_time: bool) -> i64 {
    (if approximate { APPROXIMATE } else { 0 }) | (if device_time { DEVICE_TIME } else { 0 })
}

const COLUMNS: &str = "s.t_ms, s.upload, s.packet, s.flags, s.registers";

fn sample(r: &Row<'_>) -> rusqlite::Result<StoredSample> {
    let flags: i64 = r.get(3)?;
    Ok(StoredSample {
        t_ms: r.get(0)?,
        upload_id: r.get(1)?,
        packet: r.get(2)?,
        approximate: flags & APPROXIMATE != 0,
        device_time: flags & DEVICE_TIME != 0,
        registers: decode_registers(&r.get::<_, Vec<u8>>(4)?),
    })
}

/// Samples of a device in `[from, to)`, oldest first.
pub(crate) fn history(
    conn: &Connection,
    device: &str,
    q: &HistoryQuery,
) -> Result<Vec<StoredSample>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM samples s JOIN devices d ON d.id = s.device
         WHERE d.device_id = ?1 AND s.t_ms >= ?2 AND s.t_ms < ?3
         ORDER BY s.t_ms, s.rowid LIMIT ?4"
    ))?;
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![device, q.from_ms, q.to_ms, limit], sample)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest sample of a device.
pub(crate) fn latest(conn: &Connection, device: &str) -> Result<Option<StoredSample>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM samples s JOIN devices d ON d.id = s.device
         WHERE d.device_id = ?1 ORDER BY s.t_ms DESC, s.rowid DESC LIMIT 1"
    ))?;
    let mut rows = stmt.query_map([device], sample)?;
    Ok(rows.next().transpose()?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_blob_round_trips() {
        let regs = vec![(0, 2304), (9, 65535), (7, 0)];
        let mut blob = Vec::new();
        encode_registers(&regs, &mut blob);
        assert_eq!(blob.len(), 9);
        assert_eq!(decode_registers(&blob), regs);
    }
}
