//! `convene check`: would the nodes of a cluster file start on this host?
//! Asked without starting anything, and answered with every problem at
//! once, so an operator fixes a file in one round rather than one start
//! per mistake.
//!
//! [`check`] reads the file as a node would ([`load_cluster`], with every
//! service's section and its checks), then, for each node of this host
//! (the one named, or every node whose address is one of this machine's):
//!
//! - each configured port can be bound now (TCP or UDP, on the node's
//!   address; port 0 is always fine): a port held by another process is
//!   the commonest reason a start fails;
//! - its data directory, and its shared folder (`[node.files] dir`) if
//!   it has one, can be written: a probe file is created and removed
//!   there, or, if the directory does not exist yet, in the nearest
//!   directory above it that does (the node creates the rest);
//! - its TLS certificate and key, if any, can be read.
//!
//! And once for the cluster: the secret file can be read (the loader
//! does that; a file that cannot be read is one problem, and the rest of
//! the file is still checked without it), the cluster may run without a
//! secret only on loopback, and the database answers: for SQLite, the
//! file's directory is writable (and the file, if it exists, opens for
//! writing); for MySQL or PostgreSQL, it is opened as a node opens it
//! ([`convene_eventdb::open()`]), within [`DATABASE_WAIT`].
//!
//! Nothing is left behind but what a node's start would create anyway
//! (the schema of a server database that had none).

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use convene_cluster::{ClusterConfig, ConfigError, NodeConfig};
use convene_eventdb::open::Target;
use convene_files::FilesSection;

use crate::services::{cluster_from_toml, describe, load_cluster};

/// How long the database may take to answer before it counts as
/// unreachable.
pub const DATABASE_WAIT: Duration = Duration::from_secs(5);

/// One reason the cluster would not start as configured.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The file itself (syntax, unknown keys, values, the secret): what a
    /// node's start would refuse first.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A port is taken on this host.
    #[error("node {node:?}: {key} = {port} cannot be bound on {host} ({proto}): {error}")]
    Port {
        /// The node's id.
        node: String,
        /// The key of the cluster file (`peer_port`, `http_port`, ...).
        key: &'static str,
        /// `TCP` or `UDP`.
        proto: &'static str,
        /// The node's address.
        host: IpAddr,
        /// The port.
        port: u16,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The node's data directory cannot be written.
    #[error(
        "node {node:?}: {key} {} cannot be written (a file could not be made in {}: {error})",
        data_dir.display(),
        dir.display()
    )]
    DataDir {
        /// The node's id.
        node: String,
        /// `data_dir`, or `[node.files] dir` for its shared folder.
        key: &'static str,
        /// The directory.
        data_dir: PathBuf,
        /// The directory tried (the data directory, or the nearest
        /// existing one above it).
        dir: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// A TLS file cannot be read.
    #[error("node {node:?}: {key} {} cannot be read: {error}", file.display())]
    Tls {
        /// The node's id.
        node: String,
        /// `tls_cert` or `tls_key`.
        key: &'static str,
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The cluster's database cannot be used.
    #[error("database_url: {0}")]
    Database(String),
}

/// What [`check`] found.
#[derive(Debug, Default)]
pub struct Report {
    /// Every node of the file (none if the file could not be read), with
    /// what it runs (see [`describe`]) and whether it is one of this host's.
    pub nodes: Vec<NodeReport>,
    /// Every problem, in the order found; empty if the nodes of this host
    /// would start.
    pub problems: Vec<Problem>,
}

/// One node as the check sees it.
#[derive(Debug)]
pub struct NodeReport {
    /// Its id.
    pub id: String,
    /// Its peer address.
    pub peer: SocketAddr,
    /// Whether it runs on this host (and so was checked here).
    pub here: bool,
    /// What it runs, one short line per service.
    pub services: Vec<String>,
}

/// Checks the cluster file at `path` for the node `id`, or for every node
/// whose address is on this host (see the module documentation).
pub async fn check(path: &Path, id: Option<&str>) -> Report {
    let mut report = Report::default();
    let cluster = match load_cluster(path) {
        Ok(cluster) => {
            if let Err(error) = cluster.check_secret() {
                report.problems.push(error.into());
            }
            cluster
        }
        Err(error @ ConfigError::Secret { .. }) => {
            // Named once; the rest is still worth checking.
            report.problems.push(error.into());
            match without_secret(path) {
                Some(cluster) => cluster,
                None => return report,
            }
        }
        Err(error) => {
            report.problems.push(error.into());
            return report;
        }
    };
    if let Some(Err(error)) = id.map(|id| cluster.node(id)) {
        report.problems.push(error.into());
    }
    for node in &cluster.nodes {
        let here = match id {
            Some(id) => node.id == id,
            None => on_this_host(node.host),
        };
        if here {
            check_ports(node, &mut report.problems);
            check_data_dir(node, &mut report.problems);
            check_tls(node, &mut report.problems);
        }
        report.nodes.push(NodeReport {
            id: node.id.clone(),
            peer: node.peer_addr(),
            here,
            services: describe(node),
        });
    }
    if report.nodes.iter().any(|n| n.here)
        && let Err(problem) = check_database(&cluster).await
    {
        report.problems.push(problem);
    }
    report
}

/// The cluster file read again without its `secret_file`, to check the
/// rest of it when only the secret is at fault.
fn without_secret(path: &Path) -> Option<ClusterConfig> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut table: toml::Table = text.parse().ok()?;
    table.remove("secret_file");
    let text = toml::to_string(&table).ok()?;
    cluster_from_toml(&text, path).ok()
}

/// Whether `host` is one of this machine's addresses: loopback, or one a
/// socket can be bound to.
pub(crate) fn on_this_host(host: IpAddr) -> bool {
    host.is_loopback() || UdpSocket::bind(SocketAddr::new(host, 0)).is_ok()
}

/// Binds each of `node`'s ports for a moment.
fn check_ports(node: &NodeConfig, problems: &mut Vec<Problem>) {
    let ports = [
        ("peer_port", "UDP", Some(node.peer_port)),
        ("client_port", "TCP", node.client_port),
        ("booking_port", "UDP", node.booking_port),
        ("chat_port", "TCP", node.chat_port),
        ("http_port", "TCP", node.http_port),
        ("metrics_port", "TCP", node.metrics_port),
    ];
    for (key, proto, port) in ports {
        let Some(port) = port.filter(|&p| p != 0) else {
            continue;
        };
        let addr = SocketAddr::new(node.host, port);
        let bound = if proto == "TCP" {
            TcpListener::bind(addr).map(drop)
        } else {
            UdpSocket::bind(addr).map(drop)
        };
        if let Err(error) = bound {
            problems.push(Problem::Port {
                node: node.id.clone(),
                key,
                proto,
                host: node.host,
                port,
                error,
            });
        }
    }
}

/// Creates and removes a probe file in `node`'s data directory and its
/// shared folder, if it has one (or the nearest existing directory above
/// each).
fn check_data_dir(node: &NodeConfig, problems: &mut Vec<Problem>) {
    let folder = FilesSection::of(node).map(|files| files.dir.clone());
    let dirs = [
        ("data_dir", Some(node.data_dir.clone())),
        ("[node.files] dir", folder),
    ];
    for (key, data_dir) in dirs {
        let Some(data_dir) = data_dir else {
            continue;
        };
        if let Err((dir, error)) = probe_writable(&data_dir) {
            problems.push(Problem::DataDir {
                node: node.id.clone(),
                key,
                data_dir,
                dir,
                error,
            });
        }
    }
}

/// Whether a file can be created in `dir`, or, if it does not exist, in
/// the nearest directory above it that does; on failure, the directory
/// tried and why.
fn probe_writable(dir: &Path) -> Result<(), (PathBuf, std::io::Error)> {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    let probe = existing.join(format!(".convene-check-{}", std::process::id()));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe);
    match created {
        Ok(file) => {
            drop(file);
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(error) => Err((existing.to_path_buf(), error)),
    }
}

/// Opens `node`'s TLS files for reading, if it has any.
fn check_tls(node: &NodeConfig, problems: &mut Vec<Problem>) {
    let Some(tls) = &node.tls else {
        return;
    };
    for (key, file) in [("tls_cert", &tls.cert), ("tls_key", &tls.key)] {
        if let Err(error) = std::fs::File::open(file) {
            problems.push(Problem::Tls {
                node: node.id.clone(),
                key,
                file: file.clone(),
                error,
            });
        }
    }
}

/// Whether the cluster's database can be used from here.
async fn check_database(cluster: &ClusterConfig) -> Result<(), Problem> {
    let url = &cluster.events.database_url;
    let target = Target::parse(url).map_err(|e| Problem::Database(e.to_string()))?;
    match target {
        Target::SqliteMemory => Ok(()),
        Target::SqliteFile(file) => {
            let dir = file.parent().unwrap_or(Path::new("."));
            probe_writable(dir).map_err(|(dir, error)| {
                Problem::Database(format!(
                    "the SQLite file's directory {} is not writable: {error}",
                    dir.display()
                ))
            })?;
            if file.exists() {
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&file)
                    .map_err(|error| {
                        Problem::Database(format!(
                            "the SQLite file {} cannot be opened for writing: {error}",
                            file.display()
                        ))
                    })?;
            }
            Ok(())
        }
        Target::MySql(_) | Target::Postgres(_) => {
            match tokio::time::timeout(DATABASE_WAIT, convene_eventdb::open(url)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) => Err(Problem::Database(error.to_string())),
                Err(_) => Err(Problem::Database(format!(
                    "{} did not answer within {} s",
                    convene_eventdb::error::redact(url),
                    DATABASE_WAIT.as_secs()
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_data_dir_is_probed_where_it_would_be_made_and_nothing_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("convene-data").join("A");
        probe_writable(&data).unwrap();
        assert!(!dir.path().join("convene-data").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_file_in_the_way_is_not_a_writable_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let (tried, _) = probe_writable(&dir.path().join("file").join("A")).unwrap_err();
        assert_eq!(tried, dir.path().join("file"));
    }
}
