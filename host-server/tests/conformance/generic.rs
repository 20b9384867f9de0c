//! Generic devices: keys by digest (use, expiry, revocation, rotation),
//! rate windows, readings with message ids and a channel limit, reading
//! them back, and removal with the data.

use solarwire_server::store::generic::{
    GenericError, GenericPatch, GenericStatus, KeyCheck, NewDeviceKey, NewGenericDevice,
    NewReading, RATE_WINDOW_MS, RateScope, ReadingOutcome, ReadingQuery,
};

use super::{Backend, T0};

fn device(name: &str) -> NewGenericDevice {
    NewGenericDevice {
        name: name.into(),
        description: Some("a probe".into()),
        device_type: "sensor".into(),
        location: None,
        firmware_version: None,
        hardware_version: None,
        channels: vec![("temperature".into(), Some("°C".into()))],
    }
}

fn key(byte: u8, expires_ms: Option<u64>) -> NewDeviceKey {
    NewDeviceKey {
        hash: [byte; 32],
        expires_ms,
    }
}

fn reading(t_ms: u64, values: &[(&str, f64)], message: Option<&str>) -> NewReading {
    NewReading {
        t_ms,
        device_time: true,
        values: values.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect(),
        metadata: Some(serde_json::json!({"battery": 80})),
        data_type: "sensor".into(),
        message_id: message.map(str::to_owned),
        max_channels: 3,
    }
}

fn count(check: KeyCheck) -> u64 {
    match check {
        KeyCheck::Valid { count, .. } => count,
        other => panic!("not valid: {other:?}"),
    }
}

pub async fn generic_device_keys_and_rates(b: &Backend) {
    let store = &b.store;
    let a = store
        .add_generic(device("probe-a"), key(1, Some(T0 + 1000)))
        .await
        .unwrap();
    assert_eq!(a.device_id, format!("generic-{}", a.id));
    assert_eq!(a.status, GenericStatus::Active);
    assert_eq!(a.created_ms, T0);
    assert!(matches!(
        store.add_generic(device("probe-a"), key(2, None)).await,
        Err(GenericError::NameTaken)
    ));
    let b_dev = store
        .add_generic(device("probe-b"), key(3, None))
        .await
        .unwrap();

    // Each use counts in its scope's window; a new window starts over.
    assert_eq!(
        count(store.use_key([1; 32], RateScope::Request).await.unwrap()),
        1
    );
    assert_eq!(
        count(store.use_key([1; 32], RateScope::Request).await.unwrap()),
        2
    );
    assert_eq!(
        count(store.use_key([1; 32], RateScope::Telemetry).await.unwrap()),
        1
    );
    assert_eq!(
        count(store.use_key([3; 32], RateScope::Request).await.unwrap()),
        1
    );
    let seen = store.generic_device(a.id).await.unwrap().unwrap();
    let record = seen.key.unwrap();
    assert_eq!((record.usage_count, record.last_used_ms), (3, Some(T0)));
    assert_eq!(seen.last_seen_ms, Some(T0));
    b.clock.set(T0 + RATE_WINDOW_MS);
    assert!(matches!(
        store.use_key([1; 32], RateScope::Request).await.unwrap(),
        KeyCheck::Expired
    ));
    assert_eq!(
        count(store.use_key([3; 32], RateScope::Request).await.unwrap()),
        1
    );
    assert!(matches!(
        store.use_key([9; 32], RateScope::Request).await.unwrap(),
        KeyCheck::Unknown
    ));

    // Rotation replaces the key; revocation and an inactive device refuse it.
    assert!(store.rotate_generic_key(a.id, key(4, None)).await.unwrap());
    assert!(!store.rotate_generic_key(9999, key(5, None)).await.unwrap());
    assert!(matches!(
        store.use_key([1; 32], RateScope::Request).await.unwrap(),
        KeyCheck::Revoked
    ));
    assert_eq!(
        count(store.use_key([4; 32], RateScope::Request).await.unwrap()),
        1
    );
    assert!(store.revoke_generic_key(a.id).await.unwrap());
    assert!(!store.revoke_generic_key(a.id).await.unwrap());
    assert!(matches!(
        store.use_key([4; 32], RateScope::Request).await.unwrap(),
        KeyCheck::Revoked
    ));
    let patch = GenericPatch {
        status: Some(GenericStatus::Inactive),
        name: Some("probe-b2".into()),
        ..GenericPatch::default()
    };
    let changed = store
        .update_generic(b_dev.id, patch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (changed.name.as_str(), changed.status),
        ("probe-b2", GenericStatus::Inactive)
    );
    assert!(matches!(
        store.use_key([3; 32], RateScope::Request).await.unwrap(),
        KeyCheck::Revoked
    ));
    let taken = GenericPatch {
        name: Some("probe-a".into()),
        ..GenericPatch::default()
    };
    assert!(matches!(
        store.update_generic(b_dev.id, taken).await,
        Err(GenericError::NameTaken)
    ));
    assert!(
        store
            .update_generic(9999, GenericPatch::default())
            .await
            .unwrap()
            .is_none()
    );
    let ids: Vec<i64> = store
        .generic_devices()
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, [a.id, b_dev.id]);
}

pub async fn generic_readings_round_trip(b: &Backend) {
    let store = &b.store;
    let d = store
        .add_generic(device("probe"), key(1, None))
        .await
        .unwrap();
    let other = store
        .add_generic(device("other"), key(2, None))
        .await
        .unwrap();
    for i in 0..4u32 {
        let t = T0 + u64::from(i) * 60_000;
        let values = [("temperature", 20.0 + f64::from(i)), ("humidity", 50.5)];
        let outcome = store
            .add_reading(d.id, reading(t, &values, Some(&format!("m{i}"))))
            .await
            .unwrap();
        assert!(matches!(outcome, ReadingOutcome::Stored(_)), "{outcome:?}");
    }
    // A resend is the first reading again; too many channels store nothing.
    let first = store
        .readings(ReadingQuery {
            device: Some(d.id),
            limit: 10,
            ..ReadingQuery::default()
        })
        .await
        .unwrap();
    let (rows, total) = first;
    assert_eq!((rows.len(), total), (4, 4));
    let again = store
        .add_reading(d.id, reading(T0, &[("temperature", 99.0)], Some("m0")))
        .await
        .unwrap();
    assert_eq!(again, ReadingOutcome::Duplicate(rows[3].id));
    let over = [("a", 1.0), ("b", 2.0)];
    assert_eq!(
        store
            .add_reading(d.id, reading(T0, &over, None))
            .await
            .unwrap(),
        ReadingOutcome::TooManyChannels
    );
    assert_eq!(
        store
            .add_reading(9999, reading(T0, &over, None))
            .await
            .unwrap(),
        ReadingOutcome::UnknownDevice
    );
    store
        .add_reading(other.id, reading(T0, &[("temperature", 5.0)], Some("m0")))
        .await
        .unwrap();

    // Newest first, values by name, metadata and type kept.
    let (rows, total) = store
        .readings(ReadingQuery {
            device: Some(d.id),
            limit: 2,
            offset: 1,
            ..ReadingQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 4);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].t_ms, T0 + 120_000);
    assert_eq!(rows[0].data["temperature"], 22.0);
    assert_eq!(rows[0].data["humidity"], 50.5);
    assert_eq!(rows[0].metadata, Some(serde_json::json!({"battery": 80})));
    assert_eq!(rows[0].data_type, "sensor");
    assert_eq!(rows[0].message_id.as_deref(), Some("m2"));
    assert_eq!(rows[0].device_id, d.device_id);
    let (all, total) = store
        .readings(ReadingQuery {
            data_type: Some("sensor".into()),
            from_ms: Some(T0),
            to_ms: Some(T0 + 60_001),
            limit: 100,
            ..ReadingQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (all.len(), total),
        (3, 3),
        "two of the probe, one of the other"
    );

    // Channel values for the series, oldest first; channels in id order.
    let points = store
        .channel_points(
            &d.device_id,
            "temperature",
            (T0 + 60_000, T0 + 240_000),
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        points,
        [
            (T0 + 60_000, 21.0),
            (T0 + 120_000, 22.0),
            (T0 + 180_000, 23.0)
        ]
    );
    assert!(
        store
            .channel_points(&d.device_id, "pressure", (T0, T0 + 240_000), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let channels: Vec<(String, Option<String>)> = store
        .named_channels(&d.device_id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.unit))
        .collect();
    assert_eq!(
        channels,
        [
            ("temperature".into(), Some("°C".into())),
            ("humidity".into(), None)
        ]
    );
    let counts = store.generic_counts(0).await.unwrap();
    assert_eq!(counts.by_status, [("active".to_owned(), 2)]);
    assert_eq!(counts.by_type, [("sensor".to_owned(), 2)]);
    assert_eq!(counts.per_hour, [(T0 - T0 % 3_600_000, 5)]);
    assert_eq!(counts.top[0], (d.id, "probe".to_owned(), 4));

    // Heartbeat, configuration; removal takes the readings and keys along.
    b.clock.set(T0 + 5000);
    assert_eq!(store.generic_heartbeat(d.id).await.unwrap(), T0 + 5000);
    store
        .set_generic_config(d.id, serde_json::json!({"interval_s": 30}))
        .await
        .unwrap();
    let now = store.generic_device(d.id).await.unwrap().unwrap();
    assert_eq!(now.last_heartbeat_ms, Some(T0 + 5000));
    assert_eq!(now.config, Some(serde_json::json!({"interval_s": 30})));
    assert_eq!(now.readings, 4);
    assert!(store.delete_generic(d.id).await.unwrap());
    assert!(!store.delete_generic(d.id).await.unwrap());
    assert!(store.generic_device(d.id).await.unwrap().is_none());
    assert!(matches!(
        store.use_key([1; 32], RateScope::Request).await.unwrap(),
        KeyCheck::Unknown
    ));
    let (left, _) = store
        .readings(ReadingQuery {
            limit: 100,
            ..ReadingQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "only the other device's reading");
    assert!(store.named_channels(&d.device_id).await.unwrap().is_empty());
}
