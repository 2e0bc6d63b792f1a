//! A latency histogram that records without a lock.
//!
//! `prometheus-client`'s `Histogram` takes a write lock for every
//! observation. At a front door that answers a cached retry in a few
//! microseconds, on every core at once, that one lock is the most
//! contended thing on the path: the booking bench lost a quarter of its
//! cached-retry rate to it. Here every bucket, the count and the sum are
//! separate atomics, so an observation is three relaxed additions. A scrape
//! may see a count one observation ahead of a bucket (the additions are not
//! one transaction); Prometheus's own client libraries accept the same.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// How many finite buckets: upper bounds from [`FIRST_BOUND`] doubling,
/// to about 6.5 s.
const BUCKETS: usize = 18;

/// The first bucket's upper bound: 50 µs (a cached UDP reply is tens of
/// microseconds; a request that waits out a failover a few seconds).
const FIRST_BOUND: Duration = Duration::from_micros(50);

/// Request latencies, in seconds, in [`BUCKETS`] exponential buckets and
/// one for the rest. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Latency {
    inner: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    buckets: [AtomicU64; BUCKETS + 1],
    count: AtomicU64,
    /// The sum, in nanoseconds: an integer adds without a compare loop.
    sum_nanos: AtomicU64,
}

impl Latency {
    /// Records one request that took `took`.
    pub(crate) fn observe(&self, took: Duration) {
        let counts = &self.inner;
        counts.buckets[bucket_of(took)].fetch_add(1, Ordering::Relaxed);
        counts.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        counts.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// The bucket `took` falls in: the first whose upper bound is at least it.
fn bucket_of(took: Duration) -> usize {
    let mut bound = FIRST_BOUND;
    for index in 0..BUCKETS {
        if took <= bound {
            return index;
        }
        bound *= 2;
    }
    BUCKETS
}

fn upper_bound(index: usize) -> f64 {
    if index == BUCKETS {
        // What prometheus-client's encoder writes as `le="+Inf"`.
        f64::MAX
    } else {
        FIRST_BOUND.as_secs_f64() * f64::from(1u32 << index)
    }
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let counts = &self.inner;
        let buckets: Vec<(f64, u64)> = counts
            .buckets
            .iter()
            .enumerate()
            .map(|(index, n)| (upper_bound(index), n.load(Ordering::Relaxed)))
            .collect();
        let sum = counts.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let count = counts.count.load(Ordering::Relaxed);
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_time_falls_in_the_first_bucket_that_holds_it() {
        assert_eq!(bucket_of(Duration::ZERO), 0);
        assert_eq!(bucket_of(Duration::from_micros(50)), 0);
        assert_eq!(bucket_of(Duration::from_micros(51)), 1);
        assert_eq!(bucket_of(Duration::from_micros(100)), 1);
        assert_eq!(bucket_of(Duration::from_millis(1)), 5);
        assert_eq!(bucket_of(Duration::from_secs(6)), BUCKETS - 1);
        assert_eq!(bucket_of(Duration::from_secs(60)), BUCKETS);
        assert!((upper_bound(BUCKETS - 1) - 6.5536).abs() < 1e-9);
    }
}
