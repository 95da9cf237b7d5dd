//! Token-bucket rate limits per principal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Idle buckets are forgotten once this many principals are tracked.
const MAX_TRACKED: usize = 10_000;

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `None` (no limit) when `rate` is 0.
    pub fn new(rate: f64, burst: f64) -> Option<Self> {
        (rate > 0.0).then(|| Self {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::default(),
        })
    }

    /// Takes a token for `who`, or says how long until one is available.
    pub fn check(&self, who: &str) -> Result<(), Duration> {
        self.check_at(who, Instant::now())
    }

    /// Says whether `who` has a token, without taking it.
    pub fn peek(&self, who: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let map = match self.buckets.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        match map.get(who) {
            None => Ok(()),
            Some(&(tokens, at)) => self.wait_for_token(self.refilled(tokens, at, now)),
        }
    }

    /// The tokens of a bucket that held `tokens` at `at`, refilled up to `now`.
    fn refilled(&self, tokens: f64, at: Instant, now: Instant) -> f64 {
        (tokens + now.duration_since(at).as_secs_f64() * self.rate).min(self.burst)
    }

    fn wait_for_token(&self, tokens: f64) -> Result<(), Duration> {
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }

    fn check_at(&self, who: &str, now: Instant) -> Result<(), Duration> {
        let mut map = match self.buckets.lock() {
            Ok(m) => m,
            // A panic elsewhere must not turn rate limiting into an outage.
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= MAX_TRACKED && !map.contains_key(who) {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = map.entry(who.to_owned()).or_insert((self.burst, now));
        let refilled = self.refilled(*tokens, *at, now);
        *at = now;
        let verdict = self.wait_for_token(refilled);
        *tokens = if verdict.is_ok() {
            refilled - 1.0
        } else {
            refilled
        };
        verdict
    }
}

/// Whole seconds for `Retry-After`, never 0.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refills_at_the_rate() {
        let l = RateLimiter::new(2.0, 3.0).unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check_at("a", t0).is_ok());
        }
        let wait = l.check_at("a", t0).unwrap_err();
        assert!(wait <= Duration::from_millis(500));
        assert!(l.check_at("b", t0).is_ok(), "principals are independent");
        assert!(l.check_at("a", t0 + Duration::from_millis(500)).is_ok());
        assert!(l.check_at("a", t0 + Duration::from_millis(500)).is_err());
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert!(RateLimiter::new(0.0, 10.0).is_none());
        assert!(l.peek("a").is_err(), "peek sees an empty bucket");
        assert!(l.peek("unseen").is_ok());
    }
}
