//! A deterministic network simulator for [`Election`], and the properties
//! it checks.
//!
//! The simulator runs a whole cluster of election state machines on one
//! virtual clock. Messages travel with a random latency (0–50 ms by default,
//! so they also overtake each other), may be lost or duplicated, and never
//! cross a partition. A crashed node neither sends nor receives; recovering
//! it is a fresh [`Election::new`] at that moment, exactly what a restarted
//! process does. Every random choice comes from one seeded generator, so a
//! run is replayed exactly by its seed and script, and proptest can shrink
//! a failing script to a small one.
//!
//! Messages carry their sender's run (how many times it has started), and a
//! node drops a message of an older run than one it has heard from that
//! sender: what the sealed transport does with boot numbers
//! (`convene_rpc::auth`), so a leave's late copies meet what they would
//! meet between real nodes.
//!
//! The central property: whatever happened before, once the network has
//! been healed and quiet (no loss, no partition, no crash) for a few seconds
//! of virtual time, every live node follows the same coordinator, and it is
//! the highest-priority live node.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use convene_rpc::SplitMix64;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};

use super::*;

/// The network's misbehaviour.
#[derive(Clone, Copy, Debug)]
pub(super) struct NetConfig {
    /// Probability that a message is dropped.
    pub loss: f64,
    /// Probability that a delivered message is delivered twice (each copy
    /// with its own latency).
    pub duplicate: f64,
    /// Latency is uniform in `0..=max_latency_ms` milliseconds.
    pub max_latency_ms: u64,
}

impl NetConfig {
    /// A perfect network with the default latency spread.
    pub fn reliable() -> Self {
        NetConfig {
            loss: 0.0,
            duplicate: 0.0,
            max_latency_ms: 50,
        }
    }
}

/// One message that went on the wire.
#[derive(Clone, Debug)]
pub(super) struct Sent {
    pub at: Instant,
    pub from: NodeId,
    pub to: NodeId,
    pub message: Message,
}

/// A cluster of [`Election`]s on a virtual clock and a simulated network.
pub(super) struct Sim {
    pub base: Instant,
    pub now: Instant,
    pub priorities: Vec<i64>,
    pub config: ElectionConfig,
    pub net: NetConfig,
    /// `None`: crashed, or not started yet.
    pub nodes: Vec<Option<Election>>,
    /// Messages in flight, by delivery time and a sequence number that keeps
    /// equal times in sending order: `(from, sender's run, to, message)`.
    queue: BTreeMap<(Instant, u64), (NodeId, u64, NodeId, Message)>,
    /// How many times each node has started: its run, or incarnation.
    pub runs: Vec<u64>,
    /// `newest[to][from]`: the newest run of `from` that `to` has heard
    /// (forgotten when `to` restarts, as a restarted transport forgets).
    newest: Vec<Vec<u64>>,
    seq: u64,
    rng: SplitMix64,
    /// Partition: nodes talk only within their group.
    group: Vec<u8>,
    /// Everything sent (including what the network then lost).
    pub sent: Vec<Sent>,
    /// Every change of a node's coordinator: `(time, node, new coordinator)`.
    pub changes: Vec<(Instant, NodeId, Option<NodeId>)>,
}

impl Sim {
    /// A cluster of `priorities.len()` nodes, none started.
    pub fn new(priorities: Vec<i64>, config: ElectionConfig, net: NetConfig, seed: u64) -> Self {
        let n = priorities.len();
        let base = Instant::now();
        Sim {
            base,
            now: base,
            priorities,
            config,
            net,
            nodes: (0..n).map(|_| None).collect(),
            queue: BTreeMap::new(),
            runs: vec![0; n],
            newest: vec![vec![0; n]; n],
            seq: 0,
            rng: SplitMix64::new(seed),
            group: vec![0; n],
            sent: Vec::new(),
            changes: Vec::new(),
        }
    }

    /// Virtual time `ms` milliseconds after the start.
    pub fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    /// Milliseconds since the start, for messages.
    pub fn ms(&self, t: Instant) -> u128 {
        (t - self.base).as_millis()
    }

    /// Starts (or restarts, losing all its state) `node` now.
    pub fn start(&mut self, node: NodeId) {
        let election = Election::new(node, self.priorities.clone(), self.config.clone(), self.now);
        self.nodes[node] = Some(election);
        self.runs[node] += 1;
        self.newest[node] = vec![0; self.nodes.len()];
        self.flush(node);
    }

    /// Stops `node` gracefully, as `Membership::leave` does: its
    /// `Leaving` goes out `LEAVE_COPIES` times, `LEAVE_GAP` apart (the
    /// network still running meanwhile), then the node stops.
    pub fn leave(&mut self, node: NodeId) {
        use crate::membership::{LEAVE_COPIES, LEAVE_GAP};
        for copy in 0..LEAVE_COPIES {
            if copy > 0 {
                self.run_for(LEAVE_GAP);
            }
            let run = self.runs[node];
            if let Some(election) = self.nodes[node].as_mut() {
                election.leave(run);
            }
            self.flush(node);
        }
        self.crash(node);
    }

    /// Puts `message` on the wire from `from` (in its run `run`) to `to`,
    /// arriving `after` from now, whatever the network's rules: a copy the
    /// network held back.
    pub fn inject(
        &mut self,
        from: NodeId,
        run: u64,
        to: NodeId,
        message: Message,
        after: Duration,
    ) {
        self.seq += 1;
        self.queue
            .insert((self.now + after, self.seq), (from, run, to, message));
    }

    /// Starts every node now.
    pub fn start_all(&mut self) {
        for node in 0..self.nodes.len() {
            self.start(node);
        }
    }

    /// Crashes `node`: it stops; messages to it are lost.
    pub fn crash(&mut self, node: NodeId) {
        self.nodes[node] = None;
    }

    /// Splits the network: only nodes of the same group hear each other.
    pub fn partition(&mut self, group: Vec<u8>) {
        assert_eq!(group.len(), self.nodes.len());
        self.group = group;
    }

    /// Ends any partition.
    pub fn heal(&mut self) {
        self.group = vec![0; self.nodes.len()];
    }

    pub fn node(&self, node: NodeId) -> &Election {
        self.nodes[node].as_ref().expect("node is running")
    }

    /// The running nodes.
    pub fn alive(&self) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|&n| self.nodes[n].is_some())
            .collect()
    }

    /// The running node that should coordinate.
    pub fn highest_alive(&self) -> Option<NodeId> {
        self.alive()
            .into_iter()
            .max_by_key(|&n| (self.priorities[n], n))
    }

    /// The running nodes that believe they coordinate.
    pub fn claimants(&self) -> Vec<NodeId> {
        self.alive()
            .into_iter()
            .filter(|&n| self.node(n).coordinator() == Some(n))
            .collect()
    }

    /// Whether every running node follows the highest running node; if
    /// not, who follows whom.
    pub fn check_agreement(&self) -> Result<(), String> {
        let Some(best) = self.highest_alive() else {
            return Ok(());
        };
        let views: Vec<(NodeId, Option<NodeId>)> = self
            .alive()
            .into_iter()
            .map(|n| (n, self.node(n).coordinator()))
            .collect();
        if views.iter().all(|&(_, c)| c == Some(best)) {
            Ok(())
        } else {
            Err(format!(
                "at {} ms, expected everyone to follow {best} (priorities {:?}); (node, coordinator): {views:?}",
                self.ms(self.now),
                self.priorities
            ))
        }
    }

    /// Runs the cluster until virtual time `until`, delivering messages and
    /// firing timers in time order (messages first at equal times).
    pub fn run_until(&mut self, until: Instant) {
        let mut steps_at_this_instant = 0u32;
        loop {
            let next_message = self.queue.keys().next().map(|&(t, _)| t);
            let next_timer = self
                .nodes
                .iter()
                .flatten()
                .filter_map(Election::poll_timeout)
                .min();
            let Some(next) = next_message.into_iter().chain(next_timer).min() else {
                break;
            };
            if next > until {
                break;
            }
            if next == self.now {
                steps_at_this_instant += 1;
                assert!(
                    steps_at_this_instant < 100_000,
                    "livelock at {:?}",
                    self.now
                );
            } else {
                steps_at_this_instant = 0;
            }
            assert!(next >= self.now, "time went backwards");
            self.now = next;
            if next_message == Some(next) {
                let (_, (from, run, to, message)) = self.queue.pop_first().expect("peeked");
                // The sealed transport: an older run's datagram is dropped
                // once a newer run has been heard.
                if run < self.newest[to][from] {
                    continue;
                }
                self.newest[to][from] = run;
                if let Some(node) = self.nodes[to].as_mut() {
                    node.handle(self.now, from, message);
                    self.flush(to);
                }
                continue;
            }
            for node in 0..self.nodes.len() {
                let now = self.now;
                let Some(election) = self.nodes[node].as_mut() else {
                    continue;
                };
                if election.poll_timeout().is_some_and(|t| t <= now) {
                    election.handle_timeout(now);
                    let next = election.poll_timeout();
                    assert!(
                        next.is_some_and(|t| t > now),
                        "node {node}: handle_timeout left a deadline due: {next:?} <= {now:?}"
                    );
                    self.flush(node);
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs the cluster for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Collects `node`'s events and messages: checks the events against its
    /// state, and puts the messages on the network.
    fn flush(&mut self, node: NodeId) {
        let Some(election) = self.nodes[node].as_mut() else {
            return;
        };
        let mut last_change = None;
        let mut last_liveness = BTreeMap::new();
        while let Some(event) = election.poll_event() {
            match event {
                Event::CoordinatorChanged(c) => {
                    self.changes.push((self.now, node, c));
                    last_change = Some(c);
                }
                Event::NodeUp(n) => {
                    last_liveness.insert(n, true);
                }
                Event::NodeDown(n) => {
                    last_liveness.insert(n, false);
                }
            }
        }
        if let Some(c) = last_change {
            assert_eq!(
                c,
                election.coordinator(),
                "node {node}: last CoordinatorChanged"
            );
        }
        for (n, up) in last_liveness {
            assert_eq!(
                up,
                election.is_live(n),
                "node {node}: last NodeUp/NodeDown of {n}"
            );
        }
        let mut out = Vec::new();
        while let Some(t) = election.poll_transmit() {
            out.push(t);
        }
        for (to, message) in out {
            assert_ne!(to, node, "node {node} sent to itself");
            self.sent.push(Sent {
                at: self.now,
                from: node,
                to,
                message: message.clone(),
            });
            if self.group[node] != self.group[to] || self.chance(self.net.loss) {
                continue;
            }
            let copies = if self.chance(self.net.duplicate) {
                2
            } else {
                1
            };
            let run = self.runs[node];
            for _ in 0..copies {
                let latency = self.rng.next_u64() % (self.net.max_latency_ms + 1);
                let at = self.now + Duration::from_millis(latency);
                self.seq += 1;
                self.queue
                    .insert((at, self.seq), (node, run, to, message.clone()));
            }
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.next_f64() < p
    }

    /// How many messages matching `f` were sent since `since`.
    pub fn count_sent(&self, since: Instant, f: impl Fn(&Message) -> bool) -> usize {
        self.sent
            .iter()
            .filter(|s| s.at >= since && f(&s.message))
            .count()
    }

    /// The coordinator changes, readable, for failure messages.
    pub fn change_log(&self) -> String {
        let mut log = String::new();
        for (t, node, c) in &self.changes {
            let _ = writeln!(log, "{:>6} ms  node {node} -> {c:?}", self.ms(*t));
        }
        log
    }
}

/// Whether a message belongs to an election (as opposed to membership and
/// start-up).
pub(super) fn is_election_traffic(m: &Message) -> bool {
    matches!(m, Message::Election | Message::Answer | Message::Nomination)
}

// ----- the property -----

/// A fault injected at some moment of the chaotic period.
#[derive(Clone, Debug)]
enum Fault {
    /// The node stops.
    Crash(NodeId),
    /// The node (re)starts with a fresh state, whether it was down or not.
    Restart(NodeId),
    /// The network splits into the given groups (one per node).
    Partition(Vec<u8>),
    /// The partition ends.
    Heal,
    /// The loss probability changes to this many percent.
    Loss(u8),
    /// The node leaves gracefully (if it runs), and stops.
    Leave(NodeId),
}

/// One generated run.
#[derive(Clone, Debug)]
struct Scenario {
    priorities: Vec<i64>,
    /// When each node first starts, in ms.
    starts_ms: Vec<u64>,
    /// Seeds the latencies, losses and duplications.
    seed: u64,
    loss_pct: u8,
    duplicate_pct: u8,
    /// Faults at ms offsets within the chaotic period.
    faults: Vec<(u64, Fault)>,
}

/// How long faults may be injected, in ms.
const CHAOS_MS: u64 = 12_000;
/// How long the network then stays healed and quiet before the check.
const SETTLE: Duration = Duration::from_secs(10);
/// The final stretch of the quiet period in which no node may change its
/// coordinator any more.
const STABLE: Duration = Duration::from_secs(3);

fn scenario(faults: usize) -> impl Strategy<Value = Scenario> {
    (2..=6usize).prop_flat_map(move |n| {
        let priorities =
            proptest::sample::subsequence((-20i64..20).collect::<Vec<_>>(), n).prop_shuffle();
        let fault = prop_oneof![
            3 => (0..n).prop_map(Fault::Crash),
            3 => (0..n).prop_map(Fault::Restart),
            2 => proptest::collection::vec(0..3u8, n).prop_map(Fault::Partition),
            1 => Just(Fault::Heal),
            1 => (0..=30u8).prop_map(Fault::Loss),
            2 => (0..n).prop_map(Fault::Leave),
        ];
        (
            priorities,
            proptest::collection::vec(0..3_000u64, n),
            any::<u64>(),
            0..=30u8,
            0..=20u8,
            proptest::collection::vec((0..CHAOS_MS, fault), 0..=faults),
        )
            .prop_map(
                |(priorities, starts_ms, seed, loss_pct, duplicate_pct, mut faults)| {
                    faults.sort_by_key(|&(t, _)| t);
                    Scenario {
                        priorities,
                        starts_ms,
                        seed,
                        loss_pct,
                        duplicate_pct,
                        faults,
                    }
                },
            )
    })
}

/// Runs a scenario's chaotic period, then heals and quiets the network and
/// runs [`SETTLE`] more. Returns the simulator and when the quiet began.
fn run(s: &Scenario) -> (Sim, Instant) {
    let net = NetConfig {
        loss: f64::from(s.loss_pct) / 100.0,
        duplicate: f64::from(s.duplicate_pct) / 100.0,
        max_latency_ms: 50,
    };
    let mut sim = Sim::new(s.priorities.clone(), ElectionConfig::default(), net, s.seed);
    let mut script: Vec<(u64, Fault)> = s
        .starts_ms
        .iter()
        .enumerate()
        .map(|(node, &t)| (t, Fault::Restart(node)))
        .collect();
    script.extend(s.faults.iter().cloned());
    script.sort_by_key(|&(t, _)| t); // stable: a start precedes a fault at the same ms
    for (t, fault) in script {
        sim.run_until(sim.at(t));
        match fault {
            Fault::Crash(node) => sim.crash(node),
            Fault::Restart(node) => sim.start(node),
            Fault::Partition(groups) => sim.partition(groups),
            Fault::Heal => sim.heal(),
            Fault::Loss(pct) => sim.net.loss = f64::from(pct) / 100.0,
            Fault::Leave(node) if sim.nodes[node].is_some() => sim.leave(node),
            Fault::Leave(_) => {}
        }
    }
    sim.run_until(sim.at(CHAOS_MS));
    // Quiet: healed, lossless (latency, reordering and duplication remain),
    // and at least one node up.
    sim.heal();
    sim.net.loss = 0.0;
    if sim.alive().is_empty() {
        sim.start(0);
    }
    let quiet = sim.now;
    sim.run_for(SETTLE);
    (sim, quiet)
}

/// The property, as a checkable result.
fn converges(s: &Scenario) -> Result<(), TestCaseError> {
    let (sim, quiet) = run(s);
    sim.check_agreement()
        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", sim.change_log())))?;
    let stable_from = quiet + SETTLE - STABLE;
    let late: Vec<_> = sim
        .changes
        .iter()
        .filter(|(t, _, _)| *t >= stable_from)
        .collect();
    prop_assert!(
        late.is_empty(),
        "coordinator still changing in the last {STABLE:?}: {late:?}\n{}",
        sim.change_log()
    );
    Ok(())
}

fn proptest_config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config(300, 0xFA57_B011))]

    /// After crashes, graceful leaves, restarts, partitions, loss,
    /// duplication and reordering, a few healed and quiet seconds make every live node follow
    /// the highest live node, and keep it so.
    #[test]
    fn the_highest_live_node_wins_once_the_network_is_quiet(s in scenario(10)) {
        converges(&s)?;
    }
}

proptest! {
    #![proptest_config(proptest_config(100, 0x0057_AB1E))]

    /// Without failures (any start order, latency, reordering and
    /// duplication but no loss), the cluster settles on the highest node
    /// without a single election: start-up views decide it.
    #[test]
    fn without_failures_no_election_is_ever_held(s in scenario(0)) {
        let s = Scenario { loss_pct: 0, ..s };
        let (sim, _) = run(&s);
        sim.check_agreement().map_err(TestCaseError::fail)?;
        let elections: Vec<_> = sim.sent.iter().filter(|m| is_election_traffic(&m.message)).collect();
        prop_assert!(elections.is_empty(), "{elections:?}\n{}", sim.change_log());
    }
}

// ----- scripted runs -----

#[test]
fn a_stable_cluster_sends_only_heartbeats_and_renewals() {
    let mut sim = Sim::new(
        vec![40, 10, 50, 30, 20],
        ElectionConfig::default(),
        NetConfig::reliable(),
        1,
    );
    sim.start_all();
    sim.run_for(Duration::from_secs(3));
    sim.check_agreement().unwrap();
    assert_eq!(sim.node(0).coordinator(), Some(2));
    let settled = sim.now;
    sim.run_for(Duration::from_secs(30));
    sim.check_agreement().unwrap();
    assert_eq!(sim.count_sent(sim.base, is_election_traffic), 0);
    // From then on: node 2 renews its claim, the others heartbeat.
    for s in sim.sent.iter().filter(|s| s.at >= settled) {
        let expected = if s.from == 2 {
            Message::Coordinator
        } else {
            Message::Heartbeat
        };
        assert_eq!(s.message, expected, "{s:?}");
    }
    // Once per heartbeat, from every node to every other: 60 in 30 s.
    for from in 0..5 {
        for to in (0..5).filter(|&to| to != from) {
            let beats = sim
                .sent
                .iter()
                .filter(|s| s.at >= settled && s.from == from && s.to == to)
                .count();
            assert!((59..=61).contains(&beats), "{from} -> {to}: {beats}");
        }
    }
    assert!(sim.changes.iter().all(|&(t, _, _)| t < settled));
}

#[test]
fn the_seed_defect_is_gone_nodes_started_lowest_first_end_with_the_highest() {
    // The seed's run: s1, s2, s3 started in that order; s1 kept the role.
    let mut sim = Sim::new(
        vec![1, 2, 3],
        ElectionConfig::default(),
        NetConfig::reliable(),
        2,
    );
    for node in 0..3 {
        sim.start(node);
        sim.run_for(Duration::from_secs(2));
        assert_eq!(
            sim.node(node).coordinator(),
            Some(node),
            "the newest is the highest"
        );
        sim.check_agreement().unwrap();
    }
    assert_eq!(sim.count_sent(sim.base, is_election_traffic), 0);
}

#[test]
fn crashing_coordinators_one_after_another_hands_the_role_down() {
    let mut sim = Sim::new(
        vec![10, 20, 30, 40, 50],
        ElectionConfig::default(),
        NetConfig::reliable(),
        3,
    );
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    for expected in [3, 2, 1, 0] {
        sim.crash(expected + 1);
        sim.run_for(Duration::from_secs(5));
        sim.check_agreement().unwrap();
        assert_eq!(sim.node(0).coordinator(), Some(expected));
    }
    // And back up, the highest takes over again.
    sim.start(4);
    sim.run_for(Duration::from_secs(2));
    sim.check_agreement().unwrap();
    assert_eq!(sim.node(0).coordinator(), Some(4));
}

#[test]
fn a_healed_partition_keeps_the_higher_sides_coordinator() {
    let mut sim = Sim::new(
        vec![10, 20, 30, 40, 50],
        ElectionConfig::default(),
        NetConfig::reliable(),
        4,
    );
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    sim.partition(vec![0, 0, 0, 1, 1]);
    sim.run_for(Duration::from_secs(6));
    // Each side has elected its own highest.
    for node in 0..3 {
        assert_eq!(sim.node(node).coordinator(), Some(2));
    }
    for node in 3..5 {
        assert_eq!(sim.node(node).coordinator(), Some(4));
    }
    sim.heal();
    // One heartbeat carries node 4's renewed claim across.
    sim.run_for(Duration::from_secs(1));
    sim.check_agreement().unwrap();
}

#[test]
fn a_coordinator_that_restarts_before_anyone_notices_is_still_replaced_correctly() {
    // Node 3 restarts within suspect_after: nobody marks it down, but its
    // IAmUp tells its followers it lost the role; it then reclaims it.
    let mut sim = Sim::new(
        vec![10, 20, 30, 40],
        ElectionConfig::default(),
        NetConfig::reliable(),
        5,
    );
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    sim.crash(3);
    sim.run_for(Duration::from_millis(300));
    sim.start(3);
    sim.run_for(Duration::from_secs(3));
    sim.check_agreement().unwrap();

    // A non-highest node restarting quickly just rejoins.
    sim.crash(1);
    sim.run_for(Duration::from_millis(300));
    sim.start(1);
    sim.run_for(Duration::from_secs(3));
    sim.check_agreement().unwrap();
}

#[test]
fn heavy_loss_still_converges_after_it_stops() {
    let net = NetConfig {
        loss: 0.3,
        duplicate: 0.2,
        max_latency_ms: 50,
    };
    let mut sim = Sim::new(vec![5, 3, 9, 1, 7, 2], ElectionConfig::default(), net, 6);
    sim.start_all();
    sim.run_for(Duration::from_secs(5));
    sim.crash(2);
    sim.run_for(Duration::from_secs(5));
    sim.net.loss = 0.0;
    sim.run_for(Duration::from_secs(8));
    sim.check_agreement().unwrap();
    assert_eq!(sim.node(0).coordinator(), Some(4));
}

// ----- leaving -----

/// A cluster of `priorities`, started and settled on a reliable network,
/// then given `net`.
fn settled(priorities: Vec<i64>, net: NetConfig, seed: u64) -> Sim {
    let mut sim = Sim::new(
        priorities,
        ElectionConfig::default(),
        NetConfig::reliable(),
        seed,
    );
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    sim.check_agreement().expect("settled before the test");
    sim.net = net;
    sim
}

proptest! {
    #![proptest_config(proptest_config(200, 0x1EA7_E000))]

    /// The coordinator leaving on a network that reorders and duplicates
    /// (no loss): every other node follows the next highest well before
    /// `suspect_after`, with no failure detector involved, and only it
    /// claims the role.
    #[test]
    fn a_coordinator_that_leaves_is_replaced_before_it_could_be_suspected(
        n in 2..=6usize,
        seed: u64,
        duplicate_pct in 0..=50u8,
    ) {
        let priorities: Vec<i64> = (0..n as i64).map(|p| (p * 7) % 11).collect();
        let net = NetConfig { loss: 0.0, duplicate: f64::from(duplicate_pct) / 100.0, max_latency_ms: 50 };
        let mut sim = settled(priorities, net, seed);
        let leaver = sim.highest_alive().expect("started");
        let left_at = sim.now;
        sim.leave(leaver);
        sim.run_until(left_at + Duration::from_millis(500));
        sim.check_agreement().map_err(|e| TestCaseError::fail(format!("{e}\n{}", sim.change_log())))?;
        prop_assert!(sim.config.suspect_after > Duration::from_millis(500));
        prop_assert_eq!(sim.claimants().len(), 1);
        // And it stays so.
        sim.run_for(Duration::from_secs(5));
        sim.check_agreement().map_err(TestCaseError::fail)?;
        let late: Vec<_> = sim.changes.iter().filter(|c| c.0 > left_at + Duration::from_millis(500)).collect();
        prop_assert!(late.is_empty(), "{late:?}\n{}", sim.change_log());
    }

    /// Any node leaving while the network loses and duplicates messages:
    /// once it is quiet, exactly one coordinator, the highest left.
    #[test]
    fn a_leave_under_loss_and_duplication_still_yields_one_coordinator(
        n in 2..=6usize,
        seed: u64,
        leaver in 0..6usize,
        loss_pct in 0..=40u8,
        duplicate_pct in 0..=40u8,
    ) {
        let priorities: Vec<i64> = (0..n as i64).rev().collect();
        let net = NetConfig {
            loss: f64::from(loss_pct) / 100.0,
            duplicate: f64::from(duplicate_pct) / 100.0,
            max_latency_ms: 50,
        };
        let mut sim = settled(priorities, net, seed);
        sim.leave(leaver % n);
        sim.run_for(Duration::from_secs(2));
        sim.net.loss = 0.0;
        sim.run_for(Duration::from_secs(5));
        sim.check_agreement().map_err(|e| TestCaseError::fail(format!("{e}\n{}", sim.change_log())))?;
        prop_assert_eq!(sim.claimants().len(), 1);
    }

    /// A node leaves and its next run starts at once, while copies of its
    /// leave (duplicated, overtaken) are still on the way: once settled,
    /// everyone sees it live, and it coordinates if it ranks highest.
    #[test]
    fn a_node_back_from_a_leave_is_not_taken_down_by_its_late_copies(
        seed: u64,
        leaver in 0..4usize,
        back_after_ms in 0..80u64,
    ) {
        let net = NetConfig { loss: 0.0, duplicate: 0.5, max_latency_ms: 50 };
        let mut sim = settled(vec![10, 40, 20, 30], net, seed);
        sim.leave(leaver);
        sim.run_for(Duration::from_millis(back_after_ms));
        sim.start(leaver);
        sim.run_for(Duration::from_secs(3));
        sim.check_agreement().map_err(|e| TestCaseError::fail(format!("{e}\n{}", sim.change_log())))?;
        for node in sim.alive() {
            prop_assert!(sim.node(node).is_live(leaver), "node {} sees {} down", node, leaver);
        }
    }
}

#[test]
fn a_replayed_leave_of_a_node_that_came_back_is_ignored() {
    let mut sim = settled(vec![10, 40, 20, 30], NetConfig::reliable(), 21);
    // Node 1 coordinates; it leaves, node 3 takes over.
    sim.leave(1);
    sim.run_for(Duration::from_millis(300));
    sim.check_agreement().unwrap();
    assert_eq!(sim.node(0).coordinator(), Some(3));
    // Its next run starts and takes the role back.
    sim.start(1);
    sim.run_for(Duration::from_secs(2));
    sim.check_agreement().unwrap();
    assert_eq!(sim.node(0).coordinator(), Some(1));
    let old = Message::Leaving { incarnation: 1 };
    let settled_at = sim.now;
    for to in [0, 2, 3] {
        // Sent by the first run: the transport drops it (a newer run has
        // been heard).
        sim.inject(1, 1, to, old.clone(), Duration::from_millis(5));
        // Replayed inside the second run's traffic: the election ignores
        // a leave of a run it has already seen leave.
        sim.inject(1, 2, to, old.clone(), Duration::from_millis(6));
    }
    sim.run_for(Duration::from_secs(3));
    sim.check_agreement().unwrap();
    assert_eq!(sim.node(0).coordinator(), Some(1));
    assert!(
        sim.changes.iter().all(|c| c.0 < settled_at),
        "{}",
        sim.change_log()
    );
    for node in [0, 2, 3] {
        assert!(sim.node(node).is_live(1));
    }
}
