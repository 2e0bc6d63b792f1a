//! Hand-written binary encoding for Convene's datagrams.
//!
//! The booking seed forbids serialization libraries for its protocol, and the
//! nodes' own peer traffic is small and fixed, so every message in Convene is
//! laid out by hand: big-endian integers, strings as a `u32` byte length
//! followed by UTF-8, and counted sequences as a `u32` element count followed
//! by the elements.
//!
//! Everything decoded here comes from the network, so the rules are strict:
//!
//! * decoding **never panics**: every malformed input becomes a typed
//!   [`DecodeError`];
//! * decoding **never trusts a length**: a declared string length or element
//!   count is checked against the bytes actually present *before* anything is
//!   sliced or allocated, so a 12-byte datagram cannot make us reserve 4 GiB;
//! * a message must use **all** of its bytes ([`Reader::finish`],
//!   [`Decode::from_bytes`]): trailing garbage is an error, not ignored.
//!
//! # Layout
//!
//! * [`reader`]: [`Reader`], the bounds-checked cursor that decoding is built on.
//! * [`write`](mod@write): [`WriteExt`], the matching `put_*` methods on `Vec<u8>`.
//! * [`codec`]: the [`Encode`] and [`Decode`] traits that message types
//!   implement, and their implementations for primitives and strings.
//! * [`error`]: [`DecodeError`], everything that can be wrong with input bytes.
//! * [`line`](mod@line): [`LineReader`], lines of bounded length framed without I/O
//!   (the text protocols over TCP), and its blocking driver.
//!
//! # Example
//!
//! ```
//! use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};
//!
//! /// A tiny message: a room number and its name.
//! #[derive(Debug, PartialEq)]
//! struct Room<'a> {
//!     number: u16,
//!     name: &'a str,
//! }
//!
//! impl Encode for Room<'_> {
//!     fn encode(&self, out: &mut Vec<u8>) {
//!         out.put_u16(self.number);
//!         out.put_string(self.name);
//!     }
//! }
//!
//! impl<'a> Decode<'a> for Room<'a> {
//!     fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
//!         Ok(Room { number: r.u16()?, name: r.string_max(64)? })
//!     }
//! }
//!
//! let bytes = Room { number: 7, name: "LT1" }.to_bytes();
//! assert_eq!(bytes, [0, 7, 0, 0, 0, 3, b'L', b'T', b'1']);
//! assert_eq!(Room::from_bytes(&bytes), Ok(Room { number: 7, name: "LT1" }));
//!
//! // One byte short: a typed error, never a panic.
//! assert!(matches!(
//!     Room::from_bytes(&bytes[..8]),
//!     Err(DecodeError::Truncated { .. })
//! ));
//! ```

#![deny(missing_docs)]

pub mod codec;
pub mod error;
pub mod line;
pub mod reader;
pub mod write;

pub use codec::{Decode, Encode};
pub use error::DecodeError;
pub use line::{LineError, LineReader};
pub use reader::Reader;
pub use write::WriteExt;
