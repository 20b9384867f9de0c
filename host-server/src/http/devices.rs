//! Device-facing routes, wire-compatible with the EcoWatt firmware (spec §6–§7).

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, respond};
use super::{body, device_path, with_state};
use crate::app::AppState;
use crate::ingest::{Route, ingest};
use crate::reply;
use crate::store::{Registration, RegistrationOutcome};

/// Longest text field accepted in a registration.
const MAX_FIELD: usize = 256;

/// `POST /aggregated/{id}`, `POST /api/v1/devices/{id}/uploads`, `POST /process`,
/// `POST /devices`, `GET /security/{id}/nonce`.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let body = || body::bounded(state.body_limit, state.body_timeout);
    let upload = |route: Route, st: Arc<AppState>, body: Bytes| async move {
        let legacy = route == Route::Legacy;
        respond(ingest(&st, route, body).await.map(|outcome| {
            let reply = if legacy {
                reply::legacy(&outcome)
            } else {
                reply::aggregated(&outcome)
            };
            warp::reply::json(&reply)
        }))
    };
    let aggregated = warp::path!("aggregated" / String)
        .and(warp::post())
        .map(Route::Aggregated)
        .or(device_path()
            .and(warp::path!("uploads"))
            .and(warp::post())
            .map(Route::Aggregated))
        .unify()
        .or(warp::path!("process")
            .and(warp::post())
            .map(|| Route::Legacy))
        .unify()
        .and(with_state(state))
        .and(body())
        .then(upload);
    let register = warp::path!("devices")
        .and(warp::post())
        .and(with_state(state))
        .and(body())
        .then(|st: Arc<AppState>, body: Bytes| async move { respond(register(&st, &body).await) });
    let nonce = warp::path!("security" / String / "nonce")
        .and(warp::get())
        .and(with_state(state))
        .then(|device: String, st: Arc<AppState>| async move {
            respond(last_nonce(&st, &device).await)
        });
    aggregated.or(register).unify().or(nonce).unify().boxed()
}

/// Boot-time registration: updates a known device's metadata; never creates
/// a device (an unauthenticated request must not add rows). 200 updated,
/// 409 already registered with the same data, 404 unknown device.
async fn register(state: &AppState, body: &Bytes) -> Result<Response, ApiError> {
    let reg: Registration = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("malformed", format!("registration: {e}")))?;
    crate::device_id::check(&reg.device_id)
        .map_err(|m| ApiError::bad_request("bad_device_id", m))?;
    let fields = [
        &reg.device_name,
        &reg.firmware_version,
        &reg.location,
        &reg.description,
    ];
    if fields
        .iter()
        .any(|f| f.as_ref().is_some_and(|f| f.len() > MAX_FIELD))
    {
        return Err(ApiError::too_large(format!(
            "registration fields are at most {MAX_FIELD} bytes"
        )));
    }
    let device = reg.device_id.clone();
    match state
        .store
        .register(reg)
        .await
        .map_err(ApiError::internal)?
    {
        RegistrationOutcome::Updated => Ok(warp::reply::json(&json!({
            "success": true,
            "device_id": device,
            "message": "registration updated",
        }))
        .into_response()),
        RegistrationOutcome::Unchanged => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_registered",
            format!("device {device} is already registered"),
        )),
        RegistrationOutcome::Unknown => Err(ApiError::unknown_device(&device)),
    }
}

/// The nonce sync the firmware has a client for: `{"last_valid_nonce": N}` (0 when none).
async fn last_nonce(state: &AppState, device: &str) -> Result<impl Reply, ApiError> {
    crate::device_id::check(device).map_err(|m| ApiError::bad_request("bad_device_id", m))?;
    let last = state
        .store
        .last_nonce(device)
        .await
        .map_err(ApiError::internal)?;
    Ok(warp::reply::json(&json!({
        "device_id": device,
        "last_valid_nonce": last.unwrap_or(0),
    })))
}
