//! Online or offline: a device is offline after three upload periods
//! without an upload (its own period, or the server's default).

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::devices::FleetDevice;

/// Upload periods without an upload before a device counts as offline.
pub const MISSED_UPLOADS: u64 = 3;

/// Where a device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// Uploaded within three periods.
    Online,
    /// Silent for longer.
    Offline,
    /// Never uploaded.
    Never,
    /// Retired by an operator (data kept).
    Retired,
}

impl DeviceStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Never => "never",
            Self::Retired => "retired",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Online, Self::Offline, Self::Never, Self::Retired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Silence after which `device` is offline, ms.
pub fn offline_after_ms(device: &FleetDevice, default_interval: Duration) -> u64 {
    silence_ms(device.upload_interval_s, default_interval)
}

/// Silence after which a device with this expected period is offline, ms.
fn silence_ms(upload_interval_s: Option<u32>, default_interval: Duration) -> u64 {
    let period_ms = upload_interval_s.map_or_else(
        || u64::try_from(default_interval.as_millis()).unwrap_or(u64::MAX),
        |s| u64::from(s) * 1000,
    );
    period_ms.saturating_mul(MISSED_UPLOADS)
}

/// The status of `device` at `now_ms`.
pub fn status(device: &FleetDevice, default_interval: Duration, now_ms: u64) -> DeviceStatus {
    if device.retired_ms.is_some() {
        return DeviceStatus::Retired;
    }
    seen_status(
        device.last_seen_ms,
        device.upload_interval_s,
        default_interval,
        now_ms,
    )
}

/// Online, offline or never seen, from the last sight and expected period
/// (a device not retired).
pub fn seen_status(
    last_seen_ms: Option<u64>,
    upload_interval_s: Option<u32>,
    default_interval: Duration,
    now_ms: u64,
) -> DeviceStatus {
    match last_seen_ms {
        None => DeviceStatus::Never,
        Some(seen)
            if now_ms.saturating_sub(seen) > silence_ms(upload_interval_s, default_interval) =>
        {
            DeviceStatus::Offline
        }
        Some(_) => DeviceStatus::Online,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(last_seen_ms: Option<u64>, interval: Option<u32>) -> FleetDevice {
        FleetDevice {
            device_id: "D".into(),
            name: None,
            location: None,
            description: None,
            firmware_version: None,
            created_ms: 0,
            last_seen_ms,
            upload_interval_s: interval,
            retired_ms: None,
            uploads: 0,
            samples: 0,
            key: "own",
            admitted_by: None,
        }
    }

    #[test]
    fn three_missed_periods_make_a_device_offline() {
        let d = Duration::from_secs(15);
        assert_eq!(status(&device(None, None), d, 100_000), DeviceStatus::Never);
        assert_eq!(
            status(&device(Some(55_000), None), d, 100_000),
            DeviceStatus::Online
        );
        assert_eq!(
            status(&device(Some(54_999), None), d, 100_000),
            DeviceStatus::Offline
        );
        assert_eq!(
            status(&device(Some(0), Some(60)), d, 100_000),
            DeviceStatus::Online
        );
        let mut retired = device(Some(99_999), None);
        retired.retired_ms = Some(1);
        assert_eq!(status(&retired, d, 100_000), DeviceStatus::Retired);
    }
}
