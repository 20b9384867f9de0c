//! Generic devices in SQLite: their rows beside `devices`, keys, rate
//! windows and readings. Readings go through the writer (block ids follow
//! commit order); operator and key changes through the operator connection.

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::SqliteStore;
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

fn device_row(r: &Row<'_>) -> rusqlite::Result<GenericDevice> {
    let status: String = r.get(5)?;
    let config: Option<String> = r.get(9)?;
    let key = match r.get::<_, Option<bool>>(15)? {
        Some(is_active) => Some(KeyRecord {
            is_active,
            expires_ms: r.get(16)?,
            created_ms: r.get(17)?,
            last_used_ms: r.get(18)?,
            usage_count: r.get(19)?,
        }),
        None => None,
    };
    Ok(GenericDevice {
        id: r.get(0)?,
        device_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        device_type: r.get(4)?,
        status: GenericStatus::parse(&status).unwrap_or(GenericStatus::Inactive),
        location: r.get(6)?,
        firmware_version: r.get(7)?,
        hardware_version: r.get(8)?,
        config: config.and_then(|c| serde_json::from_str(&c).ok()),
        created_ms: r.get(10)?,
        updated_ms: r.get(11)?,
        last_seen_ms: r.get(12)?,
        last_heartbeat_ms: r.get(13)?,
        upload_interval_s: r.get(20)?,
        readings: r.get(14)?,
        key,
    })
}

fn get(conn: &Connection, id: i64) -> Result<Option<GenericDevice>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE g.device = ?1"))?
        .query_row([id], device_row)
        .optional()?)
}

fn name_taken(conn: &Connection, name: &str, other_than: i64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM generic_devices WHERE name = ?1 AND device != ?2")?
        .query_row(params![name, other_than], |_| Ok(()))
        .optional()?
        .is_some())
}

fn insert_key(
    tx: &Transaction<'_>,
    device: i64,
    key: &NewDeviceKey,
    now: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE generic_keys SET is_active = 0 WHERE device = ?1",
        [device],
    )?;
    tx.execute(
        "INSERT INTO generic_keys (device, key_hash, is_active, expires_ms, created_ms)
         VALUES (?1, ?2, 1, ?3, ?4)",
        params![device, key.hash.as_slice(), key.expires_ms, now],
    )?;
    Ok(())
}

fn add(
    conn: &mut Connection,
    new: &NewGenericDevice,
    key: &NewDeviceKey,
    now: u64,
) -> Result<GenericDevice, GenericError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::from)?;
    if name_taken(&tx, &new.name, 0)? {
        return Err(GenericError::NameTaken);
    }
    let id: i64 = tx
        .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM devices", [], |r| {
            r.get(0)
        })
        .map_err(StoreError::from)?;
    tx.execute(
        "INSERT INTO devices (id, device_id, created_ms, name, firmware_version, location,
                              description)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            device_id(id),
            now,
            new.name,
            new.firmware_version,
            new.location,
            new.description
        ],
    )
    .map_err(StoreError::from)?;
    tx.execute(
        "INSERT INTO generic_devices (device, name, device_type, status, hardware_version,
                                      updated_ms)
         VALUES (?1, ?2, ?3, 'active', ?4, ?5)",
        params![id, new.name, new.device_type, new.hardware_version, now],
    )
    .map_err(StoreError::from)?;
    insert_key(&tx, id, key, now)?;
    for (at, (name, unit)) in new.channels.iter().enumerate() {
        tx.execute(
            "INSERT INTO device_channels (device, id, name, unit) VALUES (?1, ?2, ?3, ?4)",
            params![id, i64::try_from(at + 1).unwrap_or(i64::MAX), name, unit],
        )
        .map_err(StoreError::from)?;
    }
    tx.commit().map_err(StoreError::from)?;
    get(conn, id)?.ok_or_else(|| StoreError::new("a device just added is missing").into())
}

/// Counts one request of `device` in `scope`'s window and answers the count.
fn count_request(
    tx: &Transaction<'_>,
    device: i64,
    scope: &str,
    window: u64,
) -> Result<u64, StoreError> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO generic_rate (device, scope, window_ms, count) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (device, scope) DO UPDATE SET
                count = CASE WHEN window_ms = excluded.window_ms THEN count + 1 ELSE 1 END,
                window_ms = excluded.window_ms
             RETURNING count",
        )?
        .query_row(params![device, scope, window], |r| r.get(0))?)
}

fn use_key(
    conn: &mut Connection,
    hash: &TokenHash,
    scope: RateScope,
    now: u64,
) -> Result<KeyCheck, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = tx
        .prepare_cached(
            "SELECT k.id, k.device, k.is_active, k.expires_ms, g.status FROM generic_keys k
             JOIN generic_devices g ON g.device = k.device WHERE k.key_hash = ?1",
        )?
        .query_row([hash.as_slice()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, Option<u64>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .optional()?;
    let Some((key, device, active, expires, status)) = found else {
        return Ok(KeyCheck::Unknown);
    };
    if !active || status == GenericStatus::Inactive.as_str() {
        return Ok(KeyCheck::Revoked);
    }
    if expires.is_some_and(|e| e <= now) {
        return Ok(KeyCheck::Expired);
    }
    tx.execute(
        "UPDATE generic_keys SET last_used_ms = ?2, usage_count = usage_count + 1 WHERE id = ?1",
        params![key, now],
    )?;
    tx.execute(
        "UPDATE devices SET last_seen_ms = MAX(COALESCE(last_seen_ms, 0), ?2) WHERE id = ?1",
        params![device, now],
    )?;
    let window_ms = now - now % RATE_WINDOW_MS;
    let count = count_request(&tx, device, scope.as_str(), window_ms)?;
    let device = get(&tx, device)?.ok_or_else(|| StoreError::new("a keyed device is missing"))?;
    tx.commit()?;
    Ok(KeyCheck::Valid {
        device: Box::new(device),
        count,
        window_ms,
    })
}

fn update(
    conn: &mut Connection,
    id: i64,
    p: &GenericPatch,
    now: u64,
) -> Result<Option<GenericDevice>, GenericError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::from)?;
    if get(&tx, id)?.is_none() {
        return Ok(None);
    }
    if let Some(name) = &p.name
        && name_taken(&tx, name, id)?
    {
        return Err(GenericError::NameTaken);
    }
    tx.execute(
        "UPDATE devices SET name = COALESCE(?2, name), description = COALESCE(?3, description),
            location = COALESCE(?4, location), firmware_version = COALESCE(?5, firmware_version)
         WHERE id = ?1",
        params![id, p.name, p.description, p.location, p.firmware_version],
    )
    .map_err(StoreError::from)?;
    tx.execute(
        "UPDATE generic_devices SET name = COALESCE(?2, name),
            device_type = COALESCE(?3, device_type), status = COALESCE(?4, status),
            hardware_version = COALESCE(?5, hardware_version), updated_ms = ?6
         WHERE device = ?1",
        params![
            id,
            p.name,
            p.device_type,
            p.status.map(GenericStatus::as_str),
            p.hardware_version,
            now
        ],
    )
    .map_err(StoreError::from)?;
    let device = get(&tx, id)?;
    tx.commit().map_err(StoreError::from)?;
    Ok(device)
}

/// The device's channel ids by name, adding `names` not seen yet; `None`
/// when that would pass `max` channels.
fn channel_ids(
    tx: &Transaction<'_>,
    device: i64,
    names: &[&str],
    max: usize,
) -> Result<Option<HashMap<String, u32>>, StoreError> {
    let mut known: HashMap<String, u32> = tx
        .prepare_cached("SELECT name, id FROM device_channels WHERE device = ?1")?
        .query_map([device], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut next = known.values().max().copied().unwrap_or(0) + 1;
    for name in names {
        if known.contains_key(*name) {
            continue;
        }
        if known.len() >= max {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO device_channels (device, id, name) VALUES (?1, ?2, ?3)",
            params![device, next, name],
        )?;
        known.insert((*name).to_owned(), next);
        next += 1;
    }
    Ok(Some(known))
}

fn add_reading(
    conn: &mut Connection,
    rollups: &mut super::rollups::RollupWriter,
    id: i64,
    reading: &NewReading,
    now: u64,
) -> Result<ReadingOutcome, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if get(&tx, id)?.is_none() {
        return Ok(ReadingOutcome::UnknownDevice);
    }
    if let Some(message) = &reading.message_id {
        let earlier: Option<i64> = tx
            .prepare_cached(
                "SELECT upload FROM generic_messages WHERE device = ?1 AND message_id = ?2",
            )?
            .query_row(params![id, message], |r| r.get(0))
            .optional()?;
        if let Some(upload) = earlier {
            return Ok(ReadingOutcome::Duplicate(upload));
        }
    }
    let names: Vec<&str> = reading.values.iter().map(|(n, _)| n.as_str()).collect();
    let Some(ids) = channel_ids(&tx, id, &names, reading.max_channels)? else {
        return Ok(ReadingOutcome::TooManyChannels);
    };
    let upload: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM uploads", [], |r| {
        r.get(0)
    })?;
    let envelope = ReadingEnvelope {
        data_type: reading.data_type.clone(),
        metadata: reading.metadata.clone(),
        message_id: reading.message_id.clone(),
    };
    let report = serde_json::to_string(&envelope).map_err(|e| StoreError::new(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO uploads (id, device, nonce, received_ms, format, body, report)
         VALUES (?1, ?2, NULL, ?3, 'generic', x'', ?4)",
    )?
    .execute(params![upload, id, now, report])?;
    let block = blocks::encode(&[reading_sample(reading, &ids)]);
    let block_id = rollups.next_block(&tx)?;
    super::blocks::insert(&tx, block_id, id, upload, &block)?;
    rollups.outside_batch(&tx, block_id)?;
    tx.prepare_cached(
        "UPDATE devices SET uploads = uploads + 1, samples = samples + 1,
            last_seen_ms = MAX(COALESCE(last_seen_ms, 0), ?2) WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    if let Some(message) = &reading.message_id {
        tx.execute(
            "INSERT INTO generic_messages (device, message_id, upload) VALUES (?1, ?2, ?3)",
            params![id, message, upload],
        )?;
    }
    tx.commit()?;
    rollups.committed_block(block_id);
    Ok(ReadingOutcome::Stored(upload))
}

fn channel_names(conn: &Connection, device: i64) -> Result<HashMap<u32, String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id, name FROM device_channels WHERE device = ?1")?
        .query_map([device], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}

const READING_FILTER: &str = "FROM uploads u JOIN blocks b ON b.upload = u.id
    JOIN devices d ON d.id = u.device
    WHERE u.format = 'generic' AND (?1 IS NULL OR u.device = ?1)
      AND (?2 IS NULL OR json_extract(u.report, '$.type') = ?2)
      AND (?3 IS NULL OR b.t_first >= ?3) AND (?4 IS NULL OR b.t_first < ?4)";

fn readings(conn: &Connection, q: &ReadingQuery) -> Result<(Vec<Reading>, u64), StoreError> {
    let filter = params![q.device, q.data_type, q.from_ms, q.to_ms];
    let total: u64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) {READING_FILTER}"))?
        .query_row(filter, |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT u.id, u.device, d.device_id, u.received_ms, u.report, b.data {READING_FILTER}
         ORDER BY b.t_first DESC, u.id DESC LIMIT ?5 OFFSET ?6"
    ))?;
    let mut rows = stmt.query(params![
        q.device,
        q.data_type,
        q.from_ms,
        q.to_ms,
        q.limit,
        q.offset
    ])?;
    let mut names: HashMap<i64, HashMap<u32, String>> = HashMap::new();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let device: i64 = r.get(1)?;
        if let std::collections::hash_map::Entry::Vacant(e) = names.entry(device) {
            e.insert(channel_names(conn, device)?);
        }
        let report: String = r.get(4)?;
        let data = r
            .get_ref(5)?
            .as_blob()
            .map_err(|e| StoreError::new(format!("block data: {e}")))?;
        out.push(crate::store::generic::reading(
            (r.get(0)?, r.get(2)?, r.get(3)?),
            &report,
            data,
            &names[&device],
        )?);
    }
    Ok((out, total))
}

fn channel_points(
    conn: &Connection,
    device: &str,
    channel: &str,
    range: (u64, u64),
    limit: usize,
) -> Result<Vec<(u64, f64)>, StoreError> {
    let id: Option<u32> = conn
        .prepare_cached(
            "SELECT c.id FROM device_channels c JOIN devices d ON d.id = c.device
             WHERE d.device_id = ?1 AND c.name = ?2",
        )?
        .query_row(params![device, channel], |r| r.get(0))
        .optional()?;
    let Some(id) = id else {
        return Ok(Vec::new());
    };
    super::blocks::range(conn, device, range, limit, |s, _| {
        s.named
            .iter()
            .find(|(c, _)| *c == id)
            .map(|&(_, v)| (s.t_ms, v))
    })
}

fn pairs<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<(T, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn counts(conn: &Connection, since: u64) -> Result<GenericCounts, StoreError> {
    let top = conn
        .prepare_cached(
            "SELECT g.device, g.name, COUNT(*) FROM generic_devices g
             JOIN uploads u ON u.device = g.device AND u.format = 'generic' AND u.received_ms >= ?1
             GROUP BY g.device, g.name ORDER BY 3 DESC, g.device LIMIT 10",
        )?
        .query_map([since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(GenericCounts {
        by_status: pairs(
            conn,
            "SELECT status, COUNT(*) FROM generic_devices GROUP BY status ORDER BY status",
            &[],
        )?,
        by_type: pairs(
            conn,
            "SELECT device_type, COUNT(*) FROM generic_devices GROUP BY device_type
             ORDER BY device_type",
            &[],
        )?,
        per_hour: pairs(
            conn,
            "SELECT received_ms / 3600000 * 3600000 AS h, COUNT(*) FROM uploads
             WHERE format = 'generic' AND received_ms >= ?1 GROUP BY h ORDER BY h",
            &[&since],
        )?,
        top,
    })
}

impl GenericStore for SqliteStore {
    fn add_generic(
        &self,
        device: NewGenericDevice,
        key: NewDeviceKey,
    ) -> BoxFuture<'_, Result<GenericDevice, GenericError>> {
        let admin = self.admin(move |c, now| match add(c, &device, &key, now) {
            Err(GenericError::Store(e)) => Err(e),
            other => Ok(other),
        });
        Box::pin(async move { admin.await.map_err(GenericError::Store)? })
    }

    fn use_key(
        &self,
        hash: TokenHash,
        scope: RateScope,
    ) -> BoxFuture<'_, Result<KeyCheck, StoreError>> {
        self.admin(move |c, now| use_key(c, &hash, scope, now))
    }

    fn rotate_generic_key(
        &self,
        id: i64,
        key: NewDeviceKey,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.admin(move |c, now| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if get(&tx, id)?.is_none() {
                return Ok(false);
            }
            insert_key(&tx, id, &key, now)?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn revoke_generic_key(&self, id: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.admin(move |c, _| {
            Ok(c.execute(
                "UPDATE generic_keys SET is_active = 0 WHERE device = ?1 AND is_active = 1",
                [id],
            )? > 0)
        })
    }

    fn generic_devices(&self) -> BoxFuture<'_, Result<Vec<GenericDevice>, StoreError>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{SELECT} ORDER BY g.device"))?;
            let rows = stmt.query_map([], device_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn generic_device(&self, id: i64) -> BoxFuture<'_, Result<Option<GenericDevice>, StoreError>> {
        self.read(move |c| get(c, id))
    }

    fn update_generic(
        &self,
        id: i64,
        patch: GenericPatch,
    ) -> BoxFuture<'_, Result<Option<GenericDevice>, GenericError>> {
        let admin = self.admin(move |c, now| match update(c, id, &patch, now) {
            Err(GenericError::Store(e)) => Err(e),
            other => Ok(other),
        });
        Box::pin(async move { admin.await.map_err(GenericError::Store)? })
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
        self.admin(move |c, now| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE generic_devices SET last_heartbeat_ms = ?2 WHERE device = ?1",
                params![id, now],
            )?;
            tx.execute(
                "UPDATE devices SET last_seen_ms = MAX(COALESCE(last_seen_ms, 0), ?2)
                 WHERE id = ?1",
                params![id, now],
            )?;
            tx.commit()?;
            Ok(now)
        })
    }

    fn set_generic_config(
        &self,
        id: i64,
        config: serde_json::Value,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.admin(move |c, now| {
            c.execute(
                "UPDATE generic_devices SET config = ?2, updated_ms = ?3 WHERE device = ?1",
                params![id, config.to_string(), now],
            )?;
            Ok(())
        })
    }

    fn add_reading(
        &self,
        id: i64,
        reading: NewReading,
    ) -> BoxFuture<'_, Result<ReadingOutcome, StoreError>> {
        let writer = self.writer.clone();
        let now = self.clock.now_ms();
        Box::pin(async move {
            writer
                .run(move |c, rollups| add_reading(c, rollups, id, &reading, now))
                .await
        })
    }

    fn readings(
        &self,
        query: ReadingQuery,
    ) -> BoxFuture<'_, Result<(Vec<Reading>, u64), StoreError>> {
        self.read(move |c| readings(c, &query))
    }

    fn named_channels(&self, device: &str) -> BoxFuture<'_, Result<Vec<NamedChannel>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT c.name, c.unit FROM device_channels c JOIN devices d ON d.id = c.device
                 WHERE d.device_id = ?1 ORDER BY c.id",
            )?;
            let rows = stmt.query_map([device], |r| {
                Ok(NamedChannel {
                    name: r.get(0)?,
                    unit: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
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
        self.read(move |c| channel_points(c, &device, &channel, range, limit))
    }

    fn generic_counts(&self, since_ms: u64) -> BoxFuture<'_, Result<GenericCounts, StoreError>> {
        self.read(move |c| counts(c, since_ms))
    }
}
