//! Sample times (F13).
//!
//! The device dates a packet by its **last** sample's Unix milliseconds
//! truncated to a u32, and the upload by Unix seconds (or seconds since boot
//! when NTP never synced). The full time of the last sample is the value
//! congruent to the packet's timestamp modulo 2^32 that is closest to, and
//! not after, the upload time; sample `j` of `n` is `interval` earlier per
//! step. Nothing more precise is on the wire.

/// Upload timestamps below this (2017-07-14) mean the device clock never synced.
const SYNCED_AFTER_S: u64 = 1_500_000_000;

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

    /// The time of sample `j` of `n` (oldest first).
    pub fn sample_ms(&self, last_ms: u64, j: usize, n: usize) -> Option<u64> {
        let steps = u64::try_from(n.checked_sub(j)?.checked_sub(1)?).ok()?;
        last_ms.checked_sub(steps.checked_mul(u64::from(self.interval_s) * 1000)?)
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
}
