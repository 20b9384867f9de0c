//! Who is offered which image, and when a rollout pauses itself.

use std::cmp::Ordering;

use sha2::{Digest as _, Sha256};

use crate::store::firmware::{Rollout, RolloutState, RolloutTarget};

/// A device's stable place in the fleet, 0–99: a percentage rollout
/// reaches the devices below its percentage, so raising it only adds devices.
pub fn bucket(device: &str) -> u8 {
    let digest = Sha256::digest(device.as_bytes());
    let n = u16::from_be_bytes([digest[0], digest[1]]);
    (n % 100) as u8
}

/// Most devices a rollout may list.
pub const MAX_DEVICES: usize = 10_000;

/// Checks a rollout's target: `devices` or `percent`, not both.
///
/// # Errors
/// `(code, message)`: `bad_rollout` or `bad_device_id`.
pub fn check_target(
    devices: Option<Vec<String>>,
    percent: Option<u8>,
) -> Result<RolloutTarget, (&'static str, String)> {
    match (devices, percent) {
        (Some(list), None) if !list.is_empty() && list.len() <= MAX_DEVICES => {
            for d in &list {
                crate::device_id::check(d).map_err(|m| ("bad_device_id", format!("{d:?}: {m}")))?;
            }
            Ok(RolloutTarget::Devices(list))
        }
        (None, Some(p)) if p <= 100 => Ok(RolloutTarget::Percent(p)),
        _ => Err((
            "bad_rollout",
            format!("give devices (1–{MAX_DEVICES} ids) or a percent (0–100), not both"),
        )),
    }
}

/// Whether `target` includes `device`.
pub fn targets(target: &RolloutTarget, device: &str) -> bool {
    match target {
        RolloutTarget::Devices(list) => list.iter().any(|d| d == device),
        RolloutTarget::Percent(p) => bucket(device) < *p,
    }
}

/// Orders versions by their numeric parts (`1.10.0` > `1.9.2`, a leading
/// `v` ignored); `None` when either is not dotted numbers.
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    fn parts(v: &str) -> Option<Vec<u64>> {
        let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
        v.split('.').map(|p| p.parse().ok()).collect()
    }
    Some(parts(a)?.cmp(&parts(b)?))
}

/// Whether a device running `current` should move to `candidate`: only
/// upwards when both are dotted numbers (F23: no silent downgrades),
/// otherwise when they differ.
pub fn is_upgrade(candidate: &str, current: Option<&str>) -> bool {
    let Some(current) = current.filter(|c| !c.is_empty()) else {
        return true;
    };
    match compare_versions(candidate, current) {
        Some(order) => order == Ordering::Greater,
        None => candidate != current,
    }
}

/// The rollout to offer `device` (running `current`), newest first in
/// `rollouts`: active, targeting it, an upgrade, and not a version it
/// already failed to verify or rolled back.
pub fn offer<'a>(
    rollouts: &'a [Rollout],
    device: &str,
    current: Option<&str>,
    failed: &[String],
) -> Option<&'a Rollout> {
    rollouts.iter().find(|r| {
        r.state == RolloutState::Active
            && targets(&r.target, device)
            && is_upgrade(&r.version, current)
            && !failed.contains(&r.version)
    })
}

/// Whether `failures` verification failures or rollbacks pause a rollout
/// that allows `max` (0: never).
pub fn pauses(failures: u32, max: u32) -> bool {
    max > 0 && failures >= max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(version: &str, state: RolloutState, target: RolloutTarget) -> Rollout {
        Rollout {
            version: version.into(),
            state,
            target,
            max_failures: 3,
            failures: 0,
            reason: None,
            updated_ms: 0,
        }
    }

    #[test]
    fn percentages_are_stable_and_grow_monotonically() {
        let fleet: Vec<String> = (0..1000).map(|i| format!("ESP32_{i:04}")).collect();
        let at = |p| {
            fleet
                .iter()
                .filter(|d| targets(&RolloutTarget::Percent(p), d))
                .count()
        };
        assert_eq!(at(0), 0);
        assert_eq!(at(100), 1000);
        let quarter = at(25);
        assert!((180..320).contains(&quarter), "{quarter}");
        for d in &fleet {
            if targets(&RolloutTarget::Percent(25), d) {
                assert!(targets(&RolloutTarget::Percent(50), d));
            }
        }
        assert_eq!(bucket("ESP32_0001"), bucket("ESP32_0001"));
    }

    #[test]
    fn versions_only_go_up() {
        assert!(is_upgrade("1.10.0", Some("1.9.2")));
        assert!(!is_upgrade("1.2.0", Some("1.3.0")));
        assert!(!is_upgrade("1.3.0", Some("v1.3.0")));
        assert!(is_upgrade("beta", Some("1.3.0")));
        assert!(!is_upgrade("beta", Some("beta")));
        assert!(is_upgrade("1.0.0", None));
    }

    #[test]
    fn offers_skip_paused_untargeted_and_failed_versions() {
        let list = vec![
            rollout("2.0.0", RolloutState::Paused, RolloutTarget::Percent(100)),
            rollout(
                "1.5.0",
                RolloutState::Active,
                RolloutTarget::Devices(vec!["A".into()]),
            ),
            rollout("1.4.0", RolloutState::Active, RolloutTarget::Percent(100)),
        ];
        assert_eq!(
            offer(&list, "A", Some("1.3"), &[]).unwrap().version,
            "1.5.0"
        );
        assert_eq!(
            offer(&list, "B", Some("1.3"), &[]).unwrap().version,
            "1.4.0"
        );
        assert_eq!(
            offer(&list, "A", Some("1.3"), &["1.5.0".into()])
                .unwrap()
                .version,
            "1.4.0"
        );
        assert!(offer(&list, "B", Some("1.4.0"), &[]).is_none());
        assert!(pauses(3, 3) && !pauses(2, 3) && !pauses(9, 0));
    }
}
