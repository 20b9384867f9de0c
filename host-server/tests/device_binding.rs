//! Finding: in fleet-key mode one device's authentic upload was accepted
//! under another device's path id. The MAC-covered `device_id` must now
//! equal the path id, checked after the MAC and before replay: a mismatch
//! is 401 and moves no nonce, writes no row and creates no device. A
//! device the fleet key admitted says so, and an operator can give it its
//! own key (CLI or admin API), after which the fleet key no longer works.

mod common;

use common::{LAYOUT, Server, next_upload};
use reqwest::StatusCode;
use solarwire_core::envelope::Keys;
use solarwire_server::keys::FleetKey;
use solarwire_server::simulate::firmware::FirmwareDevice;

const PSK: &str = "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe";

/// What the devices the fleet key admits record.
fn fleet_key_id() -> String {
    FleetKey::new(&hex::decode(PSK).unwrap(), None).id
}

/// `(key, admitted_by)` of a device as the admin API shows it.
async fn provenance(server: &Server, id: &str) -> (String, Option<String>) {
    let (_, detail) = server.get(&format!("/api/v1/devices/{id}")).await;
    let text = |field: &str| detail[field].as_str().map(str::to_owned);
    (text("key").unwrap_or_default(), text("admitted_by"))
}

fn fleet_device(id: &str) -> FirmwareDevice {
    FirmwareDevice::new(id, Keys::new(&hex::decode(PSK).unwrap()), LAYOUT.to_vec())
}

/// Rows stored and `device`'s nonce.
fn footprint_of(server: &Server, device: &str) -> (i64, i64, i64, Option<u32>) {
    (
        server.count("devices"),
        server.count("uploads"),
        server.count("samples"),
        server.last_nonce(device),
    )
}

fn footprint(server: &Server) -> (i64, i64, i64, Option<u32>) {
    footprint_of(server, "DEV_B")
}

#[tokio::test]
async fn a_fleet_key_upload_cannot_be_posted_under_another_device() {
    let server = Server::start(&["--compat-psk", PSK]).await;
    let mut a = fleet_device("DEV_A");
    let mut b = fleet_device("DEV_B");
    let (_, first_b) = next_upload(&mut b, 0);
    assert_eq!(
        server.post("/aggregated/DEV_B", first_b).await.0,
        StatusCode::OK
    );
    let before = footprint(&server);

    // A's captured upload, with a nonce far above B's, posted as B's.
    for _ in 0..5 {
        next_upload(&mut a, 0);
    }
    let (_, captured) = next_upload(&mut a, 7);
    let (status, reply) = server.post("/aggregated/DEV_B", captured.clone()).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    assert_eq!(footprint(&server), before, "B's nonce and rows untouched");

    // Posted under a new id it creates nothing either.
    let (status, _) = server.post("/aggregated/DEV_C", captured.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(footprint(&server), before, "no device created");

    // B's own next upload is still accepted; A's own upload under its own id too.
    let (_, next_b) = next_upload(&mut b, 1);
    assert_eq!(
        server.post("/aggregated/DEV_B", next_b).await.0,
        StatusCode::OK
    );
    assert_eq!(
        server.post("/aggregated/DEV_A", captured).await.0,
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn a_per_device_key_upload_must_name_its_path_device() {
    let server = Server::start(&[]).await;
    let mut a = server.add_device("DEV_A");
    let keys = solarwire_server::keys::generate(false).unwrap();
    // DEV_B holds DEV_A's key (a shared-key provisioning mistake): still refused.
    let shared = solarwire_server::store::DeviceKeys {
        hmac: Some(
            server
                .sqlite()
                .query_row(
                    "SELECT hmac_key FROM devices WHERE device_id = 'DEV_A'",
                    [],
                    |r| r.get(0),
                )
                .unwrap(),
        ),
        aes: keys.aes,
    };
    server.add_device_keys("DEV_B", shared);
    let before = footprint(&server);
    let (_, body) = next_upload(&mut a, 0);
    assert_eq!(
        server.post("/aggregated/DEV_B", body).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(footprint(&server), before);
    server.stop().await;
}

#[tokio::test]
async fn an_operator_gives_a_fleet_key_device_its_own_key() {
    let server = Server::start(&["--compat-psk", PSK]).await;
    let mut fleet = fleet_device("DEV_B");
    let (_, first) = next_upload(&mut fleet, 0);
    assert_eq!(
        server.post("/aggregated/DEV_B", first).await.0,
        StatusCode::OK
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_solarwire"))
        .env_remove("SOLARWIRE_MASTER_KEY")
        .arg("--data-dir")
        .arg(server.dir.path())
        .args(["device", "rotate-key", "DEV_B"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let own = text
        .lines()
        .find_map(|l| l.split("store it in the device): ").nth(1))
        .unwrap()
        .trim()
        .to_owned();
    let (_, list) = server.get("/api/v1/devices").await;
    assert_eq!(list["devices"][0]["key"], "own", "{list}");
    assert_eq!(list["devices"][0]["admitted_by"], fleet_key_id().as_str());
    // The fleet key no longer verifies it (within the cache's poll), its own key does.
    let mut refused = false;
    for cycle in 1..40 {
        let (_, body) = next_upload(&mut fleet, cycle);
        if server.post("/aggregated/DEV_B", body).await.0 == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused, "the fleet key still verifies DEV_B");
    let mut device = FirmwareDevice::new(
        "DEV_B",
        Keys::new(&hex::decode(own).unwrap()),
        LAYOUT.to_vec(),
    );
    for _ in 0..50 {
        next_upload(&mut device, 0);
    }
    let (_, body) = next_upload(&mut device, 50);
    let (status, reply) = server.post("/aggregated/DEV_B", body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn fleet_admission_is_recorded_and_the_admin_api_gives_an_own_key() {
    let server = Server::start(&["--compat-psk", PSK]).await;
    let mut fleet = fleet_device("DEV_C");
    let (_, first) = next_upload(&mut fleet, 0);
    assert_eq!(
        server.post("/aggregated/DEV_C", first).await.0,
        StatusCode::OK
    );
    assert_eq!(
        provenance(&server, "DEV_C").await,
        ("fleet".to_owned(), Some(fleet_key_id()))
    );
    // The operator's list says so too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_solarwire"))
        .arg("--data-dir")
        .arg(server.dir.path())
        .args(["device", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8(out.stdout).unwrap();
    let line = listed.lines().find(|l| l.starts_with("DEV_C")).unwrap();
    assert!(
        line.contains(" fleet ") && line.contains(&fleet_key_id()),
        "{listed}"
    );

    let (status, keys) = server
        .post("/api/v1/devices/DEV_C/rotate-key", String::new())
        .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let own = hex::decode(keys["hmac_key"].as_str().unwrap()).unwrap();
    // The fleet key no longer verifies it: 401, nothing changed.
    let before = footprint_of(&server, "DEV_C");
    let (_, body) = next_upload(&mut fleet, 1);
    let (status, reply) = server.post("/aggregated/DEV_C", body).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    assert_eq!(footprint_of(&server, "DEV_C"), before);
    // Its own key does (above the nonce the fleet-key uploads reached).
    let mut device = FirmwareDevice::new("DEV_C", Keys::new(&own), LAYOUT.to_vec());
    for _ in 0..5 {
        next_upload(&mut device, 0);
    }
    let (_, body) = next_upload(&mut device, 2);
    assert_eq!(
        server.post("/aggregated/DEV_C", body).await.0,
        StatusCode::OK
    );
    assert_eq!(
        provenance(&server, "DEV_C").await,
        ("own".to_owned(), Some(fleet_key_id()))
    );
    server.stop().await;
}
