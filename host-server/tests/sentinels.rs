//! Finding: sentinel values (`0xFFFF`, the inverter's "not available") were
//! stored as 65535 W or 6553.5 °C and fed energy, alerts and charts. They
//! are now stored as missing: the sample keeps its other registers.

mod common;

use common::Server;
use reqwest::StatusCode;

#[tokio::test]
async fn sentinels_are_stored_as_missing_values() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("ESP32_001");
    // Layout: Vac1, Iac1, Ipv1, Ipv2, Temp, Pac; Temp and Pac not available.
    let rows = vec![
        vec![2300, 52, 71, 69, 452, 1205],
        vec![2301, 52, 71, 69, 0xFFFF, 0xFFFF],
    ];
    let t = 1_763_884_800_000;
    let packet = device.compress(&rows, t);
    let json = device.upload_json(&[packet], t / 1000, 5);
    let sealed = device.seal(&json).unwrap();
    let (status, reply) = server.post("/aggregated/ESP32_001", sealed.body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (_, history) = server.get("/api/v1/devices/ESP32_001/history").await;
    let samples = history["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2, "{history}");
    assert_eq!(samples[0]["raw"]["Pac"], 1205);
    let last = &samples[1]["raw"];
    assert_eq!(last["Vac1"], 2301);
    assert!(
        last.get("Pac").is_none() && last.get("Temp").is_none(),
        "{last}"
    );
    let (_, latest) = server.get("/api/v1/devices/ESP32_001/latest").await;
    let text = latest.to_string();
    assert!(
        !text.contains("65535") && !text.contains("6553.5"),
        "{text}"
    );
    server.stop().await;
}
