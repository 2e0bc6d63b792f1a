//! Every node of a cluster in one process (`convene up`, benchmarks, the
//! booking experiment).

use std::sync::Arc;

use convene_cluster::{ClusterConfig, NodeConfig, Screen};

use crate::bind::bind_cluster;
use crate::error::NodeError;
use crate::running::{RunningNode, start};

/// Binds every node (port 0 becomes a real port), then starts them in file
/// order, each with the screen `screen_for` gives it. If one fails, those
/// already started are stopped before the error is returned.
pub async fn start_all(
    cluster: ClusterConfig,
    screen_for: impl Fn(&NodeConfig) -> Screen,
) -> Result<(Arc<ClusterConfig>, Vec<RunningNode>), NodeError> {
    let (cluster, sockets) = bind_cluster(cluster).await?;
    let cluster = Arc::new(cluster);
    let mut running = Vec::with_capacity(cluster.nodes.len());
    for (node, sockets) in cluster.nodes.iter().zip(sockets) {
        match start(cluster.clone(), &node.id, sockets, screen_for(node)).await {
            Ok(n) => running.push(n),
            Err(e) => {
                stop_all(running).await;
                return Err(e);
            }
        }
    }
    Ok((cluster, running))
}

/// Stops nodes in order.
pub async fn stop_all(nodes: Vec<RunningNode>) {
    for n in nodes {
        n.stop().await;
    }
}

/// Has every node leave gracefully ([`RunningNode::leave`]), all at once:
/// each finishes its work in flight (for at most `drain`) while the others
/// still answer it.
pub async fn leave_all(nodes: Vec<RunningNode>, drain: std::time::Duration) {
    let mut leaving = tokio::task::JoinSet::new();
    for n in nodes {
        leaving.spawn(n.leave(drain));
    }
    while leaving.join_next().await.is_some() {}
}
