//! Why a client session stopped, or why one call on it failed.

use std::time::Duration;

use crate::ProtocolError;

/// Why a [`ChatSession`](super::ChatSession) call failed.
///
/// Two kinds of failure are worth telling apart, because a caller reacts to them
/// differently:
///
/// - **The server said something this client cannot read**
///   ([`Protocol`](ClientError::Protocol), [`NotUtf8`](ClientError::NotUtf8),
///   [`Unexpected`](ClientError::Unexpected)). The line was framed correctly, so
///   the connection is still in step and the next line can be read. A test client
///   fails the test; a terminal client may report it and carry on.
/// - **The connection itself is gone or out of step** ([`Io`](ClientError::Io),
///   [`Closed`](ClientError::Closed), [`LineTooLong`](ClientError::LineTooLong)).
///   Nothing more can be read from it.
///
/// A *refusal* inside the protocol (`"approved":"false"`) is not an error of
/// [`recv`](super::ChatSession::recv): it is a message, rendered like any other.
/// Only [`login`](super::ChatSession::login), which exists to get a working
/// session, turns a refused identity into [`Refused`](ClientError::Refused).
///
/// Lines quoted in messages are cut to 80 characters: whatever a server sends,
/// an error stays one readable line. The cause of an error (the operating
/// system's, or the [`ProtocolError`]) is part of its text and is not also
/// chained as its [`source`](std::error::Error::source), so it is said once
/// however the error is printed (`{}`, or `{:#}` of an `anyhow::Error`).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached.
    #[error("cannot connect to the chat server {server}: {error}")]
    Connect {
        /// The address tried, as given (`host:port`).
        server: String,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// Reading or writing an open connection failed.
    #[error("the chat connection failed: {0}")]
    Io(std::io::Error),
    /// The server closed the connection (end of stream between two lines).
    #[error("the server closed the connection")]
    Closed,
    /// The server sent a line that is not a server message.
    #[error(
        "the server sent a line that is not a valid message ({error}): {}",
        cut(line)
    )]
    Protocol {
        /// The line, without its line ending.
        line: String,
        /// Why it is not a message.
        error: ProtocolError,
    },
    /// The server sent a line that is not UTF-8.
    #[error("the server sent a line that is not UTF-8: {}", cut(line))]
    NotUtf8 {
        /// The line, invalid bytes replaced by U+FFFD.
        line: String,
    },
    /// A valid message, but not the one the protocol requires at this point (the
    /// first line on a new server must be `serverchange`, the answer to the first
    /// `newidentity` must be `newidentity`).
    #[error("expected {expected} from the server, got: {}", cut(line))]
    Unexpected {
        /// What the protocol requires here.
        expected: &'static str,
        /// The line received, without its line ending.
        line: String,
    },
    /// The server sent more than [`MAX_SERVER_LINE`](super::MAX_SERVER_LINE) bytes
    /// without a line break. The connection is dropped: with no line break in
    /// sight, there is no telling where the next message starts.
    #[error("the server sent a line longer than {limit} bytes")]
    LineTooLong {
        /// The bound that was exceeded, in bytes.
        limit: usize,
    },
    /// No answer came in time.
    #[error("no answer from the server within {0:?}")]
    Timeout(Duration),
    /// The server refused the identity ([`login`](super::ChatSession::login) only).
    #[error("{identity} already in use.")]
    Refused {
        /// The identity asked for.
        identity: String,
    },
    /// The session ended: the server confirmed this client's own `quit`.
    #[error("the session has ended: the server confirmed our quit")]
    Quit,
}

/// For `?` on reads and writes. Written out rather than `#[from]`, which
/// would also chain the error as the `source`, and `{:#}` would print it
/// twice.
impl From<std::io::Error> for ClientError {
    fn from(error: std::io::Error) -> Self {
        ClientError::Io(error)
    }
}

/// `line` cut to 80 characters, so that an error quoting a hostile or huge line
/// stays short.
fn cut(line: &str) -> String {
    const KEEP: usize = 80;
    match line.char_indices().nth(KEEP) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_lines_are_cut() {
        let long = "é".repeat(200);
        let e = ClientError::NotUtf8 { line: long };
        let text = e.to_string();
        assert!(text.ends_with('…'));
        assert_eq!(text.chars().filter(|&c| c == 'é').count(), 80);
        let short = ClientError::Unexpected {
            expected: "serverchange",
            line: "{}".into(),
        };
        assert_eq!(
            short.to_string(),
            "expected serverchange from the server, got: {}"
        );
    }

    #[test]
    fn refusal_reads_like_the_course_client() {
        let e = ClientError::Refused {
            identity: "Adel".into(),
        };
        assert_eq!(e.to_string(), "Adel already in use.");
    }
}
