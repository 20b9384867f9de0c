//! `solarwire simulate` with the device pollers: uploads alongside
//! configuration and command polls, update checks and energy reports, with
//! no error answer; a configuration change applied and acknowledged, a
//! command executed and reported, and an update rolled out to a share of
//! the fleet installed on exactly the devices it targets.

mod common;

use std::time::Duration;

use clap::Parser;
use common::Server;
use reqwest::StatusCode;
use serde_json::json;
use solarwire_server::cli::{Cli, Command};
use solarwire_server::fota::FirmwareKeys;
use solarwire_server::manage::rollout::targets;
use solarwire_server::simulate::firmware::FirmwareDevice;
use solarwire_server::store::firmware::RolloutTarget;

#[tokio::test]
async fn pollers_run_beside_uploads_without_errors() {
    let server = Server::start(&[]).await;
    FirmwareKeys::create_if_missing(server.dir.path()).unwrap();
    let ids: Vec<String> = (1..=8).map(|i| format!("SIM_{i:04}")).collect();
    let devices: Vec<FirmwareDevice> = ids.iter().map(|id| server.add_device(id)).collect();

    let mut image = vec![0x5Au8; 20_000];
    image[0] = 0xE9;
    let r = server
        .client
        .post(format!("{}/api/v1/firmware?version=1.1.0", server.url))
        .body(image)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let (status, _) = server
        .post(
            "/api/v1/firmware/1.1.0/rollout",
            json!({"percent": 50}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .post(
            "/config/SIM_0001",
            json!({"config_update": {"config_poll_interval": 4, "energy_poll_interval": 600}})
                .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .post(
            "/commands/SIM_0002",
            json!({"command": {"action": "set_power_percentage", "value": 80}}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let args = match Cli::parse_from([
        "solarwire",
        "simulate",
        "--url",
        &server.url,
        "--rate",
        "1",
        "--duration",
        "8s",
        "--ota-check-interval",
        "3s",
    ])
    .command
    {
        Some(Command::Simulate(args)) => *args,
        other => panic!("not simulate: {other:?}"),
    };
    let keys = FirmwareKeys::load(server.dir.path())
        .unwrap()
        .for_device_build()
        .unwrap();
    let summary = tokio::time::timeout(
        Duration::from_secs(120),
        solarwire_server::simulate::run(&args, devices, Some(&keys)),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(summary.rejected.is_empty(), "{summary}");
    assert!(summary.acked > 0, "{summary}");
    let m = summary.management.clone().unwrap();
    assert!(m.errors.is_empty(), "{summary}");
    assert_eq!(m.configs_applied, 1, "{summary}");
    assert_eq!(m.commands_executed, 1, "{summary}");
    let targeted = ids
        .iter()
        .filter(|id| targets(&RolloutTarget::Percent(50), id))
        .count() as u64;
    assert_eq!(m.updates_installed, targeted, "{summary}");
    assert_eq!(m.updates_rejected, 0, "{summary}");
    assert_eq!(m.energy_reports, 8, "{summary}");

    let (_, poll) = server.get("/config/SIM_0001").await;
    assert_eq!(
        (
            poll["is_pending"].as_bool(),
            poll["config"]["config_poll_interval"].as_u64()
        ),
        (Some(false), Some(4))
    );
    let (_, history) = server.get("/commands/SIM_0002/history").await;
    assert_eq!(history["commands"][0]["state"], "completed");
    let (_, fleet) = server.get("/api/v1/rollouts").await;
    assert_eq!(
        fleet["versions"][0]["succeeded"].as_u64(),
        Some(targeted),
        "{fleet}"
    );
}
