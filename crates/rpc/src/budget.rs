//! [`ReplyBudget`]: how many bytes a UDP front door may send to an address.
//!
//! UDP does not prove who sent a datagram. A front door that answers a small
//! request with a large reply can be aimed at a victim: the attacker sends
//! requests with the victim's address as their source, and the front door
//! sends the victim many times the bytes the attacker spent (a reflection,
//! or amplification, attack). The booking seed's protocol has two such
//! replies: a query for a week of a busy facility (about 30 bytes in, up to
//! about 30 KB out), and a monitor registration, after which every change to
//! the facility sends its whole week to the registered address.
//!
//! The budget makes any stream of requests, forged or not, yield at most a
//! bounded multiple of its own bytes. Every send is paid for from two
//! buckets of credit, measured in bytes:
//!
//! * the **source's bucket** (one per IPv4 address or IPv6 /64): each
//!   datagram received from the source earns `factor ×` its length; on top,
//!   the bucket refills by itself, from empty to `burst` in `refill` (60 s),
//!   so a client may get a few replies larger than its requests (its first
//!   query of a busy week, the updates of a monitor registration). It never
//!   holds more than `burst`: credit cannot be saved up for later.
//! * the **shared bucket**, the same rule for all sources together with
//!   capacity `total_burst`: without it, a forger spraying requests from
//!   many addresses of a victim's network would get a fresh `burst` for
//!   each address.
//!
//! A send that does not fit both buckets is dropped and counted; nothing is
//! spent on it. So over any stretch of time `T`, the bytes sent to one
//! source are at most `factor × received + burst + burst × T / refill`, and
//! to all sources together at most `factor × received + total_burst +
//! total_burst × T / refill`. A client whose replies are no larger than
//! `factor` times its requests is never limited.
//!
//! # Bounded state
//!
//! A source's bucket exists only once something was sent to it, and is
//! forgotten once it has refilled to full, which is exactly the state of a
//! source never seen (so forgetting changes nothing). At most `max_sources`
//! buckets are kept; when the table is full (a flood of forged sources), the
//! sources not in it share one overflow bucket, which the forger drains
//! first. Idle buckets are swept out when the table is full (at most once a
//! second) and whenever the caller asks ([`ReplyBudget::sweep`]).
//!
//! # Time
//!
//! No clock is read: every call takes `now`, so the arithmetic is tested
//! exactly with a fake clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::source::Source;

/// How generous a [`ReplyBudget`] is.
///
/// ```
/// use convene_rpc::BudgetConfig;
///
/// let config = BudgetConfig::default();
/// assert_eq!((config.factor, config.burst), (10, 64 * 1024));
/// assert_eq!(config.total_burst, 16 * config.burst);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetConfig {
    /// Bytes that may be sent to a source per byte received from it.
    pub factor: u32,
    /// Bytes one source may be sent beyond what `factor` earns, refilled
    /// over `refill`; also the most credit one source can hold.
    pub burst: u64,
    /// The same allowance for all sources together.
    pub total_burst: u64,
    /// How long an empty allowance takes to refill. Default 60 s.
    pub refill: Duration,
    /// Most sources tracked at once. Default 65,536 (a few MB).
    pub max_sources: usize,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            factor: 10,
            burst: 64 * 1024,
            total_burst: 16 * 64 * 1024,
            refill: Duration::from_secs(60),
            max_sources: 65_536,
        }
    }
}

/// Running totals of a [`ReplyBudget`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetStats {
    /// Bytes received, over all sources.
    pub received_bytes: u64,
    /// Bytes allowed to be sent.
    pub sent_bytes: u64,
    /// Sends refused.
    pub dropped: u64,
    /// Bytes of the sends refused.
    pub dropped_bytes: u64,
}

/// Credit in bytes, refilling with time up to a capacity.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    updated: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Self {
        Bucket {
            level: capacity,
            updated: now,
        }
    }

    /// Adds what `capacity` per `refill` has brought since the last update.
    fn refill(&mut self, now: Instant, capacity: f64, refill: Duration) {
        let elapsed = now.saturating_duration_since(self.updated);
        let gained = if refill.is_zero() {
            capacity
        } else {
            capacity * elapsed.as_secs_f64() / refill.as_secs_f64()
        };
        self.level = (self.level + gained).min(capacity);
        self.updated = self.updated.max(now);
    }

    fn earn(&mut self, bytes: f64, capacity: f64) {
        self.level = (self.level + bytes).min(capacity);
    }

    /// Whether the bucket would be full at `now`, so forgetting it loses nothing.
    fn is_full_by(&self, now: Instant, capacity: f64, refill: Duration) -> bool {
        let mut later = *self;
        later.refill(now, capacity, refill);
        later.level >= capacity
    }
}

/// How long a full table waits before sweeping idle sources again.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The reply budget of one front door. See the [module docs](self).
///
/// ```
/// use std::time::Instant;
/// use convene_rpc::{BudgetConfig, ReplyBudget};
///
/// let config = BudgetConfig { factor: 10, burst: 1000, ..BudgetConfig::default() };
/// let mut budget = ReplyBudget::new(config);
/// let (now, victim) = (Instant::now(), "192.0.2.7".parse().unwrap());
///
/// // Forged 30-byte queries, each asking for a 2,000-byte week.
/// let mut sent = 0;
/// for _ in 0..100 {
///     budget.received(now, victim, 30);
///     if budget.try_send(now, victim, 2000) {
///         sent += 2000;
///     }
/// }
/// // 3,000 bytes received: at most 10 × 3,000 + 1,000 go out.
/// assert!(sent <= 10 * 3000 + 1000);
/// assert!(budget.stats().dropped > 0);
/// ```
#[derive(Debug)]
pub struct ReplyBudget {
    config: BudgetConfig,
    sources: HashMap<Source, Bucket>,
    /// Shared by the sources that found the table full.
    overflow: Bucket,
    /// All sources together.
    total: Bucket,
    last_sweep: Instant,
    stats: BudgetStats,
}

impl ReplyBudget {
    /// A budget with every source's allowance full.
    pub fn new(config: BudgetConfig) -> Self {
        // Any instant will do as the start: a full bucket cannot fill further.
        let start = Instant::now();
        ReplyBudget {
            config,
            sources: HashMap::new(),
            overflow: Bucket::full(config.burst as f64, start),
            total: Bucket::full(config.total_burst as f64, start),
            last_sweep: start,
            stats: BudgetStats::default(),
        }
    }

    /// The configuration this budget was built with.
    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    /// A datagram of `len` bytes arrived from `from`: it earns its source
    /// (and the shared bucket) `factor × len` bytes of credit.
    pub fn received(&mut self, now: Instant, from: IpAddr, len: usize) {
        self.stats.received_bytes = self.stats.received_bytes.saturating_add(len as u64);
        let earned = f64::from(self.config.factor) * len as f64;
        let (burst, total, refill) = self.capacities();
        self.total.refill(now, total, refill);
        self.total.earn(earned, total);
        // A source with no bucket has a full allowance already: nothing to add.
        let table_full = self.sources.len() >= self.config.max_sources;
        let bucket = match self.sources.get_mut(&Source::of(from)) {
            Some(bucket) => bucket,
            None if table_full => &mut self.overflow,
            None => return,
        };
        bucket.refill(now, burst, refill);
        bucket.earn(earned, burst);
    }

    /// Whether `len` more bytes may be sent to `to` now. If so they are
    /// spent; if not, nothing is spent and the send is counted as dropped.
    pub fn try_send(&mut self, now: Instant, to: IpAddr, len: usize) -> bool {
        let (burst, total, refill) = self.capacities();
        let cost = len as f64;
        self.total.refill(now, total, refill);
        let source = Source::of(to);
        if !self.sources.contains_key(&source)
            && self.sources.len() >= self.config.max_sources
            && now.saturating_duration_since(self.last_sweep) >= SWEEP_EVERY
        {
            self.sweep(now);
        }
        let bucket = if let Some(bucket) = self.sources.get_mut(&source) {
            bucket
        } else if self.sources.len() < self.config.max_sources {
            self.sources
                .entry(source)
                .or_insert(Bucket::full(burst, now))
        } else {
            &mut self.overflow
        };
        bucket.refill(now, burst, refill);
        if bucket.level < cost || self.total.level < cost {
            self.stats.dropped += 1;
            self.stats.dropped_bytes = self.stats.dropped_bytes.saturating_add(len as u64);
            return false;
        }
        bucket.level -= cost;
        self.total.level -= cost;
        self.stats.sent_bytes = self.stats.sent_bytes.saturating_add(len as u64);
        true
    }

    /// Forgets every source whose allowance has refilled to full by `now`
    /// (forgetting one changes nothing). O(sources); call it now and then.
    pub fn sweep(&mut self, now: Instant) {
        let (burst, _, refill) = self.capacities();
        self.sources
            .retain(|_, b| !b.is_full_by(now, burst, refill));
        self.last_sweep = now;
    }

    /// Sources with a bucket of their own.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// The counters so far.
    pub fn stats(&self) -> BudgetStats {
        self.stats
    }

    fn capacities(&self) -> (f64, f64, Duration) {
        (
            self.config.burst as f64,
            self.config.total_burst as f64,
            self.config.refill,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn small() -> BudgetConfig {
        BudgetConfig {
            factor: 10,
            burst: 1000,
            total_burst: 1_000_000,
            refill: Duration::from_secs(60),
            max_sources: 100,
        }
    }

    #[test]
    fn a_new_source_gets_its_burst_and_no_more() {
        let mut b = ReplyBudget::new(small());
        let (t0, v) = (Instant::now(), ip("192.0.2.1"));
        assert!(b.try_send(t0, v, 600));
        assert!(b.try_send(t0, v, 400));
        assert!(!b.try_send(t0, v, 1));
        assert_eq!(
            b.stats(),
            BudgetStats {
                received_bytes: 0,
                sent_bytes: 1000,
                dropped: 1,
                dropped_bytes: 1
            }
        );
    }

    #[test]
    fn each_byte_received_earns_factor_bytes() {
        let mut b = ReplyBudget::new(small());
        let (t0, v) = (Instant::now(), ip("192.0.2.1"));
        assert!(b.try_send(t0, v, 1000));
        b.received(t0, v, 30);
        assert!(!b.try_send(t0, v, 301));
        assert!(b.try_send(t0, v, 300));
        assert!(!b.try_send(t0, v, 1));
    }

    #[test]
    fn the_burst_refills_linearly_over_the_refill_time() {
        let mut b = ReplyBudget::new(small());
        let (t0, v) = (Instant::now(), ip("192.0.2.1"));
        assert!(b.try_send(t0, v, 1000));
        let t30 = t0 + 30 * SECOND;
        assert!(!b.try_send(t30, v, 501));
        assert!(b.try_send(t30, v, 500));
        // Full again after the whole refill time, and never beyond.
        let later = t30 + 3600 * SECOND;
        assert!(!b.try_send(later, v, 1001));
        assert!(b.try_send(later, v, 1000));
    }

    #[test]
    fn credit_is_capped_so_it_cannot_be_saved_up() {
        let mut b = ReplyBudget::new(small());
        let (t0, v) = (Instant::now(), ip("192.0.2.1"));
        assert!(b.try_send(t0, v, 1));
        for _ in 0..1000 {
            b.received(t0, v, 1000);
        }
        assert!(!b.try_send(t0, v, 1001));
        assert!(b.try_send(t0, v, 1000));
    }

    #[test]
    fn sources_are_separate_but_an_ipv6_64_is_one() {
        let mut b = ReplyBudget::new(small());
        let t0 = Instant::now();
        assert!(b.try_send(t0, ip("192.0.2.1"), 1000));
        assert!(b.try_send(t0, ip("192.0.2.2"), 1000));
        assert!(b.try_send(t0, ip("2001:db8:0:1::1"), 1000));
        assert!(!b.try_send(t0, ip("2001:db8:0:1::2"), 1));
        assert!(b.try_send(t0, ip("2001:db8:0:2::1"), 1));
        // IPv4 and its mapped form are one source.
        assert!(!b.try_send(t0, ip("::ffff:192.0.2.1"), 1));
    }

    #[test]
    fn the_shared_allowance_bounds_a_spray_over_many_sources() {
        let config = BudgetConfig {
            total_burst: 5000,
            max_sources: 1000,
            ..small()
        };
        let mut b = ReplyBudget::new(config);
        let t0 = Instant::now();
        let mut sent = 0;
        for i in 0..100u32 {
            let forged = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
            b.received(t0, forged, 30);
            if b.try_send(t0, forged, 1000) {
                sent += 1000;
            }
        }
        // 3,000 bytes received, 10 × 3,000 earned, plus one shared burst.
        assert!(sent <= 10 * 3000 + 5000, "{sent}");
        assert!(b.stats().dropped > 0);
    }

    #[test]
    fn the_table_is_bounded_and_idle_sources_are_forgotten() {
        let config = BudgetConfig {
            max_sources: 3,
            ..small()
        };
        let mut b = ReplyBudget::new(config);
        let t0 = Instant::now();
        for i in 1..=10u8 {
            b.try_send(t0, IpAddr::from([10, 0, 0, i]), 1000);
        }
        assert_eq!(b.sources(), 3);
        // Sources beyond the table share one overflow bucket: 1000 bytes for
        // seven of them, so only one of those got its 1000.
        assert_eq!(b.stats().sent_bytes, 4 * 1000);
        // Refilled sources are forgotten; nothing is lost by it.
        b.sweep(t0 + 59 * SECOND);
        assert_eq!(b.sources(), 3);
        b.sweep(t0 + 60 * SECOND);
        assert_eq!(b.sources(), 0);
        // A full table sweeps by itself (at most once a second).
        for i in 1..=3u8 {
            b.try_send(t0 + 60 * SECOND, IpAddr::from([10, 0, 1, i]), 400);
        }
        assert!(b.try_send(t0 + 121 * SECOND, ip("10.0.2.1"), 1000));
        assert_eq!(b.sources(), 1);
    }

    #[test]
    fn receiving_alone_creates_no_state() {
        let mut b = ReplyBudget::new(small());
        let t0 = Instant::now();
        for i in 0..1000u32 {
            b.received(t0, IpAddr::from(i.to_be_bytes()), 30);
        }
        assert_eq!(b.sources(), 0);
    }

    proptest! {
        /// Whatever arrives and whatever is asked for, a source is sent at
        /// most factor × what it sent, plus its burst, plus the refill.
        #[test]
        fn a_source_gets_at_most_factor_times_plus_burst(
            steps in proptest::collection::vec((0u64..5_000, 0usize..200, 0usize..5_000), 1..200)
        ) {
            let config = small();
            let mut b = ReplyBudget::new(config);
            let (t0, v) = (Instant::now(), ip("192.0.2.9"));
            let (mut now, mut received, mut sent) = (t0, 0u64, 0u64);
            for (advance_ms, request, reply) in steps {
                now += Duration::from_millis(advance_ms);
                b.received(now, v, request);
                received += request as u64;
                if b.try_send(now, v, reply) {
                    sent += reply as u64;
                }
            }
            let elapsed = now.duration_since(t0).as_secs_f64();
            let refill = config.burst as f64 * elapsed / config.refill.as_secs_f64();
            let bound = (u64::from(config.factor) * received + config.burst) as f64 + refill;
            prop_assert!(sent as f64 <= bound + 1e-6, "{sent} > {bound}");
        }
    }
}
