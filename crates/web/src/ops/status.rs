//! `GET /api/status`: every node up or down, with what it sees, as
//! `convene status` prints it, and the cluster's coordinator.

use std::sync::Arc;

use axum::{Extension, Json};
use serde::Serialize;

use super::Ops;

/// The answer.
#[derive(Serialize)]
pub struct StatusOut {
    /// The cluster's coordinator: the one named by the node that holds a
    /// majority's authority, else the one this node follows (`null` if
    /// there is none, as during an election).
    pub(super) coordinator: Option<String>,
    /// Every node, in the order of the cluster file.
    pub(super) nodes: Vec<NodeOut>,
}

/// One node as the web node found it.
#[derive(Serialize)]
pub struct NodeOut {
    /// Its id.
    pub(super) id: String,
    /// Its peer address, from the cluster file.
    pub(super) peer_address: String,
    /// Its election priority.
    pub(super) priority: i64,
    /// `"up"` if it answered, else `"down"`.
    pub(super) state: &'static str,
    /// Whom it follows (`null` if it has no coordinator, or is down).
    pub(super) coordinator: Option<String>,
    /// The nodes it believes live (empty if down).
    pub(super) live: Vec<String>,
    /// The highest quorum term it has granted or used (`null` if down).
    pub(super) term: Option<u64>,
    /// Whether it holds a majority's leases and may decide (`false` if down).
    pub(super) authority: bool,
    /// What it runs, from the cluster file, one short line per service.
    pub(super) services: Vec<String>,
}

/// Asks every node for its view, and puts the answers together.
pub(super) async fn gather(ops: &Ops) -> StatusOut {
    let views = ops.membership.views().await;
    let cluster = ops.membership.cluster();
    // Node numbers come from other nodes: one out of range shows as "?".
    let name = |n: usize| cluster.nodes.get(n).map_or("?", |node| node.id.as_str());
    let me = ops.membership.me();
    let coordinator = views
        .iter()
        .flatten()
        .find(|view| view.authority)
        .or_else(|| views.get(me).and_then(Option::as_ref))
        .and_then(|view| view.coordinator)
        .map(|c| name(c).to_string());
    let nodes = cluster
        .nodes
        .iter()
        .zip(views)
        .enumerate()
        .map(|(n, (node, view))| NodeOut {
            id: node.id.clone(),
            peer_address: node.peer_addr().to_string(),
            priority: node.priority,
            state: if view.is_some() { "up" } else { "down" },
            coordinator: view
                .as_ref()
                .and_then(|v| v.coordinator)
                .map(|c| name(c).to_string()),
            term: view.as_ref().map(|v| v.term),
            authority: view.as_ref().is_some_and(|v| v.authority),
            live: view.map_or_else(Vec::new, |v| {
                v.live.iter().map(|&n| name(n).to_string()).collect()
            }),
            services: ops.services.get(n).cloned().unwrap_or_default(),
        })
        .collect();
    StatusOut { coordinator, nodes }
}

/// `GET /api/status`.
pub async fn show(Extension(ops): Extension<Arc<Ops>>) -> Json<StatusOut> {
    Json(gather(&ops).await)
}
