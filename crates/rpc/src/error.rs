//! Errors of the RPC layer.
//!
//! Both enums are `Clone + PartialEq + Eq`, so an error can be handed to a
//! waiting caller and still be logged, and tests can match on it exactly.

use std::net::SocketAddr;

use crate::envelope::RequestId;

/// Why a datagram is not a valid RPC envelope.
///
/// See [`envelope`](crate::envelope) for the layout being checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The first byte is not [`MAGIC`](crate::envelope::MAGIC): this datagram
    /// is not ours at all (a stray packet, another protocol, a port scan).
    #[error("bad magic byte {0:#04x}")]
    BadMagic(u8),

    /// A version of the envelope this node does not speak.
    #[error("unknown envelope version {0}")]
    UnknownVersion(u8),

    /// The kind byte is neither request nor reply.
    #[error("unknown envelope kind {0}")]
    UnknownKind(u8),

    /// The datagram ended before the header did.
    #[error("truncated envelope: {len} bytes, the header needs {needed}")]
    Truncated {
        /// The datagram's length.
        len: usize,
        /// The header's length.
        needed: usize,
    },
}

/// What can go wrong with a request, a reply, or an incoming datagram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The datagram would exceed [`Config::max_datagram`](crate::Config::max_datagram).
    /// Nothing was sent.
    #[error("datagram of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Size the datagram would have had, header included.
        size: usize,
        /// The configured limit.
        max: usize,
    },

    /// No reply arrived after this many attempts (the first send plus
    /// [`Config::retries`](crate::Config::retries) retransmissions).
    #[error("no reply after {attempts} attempts")]
    TimedOut {
        /// How many times the request was sent.
        attempts: u32,
    },

    /// The transport has shut down; the request will never complete.
    #[error("the RPC transport is closed")]
    Closed,

    /// An incoming datagram was not a valid envelope; it was dropped.
    #[error("malformed datagram: {0}")]
    Malformed(EnvelopeError),

    /// An incoming reply matched no pending request: it is a duplicate of a
    /// reply already delivered, arrived after the request timed out or was
    /// cancelled, or was never asked for. It was dropped.
    #[error("reply {id} from {from} matches no pending request")]
    UnexpectedReply {
        /// The reply's request id.
        id: RequestId,
        /// Where it came from.
        from: SocketAddr,
    },

    /// An incoming reply carried a pending id but came from a different
    /// address than the request was sent to. It was dropped, and the request
    /// keeps waiting for the real peer: accepting it would let any host that
    /// guesses an id answer on a peer's behalf.
    #[error("reply {id} came from {from}, but the request went to {expected}")]
    WrongSender {
        /// The reply's request id.
        id: RequestId,
        /// Where it came from.
        from: SocketAddr,
        /// Where the request was sent.
        expected: SocketAddr,
    },
}
