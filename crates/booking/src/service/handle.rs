//! [`BookingHandle`]: the booking service for code on the same node (the
//! web app), routed exactly as a front door routes a client's datagram.
//!
//! A request is encoded as the seed's datagram and handed to the same
//! dispatch a UDP front door uses: to the node serving the facility (or the
//! booking's facility), here or over the peer transport. So a booking made
//! through the handle is the same booking a seed client sees, and the
//! booking rules (and their messages) are the seed's. It is executed
//! without the at-most-once reply cache: the caller (an HTTP request) is
//! answered once, over a reliable connection.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::watch;
use tracing::Instrument;

use crate::config::BookingSection;
use crate::wire::{DayAvailability, Reply, Request};

use super::watchers::Latest;

use super::observe::{self, outcomes};
use super::{FrontReply, Shared};

/// The "client address" requests from a handle carry: no UDP client, so
/// the unspecified address (it appears in the owner's log lines only).
pub const LOCAL_CLIENT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// A cheap, cloneable way to run booking requests from this node.
#[derive(Clone)]
pub struct BookingHandle {
    shared: Arc<Shared>,
    next_id: Arc<AtomicU32>,
}

/// A facility of the cluster, and who serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facility {
    /// Its name, as the cluster file lists it.
    pub name: String,
    /// The id of the node that lists it in `[node.booking]`.
    pub listed_by: String,
    /// The id of the node serving it now (as this node last read the
    /// owners table; the listing node until a table says otherwise).
    pub served_by: Option<String>,
}

/// Why a request got no reply from the booking service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingCallError {
    /// The node serving it is busy or taking the facility over: ask again.
    #[error("the booking service is busy; try again shortly")]
    Busy,
    /// Monitoring is for UDP clients (callbacks go to an address).
    #[error("monitoring is only for UDP clients")]
    Monitor,
    /// The reply could not be read (a bug or a mismatched node).
    #[error("the booking service's reply could not be read: {0}")]
    BadReply(String),
}

impl BookingHandle {
    pub(super) fn new(shared: Arc<Shared>) -> BookingHandle {
        BookingHandle {
            shared,
            next_id: Arc::new(AtomicU32::new(1)),
        }
    }

    /// Every facility in the cluster file, in its order, with who serves it.
    pub fn facilities(&self) -> Vec<Facility> {
        let cluster = self.shared.peers.cluster();
        cluster
            .nodes
            .iter()
            .flat_map(|node| {
                BookingSection::facilities_of(node)
                    .iter()
                    .map(move |name| (name, node))
            })
            .map(|(name, node)| Facility {
                name: name.clone(),
                listed_by: node.id.clone(),
                served_by: self
                    .shared
                    .view
                    .owner_of(cluster, name)
                    .and_then(|n| cluster.nodes.get(n))
                    .map(|n| n.id.clone()),
            })
            .collect()
    }

    /// Watches `facility`: its week now (once its owner answers) and after
    /// every change, by anyone, over any front door (see
    /// [`watchers`](super::watchers)). `None` if the cluster file lists no
    /// such facility. Returns at once: the first watcher's subscription is
    /// asked for in the background.
    pub fn watch(&self, facility: &str) -> Option<FacilityWatch> {
        let cluster = self.shared.peers.cluster();
        let listed = cluster.nodes.iter().any(|n| {
            BookingSection::facilities_of(n)
                .iter()
                .any(|f| f == facility)
        });
        if !listed {
            return None;
        }
        let mut rx = self.shared.watchers.watch(facility);
        // The first watcher subscribes now rather than at the next look, so
        // the week shows at once; a later one finds it in the channel.
        if rx.borrow().is_none()
            && let Some(node) = self.shared.view.owner_of(cluster, facility)
            && self.shared.watchers.start_asking(facility)
        {
            let (shared, facility) = (self.shared.clone(), facility.to_string());
            tokio::spawn(async move { shared.watch_at_owner(&facility, node).await });
        }
        rx.mark_changed();
        Some(FacilityWatch {
            facility: facility.to_string(),
            rx,
            shutdown: self.shared.shutdown.clone(),
        })
    }

    /// Runs `request` where its facility is served and returns the seed's
    /// reply (an [`Reply::Error`] for a refusal by the booking rules).
    ///
    /// Counted as a request at door `web` (see the `observe` module).
    pub async fn execute(&self, request: &Request) -> Result<Reply, BookingCallError> {
        let observed = self.shared.metrics.begin(
            observe::SERVICE,
            observe::WEB,
            observe::web_kind(request),
            None,
        );
        if matches!(request, Request::Monitor { .. }) {
            observed.finish(outcomes::BAD_REQUEST);
            return Err(BookingCallError::Monitor);
        }
        let request_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let datagram = request.encode(request_id);
        let reply = self
            .shared
            .dispatch(LOCAL_CLIENT, &datagram, false)
            .instrument(observed.span().clone())
            .await;
        observed.finish(reply.outcome());
        match reply {
            FrontReply::Keep(bytes) | FrontReply::Once(bytes, _) => {
                Reply::decode(&bytes).map_err(|e| BookingCallError::BadReply(e.to_string()))
            }
            FrontReply::Silent => Err(BookingCallError::Busy),
        }
    }
}

/// One watcher of a facility's week (see [`BookingHandle::watch`]).
/// Dropping it ends the watch.
pub struct FacilityWatch {
    facility: String,
    rx: watch::Receiver<Latest>,
    shutdown: convene_cluster::shutdown::Shutdown,
}

impl FacilityWatch {
    /// The facility watched.
    pub fn facility(&self) -> &str {
        &self.facility
    }

    /// The facility's free time per day, Monday to Sunday: at once the
    /// first time if it is known, then whenever it changes. A watcher that
    /// calls late gets only the newest week (the ones between are
    /// skipped). `None` once the node shuts down.
    pub async fn next(&mut self) -> Option<Vec<DayAvailability>> {
        loop {
            tokio::select! {
                changed = self.rx.changed() => changed.ok()?,
                () = self.shutdown.wait() => return None,
            }
            let latest = self.rx.borrow_and_update().clone();
            let Some(bytes) = latest else { continue };
            match Reply::decode(&bytes) {
                Ok(Reply::Update { days, .. }) => return Some(days),
                other => {
                    tracing::warn!(
                        facility = self.facility,
                        "unreadable week update: {other:?}"
                    );
                }
            }
        }
    }
}
