//! Fault recovery events, energy reports and diagnostics (spec §7.4):
//! stored as sent (bounded in size, and in count per device and kind) and
//! listed for operators.

use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::gate::{Use, admit};
use super::{DEVICE_BODY, LARGE_BODY, Limit, internal, json, reply};
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::http::error::{ApiError, ErrorBody, respond};
use crate::http::guard::gate;
use crate::http::{segment, with_state};
use crate::store::management::{Report, ReportKind};

/// Fault types and recovery actions the firmware reports.
const FAULT_TYPES: [&str; 6] = [
    "crc_error",
    "truncated_payload",
    "garbage_data",
    "buffer_overflow",
    "timeout",
    "modbus_exception",
];
const RECOVERY_ACTIONS: [&str; 4] = [
    "retry_read",
    "reset_connection",
    "skip_sample",
    "reboot_device",
];

/// `/fault/recovery`, `/power/energy/{id}`, `/diagnostics/{id}`.
pub(in crate::http) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let st = || with_state(state);
    let fault = warp::path!("fault" / "recovery")
        .and(warp::post())
        .and(st())
        .and(json::<FaultReport>(state, DEVICE_BODY))
        .then(|st: Arc<AppState>, b: FaultReport| async move { respond(add_fault(&st, b).await) });
    let add_energy_route = warp::path!("power" / "energy" / ..)
        .and(segment::device_id())
        .and(warp::path::end())
        .and(warp::post())
        .and(st())
        .and(json::<Map<String, Value>>(state, DEVICE_BODY))
        .then(
            |id: String, st: Arc<AppState>, b: Map<String, Value>| async move {
                respond(add_energy(&st, &id, b).await)
            },
        );
    let add_diagnostics_route = warp::path("diagnostics")
        .and(segment::device_id())
        .and(warp::path::end())
        .and(warp::post())
        .and(st())
        .and(json::<Map<String, Value>>(state, LARGE_BODY))
        .then(
            |id: String, st: Arc<AppState>, b: Map<String, Value>| async move {
                respond(add_diagnostics(&st, &id, b).await)
            },
        );
    let list = |prefix: BoxedFilter<()>, kind: ReportKind| {
        prefix
            .and(segment::device_id())
            .and(warp::path::end())
            .and(warp::get())
            .and(gate(state, Access::Read))
            .and(warp::query::<Limit>())
            .and(st())
            .then(move |id: String, q: Limit, st: Arc<AppState>| async move {
                respond(match kind {
                    ReportKind::Fault => faults(&st, &id, q).await,
                    ReportKind::Energy => energy(&st, &id, q).await,
                    ReportKind::Diagnostics => diagnostics(&st, &id, q).await,
                })
            })
    };
    fault
        .or(add_energy_route)
        .unify()
        .or(add_diagnostics_route)
        .unify()
        .or(list(
            warp::path!("fault" / "recovery" / ..).boxed(),
            ReportKind::Fault,
        ))
        .unify()
        .or(list(
            warp::path!("power" / "energy" / ..).boxed(),
            ReportKind::Energy,
        ))
        .unify()
        .or(list(
            warp::path("diagnostics").boxed(),
            ReportKind::Diagnostics,
        ))
        .unify()
        .boxed()
}

/// `POST /fault/recovery`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct FaultReport {
    /// The device.
    #[schema(schema_with = crate::device_id::schema)]
    device_id: String,
    /// Device time.
    #[serde(default)]
    timestamp: Option<u64>,
    /// `crc_error`, `truncated_payload`, `garbage_data`, `buffer_overflow`,
    /// `timeout` or `modbus_exception`.
    fault_type: String,
    /// `retry_read`, `reset_connection`, `skip_sample` or `reboot_device`.
    recovery_action: String,
    /// Whether the recovery worked.
    success: bool,
    /// Free text.
    #[serde(default)]
    details: Option<String>,
    /// Retries spent.
    #[serde(default)]
    retry_count: Option<u32>,
}

/// A stored report.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct Stored {
    /// `success`.
    status: &'static str,
    success: bool,
    device_id: String,
    /// Its id.
    report_id: i64,
}

async fn store(
    state: &AppState,
    device: &str,
    kind: ReportKind,
    body: Value,
    status: StatusCode,
) -> Result<Response, ApiError> {
    admit(state, device, Use::Write).await?;
    let report_id = state
        .store
        .add_report(
            device,
            kind,
            body,
            now_ms(),
            state.manage.args.reports_per_device,
        )
        .await
        .map_err(internal)?;
    Ok(reply(
        status,
        &Stored {
            status: "success",
            success: true,
            device_id: device.to_owned(),
            report_id,
        },
    ))
}

/// A fault the device recovered from (or did not).
#[utoipa::path(
    post,
    path = "/fault/recovery",
    operation_id = "report_add_fault",
    tag = "firmware",
    security(()),
    request_body = FaultReport,
    responses(
        (status = 200, description = "Stored", body = Stored),
        (status = 400, description = "Unknown fault type or action, or malformed (`bad_report`, `malformed`)", body = ErrorBody),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn add_fault(
    state: &AppState,
    report: FaultReport,
) -> Result<Response, ApiError> {
    if !FAULT_TYPES.contains(&report.fault_type.as_str())
        || !RECOVERY_ACTIONS.contains(&report.recovery_action.as_str())
    {
        return Err(ApiError::bad_request(
            "bad_report",
            format!(
                "fault_type is one of {}; recovery_action one of {}",
                FAULT_TYPES.join(", "),
                RECOVERY_ACTIONS.join(", ")
            ),
        ));
    }
    let body = serde_json::json!({
        "timestamp": report.timestamp,
        "fault_type": report.fault_type,
        "recovery_action": report.recovery_action,
        "success": report.success,
        "details": report.details,
        "retry_count": report.retry_count,
    });
    store(
        state,
        &report.device_id,
        ReportKind::Fault,
        body,
        StatusCode::OK,
    )
    .await
}

/// The device's energy report (every 300 s): power-management counters.
#[utoipa::path(
    post,
    path = "/power/energy/{device_id}",
    operation_id = "report_add_energy",
    tag = "firmware",
    security(()),
    request_body(content = Object, description = "`{\"device_id\", \"timestamp\" (ms), \"power_management\": {…}}`"),
    responses(
        (status = 201, description = "Stored", body = Stored),
        (status = 400, description = "No `power_management` object, or malformed (`bad_report`, `malformed`)", body = ErrorBody),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn add_energy(
    state: &AppState,
    device: &str,
    report: Map<String, Value>,
) -> Result<Response, ApiError> {
    if !report.get("power_management").is_some_and(Value::is_object) {
        return Err(ApiError::bad_request(
            "bad_report",
            "an energy report carries a `power_management` object",
        ));
    }
    store(
        state,
        device,
        ReportKind::Energy,
        Value::Object(report),
        StatusCode::CREATED,
    )
    .await
}

/// A diagnostics document (any JSON object up to 16 KiB).
#[utoipa::path(
    post,
    path = "/diagnostics/{device_id}",
    operation_id = "report_add_diagnostics",
    tag = "firmware",
    security(()),
    request_body(content = Object, description = "`uptime_seconds`, `error_counters`, `recent_events`, `system_health` …"),
    responses(
        (status = 201, description = "Stored", body = Stored),
        (status = 400, description = "Not a JSON object (`malformed`)", body = ErrorBody),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
        (status = 413, description = "Over 16 KiB (`too_large`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn add_diagnostics(
    state: &AppState,
    device: &str,
    report: Map<String, Value>,
) -> Result<Response, ApiError> {
    store(
        state,
        device,
        ReportKind::Diagnostics,
        Value::Object(report),
        StatusCode::CREATED,
    )
    .await
}

/// A device's reports of one kind.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct Reports {
    device_id: String,
    /// Newest first.
    reports: Vec<Report>,
}

/// A device's fault recovery events, newest first.
#[utoipa::path(
    get,
    path = "/fault/recovery/{device_id}",
    operation_id = "fault_reports",
    tag = "firmware-admin",
    params(Limit),
    responses((status = 200, description = "Fault recovery events", body = Reports)),
)]
pub(in crate::http) async fn faults(
    state: &AppState,
    device: &str,
    q: Limit,
) -> Result<Response, ApiError> {
    list_reports(state, device, ReportKind::Fault, q).await
}

/// A device's energy reports, newest first.
#[utoipa::path(
    get,
    path = "/power/energy/{device_id}",
    operation_id = "energy_reports",
    tag = "firmware-admin",
    params(Limit),
    responses((status = 200, description = "Energy reports", body = Reports)),
)]
pub(in crate::http) async fn energy(
    state: &AppState,
    device: &str,
    q: Limit,
) -> Result<Response, ApiError> {
    list_reports(state, device, ReportKind::Energy, q).await
}

/// A device's diagnostics documents, newest first.
#[utoipa::path(
    get,
    path = "/diagnostics/{device_id}",
    operation_id = "diagnostics_reports",
    tag = "firmware-admin",
    params(Limit),
    responses((status = 200, description = "Diagnostics", body = Reports)),
)]
pub(in crate::http) async fn diagnostics(
    state: &AppState,
    device: &str,
    q: Limit,
) -> Result<Response, ApiError> {
    list_reports(state, device, ReportKind::Diagnostics, q).await
}

async fn list_reports(
    state: &AppState,
    device: &str,
    kind: ReportKind,
    q: Limit,
) -> Result<Response, ApiError> {
    let reports = state
        .store
        .reports(device, kind, q.get()?)
        .await
        .map_err(internal)?;
    Ok(reply(
        StatusCode::OK,
        &Reports {
            device_id: device.to_owned(),
            reports,
        },
    ))
}
