//! `GET /metrics` as Prometheus sees it: scraped over HTTP from a running
//! cluster, read back into numbers, and compared with the traffic the test
//! sent and with what the nodes themselves say (their membership, their
//! transport's counts).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use convene_cluster::ClusterSecret;
use convene_cluster::secret::PEER_MAC_CONTEXT;
use convene_metrics::text::Samples;
use convene_rpc::{Envelope, Kind, RequestId, Sealer};
use convene_web::client::HttpClient;
use convene_wire::Encode;
use serde_json::json;

use crate::util::{NodeSpec, TestCluster, eventually, plain, ready, web};

/// Scrapes `/metrics` at `addr` (a web front or a probe server).
async fn scrape(addr: SocketAddr) -> Samples {
    let r = HttpClient::new(addr).get("/metrics").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some(convene_metrics::CONTENT_TYPE)
    );
    Samples::parse(&r.text()).unwrap()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A web front (A), a node with only a probe server (C), and one with
/// neither (B).
const SPECS: [NodeSpec; 3] = [
    web("A"),
    plain("B"),
    NodeSpec {
        metrics: true,
        ..plain("C")
    },
];

async fn three_nodes() -> TestCluster {
    let mut c = TestCluster::bind(&SPECS).await;
    for id in ["A", "B", "C"] {
        c.start_node(id).await;
    }
    // Every node live and following one coordinator.
    eventually(
        Duration::from_secs(15),
        "one coordinator, three live",
        || {
            let c = &c;
            async move {
                let views: Vec<_> = ["A", "B", "C"]
                    .iter()
                    .map(|id| c.node(id).membership().view())
                    .collect();
                let agreed = views
                    .iter()
                    .all(|v| v.live.len() == 3 && v.coordinator.is_some())
                    && views.iter().all(|v| v.coordinator == views[0].coordinator);
                ready(agreed, format!("{views:?}"))
            }
        },
    )
    .await;
    c
}

/// A logged-in API client of the web front at `addr`.
async fn user(addr: SocketAddr, name: &str) -> HttpClient {
    let mut client = HttpClient::new(addr);
    let account = json!({"username": name, "password": "password1"});
    let r = client.post_json("/api/register", &account).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let r = client.post_json("/api/login", &account).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    client
}

/// Each request is counted once, under its route and status class, and
/// timed: N listings of `/api/events` raise the 2xx count of that route by
/// exactly N, and N unauthenticated ones the 4xx count; the scrapes
/// themselves are counted under `/metrics` only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_requests_are_counted_by_route_and_outcome() {
    let c = three_nodes().await;
    let a = c.node("A").http_addr().unwrap();
    let mut ann = user(a, "ann").await;
    let mut stranger = HttpClient::new(a);
    let requests = |samples: &Samples, kind: &str, outcome: &str| {
        samples.sum(
            "convene_requests_total",
            &[
                ("service", "web"),
                ("door", "http"),
                ("kind", kind),
                ("outcome", outcome),
            ],
        )
    };
    let timed = |samples: &Samples, kind: &str| {
        samples.sum(
            "convene_request_duration_seconds_count",
            &[("service", "web"), ("door", "http"), ("kind", kind)],
        )
    };

    let before = scrape(a).await;
    const N: usize = 7;
    for _ in 0..N {
        let r = ann.get("/api/events").await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let r = stranger.get("/api/events").await.unwrap();
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let r = stranger.get("/events/e-1234/nowhere").await.unwrap();
    assert_eq!(r.status, 404);
    let after = scrape(a).await;

    let rose = |kind: &str, outcome: &str| {
        requests(&after, kind, outcome) - requests(&before, kind, outcome)
    };
    assert_eq!(rose("/api/events", "2xx"), N as f64);
    assert_eq!(rose("/api/events", "4xx"), N as f64);
    assert_eq!(rose("unmatched", "4xx"), 1.0);
    assert_eq!(
        timed(&after, "/api/events") - timed(&before, "/api/events"),
        2.0 * N as f64
    );
    // The first scrape, counted once it was answered.
    assert_eq!(rose("/metrics", "2xx"), 1.0);
    // Every latency sample fell in some bucket.
    assert_eq!(
        after.sum(
            "convene_request_duration_seconds_bucket",
            &[("kind", "/api/events"), ("le", "+Inf")]
        ),
        timed(&after, "/api/events")
    );
    // The path a client sent never becomes a label.
    assert_eq!(
        after.matching("convene_requests_total", &[]).count(),
        after
            .matching("convene_requests_total", &[])
            .filter(|s| !s.labels["kind"].contains("e-1234"))
            .count()
    );
    c.stop().await;
}

/// The election's gauges say what each node's membership says: one
/// coordinator, by id, the term, and three live nodes; a node without a
/// web front serves them on its `metrics_port`, with `/healthz` and
/// `/readyz`, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn election_gauges_match_membership_and_a_probe_port_serves_them() {
    let c = three_nodes().await;
    assert!(c.node("B").metrics_addr().is_none());
    assert!(c.node("C").http_addr().is_none());
    let probes = c.node("C").metrics_addr().expect("C has a metrics_port");
    let fronts = [("A", c.node("A").http_addr().unwrap()), ("C", probes)];
    for (id, addr) in fronts {
        let node = c.node(id);
        // A scrape and the membership read at once: an election between the
        // two (a slow machine's missed heartbeat) would differ, so wait for
        // a scrape that agrees with the view read right after it.
        let what = format!("{id}'s gauges to match its membership");
        let samples = eventually(Duration::from_secs(15), &what, || async {
            let samples = scrape(addr).await;
            let view = node.membership().view();
            let coordinator = view
                .coordinator
                .map(|n| c.cluster.nodes[n].id.as_str())
                .unwrap_or("?");
            let seen = [
                ("convene_live_nodes", None, view.live.len() as f64),
                ("convene_election_term", None, view.term as f64),
                ("convene_election_coordinator", Some(coordinator), 1.0),
                ("convene_ready", None, 1.0),
            ]
            .map(|(name, coordinator, want)| {
                let got = match coordinator {
                    Some(id) => samples.get(name, &[("coordinator", id)]),
                    None => samples.get(name, &[]),
                };
                (name, got, want)
            });
            let agree = view.live.len() == 3
                && seen.iter().all(|(_, got, want)| *got == Some(*want))
                && samples.sum("convene_election_coordinator", &[]) == 1.0;
            ready(agree, format!("{seen:?} {view:?}")).map(|()| samples)
        })
        .await;
        // Every files queue is there, empty.
        for queue in ["files_sync", "files_lock_queue", "files_locks"] {
            assert_eq!(
                samples.get("convene_queue_depth", &[("queue", queue)]),
                Some(0.0),
                "{id} {queue}"
            );
        }
    }
    // B, with neither port, still counts; its own registry says the same.
    let b = Samples::parse(&c.node("B").metrics().encode()).unwrap();
    assert_eq!(b.get("convene_live_nodes", &[]), Some(3.0));

    let mut client = HttpClient::new(probes);
    let r = client.get("/healthz").await.unwrap();
    assert_eq!((r.status, r.text().trim()), (200, "ok"));
    let r = client.get("/readyz").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().unwrap()["node"], "C");
    let r = client.get("/api/events").await.unwrap();
    assert_eq!(r.status, 404, "the probe port serves no API");
    // The probe server's requests are not counted as the web front's.
    let samples = scrape(probes).await;
    assert_eq!(
        samples.sum("convene_requests_total", &[("service", "web")]),
        0.0
    );
    c.stop().await;
}

/// Datagrams that fail authentication, and one for no service, are
/// dropped and counted by reason: exactly as many as were sent, and as
/// many as the transport itself says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_peer_datagrams_raise_the_drop_counters() {
    let c = three_nodes().await;
    let node = c.node("A");
    let a = node.http_addr().unwrap();
    let peer = node.peer_addr();
    let dropped = |samples: &Samples, reason: &str| {
        samples.sum(
            "convene_events_total",
            &[("service", "peer"), ("event", &format!("dropped_{reason}"))],
        )
    };
    let before = scrape(a).await;
    let auth_before = node.peer_auth_stats();

    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let envelope = |id: u64, payload: &[u8]| {
        Envelope {
            kind: Kind::Request,
            id: RequestId(id),
            payload,
        }
        .to_bytes()
    };
    // Sealed as the operator would, with a key that is not the cluster's:
    // from an address no node has, a wrong MAC is a stranger's.
    let operator = c.cluster.peer_auth(None, now_ms());
    let wrong = ClusterSecret::generate().unwrap().derive(PEER_MAC_CONTEXT);
    let forger = Sealer::new(wrong, operator.members.clone(), None, now_ms());
    const FORGED: u32 = 5;
    for id in 1..=u64::from(FORGED) {
        let sealed = forger.seal(&envelope(id, &[3, 0]), peer, now_ms()).unwrap();
        socket.send_to(&sealed, peer).await.unwrap();
    }
    // Not sealed at all.
    const GARBAGE: u32 = 3;
    for _ in 0..GARBAGE {
        socket.send_to(b"hello?", peer).await.unwrap();
    }
    // Sealed with the operator's real key, for a service no node has.
    let real = Sealer::new(operator.key, operator.members, None, now_ms());
    let sealed = real.seal(&envelope(1, &[14, 0]), peer, now_ms()).unwrap();
    socket.send_to(&sealed, peer).await.unwrap();

    let after = eventually(Duration::from_secs(10), "the drops counted", || async {
        let after = scrape(a).await;
        let counted = dropped(&after, "stranger") - dropped(&before, "stranger")
            == f64::from(FORGED)
            && dropped(&after, "unsealed") - dropped(&before, "unsealed") == f64::from(GARBAGE)
            && dropped(&after, "unknown_service") - dropped(&before, "unknown_service") == 1.0;
        let seen = format!(
            "before {:?} after {:?}",
            before
                .matching("convene_events_total", &[])
                .collect::<Vec<_>>(),
            after
                .matching("convene_events_total", &[])
                .collect::<Vec<_>>()
        );
        ready(counted, seen).map(|()| after)
    })
    .await;
    let auth = node.peer_auth_stats();
    assert_eq!(auth.strangers - auth_before.strangers, u64::from(FORGED));
    assert_eq!(dropped(&after, "stranger"), auth.strangers as f64);
    assert_eq!(dropped(&after, "bad_mac"), auth.bad_mac as f64);
    assert_eq!(dropped(&after, "unsealed"), auth.malformed as f64);
    c.stop().await;
}
