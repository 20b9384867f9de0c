//! Firmware updates as the device runs them (spec §7.1): check, initiate,
//! chunks, progress, the post-reboot report and the self-test; the
//! operator's view of a device's sessions; OTA fault injection.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::gate::{Use, admit};
use super::{DEVICE_BODY, internal, json, reply, unix};
use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::error::{ApiError, ErrorBody, respond};
use crate::http::{segment, with_state};
use crate::manage::OtaFault;
use crate::manage::rollout::offer;
use crate::store::firmware::{FirmwareInfo, OtaReport};

/// The `/ota/…` routes.
pub(in crate::http) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let st = || with_state(state);
    let check = warp::path!("ota" / "check" / ..)
        .and(segment::device_id())
        .and(warp::path::end())
        .and(warp::get())
        .and(warp::query::<CheckQuery>())
        .and(st())
        .then(|id: String, q: CheckQuery, st: Arc<AppState>| async move {
            respond(check(&st, &id, q).await)
        });
    let initiate = warp::path!("ota" / "initiate" / ..)
        .and(segment::device_id())
        .and(warp::path::end())
        .and(warp::post())
        .and(st())
        .and(json::<Initiate>(state, DEVICE_BODY))
        .then(|id: String, st: Arc<AppState>, b: Initiate| async move {
            respond(initiate(&st, &id, b).await)
        });
    let chunk = warp::path!("ota" / "chunk" / ..)
        .and(segment::device_id())
        .and(warp::path::end())
        .and(warp::get())
        .and(warp::query::<ChunkQuery>())
        .and(st())
        .then(|id: String, q: ChunkQuery, st: Arc<AppState>| async move {
            respond(chunk(&st, &id, q).await)
        });
    check
        .or(initiate)
        .unify()
        .or(chunk)
        .unify()
        .or(super::ota_progress::routes(state))
        .unify()
        .or(super::ota_faults::routes(state))
        .unify()
        .boxed()
}

/// `?version=` of a check.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::http) struct CheckQuery {
    /// The version the device runs.
    version: Option<String>,
}

/// What an available update looks like to the device.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct UpdateInfo {
    available: bool,
    latest_version: String,
    current_version: Option<String>,
    original_size: u64,
    encrypted_size: u64,
    firmware_size: u64,
    /// SHA-256 of the plain image, 64 lowercase hex digits.
    sha256_hash: String,
    /// Base64 of the 256-byte RSA signature.
    signature: String,
    /// Base64 of the 16-byte IV.
    iv: String,
    chunk_size: u32,
    total_chunks: u32,
    release_notes: String,
}

/// `GET /ota/check/{device_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct CheckReply {
    success: bool,
    device_id: String,
    update_available: bool,
    /// Present when an update is available.
    #[serde(skip_serializing_if = "Option::is_none")]
    update_info: Option<UpdateInfo>,
}

/// The manifest as the device receives it, with any injected fault.
fn update_info(
    image: FirmwareInfo,
    current: Option<String>,
    fault: Option<OtaFault>,
) -> UpdateInfo {
    let mut sha256 = image.sha256;
    let mut signature = image.signature;
    match fault {
        Some(OtaFault::BadHash) => {
            let flipped = if sha256.starts_with('0') { "1" } else { "0" };
            sha256.replace_range(0..1, flipped);
        }
        Some(OtaFault::BadSignature) => {
            if let Ok(mut raw) = STANDARD.decode(&signature) {
                if let Some(b) = raw.get_mut(0) {
                    *b ^= 0x01;
                }
                signature = STANDARD.encode(raw);
            }
        }
        _ => {}
    }
    UpdateInfo {
        available: true,
        latest_version: image.version,
        current_version: current,
        original_size: image.original_size,
        encrypted_size: image.encrypted_size,
        firmware_size: image.original_size,
        sha256_hash: sha256,
        signature,
        iv: image.iv,
        chunk_size: image.chunk_size,
        total_chunks: image.total_chunks,
        release_notes: image.notes,
    }
}

/// The device asks whether an update is offered to it: the newest active
/// rollout that targets it and is an upgrade it has not failed before.
#[utoipa::path(
    get,
    path = "/ota/check/{device_id}",
    operation_id = "ota_check",
    tag = "firmware",
    security(()),
    params(CheckQuery),
    responses(
        (status = 200, description = "Whether an update is offered, with its manifest", body = CheckReply),
        (status = 404, description = "Unknown device (`unknown_device`)", body = ErrorBody),
        (status = 410, description = "Retired device (`device_retired`)", body = ErrorBody),
        (status = 429, description = "Over the device's request rate (`rate_limited`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn check(
    state: &AppState,
    device: &str,
    q: CheckQuery,
) -> Result<Response, ApiError> {
    let known = admit(state, device, Use::Poll).await?;
    let current = q
        .version
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(64).collect::<String>());
    let rollouts = state.store.rollouts().await.map_err(internal)?;
    let failed = state
        .store
        .failed_versions(device)
        .await
        .map_err(internal)?;
    let offered = offer(&rollouts, device, current.as_deref(), &failed);
    let image = match offered {
        Some(r) => state
            .store
            .firmware_image(&r.version)
            .await
            .map_err(internal)?,
        None => None,
    };
    if known.is_some() {
        let report = OtaReport {
            device_id: device.to_owned(),
            version: image.as_ref().map(|i| i.version.clone()),
            kind: "check".into(),
            detail: current.clone().map(|c| format!("running {c}")),
            state: None,
            progress: None,
            failure: false,
        };
        record(state, report).await?;
    }
    let info = image.map(|i| update_info(i, current, state.manage.fault()));
    Ok(reply(
        StatusCode::OK,
        &CheckReply {
            success: true,
            device_id: device.to_owned(),
            update_available: info.is_some(),
            update_info: info,
        },
    ))
}

/// Records a device report; logs a rollout that paused itself.
pub(super) async fn record(state: &AppState, report: OtaReport) -> Result<(), ApiError> {
    let keep = state.manage.args.history_per_device;
    if let Some(paused) = state
        .store
        .record_ota(report, now_ms(), keep)
        .await
        .map_err(internal)?
    {
        tracing::warn!(
            version = paused.version,
            failures = paused.failures,
            "rollout paused by itself"
        );
    }
    Ok(())
}

/// `POST /ota/initiate/{device_id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub(in crate::http) struct Initiate {
    /// The version the check offered.
    firmware_version: String,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct Initiated {
    success: bool,
    device_id: String,
    /// `{device_id}_{version}_{unix}`.
    session_id: String,
}

/// The device starts downloading an offered version; a session it left in
/// progress (a reboot mid-download) is superseded, not a blocker (F23).
#[utoipa::path(
    post,
    path = "/ota/initiate/{device_id}",
    operation_id = "ota_initiate",
    tag = "firmware",
    security(()),
    request_body = Initiate,
    responses(
        (status = 201, description = "Session started", body = Initiated),
        (status = 400, description = "Malformed (`malformed`)", body = ErrorBody),
        (status = 404, description = "Unknown device or version (`unknown_device`, `unknown_version`)", body = ErrorBody),
        (status = 409, description = "The version is not offered to this device (`not_offered`)", body = ErrorBody),
        (status = 410, description = "Retired device (`device_retired`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn initiate(
    state: &AppState,
    device: &str,
    body: Initiate,
) -> Result<Response, ApiError> {
    admit(state, device, Use::Write).await?;
    let version = body.firmware_version;
    if state
        .store
        .firmware_image(&version)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(unknown_version(&version));
    }
    let rollouts = state.store.rollouts().await.map_err(internal)?;
    let targeted = rollouts.iter().any(|r| {
        r.version == version
            && r.state == crate::store::firmware::RolloutState::Active
            && crate::manage::rollout::targets(&r.target, device)
    });
    if !targeted {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_offered",
            format!("version {version} is not offered to {device}"),
        ));
    }
    let now = now_ms();
    let session_id = format!("{device}_{version}_{}", unix(now));
    let session = state
        .store
        .start_ota(device, &version, &session_id, now)
        .await
        .map_err(internal)?;
    record(
        state,
        OtaReport {
            device_id: device.to_owned(),
            version: Some(version),
            kind: "initiate".into(),
            detail: Some(session.session_id.clone()),
            state: None,
            progress: None,
            failure: false,
        },
    )
    .await?;
    Ok(reply(
        StatusCode::CREATED,
        &Initiated {
            success: true,
            device_id: device.to_owned(),
            session_id: session.session_id,
        },
    ))
}

fn unknown_version(version: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_version",
        format!("no firmware version {version}"),
    )
}

/// `?version=&chunk=` of a chunk download.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::http) struct ChunkQuery {
    /// The version being downloaded.
    version: String,
    /// The chunk index, from 0.
    chunk: u32,
}

/// One chunk of the encrypted image.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct Chunk {
    success: bool,
    device_id: String,
    chunk_index: u32,
    /// Base64 of the chunk's bytes.
    chunk_data: String,
    /// Its length in bytes (2048, the last one shorter).
    chunk_size: usize,
}

/// A 2048-byte slice of the encrypted image, read from storage by itself;
/// only for the version of the device's session.
#[utoipa::path(
    get,
    path = "/ota/chunk/{device_id}",
    operation_id = "ota_chunk",
    tag = "firmware",
    security(()),
    params(ChunkQuery),
    responses(
        (status = 200, description = "The chunk", body = Chunk),
        (status = 400, description = "Missing or bad `version`/`chunk` (`bad_query`)", body = ErrorBody),
        (status = 404, description = "Unknown device, version or chunk (`unknown_device`, `unknown_version`, `unknown_chunk`)", body = ErrorBody),
        (status = 409, description = "No session for this version (`no_session`)", body = ErrorBody),
    ),
)]
pub(in crate::http) async fn chunk(
    state: &AppState,
    device: &str,
    q: ChunkQuery,
) -> Result<Response, ApiError> {
    admit(state, device, Use::Write).await?;
    let session = state.store.ota_session(device).await.map_err(internal)?;
    if !session.is_some_and(|s| s.version == q.version && s.state == "in_progress") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_session",
            format!(
                "no download of {} in progress for {device}; initiate one",
                q.version
            ),
        ));
    }
    let image = state
        .store
        .firmware_image(&q.version)
        .await
        .map_err(internal)?
        .ok_or_else(|| unknown_version(&q.version))?;
    let mut data = state
        .store
        .firmware_chunk(&q.version, q.chunk)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_chunk",
                format!("chunks are 0–{}", image.total_chunks.saturating_sub(1)),
            )
        })?;
    if state.manage.fault() == Some(OtaFault::CorruptChunk)
        && q.chunk == image.total_chunks / 2
        && let Some(b) = data.first_mut()
    {
        *b ^= 0xFF;
    }
    Ok(reply(
        StatusCode::OK,
        &Chunk {
            success: true,
            device_id: device.to_owned(),
            chunk_index: q.chunk,
            chunk_size: data.len(),
            chunk_data: STANDARD.encode(&data),
        },
    ))
}
