//! `solarwire simulate`: simulated inverters that compress, seal and upload
//! exactly like the firmware — the demo and the load tool.
//!
//! Each device runs as its own task on its own keep-alive connection and
//! behaves like firmware v1.3.4: every cycle it polls `samples_per_upload`
//! readings, compresses them into one packet, appends it to a 20-entry
//! queue, and uploads up to 8 queued packets under a fresh nonce; only a 200
//! removes them from the queue. Device time advances one upload period per
//! upload, so a run always ends "now" and covers daylight hours.

pub mod firmware;
mod generic;
pub mod inverter;
pub mod plant;
mod pollers;
mod report;

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::clock::now_ms;
use crate::duration::parse_duration;
use firmware::{FirmwareDevice, Packet};
pub use generic::GenericSummary;
use inverter::Inverter;
use plant::{Plant, PvCurve};
pub use pollers::ManagementSummary;
pub use report::Summary;
use report::{Outcome, Tally};

/// Packets the device queues at most (oldest dropped) and sends per upload.
const QUEUE: usize = 20;
const PER_UPLOAD: usize = 8;

/// Simulation settings.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Server to upload to.
    #[arg(long, env = "SOLARWIRE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Number of simulated devices (ids PREFIX0001, PREFIX0002, …).
    #[arg(long, default_value_t = 3)]
    pub devices: usize,
    /// Simulate these device ids instead (repeatable).
    #[arg(long = "device")]
    pub device_ids: Vec<String>,
    /// Prefix of generated device ids.
    #[arg(long, default_value = "SIM_")]
    pub prefix: String,
    /// Uploads per second per device.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// How long to run.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// HMAC key (hex) of every simulated device: the fleet key, or the key
    /// `solarwire device add` printed. Without it, keys are read from (or
    /// devices added to) the database in --data-dir.
    #[arg(long, env = "SOLARWIRE_SIM_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Readings per upload (the firmware: a 5 s poll and a 15 s upload period).
    #[arg(long, default_value_t = 3)]
    pub samples_per_upload: usize,
    /// Seconds between readings (device time).
    #[arg(long, default_value_t = 5)]
    pub poll_interval: u32,
    /// Register ids sampled, in layout order (the firmware's default selection).
    #[arg(long, value_delimiter = ',', default_value = "0,1,5,6,7,9")]
    pub registers: Vec<u8>,
    /// Seed of the simulated weather.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Append each acknowledged upload as a `device nonce upload_id` line.
    #[arg(long)]
    pub acked_log: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Upload only: no configuration, command, update or energy pollers.
    #[arg(long)]
    pub no_pollers: bool,
    /// How often each device checks for a firmware update (the firmware: 100 min).
    #[arg(long, default_value = "100m", value_parser = parse_duration)]
    pub ota_check_interval: Duration,
    /// The packet codec: `v1`, the firmware's selection, or `v2`, codec v2
    /// sealed in envelope v2 (each device gets an envelope v2 key in the
    /// database; with --key, devices have none and seal in the firmware's
    /// envelope).
    #[arg(long, value_enum, default_value = "v1")]
    pub format: firmware::PacketFormat,
    /// The firmware version the simulated devices start with.
    #[arg(long, default_value = "1.0.0")]
    pub firmware_version: String,
    /// Also run this many generic (API-key) devices: each registers itself
    /// (the server needs `--device-registration open` or `token`) and sends
    /// named-channel readings at `--rate` and heartbeats.
    #[arg(long, default_value_t = 0)]
    pub generic: usize,
    /// The server's registration token, for `--device-registration token`.
    #[arg(
        long,
        env = "SOLARWIRE_DEVICE_REGISTRATION_TOKEN",
        hide_env_values = true
    )]
    pub registration_token: Option<String>,
    /// Simulate this storage plant's devices instead (a site file, TOML:
    /// `solarwire site demo`), each uploading all registers of its profile
    /// from one consistent plant; missing devices are added with their profile.
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// The PV curve the site's inverters follow: a CSV whose second column
    /// is AC power, rows from midnight every `--pv-interval` seconds
    /// (default: a clear sky).
    #[arg(long, requires = "site")]
    pub pv: Option<PathBuf>,
    /// Seconds between the rows of `--pv`.
    #[arg(long, default_value_t = 900)]
    pub pv_interval: u64,
}

impl SimulateArgs {
    /// The device ids to simulate.
    pub fn ids(&self) -> Vec<String> {
        if self.device_ids.is_empty() {
            (1..=self.devices)
                .map(|i| format!("{}{i:04}", self.prefix))
                .collect()
        } else {
            self.device_ids.clone()
        }
    }

    /// The site of `--site`, loaded and checked.
    ///
    /// # Errors
    /// A site file that cannot be read or is not valid.
    pub fn load_site(&self) -> Result<Option<crate::site::Site>, String> {
        self.site
            .as_deref()
            .map(|path| crate::site::Site::load(path).map_err(|e| e.to_string()))
            .transpose()
    }

    /// The plant `--site` and `--pv` describe.
    ///
    /// # Errors
    /// A site or PV file that cannot be read or is not valid.
    pub fn plant(&self) -> Result<Option<Plant>, String> {
        let Some(site) = self.load_site()? else {
            return Ok(None);
        };
        let pv = match &self.pv {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                PvCurve::from_csv(&text, self.pv_interval)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => PvCurve::ClearSky,
        };
        Ok(Some(Plant::new(site, pv, self.seed)))
    }

    fn uploads_per_device(&self) -> u64 {
        (self.rate * self.duration.as_secs_f64()).ceil().max(1.0) as u64
    }
}

/// Runs the simulation and returns its summary. `firmware` is what the
/// devices' build embeds to verify updates (without it they only check).
///
/// # Errors
/// Bad settings or an unwritable acknowledgement log.
pub async fn run(
    args: &SimulateArgs,
    devices: Vec<FirmwareDevice>,
    firmware: Option<&crate::fota::DeviceBuildKeys>,
) -> Result<Summary, String> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        return Err("--rate must be positive".into());
    }
    if args.samples_per_upload == 0 || args.registers.is_empty() {
        return Err("--samples-per-upload and --registers must not be empty".into());
    }
    let log = match &args.acked_log {
        Some(path) => Some(Arc::new(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
        ))),
        None => None,
    };
    let plant = args.plant()?.map(|p| Arc::new(Mutex::new(p)));
    let mut devices = devices;
    for device in &mut devices {
        device.format = args.format;
    }
    let per_device = args.uploads_per_device();
    let progress = ProgressBar::new(per_device * devices.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} uploads {msg} [{elapsed_precise}]")
            .map_err(|e| e.to_string())?,
    );
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    // Every device's last upload is dated now: a plant's devices poll together.
    let end_ms = now_ms();
    let management = Arc::new(Mutex::new(ManagementSummary::default()));
    let build_keys = firmware.and_then(pollers::BuildKeys::parse).map(Arc::new);
    let polling: Vec<_> = if args.no_pollers {
        Vec::new()
    } else {
        devices
            .iter()
            .map(|device| {
                let pollers = pollers::Pollers {
                    url: args.url.trim_end_matches('/').to_owned(),
                    id: device.id.clone(),
                    version: args.firmware_version.clone(),
                    ota_check: args.ota_check_interval,
                    deadline: started + args.duration,
                    keys: build_keys.clone(),
                    summary: management.clone(),
                };
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok(tokio::spawn(pollers.run(client)))
            })
            .collect::<Result<_, String>>()?
    };
    let generic_summary = Arc::new(Mutex::new(GenericSummary::default()));
    let run_id = now_ms();
    let generic: Vec<_> = (0..args.generic)
        .map(|i| {
            let device = generic::GenericRun {
                url: args.url.trim_end_matches('/').to_owned(),
                name: format!("{}generic-{run_id}-{i}", args.prefix),
                token: args.registration_token.clone(),
                readings: per_device,
                every: Duration::from_secs_f64(1.0 / args.rate),
                deadline: started + args.duration,
                seed: args.seed.wrapping_add(1000 + i as u64),
                summary: generic_summary.clone(),
            };
            tokio::spawn(device.run())
        })
        .collect();
    let tasks: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(i, device)| {
            let sim = DeviceRun {
                url: args.url.trim_end_matches('/').to_owned(),
                source: match &plant {
                    Some(plant) => Source::Plant(plant.clone()),
                    None => Source::Inverter(Inverter::new(args.seed.wrapping_add(i as u64))),
                },
                device,
                uploads: per_device,
                every: Duration::from_secs_f64(1.0 / args.rate),
                deadline: started + args.duration,
                end_ms,
                samples: args.samples_per_upload,
                poll_s: args.poll_interval,
                log: log.clone(),
                tally: tally.clone(),
                progress: progress.clone(),
            };
            tokio::spawn(sim.run())
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| format!("a device task failed: {e}"))?;
    }
    for task in polling {
        task.await
            .map_err(|e| format!("a device's pollers failed: {e}"))?;
    }
    for task in generic {
        task.await
            .map_err(|e| format!("a generic device failed: {e}"))?;
    }
    progress.finish_and_clear();
    let tally = tally.lock().map_err(|_| "tally poisoned")?.clone();
    let mut summary = tally.summary(started.elapsed());
    if !args.no_pollers {
        summary.management = Some(management.lock().map_err(|_| "tally poisoned")?.clone());
    }
    if args.generic > 0 {
        summary.generic = Some(
            generic_summary
                .lock()
                .map_err(|_| "tally poisoned")?
                .clone(),
        );
    }
    Ok(summary)
}

/// Where a simulated device's readings come from.
enum Source {
    /// Its own inverter (an EcoWatt logger).
    Inverter(Inverter),
    /// Its unit of a plant shared with the site's other devices.
    Plant(Arc<Mutex<Plant>>),
}

impl Source {
    /// Every register of `device` at `t_ms` (`solar_s` on the inverter's
    /// clock, one poll of `dt_s` after the last), by id.
    fn read(&mut self, device: &str, t_ms: u64, solar_s: f64, dt_s: f64) -> Vec<u16> {
        match self {
            Self::Inverter(inverter) => inverter.read(solar_s, dt_s).to_vec(),
            Self::Plant(plant) => plant
                .lock()
                .ok()
                .and_then(|mut p| p.row(device, t_ms))
                .unwrap_or_default(),
        }
    }
}

/// An upload sealed for sending.
struct Sealed {
    /// Its nonce (firmware envelope) or counter (envelope v2).
    counter: u64,
    body: reqwest::Body,
    content_type: &'static str,
}

/// One device's run.
struct DeviceRun {
    url: String,
    device: FirmwareDevice,
    source: Source,
    uploads: u64,
    every: Duration,
    deadline: Instant,
    end_ms: u64,
    samples: usize,
    poll_s: u32,
    log: Option<Arc<Mutex<std::fs::File>>>,
    tally: Arc<Mutex<Tally>>,
    progress: ProgressBar,
}

impl DeviceRun {
    async fn run(mut self) {
        let client = match reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(10))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                self.record(Outcome::Transport(e.to_string()), None);
                return;
            }
        };
        self.sync_nonce(&client).await;
        let period_ms = u64::from(self.poll_s) * self.samples as u64 * 1000;
        let end_ms = self.end_ms;
        let mut queue: VecDeque<Packet> = VecDeque::new();
        let mut ticker = tokio::time::interval(self.every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for k in 0..self.uploads {
            ticker.tick().await;
            if Instant::now() > self.deadline {
                break;
            }
            // Device time: the run's last upload happens now, at 13:00 solar time.
            let upload_ms = end_ms - (self.uploads - 1 - k) * period_ms;
            let rows: Vec<Vec<u16>> = (0..self.samples)
                .map(|j| {
                    let t_ms =
                        upload_ms - (self.samples - 1 - j) as u64 * u64::from(self.poll_s) * 1000;
                    let solar_s = 13.0 * 3600.0 - (end_ms - t_ms) as f64 / 1000.0;
                    let all =
                        self.source
                            .read(&self.device.id, t_ms, solar_s, f64::from(self.poll_s));
                    self.device
                        .layout
                        .iter()
                        .map(|&id| all.get(usize::from(id)).copied().unwrap_or(0))
                        .collect()
                })
                .collect();
            if queue.len() == QUEUE {
                queue.pop_front();
            }
            queue.push_back(self.device.compress(&rows, upload_ms));
            let sending: Vec<Packet> = queue.iter().take(PER_UPLOAD).cloned().collect();
            // The upload's clock (whole seconds) is never before its last sample.
            let json = self
                .device
                .upload_json(&sending, upload_ms.div_ceil(1000), self.poll_s);
            let Some(sealed) = self.seal(&json) else {
                continue;
            };
            let started = Instant::now();
            let outcome = self.post(&client, sealed.body, sealed.content_type).await;
            let latency = started.elapsed();
            if let Outcome::Acked { upload_id, .. } = &outcome {
                queue.drain(..sending.len());
                self.log_ack(sealed.counter, *upload_id);
            }
            let answered = !matches!(outcome, Outcome::Transport(_));
            self.record(outcome, answered.then_some(latency));
        }
    }

    /// Seals an upload JSON as the device does: envelope v2 (a fresh random
    /// IV, the device clock) when it has an envelope v2 key and sends codec
    /// v2, else the firmware's envelope under the next nonce.
    fn seal(&mut self, json: &str) -> Option<Sealed> {
        if self.device.seals_v2() {
            let mut iv = [0u8; solarwire_core::envelope_v2::IV_LEN];
            getrandom::fill(&mut iv).ok()?;
            let sealed = self.device.seal_v2(json, now_ms(), iv).ok()?;
            return Some(Sealed {
                counter: sealed.counter,
                body: sealed.body.into(),
                content_type: "application/octet-stream",
            });
        }
        let sealed = self.device.seal(json).ok()?;
        Some(Sealed {
            counter: u64::from(sealed.nonce),
            body: sealed.body.into(),
            content_type: "application/json",
        })
    }

    /// The firmware's nonce sync: continue after the server's last nonce.
    async fn sync_nonce(&mut self, client: &reqwest::Client) {
        let url = format!("{}/security/{}/nonce", self.url, self.device.id);
        if let Ok(r) = client.get(url).send().await
            && let Ok(v) = r.json::<Value>().await
            && let Some(last) = v["last_valid_nonce"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
        {
            self.device.nonce = self.device.nonce.max(last);
        }
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        body: reqwest::Body,
        content_type: &str,
    ) -> Outcome {
        let url = format!("{}/aggregated/{}", self.url, self.device.id);
        let response = match client
            .post(url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Outcome::Transport(transport_reason(&e)),
        };
        let status = response.status();
        let reply: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Outcome::Acked {
                upload_id: reply["upload_id"].as_i64().unwrap_or(0),
                duplicate: reply["duplicate"] == true,
            }
        } else {
            let code = reply["error"]
                .as_str()
                .map_or_else(|| format!("http_{}", status.as_u16()), str::to_owned);
            Outcome::Rejected(code)
        }
    }

    fn log_ack(&self, nonce: u64, upload_id: i64) {
        if let Some(log) = &self.log
            && let Ok(mut file) = log.lock()
        {
            // One write per line, unbuffered: the log survives a crash of either side.
            let line = format!("{} {nonce} {upload_id}\n", self.device.id);
            let _ = file.write_all(line.as_bytes());
        }
    }

    fn record(&self, outcome: Outcome, latency: Option<Duration>) {
        if let Ok(mut tally) = self.tally.lock() {
            tally.add(&outcome, latency);
            self.progress.set_message(tally.progress_message());
        }
        self.progress.inc(1);
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else {
        "transport".into()
    }
}
