//! Counting a simulation's outcomes and summarising them.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// What one upload attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// 200: stored (or a duplicate of a stored upload).
    Acked { upload_id: i64, duplicate: bool },
    /// An HTTP error answer, by its error code.
    Rejected(String),
    /// No answer (connection refused, reset, timeout).
    Transport(String),
}

/// Running counts.
#[derive(Debug, Clone, Default)]
pub(super) struct Tally {
    sent: u64,
    acked: u64,
    duplicates: u64,
    rejected: BTreeMap<String, u64>,
    latencies_us: Vec<u64>,
}

impl Tally {
    pub(super) fn add(&mut self, outcome: &Outcome, latency: Option<Duration>) {
        self.sent += 1;
        match outcome {
            Outcome::Acked { duplicate, .. } => {
                self.acked += 1;
                self.duplicates += u64::from(*duplicate);
            }
            Outcome::Rejected(code) | Outcome::Transport(code) => {
                *self.rejected.entry(code.clone()).or_default() += 1;
            }
        }
        if let Some(l) = latency {
            self.latencies_us
                .push(u64::try_from(l.as_micros()).unwrap_or(u64::MAX));
        }
    }

    pub(super) fn progress_message(&self) -> String {
        let rejected: u64 = self.rejected.values().sum();
        format!("acked {} rejected {rejected}", self.acked)
    }

    pub(super) fn summary(mut self, elapsed: Duration) -> Summary {
        self.latencies_us.sort_unstable();
        let pct = |p: f64| {
            let n = self.latencies_us.len();
            (n > 0).then(|| {
                let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
                self.latencies_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
            })
        };
        Summary {
            sent: self.sent,
            acked: self.acked,
            duplicates: self.duplicates,
            rejected: self.rejected.clone(),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            seconds: elapsed.as_secs_f64(),
            acked_per_second: self.acked as f64 / elapsed.as_secs_f64().max(1e-9),
            management: None,
            generic: None,
        }
    }
}

/// The result of a simulation run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Upload attempts.
    pub sent: u64,
    /// Answered 200.
    pub acked: u64,
    /// Of those, answered as duplicates.
    pub duplicates: u64,
    /// Refused or failed attempts by reason (error code, `http_NNN`, `connect`, `timeout`).
    pub rejected: BTreeMap<String, u64>,
    /// Median latency of answered attempts.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency of answered attempts.
    pub p99_ms: Option<f64>,
    /// Wall time of the run.
    pub seconds: f64,
    /// Acknowledged uploads per second.
    pub acked_per_second: f64,
    /// What the management pollers did (absent with `--no-pollers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub management: Option<super::ManagementSummary>,
    /// What the generic devices did (with `--generic N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generic: Option<super::GenericSummary>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sent {} uploads in {:.1} s: acked {} ({} duplicate), {:.0} acked/s",
            self.sent, self.seconds, self.acked, self.duplicates, self.acked_per_second
        )?;
        if self.rejected.is_empty() {
            writeln!(f, "rejected: none")?;
        } else {
            let parts: Vec<String> = self
                .rejected
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(f, "rejected: {}", parts.join(", "))?;
        }
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2} ms"));
        write!(
            f,
            "latency: p50 {}, p99 {}",
            ms(self.p50_ms),
            ms(self.p99_ms)
        )?;
        if let Some(m) = &self.management {
            write!(f, "\n{m}")?;
        }
        match &self.generic {
            Some(g) => write!(f, "\n{g}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_reasons() {
        let mut t = Tally::default();
        for i in 1..=100u64 {
            let outcome = if i % 10 == 0 {
                Outcome::Rejected("replay".into())
            } else {
                Outcome::Acked {
                    upload_id: i as i64,
                    duplicate: i == 1,
                }
            };
            t.add(&outcome, Some(Duration::from_millis(i)));
        }
        t.add(&Outcome::Transport("connect".into()), None);
        let s = t.summary(Duration::from_secs(1));
        assert_eq!((s.sent, s.acked, s.duplicates), (101, 90, 1));
        assert_eq!(s.rejected["replay"], 10);
        assert_eq!(s.rejected["connect"], 1);
        assert_eq!(s.p50_ms, Some(50.0));
        assert_eq!(s.p99_ms, Some(99.0));
    }
}
