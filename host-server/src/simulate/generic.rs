//! `solarwire simulate --generic N`: generic devices beside the EcoWatt
//! ones. Each registers itself (`POST /api/v1/devices/register`, with the
//! registration token when one is given), then at the upload rate sends a
//! reading of a few named channels (`POST /api/v1/devices/telemetry`, with a
//! message id, so a retry after a lost answer is a duplicate) and every
//! tenth time a heartbeat, all with its own `X-API-Key`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::inverter::Inverter;
use crate::clock::now_ms;

/// What the generic devices did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GenericSummary {
    /// Devices that registered.
    pub registered: u64,
    /// Readings acknowledged.
    pub readings: u64,
    /// Heartbeats acknowledged.
    pub heartbeats: u64,
    /// Refused or failed requests by reason.
    pub rejected: BTreeMap<String, u64>,
}

impl fmt::Display for GenericSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "generic devices: {} registered, {} readings, {} heartbeats acked",
            self.registered, self.readings, self.heartbeats
        )?;
        for (reason, n) in &self.rejected {
            write!(f, ", {reason} {n}")?;
        }
        Ok(())
    }
}

/// One generic device's run.
pub(super) struct GenericRun {
    /// Server base URL.
    pub(super) url: String,
    /// Its unique name.
    pub(super) name: String,
    /// Sent as `X-Registration-Token`, when given.
    pub(super) token: Option<String>,
    /// Readings to send at most.
    pub(super) readings: u64,
    /// Time between readings.
    pub(super) every: Duration,
    /// When to stop.
    pub(super) deadline: Instant,
    /// Seed of its weather.
    pub(super) seed: u64,
    /// Shared counters.
    pub(super) summary: Arc<Mutex<GenericSummary>>,
}

impl GenericRun {
    fn count(&self, f: impl FnOnce(&mut GenericSummary)) {
        if let Ok(mut s) = self.summary.lock() {
            f(&mut s);
        }
    }

    fn reject(&self, reason: String) {
        self.count(|s| *s.rejected.entry(reason).or_default() += 1);
    }

    /// POSTs `body` to `path`: the answer when it succeeded, else the reason counted.
    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        key: Option<&str>,
        body: &Value,
    ) -> Option<Value> {
        let mut request = client.post(format!("{}{path}", self.url)).json(body);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        if let (None, Some(token)) = (key, &self.token) {
            request = request.header("x-registration-token", token);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                self.reject(super::transport_reason(&e));
                return None;
            }
        };
        let status = response.status();
        let reply: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Some(reply);
        }
        self.reject(
            reply["error"]
                .as_str()
                .map_or_else(|| format!("http_{}", status.as_u16()), str::to_owned),
        );
        None
    }

    /// Registers, then sends readings and heartbeats until done.
    pub(super) async fn run(self) {
        let Ok(client) = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(10))
            .build()
        else {
            self.reject("client".into());
            return;
        };
        let registration = json!({
            "name": self.name,
            "device_type": "weather_station",
            "description": "solarwire simulate --generic",
            "channels": {"irradiance": "W/m2", "panel_temp": "°C", "power": "W"},
        });
        let Some(reply) = self
            .post(&client, "/api/v1/devices/register", None, &registration)
            .await
        else {
            return;
        };
        let Some(key) = reply["device"]["api_key"].as_str().map(str::to_owned) else {
            self.reject("no_key".into());
            return;
        };
        self.count(|s| s.registered += 1);
        let mut inverter = Inverter::new(self.seed);
        let mut ticker = tokio::time::interval(self.every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for k in 0..self.readings {
            ticker.tick().await;
            if Instant::now() > self.deadline {
                break;
            }
            // Registers of the simulated weather: Pac (id 9), temperature (id 7).
            let all = inverter.read(13.0 * 3600.0, 5.0);
            let power = f64::from(all.get(9).copied().unwrap_or(0));
            let reading = json!({
                "data": {
                    "irradiance": power / 4.0,
                    "panel_temp": f64::from(all.get(7).copied().unwrap_or(0)) / 10.0,
                    "power": power,
                },
                "metadata": {"sequence": k},
                "type": "weather",
                "timestamp": now_ms(),
                "message_id": format!("{}-{k}", self.name),
            });
            if self
                .post(&client, "/api/v1/devices/telemetry", Some(&key), &reading)
                .await
                .is_some()
            {
                self.count(|s| s.readings += 1);
            }
            if k % 10 == 0
                && self
                    .post(&client, "/api/v1/devices/heartbeat", Some(&key), &json!({}))
                    .await
                    .is_some()
            {
                self.count(|s| s.heartbeats += 1);
            }
        }
    }
}
