//! The cluster file: one TOML file that describes every node of a cluster.
//!
//! ```toml
//! secret_file = "cluster.secret"  # 64 hex digits every node shares (`convene secret` makes one);
//!                                  # may be left out only when every host is a loopback address
//! admins = ["ada"]                 # accounts that may break anyone's file lock
//! database_url = "sqlite://convene-data/convene.db"  # events: shared by all nodes (default);
//!                                                     # or mysql://... or postgres://...
//! redis_url = "redis://127.0.0.1:6379"  # optional: event servers keep their working set there
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
//! Parsing happens in two steps. Serde reads the file into `Raw*` structs that
//! reject unknown keys (so a typo such as `peer_prot` is an error, not a
//! silently ignored line), then [`ClusterConfig::from_toml`] checks what TOML
//! cannot: id syntax, duplicate ids and ports, and resolves relative paths
//! against the file's own directory, so a cluster file means the same thing
//! whatever directory it is started from.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::Deserialize;

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
    /// The meet service's settings, if this node is a meet backend.
    pub meet: Option<MeetSection>,
    /// UDP port speaking the booking seed's protocol, if this node answers
    /// booking clients.
    pub booking_port: Option<u16>,
    /// TCP port for chat clients (the CS4262 JSON-lines protocol), if this
    /// node is a chat server.
    pub chat_port: Option<u16>,
    /// The booking service's settings (defaults if the section is absent).
    pub booking: BookingSection,
    /// The files service's settings, if this node shares a folder.
    pub files: Option<FilesSection>,
    /// TCP port for the web pages and JSON API, if this node serves them.
    pub http_port: Option<u16>,
    /// The certificate and key to serve `http_port` over TLS, if given.
    pub tls: Option<TlsFiles>,
    /// Whether this node computes partial solutions for events.
    pub event_server: bool,
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

/// Invocation semantics of a booking front door.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Semantics {
    /// Every received request executes, retries included.
    AtLeastOnce,
    /// A retry gets the first execution's reply; nothing executes twice.
    AtMostOnce,
}

impl std::fmt::Display for Semantics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Semantics::AtLeastOnce => "at-least-once",
            Semantics::AtMostOnce => "at-most-once",
        })
    }
}

/// `[node.booking]`: how this node's booking front door behaves and which
/// facilities it owns.
#[derive(Clone, Debug, PartialEq)]
pub struct BookingSection {
    /// At-least-once or at-most-once (default).
    pub semantics: Semantics,
    /// Probability that a received request is dropped (loss simulation).
    pub request_loss: f64,
    /// Probability that a reply is dropped after executing.
    pub reply_loss: f64,
    /// Probability that a received request is processed twice.
    pub duplicate: f64,
    /// Seed of the loss simulation, so an experiment can be replayed.
    pub loss_seed: u64,
    /// Seconds a cached reply is kept for retries (at-most-once).
    pub reply_cache_seconds: u64,
    /// Most replies kept in the cache; the oldest go first.
    pub reply_cache_entries: usize,
    /// Facilities this node owns, matched exactly (case-sensitive).
    pub facilities: Vec<String>,
}

impl Default for BookingSection {
    fn default() -> Self {
        BookingSection {
            semantics: Semantics::AtMostOnce,
            request_loss: 0.0,
            reply_loss: 0.0,
            duplicate: 0.0,
            loss_seed: 1,
            reply_cache_seconds: 300,
            reply_cache_entries: 100_000,
            facilities: Vec::new(),
        }
    }
}

/// `[node.files]`: the folder this node shares with the other files nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilesSection {
    /// The shared folder, already resolved against the cluster file.
    pub dir: PathBuf,
    /// Locks live on this node (the seed's Server A). If no files node
    /// says so, the files node with the highest priority holds them.
    pub lock_holder: bool,
    /// How long a lock lasts unless renewed (used by the holder).
    pub lease: Duration,
}

/// `[node.meet]`: this node serves the users of one availability file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetSection {
    /// The EE450 availability file, already resolved against the cluster file.
    pub availability: PathBuf,
}

impl NodeConfig {
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
    meet: Option<RawMeet>,
    booking_port: Option<u16>,
    booking: Option<RawBooking>,
    chat_port: Option<u16>,
    files: Option<RawFiles>,
    http_port: Option<u16>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    event_server: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFiles {
    dir: PathBuf,
    lock_holder: Option<bool>,
    lease_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBooking {
    semantics: Option<Semantics>,
    request_loss: Option<f64>,
    reply_loss: Option<f64>,
    duplicate: Option<f64>,
    loss_seed: Option<u64>,
    reply_cache_seconds: Option<u64>,
    reply_cache_entries: Option<usize>,
    facilities: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeet {
    availability: PathBuf,
}

impl ClusterConfig {
    /// Reads and validates a cluster file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
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
            let booking = match raw.booking {
                None => BookingSection::default(),
                Some(b) => booking_section(b, &raw.id, &invalid)?,
            };
            let files = match raw.files {
                None => None,
                Some(f) => Some(FilesSection {
                    dir: base.join(f.dir),
                    lock_holder: f.lock_holder.unwrap_or(false),
                    lease: match f.lease_seconds {
                        None => Duration::from_secs(3600),
                        Some(s) if (1..=365 * 86_400).contains(&s) => Duration::from_secs(s),
                        Some(s) => {
                            let problem = format!("is {s}: use 1 to 31536000 seconds");
                            return Err(invalid(&raw.id, "lease_seconds", problem));
                        }
                    },
                }),
            };
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
                meet,
                booking_port: raw.booking_port,
                booking,
                chat_port: raw.chat_port,
                files,
                http_port: raw.http_port,
                tls,
                event_server: raw.event_server.unwrap_or(true),
            });
        }

        let election = election_config(raw.election, path)?;
        let mut config = Self::from_nodes(path, nodes, election)?;
        config.events = events_config(raw.database_url, raw.redis_url, path)?;
        if let Some(file) = raw.secret_file {
            config = config.with_secret_file(&base.join(file))?;
        }
        config.admins = admins(raw.admins.unwrap_or_default(), path)?;
        config.limits = limits(raw.limits.unwrap_or_default(), path)?;
        Ok(config)
    }

    /// A cluster built from nodes read some other way (the chat seed's
    /// `configuration.txt`), checked as a cluster file is: unique ids and
    /// ports, one owner per facility.
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
        };
        config.check_unique(&invalid)?;
        config.check_facilities(&invalid)?;
        config.check_files(&invalid)?;
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

    /// Each facility belongs to one node.
    fn check_facilities(
        &self,
        invalid: &dyn Fn(&str, &'static str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let mut owners: HashMap<&str, &str> = HashMap::new();
        for node in &self.nodes {
            for facility in &node.booking.facilities {
                if let Some(other) = owners.insert(facility, &node.id) {
                    return Err(invalid(
                        &node.id,
                        "facilities",
                        format!("lists {facility:?}, which node {other:?} already owns"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// No two nodes sharing one folder (they would sync it with itself).
    fn check_files(
        &self,
        invalid: &dyn Fn(&str, &'static str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let mut dirs: HashMap<&Path, &str> = HashMap::new();
        let mut holder: Option<&str> = None;
        for node in &self.nodes {
            let Some(files) = &node.files else { continue };
            if files.lock_holder {
                if let Some(other) = holder {
                    return Err(invalid(
                        &node.id,
                        "lock_holder",
                        format!("is true, but node {other:?} already holds the locks"),
                    ));
                }
                holder = Some(&node.id);
            }
            if let Some(other) = dirs.insert(&files.dir, &node.id) {
                return Err(invalid(
                    &node.id,
                    "dir",
                    format!("{} is node {other:?}'s folder too", files.dir.display()),
                ));
            }
        }
        Ok(())
    }

    /// The files node that holds the locks: the one marked `lock_holder`,
    /// else the files node with the highest priority (the first in the file
    /// among equals).
    pub fn lock_holder(&self) -> Option<&NodeConfig> {
        let files = || self.nodes.iter().filter(|n| n.files.is_some());
        files()
            .find(|n| n.files.as_ref().is_some_and(|f| f.lock_holder))
            .or_else(|| {
                files().fold(None, |best: Option<&NodeConfig>, n| match best {
                    Some(b) if b.priority >= n.priority => Some(b),
                    _ => Some(n),
                })
            })
    }

    /// The nodes that share a folder, in file order.
    pub fn files_nodes(&self) -> impl Iterator<Item = (usize, &NodeConfig)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.files.is_some())
    }

    /// The node that owns a booking facility.
    pub fn facility_owner(&self, facility: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.booking.facilities.iter().any(|f| f == facility))
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

fn booking_section(
    raw: RawBooking,
    node: &str,
    invalid: &dyn Fn(&str, &'static str, String) -> ConfigError,
) -> Result<BookingSection, ConfigError> {
    let defaults = BookingSection::default();
    let probability = |key: &'static str, value: Option<f64>| match value {
        None => Ok(0.0),
        Some(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Some(p) => Err(invalid(
            node,
            key,
            format!("is {p}: use a probability from 0.0 to 1.0"),
        )),
    };
    let facilities = raw.facilities.unwrap_or_default();
    for (i, f) in facilities.iter().enumerate() {
        if f.is_empty() || f.len() > 256 {
            return Err(invalid(
                node,
                "facilities",
                format!("entry {} must be 1 to 256 bytes long", i + 1),
            ));
        }
        if facilities[..i].contains(f) {
            return Err(invalid(node, "facilities", format!("lists {f:?} twice")));
        }
    }
    let entries = raw
        .reply_cache_entries
        .unwrap_or(defaults.reply_cache_entries);
    if entries == 0 {
        return Err(invalid(
            node,
            "reply_cache_entries",
            "must be at least 1".into(),
        ));
    }
    Ok(BookingSection {
        semantics: raw.semantics.unwrap_or(defaults.semantics),
        request_loss: probability("request_loss", raw.request_loss)?,
        reply_loss: probability("reply_loss", raw.reply_loss)?,
        duplicate: probability("duplicate", raw.duplicate)?,
        loss_seed: raw.loss_seed.unwrap_or(defaults.loss_seed),
        reply_cache_seconds: raw
            .reply_cache_seconds
            .unwrap_or(defaults.reply_cache_seconds),
        reply_cache_entries: entries,
        facilities,
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
