//! A deterministic network simulator for [`Authority`], and the properties
//! it checks.
//!
//! The shape is [`election`](crate::election)'s simulator, with what leases
//! need besides:
//!
//! - **Clocks that drift.** Every node reads its own clock, running at a
//!   fixed rate within `1 ± DRIFT` of real (simulated) time; the node only
//!   ever sees its own clock, the simulator converts. The configured drift
//!   margin is for exactly `DRIFT`, exaggerated (5 %) so that a missing
//!   margin shows at once.
//! - **Links, not groups.** Each direction of each link can be cut on its
//!   own: asymmetric links (A hears B, B does not hear A), non-transitive
//!   partitions (A–B and B–C up, A–C down), and plain splits.
//! - **Loss, duplication, delay**: latency 0–50 ms, and now and then a spike
//!   of up to 1.5 s (a message overtaken by many later ones).
//! - **Crash and restart**: a restarted node is a fresh [`Authority::new`]
//!   given the term its driver last stored.
//! - **Arbitrary coordinators.** By default Fast Bully is not run: each
//!   node is told, at random moments, any coordinator at all, so several
//!   nodes may believe they coordinate at once. Safety must not depend on
//!   Fast Bully being right; liveness is checked once the beliefs agree.
//!   [`Sim::with_fast_bully`] runs the real [`Election`] on every node
//!   instead, on the same clocks and links, and tells each `Authority` what
//!   its election concludes, as the membership driver does, with the
//!   driver's two-way rule (a claim names the nodes the claimant hears; a
//!   node it does not name neither follows it nor grants it a lease).
//!
//! It records, in real time, every interval during which a node's
//! [`Authority::authority`] was `Some`, with its term, and checks that no
//! two intervals of different terms overlap, and that terms grow with time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use convene_rpc::SplitMix64;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};

use super::*;
use crate::election::{
    Election, ElectionConfig, Event as ElectionEvent, Message as ElectionMessage,
};

/// What travels between nodes: lease traffic, and election traffic when
/// Fast Bully runs too.
#[derive(Clone, Debug)]
enum Packet {
    Quorum(Message),
    Election(ElectionMessage),
    /// A coordinator's claim with the nodes it hears, as the membership
    /// driver sends [`ElectionMessage::Coordinator`] (see
    /// [`membership`](crate::membership), "Two-way contact").
    Claim(Vec<NodeId>),
}

/// The clocks' maximal relative drift in the simulations.
pub(super) const DRIFT: f64 = 0.05;

/// The lease configuration of the simulations: 2 s leases, with the margin
/// for [`DRIFT`].
pub(super) fn config() -> QuorumConfig {
    QuorumConfig::with_drift(Duration::from_secs(2), DRIFT)
}

/// The network's misbehaviour.
#[derive(Clone, Copy, Debug)]
pub(super) struct NetConfig {
    /// Probability that a message is dropped.
    pub loss: f64,
    /// Probability that a delivered message is delivered twice.
    pub duplicate: f64,
    /// Latency is uniform in `0..=max_latency_ms` milliseconds...
    pub max_latency_ms: u64,
    /// ...except with this probability, when it is uniform up to
    /// `max_spike_ms`.
    pub spike: f64,
    /// The longest delay of a spike.
    pub max_spike_ms: u64,
}

impl NetConfig {
    /// A perfect network with the default latency spread.
    pub fn reliable() -> Self {
        NetConfig {
            loss: 0.0,
            duplicate: 0.0,
            max_latency_ms: 50,
            spike: 0.0,
            max_spike_ms: 0,
        }
    }
}

/// A real-time interval during which `node` had authority under `term`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Interval {
    pub node: NodeId,
    pub term: Term,
    pub start: Instant,
    pub end: Instant,
}

/// A cluster of [`Authority`]s on drifting clocks and a simulated network.
pub(super) struct Sim {
    pub base: Instant,
    /// Real time.
    pub now: Instant,
    pub config: QuorumConfig,
    pub net: NetConfig,
    /// Each node's clock rate relative to real time.
    rates: Vec<f64>,
    /// `None`: crashed, or not started yet.
    pub nodes: Vec<Option<Authority>>,
    /// What each node's driver persisted: its last `highest_term()`.
    stored: Vec<Term>,
    /// Whom each node is told coordinates (kept across restarts: Fast Bully
    /// would tell it again soon).
    beliefs: Vec<Option<NodeId>>,
    /// Cut directions: `(from, to)` messages are lost.
    cut: BTreeSet<(NodeId, NodeId)>,
    queue: BTreeMap<(Instant, u64), (NodeId, NodeId, Packet)>,
    /// With Fast Bully: every node's priority, and its running election.
    priorities: Option<Vec<i64>>,
    elections: Vec<Option<Election>>,
    /// With Fast Bully, the driver's two-way rule: `(receiver, claimant)`
    /// to when (receiver's clock) the receiver grants the claimant nothing,
    /// its last claim not having named the receiver.
    deaf: BTreeMap<(NodeId, NodeId), Instant>,
    seq: u64,
    rng: SplitMix64,
    /// Each node's authority interval still open: term, start, and when it
    /// ends unless renewed.
    open: Vec<Option<(Term, Instant, Instant)>>,
    /// Every closed authority interval.
    pub intervals: Vec<Interval>,
    /// Readable log of faults, for failure messages.
    pub log: String,
}

impl Sim {
    /// `n` nodes whose clocks run at `1 + drifts[i]` (each within
    /// `±DRIFT`), none started.
    pub fn new(drifts: &[f64], config: QuorumConfig, net: NetConfig, seed: u64) -> Self {
        let n = drifts.len();
        let base = Instant::now();
        Sim {
            base,
            now: base,
            config,
            net,
            rates: drifts
                .iter()
                .map(|d| 1.0 + d.clamp(-DRIFT, DRIFT))
                .collect(),
            nodes: (0..n).map(|_| None).collect(),
            stored: vec![Term(0); n],
            beliefs: vec![None; n],
            cut: BTreeSet::new(),
            queue: BTreeMap::new(),
            priorities: None,
            elections: (0..n).map(|_| None).collect(),
            deaf: BTreeMap::new(),
            seq: 0,
            rng: SplitMix64::new(seed),
            open: vec![None; n],
            intervals: Vec::new(),
            log: String::new(),
        }
    }

    /// Like [`Sim::new`], but the coordinator beliefs come from a real
    /// Fast Bully [`Election`] on each node, with these priorities.
    pub fn with_fast_bully(
        drifts: &[f64],
        priorities: Vec<i64>,
        config: QuorumConfig,
        net: NetConfig,
        seed: u64,
    ) -> Self {
        assert_eq!(drifts.len(), priorities.len());
        let mut sim = Sim::new(drifts, config, net, seed);
        sim.priorities = Some(priorities);
        sim
    }

    /// Real time `ms` milliseconds after the start.
    pub fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    /// Milliseconds since the start.
    pub fn ms(&self, t: Instant) -> u128 {
        (t - self.base).as_millis()
    }

    /// `node`'s clock at real time `t`.
    pub fn local(&self, node: NodeId, t: Instant) -> Instant {
        let nanos = (t - self.base).as_nanos() as f64 * self.rates[node];
        self.base + Duration::from_nanos(nanos as u64)
    }

    /// The first real time at which `node`'s clock reads `local` or later.
    pub fn real(&self, node: NodeId, local: Instant) -> Instant {
        let nanos = local.saturating_duration_since(self.base).as_nanos() as f64 / self.rates[node];
        let mut t = self.base + Duration::from_nanos(nanos.ceil() as u64);
        while self.local(node, t) < local {
            t += Duration::from_nanos(1);
        }
        t
    }

    fn note(&mut self, what: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.log, "{:>6} ms  {what}", self.ms(self.now));
    }

    /// Starts (or restarts, losing everything but its stored term) `node`.
    pub fn start(&mut self, node: NodeId) {
        self.crash(node);
        self.note(format_args!("start {node}"));
        // The driver's memory goes with the node.
        self.deaf.retain(|&(receiver, _), _| receiver != node);
        let now = self.local(node, self.now);
        let mut a = Authority::new(
            node,
            self.nodes.len(),
            self.config.clone(),
            now,
            self.stored[node],
        );
        if let Some(priorities) = &self.priorities {
            let election = Election::new(node, priorities.clone(), ElectionConfig::default(), now);
            self.beliefs[node] = election.coordinator();
            self.elections[node] = Some(election);
        }
        a.set_coordinator(now, self.beliefs[node]);
        self.nodes[node] = Some(a);
        self.flush(node);
    }

    /// Starts every node.
    pub fn start_all(&mut self) {
        for node in 0..self.nodes.len() {
            self.start(node);
        }
    }

    /// Crashes `node`: it stops; its authority ends now at the latest.
    pub fn crash(&mut self, node: NodeId) {
        self.elections[node] = None;
        if self.nodes[node].take().is_some() {
            self.note(format_args!("crash {node}"));
        }
        self.close(node, self.now);
    }

    /// Tells `node` whom Fast Bully chose.
    pub fn believe(&mut self, node: NodeId, coordinator: Option<NodeId>) {
        self.note(format_args!("{node} believes {coordinator:?}"));
        self.beliefs[node] = coordinator;
        let now = self.local(node, self.now);
        if let Some(a) = self.nodes[node].as_mut() {
            a.set_coordinator(now, coordinator);
            self.flush(node);
        }
    }

    /// Tells every node that `coordinator` coordinates.
    pub fn believe_all(&mut self, coordinator: NodeId) {
        for node in 0..self.nodes.len() {
            self.believe(node, Some(coordinator));
        }
    }

    /// Cuts the link `from → to` (one direction).
    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        self.note(format_args!("cut {from} -> {to}"));
        self.cut.insert((from, to));
    }

    /// Mends the link `from → to`.
    pub fn mend(&mut self, from: NodeId, to: NodeId) {
        self.note(format_args!("mend {from} -> {to}"));
        self.cut.remove(&(from, to));
    }

    /// Cuts every link to and from `node`.
    pub fn isolate(&mut self, node: NodeId) {
        for other in (0..self.nodes.len()).filter(|&o| o != node) {
            self.cut(node, other);
            self.cut(other, node);
        }
    }

    /// Only nodes of the same group hear each other.
    pub fn partition(&mut self, group: &[u8]) {
        for a in 0..self.nodes.len() {
            for b in 0..self.nodes.len() {
                if group[a] != group[b] {
                    self.cut(a, b);
                }
            }
        }
    }

    /// Mends every link.
    pub fn heal(&mut self) {
        self.note(format_args!("heal"));
        self.cut.clear();
    }

    /// `node`'s authority now.
    pub fn authority(&self, node: NodeId) -> Option<Term> {
        let a = self.nodes[node].as_ref()?;
        a.authority(self.local(node, self.now))
    }

    /// Runs until real time `until`, delivering messages and firing timers
    /// in time order (messages first at equal times).
    pub fn run_until(&mut self, until: Instant) {
        let mut steps_at_this_instant = 0u32;
        loop {
            let next_message = self.queue.keys().next().map(|&(t, _)| t);
            let next_timer = (0..self.nodes.len())
                .flat_map(|n| {
                    let quorum = self.nodes[n].as_ref().and_then(Authority::poll_timeout);
                    let election = self.elections[n].as_ref().and_then(Election::poll_timeout);
                    [quorum, election]
                        .into_iter()
                        .flatten()
                        .map(move |t| (n, t))
                })
                .map(|(n, t)| self.real(n, t))
                .min();
            let Some(next) = next_message.into_iter().chain(next_timer).min() else {
                break;
            };
            if next > until {
                break;
            }
            if next == self.now {
                steps_at_this_instant += 1;
                assert!(steps_at_this_instant < 100_000, "livelock");
            } else {
                steps_at_this_instant = 0;
            }
            self.now = next.max(self.now);
            if next_message == Some(next) {
                let (_, (from, to, packet)) = self.queue.pop_first().expect("peeked");
                let now = self.local(to, self.now);
                match packet {
                    Packet::Quorum(Message::LeaseRequest { .. })
                        if self.deaf.get(&(to, from)).is_some_and(|&until| now < until) => {}
                    Packet::Quorum(message) => {
                        if let Some(node) = self.nodes[to].as_mut() {
                            node.handle(now, from, message);
                        }
                    }
                    Packet::Election(message) => {
                        if let Some(election) = self.elections[to].as_mut() {
                            election.handle(now, from, message);
                        }
                    }
                    Packet::Claim(hears) => {
                        let message = if hears.contains(&to) {
                            self.deaf.remove(&(to, from));
                            ElectionMessage::Coordinator
                        } else {
                            let quiet = ElectionConfig::default().suspect_after;
                            self.deaf.insert((to, from), now + quiet);
                            ElectionMessage::Heartbeat
                        };
                        if let Some(election) = self.elections[to].as_mut() {
                            election.handle(now, from, message);
                        }
                    }
                }
                self.flush(to);
                continue;
            }
            for node in 0..self.nodes.len() {
                let now = self.local(node, self.now);
                if let Some(e) = self.elections[node].as_mut()
                    && e.poll_timeout().is_some_and(|t| t <= now)
                {
                    e.handle_timeout(now);
                    self.flush(node);
                }
                let Some(a) = self.nodes[node].as_mut() else {
                    continue;
                };
                if a.poll_timeout().is_some_and(|t| t <= now) {
                    a.handle_timeout(now);
                    let next = a.poll_timeout();
                    assert!(
                        next.is_none_or(|t| t > now),
                        "node {node}: handle_timeout left a deadline due"
                    );
                    self.flush(node);
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs for `d` of real time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// After a step of `node`: records its authority, persists its term as
    /// the driver must, and puts its messages on the network.
    fn flush(&mut self, node: NodeId) {
        let mut out = Vec::new();
        if let Some(e) = self.elections[node].as_mut() {
            let mut changed = None;
            while let Some(event) = e.poll_event() {
                if let ElectionEvent::CoordinatorChanged(c) = event {
                    changed = Some(c);
                }
            }
            let hears = e.live();
            out.extend(
                std::iter::from_fn(|| e.poll_transmit()).map(|(to, m)| match m {
                    ElectionMessage::Coordinator => (to, Packet::Claim(hears.clone())),
                    m => (to, Packet::Election(m)),
                }),
            );
            if let Some(c) = changed {
                self.beliefs[node] = c;
                let now = self.local(node, self.now);
                if let Some(a) = self.nodes[node].as_mut() {
                    a.set_coordinator(now, c);
                }
            }
        }
        self.observe(node);
        let Some(a) = self.nodes[node].as_mut() else {
            return;
        };
        let highest = a.highest_term();
        assert!(highest >= self.stored[node], "node {node}: term went back");
        self.stored[node] = highest;
        out.extend(std::iter::from_fn(|| a.poll_transmit()).map(|(to, m)| (to, Packet::Quorum(m))));
        for (to, message) in out {
            assert_ne!(to, node, "node {node} sent to itself");
            if self.cut.contains(&(node, to)) || self.chance(self.net.loss) {
                continue;
            }
            let copies = if self.chance(self.net.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let max = if self.chance(self.net.spike) {
                    self.net.max_spike_ms
                } else {
                    self.net.max_latency_ms
                };
                let latency = self.rng.next_u64() % (max + 1);
                let at = self.now + Duration::from_millis(latency);
                self.seq += 1;
                self.queue
                    .insert((at, self.seq), (node, to, message.clone()));
            }
        }
    }

    /// Brings `node`'s recorded authority up to date after a step: authority
    /// only begins or is extended at a step, and ends either at a step or
    /// when its count runs out.
    fn observe(&mut self, node: NodeId) {
        let now = self.now;
        let current = self.nodes[node].as_ref().and_then(|a| {
            let (term, until) = a.authority_until(self.local(node, now))?;
            Some((term, self.real(node, until)))
        });
        if let Some((term, start, end)) = self.open[node] {
            match current {
                Some((t, new_end)) if t == term && end > now => {
                    self.open[node] = Some((term, start, new_end.max(end)));
                }
                _ => self.close(node, now),
            }
        }
        if self.open[node].is_none()
            && let Some((term, end)) = current
        {
            self.open[node] = Some((term, now, end));
        }
    }

    /// Closes `node`'s open interval at `at`, or when it ran out if sooner.
    fn close(&mut self, node: NodeId, at: Instant) {
        if let Some((term, start, end)) = self.open[node].take() {
            let end = end.min(at);
            if end > start {
                self.intervals.push(Interval {
                    node,
                    term,
                    start,
                    end,
                });
            }
        }
    }

    /// Every interval, the open ones closed now.
    pub fn all_intervals(&self) -> Vec<Interval> {
        let mut all = self.intervals.clone();
        for (node, open) in self.open.iter().enumerate() {
            if let Some((term, start, end)) = *open {
                let end = end.min(self.now);
                if end > start {
                    all.push(Interval {
                        node,
                        term,
                        start,
                        end,
                    });
                }
            }
        }
        all
    }

    /// The safety property: intervals of different terms never overlap in
    /// real time, the earlier has the lower term, and one term is one
    /// node's.
    pub fn check_safety(&self) -> Result<(), String> {
        let mut all = self.all_intervals();
        all.sort_by_key(|i| (i.start, i.node));
        for (k, a) in all.iter().enumerate() {
            for b in &all[k + 1..] {
                if a.term == b.term {
                    if a.node != b.node {
                        return Err(self.explain("one term, two holders", a, b));
                    }
                    continue;
                }
                // b starts no earlier than a.
                if b.start < a.end {
                    return Err(self.explain("two terms decide at once", a, b));
                }
                if b.term < a.term {
                    return Err(self.explain("a later authority has a lower term", a, b));
                }
            }
        }
        Ok(())
    }

    fn explain(&self, what: &str, a: &Interval, b: &Interval) -> String {
        let show = |i: &Interval| {
            format!(
                "node {} {} from {} ms to {} ms",
                i.node,
                i.term,
                self.ms(i.start),
                self.ms(i.end)
            )
        };
        format!("{what}: {} and {}\n{}", show(a), show(b), self.log)
    }

    /// Whether `node` had authority (any term) throughout `from..to`.
    pub fn held_throughout(&self, node: NodeId, from: Instant, to: Instant) -> bool {
        let mut mine: Vec<_> = self
            .all_intervals()
            .into_iter()
            .filter(|i| i.node == node && i.end > from && i.start < to)
            .collect();
        mine.sort_by_key(|i| i.start);
        let mut covered = from;
        for i in mine {
            if i.start > covered {
                return false;
            }
            covered = covered.max(i.end);
        }
        covered >= to
    }

    /// When `node`'s authority last ended (or `None` if it never had any or
    /// still has it).
    pub fn last_end(&self, node: NodeId) -> Option<Instant> {
        if self.open[node].is_some_and(|(_, _, end)| end > self.now) {
            return None;
        }
        self.all_intervals()
            .iter()
            .filter(|i| i.node == node)
            .map(|i| i.end)
            .max()
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.next_f64() < p
    }
}

// ----- the properties -----

/// A fault injected at some moment of the chaotic period.
#[derive(Clone, Debug)]
enum Fault {
    Crash(NodeId),
    Restart(NodeId),
    /// One direction of one link.
    Cut(NodeId, NodeId),
    Mend(NodeId, NodeId),
    Isolate(NodeId),
    Partition(Vec<u8>),
    Heal,
    Loss(u8),
    /// A node is told a coordinator (maybe itself, maybe wrongly).
    Believe(NodeId, Option<NodeId>),
    /// Every node whose bit is set is told this coordinator (what an
    /// election on one side of a partition does).
    Elect(NodeId, u8),
}

/// One generated run.
#[derive(Clone, Debug)]
struct Scenario {
    /// Each node's clock drift, in thousandths (within ±`DRIFT`).
    drifts_permille: Vec<i32>,
    /// Whom each node believes coordinates at first.
    beliefs: Vec<Option<NodeId>>,
    seed: u64,
    loss_pct: u8,
    duplicate_pct: u8,
    spike_pct: u8,
    faults: Vec<(u64, Fault)>,
    /// Who coordinates once things are quiet (for liveness).
    finally: NodeId,
}

/// How long faults may be injected, in ms.
const CHAOS_MS: u64 = 20_000;

fn scenario() -> impl Strategy<Value = Scenario> {
    (1..=5usize).prop_flat_map(|n| {
        let node = 0..n;
        let belief = proptest::option::weighted(0.9, 0..n);
        let fault = prop_oneof![
            2 => node.clone().prop_map(Fault::Crash),
            2 => node.clone().prop_map(Fault::Restart),
            3 => (0..n, 0..n).prop_map(|(a, b)| Fault::Cut(a, b)),
            2 => (0..n, 0..n).prop_map(|(a, b)| Fault::Mend(a, b)),
            1 => node.clone().prop_map(Fault::Isolate),
            1 => proptest::collection::vec(0..2u8, n).prop_map(Fault::Partition),
            1 => Just(Fault::Heal),
            1 => (0..=40u8).prop_map(Fault::Loss),
            2 => (0..n, belief.clone()).prop_map(|(a, c)| Fault::Believe(a, c)),
            4 => (0..n, any::<u8>()).prop_map(|(c, mask)| Fault::Elect(c, mask | 1 << c)),
        ];
        let drift = (DRIFT * 1000.0) as i32;
        (
            proptest::collection::vec(-drift..=drift, n),
            proptest::collection::vec(belief, n),
            any::<u64>(),
            0..=30u8,
            0..=20u8,
            0..=5u8,
            proptest::collection::vec((0..CHAOS_MS, fault), 0..=25),
            0..n,
        )
            .prop_map(
                |(
                    drifts_permille,
                    beliefs,
                    seed,
                    loss_pct,
                    duplicate_pct,
                    spike_pct,
                    mut faults,
                    finally,
                )| {
                    faults.sort_by_key(|&(t, _)| t);
                    Scenario {
                        drifts_permille,
                        beliefs,
                        seed,
                        loss_pct,
                        duplicate_pct,
                        spike_pct,
                        faults,
                        finally,
                    }
                },
            )
    })
}

/// Runs a scenario's chaotic period; with `fast_bully`, real elections
/// choose the coordinators and the scenario's beliefs are ignored.
fn chaos(s: &Scenario, fast_bully: bool) -> Sim {
    let net = NetConfig {
        loss: f64::from(s.loss_pct) / 100.0,
        duplicate: f64::from(s.duplicate_pct) / 100.0,
        max_latency_ms: 50,
        spike: f64::from(s.spike_pct) / 100.0,
        max_spike_ms: 1500,
    };
    let drifts: Vec<f64> = s
        .drifts_permille
        .iter()
        .map(|&d| f64::from(d) / 1000.0)
        .collect();
    let mut sim = if fast_bully {
        let n = drifts.len() as u64;
        // Distinct priorities in an order the seed picks.
        let priorities = (0..n).map(|i| ((i * 7 + s.seed) % n) as i64).collect();
        Sim::with_fast_bully(&drifts, priorities, config(), net, s.seed)
    } else {
        Sim::new(&drifts, config(), net, s.seed)
    };
    for (node, &c) in s.beliefs.iter().enumerate().filter(|_| !fast_bully) {
        // Mostly, the cluster starts agreed on the first node's belief.
        sim.beliefs[node] = if s.seed.is_multiple_of(4) {
            c
        } else {
            s.beliefs[0]
        };
    }
    sim.start_all();
    for (t, fault) in &s.faults {
        sim.run_until(sim.at(*t));
        match fault.clone() {
            Fault::Crash(node) => sim.crash(node),
            Fault::Restart(node) => sim.start(node),
            Fault::Cut(a, b) => sim.cut(a, b),
            Fault::Mend(a, b) => sim.mend(a, b),
            Fault::Isolate(node) => sim.isolate(node),
            Fault::Partition(groups) => sim.partition(&groups),
            Fault::Heal => sim.heal(),
            Fault::Loss(pct) => sim.net.loss = f64::from(pct) / 100.0,
            Fault::Believe(..) | Fault::Elect(..) if fast_bully => {}
            Fault::Believe(node, c) => sim.believe(node, c),
            Fault::Elect(c, mask) => {
                for node in (0..sim.nodes.len()).filter(|&node| mask & (1 << node) != 0) {
                    sim.believe(node, Some(c));
                }
            }
        }
    }
    sim.run_until(sim.at(CHAOS_MS));
    sim
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
    #![proptest_config(proptest_config(1000, 0x0D0D_1EA5))]

    /// Whatever the partitions (one-way, non-transitive, splits), loss,
    /// delay, duplication, crashes, restarts, clock drift and however wrong
    /// and conflicting the coordinators' beliefs, no two terms ever have
    /// authority at the same real time, and terms grow with time.
    #[test]
    fn no_two_terms_ever_decide_at_once(s in scenario()) {
        let sim = chaos(&s, false);
        sim.check_safety().map_err(TestCaseError::fail)?;
    }

    /// Then, once the network is whole and quiet and every node agrees on
    /// one coordinator, it has authority within two leases (plus the
    /// longest delay of a message still in flight) and keeps it; cut off,
    /// it loses it within a lease, and safety held throughout.
    #[test]
    fn a_stable_majority_gives_authority_and_a_cut_off_coordinator_loses_it(s in scenario()) {
        let mut sim = chaos(&s, false);
        sim.heal();
        sim.net.loss = 0.0;
        sim.net.spike = 0.0;
        for node in 0..sim.nodes.len() {
            if sim.nodes[node].is_none() {
                sim.start(node);
            }
        }
        let c = s.finally;
        sim.believe_all(c);
        let quiet = sim.now;
        let lease = sim.config.lease;
        let bound = quiet + 2 * lease + Duration::from_millis(1500);
        let until = bound + 2 * lease;
        sim.run_until(until);
        prop_assert!(
            sim.held_throughout(c, bound, until),
            "node {c} lacked authority between {} and {} ms\n{}",
            sim.ms(bound), sim.ms(until), sim.log
        );
        sim.isolate(c);
        let cut_at = sim.now;
        sim.run_for(2 * lease);
        if sim.nodes.len() > 1 {
            let ended = sim.last_end(c);
            prop_assert!(
                ended.is_some_and(|e| e <= cut_at + lease),
                "node {c} cut off at {} ms kept authority until {:?}",
                sim.ms(cut_at), ended.map(|e| sim.ms(e))
            );
        }
        sim.check_safety().map_err(TestCaseError::fail)?;
    }
}

/// One hand-over forced while the old holder still believes it
/// coordinates: the sharpest test of the lease arithmetic.
#[derive(Clone, Debug)]
struct Handover {
    drifts_permille: Vec<i32>,
    seed: u64,
    loss_pct: u8,
    spike_pct: u8,
    /// When, after the old holder has authority, its links are cut (ms).
    cut_after_ms: u64,
    /// Which directions of its links are cut: bit `2k` is old → k, bit
    /// `2k + 1` is k → old.
    cut_mask: u16,
    /// How long after the cut the other nodes elect the new one (ms).
    elect_after_ms: u64,
    old: NodeId,
    new: NodeId,
}

fn handover() -> impl Strategy<Value = Handover> {
    (2..=5usize).prop_flat_map(|n| {
        let drift = (DRIFT * 1000.0) as i32;
        (
            proptest::collection::vec(-drift..=drift, n),
            any::<u64>(),
            0..=20u8,
            0..=5u8,
            0..1_000u64,
            any::<u16>(),
            0..2_500u64,
            0..n,
            0..n,
        )
            .prop_map(
                |(
                    drifts_permille,
                    seed,
                    loss_pct,
                    spike_pct,
                    cut_after_ms,
                    cut_mask,
                    elect_after_ms,
                    old,
                    new,
                )| {
                    Handover {
                        drifts_permille,
                        seed,
                        loss_pct,
                        spike_pct,
                        cut_after_ms,
                        cut_mask,
                        elect_after_ms,
                        old,
                        new,
                    }
                },
            )
    })
}

proptest! {
    #![proptest_config(proptest_config(3000, 0x4A9D_0FF5))]

    /// A holder with authority is cut off (some directions of its links, at
    /// any moment of its renewal cycle) and, soon or at once, the others
    /// elect another node while it still believes it coordinates: the two
    /// never have authority at the same time.
    #[test]
    fn a_forced_hand_over_never_overlaps(h in handover()) {
        let drifts: Vec<f64> = h.drifts_permille.iter().map(|&d| f64::from(d) / 1000.0).collect();
        let net = NetConfig {
            loss: f64::from(h.loss_pct) / 100.0,
            duplicate: 0.1,
            max_latency_ms: 50,
            spike: f64::from(h.spike_pct) / 100.0,
            max_spike_ms: 1500,
        };
        let mut sim = Sim::new(&drifts, config(), net, h.seed);
        sim.start_all();
        sim.believe_all(h.old);
        let n = sim.nodes.len();
        // Until it has authority (or give up: heavy loss).
        for _ in 0..100 {
            if sim.authority(h.old).is_some() {
                break;
            }
            sim.run_for(Duration::from_millis(100));
        }
        sim.run_for(Duration::from_millis(h.cut_after_ms));
        for k in (0..n).filter(|&k| k != h.old) {
            if h.cut_mask & (1 << (2 * k)) != 0 {
                sim.cut(h.old, k);
            }
            if h.cut_mask & (1 << (2 * k + 1)) != 0 {
                sim.cut(k, h.old);
            }
        }
        sim.run_for(Duration::from_millis(h.elect_after_ms));
        for k in (0..n).filter(|&k| k != h.old) {
            sim.believe(k, Some(h.new));
        }
        sim.run_for(3 * sim.config.lease);
        sim.check_safety().map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(proptest_config(300, 0xB011_7E57))]

    /// The same chaos with the real Fast Bully choosing coordinators on the
    /// same drifting clocks and one-way, non-transitive links: no two terms
    /// ever decide at once. Once healed and quiet, the election settles on
    /// the highest-priority node (within 10 s, as the election's own
    /// property has it), which then holds authority within two leases and
    /// keeps it.
    #[test]
    fn with_fast_bully_no_two_terms_ever_decide_at_once(s in scenario()) {
        let mut sim = chaos(&s, true);
        sim.check_safety().map_err(TestCaseError::fail)?;
        sim.heal();
        sim.net.loss = 0.0;
        sim.net.spike = 0.0;
        for node in 0..sim.nodes.len() {
            if sim.nodes[node].is_none() {
                sim.start(node);
            }
        }
        let priorities = sim.priorities.clone().expect("with Fast Bully");
        let best = (0..priorities.len()).max_by_key(|&n| (priorities[n], n)).expect("a node");
        let lease = sim.config.lease;
        let from = sim.now + Duration::from_secs(10) + 2 * lease + Duration::from_millis(1500);
        let until = from + 2 * lease;
        sim.run_until(until);
        prop_assert!(
            sim.held_throughout(best, from, until),
            "node {best} (priorities {priorities:?}) lacked authority between {} and {} ms; beliefs {:?}\n{}",
            sim.ms(from), sim.ms(until), sim.beliefs, sim.log
        );
        sim.check_safety().map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(proptest_config(200, 0x0_7A1C))]

    /// Fast Bully with the driver's two-way rule, on 3 to 5 nodes with
    /// drifting clocks (and some loss while they settle): the links *into*
    /// the highest node are cut (it is heard, it hears nobody). The next
    /// highest then holds authority, and keeps it, while the old
    /// coordinator's requests keep arriving; no two terms ever decide at
    /// once. (The loss stops at the cut: under loss a lease can lapse for a
    /// round or two whatever the rule, which is not what this checks.)
    #[test]
    fn with_fast_bully_a_coordinator_heard_but_not_hearing_gives_way(
        drifts in prop::collection::vec(-50i32..=50, 3..=5),
        loss_pct in 0u8..=10,
        seed in any::<u64>(),
    ) {
        let drifts: Vec<f64> = drifts.iter().map(|&d| f64::from(d) / 1000.0).collect();
        let n = drifts.len();
        let priorities: Vec<i64> = (0..n as i64).collect();
        let net = NetConfig { loss: f64::from(loss_pct) / 100.0, ..NetConfig::reliable() };
        let mut sim = Sim::with_fast_bully(&drifts, priorities, config(), net, seed);
        sim.start_all();
        sim.run_for(Duration::from_secs(10));
        let (old, next) = (n - 1, n - 2);
        sim.net.loss = 0.0;
        for k in 0..old {
            sim.cut(k, old);
        }
        let lease = sim.config.lease;
        let from = sim.now + Duration::from_secs(10) + 2 * lease;
        let until = from + 2 * lease;
        sim.run_until(until);
        prop_assert!(
            sim.held_throughout(next, from, until),
            "node {next} lacked authority between {} and {} ms; beliefs {:?}\n{}",
            sim.ms(from), sim.ms(until), sim.beliefs, sim.log
        );
        sim.check_safety().map_err(TestCaseError::fail)?;
    }
}
