//! The shared vectors over HTTP: every `upload` vector posted to a real
//! server (status, reply, stored rows), and every `envelope` vector checked
//! against the HTTP mapping of architecture §3.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, add_device_keys, count, db};
use reqwest::StatusCode;
use serde_json::{Map, Value};
use solarwire_core::envelope::FIRMWARE_IV;
use solarwire_core::registers::RegisterRef;
use solarwire_server::readings::profile;
use solarwire_server::store::DeviceKeys;

/// Every vector file of the given suite: spec-tests/vectors and `$SOLARWIRE_EXTRA_VECTORS`.
fn vectors(suite: &str) -> Vec<(PathBuf, Value)> {
    let mut roots = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec-tests/vectors")];
    if let Ok(extra) = std::env::var("SOLARWIRE_EXTRA_VECTORS") {
        roots.extend(
            extra
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        );
    }
    let mut files = Vec::new();
    while let Some(dir) = roots.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                roots.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        if json["suite"] == suite {
            for v in json["vectors"].as_array().unwrap() {
                out.push((file.clone(), v.clone()));
            }
        }
    }
    out
}

/// The vector's keys as the server stores them; `None` when its AES IV is
/// not the firmware's static IV (the server only speaks the device mode).
fn keys_of(v: &Value) -> Option<DeviceKeys> {
    let hmac = hex::decode(v["hmac_key_hex"].as_str()?).unwrap();
    let aes = match v["aes_key_hex"].as_str() {
        Some(k) => {
            let iv = v["aes_iv_hex"].as_str().map(|i| hex::decode(i).unwrap());
            if iv.is_some_and(|iv| iv != FIRMWARE_IV) {
                return None;
            }
            Some(<[u8; 16]>::try_from(hex::decode(k).unwrap().as_slice()).unwrap())
        }
        None => None,
    };
    Some(DeviceKeys {
        hmac: Some(hmac),
        aes,
    })
}

fn set_last_nonce(data_dir: &Path, device: &str, v: &Value) {
    if let Some(n) = v["last_nonce"].as_u64() {
        db(data_dir).execute(&format!(
            "UPDATE devices SET last_nonce = {n} WHERE device_id = '{device}'"
        ));
    }
}

/// The device a legacy body names (inside the envelope's payload or the bare body).
fn inner_device(body: &str) -> String {
    let outer: Value = serde_json::from_str(body).unwrap();
    let inner = match outer["payload"].as_str() {
        Some(p) => serde_json::from_slice(&STANDARD.decode(p).unwrap()).unwrap(),
        None => outer,
    };
    inner["device_id"].as_str().unwrap().to_owned()
}

/// The HTTP answer architecture §3 gives a core error code.
fn expected_status(code: &str) -> StatusCode {
    match code {
        "mac_mismatch" | "decrypt_failed" | "missing_key" | "device_mismatch" => {
            StatusCode::UNAUTHORIZED
        }
        "replay" => StatusCode::CONFLICT,
        "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

#[tokio::test]
async fn every_upload_vector_is_stored_as_expected() {
    let all = vectors("upload");
    assert!(!all.is_empty(), "no upload vectors found");
    for (file, v) in all {
        let name = format!("{}#{}", file.display(), v["id"]);
        let body = v["body"].as_str().unwrap();
        let legacy = v["format"] == "legacy_process";
        let device = if legacy {
            inner_device(body)
        } else {
            v["path_device_id"].as_str().unwrap().to_owned()
        };
        let dir = tempfile::tempdir().unwrap();
        let keys = keys_of(&v).unwrap_or_else(|| solarwire_server::keys::generate(false).unwrap());
        add_device_keys(dir.path(), &device, keys);
        set_last_nonce(dir.path(), &device, &v);
        let signed = v.get("hmac_key_hex").is_some();
        let flags: &[&str] = if signed {
            &[]
        } else {
            &["--allow-unsigned-legacy"]
        };
        let server = Server::start_in(dir, flags).await;
        let path = if legacy {
            "/process".to_owned()
        } else {
            format!("/aggregated/{device}")
        };
        let nonce_before = server.last_nonce(&device);
        let (status, reply) = server.post(&path, body).await;
        if let Some(code) = v["error"].as_str() {
            // An authenticated upload whose packets all fail is kept raw and
            // answered 200 (so the device stops re-sending it), each packet
            // reporting its error; anything else is refused and changes nothing.
            let codec = ["truncated", "unknown_marker", "bad_header", "missing_state"];
            let auth = [
                "mac_mismatch",
                "decrypt_failed",
                "missing_key",
                "replay",
                "device_mismatch",
            ];
            let packet_level =
                codec.contains(&code) || (status == StatusCode::OK && !auth.contains(&code));
            if packet_level {
                assert_eq!(status, StatusCode::OK, "{name}: {reply}");
                assert_eq!(reply["samples"], 0, "{name}: {reply}");
                let packets = reply["packets"].as_array().unwrap();
                assert!(
                    packets.iter().all(|p| p["outcome"] == "failed"),
                    "{name}: {reply}"
                );
                assert!(
                    packets.iter().any(|p| p["error"] == code),
                    "{name}: {reply}"
                );
                assert_eq!(server.count("uploads"), 1, "{name}: kept raw");
                assert_eq!(server.count("samples"), 0, "{name}");
            } else {
                assert_eq!(status, expected_status(code), "{name}: {reply}");
                assert_eq!(server.count("uploads"), 0, "{name}: nothing stored");
                assert_eq!(
                    server.last_nonce(&device),
                    nonce_before,
                    "{name}: nonce untouched"
                );
            }
            server.stop().await;
            continue;
        }
        let expect = &v["expect"];
        assert_eq!(status, StatusCode::OK, "{name}: {reply}");
        assert_eq!(reply["device_id"], expect["device_id"], "{name}");
        assert_eq!(reply["duplicate"], false, "{name}");
        let want = expect["samples"].as_array().unwrap();
        assert_eq!(reply["samples"], want.len(), "{name}: {reply}");
        let stored: Vec<u8> = server
            .sqlite()
            .query_row("SELECT body FROM uploads", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, body.as_bytes(), "{name}: raw body kept");
        let (_, history) = server
            .get(&format!("/api/v1/devices/{device}/history"))
            .await;
        let got = history["samples"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{name}: stored samples");
        for (w, g) in want.iter().zip(got) {
            let by_key: Map<String, Value> = g["raw"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(name, raw)| {
                    let key = profile()
                        .lookup(RegisterRef::Name(name))
                        .unwrap()
                        .key
                        .clone();
                    (key, raw.clone())
                })
                .collect();
            assert_eq!(Value::Object(by_key), w["registers"], "{name}");
            if let Some(t) = w["t"].as_u64() {
                assert_eq!(g["t_ms"], t, "{name}");
            }
        }
        if signed {
            let nonce = serde_json::from_str::<Value>(body).unwrap()["nonce"].as_u64();
            assert_eq!(server.last_nonce(&device).map(u64::from), nonce, "{name}");
        }
        server.stop().await;
    }
}

/// The device an authentic envelope's upload names (uploads are bound to
/// their path device), else a fresh id.
fn envelope_device(v: &Value, keys: &DeviceKeys, i: usize) -> String {
    let core = solarwire_server::keys::core_keys(keys.hmac.as_deref().unwrap(), keys.aes);
    solarwire_core::envelope::Envelope::parse(v["envelope"].as_str().unwrap().as_bytes())
        .and_then(|e| e.open(&core))
        .ok()
        .and_then(|opened| serde_json::from_slice::<Value>(&opened.payload).ok())
        .and_then(|inner| inner["device_id"].as_str().map(str::to_owned))
        .filter(|id| solarwire_server::device_id::check(id).is_ok())
        .unwrap_or_else(|| format!("env-{i}"))
}

#[tokio::test]
async fn every_envelope_vector_maps_to_its_http_answer() {
    // One server per round; a device id appears at most once in a round.
    let mut rounds: Vec<Vec<(String, String, Value, DeviceKeys)>> = Vec::new();
    let mut total = 0;
    for (i, (file, v)) in vectors("envelope").into_iter().enumerate() {
        let Some(keys) = keys_of(&v) else { continue };
        let device = envelope_device(&v, &keys, i);
        let name = format!("{}#{}", file.display(), v["id"]);
        let round = rounds.iter().position(|r| r.iter().all(|c| c.1 != device));
        let case = (name, device, v, keys);
        match round {
            Some(r) => rounds[r].push(case),
            None => rounds.push(vec![case]),
        }
        total += 1;
    }
    assert!(total > 100, "too few envelope vectors: {total}");
    for cases in rounds {
        let dir = tempfile::tempdir().unwrap();
        for (_, device, v, keys) in &cases {
            add_device_keys(dir.path(), device, keys.clone());
            set_last_nonce(dir.path(), device, v);
        }
        let server = Server::start_in(dir, &["--device-rate", "0"]).await;
        let mut stored = 0;
        for (name, device, v, _) in &cases {
            stored += check_envelope_vector(&server, name, device, v).await;
        }
        assert_eq!(count(server.dir.path(), "uploads"), stored);
        server.stop().await;
    }
}

/// Posts one envelope vector and checks its answer; 1 when it was stored.
async fn check_envelope_vector(server: &Server, name: &str, device: &str, v: &Value) -> i64 {
    let nonce_before = server.last_nonce(device);
    let body = v["envelope"].as_str().unwrap();
    let (status, reply) = server.post(&format!("/aggregated/{device}"), body).await;
    match v["error"].as_str() {
        Some(code @ ("mac_mismatch" | "decrypt_failed" | "missing_key")) => {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} ({code}): {reply}");
            assert_eq!(reply["error"], "unauthorized", "{name}: one outward code");
        }
        Some(code @ ("malformed" | "bad_base64" | "bad_mac_encoding")) => {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {reply}");
            assert_eq!(reply["error"], code, "{name}");
        }
        // Authentic envelopes: stored (fresh) or 409 (replay) when the
        // payload is an upload; otherwise malformed, before the replay stage.
        other => {
            let ok = if other == Some("replay") {
                StatusCode::CONFLICT
            } else {
                StatusCode::OK
            };
            let malformed = status == StatusCode::BAD_REQUEST && reply["error"] == "malformed";
            assert!(status == ok || malformed, "{name}: {status} {reply}");
            if status == StatusCode::OK {
                return 1;
            }
        }
    }
    assert_eq!(
        server.last_nonce(device),
        nonce_before,
        "{name}: nonce untouched"
    );
    0
}
