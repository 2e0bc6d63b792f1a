//! The events service whole, on a simulated network and clock (turmoil).
//!
//! Three nodes, A, B and C, each with the real peer transport, membership
//! and election, and this service's driver; one shared in-memory database
//! ([`MemoryDb`], as a database server outside the cluster would be); and
//! a person at the web fronts who creates and answers events. A node can
//! crash (everything in its memory is lost, as with `kill -9`) and start
//! again, or be cut off by a partition. The wall clock the service reads
//! is the simulation's, so deadlines, failure detection, the sweep's grace
//! period and the leader's waits all pass in virtual time: a scenario of
//! several simulated seconds takes a fraction of one, and the network's
//! and the person's random choices come from a seed.
//!
//! These are the driver's tests; [`crate::plan`]'s decisions are tested
//! on their own in `plan/tests.rs`, and the real processes with SQLite in
//! the workspace's `tests/events_kill.rs`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use convene_cluster::membership::Membership;
use convene_cluster::{ClusterConfig, Peers, Router, Shutdown};
use convene_rpc::DatagramSocket;
use tokio::sync::{mpsc, oneshot, watch};

use super::{Clock, EventsFaults, NewEventRequest, Parts, start_on};
use crate::db::{Event, EventDb, EventState, MemoryDb, User};
use crate::error::EventsError;
use crate::interval::{Availability, Interval, Partial};
use crate::plan::{SWEEP_PERIOD, TAKE_OVER_AFTER};
use crate::working::MemoryWorkingSet;

/// turmoil's socket, as the transport's socket.
struct SimSocket(turmoil::net::UdpSocket);

impl DatagramSocket for SimSocket {
    fn send_to(
        &self,
        buf: &[u8],
        to: SocketAddr,
    ) -> impl Future<Output = io::Result<usize>> + Send {
        self.0.send_to(buf, to)
    }

    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send {
        self.0.recv_from(buf)
    }

    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.try_send_to(buf, to)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

const IDS: [&str; 3] = ["A", "B", "C"];
const PORT: u16 = 9000;

/// Where the simulated wall clock starts: 2030-01-01T00:00:00Z.
const EPOCH: u64 = 1_893_456_000;

/// The cluster file: three event servers with the test suite's fast
/// election (failure detected in about a quarter of a second).
fn cluster() -> ClusterConfig {
    let mut toml = String::new();
    for id in IDS {
        toml.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhost = \"{}\"\npeer_port = {PORT}\n",
            turmoil::lookup(id)
        ));
    }
    toml.push_str(
        "[election]\nheartbeat_ms = 50\nsuspect_after_ms = 250\nt2_ms = 100\nt3_ms = 100\nt4_ms = 200\n",
    );
    // No service sections: the file has none.
    ClusterConfig::from_toml(&toml, Path::new("sim.toml"), &[]).expect("a valid cluster file")
}

/// What the person asks of a node's web front.
enum Command {
    Create(
        NewEventRequest,
        oneshot::Sender<Result<String, EventsError>>,
    ),
    Submit {
        event: String,
        user: String,
        availability: Availability,
        reply: oneshot::Sender<Result<(), EventsError>>,
    },
}

/// What the person asks of the simulation itself.
enum Action {
    Crash(&'static str),
    Restart(&'static str),
}

/// What the nodes, the person and the simulation's loop share.
#[derive(Default)]
struct World {
    /// Each running node's web front.
    fronts: Mutex<HashMap<&'static str, mpsc::UnboundedSender<Command>>>,
    /// Each running node's view of who is live.
    live: Mutex<HashMap<&'static str, watch::Receiver<Vec<usize>>>>,
    /// How often each node has started: its boot number.
    boots: Mutex<HashMap<&'static str, u64>>,
    /// Crashes and restarts the person asked for, not yet done.
    actions: Mutex<Vec<Action>>,
}

/// One node, from its start until it crashes.
async fn node(
    id: &'static str,
    world: Arc<World>,
    db: Arc<MemoryDb>,
    faults: EventsFaults,
) -> turmoil::Result {
    let cluster = Arc::new(cluster());
    let me = cluster.index_of(id).expect("a node of the file");
    let boot = {
        let mut boots = world.boots.lock().unwrap();
        let boot = boots.entry(id).or_default();
        *boot += 1;
        *boot
    };
    let socket = turmoil::net::UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let router = Arc::new(Router::new());
    let (_trigger, shutdown) = Shutdown::new();
    let transport_shutdown = shutdown.clone();
    let (client, _transport) = convene_rpc::start_authenticated(
        SimSocket(socket),
        convene_rpc::Config::default(),
        cluster.peer_auth(Some(me), boot),
        router.clone(),
        async move { transport_shutdown.wait().await },
    );
    let peers = Peers::new(client, cluster.clone(), me);
    let (membership, _membership) = Membership::start(
        peers.clone(),
        &router,
        cluster.election.clone(),
        shutdown.clone(),
    );
    let service = start_on(
        Parts {
            me,
            transport: Arc::new(peers),
            live: membership.live(),
            coordinator: membership.coordinator(),
            authority: {
                let membership = membership.clone();
                Arc::new(move || membership.authority())
            },
            db,
            shutdown,
            faults,
            clock: Clock::from_fn(|| turmoil::since_epoch().expect("inside the simulation")),
        },
        Arc::new(MemoryWorkingSet::new()),
        &router,
        convene_metrics::Metrics::new(),
    );
    let (front, mut commands) = mpsc::unbounded_channel();
    world.fronts.lock().unwrap().insert(id, front);
    world.live.lock().unwrap().insert(id, membership.live());
    let events = service.events().clone();
    while let Some(command) = commands.recv().await {
        let events = events.clone();
        tokio::spawn(async move {
            match command {
                Command::Create(request, reply) => {
                    let _ = reply.send(events.create(request).await);
                }
                Command::Submit {
                    event,
                    user,
                    availability,
                    reply,
                } => {
                    let _ = reply.send(events.submit(&event, &user, availability).await);
                }
            }
        });
    }
    Ok(())
}

/// Runs a simulation: the three nodes (each with `faults`) and `person`,
/// until the person is done. The simulation's seed makes a run repeatable.
fn simulate<F, Fut>(seed: u64, faults: EventsFaults, person: F) -> turmoil::Result
where
    F: FnOnce(Person) -> Fut,
    Fut: Future<Output = turmoil::Result> + 'static,
{
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(120))
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH))
        .rng_seed(seed)
        .build();
    let world = Arc::new(World::default());
    let db = Arc::new(MemoryDb::default());
    for id in IDS {
        let (world, db) = (world.clone(), db.clone());
        sim.host(id, move || node(id, world.clone(), db.clone(), faults));
    }
    sim.client(
        "person",
        person(Person {
            world: world.clone(),
            db,
        }),
    );
    loop {
        let done = sim.step()?;
        let actions = std::mem::take(&mut *world.actions.lock().unwrap());
        for action in actions {
            match action {
                Action::Crash(id) => {
                    world.fronts.lock().unwrap().remove(id);
                    world.live.lock().unwrap().remove(id);
                    sim.crash(id);
                }
                Action::Restart(id) => sim.bounce(id),
            }
        }
        if done {
            return Ok(());
        }
    }
}

/// The person at the web fronts, and what they can see: the database.
struct Person {
    world: Arc<World>,
    db: Arc<MemoryDb>,
}

impl Person {
    /// Now, in Unix seconds, on the simulated wall clock.
    fn now(&self) -> i64 {
        turmoil::since_epoch()
            .expect("inside the simulation")
            .as_secs() as i64
    }

    /// Now, to the millisecond since the simulation's start.
    fn elapsed(&self) -> Duration {
        turmoil::since_epoch().expect("inside the simulation") - Duration::from_secs(EPOCH)
    }

    /// Waits until every running node sees `count` nodes live.
    async fn settle(&self, count: usize) {
        for _ in 0..500 {
            let settled = {
                let live = self.world.live.lock().unwrap();
                IDS.iter()
                    .all(|id| live.get(id).is_none_or(|live| live.borrow().len() == count))
            };
            if settled {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the nodes never saw {count} live");
    }

    /// Accounts for `names`, directly in the database.
    async fn users(&self, names: &[&str]) {
        for name in names {
            let user = User {
                name: name.to_string(),
                password_hash: "$argon2id$test".into(),
                time_zone: "UTC".into(),
            };
            self.db.create_user(&user).await.unwrap();
        }
    }

    fn front(&self, at: &str) -> Option<mpsc::UnboundedSender<Command>> {
        self.world.fronts.lock().unwrap().get(at).cloned()
    }

    /// Creates an event through node `at`'s web front.
    async fn create(&self, at: &str, request: NewEventRequest) -> Result<String, EventsError> {
        let (reply, answer) = oneshot::channel();
        let front = self.front(at).expect("a running node");
        let _ = front.send(Command::Create(request, reply));
        answer.await.unwrap_or(Err(EventsError::NoEventServer))
    }

    /// Submits `user`'s availability through node `at`'s web front.
    async fn submit(
        &self,
        at: &str,
        event: &str,
        user: &str,
        availability: Availability,
    ) -> Result<(), EventsError> {
        let (reply, answer) = oneshot::channel();
        let Some(front) = self.front(at) else {
            return Err(EventsError::NoEventServer);
        };
        let _ = front.send(Command::Submit {
            event: event.to_string(),
            user: user.to_string(),
            availability,
            reply,
        });
        answer.await.unwrap_or(Err(EventsError::NoEventServer))
    }

    /// Crashes node `id` (as `kill -9`: its memory is lost), once the
    /// simulation's loop gets to it, which is before anything else runs.
    async fn crash(&self, id: &'static str) {
        self.world.actions.lock().unwrap().push(Action::Crash(id));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    /// Starts node `id` again.
    async fn restart(&self, id: &'static str) {
        self.world.actions.lock().unwrap().push(Action::Restart(id));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    /// Sleeps until the simulated wall clock reads `at` (Unix seconds)
    /// and `after` more.
    async fn sleep_until(&self, at: i64, after: Duration) {
        let at = Duration::from_secs(at as u64) + after;
        let now = turmoil::since_epoch().expect("inside the simulation");
        if let Some(wait) = at.checked_sub(now) {
            tokio::time::sleep(wait).await;
        }
    }

    async fn event(&self, id: &str) -> Event {
        self.db.event(id).await.unwrap().expect("a stored event")
    }

    /// Waits for `id` to be final; returns it and how long after its
    /// deadline it became so.
    async fn final_event(&self, id: &str) -> (Event, Duration) {
        loop {
            let event = self.event(id).await;
            if event.state == EventState::Final {
                let deadline = Duration::from_secs(event.deadline as u64);
                let now = turmoil::since_epoch().expect("inside the simulation");
                let late = now
                    .checked_sub(deadline)
                    .expect("final before its deadline");
                return (event, late);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Whole hours from 2030-01-01T00:00Z.
fn hours(pairs: &[(i64, i64)]) -> Availability {
    const DAY: i64 = EPOCH as i64;
    Availability::from_iter(
        pairs
            .iter()
            .map(|&(s, e)| Interval::new(DAY + s * 3600, DAY + e * 3600).unwrap()),
    )
}

fn request(
    creator: &str,
    participants: &[&str],
    deadline: i64,
    own: Availability,
) -> NewEventRequest {
    NewEventRequest {
        name: "Simulated".into(),
        description: String::new(),
        creator: creator.into(),
        participants: participants.iter().map(|p| p.to_string()).collect(),
        deadline,
        availability: Some(own),
    }
}

/// The scenario most tests share: three people answer an event created
/// through A, one answer through each node; the common time is 10-16.
async fn three_answers(person: &Person, deadline_in: i64) -> (String, i64) {
    person.settle(3).await;
    person.users(&["kim", "lou", "max"]).await;
    let deadline = person.now() + deadline_in;
    let id = person
        .create(
            "A",
            request("kim", &["lou", "max"], deadline, hours(&[(8, 18)])),
        )
        .await
        .unwrap();
    person
        .submit("B", &id, "lou", hours(&[(10, 20)]))
        .await
        .unwrap();
    person
        .submit("C", &id, "max", hours(&[(9, 16)]))
        .await
        .unwrap();
    (id, deadline)
}

/// Which node of `IDS` leads `id` now.
async fn leader(person: &Person, id: &str) -> &'static str {
    let leader = person.event(id).await.leader;
    IDS.into_iter()
        .find(|n| *n == leader)
        .expect("a node leads")
}

#[test]
fn the_leader_stores_the_common_time_at_the_deadline() -> turmoil::Result {
    simulate(1, EventsFaults::default(), |person| async move {
        let (id, _) = three_answers(&person, 3).await;
        let (event, late) = person.final_event(&id).await;
        assert_eq!(event.result, Some(hours(&[(10, 16)])));
        assert!(late < Duration::from_millis(100), "{late:?} late");
        // Every server was cleared and the backups are gone.
        for server in IDS {
            assert!(person.db.constraints(&id, server).await.unwrap().is_empty());
        }
        let refused = person.submit("B", &id, "lou", hours(&[(10, 11)])).await;
        assert_eq!(refused, Err(EventsError::DeadlinePassed));
        Ok(())
    })
}

#[test]
fn a_leader_that_dies_before_its_deadline_is_replaced_and_the_result_is_on_time() -> turmoil::Result
{
    simulate(2, EventsFaults::default(), |person| async move {
        let (id, _) = three_answers(&person, 3).await;
        let dead = leader(&person, &id).await;
        person.crash(dead).await;
        let (event, late) = person.final_event(&id).await;
        // The creator's constraint was in the dead leader's memory only:
        // its successor read it back from the database.
        assert_eq!(event.result, Some(hours(&[(10, 16)])));
        assert_ne!(event.leader, dead, "a live server took the event over");
        // Handed over when the death was noticed, long before the
        // deadline: finished at the deadline, not after a grace period.
        assert!(late < Duration::from_millis(100), "{late:?} late");
        Ok(())
    })
}

#[test]
fn a_leader_that_dies_at_its_deadline_is_replaced_after_failure_detection() -> turmoil::Result {
    simulate(3, EventsFaults::default(), |person| async move {
        let (id, deadline) = three_answers(&person, 3).await;
        let dead = leader(&person, &id).await;
        // Dies a moment before its timer fires.
        person.sleep_until(deadline, Duration::ZERO).await;
        person.crash(dead).await;
        let (event, late) = person.final_event(&id).await;
        assert_eq!(event.result, Some(hours(&[(10, 16)])));
        assert_ne!(event.leader, dead);
        // Failure detection and the hand-over, well within the sweep's
        // grace period.
        assert!(late < TAKE_OVER_AFTER, "{late:?} late");
        Ok(())
    })
}

#[test]
fn a_server_that_dies_unnoticed_at_the_deadline_is_silent_and_its_share_read_back()
-> turmoil::Result {
    simulate(7, EventsFaults::default(), |person| async move {
        let (id, deadline) = three_answers(&person, 3).await;
        let leader = leader(&person, &id).await;
        // Narrower and narrower answers, until round-robin has given one
        // to a server other than the leader.
        let mut from = 10;
        let dying = 'found: loop {
            from += 1;
            let answer = hours(&[(from, 15)]);
            person
                .submit("B", &id, "lou", answer.clone())
                .await
                .unwrap();
            for server in IDS.into_iter().filter(|n| *n != leader) {
                if person
                    .db
                    .constraints(&id, server)
                    .await
                    .unwrap()
                    .contains(&answer)
                {
                    break 'found server;
                }
            }
        };
        // It dies just before the deadline, too late to be noticed: the
        // leader asks it to freeze, hears nothing, and reads what it had
        // accepted from the database.
        person
            .sleep_until(deadline - 1, Duration::from_millis(950))
            .await;
        person.crash(dying).await;
        let (event, _) = person.final_event(&id).await;
        assert_eq!(event.result, Some(hours(&[(from, 15)])));
        assert_eq!(event.leader, leader);
        Ok(())
    })
}

#[test]
fn with_no_hand_over_the_sweep_takes_over_only_after_the_grace_period() -> turmoil::Result {
    let faults = EventsFaults {
        no_hand_over: true,
        ..EventsFaults::default()
    };
    simulate(4, faults, |person| async move {
        let (id, _) = three_answers(&person, 3).await;
        let dead = leader(&person, &id).await;
        person.crash(dead).await;
        let (event, late) = person.final_event(&id).await;
        assert_eq!(event.result, Some(hours(&[(10, 16)])));
        assert_ne!(event.leader, dead);
        // Deadlines are whole seconds, so "2 s past" is judged on whole
        // seconds too; then the next sweep, at most a period later.
        assert!(
            late >= TAKE_OVER_AFTER - Duration::from_secs(1),
            "taken over {late:?} after the deadline"
        );
        assert!(
            late <= TAKE_OVER_AFTER + SWEEP_PERIOD + Duration::from_secs(1),
            "{late:?}"
        );
        Ok(())
    })
}

#[test]
fn a_leader_that_dies_while_finishing_is_replaced_and_the_result_stored_once() -> turmoil::Result {
    let faults = EventsFaults {
        pause_before_store: Some(Duration::from_secs(3)),
        ..EventsFaults::default()
    };
    simulate(5, faults, |person| async move {
        let (id, deadline) = three_answers(&person, 3).await;
        let dead = leader(&person, &id).await;
        // Inside its pause: every server frozen, nothing stored.
        person.sleep_until(deadline, Duration::from_secs(1)).await;
        assert_eq!(person.event(&id).await.state, EventState::Open);
        let frozen = person.submit("B", &id, "lou", hours(&[(11, 12)])).await;
        assert_eq!(frozen, Err(EventsError::DeadlinePassed));
        person.crash(dead).await;
        let (event, late) = person.final_event(&id).await;
        assert_eq!(event.result, Some(hours(&[(10, 16)])));
        assert_ne!(event.leader, dead);
        // The new leader paused too, after failure detection.
        assert!(late >= Duration::from_secs(3), "{late:?}");
        // Stored once: it stays as it is.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(person.event(&id).await, event);
        Ok(())
    })
}

#[test]
fn a_leader_cut_off_and_its_replacement_both_finish_and_one_result_is_stored() -> turmoil::Result {
    simulate(6, EventsFaults::default(), |person| async move {
        let (id, deadline) = three_answers(&person, 3).await;
        let cut_off = leader(&person, &id).await;
        // The leader is alive but unreachable, the database reachable from
        // both sides. Each side elects its own coordinator, which sees the
        // other side dead; only the majority's has authority and takes the
        // events (by compare-and-set), and whoever holds one at the
        // deadline finishes, counting the other side's backups from the
        // database. The result is complete, and stored once.
        for other in IDS.iter().filter(|n| **n != cut_off) {
            turmoil::partition(cut_off, *other);
        }
        let (event, late) = person.final_event(&id).await;
        assert_eq!(event.result, Some(hours(&[(10, 16)])));
        assert!(late < Duration::from_millis(100), "{late:?} late");
        person.sleep_until(deadline, Duration::from_secs(5)).await;
        assert_eq!(person.event(&id).await, event, "stored once");
        Ok(())
    })
}

#[test]
fn a_coordinator_cut_off_in_a_minority_hands_no_event_over() -> turmoil::Result {
    simulate(7, EventsFaults::default(), |person| async move {
        let (id, _) = three_answers(&person, 30).await;
        // C, the highest priority, coordinates. Cut off, it sees A and B
        // dead, but holds no majority's leases: it must not take their
        // events (nor take back one the majority moved off it), while B,
        // coordinating A and B, hands C's events over once it has authority.
        for other in ["A", "B"] {
            turmoil::partition("C", other);
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        let mut leaders = Vec::new();
        for _ in 0..50 {
            leaders.push(leader(&person, &id).await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            leaders.iter().all(|l| *l != "C"),
            "the cut-off coordinator led the event at times: {leaders:?}"
        );
        assert!(
            leaders.windows(2).all(|w| w[0] == w[1]),
            "the lead moved back and forth: {leaders:?}"
        );
        Ok(())
    })
}

/// Chaos, replayed from a seed: answers through random live nodes while a
/// random node crashes and comes back (its memory lost, its backups handed
/// on and rebuilt). The result is exactly the intersection of the answers
/// acknowledged.
fn chaos(seed: u64) -> turmoil::Result {
    simulate(seed, EventsFaults::default(), move |person| async move {
        let mut random = convene_rpc::SplitMix64::new(seed);
        let mut pick = move |n: u64| random.next_u64() % n;
        person.settle(3).await;
        let names = ["n0", "n1", "n2", "n3", "n4", "n5"];
        person.users(&names).await;
        let deadline = person.now() + 5;
        let mut request = request(names[0], &names[1..], deadline, hours(&[(0, 24)]));
        request.availability = None;
        let id = person.create("A", request).await.unwrap();
        let victim = IDS[pick(3) as usize];
        let crash_at = Duration::from_millis(500 + pick(1500));
        let restart_at = crash_at + Duration::from_millis(300 + pick(1500));
        let started = person.elapsed();
        let (mut crashed, mut restarted) = (false, false);
        let mut acknowledged = Partial::none();
        let mut answers = 0;
        while person.now() < deadline - 1 {
            let elapsed = person.elapsed() - started;
            if !crashed && elapsed >= crash_at {
                person.crash(victim).await;
                crashed = true;
            } else if crashed && !restarted && elapsed >= restart_at {
                person.restart(victim).await;
                restarted = true;
            }
            let via = IDS[pick(3) as usize];
            let availability = hours(&[
                (8 + pick(2) as i64, 12 + pick(3) as i64),
                (14 + pick(3) as i64, 18 + pick(4) as i64),
            ]);
            let user = names[pick(names.len() as u64) as usize];
            if person
                .submit(via, &id, user, availability.clone())
                .await
                .is_ok()
            {
                acknowledged.fold(&availability);
                answers += 1;
            }
            tokio::time::sleep(Duration::from_millis(pick(100))).await;
        }
        assert!(answers > 5, "too few answers got through: {answers}");
        let (event, _) = person.final_event(&id).await;
        assert_eq!(
            event.result,
            Some(acknowledged.into_result()),
            "seed {seed}: {answers} acknowledged answers; {victim} crashed at {crash_at:?}, back at {restart_at:?}"
        );
        Ok(())
    })
}

#[test]
fn acknowledged_answers_survive_a_crash_and_restart() -> turmoil::Result {
    for seed in 1..=8 {
        chaos(seed)?;
    }
    Ok(())
}
