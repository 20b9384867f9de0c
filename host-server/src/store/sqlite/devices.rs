//! Device records: keys, operator changes, registration and the device views.
//! Plain functions over a connection, shared by the server and the CLI.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::clock::now_ms;
use crate::store::{
    CodecStats, DeviceDetail, DeviceKeys, DeviceSummary, Registration, RegistrationOutcome,
    StoreError,
};

/// Bumps the counter that tells running servers to drop cached device data.
pub(super) fn bump_epoch(conn: &Connection) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'device_epoch'",
        [],
    )?;
    Ok(())
}

/// The current device epoch.
pub(crate) fn epoch(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row(
        "SELECT value FROM meta WHERE key = 'device_epoch'",
        [],
        |r| r.get(0),
    )?)
}

/// A device's keys, `None` when the device is unknown.
pub(crate) fn keys(conn: &Connection, device: &str) -> Result<Option<DeviceKeys>, StoreError> {
    let row = conn
        .prepare_cached("SELECT hmac_key, aes_key FROM devices WHERE device_id = ?1")?
        .query_row([device], |r| {
            Ok((
                r.get::<_, Option<Vec<u8>>>(0)?,
                r.get::<_, Option<Vec<u8>>>(1)?,
            ))
        })
        .optional()?;
    row.map(|(hmac, aes)| {
        let aes = aes
            .map(|a| <[u8; 16]>::try_from(a.as_slice()))
            .transpose()
            .map_err(|_| StoreError(format!("device {device}: stored AES key is not 16 bytes")))?;
        Ok(DeviceKeys { hmac, aes })
    })
    .transpose()
}

/// Adds a device; `false` when the id is taken.
pub(crate) fn add(conn: &Connection, device: &str, keys: &DeviceKeys) -> Result<bool, StoreError> {
    let added = conn.execute(
        "INSERT INTO devices (device_id, hmac_key, aes_key, created_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id) DO NOTHING",
        params![device, keys.hmac, keys.aes.map(Vec::from), now_ms()],
    )? == 1;
    if added {
        bump_epoch(conn)?;
    }
    Ok(added)
}

/// Replaces a device's keys; `false` for an unknown device.
pub(crate) fn rotate(
    conn: &Connection,
    device: &str,
    keys: &DeviceKeys,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE devices SET hmac_key = ?2, aes_key = ?3 WHERE device_id = ?1",
        params![device, keys.hmac, keys.aes.map(Vec::from)],
    )? == 1;
    if changed {
        bump_epoch(conn)?;
    }
    Ok(changed)
}

/// Deletes a device with its uploads and samples; `false` for an unknown device.
pub(crate) fn remove(conn: &mut Connection, device: &str) -> Result<bool, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let Some(id) = row_id(&tx, device)? else {
        return Ok(false);
    };
    for table in ["samples", "uploads", "device_codecs"] {
        tx.execute(&format!("DELETE FROM {table} WHERE device = ?1"), [id])?;
    }
    tx.execute("DELETE FROM devices WHERE id = ?1", [id])?;
    bump_epoch(&tx)?;
    tx.commit()?;
    Ok(true)
}

/// Forgets a device's last nonce and decoding history; `false` for an unknown device.
pub(crate) fn reset_nonce(conn: &Connection, device: &str) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE devices SET last_nonce = NULL, last_mac = NULL, stream_state = NULL
         WHERE device_id = ?1",
        [device],
    )? == 1;
    if changed {
        bump_epoch(conn)?;
    }
    Ok(changed)
}

/// The highest accepted nonce of a device.
pub(crate) fn last_nonce(conn: &Connection, device: &str) -> Result<Option<u32>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT last_nonce FROM devices WHERE device_id = ?1")?
        .query_row([device], |r| r.get::<_, Option<u32>>(0))
        .optional()?
        .flatten())
}

/// Records a device's boot-time metadata; never creates a device.
pub(crate) fn register(
    conn: &Connection,
    reg: &Registration,
) -> Result<RegistrationOutcome, StoreError> {
    if row_id(conn, &reg.device_id)?.is_none() {
        return Ok(RegistrationOutcome::Unknown);
    }
    // Only fields the device sent replace stored ones; unchanged values are no update.
    let changed = conn.execute(
        "UPDATE devices SET
            name = COALESCE(?2, name),
            firmware_version = COALESCE(?3, firmware_version),
            location = COALESCE(?4, location),
            description = COALESCE(?5, description)
         WHERE device_id = ?1 AND (
            name IS NOT COALESCE(?2, name) OR
            firmware_version IS NOT COALESCE(?3, firmware_version) OR
            location IS NOT COALESCE(?4, location) OR
            description IS NOT COALESCE(?5, description))",
        params![
            reg.device_id,
            reg.device_name,
            reg.firmware_version,
            reg.location,
            reg.description
        ],
    )?;
    Ok(if changed == 1 {
        RegistrationOutcome::Updated
    } else {
        RegistrationOutcome::Unchanged
    })
}

fn row_id(conn: &Connection, device: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM devices WHERE device_id = ?1")?
        .query_row([device], |r| r.get(0))
        .optional()?)
}

const SUMMARY_COLUMNS: &str = "device_id, name, firmware_version, last_seen_ms, last_nonce, \
    uploads, samples, hmac_key IS NOT NULL";

fn summary(r: &Row<'_>) -> rusqlite::Result<DeviceSummary> {
    Ok(DeviceSummary {
        device_id: r.get(0)?,
        name: r.get(1)?,
        firmware_version: r.get(2)?,
        last_seen_ms: r.get(3)?,
        last_nonce: r.get(4)?,
        uploads: r.get(5)?,
        samples: r.get(6)?,
        key: if r.get(7)? { "own" } else { "fleet" },
    })
}

/// Every device, in id order.
pub(crate) fn list(conn: &Connection) -> Result<Vec<DeviceSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM devices ORDER BY device_id"
    ))?;
    let rows = stmt.query_map([], summary)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One device with its statistics.
pub(crate) fn detail(conn: &Connection, device: &str) -> Result<Option<DeviceDetail>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS}, id, location, description, created_ms, duplicates,
                    aes_key IS NOT NULL
             FROM devices WHERE device_id = ?1"
        ))?
        .query_row([device], |r| {
            Ok((
                r.get::<_, i64>(8)?,
                DeviceDetail {
                    summary: summary(r)?,
                    location: r.get(9)?,
                    description: r.get(10)?,
                    created_ms: r.get(11)?,
                    duplicates: r.get(12)?,
                    has_aes_key: r.get(13)?,
                    codecs: Vec::new(),
                },
            ))
        })
        .optional()?;
    let Some((id, mut detail)) = row else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT method, packets, failed, bytes, original_bytes FROM device_codecs
         WHERE device = ?1 ORDER BY method",
    )?;
    detail.codecs = stmt
        .query_map([id], |r| {
            Ok(CodecStats {
                method: r.get(0)?,
                packets: r.get(1)?,
                failed: r.get(2)?,
                bytes: r.get(3)?,
                original_bytes: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(detail))
}
