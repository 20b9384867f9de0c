//! Aligned series: one value per `step` bucket (avg, min, max or last),
//! from raw samples and, for old ranges, from 5-minute aggregates.

use serde::Serialize;
use utoipa::ToSchema;

use super::buckets::{Bucket, Point, accumulate, aligned_edges, bucket_of};
use crate::store::telemetry::{Aggregate, Level};

/// Most buckets one series may have.
pub const MAX_BUCKETS: u64 = 10_000;

/// How a bucket's samples become one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Agg {
    /// Mean of the samples.
    Avg,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Latest.
    Last,
}

impl Agg {
    /// Parses `avg`, `min`, `max` or `last`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "avg" => Some(Self::Avg),
            "min" => Some(Self::Min),
            "max" => Some(Self::Max),
            "last" => Some(Self::Last),
            _ => None,
        }
    }

    fn value(self, b: &Bucket) -> Option<f64> {
        (b.count > 0).then(|| match self {
            Self::Avg => b.sum / b.count as f64,
            Self::Min => b.min,
            Self::Max => b.max,
            Self::Last => b.last,
        })
    }
}

/// One bucket of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct SeriesPoint {
    /// Bucket start, Unix ms.
    pub t_ms: u64,
    /// The value (`None`: no samples).
    pub value: Option<f64>,
    /// Samples in the bucket.
    pub count: u64,
}

/// The rollup level that fills buckets of `step_ms` from `from_ms` (aligned
/// to the step) exactly, if any: then a series reads only rollups, at most
/// a few hundred rows for the usual ranges; otherwise raw samples.
pub fn rollup_level(from_ms: u64, step_ms: u64) -> Option<Level> {
    Level::tiling(&[from_ms, step_ms])
}

/// Buckets `[from, to)` by `step_ms` and reduces each with `agg`, from raw
/// points and rollups (each time covered by one or the other).
pub fn series(
    from_ms: u64,
    to_ms: u64,
    step_ms: u64,
    agg: Agg,
    points: &[Point],
    aggregates: &[Aggregate],
) -> Vec<SeriesPoint> {
    let edges = aligned_edges(from_ms, to_ms, step_ms);
    let mut buckets = vec![Bucket::default(); edges.len() - 1];
    accumulate(&edges, points, 0, &mut buckets);
    for a in aggregates {
        if let Some(b) = bucket_of(&edges, a.bucket_ms).and_then(|i| buckets.get_mut(i)) {
            b.merge(a);
        }
    }
    edges
        .iter()
        .zip(&buckets)
        .map(|(&t_ms, b)| SeriesPoint {
            t_ms,
            value: agg.value(b),
            count: b.count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGGREGATE_MS: u64 = crate::store::telemetry::AGGREGATE_MS;

    #[test]
    fn rollups_serve_steps_they_tile() {
        assert_eq!(rollup_level(0, 300_000), Some(Level::Minutes5));
        assert_eq!(rollup_level(3_600_000, 3_600_000), Some(Level::Hour));
        assert_eq!(rollup_level(86_400_000, 7 * 86_400_000), Some(Level::Day));
        assert_eq!(rollup_level(0, 90_000), None);
    }

    #[test]
    fn buckets_reduce_with_each_aggregation() {
        let points: Vec<Point> = [(0, 1.0), (60_000, 3.0), (301_000, 10.0)]
            .iter()
            .map(|&(t_ms, value)| Point { t_ms, value })
            .collect();
        let old = Aggregate {
            bucket_ms: 600_000,
            count: 2,
            sum: 8.0,
            min: 2.0,
            max: 6.0,
            last: 6.0,
            last_t_ms: 650_000,
            first_t_ms: 600_000,
            area: 0.0,
            covered_ms: 0,
        };
        let s = series(0, 900_000, AGGREGATE_MS, Agg::Avg, &points, &[old]);
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].value, s[0].count), (Some(2.0), 2));
        assert_eq!(s[1].value, Some(10.0));
        assert_eq!(s[2].value, Some(4.0));
        let max = series(0, 900_000, AGGREGATE_MS, Agg::Max, &points, &[old]);
        assert_eq!(max[2].value, Some(6.0));
        let last = series(0, 600_000, AGGREGATE_MS, Agg::Last, &points, &[]);
        assert_eq!(last[0].value, Some(3.0));
        let fine = series(0, 120_000, 60_000, Agg::Min, &points, &[]);
        assert_eq!(
            fine.iter().map(|p| p.value).collect::<Vec<_>>(),
            [Some(1.0), Some(3.0)]
        );
        let empty = series(0, 600_000, AGGREGATE_MS, Agg::Avg, &[], &[]);
        assert_eq!(empty[0].value, None);
    }
}
