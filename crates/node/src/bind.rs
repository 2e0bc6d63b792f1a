//! Binding a node's sockets before it starts.
//!
//! Sockets are bound first and handed to [`start`](crate::start), so that a
//! port of 0 in the cluster file can be resolved to the port the OS chose
//! before any node needs to know its peers' addresses.

use std::net::SocketAddr;

use convene_cluster::{ClusterConfig, NodeConfig};
use tokio::net::{TcpListener, UdpSocket};

use crate::error::NodeError;

/// A node's bound sockets.
#[derive(Debug)]
pub struct NodeSockets {
    /// The UDP socket for node-to-node traffic.
    pub peer: UdpSocket,
    /// The TCP listener for meet clients, if the node serves them.
    pub client: Option<TcpListener>,
    /// The UDP socket for booking clients, if the node is a booking front door.
    pub booking: Option<UdpSocket>,
    /// The TCP listener for chat clients, if the node is a chat server.
    pub chat: Option<TcpListener>,
    /// The TCP listener for the web pages and API, if the node serves them.
    pub http: Option<TcpListener>,
}

/// Binds one node's sockets as its configuration says.
pub async fn bind_node(node: &NodeConfig) -> Result<NodeSockets, NodeError> {
    let fail = |what, addr, error| NodeError::Bind {
        node: node.id.clone(),
        what,
        addr,
        error,
    };
    let peer_addr = node.peer_addr();
    let peer = UdpSocket::bind(peer_addr)
        .await
        .map_err(|e| fail("peer_port (UDP)", peer_addr, e))?;
    let client = match node.client_addr() {
        None => None,
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| fail("client_port (TCP)", addr, e))?,
        ),
    };
    let booking = match node.booking_addr() {
        None => None,
        Some(addr) => Some(
            UdpSocket::bind(addr)
                .await
                .map_err(|e| fail("booking_port (UDP)", addr, e))?,
        ),
    };
    let chat = match node.chat_addr() {
        None => None,
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| fail("chat_port (TCP)", addr, e))?,
        ),
    };
    let http = match node.http_addr() {
        None => None,
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| fail("http_port (TCP)", addr, e))?,
        ),
    };
    Ok(NodeSockets {
        peer,
        client,
        booking,
        chat,
        http,
    })
}

/// Binds every node of a cluster and returns the cluster with each port 0
/// replaced by the real port, ready to hand to every node.
pub async fn bind_cluster(
    mut cluster: ClusterConfig,
) -> Result<(ClusterConfig, Vec<NodeSockets>), NodeError> {
    let mut all = Vec::with_capacity(cluster.nodes.len());
    for node in &mut cluster.nodes {
        let sockets = bind_node(node).await?;
        resolve_ports(node, &sockets);
        all.push(sockets);
    }
    Ok((cluster, all))
}

/// Binds node `index` of a cluster alone (one node per process) and returns
/// the cluster with that node's ports 0 replaced by the real ports, so the
/// node can reach itself. Other nodes' ports 0 stay unknown: give real
/// ports to nodes in separate processes.
pub async fn bind_one(
    mut cluster: ClusterConfig,
    index: usize,
) -> Result<(ClusterConfig, NodeSockets), NodeError> {
    let node = &mut cluster.nodes[index];
    let sockets = bind_node(node).await?;
    resolve_ports(node, &sockets);
    Ok((cluster, sockets))
}

/// Writes the ports the OS chose for `sockets` into `node`.
fn resolve_ports(node: &mut NodeConfig, sockets: &NodeSockets) {
    node.peer_port = port_of(sockets.peer.local_addr(), node.peer_port);
    if let Some(listener) = &sockets.client {
        node.client_port = Some(port_of(listener.local_addr(), 0));
    }
    if let Some(socket) = &sockets.booking {
        node.booking_port = Some(port_of(socket.local_addr(), 0));
    }
    if let Some(listener) = &sockets.chat {
        node.chat_port = Some(port_of(listener.local_addr(), 0));
    }
    if let Some(listener) = &sockets.http {
        node.http_port = Some(port_of(listener.local_addr(), 0));
    }
}

fn port_of(addr: std::io::Result<SocketAddr>, fallback: u16) -> u16 {
    addr.map_or(fallback, |a| a.port())
}
