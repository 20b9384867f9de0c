//! What the query, fleet and retention features read and write.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CodecStats, StoreError};

/// Length of a stored aggregate bucket: 5 minutes.
pub const AGGREGATE_MS: u64 = 5 * 60 * 1000;

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

/// One stored value of one register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPoint {
    /// Sample time, Unix ms.
    pub t_ms: u64,
    /// Raw register value.
    pub raw: u16,
}

/// One 5-minute aggregate of one register (converted values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Aggregate {
    /// Bucket start, Unix ms.
    pub bucket_ms: u64,
    /// Samples in the bucket.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// The latest value.
    pub last: f64,
    /// Its time.
    pub last_t_ms: u64,
    /// Trapezoid integral over the bucket (unit × seconds).
    pub area: f64,
    /// Time the integral spans, ms.
    pub covered_ms: u64,
}

/// Upload counters of one device or the whole store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadStats {
    /// Devices counted.
    pub devices: u64,
    /// Uploads stored.
    pub uploads: u64,
    /// Identical resends answered as duplicates.
    pub duplicates: u64,
    /// Samples stored.
    pub samples: u64,
    /// Uploads received in the window asked for.
    pub recent_uploads: u64,
    /// The latest accepted upload, Unix ms.
    pub last_seen_ms: Option<u64>,
    /// Packets per codec.
    pub codecs: Vec<CodecStats>,
}

/// What one retention step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionStep {
    /// 5-minute aggregates written or merged.
    pub aggregated: u64,
    /// Raw samples deleted.
    pub samples_deleted: u64,
    /// Raw upload bodies deleted.
    pub uploads_deleted: u64,
    /// Aggregates deleted.
    pub aggregates_deleted: u64,
    /// Whether more remains before the cutoff.
    pub more: bool,
}

/// Reads and writes of the fleet, query and retention features.
pub trait AnalyticsStore: Send + Sync {
    /// Every device with its fleet fields.
    fn fleet(&self) -> BoxFuture<'_, Result<Vec<FleetDevice>, StoreError>>;
    /// One device's fleet fields.
    fn fleet_device(&self, device: &str) -> BoxFuture<'_, Result<Option<FleetDevice>, StoreError>>;
    /// Applies operator changes; `false` for an unknown device.
    fn update_device(
        &self,
        device: &str,
        patch: DevicePatch,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Retires a device: its keys are erased and uploads refused, its data kept.
    fn retire_device(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Values of one register in `[from, to)`, oldest first, at most `limit`.
    fn points(
        &self,
        device: &str,
        register: u8,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RawPoint>, StoreError>>;
    /// The latest value of one register before `to_ms` and after `from_ms`.
    fn point_before(
        &self,
        device: &str,
        register: u8,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, Result<Option<RawPoint>, StoreError>>;
    /// 5-minute aggregates of one register with buckets in `[from, to)`.
    fn aggregates(
        &self,
        device: &str,
        register: u8,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, Result<Vec<Aggregate>, StoreError>>;
    /// Upload counters of one device (`Some`) or all; `recent_uploads`
    /// counts uploads received since `since_ms`.
    fn upload_stats(
        &self,
        device: Option<&str>,
        since_ms: u64,
    ) -> BoxFuture<'_, Result<Option<UploadStats>, StoreError>>;
    /// Rolls raw samples older than `raw_before_ms` into 5-minute aggregates
    /// and deletes them (one bounded step through the writer), then deletes
    /// aggregates older than `aggregates_before_ms`.
    fn retention_step(
        &self,
        raw_before_ms: u64,
        aggregates_before_ms: u64,
        max_gap_ms: u64,
    ) -> BoxFuture<'_, Result<RetentionStep, StoreError>>;
}
