//! Device profiles: set when a device is added, and the profile each
//! device's uploads are read with (sentinels, rollups).

use bytes::Bytes;
use solarwire_core::envelope::{Keys, Nonce};
use solarwire_core::replay::MacTag;
use solarwire_core::upload::{Format, Limits, Upload};
use solarwire_server::simulate::firmware::FirmwareDevice;
use solarwire_server::store::telemetry::Level;
use solarwire_server::store::{HistoryQuery, IngestJob, IngestOutcome, Seal, profiles};

use super::{Backend, T0, own_keys};

/// One upload of `rows` (layout `[0, 4, 9]`) from `device` under `nonce`.
fn job(device: &mut FirmwareDevice, nonce: u32, rows: &[Vec<u16>]) -> IngestJob {
    let t = T0 + u64::from(nonce) * 15_000;
    let packet = device.compress(rows, t);
    let json = device.upload_json(&[packet], t / 1000, 5);
    IngestJob {
        device: device.id.clone(),
        auto_register: None,
        seal: Some(Seal::V1 {
            nonce: Nonce(nonce),
            mac: MacTag([nonce as u8; 32]),
        }),
        format: Format::Aggregated,
        upload: Upload::parse(json.as_bytes(), &Limits::default()).expect("upload JSON"),
        raw: Bytes::from(json),
        received_ms: t,
    }
}

pub async fn device_profiles_read_their_uploads(b: &Backend) {
    let store = &b.store;
    let added = profiles::add_device(store.as_ref(), "RACK", own_keys(1), Some("bess-rack-1"));
    assert!(added.await.unwrap());
    assert!(
        profiles::add_device(store.as_ref(), "LOGGER", own_keys(2), None)
            .await
            .unwrap()
    );
    // An unknown profile changes nothing; a taken id keeps its profile.
    let bad = profiles::add_device(store.as_ref(), "X", own_keys(3), Some("turbine-9"));
    assert!(matches!(bad.await, Err(profiles::ProfileError::Unknown(_))));
    assert!(store.device("X").await.unwrap().is_none());
    let again = profiles::add_device(store.as_ref(), "RACK", own_keys(4), Some("pcs-1"));
    assert!(!again.await.unwrap());
    let all = store.device_profiles().await.unwrap();
    assert_eq!(
        all.into_iter().collect::<Vec<_>>(),
        [("RACK".to_owned(), "bess-rack-1".to_owned())]
    );
    assert!(!store.set_profile("NOPE", "pcs-1").await.unwrap());

    // 65535 in register 4 is "not available" for both (Vpv1, Soc); in
    // register 9 only for the logger (Pac), the rack's CellTmin is −0.1 °C.
    for (id, byte) in [("RACK", 1), ("LOGGER", 2)] {
        let mut device = FirmwareDevice::new(id, Keys::new(&[byte; 32]), vec![0, 4, 9]);
        let rows = vec![vec![1, 65535, 65535]; 3];
        assert!(matches!(
            store.ingest(job(&mut device, 11, &rows)).await,
            Ok(IngestOutcome::Stored(_))
        ));
    }
    let query = HistoryQuery {
        from_ms: 0,
        to_ms: u64::MAX / 2,
        limit: 10,
    };
    let rack = store.history("RACK", query).await.unwrap();
    assert_eq!(rack.len(), 3);
    assert!(rack.iter().all(|s| s.registers == [(0, 1), (9, 65535)]));
    let logger = store.history("LOGGER", query).await.unwrap();
    assert!(logger.iter().all(|s| s.registers == [(0, 1)]));
    let horizon = T0 + Level::Day.ms();
    let cell = store
        .aggregates("RACK", 9, Level::Minutes5, 0, horizon)
        .await
        .unwrap();
    assert_eq!(cell.iter().map(|a| a.count).sum::<u64>(), 3);
    assert!(cell.iter().all(|a| (a.min + 0.1).abs() < 1e-9), "{cell:?}");
    let pac = store.aggregates("LOGGER", 9, Level::Minutes5, 0, horizon);
    assert!(pac.await.unwrap().is_empty());
}
