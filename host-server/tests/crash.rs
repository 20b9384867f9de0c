//! Crash recovery: `solarwire simulate` uploads to a server process that is
//! killed with SIGKILL at a random moment and restarted; every upload that
//! got a 200 must be stored exactly once, and nonces must continue.
//!
//! Rounds: `SOLARWIRE_CRASH_ROUNDS` (default 3).

mod common;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_solarwire");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A random number from the OS-seeded hasher keys.
fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// A server process, killed when dropped (also when an assertion fails).
struct Server(Child);

impl Server {
    /// SIGKILL, as a crash.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start_server(dir: &Path, port: u16) -> Server {
    let server = Server(
        Command::new(BIN)
            .args([
                "--data-dir",
                dir.to_str().unwrap(),
                "--log",
                "warn",
                "serve",
            ])
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--device-rate",
                "0",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Ready when it answers; the port may take a moment after a kill.
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the server did not start on port {port}");
}

/// `device nonce upload_id` lines written by `simulate --acked-log`.
fn acked(log: &Path) -> Vec<(String, u32, i64)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut parts = l.split(' ');
            let device = parts.next().unwrap().to_owned();
            let nonce = parts.next().unwrap().parse().unwrap();
            let id = parts.next().unwrap().parse().unwrap();
            (device, nonce, id)
        })
        .collect()
}

#[test]
fn acknowledged_uploads_survive_sigkill() {
    let rounds: usize = std::env::var("SOLARWIRE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("acked.log");
    let port = free_port();
    let mut last_acked: BTreeMap<String, u32> = BTreeMap::new();
    for round in 0..rounds {
        let mut server = start_server(dir.path(), port);
        let sim = Command::new(BIN)
            .args([
                "--data-dir",
                dir.path().to_str().unwrap(),
                "--log",
                "warn",
                "simulate",
            ])
            .args(["--url", &format!("http://127.0.0.1:{port}")])
            .args(["--devices", "4", "--rate", "40", "--duration", "3s"])
            .args([
                "--seed",
                &round.to_string(),
                "--acked-log",
                log.to_str().unwrap(),
            ])
            .arg("--json")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let kill_after = Duration::from_millis(300 + random() % 2000);
        std::thread::sleep(kill_after);
        server.kill();
        // Stay down long enough that every simulated device notices.
        std::thread::sleep(Duration::from_millis(200));
        let server = start_server(dir.path(), port);
        let out = sim.wait_with_output().unwrap();
        assert!(out.status.success(), "simulate failed in round {round}");
        let text = String::from_utf8(out.stdout).unwrap();
        let summary: serde_json::Value =
            serde_json::from_str(&text[text.find('{').unwrap()..]).unwrap();
        let failed: u64 = summary["rejected"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert!(failed > 0, "the crash interrupted nothing: {summary}");
        drop(server);

        let conn = common::db(dir.path());
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let all = acked(&log);
        assert!(!all.is_empty(), "nothing was acknowledged in round {round}");
        for (device, nonce, id) in &all {
            let rows: Vec<i64> = conn
                .prepare(
                    "SELECT u.id FROM uploads u JOIN devices d ON d.id = u.device
                     WHERE d.device_id = ?1 AND u.nonce = ?2",
                )
                .unwrap()
                .query_map(rusqlite::params![device, nonce], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(
                rows,
                vec![*id],
                "{device} nonce {nonce}: acknowledged, stored once"
            );
        }
        // Nonces continue across the crash: this round's acks are newer than the last round's.
        let mut newest: BTreeMap<String, u32> = BTreeMap::new();
        for (device, nonce, _) in &all {
            let n = newest.entry(device.clone()).or_default();
            *n = (*n).max(*nonce);
        }
        for (device, nonce) in &newest {
            if let Some(before) = last_acked.get(device) {
                assert!(
                    nonce > before,
                    "{device}: no upload acknowledged after round {round}'s crash"
                );
            }
        }
        last_acked = newest;
        let stored: i64 = conn
            .query_row("SELECT COALESCE(SUM(samples), 0) FROM blocks", [], |r| {
                r.get(0)
            })
            .unwrap();
        let counted: i64 = conn
            .query_row("SELECT SUM(samples) FROM devices", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            stored, counted,
            "samples in blocks match the device counters"
        );
        eprintln!(
            "crash round {round}: killed after {kill_after:?}; simulate {summary}; {} uploads acknowledged so far, all stored once",
            all.len()
        );
    }
}
