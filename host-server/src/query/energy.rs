//! Energy per calendar bucket, integrated from AC power (W) with
//! trapezoids, with the time each bucket misses stated explicitly.

use serde::Serialize;
use utoipa::ToSchema;

use super::buckets::{Bucket, Point, accumulate, bucket_of};
use super::calendar::Calendar;
use crate::store::telemetry::{AGGREGATE_MS, Aggregate};

/// One calendar bucket's energy.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EnergyBucket {
    /// `14:00`, `2026-05-14` or `2026-05`.
    pub label: String,
    /// Start, Unix ms.
    pub start_ms: u64,
    /// End (exclusive), Unix ms.
    pub end_ms: u64,
    /// Energy in watt-hours over the covered time.
    pub energy_wh: f64,
    /// Time with data, seconds.
    pub covered_s: u64,
    /// Time without data, seconds: of the part of the bucket that has
    /// passed since the device existed (see [`Window`]).
    pub missing_s: u64,
    /// Whether the bucket has passed and has no missing time.
    pub complete: bool,
}

/// The time in which data could exist: from the device's registration (or
/// the 5-minute bucket of its first data, if earlier, so the answer is the
/// same once retention has rolled raw samples into aggregates) until now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// When the device was registered, Unix ms.
    pub registered_ms: u64,
    /// Unix ms.
    pub now_ms: u64,
}

/// Integrates power points and stored aggregates into `calendar`'s buckets.
pub fn energy(
    calendar: &Calendar,
    power: &[Point],
    aggregates: &[Aggregate],
    max_gap_ms: u64,
    window: Window,
) -> Vec<EnergyBucket> {
    let Window {
        registered_ms,
        now_ms,
    } = window;
    let first_data = power
        .iter()
        .map(|p| p.t_ms)
        .chain(
            aggregates
                .iter()
                .filter(|a| a.count > 0)
                .map(|a| a.first_t_ms),
        )
        .min();
    let since_ms = first_data.map_or(registered_ms, |t| t.min(registered_ms));
    let since_ms = since_ms - since_ms % AGGREGATE_MS;
    let edges = &calendar.edges;
    let mut buckets = vec![Bucket::default(); edges.len().saturating_sub(1)];
    accumulate(edges, power, max_gap_ms, &mut buckets);
    for a in aggregates {
        if let Some(b) = bucket_of(edges, a.bucket_ms).and_then(|i| buckets.get_mut(i)) {
            b.merge(a);
        }
    }
    buckets
        .iter()
        .zip(edges.windows(2))
        .zip(&calendar.labels)
        .map(|((b, w), label)| {
            let (start, end) = (w[0], w[1]);
            let passed = end.min(now_ms).saturating_sub(start.max(since_ms));
            let covered = b.covered_ms.min(end - start);
            let missing = passed.saturating_sub(covered);
            EnergyBucket {
                label: label.clone(),
                start_ms: start,
                end_ms: end,
                energy_wh: b.area / 3600.0,
                covered_s: covered / 1000,
                missing_s: missing / 1000,
                complete: end <= now_ms && missing == 0,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_counts_watt_hours_and_states_missing_time() {
        let calendar = Calendar {
            edges: vec![0, 3_600_000, 7_200_000, 10_800_000],
            labels: vec!["00:00".into(), "01:00".into(), "02:00".into()],
            label: "day".into(),
        };
        // 1 kW for the whole first hour (a sample every minute), nothing after.
        let power: Vec<Point> = (0..=60)
            .map(|m| Point {
                t_ms: m * 60_000,
                value: 1000.0,
            })
            .collect();
        // The third hour comes from a stored aggregate: 5 minutes at 600 W.
        let old = Aggregate {
            bucket_ms: 7_200_000,
            count: 60,
            sum: 36_000.0,
            min: 600.0,
            max: 600.0,
            last: 600.0,
            last_t_ms: 7_500_000,
            first_t_ms: 7_200_000,
            area: 600.0 * 300.0,
            covered_ms: 300_000,
        };
        let window = Window {
            registered_ms: 0,
            now_ms: 9_000_000,
        };
        let e = energy(&calendar, &power, &[old], 120_000, window);
        assert_eq!(e[0].energy_wh, 1000.0);
        assert!(e[0].complete);
        assert_eq!(
            (e[1].energy_wh, e[1].covered_s, e[1].missing_s),
            (0.0, 0, 3600)
        );
        assert_eq!(e[2].energy_wh, 50.0);
        assert_eq!(e[2].covered_s, 300);
        assert_eq!(e[2].missing_s, 1800 - 300, "only the time that has passed");
        assert!(!e[2].complete);
    }

    #[test]
    fn time_before_the_device_existed_is_not_missing() {
        let calendar = Calendar {
            edges: vec![0, 3_600_000, 7_200_000],
            labels: vec!["00:00".into(), "01:00".into()],
            label: "day".into(),
        };
        // Registered at 01:30, one sample since: an hour and a half is not
        // missing, the half hour since registration is.
        let window = Window {
            registered_ms: 5_400_000,
            now_ms: 7_200_000,
        };
        let power = [Point {
            t_ms: 6_000_000,
            value: 500.0,
        }];
        let e = energy(&calendar, &power, &[], 120_000, window);
        assert_eq!((e[0].missing_s, e[0].energy_wh), (0, 0.0));
        assert_eq!(e[1].missing_s, 1800);
    }
}
