//! Binding a node's sockets before it starts.
//!
//! Sockets are bound first and handed to [`start`](crate::start), so that a
//! port of 0 in the cluster file can be resolved to the port the OS chose
//! before any node needs to know its peers' addresses.
//!
//! A node may also be handed a socket its parent process bound
//! ([`Inherited`]), as a service manager's socket activation does: the
//! tests that run nodes as processes bind the ports every node must know
//! in advance (its peer port) and hand them down, so no port is found free,
//! let go and bound again by another process in between.

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
    /// The TCP listener for the probe server (`metrics_port`), if the node
    /// has one.
    pub metrics: Option<TcpListener>,
}

/// Sockets already bound by the process that started this one, to use
/// instead of binding their ports. Each must be bound to exactly the
/// address the cluster file gives for it.
#[derive(Debug, Default)]
pub struct Inherited {
    /// The peer socket (`peer_port`).
    pub peer: Option<std::net::UdpSocket>,
    /// The meet clients' listener (`client_port`).
    pub client: Option<std::net::TcpListener>,
    /// The booking front door (`booking_port`).
    pub booking: Option<std::net::UdpSocket>,
    /// The chat clients' listener (`chat_port`).
    pub chat: Option<std::net::TcpListener>,
    /// The web front's listener (`http_port`).
    pub http: Option<std::net::TcpListener>,
    /// The probe server's listener (`metrics_port`).
    pub metrics: Option<std::net::TcpListener>,
}

/// Binds one node's sockets as its configuration says.
pub async fn bind_node(node: &NodeConfig) -> Result<NodeSockets, NodeError> {
    bind_node_with(node, Inherited::default()).await
}

/// Binds one node's sockets as its configuration says, taking those in
/// `inherited` as they are.
pub async fn bind_node_with(
    node: &NodeConfig,
    inherited: Inherited,
) -> Result<NodeSockets, NodeError> {
    let peer = udp(
        node,
        "peer_port (UDP)",
        Some(node.peer_addr()),
        inherited.peer,
    )
    .await?
    .expect("a node always has a peer address");
    let client = tcp(
        node,
        "client_port (TCP)",
        node.client_addr(),
        inherited.client,
    )
    .await?;
    let booking = udp(
        node,
        "booking_port (UDP)",
        node.booking_addr(),
        inherited.booking,
    )
    .await?;
    let chat = tcp(node, "chat_port (TCP)", node.chat_addr(), inherited.chat).await?;
    let http = tcp(node, "http_port (TCP)", node.http_addr(), inherited.http).await?;
    let metrics = tcp(
        node,
        "metrics_port (TCP)",
        node.metrics_addr(),
        inherited.metrics,
    )
    .await?;
    Ok(NodeSockets {
        peer,
        client,
        booking,
        chat,
        http,
        metrics,
    })
}

/// A kind of socket a node binds, or adopts from the process that started
/// it: tokio's UDP socket or TCP listener.
trait NodeSocket: Sized {
    /// The standard library's socket of this kind, as inherited.
    type Std;
    async fn bind(addr: SocketAddr) -> std::io::Result<Self>;
    fn local_addr(inherited: &Self::Std) -> std::io::Result<SocketAddr>;
    fn adopt(inherited: Self::Std) -> std::io::Result<Self>;
}

impl NodeSocket for UdpSocket {
    type Std = std::net::UdpSocket;
    async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        UdpSocket::bind(addr).await
    }
    fn local_addr(inherited: &Self::Std) -> std::io::Result<SocketAddr> {
        inherited.local_addr()
    }
    fn adopt(inherited: Self::Std) -> std::io::Result<Self> {
        inherited.set_nonblocking(true)?;
        UdpSocket::from_std(inherited)
    }
}

impl NodeSocket for TcpListener {
    type Std = std::net::TcpListener;
    async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        TcpListener::bind(addr).await
    }
    fn local_addr(inherited: &Self::Std) -> std::io::Result<SocketAddr> {
        inherited.local_addr()
    }
    fn adopt(inherited: Self::Std) -> std::io::Result<Self> {
        inherited.set_nonblocking(true)?;
        TcpListener::from_std(inherited)
    }
}

/// The UDP socket for `addr` (if the node has one): `inherited`, or bound now.
async fn udp(
    node: &NodeConfig,
    what: &'static str,
    addr: Option<SocketAddr>,
    inherited: Option<std::net::UdpSocket>,
) -> Result<Option<UdpSocket>, NodeError> {
    socket(node, what, addr, inherited).await
}

/// The TCP listener for `addr` (if the node has one): `inherited`, or bound now.
async fn tcp(
    node: &NodeConfig,
    what: &'static str,
    addr: Option<SocketAddr>,
    inherited: Option<std::net::TcpListener>,
) -> Result<Option<TcpListener>, NodeError> {
    socket(node, what, addr, inherited).await
}

/// The socket for `addr` (if the node has one): `inherited`, checked to be
/// bound where the cluster file says, or bound now.
async fn socket<S: NodeSocket>(
    node: &NodeConfig,
    what: &'static str,
    addr: Option<SocketAddr>,
    inherited: Option<S::Std>,
) -> Result<Option<S>, NodeError> {
    let fail = |addr, error| NodeError::Bind {
        node: node.id.clone(),
        what,
        addr,
        error,
    };
    match (addr, inherited) {
        (None, None) => Ok(None),
        (Some(addr), None) => Ok(Some(S::bind(addr).await.map_err(|e| fail(addr, e))?)),
        (addr, Some(inherited)) => {
            if let Some(problem) = inherited_problem(addr, S::local_addr(&inherited)) {
                let node = node.id.clone();
                return Err(NodeError::Inherited {
                    node,
                    what,
                    problem,
                });
            }
            let socket = S::adopt(inherited);
            Ok(Some(
                socket.map_err(|e| fail(addr.unwrap_or(UNSPECIFIED), e))?,
            ))
        }
    }
}

/// The address an error names when the cluster file gives none.
const UNSPECIFIED: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// What is wrong with an inherited socket, if anything: it must be bound
/// where the cluster file says (a port of 0 there cannot be checked, and is
/// refused: the other nodes could not know the port).
fn inherited_problem(
    configured: Option<SocketAddr>,
    bound: std::io::Result<SocketAddr>,
) -> Option<String> {
    match (configured, bound) {
        (_, Err(error)) => Some(format!("not a bound socket: {error}")),
        (None, Ok(bound)) => Some(format!("bound to {bound}, but the cluster file gives none")),
        (Some(want), Ok(bound)) if want.port() == 0 || want != bound => Some(format!(
            "bound to {bound}, but the cluster file says {want}"
        )),
        (Some(_), Ok(_)) => None,
    }
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
/// ports to nodes in separate processes (or hand down sockets bound on
/// them, `inherited`).
pub async fn bind_one(
    mut cluster: ClusterConfig,
    index: usize,
    inherited: Inherited,
) -> Result<(ClusterConfig, NodeSockets), NodeError> {
    let node = &mut cluster.nodes[index];
    let sockets = bind_node_with(node, inherited).await?;
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
    if let Some(listener) = &sockets.metrics {
        node.metrics_port = Some(port_of(listener.local_addr(), 0));
    }
}

fn port_of(addr: std::io::Result<SocketAddr>, fallback: u16) -> u16 {
    addr.map_or(fallback, |a| a.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-node cluster whose peer port is `peer` and web front on port 0.
    fn cluster(dir: &std::path::Path, peer: u16) -> ClusterConfig {
        let toml = format!(
            "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = {peer}\nhttp_port = 0\n"
        );
        let path = dir.join("cluster.toml");
        std::fs::write(&path, toml).unwrap();
        crate::load_cluster(&path).unwrap()
    }

    #[tokio::test]
    async fn an_inherited_socket_is_used_where_the_cluster_file_says() {
        let dir = tempfile::tempdir().unwrap();
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let inherited = Inherited {
            peer: Some(socket),
            ..Inherited::default()
        };
        let (cluster, sockets) = bind_one(cluster(dir.path(), addr.port()), 0, inherited)
            .await
            .unwrap();
        assert_eq!(sockets.peer.local_addr().unwrap(), addr);
        // The other ports are bound as the file says: 0 became a real port.
        let http = sockets.http.unwrap().local_addr().unwrap().port();
        assert_eq!(cluster.nodes[0].http_port, Some(http));
        assert_ne!(http, 0);
    }

    #[tokio::test]
    async fn an_inherited_socket_elsewhere_or_for_a_port_0_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for (peer_port, what) in [(1, "says 127.0.0.1:1"), (0, "says 127.0.0.1:0")] {
            let inherited = Inherited {
                peer: Some(other.try_clone().unwrap()),
                ..Inherited::default()
            };
            let error = bind_one(cluster(dir.path(), peer_port), 0, inherited)
                .await
                .unwrap_err();
            assert!(
                matches!(&error, NodeError::Inherited { .. }) && error.to_string().contains(what),
                "{error}"
            );
        }
        // A socket for a port the node does not have.
        let inherited = Inherited {
            chat: Some(std::net::TcpListener::bind("127.0.0.1:0").unwrap()),
            ..Inherited::default()
        };
        let error = bind_one(cluster(dir.path(), 0), 0, inherited)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("gives none"), "{error}");
    }
}
