//! A WebSocket client of `/api/chat`, as small as a browser's side needs to
//! be for programs that stand in for browsers (the benchmark of many
//! browser chat clients): the opening handshake over plain HTTP, masked
//! text frames out, whole text messages in.
//!
//! Server frames are read as the server writes them ([`crate::websocket`]):
//! unfragmented, unmasked. Pings are answered; a close frame or the end of
//! the stream ends the reading.

use std::io;
use std::net::SocketAddr;

use base64ct::{Base64, Encoding};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::websocket::{accept_key, client_frame, opcode};

/// The longest message taken from the server.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The reading half of a client WebSocket.
pub struct WsReader {
    read: BufReader<OwnedReadHalf>,
}

/// The writing half of a client WebSocket.
pub struct WsWriter {
    write: OwnedWriteHalf,
    mask: [u8; 4],
}

fn broken(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Opens a WebSocket to `path` at `addr` with `cookie` (`name=value`),
/// once the server has answered `101` with the right accept key.
pub async fn connect(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
) -> io::Result<(WsReader, WsWriter)> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
    let key = Base64::encode_string(&nonce);
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: {key}\r\ncookie: {cookie}\r\n\r\n"
    );
    write.write_all(request.as_bytes()).await?;
    let mut read = BufReader::new(read);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(broken("the handshake answer is too long"));
        }
        let byte = read.read_u8().await?;
        head.push(byte);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if !head.starts_with("http/1.1 101") {
        let status = head.lines().next().unwrap_or_default().to_string();
        return Err(broken(&format!("not upgraded: {status}")));
    }
    let accept = format!(
        "sec-websocket-accept: {}",
        accept_key(&key).to_ascii_lowercase()
    );
    if !head.contains(&accept) {
        return Err(broken("wrong sec-websocket-accept"));
    }
    let mut mask = [0u8; 4];
    getrandom::fill(&mut mask).map_err(|e| io::Error::other(e.to_string()))?;
    Ok((WsReader { read }, WsWriter { write, mask }))
}

impl WsWriter {
    /// Sends one text message.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        let frame = client_frame(true, opcode::TEXT, text.as_bytes(), self.mask);
        self.write.write_all(&frame).await
    }

    async fn pong(&mut self, payload: &[u8]) -> io::Result<()> {
        let frame = client_frame(true, opcode::PONG, payload, self.mask);
        self.write.write_all(&frame).await
    }
}

impl WsReader {
    /// The next text message; `None` once the server closed. A ping is
    /// answered through `writer` when one is given, else skipped.
    pub async fn next_text(
        &mut self,
        mut writer: Option<&mut WsWriter>,
    ) -> io::Result<Option<String>> {
        loop {
            let first = match self.read.read_u8().await {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(e),
            };
            let second = self.read.read_u8().await?;
            if second & 0x80 != 0 {
                return Err(broken("a server frame is masked"));
            }
            let len = match second & 0x7F {
                126 => u64::from(self.read.read_u16().await?),
                127 => self.read.read_u64().await?,
                n => u64::from(n),
            };
            let len = usize::try_from(len)
                .ok()
                .filter(|n| *n <= MAX_MESSAGE)
                .ok_or_else(|| broken("a server message is too long"))?;
            let mut payload = vec![0u8; len];
            self.read.read_exact(&mut payload).await?;
            match first & 0x0F {
                opcode::TEXT => {
                    return String::from_utf8(payload)
                        .map(Some)
                        .map_err(|_| broken("a text message is not UTF-8"));
                }
                opcode::CLOSE => return Ok(None),
                opcode::PING => {
                    if let Some(writer) = writer.as_deref_mut() {
                        writer.pong(&payload).await?;
                    }
                }
                _ => {}
            }
        }
    }
}
