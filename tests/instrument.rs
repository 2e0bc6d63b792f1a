//! What each service counts at its front doors, read back from the node's
//! metrics as a scrape reads them: every counter moves by exactly the
//! traffic sent. And `--log-format json`: every line on standard error a
//! JSON record, one of them the request just served.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, SystemTime};

use convene_booking::wire::{Reply, Request};
use convene_chat::ClientMessage;
use convene_chat::client::ChatSession;
use convene_time::WeekTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{TcpStream, UdpSocket};

use crate::util::{
    SPEC_A, SPEC_B, TestCluster, backend, booking, chat, convene, eventually, files, main, ready,
};

const WAIT: Duration = Duration::from_secs(15);

/// The value of one series in a scrape's text (`name{labels}`), 0 when
/// the series is not there yet.
fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
}

/// `convene_requests_total` of one service, door, kind and outcome.
fn requests(service: &str, door: &str, kind: &str, outcome: &str) -> String {
    format!(
        "convene_requests_total{{service=\"{service}\",door=\"{door}\",kind=\"{kind}\",outcome=\"{outcome}\"}}"
    )
}

/// `convene_events_total` of one service and event.
fn events(service: &str, event: &str) -> String {
    format!("convene_events_total{{service=\"{service}\",event=\"{event}\"}}")
}

/// `convene_connections_total` of one service and door.
fn connections(service: &str, door: &str) -> String {
    format!("convene_connections_total{{service=\"{service}\",door=\"{door}\"}}")
}

/// Waits until every `(series, value)` holds in node `id`'s scrape (a
/// request is counted just after its reply is sent); returns the scrape.
async fn counted(c: &TestCluster, id: &str, want: &[(String, u64)]) -> String {
    let metrics = c.node(id).metrics().clone();
    eventually(WAIT, "the counters to reach what was sent", || async {
        let text = metrics.encode();
        let wrong: Vec<String> = want
            .iter()
            .filter(|(series, n)| value(&text, series) != *n)
            .map(|(series, n)| format!("{series} is {}, not {n}", value(&text, series)))
            .collect();
        ready(wrong.is_empty(), format!("{wrong:#?}\n{text}"))?;
        Ok::<_, String>(text)
    })
    .await
}

/// Sends `datagram` from `socket` and waits for one reply.
async fn exchange(socket: &UdpSocket, server: SocketAddr, datagram: &[u8]) -> Reply {
    socket.send_to(datagram, server).await.unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("a reply")
        .unwrap();
    Reply::decode(&buf[..n]).unwrap()
}

fn t(day: u8, hour: u8) -> WeekTime {
    WeekTime::new(day, hour, 0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_counts_each_request_by_type_semantics_and_outcome() {
    let c = TestCluster::start(&[booking("A", true, "facilities = [\"Room\"]")]).await;
    let server = c.node("A").booking_addr().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let query = |id| {
        Request::Query {
            facility: "Room".into(),
            days: vec![0, 1],
        }
        .encode(id)
    };
    let book = |id, day| {
        Request::Book {
            facility: "Room".into(),
            start: t(day, 9),
            end: t(day, 10),
        }
        .encode(id)
    };

    // Three queries, two bookings, one booking refused (taken), one
    // booking sent again (a retry: the reply cache answers it).
    for id in 1..=3 {
        assert!(matches!(
            exchange(&socket, server, &query(id)).await,
            Reply::Availability { .. }
        ));
    }
    let first = book(10, 0);
    let booked = exchange(&socket, server, &first).await;
    assert!(matches!(booked, Reply::Booked { .. }), "{booked:?}");
    assert!(matches!(
        exchange(&socket, server, &book(11, 1)).await,
        Reply::Booked { .. }
    ));
    assert!(matches!(
        exchange(&socket, server, &book(12, 1)).await,
        Reply::Error { code: 2, .. }
    ));
    assert_eq!(exchange(&socket, server, &first).await, booked);
    // A type the seed does not define (answered), and two bytes (not).
    let mut unknown = query(20);
    unknown[0] = 9;
    assert!(matches!(
        exchange(&socket, server, &unknown).await,
        Reply::Error { code: 5, .. }
    ));
    socket.send_to(&[1, 2], server).await.unwrap();

    let text = counted(
        &c,
        "A",
        &[
            (
                requests("booking", "udp", "availability/at_most_once", "ok"),
                3,
            ),
            (requests("booking", "udp", "book/at_most_once", "ok"), 2),
            (
                requests("booking", "udp", "book/at_most_once", "refused"),
                1,
            ),
            (requests("booking", "udp", "book/at_most_once", "cached"), 1),
            (
                requests("booking", "udp", "unknown/at_most_once", "bad_request"),
                1,
            ),
            (events("booking", "reply_cache_hit_front"), 1),
            (events("booking", "dropped_malformed"), 2),
        ],
    )
    .await;
    // The latency histogram saw every answered request of a kind.
    assert_eq!(
        value(
            &text,
            "convene_request_duration_seconds_count{service=\"booking\",door=\"udp\",kind=\"book/at_most_once\"}"
        ),
        4,
        "{text}"
    );

    // Through the web app's handle: door `web`, no semantics.
    let handle = c.node("A").booking().handle();
    let reply = handle
        .execute(&Request::Query {
            facility: "Nowhere".into(),
            days: vec![0],
        })
        .await
        .unwrap();
    assert!(matches!(reply, Reply::Error { code: 1, .. }), "{reply:?}");
    counted(
        &c,
        "A",
        &[(requests("booking", "web", "availability", "not_found"), 1)],
    )
    .await;
    c.stop().await;
}

/// One line to the meet main node, one line back.
async fn ask(
    lines: &mut AsyncBufReader<tokio::net::tcp::OwnedReadHalf>,
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    line: &str,
) -> String {
    write.write_all(line.as_bytes()).await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(WAIT, lines.read_line(&mut reply))
        .await
        .unwrap()
        .unwrap();
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meet_counts_connections_queries_and_their_outcomes() {
    let c = TestCluster::start(&[main("M"), backend("A", SPEC_A), backend("B", SPEC_B)]).await;
    let (read, mut write) = TcpStream::connect(c.main_addr())
        .await
        .unwrap()
        .into_split();
    let mut read = AsyncBufReader::new(read);
    for line in ["query alice bob\n", "query eliana\n"] {
        let reply = ask(&mut read, &mut write, line).await;
        assert!(reply.starts_with("result missing=- "), "{reply}");
    }
    let reply = ask(&mut read, &mut write, "query alice ghost\n").await;
    assert!(reply.starts_with("result missing=ghost "), "{reply}");
    let reply = ask(&mut read, &mut write, "hello there\n").await;
    assert!(reply.starts_with("error "), "{reply}");
    let common = c.node("M").meet().handle().common(&["amy"]).await.unwrap();
    assert_eq!(common.found, ["amy"]);

    counted(
        &c,
        "M",
        &[
            (connections("meet", "tcp"), 1),
            (
                "convene_connections_open{service=\"meet\",door=\"tcp\"}".into(),
                1,
            ),
            (requests("meet", "tcp", "query", "ok"), 2),
            (requests("meet", "tcp", "query", "unknown_user"), 1),
            (requests("meet", "tcp", "invalid", "bad_request"), 1),
            (requests("meet", "web", "query", "ok"), 1),
        ],
    )
    .await;
    drop((read, write));
    counted(
        &c,
        "M",
        &[(
            "convene_connections_open{service=\"meet\",door=\"tcp\"}".into(),
            0,
        )],
    )
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_counts_connections_messages_and_claims() {
    let c = TestCluster::start(&[chat("A")]).await;
    let server = c.node("A").chat_addr().unwrap();
    let mut adel = ChatSession::login(server, "Adel", WAIT).await.unwrap();
    let mut bob = ChatSession::login(server, "Bob", WAIT).await.unwrap();
    for text in ["hello", "again"] {
        adel.send(&ClientMessage::Message {
            content: text.into(),
        })
        .await
        .unwrap();
    }
    // Bob hears both (after Adel's and his own joining lines).
    let mut heard = 0;
    while heard < 2 {
        if let convene_chat::ServerMessage::Message { .. } = bob.recv_timeout(WAIT).await.unwrap() {
            heard += 1;
        }
    }
    let text = counted(
        &c,
        "A",
        &[
            (connections("chat", "tcp"), 2),
            (requests("chat", "tcp", "newidentity", "ok"), 2),
            (requests("chat", "tcp", "message", "ok"), 2),
            (requests("chat", "cluster", "identity_claim", "approved"), 2),
            (events("chat", "message_in"), 4),
        ],
    )
    .await;
    // Each message reached Bob; the joining lines went out too.
    assert!(
        value(&text, &events("chat", "message_out")) >= 2 + 2,
        "{text}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_transfer_is_counted_at_both_ends_with_its_bytes() {
    let mut c = TestCluster::bind(&[files("A", "directory_a"), files("B", "directory_b")]).await;
    let content = vec![7u8; 10_000];
    let path = c.path("directory_a").join("notes.txt");
    std::fs::write(&path, &content).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_724_112_000))
        .unwrap();
    c.start_node("A").await;
    c.start_node("B").await;
    let copy = c.path("directory_b").join("notes.txt");
    eventually(WAIT, "B to hold the file", || async {
        ready(
            std::fs::read(&copy).ok() == Some(content.clone()),
            "not yet",
        )
    })
    .await;
    counted(
        &c,
        "B",
        &[
            (requests("files", "peer", "fetch", "ok"), 1),
            (events("files", "bytes_fetched"), 10_000),
            (events("files", "chunks_fetched"), 1),
        ],
    )
    .await;
    counted(
        &c,
        "A",
        &[
            (requests("files", "peer", "chunk", "ok"), 1),
            (events("files", "bytes_served"), 10_000),
        ],
    )
    .await;
    c.stop().await;
}

/// A one-node cluster with a booking front door, for a node process.
fn write_booking_cluster(dir: &Path, head: &str) -> std::path::PathBuf {
    let path = dir.join("cluster.toml");
    std::fs::write(
        &path,
        format!(
            "{head}[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\nbooking_port = 0\n\
             [node.booking]\nfacilities = [\"Room\"]\n"
        ),
    )
    .unwrap();
    path
}

/// Waits for the node's ports file and returns its booking port.
fn booking_port(ports: &Path, child: &mut Child) -> u16 {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Ok(text) = std::fs::read_to_string(ports)
            && let Some(port) = text
                .lines()
                .find_map(|l| l.strip_prefix("booking="))
                .and_then(|p| p.trim().parse().ok())
        {
            return port;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the node ended first: {status}");
        }
        assert!(std::time::Instant::now() < deadline, "no ports file");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_record_a_line_with_each_request_served() {
    let dir = tempfile::tempdir().unwrap();
    // No secret (loopback): the warning about it must be a record too.
    let config = write_booking_cluster(dir.path(), "");
    let ports = dir.path().join("ports");
    let mut child = convene()
        .args(["node", "--config"])
        .arg(&config)
        .args(["--id", "A", "--log-format", "json", "--ports-file"])
        .arg(&ports)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port = booking_port(&ports, &mut child);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    let request = Request::Query {
        facility: "Room".into(),
        days: vec![0],
    };
    let reply = exchange(&socket, server, &request.encode(1)).await;
    assert!(matches!(reply, Reply::Availability { .. }), "{reply:?}");

    // Stopped as a supervisor stops it; everything it logged is then out.
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let records: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    let me = socket.local_addr().unwrap().to_string();
    let served = records
        .iter()
        .find(|r| r["target"] == "convene_request")
        .unwrap_or_else(|| panic!("no request record in {stderr}"));
    let span = &served["span"];
    assert_eq!(span["service"], "booking", "{served}");
    assert_eq!(span["door"], "udp", "{served}");
    assert_eq!(span["kind"], "availability/at_most_once", "{served}");
    assert_eq!(span["peer"], me.as_str(), "{served}");
    assert_eq!(span["outcome"], "ok", "{served}");
    assert!(
        records.iter().any(|r| r["level"] == "WARN"
            && r["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("no secret_file"))),
        "{stderr}"
    );
    // The seed's lines stay on standard output, as text.
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("Facility Booking Server started on port"),
        "{stdout}"
    );
    let lines = BufReader::new(stdout.as_bytes()).lines().count();
    assert!(lines > 1, "{stdout}");
}

#[tokio::test]
async fn a_log_format_that_is_not_text_or_json_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_booking_cluster(dir.path(), "");
    let out = convene()
        .args(["node", "--config"])
        .arg(&config)
        .args(["--id", "A", "--log-format", "xml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--log-format") && err.contains("\"xml\" is not a log format"),
        "{err}"
    );

    let config = write_booking_cluster(dir.path(), "log_format = \"loud\"\n");
    let out = convene()
        .args(["node", "--config"])
        .arg(&config)
        .args(["--id", "A"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("log_format") && err.contains("\"text\" or \"json\""),
        "{err}"
    );
}
