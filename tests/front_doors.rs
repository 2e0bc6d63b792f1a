//! The TCP front doors cannot be exhausted (web, chat, meet), and the web
//! front serves TLS. Each test shrinks the limits it checks in the cluster
//! file's `[limits]` (timeouts of a second) so it runs in seconds, and
//! asserts what a client sees: a closed connection, a `503`, an `error`
//! line, a `Secure` cookie.
//!
//! Every test here fails on the code before the front doors had limits:
//! connections were never closed, and never refused.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use convene_chat::client::ChatSession;
use convene_chat::{ClientMessage, ServerMessage};
use convene_web::client::{ClientTls, HttpClient};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

use crate::util::{
    FAST_ELECTION, NodeSpec, SPEC_A, TestCluster, backend, chat, eventually, interactive, main,
    ready, web,
};

/// Longest any step waits before the test fails (never reached when the
/// code is right; the timeouts under test are a second).
const WAIT: Duration = Duration::from_secs(15);

/// A cluster of `specs` with `limits` as its `[limits]` table, started.
async fn cluster_with(specs: &[NodeSpec], limits: &str) -> TestCluster {
    let tail = format!("{FAST_ELECTION}[limits]\n{limits}\n");
    let mut c = TestCluster::bind_with(specs, &tail).await;
    for spec in specs {
        c.start_node(spec.id).await;
    }
    c.wait_ready().await;
    c
}

/// One web node W with `limits`; its HTTP address.
async fn web_node(limits: &str) -> (TestCluster, SocketAddr) {
    let c = cluster_with(&[web("W")], limits).await;
    let addr = c.node("W").http_addr().unwrap();
    (c, addr)
}

/// A connection to `to` from the loopback address `from` (127.0.0.2 is
/// another client to the server's per-address counts).
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// Reads until the server closes the connection; what it sent. Fails the
/// test if the server keeps it open past [`WAIT`].
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut heard = Vec::new();
    match tokio::time::timeout(WAIT, stream.read_to_end(&mut heard)).await {
        Ok(_) => String::from_utf8_lossy(&heard).into_owned(),
        Err(_) => panic!(
            "the server kept the connection open for {WAIT:?}; it sent {:?}",
            String::from_utf8_lossy(&heard)
        ),
    }
}

/// `GET path` on a new connection from `from`, `Connection: close`; the
/// whole response as text.
async fn get_from(from: &str, to: SocketAddr, path: &str) -> String {
    let mut stream = connect_from(from, to).await;
    let request = format!("GET {path} HTTP/1.1\r\nhost: w\r\nconnection: close\r\n\r\n");
    // A refused connection may be closed before the request is written.
    let _ = stream.write_all(request.as_bytes()).await;
    until_closed(&mut stream).await
}

/// `GET path` from `from` until the server answers 200 (a place under
/// the caps came free); fails after [`WAIT`].
async fn until_admitted(from: &str, to: SocketAddr, path: &str) {
    eventually(WAIT, "to be admitted again", || async {
        let response = get_from(from, to, path).await;
        if response.starts_with("HTTP/1.1 200") {
            return Ok(());
        }
        assert!(
            response.starts_with("HTTP/1.1 503"),
            "neither admitted nor told to wait: {response:?}"
        );
        Err(response)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_headers_are_cut_after_the_header_timeout() {
    let (c, addr) = web_node("http_header_seconds = 1\nhttp_idle_seconds = 60").await;

    // Half a request line, then nothing.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /login HT").await.unwrap();
    assert_eq!(until_closed(&mut half).await, "", "closed without a word");

    // A trickle, one byte every 100 ms: each byte does not buy more time.
    let trickle = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = trickle.into_split();
    let sender = tokio::spawn(async move {
        for byte in b"GET /login HTTP/1.1\r\nhost: w\r\nx-pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n" {
            if write.write_all(&[*byte]).await.is_err() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    });
    let mut heard = Vec::new();
    tokio::time::timeout(WAIT, read.read_to_end(&mut heard))
        .await
        .expect("a trickling client is cut off")
        .ok();
    assert!(heard.is_empty(), "{:?}", String::from_utf8_lossy(&heard));
    sender.abort();

    // A body that never comes: the request fails and the connection closes.
    let mut no_body = TcpStream::connect(addr).await.unwrap();
    no_body
        .write_all(b"POST /api/login HTTP/1.1\r\nhost: w\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"user")
        .await
        .unwrap();
    let answer = until_closed(&mut no_body).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    // Everyone else is served as before.
    let page = HttpClient::new(addr).get("/login").await.unwrap();
    assert_eq!(page.status, 200);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_and_the_client_reconnects() {
    let (c, addr) = web_node("http_idle_seconds = 1").await;

    let stream = TcpStream::connect(addr).await.unwrap();
    let mut stream = BufReader::new(stream);
    stream
        .get_mut()
        .write_all(b"GET /style.css HTTP/1.1\r\nhost: w\r\n\r\n")
        .await
        .unwrap();
    let mut length = 0;
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    loop {
        line.clear();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(n) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = n.trim().parse().unwrap();
        }
        assert!(!line.to_ascii_lowercase().starts_with("connection: close"));
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    // Kept alive after the response, then closed once idle for a second.
    assert_eq!(until_closed(stream.get_mut()).await, "");

    // Convene's client notices and reconnects: the user sees nothing.
    let mut client = HttpClient::new(addr);
    assert_eq!(client.get("/login").await.unwrap().status, 200);
    // A wait for time to pass: past the idle timeout (1 s), so the server
    // has closed the kept-alive connection.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(client.get("/login").await.unwrap().status, 200);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_per_address_cap_get_503_until_one_closes() {
    let (c, addr) = web_node("http_connections_per_ip = 2").await;
    let held = [
        connect_from("127.0.0.1", addr).await,
        connect_from("127.0.0.1", addr).await,
    ];
    let refused = get_from("127.0.0.1", addr, "/login").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("retry-after: 5\r\n"), "{refused}");
    assert!(
        refused.ends_with(
            "too many connections from your address (at most 2); close some and try again\n"
        ),
        "{refused}"
    );
    // Another address is not held back by this one.
    assert!(
        get_from("127.0.0.2", addr, "/login")
            .await
            .starts_with("HTTP/1.1 200")
    );

    let [first, _second] = held;
    drop(first);
    until_admitted("127.0.0.1", addr, "/login").await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_total_cap_get_503_until_one_closes() {
    let (c, addr) = web_node("http_connections = 2").await;
    let first = connect_from("127.0.0.1", addr).await;
    let _second = connect_from("127.0.0.2", addr).await;
    let refused = get_from("127.0.0.3", addr, "/login").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.ends_with("the server is at its limit of 2 connections; try again later\n"),
        "{refused}"
    );
    drop(first);
    until_admitted("127.0.0.3", addr, "/login").await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_pages_and_only_tls_gets_secure_cookies_and_hsts() {
    let secure = NodeSpec {
        tls: true,
        ..web("S")
    };
    let c = cluster_with(&[secure, web("P")], "").await;
    let (s, p) = (
        c.node("S").http_addr().unwrap(),
        c.node("P").http_addr().unwrap(),
    );
    let trust = ClientTls::new("localhost", Some(&c.path("S.crt"))).unwrap();

    // Over TLS: pages, Secure cookies, HSTS; a session that works.
    let mut alice = HttpClient::with_tls(s, trust.clone());
    let page = alice.get("/login").await.unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let csrf = page.header("set-cookie").expect("the login form's cookie");
    assert!(
        csrf.starts_with("convene_csrf=") && csrf.ends_with("; Secure"),
        "{csrf}"
    );
    let account = json!({"username": "alice", "password": "correct horse", "time_zone": "UTC"});
    assert_eq!(
        alice
            .post_json("/api/register", &account)
            .await
            .unwrap()
            .status,
        201
    );
    let credentials = json!({"username": "alice", "password": "correct horse"});
    let login = alice.post_json("/api/login", &credentials).await.unwrap();
    assert_eq!(login.status, 200, "{}", login.text());
    let session = login
        .headers_named("set-cookie")
        .find(|c| c.starts_with("convene_session="))
        .expect("a session cookie");
    assert!(session.ends_with("; Secure"), "{session}");
    assert_eq!(alice.get("/api/events").await.unwrap().status, 200);

    // The same cluster's plain node: neither.
    let mut bob = HttpClient::new(p);
    let page = bob.get("/login").await.unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(page.header("strict-transport-security"), None);
    let csrf = page.header("set-cookie").expect("the login form's cookie");
    assert!(!csrf.to_ascii_lowercase().contains("secure"), "{csrf}");

    // The TLS port does not serve pages in clear, but says why; a client
    // that does not trust the certificate does not talk to it.
    let clear = HttpClient::new(s).get("/login").await.unwrap();
    assert_eq!(clear.status, 400);
    assert!(clear.text().contains("HTTPS only"), "{}", clear.text());
    let wrong_name = ClientTls::new("example.org", Some(&c.path("S.crt"))).unwrap();
    assert!(
        HttpClient::with_tls(s, wrong_name)
            .get("/login")
            .await
            .is_err()
    );
    if let Ok(system_only) = ClientTls::new("localhost", None) {
        assert!(
            HttpClient::with_tls(s, system_only)
                .get("/login")
                .await
                .is_err()
        );
    }

    // A client made from the URL an operator would type.
    let url = format!("https://localhost:{}/", s.port());
    let mut carol = HttpClient::from_url(&url, Some(&c.path("S.crt")))
        .await
        .unwrap();
    assert_eq!(carol.get("/login").await.unwrap().status, 200);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_bad_certificate_or_key_stops_the_node_naming_the_file() {
    let secure = NodeSpec {
        tls: true,
        ..web("S")
    };
    let mut c = TestCluster::bind(&[secure]).await;
    let (cert, key) = (c.path("S.crt"), c.path("S.key"));
    let good_cert = std::fs::read(&cert).unwrap();

    std::fs::remove_file(&cert).unwrap();
    let error = c.try_start_node("S").await.unwrap_err().to_string();
    assert!(error.contains("cannot read tls_cert"), "{error}");
    assert!(error.contains(&cert.display().to_string()), "{error}");

    std::fs::write(&cert, &good_cert).unwrap();
    std::fs::write(&key, "not a key\n").unwrap();
    let error = c.try_start_node("S").await.unwrap_err().to_string();
    assert!(error.contains("holds no private key"), "{error}");
    assert!(error.contains(&key.display().to_string()), "{error}");

    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
    let error = c.try_start_node("S").await.unwrap_err().to_string();
    assert!(
        error.contains("S.crt") && error.contains("S.key"),
        "{error}"
    );
    c.stop().await;
}

/// One chat server s1 with `limits`; its chat address.
async fn chat_node(limits: &str) -> (TestCluster, SocketAddr) {
    let c = cluster_with(&[chat("s1")], limits).await;
    let addr = c.cluster.node("s1").unwrap().chat_addr().unwrap();
    (c, addr)
}

/// One line from a chat or meet server, if one comes in time.
async fn line_from(stream: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    tokio::time::timeout(WAIT, stream.read_line(&mut line))
        .await
        .expect("a line in time")
        .unwrap();
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_connections_past_the_per_address_cap_are_told_and_closed() {
    let (c, addr) = chat_node("chat_connections_per_ip = 2").await;
    let mut alice = ChatSession::login(addr, "Alice", WAIT).await.unwrap();
    let held = TcpStream::connect(addr).await.unwrap();

    let mut refused = TcpStream::connect(addr).await.unwrap();
    let heard = until_closed(&mut refused).await;
    let notice: serde_json::Value = serde_json::from_str(heard.trim()).unwrap();
    assert_eq!(notice["type"], "error");
    assert_eq!(
        notice["reason"],
        "too many connections from your address (at most 2); close some and try again"
    );

    // Alice was not disturbed; when a place comes free, Bob gets in.
    alice.send(&ClientMessage::Who).await.unwrap();
    assert!(matches!(
        alice.recv_timeout(WAIT).await.unwrap(),
        ServerMessage::RoomContents { .. }
    ));
    drop(held);
    eventually(WAIT, "Bob to get in", || async {
        let mut bob = BufReader::new(TcpStream::connect(addr).await.unwrap());
        let hello = "{\"type\":\"newidentity\",\"identity\":\"Bob\"}\n";
        let _ = bob.get_mut().write_all(hello.as_bytes()).await;
        let reply = line_from(&mut bob).await;
        if reply.contains("\"approved\":\"true\"") {
            return Ok(());
        }
        assert!(reply.contains("too many connections"), "{reply}");
        Err(reply)
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_connection_without_an_approved_identity_is_closed_whatever_it_sends() {
    let (c, addr) = chat_node("chat_identify_seconds = 1").await;

    // Junk every 100 ms: each line gets an error, none stops the clock.
    let junk = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = junk.into_split();
    let sender = tokio::spawn(async move {
        while write.write_all(b"hello\n").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut heard = Vec::new();
    tokio::time::timeout(WAIT, read.read_to_end(&mut heard))
        .await
        .expect("the server closes a connection that never identifies")
        .ok();
    sender.abort();
    let heard = String::from_utf8_lossy(&heard);
    assert!(
        heard.lines().count() > 1 && heard.lines().all(|l| l.contains("\"type\":\"error\"")),
        "{heard}"
    );
    assert!(
        heard
            .lines()
            .last()
            .unwrap()
            .contains("no identity approved within 1 s; closing"),
        "{heard}"
    );

    // An identified client may then be idle as long as it likes.
    decided_soon(addr).await;
    let mut alice = ChatSession::login(addr, "Alice", WAIT).await.unwrap();
    // A wait for time to pass: well past the identify timeout (1 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    alice.send(&ClientMessage::Who).await.unwrap();
    assert!(matches!(
        alice.recv_timeout(WAIT).await.unwrap(),
        ServerMessage::RoomContents { .. }
    ));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_half_sent_when_the_identity_timer_fires_is_not_lost() {
    let (c, addr) = chat_node("chat_identify_seconds = 1").await;
    decided_soon(addr).await;
    let mut raw = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let hello = "{\"type\":\"newidentity\",\"identity\":\"Alice\"}\n";
    raw.get_mut().write_all(hello.as_bytes()).await.unwrap();
    assert!(line_from(&mut raw).await.contains("\"approved\":\"true\""));
    // Half a line, then the identity timer fires (the identity approved
    // meanwhile), then the rest: the read the timer interrupted kept the
    // half, so the line is whole.
    raw.get_mut().write_all(b"{\"type\":\"wh").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    raw.get_mut().write_all(b"o\"}\n").await.unwrap();
    loop {
        let line = line_from(&mut raw).await;
        assert!(!line.contains("\"type\":\"error\""), "{line}");
        if line.contains("\"type\":\"roomcontents\"") {
            break;
        }
    }
    c.stop().await;
}

/// A main node M and one backend A (alice, eliana) with `limits`; M's
/// client address.
async fn meet_nodes(limits: &str) -> (TestCluster, SocketAddr) {
    let c = cluster_with(&[main("M"), backend("A", SPEC_A)], limits).await;
    let addr = c.main_addr();
    (c, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meet_connections_past_the_per_address_cap_are_told_and_closed() {
    let (c, addr) = meet_nodes("meet_connections_per_ip = 2").await;
    let held = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    let mut refused = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        until_closed(&mut refused).await,
        "error too many connections from your address (at most 2); close some and try again\n"
    );
    let [first, _second] = held;
    drop(first);
    eventually(WAIT, "to be admitted again", || async {
        let reply = crate::util::raw_exchange(addr, b"query alice\n").await;
        ready(
            reply.first().is_some_and(|l| l.starts_with("result")),
            format!("{reply:?}"),
        )
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_meet_connection_is_closed_and_the_client_does_not_notice() {
    let (c, addr) = meet_nodes("meet_idle_seconds = 1").await;

    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert_eq!(until_closed(&mut silent).await, "", "closed without a word");

    // Half a line counts as nothing: the line must be whole in time.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"query ali").await.unwrap();
    assert_eq!(until_closed(&mut half).await, "");

    // A person who thinks longer than the idle time between two queries
    // sees two answers and no error: the client reconnects.
    let input = Paced(vec![
        (Duration::ZERO, b"alice eliana\n\n".to_vec()),
        (Duration::from_millis(2500), b"alice\n\n".to_vec()),
    ]);
    let shown = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut input = std::io::BufReader::new(input);
        convene_meet::client::run_interactive(addr, &mut input, &mut out)
            .expect("no error for a pause");
        String::from_utf8(out).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        shown.matches("Time intervals").count(),
        2,
        "two answers: {shown}"
    );
    // And the ordinary interactive run still works.
    assert!(
        interactive(addr, "alice\n\n")
            .await
            .contains("Time intervals")
    );
    c.stop().await;
}

/// Standard input that arrives in parts, each after a pause (a person
/// thinking).
struct Paced(Vec<(Duration, Vec<u8>)>);

impl Read for Paced {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some((pause, part)) = self.0.first_mut() else {
            return Ok(0);
        };
        std::thread::sleep(std::mem::take(pause));
        let n = part.len().min(buf.len());
        buf[..n].copy_from_slice(&part[..n]);
        part.drain(..n);
        if part.is_empty() {
            self.0.remove(0);
        }
        Ok(n)
    }
}

/// Waits until the chat node at `addr` decides identities promptly: a fresh
/// node decides them only once it holds its own lease, about 2 s after it
/// starts, which a 1 s identify timeout does not wait for. Logs a throwaway
/// identity in until it is approved, then quits it.
async fn decided_soon(addr: SocketAddr) {
    let started = std::time::Instant::now();
    loop {
        match ChatSession::login(addr, "Warmup", WAIT).await {
            Ok(mut session) => {
                session.send(&ClientMessage::Quit).await.unwrap();
                return;
            }
            Err(e) => {
                assert!(started.elapsed() < WAIT, "no identity approved: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
