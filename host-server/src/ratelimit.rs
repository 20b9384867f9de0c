//! Per-device upload rate limits (GCRA through governor), keyed by the
//! authenticated device id so forged uploads cannot spend a device's quota.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Uploads per second and burst per device.
pub struct DeviceLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl DeviceLimiter {
    /// `None` when `per_second` is not positive (limits off).
    pub fn new(per_second: f64, burst: u32) -> Option<Self> {
        if per_second <= 0.0 || !per_second.is_finite() {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / per_second).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::new(burst.max(1))?);
        Some(Self {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        })
    }

    /// `Err(wait)` when the device is over its rate.
    pub fn check(&self, device: &str) -> Result<(), Duration> {
        self.limiter
            .check_key(&device.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets devices whose state is back to full burst (bounds memory).
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_per_device() {
        let limiter = DeviceLimiter::new(1.0, 3).unwrap();
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        let wait = limiter.check("a").unwrap_err();
        assert!(wait <= Duration::from_secs(1));
        assert!(limiter.check("b").is_ok());
        assert!(DeviceLimiter::new(0.0, 3).is_none());
    }
}
