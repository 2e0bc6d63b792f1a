//! A Convene node: the top of the stack, where the layers meet.
//!
//! Starting a node binds its sockets (or takes sockets already bound, so
//! tests and `convene up` can use port 0), opens its store, starts the peer
//! transport with a [`Router`](convene_cluster::Router), and starts each
//! service the cluster file gives it. Stopping it triggers the shutdown
//! signal, waits for every task, and closes the store, so what is on disk is
//! consistent when [`RunningNode::stop`] returns; [`RunningNode::leave`]
//! first lets work in flight finish and tells the peers, so that they take
//! over at once.
//!
//! # Layout
//!
//! - [`bind`]: binding a node's sockets, and a whole cluster's with port 0
//!   replaced by the ports the OS chose.
//! - [`boot`]: this run's boot number, larger than every earlier run's.
//! - [`services`]: every service a node runs, in one list: their peer tags
//!   and their sections of the cluster file.
//! - [`running`]: starting and stopping one node.
//! - [`cluster`]: every node of a cluster in one process.
//! - [`check`]: whether a cluster file's nodes would start on this host
//!   (`convene check`), every problem at once.
//! - [`backup`]: `convene backup` and `convene restore`: a consistent copy
//!   of a host's nodes and the cluster database, taken while they run.
//! - [`error`]: the typed errors of this crate.
//! - [`faults`]: the faults a test may start a node with.

#![deny(missing_docs)]

pub mod backup;
pub mod bind;
pub mod boot;
pub mod check;
pub mod cluster;
pub mod cluster_db;
pub mod error;
pub mod faults;
mod node_metrics;
pub mod running;
pub mod services;

pub use bind::{Inherited, NodeSockets, bind_cluster, bind_node, bind_node_with, bind_one};
pub use cluster::{leave_all, start_all, stop_all};
pub use error::NodeError;
pub use faults::{Fault, Faults};
pub use running::{RunningNode, start, start_with_faults};
pub use services::{SERVICES, cluster_from_toml, load_cluster};
