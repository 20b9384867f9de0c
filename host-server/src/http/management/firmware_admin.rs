//! The operator's firmware API: publish images, roll them out, pause,
//! resume, cancel, and read the fleet's update state.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{LARGE_BODY, Limit, internal, json, reply};
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::fota::FirmwareKeys;
use crate::http::error::{ApiError, ErrorBody, respond};
use crate::http::guard::gate;
use crate::http::{body, device_path, segment, with_state};
use crate::manage::publish::{check_version, new_firmware};
use crate::manage::rollout::check_target;
use crate::store::firmware::{
    FirmwareInfo, OtaEvent, OtaSession, Rollout, RolloutState, VersionStats,
};

/// `/api/v1/firmware…`, `/api/v1/rollouts`, `/api/v1/devices/{id}/firmware`.
pub(in crate::http) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let st = || with_state(state);
    let admin = || gate(state, Access::Admin);
    let read = || gate(state, Access::Read);
    let images = warp::path!("api" / "v1" / "firmware")
        .and(warp::get())
        .and(read())
        .and(st())
        .then(|st: Arc<AppState>| async move { respond(images(&st).await) });
    let publish = warp::path!("api" / "v1" / "firmware")
        .and(warp::post())
        .and(admin())
        .and(warp::query::<PublishQuery>())
        .and(st())
        .and(body::bounded(
            state.manage.args.firmware_max_bytes,
            state.body_timeout * 6,
        ))
        .then(|q: PublishQuery, st: Arc<AppState>, b: Bytes| async move {
            respond(publish(&st, q, b).await)
        });
    let image = version_path()
        .and(warp::path::end())
        .and(warp::get())
        .and(read())
        .and(st())
        .then(|v: String, st: Arc<AppState>| async move { respond(image(&st, &v).await) });
    let delete = version_path()
        .and(warp::path::end())
        .and(warp::delete())
        .and(admin())
        .and(st())
        .then(|v: String, st: Arc<AppState>| async move { respond(delete_image(&st, &v).await) });
    let rollout = version_path()
        .and(warp::path!("rollout"))
        .and(warp::post())
        .and(admin())
        .and(st())
        .and(json::<RolloutRequest>(state, LARGE_BODY))
        .then(
            |v: String, st: Arc<AppState>, r: RolloutRequest| async move {
                respond(rollout(&st, &v, r).await)
            },
        );
    let action = version_path()
        .and(warp::path("rollout"))
        .and(segment::text())
        .and(warp::path::end())
        .and(warp::post())
        .and(admin())
        .and(st())
        .then(|v: String, a: String, st: Arc<AppState>| async move {
            respond(rollout_action(&st, &v, &a).await)
        });
    let rollouts = warp::path!("api" / "v1" / "rollouts")
        .and(warp::get())
        .and(read())
        .and(st())
        .then(|st: Arc<AppState>| async move { respond(rollouts(&st).await) });
    let device = device_path()
        .and(warp::path!("firmware"))
        .and(warp::get())
        .and(read())
        .and(warp::query::<Limit>())
        .and(st())
        .then(|id: String, q: Limit, st: Arc<AppState>| async move {
            respond(device_firmware(&st, &id, q).await)
        });
    images
        .or(publish)
        .unify()
        .or(image)
        .unify()
        .or(delete)
        .unify()
        .or(rollout)
        .unify()
        .or(action)
        .unify()
        .or(rollouts)
        .unify()
        .or(device)
        .unify()
        .boxed()
}

/// `/api/v1/firmware/{version}`, the version checked (400 `bad_version`).
fn version_path() -> impl Filter<Extract = (String,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "firmware" / ..)
        .and(segment::text())
        .and_then(|v: String| async move {
            check_version(&v)
                .map(|()| v)
                .map_err(|e| warp::reject::custom(ApiError::bad_request(e.code(), e.to_string())))
        })
}

/// Every image.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct Images {
    /// Newest first.
    images: Vec<FirmwareInfo>,
}

/// Every published image's manifest.
#[utoipa::path(
    get,
    path = "/api/v1/firmware",
    operation_id = "list_firmware",
    tag = "firmware-admin",
    responses((status = 200, description = "The images", body = Images)),
)]
pub(in crate::http) async fn images(state: &AppState) -> Result<Response, ApiError> {
    let images = state.store.firmware_images().await.map_err(internal)?;
    Ok(reply(StatusCode::OK, &Images { images }))
}

/// `?version=&notes=` of a publication.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::http) struct PublishQuery {
    /// The version string devices will report (1–32 of A-Z a-z 0-9 . _ + -).
    version: String,
    /// Release notes.
    #[serde(default)]
    notes: String,
}

/// Publishes an image sent as the raw request body: padded, encrypted with
/// the fleet firmware key under a random IV, hashed and signed. The keys
/// come from the data directory (`solarwire firmware keygen`).
#[utoipa::path(
    post,
    path = "/api/v1/firmware",
    operation_id = "publish_firmware",
    tag = "firmware-admin",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    params(PublishQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The plain ESP32 image (first byte 0xE9)"),
    responses(
        (status = 201, description = "Published; its manifest", body = FirmwareInfo),
        (status = 400, description = "Bad version, empty or not an ESP32 image (`bad_version`, `empty_image`, `not_esp32_image`)", body = ErrorBody),
        (status = 409, description = "The version exists (`version_exists`)", body = ErrorBody),
        (status = 413, description = "Over `--firmware-max-bytes` (`too_large`)", body = ErrorBody),
        (status = 503, description = "No firmware keys yet (`no_firmware_keys`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn publish(
    state: &AppState,
    q: PublishQuery,
    image: Bytes,
) -> Result<Response, ApiError> {
    let dir = state.data_dir.clone();
    let limit = state.manage.args.firmware_max_bytes;
    let prepared = tokio::task::spawn_blocking(move || {
        let keys = FirmwareKeys::load(&dir)
            .map_err(|e| ApiError::unavailable("no_firmware_keys", e, 60))?;
        new_firmware(&image, &q.version, &q.notes, &keys, limit)
            .map_err(|e| ApiError::coded(e.code(), e.to_string()))
    })
    .await
    .map_err(ApiError::internal)??;
    let version = prepared.version.clone();
    let info = state
        .store
        .publish_firmware(prepared, now_ms())
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "version_exists",
                format!("version {version} is already published"),
            )
        })?;
    tracing::info!(version, size = info.original_size, "firmware published");
    Ok(reply(StatusCode::CREATED, &info))
}

/// An image with its rollout.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct ImageDetail {
    /// The manifest.
    image: FirmwareInfo,
    /// Its rollout, if any.
    rollout: Option<Rollout>,
}

/// One image's manifest and rollout.
#[utoipa::path(
    get,
    path = "/api/v1/firmware/{version}",
    operation_id = "show_firmware",
    tag = "firmware-admin",
    params(("version" = String, Path, description = "The version", example = "1.4.0")),
    responses(
        (status = 200, description = "The image", body = ImageDetail),
        (status = 404, description = "No such version (`unknown_version`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn image(state: &AppState, version: &str) -> Result<Response, ApiError> {
    let image = state
        .store
        .firmware_image(version)
        .await
        .map_err(internal)?
        .ok_or_else(|| unknown(version))?;
    let rollout = state
        .store
        .rollouts()
        .await
        .map_err(internal)?
        .into_iter()
        .find(|r| r.version == version);
    Ok(reply(StatusCode::OK, &ImageDetail { image, rollout }))
}

fn unknown(version: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_version",
        format!("no firmware version {version}"),
    )
}

/// A deleted image.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct Deleted {
    version: String,
    /// `deleted`.
    done: &'static str,
}

/// Deletes an image with its rollout (its devices' history stays).
#[utoipa::path(
    delete,
    path = "/api/v1/firmware/{version}",
    operation_id = "delete_firmware",
    tag = "firmware-admin",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    params(("version" = String, Path, description = "The version", example = "1.4.0")),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such version (`unknown_version`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn delete_image(
    state: &AppState,
    version: &str,
) -> Result<Response, ApiError> {
    if !state
        .store
        .delete_firmware(version)
        .await
        .map_err(internal)?
    {
        return Err(unknown(version));
    }
    Ok(reply(
        StatusCode::OK,
        &Deleted {
            version: version.to_owned(),
            done: "deleted",
        },
    ))
}

/// Who a rollout targets: `devices` or `percent`, not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct RolloutRequest {
    /// These device ids.
    #[serde(default)]
    devices: Option<Vec<String>>,
    /// This share of the fleet, 0–100, chosen stably by device id.
    #[serde(default)]
    percent: Option<u8>,
    /// Verification failures or rollbacks that pause it (default `--rollout-max-failures`; 0 never).
    #[serde(default)]
    max_failures: Option<u32>,
}

/// Starts (or retargets, resetting its failure count) the rollout of an image.
#[utoipa::path(
    post,
    path = "/api/v1/firmware/{version}/rollout",
    operation_id = "start_rollout",
    tag = "firmware-admin",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    params(("version" = String, Path, description = "The version", example = "1.4.0")),
    request_body = RolloutRequest,
    responses(
        (status = 200, description = "The rollout, active", body = Rollout),
        (status = 400, description = "Bad target (`bad_rollout`, `bad_device_id`)", body = ErrorBody),
        (status = 404, description = "No such version (`unknown_version`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn rollout(
    state: &AppState,
    version: &str,
    req: RolloutRequest,
) -> Result<Response, ApiError> {
    let target = check_target(req.devices, req.percent)
        .map_err(|(code, message)| ApiError::coded(code, message))?;
    let max = req
        .max_failures
        .unwrap_or(state.manage.args.rollout_max_failures);
    let rollout = state
        .store
        .set_rollout(version, target, max, now_ms())
        .await
        .map_err(internal)?
        .ok_or_else(|| unknown(version))?;
    tracing::info!(version, "rollout started");
    Ok(reply(StatusCode::OK, &rollout))
}

/// Pauses, resumes (failure count reset) or cancels a rollout.
#[utoipa::path(
    post,
    path = "/api/v1/firmware/{version}/rollout/{action}",
    operation_id = "change_rollout",
    tag = "firmware-admin",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    params(
        ("version" = String, Path, description = "The version", example = "1.4.0"),
        ("action" = String, Path, description = "`pause`, `resume` or `cancel`", example = "pause"),
    ),
    responses(
        (status = 200, description = "The rollout", body = Rollout),
        (status = 400, description = "Unknown action (`bad_action`)", body = ErrorBody),
        (status = 404, description = "No rollout of this version (`unknown_rollout`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn rollout_action(
    state: &AppState,
    version: &str,
    action: &str,
) -> Result<Response, ApiError> {
    let new_state = match action {
        "pause" => RolloutState::Paused,
        "resume" => RolloutState::Active,
        "cancel" => RolloutState::Cancelled,
        _ => {
            return Err(ApiError::bad_request(
                "bad_action",
                "the action is pause, resume or cancel",
            ));
        }
    };
    let reason = (new_state != RolloutState::Active).then(|| format!("{action} by an operator"));
    let rollout = state
        .store
        .set_rollout_state(version, new_state, reason, now_ms())
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_rollout",
                format!("version {version} has no rollout"),
            )
        })?;
    tracing::info!(version, action, "rollout changed");
    Ok(reply(StatusCode::OK, &rollout))
}

/// Rollouts and update counts.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct RolloutStatus {
    /// Newest image first.
    rollouts: Vec<Rollout>,
    /// Sessions per version.
    versions: Vec<VersionStats>,
}

/// Every rollout and the fleet's update counts per version.
#[utoipa::path(
    get,
    path = "/api/v1/rollouts",
    operation_id = "firmware_rollouts",
    tag = "firmware-admin",
    responses((status = 200, description = "Rollouts and statistics", body = RolloutStatus)),
)]
pub(in crate::http) async fn rollouts(state: &AppState) -> Result<Response, ApiError> {
    let rollouts = state.store.rollouts().await.map_err(internal)?;
    let versions = state.store.ota_stats().await.map_err(internal)?;
    Ok(reply(StatusCode::OK, &RolloutStatus { rollouts, versions }))
}

/// A device's update state and history.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct DeviceFirmware {
    device_id: String,
    /// Its latest session.
    session: Option<OtaSession>,
    /// Newest first.
    history: Vec<OtaEvent>,
}

/// A device's latest update session and its update history.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{device_id}/firmware",
    operation_id = "device_firmware",
    tag = "firmware-admin",
    params(Limit),
    responses((status = 200, description = "Session and history", body = DeviceFirmware)),
)]
pub(in crate::http) async fn device_firmware(
    state: &AppState,
    device: &str,
    q: Limit,
) -> Result<Response, ApiError> {
    let session = state.store.ota_session(device).await.map_err(internal)?;
    let history = state
        .store
        .ota_history(device, q.get()?)
        .await
        .map_err(internal)?;
    Ok(reply(
        StatusCode::OK,
        &DeviceFirmware {
            device_id: device.to_owned(),
            session,
            history,
        },
    ))
}
