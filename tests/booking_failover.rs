//! A facility outlives `kill -9` of the node serving it: three `convene
//! node` processes share the cluster's database (the default SQLite file;
//! PostgreSQL and MySQL where their test URLs are set); the owner of the
//! room is killed, and within seconds another node serves the room with
//! every acknowledged booking, a cancel retried through another front door
//! after the move is answered from the kept reply (not executed again), and
//! a monitor registered before the death still gets callbacks.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use convene_booking::wire::{Reply, Request};
use convene_time::WeekTime;
use tokio::net::UdpSocket;

use crate::util::skip::database_url;
use crate::util::{FAST_ELECTION, Held, NodeProcess, eventually};

fn at(day: u8, hour: u8) -> WeekTime {
    WeekTime::new(day, hour, 0).unwrap()
}

/// Sends `datagram` from `socket` to `to` until a reply (not a monitor
/// update) comes, or `patience` runs out.
async fn exchange(
    socket: &UdpSocket,
    to: SocketAddr,
    datagram: &[u8],
    patience: Duration,
) -> Option<Reply> {
    let deadline = Instant::now() + patience;
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        socket.send_to(datagram, to).await.unwrap();
        let wait = Instant::now() + Duration::from_millis(300);
        while let Ok(Ok((n, _))) =
            tokio::time::timeout_at(wait.into(), socket.recv_from(&mut buf)).await
        {
            match Reply::decode(&buf[..n]) {
                Ok(Reply::Update { .. }) | Err(_) => continue,
                Ok(reply) => return Some(reply),
            }
        }
    }
    None
}

/// The next monitor update `socket` receives within `patience`.
async fn update(socket: &UdpSocket, patience: Duration) -> Option<Reply> {
    let deadline = Instant::now() + patience;
    let mut buf = vec![0u8; 65_536];
    while let Ok(Ok((n, _))) =
        tokio::time::timeout_at(deadline.into(), socket.recv_from(&mut buf)).await
    {
        if let Ok(reply @ Reply::Update { .. }) = Reply::decode(&buf[..n]) {
            return Some(reply);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_facility_moves_off_a_killed_owner_with_its_bookings_and_kept_replies() {
    moves_off_a_killed_owner("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_with_the_booking_tables_on_postgresql() {
    moves_off_a_killed_owner("postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_with_the_booking_tables_on_mysql() {
    moves_off_a_killed_owner("mysql").await;
}

/// The scenario on `backend`'s database. The room's name is new each
/// time: a server's database outlives the test.
async fn moves_off_a_killed_owner(backend: &str) {
    let Ok(url) = database_url(backend, "booking failover") else {
        return;
    };
    let database = url.map_or_else(String::new, |url| format!("database_url = {url:?}\n"));
    let room = format!("Room {:08x}", convene_rpc::os_random_u64() as u32);
    let room = room.as_str();
    let dir = tempfile::tempdir().unwrap();
    let held = [Held::udp("peer"), Held::udp("peer"), Held::udp("peer")];
    // F and S are front doors; O serves the room; S is the next booking
    // node after O, so the room moves there.
    let toml = format!(
        "{database}[[node]]\nid = \"F\"\nhost = \"127.0.0.1\"\npeer_port = {}\nbooking_port = 0\n\
         [[node]]\nid = \"O\"\nhost = \"127.0.0.1\"\npeer_port = {}\n\
         [node.booking]\nfacilities = [\"{room}\"]\n\
         [[node]]\nid = \"S\"\nhost = \"127.0.0.1\"\npeer_port = {}\nbooking_port = 0\n\
         {FAST_ELECTION}",
        held[0].port(),
        held[1].port(),
        held[2].port(),
    );
    let config = dir.path().join("cluster.toml");
    std::fs::write(&config, toml).unwrap();
    let [f, o, s] = held;
    let mut nodes = [
        NodeProcess::spawn("--config", &config, "F", &[], vec![f]),
        NodeProcess::spawn("--config", &config, "O", &[], vec![o]),
        NodeProcess::spawn("--config", &config, "S", &[], vec![s]),
    ];
    for node in &mut nodes {
        node.started().await;
    }
    let (front, other) = (nodes[0].addr("booking"), nodes[2].addr("booking"));
    let patience = Duration::from_secs(5);

    // A monitor at F, two bookings, and one cancelled, all acknowledged.
    let watcher = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let monitor = Request::Monitor {
        facility: room.into(),
        seconds: 600,
    }
    .encode(1);
    assert!(matches!(
        exchange(&watcher, front, &monitor, patience).await,
        Some(Reply::Monitoring { .. })
    ));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut ids = Vec::new();
    for (request_id, hour) in [(10u32, 9u8), (11, 13)] {
        let book = Request::Book {
            facility: room.into(),
            start: at(1, hour),
            end: at(1, hour + 1),
        }
        .encode(request_id);
        match exchange(&client, front, &book, patience).await {
            Some(Reply::Booked { confirmation }) => ids.push(confirmation),
            other => panic!("booking not acknowledged: {other:?}\n{}", nodes[1].log()),
        }
        assert!(update(&watcher, patience).await.is_some(), "no callback");
    }
    let cancel = Request::Cancel {
        confirmation: ids[1].clone(),
    }
    .encode(12);
    let cancelled = exchange(&client, front, &cancel, patience).await;
    assert!(
        matches!(cancelled, Some(Reply::Cancelled { .. })),
        "{cancelled:?}"
    );
    assert!(update(&watcher, patience).await.is_some(), "no callback");

    // The owner dies without a word.
    nodes[1].kill();
    let killed = Instant::now();

    // Another node serves the room, with the booking that was acknowledged.
    let query = Request::Query {
        facility: room.into(),
        days: vec![1],
    };
    let mut request_id = 100;
    let free = eventually(Duration::from_secs(30), "the room served again", || {
        request_id += 1;
        let datagram = query.encode(request_id);
        let client = &client;
        async move {
            match exchange(client, other, &datagram, Duration::from_millis(600)).await {
                Some(Reply::Availability { days, .. }) => Ok(days),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    eprintln!("served again {:?} after kill -9", killed.elapsed());
    let tuesday: Vec<(String, String)> = free[0]
        .slots
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(
        tuesday,
        vec![
            ("Tue 00:00".to_string(), "Tue 09:00".to_string()),
            ("Tue 10:00".to_string(), "Tue 24:00".to_string()),
        ],
        "the live booking is there, the cancelled one is not"
    );

    // The cancel, retried through the other front door after the move, is
    // answered from the kept reply: executed again it would say code 7.
    let retried = exchange(&client, other, &cancel, patience).await;
    assert_eq!(
        retried, cancelled,
        "the retry is answered, not executed again"
    );
    // A new cancel of it (a new request id) is executed: already cancelled.
    let again = Request::Cancel {
        confirmation: ids[1].clone(),
    }
    .encode(13);
    assert!(
        matches!(
            exchange(&client, other, &again, patience).await,
            Some(Reply::Error { code: 7, .. })
        ),
        "a new cancel of a cancelled booking is refused"
    );

    // The monitor registered at F before the death hears about a change
    // made through S after it.
    let book = Request::Book {
        facility: room.into(),
        start: at(2, 9),
        end: at(2, 10),
    }
    .encode(14);
    assert!(matches!(
        exchange(&client, other, &book, patience).await,
        Some(Reply::Booked { .. })
    ));
    // It hears of it by a callback, or by the week its front door passes
    // on once it has subscribed at the new owner: either way, a week with
    // Wednesday 9:00-10:00 taken arrives.
    let deadline = Instant::now() + Duration::from_secs(10);
    let wednesday = vec![
        ("Wed 00:00".to_string(), "Wed 09:00".to_string()),
        ("Wed 10:00".to_string(), "Wed 24:00".to_string()),
    ];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(Reply::Update { days, .. }) = update(&watcher, left).await else {
            panic!(
                "the monitor never saw the booking made after the move\nF:\n{}\nS:\n{}",
                nodes[0].log(),
                nodes[2].log()
            );
        };
        let seen: Vec<(String, String)> = days[2]
            .slots
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        if seen == wednesday {
            break;
        }
    }

    // The first booking can still be changed, through F.
    let cancel_first = Request::Cancel {
        confirmation: ids[0].clone(),
    }
    .encode(15);
    assert!(matches!(
        exchange(&client, front, &cancel_first, patience).await,
        Some(Reply::Cancelled { .. })
    ));
}
