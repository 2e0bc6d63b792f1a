//! The chat service (seed 003): the CS4262 multi-server chat protocol, spoken
//! exactly as the course's Java client (`client.jar`) expects it, one
//! server's room state, the coordinator's registry, the service running on a
//! node, and the client side.
//!
//! A client holds one TCP connection to one server of the chat system and exchanges
//! JSON objects with it, one per line, UTF-8. Each server owns its rooms and one
//! MainHall; a client joining a room that lives on another server is sent a `route`
//! and reconnects there with `movejoin`. The message modules say what each line
//! means, how to read one without trusting it, and how to write one the Java
//! client reads correctly; [`server`] is one server's rooms and clients as a
//! sans-IO state machine. Only [`service`] (the running server) and the
//! client's [`ChatSession`](client::ChatSession) do I/O.
//!
//! The contract is the reference's protocol notes (§2 of `chat-protocol.md`),
//! including the client's quirks: `approved` and `port` are JSON *strings*, key order
//! is irrelevant, and a refusal is an answer in the protocol, not an error.
//!
//! ```
//! use convene_chat::{ClientMessage, ServerMessage};
//!
//! let hello = ClientMessage::parse(r#"{"identity":"Adel","type":"newidentity"}"#)?;
//! assert_eq!(hello, ClientMessage::NewIdentity { identity: "Adel".into() });
//!
//! let reply = ServerMessage::NewIdentity { approved: true };
//! assert_eq!(reply.to_line(), "{\"type\":\"newidentity\",\"approved\":\"true\"}\n");
//! # Ok::<(), convene_chat::ProtocolError>(())
//! ```
//!
//! # Layout
//!
//! - [`ids`]: the syntax of identities and room ids, and the reserved MainHalls.
//! - [`client_msg`]: [`ClientMessage`], every line a client sends.
//! - [`server_msg`]: [`ServerMessage`], every line a server sends.
//! - [`error`]: [`ProtocolError`], why a line is not a message.
//! - [`course_config`]: the course's server lists (the seed's five-column
//!   `configuration.txt` and the four-column course format).
//! - [`server`]: [`ChatServer`](server::ChatServer), one server's clients and rooms
//!   as a sans-IO state machine: client lines in, lines to send and cluster claims out.
//! - [`registry`]: [`Registry`](registry::Registry), the coordinator's record of
//!   every identity and room in the cluster, which decides the servers' claims.
//! - [`replica`]: [`Replica`](replica::Replica), one node's copy of the approved
//!   names, written by the coordinator to a majority before it approves.
//! - [`peer_msg`]: what servers and the coordinator say to each other.
//! - [`service`]: all of it running on a node: the TCP front door, the link
//!   to the coordinator, and the coordinator role.
//! - [`client`]: the course client's side: its commands, its output lines, and
//!   [`ChatSession`](client::ChatSession), a strict client over tokio TCP for the
//!   terminal client and for tests.
//!
//! # Reading lines
//!
//! Framing is the caller's: read bytes up to `\n` (the Java client may end lines with
//! `\r\n`; both parsers accept either, or none), refuse a line longer than
//! [`MAX_LINE`] or not UTF-8, and hand the text to [`ClientMessage::parse`].

#![deny(missing_docs)]

pub mod client;
pub mod client_msg;
pub mod course_config;
pub mod error;
pub mod ids;
mod json;
pub mod peer_msg;
pub mod registry;
pub mod replica;
pub mod server;
pub mod server_msg;
pub mod service;
#[cfg(test)]
mod testing;

pub use client_msg::ClientMessage;
pub use error::ProtocolError;
pub use ids::{IdError, check_identity, check_room_id, main_hall};
pub use peer_msg::TAG;
pub use server_msg::ServerMessage;

/// The longest line a server accepts from a client, in bytes, its line ending not
/// counted.
///
/// A server reads a client's stream up to the next `\n`. Without a limit, a client
/// that never sends a newline (by bug or on purpose) would make the server buffer its
/// bytes for ever, one connection at a time exhausting memory. 64 KiB is far above any
/// line a person types into the Java client, and small enough that thousands of
/// connections each holding a full buffer still fit in memory. A reader that reaches
/// the limit without a newline should drop the connection: it cannot resynchronise
/// on a stream with no line breaks. [`ClientMessage::parse`] enforces the limit too.
pub const MAX_LINE: usize = 64 * 1024;
