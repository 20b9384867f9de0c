//! What the device reports during and after an update (spec §7.1 steps
//! 6–7): each phase, the post-reboot outcome, and the self-test it calls.

use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::gate::{Use, admit};
use super::ota::record;
use super::{DEVICE_BODY, internal, json, reply};
use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody, respond};
use crate::http::{segment, with_state};
use crate::store::firmware::{OtaReport, OtaSession};

/// `/ota/{id}/progress`, `/ota/{id}/complete`, `/ota/status`.
pub(in crate::http) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let st = || with_state(state);
    let progress = warp::path("ota")
        .and(segment::device_id())
        .and(warp::path!("progress"))
        .and(warp::post())
        .and(st())
        .and(json::<Progress>(state, DEVICE_BODY))
        .then(|id: String, st: Arc<AppState>, b: Progress| async move {
            respond(progress(&st, &id, b).await)
        });
    let complete = warp::path("ota")
        .and(segment::device_id())
        .and(warp::path!("complete"))
        .and(warp::post())
        .and(st())
        .and(json::<Complete>(state, DEVICE_BODY))
        .then(|id: String, st: Arc<AppState>, b: Complete| async move {
            respond(complete(&st, &id, b).await)
        });
    let self_test = warp::path!("ota" / "status")
        .and(warp::get())
        .map(self_test);
    progress.or(complete).unify().or(self_test).unify().boxed()
}

/// The phases the firmware reports.
const PHASES: [(&str, &str); 7] = [
    ("downloading", "in_progress"),
    ("download_complete", "downloaded"),
    ("verifying", "downloaded"),
    ("verification_success", "verified"),
    ("verification_failed", "failed"),
    ("installing", "installing"),
    ("failed", "failed"),
];

/// `POST /ota/{device_id}/progress` (its `timestamp`, device time, is not used).
#[derive(Debug, Deserialize, ToSchema)]
pub(in crate::http) struct Progress {
    /// `downloading`, `download_complete`, `verifying`, `verification_success`,
    /// `verification_failed`, `installing` or `failed`.
    phase: String,
    /// 0–100.
    #[serde(default)]
    progress: u8,
    /// The device's words.
    #[serde(default)]
    message: Option<String>,
}

/// The answer to a progress or completion report.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct Recorded {
    success: bool,
    device_id: String,
    /// The session's state now.
    status: String,
}

/// The device reports a phase of its session; `verification_failed`
/// counts against the version's rollout, which pauses itself at its limit.
#[utoipa::path(
    post,
    path = "/ota/{device_id}/progress",
    operation_id = "ota_progress",
    tag = "firmware",
    security(()),
    request_body = Progress,
    responses(
        (status = 200, description = "Recorded", body = Recorded),
        (status = 400, description = "Unknown phase or progress over 100 (`bad_phase`, `malformed`)", body = ErrorBody),
        (status = 409, description = "No session (`no_session`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn progress(
    state: &AppState,
    device: &str,
    body: Progress,
) -> Result<Response, ApiError> {
    admit(state, device, Use::Write).await?;
    let &(phase, session_state) =
        PHASES
            .iter()
            .find(|(p, _)| *p == body.phase)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "bad_phase",
                    format!("phase is one of {}", PHASES.map(|(p, _)| p).join(", ")),
                )
            })?;
    if body.progress > 100 {
        return Err(ApiError::bad_request("malformed", "progress is 0–100"));
    }
    let session = current_session(state, device).await?;
    record(
        state,
        OtaReport {
            device_id: device.to_owned(),
            version: Some(session.version),
            kind: phase.to_owned(),
            detail: body.message.map(|m| m.chars().take(256).collect()),
            state: Some(session_state),
            progress: Some(body.progress),
            failure: phase == "verification_failed",
        },
    )
    .await?;
    Ok(reply(
        StatusCode::OK,
        &Recorded {
            success: true,
            device_id: device.to_owned(),
            status: session_state.to_owned(),
        },
    ))
}

async fn current_session(state: &AppState, device: &str) -> Result<OtaSession, ApiError> {
    state
        .store
        .ota_session(device)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no_session",
                format!("{device} has no update session"),
            )
        })
}

/// `POST /ota/{device_id}/complete`, after the reboot (its `timestamp` is not used).
#[derive(Debug, Deserialize, ToSchema)]
pub(in crate::http) struct Complete {
    /// The version the device now runs.
    version: String,
    /// `success`, `pending_verify`, `rolled_back` or `failed`.
    status: String,
    /// Why it failed.
    #[serde(default)]
    error_msg: Option<String>,
}

/// After its reboot the device says how the update ended; a rollback
/// counts against the version's rollout.
#[utoipa::path(
    post,
    path = "/ota/{device_id}/complete",
    operation_id = "ota_complete",
    tag = "firmware",
    security(()),
    request_body = Complete,
    responses(
        (status = 200, description = "Recorded", body = Recorded),
        (status = 400, description = "Unknown status (`bad_status`)", body = ErrorBody),
        (status = 409, description = "No session (`no_session`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn complete(
    state: &AppState,
    device: &str,
    body: Complete,
) -> Result<Response, ApiError> {
    admit(state, device, Use::Write).await?;
    let session_state = match body.status.as_str() {
        "success" => "success",
        "pending_verify" => "installing",
        "rolled_back" => "rolled_back",
        "failed" => "failed",
        _ => {
            return Err(ApiError::bad_request(
                "bad_status",
                "status is success, pending_verify, rolled_back or failed",
            ));
        }
    };
    let session = current_session(state, device).await?;
    let running: String = body.version.chars().take(64).collect();
    let detail = match body.error_msg {
        Some(e) => format!(
            "running {running}: {}",
            e.chars().take(256).collect::<String>()
        ),
        None => format!("running {running}"),
    };
    record(
        state,
        OtaReport {
            device_id: device.to_owned(),
            version: Some(session.version),
            kind: format!("complete_{}", body.status),
            detail: Some(detail),
            state: Some(session_state),
            progress: None,
            failure: session_state == "rolled_back",
        },
    )
    .await?;
    Ok(reply(
        StatusCode::OK,
        &Recorded {
            success: true,
            device_id: device.to_owned(),
            status: session_state.to_owned(),
        },
    ))
}

/// `GET /ota/status`.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct SelfTest {
    success: bool,
    /// `ok`.
    status: &'static str,
}

/// What a freshly updated device calls in its self-test: 200 while the
/// server is up.
#[utoipa::path(
    get,
    path = "/ota/status",
    operation_id = "ota_self_test",
    tag = "firmware",
    security(()),
    responses((status = 200, description = "The server answers", body = SelfTest)),
)]
pub(in crate::http) fn self_test() -> Response {
    reply(
        StatusCode::OK,
        &SelfTest {
            success: true,
            status: "ok",
        },
    )
}
