//! Device records: keys, operator changes, registration, the device and
//! fleet views and upload counters.

use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::store::devices::{DevicePatch, DeviceStore, FleetDevice, Reseal};
use crate::store::ingest::UploadStats;
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
fn epoch(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row(
        "SELECT value FROM meta WHERE key = 'device_epoch'",
        [],
        |r| r.get(0),
    )?)
}

/// A device's keys, `None` when the device is unknown.
fn keys(conn: &Connection, device: &str) -> Result<Option<DeviceKeys>, StoreError> {
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
            .map_err(|_| {
                StoreError::new(format!("device {device}: stored AES key is not 16 bytes"))
            })?;
        Ok(DeviceKeys { hmac, aes })
    })
    .transpose()
}

/// Adds a device created at `now`; `false` when the id is taken.
fn add(conn: &Connection, device: &str, keys: &DeviceKeys, now: u64) -> Result<bool, StoreError> {
    let added = conn.execute(
        "INSERT INTO devices (device_id, hmac_key, aes_key, created_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id) DO NOTHING",
        params![device, keys.hmac, keys.aes.map(Vec::from), now],
    )? == 1;
    if added {
        bump_epoch(conn)?;
    }
    Ok(added)
}

/// Replaces a device's keys; `false` for an unknown device.
fn rotate(conn: &Connection, device: &str, keys: &DeviceKeys) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE devices SET hmac_key = ?2, aes_key = ?3 WHERE device_id = ?1",
        params![device, keys.hmac, keys.aes.map(Vec::from)],
    )? == 1;
    if changed {
        bump_epoch(conn)?;
    }
    Ok(changed)
}

/// Replaces key sets in one transaction (see [`DeviceStore::reseal_keys`]).
fn reseal(conn: &mut Connection, with: &Reseal) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let ids: Vec<String> = tx
        .prepare("SELECT device_id FROM devices WHERE hmac_key IS NOT NULL ORDER BY device_id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut count = 0;
    for id in ids {
        let Some(stored) = keys(&tx, &id)? else {
            continue;
        };
        if let Some(new) = with(&id, &stored).map_err(StoreError::new)? {
            rotate(&tx, &id, &new)?;
            count += 1;
        }
    }
    tx.commit()?;
    Ok(count)
}

/// Deletes a device with its uploads and sample blocks; its row id, `None` for an unknown device.
fn remove(conn: &mut Connection, device: &str) -> Result<Option<i64>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let Some(id) = row_id(&tx, device)? else {
        return Ok(None);
    };
    for table in [
        "blocks",
        "uploads",
        "device_codecs",
        "aggregates_5m",
        "aggregates_1h",
        "aggregates_1d",
        "device_channels",
        "generic_devices",
        "generic_keys",
        "generic_messages",
        "generic_rate",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE device = ?1"), [id])?;
    }
    for table in [
        "device_config",
        "config_history",
        "commands",
        "device_reports",
        "ota_sessions",
        "ota_events",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE device_id = ?1"),
            [device],
        )?;
    }
    tx.execute("DELETE FROM devices WHERE id = ?1", [id])?;
    bump_epoch(&tx)?;
    tx.commit()?;
    Ok(Some(id))
}

/// Forgets a device's last nonce and decoding history; `false` for an unknown device.
fn reset_nonce(conn: &Connection, device: &str) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE devices SET last_nonce = NULL, last_mac = NULL, stream_state = NULL,
            last_counter = NULL, last_tag = NULL
         WHERE device_id = ?1",
        [device],
    )? == 1;
    if changed {
        bump_epoch(conn)?;
    }
    Ok(changed)
}

/// The highest accepted nonce of a device.
fn last_nonce(conn: &Connection, device: &str) -> Result<Option<u32>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT last_nonce FROM devices WHERE device_id = ?1")?
        .query_row([device], |r| r.get::<_, Option<u32>>(0))
        .optional()?
        .flatten())
}

/// Records a device's boot-time metadata; never creates a device.
fn register(conn: &Connection, reg: &Registration) -> Result<RegistrationOutcome, StoreError> {
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
    uploads, samples, hmac_key IS NOT NULL, admitted_by";

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
        admitted_by: r.get(8)?,
    })
}

/// Every device, in id order.
fn list(conn: &Connection) -> Result<Vec<DeviceSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM devices ORDER BY device_id"
    ))?;
    let rows = stmt.query_map([], summary)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One device with its statistics.
fn detail(conn: &Connection, device: &str) -> Result<Option<DeviceDetail>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS}, id, location, description, created_ms, duplicates,
                    aes_key IS NOT NULL
             FROM devices WHERE device_id = ?1"
        ))?
        .query_row([device], |r| {
            Ok((
                r.get::<_, i64>(9)?,
                DeviceDetail {
                    summary: summary(r)?,
                    location: r.get(10)?,
                    description: r.get(11)?,
                    created_ms: r.get(12)?,
                    duplicates: r.get(13)?,
                    has_aes_key: r.get(14)?,
                    codecs: Vec::new(),
                },
            ))
        })
        .optional()?;
    let Some((id, mut detail)) = row else {
        return Ok(None);
    };
    detail.codecs = codec_rows(conn, Some(id))?;
    Ok(Some(detail))
}

/// Per-codec counters of one device, or summed over all.
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

/// Upload counters of one device or all.
pub(super) fn upload_stats(
    conn: &Connection,
    device: Option<&str>,
    since_ms: u64,
) -> Result<Option<UploadStats>, StoreError> {
    let id = match device {
        Some(d) => match row_id(conn, d)? {
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

const FLEET_COLUMNS: &str = "device_id, name, location, description, firmware_version, created_ms, \
    last_seen_ms, upload_interval_s, retired_ms, uploads, samples, hmac_key IS NOT NULL, admitted_by";

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
        admitted_by: r.get(12)?,
    })
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

fn retire_device(conn: &Connection, device: &str, now: u64) -> Result<bool, StoreError> {
    let retired = conn.execute(
        "UPDATE devices SET retired_ms = ?2, hmac_key = NULL, aes_key = NULL,
            envelope_key_id = NULL, envelope_secret = NULL, envelope_prev_key_id = NULL,
            envelope_prev_secret = NULL, envelope_prev_until_ms = NULL
         WHERE device_id = ?1 AND retired_ms IS NULL",
        params![device, now],
    )? == 1;
    if retired {
        bump_epoch(conn)?;
    }
    Ok(retired)
}

impl DeviceStore for SqliteStore {
    fn add_device(
        &self,
        device: &str,
        keys: DeviceKeys,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |c, now| add(c, &device, &keys, now))
    }

    fn device_keys(&self, device: &str) -> BoxFuture<'_, Result<Option<DeviceKeys>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| keys(c, &device))
    }

    fn rotate_keys(
        &self,
        device: &str,
        keys: DeviceKeys,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |c, _| rotate(c, &device, &keys))
    }

    fn reseal_keys(&self, reseal_with: Reseal) -> BoxFuture<'_, Result<usize, StoreError>> {
        self.admin(move |c, _| reseal(c, &reseal_with))
    }

    fn device_epoch(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.read(epoch)
    }

    fn register(
        &self,
        registration: Registration,
    ) -> BoxFuture<'_, Result<RegistrationOutcome, StoreError>> {
        self.admin(move |c, _| register(c, &registration))
    }

    fn update_device(
        &self,
        device: &str,
        patch: DevicePatch,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |c, _| update_device(c, &device, &patch))
    }

    fn last_nonce(&self, device: &str) -> BoxFuture<'_, Result<Option<u32>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| last_nonce(c, &device))
    }

    fn reset_nonce(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |c, _| reset_nonce(c, &device))
    }

    fn retire_device(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |c, now| retire_device(c, &device, now))
    }

    fn remove_device(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        let writer = self.writer.clone();
        // On the writer, which also drops the device's open rollups.
        Box::pin(async move {
            writer
                .run(move |c, rollups| {
                    let removed = remove(c, &device)?;
                    removed.inspect(|&id| rollups.forget(id));
                    Ok(removed.is_some())
                })
                .await
        })
    }

    fn devices(&self) -> BoxFuture<'_, Result<Vec<DeviceSummary>, StoreError>> {
        self.read(list)
    }

    fn device(&self, device: &str) -> BoxFuture<'_, Result<Option<DeviceDetail>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| detail(c, &device))
    }

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
}
