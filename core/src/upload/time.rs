//! Sample times (F13).
//!
//! The device dates a packet by its **last** sample's Unix milliseconds
//! truncated to a u32, and the upload by Unix seconds (or seconds since boot
//! when NTP never synced). The full time of the last sample is the value
//! congruent to the packet's timestamp modulo 2^32 that is closest to, and
//! not after, the upload time; sample `j` of `n` is `interval` earlier per
//! step. Nothing more precise is on the wire.

use super::UploadError;

/// Upload timestamps below this (2017-07-14) mean the device clock never synced.
const SYNCED_AFTER_S: u64 = 1_500_000_000;

/// How far a packet timestamp read as seconds may lie from the upload's
/// seconds, and how old the same value read as milliseconds must date the
/// packet, for it to count as written in seconds.
const SECONDS_STAMP_SLACK_S: u64 = 3600;

/// The inputs for dating one packet's samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketClock {
    /// The packet's `decompression_metadata.timestamp`.
    pub last_sample_ms_mod32: u32,
    /// The upload's top-level `timestamp` (seconds).
    pub upload_s: u64,
    /// The upload's `sampling_interval` (seconds).
    pub interval_s: u32,
}

impl PacketClock {
    /// The Unix time (ms) of the packet's last sample.
    ///
    /// With an unsynced device clock (upload time before 2017) the rule
    /// yields times since boot; given `received_ms` (the receiver's clock)
    /// they are anchored there instead, keeping each sample's age.
    pub fn last_sample_ms(&self, received_ms: Option<u64>) -> Option<u64> {
        let reference = self.upload_s.checked_mul(1000)?;
        let back = reference.wrapping_sub(u64::from(self.last_sample_ms_mod32)) & 0xFFFF_FFFF;
        let last = reference.checked_sub(back)?;
        match received_ms {
            Some(now) if self.upload_s < SYNCED_AFTER_S => now.checked_sub(back),
            _ => Some(last),
        }
    }

    /// Whether the device clock was synced (the upload time is Unix time,
    /// not time since boot).
    pub fn synced(&self) -> bool {
        self.upload_s >= SYNCED_AFTER_S
    }

    /// Whether the packet timestamp was plainly written in seconds instead
    /// of milliseconds: read as seconds it is within an hour of the upload
    /// time, read as milliseconds it dates the packet more than an hour
    /// back. A genuine millisecond stamp of a fresh packet never passes both.
    pub fn stamped_in_seconds(&self) -> bool {
        let as_seconds = u64::from(self.last_sample_ms_mod32);
        let reference_ms = self.upload_s.saturating_mul(1000);
        let back_ms = reference_ms.wrapping_sub(as_seconds) & 0xFFFF_FFFF;
        self.synced()
            && self.upload_s.abs_diff(as_seconds) <= SECONDS_STAMP_SLACK_S
            && back_ms > SECONDS_STAMP_SLACK_S * 1000
    }

    /// The time of sample `j` of `n` (oldest first).
    pub fn sample_ms(&self, last_ms: u64, j: usize, n: usize) -> Option<u64> {
        let steps = u64::try_from(n.checked_sub(j)?.checked_sub(1)?).ok()?;
        last_ms.checked_sub(steps.checked_mul(u64::from(self.interval_s) * 1000)?)
    }
}

/// The accepted range of sample times around the receiver's clock: not
/// more than `max_ahead_ms` after it, not more than `max_age_ms` before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// How far a sample may lie ahead of the receive time.
    pub max_ahead_ms: u64,
    /// How far a sample may lie before the receive time.
    pub max_age_ms: u64,
}

impl TimeWindow {
    /// Checks a packet's oldest and newest sample time against `received_ms`.
    ///
    /// # Errors
    /// `time_out_of_window` when either lies outside.
    pub fn check(
        &self,
        oldest_ms: u64,
        newest_ms: u64,
        received_ms: u64,
    ) -> Result<(), UploadError> {
        let ahead = newest_ms.saturating_sub(received_ms);
        let age = received_ms.saturating_sub(oldest_ms);
        if ahead > self.max_ahead_ms || age > self.max_age_ms {
            return Err(UploadError::TimeOutOfWindow {
                ahead_ms: ahead,
                age_ms: age,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_full_time() {
        // 2025-11-23T08:00:00Z = 1763884800 s; last sample 2 s before upload.
        let full: u64 = 1_763_884_798_000;
        let clock = PacketClock {
            last_sample_ms_mod32: (full & 0xFFFF_FFFF) as u32,
            upload_s: 1_763_884_800,
            interval_s: 5,
        };
        let last = clock.last_sample_ms(None).unwrap();
        assert_eq!(last, full);
        assert_eq!(clock.sample_ms(last, 0, 3), Some(full - 10_000));
    }

    #[test]
    fn unsynced_clock_is_anchored_at_receive_time() {
        let clock = PacketClock {
            last_sample_ms_mod32: 118_000,
            upload_s: 120,
            interval_s: 5,
        };
        assert_eq!(
            clock.last_sample_ms(None),
            Some(118_000),
            "the spec's rule, relative to boot"
        );
        assert_eq!(
            clock.last_sample_ms(Some(1_000_000_000_000)),
            Some(999_999_998_000)
        );
    }

    #[test]
    fn a_seconds_stamp_is_recognised() {
        let upload_s = 1_763_884_800;
        let in_seconds = PacketClock {
            last_sample_ms_mod32: (upload_s - 2) as u32,
            upload_s,
            interval_s: 5,
        };
        assert!(in_seconds.stamped_in_seconds());
        let in_ms = PacketClock {
            last_sample_ms_mod32: ((upload_s * 1000 - 2000) & 0xFFFF_FFFF) as u32,
            ..in_seconds
        };
        assert!(!in_ms.stamped_in_seconds());
        let unsynced = PacketClock {
            last_sample_ms_mod32: 118,
            upload_s: 120,
            interval_s: 5,
        };
        assert!(!unsynced.stamped_in_seconds());
    }

    #[test]
    fn the_window_bounds_both_ends() {
        let w = TimeWindow {
            max_ahead_ms: 300_000,
            max_age_ms: 1_000_000,
        };
        assert_eq!(w.check(9_000_000, 10_300_000, 10_000_000), Ok(()));
        assert!(w.check(9_000_000, 10_300_001, 10_000_000).is_err());
        assert!(w.check(8_999_999, 10_000_000, 10_000_000).is_err());
    }
}
