//! Remote configuration, commands and device reports (spec §7.2–§7.4).
//! Values are JSON the rules in [`crate::manage`] have checked; every list
//! is bounded per device by the caller's `keep`.

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::StoreError;

/// A device's configuration as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigRecord {
    /// What the device last reported or acknowledged running (`None`: defaults).
    pub running: Option<Map<String, Value>>,
    /// Accepted changes not yet applied, with the time they were made.
    pub pending: Option<(Map<String, Value>, u64)>,
}

/// What a device reported or acknowledged running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningConfig {
    /// The configuration it runs now.
    pub running: Map<String, Value>,
    /// Drop the pending changes (applied, or delivered to a legacy device).
    pub clear_pending: bool,
    /// The history entry's kind: `acknowledge`, `report`, `legacy_delivered`.
    pub event: &'static str,
    /// The history entry's body.
    pub body: Value,
}

/// One entry of a device's configuration history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConfigEvent {
    /// `update`, `acknowledge`, `report` or `legacy_delivered`.
    pub event: String,
    /// What was sent or stored.
    pub body: Value,
    /// When, Unix ms.
    pub at_ms: u64,
}

/// Where a command stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandState {
    /// Waiting for the device's next poll.
    Queued,
    /// Handed to the device.
    Dispatched,
    /// The device reported success.
    Completed,
    /// The device reported failure.
    Failed,
    /// Not dispatched before it expired.
    Expired,
}

impl CommandState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Dispatched => "dispatched",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Dispatched,
            Self::Completed,
            Self::Failed,
            Self::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A command, queued or done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Command {
    /// Its UUID.
    pub command_id: String,
    /// The device.
    pub device_id: String,
    /// What the device receives (`action`, `target_register`, `value`,
    /// `register_address`, `register_name`).
    pub command: Value,
    /// Where it stands.
    pub state: CommandState,
    /// Queued, Unix ms.
    pub created_ms: u64,
    /// Expires if not dispatched by then, Unix ms.
    pub expires_ms: u64,
    /// Handed to the device, Unix ms.
    pub dispatched_ms: Option<u64>,
    /// Result received, Unix ms.
    pub finished_ms: Option<u64>,
    /// When the device says it ran it.
    pub executed_at: Option<String>,
}

/// The kinds of device report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// `POST /fault/recovery`.
    Fault,
    /// `POST /power/energy/{id}`.
    Energy,
    /// `POST /diagnostics/{id}`.
    Diagnostics,
}

impl ReportKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fault => "fault",
            Self::Energy => "energy",
            Self::Diagnostics => "diagnostics",
        }
    }
}

/// A stored device report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Report {
    /// Row id.
    pub report_id: i64,
    /// Which kind.
    pub kind: ReportKind,
    /// Received, Unix ms.
    pub at_ms: u64,
    /// The report as the device sent it.
    pub body: Value,
}

/// Storage of configuration, commands and reports.
pub trait ManagementStore: Send + Sync {
    /// A device's running and pending configuration.
    fn config(&self, device: &str) -> BoxFuture<'_, Result<ConfigRecord, StoreError>>;
    /// Merges accepted changes into the pending configuration.
    fn add_pending_config(
        &self,
        device: &str,
        changes: Map<String, Value>,
        now_ms: u64,
        keep: usize,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Stores what the device runs now (see [`RunningConfig`]).
    fn set_running_config(
        &self,
        device: &str,
        change: RunningConfig,
        now_ms: u64,
        keep: usize,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// A device's configuration history, newest first.
    fn config_history(
        &self,
        device: &str,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<ConfigEvent>, StoreError>>;
    /// Queues a command (already checked), keeping the newest `keep`
    /// commands of the device that are done.
    fn queue_command(&self, command: Command, keep: usize)
    -> BoxFuture<'_, Result<(), StoreError>>;
    /// Expires stale commands, then dispatches the oldest queued one (F21:
    /// one per poll; the rest stay queued).
    fn dispatch_command(
        &self,
        device: &str,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Command>, StoreError>>;
    /// Records a dispatched command's result; `None` for an unknown id.
    fn finish_command(
        &self,
        device: &str,
        command_id: &str,
        success: bool,
        executed_at: Option<String>,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Command>, StoreError>>;
    /// One command.
    fn command(&self, command_id: &str) -> BoxFuture<'_, Result<Option<Command>, StoreError>>;
    /// A device's commands, newest first.
    fn commands(
        &self,
        device: &str,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Command>, StoreError>>;
    /// Stores a report, keeping the newest `keep` of its kind per device.
    fn add_report(
        &self,
        device: &str,
        kind: ReportKind,
        body: Value,
        now_ms: u64,
        keep: usize,
    ) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// A device's reports of one kind, newest first.
    fn reports(
        &self,
        device: &str,
        kind: ReportKind,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Report>, StoreError>>;
}
