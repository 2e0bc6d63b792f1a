//! [`ChatSession`]: one client's conversation with the chat system, over TCP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::{Instant, timeout, timeout_at};

use super::connection::Connection;
use super::{ClientError, MOVE_TIMEOUT};
use crate::{ClientMessage, ServerMessage};

/// A client connected to the chat system, reading the server's lines as
/// strictly as the reference allows and keeping the state the course client
/// keeps.
///
/// It is the engine of `convene chat` and the client of integration tests. What
/// it remembers is exactly what the Java client remembers:
///
/// - **its identity**, the one it connected with. The Java client never changes
///   it, not even after an approved `#newidentity`, so neither does this
///   session: [`send`](Self::send) of a `newidentity` changes nothing here, and
///   `roomchange`s about the new name do not move this client.
/// - **its current room**, changed only by a `roomchange` whose `identity` is its
///   own (§2.5). Empty until the first one arrives.
/// - **whether it has quit**: its own `roomchange` with an empty `roomid` ends the
///   session. The Java client exits there; this session returns that message and
///   then refuses every call with [`ClientError::Quit`].
///
/// `route` is not followed by [`recv`](Self::recv): it is returned like any other
/// message, and the caller calls [`follow_route`](Self::follow_route), so that a
/// test can look at the `route` first, or not follow it at all.
///
/// ```no_run
/// # async fn demo(server: std::net::SocketAddr) -> Result<(), convene_chat::client::ClientError> {
/// use std::time::Duration;
/// use convene_chat::{ClientMessage, ServerMessage};
/// use convene_chat::client::ChatSession;
///
/// let mut adel = ChatSession::login(server, "Adel", Duration::from_secs(2)).await?;
/// assert_eq!(adel.current_room(), "MainHall-s1");
/// adel.send(&ClientMessage::JoinRoom { roomid: "jokes".into() }).await?;
/// if let ServerMessage::Route { roomid, host, port } = adel.recv().await? {
///     adel.follow_route(&roomid, &host, port).await?;
/// }
/// # Ok(()) }
/// ```
pub struct ChatSession {
    identity: String,
    room: String,
    connection: Connection,
    quit: bool,
    last_line: String,
}

/// How a [`follow_route`](ChatSession::follow_route) ended, when the new server
/// answered with a `serverchange`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerChangeOutcome {
    /// `approved` was true: the session now talks to the new server, and the old
    /// connection is closed.
    Switched {
        /// The new server's id.
        serverid: String,
    },
    /// `approved` was false: the session stays on the old server, whose connection
    /// was never closed (the new one is).
    Refused {
        /// The id of the server that refused.
        serverid: String,
    },
}

impl ServerChangeOutcome {
    /// The `serverchange` message this outcome came from, to
    /// [`render`](super::render()) it as the course client prints it.
    pub fn message(&self) -> ServerMessage {
        match self {
            ServerChangeOutcome::Switched { serverid } => ServerMessage::ServerChange {
                approved: true,
                serverid: serverid.clone(),
            },
            ServerChangeOutcome::Refused { serverid } => ServerMessage::ServerChange {
                approved: false,
                serverid: serverid.clone(),
            },
        }
    }
}

impl ChatSession {
    /// Connects to the server at `server` and sends `newidentity` for `identity`
    /// as the first line, as the course client does on start-up.
    ///
    /// It does not wait for the answer: the `newidentity` reply, approved or not,
    /// is the first message [`recv`](Self::recv) returns. [`login`](Self::login)
    /// waits for it.
    pub async fn connect(server: SocketAddr, identity: &str) -> Result<ChatSession, ClientError> {
        let connection = Connection::open(server, || server.to_string()).await?;
        let mut session = ChatSession {
            identity: identity.to_owned(),
            room: String::new(),
            connection,
            quit: false,
            last_line: String::new(),
        };
        session
            .send(&ClientMessage::NewIdentity {
                identity: identity.to_owned(),
            })
            .await?;
        Ok(session)
    }

    /// [`connect`](Self::connect)s, then waits, at most `within` in all, until the
    /// identity is approved and the server has put this client in a room.
    ///
    /// The first line must be `newidentity` ([`ClientError::Refused`] if not
    /// approved) and the next one this client's own `roomchange` into its
    /// MainHall, as §2.2 orders them; anything else is
    /// [`ClientError::Unexpected`]. For tests that want a session ready to use.
    pub async fn login(
        server: SocketAddr,
        identity: &str,
        within: Duration,
    ) -> Result<ChatSession, ClientError> {
        let deadline = Instant::now() + within;
        let mut session = timeout_at(deadline, ChatSession::connect(server, identity))
            .await
            .map_err(|_| ClientError::Timeout(within))??;
        match session.recv_until(deadline, within).await? {
            ServerMessage::NewIdentity { approved: true } => {}
            ServerMessage::NewIdentity { approved: false } => {
                return Err(ClientError::Refused {
                    identity: identity.to_owned(),
                });
            }
            _ => return Err(session.unexpected("newidentity")),
        }
        match session.recv_until(deadline, within).await? {
            ServerMessage::RoomChange { identity: who, .. } if who == identity => Ok(session),
            _ => Err(session.unexpected("this client's roomchange into its MainHall")),
        }
    }

    /// Sends one message to the current server.
    ///
    /// Any message may be sent, whether or not the course client would send it
    /// at this point: a test may want to see how a server copes.
    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        self.check_not_quit()?;
        self.connection.write_line(&message.to_line()).await
    }

    /// The next message from the current server.
    ///
    /// The line is framed with a bound of [`MAX_SERVER_LINE`](super::MAX_SERVER_LINE)
    /// bytes and parsed with [`ServerMessage::parse`] (strict: `approved` a string,
    /// `port` a string of digits). A line that does not parse is
    /// [`ClientError::Protocol`], and the session can go on reading; the end of
    /// the stream is [`ClientError::Closed`].
    ///
    /// Cancel safe: if the future is dropped (a timeout, another branch of a
    /// `select!`), the part of a line read so far is kept for the next call.
    pub async fn recv(&mut self) -> Result<ServerMessage, ClientError> {
        self.check_not_quit()?;
        let line = self.connection.read_line().await?;
        self.last_line.clone_from(&line);
        let message = match ServerMessage::parse(&line) {
            Ok(message) => message,
            Err(error) => return Err(ClientError::Protocol { line, error }),
        };
        if let ServerMessage::RoomChange {
            identity, roomid, ..
        } = &message
            && *identity == self.identity
        {
            if roomid.is_empty() {
                self.quit = true;
            } else {
                self.room.clone_from(roomid);
            }
        }
        Ok(message)
    }

    /// [`recv`](Self::recv), giving up with [`ClientError::Timeout`] after
    /// `within`. Nothing is lost by giving up (see `recv`).
    pub async fn recv_timeout(&mut self, within: Duration) -> Result<ServerMessage, ClientError> {
        timeout(within, self.recv())
            .await
            .map_err(|_| ClientError::Timeout(within))?
    }

    /// Follows a `route` to the server at `host:port`, exactly as the course
    /// client does.
    ///
    /// 1. Open a new connection to `host:port` (`host` an IP address or a name to
    ///    resolve; every address it resolves to is tried in turn).
    /// 2. Send `movejoin` (this identity, the current room as `former`, `roomid`)
    ///    as the **first** line.
    /// 3. Read the **first** line back. It must be a `serverchange`:
    ///    - approved: close the old connection and talk to the new server from
    ///      now on ([`ServerChangeOutcome::Switched`]);
    ///    - refused: close the new connection and stay on the old one, still
    ///      open, as the Java client does ([`ServerChangeOutcome::Refused`]).
    ///
    /// The current room does not change here: the new server's `roomchange`
    /// changes it, when [`recv`](Self::recv) reads it.
    ///
    /// Anything but a `serverchange` first is an error
    /// ([`ClientError::Unexpected`], or [`ClientError::Protocol`] for a line that
    /// does not parse, such as `"approved":true` as a JSON boolean), where the
    /// Java client would print `Server change failed`. Whatever the error, the
    /// session stays on the old server, as it was. The whole move is bounded by
    /// [`MOVE_TIMEOUT`](super::MOVE_TIMEOUT), where the Java client would wait
    /// for ever.
    ///
    /// One difference remains: the Java client takes only the exact string
    /// `"true"` as an approved `serverchange`, while [`ServerMessage::parse`]
    /// accepts `"True"` too (as the Java client does for every other
    /// `approved`).
    pub async fn follow_route(
        &mut self,
        roomid: &str,
        host: &str,
        port: u16,
    ) -> Result<ServerChangeOutcome, ClientError> {
        self.check_not_quit()?;
        let movejoin = ClientMessage::MoveJoin {
            identity: self.identity.clone(),
            former: self.room.clone(),
            roomid: roomid.to_owned(),
        };
        let handshake = async {
            let mut connection =
                Connection::open((host, port), || format!("{host}:{port}")).await?;
            connection.write_line(&movejoin.to_line()).await?;
            let first = connection.read_line().await?;
            Ok::<_, ClientError>((connection, first))
        };
        let (connection, line) = timeout(MOVE_TIMEOUT, handshake)
            .await
            .map_err(|_| ClientError::Timeout(MOVE_TIMEOUT))??;
        self.last_line.clone_from(&line);
        match ServerMessage::parse(&line) {
            Ok(ServerMessage::ServerChange {
                approved: true,
                serverid,
            }) => {
                // Dropping the old connection closes it: the old server sees EOF
                // at once, which (after a route) it must not take for a quit.
                self.connection = connection;
                Ok(ServerChangeOutcome::Switched { serverid })
            }
            Ok(ServerMessage::ServerChange {
                approved: false,
                serverid,
            }) => Ok(ServerChangeOutcome::Refused { serverid }),
            Ok(_) => Err(self.unexpected("serverchange")),
            Err(error) => Err(ClientError::Protocol { line, error }),
        }
    }

    /// The identity this session connected with (never changed, see above).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The room this client is in, as far as the server's `roomchange`s about
    /// it have said; `""` before the first.
    pub fn current_room(&self) -> &str {
        &self.room
    }

    /// The address of the server the session talks to now.
    pub fn server_addr(&self) -> SocketAddr {
        self.connection.peer()
    }

    /// Whether the server has confirmed this client's quit, ending the session.
    pub fn has_quit(&self) -> bool {
        self.quit
    }

    /// The last line read from a server, without its line ending, whether it
    /// parsed or not (for a `--debug` trace); `""` before the first.
    pub fn last_line(&self) -> &str {
        &self.last_line
    }

    /// [`recv`](Self::recv) before `deadline`, the end of a wait of `within`.
    async fn recv_until(
        &mut self,
        deadline: Instant,
        within: Duration,
    ) -> Result<ServerMessage, ClientError> {
        timeout_at(deadline, self.recv())
            .await
            .map_err(|_| ClientError::Timeout(within))?
    }

    fn check_not_quit(&self) -> Result<(), ClientError> {
        if self.quit {
            Err(ClientError::Quit)
        } else {
            Ok(())
        }
    }

    /// [`ClientError::Unexpected`] for the last line read.
    fn unexpected(&self, expected: &'static str) -> ClientError {
        ClientError::Unexpected {
            expected,
            line: self.last_line.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
