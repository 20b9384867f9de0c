//! Device-facing routes, wire-compatible with the EcoWatt firmware (spec §6–§7).

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorBody, respond};
use super::{body, device_path, segment, with_state};
use crate::app::AppState;
use crate::ingest::{Route, ingest};
use crate::reply::{self, AggregatedReply, LegacyReply};
use crate::store::{Registration, RegistrationOutcome};

/// Longest text field accepted in a registration.
const MAX_FIELD: usize = 256;

/// `POST /aggregated/{id}`, `POST /api/v1/devices/{id}/uploads`, `POST /process`,
/// `POST /devices`, `GET /security/{id}/nonce`.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let body = || body::json_type().and(body::bounded(state.body_limit, state.body_timeout));
    let upload = |route: Route, st: Arc<AppState>, body: Bytes| async move {
        match route {
            Route::Aggregated(device) => respond(aggregated_upload(&st, device, body).await),
            Route::Legacy => respond(legacy_upload(&st, body).await),
        }
    };
    let aggregated = warp::path("aggregated")
        .and(segment::device_id())
        .and(warp::path::end())
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
    let nonce = warp::path("security")
        .and(segment::device_id())
        .and(warp::path!("nonce"))
        .and(warp::get())
        .and(with_state(state))
        .then(|device: String, st: Arc<AppState>| async move {
            respond(last_nonce(&st, &device).await)
        });
    aggregated.or(register).unify().or(nonce).unify().boxed()
}

/// An upload of the current firmware: verified, decoded and stored before
/// the answer. Authenticated by the envelope's MAC, not by a token.
#[utoipa::path(
    post,
    path = "/aggregated/{device_id}",
    tag = "firmware",
    security(()),
    request_body(content = ref("#/components/schemas/Envelope"), description = "The sealed upload"),
    responses(
        (status = 200, description = "Stored (or an identical resend of the last upload: `duplicate: true`, nothing new stored)", body = AggregatedReply),
        (status = 400, description = "A malformed envelope or upload (the core's error code: `malformed`, `bad_base64`, `bad_mac_encoding` …)", body = ErrorBody),
        (status = 401, description = "Wrong MAC or key, failed decryption, or unknown device (`unauthorized`); the nonce is untouched", body = ErrorBody),
        (status = 409, description = "A nonce not greater than the last accepted one (`replay`)", body = ErrorBody),
        (status = 413, description = "Over the body, packet or value limits (`too_large`)", body = ErrorBody),
        (status = 429, description = "Over the device's upload rate (`rate_limited`, with `Retry-After`)", body = ErrorBody),
        (status = 503, description = "The write queue is full or storage is unavailable (`busy`, `unavailable`, with `Retry-After`)", body = ErrorBody),
    ),
)]
async fn aggregated_upload(
    state: &AppState,
    device: String,
    body: Bytes,
) -> Result<impl Reply, ApiError> {
    let outcome = ingest(state, Route::Aggregated(device), body).await?;
    Ok(warp::reply::json(&reply::aggregated(&outcome)))
}

/// An upload of the legacy firmware (the device id is inside the upload
/// JSON). Authenticated by the envelope's MAC with the device's key (the
/// fleet key for encrypted bodies); a bare, unsealed upload JSON only when
/// the server allows unsigned legacy bodies.
#[utoipa::path(
    post,
    path = "/process",
    tag = "firmware",
    security(()),
    request_body(
        description = "The sealed upload (or, when allowed, the bare upload JSON)",
        content(
            (ref("#/components/schemas/Envelope") = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "Stored (or an identical resend: `duplicate: true`)", body = LegacyReply),
        (status = 400, description = "A malformed body, or no `device_id` in the upload", body = ErrorBody),
        (status = 401, description = "Wrong MAC or key, unknown device, or an unsigned body the server refuses (`unauthorized`)", body = ErrorBody),
        (status = 409, description = "An old nonce (`replay`)", body = ErrorBody),
        (status = 413, description = "Over the limits (`too_large`)", body = ErrorBody),
        (status = 429, description = "Over the device's upload rate (`rate_limited`)", body = ErrorBody),
    ),
)]
async fn legacy_upload(state: &AppState, body: Bytes) -> Result<impl Reply, ApiError> {
    let outcome = ingest(state, Route::Legacy, body).await?;
    Ok(warp::reply::json(&reply::legacy(&outcome)))
}

/// Boot-time registration: updates a known device's metadata; never creates
/// a device (an unauthenticated request must not add rows). 200 updated,
/// 409 already registered with the same data, 404 unknown device.
#[utoipa::path(
    post,
    path = "/devices",
    tag = "firmware",
    security(()),
    request_body = Registration,
    responses(
        (status = 200, description = "A known device's registration was updated", body = RegisterReply),
        (status = 400, description = "Malformed, or a bad device id (`malformed`, `bad_device_id`)", body = ErrorBody),
        (status = 404, description = "No such device (`unknown_device`): devices are added by an operator", body = ErrorBody),
        (status = 409, description = "Already registered with the same data (`already_registered`)", body = ErrorBody),
        (status = 413, description = "A field over 256 bytes (`too_large`)", body = ErrorBody),
    ),
)]
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
        RegistrationOutcome::Updated => Ok(warp::reply::json(&RegisterReply {
            success: true,
            device_id: device,
            message: "registration updated",
        })
        .into_response()),
        RegistrationOutcome::Unchanged => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_registered",
            format!("device {device} is already registered"),
        )),
        RegistrationOutcome::Unknown => Err(ApiError::unknown_device(&device)),
    }
}

/// The nonce sync the firmware has a client for: the last accepted nonce
/// (0 when none), so a device that lost its counter can continue above it.
#[utoipa::path(
    get,
    path = "/security/{device_id}/nonce",
    tag = "firmware",
    security(()),
    responses(
        (status = 200, description = "The last accepted nonce", body = NonceReply),
        (status = 400, description = "A bad device id (`bad_device_id`)", body = ErrorBody),
    ),
)]
async fn last_nonce(state: &AppState, device: &str) -> Result<impl Reply, ApiError> {
    crate::device_id::check(device).map_err(|m| ApiError::bad_request("bad_device_id", m))?;
    let last = state
        .store
        .last_nonce(device)
        .await
        .map_err(ApiError::internal)?;
    Ok(warp::reply::json(&NonceReply {
        device_id: device.to_owned(),
        last_valid_nonce: last.unwrap_or(0),
    }))
}

/// `POST /devices` when a registration was updated.
#[derive(Debug, Serialize, ToSchema)]
struct RegisterReply {
    /// Always `true`.
    success: bool,
    /// The device.
    device_id: String,
    /// `registration updated`.
    message: &'static str,
}

/// `GET /security/{device_id}/nonce`.
#[derive(Debug, Serialize, ToSchema)]
struct NonceReply {
    /// The device.
    device_id: String,
    /// Its last accepted nonce (0 when none).
    last_valid_nonce: u32,
}
