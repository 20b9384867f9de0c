//! Findings: `/status` and `/metrics` revealed the data directory, the
//! fleet-key mode and counters without credentials; `history?from=2000&to=1000`
//! answered 200 with nothing. They now need an admin credential (or the
//! separate `--metrics-listen` address), `/health*` reveal nothing, and a
//! reversed range is 400 `bad_range`.

mod common;

use common::Server;
use reqwest::StatusCode;
use solarwire_server::store::access::Scope;

#[tokio::test]
async fn status_and_metrics_need_an_admin() {
    let server = Server::start(&[]).await;
    let viewer = common::add_api_key(server.dir.path(), Scope::Read, None);
    for path in ["/status", "/metrics"] {
        let url = format!("{}{path}", server.url);
        let r = server.anon.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains(&server.dir.path().display().to_string()),
            "{path}"
        );
        let r = server
            .anon
            .get(&url)
            .header("x-api-key", &viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let r = server.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    for path in ["/health", "/health/live", "/health/ready"] {
        let r = server
            .anon
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert!(
            keys.iter().all(|k| *k == "status" || *k == "store"),
            "{path}: {body}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_metrics_address_serves_them_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let args = common::serve_args(&["--metrics-listen", "127.0.0.1:0"]);
    let running = solarwire_server::serve::start(dir.path(), &args)
        .await
        .unwrap();
    let metrics = running.metrics_addr.unwrap();
    let anon = reqwest::Client::new();
    let r = anon
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = anon
        .get(format!("http://{metrics}/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Only those two: nothing else of the API is there.
    let r = anon
        .get(format!("http://{metrics}/api/v1/devices"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = anon
        .get(format!("http://{}/metrics", running.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    running.shutdown().await;
}

#[tokio::test]
async fn a_reversed_history_range_is_refused() {
    let server = Server::start(&[]).await;
    server.add_device("ESP32_001");
    let (status, e) = server
        .get("/api/v1/devices/ESP32_001/history?from=2000&to=1000")
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_range"))
    );
    let (status, _) = server
        .get("/api/v1/devices/ESP32_001/history?from=1000&to=2000")
        .await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}
