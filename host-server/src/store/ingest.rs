//! Ingest: the trait a backend implements, and the rules every backend
//! applies inside its transaction (replay through the core's
//! [`decide`], decoding with the device's stream state, duplicate
//! detection, the upload summary and codec statistics).
//!
//! The rules are pure: a backend loads each device's [`DeviceLedger`] in
//! its transaction, hands every job to an [`IngestBatch`], performs the
//! writes the batch answers with, writes the ledgers back and commits.
//! Whatever the backend, the same upload gets the same decision.

use std::collections::HashMap;
use std::hash::Hash;

use futures_util::future::BoxFuture;
use serde::Serialize;
use solarwire_core::codec::Method;
use solarwire_core::envelope::Nonce;
use solarwire_core::envelope_v2::{LastCounter, TAG_LEN, TagV2, decide_counter};
use solarwire_core::registers::Profile;
use solarwire_core::replay::{Freshness, LastAccepted, decide};
use solarwire_core::upload::{Limits, Outcome, Sample, StreamState};
use tokio::sync::mpsc;

use super::telemetry::{RollupDelta, RollupTails};
use super::{
    CodecStats, Committed, IngestError, IngestJob, IngestOutcome, Replayed, Seal, StoreCounts,
    StoreError, UploadSummary,
};

/// Ingest settings of a backend's writer.
#[derive(Debug, Clone, Copy)]
pub struct IngestConfig {
    /// Queued uploads before requests are refused as busy.
    pub queue: usize,
    /// Uploads per transaction at most.
    pub batch: usize,
    /// Bounds for decoding.
    pub limits: Limits,
    /// Samples further apart are not joined in the rollups' integrals.
    pub max_gap_ms: u64,
}

/// Where committed uploads go for the live outputs; `wanted` says whether
/// anyone listens, so nothing is handed over for nobody.
#[derive(Clone)]
pub struct CommitSink {
    /// The queue of committed uploads.
    pub events: mpsc::Sender<Committed>,
    /// Whether anything listens right now.
    pub wanted: std::sync::Arc<dyn Fn() -> bool + Send + Sync>,
}

/// Upload counters of one device or the whole store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadStats {
    /// Devices counted.
    pub devices: u64,
    /// Uploads stored.
    pub uploads: u64,
    /// Identical resends answered as duplicates.
    pub duplicates: u64,
    /// Samples stored.
    pub samples: u64,
    /// Uploads received in the window asked for.
    pub recent_uploads: u64,
    /// The latest accepted upload, Unix ms.
    pub last_seen_ms: Option<u64>,
    /// Packets per codec.
    pub codecs: Vec<CodecStats>,
}

/// Durable ingest and its counters.
///
/// The contract: [`IngestStore::ingest`] resolves only after the upload,
/// its samples, the device's decoding state and its advanced nonce are
/// committed together, and the replay decision is taken inside that same
/// transaction, so concurrent requests for one device can never both pass.
pub trait IngestStore: Send + Sync {
    /// Decides replay, decodes, stores and commits one verified upload.
    fn ingest(&self, job: IngestJob) -> BoxFuture<'_, Result<IngestOutcome, IngestError>>;
    /// Whether the ingest path can commit right now.
    fn writable(&self) -> bool;
    /// Totals over the whole store.
    fn counts(&self) -> BoxFuture<'_, Result<StoreCounts, StoreError>>;
    /// Upload counters of one device (`Some`) or all; `recent_uploads`
    /// counts uploads received since `since_ms`.
    fn upload_stats(
        &self,
        device: Option<&str>,
        since_ms: u64,
    ) -> BoxFuture<'_, Result<Option<UploadStats>, StoreError>>;
}

/// A 64-bit envelope v2 counter as a signed 64-bit column keeps it (the
/// same bits: counters from 2^63 on are stored negative; every comparison
/// happens here, on the `u64`).
pub fn counter_to_stored(counter: u64) -> i64 {
    i64::from_be_bytes(counter.to_be_bytes())
}

/// The counter a signed 64-bit column holds (inverse of [`counter_to_stored`]).
pub fn counter_from_stored(stored: i64) -> u64 {
    u64::from_be_bytes(stored.to_be_bytes())
}

/// A device's replay and decoding state as a backend stores it.
#[derive(Debug, Clone, Default)]
pub struct DeviceLedger {
    /// The last accepted firmware envelope (v1, 32-bit nonce).
    pub last: Option<LastAccepted>,
    /// The last accepted envelope v2 (64-bit counter).
    pub last_v2: Option<LastCounter>,
    /// The temporal codecs' state.
    pub stream: StreamState,
    /// Each register's last value, where the next rollup segment starts.
    pub tails: RollupTails,
    /// The device's register profile (`None`: the default).
    pub profile: Option<String>,
}

impl DeviceLedger {
    /// Rebuilds a ledger from stored columns; an unreadable stream state is
    /// dropped (the next temporal packet then reports its missing base).
    pub fn from_stored(
        device: &str,
        nonce: Option<u32>,
        mac: Option<&[u8]>,
        stream: Option<&[u8]>,
        tails: Option<&[u8]>,
    ) -> Self {
        let stream = match stream.map(StreamState::from_bytes) {
            Some(Ok(state)) => state,
            Some(Err(e)) => {
                tracing::warn!(device, error = %e, "stored stream state unreadable; history dropped");
                StreamState::new()
            }
            None => StreamState::new(),
        };
        let last = nonce.map(|n| LastAccepted {
            nonce: Nonce(n),
            mac: mac
                .and_then(|m| <[u8; 32]>::try_from(m).ok())
                .map(solarwire_core::replay::MacTag),
        });
        Self {
            last,
            last_v2: None,
            stream,
            tails: tails.map(RollupTails::from_bytes).unwrap_or_default(),
            profile: None,
        }
    }

    /// Adds the stored envelope v2 ledger columns (the counter as
    /// [`counter_to_stored`] keeps it, the tag).
    #[must_use]
    pub fn with_counter(mut self, counter: Option<i64>, tag: Option<&[u8]>) -> Self {
        self.last_v2 = counter.map(|c| LastCounter {
            counter: counter_from_stored(c),
            tag: tag
                .and_then(|t| <[u8; TAG_LEN]>::try_from(t).ok())
                .map(TagV2),
        });
        self
    }

    /// Records a fresh envelope as the last accepted one of its version.
    fn record(&mut self, seal: &Seal) {
        match *seal {
            Seal::V1 { nonce, mac } => {
                self.last = Some(LastAccepted {
                    nonce,
                    mac: Some(mac),
                });
            }
            Seal::V2 { counter, tag } => {
                self.last_v2 = Some(LastCounter {
                    counter,
                    tag: Some(tag),
                });
            }
        }
    }

    /// The envelope v2 ledger columns: the counter as stored, the tag.
    pub fn counter_columns(&self) -> (Option<i64>, Option<Vec<u8>>) {
        (
            self.last_v2.map(|l| counter_to_stored(l.counter)),
            self.last_v2.and_then(|l| l.tag).map(|t| t.0.to_vec()),
        )
    }

    /// The ledger of a device read with `profile` (`None`: the default).
    pub fn with_profile(self, profile: Option<String>) -> Self {
        Self { profile, ..self }
    }
}

/// One device's state over a batch: its ledger and what the batch added.
#[derive(Debug, Clone)]
pub struct DeviceIngest<K> {
    /// The backend's key of the device.
    pub key: K,
    /// Replay and decoding state, to write back.
    pub ledger: DeviceLedger,
    /// The latest receive time in the batch.
    pub last_seen_ms: Option<u64>,
    /// Uploads stored by the batch.
    pub uploads: u64,
    /// Duplicates answered by the batch.
    pub duplicates: u64,
    /// Samples stored by the batch.
    pub samples: u64,
}

/// Per-codec counters added by a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodecDelta {
    /// Packets received.
    pub packets: u64,
    /// Packets that failed to decode.
    pub failed: u64,
    /// Compressed bytes.
    pub bytes: u64,
    /// Raw size of the values decoded.
    pub original_bytes: u64,
}

/// What the batch decided about one job.
#[derive(Debug)]
pub enum Admission<K> {
    /// No such device was loaded.
    Unknown,
    /// The nonce or counter is not greater than the last accepted one.
    Replay(Replayed),
    /// The last accepted envelope again: answer with its stored summary.
    Duplicate(K, Seal),
    /// Store it: call [`IngestBatch::accept`].
    Fresh,
}

/// A fresh upload, decoded: what the backend writes for it.
#[derive(Debug)]
pub struct Accepted<K> {
    /// The device's backend key.
    pub device: K,
    /// The reply and the upload's report.
    pub summary: UploadSummary,
    /// Decoded samples, in order.
    pub samples: Vec<Sample>,
    /// The device's register profile.
    pub profile: &'static Profile,
}

impl<K> Accepted<K> {
    /// The upload as the live outputs see it.
    pub fn committed(self, received_ms: u64) -> Committed {
        Committed {
            received_ms,
            summary: self.summary,
            samples: self.samples,
            profile: self.profile,
        }
    }
}

/// The rules of one ingest transaction.
pub struct IngestBatch<K> {
    limits: Limits,
    devices: HashMap<String, DeviceIngest<K>>,
    codecs: HashMap<(K, String), CodecDelta>,
    rollups: RollupDelta<K>,
}

impl<K: Copy + Eq + Hash> IngestBatch<K> {
    /// A batch decoding within the writer's limits.
    pub fn new(config: &IngestConfig) -> Self {
        Self {
            limits: config.limits,
            devices: HashMap::new(),
            codecs: HashMap::new(),
            rollups: RollupDelta::new(config.max_gap_ms),
        }
    }

    /// Whether `device` has been loaded.
    pub fn knows(&self, device: &str) -> bool {
        self.devices.contains_key(device)
    }

    /// Adds a device loaded by the backend.
    pub fn load(&mut self, device: &str, key: K, ledger: DeviceLedger) {
        self.devices.insert(
            device.to_owned(),
            DeviceIngest {
                key,
                ledger,
                last_seen_ms: None,
                uploads: 0,
                duplicates: 0,
                samples: 0,
            },
        );
    }

    /// The replay decision for `job` (the core's, for its envelope version);
    /// a fresh nonce or counter is recorded at once, so a second job with the
    /// same one in this batch is a duplicate or replay.
    pub fn admit(&mut self, job: &IngestJob) -> Admission<K> {
        let Some(state) = self.devices.get_mut(&job.device) else {
            return Admission::Unknown;
        };
        let Some(seal) = &job.seal else {
            return Admission::Fresh;
        };
        let decision = match seal {
            Seal::V1 { nonce, mac } => {
                decide(state.ledger.last.as_ref(), *nonce, mac).map_err(Replayed::V1)
            }
            Seal::V2 { counter, tag } => {
                decide_counter(state.ledger.last_v2.as_ref(), *counter, tag).map_err(Replayed::V2)
            }
        };
        match decision {
            Err(e) => Admission::Replay(e),
            Ok(Freshness::Duplicate) => {
                state.duplicates += 1;
                Admission::Duplicate(state.key, *seal)
            }
            Ok(Freshness::Fresh) => {
                state.ledger.record(seal);
                Admission::Fresh
            }
        }
    }

    /// Decodes an admitted job with its device's stream state as upload
    /// `upload_id`, and counts it. `None` when the device was never loaded.
    pub fn accept(&mut self, job: &IngestJob, upload_id: i64) -> Option<Accepted<K>> {
        let state = self.devices.get_mut(&job.device)?;
        let mut decoded = job.upload.decode(
            &mut state.ledger.stream,
            &self.limits,
            Some(job.received_ms),
        );
        let profile = crate::readings::device_profile(state.ledger.profile.as_deref());
        decoded.drop_sentinels(profile);
        let summary = UploadSummary::new(upload_id, &job.device, job.seal.as_ref(), &decoded);
        state.uploads += 1;
        state.samples += decoded.samples.len() as u64;
        state.last_seen_ms = state.last_seen_ms.max(Some(job.received_ms));
        for p in &summary.packets {
            let method = p.method.map_or("unknown", Method::code).to_owned();
            let delta = self.codecs.entry((state.key, method)).or_default();
            delta.packets += 1;
            delta.failed += u64::from(p.outcome == Outcome::Failed);
            delta.bytes += p.size as u64;
            delta.original_bytes += p.original_size as u64;
        }
        for sample in &decoded.samples {
            let t_ms = sample.t_ms.unwrap_or(job.received_ms);
            self.rollups.add(
                state.key,
                &mut state.ledger.tails,
                profile,
                t_ms,
                &sample.registers,
            );
        }
        Some(Accepted {
            device: state.key,
            summary,
            samples: decoded.samples,
            profile,
        })
    }

    /// Every device touched, to write back before the commit.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceIngest<K>> {
        self.devices.values()
    }

    /// Codec counters to add, per device and method.
    pub fn codecs(&self) -> impl Iterator<Item = (&(K, String), &CodecDelta)> {
        self.codecs.iter()
    }

    /// What the batch adds to the rollups.
    pub fn rollups(&self) -> &RollupDelta<K> {
        &self.rollups
    }
}

/// The answer to a duplicate whose stored report is gone (retention).
pub fn duplicate_summary(
    stored: Option<UploadSummary>,
    device: &str,
    seal: &Seal,
) -> UploadSummary {
    stored.unwrap_or_else(|| UploadSummary {
        upload_id: 0,
        device_id: device.to_owned(),
        nonce: match seal {
            Seal::V1 { nonce, .. } => Some(nonce.0),
            Seal::V2 { .. } => None,
        },
        counter: match seal {
            Seal::V1 { .. } => None,
            Seal::V2 { counter, .. } => Some(*counter),
        },
        samples: 0,
        values: 0,
        packets: Vec::new(),
    })
}

/// Which stored upload answers a duplicate: the `uploads` column and value
/// ([`counter_to_stored`] for a counter) it was stored under.
pub fn duplicate_key(seal: &Seal) -> (&'static str, i64) {
    match seal {
        Seal::V1 { nonce, .. } => ("nonce", i64::from(nonce.0)),
        Seal::V2 { counter, .. } => ("counter", counter_to_stored(*counter)),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use solarwire_core::replay::MacTag;
    use solarwire_core::upload::{Format, Upload};

    use super::*;

    fn job(nonce: u32, mac: u8) -> IngestJob {
        IngestJob {
            device: "D1".into(),
            auto_register: None,
            seal: Some(Seal::V1 {
                nonce: Nonce(nonce),
                mac: MacTag([mac; 32]),
            }),
            format: Format::Aggregated,
            upload: Upload::parse(
                br#"{"device_id":"D1","compressed_data":[]}"#,
                &Limits::default(),
            )
            .expect("upload"),
            raw: Bytes::new(),
            received_ms: 1000,
        }
    }

    #[test]
    fn fresh_then_duplicate_then_replay_within_one_batch() {
        let mut batch = IngestBatch::new(&IngestConfig {
            queue: 1,
            batch: 1,
            limits: Limits::default(),
            max_gap_ms: 60_000,
        });
        assert!(matches!(batch.admit(&job(5, 1)), Admission::Unknown));
        batch.load("D1", 7_i64, DeviceLedger::default());
        assert!(matches!(batch.admit(&job(5, 1)), Admission::Fresh));
        let accepted = batch.accept(&job(5, 1), 42).expect("loaded");
        assert_eq!(
            (accepted.summary.upload_id, accepted.summary.nonce),
            (42, Some(5))
        );
        assert!(matches!(
            batch.admit(&job(5, 1)),
            Admission::Duplicate(
                7,
                Seal::V1 {
                    nonce: Nonce(5),
                    ..
                }
            )
        ));
        assert!(matches!(batch.admit(&job(5, 2)), Admission::Replay(_)));
        assert!(matches!(batch.admit(&job(4, 1)), Admission::Replay(_)));
        let d = batch.devices().next().expect("one device");
        assert_eq!((d.uploads, d.duplicates), (1, 1));
        assert_eq!(d.ledger.last.map(|l| l.nonce), Some(Nonce(5)));
    }

    #[test]
    fn v2_counters_have_their_own_ledger_past_32_bits() {
        let mut batch = IngestBatch::new(&IngestConfig {
            queue: 1,
            batch: 1,
            limits: Limits::default(),
            max_gap_ms: 60_000,
        });
        batch.load("D1", 7_i64, DeviceLedger::default());
        let v2 = |counter: u64, tag: u8| {
            let mut j = job(0, 0);
            j.seal = Some(Seal::V2 {
                counter,
                tag: TagV2([tag; TAG_LEN]),
            });
            j
        };
        let big = u64::from(u32::MAX) + 10;
        assert!(matches!(batch.admit(&v2(big, 1)), Admission::Fresh));
        // The v1 nonce ledger is untouched by a v2 counter, and the reverse.
        assert!(matches!(batch.admit(&job(5, 1)), Admission::Fresh));
        assert!(matches!(
            batch.admit(&v2(big, 1)),
            Admission::Duplicate(7, Seal::V2 { .. })
        ));
        assert!(matches!(
            batch.admit(&v2(big, 2)),
            Admission::Replay(Replayed::V2(_))
        ));
        assert!(matches!(
            batch.admit(&v2(big - 1, 1)),
            Admission::Replay(Replayed::V2(_))
        ));
        assert!(matches!(batch.admit(&v2(u64::MAX, 3)), Admission::Fresh));
        let d = batch.devices().next().expect("one device");
        let (counter, tag) = d.ledger.counter_columns();
        let back = DeviceLedger::default().with_counter(counter, tag.as_deref());
        assert_eq!(back.last_v2.map(|l| l.counter), Some(u64::MAX));
        assert_eq!(back.last_v2.and_then(|l| l.tag), Some(TagV2([3; TAG_LEN])));
    }

    #[test]
    fn stored_counters_keep_every_bit_and_order_in_rust() {
        for c in [0, 1, u64::from(u32::MAX) + 1, 1 << 63, u64::MAX] {
            assert_eq!(counter_from_stored(counter_to_stored(c)), c);
        }
        assert!(counter_to_stored(1 << 63) < 0);
    }

    #[test]
    fn a_ledger_survives_its_stored_form() {
        let ledger = DeviceLedger::from_stored("D1", Some(9), Some(&[3; 32]), Some(b"junk"), None);
        assert_eq!(
            ledger.last,
            Some(LastAccepted {
                nonce: Nonce(9),
                mac: Some(MacTag([3; 32]))
            })
        );
        let none = DeviceLedger::from_stored("D1", None, None, None, None);
        assert!(none.last.is_none());
    }
}
