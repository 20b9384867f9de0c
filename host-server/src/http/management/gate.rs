//! The door of every device-facing management route: a valid id, the
//! device's request rate, and a device the server knows and has not retired.

use http::StatusCode;

use super::super::error::ApiError;
use crate::app::AppState;
use crate::store::devices::FleetDevice;

/// What a device-facing request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::http) enum Use {
    /// Reads (polls, checks, chunks): an unknown id is answered in fleet-key
    /// mode, where the device registers with its first valid upload.
    Poll,
    /// Writes (reports, results, sessions): only known devices.
    Write,
}

/// Admits a device-facing request for `device`.
///
/// # Errors
/// 400 `bad_device_id`, 429 `rate_limited`, 404 `unknown_device`,
/// 410 `device_retired`, 500.
pub(in crate::http) async fn admit(
    state: &AppState,
    device: &str,
    use_: Use,
) -> Result<Option<FleetDevice>, ApiError> {
    crate::http::segment::check_device_id(device)?;
    if let Some(limiter) = &state.manage.limiter
        && let Err(wait) = limiter.check(device)
    {
        return Err(ApiError {
            retry_after: Some(wait.as_secs().max(1)),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("device {device} is over its request rate"),
            )
        });
    }
    match state
        .store
        .fleet_device(device)
        .await
        .map_err(ApiError::internal)?
    {
        Some(d) if d.retired_ms.is_some() => Err(ApiError::new(
            StatusCode::GONE,
            "device_retired",
            format!("device {device} is retired"),
        )),
        Some(d) => Ok(Some(d)),
        None if state.fleet_mode && use_ == Use::Poll => Ok(None),
        None => Err(ApiError::unknown_device(device)),
    }
}

/// An operator route's device must exist (404 `unknown_device`).
pub(in crate::http) async fn known(state: &AppState, device: &str) -> Result<(), ApiError> {
    crate::http::segment::check_device_id(device)?;
    match state
        .store
        .fleet_device(device)
        .await
        .map_err(ApiError::internal)?
    {
        Some(_) => Ok(()),
        None => Err(ApiError::unknown_device(device)),
    }
}
