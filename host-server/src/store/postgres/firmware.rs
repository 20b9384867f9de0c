//! Firmware images, rollouts and update sessions.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use deadpool_postgres::{GenericClient, Pool};
use futures_util::future::BoxFuture;
use tokio_postgres::Row;

use super::PgStore;
use super::num::{RowExt as _, big, limit};
use crate::manage::rollout::pauses;
use crate::store::StoreError;
use crate::store::firmware::{
    FirmwareInfo, FirmwareStore, NewFirmware, OtaEvent, OtaReport, OtaSession, Rollout,
    RolloutState, RolloutTarget, VersionStats,
};

const IMAGE_COLUMNS: &str = "version, notes, original_size, encrypted_size, sha256, signature, \
    iv, chunk_size, total_chunks, created_ms";

fn image_row(r: &Row) -> Result<FirmwareInfo, StoreError> {
    Ok(FirmwareInfo {
        version: r.try_get(0)?,
        notes: r.try_get(1)?,
        original_size: r.u64(2)?,
        encrypted_size: r.u64(3)?,
        sha256: r.try_get(4)?,
        signature: STANDARD.encode(r.try_get::<_, Vec<u8>>(5)?),
        iv: STANDARD.encode(r.try_get::<_, Vec<u8>>(6)?),
        chunk_size: r.u32(7)?,
        total_chunks: r.u32(8)?,
        created_ms: r.u64(9)?,
    })
}

const ROLLOUT_COLUMNS: &str = "i.version, r.state, r.devices, r.percent, r.max_failures, \
    r.failures, r.reason, r.updated_ms";

fn rollout_row(r: &Row) -> Result<Rollout, StoreError> {
    let state: String = r.try_get(1)?;
    let devices: Option<String> = r.try_get(2)?;
    let target = match devices {
        Some(list) => RolloutTarget::Devices(
            serde_json::from_str(&list)
                .map_err(|e| StoreError::new(format!("stored rollout devices: {e}")))?,
        ),
        None => RolloutTarget::Percent(r.opt_u8(3)?.unwrap_or(0)),
    };
    Ok(Rollout {
        version: r.try_get(0)?,
        state: RolloutState::parse(&state)
            .ok_or_else(|| StoreError::new(format!("unknown stored rollout state {state:?}")))?,
        target,
        max_failures: r.u32(4)?,
        failures: r.u32(5)?,
        reason: r.try_get(6)?,
        updated_ms: r.u64(7)?,
    })
}

async fn rollout(c: &impl GenericClient, version: &str) -> Result<Option<Rollout>, StoreError> {
    c.query_opt(
        &format!(
            "SELECT {ROLLOUT_COLUMNS} FROM rollouts r JOIN firmware_images i ON i.id = r.image
             WHERE i.version = $1"
        ),
        &[&version],
    )
    .await?
    .as_ref()
    .map(rollout_row)
    .transpose()
}

const SESSION_COLUMNS: &str =
    "session_id, device_id, version, state, progress, started_ms, updated_ms";

fn session_row(r: &Row) -> Result<OtaSession, StoreError> {
    Ok(OtaSession {
        session_id: r.try_get(0)?,
        device_id: r.try_get(1)?,
        version: r.try_get(2)?,
        state: r.try_get(3)?,
        progress: r.u8(4)?,
        started_ms: r.u64(5)?,
        updated_ms: r.u64(6)?,
    })
}

async fn latest_session(
    c: &impl GenericClient,
    device: &str,
) -> Result<Option<OtaSession>, StoreError> {
    c.query_opt(
        &format!(
            "SELECT {SESSION_COLUMNS} FROM ota_sessions WHERE device_id = $1
             ORDER BY id DESC LIMIT 1"
        ),
        &[&device],
    )
    .await?
    .as_ref()
    .map(session_row)
    .transpose()
}

async fn firmware_image(
    c: &impl GenericClient,
    version: &str,
) -> Result<Option<FirmwareInfo>, StoreError> {
    c.query_opt(
        &format!("SELECT {IMAGE_COLUMNS} FROM firmware_images WHERE version = $1"),
        &[&version],
    )
    .await?
    .as_ref()
    .map(image_row)
    .transpose()
}

async fn publish_firmware(
    pool: &Pool,
    image: &NewFirmware,
    now_ms: u64,
) -> Result<Option<FirmwareInfo>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let encrypted: usize = image.chunks.iter().map(Vec::len).sum();
    let inserted = tx
        .query_opt(
            "INSERT INTO firmware_images (version, notes, original_size, encrypted_size, sha256,
                     signature, iv, chunk_size, total_chunks, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (version) DO NOTHING RETURNING id",
            &[
                &image.version,
                &image.notes,
                &big(image.original_size),
                &big(encrypted as u64),
                &image.sha256,
                &image.signature,
                &image.iv.as_slice(),
                &i64::from(image.chunk_size),
                &big(image.chunks.len() as u64),
                &big(now_ms),
            ],
        )
        .await?;
    let Some(row) = inserted else {
        return Ok(None);
    };
    let id: i64 = row.try_get(0)?;
    let indexes: Vec<i64> = (0..image.chunks.len()).map(|i| big(i as u64)).collect();
    tx.execute(
        "INSERT INTO firmware_chunks (image, idx, data)
         SELECT $1, * FROM unnest($2::bigint[], $3::bytea[])",
        &[&id, &indexes, &image.chunks],
    )
    .await?;
    let info = firmware_image(&tx, &image.version).await?;
    tx.commit().await?;
    Ok(info)
}

async fn record_ota(
    pool: &Pool,
    report: &OtaReport,
    now_ms: u64,
    keep: usize,
) -> Result<Option<Rollout>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO ota_events (device_id, version, kind, detail, at_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &report.device_id,
            &report.version,
            &report.kind,
            &report.detail,
            &big(now_ms),
        ],
    )
    .await?;
    tx.execute(
        "DELETE FROM ota_events WHERE device_id = $1 AND id <= (
             SELECT id FROM ota_events WHERE device_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        &[&report.device_id, &limit(keep)],
    )
    .await?;
    if report.state.is_some() || report.progress.is_some() {
        tx.execute(
            "UPDATE ota_sessions SET state = COALESCE($3, state),
                 progress = COALESCE($4, progress), updated_ms = $5
             WHERE id = (SELECT id FROM ota_sessions WHERE device_id = $1
                         AND ($2::text IS NULL OR version = $2) ORDER BY id DESC LIMIT 1)",
            &[
                &report.device_id,
                &report.version,
                &report.state,
                &report.progress.map(i16::from),
                &big(now_ms),
            ],
        )
        .await?;
    }
    let mut paused = None;
    if report.failure
        && let Some(version) = &report.version
    {
        // Lock the rollout so failures reported to several servers all count.
        let current = tx
            .query_opt(
                &format!(
                    "SELECT {ROLLOUT_COLUMNS} FROM rollouts r JOIN firmware_images i
                     ON i.id = r.image WHERE i.version = $1 FOR UPDATE OF r"
                ),
                &[version],
            )
            .await?
            .as_ref()
            .map(rollout_row)
            .transpose()?;
        if let Some(mut current) = current {
            current.failures += 1;
            let pause = current.state == RolloutState::Active
                && pauses(current.failures, current.max_failures);
            let reason = pause.then(|| {
                format!(
                    "paused by itself after {} failed verifications or rollbacks",
                    current.failures
                )
            });
            tx.execute(
                "UPDATE rollouts SET failures = $2,
                     state = CASE WHEN $3 THEN 'paused' ELSE state END,
                     reason = CASE WHEN $3 THEN $4 ELSE reason END,
                     updated_ms = $5
                 WHERE image = (SELECT id FROM firmware_images WHERE version = $1)",
                &[
                    version,
                    &i64::from(current.failures),
                    &pause,
                    &reason,
                    &big(now_ms),
                ],
            )
            .await?;
            if pause {
                paused = rollout(&tx, version).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(paused)
}

impl FirmwareStore for PgStore {
    fn publish_firmware(
        &self,
        image: NewFirmware,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<FirmwareInfo>, StoreError>> {
        self.run(move |pool| async move { publish_firmware(&pool, &image, now_ms).await })
    }

    fn firmware_images(&self) -> BoxFuture<'_, Result<Vec<FirmwareInfo>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    &format!("SELECT {IMAGE_COLUMNS} FROM firmware_images ORDER BY id DESC"),
                    &[],
                )
                .await?;
            rows.iter().map(image_row).collect()
        })
    }

    fn firmware_image(
        &self,
        version: &str,
    ) -> BoxFuture<'_, Result<Option<FirmwareInfo>, StoreError>> {
        let version = version.to_owned();
        self.run(move |pool| async move { firmware_image(&pool.get().await?, &version).await })
    }

    fn firmware_chunk(
        &self,
        version: &str,
        index: u32,
    ) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        let version = version.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT c.data FROM firmware_chunks c JOIN firmware_images i ON i.id = c.image
                     WHERE i.version = $1 AND c.idx = $2",
                    &[&version, &i64::from(index)],
                )
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    fn delete_firmware(&self, version: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let version = version.to_owned();
        self.run(move |pool| async move {
            // Chunks and rollout go with the image (ON DELETE CASCADE).
            let client = pool.get().await?;
            Ok(client
                .execute(
                    "DELETE FROM firmware_images WHERE version = $1",
                    &[&version],
                )
                .await?
                == 1)
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
        self.run(move |pool| async move {
            let (devices, percent) = match &target {
                RolloutTarget::Devices(list) => (
                    Some(serde_json::to_string(list).map_err(|e| StoreError::new(e.to_string()))?),
                    None,
                ),
                RolloutTarget::Percent(p) => (None, Some(i16::from(*p))),
            };
            let client = pool.get().await?;
            let changed = client
                .execute(
                    "INSERT INTO rollouts (image, state, devices, percent, max_failures,
                                           created_ms, updated_ms)
                     SELECT id, 'active', $2, $3, $4, $5, $5 FROM firmware_images
                     WHERE version = $1
                     ON CONFLICT (image) DO UPDATE SET state = 'active', devices = $2,
                         percent = $3, max_failures = $4, failures = 0, reason = NULL,
                         updated_ms = $5",
                    &[
                        &version,
                        &devices,
                        &percent,
                        &i64::from(max_failures),
                        &big(now_ms),
                    ],
                )
                .await?;
            if changed == 0 {
                return Ok(None);
            }
            rollout(&client, &version).await
        })
    }

    fn set_rollout_state(
        &self,
        version: &str,
        state: RolloutState,
        reason: Option<String>,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        let version = version.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let changed = client
                .execute(
                    "UPDATE rollouts SET state = $2, reason = $3, updated_ms = $4,
                         failures = CASE WHEN $2 = 'active' THEN 0 ELSE failures END
                     WHERE image = (SELECT id FROM firmware_images WHERE version = $1)",
                    &[&version, &state.as_str(), &reason, &big(now_ms)],
                )
                .await?;
            if changed == 0 {
                return Ok(None);
            }
            rollout(&client, &version).await
        })
    }

    fn rollouts(&self) -> BoxFuture<'_, Result<Vec<Rollout>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {ROLLOUT_COLUMNS} FROM rollouts r
                         JOIN firmware_images i ON i.id = r.image ORDER BY i.id DESC"
                    ),
                    &[],
                )
                .await?;
            rows.iter().map(rollout_row).collect()
        })
    }

    fn failed_versions(&self, device: &str) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT DISTINCT version FROM ota_sessions
                     WHERE device_id = $1 AND state IN ('failed', 'rolled_back')",
                    &[&device],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?)
        })
    }

    fn ota_session(&self, device: &str) -> BoxFuture<'_, Result<Option<OtaSession>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move { latest_session(&pool.get().await?, &device).await })
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
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            // F23: a session left in progress no longer blocks a new one.
            tx.execute(
                "UPDATE ota_sessions SET state = 'superseded', updated_ms = $2
                 WHERE device_id = $1 AND state IN ('in_progress', 'downloaded', 'verified')",
                &[&device, &big(now_ms)],
            )
            .await?;
            let row = tx
                .query_one(
                    &format!(
                        "INSERT INTO ota_sessions (session_id, device_id, version, state,
                                                   started_ms, updated_ms)
                         VALUES ($1, $2, $3, 'in_progress', $4, $4) RETURNING {SESSION_COLUMNS}"
                    ),
                    &[&session_id, &device, &version, &big(now_ms)],
                )
                .await?;
            let session = session_row(&row)?;
            tx.commit().await?;
            Ok(session)
        })
    }

    fn record_ota(
        &self,
        report: OtaReport,
        now_ms: u64,
        keep: usize,
    ) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        self.run(move |pool| async move { record_ota(&pool, &report, now_ms, keep).await })
    }

    fn ota_history(
        &self,
        device: &str,
        n: usize,
    ) -> BoxFuture<'_, Result<Vec<OtaEvent>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT version, kind, detail, at_ms FROM ota_events WHERE device_id = $1
                     ORDER BY id DESC LIMIT $2",
                    &[&device, &limit(n)],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(OtaEvent {
                        version: r.try_get(0)?,
                        kind: r.try_get(1)?,
                        detail: r.try_get(2)?,
                        at_ms: r.u64(3)?,
                    })
                })
                .collect()
        })
    }

    fn ota_stats(&self) -> BoxFuture<'_, Result<Vec<VersionStats>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT version, COUNT(*),
                         COUNT(*) FILTER (WHERE state IN ('in_progress', 'downloaded', 'verified',
                                                          'installing')),
                         COUNT(*) FILTER (WHERE state = 'success'),
                         COUNT(*) FILTER (WHERE state = 'failed'),
                         COUNT(*) FILTER (WHERE state = 'rolled_back')
                     FROM ota_sessions GROUP BY version ORDER BY version",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(VersionStats {
                        version: r.try_get(0)?,
                        sessions: r.u64(1)?,
                        in_progress: r.u64(2)?,
                        succeeded: r.u64(3)?,
                        failed: r.u64(4)?,
                        rolled_back: r.u64(5)?,
                    })
                })
                .collect()
        })
    }
}
