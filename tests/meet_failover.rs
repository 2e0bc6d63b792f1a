//! Meet without a single point of failure: several main nodes that answer
//! alike, a client that fails over between them, and a backend that is down
//! reported as unreachable (never as "do not exist").

use std::net::SocketAddr;
use std::time::Duration;

use crate::util::{
    FAST_ELECTION, Held, NodeProcess, SPEC_A, SPEC_B, TestCluster, backend, convene, eventually,
    interactive, main, raw_exchange, ready,
};

const TWO_MAINS: [crate::util::NodeSpec; 4] = [
    main("M"),
    main("N"),
    backend("A", SPEC_A),
    backend("B", SPEC_B),
];

fn client_addr(c: &TestCluster, id: &str) -> SocketAddr {
    c.cluster.node(id).unwrap().client_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_main_nodes_answer_alike_and_share_one_set_of_meetings() {
    let c = TestCluster::start(&TWO_MAINS).await;
    let (m, n) = (client_addr(&c, "M"), client_addr(&c, "N"));
    let queries = b"query eliana theodore luis bob alice amy\nquery amy\nquery ghost\nquery Bob\n";
    let from_m = raw_exchange(m, queries).await;
    let from_n = raw_exchange(n, queries).await;
    assert_eq!(
        from_m,
        [
            "result missing=luis found=eliana,theodore,bob,alice,amy slots=[[2,3],[17,18]]",
            "result missing=- found=amy slots=[[2,7],[17,21]]",
            "result missing=ghost found=-",
            "error \"Bob\" is not a valid username: use lowercase letters a-z only",
        ]
    );
    assert_eq!(from_m, from_n);

    // A meeting booked through M is gone from what N recommends.
    assert_eq!(
        raw_exchange(m, b"register [17,18] alice bob\n").await,
        ["registered [17,18]"]
    );
    assert_eq!(
        raw_exchange(n, b"query alice bob\n").await,
        ["result missing=- found=alice,bob slots=[[1,3],[16,17],[18,22]]"]
    );

    // Clients racing through both main nodes for one slot: booked once.
    let mut racers = Vec::new();
    for i in 0..8 {
        let to = if i % 2 == 0 { m } else { n };
        racers.push(tokio::spawn(raw_exchange(
            to,
            b"register [20,21] alice bob amy\n",
        )));
    }
    let mut booked = 0;
    for racer in racers {
        let reply = racer.await.unwrap();
        match reply[0].as_str() {
            "registered [20,21]" => booked += 1,
            other => assert!(other.contains("is not free for"), "{other}"),
        }
    }
    assert_eq!(booked, 1);
    let after = ["result missing=- found=alice,bob,amy slots=[[2,3],[18,20]]"];
    assert_eq!(raw_exchange(m, b"query alice bob amy\n").await, after);
    assert_eq!(raw_exchange(n, b"query alice bob amy\n").await, after);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_backend_makes_its_users_unreachable_and_the_others_still_work() {
    let mut c = TestCluster::start(&TWO_MAINS).await;
    c.stop_node("B").await;
    let (m, n) = (client_addr(&c, "M"), client_addr(&c, "N"));

    let asked = b"query eliana bob luis amy\nquery eliana alice\nquery luis\n\
                  register [1,2] eliana bob\nquery eliana\n";
    let expected = [
        "error luis do not exist; bob, amy unreachable (Server B did not answer); try again later",
        "result missing=- found=eliana,alice slots=[[1,3],[12,18]]",
        "result missing=luis found=-",
        "error bob unreachable (Server B did not answer); nothing was registered",
        // Nothing was registered: [1,2] is still free for eliana.
        "result missing=- found=eliana slots=[[1,5],[12,18]]",
    ];
    assert_eq!(raw_exchange(m, asked).await, expected);
    assert_eq!(raw_exchange(n, asked).await, expected);

    // The main node's own lines say so too.
    c.wait_for_line(
        "M",
        "Server B did not answer: bob, amy unreachable. Send a reply to the client.",
    )
    .await;
    // The seed's client prints the reply as an error and goes on.
    let out = interactive(m, "bob\neliana\n").await;
    assert!(
        out.contains("Client received the reply from Main Server using TCP over port ")
            && out.contains("Error: bob unreachable (Server B did not answer); try again later"),
        "{out}"
    );
    assert!(
        out.contains("Time intervals [[1,5],[12,18]] works for eliana."),
        "{out}"
    );

    // A main node restarted while B is down still knows B's users: it kept
    // their list on its disk.
    c.stop_node("M").await;
    c.start_node("M").await;
    // A, still up, tells the new run of M its list (the seed's line), though
    // M already had it from its disk.
    c.wait_for_line("M", "Main Server received the username list from server A")
        .await;
    eventually(
        Duration::from_secs(10),
        "M to know A's and B's users",
        || {
            let known = c.node("M").meet().known_users();
            async move { ready(known >= 5, format!("it knows {known}")) }
        },
    )
    .await;
    assert_eq!(
        raw_exchange(m, b"query bob luis\n").await,
        ["error luis do not exist; bob unreachable (Server B did not answer); try again later"]
    );

    // B back: everyone is reachable again, through either main node.
    c.start_node("B").await;
    c.wait_ready().await;
    for to in [m, n] {
        eventually(
            Duration::from_secs(10),
            "B to answer again",
            || async move {
                let reply = raw_exchange(to, b"query bob\n").await;
                ready(
                    reply == ["result missing=- found=bob slots=[[1,6],[16,22]]"],
                    format!("{reply:?}"),
                )
            },
        )
        .await;
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_never_heard_from_may_hold_any_unknown_name() {
    // B never starts, and M has no list of its kept: a name on no known list
    // may be B's, so it is unreachable, not missing.
    let mut c = TestCluster::bind(&[main("M"), backend("A", SPEC_A), backend("B", SPEC_B)]).await;
    c.start_node("A").await;
    c.start_node("M").await;
    c.wait_ready().await;
    let m = c.main_addr();
    assert_eq!(
        raw_exchange(
            m,
            b"query eliana ghost\nquery eliana\nregister [1,2] ghost\n"
        )
        .await,
        [
            "error ghost unreachable (no username list yet from Server B); try again later",
            "result missing=- found=eliana slots=[[1,5],[12,18]]",
            "error ghost unreachable (no username list yet from Server B); nothing was registered",
        ]
    );
    c.wait_for_line(
        "M",
        "No username list yet from Server B: ghost unreachable. Send a reply to the client.",
    )
    .await;
    // Once B has announced, ghost plainly does not exist.
    c.start_node("B").await;
    c.wait_ready().await;
    assert_eq!(
        raw_exchange(m, b"query ghost\n").await,
        ["result missing=ghost found=-"]
    );
    c.stop().await;
}

/// `convene meet --server <servers> <names>`, off the async runtime.
async fn meet(servers: String, names: &[&str]) -> std::process::Output {
    let mut args = vec!["meet".to_string(), "--server".to_string(), servers];
    args.extend(names.iter().map(|n| n.to_string()));
    tokio::task::spawn_blocking(move || convene().args(&args).output().unwrap())
        .await
        .unwrap()
}

/// Waits until main node `node` shows that it has both backends' lists.
async fn wait_for_lists(node: &NodeProcess) {
    eventually(
        Duration::from_secs(20),
        "a main node to have both lists",
        || {
            let screen = node.screen();
            async move {
                ready(
                    ["server A", "server B"]
                        .iter()
                        .all(|s| screen.contains(&format!("received the username list from {s}"))),
                    screen,
                )
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_fails_over_when_a_main_node_is_killed_and_a_killed_backend_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), SPEC_A).unwrap();
    std::fs::write(dir.path().join("b.txt"), SPEC_B).unwrap();
    let held: Vec<Held> = (0..4).map(|_| Held::udp("peer")).collect();
    let toml = format!(
        "[[node]]\nid = \"M\"\nhost = \"127.0.0.1\"\npeer_port = {}\nclient_port = 0\n\
         [[node]]\nid = \"N\"\nhost = \"127.0.0.1\"\npeer_port = {}\nclient_port = 0\n\
         [[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = {}\n[node.meet]\navailability = \"a.txt\"\n\
         [[node]]\nid = \"B\"\nhost = \"127.0.0.1\"\npeer_port = {}\n[node.meet]\navailability = \"b.txt\"\n\
         {FAST_ELECTION}",
        held[0].port(),
        held[1].port(),
        held[2].port(),
        held[3].port(),
    );
    let config = dir.path().join("cluster.toml");
    std::fs::write(&config, toml).unwrap();
    let mut nodes: Vec<NodeProcess> = ["M", "N", "A", "B"]
        .into_iter()
        .zip(held)
        .map(|(id, peer)| NodeProcess::spawn("--config", &config, id, &[], vec![peer]))
        .collect();
    for node in &mut nodes {
        node.started().await;
    }
    wait_for_lists(&nodes[0]).await;
    wait_for_lists(&nodes[1]).await;
    let (m, n) = (nodes[0].addr("client"), nodes[1].addr("client"));
    let both = format!("{m},{n}");

    // A conversation open with M carries on with N when M is killed.
    let mut conn = tokio::task::spawn_blocking(move || {
        convene_meet::client::Connection::open(
            convene_meet::client::MainServers::new(vec![m, n]).unwrap(),
        )
        .unwrap()
    })
    .await
    .unwrap();
    let query = convene_meet::protocol::Request::Query(vec!["eliana".into(), "bob".into()]);
    let (conn_back, first) = {
        let q = query.clone();
        tokio::task::spawn_blocking(move || {
            let reply = conn.exchange(&q).unwrap();
            (conn, reply)
        })
        .await
        .unwrap()
    };
    conn = conn_back;
    assert_eq!(conn.server(), m);
    nodes[0].kill(); // SIGKILL
    let (conn, second) = tokio::task::spawn_blocking(move || {
        let reply = conn.exchange(&query).unwrap();
        (conn, reply)
    })
    .await
    .unwrap();
    assert_eq!(conn.server(), n, "the request went to N");
    assert_eq!(first, second, "N answers as M did");

    // `convene meet` given both, M first: it is answered by N.
    let out = meet(both.clone(), &["eliana", "luis", "bob"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("luis do not exist.\n"), "{stdout}");
    assert!(
        stdout.contains("Time intervals [[1,5],[16,18]] works for eliana, bob.\n"),
        "{stdout}"
    );
    // Given only M, it says it cannot reach it.
    let out = meet(m.to_string(), &["eliana"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("cannot reach the Main Server at {m}")),
        "{out:?}"
    );

    // B killed: its users are unreachable, A's still answer.
    nodes[3].kill();
    let out = meet(both.clone(), &["eliana", "bob"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stdout.contains("Error: bob unreachable (Server B did not answer); try again later"),
        "{stdout}"
    );
    assert!(!stdout.contains("do not exist"), "{stdout}");
    let out = meet(both, &["eliana", "alice"]).await;
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout)
                .contains("Time intervals [[1,3],[12,18]] works for eliana, alice."),
        "{out:?}"
    );
}

#[test]
fn meet_refuses_a_server_list_with_a_duplicate() {
    let out = convene()
        .args([
            "meet",
            "--server",
            "127.0.0.1:24092,127.0.0.1:24093",
            "--server",
            "127.0.0.1:24092",
            "alice",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--server: the Main Server 127.0.0.1:24092 is listed twice"),
        "{stderr}"
    );
}
