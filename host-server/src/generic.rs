//! Generic devices (the IoTFlow contract): the settings, the device keys
//! and the rules a submitted reading must follow. The routes are in
//! `http::generic_devices` and `http::generic_admin`, the storage in
//! `store::generic`.

use clap::{Args, ValueEnum};
use serde::Deserialize;

use crate::auth::opaque;
use crate::store::generic::{NewDeviceKey, NewReading};

/// Prefix of a generic device's API key (`swd_…`), so it is told apart
/// from a user's API key (`swk_…`) in the same `X-API-Key` header.
pub const KEY_PREFIX: &str = "swd_";
/// Longest channel name, `type` and message id.
pub const MAX_NAME: usize = 64;
/// Longest metadata, as JSON text.
pub const MAX_METADATA: usize = 4096;

/// Who may register a generic device (`POST /api/v1/devices/register`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Registration {
    /// Nobody: the route answers 403.
    Off,
    /// Anyone who can reach the server.
    Open,
    /// Whoever presents the registration token (`X-Registration-Token`).
    Token,
}

/// Generic device settings.
#[derive(Debug, Clone, Args)]
pub struct GenericArgs {
    /// Whether devices may register themselves with
    /// `POST /api/v1/devices/register`: `off`, `open` (anyone) or `token`
    /// (with the `--device-registration-token` an admin hands out).
    #[arg(
        long,
        env = "SOLARWIRE_DEVICE_REGISTRATION",
        value_enum,
        default_value = "off"
    )]
    pub device_registration: Registration,

    /// The registration token for `--device-registration token`, sent as
    /// `X-Registration-Token` (16+ characters). Prefer the variable.
    #[arg(
        long,
        env = "SOLARWIRE_DEVICE_REGISTRATION_TOKEN",
        hide_env_values = true
    )]
    pub device_registration_token: Option<String>,

    /// Requests per minute per generic device key (telemetry aside); over
    /// it, 429 with `Retry-After`. 0: no limit.
    #[arg(long, env = "SOLARWIRE_GENERIC_RATE", default_value_t = 60)]
    pub generic_rate: u64,

    /// Telemetry submissions per minute per generic device key. 0: no limit.
    #[arg(long, env = "SOLARWIRE_GENERIC_TELEMETRY_RATE", default_value_t = 100)]
    pub generic_telemetry_rate: u64,

    /// Named channels a generic device may have at most.
    #[arg(long, env = "SOLARWIRE_GENERIC_MAX_CHANNELS", default_value_t = 32)]
    pub generic_max_channels: usize,

    /// Days a generic device key is valid (0: no expiry).
    #[arg(long, env = "SOLARWIRE_GENERIC_KEY_DAYS", default_value_t = 365)]
    pub generic_key_days: u64,
}

impl GenericArgs {
    /// A new key for a device and what the store keeps of it, valid from `now_ms`.
    ///
    /// # Errors
    /// When the OS has no randomness to give.
    pub fn new_key(&self, now_ms: u64) -> Result<(String, NewDeviceKey), getrandom::Error> {
        let (key, hash) = opaque::generate(KEY_PREFIX)?;
        let expires_ms = (self.generic_key_days > 0)
            .then(|| now_ms.saturating_add(self.generic_key_days.saturating_mul(86_400_000)));
        Ok((key, NewDeviceKey { hash, expires_ms }))
    }
}

/// `POST /api/v1/devices/telemetry`'s body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryBody {
    /// Numbers by channel name (`{"temperature": 22.5}`).
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// Free-form metadata (`{"battery_level": 85}`).
    #[schema(value_type = Object)]
    pub metadata: Option<serde_json::Value>,
    /// What kind of data (`sensor`, default `telemetry`).
    #[serde(rename = "type")]
    pub data_type: Option<String>,
    /// Sample time: Unix ms or an RFC 3339 time (default: when received).
    #[schema(value_type = Object)]
    pub timestamp: Option<serde_json::Value>,
    /// A client message id: a resend with the same id is answered as a duplicate.
    pub message_id: Option<String>,
}

/// Why a reading is refused (400 `bad_telemetry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadReading(pub String);

/// Whether `name` is a usable channel name, type or message id.
pub fn good_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':');
    !name.is_empty() && name.len() <= MAX_NAME && name.chars().all(allowed)
}

/// Checks a submitted body and makes the reading to store, dated
/// `received_ms` unless it carries its time; `max_channels` per device.
///
/// # Errors
/// A value that is not a finite number, a bad name or time, no values,
/// metadata too long.
pub fn reading(
    body: TelemetryBody,
    received_ms: u64,
    max_channels: usize,
) -> Result<NewReading, BadReading> {
    let bad = |m: String| Err(BadReading(m));
    if body.data.is_empty() {
        return bad("`data` holds no values".into());
    }
    if body.data.len() > max_channels {
        return bad(format!("`data` holds more than {max_channels} channels"));
    }
    let mut values = Vec::with_capacity(body.data.len());
    for (name, v) in body.data {
        if !good_name(&name) {
            return bad(format!(
                "channel {name:?}: 1 to {MAX_NAME} characters of A-Z a-z 0-9 _ . - :"
            ));
        }
        match v.as_f64().filter(|f| f.is_finite()) {
            Some(f) => values.push((name, f)),
            None => return bad(format!("channel {name:?}: {v} is not a number")),
        }
    }
    let data_type = body.data_type.unwrap_or_else(|| "telemetry".into());
    if !good_name(&data_type) {
        return bad("`type`: 1 to 64 characters of A-Z a-z 0-9 _ . - :".into());
    }
    if let Some(id) = &body.message_id
        && !good_name(id)
    {
        return bad("`message_id`: 1 to 64 characters of A-Z a-z 0-9 _ . - :".into());
    }
    if let Some(m) = &body.metadata
        && (!m.is_object() || m.to_string().len() > MAX_METADATA)
    {
        return bad(format!(
            "`metadata` must be an object of at most {MAX_METADATA} bytes"
        ));
    }
    let t_ms = match &body.timestamp {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => Some(n.as_u64().ok_or(())),
        Some(serde_json::Value::String(s)) => Some(
            s.parse::<jiff::Timestamp>()
                .ok()
                .and_then(|t| u64::try_from(t.as_millisecond()).ok())
                .ok_or(()),
        ),
        Some(_) => Some(Err(())),
    };
    let t_ms = match t_ms {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(())) => return bad("`timestamp`: Unix ms or an RFC 3339 time".into()),
    };
    Ok(NewReading {
        t_ms: t_ms.unwrap_or(received_ms),
        device_time: t_ms.is_some(),
        values,
        metadata: body.metadata,
        data_type,
        message_id: body.message_id,
        max_channels,
    })
}

/// An RFC 3339 UTC time of Unix ms.
pub fn rfc3339(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(String::new, |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> TelemetryBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn readings_are_checked() {
        let r = reading(
            body(
                r#"{"data":{"temperature":22.5,"humidity":65},"type":"sensor","message_id":"m-1"}"#,
            ),
            1000,
            8,
        )
        .unwrap();
        assert_eq!(r.values.len(), 2);
        assert_eq!((r.t_ms, r.device_time), (1000, false));
        assert_eq!(r.message_id.as_deref(), Some("m-1"));
        let dated = reading(
            body(r#"{"data":{"t":1},"timestamp":"2026-01-01T00:00:00Z"}"#),
            5,
            8,
        )
        .unwrap();
        assert_eq!((dated.t_ms, dated.device_time), (1_767_225_600_000, true));
        for refused in [
            r#"{"data":{}}"#,
            r#"{"data":{"t":"hot"}}"#,
            r#"{"data":{"bad name":1}}"#,
            r#"{"data":{"t":1},"timestamp":"yesterday"}"#,
            r#"{"data":{"t":1},"metadata":[1]}"#,
            r#"{"data":{"a":1,"b":2,"c":3}}"#,
        ] {
            assert!(reading(body(refused), 0, 2).is_err(), "{refused}");
        }
        assert!(serde_json::from_str::<TelemetryBody>(r#"{"data":{},"x":1}"#).is_err());
    }
}
