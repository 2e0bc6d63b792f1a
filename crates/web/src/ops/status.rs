//! `GET /api/status`: every node up or down, with what it sees, as
//! `convene status` prints it.

use std::sync::Arc;

use axum::{Extension, Json};
use serde::Serialize;

use super::Ops;

/// The answer.
#[derive(Serialize)]
pub struct StatusOut {
    /// Every node, in the order of the cluster file.
    nodes: Vec<NodeOut>,
}

/// One node as the web node found it.
#[derive(Serialize)]
pub struct NodeOut {
    /// Its id.
    id: String,
    /// Its peer address, from the cluster file.
    peer_address: String,
    /// Its election priority.
    priority: i64,
    /// `"up"` if it answered, else `"down"`.
    state: &'static str,
    /// Whom it follows (`null` if it has no coordinator, or is down).
    coordinator: Option<String>,
    /// The nodes it believes live (empty if down).
    live: Vec<String>,
    /// The highest quorum term it has granted or used (`null` if down).
    term: Option<u64>,
    /// Whether it holds a majority's leases and may decide (`false` if down).
    authority: bool,
}

/// `GET /api/status`.
pub async fn show(Extension(ops): Extension<Arc<Ops>>) -> Json<StatusOut> {
    let views = ops.membership.views().await;
    let cluster = ops.membership.cluster();
    // Node numbers come from other nodes: one out of range shows as "?".
    let name = |n: usize| cluster.nodes.get(n).map_or("?", |node| node.id.as_str());
    let nodes = cluster
        .nodes
        .iter()
        .zip(views)
        .map(|(node, view)| NodeOut {
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
        })
        .collect();
    Json(StatusOut { nodes })
}
