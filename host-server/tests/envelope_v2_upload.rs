//! Envelope v2 (`docs/envelope-v2.md`) on the upload routes: a device that
//! encodes with the core's codec v2 and seals with the core's envelope v2
//! stores exactly its readings; replay, duplicate, forgery, clock skew and
//! key rotation with an overlap are decided as the document says; and
//! `solarwire simulate --format v2` sends envelope v2. Runs on both backends.

mod common;

use std::time::Duration;

use clap::Parser;
use common::{Server, row};
use reqwest::StatusCode;
use serde_json::Value;
use solarwire_core::envelope_v2::IV_LEN;
use solarwire_server::cli::{Cli, Command};
use solarwire_server::clock::now_ms;
use solarwire_server::simulate::firmware::{FirmwareDevice, PacketFormat, SealedV2};

/// Test data time (2025-11-23T08:00:00Z): the readings' dates.
const T0: u64 = 1_763_884_800_000;

/// A new device running the core, with its first envelope v2 key (id 1):
/// codec v2 packets sealed in envelope v2.
fn core_device(server: &Server, id: &str) -> FirmwareDevice {
    let device = server.add_device(id);
    let (key_id, secret) = server.envelope_key(id, 0);
    assert_eq!(key_id, 1);
    let mut device = device.with_envelope_v2(key_id, &secret);
    device.format = PacketFormat::V2;
    device
}

/// The same device under another envelope key (after a rotation).
fn rekeyed(device: &FirmwareDevice, key_id: u32, secret: &[u8; 32]) -> FirmwareDevice {
    device.clone().with_envelope_v2(key_id, secret)
}

/// Upload `cycle` of `device` (three samples), sealed at device time
/// `device_ms` with counter `counter` at least.
fn upload(device: &mut FirmwareDevice, cycle: u64, device_ms: u64) -> SealedV2 {
    let rows: Vec<Vec<u16>> = (0..3).map(|j| row(cycle * 3 + j)).collect();
    let t = T0 + cycle * 15_000;
    let packet = device.compress(&rows, t);
    let json = device.upload_json(&[packet], t / 1000, 5);
    let iv = [u8::try_from(cycle % 256).unwrap(); IV_LEN];
    device.seal_v2(&json, device_ms, iv).unwrap()
}

async fn history(server: &Server, id: &str) -> Vec<Vec<u64>> {
    let (status, history) = server
        .get(&format!("/api/v1/devices/{id}/history?limit=10000"))
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let names = ["Vac1", "Iac1", "Ipv1", "Ipv2", "Temp", "Pac"];
    history["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            names
                .iter()
                .map(|n| s["raw"][*n].as_u64().unwrap())
                .collect()
        })
        .collect()
}

/// Posts `body` until the server answers something else than 401: a key
/// change reaches a running server's key cache within its epoch poll.
async fn post_when_keys_seen(server: &Server, path: &str, body: &[u8]) -> (StatusCode, Value) {
    for _ in 0..100 {
        let (status, reply) = server.post_bytes(path, body.to_vec()).await;
        if status != StatusCode::UNAUTHORIZED {
            return (status, reply);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server never saw the new key");
}

#[tokio::test]
async fn device_encoder_to_server_to_stored_values() {
    let server = Server::start(&["--device-rate", "0"]).await;
    let mut device = core_device(&server, "E2DEV");
    let path = "/aggregated/E2DEV";
    let mut sent = Vec::new();
    for cycle in 0..4 {
        let sealed = upload(&mut device, cycle, now_ms());
        let (status, reply) = server.post_bytes(path, sealed.body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["counter"], sealed.counter, "{reply}");
        assert_eq!(reply["stats"][0]["method"], "codec_v2", "{reply}");
        assert_eq!(reply["packets"][0]["outcome"], "decoded", "{reply}");
        sent.push(sealed);
    }
    let want: Vec<Vec<u64>> = (0..12)
        .map(|i| row(i).into_iter().map(u64::from).collect())
        .collect();
    assert_eq!(history(&server, "E2DEV").await, want);
    let (status, stats) = server.get("/api/v1/devices/E2DEV/stats").await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["codecs"][0]["method"], "codec_v2", "{stats}");

    // The last envelope again: its stored answer; an older one: a replay.
    let last = sent.last().unwrap();
    let (status, reply) = server.post_bytes(path, last.body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["duplicate"], true, "{reply}");
    let (status, reply) = server.post_bytes(path, sent[1].body.clone()).await;
    assert_eq!(
        (status, &reply["error"]),
        (StatusCode::CONFLICT, &"replay".into())
    );

    // Refusals that move nothing: a flipped ciphertext bit, a device clock
    // ten minutes off, a key id the device does not have, the wrong device.
    let mut forged = upload(&mut device, 4, now_ms());
    let middle = forged.body.len() / 2;
    forged.body[middle] ^= 1;
    let (status, reply) = server.post_bytes(path, forged.body).await;
    assert_eq!(
        (status, &reply["error"]),
        (StatusCode::UNAUTHORIZED, &"unauthorized".into())
    );
    let skewed = upload(&mut device, 4, now_ms() - 600_000);
    let (status, reply) = server.post_bytes(path, skewed.body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert_eq!(reply["error"], "clock_skew");
    let mut stranger = rekeyed(&device, 9, &[7; 32]);
    let (status, _) = server
        .post_bytes(path, upload(&mut stranger, 4, now_ms()).body)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.add_device("OTHER");
    let (status, _) = server
        .post_bytes("/aggregated/OTHER", upload(&mut device, 4, now_ms()).body)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Malformed structure: a short body and a bad content byte.
    let (status, reply) = server.post_bytes(path, vec![2, 0, 0]).await;
    assert_eq!(
        (status, &reply["error"]),
        (StatusCode::BAD_REQUEST, &"malformed".into())
    );
    let mut binary = upload(&mut device, 4, now_ms()).body;
    binary[1] = 1;
    let (status, reply) = server.post_bytes(path, binary).await;
    assert_eq!(
        (status, &reply["error"]),
        (StatusCode::BAD_REQUEST, &"malformed".into())
    );
    assert_eq!(history(&server, "E2DEV").await.len(), 12);

    // After all that, the device's next envelope is accepted.
    let next = upload(&mut device, 4, now_ms());
    let (status, reply) = server.post_bytes(path, next.body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(history(&server, "E2DEV").await.len(), 15);
    // The firmware's nonce ledger was never touched.
    assert_eq!(server.last_nonce("E2DEV"), None);
    server.stop().await;
}

#[tokio::test]
async fn rotation_keeps_the_old_key_for_the_overlap() {
    let server = Server::start(&["--device-rate", "0"]).await;
    let mut old = core_device(&server, "ROT");
    let path = "/aggregated/ROT";
    let (status, reply) = server
        .post_bytes(path, upload(&mut old, 0, now_ms()).body)
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    // Rotate with an hour of overlap: the new key works once the server
    // sees it, and the old key still does.
    let (id2, secret2) = server.envelope_key("ROT", 3_600_000);
    assert_eq!(id2, 2);
    let mut new = rekeyed(&old, id2, &secret2);
    let (status, reply) =
        post_when_keys_seen(&server, path, &upload(&mut new, 1, now_ms()).body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, reply) = server
        .post_bytes(path, upload(&mut old, 2, now_ms()).body)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "old key inside the overlap: {reply}"
    );

    // Rotate again with no overlap: key 2 is the previous one, valid until
    // now; key 1 is gone.
    let (id3, secret3) = server.envelope_key("ROT", 0);
    let mut newest = rekeyed(&old, id3, &secret3);
    let (status, reply) =
        post_when_keys_seen(&server, path, &upload(&mut newest, 3, now_ms()).body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    for device in [&mut new, &mut old] {
        let (status, reply) = server
            .post_bytes(path, upload(device, 4, now_ms()).body)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{reply}");
    }
    assert_eq!(history(&server, "ROT").await.len(), 12);
    server.stop().await;
}

#[tokio::test]
async fn simulate_format_v2_seals_in_envelope_v2() {
    let server = Server::start(&["--device-rate", "0"]).await;
    let device = core_device(&server, "SIM_0001");
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
        solarwire_server::simulate::run(&args, vec![device], None),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(summary.rejected.is_empty(), "{summary}");
    assert_eq!(summary.acked, 4, "{summary}");
    let (_, status) = server.get("/status").await;
    assert_eq!(
        status["since_start"]["codecs"]["codec_v2"]["packets"], 4,
        "{status}"
    );
    // Sealed in envelope v2: the firmware nonce ledger is untouched.
    assert_eq!(server.last_nonce("SIM_0001"), None);
    server.stop().await;
}
