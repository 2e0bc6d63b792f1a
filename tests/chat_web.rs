//! Chat from a browser's side, over `GET /api/chat` (a WebSocket) on real
//! nodes on loopback: a logged-in account's WebSocket is a client of the
//! node's chat server like any TCP client (same rooms, messages both ways,
//! a join that routes it to another server); strangers get `401`; junk and
//! too-big frames get the chat server's own `error` messages; the page
//! offers a valid identity.
//!
//! The WebSocket client here is a few lines over TCP (the frames come from
//! `convene_web::websocket`), so the test needs nothing a browser has.

use std::net::SocketAddr;
use std::time::Duration;

use convene_chat::client::ChatSession;
use convene_chat::{ClientMessage, ServerMessage};
use convene_web::client::HttpClient;
use convene_web::websocket::{accept_key, client_frame, opcode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{FAST_ELECTION, NodeSpec, TestCluster, eventually, plain, register};

const WAIT: Duration = Duration::from_secs(15);

/// A has the web front and a chat server; B a chat server only.
async fn cluster() -> TestCluster {
    cluster_with("").await
}

/// As [`cluster`], with `limits` (a `[limits]` table) in the cluster file.
async fn cluster_with(limits: &str) -> TestCluster {
    let a = NodeSpec {
        web: true,
        chat: true,
        ..plain("A")
    };
    let b = NodeSpec {
        chat: true,
        ..plain("B")
    };
    let mut c = TestCluster::bind_with(&[a, b], &format!("{FAST_ELECTION}{limits}")).await;
    c.start_node("A").await;
    c.start_node("B").await;
    c
}

fn web(c: &TestCluster) -> SocketAddr {
    c.node("A").http_addr().unwrap()
}

fn chat_addr(c: &TestCluster, id: &str) -> SocketAddr {
    c.cluster.node(id).unwrap().chat_addr().unwrap()
}

/// `name`'s session token, registered and logged in over the API.
async fn session(web: SocketAddr, name: &str) -> String {
    register(web, name).await;
    let mut client = HttpClient::new(web);
    let body = json!({"username": name, "password": "password1"});
    let r = client.post_json("/api/login", &body).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    client.cookie("convene_session").unwrap().to_string()
}

/// A minimal WebSocket client.
struct Ws {
    tcp: TcpStream,
    /// Bytes read past the last frame.
    buffer: Vec<u8>,
}

/// What the server sent.
#[derive(Debug, PartialEq)]
enum Got {
    Text(Value),
    Close(u16),
}

/// Sends the opening handshake with `headers`; the response head's status
/// and text, and the socket.
async fn handshake(web: SocketAddr, headers: &str) -> (u16, String, Ws) {
    let mut tcp = TcpStream::connect(web).await.unwrap();
    let request = format!("GET /api/chat HTTP/1.1\r\nhost: {web}\r\n{headers}\r\n",);
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, tcp.read(&mut byte))
            .await
            .expect("a response in time")
            .unwrap();
        assert_eq!(n, 1, "closed before the response head ended: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head[9..12].parse().unwrap();
    (
        status,
        head,
        Ws {
            tcp,
            buffer: Vec::new(),
        },
    )
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_headers(token: Option<&str>) -> String {
    let mut headers = format!(
        "upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: {KEY}\r\n"
    );
    if let Some(token) = token {
        headers.push_str(&format!("cookie: convene_session={token}\r\n"));
    }
    headers
}

impl Ws {
    async fn open(web: SocketAddr, token: &str) -> Ws {
        let (status, head, ws) = handshake(web, &upgrade_headers(Some(token))).await;
        assert_eq!(status, 101, "{head}");
        let accept = format!("sec-websocket-accept: {}", accept_key(KEY));
        assert!(
            head.to_ascii_lowercase()
                .contains(&accept.to_ascii_lowercase()),
            "{head}"
        );
        ws
    }

    async fn send_raw(&mut self, opcode: u8, payload: &[u8]) {
        let frame = client_frame(true, opcode, payload, [0x12, 0x34, 0x56, 0x78]);
        self.tcp.write_all(&frame).await.unwrap();
    }

    async fn send(&mut self, message: Value) {
        self.send_raw(opcode::TEXT, message.to_string().as_bytes())
            .await;
    }

    async fn fill(&mut self, want: usize) {
        while self.buffer.len() < want {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, self.tcp.read(&mut chunk))
                .await
                .expect("a frame in time")
                .unwrap();
            assert!(n > 0, "the server closed without a close frame");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next text message or close frame (pings and pongs skipped).
    async fn recv(&mut self) -> Got {
        loop {
            let (op, payload) = self.recv_frame().await;
            match op {
                opcode::TEXT => return Got::Text(serde_json::from_slice(&payload).unwrap()),
                opcode::CLOSE => return Got::Close(u16::from_be_bytes([payload[0], payload[1]])),
                _ => continue,
            }
        }
    }

    /// The next frame: its opcode and payload.
    async fn recv_frame(&mut self) -> (u8, Vec<u8>) {
        self.fill(2).await;
        assert_eq!(self.buffer[1] & 0x80, 0, "server frames are not masked");
        let (len, at) = match self.buffer[1] & 0x7F {
            126 => {
                self.fill(4).await;
                (
                    usize::from(u16::from_be_bytes([self.buffer[2], self.buffer[3]])),
                    4,
                )
            }
            127 => panic!("no chat message is that long"),
            n => (usize::from(n), 2),
        };
        self.fill(at + len).await;
        let op = self.buffer[0] & 0x0F;
        let payload: Vec<u8> = self.buffer[at..at + len].to_vec();
        self.buffer.drain(..at + len);
        (op, payload)
    }

    /// The next message of `kind`, skipping others.
    async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            match self.recv().await {
                Got::Text(message) if message["type"] == kind => return message,
                Got::Text(_) => continue,
                Got::Close(code) => panic!("closed ({code}) while waiting for {kind}"),
            }
        }
    }
}

/// A TCP chat client `identity` on the chat server at `server` that has
/// made room `room` there (a room on another server than a browser's).
pub(crate) async fn owner_of_room(server: SocketAddr, identity: &str, room: &str) -> ChatSession {
    let mut owner = ChatSession::login(server, identity, WAIT).await.unwrap();
    owner
        .send(&ClientMessage::CreateRoom {
            roomid: room.into(),
        })
        .await
        .unwrap();
    tcp_until(&mut owner, |m| {
        matches!(m, ServerMessage::CreateRoom { approved: true, .. })
    })
    .await;
    owner
}

/// The next message `session` gets that `wanted` picks.
pub(crate) async fn tcp_until(
    session: &mut ChatSession,
    wanted: impl Fn(&ServerMessage) -> bool,
) -> ServerMessage {
    loop {
        let message = session.recv_timeout(WAIT).await.unwrap();
        if wanted(&message) {
            return message;
        }
    }
}

/// A browser's WebSocket logged in as `identity`, in MainHall-A.
async fn browser(c: &TestCluster, account: &str, identity: &str) -> Ws {
    let token = session(web(c), account).await;
    let mut ws = Ws::open(web(c), &token).await;
    ws.send(json!({"type": "newidentity", "identity": identity}))
        .await;
    assert_eq!(
        ws.recv_type("newidentity").await,
        json!({"type": "newidentity", "approved": "true"})
    );
    assert_eq!(
        ws.recv_type("roomchange").await,
        json!({"type": "roomchange", "identity": identity, "former": "", "roomid": "MainHall-A"})
    );
    ws
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_chats_with_tcp_clients_and_follows_a_route() {
    let c = cluster().await;
    let mut ada = browser(&c, "ada", "ada").await;

    // A room made in the browser is one TCP clients see and join.
    ada.send(json!({"type": "createroom", "roomid": "jokes"}))
        .await;
    assert_eq!(
        ada.recv_type("createroom").await,
        json!({"type": "createroom", "roomid": "jokes", "approved": "true"})
    );
    let mut bob = ChatSession::login(chat_addr(&c, "A"), "Bob", WAIT)
        .await
        .unwrap();
    bob.send(&ClientMessage::List).await.unwrap();
    let list = tcp_until(&mut bob, |m| matches!(m, ServerMessage::RoomList { .. })).await;
    assert!(
        matches!(&list, ServerMessage::RoomList { rooms } if rooms.contains(&"jokes".to_string())),
        "{list:?}"
    );
    bob.send(&ClientMessage::JoinRoom {
        roomid: "jokes".into(),
    })
    .await
    .unwrap();
    let bob_moved = loop {
        let change = ada.recv_type("roomchange").await;
        if change["identity"] == "Bob" {
            break change;
        }
    };
    assert_eq!(
        bob_moved,
        json!({"type": "roomchange", "identity": "Bob", "former": "MainHall-A", "roomid": "jokes"})
    );

    // Messages both ways.
    ada.send(json!({"type": "message", "content": "hi Bob, from a browser"}))
        .await;
    let heard = tcp_until(&mut bob, |m| matches!(m, ServerMessage::Message { .. })).await;
    assert_eq!(
        heard,
        ServerMessage::Message {
            identity: "ada".into(),
            content: "hi Bob, from a browser".into()
        }
    );
    bob.send(&ClientMessage::Message {
        content: "hi ada".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        ada.recv_type("message").await,
        json!({"type": "message", "identity": "Bob", "content": "hi ada"})
    );
    ada.send(json!({"type": "who"})).await;
    let who = ada.recv_type("roomcontents").await;
    let mut members: Vec<&str> = who["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    members.sort_unstable();
    assert_eq!(
        (&who["roomid"], members, &who["owner"]),
        (&json!("jokes"), vec!["Bob", "ada"], &json!("ada"))
    );

    // A room on B: the browser is routed there, moves with `movejoin`
    // over the same WebSocket, and chats with B's clients.
    let mut cy = owner_of_room(chat_addr(&c, "B"), "Cyril", "far").await;
    ada.send(json!({"type": "deleteroom", "roomid": "jokes"}))
        .await;
    ada.recv_type("deleteroom").await;
    ada.send(json!({"type": "joinroom", "roomid": "far"})).await;
    let route = ada.recv_type("route").await;
    assert_eq!(route["roomid"], "far");
    assert_eq!(route["port"], chat_addr(&c, "B").port().to_string());
    ada.send(
        json!({"type": "movejoin", "identity": "ada", "former": "MainHall-A", "roomid": "far"}),
    )
    .await;
    assert_eq!(
        ada.recv_type("serverchange").await,
        json!({"type": "serverchange", "approved": "true", "serverid": "B"})
    );
    tcp_until(
        &mut cy,
        |m| matches!(m, ServerMessage::RoomChange { identity, .. } if identity == "ada"),
    )
    .await;
    cy.send(&ClientMessage::Message {
        content: "welcome to B".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        ada.recv_type("message").await,
        json!({"type": "message", "identity": "Cyril", "content": "welcome to B"})
    );
    ada.send(json!({"type": "message", "content": "thanks"}))
        .await;
    let heard = tcp_until(&mut cy, |m| matches!(m, ServerMessage::Message { .. })).await;
    assert_eq!(
        heard,
        ServerMessage::Message {
            identity: "ada".into(),
            content: "thanks".into()
        }
    );

    // Quitting ends the WebSocket after the quit's roomchange.
    ada.send(json!({"type": "quit"})).await;
    assert_eq!(
        ada.recv_type("roomchange").await,
        json!({"type": "roomchange", "identity": "ada", "former": "far", "roomid": ""})
    );
    assert!(matches!(ada.recv().await, Got::Close(1000)));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_websocket_outlives_the_http_timeouts() {
    let limits = "[limits]\nhttp_idle_seconds = 1\nhttp_header_seconds = 1\n";
    let c = cluster_with(limits).await;
    let mut ada = browser(&c, "ada", "ada").await;
    // (A wait for time to pass: past the timeouts that close a quiet HTTP
    // connection, or one whose request takes too long.)
    tokio::time::sleep(Duration::from_millis(2500)).await;
    ada.send(json!({"type": "who"})).await;
    assert_eq!(
        ada.recv_type("roomcontents").await,
        json!({"type": "roomcontents", "roomid": "MainHall-A", "identities": ["ada"], "owner": ""})
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn open_websockets_count_against_the_connection_caps() {
    let c = cluster_with("[limits]\nhttp_connections_per_ip = 2\n").await;
    let token = session(web(&c), "ada").await;
    // The login's own connection may still hold a place for a moment.
    let open = || async {
        let (status, head, ws) = handshake(web(&c), &upgrade_headers(Some(&token))).await;
        if status == 101 { Ok(ws) } else { Err(head) }
    };
    let first = eventually(WAIT, "a first WebSocket", open).await;
    let _second = eventually(WAIT, "a second WebSocket", open).await;
    let (status, head, _) = handshake(web(&c), &upgrade_headers(Some(&token))).await;
    assert_eq!(status, 503, "{head}");
    drop(first);
    eventually(WAIT, "a place again once one closes", open).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_chat_needs_a_session_and_a_websocket() {
    let c = cluster().await;
    let (status, head, _) = handshake(web(&c), &upgrade_headers(None)).await;
    assert_eq!(status, 401, "{head}");
    let (status, head, _) = handshake(web(&c), &upgrade_headers(Some("not-a-token"))).await;
    assert_eq!(status, 401, "{head}");
    let token = session(web(&c), "eve").await;
    let mut client = HttpClient::new(web(&c));
    client.set_cookie("convene_session", Some(&token));
    let r = client.get("/api/chat").await.unwrap();
    assert_eq!(r.status, 426, "{}", r.text());
    assert!(
        r.json().unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("WebSocket")
    );
    // A page of another site may not use the browser's cookie.
    let foreign = format!(
        "{}origin: https://evil.example\r\n",
        upgrade_headers(Some(&token))
    );
    let (status, head, _) = handshake(web(&c), &foreign).await;
    assert_eq!(status, 403, "{head}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_frames_get_the_chat_servers_errors() {
    let c = cluster().await;
    let token = session(web(&c), "mallory").await;

    // Junk is answered and the connection stays; identity rules hold.
    let mut ws = Ws::open(web(&c), &token).await;
    ws.send_raw(opcode::TEXT, b"not json").await;
    let error = ws.recv_type("error").await;
    assert!(error["reason"].as_str().unwrap().len() > 3, "{error}");
    ws.send(json!({"type": "newidentity", "identity": "1ab"}))
        .await;
    assert_eq!(
        ws.recv_type("newidentity").await,
        json!({"type": "newidentity", "approved": "false"})
    );
    assert!(matches!(ws.recv().await, Got::Close(_)));

    // A message over the line limit: the chat port's own notice, then a
    // close (1009), without the server reading it.
    let mut ws = Ws::open(web(&c), &token).await;
    let huge = vec![b'x'; convene_chat::MAX_LINE + 1];
    ws.send_raw(opcode::TEXT, &huge).await;
    let error = ws.recv_type("error").await;
    assert!(
        error["reason"].as_str().unwrap().contains("longer than"),
        "{error}"
    );
    assert_eq!(ws.recv().await, Got::Close(1009));

    // A newline inside a frame cannot make two lines.
    let mut ws = Ws::open(web(&c), &token).await;
    ws.send_raw(
        opcode::TEXT,
        b"{\"type\":\n\"newidentity\",\"identity\":\"Mallory\"}\n{\"type\":\"list\"}",
    )
    .await;
    ws.recv_type("error").await;
    // A pretty-printed message is still one message.
    ws.send_raw(
        opcode::TEXT,
        b"{\n  \"type\": \"newidentity\",\n  \"identity\": \"Mallory\"\n}",
    )
    .await;
    assert_eq!(
        ws.recv_type("newidentity").await,
        json!({"type": "newidentity", "approved": "true"})
    );
    ws.recv_type("roomchange").await;
    // A ping is answered with its payload.
    ws.send_raw(opcode::PING, b"are you there").await;
    assert_eq!(
        ws.recv_frame().await,
        (opcode::PONG, b"are you there".to_vec())
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_without_an_identity_is_closed_like_a_tcp_client() {
    let c = cluster_with("[limits]\nchat_identify_seconds = 1\n").await;
    let token = session(web(&c), "ada").await;
    let mut ws = Ws::open(web(&c), &token).await;
    ws.send(json!({"type": "list"})).await;
    let error = ws.recv_type("error").await;
    assert_eq!(
        error["reason"], "no identity approved within 1 s; closing",
        "{error}"
    );
    assert_eq!(ws.recv().await, Got::Close(1000));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_offers_a_valid_identity() {
    let c = cluster().await;
    for (account, offered, says_why) in [
        ("grace", "grace", false),
        ("ada.lovelace", "adalovelace", true),
    ] {
        let token = session(web(&c), account).await;
        let mut client = HttpClient::new(web(&c));
        client.set_cookie("convene_session", Some(&token));
        let r = client.get("/chat").await.unwrap();
        assert_eq!(r.status, 200);
        let page = r.text();
        assert!(page.contains(&format!("value=\"{offered}\"")), "{page}");
        assert_eq!(
            page.contains("cannot be a chat identity"),
            says_why,
            "{account}"
        );
        assert!(
            page.contains("href=\"/chat\""),
            "the nav bar links the chat"
        );
        assert!(page.contains("src=\"/chat.js?v="));
    }
    let mut client = HttpClient::new(web(&c));
    let r = client.get("/chat.js").await.unwrap();
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    c.stop().await;
}

/// A process whose input the test writes and whose lines it reads: the
/// page's script, run by Node with a stand-in DOM
/// (`tests/js/chat_page.mjs`), or `convene chat`. The child is killed when
/// this is dropped.
struct Page {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Page {
    /// `None` when Node (20 or later, for its WebSocket) is not installed.
    fn start(web: SocketAddr, token: &str) -> Option<Page> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let has_websocket = std::process::Command::new("node")
            .args(["--no-warnings", "--experimental-websocket", "-e"])
            .arg("process.exit(typeof WebSocket === 'function' ? 0 : 1)")
            .status()
            .is_ok_and(|status| status.success());
        if !has_websocket {
            // Where the browser tests are required (CI), so is this one:
            // the page's script must not go untested without a word.
            assert!(
                std::env::var("CONVENE_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "the page script test needs `node` 20 or later (with a WebSocket)"
            );
            eprintln!("skipping the page script test: no `node` with a WebSocket (Node 20+)");
            return None;
        }
        let mut command = std::process::Command::new("node");
        command
            .arg("--no-warnings")
            .arg("--experimental-websocket")
            .arg(root.join("tests/js/chat_page.mjs"))
            .env("WEB", web.to_string())
            .env("TOKEN", token)
            .env("SERVER", "A")
            .env("SCRIPT", root.join("crates/web/src/scripts/chat.js"));
        Some(Page::spawn(command))
    }

    /// Runs `command`, its input and output piped.
    fn spawn(mut command: std::process::Command) -> Page {
        use std::io::BufRead;
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Page {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    fn command(&mut self, line: &str) {
        use std::io::Write;
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits until the page prints `wanted`.
    async fn shows(&mut self, wanted: &str) {
        let found = tokio::time::timeout(WAIT, async {
            loop {
                match self.lines.recv().await {
                    Some(line) if line == wanted => return,
                    Some(line) => self.seen.push(line),
                    None => panic!("the page script ended; it showed {:?}", self.seen),
                }
            }
        })
        .await;
        if found.is_err() {
            panic!(
                "the page never showed {wanted:?}; it showed {:?}",
                self.seen
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_script_chats_with_a_tcp_client() {
    let c = cluster().await;
    let token = session(web(&c), "ada").await;
    let Some(mut page) = Page::start(web(&c), &token) else {
        return;
    };
    page.command("connect ada");
    page.shows("STATUS Connected as ada to server A.").await;
    page.shows("ROOM MainHall-A").await;

    // A room made on the page, joined by a TCP client; messages both ways.
    let mut bob = ChatSession::login(chat_addr(&c, "A"), "Bob", WAIT)
        .await
        .unwrap();
    page.command("create webroom");
    page.shows("LOG Room webroom is created.").await;
    page.shows("ROOM webroom").await;
    bob.send(&ClientMessage::JoinRoom {
        roomid: "webroom".into(),
    })
    .await
    .unwrap();
    page.shows("LOG Bob moves from MainHall-A to webroom").await;
    page.command("send hello from the page");
    let heard = tcp_until(&mut bob, |m| matches!(m, ServerMessage::Message { .. })).await;
    assert_eq!(
        heard,
        ServerMessage::Message {
            identity: "ada".into(),
            content: "hello from the page".into()
        }
    );
    bob.send(&ClientMessage::Message {
        content: "hi page".into(),
    })
    .await
    .unwrap();
    page.shows("LOG Bob: hi page").await;
    page.command("who");
    page.shows("LOG webroom contains ada* Bob").await;

    // Delete the room, then join one on B with the room list's button.
    page.command("delete webroom");
    page.shows("LOG Room webroom is deleted.").await;
    let mut cy = owner_of_room(chat_addr(&c, "B"), "Cyril", "far").await;
    page.command("list");
    page.shows("ROOMS MainHall-A (you are here),MainHall-B,far")
        .await;
    page.command("join far");
    page.shows("LOG ada switches to server B").await;
    page.shows("ROOM far").await;
    cy.send(&ClientMessage::Message {
        content: "welcome".into(),
    })
    .await
    .unwrap();
    page.shows("LOG Cyril: welcome").await;

    page.command("quit");
    page.shows("STATUS You left the chat.").await;
    page.command("exit");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_and_convene_chat_talk_both_ways() {
    let c = cluster().await;
    let mut ada = browser(&c, "ada", "ada").await;
    ada.send(json!({"type": "createroom", "roomid": "clihall"}))
        .await;
    ada.recv_type("createroom").await;
    let mut maria = Page::spawn({
        let mut command = crate::util::convene();
        let server = chat_addr(&c, "A").to_string();
        command.args(["chat", "--server", &server, "--identity", "Maria"]);
        command
    });
    maria.shows("User has been approved.").await;
    maria.command("#joinroom clihall");
    maria.shows("Maria moves from MainHall-A to clihall").await;
    maria.command("hello from the terminal");
    assert_eq!(
        ada.recv_type("message").await,
        json!({"type": "message", "identity": "Maria", "content": "hello from the terminal"})
    );
    ada.send(json!({"type": "message", "content": "hello from the browser"}))
        .await;
    maria.shows("ada: hello from the browser").await;
    maria.command("#quit");
    maria.shows("Maria has quit!").await;
    c.stop().await;
}
