//! Time buckets: count, sum, min, max, last, and the trapezoid integral of a
//! value over time, split exactly at bucket edges.
//!
//! Two consecutive samples further apart than `max_gap_ms` are not joined:
//! the time between them counts as missing, never as produced energy.

use crate::store::telemetry::Aggregate;

/// A converted value at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix ms.
    pub t_ms: u64,
    /// The value in engineering units.
    pub value: f64,
}

/// What one bucket holds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bucket {
    /// Samples.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Smallest (meaningless when `count` is 0).
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// The latest value.
    pub last: f64,
    /// Its time.
    pub last_t_ms: u64,
    /// The earliest sample's time.
    pub first_t_ms: u64,
    /// Integral of the value over the bucket, value × seconds.
    pub area: f64,
    /// Time covered by the integral, ms.
    pub covered_ms: u64,
}

impl Bucket {
    /// Counts one sample.
    pub fn add(&mut self, t_ms: u64, value: f64) {
        if self.count == 0 {
            self.min = value;
            self.max = value;
            self.first_t_ms = t_ms;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
            self.first_t_ms = self.first_t_ms.min(t_ms);
        }
        self.count += 1;
        self.sum += value;
        if self.count == 1 || t_ms >= self.last_t_ms {
            self.last = value;
            self.last_t_ms = t_ms;
        }
    }

    /// Folds in a stored 5-minute aggregate.
    pub fn merge(&mut self, a: &Aggregate) {
        // A segment may pass through a bucket without a sample in it.
        self.area += a.area;
        self.covered_ms += a.covered_ms;
        if a.count == 0 {
            return;
        }
        if self.count == 0 {
            self.min = a.min;
            self.max = a.max;
        } else {
            self.min = self.min.min(a.min);
            self.max = self.max.max(a.max);
        }
        if self.count == 0 || a.last_t_ms >= self.last_t_ms {
            self.last = a.last;
            self.last_t_ms = a.last_t_ms;
        }
        self.first_t_ms = if self.count == 0 {
            a.first_t_ms
        } else {
            self.first_t_ms.min(a.first_t_ms)
        };
        self.count += a.count;
        self.sum += a.sum;
    }

    /// The mean of the samples, when there are any.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// The bucket `t_ms` falls in: `edges[i] <= t < edges[i + 1]`.
pub fn bucket_of(edges: &[u64], t_ms: u64) -> Option<usize> {
    let i = edges.partition_point(|&e| e <= t_ms).checked_sub(1)?;
    (i + 1 < edges.len()).then_some(i)
}

/// Adds `points` (sorted by time) into `buckets` (one fewer than `edges`).
/// Points before the first edge only serve as the left end of a segment.
pub fn accumulate(edges: &[u64], points: &[Point], max_gap_ms: u64, buckets: &mut [Bucket]) {
    let (Some(&start), Some(&end)) = (edges.first(), edges.last()) else {
        return;
    };
    for p in points {
        if let Some(b) = bucket_of(edges, p.t_ms).and_then(|i| buckets.get_mut(i)) {
            b.add(p.t_ms, p.value);
        }
    }
    for pair in points.windows(2) {
        let [p, q] = pair else { continue };
        if q.t_ms <= p.t_ms || q.t_ms - p.t_ms > max_gap_ms {
            continue;
        }
        let (mut a, b) = (p.t_ms.max(start), q.t_ms.min(end));
        while a < b {
            let Some(i) = bucket_of(edges, a) else { break };
            let stop = b.min(edges[i + 1]);
            if let Some(bucket) = buckets.get_mut(i) {
                bucket.area += trapezoid(p, q, a, stop);
                bucket.covered_ms += stop - a;
            }
            a = stop;
        }
    }
}

/// The integral (value × seconds) over `[a, b]` of the line from `p` to `q`
/// (`p.t_ms <= a <= b <= q.t_ms`, `p.t_ms < q.t_ms`).
pub fn trapezoid(p: &Point, q: &Point, a: u64, b: u64) -> f64 {
    let at =
        |t: u64| p.value + (q.value - p.value) * (t - p.t_ms) as f64 / (q.t_ms - p.t_ms) as f64;
    (at(a) + at(b)) / 2.0 * (b - a) as f64 / 1000.0
}

/// Edges every `step_ms` from `from_ms` rounded down to `to_ms` rounded up.
pub fn aligned_edges(from_ms: u64, to_ms: u64, step_ms: u64) -> Vec<u64> {
    let step = step_ms.max(1);
    let first = from_ms - from_ms % step;
    let mut edges = vec![first];
    let mut t = first;
    while t < to_ms {
        t += step;
        edges.push(t);
    }
    if edges.len() == 1 {
        edges.push(first + step);
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t_s: u64, value: f64) -> Point {
        Point {
            t_ms: t_s * 1000,
            value,
        }
    }

    #[test]
    fn integrates_trapezoids_split_at_edges() {
        // 0 → 100 W over 0..10 s, then 100 W flat to 20 s; buckets of 5 s.
        let edges = aligned_edges(0, 20_000, 5_000);
        let mut b = vec![Bucket::default(); edges.len() - 1];
        accumulate(
            &edges,
            &[p(0, 0.0), p(10, 100.0), p(20, 100.0)],
            60_000,
            &mut b,
        );
        let areas: Vec<f64> = b.iter().map(|b| b.area).collect();
        assert_eq!(areas, vec![125.0, 375.0, 500.0, 500.0]);
        assert!(b.iter().all(|b| b.covered_ms == 5_000));
        assert_eq!((b[0].count, b[1].count, b[2].count), (1, 0, 1));
        assert_eq!(b[2].mean(), Some(100.0));
    }

    #[test]
    fn gaps_are_not_integrated() {
        let edges = aligned_edges(0, 600_000, 300_000);
        let mut b = vec![Bucket::default(); edges.len() - 1];
        // 10 s of data, a 4-minute hole, then 10 s more.
        let points = [p(0, 10.0), p(10, 10.0), p(250, 10.0), p(260, 10.0)];
        accumulate(&edges, &points, 120_000, &mut b);
        assert_eq!(b[0].covered_ms, 20_000);
        assert_eq!(b[0].area, 200.0);
        assert_eq!(
            (b[0].min, b[0].max, b[0].last, b[0].count),
            (10.0, 10.0, 10.0, 4)
        );
    }

    #[test]
    fn a_point_before_the_range_is_only_a_left_end() {
        let edges = aligned_edges(10_000, 20_000, 10_000);
        let mut b = vec![Bucket::default(); 1];
        accumulate(&edges, &[p(0, 0.0), p(20, 20.0)], 60_000, &mut b);
        assert_eq!(b[0].count, 0);
        assert_eq!(b[0].area, 150.0);
        assert_eq!(b[0].covered_ms, 10_000);
    }

    #[test]
    fn edges_align_and_buckets_are_found() {
        assert_eq!(aligned_edges(7, 21, 10), vec![0, 10, 20, 30]);
        assert_eq!(aligned_edges(10, 10, 10), vec![10, 20]);
        let edges = [0, 10, 20];
        assert_eq!(bucket_of(&edges, 0), Some(0));
        assert_eq!(bucket_of(&edges, 19), Some(1));
        assert_eq!(bucket_of(&edges, 20), None);
    }
}
