//! Login attempts limited per account and per client address (GCRA), so a
//! password cannot be guessed quickly from one address or across many.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Per-account and per-address login limits.
pub struct LoginLimiter {
    accounts: DefaultKeyedRateLimiter<String>,
    clients: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl LoginLimiter {
    /// `per_minute` attempts per account (twice that per address); `None` when 0.
    pub fn new(per_minute: u32) -> Option<Self> {
        let account = NonZeroU32::new(per_minute)?;
        let client = NonZeroU32::new(per_minute.saturating_mul(2))?;
        Some(Self {
            accounts: RateLimiter::keyed(Quota::per_minute(account)),
            clients: RateLimiter::keyed(Quota::per_minute(client)),
            clock: DefaultClock::default(),
        })
    }

    /// `Err(wait)` when the account or the address is over its limit.
    pub fn check(&self, account: &str, client: Option<IpAddr>) -> Result<(), Duration> {
        let now = self.clock.now();
        if let Some(ip) = client {
            self.clients
                .check_key(&ip)
                .map_err(|n| n.wait_time_from(now))?;
        }
        self.accounts
            .check_key(&account.to_lowercase())
            .map_err(|n| n.wait_time_from(now))
    }

    /// Forgets keys back at full burst (bounds memory against address rotation).
    pub fn prune(&self) {
        self.accounts.retain_recent();
        self.accounts.shrink_to_fit();
        self.clients.retain_recent();
        self.clients.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_accounts_and_addresses() {
        let limiter = LoginLimiter::new(2).unwrap();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(limiter.check("ada", Some(a)).is_ok());
        assert!(limiter.check("ADA", Some(b)).is_ok());
        assert!(limiter.check("ada", Some(b)).is_err(), "account limit");
        assert!(limiter.check("bob", Some(a)).is_ok());
        assert!(limiter.check("cy", Some(a)).is_ok());
        assert!(limiter.check("dee", Some(a)).is_ok());
        assert!(limiter.check("eve", Some(a)).is_err(), "address limit");
        assert!(LoginLimiter::new(0).is_none());
    }
}
