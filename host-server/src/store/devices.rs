//! Devices and their keys: what the fleet, key ring, registration and
//! operator commands read and write.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    DeviceDetail, DeviceKeys, DeviceSummary, Registration, RegistrationOutcome, StoreError,
};

/// One device as the fleet view lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FleetDevice {
    /// The device id.
    pub device_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Where it is installed.
    pub location: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Firmware version from its registration.
    pub firmware_version: Option<String>,
    /// When it was added, Unix ms.
    pub created_ms: u64,
    /// Last accepted upload, Unix ms.
    pub last_seen_ms: Option<u64>,
    /// The expected upload period set by an operator, seconds.
    pub upload_interval_s: Option<u32>,
    /// When it was retired (deleted with its data kept).
    pub retired_ms: Option<u64>,
    /// Uploads stored.
    pub uploads: u64,
    /// Samples stored.
    pub samples: u64,
    /// `own` (per-device key) or `fleet` (the compat key).
    pub key: &'static str,
    /// The key that admitted a device registered on its first valid upload
    /// in fleet-key mode (`fleet key 1a2b3c4d5e6f7a8b`, kept when it later
    /// gets its own key); `null` for a device an operator added.
    pub admitted_by: Option<String>,
}

/// Operator changes to a device; `None` leaves a field alone, an empty
/// string clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    /// Display name.
    pub name: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Expected upload period in seconds (0 clears it).
    pub upload_interval_s: Option<u32>,
}

/// Maps a device's stored key set to its replacement (`None`: keep it); an
/// error aborts the whole [`DeviceStore::reseal_keys`].
pub type Reseal =
    Box<dyn Fn(&str, &DeviceKeys) -> Result<Option<DeviceKeys>, String> + Send + Sync>;

/// Device records, keys and the device views.
pub trait DeviceStore: Send + Sync {
    /// Adds a device with its keys; `false` when the id is taken.
    fn add_device(&self, device: &str, keys: DeviceKeys)
    -> BoxFuture<'_, Result<bool, StoreError>>;
    /// The keys of a device (`None`: unknown device).
    fn device_keys(&self, device: &str) -> BoxFuture<'_, Result<Option<DeviceKeys>, StoreError>>;
    /// Replaces a device's keys; `false` for an unknown device.
    fn rotate_keys(
        &self,
        device: &str,
        keys: DeviceKeys,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Replaces stored key sets in one transaction: `reseal` sees every
    /// device that has keys, in id order. When it fails for one device no
    /// key set changes. How many were replaced.
    fn reseal_keys(&self, reseal: Reseal) -> BoxFuture<'_, Result<usize, StoreError>>;
    /// A counter bumped by every operator change to devices (keys, removal,
    /// nonce resets), including changes made by another process.
    fn device_epoch(&self) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Records the metadata a device sends at boot (`POST /devices`).
    fn register(
        &self,
        registration: Registration,
    ) -> BoxFuture<'_, Result<RegistrationOutcome, StoreError>>;
    /// Applies operator changes; `false` for an unknown device.
    fn update_device(
        &self,
        device: &str,
        patch: DevicePatch,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// The highest accepted nonce (`None`: unknown device or none yet).
    fn last_nonce(&self, device: &str) -> BoxFuture<'_, Result<Option<u32>, StoreError>>;
    /// Forgets a device's last nonce (its counter wrapped or was wiped, F18).
    fn reset_nonce(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Retires a device: its keys are erased and uploads refused, its data kept.
    fn retire_device(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Deletes a device and all its data; `false` for an unknown device.
    fn remove_device(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Every device with its counters, in id order (the operator's list).
    fn devices(&self) -> BoxFuture<'_, Result<Vec<DeviceSummary>, StoreError>>;
    /// One device with its statistics.
    fn device(&self, device: &str) -> BoxFuture<'_, Result<Option<DeviceDetail>, StoreError>>;
    /// Every device with its fleet fields.
    fn fleet(&self) -> BoxFuture<'_, Result<Vec<FleetDevice>, StoreError>>;
    /// One device's fleet fields.
    fn fleet_device(&self, device: &str) -> BoxFuture<'_, Result<Option<FleetDevice>, StoreError>>;
}
