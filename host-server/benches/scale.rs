//! `just bench-scale`: durable uploads/s of 1, 2 and 3 release servers on
//! one PostgreSQL database, next to one server on SQLite, in the same run.
//!
//! Each server gets its own devices (one wrk thread and keep-alive
//! connection per device, the `bench-server` load generator); after the
//! run the servers are SIGKILLed and the uploads in the database counted:
//! uploads/s = uploads stored ÷ seconds, so only committed uploads count.
//! PostgreSQL is Debian's, started by the test harness (initdb in a
//! temporary directory, loopback, random port), with its default
//! `fsync=on` and `synchronous_commit=on`.
//!
//! Settings: `SOLARWIRE_BENCH_SECONDS` (default 8) per configuration,
//! `SOLARWIRE_BENCH_DEVICES` (default 8) devices per server,
//! `SOLARWIRE_BENCH_UPLOADS` (default 4000) pre-sealed uploads per device.

mod load;
#[path = "../tests/common/postgres.rs"]
mod postgres;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use load::{prepare, setting, wrk};
use serde_json::{Value, json};
use solarwire_server::store::{StoreOptions, data_dir_url, open_store};

/// A release server process, SIGKILLed when dropped.
struct Server(Child);

impl Server {
    fn start(data: &Path, database_url: Option<&str>, addr: SocketAddr) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_solarwire"));
        command
            .arg("--data-dir")
            .arg(data)
            .args(["--log", "warn", "serve", "--listen", &addr.to_string()])
            .args(["--device-rate", "0", "--retention-days", "0"])
            .stdout(Stdio::null());
        if let Some(url) = database_url {
            command.env("SOLARWIRE_DATABASE_URL", url);
        }
        let server = Self(command.spawn().unwrap());
        while std::net::TcpStream::connect(addr).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Uploads stored in a store, through the storage layer.
fn stored(url: &str) -> u64 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = open_store(url, StoreOptions::command()).unwrap();
    runtime.block_on(store.counts()).unwrap().uploads
}

struct Setup {
    seconds: u64,
    devices: usize,
    per_device: u64,
}

/// `servers` servers on the store at `database_url` (SQLite in the data
/// directory when `None`), each loaded by its own devices.
fn measure(
    work: &Path,
    label: &str,
    database_url: Option<String>,
    servers: usize,
    s: &Setup,
) -> Value {
    let data = work.join(label);
    std::fs::create_dir_all(&data).unwrap();
    let url = database_url.clone().unwrap_or_else(|| data_dir_url(&data));
    eprintln!(
        "{label}: sealing uploads for {servers} x {} devices …",
        s.devices
    );
    let uploads: Vec<_> = (0..servers)
        .map(|n| {
            let dir = data.join(format!("uploads-{n}"));
            prepare(&url, &dir, &format!("S{n}"), s.devices, s.per_device);
            dir
        })
        .collect();
    // The first server creates the data directory's secrets; then the rest.
    let addrs: Vec<SocketAddr> = (0..servers).map(|_| free_addr()).collect();
    let procs: Vec<Server> = addrs
        .iter()
        .map(|a| Server::start(&data, database_url.as_deref(), *a))
        .collect();
    eprintln!("{label}: {servers} server(s), {} s …", s.seconds);
    let runs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = addrs
            .iter()
            .zip(&uploads)
            .map(|(addr, dir)| scope.spawn(|| wrk(*addr, dir, s.devices, s.seconds)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    drop(procs); // SIGKILL: only what was committed counts.
    let stored = stored(&url);
    let acknowledged: u64 = runs.iter().map(|r| r.ok).sum();
    assert!(
        stored >= acknowledged.min(s.per_device * (s.devices * servers) as u64),
        "{label}: acknowledged uploads missing after SIGKILL"
    );
    json!({
        "configuration": label,
        "servers": servers,
        "devices": s.devices * servers,
        "uploads_stored": stored,
        "acknowledged": acknowledged,
        "refused": runs.iter().map(|r| r.refused).sum::<u64>(),
        "durable_uploads_per_s": stored as f64 / s.seconds as f64,
        "p50_ms_worst_server": runs.iter().map(|r| r.p50_us).max().unwrap_or(0) as f64 / 1000.0,
        "p99_ms_worst_server": runs.iter().map(|r| r.p99_us).max().unwrap_or(0) as f64 / 1000.0,
    })
}

fn main() {
    let setup = Setup {
        seconds: setting("SOLARWIRE_BENCH_SECONDS", 8),
        devices: usize::try_from(setting("SOLARWIRE_BENCH_DEVICES", 8)).unwrap_or(8),
        per_device: setting("SOLARWIRE_BENCH_UPLOADS", 4000),
    };
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    std::fs::create_dir_all(&target).unwrap();
    let work = tempfile::Builder::new()
        .prefix("bench-scale-")
        .tempdir_in(&target)
        .unwrap();
    let mut rows = vec![measure(work.path(), "sqlite-1", None, 1, &setup)];
    for servers in 1..=3 {
        let url = postgres::fresh_database();
        rows.push(measure(
            work.path(),
            &format!("postgres-{servers}"),
            Some(url),
            servers,
            &setup,
        ));
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let report = json!({ "seconds": setup.seconds, "cpus": cpus, "runs": rows });
    let text = serde_json::to_string_pretty(&report).unwrap();
    std::fs::write(target.join("bench-scale.json"), &text).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").unwrap();
    writeln!(
        out,
        "configuration  servers  durable uploads/s  p99 ms (worst server)"
    )
    .unwrap();
    for r in &rows {
        writeln!(
            out,
            "{:<14} {:>7}  {:>17.0}  {:>21.1}",
            r["configuration"].as_str().unwrap_or(""),
            r["servers"],
            r["durable_uploads_per_s"].as_f64().unwrap_or(0.0),
            r["p99_ms_worst_server"].as_f64().unwrap_or(0.0)
        )
        .unwrap();
    }
    writeln!(
        out,
        "(all servers, PostgreSQL and wrk share this machine's {cpus} CPUs)"
    )
    .unwrap();
}
