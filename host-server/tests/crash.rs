//! Crash recovery: `solarwire simulate` uploads to a server process that is
//! killed with SIGKILL at a random moment and restarted; every upload that
//! got a 200 must be stored exactly once, and nonces must continue.
//!
//! Rounds: `SOLARWIRE_CRASH_ROUNDS` (default 3).

mod common;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::process::{BIN, ServerProcess, free_port};

/// A random number from the OS-seeded hasher keys.
fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
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
        let mut server = ServerProcess::start(dir.path(), port, &[]);
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
            .envs(common::database_env(dir.path()))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let kill_after = Duration::from_millis(300 + random() % 2000);
        std::thread::sleep(kill_after);
        server.kill();
        // Stay down long enough that every simulated device notices.
        std::thread::sleep(Duration::from_millis(200));
        let server = ServerProcess::start(dir.path(), port, &[]);
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

        let db = common::db(dir.path());
        if let common::Db::Sqlite(path) = &db {
            let check: String = rusqlite::Connection::open(path)
                .unwrap()
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok");
        }
        let all = acked(&log);
        assert!(!all.is_empty(), "nothing was acknowledged in round {round}");
        for (device, nonce, id) in &all {
            let rows = db.i64s(&format!(
                "SELECT u.id FROM uploads u JOIN devices d ON d.id = u.device
                 WHERE d.device_id = '{device}' AND u.nonce = {nonce}"
            ));
            assert_eq!(
                rows,
                vec![Some(*id)],
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
        let stored = db.i64("SELECT COUNT(*) FROM samples");
        let counted = db.i64("SELECT CAST(SUM(samples) AS BIGINT) FROM devices");
        assert_eq!(stored, counted, "sample rows match the device counters");
        eprintln!(
            "crash round {round}: killed after {kill_after:?}; simulate {summary}; {} uploads acknowledged so far, all stored once",
            all.len()
        );
    }
}
