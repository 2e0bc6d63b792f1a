//! The envelope: the fixed header in front of every RPC datagram.
//!
//! ```text
//!  0        1         2        3                          11
//! +--------+---------+--------+--------------------------+----------------+
//! | magic  | version | kind   | request id (u64, BE)     | payload ...    |
//! | 0xC5   | 1       | 0 or 1 |                          | (rest of the   |
//! |        |         |        |                          |  datagram)     |
//! +--------+---------+--------+--------------------------+----------------+
//! ```
//!
//! * **magic** lets a node drop datagrams that are not RPC traffic at all
//!   with one comparison.
//! * **version** leaves room to change the layout: a node drops versions it
//!   does not know rather than misreading them.
//! * **kind** is `0` for a request, `1` for a reply.
//! * **request id** is chosen by the requester and echoed by the replier; it
//!   is how a reply finds its request.
//! * the **payload** has no length prefix: a datagram is one message, so the
//!   payload is simply everything after the header. The services define what
//!   it contains.

use std::fmt;

use convene_wire::{Encode, Reader, WriteExt};

use crate::error::EnvelopeError;

/// First byte of every RPC datagram.
pub const MAGIC: u8 = 0xC5;

/// The envelope version this crate speaks.
pub const VERSION: u8 = 1;

/// Length of the header in bytes: magic, version, kind, request id.
pub const HEADER_LEN: usize = 1 + 1 + 1 + 8;

/// Identifies one request and its reply.
///
/// Ids are allocated by the requesting [`Endpoint`](crate::Endpoint) and are
/// only meaningful to it: two nodes may well use the same id for different
/// requests, which is why replies are matched on id *and* address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:016x}", self.0)
    }
}

/// Whether a datagram asks or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A request: the receiver should run its handler and reply.
    Request,
    /// A reply to a request this node sent.
    Reply,
    /// A one-way message: no reply, no retry. For traffic where a lost
    /// message is simply superseded by the next one (heartbeats, election
    /// messages), which retrying would only deliver late.
    Notice,
}

impl Kind {
    /// The kind's byte on the wire.
    pub fn to_u8(self) -> u8 {
        match self {
            Kind::Request => 0,
            Kind::Reply => 1,
            Kind::Notice => 2,
        }
    }

    /// The kind a byte stands for, if any.
    pub fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Request),
            1 => Some(Kind::Reply),
            2 => Some(Kind::Notice),
            _ => None,
        }
    }
}

/// One decoded (or to-be-encoded) RPC datagram, borrowing its payload.
///
/// ```
/// use convene_rpc::{Envelope, Kind, RequestId};
/// use convene_wire::Encode;
///
/// let bytes = Envelope { kind: Kind::Reply, id: RequestId(7), payload: b"ok" }.to_bytes();
/// assert_eq!(bytes, [0xC5, 1, 1, 0, 0, 0, 0, 0, 0, 0, 7, b'o', b'k']);
///
/// let e = Envelope::parse(&bytes).unwrap();
/// assert_eq!((e.kind, e.id, e.payload), (Kind::Reply, RequestId(7), &b"ok"[..]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Request or reply.
    pub kind: Kind,
    /// The request this datagram belongs to.
    pub id: RequestId,
    /// The service's bytes.
    pub payload: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Parses a received datagram, checking magic, version and kind.
    ///
    /// Never panics; the payload borrows from `datagram`.
    pub fn parse(datagram: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
        Self::parse_version(datagram, VERSION)
    }

    /// Parses an envelope whose version byte must be `version` (a sealed
    /// datagram's envelope carries [`SEALED_VERSION`](crate::auth::SEALED_VERSION)).
    pub fn parse_version(datagram: &'a [u8], version: u8) -> Result<Envelope<'a>, EnvelopeError> {
        let truncated = |_| EnvelopeError::Truncated {
            len: datagram.len(),
            needed: HEADER_LEN,
        };
        let mut r = Reader::new(datagram);
        let magic = r.u8().map_err(truncated)?;
        if magic != MAGIC {
            return Err(EnvelopeError::BadMagic(magic));
        }
        let found = r.u8().map_err(truncated)?;
        if found != version {
            return Err(EnvelopeError::UnknownVersion(found));
        }
        let kind = r.u8().map_err(truncated)?;
        let kind = Kind::from_u8(kind).ok_or(EnvelopeError::UnknownKind(kind))?;
        let id = RequestId(r.u64().map_err(truncated)?);
        Ok(Envelope {
            kind,
            id,
            payload: r.rest(),
        })
    }

    /// The size of this envelope on the wire.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Whether the envelope is empty; never true, as the header is always
    /// there. (Present because `len` is.)
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl Encode for Envelope<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.len());
        out.put_u8(MAGIC);
        out.put_u8(VERSION);
        out.put_u8(self.kind.to_u8());
        out.put_u64(self.id.0);
        out.put_bytes(self.payload);
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_errors_are_typed() {
        assert_eq!(
            Envelope::parse(&[]),
            Err(EnvelopeError::Truncated {
                len: 0,
                needed: HEADER_LEN
            })
        );
        assert_eq!(
            Envelope::parse(b"GET / HTTP/1.1"),
            Err(EnvelopeError::BadMagic(b'G'))
        );
        assert_eq!(
            Envelope::parse(&[MAGIC, 2, 0]),
            Err(EnvelopeError::UnknownVersion(2))
        );
        assert_eq!(
            Envelope::parse(&[MAGIC, VERSION, 9]),
            Err(EnvelopeError::UnknownKind(9))
        );
        assert_eq!(
            Envelope::parse(&[MAGIC, VERSION, 0, 1, 2, 3]),
            Err(EnvelopeError::Truncated {
                len: 6,
                needed: HEADER_LEN
            })
        );
    }

    #[test]
    fn empty_payload_is_fine() {
        let bytes = Envelope {
            kind: Kind::Request,
            id: RequestId(1),
            payload: &[],
        }
        .to_bytes();
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(Envelope::parse(&bytes).map(|e| e.payload), Ok(&[][..]));
    }

    proptest! {
        #[test]
        fn round_trips(reply in any::<bool>(), id in any::<u64>(), payload in prop::collection::vec(any::<u8>(), 0..64)) {
            let kind = if reply { Kind::Reply } else { Kind::Request };
            let e = Envelope { kind, id: RequestId(id), payload: &payload };
            let bytes = e.to_bytes();
            prop_assert_eq!(bytes.len(), e.len());
            prop_assert_eq!(Envelope::parse(&bytes), Ok(e));
        }

        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..32)) {
            let _ = Envelope::parse(&bytes);
        }
    }
}
