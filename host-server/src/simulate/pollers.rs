//! The management side of a simulated device, at the firmware's cadence
//! (spec §7): its running configuration at boot, a configuration poll
//! (5 s), a command poll (10 s), an update check (100 min by default) with
//! the whole download and verification, and an energy report (300 s).
//! Intervals change when a configuration change says so, as on the device.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes::Aes256;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt as _, KeyIvInit as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::PublicKey;
use rsa::pkcs8::DecodePublicKey as _;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::fota::{DeviceBuildKeys, ESP32_MAGIC};

/// What the pollers of every device did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ManagementSummary {
    /// Management requests sent.
    pub requests: u64,
    /// Requests answered with an error, by code (or `http_NNN`, `connect` …).
    pub errors: BTreeMap<String, u64>,
    /// Configuration changes applied and acknowledged.
    pub configs_applied: u64,
    /// Commands executed and reported.
    pub commands_executed: u64,
    /// Firmware updates downloaded, verified and reported installed.
    pub updates_installed: u64,
    /// Updates refused by the device's verification.
    pub updates_rejected: u64,
    /// Energy reports sent.
    pub energy_reports: u64,
}

impl fmt::Display for ManagementSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "management: {} requests, {} errors; config changes applied {}, commands executed {}, \
             updates installed {} (rejected {}), energy reports {}",
            self.requests,
            self.errors.values().sum::<u64>(),
            self.configs_applied,
            self.commands_executed,
            self.updates_installed,
            self.updates_rejected,
            self.energy_reports
        )?;
        for (code, n) in &self.errors {
            write!(f, "\n  {code}: {n}")?;
        }
        Ok(())
    }
}

/// The keys a device build embeds, parsed.
pub(super) struct BuildKeys {
    public_key: PublicKey,
    aes: [u8; 32],
}

impl BuildKeys {
    /// Parses what `solarwire firmware device-keys` prints.
    pub(super) fn parse(keys: &DeviceBuildKeys) -> Option<Self> {
        Some(Self {
            public_key: PublicKey::from_public_key_pem(&keys.public_key_pem).ok()?,
            aes: hex::decode(&keys.aes_key_hex).ok()?.try_into().ok()?,
        })
    }
}

/// One device's pollers.
pub(super) struct Pollers {
    pub(super) url: String,
    pub(super) id: String,
    pub(super) version: String,
    pub(super) ota_check: Duration,
    pub(super) deadline: Instant,
    pub(super) keys: Option<Arc<BuildKeys>>,
    pub(super) summary: Arc<Mutex<ManagementSummary>>,
}

/// The intervals the firmware polls at, in seconds, by configuration key.
const POLLS: [(&str, u64); 3] = [
    ("config_poll_interval", 5),
    ("command_poll_interval", 10),
    ("energy_poll_interval", 300),
];

impl Pollers {
    /// Runs until the deadline.
    pub(super) async fn run(mut self, client: reqwest::Client) {
        let mut every: BTreeMap<&str, Duration> = POLLS
            .iter()
            .map(|&(k, s)| (k, Duration::from_secs(s)))
            .collect();
        every.insert("firmware_check_interval", self.ota_check);
        let start = Instant::now();
        let mut due: BTreeMap<&str, Instant> = every.keys().map(|&k| (k, start)).collect();
        let boot = json!({"sampling_interval": 5, "upload_interval": 15, "config_poll_interval": 5,
            "command_poll_interval": 10, "firmware_check_interval": self.ota_check.as_secs(),
            "energy_poll_interval": 300, "compression_enabled": true, "timestamp": unix_s(),
            "power_management": {"enabled": false, "techniques": 0}});
        self.call(
            &client,
            reqwest::Method::POST,
            &format!("/config/{}/current", self.id),
            Some(boot),
        )
        .await;
        loop {
            let Some((&key, &when)) = due.iter().min_by_key(|(_, t)| **t) else {
                return;
            };
            if when > self.deadline {
                return;
            }
            tokio::time::sleep_until(when.into()).await;
            match key {
                "config_poll_interval" => self.config(&client, &mut every).await,
                "command_poll_interval" => self.command(&client).await,
                "energy_poll_interval" => self.energy(&client).await,
                _ => self.update(&client).await,
            }
            let next = Instant::now() + every.get(key).copied().unwrap_or(Duration::from_secs(5));
            due.insert(key, next);
        }
    }

    fn count(&self, f: impl FnOnce(&mut ManagementSummary)) {
        if let Ok(mut s) = self.summary.lock() {
            f(&mut s);
        }
    }

    /// One request; the answer's body when it was a 2xx.
    async fn call(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<Value> {
        let mut request = client.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let outcome = match request.send().await {
            Ok(r) if r.status().is_success() => Ok(r.json::<Value>().await.unwrap_or(Value::Null)),
            Ok(r) => {
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                Err(body["error"]
                    .as_str()
                    .map_or_else(|| format!("http_{status}"), str::to_owned))
            }
            Err(e) => Err(super::transport_reason(&e)),
        };
        self.count(|s| {
            s.requests += 1;
            if let Err(code) = &outcome {
                *s.errors.entry(format!("{path}: {code}")).or_default() += 1;
            }
        });
        outcome.ok()
    }

    async fn config(&self, client: &reqwest::Client, every: &mut BTreeMap<&str, Duration>) {
        let path = format!("/config/{}", self.id);
        let Some(poll) = self.call(client, reqwest::Method::GET, &path, None).await else {
            return;
        };
        if poll["is_pending"] != true {
            return;
        }
        let pending = &poll["pending_config"];
        let changes = pending.get("config_update").unwrap_or(pending);
        for (key, interval) in every.iter_mut() {
            if let Some(s) = changes[*key].as_u64().filter(|&s| s > 0) {
                *interval = Duration::from_secs(s);
            }
        }
        let ack = json!({"status": "applied", "timestamp": unix_s(),
            "error_msg": "Configuration updated successfully",
            "power_management": {"enabled": false, "techniques": 0, "energy_poll_freq": 300_000_000u32}});
        let path = format!("/config/{}/acknowledge", self.id);
        if self
            .call(client, reqwest::Method::POST, &path, Some(ack))
            .await
            .is_some()
        {
            self.count(|s| s.configs_applied += 1);
        }
    }

    async fn command(&self, client: &reqwest::Client) {
        let path = format!("/commands/{}/poll", self.id);
        let Some(poll) = self.call(client, reqwest::Method::GET, &path, None).await else {
            return;
        };
        // The firmware executes the first command only.
        let Some(id) = poll["commands"][0]["command_id"].as_str() else {
            return;
        };
        let result = json!({"command_result": {"command_id": id, "status": "success",
            "executed_at": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()}});
        let path = format!("/commands/{}/result", self.id);
        if self
            .call(client, reqwest::Method::POST, &path, Some(result))
            .await
            .is_some()
        {
            self.count(|s| s.commands_executed += 1);
        }
    }

    async fn energy(&self, client: &reqwest::Client) {
        let report = json!({"device_id": self.id, "timestamp": crate::clock::now_ms(),
            "power_management": {"enabled": false, "techniques": "0x00", "avg_current_ma": 82.4,
                "energy_saved_mah": 0.0, "peripheral_savings_mah": 0.0, "uptime_ms": 300_000,
                "high_perf_ms": 0, "normal_ms": 300_000, "low_power_ms": 0, "sleep_ms": 0}});
        let path = format!("/power/energy/{}", self.id);
        if self
            .call(client, reqwest::Method::POST, &path, Some(report))
            .await
            .is_some()
        {
            self.count(|s| s.energy_reports += 1);
        }
    }

    /// Check, and when offered: initiate, download, verify, report.
    async fn update(&mut self, client: &reqwest::Client) {
        let path = format!("/ota/check/{}?version={}", self.id, self.version);
        let Some(check) = self.call(client, reqwest::Method::GET, &path, None).await else {
            return;
        };
        // Without the build's keys nothing can be verified: only check.
        let (true, Some(keys)) = (check["update_available"] == true, self.keys.clone()) else {
            return;
        };
        let info = &check["update_info"];
        let Some(version) = info["latest_version"].as_str().map(str::to_owned) else {
            return;
        };
        let start = json!({"firmware_version": version});
        let path = format!("/ota/initiate/{}", self.id);
        if self
            .call(client, reqwest::Method::POST, &path, Some(start))
            .await
            .is_none()
        {
            return;
        }
        self.progress(client, "downloading", 0).await;
        let mut encrypted = Vec::new();
        let total = info["total_chunks"].as_u64().unwrap_or(0);
        for n in 0..total {
            let path = format!("/ota/chunk/{}?version={version}&chunk={n}", self.id);
            let Some(chunk) = self.call(client, reqwest::Method::GET, &path, None).await else {
                self.progress(client, "failed", 0).await;
                return;
            };
            let Some(data) = chunk["chunk_data"]
                .as_str()
                .and_then(|d| STANDARD.decode(d).ok())
            else {
                self.progress(client, "failed", 0).await;
                return;
            };
            encrypted.extend_from_slice(&data);
        }
        self.progress(client, "download_complete", 100).await;
        self.progress(client, "verifying", 100).await;
        if verify(info, &encrypted, &keys) {
            self.progress(client, "verification_success", 100).await;
            self.progress(client, "installing", 100).await;
            self.version = version;
            let done = json!({"version": self.version, "status": "success", "timestamp": unix_s()});
            let path = format!("/ota/{}/complete", self.id);
            if self
                .call(client, reqwest::Method::POST, &path, Some(done))
                .await
                .is_some()
            {
                self.count(|s| s.updates_installed += 1);
            }
        } else {
            self.progress(client, "verification_failed", 100).await;
            self.count(|s| s.updates_rejected += 1);
        }
    }

    async fn progress(&self, client: &reqwest::Client, phase: &str, progress: u8) {
        let body =
            json!({"phase": phase, "progress": progress, "message": phase, "timestamp": unix_s()});
        let path = format!("/ota/{}/progress", self.id);
        self.call(client, reqwest::Method::POST, &path, Some(body))
            .await;
    }
}

/// The device's checks: decryption and padding, the `0xE9` magic, the
/// SHA-256 of the image, the RSA signature over that digest.
fn verify(info: &Value, encrypted: &[u8], keys: &BuildKeys) -> bool {
    let Some(iv) = info["iv"]
        .as_str()
        .and_then(|iv| STANDARD.decode(iv).ok())
        .and_then(|iv| <[u8; 16]>::try_from(iv.as_slice()).ok())
    else {
        return false;
    };
    let Ok(plain) = cbc::Decryptor::<Aes256>::new((&keys.aes).into(), (&iv).into())
        .decrypt_padded_vec::<Pkcs7>(encrypted)
    else {
        return false;
    };
    let digest = Sha256::digest(&plain);
    let signature = info["signature"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .unwrap_or_default();
    plain.first() == Some(&ESP32_MAGIC)
        && info["original_size"].as_u64() == Some(plain.len() as u64)
        && info["sha256_hash"].as_str() == Some(hex::encode(digest).as_str())
        && keys
            .public_key
            .pkcs1v15_verify_prehash::<Sha256>(&digest, &signature)
            .is_ok()
}

fn unix_s() -> u64 {
    crate::clock::now_ms() / 1000
}
