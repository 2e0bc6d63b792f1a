//! Lists too long for one datagram, read page by page from a frozen copy:
//! the server's [`Snapshots`] and the reader's [`read_snapshot`].
//!
//! A peer reply is one datagram, so a long list (a files node's folder
//! listing or records, a chat server's view) travels in pages. A list that
//! changed between two pages would make the reader skip or repeat items, so
//! the first request (snapshot 0) freezes the list under an id, and later
//! requests read that id from an offset. Each service keeps its own
//! messages; this module is the two halves they share.
//!
//! **The server** keeps a few frozen lists, each for a while: a snapshot is
//! dropped once it is older than the TTL, or when more than `kept` are
//! frozen (the oldest first). A request for a snapshot no longer kept is
//! answered "stale".
//!
//! **The reader**, one rule for every service:
//!
//! - it asks for snapshot 0 first, then for the id the first page named,
//!   each time from the offset of the items it has (offsets count items; a
//!   list of bytes counts bytes);
//! - it is done when it holds `total` items;
//! - a [`Page::Stale`] starts it over from snapshot 0, and the whole read is
//!   tried [`TRIES`] times at most;
//! - a page that brings nothing while items are missing, a `total` over the
//!   caller's `max_total`, or a refusal (the fetch returns `None`: no
//!   answer, an answer that does not decode, any other answer) ends it with
//!   `None`.
//!
//! ```
//! # async fn example() {
//! use convene_cluster::snapshot::{Page, Snapshots, read_snapshot};
//! use std::time::Duration;
//!
//! // The server side: freeze on snapshot 0, serve pages of two.
//! let frozen = Snapshots::new(16, Duration::from_secs(30));
//! let serve = |snapshot: u64, offset: u32| {
//!     let (id, list) = if snapshot == 0 {
//!         frozen.freeze(vec!['a', 'b', 'c'])
//!     } else {
//!         match frozen.get(snapshot) {
//!             Some(list) => (snapshot, list),
//!             None => return Page::Stale,
//!         }
//!     };
//!     let start = (offset as usize).min(list.len());
//!     let end = (start + 2).min(list.len());
//!     Page::Items { snapshot: id, total: list.len() as u32, items: list[start..end].to_vec() }
//! };
//! // The reader, here calling the server directly instead of a peer.
//! let all = read_snapshot(|snapshot, offset| std::future::ready(Some(serve(snapshot, offset))), 100).await;
//! assert_eq!(all, Some(vec!['a', 'b', 'c']));
//! # }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Frozen lists (any `T`), by id, each kept for a while.
///
/// Time is tokio's clock, so a paused test clock or a simulation ages the
/// snapshots as it ages everything else.
pub struct Snapshots<T> {
    frozen: Mutex<HashMap<u64, (Instant, Arc<T>)>>,
    next: AtomicU64,
    kept: usize,
    ttl: Duration,
}

impl<T> Snapshots<T> {
    /// Keeps at most `kept` snapshots at once (at least one), each readable
    /// for `ttl` after it was frozen.
    pub fn new(kept: usize, ttl: Duration) -> Self {
        Snapshots {
            frozen: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            kept: kept.max(1),
            ttl,
        }
    }

    /// Freezes `value` and returns its id (never 0, which asks for a new
    /// one), dropping expired snapshots and, past `kept`, the oldest.
    pub fn freeze(&self, value: T) -> (u64, Arc<T>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let value = Arc::new(value);
        let now = Instant::now();
        let mut frozen = self.frozen.lock().unwrap_or_else(|e| e.into_inner());
        frozen.retain(|_, (made, _)| now.duration_since(*made) < self.ttl);
        while frozen.len() >= self.kept {
            let Some(oldest) = frozen
                .iter()
                .min_by_key(|(id, (made, _))| (*made, **id))
                .map(|(id, _)| *id)
            else {
                break;
            };
            frozen.remove(&oldest);
        }
        frozen.insert(id, (now, value.clone()));
        (id, value)
    }

    /// Snapshot `id`, if it is still kept and younger than the TTL.
    pub fn get(&self, id: u64) -> Option<Arc<T>> {
        let frozen = self.frozen.lock().unwrap_or_else(|e| e.into_inner());
        frozen
            .get(&id)
            .filter(|(made, _)| made.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }
}

/// One page of a snapshot, as the reader's `fetch` makes of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page<T> {
    /// Items from the offset asked for.
    Items {
        /// The snapshot they belong to.
        snapshot: u64,
        /// Items in the whole snapshot.
        total: u32,
        /// This page's items.
        items: Vec<T>,
    },
    /// The snapshot asked for is no longer kept: start over.
    Stale,
}

/// How many times [`read_snapshot`] reads from the start, a snapshot
/// expiring or being replaced under it each time, before it gives up.
pub const TRIES: usize = 3;

/// Reads a whole snapshot, page by page: `fetch(snapshot, offset)` asks for
/// one page (snapshot 0 for a new one) and returns it, or `None` for a
/// refusal. `None` if the list cannot be had (see the [module
/// docs](self) for the rule), else every item in order.
pub async fn read_snapshot<T, F, Fut>(mut fetch: F, max_total: usize) -> Option<Vec<T>>
where
    F: FnMut(u64, u32) -> Fut,
    Fut: Future<Output = Option<Page<T>>>,
{
    'tries: for _ in 0..TRIES {
        let mut all = Vec::new();
        let mut snapshot = 0;
        loop {
            // Fewer items than `total`, a `u32`, are held here.
            let offset = all.len() as u32;
            match fetch(snapshot, offset).await? {
                Page::Items {
                    snapshot: id,
                    total,
                    items,
                } => {
                    let total = total as usize;
                    if total > max_total || (items.is_empty() && all.len() < total) {
                        return None;
                    }
                    snapshot = id;
                    all.extend(items);
                    if all.len() >= total {
                        return Some(all);
                    }
                }
                Page::Stale => continue 'tries,
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
