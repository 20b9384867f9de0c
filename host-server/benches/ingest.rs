//! `just bench-server`: the P2 figure.
//!
//! P2 = accepted uploads/s of the real ingest path (release server process,
//! SQLite WAL, `synchronous=FULL`, keep-alive clients, typical firmware
//! uploads) ÷ requests/s of a bare warp handler answering 200 to the same
//! requests, both measured in this run on loopback with wrk. Each of 16 wrk
//! threads is one device on its own connection, posting that device's
//! pre-sealed uploads in nonce order (`ingest.lua`).
//!
//! Settings: `SOLARWIRE_BENCH_SECONDS` (default 8) per measurement,
//! `SOLARWIRE_BENCH_UPLOADS` (default 25000) pre-sealed uploads per device,
//! `SOLARWIRE_BENCH_DEVICES` (default 16) devices = connections = wrk threads.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use solarwire_core::envelope::Keys;
use solarwire_server::simulate::firmware::FirmwareDevice;
use solarwire_server::simulate::inverter::Inverter;
use solarwire_server::store::sqlite::database_path;
use solarwire_server::store::{StoreOptions, data_dir_url, open_store};
use warp::Filter;

const LAYOUT: [u8; 6] = [0, 1, 5, 6, 7, 9];

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One upload file per device: its id, then one sealed body per line.
fn prepare(data: &Path, uploads: &Path, devices: usize, per_device: u64) {
    std::fs::create_dir_all(uploads).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = open_store(&data_dir_url(data), StoreOptions::command()).unwrap();
    let start_ms = 1_763_884_800_000u64;
    for d in 0..devices {
        let id = format!("BENCH_{d:02}");
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

struct Wrk {
    ok: u64,
    refused: u64,
    requests_per_s: f64,
    p50_us: u64,
    p99_us: u64,
}

fn wrk(addr: SocketAddr, uploads: &Path, devices: usize, seconds: u64) -> Wrk {
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

/// The baseline: a bare warp handler that reads the body and answers 200.
fn baseline(uploads: &Path, devices: usize, seconds: u64) -> Wrk {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let route = warp::path!("aggregated" / String)
        .and(warp::post())
        .and(warp::body::bytes())
        .map(|_: String, _: bytes::Bytes| warp::reply::json(&json!({ "success": true })));
    runtime.spawn(warp::serve(route).incoming(listener).run());
    let result = wrk(addr, uploads, devices, seconds);
    runtime.shutdown_background();
    result
}

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn real(data: &Path, uploads: &Path, devices: usize, seconds: u64) -> (Wrk, u64, u64) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_solarwire"))
            .arg("--data-dir")
            .arg(data)
            .args(["--log", "warn", "serve", "--listen", &addr.to_string()])
            .args(["--device-rate", "0"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    while std::net::TcpStream::connect(addr).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let result = wrk(addr, uploads, devices, seconds);
    let rss = peak_rss_kib(server.0.id());
    drop(server); // SIGKILL: what was acknowledged must be in the database.
    let stored: u64 = rusqlite::Connection::open(database_path(data))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM uploads", [], |r| r.get(0))
        .unwrap();
    (result, stored, rss)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let seconds = setting("SOLARWIRE_BENCH_SECONDS", 8);
    let per_device = setting("SOLARWIRE_BENCH_UPLOADS", 25_000);
    let devices = usize::try_from(setting("SOLARWIRE_BENCH_DEVICES", 16)).unwrap_or(16);
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    std::fs::create_dir_all(&target).unwrap();
    let work = tempfile::Builder::new()
        .prefix("bench-server-")
        .tempdir_in(&target)
        .unwrap();
    let data = work.path().join("data");
    let uploads: PathBuf = work.path().join("uploads");
    eprintln!("sealing {per_device} uploads for each of {devices} devices …");
    prepare(&data, &uploads, devices, per_device);

    eprintln!("baseline: bare warp handler, {seconds} s …");
    let bare = baseline(&uploads, devices, seconds);
    eprintln!("real ingest path, {seconds} s …");
    let (ingest, stored, rss_kib) = real(&data, &uploads, devices, seconds);

    let accepted_per_s = stored as f64 / seconds as f64;
    let ratio = accepted_per_s / bare.requests_per_s;
    let report = json!({
        "seconds": seconds,
        "devices": devices,
        "baseline_requests_per_s": bare.requests_per_s,
        "baseline_p50_us": bare.p50_us,
        "baseline_p99_us": bare.p99_us,
        "ingest_requests_per_s": ingest.requests_per_s,
        "ingest_200": ingest.ok,
        "ingest_refused": ingest.refused + bare.refused,
        "uploads_stored": stored,
        "accepted_uploads_per_s": accepted_per_s,
        "ingest_p50_us": ingest.p50_us,
        "ingest_p99_us": ingest.p99_us,
        "p2_ratio": ratio,
        "server_peak_rss_mib": rss_kib as f64 / 1024.0,
    });
    let text = serde_json::to_string_pretty(&report).unwrap();
    std::fs::write(target.join("bench-server.json"), &text).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").unwrap();
    writeln!(
        out,
        "P2 = {accepted_per_s:.0} accepted uploads/s ÷ {:.0} bare req/s = {ratio:.2} (goal ≥ 0.5); \
         peak RSS {:.1} MiB; {} of {} acknowledged uploads stored after SIGKILL",
        bare.requests_per_s,
        rss_kib as f64 / 1024.0,
        stored,
        ingest.ok
    )
    .unwrap();
    assert!(
        stored >= ingest.ok.min(per_device * devices as u64),
        "acknowledged uploads missing after SIGKILL"
    );
}
