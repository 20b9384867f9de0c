//! `just bench-server`: the P2 figure.
//!
//! P2 = accepted uploads/s of the real ingest path (release server process,
//! SQLite WAL, `synchronous=FULL`, keep-alive clients, typical firmware
//! uploads) ÷ requests/s of a bare warp handler answering 200 to the same
//! requests, both measured in this run on loopback with wrk. Each of 16 wrk
//! threads is one device on its own connection, posting that device's
//! pre-sealed uploads in nonce order (`ingest.lua`).
//!
//! Also per upload: the server's CPU time and bytes written (/proc), and
//! its fsyncs (counted with `strace --seccomp-bpf` when installed); and the
//! database's bytes on disk per stored sample.
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
use solarwire_server::store::data_dir_url;
use solarwire_server::store::sqlite::database_path;
use warp::Filter;

mod load;

use load::{Wrk, prepare, setting, wrk};

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

/// The server process (under `strace` when it is installed, to count
/// fsyncs), killed with SIGKILL when dropped.
struct Server {
    child: Child,
    /// The server's own pid (the child's, or strace's child's).
    pid: u32,
    /// Where strace writes one line per fsync.
    fsync_log: Option<PathBuf>,
}

impl Server {
    fn start(data: &Path, addr: SocketAddr, fsync_log: &Path) -> Self {
        let traced = Command::new("strace")
            .arg("-V")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let mut command = if traced {
            let mut c = Command::new("strace");
            c.args(["-f", "-qq", "--seccomp-bpf", "-e", "trace=fsync,fdatasync"])
                .arg("-o")
                .arg(fsync_log)
                .arg(env!("CARGO_BIN_EXE_solarwire"));
            c
        } else {
            eprintln!("strace is not installed: fsyncs are not counted");
            Command::new(env!("CARGO_BIN_EXE_solarwire"))
        };
        let child = command
            .arg("--data-dir")
            .arg(data)
            .args(["--log", "warn", "serve", "--listen", &addr.to_string()])
            .args(["--device-rate", "0"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        while std::net::TcpStream::connect(addr).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = if traced {
            let children = format!("/proc/{0}/task/{0}/children", child.id());
            let text = std::fs::read_to_string(children).unwrap_or_default();
            text.split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .expect("the server runs under strace")
        } else {
            child.id()
        };
        Self {
            child,
            pid,
            fsync_log: traced.then(|| fsync_log.to_path_buf()),
        }
    }

    /// fsync and fdatasync calls so far, when counted.
    fn fsyncs(&self) -> Option<u64> {
        let log = std::fs::read_to_string(self.fsync_log.as_ref()?).ok()?;
        Some(log.lines().filter(|l| l.contains("sync(")).count() as u64)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time and bytes written by a process so far, from /proc.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    cpu_us: u64,
    /// Bytes passed to write calls.
    written: u64,
    /// Bytes sent to storage (0 where the kernel does not account them).
    storage_written: u64,
}

fn usage(pid: u32) -> Usage {
    let ticks_per_s: u64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    let field = |key: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    Usage {
        cpu_us: ticks * 1_000_000 / ticks_per_s,
        written: field("wchar:"),
        storage_written: field("write_bytes:"),
    }
}

/// Bytes of the database files (main, WAL) in `data`.
fn disk_bytes(data: &Path) -> u64 {
    let db = database_path(data);
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    [db, wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// What the real ingest run measured.
struct Real {
    wrk: Wrk,
    stored: u64,
    samples: u64,
    rss_kib: u64,
    used: Usage,
    fsyncs: Option<u64>,
    disk_bytes: u64,
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn real(data: &Path, work: &Path, uploads: &Path, devices: usize, seconds: u64) -> Real {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = Server::start(data, addr, &work.join("fsyncs.log"));
    let (before, fsyncs_before) = (usage(server.pid), server.fsyncs());
    let wrk = wrk(addr, uploads, devices, seconds);
    let after = usage(server.pid);
    let fsyncs = server.fsyncs().zip(fsyncs_before).map(|(a, b)| a - b);
    let rss_kib = peak_rss_kib(server.pid);
    drop(server); // SIGKILL: what was acknowledged must be in the database.
    let db = rusqlite::Connection::open(database_path(data)).unwrap();
    let count = |table: &str| -> u64 {
        db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    let (stored, samples) = (count("uploads"), count("samples"));
    Real {
        wrk,
        stored,
        samples,
        rss_kib,
        used: Usage {
            cpu_us: after.cpu_us - before.cpu_us,
            written: after.written - before.written,
            storage_written: after.storage_written - before.storage_written,
        },
        fsyncs,
        disk_bytes: disk_bytes(data),
    }
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
    prepare(&data_dir_url(&data), &uploads, "BENCH", devices, per_device);

    eprintln!("baseline: bare warp handler, {seconds} s …");
    let bare = baseline(&uploads, devices, seconds);
    eprintln!("real ingest path, {seconds} s …");
    let real = real(&data, work.path(), &uploads, devices, seconds);
    let (ingest, stored) = (&real.wrk, real.stored);

    let accepted_per_s = stored as f64 / seconds as f64;
    let ratio = accepted_per_s / bare.requests_per_s;
    let per_upload = |v: u64| v as f64 / stored.max(1) as f64;
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
        "samples_stored": real.samples,
        "accepted_uploads_per_s": accepted_per_s,
        "ingest_p50_us": ingest.p50_us,
        "ingest_p99_us": ingest.p99_us,
        "p2_ratio": ratio,
        "cpu_us_per_upload": per_upload(real.used.cpu_us),
        "bytes_written_per_upload": per_upload(real.used.written),
        "storage_bytes_written_per_upload": per_upload(real.used.storage_written),
        "fsyncs_per_upload": real.fsyncs.map(per_upload),
        "disk_bytes_per_sample": real.disk_bytes as f64 / real.samples.max(1) as f64,
        "server_peak_rss_mib": real.rss_kib as f64 / 1024.0,
    });
    let text = serde_json::to_string_pretty(&report).unwrap();
    std::fs::write(target.join("bench-server.json"), &text).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").unwrap();
    writeln!(
        out,
        "P2 = {accepted_per_s:.0} accepted uploads/s ÷ {:.0} bare req/s = {ratio:.2} (goal ≥ 0.5); \
         p99 {:.1} ms (goal < 10); per upload {:.0} µs CPU, {:.0} bytes written, {} fsyncs; \
         {:.1} bytes on disk per sample; peak RSS {:.1} MiB; \
         {} of {} acknowledged uploads stored after SIGKILL",
        bare.requests_per_s,
        ingest.p99_us as f64 / 1000.0,
        per_upload(real.used.cpu_us),
        per_upload(real.used.written),
        real.fsyncs
            .map_or("uncounted".into(), |f| format!("{:.3}", per_upload(f))),
        real.disk_bytes as f64 / real.samples.max(1) as f64,
        real.rss_kib as f64 / 1024.0,
        stored,
        ingest.ok
    )
    .unwrap();
    assert!(
        stored >= ingest.ok.min(per_device * devices as u64),
        "acknowledged uploads missing after SIGKILL"
    );
}
