//! The decision of one rule on one value: raise, clear, or keep as is.

use solarwire_core::registers::{Profile, Severity};

use crate::store::alerts::{NewRule, RuleKind};

/// What a rule remembers about one device between samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Track {
    /// The previous value and its time (`step`).
    pub previous: Option<(u64, f64)>,
    /// Since when the value has not changed, and the value (`stuck`).
    pub unchanged_since: Option<(u64, f64)>,
}

/// A rule's verdict on a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The condition holds: an alert should be open.
    Raise {
        /// The value that raised it.
        value: f64,
        /// What happened, for people.
        message: String,
    },
    /// The condition does not hold: an open alert closes.
    Clear,
    /// Not decided yet (a `stuck` window still running).
    Keep,
}

/// Judges `value` at `t_ms` of a register with `unit` against `rule`.
pub fn judge(rule: &NewRule, track: &mut Track, t_ms: u64, value: f64, unit: &str) -> Verdict {
    let threshold = rule.threshold.unwrap_or(0.0);
    let raise = |message: String| Verdict::Raise { value, message };
    match rule.kind {
        RuleKind::Min if value < threshold => {
            raise(format!("{value}{unit} below {threshold}{unit}"))
        }
        RuleKind::Max if value > threshold => {
            raise(format!("{value}{unit} above {threshold}{unit}"))
        }
        RuleKind::Min | RuleKind::Max => Verdict::Clear,
        RuleKind::Step => {
            let previous = track.previous.replace((t_ms, value));
            match previous {
                Some((t0, before)) if t_ms > t0 && (value - before).abs() > threshold => {
                    raise(format!(
                        "jumped from {before}{unit} to {value}{unit} (more than {threshold}{unit})"
                    ))
                }
                Some(_) => Verdict::Clear,
                None => Verdict::Keep,
            }
        }
        RuleKind::Stuck => {
            let window_ms = u64::from(rule.window_s.unwrap_or(0)) * 1000;
            match track.unchanged_since {
                Some((since, v)) if v == value && t_ms >= since => {
                    if t_ms - since >= window_ms {
                        raise(format!(
                            "stuck at {value}{unit} for {} s",
                            (t_ms - since) / 1000
                        ))
                    } else {
                        Verdict::Keep
                    }
                }
                _ => {
                    track.unchanged_since = Some((t_ms, value));
                    Verdict::Clear
                }
            }
        }
        RuleKind::Offline | RuleKind::Status => Verdict::Keep,
    }
}

/// Judges one sample's status words (read with the device's `profile`):
/// raised while a bit meaning more than a state is set, naming each
/// (`FaultStatus1 fault: DC overvoltage`), cleared when none is.
pub fn judge_status(profile: &Profile, registers: &[(u8, u16)]) -> Verdict {
    let set: Vec<String> = registers
        .iter()
        .filter_map(|&(id, raw)| Some((profile.by_id(id)?, raw)))
        .flat_map(|(r, raw)| {
            r.active_bits(raw)
                .filter(|b| b.severity > Severity::Info)
                .map(move |b| format!("{} {}: {}", r.name, b.severity.code(), b.name))
        })
        .collect();
    if set.is_empty() {
        Verdict::Clear
    } else {
        Verdict::Raise {
            value: set.len() as f64,
            message: set.join("; "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: RuleKind, threshold: Option<f64>, window_s: Option<u32>) -> NewRule {
        NewRule {
            name: "r".into(),
            device_id: None,
            kind,
            register: Some(7),
            threshold,
            window_s,
        }
    }

    fn raised(v: &Verdict) -> bool {
        matches!(v, Verdict::Raise { .. })
    }

    #[test]
    fn limits_steps_and_stuck_values() {
        let mut t = Track::default();
        let max = rule(RuleKind::Max, Some(70.0), None);
        assert!(raised(&judge(&max, &mut t, 0, 71.0, "°C")));
        assert_eq!(judge(&max, &mut t, 1, 70.0, "°C"), Verdict::Clear);
        let min = rule(RuleKind::Min, Some(200.0), None);
        assert!(raised(&judge(&min, &mut t, 0, 199.9, "V")));

        let step = rule(RuleKind::Step, Some(500.0), None);
        let mut t = Track::default();
        assert_eq!(judge(&step, &mut t, 0, 1000.0, "W"), Verdict::Keep);
        assert_eq!(judge(&step, &mut t, 5, 1400.0, "W"), Verdict::Clear);
        assert!(raised(&judge(&step, &mut t, 10, 100.0, "W")));

        let stuck = rule(RuleKind::Stuck, None, Some(60));
        let mut t = Track::default();
        assert_eq!(judge(&stuck, &mut t, 0, 5.0, "A"), Verdict::Clear);
        assert_eq!(judge(&stuck, &mut t, 30_000, 5.0, "A"), Verdict::Keep);
        assert!(raised(&judge(&stuck, &mut t, 60_000, 5.0, "A")));
        assert_eq!(judge(&stuck, &mut t, 65_000, 5.1, "A"), Verdict::Clear);
    }
}
