//! Remote configuration (spec §7.2): the device's poll, acknowledgement and
//! running-configuration report, the operator's update (F22 fixed: only
//! accepted keys become pending), the history, and the legacy `/changes`.

use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::gate::{Use, admit, known};
use super::{DEVICE_BODY, LARGE_BODY, Limit, internal, json, reply, unix};
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::http::error::{ApiError, ErrorBody, respond};
use crate::http::guard::gate;
use crate::http::{segment, with_state};
use crate::manage::config::{
    ConfigAck, REGISTERS, applies, check, defaults, merged, register_mask, running_from_report,
};
use crate::store::management::{ConfigEvent, ConfigRecord, RunningConfig};

/// The `/config/…` and legacy `/changes` routes.
pub(in crate::http) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let st = || with_state(state);
    let config = || warp::path("config").and(segment::device_id());
    let poll = config()
        .and(warp::path::end())
        .and(warp::get())
        .and(st())
        .then(|id: String, st: Arc<AppState>| async move { respond(poll(&st, &id).await) });
    let update = config()
        .and(warp::path::end())
        .and(warp::put().or(warp::post()).unify())
        .and(gate(state, Access::Admin))
        .and(st())
        .and(json::<UpdateRequest>(state, LARGE_BODY))
        .then(
            |id: String, st: Arc<AppState>, b: UpdateRequest| async move {
                respond(update(&st, &id, b).await)
            },
        );
    let acknowledge = config()
        .and(warp::path!("acknowledge"))
        .and(warp::post())
        .and(st())
        .and(json::<Acknowledge>(state, DEVICE_BODY))
        .then(|id: String, st: Arc<AppState>, b: Acknowledge| async move {
            respond(acknowledge(&st, &id, b).await)
        });
    let current = config()
        .and(warp::path!("current"))
        .and(warp::post())
        .and(st())
        .and(json::<Map<String, Value>>(state, DEVICE_BODY))
        .then(
            |id: String, st: Arc<AppState>, b: Map<String, Value>| async move {
                respond(current(&st, &id, b).await)
            },
        );
    let history = config()
        .and(warp::path!("history"))
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(warp::query::<Limit>())
        .and(st())
        .then(|id: String, q: Limit, st: Arc<AppState>| async move {
            respond(config_history(&st, &id, q).await)
        });
    let legacy = warp::path!("changes")
        .or(warp::path!("device_settings"))
        .unify()
        .and(warp::post())
        .and(st())
        .and(json::<LegacyRequest>(state, DEVICE_BODY))
        .then(|st: Arc<AppState>, b: LegacyRequest| async move {
            respond(legacy_changes(&st, b).await)
        });
    poll.or(update)
        .unify()
        .or(acknowledge)
        .unify()
        .or(current)
        .unify()
        .or(history)
        .unify()
        .or(legacy)
        .unify()
        .boxed()
}

/// What the device runs (defaults until it reports) and what is pending.
async fn load(
    state: &AppState,
    device: &str,
) -> Result<(Map<String, Value>, ConfigRecord), ApiError> {
    let record = state.store.config(device).await.map_err(internal)?;
    let running = merged(&defaults(), record.running.as_ref().unwrap_or(&Map::new()));
    Ok((running, record))
}

/// `GET /config/{device_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct ConfigPoll {
    success: bool,
    device_id: String,
    /// What the device runs (as last reported or acknowledged).
    config: Map<String, Value>,
    /// Nothing reported yet: `config` is the defaults.
    is_default: bool,
    /// Changes wait in `pending_config`.
    is_pending: bool,
    /// Register names a selection may use.
    available_registers: Vec<String>,
    /// Server time, Unix s.
    timestamp: u64,
    /// `{"config_update": {…}}`, only when pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_config: Option<Value>,
    /// When the changes were made, Unix s; only when pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_created_at: Option<u64>,
}

/// The device's configuration poll (every 5 s): what it runs and, when
/// pending, the accepted changes to apply.
#[utoipa::path(
    get,
    path = "/config/{device_id}",
    operation_id = "config_poll",
    tag = "firmware",
    security(()),
    responses(
        (status = 200, description = "The configuration", body = ConfigPoll),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
        (status = 410, description = "Retired device (`device_retired`)", body = ErrorBody),
        (status = 429, description = "Over the device's request rate (`rate_limited`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn poll(state: &AppState, device: &str) -> Result<Response, ApiError> {
    admit(state, device, Use::Poll).await?;
    let (config, record) = load(state, device).await?;
    Ok(reply(
        StatusCode::OK,
        &ConfigPoll {
            success: true,
            device_id: device.to_owned(),
            config,
            is_default: record.running.is_none(),
            is_pending: record.pending.is_some(),
            available_registers: REGISTERS.clone(),
            timestamp: unix(now_ms()),
            pending_created_at: record.pending.as_ref().map(|(_, at)| unix(*at)),
            pending_config: record.pending.map(|(p, _)| json!({ "config_update": p })),
        },
    ))
}

/// `PUT`/`POST /config/{device_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct UpdateRequest {
    /// Keys to change: `sampling_interval` (1–300 s), `upload_interval`
    /// (1–3600), `config_poll_interval` (1–300), `command_poll_interval`
    /// (1–300), `firmware_check_interval` (1–86400), `energy_poll_interval`
    /// (1–3600), `registers` (names), `power_management` (`enabled`,
    /// `techniques` 0x00–0x0F), `compression_enabled`.
    config_update: Map<String, Value>,
}

/// The answer to an update.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct UpdateReply {
    success: bool,
    device_id: String,
    /// Which keys were accepted, rejected (and why) or already set.
    config_ack: ConfigAck,
    /// Everything pending now.
    pending_config: Map<String, Value>,
}

/// Changes a device's configuration: each key is checked, accepted keys
/// become pending (merged with those already pending), rejected keys are
/// listed with the reason and never reach the device (F22).
#[utoipa::path(
    put,
    path = "/config/{device_id}",
    operation_id = "update_config",
    tag = "firmware-admin",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    request_body = UpdateRequest,
    responses(
        (status = 200, description = "Checked; `config_ack` says what became pending", body = UpdateReply),
        (status = 400, description = "Malformed, empty, or every key rejected (`malformed`, `invalid_config`)", body = ErrorBody),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn update(
    state: &AppState,
    device: &str,
    req: UpdateRequest,
) -> Result<Response, ApiError> {
    known(state, device).await?;
    if req.config_update.is_empty() {
        return Err(ApiError::bad_request("malformed", "config_update is empty"));
    }
    let (running, record) = load(state, device).await?;
    let pending = record.pending.map(|(p, _)| p).unwrap_or_default();
    let checked = check(&req.config_update, &merged(&running, &pending));
    if checked.ack.accepted.is_empty() && checked.ack.unchanged.is_empty() {
        let reasons: Vec<String> = checked
            .ack
            .errors
            .iter()
            .map(|(k, why)| format!("{k}: {why}"))
            .collect();
        return Err(ApiError::bad_request(
            "invalid_config",
            format!("every key was rejected ({})", reasons.join("; ")),
        ));
    }
    if !checked.changes.is_empty() {
        state
            .store
            .add_pending_config(
                device,
                checked.changes.clone(),
                now_ms(),
                state.manage.args.history_per_device,
            )
            .await
            .map_err(internal)?;
    }
    Ok(reply(
        StatusCode::OK,
        &UpdateReply {
            success: true,
            device_id: device.to_owned(),
            pending_config: merged(&pending, &checked.changes),
            config_ack: checked.ack,
        },
    ))
}

/// `POST /config/{device_id}/acknowledge`.
#[derive(Debug, Deserialize, ToSchema)]
pub(in crate::http) struct Acknowledge {
    /// `applied` (anything else keeps the changes pending).
    status: String,
    /// The device's words.
    #[serde(default)]
    error_msg: Option<String>,
    /// What the device applied (`enabled`, `techniques`, `energy_poll_freq`).
    #[serde(default)]
    power_management: Option<Value>,
}

/// The answer to a device report.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct Noted {
    success: bool,
    device_id: String,
    /// Changes still pending.
    is_pending: bool,
}

/// The device applied the pending changes (`status: applied`): they become
/// its running configuration.
#[utoipa::path(
    post,
    path = "/config/{device_id}/acknowledge",
    operation_id = "config_acknowledge",
    tag = "firmware",
    security(()),
    request_body = Acknowledge,
    responses(
        (status = 200, description = "Recorded", body = Noted),
        (status = 400, description = "Malformed (`malformed`)", body = ErrorBody),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn acknowledge(
    state: &AppState,
    device: &str,
    ack: Acknowledge,
) -> Result<Response, ApiError> {
    admit(state, device, Use::Write).await?;
    let (running, record) = load(state, device).await?;
    let applied = ack.status == "applied";
    let pending = record.pending.map(|(p, _)| p).unwrap_or_default();
    let now_running = if applied {
        merged(&running, &pending)
    } else {
        running
    };
    let body = json!({
        "status": ack.status.chars().take(32).collect::<String>(),
        "error_msg": ack.error_msg.map(|m| m.chars().take(256).collect::<String>()),
        "power_management": ack.power_management,
        "applied": applied.then_some(Value::Object(pending.clone())),
    });
    let still_pending = !applied && !pending.is_empty();
    state
        .store
        .set_running_config(
            device,
            RunningConfig {
                running: now_running,
                clear_pending: applied,
                event: "acknowledge",
                body,
            },
            now_ms(),
            state.manage.args.history_per_device,
        )
        .await
        .map_err(internal)?;
    Ok(noted(device, still_pending))
}

fn noted(device: &str, is_pending: bool) -> Response {
    reply(
        StatusCode::OK,
        &Noted {
            success: true,
            device_id: device.to_owned(),
            is_pending,
        },
    )
}

/// The device's running configuration, reported at boot (any JSON object;
/// keys that pass the validation table are kept). Pending changes it shows
/// applied are cleared.
#[utoipa::path(
    post,
    path = "/config/{device_id}/current",
    operation_id = "config_current",
    tag = "firmware",
    security(()),
    request_body(content = Object, description = "`sampling_interval`, `upload_interval`, …, `registers`, `power_management`, `timestamp`"),
    responses(
        (status = 200, description = "Recorded", body = Noted),
        (status = 400, description = "Not a JSON object (`malformed`)", body = ErrorBody),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn current(
    state: &AppState,
    device: &str,
    report: Map<String, Value>,
) -> Result<Response, ApiError> {
    admit(state, device, Use::Write).await?;
    let (running, record) = load(state, device).await?;
    let valid = running_from_report(&report);
    let reported = merged(&running, &valid);
    let cleared = record
        .pending
        .as_ref()
        .is_some_and(|(p, _)| applies(p, &reported));
    state
        .store
        .set_running_config(
            device,
            RunningConfig {
                running: reported,
                clear_pending: cleared,
                event: "report",
                body: Value::Object(valid),
            },
            now_ms(),
            state.manage.args.history_per_device,
        )
        .await
        .map_err(internal)?;
    Ok(noted(device, record.pending.is_some() && !cleared))
}

/// A device's configuration history.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct ConfigHistory {
    device_id: String,
    /// Newest first: updates, acknowledgements, reports.
    events: Vec<ConfigEvent>,
}

/// A device's configuration history, newest first.
#[utoipa::path(
    get,
    path = "/config/{device_id}/history",
    operation_id = "config_history",
    tag = "firmware-admin",
    params(Limit),
    responses((status = 200, description = "The history", body = ConfigHistory)),
)]
pub(in crate::http) async fn config_history(
    state: &AppState,
    device: &str,
    q: Limit,
) -> Result<Response, ApiError> {
    let events = state
        .store
        .config_history(device, q.get()?)
        .await
        .map_err(internal)?;
    Ok(reply(
        StatusCode::OK,
        &ConfigHistory {
            device_id: device.to_owned(),
            events,
        },
    ))
}

/// `POST /changes` of firmware before 2025-10-22.
#[derive(Debug, Deserialize, ToSchema)]
pub(in crate::http) struct LegacyRequest {
    /// The device.
    #[schema(schema_with = crate::device_id::schema)]
    device_id: String,
}

/// The legacy flags.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(in crate::http) struct LegacyChanges {
    /// Anything changed.
    Changed: bool,
    /// The poll (sampling) period changed.
    pollFreqChanged: bool,
    /// The poll period, seconds.
    newPollTimer: u64,
    /// The upload period changed.
    uploadFreqChanged: bool,
    /// The upload period, seconds.
    newUploadTimer: u64,
    /// The register selection changed.
    regsChanged: bool,
    /// Registers selected.
    regsCount: u32,
    /// The selection, bit i = register id i.
    regs: u16,
}

/// The legacy firmware's change poll: pending sampling, upload and register
/// changes as flags; they count as delivered once answered.
#[utoipa::path(
    post,
    path = "/changes",
    operation_id = "config_legacy_changes",
    tag = "firmware",
    security(()),
    request_body = LegacyRequest,
    responses(
        (status = 200, description = "The flags", body = LegacyChanges),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn legacy_changes(
    state: &AppState,
    req: LegacyRequest,
) -> Result<Response, ApiError> {
    let device = req.device_id;
    admit(state, &device, Use::Write).await?;
    let (running, record) = load(state, &device).await?;
    let pending = record.pending.map(|(p, _)| p).unwrap_or_default();
    let after = merged(&running, &pending);
    let seconds = |key: &str| after.get(key).and_then(Value::as_u64).unwrap_or(0);
    let mask = register_mask(after.get("registers").unwrap_or(&Value::Null));
    let flags = LegacyChanges {
        Changed: !pending.is_empty(),
        pollFreqChanged: pending.contains_key("sampling_interval"),
        newPollTimer: seconds("sampling_interval"),
        uploadFreqChanged: pending.contains_key("upload_interval"),
        newUploadTimer: seconds("upload_interval"),
        regsChanged: pending.contains_key("registers"),
        regsCount: mask.count_ones(),
        regs: mask,
    };
    if !pending.is_empty() {
        state
            .store
            .set_running_config(
                &device,
                RunningConfig {
                    running: after,
                    clear_pending: true,
                    event: "legacy_delivered",
                    body: Value::Object(pending),
                },
                now_ms(),
                state.manage.args.history_per_device,
            )
            .await
            .map_err(internal)?;
    }
    Ok(reply(StatusCode::OK, &flags))
}
