//! Conformance bodies for device management: firmware images, rollouts,
//! update sessions (spec §7.1), configuration, commands and reports
//! (§7.2–§7.4).

use serde_json::{Map, Value, json};
use solarwire_server::store::firmware::{
    NewFirmware, OtaReport, RolloutState, RolloutTarget, VersionStats,
};
use solarwire_server::store::management::{Command, CommandState, ReportKind, RunningConfig};

use super::{Backend, T0};

fn image(version: &str, chunks: usize) -> NewFirmware {
    NewFirmware {
        version: version.to_owned(),
        notes: format!("notes of {version}"),
        original_size: 2048 * chunks as u64 - 100,
        sha256: "ab".repeat(32),
        signature: vec![7; 256],
        iv: [9; 16],
        chunks: (0..chunks)
            .map(|i| vec![i as u8; if i + 1 == chunks { 1952 } else { 2048 }])
            .collect(),
        chunk_size: 2048,
    }
}

fn report(device: &str, version: &str, kind: &str, state: Option<&'static str>) -> OtaReport {
    OtaReport {
        device_id: device.to_owned(),
        version: Some(version.to_owned()),
        kind: kind.to_owned(),
        detail: None,
        state,
        progress: None,
        failure: false,
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

pub async fn firmware_images_and_chunks(b: &Backend) {
    let store = &b.store;
    let info = store
        .publish_firmware(image("1.0.1", 3), T0)
        .await
        .unwrap()
        .expect("new version");
    assert_eq!(
        (info.total_chunks, info.encrypted_size, info.chunk_size),
        (3, 2 * 2048 + 1952, 2048)
    );
    assert_eq!((info.original_size, info.created_ms), (6044, T0));
    assert!(
        store
            .publish_firmware(image("1.0.1", 1), T0 + 1)
            .await
            .unwrap()
            .is_none(),
        "a published version is never replaced"
    );
    store
        .publish_firmware(image("1.0.2", 1), T0 + 2)
        .await
        .unwrap()
        .expect("second version");
    let versions: Vec<String> = store
        .firmware_images()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.version)
        .collect();
    assert_eq!(versions, ["1.0.2", "1.0.1"], "newest first");
    assert_eq!(store.firmware_image("1.0.1").await.unwrap(), Some(info));
    let chunk = store.firmware_chunk("1.0.1", 2).await.unwrap();
    assert_eq!(chunk, Some(vec![2; 1952]));
    assert_eq!(store.firmware_chunk("1.0.1", 3).await.unwrap(), None);
    assert_eq!(store.firmware_chunk("9.9.9", 0).await.unwrap(), None);
    store
        .set_rollout("1.0.1", RolloutTarget::Percent(50), 3, T0)
        .await
        .unwrap()
        .expect("rollout");
    assert!(store.delete_firmware("1.0.1").await.unwrap());
    assert!(!store.delete_firmware("1.0.1").await.unwrap());
    assert_eq!(store.firmware_image("1.0.1").await.unwrap(), None);
    assert_eq!(store.firmware_chunk("1.0.1", 0).await.unwrap(), None);
    assert!(store.rollouts().await.unwrap().is_empty());
}

pub async fn rollouts_pause_themselves_after_failures(b: &Backend) {
    let store = &b.store;
    let none = store.set_rollout("1.0.1", RolloutTarget::Percent(10), 2, T0);
    assert_eq!(none.await.unwrap(), None, "no such version");
    store
        .publish_firmware(image("1.0.1", 1), T0)
        .await
        .unwrap()
        .expect("published");
    let devices = RolloutTarget::Devices(vec!["D1".into(), "D2".into(), "D3".into()]);
    let rollout = store
        .set_rollout("1.0.1", devices.clone(), 2, T0 + 1)
        .await
        .unwrap()
        .expect("rollout");
    assert_eq!(
        (
            &rollout.target,
            rollout.state,
            rollout.failures,
            rollout.max_failures
        ),
        (&devices, RolloutState::Active, 0, 2)
    );
    // A failure below the limit counts; the limit pauses it, once.
    let mut failed = report("D1", "1.0.1", "verify_failed", Some("failed"));
    failed.failure = true;
    assert_eq!(
        store.record_ota(failed.clone(), T0 + 2, 10).await.unwrap(),
        None
    );
    let paused = store
        .record_ota(
            OtaReport {
                device_id: "D2".into(),
                ..failed.clone()
            },
            T0 + 3,
            10,
        )
        .await
        .unwrap()
        .expect("paused by itself");
    assert_eq!((paused.state, paused.failures), (RolloutState::Paused, 2));
    assert!(paused.reason.is_some());
    assert_eq!(store.record_ota(failed, T0 + 4, 10).await.unwrap(), None);
    // An operator resumes (failures reset), retargets, cancels.
    let resumed = store
        .set_rollout_state("1.0.1", RolloutState::Active, None, T0 + 5)
        .await
        .unwrap()
        .expect("rollout");
    assert_eq!(
        (resumed.state, resumed.failures, resumed.reason),
        (RolloutState::Active, 0, None)
    );
    let percent = store
        .set_rollout("1.0.1", RolloutTarget::Percent(25), 0, T0 + 6)
        .await
        .unwrap()
        .expect("retargeted");
    assert_eq!(
        (percent.target, percent.updated_ms),
        (RolloutTarget::Percent(25), T0 + 6)
    );
    let cancelled = store
        .set_rollout_state(
            "1.0.1",
            RolloutState::Cancelled,
            Some("bad build".into()),
            T0 + 7,
        )
        .await
        .unwrap()
        .expect("rollout");
    assert_eq!(cancelled.reason.as_deref(), Some("bad build"));
    assert_eq!(store.rollouts().await.unwrap(), vec![cancelled]);
    let missing = store.set_rollout_state("2.0", RolloutState::Paused, None, T0);
    assert_eq!(missing.await.unwrap(), None);
}

pub async fn ota_sessions_and_history(b: &Backend) {
    let store = &b.store;
    assert_eq!(store.ota_session("D1").await.unwrap(), None);
    let first = store
        .start_ota("D1", "1.0.1", "D1_1.0.1_1", T0)
        .await
        .unwrap();
    assert_eq!(
        (first.state.as_str(), first.progress, first.started_ms),
        ("in_progress", 0, T0)
    );
    // The device rebooted mid-download: a new session supersedes it.
    let second = store
        .start_ota("D1", "1.0.1", "D1_1.0.1_2", T0 + 10)
        .await
        .unwrap();
    assert_eq!(second.session_id, "D1_1.0.1_2");
    let mut progress = report("D1", "1.0.1", "downloading", None);
    progress.progress = Some(40);
    store.record_ota(progress, T0 + 20, 3).await.unwrap();
    let session = store.ota_session("D1").await.unwrap().expect("session");
    assert_eq!((session.progress, session.updated_ms), (40, T0 + 20));
    let mut rolled_back = report("D1", "1.0.1", "complete_rolled_back", Some("rolled_back"));
    rolled_back.failure = true;
    store.record_ota(rolled_back, T0 + 30, 3).await.unwrap();
    store
        .start_ota("D2", "1.0.1", "D2_1.0.1_1", T0)
        .await
        .unwrap();
    store
        .record_ota(
            report("D2", "1.0.1", "complete_success", Some("success")),
            T0 + 40,
            3,
        )
        .await
        .unwrap();
    assert_eq!(store.failed_versions("D1").await.unwrap(), ["1.0.1"]);
    assert!(store.failed_versions("D2").await.unwrap().is_empty());
    assert_eq!(
        store.ota_stats().await.unwrap(),
        vec![VersionStats {
            version: "1.0.1".into(),
            sessions: 3,
            in_progress: 0,
            succeeded: 1,
            failed: 0,
            rolled_back: 1,
        }]
    );
    // History: newest first, bounded by `keep` per device.
    for (i, kind) in ["check", "initiate", "downloaded", "verified"]
        .iter()
        .enumerate()
    {
        store
            .record_ota(report("D3", "1.0.1", kind, None), T0 + i as u64, 3)
            .await
            .unwrap();
    }
    let kinds: Vec<String> = store
        .ota_history("D3", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["verified", "downloaded", "initiate"]);
    assert_eq!(store.ota_history("D3", 1).await.unwrap().len(), 1);
    assert_eq!(store.ota_history("D1", 10).await.unwrap().len(), 2);
}

pub async fn pending_config_and_acknowledgement(b: &Backend) {
    let store = &b.store;
    let empty = store.config("D1").await.unwrap();
    assert_eq!((empty.running, empty.pending), (None, None));
    let first = object(json!({"sampling_interval": 10}));
    store.add_pending_config("D1", first, T0, 3).await.unwrap();
    let second = object(json!({"sampling_interval": 15, "registers": ["Vac1"]}));
    store
        .add_pending_config("D1", second, T0 + 1, 3)
        .await
        .unwrap();
    let record = store.config("D1").await.unwrap();
    assert_eq!(
        record.pending,
        Some((
            object(json!({"sampling_interval": 15, "registers": ["Vac1"]})),
            T0 + 1
        )),
        "later changes merge over earlier ones"
    );
    // A report without clearing keeps the pending changes; an acknowledgement clears them.
    let running = object(json!({"sampling_interval": 5}));
    let report = RunningConfig {
        running: running.clone(),
        clear_pending: false,
        event: "report",
        body: json!({"running": 5}),
    };
    store
        .set_running_config("D1", report, T0 + 2, 3)
        .await
        .unwrap();
    let record = store.config("D1").await.unwrap();
    assert_eq!(record.running.as_ref(), Some(&running));
    assert!(record.pending.is_some());
    let applied = object(json!({"sampling_interval": 15, "registers": ["Vac1"]}));
    let ack = RunningConfig {
        running: applied.clone(),
        clear_pending: true,
        event: "acknowledge",
        body: json!({"all_applied": true}),
    };
    store
        .set_running_config("D1", ack, T0 + 3, 3)
        .await
        .unwrap();
    let record = store.config("D1").await.unwrap();
    assert_eq!((record.running, record.pending), (Some(applied), None));
    // History: newest first, the oldest of four dropped.
    let history = store.config_history("D1", 10).await.unwrap();
    let events: Vec<(&str, u64)> = history
        .iter()
        .map(|e| (e.event.as_str(), e.at_ms))
        .collect();
    assert_eq!(
        events,
        [
            ("acknowledge", T0 + 3),
            ("report", T0 + 2),
            ("update", T0 + 1)
        ]
    );
    assert_eq!(
        history[2].body,
        json!({"sampling_interval": 15, "registers": ["Vac1"]})
    );
    assert!(store.config_history("D2", 10).await.unwrap().is_empty());
}

fn command(id: &str, device: &str, created_ms: u64, expires_ms: u64) -> Command {
    Command {
        command_id: id.to_owned(),
        device_id: device.to_owned(),
        command: json!({"action": "write_register", "target_register": "export_power", "value": 50}),
        state: CommandState::Queued,
        created_ms,
        expires_ms,
        dispatched_ms: None,
        finished_ms: None,
        executed_at: None,
    }
}

pub async fn commands_dispatch_one_per_poll(b: &Backend) {
    let store = &b.store;
    let day = 86_400_000;
    store
        .queue_command(command("c-1", "D1", T0, T0 + day), 2)
        .await
        .unwrap();
    store
        .queue_command(command("c-2", "D1", T0 + 1, T0 + day), 2)
        .await
        .unwrap();
    store
        .queue_command(command("c-3", "D1", T0 + 2, T0 + 100), 2)
        .await
        .unwrap();
    // F21: one command per poll, oldest first; the rest stay queued.
    let first = store
        .dispatch_command("D1", T0 + 10)
        .await
        .unwrap()
        .expect("c-1");
    assert_eq!(
        (first.command_id.as_str(), first.state, first.dispatched_ms),
        ("c-1", CommandState::Dispatched, Some(T0 + 10))
    );
    let waiting = store.command("c-2").await.unwrap().expect("c-2");
    assert_eq!(waiting.state, CommandState::Queued);
    assert_eq!(store.dispatch_command("D2", T0 + 10).await.unwrap(), None);
    // A result for another device's command, or an unknown one, finds nothing.
    let wrong = store.finish_command("D2", "c-1", true, None, T0 + 11);
    assert_eq!(wrong.await.unwrap(), None);
    assert_eq!(
        store
            .finish_command("D1", "nope", true, None, T0 + 11)
            .await
            .unwrap(),
        None
    );
    let done = store
        .finish_command(
            "D1",
            "c-1",
            true,
            Some("2025-11-23T08:00:11Z".into()),
            T0 + 12,
        )
        .await
        .unwrap()
        .expect("c-1");
    assert_eq!(
        (done.state, done.finished_ms),
        (CommandState::Completed, Some(T0 + 12))
    );
    let again = store
        .finish_command("D1", "c-1", false, None, T0 + 13)
        .await
        .unwrap()
        .expect("c-1");
    assert_eq!(again, done, "a repeated result leaves the first standing");
    // A result for a command never dispatched changes nothing.
    let early = store
        .finish_command("D1", "c-2", true, None, T0 + 14)
        .await
        .unwrap();
    assert_eq!(early.map(|c| c.state), Some(CommandState::Queued));
    // c-3 expires unsent; c-2 goes out on the next poll.
    let next = store
        .dispatch_command("D1", T0 + 200)
        .await
        .unwrap()
        .expect("c-2");
    assert_eq!(next.command_id, "c-2");
    let expired = store.command("c-3").await.unwrap().expect("c-3");
    assert_eq!(
        (expired.state, expired.finished_ms),
        (CommandState::Expired, Some(T0 + 200))
    );
    assert_eq!(store.dispatch_command("D1", T0 + 300).await.unwrap(), None);
    // Queuing keeps the newest `keep` finished commands of the device.
    store
        .finish_command("D1", "c-2", false, None, T0 + 400)
        .await
        .unwrap();
    store
        .queue_command(command("c-4", "D1", T0 + 500, T0 + day), 2)
        .await
        .unwrap();
    let ids: Vec<String> = store
        .commands("D1", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.command_id)
        .collect();
    assert_eq!(ids, ["c-4", "c-3", "c-2"]);
    assert_eq!(store.commands("D1", 1).await.unwrap().len(), 1);
}

pub async fn reports_are_bounded_per_device_and_kind(b: &Backend) {
    let store = &b.store;
    let mut ids = Vec::new();
    for n in 0..4 {
        let body = json!({"energy_wh": n});
        ids.push(
            store
                .add_report("D1", ReportKind::Energy, body, T0 + n, 3)
                .await
                .unwrap(),
        );
    }
    let fault = json!({"event": "recovered", "fault_type": "crc"});
    store
        .add_report("D1", ReportKind::Fault, fault.clone(), T0, 3)
        .await
        .unwrap();
    store
        .add_report("D2", ReportKind::Energy, json!({"energy_wh": 9}), T0, 3)
        .await
        .unwrap();
    let energy = store.reports("D1", ReportKind::Energy, 10).await.unwrap();
    let got: Vec<(i64, u64, Value)> = energy
        .into_iter()
        .map(|r| (r.report_id, r.at_ms, r.body))
        .collect();
    assert_eq!(
        got,
        [
            (ids[3], T0 + 3, json!({"energy_wh": 3})),
            (ids[2], T0 + 2, json!({"energy_wh": 2})),
            (ids[1], T0 + 1, json!({"energy_wh": 1})),
        ],
        "newest first, the oldest beyond `keep` dropped"
    );
    let faults = store.reports("D1", ReportKind::Fault, 10).await.unwrap();
    assert_eq!(faults.len(), 1, "kinds are bounded apart");
    assert_eq!(
        (faults[0].kind, &faults[0].body),
        (ReportKind::Fault, &fault)
    );
    assert_eq!(
        store
            .reports("D2", ReportKind::Energy, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .reports("D1", ReportKind::Diagnostics, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .reports("D1", ReportKind::Energy, 2)
            .await
            .unwrap()
            .len(),
        2
    );
}

pub async fn removing_a_device_removes_its_management_data(b: &Backend) {
    let store = &b.store;
    assert!(store.add_device("D1", super::own_keys(1)).await.unwrap());
    assert!(store.add_device("D2", super::own_keys(2)).await.unwrap());
    for device in ["D1", "D2"] {
        let change = object(json!({"sampling_interval": 10}));
        store
            .add_pending_config(device, change, T0, 5)
            .await
            .unwrap();
        let queued = command(&format!("c-{device}"), device, T0, T0 + 1000);
        store.queue_command(queued, 5).await.unwrap();
        let body = json!({"energy_wh": 1});
        store
            .add_report(device, ReportKind::Energy, body, T0, 5)
            .await
            .unwrap();
        store
            .start_ota(device, "1.0.1", &format!("{device}_1"), T0)
            .await
            .unwrap();
        let check = report(device, "1.0.1", "check", None);
        store.record_ota(check, T0, 5).await.unwrap();
    }
    assert!(store.remove_device("D1").await.unwrap());
    let config = store.config("D1").await.unwrap();
    assert_eq!((config.running, config.pending), (None, None));
    assert!(store.config_history("D1", 10).await.unwrap().is_empty());
    assert!(store.commands("D1", 10).await.unwrap().is_empty());
    assert_eq!(store.command("c-D1").await.unwrap(), None);
    assert!(
        store
            .reports("D1", ReportKind::Energy, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.ota_session("D1").await.unwrap(), None);
    assert!(store.ota_history("D1", 10).await.unwrap().is_empty());
    // The other device keeps everything.
    assert!(store.config("D2").await.unwrap().pending.is_some());
    assert_eq!(store.commands("D2", 10).await.unwrap().len(), 1);
    assert_eq!(
        store
            .reports("D2", ReportKind::Energy, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.ota_session("D2").await.unwrap().is_some());
    assert_eq!(store.ota_history("D2", 10).await.unwrap().len(), 1);
}
