//! `kill -9` of an event's leader, with three `convene node` processes on
//! one shared SQLite file: before the deadline (the coordinator hands the
//! event to a live server, which finishes it on time from the database
//! backups) and in the middle of finishing (between freezing the servers and
//! storing the result, held open by a fault-injection pause): the result is
//! still stored, once, and complete.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use convene_node::Fault;
use convene_web::client::HttpClient;
use serde_json::{Value, json};

use crate::events::{now, unique};
use crate::util::{FAST_ELECTION, HIGH_LIMITS, NodeProcess, free_ports};

const IDS: [&str; 3] = ["A", "B", "C"];

struct Cluster {
    dir: tempfile::TempDir,
    nodes: Vec<Option<NodeProcess>>,
    http: Vec<SocketAddr>,
}

/// Three node processes on free ports, every one serving its web front.
///
/// A port found free may be taken again before the node binds it (the OS
/// hands out the same range for outgoing connections): a node that exits
/// at start is such a loss, and the cluster is started again on new ports.
async fn start(faults: &[Fault]) -> Cluster {
    for _ in 0..5 {
        let mut c = spawn_cluster(faults);
        match serving(&mut c).await {
            Ok(()) => return c,
            Err(why) => eprintln!("starting again on other ports: {why}"),
        }
    }
    panic!("the node processes never started");
}

fn spawn_cluster(faults: &[Fault]) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = String::new();
    let mut http = Vec::new();
    for id in IDS {
        let (port, peer_port) = free_ports();
        http.push(SocketAddr::from(([127, 0, 0, 1], port)));
        toml.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhost = \"127.0.0.1\"\npeer_port = {peer_port}\nhttp_port = {port}\n"
        ));
    }
    toml.push_str(FAST_ELECTION);
    toml.push_str(HIGH_LIMITS);
    let config = dir.path().join("cluster.toml");
    std::fs::write(&config, toml).unwrap();
    let nodes = IDS
        .iter()
        .map(|id| Some(NodeProcess::start("--config", &config, id, faults)))
        .collect();
    Cluster { dir, nodes, http }
}

/// Waits until every node has started (its log says so) and accepts
/// connections on its web port; an error, with the node's log, if one
/// exits first or has not started in 20 s.
async fn serving(c: &mut Cluster) -> Result<(), String> {
    let give_up = Instant::now() + Duration::from_secs(20);
    for (i, id) in IDS.iter().enumerate() {
        let log_path = c.dir.path().join(format!("{id}.log"));
        loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if log.contains("node started")
                && tokio::net::TcpStream::connect(c.http[i]).await.is_ok()
            {
                break;
            }
            let exited = c.nodes[i].as_mut().is_some_and(|n| n.has_exited());
            if exited || Instant::now() >= give_up {
                return Err(format!("node {id} is not serving:\n{log}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// A logged-in API client on node `at`, retrying while the nodes start.
async fn user(c: &Cluster, at: usize, name: &str) -> HttpClient {
    let mut client = HttpClient::new(c.http[at]);
    let credentials = json!({"username": name, "password": "kill-test-password"});
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        match client.post_json("/api/register", &credentials).await {
            Ok(r) if r.status == 201 => break,
            other => {
                assert!(
                    Instant::now() < give_up,
                    "node {at} never took a registration: {other:?}\n{}",
                    std::fs::read_to_string(c.dir.path().join(format!("{}.log", IDS[at])))
                        .unwrap_or_default()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let login = client.post_json("/api/login", &credentials).await.unwrap();
    assert_eq!(login.status, 200, "{}", login.text());
    client
}

/// Waits until every node has seen the other two come up (its log says
/// so): round-robin needs the live set.
async fn settle(c: &Cluster) {
    let give_up = std::time::Instant::now() + Duration::from_secs(15);
    for id in IDS {
        let log = c.dir.path().join(format!("{id}.log"));
        let others: Vec<String> = IDS
            .iter()
            .filter(|other| **other != id)
            .map(|other| format!("node {other} is up"))
            .collect();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if others.iter().all(|line| text.contains(line)) {
                break;
            }
            assert!(
                std::time::Instant::now() < give_up,
                "node {id} never saw the others:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

async fn wait_final(client: &mut HttpClient, id: &str, deadline: i64, within: i64) -> Value {
    loop {
        let e = event(client, id).await;
        if e["state"] == "final" {
            return e;
        }
        assert!(
            now() <= deadline + within,
            "not final {within} s after the deadline: {e}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    c.nodes[leader] = None; // SIGKILL
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
    c.nodes[leader] = None; // SIGKILL
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
    // Kill it inside its pause: frozen everywhere, nothing stored yet.
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
    c.nodes[leader] = None; // SIGKILL
    let reader = &mut users[0];
    reader.set_addr(c.http[(leader + 1) % 3]);
    // The new leader pauses too (2 s), after failure detection.
    let e = wait_final(reader, &id, deadline, 10).await;
    assert_eq!(e["result"], window(10, 16), "{e}");
    assert_ne!(node_index(&e["leader"]), leader);
    // Stored once: it stays as it is.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(event(reader, &id).await, e);
}
