//! Errors of the cluster layer.

use std::path::PathBuf;

/// Why a cluster file could not be used. Every variant names the file, and
/// where it can, the node and key at fault, so the message alone is enough to
/// fix the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{path}: cannot read the cluster file: {error}")]
    Read {
        /// The cluster file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The file is not valid TOML, or has an unknown or mistyped key. The
    /// message from the TOML parser carries the line, column and key.
    #[error("{path}: {message}")]
    Syntax {
        /// The cluster file.
        path: PathBuf,
        /// The parser's description, with line and column.
        message: String,
    },
    /// A value is well-formed TOML but not acceptable.
    #[error("{path}: node {node:?}: `{key}` {problem}")]
    Invalid {
        /// The cluster file.
        path: PathBuf,
        /// The id of the node (or its position when the id itself is bad).
        node: String,
        /// The key at fault.
        key: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The secret file named by `secret_file` cannot be used.
    #[error("{path}: secret_file {file}: {problem}")]
    Secret {
        /// The cluster file.
        path: PathBuf,
        /// The secret file.
        file: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A node is reachable from other machines, and the cluster has no
    /// secret to tell its members from strangers.
    #[error(
        "{path}: node {node} is not on a loopback address, so the cluster needs a secret: \
         run `convene secret > cluster.secret`, add `secret_file = \"cluster.secret\"` at the \
         top of the cluster file, and copy both files to every node"
    )]
    NeedsSecret {
        /// The cluster file.
        path: PathBuf,
        /// The first node outside loopback, with its host.
        node: String,
    },
    /// The file declares no node.
    #[error("{path}: the cluster file declares no [[node]]")]
    NoNodes {
        /// The cluster file.
        path: PathBuf,
    },
    /// A node id was asked for that the file does not declare.
    #[error("{path}: no node with id {id:?} (the file declares {known})")]
    UnknownNode {
        /// The cluster file.
        path: PathBuf,
        /// The id asked for.
        id: String,
        /// The ids the file does declare, comma separated.
        known: String,
    },
}
