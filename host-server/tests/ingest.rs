//! Upload behaviour over HTTP: fresh, duplicate, replay, forged, concurrent,
//! limits, rate limits, slow clients, legacy bodies and the fleet key.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{LAYOUT, Server, next_upload};
use reqwest::StatusCode;
use serde_json::Value;
use solarwire_core::envelope::{Keys, Nonce, SealOptions, seal};
use solarwire_server::simulate::firmware::FirmwareDevice;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn fresh_duplicate_replay_and_forged_uploads() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("ESP32_001");
    let (n1, first) = next_upload(&mut device, 0);
    let (status, reply) = server.post("/aggregated/ESP32_001", first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["success"], true);
    assert_eq!(reply["duplicate"], false);
    assert_eq!(reply["samples"], 3);
    assert_eq!(
        reply["samples_count"], 18,
        "the firmware's field counts values"
    );
    assert_eq!(server.last_nonce("ESP32_001"), Some(n1));

    // The device retries after a lost answer: same envelope, same answer, nothing new.
    let (status, again) = server.post("/aggregated/ESP32_001", first.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["upload_id"], reply["upload_id"]);
    assert_eq!((server.count("uploads"), server.count("samples")), (1, 3));

    // Newer first, then an older one: replay.
    let (_, second) = next_upload(&mut device, 1);
    let (n3, third) = next_upload(&mut device, 2);
    assert_eq!(
        server.post("/aggregated/ESP32_001", third).await.0,
        StatusCode::OK
    );
    let (status, body) = server.post("/aggregated/ESP32_001", second).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "replay");
    // The first envelope is no longer the last accepted one: a replay too.
    assert_eq!(
        server.post("/aggregated/ESP32_001", first).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(server.last_nonce("ESP32_001"), Some(n3));

    // Forged: a tag of the wrong key, with a fresh nonce. 401, nonce untouched.
    let mut forger = FirmwareDevice::new("ESP32_001", Keys::new(&[9; 32]), LAYOUT.to_vec());
    forger.nonce = n3 + 100;
    let (_, forged) = next_upload(&mut forger, 3);
    let (status, body) = server.post("/aggregated/ESP32_001", forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(server.last_nonce("ESP32_001"), Some(n3));

    // Unknown device: the same 401.
    let mut stranger = FirmwareDevice::new("ESP32_999", Keys::new(&[9; 32]), LAYOUT.to_vec());
    let (_, body) = next_upload(&mut stranger, 0);
    let (status, reply) = server.post("/aggregated/ESP32_999", body).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );

    // Malformed bodies and ids: 400 with the core's code.
    let (status, reply) = server.post("/aggregated/ESP32_001", "{not json").await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed"))
    );
    let (status, reply) = server.post("/aggregated/bad%2Fid", "{}").await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_device_id"))
    );

    // The nonce sync the firmware has a client for.
    let (status, reply) = server.get("/security/ESP32_001/nonce").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["last_valid_nonce"], n3);
    assert_eq!(
        server.get("/security/nobody/nonce").await.1["last_valid_nonce"],
        0
    );
    assert_eq!((server.count("uploads"), server.count("samples")), (2, 6));
    server.stop().await;
}

#[tokio::test]
async fn concurrent_identical_uploads_are_stored_once() {
    let server = Arc::new(Server::start(&["--device-rate", "0"]).await);
    let mut device = server.add_device("ESP32_001");
    let (_, body) = next_upload(&mut device, 0);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (server, body) = (server.clone(), body.clone());
            tokio::spawn(async move { server.post("/aggregated/ESP32_001", body).await })
        })
        .collect();
    let mut fresh = 0;
    for task in tasks {
        let (status, reply) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{reply}");
        if reply["duplicate"] == false {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "exactly one request stores the upload");
    assert_eq!((server.count("uploads"), server.count("samples")), (1, 3));
}

#[tokio::test]
async fn oversize_bodies_and_uploads_are_refused() {
    let server = Server::start(&["--max-body-bytes", "4096", "--max-packets", "2"]).await;
    let mut device = server.add_device("D1");
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(5000));
    let (status, reply) = server.post("/aggregated/D1", big.clone()).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );

    // Without Content-Length (chunked): streamed and cut off at the cap.
    let mut request =
        b"POST /aggregated/D1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for chunk in big.as_bytes().chunks(1000) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_exchange(&server, &request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""error":"too_large""#), "{answer}");

    // More packets than allowed: 413 before any replay decision.
    let (_, one) = next_upload(&mut device, 0);
    let payload: Value = {
        let env: Value = serde_json::from_str(&one).unwrap();
        use base64::Engine as _;
        let text = base64::engine::general_purpose::STANDARD
            .decode(env["payload"].as_str().unwrap())
            .unwrap();
        serde_json::from_slice(&text).unwrap()
    };
    let mut three = payload.clone();
    let packet = payload["compressed_data"][0].clone();
    three["compressed_data"] = Value::Array(vec![packet.clone(), packet.clone(), packet]);
    let keys = device_keys(&server, "D1");
    let sealed = seal(
        three.to_string().as_bytes(),
        Nonce(20_000),
        &keys,
        SealOptions::default(),
    )
    .unwrap();
    let (status, reply) = server.post("/aggregated/D1", sealed.envelope).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );
    assert_eq!(server.last_nonce("D1"), None);
    assert_eq!(server.count("uploads"), 0);
    server.stop().await;
}

/// Sends raw bytes and returns the first answer read.
async fn raw_exchange(server: &Server, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.url.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut buf = vec![0; 8192];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
        .await
        .expect("no answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn device_keys(server: &Server, id: &str) -> Keys {
    let key = server
        .db()
        .bytes(&format!(
            "SELECT hmac_key FROM devices WHERE device_id = '{id}'"
        ))
        .unwrap();
    Keys::new(&key)
}

#[tokio::test]
async fn devices_over_their_rate_get_429_and_keep_their_nonce() {
    let server = Server::start(&["--device-rate", "0.01", "--device-burst", "2"]).await;
    let mut device = server.add_device("D1");
    let mut other = server.add_device("D2");
    for cycle in 0..2 {
        let (_, body) = next_upload(&mut device, cycle);
        assert_eq!(server.post("/aggregated/D1", body).await.0, StatusCode::OK);
    }
    let (_, body) = next_upload(&mut device, 2);
    let r = server
        .client
        .post(format!("{}/aggregated/D1", server.url))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "rate_limited");
    assert_eq!(server.last_nonce("D1"), Some(11_002));
    // Another device has its own quota.
    let (_, body) = next_upload(&mut other, 0);
    assert_eq!(server.post("/aggregated/D2", body).await.0, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let server = Server::start(&["--header-timeout", "500ms", "--body-timeout", "500ms"]).await;
    let addr = server.url.trim_start_matches("http://").to_owned();

    // Headers that never finish: the server closes the connection.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /aggregated/D1 HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept a slowloris connection open");

    // A body that never arrives: 408 with the JSON error shape.
    let text = raw_exchange(
        &server,
        b"POST /aggregated/D1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"nonce\":",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#""error":"timeout""#), "{text}");

    // The server still serves others.
    assert_eq!(server.get("/health/live").await.0, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn legacy_process_bodies_use_the_inner_device_id() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("LEGACY_1");
    let (nonce, body) = next_upload(&mut device, 0);
    let (status, reply) = server.post("/process", body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["status"], "success");
    assert_eq!(reply["device_id"], "LEGACY_1");
    assert_eq!(server.last_nonce("LEGACY_1"), Some(nonce));

    // Unsigned legacy bodies are refused unless enabled.
    let packet = device.compress(&[common::row(1)], 1_763_884_815_000);
    let bare = device.upload_json(&[packet], 1_763_884_815, 5);
    let (status, reply) = server.post("/process", bare).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    assert_eq!(server.count("uploads"), 1);
    server.stop().await;
}

#[tokio::test]
async fn the_fleet_key_registers_devices_on_their_first_valid_upload() {
    let psk = "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe";
    let server = Server::start(&["--compat-psk", psk]).await;
    let fleet = Keys::new(&hex::decode(psk).unwrap());
    // A forged upload does not register anything.
    let mut forger = FirmwareDevice::new("NEW_1", Keys::new(&[1; 32]), LAYOUT.to_vec());
    let (_, forged) = next_upload(&mut forger, 0);
    assert_eq!(
        server.post("/aggregated/NEW_1", forged).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.count("devices"), 0);

    let mut device = FirmwareDevice::new("NEW_1", fleet, LAYOUT.to_vec());
    let (nonce, body) = next_upload(&mut device, 0);
    assert_eq!(
        server.post("/aggregated/NEW_1", body).await.0,
        StatusCode::OK
    );
    let (status, list) = server.get("/api/v1/devices").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["devices"][0]["device_id"], "NEW_1");
    let own_key = server
        .db()
        .i64("SELECT COUNT(*) FROM devices WHERE device_id = 'NEW_1' AND hmac_key IS NOT NULL")
        == Some(1);
    assert!(!own_key, "registered with the fleet key, no key of its own");
    assert_eq!(server.last_nonce("NEW_1"), Some(nonce));
    let (_, body) = next_upload(&mut device, 1);
    assert_eq!(
        server.post("/aggregated/NEW_1", body).await.0,
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn a_locked_store_answers_503_and_recovers() {
    if common::on_postgres() {
        eprintln!("SQLite's busy timeout: PostgreSQL writers wait on row locks instead");
        return;
    }
    let server = Server::start(&[]).await;
    let mut device = server.add_device("D1");
    let (_, first) = next_upload(&mut device, 0);
    // Another writer holds the database longer than the busy timeout.
    let lock = server.sqlite();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (status, reply) = server.post("/aggregated/D1", first.clone()).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"))
    );
    assert_eq!(
        server.get("/health/ready").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    lock.execute_batch("ROLLBACK").unwrap();
    // Nothing was acknowledged, nothing moved: the same upload now succeeds.
    let (status, reply) = server.post("/aggregated/D1", first).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["duplicate"], false);
    assert_eq!(server.get("/health/ready").await.0, StatusCode::OK);
    server.stop().await;
}
