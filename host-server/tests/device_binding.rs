//! Finding: in fleet-key mode one device's authentic upload was accepted
//! under another device's path id. The MAC-covered `device_id` must now
//! equal the path id, checked after the MAC and before replay: a mismatch
//! is 401 and moves no nonce, writes no row and creates no device.

mod common;

use common::{LAYOUT, Server, next_upload};
use reqwest::StatusCode;
use solarwire_core::envelope::Keys;
use solarwire_server::simulate::firmware::FirmwareDevice;

const PSK: &str = "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe";

fn fleet_device(id: &str) -> FirmwareDevice {
    FirmwareDevice::new(id, Keys::new(&hex::decode(PSK).unwrap()), LAYOUT.to_vec())
}

fn footprint(server: &Server) -> (i64, i64, i64, Option<u32>) {
    (
        server.count("devices"),
        server.count("uploads"),
        server.count("samples"),
        server.last_nonce("DEV_B"),
    )
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
                .db()
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
