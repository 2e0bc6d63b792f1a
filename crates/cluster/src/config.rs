//! The cluster file: one TOML file that describes every node of a cluster.
//!
//! ```toml
//! [[node]]
//! id = "M"               # unique; letters, digits, '-' and '_'
//! host = "127.0.0.1"     # IPv4 or IPv6 ("::1"), or "localhost"
//! peer_port = 23092      # UDP, node to node
//! client_port = 24092    # TCP, where meet clients connect (optional)
//! priority = 1           # optional, election priority; default: position in the file
//! data_dir = "data/M"    # optional; default convene-data/<id>, relative to this file
//!
//! [[node]]
//! id = "A"
//! host = "127.0.0.1"
//! peer_port = 21092
//! [node.meet]
//! availability = "a.txt" # an EE450 availability file, relative to this file
//! ```
//!
//! Parsing happens in two steps. Serde reads the file into `Raw*` structs that
//! reject unknown keys (so a typo such as `peer_prot` is an error, not a
//! silently ignored line), then [`ClusterConfig::from_toml`] checks what TOML
//! cannot: id syntax, duplicate ids and ports, and resolves relative paths
//! against the file's own directory, so a cluster file means the same thing
//! whatever directory it is started from.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ConfigError;

/// A whole cluster, validated: every node, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The file this came from (for messages); empty for built-in clusters.
    pub path: PathBuf,
    /// Every node, in the order of the file.
    pub nodes: Vec<NodeConfig>,
}

/// One node of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// Unique id: letters, digits, '-' and '_'. Shown in on-screen lines
    /// ("Server A").
    pub id: String,
    /// The address the node binds and its peers send to.
    pub host: IpAddr,
    /// UDP port for node-to-node traffic. 0 asks the OS for a free port (only
    /// useful when every node runs in one process, as with `convene up`).
    pub peer_port: u16,
    /// TCP port where meet clients connect, if this node serves them.
    pub client_port: Option<u16>,
    /// Election priority; the highest live priority coordinates.
    pub priority: i64,
    /// Where the node keeps its store, already resolved against the file.
    pub data_dir: PathBuf,
    /// The meet service's settings, if this node is a meet backend.
    pub meet: Option<MeetSection>,
}

/// `[node.meet]`: this node serves the users of one availability file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetSection {
    /// The EE450 availability file, already resolved against the cluster file.
    pub availability: PathBuf,
}

impl NodeConfig {
    /// The UDP address peers send to.
    pub fn peer_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.peer_port)
    }

    /// The TCP address meet clients connect to, if any.
    pub fn client_addr(&self) -> Option<SocketAddr> {
        self.client_port
            .map(|port| SocketAddr::new(self.host, port))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    #[serde(default)]
    node: Vec<RawNode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: String,
    host: String,
    peer_port: u16,
    client_port: Option<u16>,
    priority: Option<i64>,
    data_dir: Option<PathBuf>,
    meet: Option<RawMeet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeet {
    availability: PathBuf,
}

impl ClusterConfig {
    /// Reads and validates a cluster file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Validates cluster-file text as if it had been read from `path`
    /// (relative paths resolve against `path`'s directory).
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: RawCluster = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        if raw.node.is_empty() {
            return Err(ConfigError::NoNodes {
                path: path.to_path_buf(),
            });
        }
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let invalid = |node: &str, key: &'static str, problem: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            node: node.to_string(),
            key,
            problem,
        };

        let mut nodes = Vec::with_capacity(raw.node.len());
        for (position, raw) in raw.node.into_iter().enumerate() {
            if !valid_id(&raw.id) {
                return Err(invalid(
                    &format!("#{}", position + 1),
                    "id",
                    format!("is {:?}: use 1 to 64 letters, digits, '-' and '_'", raw.id),
                ));
            }
            let host = parse_host(&raw.host).ok_or_else(|| {
                invalid(
                    &raw.id,
                    "host",
                    format!(
                        "is {:?}: use an IPv4 or IPv6 address (or \"localhost\")",
                        raw.host
                    ),
                )
            })?;
            let data_dir = base.join(
                raw.data_dir
                    .unwrap_or_else(|| Path::new("convene-data").join(&raw.id)),
            );
            let meet = raw.meet.map(|m| MeetSection {
                availability: base.join(m.availability),
            });
            nodes.push(NodeConfig {
                priority: raw.priority.unwrap_or(position as i64 + 1),
                id: raw.id,
                host,
                peer_port: raw.peer_port,
                client_port: raw.client_port,
                data_dir,
                meet,
            });
        }

        let config = ClusterConfig {
            path: path.to_path_buf(),
            nodes,
        };
        config.check_unique(&invalid)?;
        Ok(config)
    }

    fn check_unique(
        &self,
        invalid: &dyn Fn(&str, &'static str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let mut ids: HashMap<&str, ()> = HashMap::new();
        // (protocol, address) -> (node, key). UDP and TCP ports live in
        // separate spaces, so a node may use 24092 for both.
        let mut ports: HashMap<(&str, SocketAddr), (&str, &str)> = HashMap::new();
        for node in &self.nodes {
            if ids.insert(&node.id, ()).is_some() {
                return Err(invalid(&node.id, "id", "appears twice".to_string()));
            }
            let mut claim = |proto: &'static str,
                             key: &'static str,
                             port: Option<u16>|
             -> Result<(), ConfigError> {
                let Some(port) = port.filter(|p| *p != 0) else {
                    return Ok(());
                };
                let addr = SocketAddr::new(node.host, port);
                if let Some((other, other_key)) = ports.insert((proto, addr), (&node.id, key)) {
                    return Err(invalid(
                        &node.id,
                        key,
                        format!(
                            "= {port} is already used by node {other:?} ({other_key}) on {}",
                            node.host
                        ),
                    ));
                }
                Ok(())
            };
            claim("udp", "peer_port", Some(node.peer_port))?;
            claim("tcp", "client_port", node.client_port)?;
        }
        Ok(())
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Result<&NodeConfig, ConfigError> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .ok_or_else(|| ConfigError::UnknownNode {
                path: self.path.clone(),
                id: id.to_string(),
                known: self
                    .nodes
                    .iter()
                    .map(|n| n.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The position of a node in the file; services use it as a compact
    /// node number.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// The node whose peer address is `addr`, if any: how a service learns
    /// which node sent a datagram.
    pub fn node_at(&self, addr: SocketAddr) -> Option<&NodeConfig> {
        self.nodes
            .iter()
            .find(|n| same_endpoint(n.peer_addr(), addr))
    }
}

/// An IPv4 peer may show up as an IPv4-mapped IPv6 address on a dual-stack
/// socket; treat the two spellings as one endpoint.
fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse_host(host: &str) -> Option<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    host.parse().ok()
}

#[cfg(test)]
mod tests;
