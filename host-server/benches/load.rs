//! The load generator of the server benchmarks: pre-sealed uploads of
//! simulated inverters, posted with wrk (`ingest.lua`).
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use solarwire_core::envelope::Keys;
use solarwire_server::simulate::firmware::FirmwareDevice;
use solarwire_server::simulate::inverter::Inverter;
use solarwire_server::store::{StoreOptions, open_store};

const LAYOUT: [u8; 6] = [0, 1, 5, 6, 7, 9];

/// A numeric setting from the environment.
pub fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Adds `devices` devices named `{prefix}_{n}` to the store at `store_url`
/// and writes one upload file per device: its id, then one sealed body per line.
pub fn prepare(store_url: &str, uploads: &Path, prefix: &str, devices: usize, per_device: u64) {
    std::fs::create_dir_all(uploads).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = open_store(store_url, StoreOptions::command()).unwrap();
    let start_ms = 1_763_884_800_000u64;
    for d in 0..devices {
        let id = format!("{prefix}_{d:02}");
        let keys = solarwire_server::keys::generate(false).unwrap();
        let mut device = FirmwareDevice::new(
            id.clone(),
            Keys::new(keys.hmac.as_ref().unwrap()),
            LAYOUT.to_vec(),
        );
        assert!(
            runtime
                .block_on(store.add_device(&id, keys.clone()))
                .unwrap()
        );
        let mut inverter = Inverter::new(d as u64);
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(uploads.join(format!("device-{d}.txt"))).unwrap(),
        );
        writeln!(out, "{id}").unwrap();
        for k in 0..per_device {
            // The firmware's cadence: a 5 s poll, one 3-sample packet per 15 s upload.
            let upload_ms = start_ms + k * 15_000;
            let rows: Vec<Vec<u16>> = (0..3u64)
                .map(|j| {
                    let t = upload_ms - (2 - j) * 5000;
                    let all = inverter.read(8.0 * 3600.0 + (t - start_ms) as f64 / 1000.0, 5.0);
                    LAYOUT.iter().map(|&r| all[usize::from(r)]).collect()
                })
                .collect();
            let packet = device.compress(&rows, upload_ms);
            let json = device.upload_json(&[packet], upload_ms / 1000, 5);
            writeln!(out, "{}", device.seal(&json).unwrap().body).unwrap();
        }
    }
}

/// What one wrk run measured.
pub struct Wrk {
    pub ok: u64,
    pub refused: u64,
    pub requests_per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

/// Posts each device's uploads in nonce order, one wrk thread and connection per device.
pub fn wrk(addr: SocketAddr, uploads: &Path, devices: usize, seconds: u64) -> Wrk {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/ingest.lua");
    let out = Command::new("wrk")
        .args(["-t", &devices.to_string(), "-c", &devices.to_string()])
        .args(["-d", &format!("{seconds}s"), "--latency", "-s"])
        .arg(&script)
        .arg(format!("http://{addr}"))
        .arg("--")
        .arg(uploads)
        .output()
        .expect("wrk is not installed: run `just bench-server` (it installs Debian's wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    let field = |line: &str, key: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let result = text
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .unwrap_or_else(|| panic!("no RESULT line: {text}"));
    let requests_per_s = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    Wrk {
        ok: field(result, "ok="),
        refused: field(result, "refused="),
        requests_per_s,
        p50_us: field(result, "p50_us="),
        p99_us: field(result, "p99_us="),
    }
}
