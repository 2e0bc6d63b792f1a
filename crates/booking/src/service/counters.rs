//! [`BookingCounters`]: what the booking service has counted, readable
//! from outside it at any time (the node's metrics read it at each scrape).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use convene_rpc::{BudgetStats, CacheStats};

use super::Shared;

/// A handle on the service's counters. Cheap to clone; it keeps nothing
/// running.
#[derive(Clone)]
pub struct BookingCounters {
    shared: Arc<Shared>,
}

/// The at-most-once caches' counts (hits, retries dropped while the
/// original runs, misses...), each `None` where the node has no such part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyCacheStats {
    /// The front door's cache of the datagrams clients sent it.
    pub front: Option<CacheStats>,
    /// The owner's record of the requests it executed, for every front
    /// door.
    pub owner: Option<CacheStats>,
}

impl BookingCounters {
    pub(super) fn new(shared: Arc<Shared>) -> BookingCounters {
        BookingCounters { shared }
    }

    /// Datagrams and peer requests dropped as malformed or unexpected.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// What the front door's reply budget let through and dropped, if this
    /// node is a front door.
    pub fn budget(&self) -> Option<BudgetStats> {
        let front = self.shared.front.as_ref()?;
        Some(
            front
                .budget
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stats(),
        )
    }

    /// The reply caches' counts.
    pub fn reply_caches(&self) -> ReplyCacheStats {
        ReplyCacheStats {
            front: self.shared.front.as_ref().map(|front| {
                front
                    .cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .stats()
            }),
            owner: self.shared.owner.as_ref().map(|owner| owner.cache_stats()),
        }
    }
}
