//! Finding: device time was trusted. An upload stamped ten years ahead was
//! stored and stayed the device's `/latest` forever after; one stamped in
//! seconds instead of milliseconds was silently back-dated by weeks.
//!
//! Now a packet whose sample times lie outside the accepted window
//! (`--max-clock-ahead`, `--max-sample-age`) fails with `time_out_of_window`,
//! one stamped in seconds with `timestamp_in_seconds`; nothing of it is
//! stored. The upload itself is still accepted (200, its nonce advances, its
//! other packets are stored): the envelope was genuine, only the packet's
//! time is refused, and answering it as a failure would make the firmware
//! resend the same packet forever.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Server, row};
use reqwest::StatusCode;
use serde_json::Value;

const DEVICE: &str = "ESP32_001";
const TEN_YEARS_MS: u64 = 10 * 365 * 86_400_000;

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The packet summaries of an upload reply: `(outcome, error code)`.
fn outcomes(reply: &Value) -> Vec<(String, Option<String>)> {
    reply["packets"]
        .as_array()
        .unwrap_or_else(|| panic!("no packets in {reply}"))
        .iter()
        .map(|p| {
            (
                p["outcome"].as_str().unwrap().to_owned(),
                p["error"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn failed(code: &str) -> (String, Option<String>) {
    ("failed".into(), Some(code.into()))
}

fn decoded() -> (String, Option<String>) {
    ("decoded".into(), None)
}

/// The sum of `solarwire_packets_failed_total` over codecs in `/metrics`.
async fn failed_packets(server: &Server) -> u64 {
    let text = server
        .client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("solarwire_packets_failed_total"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[tokio::test]
async fn out_of_window_and_seconds_stamps_are_refused_per_packet() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device(DEVICE);
    let now = now_ms();

    // An in-window upload is stored and becomes /latest.
    let good = device.compress(&[row(1), row(2)], now - 1_000);
    let json = device.upload_json(&[good], now / 1000, 5);
    let sealed = device.seal(&json).unwrap();
    let (status, reply) = server.post("/aggregated/ESP32_001", sealed.body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(outcomes(&reply), vec![decoded()]);
    assert_eq!(server.count("samples"), 2);
    let (_, latest_before) = server.get("/api/v1/devices/ESP32_001/latest").await;

    // Ten years ahead, and stamped in seconds: both packets refused.
    let future_ms = now + TEN_YEARS_MS;
    let ahead = device.compress(&[row(3)], future_ms);
    let ahead_json = device.upload_json(&[ahead], future_ms / 1000, 5);
    let seconds = device.compress(&[row(4)], now / 1000 - 2);
    let seconds_json = device.upload_json(&[seconds], now / 1000, 5);
    for (json, code) in [
        (ahead_json, "time_out_of_window"),
        (seconds_json, "timestamp_in_seconds"),
    ] {
        let sealed = device.seal(&json).unwrap();
        let (status, reply) = server.post("/aggregated/ESP32_001", sealed.body).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(outcomes(&reply), vec![failed(code)], "{reply}");
        assert_eq!(reply["samples"], 0, "{reply}");
        assert_eq!(
            server.last_nonce(DEVICE),
            Some(sealed.nonce),
            "an upload with refused packets is still an accepted upload"
        );
    }
    assert_eq!(server.count("samples"), 2, "nothing stored for them");
    let (_, latest_after) = server.get("/api/v1/devices/ESP32_001/latest").await;
    assert_eq!(latest_after, latest_before, "/latest unchanged");

    // One upload, one packet stamped in seconds and one in window: only the
    // latter is stored. (A second device: packets dated backwards would drop
    // the temporal history, as on the firmware.)
    let mut other = server.add_device("ESP32_002");
    let seconds = other.compress(&[row(5)], now / 1000 - 7);
    let good = other.compress(&[row(6)], now - 2_000);
    let json = other.upload_json(&[seconds, good], now / 1000, 5);
    let sealed = other.seal(&json).unwrap();
    let (status, reply) = server.post("/aggregated/ESP32_002", sealed.body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        outcomes(&reply),
        vec![failed("timestamp_in_seconds"), decoded()],
        "{reply}"
    );
    assert_eq!(server.count("samples"), 3);
    assert_eq!(
        failed_packets(&server).await,
        3,
        "refused packets are counted"
    );
    server.stop().await;
}

#[tokio::test]
async fn samples_older_than_the_window_are_refused() {
    // Test data of 2025-11-23 is older than 30 days of retention.
    let server = Server::start(&["--retention-days", "30"]).await;
    let mut device = server.add_device(DEVICE);
    let (_, body) = common::next_upload(&mut device, 0);
    let (status, reply) = server.post("/aggregated/ESP32_001", body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(outcomes(&reply), vec![failed("time_out_of_window")]);
    assert_eq!(server.count("samples"), 0);
    server.stop().await;

    // A wider window set by flag admits it.
    let server = Server::start(&["--retention-days", "30", "--max-sample-age", "100000h"]).await;
    let mut device = server.add_device(DEVICE);
    let (_, body) = common::next_upload(&mut device, 0);
    let (status, reply) = server.post("/aggregated/ESP32_001", body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(outcomes(&reply), vec![decoded()]);
    assert_eq!(server.count("samples"), 3);
    server.stop().await;
}
