//! Generic devices (the IoTFlow contract): sensors that register
//! themselves, authenticate with an API key and send JSON readings of
//! named numeric channels.
//!
//! A generic device is a row of the fleet's `devices` (id `generic-N`, so
//! the series, CSV and fleet views see it) with its IoTFlow fields and
//! keys beside it. Its readings are stored like the firmware's samples:
//! one upload row each, the values as named channels of the telemetry
//! block codec ([`super::blocks`]). Keys reach the store only as SHA-256
//! digests.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::StoreError;
use super::access::TokenHash;

/// Prefix of a generic device's id in the fleet (`generic-7`).
pub const DEVICE_ID_PREFIX: &str = "generic-";

/// Length of a rate-limit window, ms.
pub const RATE_WINDOW_MS: u64 = 60_000;

/// The fleet device id of generic device `id`.
pub fn device_id(id: i64) -> String {
    format!("{DEVICE_ID_PREFIX}{id}")
}

/// A generic device's operating status (IoTFlow's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GenericStatus {
    /// In service: its key works.
    Active,
    /// Switched off by an operator: its key is refused.
    Inactive,
    /// Being serviced: its key works, no offline alerts.
    Maintenance,
}

impl GenericStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Maintenance => "maintenance",
        }
    }

    /// Reads the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "inactive" => Some(Self::Inactive),
            "maintenance" => Some(Self::Maintenance),
            _ => None,
        }
    }
}

/// A device's key as the store keeps it (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KeyRecord {
    /// Whether it is usable (not revoked).
    pub is_active: bool,
    /// When it stops working, Unix ms (`null`: never).
    pub expires_ms: Option<u64>,
    /// When it was issued, Unix ms.
    pub created_ms: u64,
    /// Its last use, Unix ms.
    pub last_used_ms: Option<u64>,
    /// Requests authenticated with it.
    pub usage_count: u64,
}

/// A generic device.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GenericDevice {
    /// Its number (IoTFlow's `id`).
    pub id: i64,
    /// Its id in the fleet's views (`generic-N`): series, CSV, stream.
    pub device_id: String,
    /// Its unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// `sensor`, `actuator`, `camera`, …
    pub device_type: String,
    /// Operating status.
    pub status: GenericStatus,
    /// Where it is.
    pub location: Option<String>,
    /// Firmware version it reported.
    pub firmware_version: Option<String>,
    /// Hardware version it reported.
    pub hardware_version: Option<String>,
    /// The configuration it last sent (`PUT /api/v1/devices/config`).
    #[schema(value_type = Object)]
    pub config: Option<serde_json::Value>,
    /// Created, Unix ms.
    pub created_ms: u64,
    /// Last changed, Unix ms.
    pub updated_ms: u64,
    /// Its last request of any kind, Unix ms.
    pub last_seen_ms: Option<u64>,
    /// Its last heartbeat, Unix ms.
    pub last_heartbeat_ms: Option<u64>,
    /// The expected period between its requests, seconds, when an operator
    /// set one (`PATCH /api/v1/devices/{device_id}`): it is offline after
    /// three silent periods, as every device of the fleet.
    pub upload_interval_s: Option<u32>,
    /// Readings stored.
    pub readings: u64,
    /// Its current key (`null` once revoked and not rotated).
    pub key: Option<KeyRecord>,
}

/// A device registering itself (or added by an operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGenericDevice {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Kind of device.
    pub device_type: String,
    /// Where it is.
    pub location: Option<String>,
    /// Firmware version.
    pub firmware_version: Option<String>,
    /// Hardware version.
    pub hardware_version: Option<String>,
    /// Channels declared up front, with their units.
    pub channels: Vec<(String, Option<String>)>,
}

/// A key to store: its digest and expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewDeviceKey {
    /// SHA-256 of the key.
    pub hash: TokenHash,
    /// When it stops working, Unix ms.
    pub expires_ms: Option<u64>,
}

/// What a request with a key counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateScope {
    /// A device request other than telemetry.
    Request,
    /// A telemetry submission.
    Telemetry,
}

impl RateScope {
    /// The stored name of the scope's counter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Telemetry => "telemetry",
        }
    }
}

/// A key presented by a device.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyCheck {
    /// No such key (or its device is gone).
    Unknown,
    /// Revoked, replaced or its device is switched off.
    Revoked,
    /// Past its expiry.
    Expired,
    /// Good: its device, and the requests of the scope counted in this
    /// minute's window.
    Valid {
        /// The device.
        device: Box<GenericDevice>,
        /// The device's requests of this scope in the window, this one included.
        count: u64,
        /// The window's start, Unix ms.
        window_ms: u64,
    },
}

/// Operator or device changes to a generic device; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenericPatch {
    /// Unique name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Kind of device.
    pub device_type: Option<String>,
    /// Operating status.
    pub status: Option<GenericStatus>,
    /// Where it is.
    pub location: Option<String>,
    /// Firmware version.
    pub firmware_version: Option<String>,
    /// Hardware version.
    pub hardware_version: Option<String>,
}

/// One reading to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReading {
    /// Sample time, Unix ms (the receive time when the device sent none).
    pub t_ms: u64,
    /// Whether `t_ms` came from the device.
    pub device_time: bool,
    /// Values by channel name, in the order sent.
    pub values: Vec<(String, f64)>,
    /// Free-form metadata (`battery_level`, …).
    pub metadata: Option<serde_json::Value>,
    /// IoTFlow's `type`.
    pub data_type: String,
    /// A client message id: a resend with the same id is a duplicate.
    pub message_id: Option<String>,
    /// Channels a device may have at most.
    pub max_channels: usize,
}

/// A stored reading.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Reading {
    /// Its upload id.
    pub id: i64,
    /// Sample time, Unix ms.
    pub t_ms: u64,
    /// When the server stored it, Unix ms.
    pub received_ms: u64,
    /// The device it came from (`generic-N`).
    pub device_id: String,
    /// Values by channel name.
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// Metadata as sent.
    #[schema(value_type = Object)]
    pub metadata: Option<serde_json::Value>,
    /// IoTFlow's `type`.
    #[serde(rename = "type")]
    pub data_type: String,
    /// The client message id, when sent.
    pub message_id: Option<String>,
}

/// What storing a reading did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadingOutcome {
    /// Stored as a new reading with this upload id.
    Stored(i64),
    /// The message id was seen before: the earlier reading's upload id.
    Duplicate(i64),
    /// It would take the device past its channel limit; nothing stored.
    TooManyChannels,
    /// No such device.
    UnknownDevice,
}

/// Which readings to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadingQuery {
    /// One device only.
    pub device: Option<i64>,
    /// One `type` only.
    pub data_type: Option<String>,
    /// Sample time at or after, Unix ms.
    pub from_ms: Option<u64>,
    /// Sample time before, Unix ms.
    pub to_ms: Option<u64>,
    /// Readings to skip.
    pub offset: u64,
    /// Readings at most.
    pub limit: u64,
}

/// One channel of a generic device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NamedChannel {
    /// Its name.
    pub name: String,
    /// Its unit, when declared.
    pub unit: Option<String>,
}

/// Fleet statistics of generic devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenericCounts {
    /// Devices by status.
    pub by_status: Vec<(String, u64)>,
    /// Devices by type.
    pub by_type: Vec<(String, u64)>,
    /// Readings per hour (hour start Unix ms, count), oldest first.
    pub per_hour: Vec<(u64, u64)>,
    /// The devices with the most readings since `since`: (id, name, readings).
    pub top: Vec<(i64, String, u64)>,
}

/// Why a device could not be added or changed.
#[derive(Debug)]
pub enum GenericError {
    /// Another device has that name.
    NameTaken,
    /// Storage failed.
    Store(StoreError),
}

impl From<StoreError> for GenericError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Storage of generic devices, their keys and readings.
pub trait GenericStore: Send + Sync {
    /// Adds a device with its first key.
    fn add_generic(
        &self,
        device: NewGenericDevice,
        key: NewDeviceKey,
    ) -> BoxFuture<'_, Result<GenericDevice, GenericError>>;
    /// Checks a presented key's digest: counts the use (last use, use count,
    /// the minute's request window of `scope`) and the device's last sight.
    fn use_key(
        &self,
        hash: TokenHash,
        scope: RateScope,
    ) -> BoxFuture<'_, Result<KeyCheck, StoreError>>;
    /// Replaces a device's key (the old one stops working); `false` when unknown.
    fn rotate_generic_key(
        &self,
        id: i64,
        key: NewDeviceKey,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Revokes a device's key; `false` when unknown or no active key.
    fn revoke_generic_key(&self, id: i64) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Every generic device, in id order.
    fn generic_devices(&self) -> BoxFuture<'_, Result<Vec<GenericDevice>, StoreError>>;
    /// One generic device.
    fn generic_device(&self, id: i64) -> BoxFuture<'_, Result<Option<GenericDevice>, StoreError>>;
    /// Applies changes; `None` when unknown.
    fn update_generic(
        &self,
        id: i64,
        patch: GenericPatch,
    ) -> BoxFuture<'_, Result<Option<GenericDevice>, GenericError>>;
    /// Deletes a device, its keys and its readings; `false` when unknown.
    fn delete_generic(&self, id: i64) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Records a heartbeat now.
    fn generic_heartbeat(&self, id: i64) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Stores the configuration a device sent.
    fn set_generic_config(
        &self,
        id: i64,
        config: serde_json::Value,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Stores one reading durably, with its upload row and block.
    fn add_reading(
        &self,
        id: i64,
        reading: NewReading,
    ) -> BoxFuture<'_, Result<ReadingOutcome, StoreError>>;
    /// Readings newest first, with the total that match.
    fn readings(
        &self,
        query: ReadingQuery,
    ) -> BoxFuture<'_, Result<(Vec<Reading>, u64), StoreError>>;
    /// A device's channels, in id order (`device` is the fleet id).
    fn named_channels(&self, device: &str) -> BoxFuture<'_, Result<Vec<NamedChannel>, StoreError>>;
    /// Values of one named channel of a device (fleet id) in `[from, to)`,
    /// oldest first, at most `limit`: `(t_ms, value)`.
    fn channel_points(
        &self,
        device: &str,
        channel: &str,
        range: (u64, u64),
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, f64)>, StoreError>>;
    /// Fleet statistics; readings per hour and top talkers since `since_ms`.
    fn generic_counts(&self, since_ms: u64) -> BoxFuture<'_, Result<GenericCounts, StoreError>>;
}

/// The values of a reading's channels as JSON, by name.
pub fn data_json(values: &[(String, f64)]) -> serde_json::Map<String, serde_json::Value> {
    values
        .iter()
        .map(|(name, v)| (name.clone(), serde_json::json!(v)))
        .collect()
}

/// What a reading's upload row records besides its values (the `body`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadingEnvelope {
    /// IoTFlow's `type`.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Metadata as sent.
    pub metadata: Option<serde_json::Value>,
    /// The client message id.
    pub message_id: Option<String>,
}

/// A stored reading from its upload row `(id, device id, received)`, its
/// `report` ([`ReadingEnvelope`] as JSON) and its block, with the device's
/// channel names by id.
///
/// # Errors
/// A block or report that does not decode.
pub fn reading(
    (id, device_id, received_ms): (i64, String, u64),
    report: &str,
    block: &[u8],
    names: &std::collections::HashMap<u32, String>,
) -> Result<Reading, StoreError> {
    let envelope: ReadingEnvelope = serde_json::from_str(report)
        .map_err(|e| StoreError::new(format!("a reading's report: {e}")))?;
    let sample = super::blocks::decode(block)?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::new("a reading's block is empty"))?;
    let values: Vec<(String, f64)> = sample
        .named
        .iter()
        .map(|(c, v)| (names.get(c).cloned().unwrap_or_else(|| c.to_string()), *v))
        .collect();
    Ok(Reading {
        id,
        t_ms: sample.t_ms,
        received_ms,
        device_id,
        data: data_json(&values),
        metadata: envelope.metadata,
        data_type: envelope.data_type,
        message_id: envelope.message_id,
    })
}

/// A reading as a block sample of named channels, by the device's channel ids.
pub fn reading_sample(
    reading: &NewReading,
    ids: &std::collections::HashMap<String, u32>,
) -> super::blocks::BlockSample {
    super::blocks::BlockSample {
        t_ms: reading.t_ms,
        device_time: reading.device_time,
        approximate: false,
        packet: 0,
        registers: Vec::new(),
        named: reading
            .values
            .iter()
            .filter_map(|(name, v)| Some((*ids.get(name)?, *v)))
            .collect(),
    }
}
