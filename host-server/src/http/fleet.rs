//! The fleet: `GET /api/v1/devices` (status, current power, today's energy;
//! filters and paging) and `PATCH /api/v1/devices/{id}` (admins).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::accounts::json_body;
use super::error::{ApiError, respond};
use super::guard::gate;
use super::queries::{device_energy, known_device, request_zone};
use super::{device_path, with_state};
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::query::calendar::{Period, calendar};
use crate::query::status::{DeviceStatus, offline_after_ms, status};
use crate::store::analytics::{DevicePatch, FleetDevice};

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
        .and(json_body::<DevicePatch>())
        .and(with_state(state))
        .then(|id: String, p: DevicePatch, st: Arc<AppState>| async move {
            respond(update(&st, &id, p).await)
        });
    list.or(update).unify().boxed()
}

/// `status`, `q` (substring of id, name or location), `limit`, `offset`, `tz`.
#[derive(Debug, Deserialize)]
struct FleetParams {
    status: Option<String>,
    q: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    tz: Option<String>,
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
) -> Result<Value, ApiError> {
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
            .map(|&(_, raw)| (s.t_ms, pac.read(raw).value.to_f64()))
    });
    let energy: f64 = device_energy(state, &d.device_id, today)
        .await?
        .iter()
        .map(|b| b.energy_wh)
        .sum();
    let offline_after = offline_after_ms(&d, state.policy.upload_interval);
    let mut v = serde_json::to_value(&d).map_err(ApiError::internal)?;
    v["status"] = json!(state_now);
    v["offline_after_s"] = json!(offline_after / 1000);
    v["power_w"] = json!(power.map(|p| p.1));
    v["power_t_ms"] = json!(power.map(|p| p.0));
    v["energy_today_wh"] = json!(energy);
    Ok(v)
}

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
    Ok(warp::reply::json(&json!({
        "total": total,
        "limit": limit,
        "offset": offset,
        "devices": devices,
    }))
    .into_response())
}

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
