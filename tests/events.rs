//! The events service over three in-process nodes, through the `Events`
//! handle a web front calls: the common time found at the deadline, the
//! refusals, and a node's crash and restart while answers come in. Each
//! test runs on SQLite, and again on MariaDB, PostgreSQL and SQLite + Redis
//! when `CONVENE_TEST_MYSQL_URL`, `CONVENE_TEST_POSTGRES_URL` and
//! `CONVENE_TEST_REDIS_URL` are set (`.ci/run` sets them).
//!
//! These wait for real deadlines, so they are the few end-to-end checks of
//! each behaviour on each storage engine. The decisions behind them (the
//! hand-over, the sweep, the leader's finish) are tested in
//! `convene_events::plan`, and the service as a whole on a simulated clock
//! and network in `convene_events`'s `service/sim.rs`, where a leader's
//! death before, at and after its deadline, a partition and crashes take
//! no real time; `events_kill.rs` kills real processes.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use convene_events::db::{EventState, User};
use convene_events::service::NewEventRequest;
use convene_events::{Availability, Events, EventsError, Interval};

use crate::util::{FAST_ELECTION, HIGH_LIMITS, TestCluster, eventually, ready, web};

/// The storage a test runs on: the cluster file's top-level keys, or `None`
/// when its server is not configured (`on_every_backend!` has said the test
/// is skipped, or failed it, before it ran).
pub fn storage(backend: &str) -> Option<String> {
    let Some(var) = crate::util::skip::database_var(backend) else {
        return Some(String::new()); // SQLite, in the node's data folder
    };
    let url = std::env::var(var).ok().filter(|u| !u.is_empty());
    match backend {
        "mysql" | "postgres" => url.map(|u| format!("database_url = \"{u}\"\n")),
        "redis" => url.map(|u| format!("redis_url = \"{u}\"\n")),
        _ => unreachable!("a backend with a server"),
    }
}

/// A suffix that keeps names apart between runs sharing one database.
pub fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", nanos % 0xffff_ffff, std::process::id())
}

pub use convene_events::zone::now_seconds as now;

fn hours(pairs: &[(i64, i64)]) -> Availability {
    // Whole hours from a fixed day, 2030-01-01T00:00Z.
    const DAY: i64 = 1_893_456_000;
    Availability::from_iter(
        pairs
            .iter()
            .map(|&(s, e)| Interval::new(DAY + s * 3600, DAY + e * 3600).unwrap()),
    )
}

/// Three event servers with web fronts, A, B and C, on `backend`, once
/// each sees the others live (`None` if the backend is not configured).
pub async fn cluster(backend: &str) -> Option<TestCluster> {
    let head = storage(backend)?;
    let turn = server_turn(backend).await;
    end_earlier_runs(backend).await;
    let tail = format!("{FAST_ELECTION}{HIGH_LIMITS}");
    let mut c = TestCluster::bind_full(&[web("A"), web("B"), web("C")], &head, &tail).await;
    for id in ["A", "B", "C"] {
        c.start_node(id).await;
    }
    // Round-robin needs every server seen live by every node.
    for id in ["A", "B", "C"] {
        let live = c.node(id).membership().live();
        let what = format!("{id} to see all three nodes");
        eventually(Duration::from_secs(10), &what, || async {
            let seen = live.borrow().len();
            ready(seen >= 3, format!("it sees {seen}"))
        })
        .await;
    }
    c.turn = turn;
    Some(c)
}

/// Finishes the open events that earlier test clusters on this database
/// server left behind (their nodes were called A, B and C too, and are
/// gone). Otherwise this cluster's nodes, whose ids match, would take them
/// over as a real cluster must, and spend the test finishing old events.
/// Safe while this cluster holds the server's turn: no other is running.
async fn end_earlier_runs(backend: &str) {
    let url = match backend {
        "mysql" => std::env::var("CONVENE_TEST_MYSQL_URL"),
        "postgres" => std::env::var("CONVENE_TEST_POSTGRES_URL"),
        _ => return,
    };
    let Ok(url) = url else { return };
    let db = convene_eventdb::open(&url)
        .await
        .expect("the test database");
    for open in db.open_events().await.expect("open events") {
        if ["A", "B", "C"].contains(&open.leader.as_str()) {
            let _ = db
                .finish(&open.id, &convene_events::Partial::none(), &[])
                .await;
        }
    }
}

/// One test cluster at a time on each database server. Each node keeps a
/// pool of up to ten connections, and the whole suite's clusters at once
/// would pass PostgreSQL's default limit of 100 clients ("too many
/// clients"), which a user's cluster of a few nodes never meets.
pub async fn server_turn(backend: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
    static MYSQL: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
        std::sync::LazyLock::new(Default::default);
    static POSTGRES: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
        std::sync::LazyLock::new(Default::default);
    let lock = match backend {
        "mysql" => &MYSQL,
        "postgres" => &POSTGRES,
        _ => return None,
    };
    Some(std::sync::Arc::clone(lock).lock_owned().await)
}

fn events(c: &TestCluster, id: &str) -> Events {
    c.node(id).events().expect("the events service").clone()
}

/// Registers users directly in the database (no password check needed here).
async fn users(events: &Events, names: &[&str], tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        let name = format!("{name}-{tag}");
        let user = User {
            name: name.clone(),
            password_hash: "$argon2id$test".into(),
            time_zone: "UTC".into(),
        };
        events.db().create_user(&user).await.unwrap();
        out.push(name);
    }
    out
}

/// Waits for the event to be final; returns its result and how long after
/// the deadline it came.
async fn final_result(
    c: &TestCluster,
    events: &Events,
    id: &str,
    deadline: i64,
    within: Duration,
) -> (Availability, Duration) {
    let timeout = within + Duration::from_secs((deadline - now()).max(0) as u64);
    let what = format!("event {id} to be final {within:?} after its deadline");
    let event = eventually(timeout, &what, || async {
        let event = events.event(id).await.unwrap();
        match event.state {
            EventState::Final => Ok(event),
            _ => Err(format!("leader {}; {}", event.leader, c.membership_views())),
        }
    })
    .await;
    let late = SystemTime::now()
        .duration_since(UNIX_EPOCH + Duration::from_secs(deadline as u64))
        .expect("final before its deadline");
    (event.result.expect("a final event has a result"), late)
}

on_every_backend!(
    three_servers_find_the_common_time,
    bad_requests_are_refused_with_reasons,
    acknowledged_constraints_survive_a_crash_and_restart,
);

async fn three_servers_find_the_common_time(backend: &str) {
    let Some(c) = cluster(backend).await else {
        return;
    };
    let (a, b, cc) = (events(&c, "A"), events(&c, "B"), events(&c, "C"));
    let tag = unique();
    let names = users(&a, &["ada", "bo", "cy", "dee"], &tag).await;
    let deadline = now() + 3;
    let id = a
        .create(NewEventRequest {
            name: "Planning".into(),
            description: "Q3".into(),
            creator: names[0].clone(),
            participants: names[1..].to_vec(),
            deadline,
            availability: Some(hours(&[(8, 12), (14, 18)])),
        })
        .await
        .unwrap();
    // Answers through every node; round-robin spreads them over the servers.
    b.submit(&id, &names[1], hours(&[(9, 11), (15, 20)]))
        .await
        .unwrap();
    cc.submit(&id, &names[2], hours(&[(10, 16)])).await.unwrap();
    a.submit(&id, &names[3], hours(&[(0, 24)])).await.unwrap();
    // A second answer narrows further (each submission is a constraint).
    b.submit(&id, &names[3], hours(&[(10, 11), (15, 16)]))
        .await
        .unwrap();

    let open = cc.event(&id).await.unwrap();
    assert_eq!(open.state, EventState::Open);
    assert!(["A", "B", "C"].contains(&open.leader.as_str()));
    // Everyone has answered: the creator with the event, the rest since.
    assert_eq!(
        open.participants
            .iter()
            .map(|p| (p.name.as_str(), p.answered))
            .collect::<Vec<_>>(),
        names.iter().map(|n| (n.as_str(), true)).collect::<Vec<_>>()
    );

    let (result, late) = final_result(&c, &b, &id, deadline, Duration::from_secs(5)).await;
    assert_eq!(
        result,
        hours(&[(10, 11), (15, 16)]),
        "every interval of the result is kept"
    );
    assert!(
        late < Duration::from_secs(3),
        "the result came {late:?} after the deadline"
    );
    // Stored once, the same everywhere; the backups are gone.
    assert_eq!(a.event(&id).await.unwrap().result, Some(result.clone()));
    for server in ["A", "B", "C"] {
        assert!(a.db().constraints(&id, server).await.unwrap().is_empty());
    }
    // Late answers are refused.
    let late = cc.submit(&id, &names[1], hours(&[(10, 11)])).await;
    assert_eq!(late, Err(EventsError::DeadlinePassed));
    c.stop().await;
}

async fn bad_requests_are_refused_with_reasons(backend: &str) {
    let Some(c) = cluster(backend).await else {
        return;
    };
    let a = events(&c, "A");
    let tag = unique();
    let names = users(&a, &["eve", "fin", "gus"], &tag).await;
    let request = |participants: Vec<String>, deadline: i64| NewEventRequest {
        name: "Review".into(),
        description: String::new(),
        creator: names[0].clone(),
        participants,
        deadline,
        availability: None,
    };
    let ghost = format!("ghost-{tag}");
    match a
        .create(request(vec![names[1].clone(), ghost.clone()], now() + 60))
        .await
    {
        Err(EventsError::UnknownUsers(unknown)) => assert_eq!(unknown, vec![ghost]),
        other => panic!("expected unknown users, got {other:?}"),
    }
    assert!(matches!(
        a.create(request(vec![], now() - 1)).await,
        Err(EventsError::Invalid(_))
    ));
    let mut nameless = request(vec![], now() + 60);
    nameless.name = "  ".into();
    assert!(matches!(
        a.create(nameless).await,
        Err(EventsError::Invalid(_))
    ));

    let id = a
        .create(request(vec![names[1].clone()], now() + 60))
        .await
        .unwrap();
    let stranger = a.submit(&id, &names[2], hours(&[(1, 2)])).await;
    assert_eq!(
        stranger,
        Err(EventsError::NotInvited {
            user: names[2].clone()
        })
    );
    assert!(matches!(
        a.submit("nosuchevnt", &names[1], hours(&[(1, 2)])).await,
        Err(EventsError::UnknownEvent(_))
    ));
    assert!(matches!(
        a.submit("../../etc", &names[1], hours(&[(1, 2)])).await,
        Err(EventsError::UnknownEvent(_))
    ));
    assert!(matches!(
        a.submit(&id, &names[1], Availability::new()).await,
        Err(EventsError::Invalid(_))
    ));
    let too_many =
        Availability::from_iter((0..101).map(|i| Interval::new(i * 10, i * 10 + 5).unwrap()));
    assert!(matches!(
        a.submit(&id, &names[1], too_many).await,
        Err(EventsError::Invalid(_))
    ));
    // Errors carry HTTP statuses for the web front.
    assert_eq!(EventsError::NotInvited { user: "x".into() }.status(), 403);
    assert_eq!(EventsError::DeadlinePassed.status(), 409);
    c.stop().await;
}

/// Chaos: users answer through random live nodes while the event's leader
/// is stopped and restarted (its working set is lost; its backups and its
/// event are handed on, and rebuilt from the database). Whatever was
/// acknowledged is in the result, and nothing else: the result is exactly
/// the intersection of the acknowledged constraints.
async fn acknowledged_constraints_survive_a_crash_and_restart(backend: &str) {
    let Some(mut c) = cluster(backend).await else {
        return;
    };
    let a = events(&c, "A");
    let tag = unique();
    let names = users(&a, &["n0", "n1", "n2", "n3", "n4", "n5"], &tag).await;
    let mut seed = (now() as u64) ^ 0x9e37_79b9_7f4a_7c15;
    eprintln!("chaos seed {seed}");
    let mut random = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let deadline = now() + 5;
    let id = a
        .create(NewEventRequest {
            name: "Chaos".into(),
            description: String::new(),
            creator: names[0].clone(),
            participants: names[1..].to_vec(),
            deadline,
            availability: None,
        })
        .await
        .unwrap();
    let leader = a.event(&id).await.unwrap().leader;
    // A handle kept across the stop would keep the stopped node's socket.
    drop(a);
    let ids = ["A", "B", "C"];
    let victim = ids.into_iter().find(|i| *i == leader).unwrap();
    let mut running = [true; 3];
    let mut acknowledged: Vec<Availability> = Vec::new();
    let started = Instant::now();
    let mut restarted = false;
    while now() < deadline - 2 {
        let elapsed = started.elapsed();
        let v = ids.iter().position(|i| *i == victim).unwrap();
        if elapsed > Duration::from_millis(600) && running[v] && !restarted {
            c.stop_node(victim).await;
            running[v] = false;
        } else if elapsed > Duration::from_millis(1600) && !running[v] {
            c.start_node(victim).await;
            running[v] = true;
            restarted = true;
        }
        let via = loop {
            let i = random(3) as usize;
            if running[i] {
                break ids[i];
            }
        };
        // Around a shared core (hours 10-12) so the answer is not empty.
        let availability = hours(&[
            (8 + random(2) as i64, 12 + random(3) as i64),
            (14 + random(3) as i64, 18 + random(4) as i64),
        ]);
        let user = &names[random(names.len() as u64) as usize];
        if events(&c, via)
            .submit(&id, user, availability.clone())
            .await
            .is_ok()
        {
            acknowledged.push(availability);
        }
    }
    assert!(
        acknowledged.len() > 5,
        "too few answers got through: {}",
        acknowledged.len()
    );
    let mut expected = convene_events::Partial::none();
    for constraint in &acknowledged {
        expected.fold(constraint);
    }
    let reader = events(&c, ids.iter().copied().find(|i| *i != victim).unwrap());
    let (result, _) = final_result(&c, &reader, &id, deadline, Duration::from_secs(8)).await;
    assert_eq!(
        result,
        expected.into_result(),
        "{} acknowledged answers",
        acknowledged.len()
    );
    c.stop().await;
}

/// A web front that is not an event server hands every event and answer to
/// the event servers; the leader is one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_only_front_hands_the_work_to_the_event_servers() {
    let mut c = TestCluster::bind_full(
        &[crate::util::web_only("F"), web("S1"), web("S2")],
        "",
        FAST_ELECTION,
    )
    .await;
    for id in ["F", "S1", "S2"] {
        c.start_node(id).await;
    }
    let front = events(&c, "F");
    let live = c.node("F").membership().live();
    eventually(
        Duration::from_secs(10),
        "F to see the event servers",
        || async {
            let seen = live.borrow().len();
            ready(seen >= 3, format!("it sees {seen}"))
        },
    )
    .await;
    let names = users(&front, &["oz", "pia"], &unique()).await;
    let deadline = now() + 3;
    let mut leaders = Vec::new();
    for _ in 0..2 {
        let id = front
            .create(NewEventRequest {
                name: "Front".into(),
                description: String::new(),
                creator: names[0].clone(),
                participants: vec![names[1].clone()],
                deadline,
                availability: Some(hours(&[(9, 12)])),
            })
            .await
            .unwrap();
        front
            .submit(&id, &names[1], hours(&[(10, 13)]))
            .await
            .unwrap();
        leaders.push((id.clone(), front.event(&id).await.unwrap().leader));
    }
    let mut seen: Vec<&str> = leaders.iter().map(|(_, l)| l.as_str()).collect();
    seen.sort();
    assert_eq!(
        seen,
        ["S1", "S2"],
        "round-robin over the event servers only"
    );
    for (id, _) in &leaders {
        let (result, _) = final_result(&c, &front, id, deadline, Duration::from_secs(5)).await;
        assert_eq!(result, hours(&[(10, 12)]));
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_be_reached_stops_the_node_with_a_clear_error() {
    let mut c = TestCluster::bind_full(
        &[web("A")],
        "database_url = \"postgres://postgres@127.0.0.1:1/none\"\n",
        "",
    )
    .await;
    let error = c
        .try_start_node("A")
        .await
        .expect_err("the node refuses to start");
    let message = error.to_string();
    assert!(
        matches!(error, convene_node::NodeError::Events { .. }),
        "{message}"
    );
    assert!(message.starts_with("node A: "), "{message}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    // Nothing was started: the same ports bind again at once.
    let node = c.cluster.node("A").unwrap().clone();
    convene_node::bind_node(&node)
        .await
        .expect("the ports are free");
}
