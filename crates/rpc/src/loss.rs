//! [`Loss`]: replayable loss and duplication of datagrams, for tests and
//! experiments.
//!
//! The retry and at-most-once machinery only does something when datagrams
//! go missing or arrive twice, which on a loopback interface they almost
//! never do. A transport that consults a [`Loss`] before delivering each
//! datagram makes the network as bad as an experiment asks: drop this
//! fraction of requests, that fraction of replies, deliver some requests
//! twice.
//!
//! The decisions are drawn from [`SplitMix64`] generators seeded from
//! [`LossConfig::seed`], so a run that exposed a bug can be replayed exactly:
//! the same seed makes the same decisions in the same order of calls. Each
//! kind of decision has its own generator, derived from the seed, so the
//! n-th request is dropped or not regardless of how many replies or
//! duplicates were decided in between.

use crate::rng::SplitMix64;

/// How lossy the simulated network is.
///
/// Probabilities are in `[0, 1]`: values outside are clamped, and NaN
/// means 0. The default loses and duplicates nothing.
///
/// ```
/// use convene_rpc::{Loss, LossConfig};
///
/// let mut loss = Loss::new(LossConfig { request_loss: 1.0, ..LossConfig::default() });
/// assert!(loss.drop_request());
/// assert!(!loss.drop_reply());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LossConfig {
    /// Probability that a request is dropped before it reaches the server.
    pub request_loss: f64,
    /// Probability that a reply is dropped before it reaches the client.
    pub reply_loss: f64,
    /// Probability that a received request is delivered twice.
    pub duplicate: f64,
    /// Fixes every decision: log it to replay a run.
    pub seed: u64,
}

/// Draws loss and duplication decisions. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Loss {
    request: Decider,
    reply: Decider,
    duplicate: Decider,
}

impl Loss {
    /// Decisions at the rates, and from the seed, in `config`.
    pub fn new(config: LossConfig) -> Self {
        // One master generator hands each kind of decision its own seed.
        let mut seeds = SplitMix64::new(config.seed);
        Loss {
            request: Decider::new(config.request_loss, seeds.next_u64()),
            reply: Decider::new(config.reply_loss, seeds.next_u64()),
            duplicate: Decider::new(config.duplicate, seeds.next_u64()),
        }
    }

    /// A perfect network: never drops or duplicates anything.
    pub fn none() -> Self {
        Loss::new(LossConfig::default())
    }

    /// Whether to drop the request about to be delivered.
    pub fn drop_request(&mut self) -> bool {
        self.request.decide()
    }

    /// Whether to drop the reply about to be delivered.
    pub fn drop_reply(&mut self) -> bool {
        self.reply.decide()
    }

    /// Whether to deliver a received request twice.
    pub fn duplicate(&mut self) -> bool {
        self.duplicate.decide()
    }
}

/// One kind of yes/no decision: true with a fixed probability.
#[derive(Debug, Clone)]
struct Decider {
    probability: f64,
    rng: SplitMix64,
}

impl Decider {
    fn new(probability: f64, seed: u64) -> Self {
        let probability = if probability.is_nan() {
            0.0
        } else {
            probability.clamp(0.0, 1.0)
        };
        Decider {
            probability,
            rng: SplitMix64::new(seed),
        }
    }

    /// Draws even when the answer is certain, so a generator's position
    /// depends only on how many decisions it made.
    fn decide(&mut self) -> bool {
        // `next_f64` is in [0, 1): never below 0, always below 1.
        self.rng.next_f64() < self.probability
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(request_loss: f64, reply_loss: f64, duplicate: f64, seed: u64) -> LossConfig {
        LossConfig {
            request_loss,
            reply_loss,
            duplicate,
            seed,
        }
    }

    /// Interleaves the three decisions in a fixed pattern.
    fn decisions(loss: &mut Loss, n: usize) -> Vec<bool> {
        (0..n)
            .map(|i| match i % 3 {
                0 => loss.drop_request(),
                1 => loss.drop_reply(),
                _ => loss.duplicate(),
            })
            .collect()
    }

    #[test]
    fn same_seed_same_decisions() {
        let c = config(0.3, 0.5, 0.2, 42);
        let (mut a, mut b) = (Loss::new(c), Loss::new(c));
        assert_eq!(decisions(&mut a, 3_000), decisions(&mut b, 3_000));
        let mut other = Loss::new(LossConfig { seed: 43, ..c });
        assert_ne!(
            decisions(&mut Loss::new(c), 3_000),
            decisions(&mut other, 3_000)
        );
    }

    #[test]
    fn request_decisions_do_not_depend_on_other_calls() {
        let c = config(0.5, 0.5, 0.5, 7);
        let (mut a, mut b) = (Loss::new(c), Loss::new(c));
        let plain: Vec<bool> = (0..100).map(|_| a.drop_request()).collect();
        let interleaved: Vec<bool> = (0..100)
            .map(|i| {
                for _ in 0..i % 4 {
                    b.drop_reply();
                    b.duplicate();
                }
                b.drop_request()
            })
            .collect();
        assert_eq!(plain, interleaved);
    }

    #[test]
    fn rates_match_the_configuration() {
        const DRAWS: u32 = 100_000;
        let mut loss = Loss::new(config(0.1, 0.5, 0.02, 2024));
        let count = |f: &mut dyn FnMut() -> bool| (0..DRAWS).filter(|_| f()).count() as f64;
        let rate = |n: f64| n / f64::from(DRAWS);
        // Standard deviations are at most 0.0016; allow 0.01.
        assert!((rate(count(&mut || loss.drop_request())) - 0.1).abs() < 0.01);
        assert!((rate(count(&mut || loss.drop_reply())) - 0.5).abs() < 0.01);
        assert!((rate(count(&mut || loss.duplicate())) - 0.02).abs() < 0.01);
    }

    #[test]
    fn none_never_drops_or_duplicates() {
        let mut loss = Loss::none();
        assert!(decisions(&mut loss, 10_000).iter().all(|&d| !d));
    }

    #[test]
    fn probabilities_are_clamped_and_nan_is_zero() {
        let mut loss = Loss::new(config(1.5, -0.5, f64::NAN, 1));
        for _ in 0..10_000 {
            assert!(loss.drop_request());
            assert!(!loss.drop_reply());
            assert!(!loss.duplicate());
        }
        let mut loss = Loss::new(config(f64::INFINITY, f64::NEG_INFINITY, 1.0, 1));
        for _ in 0..10_000 {
            assert!(loss.drop_request());
            assert!(!loss.drop_reply());
            assert!(loss.duplicate());
        }
    }
}
