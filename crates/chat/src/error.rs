//! Why a line is not a message.

use crate::MAX_LINE;

/// Why a line is not a valid client or server message.
///
/// These are refusals of the *shape* of a line. A well-formed request the server
/// will not grant (a taken identity, a bad room id) is not a protocol error: it is
/// answered in the protocol, with `"approved":"false"`.
///
/// Nothing from the network is echoed whole: strings quoted in an error are cut to
/// 40 characters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The line is longer than [`MAX_LINE`] bytes.
    #[error("line too long: {len} bytes, at most {MAX_LINE} are accepted")]
    TooLong {
        /// Its length in bytes, without the line ending.
        len: usize,
    },
    /// The line is not one JSON value (the text is `serde_json`'s, with a column).
    #[error("not valid JSON: {0}")]
    NotJson(String),
    /// Valid JSON, but not an object (`[1,2]`, `"list"`, `null`, …).
    #[error("expected a JSON object, got {0}")]
    NotAnObject(&'static str),
    /// An object without a `"type"` key.
    #[error("the message has no \"type\" field")]
    MissingType,
    /// `"type"` is there but not a string.
    #[error("\"type\" must be a string, got {0}")]
    TypeNotString(&'static str),
    /// `"type"` names no message this side understands.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// A field the message type needs is absent.
    #[error("a {kind:?} message needs a {field:?} field")]
    MissingField {
        /// The message type.
        kind: &'static str,
        /// The absent key.
        field: &'static str,
    },
    /// A field has the wrong JSON type (`"identity":42`, `"rooms":"a"`, …).
    #[error("in a {kind:?} message, {field:?} must be {expected}, got {found}")]
    WrongType {
        /// The message type.
        kind: &'static str,
        /// The key.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// `"approved"` is a string but neither `"true"` nor `"false"` (in any case).
    #[error("in a {kind:?} message, \"approved\" must be \"true\" or \"false\", got {value:?}")]
    BadApproved {
        /// The message type.
        kind: &'static str,
        /// The string sent, cut to 40 characters.
        value: String,
    },
    /// `"port"` is a string but not a port number 1-65535 in decimal digits.
    #[error("\"port\" must be a port number 1-65535 written in decimal digits, got {0:?}")]
    BadPort(String),
}
