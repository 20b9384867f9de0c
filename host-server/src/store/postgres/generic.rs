//! Generic devices in PostgreSQL: their rows beside `devices`, keys, rate
//! windows (one row per device and scope, so every server on the database
//! counts the same requests) and readings (an upload and a sample row each,
//! the named values in the block codec).

use std::collections::HashMap;

use deadpool_postgres::{Pool, Transaction};
use futures_util::future::BoxFuture;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PgStore;
use super::num::{RowExt as _, big, limit};
use crate::store::StoreError;
use crate::store::access::TokenHash;
use crate::store::blocks;
use crate::store::generic::{
    GenericCounts, GenericDevice, GenericError, GenericPatch, GenericStatus, GenericStore,
    KeyCheck, KeyRecord, NamedChannel, NewDeviceKey, NewGenericDevice, NewReading, RATE_WINDOW_MS,
    RateScope, Reading, ReadingEnvelope, ReadingOutcome, ReadingQuery, device_id, reading_sample,
};

const SELECT: &str = "SELECT g.device, d.device_id, g.name, d.description, g.device_type, g.status,
        d.location, d.firmware_version, g.hardware_version, g.config, d.created_ms, g.updated_ms,
        d.last_seen_ms, g.last_heartbeat_ms, d.uploads, k.is_active, k.expires_ms, k.created_ms,
        k.last_used_ms, k.usage_count, d.upload_interval_s
    FROM generic_devices g JOIN devices d ON d.id = g.device
    LEFT JOIN generic_keys k ON k.id = (SELECT MAX(id) FROM generic_keys WHERE device = g.device)";

fn device_row(r: &Row) -> Result<GenericDevice, StoreError> {
    let status: String = r.try_get(5)?;
    let config: Option<String> = r.try_get(9)?;
    let key = match r.try_get::<_, Option<bool>>(15)? {
        Some(is_active) => Some(KeyRecord {
            is_active,
            expires_ms: r.opt_u64(16)?,
            created_ms: r.u64(17)?,
            last_used_ms: r.opt_u64(18)?,
            usage_count: r.u64(19)?,
        }),
        None => None,
    };
    Ok(GenericDevice {
        id: r.try_get(0)?,
        device_id: r.try_get(1)?,
        name: r.try_get(2)?,
        description: r.try_get(3)?,
        device_type: r.try_get(4)?,
        status: GenericStatus::parse(&status).unwrap_or(GenericStatus::Inactive),
        location: r.try_get(6)?,
        firmware_version: r.try_get(7)?,
        hardware_version: r.try_get(8)?,
        config: config.and_then(|c| serde_json::from_str(&c).ok()),
        created_ms: r.u64(10)?,
        updated_ms: r.u64(11)?,
        last_seen_ms: r.opt_u64(12)?,
        last_heartbeat_ms: r.opt_u64(13)?,
        upload_interval_s: r.opt_u32(20)?,
        readings: r.u64(14)?,
        key,
    })
}

async fn get(
    client: &impl deadpool_postgres::GenericClient,
    id: i64,
) -> Result<Option<GenericDevice>, StoreError> {
    client
        .query_opt(format!("{SELECT} WHERE g.device = $1").as_str(), &[&id])
        .await?
        .as_ref()
        .map(device_row)
        .transpose()
}

async fn name_taken(tx: &Transaction<'_>, name: &str, other_than: i64) -> Result<bool, StoreError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM generic_devices WHERE name = $1 AND device != $2",
            &[&name, &other_than],
        )
        .await?
        .is_some())
}

async fn insert_key(
    tx: &Transaction<'_>,
    device: i64,
    key: &NewDeviceKey,
    now: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE generic_keys SET is_active = FALSE WHERE device = $1",
        &[&device],
    )
    .await?;
    tx.execute(
        "INSERT INTO generic_keys (device, key_hash, is_active, expires_ms, created_ms)
         VALUES ($1, $2, TRUE, $3, $4)",
        &[
            &device,
            &key.hash.as_slice(),
            &key.expires_ms.map(big),
            &big(now),
        ],
    )
    .await?;
    Ok(())
}

async fn add(
    pool: &Pool,
    new: &NewGenericDevice,
    key: &NewDeviceKey,
    now: u64,
) -> Result<GenericDevice, GenericError> {
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let tx = client.transaction().await.map_err(StoreError::from)?;
    // One registration at a time, so a name is taken once.
    tx.execute("LOCK TABLE generic_devices IN EXCLUSIVE MODE", &[])
        .await
        .map_err(StoreError::from)?;
    if name_taken(&tx, &new.name, 0).await? {
        return Err(GenericError::NameTaken);
    }
    let id: i64 = tx
        .query_one("SELECT nextval('devices_id_seq')", &[])
        .await
        .map_err(StoreError::from)?
        .try_get(0)
        .map_err(StoreError::from)?;
    tx.execute(
        "INSERT INTO devices (id, device_id, created_ms, name, firmware_version, location,
                              description)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &id,
            &device_id(id),
            &big(now),
            &new.name,
            &new.firmware_version,
            &new.location,
            &new.description,
        ],
    )
    .await
    .map_err(StoreError::from)?;
    tx.execute(
        "INSERT INTO generic_devices (device, name, device_type, status, hardware_version,
                                      updated_ms)
         VALUES ($1, $2, $3, 'active', $4, $5)",
        &[
            &id,
            &new.name,
            &new.device_type,
            &new.hardware_version,
            &big(now),
        ],
    )
    .await
    .map_err(StoreError::from)?;
    insert_key(&tx, id, key, now).await?;
    for (at, (name, unit)) in new.channels.iter().enumerate() {
        let at = i32::try_from(at + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO device_channels (device, id, name, unit) VALUES ($1, $2, $3, $4)",
            &[&id, &at, name, unit],
        )
        .await
        .map_err(StoreError::from)?;
    }
    let device = get(&tx, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    device.ok_or_else(|| StoreError::new("a device just added is missing").into())
}

async fn count_request(
    tx: &Transaction<'_>,
    device: i64,
    scope: &str,
    window: u64,
) -> Result<u64, StoreError> {
    tx.query_one(
        "INSERT INTO generic_rate (device, scope, window_ms, count) VALUES ($1, $2, $3, 1)
         ON CONFLICT (device, scope) DO UPDATE SET
            count = CASE WHEN generic_rate.window_ms = excluded.window_ms
                         THEN generic_rate.count + 1 ELSE 1 END,
            window_ms = excluded.window_ms
         RETURNING count",
        &[&device, &scope, &big(window)],
    )
    .await?
    .u64(0)
}

async fn use_key(
    pool: &Pool,
    hash: TokenHash,
    scope: RateScope,
    now: u64,
) -> Result<KeyCheck, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT k.id, k.device, k.is_active, k.expires_ms, g.status FROM generic_keys k
             JOIN generic_devices g ON g.device = k.device WHERE k.key_hash = $1",
            &[&hash.as_slice()],
        )
        .await?
    else {
        return Ok(KeyCheck::Unknown);
    };
    let (key, device): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    let status: String = row.try_get(4)?;
    if !row.try_get::<_, bool>(2)? || status == GenericStatus::Inactive.as_str() {
        return Ok(KeyCheck::Revoked);
    }
    if row.opt_u64(3)?.is_some_and(|e| e <= now) {
        return Ok(KeyCheck::Expired);
    }
    tx.execute(
        "UPDATE generic_keys SET last_used_ms = $2, usage_count = usage_count + 1 WHERE id = $1",
        &[&key, &big(now)],
    )
    .await?;
    tx.execute(
        "UPDATE devices SET last_seen_ms = GREATEST(COALESCE(last_seen_ms, 0), $2) WHERE id = $1",
        &[&device, &big(now)],
    )
    .await?;
    let window_ms = now - now % RATE_WINDOW_MS;
    let count = count_request(&tx, device, scope.as_str(), window_ms).await?;
    let device = get(&tx, device)
        .await?
        .ok_or_else(|| StoreError::new("a keyed device is missing"))?;
    tx.commit().await?;
    Ok(KeyCheck::Valid {
        device: Box::new(device),
        count,
        window_ms,
    })
}

async fn update(
    pool: &Pool,
    id: i64,
    p: &GenericPatch,
    now: u64,
) -> Result<Option<GenericDevice>, GenericError> {
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let tx = client.transaction().await.map_err(StoreError::from)?;
    tx.execute("LOCK TABLE generic_devices IN EXCLUSIVE MODE", &[])
        .await
        .map_err(StoreError::from)?;
    if get(&tx, id).await?.is_none() {
        return Ok(None);
    }
    if let Some(name) = &p.name
        && name_taken(&tx, name, id).await?
    {
        return Err(GenericError::NameTaken);
    }
    tx.execute(
        "UPDATE devices SET name = COALESCE($2, name), description = COALESCE($3, description),
            location = COALESCE($4, location), firmware_version = COALESCE($5, firmware_version)
         WHERE id = $1",
        &[
            &id,
            &p.name,
            &p.description,
            &p.location,
            &p.firmware_version,
        ],
    )
    .await
    .map_err(StoreError::from)?;
    tx.execute(
        "UPDATE generic_devices SET name = COALESCE($2, name),
            device_type = COALESCE($3, device_type), status = COALESCE($4, status),
            hardware_version = COALESCE($5, hardware_version), updated_ms = $6
         WHERE device = $1",
        &[
            &id,
            &p.name,
            &p.device_type,
            &p.status.map(GenericStatus::as_str),
            &p.hardware_version,
            &big(now),
        ],
    )
    .await
    .map_err(StoreError::from)?;
    let device = get(&tx, id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(device)
}

/// The device's channel ids by name, adding `names` not seen yet; `None`
/// when that would pass `max` channels. The device row is locked first.
async fn channel_ids(
    tx: &Transaction<'_>,
    device: i64,
    names: &[&str],
    max: usize,
) -> Result<Option<HashMap<String, u32>>, StoreError> {
    let rows = tx
        .query(
            "SELECT name, id FROM device_channels WHERE device = $1",
            &[&device],
        )
        .await?;
    let mut known = HashMap::new();
    for r in &rows {
        let id: i32 = r.try_get(1)?;
        known.insert(r.try_get::<_, String>(0)?, u32::try_from(id).unwrap_or(0));
    }
    let mut next = known.values().max().copied().unwrap_or(0) + 1;
    for name in names {
        if known.contains_key(*name) {
            continue;
        }
        if known.len() >= max {
            return Ok(None);
        }
        let id = i32::try_from(next).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO device_channels (device, id, name) VALUES ($1, $2, $3)",
            &[&device, &id, name],
        )
        .await?;
        known.insert((*name).to_owned(), next);
        next += 1;
    }
    Ok(Some(known))
}

async fn add_reading(
    pool: &Pool,
    id: i64,
    reading: &NewReading,
    now: u64,
) -> Result<ReadingOutcome, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // The device row serialises a device's readings (message ids, channels).
    let locked = tx
        .query_opt(
            "SELECT d.id FROM devices d JOIN generic_devices g ON g.device = d.id
             WHERE d.id = $1 FOR UPDATE OF d",
            &[&id],
        )
        .await?;
    if locked.is_none() {
        return Ok(ReadingOutcome::UnknownDevice);
    }
    if let Some(message) = &reading.message_id {
        let earlier = tx
            .query_opt(
                "SELECT upload FROM generic_messages WHERE device = $1 AND message_id = $2",
                &[&id, message],
            )
            .await?;
        if let Some(row) = earlier {
            return Ok(ReadingOutcome::Duplicate(row.try_get(0)?));
        }
    }
    let names: Vec<&str> = reading.values.iter().map(|(n, _)| n.as_str()).collect();
    let Some(ids) = channel_ids(&tx, id, &names, reading.max_channels).await? else {
        return Ok(ReadingOutcome::TooManyChannels);
    };
    let envelope = ReadingEnvelope {
        data_type: reading.data_type.clone(),
        metadata: reading.metadata.clone(),
        message_id: reading.message_id.clone(),
    };
    let report = serde_json::to_string(&envelope).map_err(|e| StoreError::new(e.to_string()))?;
    let upload: i64 = tx
        .query_one(
            "INSERT INTO uploads (id, device, nonce, received_ms, format, body, report)
             VALUES (nextval('uploads_id_seq'), $1, NULL, $2, 'generic', ''::bytea, $3)
             RETURNING id",
            &[&id, &big(now), &report],
        )
        .await?
        .try_get(0)?;
    let sample = reading_sample(reading, &ids);
    let named = blocks::encode(std::slice::from_ref(&sample)).data;
    let flags = super::telemetry::flags(false, reading.device_time);
    let empty: Vec<i32> = Vec::new();
    tx.execute(
        "INSERT INTO samples (device, t_ms, upload, pos, packet, flags, registers, named)
         VALUES ($1, $2, $3, 0, 0, $4, $5, $6)",
        &[&id, &big(reading.t_ms), &upload, &flags, &empty, &named],
    )
    .await?;
    tx.execute(
        "UPDATE devices SET uploads = uploads + 1, samples = samples + 1,
            last_seen_ms = GREATEST(COALESCE(last_seen_ms, 0), $2) WHERE id = $1",
        &[&id, &big(now)],
    )
    .await?;
    if let Some(message) = &reading.message_id {
        tx.execute(
            "INSERT INTO generic_messages (device, message_id, upload) VALUES ($1, $2, $3)",
            &[&id, message, &upload],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ReadingOutcome::Stored(upload))
}

const READING_FILTER: &str = "FROM uploads u JOIN samples s ON s.upload = u.id
    JOIN devices d ON d.id = u.device
    WHERE u.format = 'generic' AND ($1::BIGINT IS NULL OR u.device = $1)
      AND ($2::TEXT IS NULL OR u.report::jsonb ->> 'type' = $2)
      AND ($3::BIGINT IS NULL OR s.t_ms >= $3) AND ($4::BIGINT IS NULL OR s.t_ms < $4)";

async fn channel_names(pool: &Pool, device: i64) -> Result<HashMap<u32, String>, StoreError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, name FROM device_channels WHERE device = $1",
            &[&device],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.u32_of_int(0)?, r.try_get(1)?)))
        .collect()
}

/// An INTEGER column as `u32`.
trait IntExt {
    fn u32_of_int(&self, i: usize) -> Result<u32, StoreError>;
}

impl IntExt for Row {
    fn u32_of_int(&self, i: usize) -> Result<u32, StoreError> {
        u32::try_from(self.try_get::<_, i32>(i)?)
            .map_err(|_| StoreError::new(format!("column {i}: stored value out of range")))
    }
}

async fn readings(pool: &Pool, q: &ReadingQuery) -> Result<(Vec<Reading>, u64), StoreError> {
    let (from, to) = (q.from_ms.map(big), q.to_ms.map(big));
    let filter: [&(dyn ToSql + Sync); 4] = [&q.device, &q.data_type, &from, &to];
    let client = pool.get().await?;
    let total = client
        .query_one(&format!("SELECT COUNT(*) {READING_FILTER}"), &filter)
        .await?
        .u64(0)?;
    let (lim, off) = (big(q.limit), big(q.offset));
    let rows = client
        .query(
            &format!(
                "SELECT u.id, u.device, d.device_id, u.received_ms, u.report, s.named
                 {READING_FILTER} ORDER BY s.t_ms DESC, u.id DESC LIMIT $5 OFFSET $6"
            ),
            &[&q.device, &q.data_type, &from, &to, &lim, &off],
        )
        .await?;
    drop(client);
    let mut names: HashMap<i64, HashMap<u32, String>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let device: i64 = r.try_get(1)?;
        if let std::collections::hash_map::Entry::Vacant(e) = names.entry(device) {
            e.insert(channel_names(pool, device).await?);
        }
        let report: String = r.try_get(4)?;
        let named: Option<Vec<u8>> = r.try_get(5)?;
        out.push(crate::store::generic::reading(
            (r.try_get(0)?, r.try_get(2)?, r.u64(3)?),
            &report,
            named.as_deref().unwrap_or_default(),
            &names[&device],
        )?);
    }
    Ok((out, total))
}

async fn channel_points(
    pool: &Pool,
    device: &str,
    channel: &str,
    (from, to): (u64, u64),
    n: usize,
) -> Result<Vec<(u64, f64)>, StoreError> {
    let client = pool.get().await?;
    let Some(row) = client
        .query_opt(
            "SELECT c.device, c.id FROM device_channels c JOIN devices d ON d.id = c.device
             WHERE d.device_id = $1 AND c.name = $2",
            &[&device, &channel],
        )
        .await?
    else {
        return Ok(Vec::new());
    };
    let (key, id): (i64, u32) = (row.try_get(0)?, row.u32_of_int(1)?);
    let rows = client
        .query(
            "SELECT named FROM samples WHERE device = $1 AND t_ms >= $2 AND t_ms < $3
             AND named IS NOT NULL ORDER BY t_ms, upload, pos LIMIT $4",
            &[&key, &big(from), &big(to), &limit(n)],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let data: Vec<u8> = r.try_get(0)?;
        for s in blocks::decode(&data)? {
            if let Some(&(_, v)) = s.named.iter().find(|(c, _)| *c == id) {
                out.push((s.t_ms, v));
            }
        }
    }
    Ok(out)
}

async fn pairs(
    pool: &Pool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<(String, u64)>, StoreError> {
    let client = pool.get().await?;
    let rows = client.query(sql, params).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.u64(1)?)))
        .collect()
}

async fn counts(pool: &Pool, since: u64) -> Result<GenericCounts, StoreError> {
    let since = big(since);
    let client = pool.get().await?;
    let per_hour = client
        .query(
            "SELECT received_ms / 3600000 * 3600000 AS h, COUNT(*) FROM uploads
             WHERE format = 'generic' AND received_ms >= $1 GROUP BY h ORDER BY h",
            &[&since],
        )
        .await?
        .iter()
        .map(|r| Ok((r.u64(0)?, r.u64(1)?)))
        .collect::<Result<_, StoreError>>()?;
    let top = client
        .query(
            "SELECT g.device, g.name, COUNT(*) FROM generic_devices g
             JOIN uploads u ON u.device = g.device AND u.format = 'generic' AND u.received_ms >= $1
             GROUP BY g.device, g.name ORDER BY 3 DESC, g.device LIMIT 10",
            &[&since],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.u64(2)?)))
        .collect::<Result<_, StoreError>>()?;
    drop(client);
    Ok(GenericCounts {
        by_status: pairs(
            pool,
            "SELECT status, COUNT(*) FROM generic_devices GROUP BY status ORDER BY status",
            &[],
        )
        .await?,
        by_type: pairs(
            pool,
            "SELECT device_type, COUNT(*) FROM generic_devices GROUP BY device_type
             ORDER BY device_type",
            &[],
        )
        .await?,
        per_hour,
        top,
    })
}

impl GenericStore for PgStore {
    fn add_generic(
        &self,
        device: NewGenericDevice,
        key: NewDeviceKey,
    ) -> BoxFuture<'_, Result<GenericDevice, GenericError>> {
        let task = self.run_now(move |pool, now| async move {
            match add(&pool, &device, &key, now).await {
                Err(GenericError::Store(e)) => Err(e),
                other => Ok(other),
            }
        });
        Box::pin(async move { task.await.map_err(GenericError::Store)? })
    }

    fn use_key(
        &self,
        hash: TokenHash,
        scope: RateScope,
    ) -> BoxFuture<'_, Result<KeyCheck, StoreError>> {
        self.run_now(move |pool, now| async move { use_key(&pool, hash, scope, now).await })
    }

    fn rotate_generic_key(
        &self,
        id: i64,
        key: NewDeviceKey,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run_now(move |pool, now| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            if get(&tx, id).await?.is_none() {
                return Ok(false);
            }
            insert_key(&tx, id, &key, now).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn revoke_generic_key(&self, id: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            Ok(client
                .execute(
                    "UPDATE generic_keys SET is_active = FALSE WHERE device = $1 AND is_active",
                    &[&id],
                )
                .await?
                > 0)
        })
    }

    fn generic_devices(&self) -> BoxFuture<'_, Result<Vec<GenericDevice>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(&format!("{SELECT} ORDER BY g.device"), &[])
                .await?;
            rows.iter().map(device_row).collect()
        })
    }

    fn generic_device(&self, id: i64) -> BoxFuture<'_, Result<Option<GenericDevice>, StoreError>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            get(&client, id).await
        })
    }

    fn update_generic(
        &self,
        id: i64,
        patch: GenericPatch,
    ) -> BoxFuture<'_, Result<Option<GenericDevice>, GenericError>> {
        let task = self.run_now(move |pool, now| async move {
            match update(&pool, id, &patch, now).await {
                Err(GenericError::Store(e)) => Err(e),
                other => Ok(other),
            }
        });
        Box::pin(async move { task.await.map_err(GenericError::Store)? })
    }

    fn delete_generic(&self, id: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        use crate::store::devices::DeviceStore as _;
        Box::pin(async move {
            if self.generic_device(id).await?.is_none() {
                return Ok(false);
            }
            self.remove_device(&device_id(id)).await
        })
    }

    fn generic_heartbeat(&self, id: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.run_now(move |pool, now| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "UPDATE generic_devices SET last_heartbeat_ms = $2 WHERE device = $1",
                &[&id, &big(now)],
            )
            .await?;
            tx.execute(
                "UPDATE devices SET last_seen_ms = GREATEST(COALESCE(last_seen_ms, 0), $2)
                 WHERE id = $1",
                &[&id, &big(now)],
            )
            .await?;
            tx.commit().await?;
            Ok(now)
        })
    }

    fn set_generic_config(
        &self,
        id: i64,
        config: serde_json::Value,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run_now(move |pool, now| async move {
            let client = pool.get().await?;
            client
                .execute(
                    "UPDATE generic_devices SET config = $2, updated_ms = $3 WHERE device = $1",
                    &[&id, &config.to_string(), &big(now)],
                )
                .await?;
            Ok(())
        })
    }

    fn add_reading(
        &self,
        id: i64,
        reading: NewReading,
    ) -> BoxFuture<'_, Result<ReadingOutcome, StoreError>> {
        self.run_now(move |pool, now| async move { add_reading(&pool, id, &reading, now).await })
    }

    fn readings(
        &self,
        query: ReadingQuery,
    ) -> BoxFuture<'_, Result<(Vec<Reading>, u64), StoreError>> {
        self.run(move |pool| async move { readings(&pool, &query).await })
    }

    fn named_channels(&self, device: &str) -> BoxFuture<'_, Result<Vec<NamedChannel>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT c.name, c.unit FROM device_channels c
                     JOIN devices d ON d.id = c.device WHERE d.device_id = $1 ORDER BY c.id",
                    &[&device],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(NamedChannel {
                        name: r.try_get(0)?,
                        unit: r.try_get(1)?,
                    })
                })
                .collect()
        })
    }

    fn channel_points(
        &self,
        device: &str,
        channel: &str,
        range: (u64, u64),
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, f64)>, StoreError>> {
        let (device, channel) = (device.to_owned(), channel.to_owned());
        self.run(
            move |pool| async move { channel_points(&pool, &device, &channel, range, limit).await },
        )
    }

    fn generic_counts(&self, since_ms: u64) -> BoxFuture<'_, Result<GenericCounts, StoreError>> {
        self.run(move |pool| async move { counts(&pool, since_ms).await })
    }
}
