//! Firmware images, rollouts and update sessions in SQLite.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::manage::rollout::pauses;
use crate::store::StoreError;
use crate::store::firmware::{
    FirmwareInfo, FirmwareStore, NewFirmware, OtaEvent, OtaReport, OtaSession, Rollout,
    RolloutState, RolloutTarget, VersionStats,
};

const IMAGE_COLUMNS: &str = "version, notes, original_size, encrypted_size, sha256, signature, \
    iv, chunk_size, total_chunks, created_ms";

fn image_row(r: &Row<'_>) -> rusqlite::Result<FirmwareInfo> {
    Ok(FirmwareInfo {
        version: r.get(0)?,
        notes: r.get(1)?,
        original_size: r.get(2)?,
        encrypted_size: r.get(3)?,
        sha256: r.get(4)?,
        signature: STANDARD.encode(r.get::<_, Vec<u8>>(5)?),
        iv: STANDARD.encode(r.get::<_, Vec<u8>>(6)?),
        chunk_size: r.get(7)?,
        total_chunks: r.get(8)?,
        created_ms: r.get(9)?,
    })
}

fn bad_column(index: usize, text: String) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(index, text, rusqlite::types::Type::Text)
}

const ROLLOUT_COLUMNS: &str = "i.version, r.state, r.devices, r.percent, r.max_failures, \
    r.failures, r.reason, r.updated_ms";

fn rollout_row(r: &Row<'_>) -> rusqlite::Result<Rollout> {
    let state: String = r.get(1)?;
    let devices: Option<String> = r.get(2)?;
    let target = match devices {
        Some(list) => RolloutTarget::Devices(
            serde_json::from_str(&list).map_err(|_| bad_column(2, list.clone()))?,
        ),
        None => RolloutTarget::Percent(r.get(3)?),
    };
    Ok(Rollout {
        version: r.get(0)?,
        state: RolloutState::parse(&state).ok_or_else(|| bad_column(1, state.clone()))?,
        target,
        max_failures: r.get(4)?,
        failures: r.get(5)?,
        reason: r.get(6)?,
        updated_ms: r.get(7)?,
    })
}

fn rollout(conn: &Connection, version: &str) -> Result<Option<Rollout>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ROLLOUT_COLUMNS} FROM rollouts r JOIN firmware_images i ON i.id = r.image
             WHERE i.version = ?1"
        ))?
        .query_row([version], rollout_row)
        .optional()?)
}

const SESSION_COLUMNS: &str =
    "session_id, device_id, version, state, progress, started_ms, updated_ms";

fn session_row(r: &Row<'_>) -> rusqlite::Result<OtaSession> {
    Ok(OtaSession {
        session_id: r.get(0)?,
        device_id: r.get(1)?,
        version: r.get(2)?,
        state: r.get(3)?,
        progress: r.get(4)?,
        started_ms: r.get(5)?,
        updated_ms: r.get(6)?,
    })
}

fn latest_session(conn: &Connection, device: &str) -> Result<Option<OtaSession>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM ota_sessions WHERE device_id = ?1 ORDER BY id DESC LIMIT 1"
        ))?
        .query_row([device], session_row)
        .optional()?)
}

fn add_event(
    conn: &Connection,
    device: &str,
    event: &OtaEvent,
    keep: usize,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO ota_events (device_id, version, kind, detail, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![device, event.version, event.kind, event.detail, event.at_ms])?;
    conn.prepare_cached(
        "DELETE FROM ota_events WHERE device_id = ?1 AND id <= (
             SELECT id FROM ota_events WHERE device_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![device, i64::try_from(keep).unwrap_or(i64::MAX)])?;
    Ok(())
}

/// Stores a prepared image; `None` when the version exists.
fn publish_firmware(
    conn: &mut Connection,
    image: &NewFirmware,
    now_ms: u64,
) -> Result<Option<FirmwareInfo>, StoreError> {
    let tx = conn.transaction()?;
    let encrypted: usize = image.chunks.iter().map(Vec::len).sum();
    let inserted = tx.execute(
        "INSERT INTO firmware_images (version, notes, original_size, encrypted_size, sha256,
                 signature, iv, chunk_size, total_chunks, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (version) DO NOTHING",
        params![
            image.version,
            image.notes,
            image.original_size,
            encrypted as u64,
            image.sha256,
            image.signature,
            image.iv.as_slice(),
            image.chunk_size,
            image.chunks.len() as u64,
            now_ms
        ],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    let id = tx.last_insert_rowid();
    {
        let mut insert =
            tx.prepare("INSERT INTO firmware_chunks (image, idx, data) VALUES (?1, ?2, ?3)")?;
        for (index, chunk) in image.chunks.iter().enumerate() {
            insert.execute(params![id, index as u64, chunk])?;
        }
    }
    tx.commit()?;
    firmware_image(conn, &image.version)
}

/// Creates or retargets an image's rollout; `None` for an unknown version.
fn set_rollout(
    conn: &Connection,
    version: &str,
    target: &RolloutTarget,
    max_failures: u32,
    now_ms: u64,
) -> Result<Option<Rollout>, StoreError> {
    let (devices, percent) = match target {
        RolloutTarget::Devices(list) => (
            Some(serde_json::to_string(list).map_err(|e| StoreError::new(e.to_string()))?),
            None,
        ),
        RolloutTarget::Percent(p) => (None, Some(*p)),
    };
    let changed = conn.execute(
            "INSERT INTO rollouts (image, state, devices, percent, max_failures, created_ms, updated_ms)
             SELECT id, 'active', ?2, ?3, ?4, ?5, ?5 FROM firmware_images WHERE version = ?1
             ON CONFLICT (image) DO UPDATE SET state = 'active', devices = ?2, percent = ?3,
                 max_failures = ?4, failures = 0, reason = NULL, updated_ms = ?5",
            params![version, devices, percent, max_failures, now_ms],
        )?;
    if changed == 0 {
        return Ok(None);
    }
    rollout(conn, version)
}

/// Pauses, resumes or cancels a rollout; `None` when there is none.
fn set_rollout_state(
    conn: &Connection,
    version: &str,
    state: RolloutState,
    reason: Option<&str>,
    now_ms: u64,
) -> Result<Option<Rollout>, StoreError> {
    let changed = conn.execute(
        "UPDATE rollouts SET state = ?2, reason = ?3, updated_ms = ?4,
                 failures = CASE WHEN ?2 = 'active' THEN 0 ELSE failures END
             WHERE image = (SELECT id FROM firmware_images WHERE version = ?1)",
        params![version, state.as_str(), reason, now_ms],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    rollout(conn, version)
}

/// Records a device report; the rollout when this report paused it.
fn record_ota(
    conn: &mut Connection,
    report: &OtaReport,
    now_ms: u64,
    keep: usize,
) -> Result<Option<Rollout>, StoreError> {
    let tx = conn.transaction()?;
    let event = OtaEvent {
        version: report.version.clone(),
        kind: report.kind.clone(),
        detail: report.detail.clone(),
        at_ms: now_ms,
    };
    add_event(&tx, &report.device_id, &event, keep)?;
    if report.state.is_some() || report.progress.is_some() {
        tx.prepare_cached(
            "UPDATE ota_sessions SET state = coalesce(?3, state),
                     progress = coalesce(?4, progress), updated_ms = ?5
                 WHERE id = (SELECT id FROM ota_sessions WHERE device_id = ?1
                             AND (?2 IS NULL OR version = ?2) ORDER BY id DESC LIMIT 1)",
        )?
        .execute(params![
            report.device_id,
            report.version,
            report.state,
            report.progress,
            now_ms
        ])?;
    }
    let mut paused = None;
    if report.failure
        && let Some(version) = &report.version
        && let Some(mut current) = rollout(&tx, version)?
    {
        current.failures += 1;
        let pause =
            current.state == RolloutState::Active && pauses(current.failures, current.max_failures);
        let reason = pause.then(|| {
            format!(
                "paused by itself after {} failed verifications or rollbacks",
                current.failures
            )
        });
        tx.execute(
            "UPDATE rollouts SET failures = ?2,
                     state = CASE WHEN ?3 THEN 'paused' ELSE state END,
                     reason = CASE WHEN ?3 THEN ?4 ELSE reason END,
                     updated_ms = ?5
                 WHERE image = (SELECT id FROM firmware_images WHERE version = ?1)",
            params![version, current.failures, pause, reason, now_ms],
        )?;
        if pause {
            paused = rollout(&tx, version)?;
        }
    }
    tx.commit()?;
    Ok(paused)
}

fn firmware_image(conn: &Connection, version: &str) -> Result<Option<FirmwareInfo>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {IMAGE_COLUMNS} FROM firmware_images WHERE version = ?1"
        ))?
        .query_row([version], image_row)
        .optional()?)
}

fn firmware_images(conn: &Connection) -> Result<Vec<FirmwareInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {IMAGE_COLUMNS} FROM firmware_images ORDER BY id DESC"
    ))?;
    Ok(stmt.query_map([], image_row)?.collect::<Result<_, _>>()?)
}

fn rollouts(conn: &Connection) -> Result<Vec<Rollout>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROLLOUT_COLUMNS} FROM rollouts r JOIN firmware_images i ON i.id = r.image
         ORDER BY i.id DESC"
    ))?;
    Ok(stmt.query_map([], rollout_row)?.collect::<Result<_, _>>()?)
}

fn ota_history(conn: &Connection, device: &str, limit: usize) -> Result<Vec<OtaEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, kind, detail, at_ms FROM ota_events WHERE device_id = ?1
         ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        params![device, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| {
            Ok(OtaEvent {
                version: r.get(0)?,
                kind: r.get(1)?,
                detail: r.get(2)?,
                at_ms: r.get(3)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn ota_stats(conn: &Connection) -> Result<Vec<VersionStats>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, count(*),
             sum(state IN ('in_progress', 'downloaded', 'verified', 'installing')),
             sum(state = 'success'), sum(state = 'failed'), sum(state = 'rolled_back')
         FROM ota_sessions GROUP BY version ORDER BY version",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(VersionStats {
            version: r.get(0)?,
            sessions: r.get(1)?,
            in_progress: r.get(2)?,
            succeeded: r.get(3)?,
            failed: r.get(4)?,
            rolled_back: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl FirmwareStore for SqliteStore {
    fn publish_firmware(
        &self,
        image: NewFirmware,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<FirmwareInfo>, StoreError>> {
        self.admin(move |c, _| publish_firmware(c, &image, now_ms))
    }

    fn firmware_images(&self) -> BoxFuture<'_, Result<Vec<FirmwareInfo>, StoreError>> {
        self.read(firmware_images)
    }

    fn firmware_image(
        &self,
        version: &str,
    ) -> BoxFuture<'_, Result<Option<FirmwareInfo>, StoreError>> {
        let version = version.to_owned();
        self.read(move |c| firmware_image(c, &version))
    }

    fn firmware_chunk(
        &self,
        version: &str,
        index: u32,
    ) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        let version = version.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT c.data FROM firmware_chunks c JOIN firmware_images i ON i.id = c.image
                 WHERE i.version = ?1 AND c.idx = ?2",
            )?
            .query_row(params![version, index], |r| r.get(0))
            .optional()?)
        })
    }

    fn delete_firmware(&self, version: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let version = version.to_owned();
        self.admin(move |c, _| {
            let tx = c.transaction()?;
            let id: Option<i64> = tx
                .query_row(
                    "SELECT id FROM firmware_images WHERE version = ?1",
                    [&version],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else {
                return Ok(false);
            };
            tx.execute("DELETE FROM rollouts WHERE image = ?1", [id])?;
            tx.execute("DELETE FROM firmware_chunks WHERE image = ?1", [id])?;
            tx.execute("DELETE FROM firmware_images WHERE id = ?1", [id])?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn set_rollout(
        &self,
        version: &str,
        target: RolloutTarget,
        max_failures: u32,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        let version = version.to_owned();
        self.admin(move |c, _| set_rollout(c, &version, &target, max_failures, now_ms))
    }

    fn set_rollout_state(
        &self,
        version: &str,
        state: RolloutState,
        reason: Option<String>,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        let version = version.to_owned();
        self.admin(move |c, _| set_rollout_state(c, &version, state, reason.as_deref(), now_ms))
    }

    fn rollouts(&self) -> BoxFuture<'_, Result<Vec<Rollout>, StoreError>> {
        self.read(rollouts)
    }

    fn failed_versions(&self, device: &str) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT version FROM ota_sessions
                 WHERE device_id = ?1 AND state IN ('failed', 'rolled_back')",
            )?;
            Ok(stmt
                .query_map([device], |r| r.get(0))?
                .collect::<Result<_, _>>()?)
        })
    }

    fn ota_session(&self, device: &str) -> BoxFuture<'_, Result<Option<OtaSession>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| latest_session(c, &device))
    }

    fn start_ota(
        &self,
        device: &str,
        version: &str,
        session_id: &str,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<OtaSession, StoreError>> {
        let (device, version, session_id) =
            (device.to_owned(), version.to_owned(), session_id.to_owned());
        self.admin(move |c, _| {
            let tx = c.transaction()?;
            // F23: a session left in progress (the device rebooted mid-download,
            // and the firmware cannot resume) no longer blocks a new one.
            tx.execute(
                "UPDATE ota_sessions SET state = 'superseded', updated_ms = ?2
                 WHERE device_id = ?1 AND state IN ('in_progress', 'downloaded', 'verified')",
                params![device, now_ms],
            )?;
            tx.execute(
                "INSERT INTO ota_sessions (session_id, device_id, version, state, started_ms, updated_ms)
                 VALUES (?1, ?2, ?3, 'in_progress', ?4, ?4)",
                params![session_id, device, version, now_ms],
            )?;
            let session = latest_session(&tx, &device)?
                .ok_or_else(|| StoreError::new("the new session vanished"))?;
            tx.commit()?;
            Ok(session)
        })
    }

    fn record_ota(
        &self,
        report: OtaReport,
        now_ms: u64,
        keep: usize,
    ) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        self.admin(move |c, _| record_ota(c, &report, now_ms, keep))
    }

    fn ota_history(
        &self,
        device: &str,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<OtaEvent>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| ota_history(c, &device, limit))
    }

    fn ota_stats(&self) -> BoxFuture<'_, Result<Vec<VersionStats>, StoreError>> {
        self.read(ota_stats)
    }
}
