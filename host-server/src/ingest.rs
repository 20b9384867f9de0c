//! The request side of ingest: envelope structure, key lookup, MAC, upload
//! JSON, rate limit — then the store decides replay, decodes and commits.
//!
//! The order is the core's contract: structure, then MAC, then replay, so a
//! forged or malformed upload never moves a nonce. The upload routes take
//! both envelopes, told apart by the first byte: the firmware's JSON
//! envelope (v1) and envelope v2 (version byte `0x02`, `docs/envelope-v2.md`:
//! key id with rotation overlap, device time within the clock-skew window,
//! 64-bit counter). Authentication failures
//! share one outward answer ([`Refusal::Unauthenticated`]); the precise core
//! code goes to the log only, never a key or a MAC. A refusal carries no
//! HTTP: `http/` maps it to a status.

use std::time::Duration;

use bytes::Bytes;
use solarwire_core::envelope::{Envelope, EnvelopeError, Verified};
use solarwire_core::envelope_v2::{Content, EnvelopeV2Error, OpenedV2, is_v2, open_v2, peek_v2};
use solarwire_core::upload::{Format, Upload, UploadError, attribute, is_bare_body};

use crate::app::AppState;
use crate::clock::now_ms;
use crate::keys::Resolved;
use crate::store::{IngestError, IngestJob, IngestOutcome, Replayed, Seal};

/// Why an upload was refused; nothing was stored and no nonce moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A device id that is not a valid id (`bad_device_id`).
    BadDeviceId(String),
    /// A body of the wrong shape: the core's code (`malformed`,
    /// `bad_base64`, `bad_mac_encoding`) and what was wrong.
    Malformed {
        /// The core's code.
        code: &'static str,
        /// What was wrong.
        message: String,
    },
    /// Over a packet or value limit (`too_large`).
    TooLarge(String),
    /// Not authenticated (`unauthorized`); the reason is only logged.
    Unauthenticated,
    /// Over the device's upload rate (`rate_limited`).
    RateLimited {
        /// The device.
        device: String,
        /// How long until it may upload again.
        wait: Duration,
    },
    /// A nonce or counter not greater than the last accepted one (`replay`).
    Replay(Replayed),
    /// An authentic envelope v2 whose device time is outside the server's
    /// clock-skew window (`clock_skew`): the device's clock needs a sync.
    ClockSkew,
    /// The write queue is full (`busy`).
    Busy,
    /// Storage failed (`unavailable`).
    Unavailable,
}

impl Refusal {
    /// The stable code counted in telemetry and answered to the client.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadDeviceId(_) => "bad_device_id",
            Self::Malformed { code, .. } => code,
            Self::TooLarge(_) => "too_large",
            Self::Unauthenticated => "unauthorized",
            Self::RateLimited { .. } => "rate_limited",
            Self::Replay(e) => e.code(),
            Self::ClockSkew => "clock_skew",
            Self::Busy => "busy",
            Self::Unavailable => "unavailable",
        }
    }

    /// A core error's code and message as [`Self::Malformed`].
    fn malformed(code: &'static str, message: &impl std::fmt::Display) -> Self {
        Self::Malformed {
            code,
            message: message.to_string(),
        }
    }
}

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
/// Why the upload was refused; nothing was stored.
pub async fn ingest(state: &AppState, route: Route, body: Bytes) -> Result<IngestOutcome, Refusal> {
    let device = match &route {
        Route::Aggregated(device) => Some(device.clone()),
        Route::Legacy => None,
    };
    let result = run(state, route, body).await;
    match &result {
        Ok(IngestOutcome::Stored(summary)) => state.telemetry.stored(summary),
        Ok(IngestOutcome::Duplicate(_)) => state.telemetry.duplicate(),
        Err(e) => {
            state.telemetry.rejected(e.code());
            if let Some(device) = &device {
                state.rejections.record(device, e.code());
            }
        }
    }
    result
}

async fn run(state: &AppState, route: Route, body: Bytes) -> Result<IngestOutcome, Refusal> {
    let received_ms = now_ms();
    let job = match route {
        Route::Aggregated(device) => aggregated(state, device, body, received_ms).await?,
        Route::Legacy => legacy(state, body, received_ms).await?,
    };
    if let Some(limiter) = &state.rate
        && let Err(wait) = limiter.check(&job.device)
    {
        return Err(Refusal::RateLimited {
            device: job.device,
            wait,
        });
    }
    let device = job.device.clone();
    state.store.ingest(job).await.map_err(|e| match e {
        IngestError::UnknownDevice => auth_failure(&device, "unknown_device"),
        IngestError::Replay(e) => Refusal::Replay(e),
        IngestError::Busy => Refusal::Busy,
        IngestError::Unavailable(reason) => {
            tracing::error!(%reason, "store unavailable");
            Refusal::Unavailable
        }
    })
}

async fn aggregated(
    state: &AppState,
    device: String,
    body: Bytes,
    received_ms: u64,
) -> Result<IngestJob, Refusal> {
    check_device(&device)?;
    if is_v2(&body) {
        return aggregated_v2(state, device, body, received_ms).await;
    }
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

/// An envelope v2 on an upload route: structure, then the device's key by
/// key id at the receive time, tag, decryption and device time (the core's
/// `open_v2`); its plaintext is an upload JSON bound to the path's device.
async fn aggregated_v2(
    state: &AppState,
    device: String,
    body: Bytes,
    received_ms: u64,
) -> Result<IngestJob, Refusal> {
    let header = peek_v2(&body).map_err(v2_structure_error)?;
    if header.content != Content::Json {
        return Err(Refusal::malformed(
            "malformed",
            &"an upload route takes an envelope v2 whose content is an upload JSON",
        ));
    }
    let resolved = resolve(state, &device).await?;
    let ring = resolved
        .envelope
        .as_ref()
        .ok_or_else(|| auth_failure(&device, "missing_key"))?;
    let opened = open_v2(&body, ring, received_ms, state.clock_skew).map_err(|e| match e {
        EnvelopeV2Error::ClockSkew => {
            tracing::warn!(device, "envelope v2 device time outside the skew window");
            Refusal::ClockSkew
        }
        EnvelopeV2Error::Malformed { .. } | EnvelopeV2Error::TooLarge { .. } => {
            v2_structure_error(e)
        }
        _ => auth_failure(&device, e.code()),
    })?;
    let upload = parse_upload(state, &opened.plaintext)?;
    bind(&device, &upload)?;
    let OpenedV2 { header, tag, .. } = opened;
    Ok(IngestJob {
        device,
        auto_register: None,
        seal: Some(Seal::V2 {
            counter: header.counter,
            tag,
        }),
        format: Format::Aggregated,
        upload,
        raw: body,
        received_ms,
    })
}

/// Legacy bodies carry the device id inside the JSON. An unencrypted
/// payload is read (unauthenticated) only to pick the device's key; the
/// MAC then authenticates it. An encrypted one can only be opened with the
/// fleet key.
async fn legacy(state: &AppState, body: Bytes, received_ms: u64) -> Result<IngestJob, Refusal> {
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
) -> Result<IngestJob, Refusal> {
    if !state.allow_unsigned_legacy {
        return Err(auth_failure("(unsigned legacy)", "unsigned_upload"));
    }
    let upload = parse_upload(state, &body)?;
    let device = legacy_device(&upload)?;
    let resolved = resolve(state, &device).await?;
    if resolved.auto_register.is_some() {
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
        auto_register: resolved.auto_register.clone(),
        seal: verified.map(|v| Seal::V1 {
            nonce: v.nonce,
            mac: v.mac,
        }),
        format,
        upload,
        raw,
        received_ms,
    }
}

fn check_device(device: &str) -> Result<(), Refusal> {
    crate::device_id::check(device).map_err(Refusal::BadDeviceId)
}

fn legacy_device(upload: &Upload) -> Result<String, Refusal> {
    let device = upload
        .device_id
        .clone()
        .ok_or_else(|| Refusal::malformed("malformed", &"the upload has no device_id"))?;
    check_device(&device)?;
    Ok(device)
}

async fn resolve(state: &AppState, device: &str) -> Result<Resolved, Refusal> {
    match state.keys.resolve(device).await {
        Ok(Some(resolved)) => Ok((*resolved).clone()),
        Ok(None) => Err(auth_failure(device, "unknown_device")),
        Err(e) => {
            tracing::error!(error = %e, "key lookup failed");
            Err(Refusal::Unavailable)
        }
    }
}

fn open(envelope: Envelope, resolved: &Resolved, device: &str) -> Result<Verified, Refusal> {
    envelope.open(&resolved.keys).map_err(|e| match e {
        // Only reported after the MAC verified: an authentic but broken payload.
        EnvelopeError::Malformed { .. } => Refusal::malformed(e.code(), &e),
        _ => auth_failure(device, e.code()),
    })
}

fn parse_upload(state: &AppState, json: &[u8]) -> Result<Upload, Refusal> {
    Upload::parse(json, &state.limits).map_err(|e| match e {
        UploadError::TooLarge { .. } => Refusal::TooLarge(e.to_string()),
        _ => Refusal::malformed(e.code(), &e),
    })
}

/// The MAC-covered `device_id` must name the path's device (checked after
/// the MAC, before replay): a 401 like any other authentication failure.
fn bind(device: &str, upload: &Upload) -> Result<(), Refusal> {
    attribute(
        Format::Aggregated,
        Some(device),
        upload.device_id.as_deref(),
    )
    .map(drop)
    .map_err(|e| auth_failure(device, e.code()))
}

fn structure_error(e: EnvelopeError) -> Refusal {
    Refusal::malformed(e.code(), &e)
}

/// An envelope v2 of the wrong structure or size (nothing secret was used).
fn v2_structure_error(e: EnvelopeV2Error) -> Refusal {
    match e {
        EnvelopeV2Error::TooLarge { .. } => Refusal::TooLarge(e.to_string()),
        _ => Refusal::malformed(e.code(), &e),
    }
}

/// [`Refusal::Unauthenticated`] outward, the precise reason in the log.
fn auth_failure(device: &str, reason: &'static str) -> Refusal {
    tracing::warn!(device, reason, "upload not authenticated");
    Refusal::Unauthenticated
}
