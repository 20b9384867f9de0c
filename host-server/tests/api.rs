//! The read API, health/status/metrics, the admin API and the device CLI.

mod common;

use std::process::Command;

use common::{LAYOUT, Server, next_upload};
use reqwest::StatusCode;
use serde_json::{Value, json};
use solarwire_core::envelope::Keys;
use solarwire_server::simulate::firmware::FirmwareDevice;
use solarwire_server::store::access::Scope;

#[tokio::test]
async fn devices_samples_and_health_can_be_read() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("ESP32_001");
    let mut times = Vec::new();
    for cycle in 0..2 {
        let (_, body) = next_upload(&mut device, cycle);
        assert_eq!(
            server.post("/aggregated/ESP32_001", body).await.0,
            StatusCode::OK
        );
        times.push(1_763_884_800_000 + cycle * 15_000);
    }
    let (status, list) = server.get("/api/v1/devices").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["devices"].as_array().unwrap().len(), 1);
    assert_eq!(list["devices"][0]["uploads"], 2);

    let (_, detail) = server.get("/api/v1/devices/ESP32_001").await;
    assert_eq!(detail["samples"], 6);
    assert_eq!(detail["last_nonce"], 11_002);
    assert!(detail["last_seen_ms"].as_u64().is_some());
    let codecs = detail["codecs"].as_array().unwrap();
    assert_eq!(
        codecs
            .iter()
            .map(|c| c["packets"].as_u64().unwrap())
            .sum::<u64>(),
        2
    );
    let ratio = detail["compression_ratio"].as_f64().unwrap();
    assert!(ratio > 0.0 && ratio < 1.5, "{ratio}");

    let (_, latest) = server.get("/api/v1/devices/ESP32_001/latest").await;
    assert_eq!(latest["sample"]["t_ms"], times[1]);
    assert_eq!(latest["sample"]["device_time"], true);
    let pac = latest["sample"]["raw"]["Pac"].as_u64().unwrap();
    assert_eq!(latest["sample"]["values"]["Pac"], pac as f64);

    let (_, history) = server
        .get(&format!(
            "/api/v1/devices/ESP32_001/history?from={}&to={}&registers=Vac1,pac&limit=2",
            times[0] - 10_000,
            times[1] + 1
        ))
        .await;
    assert_eq!(history["count"], 2);
    let first = &history["samples"][0];
    assert_eq!(first["t_ms"], times[0] - 10_000);
    let names: Vec<&String> = first["values"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["Pac", "Vac1"]);
    assert!((first["values"]["Vac1"].as_f64().unwrap() - 230.0).abs() < 1.0);

    let (status, e) = server
        .get("/api/v1/devices/ESP32_001/history?registers=Nope")
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_register"))
    );
    let (status, e) = server
        .get("/api/v1/devices/ESP32_001/history?from=abc")
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_query"))
    );
    let (status, e) = server.get("/api/v1/devices/NOPE/latest").await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_device"))
    );
    let (status, e) = server.get("/no/such/route").await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, e) = server.get("/aggregated/ESP32_001").await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );

    for path in ["/health", "/health/live", "/health/ready"] {
        assert_eq!(server.get(path).await.0, StatusCode::OK, "{path}");
    }
    let (_, status) = server.get("/status").await;
    assert_eq!(status["store"]["uploads"], 2);
    assert_eq!(status["since_start"]["uploads_stored"], 2);
    assert_eq!(
        status["since_start"]["rejected"]["unknown_register"],
        Value::Null
    );
    assert_eq!(status["mqtt"]["enabled"], false);
    let metrics = server
        .client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"solarwire_uploads_total{outcome="stored"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains("solarwire_packets_total"), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn the_admin_api_manages_devices_with_a_token() {
    let server = Server::start(&["--admin-token", "s3cret"]).await;
    // The break-glass token: admin rights without a user.
    let admin = |req: reqwest::RequestBuilder| req.bearer_auth("s3cret").send();
    let url = |p: &str| format!("{}{p}", server.url);

    let r = server
        .anon
        .post(url("/api/v1/devices"))
        .json(&json!({"device_id": "A1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = admin(
        server
            .anon
            .post(url("/api/v1/devices"))
            .json(&json!({"device_id": "A1"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let key = r.json::<Value>().await.unwrap()["hmac_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = admin(
        server
            .anon
            .post(url("/api/v1/devices"))
            .json(&json!({"device_id": "A1"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    let firmware = |key: &str| {
        FirmwareDevice::new("A1", Keys::new(&hex::decode(key).unwrap()), LAYOUT.to_vec())
    };
    let mut device = firmware(&key);
    let (_, body) = next_upload(&mut device, 0);
    assert_eq!(server.post("/aggregated/A1", body).await.0, StatusCode::OK);

    // A wiped device restarts at 11001: refused until an operator resets its nonce.
    let mut wiped = firmware(&key);
    let (_, again) = next_upload(&mut wiped, 1);
    assert_eq!(
        server.post("/aggregated/A1", again.clone()).await.0,
        StatusCode::CONFLICT
    );
    let r = admin(server.anon.delete(url("/api/v1/devices/A1/nonce")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(server.post("/aggregated/A1", again).await.0, StatusCode::OK);

    // Rotation: the old key stops verifying.
    let r = admin(server.anon.post(url("/api/v1/devices/A1/rotate-key")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let new_key = r.json::<Value>().await.unwrap()["hmac_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_key, key);
    let (_, old) = next_upload(&mut wiped, 2);
    assert_eq!(
        server.post("/aggregated/A1", old).await.0,
        StatusCode::UNAUTHORIZED
    );
    let mut rekeyed = firmware(&new_key);
    rekeyed.nonce = 20_000;
    let (_, fresh) = next_upload(&mut rekeyed, 3);
    assert_eq!(server.post("/aggregated/A1", fresh).await.0, StatusCode::OK);

    let r = admin(server.anon.delete(url("/api/v1/devices/A1")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, gone) = next_upload(&mut rekeyed, 4);
    assert_eq!(
        server.post("/aggregated/A1", gone).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.count("uploads"),
        0,
        "removal purges the device's data"
    );
    server.stop().await;

    // Without the token, a read-scoped key may read but not manage devices.
    let off = Server::start(&[]).await;
    let viewer = common::add_api_key(off.dir.path(), Scope::Read, None);
    let r = off
        .anon
        .post(format!("{}/api/v1/devices", off.url))
        .header("x-api-key", &viewer)
        .json(&json!({"device_id": "B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "forbidden");
    off.stop().await;
}

fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_solarwire"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[tokio::test]
async fn the_device_cli_works_beside_a_running_server() {
    let server = Server::start(&[]).await;
    let dir = server.dir.path().to_owned();
    let (ok, out) = cli(&dir, &["device", "add", "C1"]);
    assert!(ok, "{out}");
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("HMAC key (shown once; store it in the device): "))
        .unwrap()
        .to_owned();
    assert!(!cli(&dir, &["device", "add", "C1"]).0, "ids are unique");
    assert!(!cli(&dir, &["device", "add", "bad/id"]).0);

    let mut device = FirmwareDevice::new(
        "C1",
        Keys::new(&hex::decode(&key).unwrap()),
        LAYOUT.to_vec(),
    );
    let (_, body) = next_upload(&mut device, 0);
    assert_eq!(server.post("/aggregated/C1", body).await.0, StatusCode::OK);

    let (ok, list) = cli(&dir, &["device", "list", "--json"]);
    assert!(ok);
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["device_id"], "C1");
    assert_eq!(list[0]["last_nonce"], 11_001);
    let (ok, show) = cli(&dir, &["device", "show", "C1"]);
    assert!(ok && show.contains("\"uploads\": 1"), "{show}");

    assert!(cli(&dir, &["device", "reset-nonce", "C1"]).0);
    assert_eq!(server.last_nonce("C1"), None);
    assert!(cli(&dir, &["device", "remove", "C1"]).0);
    assert!(!cli(&dir, &["device", "show", "C1"]).0);
    server.stop().await;
}
