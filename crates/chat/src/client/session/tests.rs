//! The session against fake servers: tiny scripted listeners on 127.0.0.1, so
//! that each rule (what goes first, what is refused, what survives an error) is
//! checked on real sockets, line by line.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::ProtocolError;
use crate::client::{ChatSession, ClientError, MAX_SERVER_LINE, ServerChangeOutcome};
use crate::{ClientMessage, ServerMessage};

/// Long enough for a loaded machine, short enough that a hang fails fast.
const PATIENCE: Duration = Duration::from_secs(5);

/// A fake server's end of one client connection.
struct Peer {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Peer {
    /// The next line the client sent, without its `\n`.
    async fn expect_line(&mut self) -> String {
        let mut line = String::new();
        let read = tokio::time::timeout(PATIENCE, self.reader.read_line(&mut line))
            .await
            .expect("the client sent nothing")
            .expect("read from the client");
        assert!(read > 0, "the client closed the connection");
        assert!(line.ends_with('\n'), "{line:?}");
        line.pop();
        line
    }

    /// The next line the client sent, parsed.
    async fn expect(&mut self) -> ClientMessage {
        let line = self.expect_line().await;
        ClientMessage::parse(&line).expect("a client message")
    }

    /// Writes raw bytes, as a server that may be wrong would.
    async fn say_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("write to client");
    }

    async fn say(&mut self, message: &ServerMessage) {
        self.say_raw(message.to_line().as_bytes()).await;
    }

    /// Waits for the client to close its end.
    async fn expect_eof(&mut self) {
        let mut rest = Vec::new();
        tokio::time::timeout(PATIENCE, self.reader.read_to_end(&mut rest))
            .await
            .expect("the client kept the connection open")
            .expect("read to the end");
        assert!(rest.is_empty(), "{rest:?}");
    }
}

async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

async fn accept(listener: &TcpListener) -> Peer {
    let (stream, _) = tokio::time::timeout(PATIENCE, listener.accept())
        .await
        .expect("no client connected")
        .expect("accept");
    let (reader, writer) = stream.into_split();
    Peer {
        reader: BufReader::new(reader),
        writer,
    }
}

fn roomchange(identity: &str, former: &str, roomid: &str) -> ServerMessage {
    ServerMessage::RoomChange {
        identity: identity.into(),
        former: former.into(),
        roomid: roomid.into(),
    }
}

async fn recv(session: &mut ChatSession) -> ServerMessage {
    session.recv_timeout(PATIENCE).await.expect("a message")
}

/// A server that accepts `identity` into `MainHall-s1`, and the session.
async fn logged_in(identity: &str) -> (ChatSession, Peer, TcpListener) {
    let (listener, addr) = listen().await;
    let (session, server) = tokio::join!(ChatSession::login(addr, identity, PATIENCE), async {
        let mut server = accept(&listener).await;
        assert_eq!(
            server.expect().await,
            ClientMessage::NewIdentity {
                identity: identity.into()
            }
        );
        server
            .say(&ServerMessage::NewIdentity { approved: true })
            .await;
        server.say(&roomchange(identity, "", "MainHall-s1")).await;
        server
    });
    let session = session.expect("login");
    assert_eq!(session.current_room(), "MainHall-s1");
    assert_eq!(session.server_addr(), addr);
    (session, server, listener)
}

#[tokio::test]
async fn newidentity_is_the_first_line_and_the_reply_the_first_message() {
    let (listener, addr) = listen().await;
    let mut session = ChatSession::connect(addr, "Adel").await.expect("connect");
    let mut server = accept(&listener).await;
    assert_eq!(
        server.expect_line().await,
        r#"{"type":"newidentity","identity":"Adel"}"#
    );
    assert_eq!(session.identity(), "Adel");
    assert_eq!(session.current_room(), "");
    server
        .say(&ServerMessage::NewIdentity { approved: true })
        .await;
    assert_eq!(
        recv(&mut session).await,
        ServerMessage::NewIdentity { approved: true }
    );
    assert_eq!(
        session.last_line(),
        r#"{"type":"newidentity","approved":"true"}"#
    );
}

#[tokio::test]
async fn login_refused_is_an_error_named_like_the_course_client() {
    let (listener, addr) = listen().await;
    let (session, ()) = tokio::join!(ChatSession::login(addr, "Adel", PATIENCE), async {
        let mut server = accept(&listener).await;
        server.expect().await;
        server
            .say(&ServerMessage::NewIdentity { approved: false })
            .await;
    });
    match session {
        Err(e @ ClientError::Refused { .. }) => assert_eq!(e.to_string(), "Adel already in use."),
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, got a session"),
    }
}

#[tokio::test]
async fn only_own_roomchanges_move_the_client() {
    let (mut session, mut server, _listener) = logged_in("Adel").await;
    server
        .say(&roomchange("Maria", "MainHall-s1", "jokes"))
        .await;
    recv(&mut session).await;
    assert_eq!(session.current_room(), "MainHall-s1");
    server
        .say(&roomchange("Adel", "MainHall-s1", "jokes"))
        .await;
    recv(&mut session).await;
    assert_eq!(session.current_room(), "jokes");
    // "room unchanged" changes nothing.
    server.say(&roomchange("Adel", "jokes", "jokes")).await;
    recv(&mut session).await;
    assert_eq!(session.current_room(), "jokes");
    // A rename does not change who this client is, as in the Java client.
    session
        .send(&ClientMessage::NewIdentity {
            identity: "Bob".into(),
        })
        .await
        .expect("send");
    server.expect().await;
    server.say(&roomchange("Bob", "jokes", "MainHall-s1")).await;
    recv(&mut session).await;
    assert_eq!(session.identity(), "Adel");
    assert_eq!(session.current_room(), "jokes");
}

#[tokio::test]
async fn own_quit_ends_the_session_and_others_do_not() {
    let (mut session, mut server, _listener) = logged_in("Adel").await;
    server.say(&roomchange("Maria", "MainHall-s1", "")).await;
    recv(&mut session).await;
    assert!(!session.has_quit());
    session.send(&ClientMessage::Quit).await.expect("send quit");
    assert_eq!(server.expect().await, ClientMessage::Quit);
    server.say(&roomchange("Adel", "MainHall-s1", "")).await;
    assert_eq!(
        recv(&mut session).await,
        roomchange("Adel", "MainHall-s1", "")
    );
    assert!(session.has_quit());
    assert!(matches!(session.recv().await, Err(ClientError::Quit)));
    assert!(matches!(
        session.send(&ClientMessage::List).await,
        Err(ClientError::Quit)
    ));
}

#[tokio::test]
async fn bad_lines_are_errors_and_the_next_line_is_still_read() {
    let (mut session, mut server, _listener) = logged_in("Adel").await;
    server
        .say_raw(b"{\"type\":\"newidentity\",\"approved\":true}\n")
        .await;
    match session.recv_timeout(PATIENCE).await {
        Err(ClientError::Protocol { line, error }) => {
            assert_eq!(line, r#"{"type":"newidentity","approved":true}"#);
            assert!(matches!(
                error,
                ProtocolError::WrongType {
                    field: "approved",
                    found: "a boolean",
                    ..
                }
            ));
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    server
        .say_raw(b"{\"type\":\"route\",\"roomid\":\"j\",\"host\":\"127.0.0.1\",\"port\":4444}\n")
        .await;
    assert!(matches!(
        session.recv_timeout(PATIENCE).await,
        Err(ClientError::Protocol {
            error: ProtocolError::WrongType { field: "port", .. },
            ..
        })
    ));
    server
        .say_raw(b"{\"type\":\"message\",\"identity\":\"M\xff\"}\n")
        .await;
    assert!(matches!(
        session.recv_timeout(PATIENCE).await,
        Err(ClientError::NotUtf8 { .. })
    ));
    // Still in step: a \r\n line, then a last line cut short by the end of the
    // stream, which is read like Java's readLine reads it.
    server
        .say_raw(b"{\"type\":\"roomlist\",\"rooms\":[]}\r\n")
        .await;
    assert_eq!(
        recv(&mut session).await,
        ServerMessage::RoomList { rooms: vec![] }
    );
    server
        .say_raw(b"{\"type\":\"roomlist\",\"rooms\":[\"a\"]}")
        .await;
    drop(server);
    assert_eq!(
        recv(&mut session).await,
        ServerMessage::RoomList {
            rooms: vec!["a".into()]
        }
    );
    assert!(matches!(session.recv().await, Err(ClientError::Closed)));
}

#[tokio::test]
async fn a_line_over_the_bound_drops_the_connection() {
    let (mut session, mut server, _listener) = logged_in("Adel").await;
    let writer = tokio::spawn(async move {
        let junk = vec![b'x'; MAX_SERVER_LINE + 10];
        server.say_raw(&junk).await;
        server
    });
    assert!(matches!(
        session.recv_timeout(PATIENCE).await,
        Err(ClientError::LineTooLong {
            limit: MAX_SERVER_LINE
        })
    ));
    let mut server = writer.await.expect("writer");
    // Even a valid line afterwards is not read: the stream is out of step.
    server.say(&ServerMessage::RoomList { rooms: vec![] }).await;
    assert!(matches!(session.recv().await, Err(ClientError::Closed)));
}

/// A `message` line of exactly `len` bytes, line ending not counted.
fn message_line_of(len: usize) -> Vec<u8> {
    let head = br#"{"type":"message","identity":"M","content":""#;
    let tail = br#""}"#;
    let mut line = head.to_vec();
    line.resize(len - tail.len(), b'x');
    line.extend_from_slice(tail);
    line
}

#[tokio::test]
async fn the_bound_is_on_the_line_without_its_ending() {
    let (mut session, mut server, _listener) = logged_in("Adel").await;
    let writer = tokio::spawn(async move {
        let mut exact = message_line_of(MAX_SERVER_LINE);
        exact.extend_from_slice(b"\r\n");
        server.say_raw(&exact).await;
        let mut over = message_line_of(MAX_SERVER_LINE + 1);
        over.push(b'\n');
        server.say_raw(&over).await;
        server
    });
    match recv(&mut session).await {
        ServerMessage::Message { content, .. } => {
            assert_eq!(session.last_line().len(), MAX_SERVER_LINE);
            assert!(content.bytes().all(|b| b == b'x'));
        }
        other => panic!("expected the long message, got {other:?}"),
    }
    assert!(matches!(
        session.recv_timeout(PATIENCE).await,
        Err(ClientError::LineTooLong { .. })
    ));
    let _server = writer.await.expect("writer");
}

#[tokio::test]
async fn a_timeout_loses_nothing() {
    let (mut session, mut server, _listener) = logged_in("Adel").await;
    server.say_raw(b"{\"type\":\"message\",").await;
    let short = Duration::from_millis(50);
    assert!(matches!(
        session.recv_timeout(short).await,
        Err(ClientError::Timeout(d)) if d == short
    ));
    server
        .say_raw(b"\"identity\":\"Maria\",\"content\":\"hi\"}\n")
        .await;
    assert_eq!(
        recv(&mut session).await,
        ServerMessage::Message {
            identity: "Maria".into(),
            content: "hi".into()
        }
    );
}

/// Sends `route` to jokes on `new_addr` from the old server, and checks the
/// session returns it unfollowed.
async fn route_to(session: &mut ChatSession, old: &mut Peer, new_addr: SocketAddr) {
    let route = ServerMessage::Route {
        roomid: "jokes".into(),
        host: new_addr.ip().to_string(),
        port: new_addr.port(),
    };
    old.say(&route).await;
    assert_eq!(recv(session).await, route);
    assert_eq!(session.server_addr().port(), old_port(old));
}

fn old_port(old: &Peer) -> u16 {
    old.writer.local_addr().expect("local address").port()
}

/// The new server's side of a move: the first line must be the `movejoin`;
/// then it answers with `first`.
async fn new_server_answers(listener: &TcpListener, first: &[u8]) -> Peer {
    let mut peer = accept(listener).await;
    assert_eq!(
        peer.expect().await,
        ClientMessage::MoveJoin {
            identity: "Adel".into(),
            former: "MainHall-s1".into(),
            roomid: "jokes".into(),
        }
    );
    peer.say_raw(first).await;
    peer
}

#[tokio::test]
async fn an_approved_move_switches_servers_and_closes_the_old_connection() {
    let (mut session, mut old, _old_listener) = logged_in("Adel").await;
    let (listener, new_addr) = listen().await;
    route_to(&mut session, &mut old, new_addr).await;
    let (outcome, mut new) = tokio::join!(
        session.follow_route("jokes", "127.0.0.1", new_addr.port()),
        new_server_answers(
            &listener,
            b"{\"serverid\":\"s2\",\"approved\":\"true\",\"type\":\"serverchange\"}\n"
        )
    );
    let outcome = outcome.expect("move");
    assert_eq!(
        outcome,
        ServerChangeOutcome::Switched {
            serverid: "s2".into()
        }
    );
    assert_eq!(
        outcome.message(),
        ServerMessage::ServerChange {
            approved: true,
            serverid: "s2".into()
        }
    );
    assert_eq!(session.server_addr(), new_addr);
    old.expect_eof().await;
    // The room changes with the new server's roomchange, not before.
    assert_eq!(session.current_room(), "MainHall-s1");
    new.say(&roomchange("Adel", "MainHall-s1", "jokes")).await;
    recv(&mut session).await;
    assert_eq!(session.current_room(), "jokes");
    session.send(&ClientMessage::Who).await.expect("send");
    assert_eq!(new.expect().await, ClientMessage::Who);
}

#[tokio::test]
async fn a_refused_move_stays_on_the_old_server() {
    let (mut session, mut old, _old_listener) = logged_in("Adel").await;
    let (listener, new_addr) = listen().await;
    route_to(&mut session, &mut old, new_addr).await;
    let (outcome, mut new) = tokio::join!(
        session.follow_route("jokes", "127.0.0.1", new_addr.port()),
        new_server_answers(
            &listener,
            b"{\"type\":\"serverchange\",\"approved\":\"false\",\"serverid\":\"s2\"}\n"
        )
    );
    assert_eq!(
        outcome.expect("an answer"),
        ServerChangeOutcome::Refused {
            serverid: "s2".into()
        }
    );
    new.expect_eof().await;
    assert_still_on_old_server(&mut session, &mut old).await;
}

/// The session talks to `old`, both ways.
async fn assert_still_on_old_server(session: &mut ChatSession, old: &mut Peer) {
    assert_eq!(session.server_addr().port(), old_port(old));
    assert_eq!(session.current_room(), "MainHall-s1");
    session.send(&ClientMessage::List).await.expect("send");
    assert_eq!(old.expect().await, ClientMessage::List);
    let hello = ServerMessage::Message {
        identity: "Maria".into(),
        content: "still here".into(),
    };
    old.say(&hello).await;
    assert_eq!(recv(session).await, hello);
}

#[tokio::test]
async fn serverchange_must_be_the_first_line_from_the_new_server() {
    let (mut session, mut old, _old_listener) = logged_in("Adel").await;
    let (listener, new_addr) = listen().await;
    route_to(&mut session, &mut old, new_addr).await;
    // A roomchange before the serverchange: the order of §2.2 is broken.
    let (outcome, mut new) = tokio::join!(
        session.follow_route("jokes", "127.0.0.1", new_addr.port()),
        new_server_answers(
            &listener,
            b"{\"type\":\"roomchange\",\"identity\":\"Adel\",\"former\":\"MainHall-s1\",\"roomid\":\"jokes\"}\n{\"type\":\"serverchange\",\"approved\":\"true\",\"serverid\":\"s2\"}\n"
        )
    );
    match outcome {
        Err(ClientError::Unexpected { expected, line }) => {
            assert_eq!(expected, "serverchange");
            assert!(line.contains("roomchange"), "{line}");
        }
        other => panic!("expected an out-of-order error, got {other:?}"),
    }
    new.expect_eof().await;
    assert_still_on_old_server(&mut session, &mut old).await;
}

#[tokio::test]
async fn a_boolean_approved_is_a_protocol_error_not_a_move() {
    let (mut session, mut old, _old_listener) = logged_in("Adel").await;
    let (listener, new_addr) = listen().await;
    route_to(&mut session, &mut old, new_addr).await;
    let (outcome, _new) = tokio::join!(
        session.follow_route("jokes", "127.0.0.1", new_addr.port()),
        new_server_answers(
            &listener,
            b"{\"type\":\"serverchange\",\"approved\":true,\"serverid\":\"s2\"}\n"
        )
    );
    match outcome {
        Err(ClientError::Protocol { line, error }) => {
            assert_eq!(
                line,
                r#"{"type":"serverchange","approved":true,"serverid":"s2"}"#
            );
            assert_eq!(
                error,
                ProtocolError::WrongType {
                    kind: "serverchange",
                    field: "approved",
                    expected: "the string \"true\" or \"false\"",
                    found: "a boolean",
                }
            );
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert_still_on_old_server(&mut session, &mut old).await;
}

#[tokio::test]
async fn an_unreachable_new_server_leaves_the_session_where_it_was() {
    let (mut session, mut old, _old_listener) = logged_in("Adel").await;
    // A port that was just free: nothing listens there any more.
    let (listener, gone) = listen().await;
    drop(listener);
    match session
        .follow_route("jokes", "127.0.0.1", gone.port())
        .await
    {
        Err(ClientError::Connect { server, .. }) => {
            assert_eq!(server, format!("127.0.0.1:{}", gone.port()));
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    // A new server that hangs up without answering.
    let (listener, new_addr) = listen().await;
    let (outcome, ()) = tokio::join!(
        session.follow_route("jokes", "127.0.0.1", new_addr.port()),
        async {
            let mut peer = accept(&listener).await;
            peer.expect().await;
        }
    );
    assert!(matches!(outcome, Err(ClientError::Closed)), "{outcome:?}");
    assert_still_on_old_server(&mut session, &mut old).await;
}

#[tokio::test]
async fn connect_names_the_server_it_could_not_reach() {
    let (listener, gone) = listen().await;
    drop(listener);
    match ChatSession::connect(gone, "Adel").await {
        Err(e @ ClientError::Connect { .. }) => {
            let shown = e.to_string();
            assert!(shown.contains(&gone.to_string()), "{e}");
            // What the operating system said, once: in the message, not
            // also chained (where `{:#}` would print it a second time).
            assert!(shown.contains("refused"), "{e}");
            assert!(std::error::Error::source(&e).is_none(), "{e}");
        }
        Err(e) => panic!("expected a connect error, got {e}"),
        Ok(_) => panic!("connected to nothing"),
    }
}
