//! The events service, running on a node: the driver of the decisions in
//! [`crate::plan`].
//!
//! - `server`: an event server's share of constraints and partials.
//! - `node`: a node's view of the cluster and its calls to event servers.
//! - `deadline`: the timers of the events a node leads, and the leader's
//!   work at the deadline ([`crate::plan::Finish`] carried out).
//! - `recovery`: the coordinator's hand-over and each server's sweep
//!   ([`crate::plan::plan_hand_over`], [`crate::plan::plan_sweep`] carried
//!   out).
//! - `front`: [`Events`], the handle the web front calls.
//! - `faults`: [`EventsFaults`], what a test may make go wrong.
//! - `clock`: where the driver reads the time of day.

use std::net::SocketAddr;
use std::sync::Arc;

use convene_cluster::membership::Membership;
use convene_cluster::peer::BoxFuture;
use convene_cluster::{Peers, Router, ServiceHandler, Shutdown};
use convene_wire::{Decode, Encode};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::db::EventDb;
use crate::peer_msg::{Reply, Request};
use crate::working::WorkingSet;

mod clock;
mod deadline;
mod events_node;
mod faults;
mod front;
mod observe;
mod recovery;
mod server;
#[cfg(test)]
mod sim;

pub use faults::EventsFaults;
pub use front::{
    Events, EventsPage, MAX_DESCRIPTION, MAX_INTERVALS, MAX_NAME, MAX_PAGE_SIZE, NewEventRequest,
    PAGE_SIZE,
};

use clock::Clock;
use events_node::{EventsNode, Parts, Transport};
use server::EventServer;

/// What the events service needs from its node.
pub struct EventsContext {
    /// The peer transport.
    pub peers: Peers,
    /// Where to register for [`TAG`](crate::peer_msg::TAG).
    pub router: Arc<Router>,
    /// The coordinator and the live set (for hand-over and round-robin).
    pub membership: Membership,
    /// Ends every task.
    pub shutdown: Shutdown,
    /// The shared database, already opened.
    pub db: Arc<dyn EventDb>,
    /// Where this node's event server keeps its working set.
    pub working: Arc<dyn WorkingSet>,
    /// Faults to inject, for tests; [`EventsFaults::default`] (none)
    /// otherwise.
    pub faults: EventsFaults,
    /// The node's metrics, where this service counts what it serves.
    pub metrics: convene_metrics::Metrics,
}

/// The running service: the [`Events`] handle and its tasks.
pub struct EventsService {
    events: Events,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the events service on a node.
pub fn start(context: EventsContext) -> EventsService {
    let me = context.membership.me();
    let live = context.membership.live();
    let coordinator = context.membership.coordinator();
    let transport: Arc<dyn Transport> = Arc::new(context.peers);
    start_on(
        Parts {
            me,
            transport,
            live,
            coordinator,
            authority: {
                let membership = context.membership.clone();
                Arc::new(move || membership.authority())
            },
            db: context.db,
            shutdown: context.shutdown,
            faults: context.faults,
            clock: Clock::system(),
        },
        context.working,
        &context.router,
        context.metrics,
    )
}

/// Starts the service on any transport and clock (the simulation's, in
/// `sim.rs`): the event server if this node is one, the handler for peer
/// requests, the hand-over and the sweep.
fn start_on(
    parts: Parts,
    working: Arc<dyn WorkingSet>,
    router: &Router,
    metrics: convene_metrics::Metrics,
) -> EventsService {
    let me = &parts.transport.cluster().nodes[parts.me];
    let server = me.event_server.then(|| {
        EventServer::new(
            me.id.clone(),
            parts.db.clone(),
            working,
            parts.clock.clone(),
        )
    });
    let node = Arc::new(EventsNode::new(parts, server));
    let handler = Handler {
        node: node.clone(),
        metrics: metrics.clone(),
    };
    let _ = router.register(crate::peer_msg::TAG, Arc::new(handler));
    let tasks = vec![
        tokio::spawn(recovery::hand_over(node.clone())),
        tokio::spawn(recovery::sweep(node.clone())),
    ];
    EventsService {
        events: Events { node, metrics },
        tasks,
    }
}

impl EventsService {
    /// The handle the web front calls.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Waits for the service's tasks to end (after shutdown).
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
        self.events.node.join_timers().await;
    }
}

/// Peer requests: only from nodes of the cluster, and only well formed.
/// Each is counted as a request at door `peer` (see [`observe`]).
struct Handler {
    node: Arc<EventsNode>,
    metrics: convene_metrics::Metrics,
}

impl ServiceHandler for Handler {
    fn handle(&self, from: SocketAddr, body: Vec<u8>) -> BoxFuture<Option<Vec<u8>>> {
        let node = self.node.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            node.cluster().node_at(from)?;
            let request = match Request::from_bytes(&body) {
                Ok(request) => request,
                Err(error) => {
                    tracing::debug!(%from, %error, "undecodable events request dropped");
                    return None;
                }
            };
            let observed = metrics.begin(
                observe::SERVICE,
                observe::PEER,
                observe::peer_kind(&request),
                Some(from),
            );
            let reply = node
                .handle(request)
                .instrument(observed.span().clone())
                .await;
            observed.finish(observe::reply_outcome(&reply));
            if let Reply::Partial(_) = reply {
                metrics.count(observe::SERVICE, observe::PARTIAL_SOLUTION, 1);
            }
            Some(reply.to_bytes())
        })
    }
}
