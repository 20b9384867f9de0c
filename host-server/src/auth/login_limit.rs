//! Failed logins limited per account and per client address, so a password
//! cannot be guessed quickly from one address or across many.
//!
//! Only failures count, and a successful login clears its account's count:
//! otherwise anyone could keep a named account locked out by logging in
//! (or trying to) under its name, and its owner could not get in either.
//! Time is passed in.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window failures are counted over.
const WINDOW: Duration = Duration::from_secs(60);
/// Keys remembered at most per map before the oldest are forgotten.
const MAX_KEYS: usize = 100_000;

/// Per-account and per-address failed-login limits.
pub struct LoginLimiter {
    accounts: Failures<String>,
    clients: Failures<IpAddr>,
}

/// Recent failures per key, at most `limit` in any [`WINDOW`].
struct Failures<K> {
    limit: usize,
    recent: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl<K: Eq + Hash + Clone> Failures<K> {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when `key` has `limit` failures in the window.
    fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = recent.get_mut(key) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        match times.front() {
            Some(oldest) if times.len() >= self.limit => {
                Err(WINDOW.saturating_sub(now.duration_since(*oldest)))
            }
            _ => Ok(()),
        }
    }

    fn fail(&self, key: K, now: Instant) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() >= MAX_KEYS && !recent.contains_key(&key) {
            recent.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        let times = recent.entry(key).or_default();
        times.push_back(now);
        while times.len() > self.limit {
            times.pop_front();
        }
    }

    fn clear(&self, key: &K) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.remove(key);
    }

    fn prune(&self, now: Instant) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.retain(|_, times| {
            times
                .back()
                .is_some_and(|t| now.duration_since(*t) < WINDOW)
        });
        recent.shrink_to_fit();
    }
}

impl LoginLimiter {
    /// `per_minute` failures per account (twice that per address); `None` when 0.
    pub fn new(per_minute: u32) -> Option<Self> {
        let account = usize::try_from(per_minute).ok().filter(|&n| n > 0)?;
        Some(Self {
            accounts: Failures::new(account),
            clients: Failures::new(account.saturating_mul(2)),
        })
    }

    /// `Err(wait)` when the account or the address has failed too often.
    pub fn check(
        &self,
        account: &str,
        client: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        if let Some(ip) = client {
            self.clients.check(&ip, now)?;
        }
        self.accounts.check(&account.to_lowercase(), now)
    }

    /// Counts a failed login.
    pub fn failed(&self, account: &str, client: Option<IpAddr>, now: Instant) {
        if let Some(ip) = client {
            self.clients.fail(ip, now);
        }
        self.accounts.fail(account.to_lowercase(), now);
    }

    /// A successful login: its account starts over.
    pub fn succeeded(&self, account: &str) {
        self.accounts.clear(&account.to_lowercase());
    }

    /// Forgets keys without recent failures (bounds memory).
    pub fn prune(&self, now: Instant) {
        self.accounts.prune(now);
        self.clients.prune(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_count_and_success_resets() {
        let limiter = LoginLimiter::new(2).unwrap();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let t = Instant::now();
        for _ in 0..5 {
            assert!(
                limiter.check("ada", Some(a), t).is_ok(),
                "checks do not count"
            );
        }
        limiter.failed("ada", Some(a), t);
        limiter.failed("ADA", Some(b), t);
        assert!(limiter.check("ada", Some(b), t).is_err(), "account limit");
        assert!(
            limiter.check("ada", None, t + WINDOW).is_ok(),
            "window passed"
        );
        limiter.succeeded("Ada");
        assert!(limiter.check("ada", Some(b), t).is_ok(), "success resets");
        limiter.failed("bob", Some(a), t);
        limiter.failed("cy", Some(a), t);
        limiter.failed("dee", Some(a), t);
        assert!(limiter.check("eve", Some(a), t).is_err(), "address limit");
        limiter.prune(t + WINDOW);
        assert!(limiter.check("eve", Some(a), t + WINDOW).is_ok());
        assert!(LoginLimiter::new(0).is_none());
    }
}
