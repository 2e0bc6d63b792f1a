//! Watchers: code on this node (the web app's live grid) that wants a
//! facility's week whenever it changes, without polling.
//!
//! A watcher rides on the path monitor callbacks already take. The node
//! subscribes at the facility's owner exactly as a front door does for its
//! UDP monitors (as itself when it serves the facility, else over the peer
//! transport), so the owner's change notice arrives here in
//! `push_update`, which hands the MONITOR_UPDATE datagram (the whole week)
//! to the facility's [`tokio::sync::watch`] channel as well as to UDP
//! monitors.
//!
//! A watch channel keeps only the newest value: a watcher that reads
//! slowly (a browser on a slow link) skips the weeks it missed and sees
//! the latest, and the node holds one week per watched facility however
//! many watchers there are or however far behind they are.
//!
//! Subscriptions at the owner expire; [`Watchers::due`] names the watched
//! facilities to subscribe again: every [`RENEW_EVERY`] (an owner that
//! restarted has forgotten them), at once when the facility's owner changed
//! (after a failover, the new owner knows nothing of this node), and until
//! a subscription takes. A facility nobody watches
//! any more is forgotten at the next look.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::watch;

use super::ownership::RENEW_EVERY;

/// How long one subscription for watchers lasts at the owner: a few
/// renewals, so one lost renewal does not end it.
pub const WATCH_SECONDS: u32 = 30;

/// The newest MONITOR_UPDATE datagram of a facility (`None` until the
/// first arrives).
pub type Latest = Option<Arc<[u8]>>;

/// The watched facilities of this node.
#[derive(Default)]
pub struct Watchers {
    map: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    tx: watch::Sender<Latest>,
    /// The node the last subscription that took was made at, and when.
    subscribed: Option<(usize, Instant)>,
    /// A subscription is being asked for now (a dead owner takes a peer
    /// call's whole timeout to fail: asking again meanwhile would pile up).
    asking: bool,
}

impl Watchers {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A receiver of `facility`'s weeks, holding the newest known.
    pub fn watch(&self, facility: &str) -> watch::Receiver<Latest> {
        let mut map = self.map();
        match map.get(facility) {
            Some(entry) => entry.tx.subscribe(),
            None => {
                let (tx, rx) = watch::channel(None);
                map.insert(
                    facility.to_string(),
                    Entry {
                        tx,
                        subscribed: None,
                        asking: false,
                    },
                );
                rx
            }
        }
    }

    /// A new week of `facility` (a MONITOR_UPDATE datagram): it replaces
    /// what its watchers have not read yet.
    pub fn deliver(&self, facility: &str, update: &[u8]) {
        if let Some(entry) = self.map().get(facility) {
            entry.tx.send_replace(Some(Arc::from(update)));
        }
    }

    /// Records how asking for `facility`'s subscription went: `Some((node,
    /// when))` if it took at `node`, `None` if not (it is asked again at
    /// the next look).
    pub fn asked(&self, facility: &str, took: Option<(usize, Instant)>) {
        if let Some(entry) = self.map().get_mut(facility) {
            entry.asking = false;
            if took.is_some() {
                entry.subscribed = took;
            }
        }
    }

    /// Marks `facility` as being asked for; `false` if it already is.
    pub fn start_asking(&self, facility: &str) -> bool {
        match self.map().get_mut(facility) {
            Some(entry) if !entry.asking => {
                entry.asking = true;
                true
            }
            _ => false,
        }
    }

    /// The watched facilities to subscribe for again now, each with the
    /// node serving it (`owner_of`), marked as being asked for (tell
    /// [`asked`](Self::asked) how it went); unwatched ones are forgotten.
    pub fn due(
        &self,
        now: Instant,
        owner_of: impl Fn(&str) -> Option<usize>,
    ) -> Vec<(String, usize)> {
        let mut map = self.map();
        map.retain(|_, entry| entry.tx.receiver_count() > 0);
        map.iter_mut()
            .filter_map(|(facility, entry)| {
                let owner = owner_of(facility)?;
                let fresh = entry.subscribed.is_some_and(|(at, when)| {
                    at == owner && now.duration_since(when) < RENEW_EVERY
                });
                if fresh || entry.asking {
                    return None;
                }
                entry.asking = true;
                Some((facility.clone(), owner))
            })
            .collect()
    }

    /// Facilities watched now.
    pub fn watched(&self) -> usize {
        self.map()
            .values()
            .filter(|e| e.tx.receiver_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_slow_watcher_sees_only_the_latest_week() {
        let w = Watchers::default();
        let mut rx = w.watch("Room");
        w.deliver("Room", b"one");
        w.deliver("Room", b"two");
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().as_deref(), Some(&b"two"[..]));
        assert!(!rx.has_changed().unwrap());
        // Nobody watches "Hall": nothing is kept for it.
        w.deliver("Hall", b"x");
        assert_eq!(w.watched(), 1);
    }

    #[test]
    fn subscriptions_are_renewed_and_follow_the_owner() {
        let w = Watchers::default();
        let rx = w.watch("Room");
        let t0 = Instant::now();
        assert_eq!(w.due(t0, |_| Some(1)), vec![("Room".to_string(), 1)]);
        // Not again while it is being asked for.
        assert!(w.due(t0, |_| Some(1)).is_empty());
        w.asked("Room", Some((1, t0)));
        assert!(w.due(t0, |_| Some(1)).is_empty());
        // The owner moved: at once.
        assert_eq!(w.due(t0, |_| Some(2)), vec![("Room".to_string(), 2)]);
        // It did not take: asked again at the next look.
        w.asked("Room", None);
        assert_eq!(w.due(t0, |_| Some(2)), vec![("Room".to_string(), 2)]);
        w.asked("Room", Some((2, t0)));
        // Time to renew.
        let later = t0 + RENEW_EVERY + Duration::from_millis(1);
        assert_eq!(w.due(later, |_| Some(2)).len(), 1);
        w.asked("Room", None);
        // Nobody watches any more: forgotten.
        drop(rx);
        assert!(w.due(later, |_| Some(1)).is_empty());
        assert_eq!(w.watched(), 0);
    }
}
