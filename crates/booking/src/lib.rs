//! The booking service: facility booking over UDP (seed 001).
//!
//! # Layout
//!
//! - [`wire`]: the seed's byte protocol, hand-written (requests, replies,
//!   callbacks, errors).
//! - [`state`]: facilities, bookings and monitor registrations, with the
//!   seed's rules and messages (no I/O).
//! - [`service`]: the running service: the UDP front door, forwarding to the
//!   owning node, the reply cache, monitor callbacks, persistence.
//! - [`config`]: `[node.booking]`, this service's section of the cluster
//!   file, and which node owns a facility.
//! - [`client`]: `convene book`, the seed's interactive client and scriptable
//!   commands.

#![deny(missing_docs)]

pub mod client;
pub mod config;
pub mod db;
pub mod service;
pub mod state;
pub mod wire;

pub use config::{BookingSection, Semantics};
pub use service::peer_msg::TAG;
