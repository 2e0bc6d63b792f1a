//! The chaos run's own cluster: `convene node` processes, one per host,
//! in network namespaces (`convene_netns`) where this machine allows it,
//! else on loopback (where nodes can be killed but not cut off).
//!
//! Every node has the same fixed ports on its own address (a namespace's
//! bridge address, or one of loopback's 127.x.y.z addresses), so a node
//! restarted after `kill -9` is where its peers and clients expect it.

use std::fs::OpenOptions;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::schedule::node_name;

/// Each node's peer port (UDP).
pub const PEER_PORT: u16 = 7100;
/// Each node's chat port (TCP, the course protocol).
pub const CHAT_PORT: u16 = 7101;
/// Each node's booking front door (UDP, the seed's protocol).
pub const BOOKING_PORT: u16 = 7102;
/// Each node's web front (HTTP: the events API).
pub const HTTP_PORT: u16 = 7103;
/// Facilities each node owns.
pub const FACILITIES_PER_NODE: usize = 3;

/// Where the nodes run.
pub enum Hosts {
    /// One network namespace per node, on one bridge.
    Lab(convene_netns::Lab),
    /// Loopback addresses `127.77.S.1..` of this machine.
    Loopback(u8),
}

impl Hosts {
    /// A lab when namespaces can be made, else loopback; says which, and
    /// why not a lab.
    pub fn new(nodes: usize, loopback: bool) -> (Hosts, String) {
        let fallback = || Hosts::Loopback((std::process::id() % 250) as u8 + 1);
        if loopback {
            return (fallback(), "on loopback, as asked (--loopback)".into());
        }
        if let Err(why) = convene_netns::available() {
            return (fallback(), format!("on loopback: {why}"));
        }
        match convene_netns::Lab::new(nodes) {
            Ok(lab) => (Hosts::Lab(lab), "in network namespaces".into()),
            Err(e) => (fallback(), format!("on loopback: {e}")),
        }
    }

    /// Whether nodes can be cut off (only in a lab).
    pub fn partitions(&self) -> bool {
        matches!(self, Hosts::Lab(_))
    }

    /// Node `i`'s address.
    pub fn ip(&self, i: usize) -> IpAddr {
        match self {
            Hosts::Lab(lab) => IpAddr::V4(lab.host_ip(i)),
            Hosts::Loopback(s) => IpAddr::V4(Ipv4Addr::new(127, 77, *s, i as u8 + 1)),
        }
    }

    fn command(&self, i: usize, exe: &Path) -> Command {
        match self {
            Hosts::Lab(lab) => lab.command(i, exe),
            Hosts::Loopback(_) => Command::new(exe),
        }
    }

    /// Cuts node `i` off, or heals it.
    pub fn set_cut(&self, i: usize, cut: bool) -> anyhow::Result<()> {
        let Hosts::Lab(lab) = self else {
            bail!("no partitions on loopback");
        };
        if cut { lab.cut(i) } else { lab.heal(i) }.map_err(Into::into)
    }
}

/// The facilities node `i` owns: `Room A1`, `Room A2`, ...
pub fn facilities(i: usize) -> Vec<String> {
    (1..=FACILITIES_PER_NODE)
        .map(|k| format!("Room {}{k}", node_name(i)))
        .collect()
}

/// Writes the cluster file (and its secret) into `dir`: `nodes` nodes,
/// each a booking front door owning its facilities (at-most-once, with the
/// nodes' own loss injection at `loss`), a chat server, a files node
/// sharing `files-<id>`, and a web front and event server (the events
/// database is the default: one SQLite file beside the cluster file).
pub fn write_config(
    dir: &Path,
    hosts: &Hosts,
    nodes: usize,
    loss: f64,
    seed: u64,
) -> anyhow::Result<PathBuf> {
    convene_cluster::ClusterSecret::create_file(&dir.join("cluster.secret"))?;
    let mut toml = "secret_file = \"cluster.secret\"\n".to_string();
    for i in 0..nodes {
        let list = facilities(i)
            .iter()
            .map(|f| format!("\"{f}\""))
            .collect::<Vec<_>>()
            .join(", ");
        toml.push_str(&format!(
            "[[node]]\nid = \"{}\"\nhost = \"{}\"\npeer_port = {PEER_PORT}\n\
             booking_port = {BOOKING_PORT}\nchat_port = {CHAT_PORT}\nhttp_port = {HTTP_PORT}\n\
             [node.booking]\nsemantics = \"at-most-once\"\nfacilities = [{list}]\n\
             request_loss = {loss}\nreply_loss = {loss}\nloss_seed = {}\n\
             [node.files]\ndir = \"{}\"\n",
            node_name(i),
            hosts.ip(i),
            seed.wrapping_add(i as u64) % (1 << 53),
            super::files::folder(&node_name(i)),
        ));
        std::fs::create_dir_all(dir.join(super::files::folder(&node_name(i))))?;
    }
    // The workload logs in far more often from one address than people do.
    toml.push_str(
        "[limits]\nlogins_per_minute_per_ip = 1000000\nlogins_per_minute_per_account = 1000000\n\
         registrations_per_hour_per_ip = 1000000\n",
    );
    let path = dir.join("cluster.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

/// One `convene node` process, restarted on demand.
pub struct Node {
    /// Its index.
    pub index: usize,
    child: Option<Child>,
}

impl Node {
    /// A node not started yet.
    pub fn new(index: usize) -> Node {
        Node { index, child: None }
    }

    fn ports_file(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.ports", node_name(self.index)))
    }

    /// Starts the process (its output appended to `<id>.log`).
    pub fn spawn(&mut self, hosts: &Hosts, dir: &Path, config: &Path) -> anyhow::Result<()> {
        let id = node_name(self.index);
        let _ = std::fs::remove_file(self.ports_file(dir));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{id}.log")))?;
        let exe = std::env::current_exe().context("finding the convene binary")?;
        let child = hosts
            .command(self.index, &exe)
            .args(["node", "--config"])
            .arg(config)
            .args(["--id", &id, "--ports-file"])
            .arg(self.ports_file(dir))
            .env(
                "RUST_LOG",
                std::env::var("CONVENE_CHAOS_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting node {id}"))?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the node has bound its ports (its ports file is there).
    pub fn wait_started(&mut self, dir: &Path, within: Duration) -> anyhow::Result<()> {
        let id = node_name(self.index);
        let deadline = Instant::now() + within;
        while !self.ports_file(dir).exists() {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("node {id} ended ({status}); see {id}.log");
            }
            if Instant::now() > deadline {
                bail!("node {id} did not start within {within:?}; see {id}.log");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// `kill -9`, and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Node `i`'s booking front door.
pub fn booking_addr(hosts: &Hosts, i: usize) -> SocketAddr {
    SocketAddr::new(hosts.ip(i), BOOKING_PORT)
}

/// Node `i`'s chat server.
pub fn chat_addr(hosts: &Hosts, i: usize) -> SocketAddr {
    SocketAddr::new(hosts.ip(i), CHAT_PORT)
}

/// Node `i`'s web front.
pub fn http_addr(hosts: &Hosts, i: usize) -> SocketAddr {
    SocketAddr::new(hosts.ip(i), HTTP_PORT)
}
