//! Telemetry and rollups: stored samples, register points, 5-minute
//! aggregates and retention, with the roll-up arithmetic every backend uses.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use serde::Serialize;

use super::{HistoryQuery, StoreError, StoredSample};
use crate::query::buckets::{Bucket, Point, accumulate, aligned_edges};

/// Length of a stored aggregate bucket: 5 minutes.
pub const AGGREGATE_MS: u64 = 5 * 60 * 1000;

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
            area: b.area,
            covered_ms: b.covered_ms,
        }
    }

    /// Folds in a later roll-up of the same bucket (samples that arrived
    /// late); the covered time never exceeds the bucket.
    #[must_use]
    pub fn merged(self, later: &Self) -> Self {
        let mut b = Bucket::default();
        b.merge(&self);
        b.merge(later);
        let mut out = Self::from_bucket(self.bucket_ms, &b);
        out.covered_ms = out.covered_ms.min(AGGREGATE_MS);
        out
    }
}

/// What one retention step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionStep {
    /// 5-minute aggregates written or merged.
    pub aggregated: u64,
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
    /// 5-minute aggregates of one register with buckets in `[from, to)`.
    fn aggregates(
        &self,
        device: &str,
        register: u8,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, Result<Vec<Aggregate>, StoreError>>;
    /// Rolls raw samples older than `raw_before_ms` into 5-minute aggregates
    /// and deletes them (one bounded step), then deletes aggregates older
    /// than `aggregates_before_ms`.
    fn retention_step(
        &self,
        raw_before_ms: u64,
        aggregates_before_ms: u64,
        max_gap_ms: u64,
    ) -> BoxFuture<'_, Result<RetentionStep, StoreError>>;
}

/// Rolls samples (sorted by time; those before `start` only join the first
/// segment) into 5-minute aggregates of `[start, end)` per register, with
/// the integral energy needs; segments longer than `max_gap_ms` are holes.
pub fn roll_up<'a>(
    samples: impl IntoIterator<Item = (u64, &'a [(u8, u16)])>,
    (start, end): (u64, u64),
    max_gap_ms: u64,
) -> Vec<(u8, Aggregate)> {
    let profile = crate::readings::profile();
    let mut series: BTreeMap<u8, Vec<Point>> = BTreeMap::new();
    for (t_ms, registers) in samples {
        for &(id, raw) in registers {
            let value = profile
                .by_id(id)
                .and_then(|r| crate::readings::value(r, raw));
            if let Some(value) = value {
                series.entry(id).or_default().push(Point { t_ms, value });
            }
        }
    }
    let edges = aligned_edges(start, end, AGGREGATE_MS);
    let mut out = Vec::new();
    for (register, points) in &series {
        let mut buckets = vec![Bucket::default(); edges.len() - 1];
        accumulate(&edges, points, max_gap_ms, &mut buckets);
        out.extend(
            buckets
                .iter()
                .zip(&edges)
                .filter(|(b, _)| b.count > 0)
                .map(|(b, &bucket_ms)| (*register, Aggregate::from_bucket(bucket_ms, b))),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolls_up_per_register_and_merges_late_samples() {
        // Pac (id 9) at 100 W for one minute, Vac1 (id 0) once.
        let a: &[(u8, u16)] = &[(9, 100), (0, 2300)];
        let b: &[(u8, u16)] = &[(9, 100)];
        let rows = roll_up([(0, a), (60_000, b)], (0, AGGREGATE_MS), 120_000);
        let pac = rows.iter().find(|(r, _)| *r == 9).expect("Pac").1;
        assert_eq!((pac.count, pac.sum, pac.area), (2, 200.0, 6000.0));
        assert_eq!(pac.covered_ms, 60_000);
        let vac = rows.iter().find(|(r, _)| *r == 0).expect("Vac1").1;
        assert_eq!((vac.count, vac.last), (1, 230.0));
        let late = roll_up([(240_000, b)], (0, AGGREGATE_MS), 120_000)[0].1;
        let merged = pac.merged(&late);
        assert_eq!(
            (merged.count, merged.last_t_ms, merged.max),
            (3, 240_000, 100.0)
        );
        let full = Aggregate {
            covered_ms: AGGREGATE_MS,
            ..pac
        };
        assert_eq!(full.merged(&full).covered_ms, AGGREGATE_MS);
    }
}
