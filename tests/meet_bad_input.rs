//! Bad input for the meet service: from clients over TCP, from anyone over
//! UDP, and in availability files. Each gets a clear error, and the service
//! keeps serving everyone else.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;

use crate::util::{SPEC_A, SPEC_B, TestCluster, backend, interactive, main, raw_exchange};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_client_lines_get_a_clear_error_and_the_connection_stays_usable() {
    let c = TestCluster::start(&[main("M"), backend("A", SPEC_A), backend("B", SPEC_B)]).await;
    let eleven = ["alice"; 11].join(" ");
    let send = format!(
        "query Bob\nquery {}\nquery\n\nhello alice\nregister 17,18 alice\nregister [18,17] alice\nquery {eleven}\nquery alice\n",
        "a".repeat(21)
    );
    let replies = raw_exchange(c.main_addr(), send.as_bytes()).await;
    assert_eq!(
        replies,
        [
            "error \"Bob\" is not a valid username: use lowercase letters a-z only",
            "error \"aaaaaaaaaaaaaaaaaaaaa\" is not a valid username: it has 21 letters, at most 20 are allowed",
            "error please enter at least one username",
            "error empty request: send `query <names>` or `register [start,end] <names>`",
            "error unknown command \"hello\": send `query <names>` or `register [start,end] <names>`",
            "error bad time interval: expected [start,end] but found \"17,18 alice\"",
            "error bad time interval: interval [18,17]: the start must be less than the end",
            "error please enter at most 10 usernames (got 11)",
            "result missing=- found=alice slots=[[1,3],[10,24]]",
        ]
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_or_binary_lines_close_only_that_connection() {
    let c = TestCluster::start(&[main("M"), backend("A", SPEC_A), backend("B", SPEC_B)]).await;
    let long = format!("query {}\nquery alice\n", "a ".repeat(2000));
    let replies = raw_exchange(c.main_addr(), long.as_bytes()).await;
    assert_eq!(
        replies,
        ["error request longer than 1024 bytes; closing the connection"]
    );
    let replies = raw_exchange(c.main_addr(), b"query \xff\xfe\nquery alice\n").await;
    assert_eq!(
        replies,
        ["error request is not UTF-8 text; closing the connection"]
    );
    // A client that connects and sends nothing does not hold anyone up.
    let _silent = tokio::net::TcpStream::connect(c.main_addr()).await.unwrap();
    let out = interactive(c.main_addr(), "alice\n").await;
    assert!(out.contains("works for alice."), "{out}");
    c.stop().await;
}

/// `query alice` padded with spaces to `body` bytes, line ending not counted.
fn query_of(body: usize) -> String {
    format!("query alice{}", " ".repeat(body - "query alice".len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_longest_request_is_1024_bytes_with_its_newline() {
    let c = TestCluster::start(&[main("M"), backend("A", SPEC_A), backend("B", SPEC_B)]).await;
    let found = "result missing=- found=alice slots=[[1,3],[10,24]]";
    // 1023 bytes and a `\n`: the longest line taken, twice on one connection.
    let exact = format!("{}\n", query_of(1023));
    assert_eq!(exact.len(), 1024);
    let replies = raw_exchange(c.main_addr(), exact.repeat(2).as_bytes()).await;
    assert_eq!(replies, [found, found]);
    // One byte more: refused, and the connection closed.
    let over = format!("{}\nquery alice\n", query_of(1024));
    let replies = raw_exchange(c.main_addr(), over.as_bytes()).await;
    assert_eq!(
        replies,
        ["error request longer than 1024 bytes; closing the connection"]
    );
    // 1024 bytes and no line ending, then the client waits: refused at
    // once, not at the idle timeout.
    let mut stream = tokio::net::TcpStream::connect(c.main_addr()).await.unwrap();
    stream.write_all(query_of(1024).as_bytes()).await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut reply),
    )
    .await
    .expect("refused without waiting for more")
    .unwrap();
    assert_eq!(
        reply,
        "error request longer than 1024 bytes; closing the connection\n"
    );
    // The one difference of the shared line reader: the limit does not
    // count the line ending, so 1023 bytes and a `\r\n` are taken too.
    let crlf = format!("{}\r\n", query_of(1023));
    assert_eq!(raw_exchange(c.main_addr(), crlf.as_bytes()).await, [found]);
    // A last request cut short by the end of the stream is answered.
    assert_eq!(raw_exchange(c.main_addr(), b"query alice").await, [found]);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_datagrams_are_dropped_counted_and_never_trusted() {
    let c = TestCluster::start(&[main("M"), backend("A", SPEC_A), backend("B", SPEC_B)]).await;
    let a = c.node("A").peer_addr();
    let m = c.node("M").peer_addr();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();

    // Not even an envelope.
    stranger.send_to(b"\x00garbage", a).await.unwrap();
    stranger.send_to(&[], m).await.unwrap();
    // A well-formed request envelope (magic 0xC5, version 1, kind 0, id) for
    // the meet service (tag 1), from outside the cluster: an Intersect that
    // would reveal alice's schedule, and an Announce that would hijack names.
    let mut envelope = vec![0xC5, 1, 0];
    envelope.extend_from_slice(&7u64.to_be_bytes());
    let mut intersect = envelope.clone();
    intersect.extend_from_slice(&[1, 3, 0, 0, 0, 1, 0, 0, 0, 5]);
    intersect.extend_from_slice(b"alice");
    stranger.send_to(&intersect, a).await.unwrap();
    let mut announce = envelope.clone();
    announce.extend_from_slice(&[1, 1]);
    announce.extend_from_slice(&u64::MAX.to_be_bytes());
    announce.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5]);
    announce.extend_from_slice(b"alice");
    stranger.send_to(&announce, m).await.unwrap();
    // A meet message whose body is malformed (unknown kind 99).
    let mut junk = envelope.clone();
    junk.extend_from_slice(&[1, 99]);
    stranger.send_to(&junk, a).await.unwrap();

    let mut buf = [0u8; 1024];
    let answer = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        stranger.recv_from(&mut buf),
    )
    .await;
    assert!(answer.is_err(), "a stranger got an answer: {answer:?}");
    // The peer transport drops all of them before the meet service sees
    // a byte: none is sealed with the cluster's key.
    let five = std::time::Duration::from_secs(5);
    crate::util::eventually(five, "the dropped datagrams to be counted", || async {
        let (a, m) = (
            c.node("A").peer_auth_stats().dropped(),
            c.node("M").peer_auth_stats().dropped(),
        );
        crate::util::ready(a >= 3 && m >= 2, format!("A dropped {a}, M {m}"))
    })
    .await;
    assert_eq!(
        c.node("A").meet().dropped(),
        0,
        "nothing reached the service"
    );
    // alice is still A's, and everything still works.
    let out = interactive(c.main_addr(), "alice eliana\n").await;
    assert!(
        out.contains("Time intervals [[1,3],[12,18]] works for alice, eliana."),
        "{out}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_availability_file_stops_the_node_at_start_with_file_and_line() {
    let mut c = TestCluster::bind(&[main("M"), backend("A", "alice;[[1,2]]\nbob;[[3,3]]\n")]).await;
    let err = c.try_start_node("A").await.expect_err("A must not start");
    let shown = format!("{err:#}");
    assert!(
        shown.contains("a.txt:2:") && shown.contains("start must be less than the end"),
        "{shown}"
    );
}
