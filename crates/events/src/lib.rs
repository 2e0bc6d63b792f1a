//! Events (seed 002, WHENLY): find the time every participant can make,
//! computed by a cluster of event servers when the event's deadline passes.
//!
//! An event has a creator, invited participants and a deadline. Until the
//! deadline each participant submits constraints: the times they can make.
//! The web front hands each submission, round-robin, to one of the live event
//! servers, which backs it up in the shared database and folds it into its
//! **partial solution** for the event, the intersection of everything it has
//! received. At the deadline the event's **leader** (the server that took
//! its creation) freezes the event on every server, collects their partials,
//! intersects them and stores the result, once. If a server dies, the
//! cluster's coordinator hands its share to live servers, which rebuild it
//! from the database.
//!
//! # Layout
//!
//! - [`interval`]: intervals, availability sets and their intersection
//!   (strict overlap), and the running [`Partial`].
//! - [`zone`]: wall-clock times in a person's zone, RFC 3339 instants, UTC.
//! - [`ids`]: event codes and secret tokens.
//! - [`db`]: what the shared database stores and the [`EventDb`]
//!   interface its backends implement.
//! - [`working`]: an event server's working set (memory, or Redis).
//! - [`peer_msg`]: the messages event servers and web fronts exchange.
//! - [`plan`]: what the service decides (the hand-over, the sweep, the
//!   leader's finish), without I/O.
//! - [`error`]: why a request was refused.
//! - [`service`]: the running service, a driver of [`plan`]'s decisions:
//!   event servers, deadlines, recovery, and the [`Events`] handle the web
//!   front calls.

#![deny(missing_docs)]

pub mod db;
pub mod error;
pub mod ids;
pub mod interval;
pub mod peer_msg;
pub mod plan;
pub mod service;

pub mod working;
pub mod zone;

pub use db::{DbError, EventDb};
pub use error::EventsError;
pub use interval::{Availability, Interval, Partial};
pub use peer_msg::TAG;
pub use service::Events;
