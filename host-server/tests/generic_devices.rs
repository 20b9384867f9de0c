//! Generic devices (issue 18, the IoTFlow contract) against a real server,
//! on SQLite or PostgreSQL (`SOLARWIRE_TEST_BACKEND=postgres`): register,
//! send readings and heartbeats with the device's key, read them back
//! through the series and CSV APIs, rate limits, revocation, rotation,
//! and that a key acts only as its own device.

mod common;

use common::{Server, next_upload};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 2025-11-23 00:00 UTC, the day the other tests' data lies in.
const T0: u64 = 1_763_856_000_000;

/// A device request with a key: the status, the `Retry-After` header and the answer.
async fn call(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = server
        .anon
        .request(method, format!("{}{path}", server.url))
        .header("x-api-key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

async fn register(server: &Server, name: &str) -> (i64, String, String) {
    let (status, body) = server
        .anon_post(
            "/api/v1/devices/register",
            &json!({
                "name": name,
                "description": "Living room sensor",
                "device_type": "sensor",
                "location": "Living Room",
                "channels": {"temperature": "°C"},
            })
            .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"], "Device registered successfully");
    let device = &body["device"];
    assert_eq!(device["status"], "active");
    assert_eq!(device["name"], name);
    let key = device["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("swd_"), "{key}");
    (
        device["id"].as_i64().unwrap(),
        device["device_id"].as_str().unwrap().to_owned(),
        key,
    )
}

fn reading(i: u64) -> Value {
    json!({
        "data": {"temperature": 20.0 + i as f64, "humidity": 65},
        "metadata": {"battery_level": 85},
        "type": "sensor",
        "timestamp": T0 + i * 60_000,
        "message_id": format!("m-{i}"),
    })
}

fn generic_uploads(server: &Server, device: i64) -> i64 {
    server
        .db()
        .i64(&format!(
            "SELECT COUNT(*) FROM uploads WHERE format = 'generic' AND device = {device}"
        ))
        .unwrap()
}

#[tokio::test]
async fn generic_devices_register_send_and_read_back() {
    let server = Server::start(&[
        "--device-registration",
        "open",
        "--generic-rate",
        "10",
        "--generic-telemetry-rate",
        "20",
    ])
    .await;
    let (a, a_id, a_key) = register(&server, "Temperature Sensor 001").await;
    let (b, b_id, b_key) = register(&server, "Temperature Sensor 002").await;
    assert_ne!(a_id, b_id);

    // Names are unique; the key is kept only as its digest.
    let (status, body) = server
        .anon_post(
            "/api/v1/devices/register",
            r#"{"name":"Temperature Sensor 001"}"#,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("name_taken"))
    );
    let digest = hex::encode(solarwire_server::auth::opaque::digest(&a_key));
    let stored = server
        .db()
        .bytes(&format!(
            "SELECT key_hash FROM generic_keys WHERE device = {a}"
        ))
        .unwrap();
    assert_eq!(hex::encode(stored), digest);

    // Readings, a resend by message id, and a bad one that changes nothing.
    for i in 0..5 {
        let (status, _, body) = call(
            &server,
            reqwest::Method::POST,
            "/api/v1/devices/telemetry",
            &a_key,
            Some(reading(i)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["duplicate"], false);
    }
    let (status, _, body) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/devices/telemetry",
        &a_key,
        Some(reading(0)),
    )
    .await;
    assert_eq!(
        (status, &body["duplicate"]),
        (StatusCode::OK, &json!(true)),
        "{body}"
    );
    let (status, _, body) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/devices/telemetry",
        &a_key,
        Some(json!({"data": {"temperature": "hot"}})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_telemetry"))
    );
    assert_eq!(generic_uploads(&server, a), 5);

    // Heartbeat and status.
    let (status, _, body) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/devices/heartbeat",
        &a_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["device_id"], a_id);
    let (status, _, body) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/devices/status",
        &a_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["device"]["last_heartbeat_ms"].is_u64(), "{body}");
    assert_eq!(body["device"]["is_online"], true);
    assert_eq!(body["device"]["key"]["usage_count"], 9, "{body}");
    assert!(
        body["device"].get("api_key").is_none(),
        "the key is shown once"
    );

    // Configuration.
    let (status, _, body) = call(
        &server,
        reqwest::Method::PUT,
        "/api/v1/devices/config",
        &a_key,
        Some(json!({"config": {"interval_s": 60}, "firmware_version": "1.2.0"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["device"]["config"]["interval_s"], 60);
    assert_eq!(body["device"]["firmware_version"], "1.2.0");

    // Its own readings, newest first; the other device sees none of them.
    let (status, _, body) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/devices/telemetry",
        &a_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let readings = body["telemetry"].as_array().unwrap();
    assert_eq!(readings.len(), 5);
    assert_eq!(readings[0]["data"]["temperature"], 24.0);
    assert_eq!(readings[0]["metadata"]["battery_level"], 85);
    assert_eq!(readings[4]["message_id"], "m-0");
    let (_, _, body) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/devices/telemetry",
        &b_key,
        None,
    )
    .await;
    assert_eq!(body["telemetry"].as_array().unwrap().len(), 0, "{body}");
    // B's key writes as B only.
    let (status, _, body) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/devices/telemetry",
        &b_key,
        Some(reading(9)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["device_id"], b_id);
    assert_eq!(
        (generic_uploads(&server, a), generic_uploads(&server, b)),
        (5, 1)
    );
    // A device key opens none of the operators' routes, not even its own series.
    let own_series = format!("/api/v1/devices/{a_id}/series?channel=temperature");
    for path in [
        "/api/v1/admin/devices",
        own_series.as_str(),
        "/api/v1/devices",
    ] {
        let (status, _, _) = call(&server, reqwest::Method::GET, path, &a_key, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }

    // Read back through the series and CSV APIs (operators).
    let range = format!("from={T0}&to={}&step=1m", T0 + 300_000);
    let (status, body) = server
        .get(&format!(
            "/api/v1/devices/{a_id}/series?channel=temperature&{range}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["unit"], "°C");
    let values: Vec<f64> = body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [20.0, 21.0, 22.0, 23.0, 24.0]);
    let csv = server
        .client
        .get(format!(
            "{}/api/v1/devices/{a_id}/series?channel=humidity&format=csv&{range}",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "t_ms,time,humidity,count");
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(
        lines[1].starts_with(&format!("{T0},")) && lines[1].ends_with(",65,1"),
        "{csv}"
    );
    let (status, body) = server
        .get(&format!(
            "/api/v1/devices/{a_id}/series?channel=pressure&{range}"
        ))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_channel"))
    );

    // The admin views.
    let (status, body) = server.get("/api/v1/admin/devices").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 2);
    assert!(body["devices"][0]["last_seen"].is_string(), "{body}");
    let (status, body) = server.get(&format!("/api/v1/admin/devices/{a}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let channels: Vec<&str> = body["device"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["temperature", "humidity"]);
    let r = server
        .client
        .put(format!("{}/api/v1/admin/devices/{b}", server.url))
        .json(&json!({"status": "maintenance", "location": "Cellar"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, body) = server.get("/api/v1/admin/devices?status=maintenance").await;
    assert_eq!(body["devices"][0]["location"], "Cellar", "{body}");
    let (status, body) = server.get("/api/v1/admin/dashboard").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["devices"]["total"], 2);
    assert_eq!(body["devices"]["by_status"]["maintenance"], 1);
    assert_eq!(body["devices"]["by_type"]["sensor"], 2);
    assert_eq!(body["telemetry"]["last_24h"], 6);
    assert_eq!(body["top_devices"][0]["id"], a);
    let (status, body) = server
        .get(&format!(
            "/api/v1/admin/telemetry?device_id={a_id}&per_page=2&page=3"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pagination"]["total"], 5);
    assert_eq!(body["pagination"]["pages"], 3);
    assert_eq!(body["telemetry"][0]["message_id"], "m-0");
    let r = server
        .anon
        .get(format!("{}/api/v1/admin/dashboard", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Over the rate: 429 with Retry-After, within at most two windows.
    let mut served = 0;
    let mut limited = None;
    for _ in 0..21 {
        let (status, retry, _) = call(
            &server,
            reqwest::Method::POST,
            "/api/v1/devices/heartbeat",
            &b_key,
            None,
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = retry;
            break;
        }
        assert_eq!(status, StatusCode::OK);
        served += 1;
    }
    let retry: u64 = limited.expect("rate limited").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(served >= 8, "{served} served before the limit");

    // Revoked: 401; rotated: the new key works, the old one stays refused.
    let r = server
        .client
        .post(format!(
            "{}/api/v1/admin/devices/{a}/revoke-key",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _, _) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/devices/status",
        &a_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = server
        .post(&format!("/api/v1/admin/devices/{a}/rotate-key"), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_key = body["api_key"].as_str().unwrap();
    let (status, _, _) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/devices/status",
        new_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/devices/status",
        &a_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Deleted with its data: its key is refused, it is gone from the views.
    let r = server
        .client
        .delete(format!("{}/api/v1/admin/devices/{b}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _, _) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/devices/status",
        &b_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server.get(&format!("/api/v1/admin/devices/{b}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(generic_uploads(&server, b), 0);
    server.stop().await;
}

#[tokio::test]
async fn registration_is_off_by_default_and_token_gated() {
    let server = Server::start(&[]).await;
    let (status, body) = server
        .anon_post("/api/v1/devices/register", r#"{"name":"Probe"}"#)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("registration_closed"))
    );
    server.stop().await;

    let token = "a-registration-token-for-tests";
    let server = Server::start(&[
        "--device-registration",
        "token",
        "--device-registration-token",
        token,
    ])
    .await;
    let url = format!("{}/api/v1/devices/register", server.url);
    for presented in [None, Some("wrong-token-wrong-token")] {
        let mut r = server.anon.post(&url).json(&json!({"name": "Probe"}));
        if let Some(t) = presented {
            r = r.header("x-registration-token", t);
        }
        assert_eq!(r.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    }
    let r = server
        .anon
        .post(&url)
        .header("x-registration-token", token)
        .json(&json!({"name": "Probe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        server.db().i64("SELECT COUNT(*) FROM generic_devices"),
        Some(1)
    );
    server.stop().await;
}

/// Readings accepted per second through this path next to sealed EcoWatt
/// uploads through the envelope path, in one run:
/// `cargo test -p solarwire-server --test generic_devices -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a check"]
async fn telemetry_rate_beside_envelopes() {
    const N: u64 = 2000;
    const CONCURRENT: u64 = 16;
    let server = std::sync::Arc::new(
        Server::start(&[
            "--device-registration",
            "open",
            "--generic-rate",
            "0",
            "--generic-telemetry-rate",
            "0",
            "--device-rate",
            "0",
        ])
        .await,
    );
    let mut keys = Vec::new();
    for i in 0..CONCURRENT {
        keys.push(register(&server, &format!("bench-{i}")).await.2);
    }
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for key in keys {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..N / CONCURRENT {
                let (status, _, body) = call(
                    &server,
                    reqwest::Method::POST,
                    "/api/v1/devices/telemetry",
                    &key,
                    Some(json!({"data": {"t": i as f64, "rh": 50}, "timestamp": T0 + i * 1000})),
                )
                .await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let generic = N as f64 / started.elapsed().as_secs_f64();

    let mut uploads = Vec::new();
    for d in 0..CONCURRENT {
        let id = format!("BENCH_{d}");
        let mut device = server.add_device(&id);
        let bodies: Vec<String> = (0..N / CONCURRENT)
            .map(|c| next_upload(&mut device, c).1)
            .collect();
        uploads.push((id, bodies));
    }
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for (id, bodies) in uploads {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            for body in bodies {
                let (status, reply) = server.post(&format!("/aggregated/{id}"), body).await;
                assert_eq!(status, StatusCode::OK, "{reply}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let envelopes = N as f64 / started.elapsed().as_secs_f64();
    #[allow(clippy::print_stdout)]
    {
        println!(
            "accepted/s over {N} requests, {CONCURRENT} at a time: generic readings {generic:.0}, \
             envelope uploads {envelopes:.0} (3 samples each)"
        );
    }
}
