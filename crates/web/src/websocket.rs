//! The server's side of a WebSocket (RFC 6455), as small as `/api/chat`
//! needs: the opening handshake's answer, a reader that turns the
//! client's frames into whole messages, and a writer of unmasked frames.
//!
//! Axum has WebSocket support behind its `ws` feature, but that pulls in
//! `tokio-tungstenite`, which is not in this workspace's lock file or
//! registry cache (the machines that build it have no network). The part of
//! the protocol a text chat needs is small and checked here by unit and
//! property tests:
//!
//! - **Handshake.** `Sec-WebSocket-Accept` is the base64 of SHA-1 over the
//!   client's key and the RFC's fixed GUID ([`accept_key`]).
//! - **Frames in.** Every client frame must be masked; text, binary and
//!   continuation frames make up messages; ping, pong and close are
//!   control frames (at most 125 bytes, never fragmented) and may come
//!   between the fragments of a message. Reserved bits and unknown opcodes
//!   are a protocol error.
//! - **Size.** A message's length is known from its frame headers before
//!   its payload is read, so a message over the limit is refused without
//!   buffering it ([`Incoming::TooBig`]).
//! - **Cancel safety.** [`FrameReader::next`] keeps what it has read in the
//!   reader, not in the future, so it can sit in a `select!` next to other
//!   work and lose nothing when another branch wins.
//!
//! Not supported, since a chat of short JSON messages gains nothing from
//! them: extensions (compression) and subprotocols; the handshake offers
//! neither, so a client may not use them.

use std::io;

use base64ct::{Base64, Encoding};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The GUID every server appends to the client's key (RFC 6455, 1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` answer to a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut hash = Sha1::new();
    hash.update(key.trim().as_bytes());
    hash.update(GUID.as_bytes());
    Base64::encode_string(&hash.finalize())
}

/// Whether `key` is a well-formed `Sec-WebSocket-Key`: the base64 of 16
/// bytes.
pub fn is_valid_key(key: &str) -> bool {
    let mut out = [0u8; 18];
    matches!(Base64::decode(key.trim().as_bytes(), &mut out), Ok(bytes) if bytes.len() == 16)
}

/// Frame opcodes (RFC 6455, 5.2).
pub mod opcode {
    /// The next fragment of a message.
    pub const CONTINUATION: u8 = 0x0;
    /// A text message (or its first fragment).
    pub const TEXT: u8 = 0x1;
    /// A binary message (or its first fragment).
    pub const BINARY: u8 = 0x2;
    /// The closing handshake.
    pub const CLOSE: u8 = 0x8;
    /// Are you there?
    pub const PING: u8 = 0x9;
    /// The answer to a ping.
    pub const PONG: u8 = 0xA;
}

/// Close codes the server sends (RFC 6455, 7.4.1).
pub mod close_code {
    /// The purpose of the connection is fulfilled.
    pub const NORMAL: u16 = 1000;
    /// The server is going away (stopping, or the chat server closed).
    pub const GOING_AWAY: u16 = 1001;
    /// The client broke the framing rules.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A message too big to take.
    pub const TOO_BIG: u16 = 1009;
}

/// What the client sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// One whole text or binary message (its fragments joined).
    Message(Vec<u8>),
    /// A ping with its payload, to be answered by a pong carrying it.
    Ping(Vec<u8>),
    /// The client closes (its close code, if it gave one).
    Close(Option<u16>),
    /// A message longer than the reader's limit; its payload was not kept,
    /// and the connection cannot continue (the rest was not read).
    TooBig,
}

/// Why a client's frames cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed or ended without a close frame.
    #[error("the connection ended: {0}")]
    Io(#[from] io::Error),
    /// The frames break RFC 6455.
    #[error("WebSocket protocol error: {0}")]
    Protocol(&'static str),
}

/// Reads a client's frames into whole messages. See the [module
/// docs](self).
pub struct FrameReader<R> {
    inner: R,
    /// Bytes read but not yet taken as frames.
    buffer: Vec<u8>,
    /// The fragments of the message under way, if one is.
    message: Option<Vec<u8>>,
    /// The largest message taken.
    limit: usize,
}

/// One frame's header, parsed.
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Where the payload starts in the buffer.
    start: usize,
    len: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads from `inner`, taking messages of at most `limit` bytes.
    pub fn new(inner: R, limit: usize) -> Self {
        FrameReader {
            inner,
            buffer: Vec::with_capacity(1024),
            message: None,
            limit,
        }
    }

    /// The next message or control frame. Cancel safe (see the [module
    /// docs](self)).
    pub async fn next(&mut self) -> Result<Incoming, FrameError> {
        loop {
            if let Some(incoming) = self.take_frame()? {
                return Ok(incoming);
            }
            // Cancel safe: a read either happened (its bytes are in the
            // buffer) or did not.
            let mut chunk = [0u8; 4096];
            let n = self.inner.read(&mut chunk).await?;
            if n == 0 {
                return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// Takes one frame from the buffer if a whole one is there; `None` if
    /// more bytes are needed, or if the frame was a fragment that does not
    /// finish its message.
    fn take_frame(&mut self) -> Result<Option<Incoming>, FrameError> {
        loop {
            let Some(header) = self.header()? else {
                return Ok(None);
            };
            let is_control = header.opcode & 0x8 != 0;
            if !is_control {
                let so_far = self.message.as_ref().map_or(0, Vec::len);
                if so_far + header.len > self.limit {
                    return Ok(Some(Incoming::TooBig));
                }
            }
            if self.buffer.len() < header.start + header.len {
                // Room for the rest of the frame, bounded by the limit (a
                // control frame is at most 125 bytes).
                self.buffer
                    .reserve(header.start + header.len - self.buffer.len());
                return Ok(None);
            }
            let mut payload: Vec<u8> =
                self.buffer[header.start..header.start + header.len].to_vec();
            self.buffer.drain(..header.start + header.len);
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= header.mask[i % 4];
            }
            match header.opcode {
                opcode::PING => return Ok(Some(Incoming::Ping(payload))),
                opcode::PONG => continue,
                opcode::CLOSE => {
                    let code = match payload.len() {
                        0 => None,
                        1 => return Err(FrameError::Protocol("a close frame with a 1-byte body")),
                        _ => Some(u16::from_be_bytes([payload[0], payload[1]])),
                    };
                    return Ok(Some(Incoming::Close(code)));
                }
                opcode::TEXT | opcode::BINARY => {
                    if self.message.is_some() {
                        return Err(FrameError::Protocol(
                            "a new message began before the last one finished",
                        ));
                    }
                    if header.fin {
                        return Ok(Some(Incoming::Message(payload)));
                    }
                    self.message = Some(payload);
                }
                opcode::CONTINUATION => {
                    let Some(message) = self.message.as_mut() else {
                        return Err(FrameError::Protocol("a continuation frame with no message"));
                    };
                    message.extend_from_slice(&payload);
                    if header.fin {
                        let whole = self.message.take().unwrap_or_default();
                        return Ok(Some(Incoming::Message(whole)));
                    }
                }
                _ => return Err(FrameError::Protocol("an unknown opcode")),
            }
        }
    }

    /// The header at the front of the buffer, if all of it is there.
    fn header(&self) -> Result<Option<Header>, FrameError> {
        let b = &self.buffer;
        if b.len() < 2 {
            return Ok(None);
        }
        let fin = b[0] & 0x80 != 0;
        if b[0] & 0x70 != 0 {
            return Err(FrameError::Protocol(
                "reserved bits set (no extension was agreed)",
            ));
        }
        let opcode = b[0] & 0x0F;
        if b[1] & 0x80 == 0 {
            return Err(FrameError::Protocol("a client frame that is not masked"));
        }
        let (len, at) = match b[1] & 0x7F {
            126 => {
                if b.len() < 4 {
                    return Ok(None);
                }
                (u64::from(u16::from_be_bytes([b[2], b[3]])), 4)
            }
            127 => {
                if b.len() < 10 {
                    return Ok(None);
                }
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(bytes), 10)
            }
            short => (u64::from(short), 2),
        };
        if opcode & 0x8 != 0 && (len > 125 || !fin) {
            return Err(FrameError::Protocol(
                "a control frame over 125 bytes or fragmented",
            ));
        }
        if b.len() < at + 4 {
            return Ok(None);
        }
        let mask = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        Ok(Some(Header {
            fin,
            opcode,
            mask,
            start: at + 4,
            // Beyond any limit on 32-bit targets too: saturate, and the
            // limit refuses it.
            len: usize::try_from(len).unwrap_or(usize::MAX / 2),
        }))
    }
}

/// One unmasked server frame, with FIN set.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// Writes a text message.
pub async fn send_text<W: AsyncWrite + Unpin>(write: &mut W, text: &[u8]) -> io::Result<()> {
    write.write_all(&frame(opcode::TEXT, text)).await?;
    write.flush().await
}

/// Answers a ping.
pub async fn send_pong<W: AsyncWrite + Unpin>(write: &mut W, payload: &[u8]) -> io::Result<()> {
    write.write_all(&frame(opcode::PONG, payload)).await?;
    write.flush().await
}

/// Sends a close frame with `code` and a short `reason` (cut to fit a
/// control frame).
pub async fn send_close<W: AsyncWrite + Unpin>(
    write: &mut W,
    code: u16,
    reason: &str,
) -> io::Result<()> {
    let mut payload = code.to_be_bytes().to_vec();
    let mut reason = reason;
    while reason.len() > 123 {
        let mut cut = 123;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason = &reason[..cut];
    }
    payload.extend_from_slice(reason.as_bytes());
    write.write_all(&frame(opcode::CLOSE, &payload)).await?;
    write.flush().await
}

/// A client's frame, masked with `mask`: for tests, here and in the
/// integration tests' small client.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = frame(opcode, payload);
    if !fin {
        out[0] &= 0x7F;
    }
    out[1] |= 0x80;
    let at = match out[1] & 0x7F {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    let body: Vec<u8> = out[at..]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    out.truncate(at);
    out.extend_from_slice(&mask);
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        // RFC 6455, section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_key("not a key"));
        assert!(!is_valid_key("aGVsbG8="));
    }

    async fn read_all(bytes: Vec<u8>, limit: usize) -> Vec<Result<Incoming, String>> {
        let mut reader = FrameReader::new(&bytes[..], limit);
        let mut out = Vec::new();
        loop {
            match reader.next().await {
                Ok(incoming) => {
                    let stop = matches!(incoming, Incoming::TooBig | Incoming::Close(_));
                    out.push(Ok(incoming));
                    if stop {
                        break;
                    }
                }
                Err(FrameError::Io(_)) => break,
                Err(error) => {
                    out.push(Err(error.to_string()));
                    break;
                }
            }
        }
        out
    }

    fn run<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn fragments_join_and_control_frames_come_between() {
        let mut bytes = client_frame(false, opcode::TEXT, b"{\"type\":", [1, 2, 3, 4]);
        bytes.extend(client_frame(true, opcode::PING, b"hi", [9, 9, 9, 9]));
        bytes.extend(client_frame(
            true,
            opcode::CONTINUATION,
            b"\"list\"}",
            [5, 6, 7, 8],
        ));
        bytes.extend(client_frame(
            true,
            opcode::CLOSE,
            &1000u16.to_be_bytes(),
            [0; 4],
        ));
        assert_eq!(
            run(read_all(bytes, 100)),
            vec![
                Ok(Incoming::Ping(b"hi".to_vec())),
                Ok(Incoming::Message(b"{\"type\":\"list\"}".to_vec())),
                Ok(Incoming::Close(Some(1000))),
            ]
        );
    }

    #[test]
    fn a_message_over_the_limit_is_refused_before_its_payload_is_read() {
        let mut bytes = client_frame(false, opcode::TEXT, &[b'a'; 60], [1; 4]);
        // Only the header of the second fragment: its length is enough.
        bytes
            .extend_from_slice(&client_frame(true, opcode::CONTINUATION, &[b'a'; 60], [1; 4])[..6]);
        assert_eq!(run(read_all(bytes, 100)), vec![Ok(Incoming::TooBig)]);
    }

    #[test]
    fn broken_framing_is_a_protocol_error() {
        let unmasked = frame(opcode::TEXT, b"x");
        let reserved = {
            let mut f = client_frame(true, opcode::TEXT, b"x", [0; 4]);
            f[0] |= 0x40;
            f
        };
        let stray = client_frame(true, opcode::CONTINUATION, b"x", [0; 4]);
        let long_ping = client_frame(true, opcode::PING, &[0; 126], [0; 4]);
        let unknown = client_frame(true, 0x3, b"x", [0; 4]);
        for bytes in [unmasked, reserved, stray, long_ping, unknown] {
            let out = run(read_all(bytes, 1000));
            assert!(matches!(out.as_slice(), [Err(_)]), "{out:?}");
        }
    }

    #[test]
    fn server_frames_carry_their_length() {
        assert_eq!(frame(opcode::TEXT, b"hi"), vec![0x81, 2, b'h', b'i']);
        assert_eq!(&frame(opcode::TEXT, &[0; 300])[..4], &[0x81, 126, 1, 44]);
        assert_eq!(&frame(opcode::TEXT, &[0; 70_000])[..2], &[0x81, 127]);
    }

    proptest! {
        /// Any message, split into any fragments with any masks, and
        /// delivered in any chunks, reads back whole.
        #[test]
        fn messages_survive_any_fragmenting(
            message in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(0usize..2000, 0..5),
            mask in any::<[u8; 4]>(),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(message.len())).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut bounds = vec![0];
            bounds.extend(cuts.into_iter().filter(|&c| c > 0 && c < message.len()));
            bounds.push(message.len());
            let mut bytes = Vec::new();
            let pieces = bounds.len() - 1;
            for i in 0..pieces {
                let op = if i == 0 { opcode::BINARY } else { opcode::CONTINUATION };
                bytes.extend(client_frame(i + 1 == pieces, op, &message[bounds[i]..bounds[i + 1]], mask));
            }
            let out = run(read_all(bytes, 2000));
            prop_assert_eq!(out, vec![Ok(Incoming::Message(message))]);
        }

        /// Arbitrary bytes never panic the reader.
        #[test]
        fn junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = run(read_all(bytes, 100));
        }
    }
}
