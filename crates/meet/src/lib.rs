//! The meet service: EE450's distributed meeting scheduler (seed 000).
//!
//! Users' availability is sharded over backend nodes. A client sends up to
//! ten names to a main node; main says which do not exist, sends each backend
//! involved only its own users' names, each backend intersects its users'
//! lists privately and returns only that intersection, and main intersects
//! the partial results. The client may then register a meeting inside a
//! recommended interval; every backend involved removes it from its users'
//! availability, and remembers it in its store across restarts.
//!
//! # Layout
//!
//! - [`name`]: the EE450 rules for user names.
//! - [`availability`]: reading and checking availability files.
//! - [`backend`]: a backend's users, intersections and registrations (no I/O).
//! - [`directory`]: the main node's map from user to backend.
//! - [`known_lists`]: the last user list of each backend, kept on a main
//!   node's disk.
//! - [`config`]: `[node.meet]`, this service's section of the cluster file.
//! - [`peer_msg`]: the binary messages between meet nodes, and the
//!   service's [`TAG`] on the peer transport.
//! - [`protocol`]: the text protocol between `convene meet` and a main node.
//! - [`lines`]: every on-screen line of the spec.
//! - [`service`]: the running service: roles, peer handler, client listener.
//! - [`client`]: the `convene meet` terminal client.
//! - [`handle`]: [`MeetHandle`], the service for code on the same node
//!   (the web app): common free time and registration, as main answers.
//! - [`error`]: the typed errors of this crate.

#![deny(missing_docs)]

pub mod availability;
pub mod backend;
pub mod client;
pub mod config;
pub mod directory;
pub mod error;
pub mod handle;
pub mod known_lists;
pub mod lines;
pub mod name;
mod observe;
pub mod peer_msg;
pub mod protocol;
pub mod service;

pub use config::MeetSection;
pub use error::MeetError;
pub use handle::MeetHandle;
pub use peer_msg::TAG;
pub use service::{MeetContext, MeetService, start};
