//! Commands (spec §7.3): the operator queues, the device polls one at a
//! time (F21 fixed) and reports the result; status and history.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::gate::{Use, admit, known};
use super::{DEVICE_BODY, Limit, internal, json, reply};
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::http::error::{ApiError, ErrorBody, respond};
use crate::http::guard::gate;
use crate::http::{segment, with_state};
use crate::manage::commands::{check, new_id};
use crate::store::management::{Command, CommandState};

/// The `/commands/…` routes.
pub(in crate::http) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let st = || with_state(state);
    let status = warp::path!("commands" / "status" / ..)
        .and(segment::text())
        .and(warp::path::end())
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(st())
        .then(|id: String, st: Arc<AppState>| async move { respond(status(&st, &id).await) });
    let commands = || warp::path("commands").and(segment::device_id());
    let queue = commands()
        .and(warp::path::end())
        .and(warp::post())
        .and(gate(state, Access::Admin))
        .and(st())
        .and(json::<QueueRequest>(state, DEVICE_BODY))
        .then(
            |id: String, st: Arc<AppState>, b: QueueRequest| async move {
                respond(queue(&st, &id, b).await)
            },
        );
    let poll = commands()
        .and(warp::path!("poll"))
        .and(warp::get())
        .and(st())
        .then(|id: String, st: Arc<AppState>| async move { respond(dispatch(&st, &id).await) });
    let result = commands()
        .and(warp::path!("result"))
        .and(warp::post())
        .and(st())
        .and(json::<ResultRequest>(state, DEVICE_BODY))
        .then(
            |id: String, st: Arc<AppState>, b: ResultRequest| async move {
                respond(result(&st, &id, b).await)
            },
        );
    let history = commands()
        .and(warp::path!("history"))
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(warp::query::<Limit>())
        .and(st())
        .then(|id: String, q: Limit, st: Arc<AppState>| async move {
            respond(history(&st, &id, q).await)
        });
    status
        .or(queue)
        .unify()
        .or(poll)
        .unify()
        .or(result)
        .unify()
        .or(history)
        .unify()
        .boxed()
}

/// `POST /commands/{device_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct QueueRequest {
    /// `{"action", "target_register", "value"}`; actions: `write_register`,
    /// `set_power`, `set_power_percentage`, `get_power_stats`,
    /// `reset_power_stats`, `get_peripheral_stats`, `reset_peripheral_stats`.
    command: Value,
}

/// A queued command.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct Queued {
    success: bool,
    device_id: String,
    /// Its UUID.
    command_id: String,
    /// When it expires if not delivered.
    note: String,
}

/// Queues a command for a device; an unknown action or a bad value is
/// refused here, never sent.
#[utoipa::path(
    post,
    path = "/commands/{device_id}",
    operation_id = "queue_command",
    tag = "firmware-admin",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    request_body = QueueRequest,
    responses(
        (status = 201, description = "Queued", body = Queued),
        (status = 400, description = "Unknown action or bad field (`unknown_action`, `bad_command`)", body = ErrorBody),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn queue(
    state: &AppState,
    device: &str,
    req: QueueRequest,
) -> Result<Response, ApiError> {
    let command = check(&req.command).map_err(|e| ApiError::coded(e.code, e.message))?;
    known(state, device).await?;
    let now = now_ms();
    let ttl = state.manage.args.command_ttl;
    let command_id = new_id().map_err(ApiError::internal)?;
    state
        .store
        .queue_command(
            Command {
                command_id: command_id.clone(),
                device_id: device.to_owned(),
                command,
                state: CommandState::Queued,
                created_ms: now,
                expires_ms: now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
                dispatched_ms: None,
                finished_ms: None,
                executed_at: None,
            },
            state.manage.args.history_per_device,
        )
        .await
        .map_err(internal)?;
    Ok(reply(
        StatusCode::CREATED,
        &Queued {
            success: true,
            device_id: device.to_owned(),
            command_id,
            note: format!(
                "delivered at the device's next poll; expires in {}",
                human(ttl)
            ),
        },
    ))
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s > 0 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// `GET /commands/{device_id}/poll`.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct PollReply {
    success: bool,
    device_id: String,
    /// At most one: `[{"command_id", "command": {…}}]`.
    commands: Vec<Value>,
    /// 0 or 1.
    count: usize,
}

/// The device's command poll (every 10 s): the oldest queued command, now
/// dispatched. The device executes only the first command it is given, so
/// it is given one; the rest stay queued (F21). Expired commands are skipped.
#[utoipa::path(
    get,
    path = "/commands/{device_id}/poll",
    operation_id = "command_dispatch",
    tag = "firmware",
    security(()),
    responses(
        (status = 200, description = "Zero or one command", body = PollReply),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
        (status = 410, description = "Retired device (`device_retired`)", body = ErrorBody),
        (status = 429, description = "Over the device's request rate (`rate_limited`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn dispatch(
    state: &AppState,
    device: &str,
) -> Result<Response, ApiError> {
    let known = admit(state, device, Use::Poll).await?;
    let next = match known {
        Some(_) => state
            .store
            .dispatch_command(device, now_ms())
            .await
            .map_err(internal)?,
        None => None,
    };
    let commands: Vec<Value> = next
        .into_iter()
        .map(|c| json!({"command_id": c.command_id, "command": c.command}))
        .collect();
    Ok(reply(
        StatusCode::OK,
        &PollReply {
            success: true,
            device_id: device.to_owned(),
            count: commands.len(),
            commands,
        },
    ))
}

/// `POST /commands/{device_id}/result`.
#[derive(Debug, Deserialize, ToSchema)]
pub(in crate::http) struct ResultRequest {
    /// The outcome.
    command_result: CommandResult,
}

/// One command's outcome.
#[derive(Debug, Deserialize, ToSchema)]
pub(in crate::http) struct CommandResult {
    /// The command.
    command_id: String,
    /// `success` or `failed`.
    status: String,
    /// When the device ran it (`YYYY-MM-DDTHH:MM:SSZ`).
    #[serde(default)]
    executed_at: Option<String>,
}

/// The answer to a result.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct ResultReply {
    success: bool,
    device_id: String,
    command_id: String,
    /// `completed` or `failed` (or the state a repeated result found).
    status: CommandState,
}

/// The device reports how a dispatched command went.
#[utoipa::path(
    post,
    path = "/commands/{device_id}/result",
    operation_id = "command_result",
    tag = "firmware",
    security(()),
    request_body = ResultRequest,
    responses(
        (status = 200, description = "Recorded", body = ResultReply),
        (status = 400, description = "Bad status (`bad_status`, `malformed`)", body = ErrorBody),
        (status = 404, description = "Unknown device or command (`unknown_device`, `unknown_command`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn result(
    state: &AppState,
    device: &str,
    req: ResultRequest,
) -> Result<Response, ApiError> {
    admit(state, device, Use::Write).await?;
    let r = req.command_result;
    let success = match r.status.as_str() {
        "success" => true,
        "failed" => false,
        _ => {
            return Err(ApiError::bad_request(
                "bad_status",
                "status is success or failed",
            ));
        }
    };
    let executed_at = r.executed_at.map(|t| t.chars().take(32).collect());
    let done = state
        .store
        .finish_command(device, &r.command_id, success, executed_at, now_ms())
        .await
        .map_err(internal)?
        .ok_or_else(|| unknown_command(&r.command_id))?;
    Ok(reply(
        StatusCode::OK,
        &ResultReply {
            success: true,
            device_id: device.to_owned(),
            command_id: done.command_id,
            status: done.state,
        },
    ))
}

fn unknown_command(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_command",
        format!("no command {}", id.chars().take(64).collect::<String>()),
    )
}

/// One command's state.
#[utoipa::path(
    get,
    path = "/commands/status/{command_id}",
    operation_id = "command_status",
    tag = "firmware-admin",
    params(("command_id" = String, Path, description = "The command's UUID", example = "0b0e7e4c-3a9f-4f8e-9d55-7c1f2a6b9e10")),
    responses(
        (status = 200, description = "The command", body = Command),
        (status = 404, description = "No such command (`unknown_command`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn status(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let command = state
        .store
        .command(id)
        .await
        .map_err(internal)?
        .ok_or_else(|| unknown_command(id))?;
    Ok(reply(StatusCode::OK, &command))
}

/// A device's commands.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct CommandHistory {
    device_id: String,
    /// Newest first.
    commands: Vec<Command>,
}

/// A device's commands, newest first.
#[utoipa::path(
    get,
    path = "/commands/{device_id}/history",
    operation_id = "command_history",
    tag = "firmware-admin",
    params(Limit),
    responses((status = 200, description = "The commands", body = CommandHistory)),
)]
pub(in crate::http) async fn history(
    state: &AppState,
    device: &str,
    q: Limit,
) -> Result<Response, ApiError> {
    let commands = state
        .store
        .commands(device, q.get()?)
        .await
        .map_err(internal)?;
    Ok(reply(
        StatusCode::OK,
        &CommandHistory {
            device_id: device.to_owned(),
            commands,
        },
    ))
}
