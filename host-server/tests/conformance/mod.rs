//! The storage conformance suite: one test body per behaviour, each taking
//! a fresh backend. A backend's test file calls `conformance_suite!` with a
//! function that opens a fresh, empty store of that backend (see
//! `tests/store_sqlite.rs`); a new backend is done when it passes them all.
#![allow(dead_code, unreachable_pub)]

pub mod clients;
pub mod envelope_v2;
pub mod generic;
pub mod management;
pub mod profiles;

pub use clients::*;
pub use envelope_v2::*;
pub use generic::*;
pub use management::*;
pub use profiles::*;

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use solarwire_core::envelope::{Keys, Nonce};
use solarwire_core::replay::{MacTag, ReplayError};
use solarwire_core::upload::{Format, Limits, Upload};
use solarwire_server::clock::Clock;
use solarwire_server::simulate::firmware::FirmwareDevice;
use solarwire_server::store::access::{NewRefresh, RefreshOutcome, Role};
use solarwire_server::store::alerts::{AlertFilter, NewRule, RuleKind};
use solarwire_server::store::telemetry::Level;
use solarwire_server::store::{
    DeviceKeys, HistoryQuery, IngestError, IngestJob, IngestOutcome, Store,
};
use solarwire_server::store::{Replayed, Seal};

/// Receive time of the first test upload (2025-11-23T08:00:00Z).
pub const T0: u64 = 1_763_884_800_000;
/// The firmware's default layout (Vac1, Iac1, Ipv1, Ipv2, Temp, Pac).
pub const LAYOUT: [u8; 6] = [0, 1, 5, 6, 7, 9];

/// A fresh store and the clock it was opened with.
pub struct Backend {
    /// The store under test.
    pub store: Arc<dyn Store>,
    /// Its clock, which the test moves.
    pub clock: TestClock,
    /// Whatever must live as long as the store (a temporary directory, a server).
    pub keep: Box<dyn Any + Send>,
}

/// A clock a test sets by hand.
#[derive(Clone, Default)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    /// A clock at `ms`.
    pub fn at(ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(ms)))
    }
    /// The store's view of it.
    pub fn clock(&self) -> Clock {
        let now = self.0.clone();
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    }
    /// Moves it to `ms`.
    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

/// Generates one test per behaviour for the backend `$open` makes.
#[macro_export]
macro_rules! conformance_suite {
    ($open:path) => {
        $crate::conformance_suite!(@tests $open;
            fresh_duplicate_and_replay,
            one_nonce_wins_under_concurrency,
            unknown_retired_and_auto_registered_devices,
            nonce_reset_and_removal,
            key_rotation_bumps_the_epoch,
            keys_are_resealed_in_one_transaction,
            samples_are_read_back_in_order,
            retention_keeps_rollups,
            blocks_across_retention,
            refresh_token_reuse_revokes_the_family,
            users_and_api_keys,
            alert_rules_and_alerts,
            firmware_images_and_chunks,
            rollouts_pause_themselves_after_failures,
            ota_sessions_and_history,
            pending_config_and_acknowledgement,
            commands_dispatch_one_per_poll,
            reports_are_bounded_per_device_and_kind,
            removing_a_device_removes_its_management_data,
            api_clients_and_their_nonces,
            envelope_v2_counters_past_32_bits,
            envelope_keys_rotate_with_overlap,
            generic_device_keys_and_rates,
            generic_readings_round_trip,
            device_profiles_read_their_uploads,
        );
    };
    (@tests $open:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let backend = $open();
                conformance::$name(&backend).await;
            }
        )*
    };
}

pub(crate) fn own_keys(byte: u8) -> DeviceKeys {
    DeviceKeys {
        hmac: Some(vec![byte; 32]),
        aes: None,
    }
}

/// A device that makes signed-looking jobs (the store never checks MACs:
/// the ingest pipeline did).
pub struct Sender {
    id: String,
    device: FirmwareDevice,
    cycle: u64,
}

impl Sender {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            device: FirmwareDevice::new(id, Keys::new(&[1; 32]), LAYOUT.to_vec()),
            cycle: 0,
        }
    }

    /// The next upload: three samples 5 s apart, Pac rising with `cycle`,
    /// sent with `nonce` and a MAC derived from `mac`.
    pub fn job(&mut self, nonce: u32, mac: u8) -> IngestJob {
        let t = T0 + self.cycle * 15_000;
        let rows: Vec<Vec<u16>> = (0..3)
            .map(|j| {
                let i = (self.cycle * 3 + j) as u16;
                vec![2300, 52, 71, 69, 452, 1000 + i]
            })
            .collect();
        self.cycle += 1;
        let packet = self.device.compress(&rows, t);
        let json = self.device.upload_json(&[packet], t / 1000, 5);
        IngestJob {
            device: self.id.clone(),
            auto_register: None,
            seal: Some(Seal::V1 {
                nonce: Nonce(nonce),
                mac: MacTag([mac; 32]),
            }),
            format: Format::Aggregated,
            upload: Upload::parse(json.as_bytes(), &Limits::default()).expect("upload JSON"),
            raw: Bytes::from(json),
            received_ms: t,
        }
    }
}

fn stored(outcome: Result<IngestOutcome, IngestError>) -> i64 {
    match outcome {
        Ok(IngestOutcome::Stored(s)) => s.upload_id,
        other => panic!("expected a stored upload, got {other:?}"),
    }
}

pub async fn fresh_duplicate_and_replay(b: &Backend) {
    let store = &b.store;
    assert!(store.add_device("D1", own_keys(1)).await.unwrap());
    let mut d = Sender::new("D1");
    let first = d.job(10, 1);
    let again = clone_job(&first);
    let id = stored(store.ingest(first).await);
    match store.ingest(again).await {
        Ok(IngestOutcome::Duplicate(s)) => {
            assert_eq!((s.upload_id, s.samples, s.nonce), (id, 3, Some(10)));
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    // Same nonce, other MAC; then an older nonce: replays, nothing stored.
    for job in [d.job(10, 2), d.job(9, 3)] {
        assert!(matches!(
            store.ingest(job).await,
            Err(IngestError::Replay(Replayed::V1(
                ReplayError::Replayed { .. }
            )))
        ));
    }
    stored(store.ingest(d.job(11, 4)).await);
    assert_eq!(store.last_nonce("D1").await.unwrap(), Some(11));
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.devices, counts.uploads, counts.samples), (1, 2, 6));
    let stats = store.upload_stats(Some("D1"), 0).await.unwrap().unwrap();
    assert_eq!(
        (stats.uploads, stats.duplicates, stats.recent_uploads),
        (2, 1, 2)
    );
    assert_eq!(stats.codecs.iter().map(|c| c.packets).sum::<u64>(), 2);
}

fn clone_job(job: &IngestJob) -> IngestJob {
    IngestJob {
        device: job.device.clone(),
        auto_register: job.auto_register.clone(),
        seal: job.seal,
        format: job.format,
        upload: Upload::parse(&job.raw, &Limits::default()).expect("upload JSON"),
        raw: job.raw.clone(),
        received_ms: job.received_ms,
    }
}

pub async fn one_nonce_wins_under_concurrency(b: &Backend) {
    assert!(b.store.add_device("D1", own_keys(1)).await.unwrap());
    let mut d = Sender::new("D1");
    // Twenty different envelopes under one nonce, all at once.
    let jobs: Vec<IngestJob> = (0..20).map(|i| d.job(7, i)).collect();
    let answers = futures_util::future::join_all(jobs.into_iter().map(|j| b.store.ingest(j))).await;
    let fresh = answers
        .iter()
        .filter(|a| matches!(a, Ok(IngestOutcome::Stored(_))))
        .count();
    let replays = answers
        .iter()
        .filter(|a| matches!(a, Err(IngestError::Replay(_))))
        .count();
    assert_eq!((fresh, replays), (1, 19), "{answers:?}");
    assert_eq!(b.store.counts().await.unwrap().uploads, 1);
}

pub async fn unknown_retired_and_auto_registered_devices(b: &Backend) {
    let store = &b.store;
    let mut d = Sender::new("NEW_1");
    assert_eq!(
        store.ingest(d.job(1, 1)).await,
        Err(IngestError::UnknownDevice)
    );
    let mut job = d.job(2, 2);
    job.auto_register = Some(FLEET_KEY_ID.into());
    stored(store.ingest(job).await);
    let fleet = store
        .fleet_device("NEW_1")
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(
        (fleet.key, fleet.uploads, fleet.created_ms),
        ("fleet", 1, T0 + 15_000)
    );
    // Which key admitted it: in the fleet view, the list and the detail.
    assert_eq!(fleet.admitted_by.as_deref(), Some(FLEET_KEY_ID));
    let listed = store.devices().await.unwrap();
    assert_eq!(listed[0].admitted_by.as_deref(), Some(FLEET_KEY_ID));
    let detail = store.device("NEW_1").await.unwrap().expect("detail");
    assert_eq!(detail.summary.admitted_by.as_deref(), Some(FLEET_KEY_ID));
    // An operator gives it its own key: `own` from now on, the admission kept.
    assert!(store.rotate_keys("NEW_1", own_keys(7)).await.unwrap());
    let own = store.fleet_device("NEW_1").await.unwrap().expect("kept");
    assert_eq!(
        (own.key, own.admitted_by.as_deref()),
        ("own", Some(FLEET_KEY_ID))
    );
    assert_eq!(store.device_keys("NEW_1").await.unwrap(), Some(own_keys(7)));
    // A device an operator added was admitted by no fleet key.
    assert!(store.add_device("OP_1", own_keys(1)).await.unwrap());
    let op = store.fleet_device("OP_1").await.unwrap().expect("added");
    assert_eq!((op.key, op.admitted_by), ("own", None));
    assert!(store.retire_device("NEW_1").await.unwrap());
    let mut job = d.job(3, 3);
    job.auto_register = Some(FLEET_KEY_ID.into());
    assert_eq!(store.ingest(job).await, Err(IngestError::UnknownDevice));
    let retired = store.fleet_device("NEW_1").await.unwrap().expect("kept");
    assert_eq!(retired.retired_ms, Some(b_now(b)));
    assert_eq!(retired.samples, 3, "a retired device keeps its data");
}

/// The id a fleet key records on the devices it admits.
const FLEET_KEY_ID: &str = "fleet key 0011223344556677";

/// Master-key rotation's storage side: every key set replaced in one
/// transaction, or none when one of them cannot be re-sealed.
pub async fn keys_are_resealed_in_one_transaction(b: &Backend) {
    let store = &b.store;
    for (id, byte) in [("D1", 1), ("D2", 2), ("D3", 3)] {
        assert!(store.add_device(id, own_keys(byte)).await.unwrap());
    }
    let mut fleet = Sender::new("F1").job(1, 1);
    fleet.auto_register = Some(FLEET_KEY_ID.into());
    stored(store.ingest(fleet).await);
    let before = store.device_epoch().await.unwrap();
    // Fails at the last device, after the first two were re-sealed.
    let failed = store
        .reseal_keys(Box::new(|id, keys| {
            if id == "D3" {
                return Err("D3 does not open".into());
            }
            let mut hmac = keys.hmac.clone().unwrap_or_default();
            hmac.push(0xAA);
            Ok(Some(DeviceKeys {
                hmac: Some(hmac),
                aes: Some([9; 16]),
            }))
        }))
        .await;
    assert!(failed.unwrap_err().to_string().contains("D3 does not open"));
    for (id, byte) in [("D1", 1), ("D2", 2), ("D3", 3)] {
        assert_eq!(
            store.device_keys(id).await.unwrap(),
            Some(own_keys(byte)),
            "{id}"
        );
    }
    assert_eq!(store.device_epoch().await.unwrap(), before);
    // It sees only devices with keys (not F1), in id order, and may skip some.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let saw = seen.clone();
    let count = store
        .reseal_keys(Box::new(move |id, keys| {
            saw.lock().unwrap().push(id.to_owned());
            Ok((id != "D2").then(|| DeviceKeys {
                hmac: keys.hmac.clone(),
                aes: Some([9; 16]),
            }))
        }))
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(*seen.lock().unwrap(), ["D1", "D2", "D3"]);
    assert_eq!(
        store.device_keys("D1").await.unwrap().unwrap().aes,
        Some([9; 16])
    );
    assert_eq!(store.device_keys("D2").await.unwrap(), Some(own_keys(2)));
    assert_eq!(
        store.device_keys("F1").await.unwrap(),
        Some(DeviceKeys {
            hmac: None,
            aes: None
        })
    );
    assert!(store.device_epoch().await.unwrap() > before);
}

pub(crate) fn b_now(b: &Backend) -> u64 {
    b.clock.clock().now_ms()
}

pub async fn nonce_reset_and_removal(b: &Backend) {
    let store = &b.store;
    assert!(store.add_device("D1", own_keys(1)).await.unwrap());
    let mut d = Sender::new("D1");
    stored(store.ingest(d.job(100, 1)).await);
    assert!(store.reset_nonce("D1").await.unwrap());
    assert_eq!(store.last_nonce("D1").await.unwrap(), None);
    stored(store.ingest(d.job(5, 2)).await);
    assert!(store.remove_device("D1").await.unwrap());
    assert!(!store.remove_device("D1").await.unwrap());
    assert_eq!(
        store.ingest(d.job(6, 3)).await,
        Err(IngestError::UnknownDevice)
    );
    assert!(store.device("D1").await.unwrap().is_none());
    assert_eq!(store.counts().await.unwrap().uploads, 0);
}

pub async fn key_rotation_bumps_the_epoch(b: &Backend) {
    let store = &b.store;
    let epoch = store.device_epoch().await.unwrap();
    assert!(store.add_device("D1", own_keys(1)).await.unwrap());
    assert!(!store.add_device("D1", own_keys(2)).await.unwrap());
    assert_eq!(store.device_keys("D1").await.unwrap(), Some(own_keys(1)));
    let added = store.device_epoch().await.unwrap();
    assert!(added > epoch);
    let rotated = DeviceKeys {
        hmac: Some(vec![3; 48]),
        aes: Some([4; 16]),
    };
    assert!(store.rotate_keys("D1", rotated.clone()).await.unwrap());
    assert_eq!(store.device_keys("D1").await.unwrap(), Some(rotated));
    assert!(store.device_epoch().await.unwrap() > added);
    assert!(!store.rotate_keys("NOPE", own_keys(5)).await.unwrap());
    assert_eq!(store.device_keys("NOPE").await.unwrap(), None);
    let detail = store.device("D1").await.unwrap().expect("device");
    assert!(detail.has_aes_key);
    assert_eq!(detail.created_ms, b_now(b));
}

pub async fn samples_are_read_back_in_order(b: &Backend) {
    let store = &b.store;
    assert!(store.add_device("D1", own_keys(1)).await.unwrap());
    let mut d = Sender::new("D1");
    for n in 1..=4 {
        stored(store.ingest(d.job(n, n as u8)).await);
    }
    let all = store
        .history(
            "D1",
            HistoryQuery {
                from_ms: 0,
                to_ms: u64::MAX / 2,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 12);
    assert!(all.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    let pac: Vec<u16> = all
        .iter()
        .map(|s| s.registers.iter().find(|r| r.0 == 9).expect("Pac").1)
        .collect();
    assert_eq!(pac, (1000..1012).collect::<Vec<u16>>());
    let latest = store.latest("D1").await.unwrap().expect("latest");
    assert_eq!(latest, all[11]);
    let (from, to) = (all[2].t_ms, all[6].t_ms);
    let points = store.points("D1", 9, from, to, 100).await.unwrap();
    assert_eq!(
        points.iter().map(|p| p.raw).collect::<Vec<_>>(),
        [1002, 1003, 1004, 1005]
    );
    let before = store.point_before("D1", 9, 0, from).await.unwrap();
    assert_eq!(before.map(|p| (p.t_ms, p.raw)), Some((all[1].t_ms, 1001)));
}

pub async fn retention_keeps_rollups(b: &Backend) {
    let store = &b.store;
    assert!(store.add_device("D1", own_keys(1)).await.unwrap());
    let mut d = Sender::new("D1");
    // 40 uploads: 120 samples 5 s apart over 10 minutes, Pac 1000 … 1119 W.
    for n in 1..=40 {
        stored(store.ingest(d.job(n, 1)).await);
    }
    let everything = HistoryQuery {
        from_ms: 0,
        to_ms: u64::MAX / 2,
        limit: 1000,
    };
    let raw = store.history("D1", everything).await.unwrap();
    let end = raw.last().expect("samples").t_ms + 1;
    let cutoff = end + Level::Day.ms();
    // Rollups are kept at ingest, at every level, integrals across uploads.
    let mut at_ingest = Vec::new();
    for level in Level::ALL {
        let rows = store.aggregates("D1", 9, level, 0, cutoff).await.unwrap();
        assert_eq!(rows.iter().map(|a| a.count).sum::<u64>(), 120, "{level:?}");
        let sum: f64 = rows.iter().map(|a| a.sum).sum();
        assert_eq!(sum, f64::from((1000..1120).sum::<u32>()));
        let covered: u64 = rows.iter().map(|a| a.covered_ms).sum();
        assert_eq!(covered, 119 * 5000, "the 119 gaps of 5 s are integrated");
        let area: f64 = rows.iter().map(|a| a.area).sum();
        let expected: f64 = (1000..1119).map(|w| (f64::from(w) + 0.5) * 5.0).sum();
        assert!((area - expected).abs() < 1e-6, "{area} vs {expected}");
        assert_eq!(rows.first().map(|a| a.first_t_ms), Some(raw[0].t_ms));
        at_ingest.push(rows);
    }
    let mut deleted = 0;
    loop {
        let step = store.retention_step(cutoff, 0).await.unwrap();
        deleted += step.samples_deleted;
        if !step.more {
            break;
        }
    }
    assert_eq!(deleted, 120);
    assert!(store.history("D1", everything).await.unwrap().is_empty());
    for (level, rows) in Level::ALL.into_iter().zip(&at_ingest) {
        let kept = store.aggregates("D1", 9, level, 0, cutoff).await.unwrap();
        assert_eq!(&kept, rows, "{level:?} rollups outlive raw samples");
    }
    // 5-minute rollups go after their own period; hourly and daily stay.
    let step = store.retention_step(cutoff, cutoff).await.unwrap();
    assert!(step.aggregates_deleted > 0);
    let five = store.aggregates("D1", 9, Level::Minutes5, 0, cutoff);
    assert!(five.await.unwrap().is_empty());
    let hours = store
        .aggregates("D1", 9, Level::Hour, 0, cutoff)
        .await
        .unwrap();
    assert_eq!(hours, at_ingest[1]);
}

/// Every sample at or after a retention cutoff stays, whatever block it is
/// stored in; `samples_deleted` counts exactly what history lost; rollups
/// (open or stored) are untouched and the next upload continues them.
pub async fn blocks_across_retention(b: &Backend) {
    let store = &b.store;
    assert!(store.add_device("D1", own_keys(1)).await.unwrap());
    let mut d = Sender::new("D1");
    // 8 uploads: 24 samples 5 s apart, the first two before T0's hour edge.
    for n in 1..=8 {
        stored(store.ingest(d.job(n, 1)).await);
    }
    let everything = HistoryQuery {
        from_ms: 0,
        to_ms: u64::MAX / 2,
        limit: 1000,
    };
    let all = store.history("D1", everything).await.unwrap();
    assert_eq!(all.len(), 24);
    let horizon = T0 + Level::Day.ms();
    let mut before = Vec::new();
    for level in Level::ALL {
        before.push(store.aggregates("D1", 9, level, 0, horizon).await.unwrap());
    }
    // A cutoff inside an upload (and inside whatever block holds it).
    let cutoff = all[10].t_ms + 1;
    let mut deleted = 0;
    loop {
        let step = store.retention_step(cutoff, 0).await.unwrap();
        deleted += step.samples_deleted;
        if !step.more {
            break;
        }
    }
    let kept = store.history("D1", everything).await.unwrap();
    assert_eq!(deleted as usize, all.len() - kept.len());
    assert!(kept.iter().all(|s| all.contains(s)), "nothing changed");
    let newer: Vec<_> = all.iter().filter(|s| s.t_ms >= cutoff).collect();
    assert_eq!(
        kept[kept.len() - newer.len()..].iter().collect::<Vec<_>>(),
        newer
    );
    for (level, rows) in Level::ALL.into_iter().zip(&before) {
        let now = store.aggregates("D1", 9, level, 0, horizon).await.unwrap();
        assert_eq!(&now, rows, "{level:?}");
    }
    let points = store.points("D1", 9, cutoff, horizon, 100).await.unwrap();
    assert_eq!(points.len(), newer.len());
    // The next upload's first segment starts at the last sample.
    stored(store.ingest(d.job(9, 9)).await);
    for level in Level::ALL {
        let rows = store.aggregates("D1", 9, level, 0, horizon).await.unwrap();
        assert_eq!(rows.iter().map(|a| a.count).sum::<u64>(), 27, "{level:?}");
        let covered: u64 = rows.iter().map(|a| a.covered_ms).sum();
        assert_eq!(covered, 26 * 5000, "{level:?}");
    }
}

fn refresh(user: i64, hash: u8, now: u64) -> NewRefresh {
    NewRefresh {
        user,
        family: format!("family-{hash}"),
        hash: [hash; 32],
        created_ms: now,
        expires_ms: now + 60_000,
    }
}

pub async fn refresh_token_reuse_revokes_the_family(b: &Backend) {
    let store = &b.store;
    let now = b_now(b);
    let user = store
        .add_user("ada", Role::Viewer, "phc".into())
        .await
        .unwrap()
        .expect("new user");
    store.add_refresh(refresh(user.id, 1, now)).await.unwrap();
    // First exchange rotates; the successor joins the family of the first.
    match store
        .rotate_refresh([1; 32], refresh(0, 2, now))
        .await
        .unwrap()
    {
        RefreshOutcome::Rotated(u) => assert_eq!(u.id, user.id),
        other => panic!("expected a rotation, got {other:?}"),
    }
    // The spent token again: reuse, and the whole family is revoked.
    assert_eq!(
        store
            .rotate_refresh([1; 32], refresh(0, 3, now))
            .await
            .unwrap(),
        RefreshOutcome::Reused
    );
    assert_eq!(
        store
            .rotate_refresh([2; 32], refresh(0, 4, now))
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
    // Expiry follows the store's clock.
    store.add_refresh(refresh(user.id, 5, now)).await.unwrap();
    b.clock.set(now + 60_000);
    assert_eq!(
        store
            .rotate_refresh([5; 32], refresh(0, 6, now))
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
    assert_eq!(
        store
            .rotate_refresh([9; 32], refresh(0, 7, now))
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
    // Logout revokes a family.
    store
        .add_refresh(refresh(user.id, 8, now + 60_000))
        .await
        .unwrap();
    assert!(store.revoke_refresh([8; 32]).await.unwrap());
    assert_eq!(
        store
            .rotate_refresh([8; 32], refresh(0, 9, now))
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
}

pub async fn users_and_api_keys(b: &Backend) {
    let store = &b.store;
    let ada = store
        .add_user("ada", Role::Admin, "phc-1".into())
        .await
        .unwrap()
        .expect("new user");
    assert_eq!(ada.created_ms, b_now(b));
    assert!(
        store
            .add_user("ada", Role::Viewer, "x".into())
            .await
            .unwrap()
            .is_none()
    );
    store
        .add_refresh(refresh(ada.id, 1, b_now(b)))
        .await
        .unwrap();
    assert!(store.set_password("ada", "phc-2".into()).await.unwrap());
    let (user, hash) = store.user_login("ada").await.unwrap().expect("login");
    assert_eq!((user.role, hash.as_str()), (Role::Admin, "phc-2"));
    assert_eq!(
        store
            .rotate_refresh([1; 32], refresh(0, 2, b_now(b)))
            .await
            .unwrap(),
        RefreshOutcome::Invalid,
        "a new password ends the sessions"
    );
    assert!(store.remove_user("ada").await.unwrap());
    assert!(store.users().await.unwrap().is_empty());
    assert!(!store.set_password("ada", "x".into()).await.unwrap());
}

pub async fn alert_rules_and_alerts(b: &Backend) {
    let store = &b.store;
    let rule = store
        .add_alert_rule(NewRule {
            name: "hot".into(),
            device_id: None,
            kind: RuleKind::Max,
            register: Some(7),
            threshold: Some(70.0),
            window_s: None,
        })
        .await
        .unwrap();
    let alert = store
        .open_alert(rule.id, "D1", 1000, Some(71.5), "too hot".into())
        .await
        .unwrap();
    let open = AlertFilter {
        open: Some(true),
        device_id: None,
        limit: 10,
    };
    assert_eq!(
        store.alerts(open.clone()).await.unwrap(),
        vec![alert.clone()]
    );
    assert!(store.remove_alert_rule(rule.id, 2000).await.unwrap());
    assert!(store.alerts(open).await.unwrap().is_empty());
    assert_eq!(store.close_alert(alert.id, 3000).await.unwrap(), None);
    assert!(store.alert_rules().await.unwrap().is_empty());
}
