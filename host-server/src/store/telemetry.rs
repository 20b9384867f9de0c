//! Telemetry and rollups: stored samples, register points, rollups
//! (5 minutes, 1 hour, 1 day) maintained at ingest, and retention, with the
//! roll-up arithmetic every backend uses.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use futures_util::future::BoxFuture;
use serde::Serialize;
use solarwire_core::registers::Profile;

use super::{HistoryQuery, StoreError, StoredSample};
use crate::query::buckets::{Bucket, Point, trapezoid};

/// Length of the finest rollup bucket: 5 minutes.
pub const AGGREGATE_MS: u64 = 5 * 60 * 1000;

/// A rollup resolution. Buckets are aligned to Unix time (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// 5 minutes.
    Minutes5,
    /// 1 hour.
    Hour,
    /// 1 day (UTC).
    Day,
}

impl Level {
    /// Every level, finest first.
    pub const ALL: [Self; 3] = [Self::Minutes5, Self::Hour, Self::Day];

    /// Bucket length, ms.
    pub fn ms(self) -> u64 {
        match self {
            Self::Minutes5 => AGGREGATE_MS,
            Self::Hour => 3_600_000,
            Self::Day => 86_400_000,
        }
    }

    /// The start of the bucket holding `t_ms`.
    pub fn bucket(self, t_ms: u64) -> u64 {
        t_ms - t_ms % self.ms()
    }

    /// The coarsest level whose buckets tile every one of `edges` (calendar
    /// or series bucket edges), so its rows add up exactly; `None` when not
    /// even 5-minute buckets do.
    pub fn tiling(edges: &[u64]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .rev()
            .find(|l| edges.iter().all(|e| e % l.ms() == 0))
    }
}

/// One stored value of one register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPoint {
    /// Sample time, Unix ms.
    pub t_ms: u64,
    /// Raw register value.
    pub raw: u16,
}

/// One 5-minute aggregate of one register (converted values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Aggregate {
    /// Bucket start, Unix ms.
    pub bucket_ms: u64,
    /// Samples in the bucket.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// The latest value.
    pub last: f64,
    /// Its time.
    pub last_t_ms: u64,
    /// The earliest sample's time.
    pub first_t_ms: u64,
    /// Trapezoid integral over the bucket (unit × seconds).
    pub area: f64,
    /// Time the integral spans, ms.
    pub covered_ms: u64,
}

impl Aggregate {
    /// The aggregate of `bucket` starting at `bucket_ms`.
    pub fn from_bucket(bucket_ms: u64, b: &Bucket) -> Self {
        Self {
            bucket_ms,
            count: b.count,
            sum: b.sum,
            min: b.min,
            max: b.max,
            last: b.last,
            last_t_ms: b.last_t_ms,
            first_t_ms: b.first_t_ms,
            area: b.area,
            covered_ms: b.covered_ms,
        }
    }

    /// Folds in more of the same `level` bucket (a later batch); the
    /// covered time never exceeds the bucket.
    #[must_use]
    pub fn merged(self, more: &Self, level: Level) -> Self {
        let mut b = Bucket::default();
        b.merge(&self);
        b.merge(more);
        let mut out = Self::from_bucket(self.bucket_ms, &b);
        out.covered_ms = out.covered_ms.min(level.ms());
        out
    }
}

/// What one retention step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionStep {
    /// Raw samples deleted.
    pub samples_deleted: u64,
    /// Raw upload bodies deleted.
    pub uploads_deleted: u64,
    /// Aggregates deleted.
    pub aggregates_deleted: u64,
    /// Whether more remains before the cutoff.
    pub more: bool,
}

/// Stored samples and their aggregates.
pub trait TelemetryStore: Send + Sync {
    /// Samples of a device in a time range, oldest first.
    fn history(
        &self,
        device: &str,
        query: HistoryQuery,
    ) -> BoxFuture<'_, Result<Vec<StoredSample>, StoreError>>;
    /// The newest sample of a device.
    fn latest(&self, device: &str) -> BoxFuture<'_, Result<Option<StoredSample>, StoreError>>;
    /// Values of one register in `[from, to)`, oldest first, at most `limit`.
    fn points(
        &self,
        device: &str,
        register: u8,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RawPoint>, StoreError>>;
    /// The latest value of one register before `to_ms` and after `from_ms`.
    fn point_before(
        &self,
        device: &str,
        register: u8,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, Result<Option<RawPoint>, StoreError>>;
    /// Rollups of one register at `level` with buckets in `[from, to)`, oldest first.
    fn aggregates(
        &self,
        device: &str,
        register: u8,
        level: Level,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, Result<Vec<Aggregate>, StoreError>>;
    /// One bounded step of retention: deletes raw samples and upload bodies
    /// older than `raw_before_ms` and 5-minute rollups older than
    /// `aggregates_before_ms` (hourly and daily rollups are kept); `more`
    /// says whether another step has work. Each step is one short write.
    fn retention_step(
        &self,
        raw_before_ms: u64,
        aggregates_before_ms: u64,
    ) -> BoxFuture<'_, Result<RetentionStep, StoreError>>;
}

/// The last value of each register a device sent: the left end of the
/// next upload's first segment. Backends store it as bytes with the device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollupTails(BTreeMap<u8, Point>);

impl RollupTails {
    const ENTRY: usize = 17;

    /// The stored form: per register its id, time (u64 LE) and value (f64 LE).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * Self::ENTRY);
        for (id, p) in &self.0 {
            out.push(*id);
            out.extend_from_slice(&p.t_ms.to_le_bytes());
            out.extend_from_slice(&p.value.to_le_bytes());
        }
        out
    }

    /// Reads the stored form; damaged entries are dropped (the next
    /// segment then starts fresh, which only loses one integral piece).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let entry = |c: &[u8]| {
            let t_ms = u64::from_le_bytes(c.get(1..9)?.try_into().ok()?);
            let value = f64::from_le_bytes(c.get(9..17)?.try_into().ok()?);
            Some((*c.first()?, Point { t_ms, value }))
        };
        Self(bytes.chunks_exact(Self::ENTRY).filter_map(entry).collect())
    }
}

/// Where a rollup row lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey<K> {
    /// The backend's device key.
    pub device: K,
    /// The register id.
    pub register: u8,
    /// The resolution.
    pub level: Level,
    /// Bucket start, Unix ms.
    pub bucket_ms: u64,
}

/// What a batch adds to the rollups: per device, register, level and bucket.
/// A backend merges each entry into its stored row with [`Aggregate::merged`].
#[derive(Debug)]
pub struct RollupDelta<K> {
    max_gap_ms: u64,
    buckets: HashMap<RollupKey<K>, Bucket>,
}

impl<K: Copy + Eq + Hash> RollupDelta<K> {
    /// An empty delta; samples further apart than `max_gap_ms` are not joined.
    pub fn new(max_gap_ms: u64) -> Self {
        Self {
            max_gap_ms,
            buckets: HashMap::new(),
        }
    }

    /// Adds one sample of `device` at `t_ms`: counts each value in its
    /// buckets and integrates the segment from the register's tail, split at
    /// 5-minute edges (which are also hour and day edges). A sample older
    /// than the tail (a late upload) is counted but not integrated.
    pub fn add(
        &mut self,
        device: K,
        tails: &mut RollupTails,
        profile: &Profile,
        t_ms: u64,
        registers: &[(u8, u16)],
    ) {
        for &(register, raw) in registers {
            let Some(value) = profile
                .by_id(register)
                .and_then(|r| crate::readings::value(r, raw))
            else {
                continue;
            };
            let q = Point { t_ms, value };
            for level in Level::ALL {
                self.bucket(device, register, level, level.bucket(t_ms))
                    .add(t_ms, value);
            }
            match tails.0.get(&register).copied() {
                Some(p) if p.t_ms > t_ms => continue,
                Some(p) if p.t_ms < t_ms && t_ms - p.t_ms <= self.max_gap_ms => {
                    self.integrate(device, register, &p, &q);
                }
                _ => {}
            }
            tails.0.insert(register, q);
        }
    }

    fn integrate(&mut self, device: K, register: u8, p: &Point, q: &Point) {
        let mut a = p.t_ms;
        while a < q.t_ms {
            let stop = q.t_ms.min(Level::Minutes5.bucket(a) + AGGREGATE_MS);
            let area = trapezoid(p, q, a, stop);
            for level in Level::ALL {
                let b = self.bucket(device, register, level, level.bucket(a));
                b.area += area;
                b.covered_ms += stop - a;
            }
            a = stop;
        }
    }

    fn bucket(&mut self, device: K, register: u8, level: Level, bucket_ms: u64) -> &mut Bucket {
        self.buckets
            .entry(RollupKey {
                device,
                register,
                level,
                bucket_ms,
            })
            .or_default()
    }

    /// Every touched rollup and what the batch adds to it. A bucket with
    /// only integral (a segment ending in the next bucket) has `count` 0.
    pub fn rows(&self) -> impl Iterator<Item = (RollupKey<K>, Aggregate)> + '_ {
        self.buckets
            .iter()
            .map(|(k, b)| (*k, Aggregate::from_bucket(k.bucket_ms, b)))
    }
}

impl<K: Copy + Eq + Hash> RollupDelta<K> {
    /// Folds in what a later batch adds, with the arithmetic of storing it
    /// ([`Aggregate::merged`]), so storing the sum equals storing each.
    pub fn absorb(&mut self, later: &Self) {
        for (key, b) in later.rows() {
            match self.buckets.get_mut(&key) {
                Some(mine) => {
                    let merged = Aggregate::from_bucket(key.bucket_ms, mine).merged(&b, key.level);
                    *mine = Bucket::default();
                    mine.merge(&merged);
                }
                None => {
                    let mut fresh = Bucket::default();
                    fresh.merge(&b);
                    self.buckets.insert(key, fresh);
                }
            }
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Drops everything of `device` (a removed device).
    pub fn forget(&mut self, device: K) {
        self.buckets.retain(|k, _| k.device != device);
    }

    /// One series' buckets in `[from, to)`, oldest first.
    pub fn series(
        &self,
        device: K,
        register: u8,
        level: Level,
        (from, to): (u64, u64),
    ) -> Vec<Aggregate> {
        let mut out: Vec<Aggregate> = self
            .rows()
            .filter(|(k, _)| {
                k.device == device
                    && k.register == register
                    && k.level == level
                    && (from..to).contains(&k.bucket_ms)
            })
            .map(|(_, a)| a)
            .collect();
        out.sort_by_key(|a| a.bucket_ms);
        out
    }
}

/// Stored rollup rows of one series with the not-yet-stored part folded in
/// (both oldest first), as storing it would.
pub fn overlay(stored: Vec<Aggregate>, open: &[Aggregate], level: Level) -> Vec<Aggregate> {
    let mut rows: BTreeMap<u64, Aggregate> = stored.into_iter().map(|a| (a.bucket_ms, a)).collect();
    for a in open {
        rows.entry(a.bucket_ms)
            .and_modify(|s| *s = s.merged(a, level))
            .or_insert(*a);
    }
    rows.into_values().collect()
}

/// The rollups a backend's writer keeps in memory between flushes, shared
/// with its readers: what batches committed since the last flush, and the
/// watermark that flush stored with its rows (the last raw block it rolled up).
///
/// A reader reads the stored rows and the stored watermark in one snapshot,
/// then asks [`OpenRollups::unflushed`] with that watermark: the memory is
/// folded in only when it starts exactly where the snapshot ends.
pub struct OpenRollups<K> {
    inner: std::sync::Mutex<(i64, RollupDelta<K>)>,
}

impl<K: Copy + Eq + Hash> OpenRollups<K> {
    /// Nothing open yet, everything up to `watermark` stored.
    pub fn new(max_gap_ms: u64, watermark: i64) -> Self {
        Self {
            inner: std::sync::Mutex::new((watermark, RollupDelta::new(max_gap_ms))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (i64, RollupDelta<K>)> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a committed batch's rollups.
    pub fn absorb(&self, delta: &RollupDelta<K>) {
        self.lock().1.absorb(delta);
    }

    /// The watermark of the last flush.
    pub fn watermark(&self) -> i64 {
        self.lock().0
    }

    /// What the next flush stores (empty when nothing is open).
    pub fn rows(&self) -> Vec<(RollupKey<K>, Aggregate)> {
        self.lock().1.rows().collect()
    }

    /// Records a committed flush of everything open, up to `watermark`.
    pub fn flushed(&self, watermark: i64) {
        let mut inner = self.lock();
        let gap = inner.1.max_gap_ms;
        *inner = (watermark, RollupDelta::new(gap));
    }

    /// Drops a removed device's open buckets.
    pub fn forget(&self, device: K) {
        self.lock().1.forget(device);
    }

    /// The open part of one series for a reader whose snapshot holds the
    /// rows stored up to `watermark`: `None` when a flush committed after
    /// that snapshot (read again), empty when the snapshot already holds it all.
    pub fn unflushed(
        &self,
        watermark: i64,
        device: K,
        register: u8,
        level: Level,
        range: (u64, u64),
    ) -> Option<Vec<Aggregate>> {
        let inner = self.lock();
        match inner.0.cmp(&watermark) {
            std::cmp::Ordering::Equal => Some(inner.1.series(device, register, level, range)),
            // The flush committed; its memory is about to be cleared.
            std::cmp::Ordering::Less => Some(Vec::new()),
            std::cmp::Ordering::Greater => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(delta: &RollupDelta<i64>, register: u8, level: Level) -> Vec<Aggregate> {
        let mut out: Vec<Aggregate> = delta
            .rows()
            .filter(|(k, _)| k.register == register && k.level == level)
            .map(|(_, a)| a)
            .collect();
        out.sort_by_key(|a| a.bucket_ms);
        out
    }

    #[test]
    fn integrates_across_uploads_and_splits_at_edges() {
        let mut tails = RollupTails::default();
        let mut delta = RollupDelta::new(120_000);
        // Pac (id 9) 100 W at 4:00 and 6:00 (two uploads): the segment
        // crosses the 5:00 edge; Vac1 (id 0) once.
        delta.add(
            1,
            &mut tails,
            crate::readings::profile(),
            240_000,
            &[(9, 100), (0, 2300)],
        );
        let stored = RollupTails::from_bytes(&tails.to_bytes());
        assert_eq!(stored, tails);
        let mut tails = stored;
        delta.add(
            1,
            &mut tails,
            crate::readings::profile(),
            360_000,
            &[(9, 100)],
        );
        let five = rows(&delta, 9, Level::Minutes5);
        assert_eq!(five.len(), 2);
        assert_eq!(
            (five[0].count, five[0].area, five[0].covered_ms),
            (1, 6000.0, 60_000)
        );
        assert_eq!(
            (five[1].count, five[1].area, five[1].covered_ms),
            (1, 6000.0, 60_000)
        );
        let hour = rows(&delta, 9, Level::Hour);
        assert_eq!(
            (hour[0].count, hour[0].area, hour[0].first_t_ms),
            (2, 12_000.0, 240_000)
        );
        let vac = rows(&delta, 0, Level::Day);
        assert_eq!((vac[0].count, vac[0].last), (1, 230.0));
        // A gap longer than the limit and a late sample are not integrated.
        delta.add(
            1,
            &mut tails,
            crate::readings::profile(),
            900_000,
            &[(9, 100)],
        );
        delta.add(
            1,
            &mut tails,
            crate::readings::profile(),
            100_000,
            &[(9, 50)],
        );
        let hour = rows(&delta, 9, Level::Hour);
        assert_eq!(
            (hour[0].count, hour[0].area, hour[0].min),
            (4, 12_000.0, 50.0)
        );
    }

    #[test]
    fn merging_adds_and_caps_coverage() {
        let mut tails = RollupTails::default();
        let mut delta = RollupDelta::new(600_000);
        delta.add(1, &mut tails, crate::readings::profile(), 0, &[(9, 10)]);
        delta.add(
            1,
            &mut tails,
            crate::readings::profile(),
            300_000,
            &[(9, 10)],
        );
        let a = rows(&delta, 9, Level::Minutes5)[0];
        let merged = a.merged(&a, Level::Minutes5);
        assert_eq!(
            (merged.count, merged.sum, merged.covered_ms),
            (2, 20.0, AGGREGATE_MS)
        );
        assert_eq!(Level::tiling(&[0, 3_600_000, 7_200_000]), Some(Level::Hour));
        assert_eq!(Level::tiling(&[0, 86_400_000]), Some(Level::Day));
        assert_eq!(Level::tiling(&[60_000]), None);
    }
}
