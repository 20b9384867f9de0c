//! Finding: two samples with the same time and register in one upload were
//! both stored. Now the core refuses the packet that repeats a (time,
//! register) the upload already has (`duplicate_sample`,
//! docs/upload-rules.md): the earlier value stands, nothing of the repeating
//! packet is stored, and the upload's other packets are.

mod common;

use common::{Server, row};
use reqwest::StatusCode;
use serde_json::Value;

const DEVICE: &str = "ESP32_001";
const T: u64 = 1_763_884_800_000;

/// `(outcome, error code)` of each packet in an upload reply.
fn outcomes(reply: &Value) -> Vec<(&str, Option<&str>)> {
    reply["packets"]
        .as_array()
        .unwrap_or_else(|| panic!("no packets in {reply}"))
        .iter()
        .map(|p| (p["outcome"].as_str().unwrap(), p["error"].as_str()))
        .collect()
}

/// The stored history's raw `Pac` values, oldest first.
async fn pac_history(server: &Server) -> Vec<Value> {
    let (status, history) = server.get("/api/v1/devices/ESP32_001/history").await;
    assert_eq!(status, StatusCode::OK, "{history}");
    history["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["raw"]["Pac"].clone())
        .collect()
}

#[tokio::test]
async fn a_packet_repeating_a_time_and_register_is_refused_and_the_first_value_stands() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device(DEVICE);
    let first_rows: Vec<Vec<u16>> = (0..3).map(row).collect();
    let first = device.compress(&first_rows, T);
    // Other readings dated exactly like the first packet's: not a re-send.
    let second_rows: Vec<Vec<u16>> = (0..3).map(|i| row(100 + i)).collect();
    let second = device.compress(&second_rows, T);
    let json = device.upload_json(&[first, second], T / 1000, 5);
    let sealed = device.seal(&json).unwrap();
    let (status, reply) = server.post("/aggregated/ESP32_001", sealed.body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        outcomes(&reply),
        vec![("decoded", None), ("failed", Some("duplicate_sample"))],
        "{reply}"
    );
    assert_eq!(reply["samples"], 3, "{reply}");
    assert_eq!(
        server.count("samples"),
        3,
        "only the first packet's samples"
    );
    let expected: Vec<Value> = first_rows.iter().map(|r| r[5].into()).collect();
    assert_eq!(
        pac_history(&server).await,
        expected,
        "the first values stand"
    );
    assert_eq!(server.last_nonce(DEVICE), Some(sealed.nonce));
    server.stop().await;
}

#[tokio::test]
async fn an_upload_whose_only_packet_repeats_itself_stores_nothing() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device(DEVICE);
    let (_, before) = server.get("/api/v1/devices/ESP32_001/latest").await;
    // sampling_interval 0: all three samples dated alike.
    let rows: Vec<Vec<u16>> = (0..3).map(row).collect();
    let packet = device.compress(&rows, T);
    let json = device.upload_json(&[packet], T / 1000, 0);
    let sealed = device.seal(&json).unwrap();
    let (status, reply) = server.post("/aggregated/ESP32_001", sealed.body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        outcomes(&reply),
        vec![("failed", Some("duplicate_sample"))],
        "{reply}"
    );
    assert_eq!(server.count("samples"), 0, "nothing stored");
    let (_, after) = server.get("/api/v1/devices/ESP32_001/latest").await;
    assert_eq!(after, before, "/latest unchanged");
    server.stop().await;
}
