//! The cluster layer: what every service of a Convene node stands on.
//!
//! A Convene cluster is a set of identical nodes described by one TOML file.
//! This crate reads that file and gives each running node the small pieces of
//! runtime that every service shares.
//!
//! # Layout
//!
//! - [`config`]: the cluster file. Parsing, path resolution and validation,
//!   with errors that name the file and the key or line at fault.
//! - [`screen`]: the on-screen lines a seed's users expect ("Main Server is up
//!   and running."), written in order, batched under load, capturable in tests.
//! - [`shutdown`]: one small type every task holds to learn that the node is
//!   stopping (the pattern of mini-redis' `shutdown.rs`).
//! - [`election`]: membership (heartbeats, failure detection) and the Fast
//!   Bully election of a coordinator, as a sans-IO state machine.
//! - [`peer`]: node-to-node calls. One UDP socket per node carries every
//!   service's traffic; the first payload byte names the service, and
//!   [`peer::Router`] hands each request to the service that registered it.
//! - [`unordered`]: a few futures polled together in one task, outputs in
//!   finishing order (a main node's fan-out to its backends).
//! - [`quorum`]: leases from a majority and terms around the coordinator
//!   Fast Bully chose, so that a decision unique cluster-wide is taken by
//!   one node at a time, as a sans-IO state machine.
//! - [`membership`]: the election running on the peer transport: watch
//!   the coordinator and the live set; answer `convene status`.
//! - [`secret`]: the cluster secret every node shares, and the keys derived
//!   from it.
//! - [`accept`]: the one accept loop of every TCP front door: errors
//!   waited out, connections admitted or refused, the admitted ones run
//!   and reaped.
//! - [`admission`]: how many connections a TCP front door holds, in all and
//!   per address.
//! - [`refusal`]: telling a connection past those limits why, at a bounded
//!   cost.
//! - [`line`](mod@line): reading lines of bounded length from an async stream,
//!   cancel safe (the driver of `convene_wire::line`).
//! - [`retry`]: trying again until something works or the node stops, the
//!   one retry loop above the peer transport.
//! - [`snapshot`]: lists too long for one datagram, frozen by the server and
//!   read page by page.
//! - [`term_store`]: where a node keeps the highest quorum term it used.
//! - [`error`]: the typed errors of this crate.

#![deny(missing_docs)]

pub mod accept;
pub mod admission;
pub mod config;
pub mod election;
pub mod error;
pub mod line;
pub mod log_format;
pub mod membership;
pub mod number_file;
pub mod peer;
pub mod quorum;
pub mod refusal;
pub mod retry;
pub mod screen;
pub mod secret;
pub mod shutdown;
pub mod snapshot;
pub mod term_store;
pub mod unordered;

pub use config::{
    ClusterConfig, EventsConfig, Limits, NodeConfig, NodeContext, Section, SectionReader, Sections,
    TlsFiles,
};
pub use error::ConfigError;
pub use peer::{Peers, Router, ServiceHandler, ServiceTag};
pub use screen::{Screen, Untrusted};
pub use secret::ClusterSecret;
pub use shutdown::Shutdown;
pub use unordered::Unordered;
