//! Frozen lists served page by page.
//!
//! A listing or a set of records can outgrow one datagram, and a list that
//! changes between two pages would make a reader skip or repeat entries. So
//! the first request freezes the list under an id, later pages read it by
//! offset, and a snapshot lives only [`TTL`]: a reader that finds it gone
//! starts again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a snapshot stays readable.
pub const TTL: Duration = Duration::from_secs(30);

/// Snapshots kept at once (the oldest go first).
const KEPT: usize = 16;

/// Frozen lists of `T`, by id.
pub(crate) struct Snapshots<T> {
    kept: Mutex<HashMap<u64, (Instant, Arc<T>)>>,
    next: AtomicU64,
}

impl<T> Default for Snapshots<T> {
    fn default() -> Self {
        Snapshots {
            kept: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        }
    }
}

impl<T> Snapshots<T> {
    /// Keeps `value` and returns its id (never 0).
    pub fn freeze(&self, value: T) -> (u64, Arc<T>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let value = Arc::new(value);
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|_, (made, _)| made.elapsed() < TTL);
        while kept.len() >= KEPT {
            let Some(oldest) = kept
                .iter()
                .min_by_key(|(_, (made, _))| *made)
                .map(|(k, _)| *k)
            else {
                break;
            };
            kept.remove(&oldest);
        }
        kept.insert(id, (Instant::now(), value.clone()));
        (id, value)
    }

    /// Snapshot `id`, if it is still kept.
    pub fn get(&self, id: u64) -> Option<Arc<T>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&id)
            .filter(|(made, _)| made.elapsed() < TTL)
            .map(|(_, v)| v.clone())
    }
}
