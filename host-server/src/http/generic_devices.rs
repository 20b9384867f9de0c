//! The generic device routes of the IoTFlow contract, each authenticated by
//! the device's own key in `X-API-Key` (registration aside):
//! `POST /api/v1/devices/register`, `GET /api/v1/devices/status`,
//! `POST`/`GET /api/v1/devices/telemetry`, `PUT /api/v1/devices/config`,
//! `POST /api/v1/devices/heartbeat`.
//!
//! These paths are matched before `/api/v1/devices/{device_id}`, so an
//! EcoWatt device cannot be named `register`, `status`, `telemetry`,
//! `config` or `heartbeat` and be read by those paths.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::accounts::json_body;
use super::error::{ApiError, respond};
use super::with_state;
use crate::app::AppState;
use crate::auth::opaque;
use crate::generic::{KEY_PREFIX, Registration, TelemetryBody, rfc3339};
use crate::store::generic::{
    GenericDevice, GenericError, GenericPatch, KeyCheck, NewGenericDevice, RATE_WINDOW_MS,
    RateScope, ReadingOutcome, ReadingQuery,
};

/// Longest name, description, type, location or version text.
pub(super) const MAX_TEXT: usize = 256;
/// Readings per `GET /api/v1/devices/telemetry` by default, and at most.
const DEFAULT_READINGS: u64 = 100;
pub(super) const MAX_READINGS: u64 = 1000;

/// The generic device routes.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let key = || warp::header::optional::<String>("x-api-key");
    let timeout = state.body_timeout;
    let register = warp::path!("api" / "v1" / "devices" / "register")
        .and(warp::post())
        .and(warp::header::optional::<String>("x-registration-token"))
        .and(json_body::<RegisterBody>(timeout))
        .and(with_state(state))
        .then(
            |token: Option<String>, body: RegisterBody, st: Arc<AppState>| async move {
                respond(register(&st, token.as_deref(), body).await)
            },
        );
    let status = warp::path!("api" / "v1" / "devices" / "status")
        .and(warp::get())
        .and(key())
        .and(with_state(state))
        .then(|key: Option<String>, st: Arc<AppState>| async move {
            respond(status(&st, key.as_deref()).await)
        });
    let submit = warp::path!("api" / "v1" / "devices" / "telemetry")
        .and(warp::post())
        .and(key())
        .and(json_body::<TelemetryBody>(timeout))
        .and(with_state(state))
        .then(
            |key: Option<String>, body: TelemetryBody, st: Arc<AppState>| async move {
                respond(submit(&st, key.as_deref(), body).await)
            },
        );
    let recent = warp::path!("api" / "v1" / "devices" / "telemetry")
        .and(warp::get())
        .and(key())
        .and(warp::query::<RecentParams>())
        .and(with_state(state))
        .then(
            |key: Option<String>, q: RecentParams, st: Arc<AppState>| async move {
                respond(recent(&st, key.as_deref(), q).await)
            },
        );
    let config = warp::path!("api" / "v1" / "devices" / "config")
        .and(warp::put())
        .and(key())
        .and(json_body::<ConfigBody>(timeout))
        .and(with_state(state))
        .then(
            |key: Option<String>, body: ConfigBody, st: Arc<AppState>| async move {
                respond(config(&st, key.as_deref(), body).await)
            },
        );
    let heartbeat = warp::path!("api" / "v1" / "devices" / "heartbeat")
        .and(warp::post())
        .and(key())
        .and(with_state(state))
        .then(|key: Option<String>, st: Arc<AppState>| async move {
            respond(heartbeat(&st, key.as_deref()).await)
        });
    register
        .or(status)
        .unify()
        .or(submit)
        .unify()
        .or(recent)
        .unify()
        .or(config)
        .unify()
        .or(heartbeat)
        .unify()
        .boxed()
}

/// The device a key belongs to, counting the request against its rate.
///
/// # Errors
/// 401 `unauthorized` for a missing, unknown, revoked or expired key (or
/// a switched-off device), 429 `rate_limited` over the scope's rate.
pub(super) async fn authenticate(
    state: &AppState,
    key: Option<&str>,
    scope: RateScope,
) -> Result<GenericDevice, ApiError> {
    let unauthorized = |why: &str| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("send the device's API key in X-API-Key ({why})"),
        )
    };
    let key = key
        .filter(|k| k.starts_with(KEY_PREFIX) && k.len() <= opaque::MAX_LEN)
        .ok_or_else(|| unauthorized("missing or not a device key"))?;
    let check = state
        .store
        .use_key(opaque::digest(key), scope)
        .await
        .map_err(ApiError::internal)?;
    let (device, count, window_ms) = match check {
        KeyCheck::Valid {
            device,
            count,
            window_ms,
        } => (device, count, window_ms),
        KeyCheck::Unknown => return Err(unauthorized("unknown key")),
        KeyCheck::Revoked => return Err(unauthorized("revoked key or inactive device")),
        KeyCheck::Expired => return Err(unauthorized("expired key")),
    };
    let limit = match scope {
        RateScope::Request => state.generic.generic_rate,
        RateScope::Telemetry => state.generic.generic_telemetry_rate,
    };
    if limit > 0 && count > limit {
        let wait = (window_ms + RATE_WINDOW_MS).saturating_sub(crate::clock::now_ms());
        return Err(ApiError::rate_limited(
            format!("over {limit} requests a minute for this device"),
            Duration::from_millis(wait),
        ));
    }
    Ok(*device)
}

/// `POST /api/v1/devices/register`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    /// A unique name.
    name: String,
    /// Free text.
    description: Option<String>,
    /// `sensor`, `actuator`, `camera`, … (default `sensor`).
    device_type: Option<String>,
    /// Where it is.
    location: Option<String>,
    /// Its firmware version.
    firmware_version: Option<String>,
    /// Its hardware version.
    hardware_version: Option<String>,
    /// Channels declared up front: name to unit (`{"temperature": "°C"}`).
    #[schema(value_type = Object)]
    channels: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Checks an optional text field.
pub(super) fn text(field: &str, value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v) if v.len() > MAX_TEXT || v.chars().any(char::is_control) => {
            Err(ApiError::bad_request(
                "bad_body",
                format!("`{field}`: at most {MAX_TEXT} bytes, no control characters"),
            ))
        }
        _ => Ok(()),
    }
}

fn new_device(body: RegisterBody, max_channels: usize) -> Result<NewGenericDevice, ApiError> {
    let name = body.name.trim().to_owned();
    if name.is_empty() {
        return Err(ApiError::bad_request("bad_body", "`name` is empty"));
    }
    for (field, value) in [
        ("name", Some(name.as_str())),
        ("description", body.description.as_deref()),
        ("device_type", body.device_type.as_deref()),
        ("location", body.location.as_deref()),
        ("firmware_version", body.firmware_version.as_deref()),
        ("hardware_version", body.hardware_version.as_deref()),
    ] {
        text(field, value)?;
    }
    let mut channels = Vec::new();
    for (channel, unit) in body.channels.unwrap_or_default() {
        let unit = match unit {
            serde_json::Value::Null => None,
            serde_json::Value::String(u) if u.len() <= crate::generic::MAX_NAME => Some(u),
            _ => {
                return Err(ApiError::bad_request(
                    "bad_body",
                    format!("channel {channel:?}: the unit is a short text or null"),
                ));
            }
        };
        if !crate::generic::good_name(&channel) {
            return Err(ApiError::bad_request(
                "bad_body",
                format!("channel {channel:?}: 1 to 64 characters of A-Z a-z 0-9 _ . - :"),
            ));
        }
        channels.push((channel, unit));
    }
    if channels.len() > max_channels {
        return Err(ApiError::bad_request(
            "too_many_channels",
            format!("at most {max_channels} channels per device"),
        ));
    }
    Ok(NewGenericDevice {
        name,
        description: body.description,
        device_type: body.device_type.unwrap_or_else(|| "sensor".into()),
        location: body.location,
        firmware_version: body.firmware_version,
        hardware_version: body.hardware_version,
        channels,
    })
}

/// Whether a presented registration token is the configured one (in constant time).
fn token_matches(configured: &str, presented: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(configured), Sha256::digest(presented));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// A device registers itself and receives its key, shown this once.
async fn register(
    state: &AppState,
    token: Option<&str>,
    body: RegisterBody,
) -> Result<Response, ApiError> {
    let closed = |why: &str| ApiError::new(StatusCode::FORBIDDEN, "registration_closed", why);
    match state.generic.device_registration {
        Registration::Off => {
            return Err(closed("device registration is off (--device-registration)"));
        }
        Registration::Open => {}
        Registration::Token => {
            let configured = state.generic.device_registration_token.as_deref();
            let good = configured
                .zip(token)
                .is_some_and(|(c, t)| token_matches(c, t));
            if !good {
                return Err(closed("a valid X-Registration-Token is required"));
            }
        }
    }
    let new = new_device(body, state.generic.generic_max_channels)?;
    let (key, stored) = state
        .generic
        .new_key(crate::clock::now_ms())
        .map_err(ApiError::internal)?;
    let device = state
        .store
        .add_generic(new, stored)
        .await
        .map_err(generic_error)?;
    tracing::info!(id = device.id, name = %device.name, "generic device registered");
    let mut view = device_json(state, &device);
    view["api_key"] = json!(key);
    let reply = json!({"message": "Device registered successfully", "device": view});
    Ok(warp::reply::with_status(warp::reply::json(&reply), StatusCode::CREATED).into_response())
}

/// Maps a store error of a device change.
pub(super) fn generic_error(e: GenericError) -> ApiError {
    match e {
        GenericError::NameTaken => ApiError::new(
            StatusCode::CONFLICT,
            "name_taken",
            "another device has that name",
        ),
        GenericError::Store(e) => ApiError::internal(e),
    }
}

/// A device as IoTFlow shows it, with times in RFC 3339 and whether it is online.
pub(super) fn device_json(state: &AppState, d: &GenericDevice) -> serde_json::Value {
    let now = crate::clock::now_ms();
    let mut v = serde_json::to_value(d).unwrap_or_default();
    v["created_at"] = json!(rfc3339(d.created_ms));
    v["updated_at"] = json!(rfc3339(d.updated_ms));
    v["last_seen"] = json!(d.last_seen_ms.map(rfc3339));
    let seen = crate::query::status::seen_status(
        d.last_seen_ms,
        d.upload_interval_s,
        state.policy.upload_interval,
        now,
    );
    v["online_status"] = json!(seen);
    v["is_online"] = json!(seen == crate::query::status::DeviceStatus::Online);
    v
}

async fn status(state: &AppState, key: Option<&str>) -> Result<impl Reply, ApiError> {
    let device = authenticate(state, key, RateScope::Request).await?;
    Ok(warp::reply::json(
        &json!({"device": device_json(state, &device)}),
    ))
}

async fn submit(
    state: &AppState,
    key: Option<&str>,
    body: TelemetryBody,
) -> Result<Response, ApiError> {
    let device = authenticate(state, key, RateScope::Telemetry).await?;
    let received = crate::clock::now_ms();
    let reading = crate::generic::reading(body, received, state.generic.generic_max_channels)
        .map_err(|e| ApiError::bad_request("bad_telemetry", e.0))?;
    let t_ms = reading.t_ms;
    let live = json!({
        "type": "reading",
        "device_id": device.device_id,
        "t_ms": t_ms,
        "data": crate::store::generic::data_json(&reading.values),
        "metadata": reading.metadata,
        "data_type": reading.data_type,
    });
    let outcome = state
        .store
        .add_reading(device.id, reading)
        .await
        .map_err(ApiError::internal)?;
    let (status, id, duplicate) = match outcome {
        ReadingOutcome::Stored(id) => {
            if state.live.has_clients() {
                let mut live = live;
                live["upload_id"] = json!(id);
                state.live.publish(&device.device_id, live.to_string());
            }
            (StatusCode::CREATED, id, false)
        }
        ReadingOutcome::Duplicate(id) => (StatusCode::OK, id, true),
        ReadingOutcome::TooManyChannels => {
            return Err(ApiError::bad_request(
                "too_many_channels",
                format!(
                    "the device would have more than {} channels",
                    state.generic.generic_max_channels
                ),
            ));
        }
        ReadingOutcome::UnknownDevice => return Err(ApiError::unknown_device(&device.device_id)),
    };
    let reply = json!({
        "message": "Telemetry data received successfully",
        "telemetry_id": id,
        "device_id": device.device_id,
        "timestamp": rfc3339(t_ms),
        "duplicate": duplicate,
    });
    Ok(warp::reply::with_status(warp::reply::json(&reply), status).into_response())
}

/// `GET /api/v1/devices/telemetry`'s query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecentParams {
    /// Readings at most (default 100, at most 1000).
    limit: Option<u64>,
    /// Only this `type`.
    #[serde(rename = "type")]
    data_type: Option<String>,
    /// From this time, Unix ms.
    from: Option<u64>,
    /// Before this time, Unix ms.
    to: Option<u64>,
}

async fn recent(
    state: &AppState,
    key: Option<&str>,
    q: RecentParams,
) -> Result<impl Reply, ApiError> {
    let device = authenticate(state, key, RateScope::Request).await?;
    let limit = q.limit.unwrap_or(DEFAULT_READINGS);
    if limit == 0 || limit > MAX_READINGS {
        return Err(ApiError::bad_request(
            "bad_page",
            format!("`limit` is 1 to {MAX_READINGS}"),
        ));
    }
    let (readings, total) = state
        .store
        .readings(ReadingQuery {
            device: Some(device.id),
            data_type: q.data_type,
            from_ms: q.from,
            to_ms: q.to,
            offset: 0,
            limit,
        })
        .await
        .map_err(ApiError::internal)?;
    Ok(warp::reply::json(&json!({
        "device_id": device.device_id,
        "telemetry": readings,
        "count": readings.len(),
        "total": total,
    })))
}

/// `PUT /api/v1/devices/config`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ConfigBody {
    /// The device's configuration, stored as sent (an object).
    #[schema(value_type = Object)]
    config: Option<serde_json::Value>,
    /// Its firmware version.
    firmware_version: Option<String>,
    /// Its hardware version.
    hardware_version: Option<String>,
    /// Where it is.
    location: Option<String>,
    /// Its description.
    description: Option<String>,
}

async fn config(
    state: &AppState,
    key: Option<&str>,
    body: ConfigBody,
) -> Result<impl Reply, ApiError> {
    let device = authenticate(state, key, RateScope::Request).await?;
    for (field, value) in [
        ("firmware_version", body.firmware_version.as_deref()),
        ("hardware_version", body.hardware_version.as_deref()),
        ("location", body.location.as_deref()),
        ("description", body.description.as_deref()),
    ] {
        text(field, value)?;
    }
    if let Some(c) = &body.config
        && (!c.is_object() || c.to_string().len() > crate::generic::MAX_METADATA)
    {
        return Err(ApiError::bad_request(
            "bad_body",
            "`config` must be an object of at most 4096 bytes",
        ));
    }
    if let Some(c) = body.config {
        state
            .store
            .set_generic_config(device.id, c)
            .await
            .map_err(ApiError::internal)?;
    }
    let patch = GenericPatch {
        firmware_version: body.firmware_version,
        hardware_version: body.hardware_version,
        location: body.location,
        description: body.description,
        ..GenericPatch::default()
    };
    let updated = state
        .store
        .update_generic(device.id, patch)
        .await
        .map_err(generic_error)?
        .ok_or_else(|| ApiError::unknown_device(&device.device_id))?;
    Ok(warp::reply::json(&json!({
        "message": "Configuration updated successfully",
        "device": device_json(state, &updated),
    })))
}

async fn heartbeat(state: &AppState, key: Option<&str>) -> Result<impl Reply, ApiError> {
    let device = authenticate(state, key, RateScope::Request).await?;
    let at = state
        .store
        .generic_heartbeat(device.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(warp::reply::json(&HeartbeatReply {
        message: "Heartbeat received",
        device_id: device.device_id,
        timestamp: rfc3339(at),
    }))
}

/// `POST /api/v1/devices/heartbeat`'s answer.
#[derive(Debug, Serialize)]
struct HeartbeatReply {
    message: &'static str,
    device_id: String,
    timestamp: String,
}
