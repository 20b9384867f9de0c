//! Finding: device HMAC/AES keys were stored in clear in the SQLite file,
//! and the database and WAL were created world-readable (0644). Keys are
//! now sealed under a master key (DATA_DIR/master-key, 0600, or
//! SOLARWIRE_MASTER_KEY), clear keys are sealed at the next start, the
//! master key can be rotated (all keys or none, settled after a crash), and
//! every file the server creates in the data directory is 0600.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use common::{LAYOUT, Server, next_upload, on_store};
use reqwest::StatusCode;
use solarwire_core::envelope::Keys;
use solarwire_server::key_vault::{self, MasterKey};
use solarwire_server::simulate::firmware::FirmwareDevice;

fn run_cli(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_solarwire"))
        .env_remove("SOLARWIRE_MASTER_KEY")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn cli(dir: &Path, args: &[&str]) -> String {
    let out = run_cli(dir, args);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Adds a device with the CLI (keys sealed at once); its firmware.
fn add_sealed(dir: &Path, id: &str) -> FirmwareDevice {
    let out = cli(dir, &["device", "add", id]);
    let hmac = out
        .lines()
        .find_map(|l| l.split("store it in the device): ").nth(1))
        .unwrap()
        .trim()
        .to_owned();
    FirmwareDevice::new(id, Keys::new(&hex::decode(hmac).unwrap()), LAYOUT.to_vec())
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
    for file in [
        "master-key",
        "solarwire.sqlite",
        "solarwire.sqlite-wal",
        "solarwire.sqlite-shm",
        "solarwire.sqlite-rollups.lock",
    ] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    // And whatever else it created there.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    server.stop().await;
}

#[tokio::test]
async fn a_failed_master_key_rotation_changes_nothing() {
    let server = Server::start(&[]).await;
    let dir = server.dir.path().to_owned();
    let mut first = add_sealed(&dir, "ESP32_001");
    add_sealed(&dir, "ESP32_002");
    // A key set the current master key cannot open, met last (ids in order).
    let foreign = MasterKey::from_secret(&[5; 32])
        .seal(
            "ZZ_FOREIGN",
            &solarwire_server::keys::generate(false).unwrap(),
        )
        .unwrap();
    server.add_device_keys("ZZ_FOREIGN", foreign);
    let master = std::fs::read_to_string(dir.join("master-key")).unwrap();
    let sealed = [
        stored_key(&server, "ESP32_001"),
        stored_key(&server, "ESP32_002"),
    ];

    let out = run_cli(&dir, &["device", "rotate-master-key"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("nothing changed"),
        "{out:?}"
    );
    // Every key still opens under the one master key, which is unchanged.
    assert_eq!(
        std::fs::read_to_string(dir.join("master-key")).unwrap(),
        master
    );
    assert!(!dir.join(key_vault::NEXT_KEY_FILE).exists());
    assert_eq!(
        [
            stored_key(&server, "ESP32_001"),
            stored_key(&server, "ESP32_002")
        ],
        sealed
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, body) = next_upload(&mut first, 0);
    assert_eq!(
        server.post("/aggregated/ESP32_001", body).await.0,
        StatusCode::OK
    );

    // Without the foreign key set it succeeds, and the running server (its
    // key cache dropped when the rotation moved the device epoch) reads the
    // new master key when the re-sealed keys no longer open with the old.
    cli(&dir, &["device", "remove", "ZZ_FOREIGN"]);
    cli(&dir, &["device", "rotate-master-key"]);
    assert_ne!(
        std::fs::read_to_string(dir.join("master-key")).unwrap(),
        master
    );
    assert_ne!(stored_key(&server, "ESP32_001"), sealed[0]);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, body) = next_upload(&mut first, 1);
    assert_eq!(
        server.post("/aggregated/ESP32_001", body).await.0,
        StatusCode::OK
    );
    server.stop().await;
}

/// The two states a crash during `rotate-master-key` can leave (the
/// re-sealing is one transaction): the new key in `master-key.next` with
/// the transaction committed, or not. The next start settles both.
#[tokio::test]
async fn a_rotation_interrupted_by_a_crash_is_settled_at_the_next_start() {
    let server = Server::start(&[]).await;
    let mut device = add_sealed(server.dir.path(), "ESP32_001");
    let dir = server.stop().await;
    let path = dir.path().to_owned();
    let next = path.join(key_vault::NEXT_KEY_FILE);

    // Committed, then the crash: the keys are sealed under the next key.
    let old = key_vault::read_key_file(&path.join("master-key")).unwrap();
    key_vault::write_key_file(&next, &[7; 32]).unwrap();
    let count = on_store(&path, move |store| async move {
        key_vault::reseal_all(store.as_ref(), &old, &MasterKey::from_secret(&[7; 32])).await
    });
    assert_eq!(count, Ok(1));
    let server = Server::start_in(dir, &[]).await;
    assert!(!next.exists());
    assert_eq!(
        std::fs::read_to_string(path.join("master-key")).unwrap(),
        hex::encode([7; 32])
    );
    let (_, body) = next_upload(&mut device, 0);
    assert_eq!(
        server.post("/aggregated/ESP32_001", body).await.0,
        StatusCode::OK
    );
    let dir = server.stop().await;

    // The crash came before the commit: the next key is discarded.
    key_vault::write_key_file(&next, &[8; 32]).unwrap();
    let server = Server::start_in(dir, &[]).await;
    assert!(!next.exists());
    assert_eq!(
        std::fs::read_to_string(path.join("master-key")).unwrap(),
        hex::encode([7; 32])
    );
    let (_, body) = next_upload(&mut device, 1);
    assert_eq!(
        server.post("/aggregated/ESP32_001", body).await.0,
        StatusCode::OK
    );
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
