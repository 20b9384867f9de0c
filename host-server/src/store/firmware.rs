//! Firmware images, rollouts and each device's update sessions and history
//! (spec §7.1). The backend stores; the rules (who is offered what, when a
//! rollout pauses itself) are in [`crate::manage::rollout`].

use futures_util::future::BoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;

/// A prepared image on its way to storage (see [`crate::fota::prepare`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFirmware {
    /// Version string the devices report.
    pub version: String,
    /// Release notes.
    pub notes: String,
    /// Size of the plain image.
    pub original_size: u64,
    /// SHA-256 of the plain image, lowercase hex.
    pub sha256: String,
    /// RSA-2048 PKCS#1 v1.5 signature over that digest.
    pub signature: Vec<u8>,
    /// The AES-256-CBC IV.
    pub iv: [u8; 16],
    /// The encrypted image, already cut into chunks.
    pub chunks: Vec<Vec<u8>>,
    /// Bytes per chunk (the last may be shorter).
    pub chunk_size: u32,
}

/// A stored image's manifest (never its bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FirmwareInfo {
    /// Version string.
    pub version: String,
    /// Release notes.
    pub notes: String,
    /// Size of the plain image.
    pub original_size: u64,
    /// Size of the encrypted image (padded to 16 bytes).
    pub encrypted_size: u64,
    /// SHA-256 of the plain image, lowercase hex.
    pub sha256: String,
    /// The signature, base64.
    pub signature: String,
    /// The IV, base64.
    pub iv: String,
    /// Bytes per chunk.
    pub chunk_size: u32,
    /// Number of chunks.
    pub total_chunks: u32,
    /// When it was published, Unix ms.
    pub created_ms: u64,
}

/// Which devices a rollout offers its image to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutTarget {
    /// These devices.
    Devices(Vec<String>),
    /// This share of the fleet (0–100), chosen stably by device id.
    Percent(u8),
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RolloutState {
    /// Offered to its targets.
    Active,
    /// Offered to nobody until resumed.
    Paused,
    /// Ended for good.
    Cancelled,
}

impl RolloutState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Active, Self::Paused, Self::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A rollout with its image's version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Rollout {
    /// The image's version.
    pub version: String,
    /// Where it stands.
    pub state: RolloutState,
    /// Who is offered the image.
    pub target: RolloutTarget,
    /// Verification failures or rollbacks that pause it.
    pub max_failures: u32,
    /// Verification failures and rollbacks so far.
    pub failures: u32,
    /// Why it was paused or cancelled.
    pub reason: Option<String>,
    /// Last change, Unix ms.
    pub updated_ms: u64,
}

/// One entry of a device's update history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OtaEvent {
    /// The version concerned (none for a check without an offer).
    pub version: Option<String>,
    /// `check`, `initiate`, a progress phase, or `complete_<status>`.
    pub kind: String,
    /// Detail: the offered version, the device's message …
    pub detail: Option<String>,
    /// When, Unix ms.
    pub at_ms: u64,
}

/// A device's update session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OtaSession {
    /// `{device}_{version}_{unix}` as the firmware expects.
    pub session_id: String,
    /// The device.
    pub device_id: String,
    /// The version being installed.
    pub version: String,
    /// `in_progress`, `downloaded`, `verified`, `installing`, `success`,
    /// `failed`, `rolled_back` or `superseded`.
    pub state: String,
    /// Last reported progress, 0–100.
    pub progress: u8,
    /// Started, Unix ms.
    pub started_ms: u64,
    /// Last change, Unix ms.
    pub updated_ms: u64,
}

/// Update counts of one version across the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct VersionStats {
    /// The version.
    pub version: String,
    /// Sessions started.
    pub sessions: u64,
    /// Sessions in progress.
    pub in_progress: u64,
    /// Devices running it after a successful update.
    pub succeeded: u64,
    /// Sessions that failed (download, verification, install).
    pub failed: u64,
    /// Sessions rolled back after reboot.
    pub rolled_back: u64,
}

/// What a device report changed in an update session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtaReport {
    /// The device.
    pub device_id: String,
    /// The version concerned.
    pub version: Option<String>,
    /// The history entry's kind.
    pub kind: String,
    /// Detail for the history.
    pub detail: Option<String>,
    /// New session state, when the report changes it.
    pub state: Option<&'static str>,
    /// New progress, when reported.
    pub progress: Option<u8>,
    /// A verification failure or a rollback: counts against the rollout.
    pub failure: bool,
}

/// Storage of images, rollouts and update sessions.
pub trait FirmwareStore: Send + Sync {
    /// Stores an image; `None` when the version exists.
    fn publish_firmware(
        &self,
        image: NewFirmware,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<FirmwareInfo>, StoreError>>;
    /// Every image, newest first.
    fn firmware_images(&self) -> BoxFuture<'_, Result<Vec<FirmwareInfo>, StoreError>>;
    /// One image's manifest.
    fn firmware_image(
        &self,
        version: &str,
    ) -> BoxFuture<'_, Result<Option<FirmwareInfo>, StoreError>>;
    /// One encrypted chunk (`None`: no such image or index).
    fn firmware_chunk(
        &self,
        version: &str,
        index: u32,
    ) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>>;
    /// Deletes an image with its rollout; `false` when unknown.
    fn delete_firmware(&self, version: &str) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Creates or retargets the rollout of an image (active, failures reset);
    /// `None` for an unknown version.
    fn set_rollout(
        &self,
        version: &str,
        target: RolloutTarget,
        max_failures: u32,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>>;
    /// Pauses, resumes or cancels a rollout; `None` when it does not exist.
    fn set_rollout_state(
        &self,
        version: &str,
        state: RolloutState,
        reason: Option<String>,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>>;
    /// Every rollout, newest image first.
    fn rollouts(&self) -> BoxFuture<'_, Result<Vec<Rollout>, StoreError>>;
    /// Versions a device failed to verify or rolled back (never offered again).
    fn failed_versions(&self, device: &str) -> BoxFuture<'_, Result<Vec<String>, StoreError>>;
    /// The device's latest session.
    fn ota_session(&self, device: &str) -> BoxFuture<'_, Result<Option<OtaSession>, StoreError>>;
    /// Starts a session, superseding one left in progress.
    fn start_ota(
        &self,
        device: &str,
        version: &str,
        session_id: &str,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<OtaSession, StoreError>>;
    /// Records a device report in its history and session; a failure counts
    /// against the version's rollout, which pauses itself at its limit.
    /// Returns the rollout when this report paused it.
    fn record_ota(
        &self,
        report: OtaReport,
        now_ms: u64,
        keep: usize,
    ) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>>;
    /// A device's update history, newest first.
    fn ota_history(
        &self,
        device: &str,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<OtaEvent>, StoreError>>;
    /// Update counts per version.
    fn ota_stats(&self) -> BoxFuture<'_, Result<Vec<VersionStats>, StoreError>>;
}
