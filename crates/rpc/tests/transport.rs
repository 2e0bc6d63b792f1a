//! The tokio transport on real loopback sockets.
//!
//! Every socket binds port 0, so these tests run in parallel with each other
//! and with anything else on the machine. Timing assertions only bound
//! durations from below (a retry schedule cannot finish early) and, very
//! generously, from above (it must not hang).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use convene_rpc::socket::handler_fn;
use convene_rpc::{Client, Config, Handler, RpcError, start};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running transport and the means to stop it.
struct Node {
    client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Node {
    async fn start<H: Handler>(config: Config, handler: H) -> Node {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let (client, task) = start(socket, config, Arc::new(handler), async move {
            let _ = stopped.await;
        });
        Node {
            client,
            stop: Some(stop),
            task,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.client.local_addr()
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

fn echo() -> impl Handler {
    handler_fn(|_from, payload: Vec<u8>| async move { Some(payload) })
}

fn fast() -> Config {
    Config {
        timeout: Duration::from_millis(100),
        retries: 2,
        ..Config::default()
    }
}

#[tokio::test]
async fn two_transports_echo_both_ways() {
    let a = Node::start(Config::default(), echo()).await;
    let b = Node::start(
        Config::default(),
        handler_fn(|from, mut payload: Vec<u8>| async move {
            payload.extend_from_slice(format!(" from {}", from.port()).as_bytes());
            Some(payload)
        }),
    )
    .await;

    let reply = a.client.call(b.addr(), b"hi".to_vec()).await.unwrap();
    assert_eq!(reply, format!("hi from {}", a.addr().port()).as_bytes());
    assert_eq!(
        b.client.call(a.addr(), b"yo".to_vec()).await,
        Ok(b"yo".to_vec())
    );
    assert_eq!(b.client.call(a.addr(), Vec::new()).await, Ok(Vec::new()));

    let stats = a.client.stats();
    assert_eq!(stats.retransmitted, 0);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_complete() {
    let server = Node::start(Config::default(), echo()).await;
    let client = Node::start(Config::default(), echo()).await;

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..1_000u32 {
        let c = client.client.clone();
        let to = server.addr();
        calls.spawn(async move {
            let payload = i.to_be_bytes().to_vec();
            let reply = c.call(to, payload.clone()).await;
            assert_eq!(reply, Ok(payload), "call {i}");
        });
    }
    let mut done = 0;
    while let Some(joined) = calls.join_next().await {
        joined.unwrap();
        done += 1;
    }
    assert_eq!(done, 1_000);
    server.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn call_to_a_silent_address_times_out_after_retries() {
    // Bound, so nothing answers with ICMP, but never read.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let node = Node::start(fast(), echo()).await;

    let started = Instant::now();
    let result = node
        .client
        .call(silent.local_addr().unwrap(), b"anyone?".to_vec())
        .await;
    let elapsed = started.elapsed();

    assert_eq!(result, Err(RpcError::TimedOut { attempts: 3 }));
    // Three attempts of 100 ms each cannot finish sooner...
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    // ...and must not hang (a very loose bound for a loaded machine).
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    let stats = node.client.stats();
    assert_eq!((stats.retransmitted, stats.timed_out), (2, 1));

    // All three attempts really reached the socket.
    let mut buf = [0u8; 64];
    for _ in 0..3 {
        let (n, _) = silent.try_recv_from(&mut buf).unwrap();
        assert!(buf[..n].ends_with(b"anyone?"));
    }
    node.shutdown().await;
}

#[tokio::test]
async fn handler_returning_none_makes_the_caller_time_out() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let server = Node::start(
        Config::default(),
        handler_fn(move |_, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { None }
        }),
    )
    .await;
    let client = Node::start(fast(), echo()).await;

    let result = client.client.call(server.addr(), b"x".to_vec()).await;
    assert_eq!(result, Err(RpcError::TimedOut { attempts: 3 }));
    // Every attempt reached the handler: delivery is at least once. (The
    // last handler task may still be getting scheduled; give it a moment.)
    for _ in 0..100 {
        if runs.load(Ordering::SeqCst) == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    server.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn garbage_is_ignored_and_the_transport_keeps_serving() {
    let server = Node::start(Config::default(), echo()).await;
    let client = Node::start(Config::default(), echo()).await;
    let raw = UdpSocket::bind("127.0.0.1:0").await.unwrap();

    for garbage in [
        &b""[..],
        b"\xC5",
        b"GET / HTTP/1.1\r\n\r\n",
        &[0xC5, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        raw.send_to(garbage, server.addr()).await.unwrap();
    }
    // A well-formed reply nobody asked for.
    raw.send_to(&[0xC5, 1, 1, 0, 0, 0, 0, 0, 0, 0, 42, b'?'], server.addr())
        .await
        .unwrap();

    // Loopback delivers in order, so by the time this call is answered the
    // server has seen the garbage.
    assert_eq!(
        client
            .client
            .call(server.addr(), b"still there?".to_vec())
            .await,
        Ok(b"still there?".to_vec())
    );
    let stats = server.client.stats();
    assert_eq!(stats.dropped_malformed, 4);
    assert_eq!(stats.dropped_unexpected, 1);
    // Nothing was sent back to the garbage's source.
    let mut buf = [0u8; 64];
    assert!(raw.try_recv_from(&mut buf).is_err());

    server.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn shutdown_fails_pending_and_later_calls_with_closed() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let node = Node::start(Config::default(), echo()).await;
    let client = node.client.clone();
    let to = silent.local_addr().unwrap();

    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.call(to, b"wait".to_vec()).await }
    });
    // Let the call register before stopping the transport.
    while client.stats().sent == 0 {
        tokio::task::yield_now().await;
    }
    node.shutdown().await;

    assert_eq!(pending.await.unwrap(), Err(RpcError::Closed));
    assert_eq!(
        client.call(to, b"late".to_vec()).await,
        Err(RpcError::Closed)
    );
}

#[tokio::test]
async fn oversized_payload_is_rejected_without_sending() {
    let node = Node::start(
        Config {
            max_datagram: 1_200,
            ..Config::default()
        },
        echo(),
    )
    .await;
    let result = node.client.call(node.addr(), vec![0; 1_200]).await;
    assert_eq!(
        result,
        Err(RpcError::TooLarge {
            size: 1_211,
            max: 1_200
        })
    );
    assert_eq!(node.client.stats().sent, 0);
    node.shutdown().await;
}

#[tokio::test]
async fn dropping_a_call_stops_its_retransmissions() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let node = Node::start(fast(), echo()).await;

    let call = node
        .client
        .call(silent.local_addr().unwrap(), b"x".to_vec());
    assert!(
        tokio::time::timeout(Duration::from_millis(30), call)
            .await
            .is_err()
    );
    tokio::time::sleep(Duration::from_millis(350)).await;

    let stats = node.client.stats();
    assert_eq!(
        (stats.sent, stats.retransmitted, stats.timed_out),
        (1, 0, 0)
    );
    node.shutdown().await;
}

/// Collects the notices it is given.
#[derive(Default)]
struct Inbox(std::sync::Mutex<Vec<(SocketAddr, Vec<u8>)>>);

/// A handler that puts notices in an [`Inbox`] and answers no request.
struct InboxHandler(Arc<Inbox>);

impl Handler for InboxHandler {
    async fn handle(&self, _from: SocketAddr, _payload: Vec<u8>) -> Option<Vec<u8>> {
        None
    }

    fn notice(&self, from: SocketAddr, payload: Vec<u8>) {
        self.0.0.lock().unwrap().push((from, payload));
    }
}

#[tokio::test]
async fn notices_arrive_once_with_their_sender_and_are_never_retried() {
    let inbox = Arc::new(Inbox::default());
    let receiver = Node::start(fast(), InboxHandler(inbox.clone())).await;
    let sender = Node::start(fast(), echo()).await;
    sender
        .client
        .notify(receiver.addr(), b"heartbeat".to_vec())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while inbox.0.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the notice never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Several retry periods later, still exactly one: nothing was resent.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        *inbox.0.lock().unwrap(),
        vec![(sender.addr(), b"heartbeat".to_vec())]
    );
    assert_eq!(sender.client.stats().retransmitted, 0);
    // A notice to nobody is not an error (it is simply lost).
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sender
        .client
        .notify(silent.local_addr().unwrap(), vec![1])
        .unwrap();
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// Authenticated transports: members bound first, so each knows every
/// member's address before any transport starts.
mod authenticated {
    use super::*;
    use convene_rpc::{Envelope, Kind, Member, PeerAuth, RequestId, Sealer, start_authenticated};
    use convene_wire::Encode;

    const KEY: [u8; 32] = [42; 32];

    async fn bind(n: usize) -> (Vec<UdpSocket>, Vec<Member>) {
        let mut sockets = Vec::new();
        let mut members = Vec::new();
        for i in 0..n {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            members.push(Member {
                id: format!("n{i}"),
                addr: socket.local_addr().unwrap(),
            });
            sockets.push(socket);
        }
        (sockets, members)
    }

    fn start_member<H: Handler>(
        socket: UdpSocket,
        members: &[Member],
        me: usize,
        key: [u8; 32],
        handler: H,
    ) -> Node {
        let auth = PeerAuth {
            key,
            members: members.to_vec(),
            me: Some(me),
            boot: 1,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let (client, task) =
            start_authenticated(socket, fast(), auth, Arc::new(handler), async move {
                let _ = stopped.await;
            });
        Node {
            client,
            stop: Some(stop),
            task,
        }
    }

    /// A handler that counts the requests it runs.
    fn counting(count: Arc<AtomicUsize>) -> impl Handler {
        handler_fn(move |_from, payload: Vec<u8>| {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                Some(payload)
            }
        })
    }

    #[tokio::test]
    async fn members_with_one_key_talk() {
        let (mut sockets, members) = bind(2).await;
        let b = start_member(sockets.pop().unwrap(), &members, 1, KEY, echo());
        let a = start_member(sockets.pop().unwrap(), &members, 0, KEY, echo());
        let reply = a.client.call(b.addr(), b"ping".to_vec()).await.unwrap();
        assert_eq!(reply, b"ping");
        let stats = b.client.auth_stats().unwrap();
        assert_eq!((stats.accepted, stats.dropped()), (1, 0));
        a.shutdown().await;
        b.shutdown().await;
    }

    #[tokio::test]
    async fn an_impostor_with_another_key_is_never_heard() {
        let (mut sockets, members) = bind(2).await;
        let runs = Arc::new(AtomicUsize::new(0));
        let b = start_member(
            sockets.pop().unwrap(),
            &members,
            1,
            KEY,
            counting(runs.clone()),
        );
        // The impostor sits at member 0's own address, with another key.
        let impostor = start_member(sockets.pop().unwrap(), &members, 0, [1; 32], echo());
        let answer = impostor.client.call(b.addr(), b"x".to_vec()).await;
        assert!(
            matches!(answer, Err(RpcError::TimedOut { .. })),
            "{answer:?}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 0, "the handler never ran");
        assert_eq!(
            b.client.auth_stats().unwrap().bad_mac,
            3,
            "every attempt dropped"
        );
        impostor.shutdown().await;
        b.shutdown().await;
    }

    #[tokio::test]
    async fn a_stranger_gets_nothing() {
        let (mut sockets, members) = bind(1).await;
        let runs = Arc::new(AtomicUsize::new(0));
        let b = start_member(
            sockets.pop().unwrap(),
            &members,
            0,
            KEY,
            counting(runs.clone()),
        );
        let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let plain = Envelope {
            kind: Kind::Request,
            id: RequestId(1),
            payload: b"x",
        }
        .to_bytes();
        stranger.send_to(&plain, b.addr()).await.unwrap();
        let mut buf = [0u8; 100];
        let answer =
            tokio::time::timeout(Duration::from_millis(300), stranger.recv_from(&mut buf)).await;
        assert!(answer.is_err(), "no reply to a stranger");
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        assert_eq!(
            b.client.auth_stats().unwrap().malformed,
            1,
            "not even sealed"
        );
        b.shutdown().await;
    }

    #[tokio::test]
    async fn a_captured_datagram_acts_once_and_only_at_its_receiver() {
        let (mut sockets, members) = bind(3).await;
        let (runs_b, runs_c) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let c = start_member(
            sockets.pop().unwrap(),
            &members,
            2,
            KEY,
            counting(runs_c.clone()),
        );
        let b = start_member(
            sockets.pop().unwrap(),
            &members,
            1,
            KEY,
            counting(runs_b.clone()),
        );
        // Member 0 is played by the test: it seals a request for B, as a
        // real node would, and "an attacker" sends the same bytes again.
        let a = sockets.pop().unwrap();
        let sealer = Sealer::new(KEY, members.clone(), Some(0), 7);
        let request = Envelope {
            kind: Kind::Request,
            id: RequestId(9),
            payload: b"cancel",
        }
        .to_bytes();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let captured = sealer.seal(&request, b.addr(), now_ms).unwrap();
        for _ in 0..3 {
            a.send_to(&captured, b.addr()).await.unwrap();
        }
        a.send_to(&captured, c.addr()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(runs_b.load(Ordering::SeqCst), 1, "acted once at B");
        assert_eq!(runs_c.load(Ordering::SeqCst), 0, "never at C");
        assert_eq!(b.client.auth_stats().unwrap().replayed, 2);
        assert_eq!(c.client.auth_stats().unwrap().bad_mac, 1);
        b.shutdown().await;
        c.shutdown().await;
    }
}
