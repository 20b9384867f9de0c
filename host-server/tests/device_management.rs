//! Remote configuration (§7.2, F22), commands (§7.3, F21, expiry, unknown
//! actions), fault / energy / diagnostics reports (§7.4) and the access
//! rules of the device-facing management routes, against a real server.

mod common;

use common::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn put(
    server: &Server,
    client: &reqwest::Client,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = client
        .put(format!("{}{path}", server.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn device_get(server: &Server, path: &str) -> (StatusCode, Value) {
    let r = server
        .anon
        .get(format!("{}{path}", server.url))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn device_post(server: &Server, path: &str, body: Value) -> (StatusCode, Value) {
    let r = server
        .anon
        .post(format!("{}{path}", server.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn config_updates_keep_only_accepted_keys_and_are_acknowledged() {
    let server = Server::start(&[]).await;
    server.add_device("ESP32_A");
    let (status, poll) = device_get(&server, "/config/ESP32_A").await;
    assert_eq!(status, StatusCode::OK, "{poll}");
    assert_eq!(
        (poll["is_default"].as_bool(), poll["is_pending"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(poll["config"]["sampling_interval"], 5);
    assert!(
        poll["available_registers"]
            .as_array()
            .unwrap()
            .contains(&json!("Pac"))
    );

    // F22: the rejected keys are named with a reason and never become pending.
    let update = json!({"config_update": {
        "sampling_interval": 10,
        "upload_interval": 99_999,
        "registers": ["Pac", "Vac1"],
        "power_management": {"enabled": true, "techniques": "0x08"},
        "turbo": true,
    }});
    let (status, _) = put(&server, &server.anon, "/config/ESP32_A", update.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, ack) = put(&server, &server.client, "/config/ESP32_A", update).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    let ack = &ack["config_ack"];
    assert_eq!(
        ack["accepted"],
        json!(["power_management", "registers", "sampling_interval"])
    );
    assert_eq!(ack["rejected"], json!(["turbo", "upload_interval"]));
    assert!(
        ack["errors"]["upload_interval"]
            .as_str()
            .unwrap()
            .contains("1–3600")
    );
    let (_, poll) = device_get(&server, "/config/ESP32_A").await;
    assert_eq!(poll["is_pending"], true);
    assert_eq!(
        poll["pending_config"]["config_update"],
        json!({"sampling_interval": 10, "registers": ["Vac1", "Pac"], "power_management": {"enabled": true, "techniques": 8}})
    );

    // Nothing valid: 400 and nothing changes.
    let (status, body) = put(
        &server,
        &server.client,
        "/config/ESP32_A",
        json!({"config_update": {"sampling_interval": 0}}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_config"))
    );
    let (status, body) = put(
        &server,
        &server.client,
        "/config/ESP32_NOPE",
        json!({"config_update": {"sampling_interval": 9}}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_device"))
    );
    let (_, again) = device_get(&server, "/config/ESP32_A").await;
    assert_eq!(again["pending_config"], poll["pending_config"]);

    // The legacy poll sees the same pending changes as flags.
    let (status, flags) = device_post(
        &server,
        "/device_settings",
        json!({"device_id": "ESP32_A", "timestamp": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{flags}");
    assert_eq!(flags["Changed"], true);
    assert_eq!(flags["newPollTimer"], 10);
    assert_eq!(
        (flags["regs"].as_u64(), flags["regsCount"].as_u64()),
        (Some(0b10_0000_0001), Some(2))
    );
    // Delivered: the legacy flags clear, and so does the pending state.
    let (_, flags) = device_post(&server, "/changes", json!({"device_id": "ESP32_A"})).await;
    assert_eq!(flags["Changed"], false);

    // The current firmware: update, apply, acknowledge.
    put(
        &server,
        &server.client,
        "/config/ESP32_A",
        json!({"config_update": {"upload_interval": 30}}),
    )
    .await;
    let (status, _) = device_post(&server, "/config/ESP32_A/acknowledge", json!({
        "status": "applied", "timestamp": 1, "error_msg": "Configuration updated successfully",
        "power_management": {"enabled": true, "techniques": 8, "energy_poll_freq": 300_000_000u32},
    })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, poll) = device_get(&server, "/config/ESP32_A").await;
    assert_eq!(
        (poll["is_pending"].as_bool(), poll["is_default"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(poll["config"]["upload_interval"], 30);
    assert_eq!(poll["config"]["sampling_interval"], 10);

    // A boot report whose registers match clears a pending register change.
    put(
        &server,
        &server.client,
        "/config/ESP32_A",
        json!({"config_update": {"registers": ["Vac1"]}}),
    )
    .await;
    let (status, noted) = device_post(
        &server,
        "/config/ESP32_A/current",
        json!({
            "sampling_interval": 10, "upload_interval": 30, "registers": ["Vac1"], "timestamp": 2,
            "compression_enabled": true,
        }),
    )
    .await;
    assert_eq!(
        (status, noted["is_pending"].as_bool()),
        (StatusCode::OK, Some(false)),
        "{noted}"
    );

    let (status, history) = server.get("/config/ESP32_A/history").await;
    assert_eq!(status, StatusCode::OK);
    let events: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "report",
            "update",
            "acknowledge",
            "update",
            "legacy_delivered",
            "update"
        ]
    );
    let (status, _) = device_get(&server, "/config/ESP32_A/history").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_poll_dispatches_one_command_and_the_rest_stay_queued() {
    let server = Server::start(&[]).await;
    server.add_device("ESP32_C");
    let (status, body) = server
        .post(
            "/commands/ESP32_C",
            json!({"command": {"action": "reboot_now"}}).to_string(),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_action"))
    );
    let (status, body) = server
        .post(
            "/commands/ESP32_C",
            json!({"command": {"action": "set_power_percentage", "value": 140}}).to_string(),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_command"))
    );
    let (status, _) = device_post(
        &server,
        "/commands/ESP32_C",
        json!({"command": {"action": "get_power_stats"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.count("commands"), 0);

    let mut ids = Vec::new();
    for command in [
        json!({"action": "write_register", "target_register": "export_power_percent", "value": 50}),
        json!({"action": "set_power", "value": 2500}),
        json!({"action": "get_power_stats"}),
    ] {
        let (status, queued) = server
            .post(
                "/commands/ESP32_C",
                json!({ "command": command }).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{queued}");
        ids.push(queued["command_id"].as_str().unwrap().to_owned());
    }
    for (i, id) in ids.iter().enumerate() {
        let (status, poll) = device_get(&server, "/commands/ESP32_C/poll").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(poll["count"], 1, "{poll}");
        assert_eq!(poll["commands"][0]["command_id"], id.as_str());
        if i == 0 {
            assert_eq!(poll["commands"][0]["command"]["register_address"], 8);
        }
        // The others are still queued.
        let (_, status_of_last) = server.get(&format!("/commands/status/{}", ids[2])).await;
        let expected = if i == 2 { "dispatched" } else { "queued" };
        assert_eq!(status_of_last["state"], expected);
        let result = if i == 1 { "failed" } else { "success" };
        let (status, done) = device_post(
            &server,
            "/commands/ESP32_C/result",
            json!({"command_result": {
            "command_id": id, "status": result, "executed_at": "2026-12-02T06:00:00Z"}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["status"], if i == 1 { "failed" } else { "completed" });
    }
    let (_, poll) = device_get(&server, "/commands/ESP32_C/poll").await;
    assert_eq!(poll["count"], 0);
    let (status, body) = device_post(
        &server,
        "/commands/ESP32_C/result",
        json!({"command_result": {"command_id": "nope", "status": "success"}}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_command"))
    );
    let (_, history) = server.get("/commands/ESP32_C/history").await;
    let states: Vec<&str> = history["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["completed", "failed", "completed"]);
}

#[tokio::test]
async fn expired_commands_are_never_dispatched() {
    let server = Server::start(&["--command-ttl", "0s"]).await;
    server.add_device("ESP32_E");
    let (_, queued) = server
        .post(
            "/commands/ESP32_E",
            json!({"command": {"action": "get_power_stats"}}).to_string(),
        )
        .await;
    let (_, poll) = device_get(&server, "/commands/ESP32_E/poll").await;
    assert_eq!(poll["count"], 0, "{poll}");
    let (_, command) = server
        .get(&format!(
            "/commands/status/{}",
            queued["command_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(command["state"], "expired");
}

#[tokio::test]
async fn reports_are_checked_stored_and_bounded_per_device() {
    let server = Server::start(&["--reports-per-device", "2"]).await;
    server.add_device("ESP32_R");
    let fault = json!({"device_id": "ESP32_R", "timestamp": 1, "fault_type": "crc_error",
        "recovery_action": "retry_read", "success": true, "details": "ok", "retry_count": 1});
    let (status, stored) = device_post(&server, "/fault/recovery", fault.clone()).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let mut bad = fault.clone();
    bad["fault_type"] = json!("gremlins");
    let (status, body) = device_post(&server, "/fault/recovery", bad).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_report"))
    );
    let mut unknown = fault;
    unknown["device_id"] = json!("ESP32_NOPE");
    let (status, _) = device_post(&server, "/fault/recovery", unknown).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for i in 0..3 {
        let energy = json!({"device_id": "ESP32_R", "timestamp": 1000 * i, "power_management": {
            "enabled": true, "techniques": "0x08", "avg_current_ma": 80.5, "energy_saved_mah": 1.25}});
        let (status, stored) = device_post(&server, "/power/energy/ESP32_R", energy).await;
        assert_eq!(
            (status, stored["status"].as_str()),
            (StatusCode::CREATED, Some("success"))
        );
    }
    let (status, body) = device_post(
        &server,
        "/power/energy/ESP32_R",
        json!({"device_id": "ESP32_R"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_report"))
    );
    let (_, list) = server.get("/power/energy/ESP32_R").await;
    let kept: Vec<i64> = list["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"]["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(kept, [2000, 1000], "only the newest two are kept");

    let (status, _) = device_post(
        &server,
        "/diagnostics/ESP32_R",
        json!({"uptime_seconds": 5, "system_health": {"status": "HEALTHY"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let big = json!({"recent_events": "x".repeat(20_000)});
    let (status, body) = device_post(&server, "/diagnostics/ESP32_R", big).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );
    let (status, body) = device_post(&server, "/diagnostics/ESP32_R", json!([1, 2])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed"))
    );
    let (_, list) = server.get("/diagnostics/ESP32_R").await;
    assert_eq!(list["reports"].as_array().unwrap().len(), 1);
    let (_, list) = server.get("/fault/recovery/ESP32_R").await;
    assert_eq!(list["reports"][0]["body"]["fault_type"], "crc_error");
    let (status, _) = device_get(&server, "/power/energy/ESP32_R").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn device_routes_refuse_unknown_and_retired_ids_and_are_rate_limited() {
    let server = Server::start(&["--device-poll-rate", "0.01", "--device-poll-burst", "3"]).await;
    server.add_device("ESP32_L");
    let (status, body) = device_get(&server, "/config/ESP32_UNKNOWN").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_device"))
    );
    let (status, body) = device_get(&server, "/config/bad%20id").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_device_id"))
    );
    for _ in 0..3 {
        let (status, _) = device_get(&server, "/commands/ESP32_L/poll").await;
        assert_eq!(status, StatusCode::OK);
    }
    let r = server
        .anon
        .get(format!("{}/config/ESP32_L", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));

    server.add_device("ESP32_OLD");
    let r = server
        .client
        .delete(format!(
            "{}/api/v1/devices/ESP32_OLD?keep_data=true",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, body) = device_get(&server, "/commands/ESP32_OLD/poll").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::GONE, Some("device_retired"))
    );
}

#[tokio::test]
async fn fleet_key_mode_answers_polls_of_devices_not_yet_registered() {
    let server = Server::start(&["--compat-psk", &"ab".repeat(32)]).await;
    let (status, poll) = device_get(&server, "/config/ESP32_NEW").await;
    assert_eq!(
        (status, poll["is_default"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (status, poll) = device_get(&server, "/commands/ESP32_NEW/poll").await;
    assert_eq!((status, poll["count"].as_u64()), (StatusCode::OK, Some(0)));
    let (status, check) = device_get(&server, "/ota/check/ESP32_NEW?version=1.0.0").await;
    assert_eq!(
        (status, check["update_available"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    // Writes wait for the first valid upload, which registers the device.
    let (status, _) = device_post(
        &server,
        "/diagnostics/ESP32_NEW",
        json!({"uptime_seconds": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        server.count("device_reports") + server.count("config_history"),
        0
    );
}
