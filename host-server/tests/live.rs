//! Live outputs: WebSocket clients and MQTT (Debian mosquitto on a free
//! loopback port) receive every stored upload; a broker outage loses no ingest.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::broker::start_broker;
use common::{Server, next_upload};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Waits for a condition that must come true (an event, not a deadline to meet).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

async fn next_text(
    ws: &mut (
             impl futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
             + Unpin
         ),
) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("no WebSocket message")
            .expect("WebSocket closed")
            .unwrap();
        if let Message::Text(text) = msg {
            let value: Value = serde_json::from_str(&text).unwrap();
            // Status changes (a device coming online) interleave; these tests want the rest.
            if value["type"] != "device_status" {
                return value;
            }
        }
    }
}

#[tokio::test]
async fn websocket_clients_receive_samples_stored_after_they_connect() {
    let server = Server::start(&[]).await;
    let mut d1 = server.add_device("D1");
    let mut d2 = server.add_device("D2");
    let ws_url = server.url.replace("http://", "ws://");
    let (mut only_d1, _) =
        tokio_tungstenite::connect_async(format!("{ws_url}/ws?device=D1&api_key={}", server.key))
            .await
            .unwrap();
    let (mut all, _) =
        tokio_tungstenite::connect_async(format!("{ws_url}/ws?api_key={}", server.key))
            .await
            .unwrap();
    assert_eq!(next_text(&mut only_d1).await["type"], "hello");
    assert_eq!(next_text(&mut all).await["type"], "hello");

    let mut ids = Vec::new();
    for cycle in 0..3 {
        let (_, body) = next_upload(&mut d2, cycle);
        assert_eq!(server.post("/aggregated/D2", body).await.0, StatusCode::OK);
        let (_, body) = next_upload(&mut d1, cycle);
        let (status, reply) = server.post("/aggregated/D1", body).await;
        assert_eq!(status, StatusCode::OK);
        ids.push(reply["upload_id"].clone());
    }
    for id in &ids {
        let msg = next_text(&mut only_d1).await;
        assert_eq!(msg["type"], "sample");
        assert_eq!(msg["device_id"], "D1", "the filter lets only D1 through");
        assert_eq!(&msg["upload_id"], id);
        let samples = msg["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 3);
        assert!(samples[0]["values"]["Vac1"].as_f64().unwrap() > 200.0);
        assert!(samples[0]["raw"]["Pac"].as_u64().is_some());
    }
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(next_text(&mut all).await["device_id"].clone());
    }
    assert_eq!(seen.iter().filter(|d| *d == "D1").count(), 3);
    assert_eq!(seen.iter().filter(|d| *d == "D2").count(), 3);
    let (_, status) = server.get("/status").await;
    assert_eq!(status["websocket"]["clients"], 2);

    // A bad filter is refused before the upgrade.
    let bad =
        tokio_tungstenite::connect_async(format!("{ws_url}/ws?device=a/b&api_key={}", server.key))
            .await;
    assert!(bad.is_err());
    server.stop().await;
}

#[tokio::test]
async fn a_websocket_closes_when_its_key_is_revoked() {
    let server = Server::start(&["--ws-recheck", "200ms"]).await;
    let created: Value = server
        .client
        .post(format!("{}/api/v1/keys", server.url))
        .json(&serde_json::json!({ "name": "wall screen", "scope": "read" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    let ws_url = server.url.replace("http://", "ws://");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_url}/ws?api_key={key}"))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await["type"], "hello");
    // Still open after several re-checks while the key is valid.
    tokio::time::sleep(Duration::from_millis(700)).await;
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert_eq!(next_text(&mut ws).await["type"], "pong");

    let revoked = server
        .client
        .delete(format!("{}/api/v1/keys/{}", server.url, created["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let close = loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("still open after the key was revoked");
        match msg {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("ended without a close frame: {other:?}"),
        }
    };
    let frame = close.expect("a close frame with a reason");
    assert_eq!(u16::from(frame.code), 1008);
    assert!(frame.reason.contains("unauthorized"), "{}", frame.reason);
    server.stop().await;
}

/// Subscribes to both topic families; messages arrive on the channel as (topic, JSON).
async fn subscribe(port: u16) -> mpsc::UnboundedReceiver<(String, Value)> {
    let options = MqttOptions::new("solarwire-test-sub", "127.0.0.1", port);
    let (client, mut events) = AsyncClient::new(options, 64);
    client
        .subscribe("solarwire/+/samples", QoS::AtLeastOnce)
        .await
        .unwrap();
    client
        .subscribe("ecowatt/data/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _client = client;
        let mut acks = 0;
        while let Ok(event) = events.poll().await {
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    acks += 1;
                    if acks == 2 {
                        let _ = ready_tx.send(());
                    }
                }
                Event::Incoming(Packet::Publish(p)) => {
                    let json = serde_json::from_slice(&p.payload).unwrap();
                    let _ = tx.send((p.topic, json));
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(30), ready.recv())
        .await
        .expect("no SUBACK");
    rx
}

#[tokio::test]
async fn every_stored_upload_reaches_mqtt_and_an_outage_loses_no_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker = start_broker(dir.path(), port);
    let mut messages = subscribe(port).await;
    let url = format!("mqtt://127.0.0.1:{port}");
    let server = Server::start(&["--mqtt-url", &url, "--mqtt-compat", "--device-rate", "0"]).await;
    eventually("the server connects to the broker", async || {
        server.get("/status").await.1["mqtt"]["connected"] == true
    })
    .await;
    let mut device = server.add_device("ESP32_001");
    let mut stored = BTreeSet::new();
    for cycle in 0..10 {
        let (_, body) = next_upload(&mut device, cycle);
        let (status, reply) = server.post("/aggregated/ESP32_001", body).await;
        assert_eq!(status, StatusCode::OK);
        stored.insert(reply["upload_id"].as_i64().unwrap());
    }
    let (mut native, mut legacy) = (BTreeSet::new(), 0);
    while native.len() < stored.len() || legacy < stored.len() {
        let (topic, json) = tokio::time::timeout(Duration::from_secs(30), messages.recv())
            .await
            .expect("an upload never reached MQTT")
            .unwrap();
        if topic == "solarwire/ESP32_001/samples" {
            assert_eq!(json["samples"].as_array().unwrap().len(), 3);
            assert!(json["samples"][0]["values"]["Vac1"].is_f64());
            assert!(
                native.insert(json["upload_id"].as_i64().unwrap()),
                "published twice"
            );
        } else {
            assert_eq!(topic, "ecowatt/data/ESP32_001");
            assert_eq!(json["sample_count"], 3);
            assert_eq!(json["registers_per_sample"], 6);
            assert_eq!(json["values"].as_array().unwrap().len(), 18);
            legacy += 1;
        }
    }
    assert_eq!(native, stored);

    // The broker goes away mid-run: every upload is still stored and answered.
    drop(broker);
    eventually("the server notices the outage", async || {
        server.get("/status").await.1["mqtt"]["connected"] == false
    })
    .await;
    for cycle in 10..30 {
        let (_, body) = next_upload(&mut device, cycle);
        let (status, reply) = server.post("/aggregated/ESP32_001", body).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    assert_eq!(server.count("uploads"), 30);
    let metrics = server
        .client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("solarwire_mqtt_connected 0"), "{metrics}");
    server.stop().await;
}
