//! Three chat nodes in one process, with the coordinator cut off from the
//! other two: the real chat service, membership and peer transport on
//! loopback, behind a socket that drops every datagram between chosen
//! addresses (the least a partition needs, with nothing else simulated).
//!
//! Checks issue 13's first rule: a fresh cluster approves its first client
//! (the coordinator waits for authority instead of refusing); the isolated
//! coordinator refuses a new identity within a few seconds while the
//! majority side approves it; the majority does not approve an identity the
//! cut-off side holds (the approved names are on a majority's copies), but
//! does approve one released before the cut; what each side already holds
//! keeps working; and after healing no identity is held by two servers and
//! none approved is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use convene_chat::client::{ChatSession, ClientError};
use convene_chat::service::{ChatContext, ChatService};
use convene_chat::{ClientMessage, ServerMessage};
use convene_cluster::membership::Membership;
use convene_cluster::shutdown::{Shutdown, ShutdownTrigger};
use convene_cluster::{ClusterConfig, Peers, Router};
use convene_rpc::DatagramSocket;
use tokio::net::{TcpListener, UdpSocket};
use tokio::time::Instant;

/// Pairs of peer addresses that cannot reach each other (both ways).
#[derive(Clone, Default)]
struct Cuts(Arc<Mutex<BTreeSet<(SocketAddr, SocketAddr)>>>);

impl Cuts {
    fn cut(&self, a: SocketAddr, b: SocketAddr) {
        let mut cuts = self.0.lock().unwrap();
        cuts.insert((a, b));
        cuts.insert((b, a));
    }

    fn heal(&self) {
        self.0.lock().unwrap().clear();
    }

    fn is_cut(&self, from: SocketAddr, to: SocketAddr) -> bool {
        self.0.lock().unwrap().contains(&(from, to))
    }
}

/// A real UDP socket that loses whatever crosses a cut.
struct CutSocket {
    socket: UdpSocket,
    me: SocketAddr,
    cuts: Cuts,
}

impl DatagramSocket for CutSocket {
    fn send_to(
        &self,
        buf: &[u8],
        to: SocketAddr,
    ) -> impl Future<Output = io::Result<usize>> + Send {
        let cut = self.cuts.is_cut(self.me, to);
        async move {
            if cut {
                // Lost on the way, as the network would lose it.
                return Ok(buf.len());
            }
            self.socket.send_to(buf, to).await
        }
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.socket.recv_from(buf).await?;
            if !self.cuts.is_cut(from, self.me) {
                return Ok((n, from));
            }
        }
    }

    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        if self.cuts.is_cut(self.me, to) {
            return Ok(buf.len());
        }
        self.socket.try_send_to(buf, to)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

const NAMES: [&str; 3] = ["n0", "n1", "n2"];

/// One running node.
struct Node {
    chat: ChatService<CutSocket>,
    membership: Membership<CutSocket>,
    peer: SocketAddr,
    _running: ShutdownTrigger,
}

/// Starts the three nodes (n2 has the highest priority) with fast election
/// timings, everything bound before the cluster file is written.
async fn start(cuts: &Cuts) -> Vec<Node> {
    let mut peers = Vec::new();
    let mut listeners = Vec::new();
    let mut toml = String::new();
    for name in NAMES {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        toml.push_str(&format!(
            "[[node]]\nid = \"{name}\"\nhost = \"127.0.0.1\"\npeer_port = {}\nchat_port = {}\n",
            peer.local_addr().unwrap().port(),
            listener.local_addr().unwrap().port(),
        ));
        peers.push(peer);
        listeners.push(listener);
    }
    toml.push_str("[election]\nheartbeat_ms = 100\nsuspect_after_ms = 400\nt2_ms = 150\nt3_ms = 150\nt4_ms = 300\n");
    let cluster = Arc::new(
        // No service sections: the file has none.
        ClusterConfig::from_toml(&toml, Path::new("/nonexistent/cluster.toml"), &[]).unwrap(),
    );
    let mut nodes = Vec::new();
    for (me, (socket, listener)) in peers.into_iter().zip(listeners).enumerate() {
        let addr = socket.local_addr().unwrap();
        let socket = CutSocket {
            socket,
            me: addr,
            cuts: cuts.clone(),
        };
        let (trigger, shutdown) = Shutdown::new();
        let router = Arc::new(Router::new());
        let transport_shutdown = shutdown.clone();
        let (client, _transport) = convene_rpc::start_authenticated(
            socket,
            convene_rpc::Config::default(),
            cluster.peer_auth(Some(me), 1),
            router.clone(),
            async move { transport_shutdown.wait().await },
        );
        let peers = Peers::new(client, cluster.clone(), me);
        let (membership, _task) = Membership::start(
            peers.clone(),
            &router,
            cluster.election.clone(),
            shutdown.clone(),
        );
        let chat = convene_chat::service::start(ChatContext {
            metrics: convene_metrics::Metrics::new(),
            peers,
            router,
            membership: membership.clone(),
            shutdown,
            listener: Some(listener),
        });
        nodes.push(Node {
            chat,
            membership,
            peer: addr,
            _running: trigger,
        });
    }
    nodes
}

const WAIT: Duration = Duration::from_secs(20);

async fn login(node: &Node, identity: &str) -> Result<ChatSession, ClientError> {
    ChatSession::login(node.chat.addr().unwrap(), identity, WAIT).await
}

/// Which servers hold each identity.
fn holders(nodes: &[Node]) -> BTreeMap<String, Vec<&'static str>> {
    let mut all: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for (n, node) in nodes.iter().enumerate() {
        for identity in node.chat.identities() {
            all.entry(identity).or_default().push(NAMES[n]);
        }
    }
    all
}

/// Waits until `check` holds, at most `within`.
async fn eventually(within: Duration, what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_coordinator_refuses_new_identities_while_the_majority_approves_them() {
    let cuts = Cuts::default();
    let nodes = start(&cuts).await;

    // A fresh cluster: nobody grants leases during the first 2 s, and the
    // coordinator waits for them rather than refusing its first client.
    let started = Instant::now();
    let mut alice = login(&nodes[0], "alice")
        .await
        .expect("alice, first client");
    let first = started.elapsed();
    assert!(
        first < Duration::from_secs(5),
        "first approval after {first:?}"
    );
    // frank comes and goes on n2 before the cut: his name is free again.
    let frank = login(&nodes[2], "frank").await.expect("frank, on n2");
    drop(frank);
    eventually(Duration::from_secs(5), "n2 sees frank go", || {
        !nodes[2].chat.identities().contains(&"frank".to_string())
    })
    .await;
    let mut dave = login(&nodes[2], "dave").await.expect("dave, on n2");
    eventually(
        Duration::from_secs(5),
        "n2 coordinates, with authority",
        || nodes[2].membership.authority().is_ok(),
    )
    .await;

    // n2 is cut off from n0 and n1.
    cuts.cut(nodes[2].peer, nodes[0].peer);
    cuts.cut(nodes[2].peer, nodes[1].peer);
    let cut = Instant::now();
    eventually(Duration::from_secs(3), "n2 loses authority", || {
        nodes[2].membership.authority().is_err()
    })
    .await;
    let lost = cut.elapsed();

    // The minority refuses, within a few seconds and with the course
    // protocol's answer; the majority approves the same name.
    let (minority, (majority, approved)) = tokio::join!(login(&nodes[2], "bob"), async {
        let session = login(&nodes[0], "bob").await;
        (session, cut.elapsed())
    });
    let refused = cut.elapsed();
    assert!(
        matches!(minority, Err(ClientError::Refused { .. })),
        "n2 without a majority answered {:?}",
        minority.map(|_| "approved")
    );
    assert!(
        refused < Duration::from_secs(8),
        "refused {refused:?} after the cut"
    );
    let _bob = majority.expect("bob on the majority side");
    // dave was approved before the cut and is still n2's: the majority
    // keeps his name for him. frank's release reached the copies.
    let twin = login(&nodes[1], "dave").await;
    assert!(
        matches!(twin, Err(ClientError::Refused { .. })),
        "a second dave on the majority side: {:?}",
        twin.map(|_| "approved")
    );
    let _frank = login(&nodes[1], "frank")
        .await
        .expect("frank again, on the majority side");
    // Once the patience is spent, the minority refuses at once.
    let asked = Instant::now();
    let again = login(&nodes[2], "carol").await;
    assert!(matches!(again, Err(ClientError::Refused { .. })));
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    // What each side held keeps working.
    answers(&mut alice, ClientMessage::List, |m| {
        matches!(m, ServerMessage::RoomList { .. })
    })
    .await;
    answers(&mut dave, ClientMessage::Who, |m| {
        matches!(m, ServerMessage::RoomContents { .. })
    })
    .await;
    assert_eq!(nodes[2].chat.identities(), ["dave"]);
    eprintln!(
        "authority lost {lost:?} after the cut; refusal {refused:?}; majority's first approval {approved:?} after the cut; first approval {first:?}"
    );

    // Healed: n2 coordinates again, and no identity is held twice.
    cuts.heal();
    eventually(WAIT, "n2 holds authority again", || {
        nodes[2].membership.authority().is_ok()
    })
    .await;
    eventually(Duration::from_secs(10), "no identity held twice", || {
        holders(&nodes).values().all(|servers| servers.len() == 1)
    })
    .await;
    let held = holders(&nodes);
    assert_eq!(held["alice"], ["n0"]);
    assert_eq!(held["bob"], ["n0"]);
    assert_eq!(held["dave"], ["n2"], "approved before the cut, not lost");
    assert_eq!(held["frank"], ["n1"]);
    assert!(!held.contains_key("carol"));
    answers(&mut dave, ClientMessage::Who, |m| {
        matches!(m, ServerMessage::RoomContents { .. })
    })
    .await;
    let twin = login(&nodes[0], "dave").await;
    assert!(matches!(twin, Err(ClientError::Refused { .. })));
    // A new identity is approved again, under the healed coordinator.
    login(&nodes[1], "erin").await.expect("erin after healing");
}

/// Asks `question` and waits for an answer of the kind `answered` accepts:
/// the session, and its server, still work.
async fn answers(
    session: &mut ChatSession,
    question: ClientMessage,
    answered: impl Fn(&ServerMessage) -> bool,
) {
    session.send(&question).await.expect("the session is alive");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let within = deadline.saturating_duration_since(Instant::now());
        let message = session.recv_timeout(within).await.expect("an answer");
        if answered(&message) {
            return;
        }
    }
}
