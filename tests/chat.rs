//! The chat service over real nodes on loopback, driven by Convene's own
//! strict client ([`ChatSession`], which reads lines as the course's Java
//! client does): the reference's golden exchange across three servers,
//! identity and room races, bad input, slow consumers, and a coordinator
//! that fails and comes back.

use std::net::SocketAddr;
use std::time::Duration;

use convene_chat::client::{ChatSession, ClientError, ServerChangeOutcome};
use convene_chat::{ClientMessage, ServerMessage};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::util::{TestCluster, chat};

const WAIT: Duration = Duration::from_secs(15);

fn addr(c: &TestCluster, id: &str) -> SocketAddr {
    c.cluster.node(id).unwrap().chat_addr().unwrap()
}

async fn login(c: &TestCluster, id: &str, identity: &str) -> ChatSession {
    ChatSession::login(addr(c, id), identity, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{identity} on {id}: {e}"))
}

/// Whether `identity` is approved on node `id` (the session, if so).
async fn try_login(c: &TestCluster, id: &str, identity: &str) -> Option<ChatSession> {
    match ChatSession::login(addr(c, id), identity, WAIT).await {
        Ok(session) => Some(session),
        Err(ClientError::Refused { .. }) => None,
        Err(e) => panic!("{identity} on {id}: {e}"),
    }
}

async fn recv(session: &mut ChatSession) -> ServerMessage {
    session
        .recv_timeout(WAIT)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", session.identity()))
}

/// Sends `message`, which must go out.
async fn send(session: &mut ChatSession, message: ClientMessage) {
    session
        .send(&message)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", session.identity()));
}

/// `from` says `text`; `to`, in the same room, must hear it next.
pub async fn say(from: &mut ChatSession, to: &mut ChatSession, text: &str) {
    let content = text.to_string();
    send(from, ClientMessage::Message { content }).await;
    let heard = ServerMessage::Message {
        identity: from.identity().into(),
        content: text.into(),
    };
    assert_eq!(
        recv(to).await,
        heard,
        "{} to {}",
        from.identity(),
        to.identity()
    );
}

fn create(room: &str) -> ClientMessage {
    ClientMessage::CreateRoom {
        roomid: room.into(),
    }
}

fn rc(identity: &str, former: &str, roomid: &str) -> ServerMessage {
    ServerMessage::RoomChange {
        identity: identity.into(),
        former: former.into(),
        roomid: roomid.into(),
    }
}

fn join(room: &str) -> ClientMessage {
    ClientMessage::JoinRoom {
        roomid: room.into(),
    }
}

/// Follows the route a `joinroom` for another server's room must produce.
async fn move_to(session: &mut ChatSession, room: &str, server: &str) {
    session.send(&join(room)).await.unwrap();
    let ServerMessage::Route { roomid, host, port } = recv(session).await else {
        panic!("{} got no route to {room}", session.identity());
    };
    let outcome = session.follow_route(&roomid, &host, port).await.unwrap();
    assert_eq!(
        outcome,
        ServerChangeOutcome::Switched {
            serverid: server.into()
        }
    );
}

async fn three_servers() -> TestCluster {
    TestCluster::start(&[chat("s1"), chat("s2"), chat("s3")]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_golden_exchange_over_three_servers() {
    let c = three_servers().await;
    let mut adel = login(&c, "s1", "Adel").await;
    assert_eq!(adel.current_room(), "MainHall-s1");

    send(&mut adel, create("jokes")).await;
    assert_eq!(
        recv(&mut adel).await,
        ServerMessage::CreateRoom {
            roomid: "jokes".into(),
            approved: true
        }
    );
    assert_eq!(recv(&mut adel).await, rc("Adel", "MainHall-s1", "jokes"));

    send(&mut adel, ClientMessage::List).await;
    assert_eq!(
        recv(&mut adel).await,
        ServerMessage::RoomList {
            rooms: ["MainHall-s1", "MainHall-s2", "MainHall-s3", "jokes"]
                .map(String::from)
                .to_vec()
        }
    );

    // Maria on s2 joins a room of s1: route, movejoin, serverchange first.
    let mut maria = login(&c, "s2", "Maria").await;
    maria.send(&join("jokes")).await.unwrap();
    let route = recv(&mut maria).await;
    let s1 = addr(&c, "s1");
    assert_eq!(
        route,
        ServerMessage::Route {
            roomid: "jokes".into(),
            host: s1.ip().to_string(),
            port: s1.port(),
        }
    );
    let outcome = maria
        .follow_route("jokes", &s1.ip().to_string(), s1.port())
        .await;
    assert_eq!(
        outcome.unwrap(),
        ServerChangeOutcome::Switched {
            serverid: "s1".into()
        }
    );
    assert_eq!(recv(&mut maria).await, rc("Maria", "MainHall-s2", "jokes"));
    assert_eq!(recv(&mut adel).await, rc("Maria", "MainHall-s2", "jokes"));
    // The old server took the EOF after the route for a move, not a quit.
    assert_eq!(c.node("s2").chat().identities(), Vec::<String>::new());
    assert_eq!(c.node("s1").chat().identities(), ["Adel", "Maria"]);

    say(&mut adel, &mut maria, "hi all").await;

    let contents = ServerMessage::RoomContents {
        roomid: "jokes".into(),
        identities: vec!["Adel".into(), "Maria".into()],
        owner: "Adel".into(),
    };
    send(&mut maria, ClientMessage::Who).await;
    assert_eq!(recv(&mut maria).await, contents);
    send(&mut adel, ClientMessage::Who).await;
    assert_eq!(recv(&mut adel).await, contents);

    adel.send(&ClientMessage::DeleteRoom {
        roomid: "jokes".into(),
    })
    .await
    .unwrap();
    for session in [&mut adel, &mut maria] {
        assert_eq!(recv(session).await, rc("Adel", "jokes", "MainHall-s1"));
        assert_eq!(recv(session).await, rc("Maria", "jokes", "MainHall-s1"));
    }
    assert_eq!(
        recv(&mut adel).await,
        ServerMessage::DeleteRoom {
            roomid: "jokes".into(),
            approved: true
        }
    );

    send(&mut adel, ClientMessage::Quit).await;
    assert_eq!(recv(&mut adel).await, rc("Adel", "MainHall-s1", ""));
    assert!(adel.has_quit());
    assert_eq!(recv(&mut maria).await, rc("Adel", "MainHall-s1", ""));

    // Maria is on s1 now: her identity is taken on s3 too. "1ab" is not valid.
    assert!(try_login(&c, "s3", "Maria").await.is_none());
    assert!(try_login(&c, "s3", "1ab").await.is_none());
    // Adel quit, so his identity is free everywhere.
    assert!(try_login(&c, "s3", "Adel").await.is_some());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_identities_and_rooms_are_granted_exactly_once() {
    let c = three_servers().await;
    // Warm up: the coordinator is elected and has rebuilt.
    drop(login(&c, "s1", "Warmup").await);

    for round in 0..10 {
        let name = format!("Racer{round}");
        let (a, b, d) = tokio::join!(
            try_login(&c, "s1", &name),
            try_login(&c, "s2", &name),
            try_login(&c, "s3", &name),
        );
        let approved = [a.is_some(), b.is_some(), d.is_some()];
        assert_eq!(
            approved.iter().filter(|x| **x).count(),
            1,
            "{name}: {approved:?}"
        );
    }

    // Two owners-to-be race for one room id on two servers.
    let mut x = login(&c, "s1", "Xena").await;
    let mut y = login(&c, "s2", "Yuri").await;
    for round in 0..5 {
        let room = format!("room{round}");
        let create = ClientMessage::CreateRoom {
            roomid: room.clone(),
        };
        let (sx, sy) = tokio::join!(x.send(&create), y.send(&create));
        sx.unwrap();
        sy.unwrap();
        let (rx, ry) = tokio::join!(recv(&mut x), recv(&mut y));
        let won = |m: &ServerMessage| matches!(m, ServerMessage::CreateRoom { approved: true, .. });
        assert!(won(&rx) ^ won(&ry), "{room}: {rx:?} / {ry:?}");
        // The winner moved in; leave it by deleting, to be free to own again.
        let winner = if won(&rx) { &mut x } else { &mut y };
        let _roomchange = recv(winner).await;
        winner
            .send(&ClientMessage::DeleteRoom { roomid: room })
            .await
            .unwrap();
        let _back = recv(winner).await;
        let _reply = recv(winner).await;
    }
    c.stop().await;
}

/// Sends `line` raw and returns the server's next line.
async fn raw_reply(stream: &mut BufReader<TcpStream>, line: &[u8]) -> Option<String> {
    stream.get_mut().write_all(line).await.ok()?;
    let mut reply = String::new();
    let n = tokio::time::timeout(WAIT, stream.read_line(&mut reply))
        .await
        .ok()?
        .ok()?;
    (n > 0).then_some(reply)
}

/// A `message` line of exactly `len` bytes, its line ending not counted.
fn message_line_of(len: usize) -> Vec<u8> {
    let head = br#"{"type":"message","content":""#;
    let tail = br#""}"#;
    let mut line = head.to_vec();
    line.resize(len - tail.len(), b'x');
    line.extend_from_slice(tail);
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_takes_a_line_of_max_line_bytes_without_its_ending() {
    let c = TestCluster::start(&[chat("s1")]).await;
    let mut maria = login(&c, "s1", "Maria").await;
    let mut raw = BufReader::new(TcpStream::connect(addr(&c, "s1")).await.unwrap());
    let newidentity = b"{\"type\":\"newidentity\",\"identity\":\"Adel\"}\n";
    let approved = raw_reply(&mut raw, newidentity).await.unwrap();
    assert!(approved.contains("\"approved\":\"true\""), "{approved}");
    let _hall = raw_reply(&mut raw, b"").await.unwrap();
    let _maria_sees = recv(&mut maria).await;

    // Exactly the limit, with either ending: a message.
    for ending in [&b"\n"[..], b"\r\n"] {
        let mut exact = message_line_of(convene_chat::MAX_LINE);
        exact.extend_from_slice(ending);
        raw.get_mut().write_all(&exact).await.unwrap();
        match recv(&mut maria).await {
            ServerMessage::Message { identity, content } => {
                assert_eq!(identity, "Adel");
                assert_eq!(content.len(), convene_chat::MAX_LINE - 31);
            }
            other => panic!("expected Adel's long message, got {other:?}"),
        }
    }
    // One byte over: an error, then the connection closes.
    let mut over = message_line_of(convene_chat::MAX_LINE + 1);
    over.extend_from_slice(b"\r\n");
    let reply = raw_reply(&mut raw, &over).await.unwrap();
    assert!(
        reply.contains(&format!(
            "line longer than {} bytes; closing",
            convene_chat::MAX_LINE
        )),
        "{reply}"
    );
    let mut rest = String::new();
    let eof = tokio::time::timeout(WAIT, raw.read_line(&mut rest)).await;
    assert!(matches!(eof, Ok(Ok(0)) | Ok(Err(_))), "{rest}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_get_an_error_and_the_connection_and_the_room_keep_working() {
    let c = TestCluster::start(&[chat("s1")]).await;
    let mut maria = login(&c, "s1", "Maria").await;

    let stream = TcpStream::connect(addr(&c, "s1")).await.unwrap();
    let mut raw = BufReader::new(stream);
    let newidentity = b"{\"type\":\"newidentity\",\"identity\":\"Adel\"}\n";
    let approved = raw_reply(&mut raw, newidentity).await.unwrap();
    assert!(approved.contains("\"approved\":\"true\""), "{approved}");
    let _hall = raw_reply(&mut raw, b"").await.unwrap();
    let _maria_sees = recv(&mut maria).await;

    for (bad, why) in [
        (&b"not json\n"[..], "not JSON"),
        (b"{\"type\":\"dance\"}\n", "unknown type"),
        (b"{\"type\":\"joinroom\"}\n", "missing roomid"),
        (
            b"{\"type\":\"message\",\"content\":7}\n",
            "content not a string",
        ),
        (b"[1,2,3]\n", "not an object"),
        (b"\xff\xfe{}\n", "not UTF-8"),
    ] {
        let reply = raw_reply(&mut raw, bad).await;
        let reply = reply.unwrap_or_else(|| panic!("{why}: connection closed"));
        assert!(
            reply.starts_with("{\"type\":\"error\",\"reason\":"),
            "{why}: {reply}"
        );
    }
    // Still a member: a message reaches Maria.
    raw.get_mut()
        .write_all(b"{\"type\":\"message\",\"content\":\"still here\"}\n")
        .await
        .unwrap();
    assert_eq!(
        recv(&mut maria).await,
        ServerMessage::Message {
            identity: "Adel".into(),
            content: "still here".into()
        }
    );

    // A line over the limit: an error, then the connection closes, and the
    // client is gone as if it had disconnected.
    let mut long = vec![b'x'; convene_chat::MAX_LINE + 10];
    long.push(b'\n');
    let reply = raw_reply(&mut raw, &long).await.unwrap();
    assert!(reply.contains("longer than"), "{reply}");
    let mut rest = String::new();
    let eof = tokio::time::timeout(WAIT, raw.read_line(&mut rest)).await;
    assert!(matches!(eof, Ok(Ok(0)) | Ok(Err(_))), "{rest}");
    assert_eq!(recv(&mut maria).await, rc("Adel", "MainHall-s1", ""));

    // A client that connects and says nothing does not hold anyone up.
    let _silent = TcpStream::connect(addr(&c, "s1")).await.unwrap();
    let mut bob = login(&c, "s1", "Bob").await;
    assert_eq!(recv(&mut maria).await, rc("Bob", "", "MainHall-s1"));
    say(&mut bob, &mut maria, "hello").await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off_and_the_room_goes_on() {
    let c = TestCluster::start(&[chat("s1")]).await;
    let mut talker = login(&c, "s1", "Talker").await;
    let mut listener = login(&c, "s1", "Listener").await;
    let _ = recv(&mut talker).await; // Listener arrives
    // The sloth joins and never reads again.
    let sloth = login(&c, "s1", "Sloth").await;
    let _ = recv(&mut talker).await;
    let _ = recv(&mut listener).await;

    let content = "z".repeat(16 * 1024);
    let stats = || {
        c.node("s1")
            .chat()
            .stats()
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let mut sent = 0;
    while stats() == 0 {
        assert!(sent < 20_000, "the sloth was never cut off");
        // The listener reads along, so only the sloth falls behind.
        say(&mut talker, &mut listener, &content).await;
        sent += 1;
    }
    // Everyone else hears that the sloth left, and keeps chatting.
    let left = rc("Sloth", "MainHall-s1", "");
    assert_eq!(recv(&mut listener).await, left);
    assert_eq!(recv(&mut talker).await, left);
    say(&mut talker, &mut listener, "after").await;
    drop(sloth);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_servers_names_are_kept_until_it_restarts_and_a_recovering_coordinator_keeps_them_unique()
 {
    let mut c = three_servers().await;
    // s3 has the highest priority: it coordinates.
    let mut adel = login(&c, "s1", "Adel").await;
    let sam = login(&c, "s3", "Sam").await;
    let mut maria = login(&c, "s2", "Maria").await;
    move_to(&mut maria, "MainHall-s1", "s1").await;
    let _ = recv(&mut maria).await; // her roomchange
    let _ = recv(&mut adel).await;

    // The coordinator goes: s2 takes over, rebuilt from the views of s1 and s2.
    c.stop_node("s3").await;
    drop(sam);
    // Identities held on live servers stay unique under the new coordinator...
    assert!(try_login(&c, "s2", "Adel").await.is_none());
    assert!(try_login(&c, "s2", "Maria").await.is_none());
    // ...and the dead server's are kept for it: it cannot be told from a
    // server cut off with its clients, whose names must not go twice.
    assert!(
        try_login(&c, "s1", "Sam").await.is_none(),
        "Sam kept for s3"
    );

    // Clients keep chatting throughout.
    say(&mut adel, &mut maria, "still here").await;

    // s3 recovers with the highest priority and takes over again, rebuilding
    // from every live view and a majority's copies: nothing is lost, nothing
    // can be taken twice, and what its old incarnation held is free.
    c.start_node("s3").await;
    let coordinator = c.node("s3").membership().coordinator();
    let mut coordinator = coordinator;
    tokio::time::timeout(WAIT, coordinator.wait_for(|c| *c == Some(2)))
        .await
        .expect("s3 takes over")
        .unwrap();
    let _sam = try_login(&c, "s1", "Sam").await.expect("Sam released");
    let _ = recv(&mut adel).await;
    let _ = recv(&mut maria).await;
    for name in ["Adel", "Maria", "Sam"] {
        assert!(try_login(&c, "s3", name).await.is_none(), "{name}");
    }
    assert!(try_login(&c, "s3", "Newcomer").await.is_some());
    c.stop().await;
}
