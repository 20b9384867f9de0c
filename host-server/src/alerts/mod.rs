//! Alerts: rules per register (min, max, sudden step, stuck value) judged on
//! every stored sample, and per device (offline) judged on a timer. Each
//! alert is stored when it opens and when it closes, and pushed to
//! WebSocket clients with the devices' status changes.

pub mod judge;
pub mod rules;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use tokio::sync::{Mutex, mpsc};
use utoipa::ToSchema;

use crate::clock::now_ms;
use crate::live::LiveHub;
use crate::query::status::{DeviceStatus, status};
use crate::store::alerts::{Alert, AlertFilter, Rule, RuleKind};
use crate::store::{Committed, Store, StoreError};
use judge::{Track, Verdict, judge, judge_status};

/// Open alerts loaded at start at most.
const MAX_OPEN: usize = 100_000;

/// Key of per-rule, per-device state.
type Key = (i64, String);

#[derive(Default)]
struct Inner {
    rules: Vec<Rule>,
    tracks: HashMap<Key, Track>,
    open: HashMap<Key, i64>,
    status: HashMap<String, DeviceStatus>,
}

/// Judges rules and keeps the open alerts.
pub struct AlertEngine {
    store: Arc<dyn Store>,
    live: LiveHub,
    default_interval: Duration,
    has_rules: Arc<AtomicBool>,
    inner: Mutex<Inner>,
}

impl AlertEngine {
    /// Loads the rules file (its rules replace the file's earlier ones),
    /// then the rules and open alerts from the store. `has_rules` is kept
    /// set while any rule exists.
    ///
    /// # Errors
    /// A message for people: a bad rules file or an unreadable store.
    pub async fn start(
        store: Arc<dyn Store>,
        live: LiveHub,
        default_interval: Duration,
        rules_file: Option<&Path>,
        has_rules: Arc<AtomicBool>,
    ) -> Result<Arc<Self>, String> {
        if let Some(path) = rules_file {
            let rules = rules::load(path)?;
            tracing::info!(rules = rules.len(), file = %path.display(), "alert rules loaded");
            store
                .replace_config_rules(rules)
                .await
                .map_err(|e| format!("cannot store the alert rules: {e}"))?;
        }
        let engine = Arc::new(Self {
            store,
            live,
            default_interval,
            has_rules,
            inner: Mutex::new(Inner::default()),
        });
        engine.reload().await.map_err(|e| e.to_string())?;
        Ok(engine)
    }

    /// Re-reads rules and open alerts (after a rule was added or removed).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let rules = self.store.alert_rules().await?;
        let open = self
            .store
            .alerts(AlertFilter {
                open: Some(true),
                device_id: None,
                limit: MAX_OPEN,
            })
            .await?;
        let mut inner = self.inner.lock().await;
        self.has_rules.store(!rules.is_empty(), Ordering::Relaxed);
        inner
            .tracks
            .retain(|(rule, _), _| rules.iter().any(|r| r.id == *rule));
        inner.open = open
            .into_iter()
            .map(|a| ((a.rule_id, a.device_id), a.id))
            .collect();
        inner.rules = rules;
        Ok(())
    }

    /// Whether any rule exists (committed uploads are then always judged).
    pub fn has_rules(&self) -> bool {
        self.has_rules.load(Ordering::Relaxed)
    }

    /// Judges every sample of a committed upload; the device is online now.
    pub async fn on_commit(&self, c: &Committed) {
        let device = c.summary.device_id.as_str();
        let mut inner = self.inner.lock().await;
        if inner.status.insert(device.to_owned(), DeviceStatus::Online)
            != Some(DeviceStatus::Online)
        {
            self.push_status(device, DeviceStatus::Online);
        }
        let profile = c.profile;
        let mut samples: Vec<_> = c.samples.iter().collect();
        samples.sort_by_key(|s| s.t_ms.unwrap_or(c.received_ms));
        let rules = inner.rules.clone();
        for rule in rules.iter().filter(|r| applies(r, device)) {
            let key = (rule.id, device.to_owned());
            if rule.rule.kind == RuleKind::Offline {
                self.apply(&mut inner, rule, &key, Verdict::Clear, c.received_ms)
                    .await;
                continue;
            }
            if rule.rule.kind == RuleKind::Status {
                for s in &samples {
                    let verdict = judge_status(profile, &s.registers);
                    let t_ms = s.t_ms.unwrap_or(c.received_ms);
                    self.apply(&mut inner, rule, &key, verdict, t_ms).await;
                }
                continue;
            }
            let Some(register) = rule.rule.register.and_then(|id| profile.by_id(id)) else {
                continue;
            };
            for s in &samples {
                let Some(&(_, raw)) = s.registers.iter().find(|(id, _)| *id == register.id) else {
                    continue;
                };
                let t_ms = s.t_ms.unwrap_or(c.received_ms);
                let Some(value) = crate::readings::value(register, raw) else {
                    continue;
                };
                let track = inner.tracks.entry(key.clone()).or_default();
                let verdict = judge(&rule.rule, track, t_ms, value, &register.unit);
                self.apply(&mut inner, rule, &key, verdict, t_ms).await;
            }
        }
    }

    /// Checks every device's status: pushes changes, judges offline rules.
    pub async fn tick(&self) {
        let fleet = match self.store.fleet().await {
            Ok(fleet) => fleet,
            Err(e) => {
                tracing::warn!(error = %e, "alert timer cannot read the fleet");
                return;
            }
        };
        let now = now_ms();
        let mut inner = self.inner.lock().await;
        let rules: Vec<Rule> = inner
            .rules
            .iter()
            .filter(|r| r.rule.kind == RuleKind::Offline)
            .cloned()
            .collect();
        for device in &fleet {
            let id = device.device_id.as_str();
            let now_status = status(device, self.default_interval, now);
            // Only changes are news; a device's first status is not.
            if inner
                .status
                .insert(id.to_owned(), now_status)
                .is_some_and(|before| before != now_status)
            {
                self.push_status(id, now_status);
            }
            for rule in rules.iter().filter(|r| applies(r, id)) {
                let verdict = match now_status {
                    DeviceStatus::Offline => Verdict::Raise {
                        value: device
                            .last_seen_ms
                            .map_or(0.0, |seen| now.saturating_sub(seen) as f64 / 1000.0),
                        message: "no upload for three upload periods".into(),
                    },
                    _ => Verdict::Clear,
                };
                self.apply(&mut inner, rule, &(rule.id, id.to_owned()), verdict, now)
                    .await;
            }
        }
    }

    async fn apply(&self, inner: &mut Inner, rule: &Rule, key: &Key, verdict: Verdict, t_ms: u64) {
        let result = match (verdict, inner.open.get(key).copied()) {
            (Verdict::Raise { value, message }, None) => {
                let opened = self
                    .store
                    .open_alert(rule.id, &key.1, t_ms, Some(value), message)
                    .await;
                opened.map(|alert| {
                    inner.open.insert(key.clone(), alert.id);
                    self.push_alert("opened", rule, &alert);
                })
            }
            (Verdict::Clear, Some(id)) => {
                inner.open.remove(key);
                self.store.close_alert(id, t_ms).await.map(|closed| {
                    if let Some(alert) = closed {
                        self.push_alert("closed", rule, &alert);
                    }
                })
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, rule = rule.id, device = key.1, "alert not recorded");
        }
    }

    fn push_alert(&self, event: &str, rule: &Rule, alert: &Alert) {
        tracing::info!(
            event,
            rule = rule.rule.name,
            device = alert.device_id,
            "alert"
        );
        let message = json!({
            "type": "alert",
            "event": event,
            "alert": alert_json(alert, Some(rule)),
        });
        self.live.publish(&alert.device_id, message.to_string());
    }

    fn push_status(&self, device: &str, status: DeviceStatus) {
        let message = json!({
            "type": "device_status",
            "device_id": device,
            "status": status,
            "t_ms": now_ms(),
        });
        self.live.publish(device, message.to_string());
    }
}

/// Whether `rule` watches `device`.
fn applies(rule: &Rule, device: &str) -> bool {
    rule.rule.device_id.as_deref().is_none_or(|d| d == device)
}

/// An alert with its rule's name and kind, as the API and the WebSocket show it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AlertJson {
    /// The stored alert.
    #[serde(flatten)]
    pub alert: Alert,
    /// Whether it is still open.
    pub open: bool,
    /// Its rule's name (`null` when the rule was removed).
    pub rule_name: Option<String>,
    /// Its rule's kind (`null` when the rule was removed).
    pub kind: Option<RuleKind>,
}

/// An alert with its rule's name and kind.
pub fn alert_json(alert: &Alert, rule: Option<&Rule>) -> AlertJson {
    AlertJson {
        alert: alert.clone(),
        open: alert.closed_ms.is_none(),
        rule_name: rule.map(|r| r.rule.name.clone()),
        kind: rule.map(|r| r.rule.kind),
    }
}

/// Judges each committed upload, then hands it to the live outputs.
pub async fn observe(
    mut committed: mpsc::Receiver<Committed>,
    engine: Arc<AlertEngine>,
    outputs: mpsc::Sender<Committed>,
) {
    while let Some(c) = committed.recv().await {
        engine.on_commit(&c).await;
        if outputs.send(c).await.is_err() {
            return;
        }
    }
}

/// Runs [`AlertEngine::tick`] every `every`.
pub async fn watch(engine: Arc<AlertEngine>, every: Duration) {
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(100)));
    loop {
        ticker.tick().await;
        engine.tick().await;
    }
}
