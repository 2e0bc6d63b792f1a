//! A rate limit per key, sans-IO: the caller passes the time, so the rules
//! are tested without clocks or sockets.
//!
//! [`RateLimiter`] allows each key `limit` events per `window`: a burst of
//! `limit` at once, then one every `window / limit`, as a bucket of
//! `limit` tokens that refills steadily. It keeps one instant per key, the
//! time at which the key's bucket is full again (the "theoretical arrival
//! time" of the generic cell rate algorithm, GCRA): an event at `now` is
//! allowed while that time is at most `window - window / limit` ahead of
//! `now`, and pushes it `window / limit` further. A refused event changes
//! nothing, so hammering a limited key does not lengthen its wait.
//!
//! # Memory
//!
//! A key whose bucket is full again is as good as absent: such keys are
//! swept away once per window, so the map holds only keys used within the
//! last window. And the map never holds more than `max_keys`: when it is
//! full of keys that are all still limited, a **new** key is refused until
//! the soonest of them expires (keys already in the map carry on). A flood
//! of distinct keys (addresses, made-up account names) therefore costs a
//! bounded amount of memory, and what it costs everyone else is that new
//! keys wait, at most one window. Refusing rather than evicting is the
//! safe side for a login limit: evicting would hand a guesser a fresh
//! bucket for the account it is attacking.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How long a refused key must wait before it may try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// Until the next event would be allowed.
    pub retry_after: Duration,
}

impl Limited {
    /// `retry_after` in whole seconds for a `Retry-After` header: rounded
    /// up, and at least 1 (a `0` would invite an immediate retry).
    pub fn seconds(&self) -> u64 {
        let whole = self.retry_after.as_secs();
        let rounded = if self.retry_after.subsec_nanos() > 0 {
            whole + 1
        } else {
            whole
        };
        rounded.max(1)
    }
}

/// `limit` events per `window` for each key, for at most `max_keys` keys.
#[derive(Debug)]
pub struct RateLimiter<K> {
    /// The steady pace: `window / limit` between two events.
    interval: Duration,
    /// How far a key's schedule may run ahead of now: `window - interval`,
    /// which allows a burst of `limit`.
    tolerance: Duration,
    window: Duration,
    max_keys: usize,
    /// When each key's bucket is full again.
    full_at: HashMap<K, Instant>,
    /// When expired keys are next swept away.
    next_sweep: Option<Instant>,
    /// While the map is full of live keys: when its first key expires. New
    /// keys are refused until then, without another sweep.
    crowded_until: Option<Instant>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// `limit` events per `window` per key (a limit of 0 is taken as 1),
    /// remembering at most `max_keys` keys (at least 1).
    pub fn new(limit: u32, window: Duration, max_keys: usize) -> Self {
        let interval = window / limit.max(1);
        RateLimiter {
            interval,
            tolerance: window.saturating_sub(interval),
            window,
            max_keys: max_keys.max(1),
            full_at: HashMap::new(),
            next_sweep: None,
            crowded_until: None,
        }
    }

    /// Counts an event of `key` at `now` if its limit allows it; otherwise
    /// says how long to wait, and counts nothing.
    pub fn check(&mut self, key: K, now: Instant) -> Result<(), Limited> {
        if self.next_sweep.is_none_or(|at| now >= at) {
            self.sweep(now);
            self.next_sweep = Some(now + self.window);
        }
        let full_at = match self.full_at.get(&key) {
            Some(&at) => at.max(now),
            None => {
                self.make_room(now)?;
                now
            }
        };
        let ahead = full_at.saturating_duration_since(now);
        if ahead > self.tolerance {
            return Err(Limited {
                retry_after: ahead - self.tolerance,
            });
        }
        self.full_at.insert(key, full_at + self.interval);
        Ok(())
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.full_at.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.full_at.is_empty()
    }

    /// Forgets every key whose bucket is full again.
    fn sweep(&mut self, now: Instant) {
        self.full_at.retain(|_, at| *at > now);
    }

    /// Room for one more key, or how long until there is some.
    fn make_room(&mut self, now: Instant) -> Result<(), Limited> {
        if self.full_at.len() < self.max_keys {
            return Ok(());
        }
        if let Some(until) = self.crowded_until.filter(|&until| now < until) {
            return Err(Limited {
                retry_after: until - now,
            });
        }
        self.sweep(now);
        if self.full_at.len() < self.max_keys {
            self.crowded_until = None;
            return Ok(());
        }
        // Every key is live. Sweep again when the first expires, but at
        // most once a second: a sweep reads the whole map.
        let first = self.full_at.values().min().copied().unwrap_or(now);
        let until = first.max(now + Duration::from_secs(1));
        self.crowded_until = Some(until);
        Err(Limited {
            retry_after: until - now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_burst_of_the_limit_then_the_steady_pace() {
        let mut limiter = RateLimiter::new(3, MINUTE, 100);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("ip", t0), Ok(()));
        }
        // The fourth waits for one token: a minute / 3.
        assert_eq!(
            limiter.check("ip", t0),
            Err(Limited {
                retry_after: secs(20)
            })
        );
        // Refusals change nothing: still 20 s, not longer.
        assert_eq!(limiter.check("ip", t0).unwrap_err().retry_after, secs(20));
        assert_eq!(
            limiter.check("ip", t0 + secs(5)).unwrap_err().retry_after,
            secs(15)
        );
        assert_eq!(limiter.check("ip", t0 + secs(20)), Ok(()));
        assert!(limiter.check("ip", t0 + secs(20)).is_err());
        // Another key has its own bucket.
        assert_eq!(limiter.check("other", t0), Ok(()));
        // After a whole window unused, a full burst again.
        let later = t0 + secs(20) + MINUTE;
        for _ in 0..3 {
            assert_eq!(limiter.check("ip", later), Ok(()));
        }
        assert!(limiter.check("ip", later).is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let limited = |ms| Limited {
            retry_after: Duration::from_millis(ms),
        };
        assert_eq!(limited(20_000).seconds(), 20);
        assert_eq!(limited(19_001).seconds(), 20);
        assert_eq!(limited(1).seconds(), 1);
        assert_eq!(limited(0).seconds(), 1);
    }

    #[test]
    fn a_pace_of_one_an_hour_allows_one_then_waits_the_hour() {
        let mut limiter = RateLimiter::new(1, secs(3600), 10);
        let t0 = Instant::now();
        assert_eq!(limiter.check(1, t0), Ok(()));
        assert_eq!(limiter.check(1, t0).unwrap_err().seconds(), 3600);
        assert_eq!(limiter.check(1, t0 + secs(3600)), Ok(()));
    }

    #[test]
    fn keys_used_long_ago_are_forgotten() {
        let mut limiter = RateLimiter::new(2, MINUTE, 1000);
        let t0 = Instant::now();
        for key in 0..500 {
            limiter.check(key, t0).unwrap();
        }
        assert_eq!(limiter.len(), 500);
        // A window later, every bucket is full again: the next check
        // sweeps them all away.
        limiter.check(9999, t0 + MINUTE).unwrap();
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn a_flood_of_new_keys_is_bounded_and_old_keys_carry_on() {
        let mut limiter = RateLimiter::new(10, MINUTE, 100);
        let t0 = Instant::now();
        limiter.check(0u32, t0).unwrap();
        for key in 1..100 {
            limiter
                .check(key, t0 + Duration::from_millis(u64::from(key)))
                .unwrap();
        }
        assert_eq!(limiter.len(), 100);
        // Full of live keys: a new one waits for the first to expire (key
        // 0's bucket is full again 6 s after its one event).
        let refused = limiter.check(100, t0 + secs(1)).unwrap_err();
        assert_eq!(refused.retry_after, secs(5));
        for key in 101..10_000 {
            assert!(limiter.check(key, t0 + secs(2)).is_err());
        }
        assert_eq!(limiter.len(), 100, "memory stays bounded");
        // A key already known is still counted as before.
        assert_eq!(limiter.check(50, t0 + secs(2)), Ok(()));
        // Once key 0 has expired, there is room again.
        assert_eq!(limiter.check(100, t0 + secs(6)), Ok(()));
        assert_eq!(limiter.len(), 100);
    }
}
