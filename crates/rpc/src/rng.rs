//! [`SplitMix64`]: a tiny seeded pseudo-random generator, and
//! [`random_seed`] to seed it.
//!
//! The RPC layer needs randomness for two things: a starting request id, so a
//! restarted node does not reuse ids a peer may still associate with old
//! replies; and (later) injected loss and duplication, which must be
//! *replayable*: the same seed must drop the same datagrams so a failing
//! experiment can be run again. A seeded generator gives both, and
//! SplitMix64 (Steele, Lea and Flood, 2014) is a dozen lines with good
//! statistical quality for this. It is not cryptographic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The SplitMix64 generator: a 64-bit counter passed through a mixing
/// function.
///
/// ```
/// use convene_rpc::SplitMix64;
///
/// let mut a = SplitMix64::new(42);
/// let mut b = SplitMix64::new(42);
/// assert_eq!(a.next_u64(), b.next_u64()); // same seed, same sequence
/// let x = a.next_f64();
/// assert!((0.0..1.0).contains(&x));
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Golden-ratio increment: an odd constant, so the state visits every
    /// 64-bit value before repeating.
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(Self::GAMMA);
        mix(self.state)
    }

    /// A uniform float in `[0, 1)`: the top 53 bits scaled down, so every
    /// value is exactly representable and 1.0 is never returned.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// SplitMix64's finaliser: spreads every input bit over every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64 bits from the operating system's random source: for values a
/// stranger must not guess (request ids, temporary file names, boot
/// numbers).
///
/// Falls back to [`random_seed`] only if the OS source fails, which on the
/// platforms Convene runs on it does not (it would mean no `getrandom`
/// system call and no `/dev/urandom`).
pub fn os_random_u64() -> u64 {
    getrandom::u64().unwrap_or_else(|error| {
        tracing::warn!(%error, "the OS random source failed; using a time-based seed");
        random_seed()
    })
}

/// A seed that differs between processes and between calls.
///
/// Mixes the wall clock in nanoseconds, the process id and a per-process
/// call counter, so two nodes started in the same nanosecond on one machine,
/// or two calls in one process, still get different seeds. Use it where
/// uniqueness matters and replay does not; where a run must be replayable,
/// log the seed or take it from the configuration instead.
pub fn random_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let pid = u64::from(std::process::id());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    mix(mix(nanos ^ pid.rotate_left(32)) ^ count.wrapping_mul(SplitMix64::GAMMA))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_sequence() {
        // First outputs for seed 1234567 from the reference implementation
        // (Vigna's splitmix64.c).
        let mut g = SplitMix64::new(1_234_567);
        assert_eq!(g.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(g.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(g.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn floats_are_in_unit_interval() {
        let mut g = SplitMix64::new(0);
        for _ in 0..10_000 {
            let x = g.next_f64();
            assert!((0.0..1.0).contains(&x));
        }
    }

    #[test]
    fn os_random_values_differ() {
        assert_ne!(os_random_u64(), os_random_u64());
    }

    #[test]
    fn seeds_differ_between_calls() {
        assert_ne!(random_seed(), random_seed());
    }
}
