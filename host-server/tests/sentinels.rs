//! Finding: sentinel values (`0xFFFF`, the inverter's "not available") were
//! stored as 65535 W or 6553.5 °C and fed energy, alerts and charts. They
//! are now stored as missing: the sample keeps its other registers, and
//! they never reach energy or alerts.

mod common;

use common::Server;
use reqwest::StatusCode;
use solarwire_server::simulate::firmware::FirmwareDevice;

/// Uploads `rows` (the last dated 2025-11-23T08:00:00Z, 5 s apart); stored.
async fn upload_rows(server: &Server, device: &mut FirmwareDevice, rows: &[Vec<u16>]) {
    let t = 1_763_884_800_000;
    let packet = device.compress(rows, t);
    let json = device.upload_json(&[packet], t / 1000, 5);
    let sealed = device.seal(&json).unwrap();
    let (status, reply) = server.post("/aggregated/ESP32_001", sealed.body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[tokio::test]
async fn sentinels_are_stored_as_missing_values() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("ESP32_001");
    // Layout: Vac1, Iac1, Ipv1, Ipv2, Temp, Pac; Temp and Pac not available.
    let rows = vec![
        vec![2300, 52, 71, 69, 452, 1205],
        vec![2301, 52, 71, 69, 0xFFFF, 0xFFFF],
    ];
    upload_rows(&server, &mut device, &rows).await;
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

#[tokio::test]
async fn sentinels_never_enter_energy_or_alerts() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("ESP32_001");
    let r = server
        .client
        .post(format!("{}/api/v1/alerts/rules", server.url))
        .json(&serde_json::json!({ "name": "hot", "kind": "max", "register": "Temp", "threshold": 45.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // The not-available sample comes first: stored, it would open the alert
    // at 6553.5 °C and add ~46 Wh of 65535 W.
    let rows = vec![
        vec![2301, 52, 71, 69, 0xFFFF, 0xFFFF],
        vec![2300, 52, 71, 69, 452, 1205],
        vec![2300, 52, 71, 69, 453, 1207],
    ];
    upload_rows(&server, &mut device, &rows).await;

    let mut open = serde_json::Value::Null;
    for _ in 0..200 {
        open = server.get("/api/v1/alerts?open=true").await.1;
        if open["count"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let value = open["alerts"][0]["value"].as_f64().unwrap();
    assert!((45.0..46.0).contains(&value), "{open}");

    let (status, day) = server
        .get("/api/v1/devices/ESP32_001/energy?period=day&at=2025-11-23&tz=UTC")
        .await;
    assert_eq!(status, StatusCode::OK, "{day}");
    // 1205–1207 W over 5 s: about 1.7 Wh.
    let wh = day["total_wh"].as_f64().unwrap();
    assert!(wh > 1.0 && wh < 2.0, "{day}");
    server.stop().await;
}
