//! Durable storage behind one small trait, so a PostgreSQL backend can follow
//! the SQLite one without touching the HTTP layer.
//!
//! The ingest contract: [`Store::ingest`] resolves only after the upload, its
//! samples, the device's decoding state and its advanced nonce are committed
//! together. The replay decision is taken inside that same transaction, so
//! concurrent requests for one device can never both pass.

pub mod access;
pub mod alerts;
pub mod analytics;
pub mod firmware;
pub mod management;
mod model;
pub mod sqlite;

use futures_util::future::BoxFuture;

pub use model::{
    CodecStats, Committed, DeviceDetail, DeviceKeys, DeviceSummary, HistoryQuery, IngestError,
    IngestJob, IngestOutcome, PacketSummary, Registration, RegistrationOutcome, StoreCounts,
    StoreError, StoredSample, UploadSummary,
};

/// What every storage backend offers the server.
pub trait Store:
    access::AccessStore
    + alerts::AlertStore
    + analytics::AnalyticsStore
    + firmware::FirmwareStore
    + management::ManagementStore
    + Send
    + Sync
    + 'static
{
    /// Decides replay, decodes, stores and commits one verified upload.
    fn ingest(&self, job: IngestJob) -> BoxFuture<'_, Result<IngestOutcome, IngestError>>;
    /// The keys of a device (`None`: unknown device).
    fn device_keys(&self, device: &str) -> BoxFuture<'_, Result<Option<DeviceKeys>, StoreError>>;
    /// A counter bumped by every operator change to devices (keys, removal,
    /// nonce resets), including changes made by another process.
    fn device_epoch(&self) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Records the metadata a device sends at boot (`POST /devices`).
    fn register(
        &self,
        registration: Registration,
    ) -> BoxFuture<'_, Result<RegistrationOutcome, StoreError>>;
    /// The highest accepted nonce (`None`: unknown device or none yet).
    fn last_nonce(&self, device: &str) -> BoxFuture<'_, Result<Option<u32>, StoreError>>;
    /// Adds a device with its keys; `false` when the id is taken.
    fn add_device(&self, device: &str, keys: DeviceKeys)
    -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Replaces a device's keys; `false` for an unknown device.
    fn rotate_keys(
        &self,
        device: &str,
        keys: DeviceKeys,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Deletes a device and all its data; `false` for an unknown device.
    fn remove_device(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Forgets a device's last nonce (its counter wrapped or was wiped, F18).
    fn reset_nonce(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Every device, in id order.
    fn devices(&self) -> BoxFuture<'_, Result<Vec<DeviceSummary>, StoreError>>;
    /// One device with its statistics.
    fn device(&self, device: &str) -> BoxFuture<'_, Result<Option<DeviceDetail>, StoreError>>;
    /// Samples of a device in a time range, oldest first.
    fn history(
        &self,
        device: &str,
        query: HistoryQuery,
    ) -> BoxFuture<'_, Result<Vec<StoredSample>, StoreError>>;
    /// The newest sample of a device.
    fn latest(&self, device: &str) -> BoxFuture<'_, Result<Option<StoredSample>, StoreError>>;
    /// Totals over the whole store.
    fn counts(&self) -> BoxFuture<'_, Result<StoreCounts, StoreError>>;
    /// Whether the ingest path can commit right now.
    fn writable(&self) -> bool;
}
