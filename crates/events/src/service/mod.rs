//! The events service, running on a node.
//!
//! - `server`: an event server's share of constraints and partials.
//! - `node`: calls between event servers, deadlines, and the leader's
//!   work at the deadline.
//! - `recovery`: the coordinator's hand-over of dead servers' events, and
//!   each server's sweep.
//! - `front`: [`Events`], the handle the web front calls.

use std::net::SocketAddr;
use std::sync::Arc;

use convene_cluster::membership::Membership;
use convene_cluster::peer::BoxFuture;
use convene_cluster::{Peers, Router, ServiceHandler, ServiceTag, Shutdown};
use convene_wire::{Decode, Encode};
use tokio::task::JoinHandle;

use crate::db::EventDb;
use crate::msg::Request;
use crate::working::WorkingSet;

mod front;
mod node;
mod recovery;
mod server;

pub use front::{
    Events, EventsPage, MAX_DESCRIPTION, MAX_INTERVALS, MAX_NAME, MAX_PAGE_SIZE, NewEventRequest,
    PAGE_SIZE,
};

use node::Node;
use server::EventServer;

/// What the events service needs from its node.
pub struct EventsContext {
    /// The peer transport.
    pub peers: Peers,
    /// Where to register for [`ServiceTag::Events`].
    pub router: Arc<Router>,
    /// The coordinator and the live set (for hand-over and round-robin).
    pub membership: Membership,
    /// Ends every task.
    pub shutdown: Shutdown,
    /// The shared database, already opened.
    pub db: Arc<dyn EventDb>,
    /// Where this node's event server keeps its working set.
    pub working: Arc<dyn WorkingSet>,
}

/// The running service: the [`Events`] handle and its tasks.
pub struct EventsService {
    events: Events,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the events service on a node.
pub fn start(context: EventsContext) -> EventsService {
    let me = context
        .peers
        .cluster()
        .index_of(&context.peers.me().id)
        .unwrap_or_default();
    let server = context.peers.me().event_server.then(|| {
        EventServer::new(
            context.peers.me().id.clone(),
            context.db.clone(),
            context.working.clone(),
        )
    });
    let node = Arc::new(Node::new(
        me,
        context.peers,
        context.membership,
        context.db,
        server,
        context.shutdown,
    ));
    let _ = context
        .router
        .register(ServiceTag::Events, Arc::new(Handler(node.clone())));
    let tasks = vec![
        tokio::spawn(recovery::hand_over(node.clone())),
        tokio::spawn(recovery::sweep(node.clone())),
    ];
    EventsService {
        events: Events { node },
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
struct Handler(Arc<Node>);

impl ServiceHandler for Handler {
    fn handle(&self, from: SocketAddr, body: Vec<u8>) -> BoxFuture<Option<Vec<u8>>> {
        let node = self.0.clone();
        Box::pin(async move {
            node.peers.cluster().node_at(from)?;
            let request = match Request::from_bytes(&body) {
                Ok(request) => request,
                Err(error) => {
                    tracing::debug!(%from, %error, "undecodable events request dropped");
                    return None;
                }
            };
            Some(node.handle(request).await.to_bytes())
        })
    }
}

pub(crate) use crate::zone::now_seconds;
