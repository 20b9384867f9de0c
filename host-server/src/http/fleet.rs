//! The fleet: `GET /api/v1/devices` (status, current power, today's energy;
//! filters and paging) and `PATCH /api/v1/devices/{id}` (admins).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::accounts::json_body;
use super::error::{ApiError, ErrorBody, respond};
use super::guard::gate;
use super::queries::{device_energy, known_device, request_zone};
use super::{device_path, with_state};
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::query::calendar::{Period, calendar};
use crate::query::status::{DeviceStatus, offline_after_ms, status};
use crate::store::devices::{DevicePatch, FleetDevice};

/// Devices per page by default, and at most.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;
/// Longest text field of a device.
const MAX_TEXT: usize = 256;
/// Longest upload period an operator may set.
const MAX_INTERVAL_S: u32 = 7 * 86_400;

/// The fleet routes.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let list = warp::path!("api" / "v1" / "devices")
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(warp::query::<FleetParams>())
        .and(with_state(state))
        .then(|q: FleetParams, st: Arc<AppState>| async move { respond(list(&st, q).await) });
    let update = device_path()
        .and(warp::path::end())
        .and(warp::patch())
        .and(gate(state, Access::Admin))
        .and(json_body::<DevicePatch>(state.body_timeout))
        .and(with_state(state))
        .then(|id: String, p: DevicePatch, st: Arc<AppState>| async move {
            respond(update(&st, &id, p).await)
        });
    list.or(update).unify().boxed()
}

/// `status`, `q` (substring of id, name or location), `limit`, `offset`, `tz`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct FleetParams {
    /// Only devices in this state: `online`, `offline`, `never` or `retired`.
    #[param(value_type = Option<DeviceStatus>, inline)]
    status: Option<String>,
    /// A substring of the id, name or location (case-insensitive, at most 256 bytes).
    q: Option<String>,
    /// Devices per page, 1 to 200 (default 50).
    limit: Option<usize>,
    /// Devices skipped (default 0).
    offset: Option<usize>,
    /// Time zone of "today" (IANA name; default: the server's).
    #[param(example = "Europe/Berlin")]
    tz: Option<String>,
}

/// A page of the fleet.
#[derive(Debug, Serialize, ToSchema)]
struct FleetReply {
    /// Devices that match the filters.
    total: usize,
    /// Page size.
    limit: usize,
    /// Devices skipped.
    offset: usize,
    /// This page.
    devices: Vec<FleetLine>,
}

/// A device as the fleet view lists it.
#[derive(Debug, Serialize, ToSchema)]
struct FleetLine {
    /// The device.
    #[serde(flatten)]
    device: FleetDevice,
    /// Where it stands now.
    status: DeviceStatus,
    /// Silence after which it counts as offline, seconds.
    offline_after_s: u64,
    /// Its newest AC power, W (`null` without data).
    power_w: Option<f64>,
    /// When that was measured, Unix ms.
    power_t_ms: Option<u64>,
    /// Energy produced today, Wh.
    energy_today_wh: f64,
}

fn matches(d: &FleetDevice, needle: &str) -> bool {
    [Some(&d.device_id), d.name.as_ref(), d.location.as_ref()]
        .into_iter()
        .flatten()
        .any(|s| s.to_lowercase().contains(needle))
}

/// A device's fleet line: its fields, status, current power and today's energy.
async fn line(
    state: &AppState,
    d: FleetDevice,
    today: &crate::query::calendar::Calendar,
) -> Result<FleetLine, ApiError> {
    let now = now_ms();
    let state_now = status(&d, state.policy.upload_interval, now);
    let latest = state
        .store
        .latest(&d.device_id)
        .await
        .map_err(ApiError::internal)?;
    let pac = super::queries::register("Pac")?;
    let power = latest.as_ref().and_then(|s| {
        s.registers
            .iter()
            .find(|(id, _)| *id == pac.id)
            .and_then(|&(_, raw)| Some((s.t_ms, crate::readings::value(pac, raw)?)))
    });
    let energy: f64 = device_energy(state, &d, today)
        .await?
        .iter()
        .map(|b| b.energy_wh)
        .sum();
    let offline_after = offline_after_ms(&d, state.policy.upload_interval);
    Ok(FleetLine {
        device: d,
        status: state_now,
        offline_after_s: offline_after / 1000,
        power_w: power.map(|p| p.1),
        power_t_ms: power.map(|p| p.0),
        energy_today_wh: energy,
    })
}

/// The fleet: each device with its status, current power and today's
/// energy; filtered and paged.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    operation_id = "list_devices",
    tag = "devices",
    params(FleetParams),
    responses(
        (status = 200, description = "A page of devices", body = FleetReply),
        (status = 400, description = "A bad filter or time zone (`bad_status`, `bad_query`, `bad_timezone`)", body = ErrorBody),
    ),
)]
async fn list(state: &AppState, q: FleetParams) -> Result<Response, ApiError> {
    let wanted = q
        .status
        .as_deref()
        .map(|s| {
            DeviceStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request("bad_status", "status is online, offline, never or retired")
            })
        })
        .transpose()?;
    let needle = q.q.as_deref().map(str::to_lowercase);
    if needle.as_ref().is_some_and(|n| n.len() > MAX_TEXT) {
        return Err(ApiError::bad_request("bad_query", "q is at most 256 bytes"));
    }
    let tz = request_zone(state, q.tz.as_deref())?;
    let today = calendar(Period::Day, None, &tz).map_err(ApiError::internal)?;
    let now = now_ms();
    let all = state.store.fleet().await.map_err(ApiError::internal)?;
    let selected: Vec<FleetDevice> = all
        .into_iter()
        .filter(|d| wanted.is_none_or(|w| status(d, state.policy.upload_interval, now) == w))
        .filter(|d| needle.as_deref().is_none_or(|n| matches(d, n)))
        .collect();
    let total = selected.len();
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let offset = q.offset.unwrap_or(0);
    let mut devices = Vec::new();
    for d in selected.into_iter().skip(offset).take(limit) {
        devices.push(line(state, d, &today).await?);
    }
    Ok(warp::reply::json(&FleetReply {
        total,
        limit,
        offset,
        devices,
    })
    .into_response())
}

/// Changes a device's name, location, description or upload period.
#[utoipa::path(
    patch,
    path = "/api/v1/devices/{device_id}",
    operation_id = "update_device",
    tag = "devices",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    request_body = DevicePatch,
    responses(
        (status = 200, description = "The device as changed", body = FleetDevice),
        (status = 400, description = "Malformed, or a bad upload period (`malformed`, `bad_interval`)", body = ErrorBody),
        (status = 404, description = "No such device (`unknown_device`)", body = ErrorBody),
        (status = 413, description = "A text field over 256 bytes (`too_large`)", body = ErrorBody),
    ),
)]
async fn update(state: &AppState, id: &str, patch: DevicePatch) -> Result<Response, ApiError> {
    known_device(state, id).await?;
    let texts = [&patch.name, &patch.location, &patch.description];
    if texts
        .iter()
        .any(|t| t.as_ref().is_some_and(|t| t.len() > MAX_TEXT))
    {
        return Err(ApiError::too_large(format!(
            "device text fields are at most {MAX_TEXT} bytes"
        )));
    }
    if patch.upload_interval_s.is_some_and(|s| s > MAX_INTERVAL_S) {
        return Err(ApiError::bad_request(
            "bad_interval",
            format!("upload_interval_s is 0 (default) to {MAX_INTERVAL_S}"),
        ));
    }
    if !state
        .store
        .update_device(id, patch)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::unknown_device(id));
    }
    let device = state
        .store
        .fleet_device(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::unknown_device(id))?;
    tracing::info!(device = id, "device updated over the API");
    Ok(warp::reply::json(&device).into_response())
}
