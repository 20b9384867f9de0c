//! Device-facing routes, wire-compatible with the EcoWatt firmware (spec §6–§7).

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorBody, respond};
use super::peer::{PeerAddr, peer};
use super::{body, device_path, segment, with_state};
use crate::app::AppState;
use crate::ingest::{Refusal, Route, ingest};
use crate::reply::{self, AggregatedReply, LegacyReply};
use crate::store::{Registration, RegistrationOutcome};

/// Longest text field accepted in a registration.
const MAX_FIELD: usize = 256;
/// Longest firmware version accepted.
const MAX_FIRMWARE_VERSION: usize = 64;

/// `POST /aggregated/{id}`, `POST /api/v1/devices/{id}/uploads`, `POST /process`,
/// `POST /devices`, `GET /security/{id}/nonce`.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let body = || body::json_type().and(body::bounded(state.body_limit, state.body_timeout));
    let upload_body = body::upload_type().and(body::bounded(state.body_limit, state.body_timeout));
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
        .and(upload_body)
        .then(upload);
    let register = warp::path!("devices")
        .and(warp::post())
        .and(with_state(state))
        .and(peer())
        .and(body())
        .then(
            |st: Arc<AppState>, peer: Option<PeerAddr>, body: Bytes| async move {
                respond(register(&st, peer, &body).await)
            },
        );
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
    request_body(
        description = "The sealed upload: the firmware's JSON envelope, or an envelope v2 (binary, `docs/envelope-v2.md`)",
        content(
            (ref("#/components/schemas/Envelope") = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 200, description = "Stored (or an identical resend of the last upload: `duplicate: true`, nothing new stored)", body = AggregatedReply),
        (status = 400, description = "A malformed envelope or upload (the core's error code: `malformed`, `bad_base64`, `bad_mac_encoding` …)", body = ErrorBody),
        (status = 401, description = "Wrong MAC or key, failed decryption, or unknown device (`unauthorized`); the nonce is untouched", body = ErrorBody),
        (status = 409, description = "A nonce (counter for envelope v2) not greater than the last accepted one (`replay`)", body = ErrorBody),
        (status = 413, description = "Over the body, packet or value limits (`too_large`)", body = ErrorBody),
        (status = 422, description = "An authentic envelope v2 whose device time is outside the clock-skew window (`clock_skew`)", body = ErrorBody),
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

/// The answer to a refused upload: the ingest pipeline's reason as HTTP.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::BadDeviceId(message) => segment::bad_device_id(message),
            Refusal::Malformed { code, message } => Self::coded(code, message),
            Refusal::TooLarge(message) => Self::too_large(message),
            Refusal::Unauthenticated => Self::unauthorized(),
            Refusal::RateLimited { device, wait } => {
                Self::rate_limited(format!("device {device} is over its upload rate"), wait)
            }
            Refusal::Replay(e) => Self::coded(e.code(), e.to_string()),
            Refusal::ClockSkew => Self::coded(
                "clock_skew",
                "the envelope's device time is outside the server's clock-skew window; sync the device clock",
            ),
            Refusal::Busy => Self::unavailable("busy", "the write queue is full", 1),
            Refusal::Unavailable => Self::unavailable("unavailable", "storage is unavailable", 5),
        }
    }
}

/// Boot-time registration. It carries no credential, so it may only
/// change what the firmware owns: a known device's firmware version (at
/// most 64 printable ASCII characters; name, location and description are
/// the operator's and are ignored). Every well-formed registration gets the
/// same answer whether or not the device exists, so it cannot be used to
/// probe device ids — except in fleet-key mode, where any id may register
/// by uploading anyway and an unknown one is answered 404. Rate-limited per
/// client address.
#[utoipa::path(
    post,
    path = "/devices",
    tag = "firmware",
    security(()),
    request_body = Registration,
    responses(
        (status = 200, description = "Received (a known device's firmware version updated; the same answer for an unknown device)", body = RegisterReply),
        (status = 400, description = "Malformed, a bad device id, or a firmware version that is not printable ASCII (`malformed`, `bad_device_id`, `bad_firmware_version`)", body = ErrorBody),
        (status = 404, description = "Fleet-key mode only: no such device yet (`unknown_device`); its first valid upload registers it", body = ErrorBody),
        (status = 413, description = "A field over its length (`too_large`)", body = ErrorBody),
        (status = 429, description = "Too many registrations from this address (`rate_limited`, with `Retry-After`)", body = ErrorBody),
    ),
)]
async fn register(
    state: &AppState,
    peer: Option<PeerAddr>,
    body: &Bytes,
) -> Result<Response, ApiError> {
    if let (Some(limiter), Some(peer)) = (&state.registrations, peer)
        && let Err(wait) = limiter.check(&peer.0.ip().to_string())
    {
        return Err(ApiError::rate_limited(
            "too many registrations from this address",
            wait,
        ));
    }
    let sent: Registration = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("malformed", format!("registration: {e}")))?;
    segment::check_device_id(&sent.device_id)?;
    let other = [&sent.device_name, &sent.location, &sent.description];
    if other
        .iter()
        .any(|f| f.as_ref().is_some_and(|f| f.len() > MAX_FIELD))
    {
        return Err(ApiError::too_large(format!(
            "registration fields are at most {MAX_FIELD} bytes"
        )));
    }
    if let Some(version) = &sent.firmware_version {
        check_firmware_version(version)?;
    }
    let device = sent.device_id.clone();
    let reg = Registration {
        device_id: sent.device_id,
        firmware_version: sent.firmware_version,
        device_name: None,
        location: None,
        description: None,
    };
    let outcome = state
        .store
        .register(reg)
        .await
        .map_err(ApiError::internal)?;
    if outcome == RegistrationOutcome::Unknown && state.fleet_mode {
        return Err(ApiError::unknown_device(&device));
    }
    Ok(warp::reply::json(&RegisterReply {
        success: true,
        device_id: device,
        message: "registration received",
    })
    .into_response())
}

/// A firmware version: 1 to 64 printable ASCII characters.
fn check_firmware_version(version: &str) -> Result<(), ApiError> {
    if version.len() > MAX_FIRMWARE_VERSION {
        return Err(ApiError::too_large(format!(
            "firmware_version is at most {MAX_FIRMWARE_VERSION} bytes"
        )));
    }
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(ApiError::bad_request(
            "bad_firmware_version",
            "firmware_version is printable ASCII",
        ));
    }
    Ok(())
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
    segment::check_device_id(device)?;
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
    /// `registration received`.
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
