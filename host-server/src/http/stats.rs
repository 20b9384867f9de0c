//! `GET /api/v1/stats` and `/api/v1/devices/{id}/stats`: upload counts,
//! uploads per minute, codec mix, compression ratio, refusals by reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorBody, respond};
use super::guard::gate;
use super::queries::known_device;
use super::{device_path, with_state};
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::query::status::status;
use crate::store::CodecStats;
use crate::store::ingest::UploadStats;

/// Window of "uploads per minute".
const RATE_WINDOW_MS: u64 = 5 * 60 * 1000;

/// The statistics routes (viewers and up).
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let device = device_path()
        .and(warp::path!("stats"))
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(with_state(state))
        .then(|id: String, st: Arc<AppState>| async move { respond(device_stats(&st, &id).await) });
    let fleet = warp::path!("api" / "v1" / "stats")
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(with_state(state))
        .then(|st: Arc<AppState>| async move { respond(fleet_stats(&st).await) });
    device.or(fleet).unify().boxed()
}

/// Upload counters of the fleet or of one device.
#[derive(Debug, Serialize, ToSchema)]
struct UploadCounts {
    /// Uploads stored.
    uploads: u64,
    /// Identical resends answered as duplicates.
    duplicates: u64,
    /// Samples stored.
    samples: u64,
    /// Uploads per minute over the last five minutes.
    uploads_per_minute: f64,
    /// The latest accepted upload, Unix ms.
    last_seen_ms: Option<u64>,
    /// Packets per codec.
    codecs: Vec<CodecShare>,
    /// Compressed bytes over raw bytes of everything decoded (`null` before any).
    compression_ratio: Option<f64>,
}

/// One codec's packets and their share of all packets.
#[derive(Debug, Serialize, ToSchema)]
struct CodecShare {
    /// Its counters.
    #[serde(flatten)]
    stats: CodecStats,
    /// Its share of the packets, 0 to 1.
    share: Option<f64>,
}

/// `GET /api/v1/devices/{device_id}/stats`.
#[derive(Debug, Serialize, ToSchema)]
struct DeviceStats {
    /// The device.
    device_id: String,
    /// Its counters.
    #[serde(flatten)]
    counts: UploadCounts,
    /// Its refused uploads since the server started, by error code.
    rejected_since_start: BTreeMap<&'static str, u64>,
}

/// `GET /api/v1/stats`.
#[derive(Debug, Serialize, ToSchema)]
struct FleetStats {
    /// The fleet's counters.
    #[serde(flatten)]
    counts: UploadCounts,
    /// Devices in total and by status.
    devices: DeviceCounts,
    /// Refused requests since the server started, by error code.
    rejected_since_start: BTreeMap<&'static str, u64>,
}

/// Devices in total and by status.
#[derive(Debug, Serialize, ToSchema)]
struct DeviceCounts {
    /// Devices known.
    total: u64,
    /// Devices per status (`online`, `offline`, `never`, `retired`).
    by_status: BTreeMap<&'static str, u64>,
}

impl From<UploadStats> for UploadCounts {
    fn from(stats: UploadStats) -> Self {
        let packets: u64 = stats.codecs.iter().map(|c| c.packets).sum();
        let (bytes, original) = stats
            .codecs
            .iter()
            .fold((0, 0), |(b, o), c| (b + c.bytes, o + c.original_bytes));
        Self {
            uploads: stats.uploads,
            duplicates: stats.duplicates,
            samples: stats.samples,
            uploads_per_minute: stats.recent_uploads as f64 * 60_000.0 / RATE_WINDOW_MS as f64,
            last_seen_ms: stats.last_seen_ms,
            compression_ratio: (original > 0).then(|| bytes as f64 / original as f64),
            codecs: stats
                .codecs
                .into_iter()
                .map(|c| CodecShare {
                    share: (packets > 0).then(|| c.packets as f64 / packets as f64),
                    stats: c,
                })
                .collect(),
        }
    }
}

/// The counters of one device, or of all (`None`).
async fn upload_stats(state: &AppState, device: Option<&str>) -> Result<UploadStats, ApiError> {
    state
        .store
        .upload_stats(device, now_ms().saturating_sub(RATE_WINDOW_MS))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::unknown_device(device.unwrap_or_default()))
}

/// One device's uploads, codec mix, compression ratio and refusals.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{device_id}/stats",
    tag = "queries",
    responses(
        (status = 200, description = "The device's statistics", body = DeviceStats),
        (status = 404, description = "No such device (`unknown_device`)", body = ErrorBody),
    ),
)]
async fn device_stats(state: &AppState, id: &str) -> Result<impl Reply, ApiError> {
    known_device(state, id).await?;
    let stats = upload_stats(state, Some(id)).await?;
    Ok(warp::reply::json(&DeviceStats {
        device_id: id.to_owned(),
        counts: stats.into(),
        rejected_since_start: state.rejections.of(id),
    }))
}

/// The fleet's uploads, devices by status, codec mix and refusals.
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "queries",
    responses((status = 200, description = "The fleet's statistics", body = FleetStats)),
)]
async fn fleet_stats(state: &AppState) -> Result<impl Reply, ApiError> {
    let stats = upload_stats(state, None).await?;
    let now = now_ms();
    let fleet = state.store.fleet().await.map_err(ApiError::internal)?;
    let mut by_status = BTreeMap::new();
    for d in &fleet {
        *by_status
            .entry(status(d, state.policy.upload_interval, now).as_str())
            .or_insert(0u64) += 1;
    }
    Ok(warp::reply::json(&FleetStats {
        devices: DeviceCounts {
            total: stats.devices,
            by_status,
        },
        counts: stats.into(),
        rejected_since_start: state.telemetry.snapshot().rejected,
    }))
}
