//! `convene backup` and `convene restore`: a backup taken while bookings,
//! meetings, events and file locks keep coming in, restored into new data
//! directories (and a new database), and a cluster started on it that
//! still has everything acknowledged before the backup began; and the
//! refusals: no manifest, a damaged file, a target that is not empty.
//! On SQLite, and again on MariaDB and PostgreSQL when
//! `CONVENE_TEST_MYSQL_URL` and `CONVENE_TEST_POSTGRES_URL` are set (each
//! run makes two databases of its own on the server and drops them).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convene_booking::client::Client;
use convene_booking::wire::{Reply, Request};
use convene_events::db::User;
use convene_events::service::NewEventRequest;
use convene_events::{Availability, Interval as Span};
use convene_files::path::SharedPath;
use convene_files::peer_msg::LockAction;
use convene_files::service::LockOutcome;
use convene_node::backup::{
    BackupError, BackupOptions, RestoreError, RestoreOptions, backup, restore,
};
use convene_time::{Interval, WeekTime};

use crate::util::{
    FAST_ELECTION, HIGH_LIMITS, NodeSpec, SPEC_A, SPEC_B, TestCluster, convene, eventually, plain,
    ready,
};

const ROOMS: [&str; 4] = ["Room 1", "Room 2", "Room 3", "Room 4"];
const FACILITIES: &str = "facilities = [\"Room 1\", \"Room 2\", \"Room 3\", \"Room 4\"]";
/// Files in A's folder, locked one after another by the load.
const LOCKABLE: usize = 300;

/// A: main node, web front, booking front door with the rooms, a folder;
/// B and C: the two meet backends, web fronts (event servers); B shares a
/// folder too.
fn specs() -> [NodeSpec; 3] {
    [
        NodeSpec {
            main: true,
            web: true,
            booking_port: true,
            booking: Some(FACILITIES),
            files: Some("folder-a"),
            ..plain("A")
        },
        NodeSpec {
            availability: Some(SPEC_A),
            web: true,
            files: Some("folder-b"),
            ..plain("B")
        },
        NodeSpec {
            availability: Some(SPEC_B),
            web: true,
            ..plain("C")
        },
    ]
}

/// What a client was told was done.
#[derive(Clone, Debug)]
enum Acked {
    Booking(String),
    Meeting(Vec<&'static str>, Interval),
    Event(String),
    Answer(String, String),
    Lock(String),
}

type Log = Arc<Mutex<Vec<(Instant, Acked)>>>;

fn note(log: &Log, acked: Acked) {
    log.lock().unwrap().push((Instant::now(), acked));
}

async fn start(head: &str, files: bool) -> TestCluster {
    let tail = format!("{FAST_ELECTION}{HIGH_LIMITS}");
    let mut c = TestCluster::bind_full(&specs(), head, &tail).await;
    if files {
        let folder = c.dir.path().join("folder-a");
        for i in 0..LOCKABLE {
            std::fs::write(folder.join(format!("f{i}.txt")), format!("file {i}")).unwrap();
        }
    }
    for id in ["A", "B", "C"] {
        c.start_node(id).await;
    }
    c.wait_ready().await;
    for id in ["A", "B", "C"] {
        let live = c.node(id).membership().live();
        eventually(Duration::from_secs(10), "every node live", || async {
            let seen = live.borrow().len();
            ready(seen >= 3, format!("{id} sees {seen}"))
        })
        .await;
    }
    c
}

/// Books the `n`th quarter hour of the week (a room each in turn).
fn booking_request(n: usize) -> Request {
    let slot = n / ROOMS.len();
    let (day, quarter) = ((slot / 88) % 7, slot % 88);
    let start = WeekTime::new(day as u8, (quarter / 4) as u8, (quarter % 4 * 15) as u8).unwrap();
    let end = WeekTime::new(
        day as u8,
        ((quarter + 1) / 4) as u8,
        ((quarter + 1) % 4 * 15) as u8,
    )
    .unwrap();
    Request::Book {
        facility: ROOMS[n % ROOMS.len()].to_string(),
        start,
        end,
    }
}

async fn call(server: std::net::SocketAddr, request: Request) -> Option<Reply> {
    tokio::task::spawn_blocking(move || {
        let mut c = Client::new(server).ok()?;
        c.timeout = Duration::from_secs(2);
        c.call(&request, &mut std::io::sink()).ok().flatten()
    })
    .await
    .unwrap()
}

/// The meetings the load registers, in turn: one hour each, inside the
/// common time of each backend's users.
fn meetings() -> Vec<(Vec<&'static str>, Interval)> {
    let mut out = Vec::new();
    for (s, e) in [(12, 18), (1, 3)] {
        for h in s..e {
            out.push((vec!["alice", "eliana"], Interval::new(h, h + 1).unwrap()));
        }
    }
    for (s, e) in [(2, 5), (17, 20)] {
        for h in s..e {
            out.push((
                vec!["theodore", "bob", "amy"],
                Interval::new(h, h + 1).unwrap(),
            ));
        }
    }
    out
}

fn day(hours: (i64, i64)) -> Availability {
    const DAY: i64 = 1_893_456_000; // 2030-01-01T00:00Z
    Availability::from_iter([Span::new(DAY + hours.0 * 3600, DAY + hours.1 * 3600).unwrap()])
}

/// Starts the four kinds of traffic against `c`; they run until `stop`.
fn load(
    c: &TestCluster,
    log: &Log,
    stop: &Arc<AtomicBool>,
    tag: &str,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();

    let booking = c.node("A").booking_addr().unwrap();
    let (l, s) = (log.clone(), stop.clone());
    tasks.push(tokio::spawn(async move {
        for n in 0..ROOMS.len() * 88 * 7 {
            if s.load(Ordering::Relaxed) {
                break;
            }
            if let Some(Reply::Booked { confirmation }) = call(booking, booking_request(n)).await {
                note(&l, Acked::Booking(confirmation));
            }
        }
    }));

    let meet = c.node("A").meet().handle();
    let (l, s) = (log.clone(), stop.clone());
    tasks.push(tokio::spawn(async move {
        let mut todo = meetings().into_iter();
        while !s.load(Ordering::Relaxed) {
            match todo.next() {
                Some((names, slot)) => {
                    if meet.register(slot, &names).await.is_ok() {
                        note(&l, Acked::Meeting(names, slot));
                    }
                    // A registration a while, queries in between.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                None => {
                    let _ = meet.common(&["alice", "eliana"]).await;
                }
            }
        }
    }));

    let events = c.node("B").events().unwrap().clone();
    let (l, s, tag) = (log.clone(), stop.clone(), tag.to_string());
    tasks.push(tokio::spawn(async move {
        let names: Vec<String> = ["ann", "bo", "cy"]
            .iter()
            .map(|n| format!("{n}-{tag}"))
            .collect();
        for name in &names {
            let user = User {
                name: name.clone(),
                password_hash: "$argon2id$test".into(),
                time_zone: "UTC".into(),
            };
            events.db().create_user(&user).await.unwrap();
        }
        let mut n = 0;
        while !s.load(Ordering::Relaxed) {
            n += 1;
            let created = events
                .create(NewEventRequest {
                    name: format!("Meeting {n}"),
                    description: "kept across a restore".into(),
                    creator: names[0].clone(),
                    participants: names[1..].to_vec(),
                    deadline: crate::events::now() + 3600,
                    availability: Some(day((8, 18))),
                })
                .await;
            let Ok(id) = created else { continue };
            note(&l, Acked::Event(id.clone()));
            if events.submit(&id, &names[1], day((9, 12))).await.is_ok() {
                note(&l, Acked::Answer(id, names[1].clone()));
            }
        }
    }));

    let files = c.node("A").files().handle();
    let (l, s) = (log.clone(), stop.clone());
    tasks.push(tokio::spawn(async move {
        for i in 0..LOCKABLE {
            if s.load(Ordering::Relaxed) {
                break;
            }
            let path = format!("f{i}.txt");
            let shared = SharedPath::parse(&path).unwrap();
            match files.lock(shared, "ana", LockAction::Lock).await {
                LockOutcome::Done(_) => note(&l, Acked::Lock(path)),
                // The lock holder is not known yet: try this one again.
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }));
    tasks
}

/// How many of each kind `log` holds: bookings, meetings, events, answers, locks.
fn counts(log: &[(Instant, Acked)]) -> [usize; 5] {
    let mut n = [0; 5];
    for (_, a) in log {
        n[match a {
            Acked::Booking(_) => 0,
            Acked::Meeting(..) => 1,
            Acked::Event(_) => 2,
            Acked::Answer(..) => 3,
            Acked::Lock(_) => 4,
        }] += 1;
    }
    n
}

fn options(c: &TestCluster, out: &Path) -> BackupOptions {
    BackupOptions {
        config: c.dir.path().join("cluster.toml"),
        out: out.to_path_buf(),
        id: None,
        no_database: false,
        version: "test".into(),
        commit: "test".into(),
    }
}

fn restoring(from: &Path, c: &TestCluster) -> RestoreOptions {
    RestoreOptions {
        from: from.to_path_buf(),
        config: c.dir.path().join("cluster.toml"),
        id: None,
        force: false,
        no_database: false,
    }
}

/// The whole round trip on `head`'s database (empty: SQLite), restored
/// into `restored_head`'s.
async fn round_trip(head: &str, restored_head: &str) {
    let tag = crate::events::unique();
    let c = start(head, true).await;
    let log: Log = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&c, &log, &stop, &tag);
    // Every kind of traffic has been answered a few times.
    eventually(
        Duration::from_secs(30),
        "some of each kind acknowledged",
        || async {
            let n = counts(&log.lock().unwrap());
            ready(n.iter().all(|&k| k >= 3), format!("{n:?}"))
        },
    )
    .await;

    let out = tempfile::tempdir().unwrap();
    let began = Instant::now();
    let manifest = backup(&options(&c, out.path())).await.unwrap();
    // The traffic went on during the backup.
    let during = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at > began)
        .count();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    c.stop().await;
    assert_eq!(manifest.nodes, ["A", "B", "C"]);
    let before: Vec<Acked> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at < began)
        .map(|(_, a)| a.clone())
        .collect();
    eprintln!(
        "backup took {} ms; acknowledged before it {:?}, during it {during}",
        manifest.took_ms,
        counts(
            &before
                .iter()
                .map(|a| (began, a.clone()))
                .collect::<Vec<_>>()
        )
    );

    // A new cluster: new data directories, folders, database.
    let tail = format!("{FAST_ELECTION}{HIGH_LIMITS}");
    let mut r = TestCluster::bind_full(&specs(), restored_head, &tail).await;
    let restored = restore(&restoring(out.path(), &r)).await.unwrap();
    assert_eq!(restored.nodes, ["A", "B", "C"]);
    for id in ["A", "B", "C"] {
        r.start_node(id).await;
    }
    r.wait_ready().await;
    check_everything(&r, &before).await;
    r.stop().await;
}

/// Every acknowledged booking, meeting, event, answer and lock is there,
/// as a client would find it.
async fn check_everything(r: &TestCluster, acked: &[Acked]) {
    let booking = r.node("A").booking_addr().unwrap();
    let meet = r.node("A").meet().handle();
    let events = r.node("C").events().unwrap().clone();
    let files = r.node("A").files().handle();
    for a in acked {
        match a {
            Acked::Booking(id) => {
                // Extending to its own original end changes nothing and
                // answers only for a booking that exists.
                let what = format!("booking {id}");
                eventually(Duration::from_secs(10), &what, || async {
                    let request = Request::Extend {
                        confirmation: id.clone(),
                        minutes: 0,
                    };
                    let reply = call(booking, request).await;
                    ready(
                        matches!(reply, Some(Reply::Extended { .. })),
                        format!("{reply:?}"),
                    )
                })
                .await;
            }
            Acked::Meeting(names, slot) => {
                let common = meet.common(names).await.unwrap();
                let slots = common.slots.expect("every user found and reachable");
                assert!(
                    !slots.iter().any(|s| s.overlaps(slot)),
                    "{names:?} are free at {slot:?} again: {slots:?}"
                );
            }
            Acked::Event(id) => {
                let event = events.event(id).await.unwrap();
                assert_eq!(event.description, "kept across a restore");
            }
            Acked::Answer(id, name) => {
                let event = events.event(id).await.unwrap();
                let p = event.participants.iter().find(|p| &p.name == name).unwrap();
                assert!(p.answered, "{name}'s answer to {id} is lost");
            }
            Acked::Lock(path) => {
                let what = format!("the lock on {path}");
                let shared = SharedPath::parse(path).unwrap();
                eventually(Duration::from_secs(10), &what, || async {
                    let view = files.lock_view(shared.clone()).await;
                    let owner = view
                        .as_ref()
                        .ok()
                        .and_then(|v| v.as_ref())
                        .map(|v| v.owner.clone());
                    ready(owner.as_deref() == Some("ana"), format!("{view:?}"))
                })
                .await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_everything_acknowledged_before_it() {
    round_trip("", "").await;
}

mod servers {
    use super::*;

    /// `url` with its database replaced by `name`.
    fn with_database(url: &str, name: &str) -> String {
        let (base, _) = url.rsplit_once('/').expect("a URL naming a database");
        format!("{base}/{name}")
    }

    async fn admin(url: &str, statement: &str) {
        use sqlx::Connection;
        if url.starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(statement).execute(&mut conn).await.unwrap();
        } else {
            let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
            sqlx::raw_sql(statement).execute(&mut conn).await.unwrap();
        }
    }

    async fn on_server(backend: &str) {
        let Ok(Some(url)) = crate::util::skip::database_url(backend, "backup round trip") else {
            return;
        };
        let _turn = crate::events::server_turn(backend).await;
        let tag = crate::events::unique();
        let (from, to) = (format!("convene_bk_{tag}_a"), format!("convene_bk_{tag}_b"));
        for db in [&from, &to] {
            admin(&url, &format!("CREATE DATABASE {db}")).await;
        }
        let head = |db: &str| format!("database_url = \"{}\"\n", with_database(&url, db));
        round_trip(&head(&from), &head(&to)).await;
        for db in [&from, &to] {
            admin(&url, &format!("DROP DATABASE {db}")).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        on_server("mysql").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        on_server("postgres").await;
    }
}

/// A small cluster (one booking node) with a booking made, and a backup
/// of it.
async fn small_backup() -> (TestCluster, tempfile::TempDir, PathBuf) {
    let specs = [NodeSpec {
        booking_port: true,
        booking: Some(FACILITIES),
        ..plain("A")
    }];
    let c = TestCluster::start(&specs).await;
    let reply = call(c.node("A").booking_addr().unwrap(), booking_request(0)).await;
    assert!(matches!(reply, Some(Reply::Booked { .. })), "{reply:?}");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("b");
    backup(&options(&c, &dir)).await.unwrap();
    (c, out, dir)
}

async fn fresh() -> TestCluster {
    let specs = [NodeSpec {
        booking_port: true,
        booking: Some(FACILITIES),
        ..plain("A")
    }];
    TestCluster::bind(&specs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_goes_into_an_empty_directory_only() {
    let (c, _out, dir) = small_backup().await;
    let err = backup(&options(&c, &dir)).await.unwrap_err();
    assert!(matches!(err, BackupError::OutNotEmpty { .. }), "{err}");
    assert!(err.to_string().contains("is not empty"), "{err}");
    let mut wrong = options(&c, &dir.join("x"));
    wrong.id = Some("Z".into());
    let err = backup(&wrong).await.unwrap_err().to_string();
    assert!(err.contains("\"Z\""), "{err}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_backup_without_its_manifest() {
    let (c, _out, dir) = small_backup().await;
    c.stop().await;
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    let r = fresh().await;
    let err = restore(&restoring(&dir, &r)).await.unwrap_err();
    assert!(matches!(err, RestoreError::NoManifest { .. }), "{err}");
    assert!(err.to_string().contains("no manifest.json"), "{err}");
    // Nothing was written.
    assert!(!r.cluster.nodes[0].data_dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_damaged_file_naming_it() {
    let (c, _out, dir) = small_backup().await;
    c.stop().await;
    let store = dir.join("nodes/A/data/convene.db");
    let mut bytes = std::fs::read(&store).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&store, bytes).unwrap();
    let r = fresh().await;
    let err = restore(&restoring(&dir, &r)).await.unwrap_err();
    assert!(matches!(err, RestoreError::Damaged { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("nodes/A/data/convene.db") && text.contains("checksum"),
        "{text}"
    );
    assert!(!r.cluster.nodes[0].data_dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_target_that_is_not_empty_unless_forced() {
    let (mut c, _out, dir) = small_backup().await;
    c.stop_node("A").await;
    // Into the cluster it came from: its data directory and database are
    // there.
    let err = restore(&restoring(&dir, &c)).await.unwrap_err();
    assert!(matches!(err, RestoreError::NotEmpty { .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");

    // A new cluster whose database file is there already.
    let r = fresh().await;
    let db = r.dir.path().join("convene-data/convene.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::write(&db, "not empty").unwrap();
    let err = restore(&restoring(&dir, &r)).await.unwrap_err().to_string();
    assert!(err.contains("convene.db is not empty"), "{err}");

    // --force replaces it, and the node starts on the restored state.
    let mut forced = restoring(&dir, &r);
    forced.force = true;
    restore(&forced).await.unwrap();
    let mut r = r;
    r.start_node("A").await;
    let booking = r.node("A").booking_addr().unwrap();
    let again = call(booking, booking_request(0)).await;
    assert!(
        matches!(again, Some(Reply::Error { .. })),
        "the restored booking holds the slot: {again:?}"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_backs_up_and_restores_and_says_what() {
    let (c, out, _) = small_backup().await;
    let dir = out.path().join("cli");
    let config = c.dir.path().join("cluster.toml");
    let done = convene()
        .args(["backup", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(stdout.contains("node A: "), "{stdout}");
    assert!(stdout.contains("database: SQLite"), "{stdout}");
    c.stop().await;

    let r = fresh().await;
    let again = convene()
        .args(["restore", "--from"])
        .arg(&dir)
        .arg("--config")
        .arg(r.dir.path().join("cluster.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(stdout.contains("restored A"), "{stdout}");

    // Twice is refused: the targets are no longer empty.
    let twice = convene()
        .args(["restore", "--from"])
        .arg(&dir)
        .arg("--config")
        .arg(r.dir.path().join("cluster.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&twice.stderr);
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        stderr.starts_with("convene: ") && stderr.contains("is not empty"),
        "{stderr}"
    );
}
