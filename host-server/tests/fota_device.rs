//! A test device that updates its firmware the way the EcoWatt firmware
//! does, written from the wire-format spec §7.1 alone: check → initiate →
//! every chunk in order → streaming AES-256-CBC decryption (the CBC state
//! carries across chunks) → `0xE9` magic → SHA-256 of the first
//! `original_size` bytes → RSA-2048 PKCS#1 v1.5 verification of the digest
//! with the public key the device build embeds → progress → complete.
//! The server's OTA fault injection must make the same device reject a
//! corrupted chunk, a wrong hash and a wrong signature, and those failures
//! must pause the rollout by themselves.

mod common;

use std::time::Instant;

use aes::Aes256;
use aes::cipher::{BlockModeDecrypt as _, KeyIvInit as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::Server;
use reqwest::StatusCode;
use rsa::PublicKey;
use rsa::pkcs8::DecodePublicKey as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// What the device checks, in the firmware's order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rejected {
    /// The first decrypted byte is not the ESP32 image magic.
    Magic,
    /// Bad PKCS#7 padding in the last chunk.
    Padding,
    /// The SHA-256 of the written image differs from the manifest.
    Hash,
    /// The signature does not verify over the digest.
    Signature,
}

/// An EcoWatt device as far as updates go: its id, running version and the
/// keys its build embeds.
struct Device {
    id: String,
    version: String,
    public_key: PublicKey,
    aes_key: [u8; 32],
    http: reqwest::Client,
    url: String,
}

/// What one update attempt did.
#[derive(Debug)]
struct Attempt {
    /// `None`: no update offered.
    result: Option<Result<Vec<u8>, Rejected>>,
    chunks: u32,
}

impl Device {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn progress(&self, phase: &str, progress: u8) {
        let body = json!({"phase": phase, "progress": progress, "message": phase, "timestamp": 1_764_000_000});
        let (status, reply) = self.post(&format!("/ota/{}/progress", self.id), body).await;
        assert_eq!(status, StatusCode::OK, "{phase}: {reply}");
    }

    /// One firmware-update cycle as §7.1 describes it.
    async fn update(&mut self) -> Attempt {
        let (status, check) = self
            .get(&format!("/ota/check/{}?version={}", self.id, self.version))
            .await;
        assert_eq!(status, StatusCode::OK, "{check}");
        assert_eq!(check["device_id"], self.id.as_str());
        if check["update_available"] != true {
            return Attempt {
                result: None,
                chunks: 0,
            };
        }
        let info = &check["update_info"];
        let version = info["latest_version"].as_str().unwrap().to_owned();
        let (status, started) = self
            .post(
                &format!("/ota/initiate/{}", self.id),
                json!({"firmware_version": version}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{started}");
        let session = started["session_id"].as_str().unwrap();
        assert!(
            session.starts_with(&format!("{}_{version}_", self.id)),
            "{session}"
        );

        let total = u32::try_from(info["total_chunks"].as_u64().unwrap()).unwrap();
        let original = usize::try_from(info["original_size"].as_u64().unwrap()).unwrap();
        let iv: [u8; 16] = STANDARD
            .decode(info["iv"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let mut cbc = cbc::Decryptor::<Aes256>::new((&self.aes_key).into(), (&iv).into());
        let mut written = Vec::with_capacity(original + 16);
        self.progress("downloading", 0).await;
        for n in 0..total {
            let (status, chunk) = self
                .get(&format!(
                    "/ota/chunk/{}?version={version}&chunk={n}",
                    self.id
                ))
                .await;
            assert_eq!(status, StatusCode::OK, "chunk {n}: {chunk}");
            assert_eq!(chunk["chunk_index"], n);
            let mut data = STANDARD
                .decode(chunk["chunk_data"].as_str().unwrap())
                .unwrap();
            assert_eq!(data.len(), chunk["chunk_size"].as_u64().unwrap() as usize);
            assert_eq!(data.len() % 16, 0, "chunk {n} is whole AES blocks");
            for block in data.chunks_exact_mut(16) {
                let block: &mut [u8; 16] = block.try_into().unwrap();
                cbc.decrypt_block(block.into());
            }
            if n == 0 && data.first() != Some(&0xE9) {
                self.progress("verification_failed", 0).await;
                return Attempt {
                    result: Some(Err(Rejected::Magic)),
                    chunks: n + 1,
                };
            }
            written.extend_from_slice(&data);
        }
        self.progress("download_complete", 100).await;
        // PKCS#7 padding comes off the last chunk only.
        let pad = usize::from(*written.last().unwrap());
        if !(1..=16).contains(&pad) || written.len() < pad || written.len() - pad != original {
            self.progress("verification_failed", 100).await;
            return Attempt {
                result: Some(Err(Rejected::Padding)),
                chunks: total,
            };
        }
        written.truncate(original);
        self.progress("verifying", 100).await;
        let digest = Sha256::digest(&written);
        if hex::encode(digest) != info["sha256_hash"].as_str().unwrap() {
            self.progress("verification_failed", 100).await;
            return Attempt {
                result: Some(Err(Rejected::Hash)),
                chunks: total,
            };
        }
        let signature = STANDARD
            .decode(info["signature"].as_str().unwrap())
            .unwrap();
        assert_eq!(signature.len(), 256, "RSA-2048");
        if self
            .public_key
            .pkcs1v15_verify_prehash::<Sha256>(&digest, &signature)
            .is_err()
        {
            self.progress("verification_failed", 100).await;
            return Attempt {
                result: Some(Err(Rejected::Signature)),
                chunks: total,
            };
        }
        self.progress("verification_success", 100).await;
        self.progress("installing", 100).await;
        // Reboot into the new image, self-test (the server answers), report.
        let (status, _) = self.get("/ota/status").await;
        assert_eq!(status, StatusCode::OK);
        self.version = version;
        let (status, done) = self
            .post(
                &format!("/ota/{}/complete", self.id),
                json!({"version": self.version, "status": "success", "timestamp": 1_764_000_100}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["status"], "success");
        Attempt {
            result: Some(Ok(written)),
            chunks: total,
        }
    }
}

/// A plausible ESP32 image: the magic byte, then deterministic noise.
fn image(len: usize) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut out: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    out[0] = 0xE9;
    out
}

/// `solarwire firmware …` on the server's data directory.
fn cli(server: &Server, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_solarwire"))
        .arg("--data-dir")
        .arg(server.dir.path())
        .arg("firmware")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A device whose build embeds what `solarwire firmware device-keys` prints.
async fn device(server: &Server, id: &str) -> Device {
    server.add_device(id);
    let keys: Value = serde_json::from_str(&cli(server, &["device-keys"])).unwrap();
    Device {
        id: id.to_owned(),
        version: "1.0.0".into(),
        public_key: PublicKey::from_public_key_pem(keys["public_key_pem"].as_str().unwrap())
            .unwrap(),
        aes_key: hex::decode(keys["aes_key_hex"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
        http: server.anon.clone(),
        url: server.url.clone(),
    }
}

async fn publish(server: &Server, version: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = server
        .client
        .post(format!(
            "{}/api/v1/firmware?version={version}&notes=test",
            server.url
        ))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn fault(server: &Server, fault: Option<&str>) {
    let (status, body) = match fault {
        Some(f) => {
            server
                .post("/ota/test/enable", json!({ "fault": f }).to_string())
                .await
        }
        None => server.post("/ota/test/disable", "").await,
    };
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_device_updates_and_rejects_every_injected_fault() {
    let server = Server::start(&[]).await;
    assert!(cli(&server, &["keygen"]).contains("created"));
    assert!(cli(&server, &["keygen"]).contains("already exist"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in ["firmware-signing.pem", "firmware-aes.key"] {
            let mode = std::fs::metadata(server.dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
    let plain = image(100_000);
    let (status, manifest) = publish(&server, "1.1.0", plain.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{manifest}");
    assert_eq!(manifest["total_chunks"], 49);
    // 100000 is a whole number of blocks: PKCS#7 adds a full block.
    assert_eq!(manifest["encrypted_size"], 100_016);

    let mut good = device(&server, "ESP32_GOOD").await;
    let mut bad = [
        (
            device(&server, "ESP32_CHUNK").await,
            "corrupt_chunk",
            Rejected::Hash,
        ),
        (
            device(&server, "ESP32_HASH").await,
            "bad_hash",
            Rejected::Hash,
        ),
        (
            device(&server, "ESP32_SIG").await,
            "bad_signature",
            Rejected::Signature,
        ),
    ];
    // Not offered before a rollout.
    assert!(good.update().await.result.is_none());
    let devices: Vec<&str> = std::iter::once("ESP32_GOOD")
        .chain(bad.iter().map(|(d, ..)| d.id.as_str()))
        .collect();
    let (status, rollout) = server
        .post(
            "/api/v1/firmware/1.1.0/rollout",
            json!({"devices": devices, "max_failures": 3}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rollout}");

    let started = Instant::now();
    let attempt = good.update().await;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(attempt.result, Some(Ok(plain)));
    assert_eq!(attempt.chunks, 49);
    assert_eq!(good.version, "1.1.0");
    eprintln!("update of 100000 bytes in 49 chunks: {seconds:.2} s on loopback");
    // Running the new version, nothing more is offered.
    assert!(good.update().await.result.is_none());

    for (device, injected, expected) in &mut bad {
        fault(&server, Some(injected)).await;
        let attempt = device.update().await;
        assert_eq!(attempt.result, Some(Err(expected.clone())), "{injected}");
        assert_eq!(device.version, "1.0.0", "{injected}: still the old image");
    }
    fault(&server, None).await;

    // Three verification failures paused the rollout by itself.
    let (_, status) = server.get("/api/v1/firmware/1.1.0").await;
    assert_eq!(status["rollout"]["state"], "paused", "{status}");
    assert_eq!(status["rollout"]["failures"], 3);
    let (_, history) = server.get("/api/v1/devices/ESP32_GOOD/firmware").await;
    let kinds: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "check",
        "initiate",
        "downloading",
        "verification_success",
        "complete_success",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let status = cli(&server, &["status"]);
    assert!(
        status.contains("1.1.0") && status.contains("paused by itself"),
        "{status}"
    );
    let history = cli(&server, &["status", "--device", "ESP32_SIG"]);
    assert!(history.contains("verification_failed"), "{history}");
    let (_, fleet) = server.get("/api/v1/rollouts").await;
    let stats = &fleet["versions"][0];
    assert_eq!(
        (stats["succeeded"].as_u64(), stats["failed"].as_u64()),
        (Some(1), Some(3))
    );
}

#[tokio::test]
async fn bad_images_and_requests_are_refused_and_change_nothing() {
    let server = Server::start(&["--firmware-max-bytes", "4096"]).await;
    // No keys yet.
    let (status, body) = publish(&server, "1.0.1", image(100)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "no_firmware_keys");
    cli(&server, &["keygen"]);
    let mut not_an_image = image(100);
    not_an_image[0] = 0x7F;
    for (version, body, code) in [
        ("1.0.1", Vec::new(), "empty_image"),
        ("1.0.1", not_an_image, "not_esp32_image"),
        ("bad version", image(100), "bad_version"),
        ("1.0.1", image(5000), "too_large"),
    ] {
        let (_, reply) = publish(&server, &version.replace(' ', "%20"), body).await;
        assert_eq!(reply["error"], code, "{reply}");
    }
    assert_eq!(server.count("firmware_images"), 0);
    let file = server.dir.path().join("image.bin");
    std::fs::write(&file, image(3000)).unwrap();
    let said = cli(
        &server,
        &["publish", file.to_str().unwrap(), "--version", "1.0.1"],
    );
    assert!(
        said.contains("published 1.0.1: 3000 bytes, 3008 encrypted in 2 chunks"),
        "{said}"
    );
    let (status, body) = publish(&server, "1.0.1", image(3000)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("version_exists"))
    );

    let d = device(&server, "ESP32_X").await;
    // Unknown and retired devices, unknown versions, no session, bad phases.
    let (status, body) = d.get("/ota/check/ESP32_NOPE?version=1.0.0").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_device"))
    );
    let (status, body) = d
        .post(
            "/ota/initiate/ESP32_X",
            json!({"firmware_version": "9.9.9"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_version"))
    );
    let (status, body) = d
        .post(
            "/ota/initiate/ESP32_X",
            json!({"firmware_version": "1.0.1"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("not_offered"))
    );
    let (status, body) = d.get("/ota/chunk/ESP32_X?version=1.0.1&chunk=0").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("no_session"))
    );
    let (status, body) = d
        .post(
            "/ota/ESP32_X/progress",
            json!({"phase": "dancing", "progress": 5}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_phase"))
    );
    let (status, body) = server
        .post(
            "/api/v1/firmware/1.0.1/rollout",
            json!({"percent": 50, "devices": ["ESP32_X"]}).to_string(),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_rollout"))
    );
    let (status, body) = server
        .post("/api/v1/firmware/1.0.1/rollout/explode", "")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_action"))
    );
    assert_eq!(server.count("rollouts"), 0);
    assert_eq!(server.count("ota_sessions"), 0);
    // Operator routes need an admin.
    let (status, _) = d
        .post("/api/v1/firmware/1.0.1/rollout", json!({"percent": 100}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = d
        .post("/ota/test/enable", json!({"fault": "bad_hash"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A percentage rollout: stable per device id, paused, resumed, cancelled.
    let (status, _) = server
        .post(
            "/api/v1/firmware/1.0.1/rollout",
            json!({"percent": 100}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, check) = d.get("/ota/check/ESP32_X?version=1.0.0").await;
    assert_eq!(check["update_available"], true, "{check}");
    // No downgrade (F23): a device running a newer version is offered nothing.
    let (_, check) = d.get("/ota/check/ESP32_X?version=1.2.0").await;
    assert_eq!(check["update_available"], false, "{check}");
    for (action, state) in [
        ("pause", "paused"),
        ("resume", "active"),
        ("cancel", "cancelled"),
    ] {
        let (status, body) = server
            .post(&format!("/api/v1/firmware/1.0.1/rollout/{action}"), "")
            .await;
        assert_eq!(
            (status, body["state"].as_str()),
            (StatusCode::OK, Some(state)),
            "{body}"
        );
    }
    let (_, check) = d.get("/ota/check/ESP32_X?version=1.0.0").await;
    assert_eq!(check["update_available"], false, "{check}");

    // A retired device is gone (410).
    let r = server
        .client
        .delete(format!(
            "{}/api/v1/devices/ESP32_X?keep_data=true",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, body) = d.get("/ota/check/ESP32_X?version=1.0.0").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::GONE, Some("device_retired"))
    );
}
