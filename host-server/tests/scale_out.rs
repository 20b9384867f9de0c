//! Scale-out: three `solarwire serve` processes on one PostgreSQL database.
//! The same envelopes go to all three at once while one of them is killed
//! with SIGKILL; each nonce is stored once, every 2xx is stored, a replay is
//! refused by every server, and a WebSocket on one server sees uploads
//! landing on another.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::process::{ServerProcess, free_port};
use common::{add_api_key, add_device, next_upload, postgres_data_dir};
use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::Value;
use solarwire_server::store::access::Scope;

const DEVICES: usize = 4;
const UPLOADS: u64 = 30;
/// Rounds (device uploads sent to every server) before one server is killed.
const KILL_AFTER: usize = 40;

/// What one server answered to one envelope.
#[derive(Debug, Clone)]
enum Answer {
    Fresh(i64),
    Duplicate(i64),
    Refused(StatusCode, Value),
    /// No answer: the server was killed.
    Lost,
}

async fn send(client: &reqwest::Client, base: &str, device: &str, body: &str) -> Answer {
    let sent = client
        .post(format!("{base}/aggregated/{device}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await;
    let Ok(r) = sent else {
        return Answer::Lost;
    };
    let status = r.status();
    let Ok(reply) = r.json::<Value>().await else {
        return Answer::Lost;
    };
    let id = reply["upload_id"].as_i64().unwrap_or(0);
    match status {
        StatusCode::OK if reply["duplicate"] == true => Answer::Duplicate(id),
        StatusCode::OK => Answer::Fresh(id),
        other => Answer::Refused(other, reply),
    }
}

fn servers(dir: &std::path::Path, n: usize) -> Vec<ServerProcess> {
    // The first start creates the shared secrets in the data directory.
    let extra = ["--retention-days", "0"];
    let mut all = vec![ServerProcess::start(dir, free_port(), &extra)];
    all.extend((1..n).map(|_| ServerProcess::start(dir, free_port(), &extra)));
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_envelopes_to_three_servers_are_stored_once() {
    let dir = postgres_data_dir();
    let firmware: Vec<_> = (0..DEVICES)
        .map(|i| add_device(dir.path(), &format!("D{i}")))
        .collect();
    let mut procs = servers(dir.path(), 3);
    let urls: Vec<String> = procs.iter().map(|p| p.url.clone()).collect();
    let client = reqwest::Client::new();
    let rounds = Arc::new(AtomicUsize::new(0));

    let mut tasks = Vec::new();
    for (i, mut device) in firmware.into_iter().enumerate() {
        let (client, urls, rounds) = (client.clone(), urls.clone(), rounds.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("D{i}");
            let mut sent = Vec::new();
            for cycle in 0..UPLOADS {
                let (nonce, body) = next_upload(&mut device, cycle);
                let answers = futures_util::future::join_all(
                    urls.iter().map(|u| send(&client, u, &id, &body)),
                )
                .await;
                rounds.fetch_add(1, Ordering::SeqCst);
                sent.push((nonce, body, answers));
            }
            (id, sent)
        }));
    }
    while rounds.load(Ordering::SeqCst) < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    procs[2].kill();
    let mut results = BTreeMap::new();
    for task in tasks {
        let (id, sent) = task.await.unwrap();
        results.insert(id, sent);
    }

    let db = common::db(dir.path());
    let (mut fresh, mut duplicates, mut lost) = (0, 0, 0);
    for (device, sent) in &results {
        for (nonce, _, answers) in sent {
            let rows = db.i64s(&format!(
                "SELECT u.id FROM uploads u JOIN devices d ON d.id = u.device
                 WHERE d.device_id = '{device}' AND u.nonce = {nonce}"
            ));
            assert_eq!(
                rows.len(),
                1,
                "{device} nonce {nonce}: stored once ({answers:?})"
            );
            let stored = rows[0];
            let mut fresh_here = 0;
            for (server, answer) in answers.iter().enumerate() {
                match answer {
                    Answer::Fresh(id) | Answer::Duplicate(id) => {
                        assert_eq!(
                            Some(*id),
                            stored,
                            "{device} {nonce}: the 2xx names the stored row"
                        );
                        if matches!(answer, Answer::Fresh(_)) {
                            fresh_here += 1;
                            fresh += 1;
                        } else {
                            duplicates += 1;
                        }
                    }
                    Answer::Lost if server == 2 => lost += 1,
                    other => panic!("{device} {nonce}: server {server} answered {other:?}"),
                }
            }
            assert!(
                fresh_here <= 1,
                "{device} {nonce}: at most one server stores it"
            );
        }
    }
    let envelopes = DEVICES * UPLOADS as usize;
    assert_eq!(
        db.i64("SELECT COUNT(*) FROM uploads"),
        Some(envelopes as i64)
    );
    assert_eq!(
        db.i64(
            "SELECT COUNT(*) FROM (SELECT device, nonce FROM uploads
             GROUP BY device, nonce HAVING COUNT(*) > 1) AS twice"
        ),
        Some(0),
        "no nonce stored twice"
    );
    assert_eq!(
        db.i64("SELECT COUNT(*) FROM samples"),
        db.i64("SELECT CAST(SUM(samples) AS BIGINT) FROM devices"),
        "sample rows match the device counters"
    );
    assert!(lost > 0, "the killed server answered everything");

    // Replays: an older envelope is refused by every surviving server, the
    // last one is a duplicate on each.
    let (device, sent) = results.iter().next().unwrap();
    let (_, old_body, _) = &sent[0];
    let (_, last_body, _) = sent.last().unwrap();
    for url in &urls[..2] {
        match send(&client, url, device, old_body).await {
            Answer::Refused(status, reply) => {
                assert_eq!(status, StatusCode::CONFLICT);
                assert_eq!(reply["error"], "replay");
            }
            other => panic!("{url}: an old nonce was not refused: {other:?}"),
        }
        assert!(matches!(
            send(&client, url, device, last_body).await,
            Answer::Duplicate(_)
        ));
    }
    assert_eq!(
        db.i64("SELECT COUNT(*) FROM uploads"),
        Some(envelopes as i64)
    );
    eprintln!(
        "scale-out: {envelopes} envelopes x 3 servers, server 3 killed after {KILL_AFTER} rounds: \
         {fresh} fresh, {duplicates} duplicate, {lost} lost with the killed server; \
         each stored once, replays refused on both survivors"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_sees_uploads_landing_on_another_server() {
    let dir = postgres_data_dir();
    let mut device = add_device(dir.path(), "D1");
    let key = add_api_key(dir.path(), Scope::Admin, None);
    let procs = servers(dir.path(), 2);
    let ws_url = procs[0].url.replace("http://", "ws://");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_url}/ws?api_key={key}"))
        .await
        .unwrap();
    let mut next = async || -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
                .await
                .expect("no message")
                .unwrap()
                .unwrap();
            if let Ok(text) = msg.to_text()
                && let Ok(v) = serde_json::from_str::<Value>(text)
            {
                return v;
            }
        }
    };
    assert_eq!(next().await["type"], "hello");
    let client = reqwest::Client::new();
    for cycle in 0..3 {
        let (_, body) = next_upload(&mut device, cycle);
        let Answer::Fresh(id) = send(&client, &procs[1].url, "D1", &body).await else {
            panic!("upload {cycle} not stored");
        };
        let msg = next().await;
        assert_eq!(msg["type"], "sample");
        assert_eq!(msg["device_id"], "D1");
        assert_eq!(
            msg["upload_id"], id,
            "the upload on server 2, seen on server 1"
        );
        assert_eq!(msg["samples"].as_array().unwrap().len(), 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_stops_working_on_every_server() {
    let dir = postgres_data_dir();
    let mut device = add_device(dir.path(), "D1");
    let procs = servers(dir.path(), 2);
    let client = reqwest::Client::new();
    // Both servers verify (and cache) the key.
    for (cycle, p) in (0..).zip(&procs) {
        let (_, body) = next_upload(&mut device, cycle);
        assert!(matches!(
            send(&client, &p.url, "D1", &body).await,
            Answer::Fresh(_)
        ));
    }
    let out = std::process::Command::new(common::process::BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--log", "warn", "device", "rotate-key", "D1"])
        .envs(common::database_env(dir.path()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Each server drops its cached key when it sees the device epoch move
    // (polled every second): the old key is refused everywhere.
    let mut cycle = 2;
    for p in &procs {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (_, body) = next_upload(&mut device, cycle);
            cycle += 1;
            match send(&client, &p.url, "D1", &body).await {
                Answer::Refused(status, _) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED);
                    break;
                }
                other => assert!(
                    tokio::time::Instant::now() < deadline,
                    "{}: the old key still works: {other:?}",
                    p.url
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
