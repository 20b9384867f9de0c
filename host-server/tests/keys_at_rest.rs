//! Finding: device HMAC/AES keys were stored in clear in the SQLite file,
//! and the database and WAL were created world-readable (0644). Keys are
//! now sealed under a master key (DATA_DIR/master-key, 0600, or
//! SOLARWIRE_MASTER_KEY), clear keys are sealed at the next start, the
//! master key can be rotated, and the database files are 0600.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use common::{LAYOUT, Server, next_upload};
use reqwest::StatusCode;
use solarwire_core::envelope::Keys;
use solarwire_server::simulate::firmware::FirmwareDevice;

fn cli(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_solarwire"))
        .env_remove("SOLARWIRE_MASTER_KEY")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn stored_key(server: &Server, id: &str) -> Vec<u8> {
    server
        .sqlite()
        .query_row(
            "SELECT hmac_key FROM devices WHERE device_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn device_keys_are_sealed_and_files_private() {
    let server = Server::start(&[]).await;
    let out = cli(server.dir.path(), &["device", "add", "ESP32_001", "--aes"]);
    let hmac_hex = out
        .lines()
        .find_map(|l| l.split("store it in the device): ").nth(1))
        .unwrap()
        .trim()
        .to_owned();
    let hmac = hex::decode(&hmac_hex).unwrap();
    let stored = stored_key(&server, "ESP32_001");
    assert!(
        !stored.windows(hmac.len()).any(|w| w == hmac),
        "HMAC key in clear"
    );
    let aes: Option<Vec<u8>> = server
        .sqlite()
        .query_row(
            "SELECT aes_key FROM devices WHERE device_id = 'ESP32_001'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(aes.is_none(), "the AES key is sealed with the HMAC key");
    // The sealed key still verifies uploads.
    let mut device = FirmwareDevice::new("ESP32_001", Keys::new(&hmac), LAYOUT.to_vec());
    let (_, body) = next_upload(&mut device, 0);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        server.post("/aggregated/ESP32_001", body).await.0,
        StatusCode::OK
    );
    let dir = server.dir.path().to_owned();
    assert_eq!(mode(&dir.join("master-key")), 0o600);
    for file in [
        "solarwire.sqlite",
        "solarwire.sqlite-wal",
        "solarwire.sqlite-shm",
    ] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    server.stop().await;
}

#[tokio::test]
async fn clear_keys_are_sealed_at_start_and_the_master_key_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let keys = solarwire_server::keys::generate(false).unwrap();
    let hmac = keys.hmac.clone().unwrap();
    common::add_device_keys(dir.path(), "ESP32_001", keys);
    let server = Server::start_in(dir, &[]).await;
    let sealed = stored_key(&server, "ESP32_001");
    assert!(
        !sealed.windows(hmac.len()).any(|w| w == hmac),
        "sealed at start"
    );
    let mut device = FirmwareDevice::new("ESP32_001", Keys::new(&hmac), LAYOUT.to_vec());
    let (_, body) = next_upload(&mut device, 0);
    assert_eq!(
        server.post("/aggregated/ESP32_001", body).await.0,
        StatusCode::OK
    );
    let dir = server.stop().await;

    let before = std::fs::read_to_string(dir.path().join("master-key")).unwrap();
    cli(dir.path(), &["device", "rotate-master-key"]);
    let after = std::fs::read_to_string(dir.path().join("master-key")).unwrap();
    assert_ne!(before, after);
    assert_eq!(mode(&dir.path().join("master-key")), 0o600);
    let server = Server::start_in(dir, &[]).await;
    assert_ne!(stored_key(&server, "ESP32_001"), sealed, "re-sealed");
    let (_, body) = next_upload(&mut device, 1);
    assert_eq!(
        server.post("/aggregated/ESP32_001", body).await.0,
        StatusCode::OK
    );
    let dir = server.stop().await;

    // Another master key opens nothing: the server refuses the upload, not stores it.
    std::fs::write(dir.path().join("master-key"), hex::encode([5u8; 32])).unwrap();
    let server = Server::start_in(dir, &[]).await;
    let (_, body) = next_upload(&mut device, 2);
    let (status, _) = server.post("/aggregated/ESP32_001", body).await;
    assert!(status.is_server_error(), "{status}");
    assert_eq!(server.count("uploads"), 2);
    server.stop().await;
}
