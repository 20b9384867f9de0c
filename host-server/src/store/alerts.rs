//! Alert rules and the alerts they raised.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::StoreError;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// A register value below `threshold`.
    Min,
    /// A register value above `threshold`.
    Max,
    /// A register changing by more than `threshold` between two samples.
    Step,
    /// A register not changing for `window_s` seconds.
    Stuck,
    /// No upload for three upload periods.
    Offline,
    /// A bit meaning a warning, alarm, protection or fault set in any
    /// status word of the device's profile (a PCS fault word, a rack's
    /// protection word …); clears when none is.
    Status,
}

impl RuleKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Min => "min",
            Self::Max => "max",
            Self::Step => "step",
            Self::Stuck => "stuck",
            Self::Offline => "offline",
            Self::Status => "status",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Min,
            Self::Max,
            Self::Step,
            Self::Stuck,
            Self::Offline,
            Self::Status,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// Where a rule came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleSource {
    /// Created over the API.
    Api,
    /// Loaded from the alert rules file at start.
    Config,
}

/// A checked rule, ready to store.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NewRule {
    /// A name for people.
    pub name: String,
    /// One device, or every device (`None`).
    pub device_id: Option<String>,
    /// What it watches.
    pub kind: RuleKind,
    /// The register id (not for `offline`).
    pub register: Option<u8>,
    /// The limit (`min`, `max`, `step`).
    pub threshold: Option<f64>,
    /// The window (`stuck`).
    pub window_s: Option<u32>,
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Rule {
    /// Row id.
    pub id: i64,
    /// Where it came from.
    pub source: RuleSource,
    /// The rule.
    #[serde(flatten)]
    pub rule: NewRule,
}

/// An alert, open or closed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Alert {
    /// Row id.
    pub id: i64,
    /// The rule that raised it.
    pub rule_id: i64,
    /// The device.
    pub device_id: String,
    /// When it opened, Unix ms.
    pub opened_ms: u64,
    /// When it closed (`None`: still open).
    pub closed_ms: Option<u64>,
    /// The value that opened it.
    pub value: Option<f64>,
    /// What happened, for people.
    pub message: String,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only open (`true`) or closed (`false`) ones.
    pub open: Option<bool>,
    /// Only this device's.
    pub device_id: Option<String>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// Storage of rules and alerts.
pub trait AlertStore: Send + Sync {
    /// Every rule, by id.
    fn alert_rules(&self) -> BoxFuture<'_, Result<Vec<Rule>, StoreError>>;
    /// Adds a rule made over the API.
    fn add_alert_rule(&self, rule: NewRule) -> BoxFuture<'_, Result<Rule, StoreError>>;
    /// Deletes a rule and closes its open alerts at `now_ms`; `false` when unknown.
    fn remove_alert_rule(&self, id: i64, now_ms: u64) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Replaces every rule from the rules file with `rules`.
    fn replace_config_rules(&self, rules: Vec<NewRule>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Opens an alert.
    fn open_alert(
        &self,
        rule_id: i64,
        device_id: &str,
        opened_ms: u64,
        value: Option<f64>,
        message: String,
    ) -> BoxFuture<'_, Result<Alert, StoreError>>;
    /// Closes an open alert; the closed alert, `None` when not open.
    fn close_alert(
        &self,
        id: i64,
        closed_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Alert>, StoreError>>;
    /// Alerts, newest first.
    fn alerts(&self, filter: AlertFilter) -> BoxFuture<'_, Result<Vec<Alert>, StoreError>>;
}
