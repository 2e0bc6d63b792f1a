//! The cluster file: one TOML file that describes every node of a cluster.
//!
//! ```toml
//! secret_file = "cluster.secret"  # 64 hex digits every node shares (`convene secret` makes one);
//!                                  # may be left out only when every host is a loopback address
//! admins = ["ada"]                 # accounts that may break anyone's file lock
//! database_url = "sqlite://convene-data/convene.db"  # events: shared by all nodes (default);
//!                                                     # or mysql://... or postgres://...
//! redis_url = "redis://127.0.0.1:6379"  # optional: event servers keep their working set there
//! screen = "seed"                  # the seeds' lines: "seed" (all, the default), "summary", "quiet"
//! log_format = "text"              # logs on standard error: "text" (the default) or "json"
//!
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
//!
//! [[node]]
//! id = "B"
//! host = "127.0.0.1"
//! peer_port = 22092
//! booking_port = 2222          # UDP, the booking seed's protocol (optional)
//! chat_port = 4444             # TCP, the chat seed's JSON lines (optional)
//! http_port = 8080             # TCP, web pages and the JSON API of events (optional)
//! tls_cert = "b.crt"           # serve http_port over TLS (PEM certificate chain and key;
//! tls_key = "b.key"            # both or neither, relative to this file)
//! metrics_port = 9100          # TCP, plain HTTP: GET /metrics, /healthz, /readyz (optional)
//! event_server = true          # computes partial solutions for events (default true)
//! [node.files]
//! dir = "directory_b"          # the folder this node shares, relative to this file
//! lock_holder = false          # locks live on one files node (default: the highest priority)
//! lease_seconds = 3600         # a lock lasts this long unless renewed (on the holder)
//! [node.booking]
//! semantics = "at-most-once"   # or "at-least-once"
//! request_loss = 0.0           # probability a received request is dropped
//! reply_loss = 0.0             # probability a reply is dropped after executing
//! facilities = ["Meeting Room A", "Lecture Theatre 1"]
//!
//! [limits]                     # optional: what one node lets strangers use (see [`Limits`])
//! http_connections_per_ip = 256
//! trusted_proxies = ["10.0.0.5"]  # believe X-Forwarded-For only from these peers
//! ```
//!
//! This crate reads the keys every node has; a service's own table of a
//! node (`[node.meet]`, `[node.files]`, `[node.booking]`) is read by that
//! service, which the caller names in the list of [`SectionReader`]s it
//! passes (see [`section`]; the node crate keeps the list).
//!
//! Parsing happens in two steps. Serde reads the file into `Raw*` structs that
//! reject unknown keys (so a typo such as `peer_prot` is an error, not a
//! silently ignored line), then [`ClusterConfig::from_toml`] checks what TOML
//! cannot: id syntax, duplicate ids and ports, and resolves relative paths
//! against the file's own directory, so a cluster file means the same thing
//! whatever directory it is started from.

pub mod section;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

pub use self::section::{NodeContext, Section, SectionReader, Sections};
use crate::election::ElectionConfig;
use crate::error::ConfigError;
use crate::secret::ClusterSecret;

/// A whole cluster, validated: every node, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// The file this came from (for messages); empty for built-in clusters.
    pub path: PathBuf,
    /// Every node, in the order of the file.
    pub nodes: Vec<NodeConfig>,
    /// Heartbeat and election timings (`[election]`, all optional).
    pub election: ElectionConfig,
    /// Where the events service keeps its data.
    pub events: EventsConfig,
    /// The secret every node shares (`secret_file`), if the file names one.
    pub secret: Option<ClusterSecret>,
    /// Where the secret was read from (for messages).
    pub secret_file: Option<PathBuf>,
    /// Accounts that may break anyone's file lock (`admins`).
    pub admins: Vec<String>,
    /// What one node lets strangers use of it (`[limits]`).
    pub limits: Limits,
    /// How much the nodes show of the seeds' lines (`screen`).
    pub screen: crate::screen::ScreenMode,
    /// How the nodes write their logs (`log_format`).
    pub log_format: crate::log_format::LogFormat,
}

/// The events service's shared storage (top-level keys of the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsConfig {
    /// The database every node shares: `sqlite://path` (relative paths
    /// resolved against the cluster file), `mysql://...` or `postgres://...`.
    pub database_url: String,
    /// Redis for the event servers' working sets; memory if absent.
    pub redis_url: Option<String>,
}

impl EventsConfig {
    /// The default for a cluster file at `path`: one SQLite file,
    /// `convene-data/convene.db` next to it, and no Redis.
    pub fn default_for(path: &Path) -> Self {
        let base = path.parent().unwrap_or(Path::new(""));
        EventsConfig {
            database_url: sqlite_url(&base.join("convene-data").join("convene.db")),
            redis_url: None,
        }
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// One node of the cluster.
#[derive(Clone, Debug, PartialEq)]
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
    /// UDP port speaking the booking seed's protocol, if this node answers
    /// booking clients.
    pub booking_port: Option<u16>,
    /// TCP port for chat clients (the CS4262 JSON-lines protocol), if this
    /// node is a chat server.
    pub chat_port: Option<u16>,
    /// TCP port for the web pages and JSON API, if this node serves them.
    pub http_port: Option<u16>,
    /// The certificate and key to serve `http_port` over TLS, if given.
    pub tls: Option<TlsFiles>,
    /// TCP port of the node's probe server, if it has one: plain HTTP with
    /// `GET /metrics`, `/healthz` and `/readyz` only, for a Prometheus or a
    /// load balancer on a network the web front is not on (and for a node
    /// without `http_port`).
    pub metrics_port: Option<u16>,
    /// Whether this node computes partial solutions for events.
    pub event_server: bool,
    /// The services' own tables of this node (`[node.meet]`, ...), read by
    /// each service's [`Section`]; see [`NodeConfig::section`].
    pub sections: Sections,
}

/// `tls_cert` and `tls_key`: PEM files, already resolved against the
/// cluster file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// `[limits]`: how much of one node strangers may use. Each limit applies
/// to each node on its own; every key is optional, and the defaults suit a
/// team's server. Per-address limits count an IPv6 client by its /64
/// network, since one host commonly holds a whole /64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open web connections in all (503 beyond).
    pub http_connections: usize,
    /// Open web connections from one address (503 beyond).
    pub http_connections_per_ip: usize,
    /// A web request's headers must be complete within this of its first
    /// byte (a new connection's: of the accept, TLS handshake included), and
    /// its body within this of the headers.
    pub http_header_timeout: Duration,
    /// An idle keep-alive web connection is closed after this.
    pub http_idle_timeout: Duration,
    /// Login attempts per minute from one address (429 beyond).
    pub logins_per_minute_per_ip: u32,
    /// Login attempts per minute for one account (429 beyond).
    pub logins_per_minute_per_account: u32,
    /// Accounts registered per hour from one address (429 beyond).
    pub registrations_per_hour_per_ip: u32,
    /// Password hashes waiting for a core (503 beyond).
    pub password_hash_queue: usize,
    /// Participants of one event, its creator included.
    pub participants_per_event: usize,
    /// Open events one user may have created.
    pub open_events_per_user: usize,
    /// Reverse proxies in front of the web fronts: for a request whose TCP
    /// peer is one of these, the client's address (which the login and
    /// registration limits count by) is read from `X-Forwarded-For`. Empty
    /// by default: the header is then never believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Open chat connections in all.
    pub chat_connections: usize,
    /// Open chat connections from one address.
    pub chat_connections_per_ip: usize,
    /// A chat connection must be approved an identity within this.
    pub chat_identify_timeout: Duration,
    /// Open meet client connections in all.
    pub meet_connections: usize,
    /// Open meet client connections from one address.
    pub meet_connections_per_ip: usize,
    /// A meet client connection that sends no whole line for this long is
    /// closed.
    pub meet_idle_timeout: Duration,
    /// Live booking monitor registrations at one front door.
    pub booking_monitors: usize,
    /// Live booking monitor registrations from one address.
    pub booking_monitors_per_ip: usize,
    /// Bytes a booking front door may send to one address per byte it
    /// received from it (beyond the burst below).
    pub booking_reply_factor: u32,
    /// Bytes a booking front door may send to one address beyond what the
    /// factor earns, refilled over a minute.
    pub booking_burst_bytes: u64,
    /// At-most-once replies kept for one client address.
    pub booking_replies_per_source: usize,
    /// File locks one account may hold.
    pub locks_per_account: usize,
    /// Changes waiting for a files node's sync task.
    pub sync_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            http_connections: 2048,
            http_connections_per_ip: 256,
            http_header_timeout: Duration::from_secs(30),
            http_idle_timeout: Duration::from_secs(60),
            logins_per_minute_per_ip: 30,
            logins_per_minute_per_account: 10,
            registrations_per_hour_per_ip: 20,
            password_hash_queue: 64,
            participants_per_event: 1000,
            open_events_per_user: 100,
            trusted_proxies: Vec::new(),
            chat_connections: 4096,
            chat_connections_per_ip: 256,
            chat_identify_timeout: Duration::from_secs(30),
            meet_connections: 4096,
            meet_connections_per_ip: 256,
            meet_idle_timeout: Duration::from_secs(300),
            booking_monitors: 10_000,
            booking_monitors_per_ip: 64,
            booking_reply_factor: 10,
            booking_burst_bytes: 64 * 1024,
            booking_replies_per_source: 1024,
            locks_per_account: 100,
            sync_queue: 10_000,
        }
    }
}

impl NodeConfig {
    /// This node's section of type `T` (`[node.<T::NAME>]`), if the file
    /// gives it one.
    pub fn section<T: Section>(&self) -> Option<&T> {
        self.sections.get::<T>()
    }

    /// The UDP address booking clients send to, if any.
    pub fn booking_addr(&self) -> Option<SocketAddr> {
        self.booking_port
            .map(|port| SocketAddr::new(self.host, port))
    }

    /// The TCP address chat clients connect to, if any.
    pub fn chat_addr(&self) -> Option<SocketAddr> {
        self.chat_port.map(|port| SocketAddr::new(self.host, port))
    }

    /// Where the web front listens, if this node has one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_port.map(|port| SocketAddr::new(self.host, port))
    }

    /// Where the probe server (`metrics_port`) listens, if this node has one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_port
            .map(|port| SocketAddr::new(self.host, port))
    }

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
    election: Option<RawElection>,
    database_url: Option<String>,
    redis_url: Option<String>,
    secret_file: Option<PathBuf>,
    admins: Option<Vec<String>>,
    limits: Option<RawLimits>,
    screen: Option<String>,
    log_format: Option<String>,
}

/// `[limits]`; see [`Limits`]. Durations in seconds.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    http_connections: Option<usize>,
    http_connections_per_ip: Option<usize>,
    http_header_seconds: Option<u64>,
    http_idle_seconds: Option<u64>,
    logins_per_minute_per_ip: Option<u32>,
    logins_per_minute_per_account: Option<u32>,
    registrations_per_hour_per_ip: Option<u32>,
    password_hash_queue: Option<usize>,
    participants_per_event: Option<usize>,
    open_events_per_user: Option<usize>,
    trusted_proxies: Option<Vec<IpAddr>>,
    chat_connections: Option<usize>,
    chat_connections_per_ip: Option<usize>,
    chat_identify_seconds: Option<u64>,
    meet_connections: Option<usize>,
    meet_connections_per_ip: Option<usize>,
    meet_idle_seconds: Option<u64>,
    booking_monitors: Option<usize>,
    booking_monitors_per_ip: Option<usize>,
    booking_reply_factor: Option<u32>,
    booking_burst_bytes: Option<u64>,
    booking_replies_per_source: Option<usize>,
    locks_per_account: Option<usize>,
    sync_queue: Option<usize>,
}

/// `[election]`: timings in milliseconds; see [`ElectionConfig`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawElection {
    heartbeat_ms: Option<u64>,
    suspect_after_ms: Option<u64>,
    t1_ms: Option<u64>,
    t2_ms: Option<u64>,
    t3_ms: Option<u64>,
    t4_ms: Option<u64>,
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
    booking_port: Option<u16>,
    chat_port: Option<u16>,
    http_port: Option<u16>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    metrics_port: Option<u16>,
    event_server: Option<bool>,
}

/// The keys of a `[[node]]` table that this crate reads (those of
/// `RawNode`); any other key must name a service's section.
pub const NODE_KEYS: &[&str] = &[
    "id",
    "host",
    "peer_port",
    "client_port",
    "priority",
    "data_dir",
    "booking_port",
    "chat_port",
    "http_port",
    "tls_cert",
    "tls_key",
    "metrics_port",
    "event_server",
];

impl ClusterConfig {
    /// Reads and validates a cluster file, each node's service sections
    /// with the `sections` given (`convene_node::services` lists every
    /// service's; a section not in the list is an unknown key).
    pub fn load(path: &Path, sections: &[&'static dyn SectionReader]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_toml(&text, path, sections)
    }

    /// Validates cluster-file text as if it had been read from `path`
    /// (relative paths resolve against `path`'s directory), each node's
    /// service sections with the `sections` given.
    pub fn from_toml(
        text: &str,
        path: &Path,
        sections: &[&'static dyn SectionReader],
    ) -> Result<Self, ConfigError> {
        let syntax = |mut error: toml::de::Error| {
            error.set_input(Some(text));
            ConfigError::Syntax {
                path: path.to_path_buf(),
                message: error.to_string().trim_end().to_string(),
            }
        };
        // Serde, step one: the file's own keys, with each node's service
        // sections taken out first and read by their services.
        let mut document = DeTable::parse(text).map_err(syntax)?;
        let taken = take_sections(document.get_mut(), sections).map_err(syntax)?;
        let raw =
            RawCluster::deserialize(toml::de::Deserializer::from(document)).map_err(syntax)?;
        let mut read = Vec::with_capacity(taken.len());
        for node in taken {
            let mut raws = Vec::with_capacity(node.len());
            for (reader, value) in node {
                raws.push((reader, sections[reader].deserialize(value).map_err(syntax)?));
            }
            // Checked in the order of the list, whatever the file's order.
            raws.sort_by_key(|(reader, _)| *reader);
            read.push(raws);
        }
        let mut read = read.into_iter();

        if raw.node.is_empty() {
            return Err(ConfigError::NoNodes {
                path: path.to_path_buf(),
            });
        }
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let invalid = |node: &str, key: &'static str, problem: String| {
            section::invalid(path, node, key, problem)
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
            let context = NodeContext {
                path,
                base: &base,
                id: &raw.id,
            };
            let mut node_sections = Sections::default();
            for (reader, section) in read.next().unwrap_or_default() {
                let reader = sections[reader];
                node_sections.push(reader.name(), reader.check_node(section, &context)?);
            }
            let tls = match (raw.tls_cert, raw.tls_key) {
                (None, None) => None,
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: base.join(cert),
                    key: base.join(key),
                }),
                (Some(_), None) => {
                    let problem = "is set but tls_key is not: give both or neither".to_string();
                    return Err(invalid(&raw.id, "tls_cert", problem));
                }
                (None, Some(_)) => {
                    let problem = "is set but tls_cert is not: give both or neither".to_string();
                    return Err(invalid(&raw.id, "tls_key", problem));
                }
            };
            if tls.is_some() && raw.http_port.is_none() {
                let problem = "is set but the node has no http_port to serve it on".to_string();
                return Err(invalid(&raw.id, "tls_cert", problem));
            }
            nodes.push(NodeConfig {
                priority: raw.priority.unwrap_or(position as i64 + 1),
                id: raw.id,
                host,
                peer_port: raw.peer_port,
                client_port: raw.client_port,
                data_dir,
                booking_port: raw.booking_port,
                chat_port: raw.chat_port,
                http_port: raw.http_port,
                tls,
                metrics_port: raw.metrics_port,
                event_server: raw.event_server.unwrap_or(true),
                sections: node_sections,
            });
        }

        let election = election_config(raw.election, path)?;
        let mut config = Self::from_nodes(path, nodes, election)?;
        for reader in sections {
            reader.check(&config)?;
        }
        config.events = events_config(raw.database_url, raw.redis_url, path)?;
        if let Some(file) = raw.secret_file {
            config = config.with_secret_file(&base.join(file))?;
        }
        config.admins = admins(raw.admins.unwrap_or_default(), path)?;
        config.limits = limits(raw.limits.unwrap_or_default(), path)?;
        if let Some(mode) = raw.screen {
            config.screen = mode.parse().map_err(|problem| ConfigError::Invalid {
                path: path.to_path_buf(),
                node: "(top level)".into(),
                key: "screen",
                problem,
            })?;
        }
        if let Some(format) = raw.log_format {
            config.log_format = format.parse().map_err(|problem| ConfigError::Invalid {
                path: path.to_path_buf(),
                node: "(top level)".into(),
                key: "log_format",
                problem,
            })?;
        }
        Ok(config)
    }

    /// A cluster built from nodes read some other way (the chat seed's
    /// `configuration.txt`), checked as a cluster file's common keys are:
    /// unique ids and ports. (Such nodes have no service sections, so no
    /// service has anything to check across them.)
    pub fn from_nodes(
        path: &Path,
        nodes: Vec<NodeConfig>,
        election: ElectionConfig,
    ) -> Result<Self, ConfigError> {
        if nodes.is_empty() {
            return Err(ConfigError::NoNodes {
                path: path.to_path_buf(),
            });
        }
        let invalid = |node: &str, key: &'static str, problem: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            node: node.to_string(),
            key,
            problem,
        };
        let config = ClusterConfig {
            path: path.to_path_buf(),
            nodes,
            election,
            events: EventsConfig::default_for(path),
            secret: None,
            secret_file: None,
            admins: Vec::new(),
            limits: Limits::default(),
            screen: crate::screen::ScreenMode::default(),
            log_format: crate::log_format::LogFormat::default(),
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
            claim("udp", "booking_port", node.booking_port)?;
            claim("tcp", "chat_port", node.chat_port)?;
            claim("tcp", "http_port", node.http_port)?;
            claim("tcp", "metrics_port", node.metrics_port)?;
        }
        Ok(())
    }

    /// Whether the events service runs: only if some node serves the web
    /// front, since nothing else can create an event.
    pub fn events_enabled(&self) -> bool {
        self.nodes.iter().any(|n| n.http_port.is_some())
    }

    /// The nodes that compute partial solutions, with their numbers.
    pub fn event_servers(&self) -> impl Iterator<Item = (usize, &NodeConfig)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.event_server)
    }

    /// The error for a value of node `node`'s `key` that is not
    /// acceptable: what a service's [`Section::check`] returns.
    pub fn invalid(&self, node: &str, key: &'static str, problem: String) -> ConfigError {
        section::invalid(&self.path, node, key, problem)
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

    /// The cluster with the secret read from `file` (for cluster
    /// descriptions that cannot name one, such as the chat seed's
    /// `configuration.txt`: `--secret-file`).
    pub fn with_secret_file(mut self, file: &Path) -> Result<Self, ConfigError> {
        self.secret = Some(read_secret(file, &self.path)?);
        self.secret_file = Some(file.to_path_buf());
        Ok(self)
    }

    /// Whether every node's host is a loopback address: the only cluster
    /// that may run without a secret, since nothing outside this machine
    /// can reach it.
    pub fn all_loopback(&self) -> bool {
        self.nodes.iter().all(|n| n.host.is_loopback())
    }

    /// Checks that the cluster may run as configured: with a secret, or on
    /// loopback alone. Returns whether it runs without a secret (the caller
    /// warns once), or says how to make a secret.
    pub fn check_secret(&self) -> Result<bool, ConfigError> {
        match (&self.secret, self.all_loopback()) {
            (Some(_), _) => Ok(false),
            (None, true) => Ok(true),
            (None, false) => {
                let outside = self
                    .nodes
                    .iter()
                    .find(|n| !n.host.is_loopback())
                    .map_or_else(String::new, |n| format!("{} ({})", n.id, n.host));
                Err(ConfigError::NeedsSecret {
                    path: self.path.clone(),
                    node: outside,
                })
            }
        }
    }

    /// The key that seals peer datagrams: from the cluster's secret, or
    /// from the public one when there is none (see
    /// [`ClusterSecret::public`]; [`check_secret`](Self::check_secret)
    /// decides whether that may run).
    pub fn peer_mac_key(&self) -> [u8; 32] {
        self.secret
            .clone()
            .unwrap_or_else(ClusterSecret::public)
            .derive(crate::secret::PEER_MAC_CONTEXT)
    }

    /// What the peer transport needs to seal and open datagrams for node
    /// number `me` of this cluster (`None`: the operator) in its run `boot`:
    /// the key from the secret, and every node's id and peer address.
    pub fn peer_auth(&self, me: Option<usize>, boot: u64) -> convene_rpc::PeerAuth {
        convene_rpc::PeerAuth {
            key: self.peer_mac_key(),
            members: self
                .nodes
                .iter()
                .map(|n| convene_rpc::Member {
                    id: n.id.clone(),
                    addr: n.peer_addr(),
                })
                .collect(),
            me,
            boot,
        }
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

fn election_config(raw: Option<RawElection>, path: &Path) -> Result<ElectionConfig, ConfigError> {
    let defaults = ElectionConfig::default();
    let Some(raw) = raw else { return Ok(defaults) };
    let ms = |key: &'static str, value: Option<u64>, default: Duration| match value {
        None => Ok(default),
        Some(0) => Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            node: "[election]".into(),
            key,
            problem: "must be at least 1 ms".into(),
        }),
        Some(v) => Ok(Duration::from_millis(v)),
    };
    let suspect_after = ms(
        "suspect_after_ms",
        raw.suspect_after_ms,
        defaults.suspect_after,
    )?;
    Ok(ElectionConfig {
        heartbeat: ms("heartbeat_ms", raw.heartbeat_ms, defaults.heartbeat)?,
        suspect_after,
        t1: ms("t1_ms", raw.t1_ms, suspect_after)?,
        t2: ms("t2_ms", raw.t2_ms, defaults.t2)?,
        t3: ms("t3_ms", raw.t3_ms, defaults.t3)?,
        t4: ms("t4_ms", raw.t4_ms, defaults.t4)?,
    })
}

/// Reads the secret file named by the cluster file at `cluster`.
fn read_secret(file: &Path, cluster: &Path) -> Result<ClusterSecret, ConfigError> {
    let bad = |problem: String| ConfigError::Secret {
        path: cluster.to_path_buf(),
        file: file.to_path_buf(),
        problem,
    };
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let secret = ClusterSecret::from_hex(&text).map_err(|e| bad(e.to_string()))?;
    if ClusterSecret::readable_by_others(file) {
        tracing::warn!(
            file = %file.display(),
            "the cluster secret can be read by other accounts on this machine: chmod 600 it"
        );
    }
    Ok(secret)
}

/// `admins`: account names, each as the web app's user names are spelled.
fn admins(names: Vec<String>, path: &Path) -> Result<Vec<String>, ConfigError> {
    for name in &names {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        if !ok {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                node: "(top level)".into(),
                key: "admins",
                problem: format!("lists {name:?}, which is not an account name"),
            });
        }
    }
    Ok(names)
}

/// `[limits]`: every count at least 1, every time at least a second.
fn limits(raw: RawLimits, path: &Path) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let invalid = |key: &'static str| ConfigError::Invalid {
        path: path.to_path_buf(),
        node: "[limits]".into(),
        key,
        problem: "must be at least 1".into(),
    };
    macro_rules! count {
        ($key:ident) => {
            match raw.$key {
                None => d.$key,
                Some(0) => return Err(invalid(stringify!($key))),
                Some(v) => v,
            }
        };
    }
    macro_rules! seconds {
        ($key:ident, $default:expr) => {
            match raw.$key {
                None => $default,
                Some(0) => return Err(invalid(stringify!($key))),
                Some(v) => Duration::from_secs(v),
            }
        };
    }
    Ok(Limits {
        http_connections: count!(http_connections),
        http_connections_per_ip: count!(http_connections_per_ip),
        http_header_timeout: seconds!(http_header_seconds, d.http_header_timeout),
        http_idle_timeout: seconds!(http_idle_seconds, d.http_idle_timeout),
        logins_per_minute_per_ip: count!(logins_per_minute_per_ip),
        logins_per_minute_per_account: count!(logins_per_minute_per_account),
        registrations_per_hour_per_ip: count!(registrations_per_hour_per_ip),
        password_hash_queue: count!(password_hash_queue),
        participants_per_event: count!(participants_per_event),
        open_events_per_user: count!(open_events_per_user),
        trusted_proxies: raw.trusted_proxies.unwrap_or_default(),
        chat_connections: count!(chat_connections),
        chat_connections_per_ip: count!(chat_connections_per_ip),
        chat_identify_timeout: seconds!(chat_identify_seconds, d.chat_identify_timeout),
        meet_connections: count!(meet_connections),
        meet_connections_per_ip: count!(meet_connections_per_ip),
        meet_idle_timeout: seconds!(meet_idle_seconds, d.meet_idle_timeout),
        booking_monitors: count!(booking_monitors),
        booking_monitors_per_ip: count!(booking_monitors_per_ip),
        booking_reply_factor: count!(booking_reply_factor),
        booking_burst_bytes: count!(booking_burst_bytes),
        booking_replies_per_source: count!(booking_replies_per_source),
        locks_per_account: count!(locks_per_account),
        sync_queue: count!(sync_queue),
    })
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

/// Takes each `[[node]]` table's service sections out of `document`, after
/// checking that every key of the table is either this crate's or a listed
/// section's. Per node, in file order: the section's place in `readers`,
/// and its value.
#[allow(clippy::type_complexity)]
fn take_sections<'i>(
    document: &mut DeTable<'i>,
    readers: &[&'static dyn SectionReader],
) -> Result<Vec<Vec<(usize, Spanned<DeValue<'i>>)>>, toml::de::Error> {
    // Anything else under `node` is for serde to refuse.
    let Some(DeValue::Array(nodes)) = document.get_mut("node").map(Spanned::get_mut) else {
        return Ok(Vec::new());
    };
    let mut taken = Vec::with_capacity(nodes.len());
    for node in nodes.iter_mut() {
        let DeValue::Table(table) = node.get_mut() else {
            taken.push(Vec::new());
            continue;
        };
        let known = |key: &str| NODE_KEYS.contains(&key) || readers.iter().any(|r| r.name() == key);
        if let Some(key) = table.keys().find(|key| !known(key.get_ref())) {
            return Err(unknown_key(key, readers));
        }
        let names: Vec<_> = table.keys().map(|key| key.get_ref().to_string()).collect();
        let mut sections = Vec::new();
        for name in names {
            if let Some(reader) = readers.iter().position(|r| r.name() == name) {
                let value = table.remove(name.as_str()).expect("a key just listed");
                sections.push((reader, value));
            }
        }
        taken.push(sections);
    }
    Ok(taken)
}

/// The error serde gives for a key a struct does not have ("unknown field
/// `peer_prot`, expected one of ..."), pointing at `key` in the file. toml
/// points only errors it raised itself into the file, so this has it read
/// the key as a value that a visitor then refuses.
fn unknown_key(
    key: &Spanned<DeString<'_>>,
    readers: &[&'static dyn SectionReader],
) -> toml::de::Error {
    struct Refuse(&'static [&'static str]);
    impl serde::de::Visitor<'_> for Refuse {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a key of a [[node]] table")
        }
        fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<(), E> {
            Err(E::unknown_field(key, self.0))
        }
    }
    // Serde wants the list for ever; this runs once, on the way out.
    let expected = NODE_KEYS
        .iter()
        .copied()
        .chain(readers.iter().map(|r| r.name()))
        .collect::<Vec<_>>()
        .leak();
    let value = Spanned::new(key.span(), DeValue::String(key.get_ref().clone()));
    serde::Deserializer::deserialize_str(toml::de::ValueDeserializer::from(value), Refuse(expected))
        .expect_err("the visitor refuses every key")
}

#[cfg(test)]
mod tests;

/// Checks the top-level events keys; a relative SQLite path is resolved
/// against the cluster file's directory, as every other path in it.
fn events_config(
    database_url: Option<String>,
    redis_url: Option<String>,
    path: &Path,
) -> Result<EventsConfig, ConfigError> {
    let mut events = EventsConfig::default_for(path);
    let invalid = |key: &'static str, problem: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        node: "(top level)".to_string(),
        key,
        problem,
    };
    if let Some(url) = database_url {
        events.database_url = if let Some(file) = url.strip_prefix("sqlite://") {
            if file.is_empty() {
                return Err(invalid(
                    "database_url",
                    "names no file: use sqlite://path/to/file.db".to_string(),
                ));
            }
            let base = path.parent().unwrap_or(Path::new(""));
            sqlite_url(&base.join(file))
        } else if ["mysql://", "mariadb://", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            url
        } else {
            return Err(invalid(
                "database_url",
                format!(
                    "is {url:?}: use sqlite://path, mysql://user@host/db or postgres://user@host/db"
                ),
            ));
        };
    }
    if let Some(url) = redis_url {
        if !url.starts_with("redis://") {
            return Err(invalid(
                "redis_url",
                format!("is {url:?}: use redis://host:port"),
            ));
        }
        events.redis_url = Some(url);
    }
    Ok(events)
}
