//! Device records: keys, operator changes, registration, the device and
//! fleet views and upload counters. Every change a server's key cache must
//! see bumps the device epoch in the same transaction.

use deadpool_postgres::{GenericClient, Pool};
use futures_util::future::BoxFuture;
use tokio_postgres::Row;

use super::PgStore;
use super::num::{RowExt as _, big};
use crate::store::devices::{DevicePatch, DeviceStore, FleetDevice, Reseal};
use crate::store::ingest::UploadStats;
use crate::store::{
    CodecStats, DeviceDetail, DeviceKeys, DeviceSummary, Registration, RegistrationOutcome,
    StoreError,
};

/// Bumps the counter that tells running servers to drop cached device data.
pub(super) async fn bump_epoch(c: &impl GenericClient) -> Result<(), StoreError> {
    c.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'device_epoch'",
        &[],
    )
    .await?;
    Ok(())
}

/// Runs one change to a device row and bumps the epoch when it changed something.
async fn change(
    pool: &Pool,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<bool, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let changed = tx.execute(sql, params).await? == 1;
    if changed {
        bump_epoch(&tx).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

fn keys(row: &Row, device: &str) -> Result<DeviceKeys, StoreError> {
    let aes = row
        .try_get::<_, Option<Vec<u8>>>(1)?
        .map(|a| <[u8; 16]>::try_from(a.as_slice()))
        .transpose()
        .map_err(|_| StoreError::new(format!("device {device}: stored AES key is not 16 bytes")))?;
    Ok(DeviceKeys {
        hmac: row.try_get(0)?,
        aes,
    })
}

/// Replaces key sets in one transaction (see [`DeviceStore::reseal_keys`]);
/// the rows stay locked until it commits.
async fn reseal(pool: &Pool, with: &Reseal) -> Result<usize, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT hmac_key, aes_key, device_id FROM devices
             WHERE hmac_key IS NOT NULL ORDER BY device_id FOR UPDATE",
            &[],
        )
        .await?;
    let mut count = 0;
    for row in &rows {
        let id: String = row.try_get(2)?;
        let Some(new) = with(&id, &keys(row, &id)?).map_err(StoreError::new)? else {
            continue;
        };
        let aes = new.aes.map(Vec::from);
        tx.execute(
            "UPDATE devices SET hmac_key = $2, aes_key = $3 WHERE device_id = $1",
            &[&id, &new.hmac, &aes],
        )
        .await?;
        count += 1;
    }
    if count > 0 {
        bump_epoch(&tx).await?;
    }
    tx.commit().await?;
    Ok(count)
}

async fn remove(pool: &Pool, device: &str) -> Result<bool, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT id FROM devices WHERE device_id = $1 FOR UPDATE",
            &[&device],
        )
        .await?
    else {
        return Ok(false);
    };
    let id: i64 = row.try_get(0)?;
    for table in [
        "samples",
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
        tx.execute(&format!("DELETE FROM {table} WHERE device = $1"), &[&id])
            .await?;
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
            &format!("DELETE FROM {table} WHERE device_id = $1"),
            &[&device],
        )
        .await?;
    }
    tx.execute("DELETE FROM devices WHERE id = $1", &[&id])
        .await?;
    bump_epoch(&tx).await?;
    tx.commit().await?;
    Ok(true)
}

async fn register(pool: &Pool, reg: &Registration) -> Result<RegistrationOutcome, StoreError> {
    let client = pool.get().await?;
    let known = client
        .query_opt(
            "SELECT 1 FROM devices WHERE device_id = $1",
            &[&reg.device_id],
        )
        .await?
        .is_some();
    if !known {
        return Ok(RegistrationOutcome::Unknown);
    }
    // Only fields the device sent replace stored ones; unchanged values are no update.
    let changed = client
        .execute(
            "UPDATE devices SET
                name = COALESCE($2, name),
                firmware_version = COALESCE($3, firmware_version),
                location = COALESCE($4, location),
                description = COALESCE($5, description)
             WHERE device_id = $1 AND (
                name IS DISTINCT FROM COALESCE($2, name) OR
                firmware_version IS DISTINCT FROM COALESCE($3, firmware_version) OR
                location IS DISTINCT FROM COALESCE($4, location) OR
                description IS DISTINCT FROM COALESCE($5, description))",
            &[
                &reg.device_id,
                &reg.device_name,
                &reg.firmware_version,
                &reg.location,
                &reg.description,
            ],
        )
        .await?;
    Ok(if changed == 1 {
        RegistrationOutcome::Updated
    } else {
        RegistrationOutcome::Unchanged
    })
}

const SUMMARY_COLUMNS: &str = "device_id, name, firmware_version, last_seen_ms, last_nonce, \
    uploads, samples, hmac_key IS NOT NULL, admitted_by";

fn summary(r: &Row) -> Result<DeviceSummary, StoreError> {
    Ok(DeviceSummary {
        device_id: r.try_get(0)?,
        name: r.try_get(1)?,
        firmware_version: r.try_get(2)?,
        last_seen_ms: r.opt_u64(3)?,
        last_nonce: r.opt_u32(4)?,
        uploads: r.u64(5)?,
        samples: r.u64(6)?,
        key: if r.try_get(7)? { "own" } else { "fleet" },
        admitted_by: r.try_get(8)?,
    })
}

async fn detail(pool: &Pool, device: &str) -> Result<Option<DeviceDetail>, StoreError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!(
                "SELECT {SUMMARY_COLUMNS}, id, location, description, created_ms, duplicates,
                        aes_key IS NOT NULL
                 FROM devices WHERE device_id = $1"
            ),
            &[&device],
        )
        .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    Ok(Some(DeviceDetail {
        summary: summary(&r)?,
        location: r.try_get(10)?,
        description: r.try_get(11)?,
        created_ms: r.u64(12)?,
        duplicates: r.u64(13)?,
        has_aes_key: r.try_get(14)?,
        codecs: codec_rows(&client, Some(r.try_get(9)?)).await?,
    }))
}

/// Per-codec counters of one device, or summed over all.
async fn codec_rows(
    c: &impl GenericClient,
    device: Option<i64>,
) -> Result<Vec<CodecStats>, StoreError> {
    let rows = c
        .query(
            "SELECT method, SUM(packets)::bigint, SUM(failed)::bigint, SUM(bytes)::bigint,
                    SUM(original_bytes)::bigint
             FROM device_codecs WHERE $1::bigint IS NULL OR device = $1
             GROUP BY method ORDER BY method",
            &[&device],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(CodecStats {
                method: r.try_get(0)?,
                packets: r.u64(1)?,
                failed: r.u64(2)?,
                bytes: r.u64(3)?,
                original_bytes: r.u64(4)?,
            })
        })
        .collect()
}

/// Upload counters of one device or all.
pub(super) async fn upload_stats(
    pool: &Pool,
    device: Option<&str>,
    since_ms: u64,
) -> Result<Option<UploadStats>, StoreError> {
    let client = pool.get().await?;
    let id: Option<i64> = match device {
        Some(d) => {
            match client
                .query_opt("SELECT id FROM devices WHERE device_id = $1", &[&d])
                .await?
            {
                Some(r) => Some(r.try_get(0)?),
                None => return Ok(None),
            }
        }
        None => None,
    };
    let totals = client
        .query_one(
            "SELECT COUNT(*), COALESCE(SUM(uploads), 0)::bigint,
                    COALESCE(SUM(duplicates), 0)::bigint, COALESCE(SUM(samples), 0)::bigint,
                    MAX(last_seen_ms)
             FROM devices WHERE $1::bigint IS NULL OR id = $1",
            &[&id],
        )
        .await?;
    let recent = client
        .query_one(
            "SELECT COUNT(*) FROM uploads
             WHERE ($1::bigint IS NULL OR device = $1) AND received_ms >= $2",
            &[&id, &big(since_ms)],
        )
        .await?;
    Ok(Some(UploadStats {
        devices: totals.u64(0)?,
        uploads: totals.u64(1)?,
        duplicates: totals.u64(2)?,
        samples: totals.u64(3)?,
        recent_uploads: recent.u64(0)?,
        last_seen_ms: totals.opt_u64(4)?,
        codecs: codec_rows(&client, id).await?,
    }))
}

const FLEET_COLUMNS: &str = "device_id, name, location, description, firmware_version, created_ms, \
    last_seen_ms, upload_interval_s, retired_ms, uploads, samples, hmac_key IS NOT NULL, admitted_by";

fn fleet_row(r: &Row) -> Result<FleetDevice, StoreError> {
    Ok(FleetDevice {
        device_id: r.try_get(0)?,
        name: r.try_get(1)?,
        location: r.try_get(2)?,
        description: r.try_get(3)?,
        firmware_version: r.try_get(4)?,
        created_ms: r.u64(5)?,
        last_seen_ms: r.opt_u64(6)?,
        upload_interval_s: r.opt_u32(7)?,
        retired_ms: r.opt_u64(8)?,
        uploads: r.u64(9)?,
        samples: r.u64(10)?,
        key: if r.try_get(11)? { "own" } else { "fleet" },
        admitted_by: r.try_get(12)?,
    })
}

async fn update_device(pool: &Pool, device: &str, p: &DevicePatch) -> Result<bool, StoreError> {
    let text = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_owned());
    let client = pool.get().await?;
    Ok(client
        .execute(
            "UPDATE devices SET
                name = CASE WHEN $2::text IS NULL THEN name WHEN $2 = '' THEN NULL ELSE $2 END,
                location = CASE WHEN $3::text IS NULL THEN location WHEN $3 = '' THEN NULL
                                ELSE $3 END,
                description = CASE WHEN $4::text IS NULL THEN description WHEN $4 = '' THEN NULL
                                   ELSE $4 END,
                upload_interval_s = CASE WHEN $5::bigint IS NULL THEN upload_interval_s
                                         WHEN $5 = 0 THEN NULL ELSE $5 END
             WHERE device_id = $1",
            &[
                &device,
                &text(&p.name),
                &text(&p.location),
                &text(&p.description),
                &p.upload_interval_s.map(i64::from),
            ],
        )
        .await?
        == 1)
}

impl DeviceStore for PgStore {
    fn add_device(
        &self,
        device: &str,
        keys: DeviceKeys,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.run_now(move |pool, now| async move {
            let aes = keys.aes.map(Vec::from);
            change(
                &pool,
                "INSERT INTO devices (device_id, hmac_key, aes_key, created_ms)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (device_id) DO NOTHING",
                &[&device, &keys.hmac, &aes, &big(now)],
            )
            .await
        })
    }

    fn device_keys(&self, device: &str) -> BoxFuture<'_, Result<Option<DeviceKeys>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let stmt = client
                .prepare_cached("SELECT hmac_key, aes_key FROM devices WHERE device_id = $1")
                .await?;
            client
                .query_opt(&stmt, &[&device])
                .await?
                .map(|r| keys(&r, &device))
                .transpose()
        })
    }

    fn rotate_keys(
        &self,
        device: &str,
        keys: DeviceKeys,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let aes = keys.aes.map(Vec::from);
            change(
                &pool,
                "UPDATE devices SET hmac_key = $2, aes_key = $3 WHERE device_id = $1",
                &[&device, &keys.hmac, &aes],
            )
            .await
        })
    }

    fn reseal_keys(&self, reseal_with: Reseal) -> BoxFuture<'_, Result<usize, StoreError>> {
        self.run(move |pool| async move { reseal(&pool, &reseal_with).await })
    }

    fn device_epoch(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let stmt = client
                .prepare_cached("SELECT value FROM meta WHERE key = 'device_epoch'")
                .await?;
            client.query_one(&stmt, &[]).await?.u64(0)
        })
    }

    fn register(
        &self,
        registration: Registration,
    ) -> BoxFuture<'_, Result<RegistrationOutcome, StoreError>> {
        self.run(move |pool| async move { register(&pool, &registration).await })
    }

    fn update_device(
        &self,
        device: &str,
        patch: DevicePatch,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move { update_device(&pool, &device, &patch).await })
    }

    fn last_nonce(&self, device: &str) -> BoxFuture<'_, Result<Option<u32>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            match client
                .query_opt(
                    "SELECT last_nonce FROM devices WHERE device_id = $1",
                    &[&device],
                )
                .await?
            {
                Some(r) => r.opt_u32(0),
                None => Ok(None),
            }
        })
    }

    fn reset_nonce(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            change(
                &pool,
                "UPDATE devices SET last_nonce = NULL, last_mac = NULL, stream_state = NULL,
                    last_counter = NULL, last_tag = NULL
                 WHERE device_id = $1",
                &[&device],
            )
            .await
        })
    }

    fn retire_device(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.run_now(move |pool, now| async move {
            change(
                &pool,
                "UPDATE devices SET retired_ms = $2, hmac_key = NULL, aes_key = NULL,
                    envelope_key_id = NULL, envelope_secret = NULL, envelope_prev_key_id = NULL,
                    envelope_prev_secret = NULL, envelope_prev_until_ms = NULL
                 WHERE device_id = $1 AND retired_ms IS NULL",
                &[&device, &big(now)],
            )
            .await
        })
    }

    fn remove_device(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move { remove(&pool, &device).await })
    }

    fn devices(&self) -> BoxFuture<'_, Result<Vec<DeviceSummary>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    &format!("SELECT {SUMMARY_COLUMNS} FROM devices ORDER BY device_id"),
                    &[],
                )
                .await?;
            rows.iter().map(summary).collect()
        })
    }

    fn device(&self, device: &str) -> BoxFuture<'_, Result<Option<DeviceDetail>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move { detail(&pool, &device).await })
    }

    fn fleet(&self) -> BoxFuture<'_, Result<Vec<FleetDevice>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    &format!("SELECT {FLEET_COLUMNS} FROM devices ORDER BY device_id"),
                    &[],
                )
                .await?;
            rows.iter().map(fleet_row).collect()
        })
    }

    fn fleet_device(&self, device: &str) -> BoxFuture<'_, Result<Option<FleetDevice>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            client
                .query_opt(
                    &format!("SELECT {FLEET_COLUMNS} FROM devices WHERE device_id = $1"),
                    &[&device],
                )
                .await?
                .as_ref()
                .map(fleet_row)
                .transpose()
        })
    }
}
