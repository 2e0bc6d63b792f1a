//! `kill -9` of an event's leader, with three `convene node` processes on
//! one shared SQLite file: before the deadline (the coordinator hands the
//! event to a live server, which finishes it on time from the database
//! backups) and in the middle of finishing (between freezing the servers and
//! storing the result, held open by a fault-injection pause): the result is
//! still stored, once, and complete.

use std::net::SocketAddr;
use std::time::Duration;

use convene_node::Fault;
use convene_web::client::HttpClient;
use serde_json::{Value, json};

use crate::events::{now, unique};
use crate::util::{FAST_ELECTION, HIGH_LIMITS, Held, NodeProcess, eventually, ready};

const IDS: [&str; 3] = ["A", "B", "C"];

struct Cluster {
    nodes: Vec<NodeProcess>,
    http: Vec<SocketAddr>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn log(&self, at: usize) -> String {
        self.nodes[at].log()
    }
}

/// Three node processes, every one serving its web front, started: each
/// on a peer socket the test bound (the others must know it), its web
/// front on a port of its choosing (port 0, read from its ports file).
async fn start(faults: &[Fault]) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = String::new();
    let mut peers = Vec::new();
    for id in IDS {
        let peer = Held::udp("peer");
        toml.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhost = \"127.0.0.1\"\npeer_port = {}\nhttp_port = 0\n",
            peer.port()
        ));
        peers.push(peer);
    }
    toml.push_str(FAST_ELECTION);
    toml.push_str(HIGH_LIMITS);
    let config = dir.path().join("cluster.toml");
    std::fs::write(&config, toml).unwrap();
    let mut nodes: Vec<NodeProcess> = IDS
        .iter()
        .zip(peers)
        .map(|(id, peer)| NodeProcess::spawn("--config", &config, id, faults, vec![peer]))
        .collect();
    for node in &mut nodes {
        node.started().await;
    }
    let http = nodes.iter().map(|n| n.addr("http")).collect();
    Cluster {
        nodes,
        http,
        _dir: dir,
    }
}

/// A logged-in API client on node `at` (started: its web front serves).
async fn user(c: &Cluster, at: usize, name: &str) -> HttpClient {
    let mut client = HttpClient::new(c.http[at]);
    let credentials = json!({"username": name, "password": "kill-test-password"});
    let r = client.post_json("/api/register", &credentials).await;
    assert!(
        matches!(&r, Ok(r) if r.status == 201),
        "node {at} refused a registration: {r:?}\n{}",
        c.log(at)
    );
    let login = client.post_json("/api/login", &credentials).await.unwrap();
    assert_eq!(login.status, 200, "{}", login.text());
    client
}

/// Waits until every node has seen the other two come up (its log says
/// so): round-robin needs the live set.
async fn settle(c: &Cluster) {
    for (at, id) in IDS.iter().enumerate() {
        let others: Vec<String> = IDS
            .iter()
            .filter(|other| *other != id)
            .map(|other| format!("node {other} is up"))
            .collect();
        let what = format!("node {id} to see the others");
        eventually(Duration::from_secs(15), &what, || async {
            let log = c.log(at);
            ready(others.iter().all(|line| log.contains(line)), log)
        })
        .await;
    }
}

async fn event(client: &mut HttpClient, id: &str) -> Value {
    let r = client.get(&format!("/api/events/{id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json().unwrap()
}

fn window(start_hour: u32, end_hour: u32) -> Value {
    json!([{"start": format!("2030-01-01T{start_hour:02}:00:00Z"), "end": format!("2030-01-01T{end_hour:02}:00:00Z")}])
}

/// Three users answer through three nodes; returns the event id, its
/// deadline and each user's client.
async fn scenario(c: &Cluster, seconds: i64) -> (String, i64, Vec<HttpClient>) {
    let tag = unique();
    let mut users = Vec::new();
    for (i, name) in ["kim", "lou", "max"].iter().enumerate() {
        users.push(user(c, i, &format!("{name}-{tag}")).await);
    }
    settle(c).await;
    let deadline = now() + seconds;
    let created = users[0]
        .post_json(
            "/api/events",
            &json!({
                "name": "Kill test", "participants": [format!("lou-{tag}"), format!("max-{tag}")],
                "deadline": convene_events::zone::format_rfc3339(deadline),
                "constraints": window(8, 18),
            }),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json().unwrap()["id"].as_str().unwrap().to_string();
    for (i, (from, to)) in [(10, 20), (9, 16)].into_iter().enumerate() {
        let r = users[i + 1]
            .post_json(
                &format!("/api/events/{id}/constraints"),
                &json!({"constraints": window(from, to)}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    (id, deadline, users)
}

/// Waits until the event is final, at most `within` seconds after its
/// deadline (by the wall clock the nodes decide by).
async fn wait_final(client: &mut HttpClient, id: &str, deadline: i64, within: i64) -> Value {
    // Late once the clock's second passes deadline + within.
    let late = std::time::UNIX_EPOCH + Duration::from_secs((deadline + within + 1) as u64);
    let timeout = late
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    let what = format!("event {id} to be final {within} s after its deadline");
    let client = tokio::sync::Mutex::new(client);
    eventually(timeout, &what, || async {
        let e = event(*client.lock().await, id).await;
        if e["state"] == "final" { Ok(e) } else { Err(e) }
    })
    .await
}

fn node_index(leader: &Value) -> usize {
    IDS.iter()
        .position(|id| leader == id)
        .expect("a known leader")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_before_the_deadline_is_replaced_and_the_result_is_on_time() {
    let mut c = start(&[]).await;
    let (id, deadline, mut users) = scenario(&c, 3).await;
    let leader = node_index(&event(&mut users[0], &id).await["leader"]);
    c.nodes[leader].kill(); // SIGKILL
    // The same session works on any node: sessions live in the database.
    let reader = &mut users[0];
    reader.set_addr(c.http[(leader + 1) % 3]);
    let e = wait_final(reader, &id, deadline, 6).await;
    assert_eq!(e["result"], window(10, 16), "{e}");
    assert_ne!(
        node_index(&e["leader"]),
        leader,
        "a live server took the event over"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_hand_over_a_live_server_takes_a_dead_leaders_event_past_its_deadline() {
    // The coordinator never hands over (a long election, views that
    // disagree): the servers' sweep is the safety net.
    let mut c = start(&[Fault::EventsNoHandOver]).await;
    let (id, deadline, mut users) = scenario(&c, 3).await;
    let leader = node_index(&event(&mut users[0], &id).await["leader"]);
    c.nodes[leader].kill(); // SIGKILL
    let reader = &mut users[0];
    reader.set_addr(c.http[(leader + 1) % 3]);
    // Taken over 2 s past the deadline, at the next sweep (every 2 s).
    let e = wait_final(reader, &id, deadline, 8).await;
    assert_eq!(e["result"], window(10, 16), "{e}");
    assert_ne!(node_index(&e["leader"]), leader, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_while_finishing_is_replaced_and_the_result_stored_once() {
    // Every leader pauses 2 s between freezing the servers and storing.
    let mut c = start(&[Fault::EventsPauseBeforeStore(Duration::from_secs(2))]).await;
    let (id, deadline, mut users) = scenario(&c, 3).await;
    let leader = node_index(&event(&mut users[0], &id).await["leader"]);
    // Kill it inside its pause: frozen everywhere, nothing stored yet. (A
    // wait for time to pass: the pause begins at the deadline, and shows
    // nothing a test could await.)
    while now() < deadline + 1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(event(&mut users[0], &id).await["state"], "open");
    let late = users[1]
        .post_json(
            &format!("/api/events/{id}/constraints"),
            &json!({"constraints": window(11, 12)}),
        )
        .await
        .unwrap();
    assert_eq!(
        late.status,
        409,
        "frozen and past the deadline: {}",
        late.text()
    );
    c.nodes[leader].kill(); // SIGKILL
    let reader = &mut users[0];
    reader.set_addr(c.http[(leader + 1) % 3]);
    // The new leader pauses too (2 s), after failure detection.
    let e = wait_final(reader, &id, deadline, 10).await;
    assert_eq!(e["result"], window(10, 16), "{e}");
    assert_ne!(node_index(&e["leader"]), leader);
    // Stored once: it stays as it is. (A wait for time to pass: a second
    // store would come within it, and there is nothing else to await.)
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(event(reader, &id).await, e);
}
