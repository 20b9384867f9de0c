//! The request side of ingest: envelope structure, key lookup, MAC, upload
//! JSON, rate limit — then the store decides replay, decodes and commits.
//!
//! The order is the core's contract: structure, then MAC, then replay, so a
//! forged or malformed upload never moves a nonce. Authentication failures
//! share one outward answer (401 `unauthorized`); the precise core code goes
//! to the log only, never a key or a MAC.

use bytes::Bytes;
use http::StatusCode;
use solarwire_core::envelope::{Envelope, EnvelopeError, Verified};
use solarwire_core::upload::{Format, Upload, UploadError, attribute, is_bare_body};

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::error::ApiError;
use crate::keys::Resolved;
use crate::store::{IngestError, IngestJob, IngestOutcome};

/// Which upload endpoint received the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /aggregated/{id}` or `POST /api/v1/devices/{id}/uploads`.
    Aggregated(String),
    /// `POST /process` (device id inside the JSON).
    Legacy,
}

/// Runs one upload through the pipeline and counts the outcome.
///
/// # Errors
/// The HTTP error to answer with; nothing was stored.
pub async fn ingest(
    state: &AppState,
    route: Route,
    body: Bytes,
) -> Result<IngestOutcome, ApiError> {
    let device = match &route {
        Route::Aggregated(device) => Some(device.clone()),
        Route::Legacy => None,
    };
    let result = run(state, route, body).await;
    match &result {
        Ok(IngestOutcome::Stored(summary)) => state.telemetry.stored(summary),
        Ok(IngestOutcome::Duplicate(_)) => state.telemetry.duplicate(),
        Err(e) => {
            state.telemetry.rejected(e.code);
            if let Some(device) = &device {
                state.rejections.record(device, e.code);
            }
        }
    }
    result
}

async fn run(state: &AppState, route: Route, body: Bytes) -> Result<IngestOutcome, ApiError> {
    let received_ms = now_ms();
    let job = match route {
        Route::Aggregated(device) => aggregated(state, device, body, received_ms).await?,
        Route::Legacy => legacy(state, body, received_ms).await?,
    };
    if let Some(limiter) = &state.rate
        && let Err(wait) = limiter.check(&job.device)
    {
        return Err(ApiError::rate_limited(
            format!("device {} is over its upload rate", job.device),
            wait,
        ));
    }
    let device = job.device.clone();
    state.store.ingest(job).await.map_err(|e| match e {
        IngestError::UnknownDevice => auth_failure(&device, "unknown_device"),
        IngestError::Replay(e) => ApiError::new(StatusCode::CONFLICT, e.code(), e.to_string()),
        IngestError::Busy => ApiError::unavailable("busy", "the write queue is full", 1),
        IngestError::Unavailable(reason) => {
            tracing::error!(%reason, "store unavailable");
            ApiError::unavailable("unavailable", "storage is unavailable", 5)
        }
    })
}

async fn aggregated(
    state: &AppState,
    device: String,
    body: Bytes,
    received_ms: u64,
) -> Result<IngestJob, ApiError> {
    check_device(&device)?;
    let envelope = Envelope::parse(&body).map_err(structure_error)?;
    let resolved = resolve(state, &device).await?;
    let verified = open(envelope, &resolved, &device)?;
    let upload = parse_upload(state, &verified.payload)?;
    bind(&device, &upload)?;
    Ok(job(
        device,
        &resolved,
        Some(&verified),
        Format::Aggregated,
        upload,
        body,
        received_ms,
    ))
}

/// Legacy bodies carry the device id inside the JSON. An unencrypted
/// payload is read (unauthenticated) only to pick the device's key; the
/// MAC then authenticates it. An encrypted one can only be opened with the
/// fleet key.
async fn legacy(state: &AppState, body: Bytes, received_ms: u64) -> Result<IngestJob, ApiError> {
    let envelope = match Envelope::parse(&body) {
        Ok(envelope) => envelope,
        Err(_) if is_bare_body(&body) => return unsigned_legacy(state, body, received_ms).await,
        Err(e) => return Err(structure_error(e)),
    };
    let claimed = envelope
        .unverified_plaintext()
        .map(|text| parse_upload(state, text))
        .transpose()?;
    let (upload, resolved, verified) = match claimed {
        Some(upload) => {
            let device = legacy_device(&upload)?;
            let resolved = resolve(state, &device).await?;
            let verified = open(envelope, &resolved, &device)?;
            (upload, resolved, verified)
        }
        None => {
            let fleet = state
                .keys
                .fleet()
                .ok_or_else(|| auth_failure("(encrypted legacy)", "missing_key"))?;
            let verified = open(envelope, &fleet, "(encrypted legacy)")?;
            let upload = parse_upload(state, &verified.payload)?;
            let device = legacy_device(&upload)?;
            let resolved = resolve(state, &device).await?;
            if resolved.keys != fleet.keys {
                return Err(auth_failure(&device, "mac_mismatch"));
            }
            (upload, resolved, verified)
        }
    };
    let device = legacy_device(&upload)?;
    Ok(job(
        device,
        &resolved,
        Some(&verified),
        Format::LegacyProcess,
        upload,
        body,
        received_ms,
    ))
}

async fn unsigned_legacy(
    state: &AppState,
    body: Bytes,
    received_ms: u64,
) -> Result<IngestJob, ApiError> {
    if !state.allow_unsigned_legacy {
        return Err(auth_failure("(unsigned legacy)", "unsigned_upload"));
    }
    let upload = parse_upload(state, &body)?;
    let device = legacy_device(&upload)?;
    let resolved = resolve(state, &device).await?;
    if resolved.auto_register {
        // Unauthenticated bodies never create devices.
        return Err(auth_failure(&device, "unknown_device"));
    }
    Ok(job(
        device,
        &resolved,
        None,
        Format::LegacyProcess,
        upload,
        body,
        received_ms,
    ))
}

fn job(
    device: String,
    resolved: &Resolved,
    verified: Option<&Verified>,
    format: Format,
    upload: Upload,
    raw: Bytes,
    received_ms: u64,
) -> IngestJob {
    IngestJob {
        device,
        auto_register: resolved.auto_register,
        seal: verified.map(|v| (v.nonce, v.mac)),
        format,
        upload,
        raw,
        received_ms,
    }
}

fn check_device(device: &str) -> Result<(), ApiError> {
    crate::device_id::check(device).map_err(|m| ApiError::bad_request("bad_device_id", m))
}

fn legacy_device(upload: &Upload) -> Result<String, ApiError> {
    let device = upload
        .device_id
        .clone()
        .ok_or_else(|| ApiError::bad_request("malformed", "the upload has no device_id"))?;
    check_device(&device)?;
    Ok(device)
}

async fn resolve(state: &AppState, device: &str) -> Result<Resolved, ApiError> {
    match state.keys.resolve(device).await {
        Ok(Some(resolved)) => Ok((*resolved).clone()),
        Ok(None) => Err(auth_failure(device, "unknown_device")),
        Err(e) => {
            tracing::error!(error = %e, "key lookup failed");
            Err(ApiError::unavailable(
                "unavailable",
                "storage is unavailable",
                5,
            ))
        }
    }
}

fn open(envelope: Envelope, resolved: &Resolved, device: &str) -> Result<Verified, ApiError> {
    envelope.open(&resolved.keys).map_err(|e| match e {
        // Only reported after the MAC verified: an authentic but broken payload.
        EnvelopeError::Malformed { .. } => ApiError::bad_request(e.code(), e.to_string()),
        _ => auth_failure(device, e.code()),
    })
}

fn parse_upload(state: &AppState, json: &[u8]) -> Result<Upload, ApiError> {
    Upload::parse(json, &state.limits).map_err(|e| match e {
        UploadError::TooLarge { .. } => ApiError::too_large(e.to_string()),
        _ => ApiError::bad_request(e.code(), e.to_string()),
    })
}

/// The MAC-covered `device_id` must name the path's device (checked after
/// the MAC, before replay): a 401 like any other authentication failure.
fn bind(device: &str, upload: &Upload) -> Result<(), ApiError> {
    attribute(
        Format::Aggregated,
        Some(device),
        upload.device_id.as_deref(),
    )
    .map(drop)
    .map_err(|e| auth_failure(device, e.code()))
}

fn structure_error(e: EnvelopeError) -> ApiError {
    ApiError::bad_request(e.code(), e.to_string())
}

/// 401 outward, the precise reason in the log.
fn auth_failure(device: &str, reason: &'static str) -> ApiError {
    tracing::warn!(device, reason, "upload not authenticated");
    ApiError::unauthorized()
}
