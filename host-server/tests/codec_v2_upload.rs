//! Codec v2 packets (marker `0xC2`) through the upload path: a device that
//! encodes with the core's v2 encoder stores exactly the readings a
//! firmware-codec device stores, and `solarwire simulate --format v2` sends
//! such uploads.

mod common;

use std::time::Duration;

use clap::Parser;
use common::{Server, next_upload};
use reqwest::StatusCode;
use serde_json::Value;
use solarwire_server::cli::{Cli, Command};
use solarwire_server::simulate::firmware::PacketFormat;

async fn history(server: &Server, id: &str) -> Value {
    let (status, history) = server
        .get(&format!("/api/v1/devices/{id}/history?limit=10000"))
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    // Readings only: the two devices' uploads have their own row ids.
    let mut samples = history["samples"].clone();
    for sample in samples.as_array_mut().unwrap() {
        sample.as_object_mut().unwrap().remove("upload_id");
    }
    samples
}

#[tokio::test]
async fn v2_packets_store_the_same_readings_as_firmware_packets() {
    let server = Server::start(&["--device-rate", "0"]).await;
    let mut v1 = server.add_device("V1DEV");
    let mut v2 = server.add_device("V2DEV");
    v2.format = PacketFormat::V2;
    for cycle in 0..6 {
        let (_, body) = next_upload(&mut v1, cycle);
        let (status, reply) = server.post("/aggregated/V1DEV", body).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        let (nonce, body) = next_upload(&mut v2, cycle);
        let (status, reply) = server.post("/aggregated/V2DEV", body).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["nonce"], nonce);
        assert_eq!(reply["samples"], 3, "{reply}");
        assert_eq!(reply["stats"][0]["method"], "codec_v2", "{reply}");
        assert_eq!(reply["packets"][0]["method"], "codec_v2", "{reply}");
        assert_eq!(reply["packets"][0]["outcome"], "decoded", "{reply}");
    }
    let (from_v1, from_v2) = (
        history(&server, "V1DEV").await,
        history(&server, "V2DEV").await,
    );
    assert_eq!(from_v2.as_array().unwrap().len(), 18);
    assert_eq!(from_v1, from_v2);
    let pac: Vec<u64> = from_v2
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["raw"]["Pac"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (0..18).map(|i| u64::from(common::row(i)[5])).collect();
    assert_eq!(pac, want);
    let (_, status) = server.get("/status").await;
    assert_eq!(
        status["since_start"]["codecs"]["codec_v2"]["packets"], 6,
        "{status}"
    );
    server.stop().await;
}

#[tokio::test]
async fn simulate_format_v2_sends_codec_v2_uploads() {
    let server = Server::start(&["--device-rate", "0"]).await;
    let devices = vec![server.add_device("SIM_0001")];
    let args = match Cli::parse_from([
        "solarwire",
        "simulate",
        "--url",
        &server.url,
        "--rate",
        "4",
        "--duration",
        "1s",
        "--no-pollers",
        "--format",
        "v2",
    ])
    .command
    {
        Some(Command::Simulate(args)) => *args,
        other => panic!("not simulate: {other:?}"),
    };
    let summary = tokio::time::timeout(
        Duration::from_secs(120),
        solarwire_server::simulate::run(&args, devices, None),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(summary.rejected.is_empty(), "{summary}");
    assert_eq!(summary.acked, 4, "{summary}");
    let (_, status) = server.get("/status").await;
    let codecs = &status["since_start"]["codecs"];
    assert_eq!(codecs["codec_v2"]["packets"], 4, "{status}");
    assert_eq!(codecs["codec_v2"]["failed"], 0, "{status}");
    assert_eq!(codecs.as_object().unwrap().len(), 1, "{status}");
    server.stop().await;
}
