//! The booking service: facility booking over UDP (seed 001).
//!
//! # Layout
//!
//! - [`wire`]: the seed's byte protocol, hand-written (requests, replies,
//!   callbacks, errors).
//! - [`state`]: facilities, bookings and monitor registrations, with the
//!   seed's rules and messages (no I/O).

#![deny(missing_docs)]

pub mod state;
pub mod wire;
