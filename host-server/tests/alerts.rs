//! Alert rules over HTTP and from the rules file; alerts stored, listed and
//! pushed on the WebSocket with device status changes; the socket's token
//! and ping.

mod common;

use std::time::Duration;

use common::{Server, next_upload};
use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &Server, query: &str) -> Socket {
    let url = format!("{}/ws?{query}", server.url.replace("http://", "ws://"));
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next message of `kind`, skipping others (bounded wait).
async fn next_of(ws: &mut Socket, kind: &str) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("no WebSocket message")
            .expect("WebSocket closed")
            .unwrap();
        if let Message::Text(text) = msg {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == kind {
                return value;
            }
        }
    }
}

/// The open alerts once there are `n` (rules are judged just after the
/// commit that answered the upload; bounded wait).
async fn open_alerts(server: &Server, n: usize) -> Value {
    let mut open = Value::Null;
    for _ in 0..200 {
        open = server.get("/api/v1/alerts?open=true").await.1;
        if open["alerts"].as_array().map(Vec::len) == Some(n) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    open
}

#[tokio::test]
async fn register_rules_raise_and_close_alerts_live() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("D1");
    let mut ws = connect(&server, &format!("device=D1&api_key={}", server.key)).await;
    assert_eq!(next_of(&mut ws, "hello").await["device"], "D1");

    // The test inverter runs at 45.2–45.3 °C.
    let r = server
        .client
        .post(format!("{}/api/v1/alerts/rules", server.url))
        .json(&json!({ "name": "inverter hot", "kind": "max", "register": "Temp", "threshold": 45.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let rule: Value = r.json().await.unwrap();
    let (_, body) = next_upload(&mut device, 0);
    assert_eq!(server.post("/aggregated/D1", body).await.0, StatusCode::OK);

    let status = next_of(&mut ws, "device_status").await;
    assert_eq!(
        (status["device_id"].as_str(), status["status"].as_str()),
        (Some("D1"), Some("online"))
    );
    let pushed = next_of(&mut ws, "alert").await;
    assert_eq!(pushed["event"], "opened");
    assert_eq!(pushed["alert"]["rule_name"], "inverter hot");
    assert!(pushed["alert"]["value"].as_f64().unwrap() > 45.0);
    assert!(
        pushed["alert"]["message"]
            .as_str()
            .unwrap()
            .contains("above 45")
    );
    let sample = next_of(&mut ws, "sample").await;
    assert_eq!(sample["device_id"], "D1");

    let (status, open) = server.get("/api/v1/alerts?open=true").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        open["count"], 1,
        "one alert while the condition lasts: {open}"
    );
    assert_eq!(open["alerts"][0]["kind"], "max");
    assert_eq!(open["alerts"][0]["open"], true);
    // More hot samples keep the same alert open.
    let (_, body) = next_upload(&mut device, 1);
    assert_eq!(server.post("/aggregated/D1", body).await.0, StatusCode::OK);
    assert_eq!(server.get("/api/v1/alerts?open=true").await.1["count"], 1);

    // Removing the rule closes its alert.
    let id = rule["id"].as_i64().unwrap();
    let r = server
        .client
        .delete(format!("{}/api/v1/alerts/rules/{id}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(server.get("/api/v1/alerts?open=true").await.1["count"], 0);
    let closed = server.get("/api/v1/alerts?open=false&device=D1").await.1;
    assert!(closed["alerts"][0]["closed_ms"].as_u64().is_some());

    // Ping, pong.
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert!(next_of(&mut ws, "pong").await["t_ms"].as_u64().is_some());

    // Bad rules and viewers are refused.
    for bad in [
        json!({ "name": "x", "kind": "max", "register": "Temp" }),
        json!({ "name": "x", "kind": "max", "register": "Nope", "threshold": 1 }),
        json!({ "name": "x", "kind": "stuck", "register": "Pac" }),
    ] {
        let r = server
            .client
            .post(format!("{}/api/v1/alerts/rules", server.url))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let viewer = common::add_api_key(
        server.dir.path(),
        solarwire_server::store::access::Scope::Read,
        None,
    );
    let r = server
        .anon
        .post(format!("{}/api/v1/alerts/rules", server.url))
        .header("x-api-key", &viewer)
        .json(&json!({ "name": "x", "kind": "offline" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = server
        .anon
        .get(format!("{}/api/v1/alerts", server.url))
        .header("x-api-key", &viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn step_and_stuck_rules_judge_consecutive_samples() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("D1");
    for rule in [
        json!({ "name": "jump", "kind": "step", "register": "Pac", "threshold": 2.5 }),
        json!({ "name": "frozen", "kind": "stuck", "register": "Ipv2", "window_s": 10 }),
    ] {
        let r = server
            .client
            .post(format!("{}/api/v1/alerts/rules", server.url))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    // Pac climbs 3 W per sample (a step over 2.5 W); Ipv2 never changes.
    let (_, body) = next_upload(&mut device, 0);
    assert_eq!(server.post("/aggregated/D1", body).await.0, StatusCode::OK);
    let open = open_alerts(&server, 2).await;
    let mut names: Vec<&str> = open["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule_name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["frozen", "jump"], "{open}");
    server.stop().await;
}

#[tokio::test]
async fn offline_rules_from_the_rules_file_follow_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"rules": [{"name": "silent", "kind": "offline"}]}"#,
    )
    .unwrap();
    let server = Server::start(&[
        "--alert-rules",
        rules.to_str().unwrap(),
        "--upload-interval",
        "300ms",
        "--alert-interval",
        "100ms",
    ])
    .await;
    let (_, listed) = server.get("/api/v1/alerts/rules").await;
    assert_eq!(listed["rules"][0]["source"], "config");
    let mut device = server.add_device("D1");
    let mut ws = connect(&server, &format!("api_key={}", server.key)).await;

    let (_, body) = next_upload(&mut device, 0);
    assert_eq!(server.post("/aggregated/D1", body).await.0, StatusCode::OK);
    // Silent for three periods (0.9 s): offline, and the alert opens.
    let offline = loop {
        let status = next_of(&mut ws, "device_status").await;
        if status["status"] == "offline" {
            break status;
        }
    };
    assert_eq!(offline["device_id"], "D1");
    let opened = next_of(&mut ws, "alert").await;
    assert_eq!(
        (opened["event"].as_str(), opened["alert"]["kind"].as_str()),
        (Some("opened"), Some("offline"))
    );
    // An upload brings it back and closes the alert.
    let (_, body) = next_upload(&mut device, 1);
    assert_eq!(server.post("/aggregated/D1", body).await.0, StatusCode::OK);
    let closed = next_of(&mut ws, "alert").await;
    assert_eq!(closed["event"], "closed");
    let all = server.get("/api/v1/alerts?device=D1").await.1;
    assert!(all["alerts"][0]["closed_ms"].as_u64().is_some());
    server.stop().await;
}

#[tokio::test]
async fn the_socket_needs_a_token() {
    let server = Server::start(&[]).await;
    let url = server.url.replace("http://", "ws://");
    for query in ["", "?token=forged.jwt.value", "?api_key=swk_unknown"] {
        let refused = tokio_tungstenite::connect_async(format!("{url}/ws{query}")).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                assert_eq!(r.status(), 401, "{query}")
            }
            other => panic!("{query}: expected 401, got {other:?}"),
        }
    }
    let mut ws = connect(&server, &format!("api_key={}", server.key)).await;
    assert_eq!(next_of(&mut ws, "hello").await["type"], "hello");
    server.stop().await;
}
