//! Envelope v2 in the store: the replay ledger's 64-bit counter (its own,
//! beside the firmware's 32-bit nonce) and per-device keys rotated with an
//! overlap.

use solarwire_core::envelope_v2::{EnvelopeV2Error, TAG_LEN, TagV2};
use solarwire_server::store::envelope_keys::{EnvelopeKeys, PreviousKey, StoredKey};
use solarwire_server::store::{IngestError, IngestJob, IngestOutcome, Replayed, Seal};

use super::{Backend, Sender, own_keys, stored};

/// The next upload of `d` sealed as an envelope v2 with `counter` and a tag
/// made of `tag`.
fn v2_job(d: &mut Sender, counter: u64, tag: u8) -> IngestJob {
    let mut job = d.job(0, 0);
    job.seal = Some(Seal::V2 {
        counter,
        tag: TagV2([tag; TAG_LEN]),
    });
    job
}

fn is_v2_replay(outcome: &Result<IngestOutcome, IngestError>) -> bool {
    matches!(
        outcome,
        Err(IngestError::Replay(Replayed::V2(
            EnvelopeV2Error::Replay { .. }
        )))
    )
}

pub async fn envelope_v2_counters_past_32_bits(b: &Backend) {
    let store = &b.store;
    assert!(store.add_device("D1", own_keys(1)).await.unwrap());
    let mut d = Sender::new("D1");
    let big = u64::from(u32::MAX) + 5;
    let first = v2_job(&mut d, big, 1);
    let again = super::clone_job(&first);
    let id = stored(store.ingest(first).await);
    match store.ingest(again).await {
        Ok(IngestOutcome::Duplicate(s)) => {
            assert_eq!((s.upload_id, s.counter, s.nonce), (id, Some(big), None));
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    // Same counter with another tag, then an older counter: replays.
    assert!(is_v2_replay(&store.ingest(v2_job(&mut d, big, 2)).await));
    assert!(is_v2_replay(
        &store.ingest(v2_job(&mut d, big - 1, 3)).await
    ));
    // The firmware nonce ledger is separate: a small nonce is still fresh.
    stored(store.ingest(d.job(7, 1)).await);
    assert_eq!(store.last_nonce("D1").await.unwrap(), Some(7));
    // Counters from 2^63 on keep their order through the signed column.
    let high = v2_job(&mut d, (1 << 63) + 1, 4);
    let high_id = stored(store.ingest(high).await);
    assert!(is_v2_replay(
        &store.ingest(v2_job(&mut d, 1 << 63, 5)).await
    ));
    assert!(is_v2_replay(
        &store.ingest(v2_job(&mut d, big + 1, 5)).await
    ));
    match store.ingest(v2_job(&mut d, (1 << 63) + 1, 4)).await {
        Ok(IngestOutcome::Duplicate(s)) => assert_eq!(s.upload_id, high_id),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    stored(store.ingest(v2_job(&mut d, u64::MAX, 6)).await);
    assert!(is_v2_replay(
        &store.ingest(v2_job(&mut d, u64::MAX, 7)).await
    ));
    // A reset forgets both counters.
    assert!(store.reset_nonce("D1").await.unwrap());
    stored(store.ingest(v2_job(&mut d, 1, 8)).await);
    stored(store.ingest(d.job(1, 9)).await);
    let stats = store.upload_stats(Some("D1"), 0).await.unwrap().unwrap();
    assert_eq!((stats.uploads, stats.duplicates), (6, 2));
}

fn key(id: u32) -> StoredKey {
    StoredKey {
        id,
        secret: vec![u8::try_from(id).unwrap_or(0); 40],
    }
}

pub async fn envelope_keys_rotate_with_overlap(b: &Backend) {
    let store = &b.store;
    let rotate_to =
        |id: u32, overlap_ms: u64| -> solarwire_server::store::envelope_keys::EnvelopeKeyUpdate {
            Box::new(move |stored, now| Ok(EnvelopeKeys::rotate(stored, key(id), now + overlap_ms)))
        };
    assert_eq!(
        store
            .update_envelope_keys("NOPE", rotate_to(1, 0))
            .await
            .unwrap(),
        None
    );
    assert!(store.add_device("D1", own_keys(1)).await.unwrap());
    assert_eq!(store.envelope_keys("D1").await.unwrap(), None);
    let epoch = store.device_epoch().await.unwrap();
    let first = store
        .update_envelope_keys("D1", rotate_to(1, 5_000))
        .await
        .unwrap();
    assert_eq!(
        first,
        Some(EnvelopeKeys {
            current: key(1),
            previous: None
        })
    );
    assert!(store.device_epoch().await.unwrap() > epoch);
    let now = b.clock.clock().now_ms();
    store
        .update_envelope_keys("D1", rotate_to(2, 60_000))
        .await
        .unwrap();
    let second = EnvelopeKeys {
        current: key(2),
        previous: Some(PreviousKey {
            key: key(1),
            until_ms: now + 60_000,
        }),
    };
    assert_eq!(
        store.envelope_keys("D1").await.unwrap(),
        Some(second.clone())
    );
    // An update that fails writes nothing.
    let refused = store
        .update_envelope_keys("D1", Box::new(|_, _| Err("no".into())))
        .await;
    assert!(refused.is_err());
    assert_eq!(store.envelope_keys("D1").await.unwrap(), Some(second));
    // A second rotation drops the oldest key.
    b.clock.set(now + 1_000);
    store
        .update_envelope_keys("D1", rotate_to(3, 0))
        .await
        .unwrap();
    let third = store.envelope_keys("D1").await.unwrap().expect("keys");
    assert_eq!(third.current, key(3));
    assert_eq!(
        third.previous,
        Some(PreviousKey {
            key: key(2),
            until_ms: now + 1_000
        })
    );
    // Retiring a device erases its keys; no update reaches it any more.
    assert!(store.retire_device("D1").await.unwrap());
    assert_eq!(store.envelope_keys("D1").await.unwrap(), None);
    assert_eq!(
        store
            .update_envelope_keys("D1", rotate_to(4, 0))
            .await
            .unwrap(),
        None
    );
}
