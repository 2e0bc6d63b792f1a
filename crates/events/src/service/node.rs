//! A node of the events service: its event server (if it is one), its
//! calls to the others, and the deadlines of the events it leads.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use convene_cluster::membership::Membership;
use convene_cluster::{Peers, ServiceTag, Shutdown, Unordered};
use convene_wire::{Decode, Encode};

use crate::db::{EventDb, EventState};
use crate::error::EventsError;
use crate::interval::Partial;
use crate::msg::{Reply, Request};

use super::server::EventServer;

/// Why a call to another event server did not get an answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error("transport: {0}")]
    Transport(convene_rpc::RpcError),
    #[error("undecodable reply: {0}")]
    Decode(convene_wire::DecodeError),
}

/// What a request to an event server is for: each kind takes its own turn.
#[derive(Clone, Copy)]
pub(crate) enum Work {
    /// A new event (its leader).
    Event,
    /// A constraint.
    Constraint,
}

/// How long a leader waits for a server to freeze an event and send its
/// partial (the server first lets its submissions under way finish).
const FREEZE_WAIT: Duration = Duration::from_secs(5);

/// Everything a node's events tasks share.
pub(crate) struct Node {
    pub(crate) me: usize,
    pub(crate) peers: Peers,
    pub(crate) membership: Membership,
    pub(crate) db: Arc<dyn EventDb>,
    /// This node's event server, if `event_server` is true for it.
    pub(crate) server: Option<EventServer>,
    pub(crate) shutdown: Shutdown,
    /// The web front's round-robin positions, one for new events and one
    /// for constraints (as the seed's backend keeps them apart, so that
    /// events spread over the servers whatever the answers do).
    next_event: AtomicUsize,
    next_constraint: AtomicUsize,
    /// Events whose deadline this node has a timer for.
    armed: Mutex<HashSet<String>>,
    /// The timers' tasks, so that stopping the node waits for them (each
    /// holds the node, and with it the peer socket).
    timers: Mutex<tokio::task::JoinSet<()>>,
}

impl Node {
    pub(crate) fn new(
        me: usize,
        peers: Peers,
        membership: Membership,
        db: Arc<dyn EventDb>,
        server: Option<EventServer>,
        shutdown: Shutdown,
    ) -> Self {
        Node {
            me,
            peers,
            membership,
            db,
            server,
            shutdown,
            next_event: AtomicUsize::new(0),
            next_constraint: AtomicUsize::new(0),
            armed: Mutex::new(HashSet::new()),
            timers: Mutex::new(tokio::task::JoinSet::new()),
        }
    }

    /// This node's id.
    pub(crate) fn my_id(&self) -> &str {
        &self.peers.me().id
    }

    /// The id of node number `node`.
    pub(crate) fn id_of(&self, node: usize) -> &str {
        &self.peers.cluster().nodes[node].id
    }

    /// The live event servers, by node number, in file order.
    pub(crate) fn live_servers(&self) -> Vec<usize> {
        let live = self.membership.live().borrow().clone();
        self.peers
            .cluster()
            .event_servers()
            .map(|(i, _)| i)
            .filter(|i| live.contains(i))
            .collect()
    }

    /// The live event servers in round-robin order, starting from the next
    /// one in turn: whom to try for one request, in order.
    pub(crate) fn round_robin(&self, work: Work) -> Vec<usize> {
        let next = match work {
            Work::Event => &self.next_event,
            Work::Constraint => &self.next_constraint,
        };
        let mut servers = self.live_servers();
        if !servers.is_empty() {
            let turn = next.fetch_add(1, Ordering::Relaxed) % servers.len();
            servers.rotate_left(turn);
        }
        servers
    }

    /// Sends `request` to event server `node` (directly if it is this node).
    pub(crate) async fn call(
        self: &Arc<Self>,
        node: usize,
        request: Request,
    ) -> Result<Reply, CallError> {
        if node == self.me {
            return Ok(self.handle(request).await);
        }
        let to = self.peers.cluster().nodes[node].peer_addr();
        let reply = self
            .peers
            .call(to, ServiceTag::Events, &request.to_bytes())
            .await
            .map_err(CallError::Transport)?;
        Reply::from_bytes(&reply).map_err(CallError::Decode)
    }

    /// Carries out a request addressed to this node.
    pub(crate) async fn handle(self: &Arc<Self>, request: Request) -> Reply {
        let Some(server) = &self.server else {
            return Reply::Refused(EventsError::NoEventServer);
        };
        let done = |r: Result<(), EventsError>| match r {
            Ok(()) => Reply::Done,
            Err(e) => Reply::Refused(e),
        };
        match request {
            Request::Submit {
                event,
                user,
                availability,
            } => done(server.submit(&event, &user, &availability).await),
            Request::Freeze { event } => match server.freeze(&event).await {
                Ok(partial) => Reply::Partial(partial),
                Err(e) => Reply::Refused(e),
            },
            Request::Adopt { event } => done(server.adopt(&event).await),
            Request::Clear { event } => done(server.clear(&event).await),
            Request::Lead { event } => done(self.lead(&event).await),
        }
    }

    /// Takes the lead of `event`: arms its deadline if this node leads it.
    pub(crate) async fn lead(self: &Arc<Self>, event: &str) -> Result<(), EventsError> {
        let stored = self
            .db
            .event(event)
            .await?
            .ok_or_else(|| EventsError::UnknownEvent(event.to_string()))?;
        if stored.state == EventState::Open && stored.leader == self.my_id() {
            self.arm(event, stored.deadline);
        }
        Ok(())
    }

    /// Starts a timer that finishes `event` at `deadline` (once per event).
    pub(crate) fn arm(self: &Arc<Self>, event: &str, deadline: i64) {
        if !self.lock_armed().insert(event.to_string()) {
            return;
        }
        let node = self.clone();
        let event = event.to_string();
        let mut timers = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        // Reap the timers that have finished, so the set stays small.
        while timers.try_join_next().is_some() {}
        timers.spawn(async move {
            let shutdown = node.shutdown.clone();
            // Sleep to the wall-clock deadline (re-checked, since a sleep
            // follows the monotonic clock and the deadline is wall time):
            // from then on no server accepts a constraint for the event.
            while let Some(wait) = until(deadline) {
                tokio::select! {
                    _ = shutdown.wait() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            loop {
                match node.finish(&event).await {
                    Ok(()) => break,
                    Err(error) => {
                        tracing::warn!(%event, %error, "finishing the event failed; retrying");
                        tokio::select! {
                            _ = shutdown.wait() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            }
            node.lock_armed().remove(&event);
        });
    }

    /// Waits for every deadline timer to end (after shutdown).
    pub(crate) async fn join_timers(&self) {
        let mut timers =
            std::mem::take(&mut *self.timers.lock().unwrap_or_else(|e| e.into_inner()));
        while timers.join_next().await.is_some() {}
    }

    fn lock_armed(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The leader's work at the deadline: freeze the event on every live
    /// server, collect their partials, read from the database what the
    /// silent ones accepted, intersect, store once, and clear.
    pub(crate) async fn finish(self: &Arc<Self>, event: &str) -> Result<(), EventsError> {
        let Some(stored) = self.db.event(event).await? else {
            return Ok(());
        };
        if stored.state == EventState::Final || stored.leader != self.my_id() {
            // Done already, or the coordinator gave it to another server.
            return Ok(());
        }
        let servers = self.live_servers();
        let mut calls = Unordered::new(servers.iter().map(|&node| {
            let request = Request::Freeze {
                event: event.to_string(),
            };
            // A server waits for its submissions under way before it
            // answers; one that has not answered by then counts as silent,
            // and its share is read from the database.
            async move {
                (
                    node,
                    tokio::time::timeout(FREEZE_WAIT, self.call(node, request)).await,
                )
            }
        }));
        let mut result = Partial::none();
        let mut answered: Vec<String> = Vec::new();
        while let Some((node, reply)) = calls.next().await {
            match reply {
                Ok(Ok(Reply::Partial(partial))) => {
                    result.merge(&partial);
                    answered.push(self.id_of(node).to_string());
                }
                other => {
                    tracing::info!(%event, server = self.id_of(node), reply = ?other, "no partial; reading its share from the database")
                }
            }
        }
        if let Some(pause) = fault_pause_before_store() {
            tracing::warn!(%event, ?pause, "fault injection: pausing between freezing and storing");
            tokio::time::sleep(pause).await;
        }
        // What the silent servers accepted is read in the transaction that
        // stores the result, so no acknowledged constraint can slip between.
        match self.db.finish(event, &result, &answered).await? {
            Some(result) => {
                tracing::info!(%event, intervals = result.as_slice().len(), "event finished")
            }
            None => tracing::info!(%event, "event already finished by another leader"),
        }
        // Clearing is tidying up: a server that misses it drops the entry
        // on its next sweep.
        let mut clears = Unordered::new(self.live_servers().into_iter().map(|node| {
            let request = Request::Clear {
                event: event.to_string(),
            };
            async move { self.call(node, request).await }
        }));
        while clears.next().await.is_some() {}
        Ok(())
    }
}

/// How long until the wall clock reaches `deadline` (Unix seconds), or
/// `None` if it has.
fn until(deadline: i64) -> Option<Duration> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let deadline = Duration::from_secs(deadline.max(0) as u64);
    deadline.checked_sub(now).filter(|d| !d.is_zero())
}

/// Fault injection for the tests that kill a leader in the middle of its
/// work: `CONVENE_FAULT_PAUSE_BEFORE_STORE_MS` makes a leader wait that long
/// between collecting the partials and storing the result. Unset (always,
/// outside those tests), it costs one read of a cached value.
fn fault_pause_before_store() -> Option<Duration> {
    static PAUSE: std::sync::OnceLock<Option<Duration>> = std::sync::OnceLock::new();
    *PAUSE.get_or_init(|| {
        std::env::var("CONVENE_FAULT_PAUSE_BEFORE_STORE_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis)
    })
}
