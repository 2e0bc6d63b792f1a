//! Why a backup or a restore stopped. Each message names the file, node
//! or table to look at, and what to do where there is something to do.

use std::path::PathBuf;

use convene_cluster::ConfigError;
use convene_eventdb::dump::DumpError;

use super::manifest::ManifestError;

/// Why `convene backup` stopped. A backup that stopped has no manifest,
/// so it can never be restored by mistake.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The cluster file.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// No node of the file runs here.
    #[error(
        "no node of {} is on this host (no host is an address of this machine); name one with --id",
        config.display()
    )]
    NoNodesHere {
        /// The cluster file.
        config: PathBuf,
    },
    /// The output directory exists and holds something.
    #[error("{} is not empty: a backup goes into a new or empty directory", dir.display())]
    OutNotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// SQLite could not copy a database.
    #[error("copying the SQLite database {}: {error}", path.display())]
    Sqlite {
        /// The database.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// The server database could not be exported.
    #[error("exporting the cluster database: {0}")]
    Database(#[from] DumpError),
}

/// Why `convene restore` stopped. Every check is made before anything is
/// written, so a refusal leaves the targets as they were.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The cluster file.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The directory holds no manifest: not a backup, or one cut short.
    #[error(
        "{} has no manifest.json: not a Convene backup, or one that did not finish (its files cannot be trusted)",
        dir.display()
    )]
    NoManifest {
        /// The backup directory.
        dir: PathBuf,
    },
    /// The manifest cannot be read.
    #[error("{}: {error}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// Why.
        error: ManifestError,
    },
    /// A file of the backup is missing or differs from the manifest.
    #[error("{}: {problem}; the backup is damaged, restore another one", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What differs.
        problem: String,
    },
    /// `--id` names a node the backup does not hold.
    #[error("the backup holds no node {id:?} (it holds {})", held.join(", "))]
    NotInBackup {
        /// The id asked for.
        id: String,
        /// The nodes it holds.
        held: Vec<String>,
    },
    /// A node of the backup is not in the cluster file.
    #[error("node {id:?} of the backup is not in {}", config.display())]
    NotInCluster {
        /// The node.
        id: String,
        /// The cluster file.
        config: PathBuf,
    },
    /// A node seems to be running (its peer port is taken).
    #[error("node {id:?} seems to be running ({addr} is in use); stop it before restoring")]
    Running {
        /// The node.
        id: String,
        /// Its peer address.
        addr: std::net::SocketAddr,
    },
    /// A target holds something and `--force` was not given.
    #[error(
        "{what} is not empty ({detail}); restore into an empty one, or give --force to replace it"
    )]
    NotEmpty {
        /// Which target.
        what: String,
        /// What is there.
        detail: String,
    },
    /// The backup holds a node's shared folder, and the cluster file gives
    /// that node none.
    #[error(
        "the backup holds node {id:?}'s shared folder, but {} gives it no [node.files] dir",
        config.display()
    )]
    NoFolder {
        /// The node.
        id: String,
        /// The cluster file.
        config: PathBuf,
    },
    /// The backup's database cannot go where the cluster file says.
    #[error("{0}")]
    Database(String),
    /// A file could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The server database could not be filled.
    #[error("restoring the cluster database: {0}")]
    Dump(#[from] DumpError),
}
