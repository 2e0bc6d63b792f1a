//! Errors for bytes that do not decode.
//!
//! Every variant is `Clone + PartialEq + Eq` so tests can compare errors
//! directly, and every variant carries enough context (what was being read,
//! how long it claimed to be) for a useful log line about a bad datagram.

/// Why a sequence of bytes could not be decoded.
///
/// Decoding functions in Convene return this instead of panicking: the bytes
/// come from the network and may be truncated, hostile or from another
/// protocol altogether.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended early: `needed` bytes were required but only
    /// `remaining` were left.
    ///
    /// Also returned when a declared element count could not possibly fit in
    /// the remaining bytes ([`Reader::count`](crate::Reader::count)); then
    /// `needed` is the least number of bytes that count would take.
    #[error("truncated input: needed {needed} bytes, {remaining} remaining")]
    Truncated {
        /// Bytes the read required.
        needed: usize,
        /// Bytes that were left in the input.
        remaining: usize,
    },

    /// A length-prefixed field declared a length above the limit the
    /// protocol allows for it.
    #[error("{what} too long: {len} exceeds the maximum of {max}")]
    TooLong {
        /// Which field was too long (for example `"string"` or a field name).
        what: &'static str,
        /// The declared length.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },

    /// A string's bytes were not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,

    /// The message decoded completely but this many bytes were left over.
    ///
    /// A datagram is one message; leftover bytes mean the sender and receiver
    /// disagree about the layout, which is worth an error rather than silence.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),

    /// A tag byte selecting a variant (a message type, an enum value) was not
    /// one this side knows.
    #[error("unknown {what} tag {tag}")]
    UnknownTag {
        /// What the tag selects (for example `"message type"`).
        what: &'static str,
        /// The tag byte that was read.
        tag: u8,
    },

    /// The bytes were well formed but the value they encode is not allowed
    /// (for example a minute of 75 or an interval whose end precedes its start).
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}
