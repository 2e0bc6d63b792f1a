//! Monitor registrations (service 4): who wants callbacks for which facility.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Who is monitoring which facility, until when (the seed's `MONITOR_REGISTER`).
///
/// Several clients may monitor one facility at once, and a registration ends
/// at its expiry: the seed's client blocks for the interval it asked for and
/// the server stops calling back when it is over. `A` is the callback address
/// (the node uses `SocketAddr`, which the server learns from the request).
///
/// Time is passed in, never read, so expiry is exact and testable: a
/// registration made at `t` for `d` is live while `now < t + d`, as in the
/// seed (`expiry_time > current_time`). A zero-length registration is
/// therefore never live.
///
/// Expired entries are dropped lazily, by [`targets`](Self::targets) for one
/// facility and by [`purge`](Self::purge) for all; the node should purge now
/// and then so that facilities nobody books do not keep dead entries forever.
///
/// ```
/// use std::time::{Duration, Instant};
/// use convene_booking::state::Monitors;
///
/// let t0 = Instant::now();
/// let mut monitors = Monitors::new();
/// monitors.register("Meeting Room A", "alice", t0, Duration::from_secs(10));
/// monitors.register("Meeting Room A", "bob", t0, Duration::from_secs(60));
/// assert_eq!(monitors.targets("Meeting Room A", t0), vec!["alice", "bob"]);
/// assert_eq!(monitors.targets("Meeting Room A", t0 + Duration::from_secs(10)), vec!["bob"]);
/// ```
#[derive(Clone, Debug)]
pub struct Monitors<A> {
    /// Per facility: each client once, with its expiry (`None`: beyond what an
    /// `Instant` can hold, i.e. never within this process's life). No list is
    /// ever left empty, which is what makes `is_empty` a map check.
    by_facility: HashMap<String, Vec<(A, Option<Instant>)>>,
}

impl<A> Default for Monitors<A> {
    fn default() -> Self {
        Self {
            by_facility: HashMap::new(),
        }
    }
}

impl<A: Clone + Eq> Monitors<A> {
    /// No registrations.
    pub fn new() -> Self {
        Self::default()
    }

    /// `client` wants callbacks for `facility` from `now` for `duration`.
    ///
    /// The same client registering again for the same facility replaces its
    /// expiry (it is called back once per change, not once per registration);
    /// registering for another facility is independent. Whether the facility
    /// exists is the caller's check (code 1, before registering).
    pub fn register(&mut self, facility: &str, client: A, now: Instant, duration: Duration) {
        let expiry = now.checked_add(duration);
        let list = match self.by_facility.get_mut(facility) {
            Some(list) => list,
            None => self.by_facility.entry(facility.to_owned()).or_default(),
        };
        match list.iter_mut().find(|(a, _)| *a == client) {
            Some(entry) => entry.1 = expiry,
            None => list.push((client, expiry)),
        }
    }

    /// The clients to call back about `facility` at `now`, in registration
    /// order; expired registrations for it are removed on the way.
    pub fn targets(&mut self, facility: &str, now: Instant) -> Vec<A> {
        let Some(list) = self.by_facility.get_mut(facility) else {
            return Vec::new();
        };
        list.retain(|(_, expiry)| is_live(*expiry, now));
        let out = list.iter().map(|(a, _)| a.clone()).collect();
        if list.is_empty() {
            self.by_facility.remove(facility);
        }
        out
    }

    /// Registrations held, counting expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.by_facility.values().map(Vec::len).sum()
    }

    /// Whether no registration is held.
    pub fn is_empty(&self) -> bool {
        self.by_facility.is_empty()
    }

    /// Removes every registration that has expired at `now`.
    pub fn purge(&mut self, now: Instant) {
        self.by_facility.retain(|_, list| {
            list.retain(|(_, expiry)| is_live(*expiry, now));
            !list.is_empty()
        });
    }
}

fn is_live(expiry: Option<Instant>, now: Instant) -> bool {
    expiry.is_none_or(|at| now < at)
}
