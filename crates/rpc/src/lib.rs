//! Request/reply over UDP between Convene nodes.
//!
//! A node asks a peer something by sending one datagram and waiting for one
//! datagram back. UDP may lose, duplicate or reorder either, so this crate
//! gives every request an id, retransmits it until a reply with that id comes
//! back from the address it was sent to, and gives up with
//! [`RpcError::TimedOut`] after a configured number of attempts.
//!
//! The crate has two layers, in the style of `quinn-proto` and `quinn`:
//!
//! 1. A **sans-IO core**, [`Endpoint`]: a plain state machine with no
//!    sockets, no clock reads and no runtime. You feed it datagrams and the
//!    current time ([`Endpoint::handle_datagram`],
//!    [`Endpoint::handle_timeout`]) and poll it for what to send
//!    ([`Endpoint::poll_transmit`]), what happened
//!    ([`Endpoint::poll_event`]) and when to wake it next
//!    ([`Endpoint::poll_timeout`]). All the protocol logic lives here and is
//!    tested deterministically, with a fake clock and a hand-driven network.
//! 2. A **tokio transport**, [`socket::start`]: it owns a UDP socket, moves
//!    bytes between it and the endpoint, sleeps until the endpoint's next
//!    deadline, runs a [`Handler`] for each incoming request, and hands out a
//!    cloneable [`Client`] whose [`Client::call`] is one awaited round trip.
//!
//! The endpoint's delivery is **at least once**: a retransmitted request
//! may reach the handler more than once. A server whose requests are not
//! idempotent puts a [`ReplyCache`] in front of its handler for
//! **at-most-once** execution: a retry is answered with the cached reply, or
//! dropped while the original still executes. A [`Loss`] makes any of this
//! testable by dropping and duplicating datagrams replayably.
//!
//! # Layout
//!
//! * [`envelope`]: the 11-byte header every datagram carries (magic, version,
//!   kind, request id) and [`RequestId`].
//! * [`auth`]: sealed datagrams: the MAC that proves which node sent one,
//!   and the sequence window that lets it act only once ([`Sealer`],
//!   [`Opener`]).
//! * [`config`]: [`Config`], per-attempt timeout, retry count, size limit.
//! * [`endpoint`]: [`Endpoint`], the sans-IO request/reply state machine, and
//!   the [`Transmit`]s and [`Event`]s it produces.
//! * [`stats`]: [`Stats`], the endpoint's counters.
//! * [`reply_cache`]: [`ReplyCache`], the sans-IO at-most-once cache of
//!   replies keyed by client address and request id, with expiry and a
//!   bound (in all, and per source); [`CacheConfig`], [`Lookup`],
//!   [`RestoredEntry`], [`CacheStats`].
//! * [`budget`]: [`ReplyBudget`], the sans-IO reply-byte budget of a UDP
//!   front door: each source is sent at most a bounded multiple of what it
//!   sent, so the door cannot be used to amplify an attack;
//!   [`BudgetConfig`], [`BudgetStats`].
//! * [`loss`]: [`Loss`] and [`LossConfig`], seeded, replayable request loss,
//!   reply loss and duplication for tests and experiments.
//! * [`rng`]: [`SplitMix64`], a tiny seeded generator for replayable loss
//!   injection, [`random_seed`] to seed it, and [`os_random_u64`] for values
//!   a stranger must not guess.
//! * [`socket`]: the tokio transport: [`start`], [`Client`], [`Handler`].
//! * [`datagram`]: [`DatagramSocket`], what the transport needs of a socket
//!   (tokio's, or a simulator's in tests), and [`send_soon`](datagram::send_soon),
//!   with a bound on the sends waiting for a busy socket.
//! * `source`: what per-source limits count by (an IPv4 address, an IPv6 /64).
//! * [`error`]: [`RpcError`] and [`EnvelopeError`].

#![deny(missing_docs)]

pub mod auth;
pub mod budget;
pub mod config;
pub mod datagram;
pub mod endpoint;
pub mod envelope;
pub mod error;
pub mod loss;
pub mod reply_cache;
pub mod rng;
pub mod socket;
mod source;
pub mod stats;

pub use auth::{AuthError, AuthStats, MacKey, Member, Opened, Opener, Sealer, Sender};
pub use budget::{BudgetConfig, BudgetStats, ReplyBudget};
pub use config::Config;
pub use datagram::DatagramSocket;
pub use endpoint::{Endpoint, Event, Transmit};
pub use envelope::{Envelope, Kind, RequestId};
pub use error::{EnvelopeError, RpcError};
pub use loss::{Loss, LossConfig};
pub use reply_cache::{CacheConfig, CacheStats, Lookup, ReplyCache, RestoredEntry};
pub use rng::{SplitMix64, os_random_u64, random_seed};
pub use socket::{Client, Handler, PeerAuth, start, start_authenticated};
pub use stats::Stats;
