//! The meet flow end to end: a main node and two backends on loopback, the
//! client in interactive mode, lines compared with the spec's tables.

use std::time::Duration;

use crate::util::{
    SPEC_A, SPEC_B, TestCluster, backend, eventually, interactive, main, ready, without_ports,
};

const SPEC_CLUSTER: [crate::util::NodeSpec; 3] =
    [main("M"), backend("A", SPEC_A), backend("B", SPEC_B)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_example_with_registration_prints_the_spec_lines() {
    let c = TestCluster::start(&SPEC_CLUSTER).await;
    let m_peer = c.cluster.node("M").unwrap().peer_port;
    let m_client = c.cluster.node("M").unwrap().client_port.unwrap();
    let a_peer = c.cluster.node("A").unwrap().peer_port;
    let b_peer = c.cluster.node("B").unwrap().peer_port;

    // Boot lines (Tables 4 and 7).
    assert_eq!(c.lines("M")[0], "Main Server is up and running.");
    assert_eq!(
        c.lines("A")[0],
        format!("Server A is up and running using UDP on port {a_peer}.")
    );
    c.wait_for_line(
        "A",
        "Server A finished sending a list of usernames to Main Server.",
    )
    .await;
    c.wait_for_line(
        "B",
        "Server B finished sending a list of usernames to Main Server.",
    )
    .await;
    for server in ["A", "B"] {
        let line = format!(
            "Main Server received the username list from server {server} using UDP over port {m_peer}."
        );
        assert!(c.lines("M").contains(&line), "{:#?}", c.lines("M"));
    }
    c.clear_lines();

    let out = interactive(
        c.main_addr(),
        "eliana theodore luis bob alice amy\n[2,4]\n[17,18]\n",
    )
    .await;
    assert_eq!(
        without_ports(&out),
        "Client is up and running.\n\
         Please enter the usernames to check schedule availability:\n\
         Client finished sending the usernames to Main Server.\n\
         Client received the reply from Main Server using TCP over port <port>:\n\
         luis do not exist.\n\
         Client received the reply from Main Server using TCP over port <port>:\n\
         Time intervals [[2,3],[17,18]] works for eliana, theodore, bob, alice, amy.\n\
         Please enter the final meeting time to register an meeting:\n\
         Time interval [2,4] is not valid. Please enter again:\n\
         Sent the request to register [17,18] as the meeting time for eliana, theodore, bob, alice, amy.\n\
         Received the notification that registration has finished.\n\
         -----Start a new request-----\n\
         Please enter the usernames to check schedule availability:"
    );

    // Main (Table 7). The two backends answer in either order.
    let m = c.lines("M");
    let expect_in_order = [
        format!("Main Server received the request from client using TCP over port {m_client}."),
        "luis do not exist. Send a reply to the client.".to_string(),
        "Found eliana, alice located at Server A. Send to Server A.".to_string(),
        "Found theodore, bob, amy located at Server B. Send to Server B.".to_string(),
        "Found the intersection between the results from server A and B:".to_string(),
        "[[2,3],[17,18]].".to_string(),
        "Main Server sent the result to the client.".to_string(),
    ];
    assert_subsequence(&m, &expect_in_order);
    assert_subsequence(
        &m,
        &[
            format!(
                "Main Server received from server A the intersection result using UDP over port {m_peer}:"
            ),
            "[[1,3],[12,18]].".to_string(),
        ],
    );
    assert_subsequence(
        &m,
        &[
            format!(
                "Main Server received from server B the intersection result using UDP over port {m_peer}:"
            ),
            "[[2,5],[17,20]].".to_string(),
        ],
    );
    c.wait_for_line(
        "M",
        "Main Server notified the client that registration has finished.",
    )
    .await;

    // Backends (Table 4 and the extra credit).
    assert_eq!(
        c.lines("A"),
        [
            format!(
                "Server A received the usernames from Main Server using UDP over port {a_peer}."
            ),
            "Found the intersection result: [[1,3],[12,18]] for eliana, alice.".to_string(),
            "Server A finished sending the response to Main Server.".to_string(),
            "Register a meeting at [17,18] and update the availability for the following users:"
                .to_string(),
            "eliana: updated from [[1,5],[12,18]] to [[1,5],[12,17]]".to_string(),
            "alice: updated from [[1,3],[10,24]] to [[1,3],[10,17],[18,24]]".to_string(),
            "Notified Main Server that registration has finished.".to_string(),
        ]
    );
    assert_eq!(
        c.lines("B")[0],
        format!("Server B received the usernames from Main Server using UDP over port {b_peer}.")
    );
    assert!(
        c.lines("B")
            .contains(&"bob: updated from [[1,6],[16,22]] to [[1,6],[16,17],[18,22]]".to_string())
    );

    // The slot is gone: asking again recommends what is left.
    let out = interactive(c.main_addr(), "eliana alice\n").await;
    assert!(
        out.contains("Time intervals [[1,3],[12,17]] works for eliana, alice."),
        "{out}"
    );
    c.stop().await;
}

fn assert_subsequence(lines: &[String], expected: &[String]) {
    let mut at = 0;
    for want in expected {
        match lines[at..].iter().position(|l| l == want) {
            Some(i) => at += i + 1,
            None => panic!("missing (in order) {want:?} in {lines:#?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_backend_only_and_every_name_missing() {
    let c = TestCluster::start(&SPEC_CLUSTER).await;
    c.clear_lines();
    let out = interactive(c.main_addr(), "eliana alice\n\nghost nobody\n").await;
    assert!(
        out.contains("Time intervals [[1,3],[12,18]] works for eliana, alice."),
        "{out}"
    );
    assert!(out.contains("ghost, nobody do not exist."), "{out}");
    assert!(
        !out.contains("works for .") && !out.contains("works for ghost"),
        "{out}"
    );
    // Only A was asked. (B may still be finishing its start-up announcement,
    // whose last line can land after `clear_lines`: that is not a query.)
    let asked_b: Vec<String> = c
        .lines("B")
        .into_iter()
        .filter(|l| !l.contains("list of usernames"))
        .collect();
    assert!(asked_b.is_empty(), "{asked_b:#?}");
    assert!(
        c.lines("M")
            .contains(&"Found the intersection between the results from server A:".to_string())
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_strict_rule_touching_intervals_do_not_meet() {
    let c = TestCluster::start(&[
        main("M"),
        backend("A", "zed;[[15,17]]\nyan;[[17,18]]\n"),
        backend("B", "xia;[[10,20]]"),
    ])
    .await;
    let out = interactive(c.main_addr(), "zed yan xia\n").await;
    assert!(
        out.contains("Time intervals [] works for zed, yan, xia."),
        "{out}"
    );
    // Nothing to register in an empty recommendation: straight to a new request.
    assert!(!out.contains("register an meeting"), "{out}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_meetings_survive_a_restart_of_every_node() {
    let mut c = TestCluster::start(&SPEC_CLUSTER).await;
    let out = interactive(c.main_addr(), "alice bob\n[20,21]\n").await;
    assert!(
        out.contains("Received the notification that registration has finished."),
        "{out}"
    );
    for id in ["M", "A", "B"] {
        c.stop_node(id).await;
    }
    for id in ["A", "B", "M"] {
        c.start_node(id).await;
    }
    c.wait_ready().await;
    let out = interactive(c.main_addr(), "alice\n\nbob\n").await;
    assert!(
        out.contains("Time intervals [[1,3],[10,20],[21,24]] works for alice."),
        "{out}"
    );
    assert!(
        out.contains("Time intervals [[1,6],[16,20],[21,22]] works for bob."),
        "{out}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_started_before_main_or_restarted_register_again() {
    // Backends first: main asks them to announce when it starts.
    let mut c = TestCluster::bind(&SPEC_CLUSTER).await;
    c.start_node("A").await;
    c.start_node("B").await;
    // A wait for time to pass: the backends run alone a while, their
    // announcements unanswered (nothing shows that until main answers).
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.start_node("M").await;
    c.wait_ready().await;
    let out = interactive(c.main_addr(), "eliana bob\n").await;
    assert!(out.contains("works for eliana, bob."), "{out}");

    // A backend restarted with a different file: its new list replaces the old.
    c.stop_node("A").await;
    std::fs::write(c.path("a.txt"), "carol;[[1,50]]\n").unwrap();
    c.start_node("A").await;
    c.wait_for_line("M", "from server A").await;
    eventually(Duration::from_secs(10), "A's new list at M", || async {
        let out = interactive(c.main_addr(), "carol eliana\n").await;
        ready(
            out.contains("eliana do not exist.")
                && out.contains("Time intervals [[1,50]] works for carol."),
            out,
        )
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_main_node_with_a_dead_backend_says_so_and_keeps_serving() {
    let mut c = TestCluster::start(&SPEC_CLUSTER).await;
    c.stop_node("B").await;
    let out = interactive(c.main_addr(), "eliana bob\neliana alice\n").await;
    assert!(
        out.contains("Error: bob unreachable (Server B did not answer); try again later"),
        "{out}"
    );
    assert!(!out.contains("do not exist"), "{out}");
    assert!(
        out.contains("Time intervals [[1,3],[12,18]] works for eliana, alice."),
        "{out}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_at_once_all_get_the_right_answer() {
    let c = TestCluster::start(&SPEC_CLUSTER).await;
    let server = c.main_addr();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let input = if i % 2 == 0 {
            "eliana theodore bob alice amy\n"
        } else {
            "alice bob\n\namy\n"
        };
        tasks.push(tokio::spawn(interactive(server, input)));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let out = t.await.unwrap();
        if i % 2 == 0 {
            assert!(
                out.contains(
                    "Time intervals [[2,3],[17,18]] works for eliana, theodore, bob, alice, amy."
                ),
                "{out}"
            );
        } else {
            assert!(
                out.contains("Time intervals [[1,3],[16,22]] works for alice, bob."),
                "{out}"
            );
            assert!(
                out.contains("Time intervals [[2,7],[17,21]] works for amy."),
                "{out}"
            );
        }
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_registrations_of_one_slot_book_it_once() {
    let c = TestCluster::start(&SPEC_CLUSTER).await;
    let server = c.main_addr();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        tasks.push(tokio::spawn(interactive(server, "alice bob\n[17,18]\n")));
    }
    let (mut booked, mut refused, mut too_late) = (0, 0, 0);
    for t in tasks {
        let out = t.await.unwrap();
        booked +=
            out.contains("Received the notification that registration has finished.") as usize;
        // Raced and lost at the backend...
        refused += out.contains("Registration failed: [17,18] is not free for") as usize;
        // ...or asked after the winner booked, so [17,18] was not recommended.
        too_late += out.contains("Time interval [17,18] is not valid.") as usize;
    }
    assert_eq!(booked, 1);
    assert_eq!(refused + too_late, 7);
    let out = interactive(server, "alice bob\n").await;
    assert!(
        out.contains("Time intervals [[1,3],[16,17],[18,22]] works for alice, bob."),
        "{out}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_on_one_backend_undoes_the_other() {
    let c = TestCluster::start(&SPEC_CLUSTER).await;
    // bob (B) is busy at [17,18] after this; alice (A) is not.
    let out = interactive(c.main_addr(), "bob\n[17,18]\n").await;
    assert!(out.contains("registration has finished"), "{out}");
    // Ask for alice and bob with a stale recommendation, straight on the protocol.
    let reply = crate::util::raw_exchange(server_of(&c), b"register [17,18] alice bob\n").await;
    assert_eq!(
        reply,
        ["error [17,18] is not free for bob any more; nothing was registered"]
    );
    // alice still has [17,18]: the meeting was undone on A.
    let out = interactive(c.main_addr(), "alice\n").await;
    assert!(
        out.contains("Time intervals [[1,3],[10,24]] works for alice."),
        "{out}"
    );
    c.stop().await;
}

fn server_of(c: &TestCluster) -> std::net::SocketAddr {
    c.main_addr()
}
