//! Errors of starting a node.

use std::net::SocketAddr;

/// Why a node could not start. Each message names the node and shows its
/// cause, which is not also chained as a `source` (printing the chain, as
/// the binary does, would say it twice).
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A socket could not be bound (the port is taken, or the address is not
    /// this machine's).
    #[error("node {node}: cannot bind {what} {addr}: {error}")]
    Bind {
        /// The node.
        node: String,
        /// Which socket ("peer_port (UDP)", "client_port (TCP)").
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// A socket handed down by the parent process is not the one the
    /// cluster file describes.
    #[error("node {node}: the inherited {what} socket is {problem}")]
    Inherited {
        /// The node.
        node: String,
        /// Which socket ("peer_port (UDP)").
        what: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The cluster file does not have this node.
    #[error(transparent)]
    Config(#[from] convene_cluster::ConfigError),
    /// The boot number could not be recorded in the data directory.
    #[error("node {node}: cannot record the boot number in {path}: {error}")]
    Boot {
        /// The node.
        node: String,
        /// The file.
        path: std::path::PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The quorum's term file in the data directory could not be read.
    #[error("node {node}: cannot read the quorum term in {path}: {error}")]
    Term {
        /// The node.
        node: String,
        /// The file.
        path: std::path::PathBuf,
        /// What the operating system said, or why the contents are not a term.
        error: std::io::Error,
    },
    /// The store could not be opened.
    #[error("node {node}: {error}")]
    Store {
        /// The node.
        node: String,
        /// What went wrong.
        error: convene_store::StoreError,
    },
    /// The booking service could not start.
    #[error("node {node}: {error}")]
    Booking {
        /// The node.
        node: String,
        /// What went wrong.
        error: convene_booking::service::BookingStartError,
    },
    /// The events service's database or working set could not be opened.
    #[error("node {node}: {error}")]
    Events {
        /// The node.
        node: String,
        /// What went wrong.
        error: convene_eventdb::OpenError,
    },
    /// The web front's certificate or key (`tls_cert`, `tls_key`) is
    /// missing or unusable.
    #[error("node {node}: {problem}")]
    Tls {
        /// The node.
        node: String,
        /// Which file, and what is wrong with it (shown, not chained: the
        /// message says it all once).
        problem: convene_web::TlsError,
    },
    /// The meet service could not start.
    #[error("node {node}: {error}")]
    Meet {
        /// The node.
        node: String,
        /// What went wrong.
        error: convene_meet::MeetError,
    },
}
