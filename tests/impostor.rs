//! Impostors and replays against the authenticated peer transport.
//!
//! Each attack is the one the security review found: a process that takes
//! a node's peer address and sends that node's messages. Every test runs
//! the attack twice, on two fresh clusters: once holding the cluster's
//! secret (the attack works, which proves the test can see it) and once
//! with another secret (it must do nothing at all). The address the
//! impostor uses is a node of the cluster file that never started, so the
//! impostor sends from exactly the address a real member would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use convene_chat::client::ChatSession;
use convene_cluster::membership::codec::Wire;
use convene_cluster::secret::PEER_MAC_CONTEXT;
use convene_cluster::shutdown::{Shutdown, ShutdownTrigger};
use convene_cluster::{ClusterSecret, Peers, Screen, ServiceTag};
use convene_rpc::socket::handler_fn;
use convene_rpc::{Envelope, Kind, PeerAuth, RequestId, Sealer};
use convene_wire::Encode;
use tokio::task::JoinHandle;

use crate::util::{
    SPEC_A, TestCluster, backend, chat, eventually, files, interactive, main, plain, web, within,
};

/// Whose key an impostor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// The cluster's own: a member, so the attack must work.
    Cluster,
    /// Another secret: the attack must do nothing.
    Other,
}

impl Key {
    fn bytes(self, c: &TestCluster) -> [u8; 32] {
        match self {
            Key::Cluster => c.cluster.peer_mac_key(),
            Key::Other => ClusterSecret::generate().unwrap().derive(PEER_MAC_CONTEXT),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The real peer transport, at node `as_id`'s address, sealing with `key`.
struct Impostor {
    peers: Peers,
    stop: ShutdownTrigger,
    task: JoinHandle<()>,
}

impl Impostor {
    /// An impostor at the address of `as_id`, a node that never started.
    fn start(c: &mut TestCluster, as_id: &str, key: Key) -> Impostor {
        let socket = c.take_peer_socket(as_id);
        Self::on(c, socket, as_id, key)
    }

    /// An impostor at the address of `as_id`, a node that has stopped.
    async fn replace(c: &mut TestCluster, as_id: &str, key: Key) -> Impostor {
        c.stop_node(as_id).await;
        let addr = c.cluster.node(as_id).unwrap().peer_addr();
        let what = format!("{as_id}'s address {addr} to be free");
        let socket = eventually(Duration::from_secs(10), &what, || async {
            tokio::net::UdpSocket::bind(addr).await
        })
        .await;
        Self::on(c, socket, as_id, key)
    }

    fn on(c: &TestCluster, socket: tokio::net::UdpSocket, as_id: &str, key: Key) -> Impostor {
        let me = c.cluster.index_of(as_id).unwrap();
        let auth = PeerAuth {
            key: key.bytes(c),
            ..c.cluster.peer_auth(Some(me), now_ms())
        };
        let config = convene_rpc::Config {
            timeout: Duration::from_millis(200),
            retries: 2,
            ..Default::default()
        };
        let (stop, shutdown) = Shutdown::new();
        let (client, task) = convene_rpc::start_authenticated(
            socket,
            config,
            auth,
            Arc::new(handler_fn(|_, _| async { None })),
            async move { shutdown.wait().await },
        );
        Impostor {
            peers: Peers::new(client, c.cluster.clone(), me),
            stop,
            task,
        }
    }

    /// Sends `body` to service `tag` at node `to`; whether it was answered.
    async fn call(&self, c: &TestCluster, to: &str, tag: ServiceTag, body: &[u8]) -> bool {
        let addr = c.cluster.node(to).unwrap().peer_addr();
        self.peers.call(addr, tag, body).await.is_ok()
    }

    async fn stop(self) {
        self.stop.trigger();
        let _ = self.task.await;
    }
}

/// The scenario the issue opens with: node Z's address is taken by a
/// process with the cluster file (so the same nodes and ports) but not the
/// secret, sharing a folder with a file in it. Nothing of it reaches A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_node_plants_no_file_and_is_never_seen_live() {
    for key in [Key::Cluster, Key::Other] {
        let mut c = TestCluster::bind(&[files("A", "a"), files("Z", "z")]).await;
        std::fs::write(c.path("z").join("planted.txt"), b"from the impostor").unwrap();
        c.start_node("A").await;
        let mut cluster = (*c.cluster).clone();
        if key == Key::Other {
            cluster.secret = Some(ClusterSecret::generate().unwrap());
        }
        let sockets = c.take_sockets("Z");
        let impostor = convene_node::start(Arc::new(cluster), "Z", sockets, Screen::discard())
            .await
            .unwrap();
        let planted = c.path("a").join("planted.txt");
        let a = c.node("A");
        let z = c.cluster.index_of("Z").unwrap();
        let acted = within(Duration::from_secs(3), async || {
            planted.exists() && a.membership().live().borrow().contains(&z)
        })
        .await;
        match key {
            Key::Cluster => assert!(acted, "a member with the secret syncs and is live"),
            Key::Other => {
                assert!(!planted.exists(), "the impostor planted a file");
                assert!(
                    !a.membership().live().borrow().contains(&z),
                    "A believes the impostor is a live node"
                );
                assert!(
                    a.peer_auth_stats().bad_mac > 0,
                    "and A counted its datagrams"
                );
            }
        }
        impostor.stop().await;
        c.stop().await;
    }
}

/// One forged announcement of a deletion, with a version nobody can
/// out-version, would delete the file on every node for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_deletion_deletes_nothing() {
    use convene_files::path::SharedPath;
    use convene_files::peer_msg::FilesRequest;
    use convene_files::plan::Record;
    use convene_files::version::VersionVector;

    for key in [Key::Cluster, Key::Other] {
        let mut c = TestCluster::bind(&[files("A", "a"), files("Z", "z")]).await;
        let kept = c.path("a").join("keep.txt");
        std::fs::write(&kept, b"precious").unwrap();
        c.start_node("A").await;
        let impostor = Impostor::start(&mut c, "Z", key);
        let forged = FilesRequest::Announce {
            path: SharedPath::parse("keep.txt").unwrap(),
            record: Record {
                // Newer than A's own version, so it wins.
                version: VersionVector::from_counters([("A", 1_000_000), ("Z", 1)]),
                deleted: true,
                size: 0,
                modified_ns: 0,
                checksum: 0,
                baseline: false,
            },
        };
        let answered = impostor
            .call(&c, "A", convene_files::TAG, &forged.to_bytes())
            .await;
        // A's sync task may first spend the transport's retries on
        // reconciling with Z, which never answers: give the member's
        // deletion time to be carried out.
        let wait = match key {
            Key::Cluster => Duration::from_secs(10),
            Key::Other => Duration::from_secs(3),
        };
        let deleted = within(wait, async || !kept.exists()).await;
        assert_eq!(answered, key == Key::Cluster, "{key:?}");
        assert_eq!(deleted, key == Key::Cluster, "{key:?}");
        if key == Key::Other {
            assert!(
                c.node("A").peer_auth_stats().bad_mac > 0,
                "A dropped the forgery"
            );
        }
        impostor.stop().await;
        c.stop().await;
    }
}

/// A forged eviction would disconnect any chat user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_eviction_kicks_nobody() {
    use convene_chat::peer_msg::PeerRequest;
    use convene_chat::registry::Kind as NameKind;

    for key in [Key::Cluster, Key::Other] {
        // Y makes X's side a majority: a lone node of two decides no
        // identity (the coordinator needs a majority's leases).
        let mut c = TestCluster::bind(&[chat("X"), plain("Y"), plain("Z")]).await;
        c.start_node("X").await;
        c.start_node("Y").await;
        let chat_addr = c.cluster.node("X").unwrap().chat_addr().unwrap();
        let _adel = ChatSession::login(chat_addr, "Adel", Duration::from_secs(10))
            .await
            .unwrap();
        let impostor = Impostor::start(&mut c, "Z", key);
        let evict = PeerRequest::Evict {
            kind: NameKind::Identity,
            name: "Adel".into(),
        };
        impostor
            .call(&c, "X", convene_chat::TAG, &evict.to_bytes())
            .await;
        let x = c.node("X");
        let kicked = within(Duration::from_secs(2), async || {
            !x.chat().identities().contains(&"Adel".to_string())
        })
        .await;
        assert_eq!(kicked, key == Key::Cluster, "{key:?}");
        impostor.stop().await;
        c.stop().await;
    }
}

/// A forged submission would answer for a participant; a forged freeze
/// would close an event to everyone before its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_submissions_and_freezes_change_no_event() {
    use convene_events::db::User;
    use convene_events::peer_msg::Request;
    use convene_events::service::NewEventRequest;
    use convene_events::{Availability, Interval};

    let slot = || Availability::from_iter([Interval::new(1_893_456_000, 1_893_459_600).unwrap()]);
    for key in [Key::Cluster, Key::Other] {
        let mut c = TestCluster::bind(&[web("W"), plain("Z")]).await;
        c.start_node("W").await;
        let events = c.node("W").events().unwrap().clone();
        for name in ["ada", "bob", "cy"] {
            let user = User {
                name: name.into(),
                password_hash: "$argon2id$test".into(),
                time_zone: "UTC".into(),
            };
            events.db().create_user(&user).await.unwrap();
        }
        let new = |participants: Vec<String>| NewEventRequest {
            name: "Retro".into(),
            description: String::new(),
            creator: "ada".into(),
            participants,
            deadline: convene_events::zone::now_seconds() + 600,
            availability: None,
        };
        let rigged = events.create(new(vec!["bob".into()])).await.unwrap();
        let frozen = events.create(new(vec!["cy".into()])).await.unwrap();
        let impostor = Impostor::start(&mut c, "Z", key);
        let submit = Request::Submit {
            event: rigged.clone(),
            user: "bob".into(),
            availability: slot(),
        };
        impostor
            .call(&c, "W", convene_events::TAG, &submit.to_bytes())
            .await;
        let freeze = Request::Freeze {
            event: frozen.clone(),
        };
        impostor
            .call(&c, "W", convene_events::TAG, &freeze.to_bytes())
            .await;

        let event = events.event(&rigged).await.unwrap();
        let bob_answered = event
            .participants
            .iter()
            .any(|p| p.name == "bob" && p.answered);
        assert_eq!(bob_answered, key == Key::Cluster, "{key:?}: bob answered");
        let cy = events.submit(&frozen, "cy", slot()).await;
        assert_eq!(
            cy.is_err(),
            key == Key::Cluster,
            "{key:?}: cy's answer {cy:?}"
        );
        impostor.stop().await;
        c.stop().await;
    }
}

/// A forged announcement from a backend's address, with the largest boot
/// stamp, would replace the backend's users at the main node for good: its
/// real announcements, with smaller stamps, would be ignored from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_meet_announcement_takes_no_user_away() {
    use convene_meet::peer_msg::MeetRequest;

    for key in [Key::Cluster, Key::Other] {
        let mut c = TestCluster::start(&[main("M"), backend("A", SPEC_A)]).await;
        let impostor = Impostor::replace(&mut c, "A", key).await;
        let announce = MeetRequest::Announce {
            boot: u64::MAX,
            chunk: 0,
            chunks: 1,
            names: vec!["mallory".into()],
        };
        impostor
            .call(&c, "M", convene_meet::TAG, &announce.to_bytes())
            .await;
        impostor.stop().await;
        c.start_node("A").await;
        let out = interactive(c.main_addr(), "alice eliana\n").await;
        let intact = out.contains("Time intervals [[1,3],[12,18]] works for alice, eliana.");
        assert_eq!(intact, key == Key::Other, "{key:?}: {out}");
        c.stop().await;
    }
}

/// Forged election messages from a dead node's address would make the
/// cluster follow a coordinator that is not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_election_messages_elect_nobody() {
    use convene_cluster::election::Message;

    for key in [Key::Cluster, Key::Other] {
        // Z has the highest priority (last in the file) but never starts,
        // so B coordinates.
        let mut c = TestCluster::bind(&[plain("A"), plain("B"), plain("Z")]).await;
        c.start_node("A").await;
        c.start_node("B").await;
        let (a, b, z) = (0, 1, 2);
        let node_a = c.node("A");
        assert!(
            within(Duration::from_secs(5), async || {
                *node_a.membership().coordinator().borrow() == Some(b)
            })
            .await
        );
        let impostor = Impostor::start(&mut c, "Z", key);
        let claim = Wire::Election(Message::Coordinator).to_bytes();
        let addr_a = c.cluster.nodes[a].peer_addr();
        let addr_b = c.cluster.nodes[b].peer_addr();
        let node_a = c.node("A");
        let followed = within(Duration::from_secs(2), async || {
            for to in [addr_a, addr_b] {
                let _ = impostor
                    .peers
                    .notify(to, convene_cluster::membership::TAG, &claim);
            }
            *node_a.membership().coordinator().borrow() == Some(z)
        })
        .await;
        assert_eq!(followed, key == Key::Cluster, "{key:?}");
        impostor.stop().await;
        c.stop().await;
    }
}

/// A member's datagram, captured and sent again later (or to another
/// node), acts only the first time, and only at the node it was sealed for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_eviction_acts_once() {
    use convene_chat::peer_msg::PeerRequest;
    use convene_chat::registry::Kind as NameKind;

    let mut c = TestCluster::bind(&[chat("X"), chat("Y"), plain("Z")]).await;
    c.start_node("X").await;
    c.start_node("Y").await;
    let x_chat = c.cluster.node("X").unwrap().chat_addr().unwrap();
    let adel = ChatSession::login(x_chat, "Adel", Duration::from_secs(10))
        .await
        .unwrap();
    // Z's own datagram, sealed with the cluster's key for X: what an
    // attacker on the path would capture.
    let z = c.take_peer_socket("Z");
    let auth = c.cluster.peer_auth(c.cluster.index_of("Z"), now_ms());
    let sealer = Sealer::new(auth.key, auth.members, auth.me, auth.boot);
    let mut body = vec![convene_chat::TAG.byte()];
    body.extend(
        PeerRequest::Evict {
            kind: NameKind::Identity,
            name: "Adel".into(),
        }
        .to_bytes(),
    );
    let request = Envelope {
        kind: Kind::Request,
        id: RequestId(1),
        payload: &body,
    }
    .to_bytes();
    let x_peer: SocketAddr = c.cluster.node("X").unwrap().peer_addr();
    let y_peer: SocketAddr = c.cluster.node("Y").unwrap().peer_addr();
    let captured = sealer.seal(&request, x_peer, now_ms()).unwrap();

    z.send_to(&captured, x_peer).await.unwrap();
    let x = c.node("X");
    let gone = async || !x.chat().identities().contains(&"Adel".to_string());
    assert!(
        within(Duration::from_secs(2), gone).await,
        "the original acts"
    );
    drop(adel);

    // Adel comes back; the same bytes, again and at Y, change nothing.
    let _adel = ChatSession::login(x_chat, "Adel", Duration::from_secs(10))
        .await
        .unwrap();
    z.send_to(&captured, x_peer).await.unwrap();
    z.send_to(&captured, y_peer).await.unwrap();
    let y = c.node("Y");
    assert!(
        within(Duration::from_secs(2), async || {
            x.peer_auth_stats().replayed >= 1 && y.peer_auth_stats().bad_mac >= 1
        })
        .await,
        "both copies were dropped: X {:?}, Y {:?}",
        x.peer_auth_stats(),
        y.peer_auth_stats()
    );
    assert!(
        x.chat().identities().contains(&"Adel".to_string()),
        "the replay evicted Adel again"
    );
    c.stop().await;
}
