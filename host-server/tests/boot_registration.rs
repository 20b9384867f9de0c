//! Finding: `POST /devices` (the firmware's boot registration) needed no
//! credential and overwrote a known device's name, location and firmware
//! version with whatever was sent, markup included; unknown ids answered
//! 404, so anyone could probe which devices exist. Now only the firmware
//! version changes (length-limited, printable ASCII), known and unknown ids
//! get the same answer, and each address is rate-limited.

mod common;

use common::Server;
use reqwest::StatusCode;
use serde_json::Value;

/// What a registration may not change.
fn record(
    server: &Server,
    id: &str,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    server
        .sqlite()
        .query_row(
            "SELECT name, location, description, firmware_version FROM devices WHERE device_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
}

#[tokio::test]
async fn only_the_firmware_version_of_a_known_device_changes() {
    let server = Server::start(&[]).await;
    server.add_device("ESP32_001");
    server
        .sqlite()
        .execute(
            "UPDATE devices SET name = 'Roof', location = 'Barn' WHERE device_id = 'ESP32_001'",
            [],
        )
        .unwrap();
    let hostile = r#"{"device_id":"ESP32_001","device_name":"<script>alert(1)</script>","firmware_version":"1.3.5","location":"<img src=x onerror=alert(1)>","description":"pwned"}"#;
    let (status, reply) = server.anon_post("/devices", hostile).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        record(&server, "ESP32_001"),
        (
            Some("Roof".into()),
            Some("Barn".into()),
            None,
            Some("1.3.5".into())
        )
    );
    // Markup or control characters in the version, or a long one: refused, nothing changed.
    for bad in ["<b>1.3</b>\u{7}", "1.3\n4", &"9".repeat(65)] {
        let body =
            serde_json::json!({"device_id": "ESP32_001", "firmware_version": bad}).to_string();
        let (status, _) = server.anon_post("/devices", &body).await;
        assert!(status.is_client_error(), "{bad:?}: {status}");
        assert_eq!(record(&server, "ESP32_001").3.as_deref(), Some("1.3.5"));
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_ids_answer_like_known_ones() {
    let server = Server::start(&[]).await;
    server.add_device("ESP32_001");
    let answer = |id: &str| format!(r#"{{"device_id":"{id}","firmware_version":"1.3.4"}}"#);
    let known_first = server.anon_post("/devices", &answer("ESP32_001")).await;
    let known_again = server.anon_post("/devices", &answer("ESP32_001")).await;
    let unknown = server.anon_post("/devices", &answer("ESP32_404")).await;
    let strip = |(status, mut body): (StatusCode, Value)| {
        body["device_id"] = Value::Null;
        (status, body)
    };
    assert_eq!(strip(known_first.clone()), strip(unknown.clone()));
    assert_eq!(strip(known_again), strip(unknown));
    assert_eq!(known_first.0, StatusCode::OK);
    assert_eq!(server.count("devices"), 1, "nothing created");
    server.stop().await;
}

#[tokio::test]
async fn registrations_are_rate_limited_per_address() {
    let server = Server::start(&["--registration-rate", "0.01"]).await;
    let body = r#"{"device_id":"ESP32_001","firmware_version":"1.3.4"}"#;
    let mut limited = 0;
    for _ in 0..40 {
        let (status, reply) = server.anon_post("/devices", body).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(reply["error"], "rate_limited");
            limited += 1;
        }
    }
    assert_eq!(limited, 10, "a burst of 30, then refused");
    server.stop().await;
}
