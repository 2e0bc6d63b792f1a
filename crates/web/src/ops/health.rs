//! `GET /healthz` and `GET /readyz`: what a load balancer, systemd or
//! Kubernetes asks before sending traffic, with no login.
//!
//! The two answer different questions, so a supervisor can act on each:
//!
//! - `/healthz`, *is the process alive?* `200 ok` whenever the web front
//!   can answer at all. A failure means restart the process.
//! - `/readyz`, *should traffic come here now?* `200` with the node's
//!   view when all of these hold, else `503` naming each one that does not:
//!   - its storage answers: the events database (accounts, sessions and
//!     events live there) answers a one-row read within
//!     [`STORAGE_WAIT`] (the node's own store was opened at start: a node
//!     whose store did not open never serves this page);
//!   - it hears its peers: in a cluster of more than one node, at least
//!     one other node is live in its membership (a node that hears nobody
//!     can only forward into the void);
//!   - a coordinator is known (none during an election, or when the node
//!     is cut off from the others): the decisions that go through the
//!     coordinator (chat names, lock moves, the events hand-over) would wait.
//!
//!   A `503` means send traffic elsewhere for now, not restart: the
//!   reasons pass by themselves when peers come back or an election ends.
//!
//! The same [`Readiness`] answers on a node's `metrics_port` (see
//! [`probes`](crate::probes)) and sets `convene_ready` in `/metrics`.
//!
//! Both are cheap: `/readyz` reads this node's membership as it stands
//! (two `watch` borrows, no message to a peer) and makes one read of the
//! database; neither touches a session, so a probe every second costs
//! nothing worth measuring. Neither says anything an outsider could not
//! learn by trying the front's other routes, beyond the node ids the
//! cluster file names (the same as the status page shows after login).

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use convene_cluster::election::NodeId;
use convene_cluster::membership::Membership;
use convene_events::EventDb;
use serde::Serialize;

/// How long `/readyz` waits for the database before calling it down: a
/// probe's own timeout is typically a few seconds, and a database slower
/// than this is not ready for users either.
pub const STORAGE_WAIT: Duration = Duration::from_secs(1);

/// `GET /healthz`: `200 ok`, as plain text.
pub(crate) async fn healthz() -> Response {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], "ok\n").into_response()
}

/// The answer of `/readyz`, ready or not.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct ReadyOut {
    /// Whether traffic may come here now.
    ready: bool,
    /// Every reason it may not, joined into one sentence (`null` when
    /// ready): the `error` field every JSON refusal of this API has.
    error: Option<String>,
    /// The same reasons, one per entry (empty when ready).
    reasons: Vec<String>,
    /// This node's id (`null` on a front without a node's membership).
    node: Option<String>,
    /// The coordinator this node follows (`null` if none is known).
    coordinator: Option<String>,
    /// The nodes this node believes live, itself included.
    live: Vec<String>,
}

/// What `/readyz` looks at, gathered from the node; [`judge`] decides.
#[derive(Debug)]
pub(crate) struct Seen {
    /// Why the database did not answer, if it did not.
    storage: Result<(), String>,
    /// Every node id in the cluster file, in order (empty without
    /// membership).
    nodes: Vec<String>,
    /// This node's number.
    me: Option<NodeId>,
    /// The coordinator it follows.
    coordinator: Option<NodeId>,
    /// The nodes it believes live.
    live: Vec<NodeId>,
}

/// Ready or not, and why, from what was seen.
pub(crate) fn judge(seen: &Seen) -> ReadyOut {
    let name = |n: NodeId| seen.nodes.get(n).cloned().unwrap_or_else(|| "?".into());
    let mut reasons = Vec::new();
    if let Err(why) = &seen.storage {
        reasons.push(format!("storage is not answering: {why}"));
    }
    if seen.me.is_some() {
        let peers = seen.live.iter().filter(|&&n| Some(n) != seen.me).count();
        if seen.nodes.len() > 1 && peers == 0 {
            reasons.push(format!(
                "no peer heard from: no other node of the {} in the cluster file is live here",
                seen.nodes.len()
            ));
        }
        if seen.coordinator.is_none() {
            reasons.push(
                "no coordinator known (an election is under way or no majority is reachable)"
                    .into(),
            );
        }
    }
    ReadyOut {
        ready: reasons.is_empty(),
        error: (!reasons.is_empty()).then(|| reasons.join("; ")),
        reasons,
        node: seen.me.map(name),
        coordinator: seen.coordinator.map(name),
        live: seen.live.iter().map(|&n| name(n)).collect(),
    }
}

/// What the probes look at: the shared database and the node's
/// membership. Cheap to clone. The web front and the probe server
/// (`metrics_port`) each hold one, and so judge alike.
#[derive(Clone, Default)]
pub struct Readiness {
    db: Option<Arc<dyn EventDb>>,
    membership: Option<Membership>,
}

impl Readiness {
    /// Probes of `db` (none: a node of a cluster without a web front has no
    /// events database, and its own store was opened at start) and of the
    /// node's `membership` (none: a front started without its node, as in
    /// the web crate's own tests).
    pub fn new(db: Option<Arc<dyn EventDb>>, membership: Option<Membership>) -> Readiness {
        Readiness { db, membership }
    }

    /// Whether `/readyz` would answer `200` now.
    pub async fn is_ready(&self) -> bool {
        self.check().await.ready
    }

    /// Ready or not, and why (see the [module docs](self)).
    pub(crate) async fn check(&self) -> ReadyOut {
        let storage = match &self.db {
            None => Ok(()),
            Some(db) => match tokio::time::timeout(STORAGE_WAIT, db.session("")).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} ms", STORAGE_WAIT.as_millis())),
            },
        };
        let seen = match &self.membership {
            Some(membership) => Seen {
                storage,
                nodes: membership
                    .cluster()
                    .nodes
                    .iter()
                    .map(|n| n.id.clone())
                    .collect(),
                me: Some(membership.me()),
                coordinator: *membership.coordinator().borrow(),
                live: membership.live().borrow().clone(),
            },
            None => Seen {
                storage,
                nodes: Vec::new(),
                me: None,
                coordinator: None,
                live: Vec::new(),
            },
        };
        judge(&seen)
    }
}

/// `GET /readyz`: `200` and the node's view when ready, else `503` with
/// the reasons (JSON either way). A front started without its node's
/// handles (the web crate's own tests) judges its storage only.
pub(crate) async fn readyz(Extension(readiness): Extension<Readiness>) -> Response {
    let out = readiness.check().await;
    let status = if out.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(out)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(nodes: usize, live: &[NodeId], coordinator: Option<NodeId>) -> Seen {
        Seen {
            storage: Ok(()),
            nodes: (0..nodes).map(|n| format!("N{n}")).collect(),
            me: Some(0),
            coordinator,
            live: live.to_vec(),
        }
    }

    #[test]
    fn a_node_hearing_a_peer_and_following_a_coordinator_is_ready() {
        let out = judge(&seen(3, &[0, 1], Some(1)));
        assert!(out.ready, "{out:?}");
        assert_eq!(out.error, None);
        assert_eq!(out.node.as_deref(), Some("N0"));
        assert_eq!(out.coordinator.as_deref(), Some("N1"));
        assert_eq!(out.live, ["N0", "N1"]);
    }

    #[test]
    fn a_single_node_cluster_needs_no_peer() {
        assert!(judge(&seen(1, &[0], Some(0))).ready);
    }

    #[test]
    fn every_reason_is_named() {
        let mut alone = seen(3, &[0], None);
        alone.storage = Err("database is locked".into());
        let out = judge(&alone);
        assert!(!out.ready);
        assert_eq!(out.reasons.len(), 3, "{out:?}");
        let error = out.error.unwrap();
        for part in ["storage", "database is locked", "no peer", "no coordinator"] {
            assert!(error.contains(part), "{part:?} in {error:?}");
        }
    }

    #[test]
    fn a_coordinator_alone_is_not_ready_in_a_cluster() {
        let out = judge(&seen(2, &[0], Some(0)));
        assert!(!out.ready);
        assert_eq!(out.reasons.len(), 1, "{out:?}");
        assert!(out.reasons[0].contains("no peer heard"), "{out:?}");
    }

    #[test]
    fn a_front_without_membership_judges_its_storage() {
        let out = judge(&Seen {
            storage: Ok(()),
            nodes: Vec::new(),
            me: None,
            coordinator: None,
            live: Vec::new(),
        });
        assert!(out.ready, "{out:?}");
        assert_eq!(out.node, None);
    }
}
