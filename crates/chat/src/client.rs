//! The client side: what the course client (`client.jar`) sends for each line
//! typed, what it prints for each line received, and a session that speaks to
//! a server the way it does.
//!
//! The course client is the yardstick of the chat service: a server is right
//! when `client.jar` works against it. Convene's own client copies the Java
//! client's behaviour exactly, so that it can stand in for it, in a terminal
//! (`convene chat`) and in tests, where the JVM is not at hand:
//!
//! - [`command`] ([`parse_command`]): a typed line to the
//!   [`ClientMessage`](crate::ClientMessage) it sends, with the Java client's
//!   rules (split on single spaces, commands matched by prefix).
//! - [`render`](mod@render) ([`render()`], [`prompt`]): a received
//!   [`ServerMessage`](crate::ServerMessage) to the line the Java client prints.
//! - [`ChatSession`]: a connection to a server, over tokio TCP, that reads every
//!   line strictly (a boolean `approved` or a numeric `port` is an error, where
//!   a lenient client would hide a server's bug), keeps the room and identity
//!   the Java client keeps, and follows a `route` with the same handshake.
//!
//! The two pure modules do no I/O; only the session opens sockets.

pub mod command;
mod connection;
mod error;
pub mod render;
mod session;

use std::time::Duration;

pub use command::{InvalidCommand, parse_command};
pub use error::ClientError;
pub use render::{prompt, render};
pub use session::{ChatSession, ServerChangeOutcome};

/// The longest line a client accepts from a server, in bytes, its line ending
/// not counted.
///
/// A client cannot use the server's bound, [`MAX_LINE`](crate::MAX_LINE): a
/// `roomlist` names every room in the system and a `roomcontents` every member
/// of a room, so a server's lines grow with the system. 1 MiB is room for tens
/// of thousands of room ids, and still a bound: a server that never sends a
/// line break cannot make the client buffer for ever.
pub const MAX_SERVER_LINE: usize = 1024 * 1024;

/// How long [`ChatSession::follow_route`] waits for the new server: to connect,
/// and for its `serverchange`. A server that accepts a `movejoin` answers at
/// once; one that does not answer within this time is taken as failed, and the
/// client stays on its old server.
pub const MOVE_TIMEOUT: Duration = Duration::from_secs(10);
