//! MQTT ingestion (`--mqtt-ingest`) against a real mosquitto on a loopback
//! port: the same outcomes as HTTP published to `solarwire/reply/{device}`,
//! nothing stored for a forged or replayed envelope, and acknowledgement
//! only after commit (a SIGKILLed server loses and doubles nothing).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::broker::{INGEST_FILTER as FILTER, MqttDevice as Device, eventually, start_broker};
use common::process::{ServerProcess, free_port};
use common::{Server, next_upload};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn keys(v: &Value) -> Vec<&String> {
    v.as_object().unwrap().keys().collect()
}

#[tokio::test]
async fn mqtt_uploads_get_the_http_outcomes_on_the_reply_topic() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _broker = start_broker(dir.path(), port);
    let url = format!("mqtt://127.0.0.1:{port}");
    let server = Server::start(&[
        "--mqtt-url",
        &url,
        "--mqtt-ingest",
        FILTER,
        "--device-rate",
        "0",
    ])
    .await;
    eventually("the ingest subscription is in place", async || {
        server.get("/status").await.1["mqtt"]["ingest_subscribed"] == true
    })
    .await;
    let mut firmware = server.add_device("ESP32_001");
    let mut device = Device::connect(port, "test-device").await;
    let topic = "solarwire/reply/ESP32_001";

    // Fresh: stored, answered with the HTTP route's reply.
    let (nonce, first) = next_upload(&mut firmware, 0);
    device.upload("ESP32_001", &first).await;
    let (at, fresh) = device.reply().await;
    assert_eq!(at, topic);
    assert_eq!(fresh["success"], true, "{fresh}");
    assert_eq!(fresh["duplicate"], false);
    assert_eq!(fresh["nonce"], nonce);
    assert_eq!(fresh["samples"], 3);
    assert_eq!((server.count("uploads"), server.count("samples")), (1, 3));

    // The same shape as the HTTP answer.
    let (_, over_http) = next_upload(&mut firmware, 1);
    let (status, http_reply) = server.post("/aggregated/ESP32_001", over_http).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&fresh), keys(&http_reply));

    // An identical resend of the last accepted envelope: a duplicate.
    let (nonce, second) = next_upload(&mut firmware, 2);
    device.upload("ESP32_001", &second).await;
    let (_, stored) = device.reply().await;
    device.upload("ESP32_001", &second).await;
    let (at, duplicate) = device.reply().await;
    assert_eq!(at, topic);
    assert_eq!(duplicate["duplicate"], true, "{duplicate}");
    assert_eq!(duplicate["upload_id"], stored["upload_id"]);
    assert_eq!(duplicate["nonce"], nonce);
    assert_eq!(server.count("uploads"), 3);

    // An older envelope: refused as a replay, nothing stored.
    device.upload("ESP32_001", &first).await;
    let (at, replay) = device.reply().await;
    assert_eq!(at, topic);
    assert_eq!(replay["error"], "replay", "{replay}");
    assert!(replay["message"].is_string());
    assert_eq!(server.count("uploads"), 3);

    // A forged MAC: one outward code, nothing stored, the nonce untouched.
    let (_, next) = next_upload(&mut firmware, 3);
    let mut forged: Value = serde_json::from_str(&next).unwrap();
    let mac = forged["mac"].as_str().unwrap().to_owned();
    let flipped = if mac.starts_with('a') { "b" } else { "a" };
    forged["mac"] = json!(format!("{flipped}{}", &mac[1..]));
    device.upload("ESP32_001", &forged.to_string()).await;
    let (at, refused) = device.reply().await;
    assert_eq!(at, topic);
    assert_eq!(refused["error"], "unauthorized", "{refused}");
    assert_eq!(server.count("uploads"), 3);
    assert_eq!(server.last_nonce("ESP32_001"), Some(nonce));

    // The untouched envelope still goes through afterwards.
    device.upload("ESP32_001", &next).await;
    let (_, later) = device.reply().await;
    assert_eq!(later["duplicate"], false, "{later}");
    assert_eq!(server.count("uploads"), 4);

    // Not an envelope: the core's structure code, on the device's topic.
    device
        .publish(
            "ESP32_001",
            r#"{"device_id":"ESP32_001","envelope":{"x":1}}"#,
        )
        .await;
    let (at, broken) = device.reply().await;
    assert_eq!(at, topic);
    assert_eq!(broken["error"], "malformed", "{broken}");

    // Not JSON, or no usable device id: answered on `solarwire/reply`.
    device.publish("ESP32_001", "{not json").await;
    let (at, bad) = device.reply().await;
    assert_eq!(
        (at.as_str(), &bad["error"]),
        ("solarwire/reply", &json!("malformed"))
    );
    device
        .publish("x", r#"{"device_id":"a/b#","envelope":{}}"#)
        .await;
    let (at, bad) = device.reply().await;
    assert_eq!(at, "solarwire/reply");
    assert_eq!(bad["error"], "bad_device_id");

    // Over the body limit (64 KiB by default): too_large, nothing stored.
    let big = json!({ "device_id": "ESP32_001", "envelope": { "pad": "x".repeat(70_000) } });
    device
        .publish("ESP32_001", serde_json::to_vec(&big).unwrap())
        .await;
    let (at, large) = device.reply().await;
    assert_eq!(at, "solarwire/reply");
    assert_eq!(large["error"], "too_large", "{large}");

    // An unknown device: the same 401 code as over HTTP.
    let keys = solarwire_server::keys::generate(false).unwrap();
    let mut unknown = solarwire_server::simulate::firmware::FirmwareDevice::new(
        "NOBODY",
        solarwire_core::envelope::Keys::new(keys.hmac.as_ref().unwrap()),
        common::LAYOUT.to_vec(),
    );
    let (_, body) = next_upload(&mut unknown, 0);
    device.upload("NOBODY", &body).await;
    let (at, nobody) = device.reply().await;
    assert_eq!(at, "solarwire/reply/NOBODY");
    assert_eq!(nobody["error"], "unauthorized");
    assert_eq!(server.count("uploads"), 4);

    let (_, status) = server.get("/status").await;
    assert_eq!(status["since_start"]["uploads_duplicate"], 1, "{status}");
    server.stop().await;
}

/// A server process ingesting from the broker, with `/status` on `metrics`.
fn start_process(dir: &std::path::Path, port: u16, broker: u16, metrics: u16) -> ServerProcess {
    let (metrics, broker) = (
        format!("127.0.0.1:{metrics}"),
        format!("mqtt://127.0.0.1:{broker}"),
    );
    ServerProcess::start(
        dir,
        port,
        &[
            "--retention-days",
            "0",
            "--metrics-listen",
            &metrics,
            "--mqtt-url",
            &broker,
            "--mqtt-ingest",
            FILTER,
        ],
    )
}

async fn subscribed(metrics: u16) -> bool {
    let Ok(r) = reqwest::get(format!("http://127.0.0.1:{metrics}/status")).await else {
        return false;
    };
    let status: Value = r.json().await.unwrap_or(Value::Null);
    status["mqtt"]["ingest_subscribed"] == true
}

/// (device, nonce) → rows stored.
fn stored(dir: &std::path::Path) -> BTreeMap<(String, u32), u32> {
    common::db(dir)
        .texts(
            "SELECT d.device_id, CAST(u.nonce AS TEXT), CAST(COUNT(*) AS TEXT) FROM uploads u
             JOIN devices d ON d.id = u.device GROUP BY d.device_id, u.nonce",
        )
        .into_iter()
        .map(|r| {
            let text = |i: usize| r[i].clone().unwrap();
            (
                (text(0), text(1).parse().unwrap()),
                text(2).parse().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn messages_are_acknowledged_only_after_commit() {
    const DEVICES: usize = 4;
    const UPLOADS: u64 = 100;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let port = free_port();
    let _broker = start_broker(dir.path(), port);
    let mut firmwares = Vec::new();
    for d in 0..DEVICES {
        let id = format!("DEV_{d}");
        let keys = solarwire_server::keys::generate(false).unwrap();
        let core = solarwire_core::envelope::Keys::new(keys.hmac.as_ref().unwrap());
        common::add_device_keys(&data, &id, keys);
        let firmware = solarwire_server::simulate::firmware::FirmwareDevice::new(
            id.clone(),
            core,
            common::LAYOUT.to_vec(),
        );
        firmwares.push((id, firmware));
    }
    let (listen, metrics) = (free_port(), free_port());
    let mut server = start_process(&data, listen, port, metrics);
    eventually("the ingest subscription is in place", async || {
        subscribed(metrics).await
    })
    .await;
    let mut device = Device::connect(port, "test-fleet").await;
    // Every message is queued with the broker (QoS 1) while the server works.
    let mut sent = BTreeMap::new();
    for cycle in 0..UPLOADS {
        for (id, firmware) in &mut firmwares {
            let (nonce, body) = next_upload(firmware, cycle);
            device.upload(id, &body).await;
            sent.insert((id.clone(), nonce), 1);
        }
    }
    // Kill it mid-stream: after some answers, before all of them.
    let total = DEVICES * usize::try_from(UPLOADS).unwrap();
    let mut answered = 0;
    while answered < total / 16 {
        device.reply().await;
        answered += 1;
    }
    drop(server);
    let before = stored(&data).len();
    assert!(before < total, "the server finished before the kill");
    eprintln!("stored before the restart: {before} of {total}");
    server = start_process(&data, listen, port, metrics);
    eventually("every message is stored after the restart", async || {
        stored(&data).len() == total
    })
    .await;
    // Each message once: none lost, none doubled.
    assert_eq!(stored(&data), sent);
    // Whatever was redelivered was answered without storing it again.
    while let Ok(Some((_, reply))) =
        tokio::time::timeout(Duration::from_millis(500), device.replies.recv()).await
    {
        let ok = reply["success"] == true || reply["error"] == "replay";
        assert!(ok, "{reply}");
    }
    drop(server);
}
