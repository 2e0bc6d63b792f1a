//! [`Election`]: membership (heartbeats, failure detection) and the Fast
//! Bully election of a coordinator, as one sans-IO state machine.
//!
//! Every node of a cluster runs one [`Election`]. It never touches a socket
//! or reads a clock: time enters only as the `now` arguments, and its driver
//! (the node's peer transport, or a test) does four things in a loop, exactly
//! as with the request/reply [`Endpoint`](convene_rpc::Endpoint):
//!
//! 1. hands it each [`Message`] a peer sent: [`Election::handle`];
//! 2. sends whatever [`Election::poll_transmit`] returns;
//! 3. acts on whatever [`Election::poll_event`] returns (a new coordinator,
//!    a node up or down);
//! 4. sleeps until [`Election::poll_timeout`], then calls
//!    [`Election::handle_timeout`].
//!
//! Because of that, every rule below is tested with a fake clock, and a
//! deterministic network simulator (in this module's tests) runs whole
//! clusters through loss, duplication, reordering, crashes and partitions.
//!
//! # Nodes and priorities
//!
//! Nodes are numbered `0..n`, their position in the cluster file, and each has
//! a priority from that file; every node knows all of them. The coordinator
//! should always be the **highest-priority live node**. Priorities are meant
//! to be distinct; if two are equal, the higher index ranks higher, so every
//! node still orders the cluster the same way.
//!
//! # Membership
//!
//! Every `heartbeat` each node sends one message to every other node, live or
//! not (that is how a node that was down learns its peers are back). Any
//! message counts as a sign of life: a node not heard from for
//! `suspect_after` is marked down ([`Event::NodeDown`]), and the first message
//! from a node that was down marks it up again ([`Event::NodeUp`]).
//!
//! The coordinator's heartbeat is not a plain [`Message::Heartbeat`] but a
//! [`Message::Coordinator`]: it **renews its claim** every period. The paper's
//! algorithm announces a coordinator once; over UDP one lost announcement
//! would leave a node following a stale coordinator forever, and two halves of
//! a healed partition would each keep the coordinator they elected apart.
//! Renewing the claim costs nothing (it replaces a heartbeat one for one) and
//! makes every announcement self-healing: a lower node that hears it accepts
//! it, a higher node that hears it overrides it. It also gives T1 its meaning:
//! a coordinator has failed when its *claim* has not been renewed for `t1`,
//! whether the node went silent or merely stopped being coordinator (it
//! restarted, or it accepted someone higher).
//!
//! # The Fast Bully algorithm
//!
//! (Lee and Choi, ICOIN 2002; the CS4262 course's numbered flow.) Messages:
//! [`Message::Election`], [`Message::Answer`], [`Message::Nomination`],
//! [`Message::Coordinator`], [`Message::IAmUp`], [`Message::View`]; and,
//! outside the paper, [`Message::Leaving`] (below).
//!
//! * **Start or recovery** (`Starting`). A node that starts sends `IAmUp` to
//!   every other node and waits up to `t2`. Each node that receives it
//!   replies with a `View`: its coordinator and its live set. When every
//!   other node has replied, or `t2` has passed, the starting node merges the
//!   views: if it ranks highest among the live nodes (itself, those that
//!   replied, and every node a reply called live) it becomes coordinator and
//!   tells the lower nodes; otherwise it **accepts the highest live node
//!   without an election**, which is the algorithm's gain over classic Bully.
//!   No reply at all means it is alone, and so coordinator. A higher node
//!   that starts later therefore takes over, and a lower one defers: the
//!   first node started does not keep the role (the seed's defect).
//! * **Detection.** A node whose coordinator's claim has not been renewed for
//!   `t1`, or whose coordinator sends `IAmUp` (it restarted, and lost the
//!   role with its memory), starts an election.
//! * **Election** (`Electing`). The node sends `Election` to every
//!   higher node it believes live and waits `t2` for `Answer`s. With no
//!   higher node, or no answer, it is coordinator: it sends `Coordinator` to
//!   the lower live nodes.
//! * **Nomination** (`Nominating`). With answers, it nominates the
//!   highest answerer (`Nomination`) and waits `t3` for a `Coordinator`; if
//!   none comes, it nominates the next-highest; with none left it starts the
//!   election again. (The nomination goes out as soon as the highest node
//!   asked has answered: no later answer could change the choice, so waiting
//!   out `t2` would only add latency. Answers that arrive while nominating
//!   join the list of candidates.)
//! * **Answering** (`AwaitingOutcome`). A node that receives
//!   `Election` from a lower node replies `Answer` and waits `t4` for a
//!   `Nomination` or a `Coordinator`; if neither comes, it starts its own
//!   election. A coordinator that receives `Election` answers and re-announces
//!   itself to the sender at once instead; a node already electing or
//!   starting answers and carries on, since its own outcome will reach the
//!   sender.
//! * **Nomination received.** The nominee becomes coordinator and sends
//!   `Coordinator` to the lower live nodes.
//! * **Coordinator received** from `X`. If `X` ranks above this node, it is
//!   accepted and any election stops, unless this node follows a coordinator
//!   ranking above `X` whose claim is current (then `X` is stale, and that
//!   coordinator's next renewal will correct `X`). If `X` ranks below, this
//!   node **asserts itself** (becomes coordinator and tells the lower nodes,
//!   `X` included), so the highest always wins; it stays quiet only while a
//!   current coordinator ranks above it (which will correct `X`) or while its
//!   own start or election is under way (whose outcome will).
//!
//! # States
//!
//! ```text
//! new ─────────► Starting ──(every view in, or t2)──► Idle: follow the highest
//!                                                     live node (maybe me)
//! Idle ──(claim not renewed for t1, or coordinator sent IAmUp)──► Electing
//! Idle ──(Election from a lower node)──► AwaitingOutcome ──(t4)──► Electing
//! Electing ──(no higher live node, or t2 without answers)──► Idle (me)
//! Electing ──(highest asked answered, or t2 with answers)──► Nominating
//! Nominating ──(t3)──► Nominating the next answerer; none left: Electing
//! any phase ──(higher Coordinator accepted, or Nomination)──► Idle
//! ```
//!
//! # Leaving
//!
//! A node that stops on purpose does not make the others wait out
//! `suspect_after` (or `t1`, if it coordinated): [`Election::leave`] sends
//! [`Message::Leaving`] to every other node (the driver calls it a few
//! times: it is one datagram each, and may be lost) and from then on the
//! node takes part in nothing: it answers no `Election`, sends no
//! heartbeat and follows nobody. A node that receives it marks the sender
//! down at once ([`Event::NodeDown`]) and, if the sender was its
//! coordinator, starts an election at once; a sender it was waiting on in
//! an election (asked, or nominated) is given up on at once too.
//!
//! Two things keep a leave from outliving the run that sent it:
//!
//! - **Incarnations.** `Leaving` carries the sender's incarnation (its
//!   boot number, which grows from run to run). A node acts on one leave
//!   per incarnation: a late copy of a leave already acted on, or an older
//!   run's, is ignored, so a node that left, came back and is running
//!   again is not marked down by it. A leave of an older run that arrives
//!   for the first time after a newer run was heard never gets here: the
//!   sealed transport drops every datagram of an older run once it has
//!   heard a newer one (and replays of any), as the simulator models.
//! - **A quiet spell.** For `suspect_after` after acting on a leave, a
//!   node takes nothing from the sender but an `IAmUp` (its next run
//!   starting): a heartbeat or a claim sent before the `Leaving` and
//!   overtaken by it must not bring the leaver back to life, nor make it
//!   coordinator again.
//!
//! [`Event::CoordinatorChanged`] is emitted every time
//! [`Election::coordinator`] changes; it is `None` while an election runs.
//!
//! # Timers
//!
//! `heartbeat` must be well below `suspect_after` and `t1` (the defaults
//! allow three heartbeats per window), or healthy nodes are suspected.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// A node's number: its position in the cluster file, `0..n`.
pub type NodeId = usize;

/// The timers of membership and election.
///
/// ```
/// use std::time::Duration;
/// use convene_cluster::election::ElectionConfig;
///
/// let config = ElectionConfig::default();
/// assert_eq!(config.heartbeat, Duration::from_millis(500));
/// assert_eq!(config.t1, config.suspect_after);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionConfig {
    /// How often every node sends a heartbeat (the coordinator: a renewal of
    /// its claim) to every other node. Default 500 ms.
    pub heartbeat: Duration,
    /// A node not heard from (any message) for this long is marked down.
    /// Default 1.6 s, a little over three heartbeats.
    pub suspect_after: Duration,
    /// T1: a coordinator whose claim has not been renewed for this long has
    /// failed, and an election starts. Default: `suspect_after`.
    pub t1: Duration,
    /// T2: how long an electing node waits for `Answer`s, and a starting node
    /// for `View`s. Default 500 ms.
    pub t2: Duration,
    /// T3: how long a nominating node waits for its nominee's `Coordinator`
    /// before nominating the next answerer. Default 500 ms.
    pub t3: Duration,
    /// T4: how long a node that answered an `Election` waits for a
    /// `Nomination` or `Coordinator` before starting its own election.
    /// Default 1 s.
    pub t4: Duration,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        let suspect_after = Duration::from_millis(1600);
        ElectionConfig {
            heartbeat: Duration::from_millis(500),
            suspect_after,
            t1: suspect_after,
            t2: Duration::from_millis(500),
            t3: Duration::from_millis(500),
            t4: Duration::from_secs(1),
        }
    }
}

/// What nodes send each other. The driver encodes these on the wire; this
/// module only decides who gets which and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// "I am alive." Sent every heartbeat by every node except the
    /// coordinator, which sends [`Message::Coordinator`] instead.
    Heartbeat,
    /// "The coordinator has failed; are you alive?" Sent to higher nodes.
    Election,
    /// "I am alive and outrank you": the reply to [`Message::Election`].
    Answer,
    /// "You are the highest that answered: become coordinator."
    Nomination,
    /// "I am the coordinator." Sent on taking the role, and every heartbeat
    /// while holding it.
    Coordinator,
    /// "I have just started (or recovered); tell me how things stand."
    IAmUp,
    /// The reply to [`Message::IAmUp`]: the sender's coordinator and the
    /// nodes it believes live (itself included), sorted.
    ///
    /// The starting node decides from the live sets alone (the highest live
    /// node coordinates, or soon will); the coordinator is reported so that
    /// a driver or an operator can see how the cluster stood, and reads
    /// `None` from a node that is itself starting or electing.
    View {
        /// Whom the sender follows, if anyone.
        coordinator: Option<NodeId>,
        /// The nodes the sender believes live, itself included.
        live: Vec<NodeId>,
    },
    /// "I am stopping: count me down now." Sent by [`Election::leave`]; see
    /// the [module documentation](self#leaving).
    Leaving {
        /// The sender's run (its boot number): only a newer run's leave is
        /// acted on.
        incarnation: u64,
    },
}

/// Something the driver (and the services above it) should know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// [`Election::coordinator`] changed to this. `None` while an election
    /// is under way.
    CoordinatorChanged(Option<NodeId>),
    /// A node that was down (or never heard from) is heard from again.
    NodeUp(NodeId),
    /// A node has not been heard from for `suspect_after`.
    NodeDown(NodeId),
}

/// Where a node is in the algorithm. Each waiting phase has its deadline.
#[derive(Clone, Debug)]
enum Phase {
    /// Just started: `IAmUp` sent to everyone, collecting `View`s until every
    /// other node has replied or `deadline` (T2) passes.
    Starting {
        /// When to stop waiting and decide with the views at hand.
        deadline: Instant,
        /// Each replying node's live set, by replying node.
        views: BTreeMap<NodeId, Vec<NodeId>>,
    },
    /// Nothing under way: a coordinator is known (possibly this node).
    Idle,
    /// `Election` sent to the higher live nodes; collecting `Answer`s until
    /// `deadline` (T2).
    Electing {
        /// When to decide with the answers at hand.
        deadline: Instant,
        /// The nodes the `Election` went to.
        asked: Vec<NodeId>,
        /// The nodes that answered, in arrival order.
        answers: Vec<NodeId>,
    },
    /// `Nomination` sent to the last node of `tried`; waiting `deadline`
    /// (T3) for its `Coordinator`.
    Nominating {
        /// When to give up on the nominee and nominate the next candidate.
        deadline: Instant,
        /// Answerers not yet nominated, highest first.
        candidates: Vec<NodeId>,
        /// Every node nominated in this election, the current nominee last.
        tried: Vec<NodeId>,
    },
    /// Answered a lower node's `Election`; waiting `deadline` (T4) for its
    /// `Nomination` or anyone's `Coordinator`, else electing ourselves.
    AwaitingOutcome {
        /// When to start an election of our own.
        deadline: Instant,
    },
}

impl Phase {
    /// The phase's deadline, if it waits for one.
    fn deadline(&self) -> Option<Instant> {
        match *self {
            Phase::Starting { deadline, .. }
            | Phase::Electing { deadline, .. }
            | Phase::Nominating { deadline, .. }
            | Phase::AwaitingOutcome { deadline } => Some(deadline),
            Phase::Idle => None,
        }
    }
}

/// What this node knows of another.
#[derive(Clone, Copy, Debug, Default)]
struct Peer {
    /// When it was last heard from; `None` if never.
    last_heard: Option<Instant>,
    /// Whether it is believed live.
    live: bool,
    /// The incarnation of the latest leave acted on, if any.
    left: Option<u64>,
    /// Until when nothing but an `IAmUp` is taken from it, after a leave.
    quiet_until: Option<Instant>,
}

/// Membership and Fast Bully election for one node; see the [module
/// documentation](self) for the algorithm.
///
/// ```
/// use std::time::{Duration, Instant};
/// use convene_cluster::election::{Election, ElectionConfig, Event, Message};
///
/// let t0 = Instant::now();
/// let config = ElectionConfig::default();
/// // Node 1 (priority 20) starts first and, hearing nobody, coordinates.
/// let mut b = Election::new(1, vec![10, 20], config.clone(), t0);
/// assert_eq!(b.poll_transmit(), Some((0, Message::IAmUp)));
/// b.handle_timeout(t0 + config.t2);
/// assert_eq!(b.coordinator(), Some(1));
///
/// // Node 0 (priority 10) starts later; node 1's view makes it accept
/// // node 1 at once, without an election.
/// let t1 = t0 + Duration::from_secs(2);
/// let mut a = Election::new(0, vec![10, 20], config, t1);
/// assert_eq!(a.poll_transmit(), Some((1, Message::IAmUp)));
/// b.handle(t1, 0, Message::IAmUp);
/// let view = std::iter::from_fn(|| b.poll_transmit())
///     .find(|(_, m)| matches!(m, Message::View { .. }))
///     .unwrap();
/// a.handle(t1, 1, view.1);
/// assert_eq!(a.coordinator(), Some(1));
/// assert!(std::iter::from_fn(|| a.poll_event()).any(|e| e == Event::CoordinatorChanged(Some(1))));
/// ```
#[derive(Debug)]
pub struct Election {
    /// This node.
    me: NodeId,
    /// Every node's priority, by node.
    priorities: Vec<i64>,
    config: ElectionConfig,
    /// What this node knows of every node; `peers[me]` is always live.
    peers: Vec<Peer>,
    /// Whom this node follows.
    coordinator: Option<NodeId>,
    /// When the coordinator (if another node) last claimed the role, or was
    /// accepted; its claim lapses `t1` later.
    coordinator_heard: Instant,
    phase: Phase,
    /// When the next heartbeat goes out.
    next_heartbeat: Instant,
    transmits: VecDeque<(NodeId, Message)>,
    events: VecDeque<Event>,
    /// Set by [`Election::leave`]: this node has said it is stopping.
    leaving: bool,
}

impl Election {
    /// A node starting (or recovering) at `now`: it sends
    /// [`Message::IAmUp`] to every other node and waits up to `t2` for their
    /// [`Message::View`]s before deciding who coordinates.
    ///
    /// `priorities[i]` is node `i`'s priority; the highest live one should
    /// coordinate. A one-node cluster coordinates itself at once.
    ///
    /// # Panics
    ///
    /// If `me` is not a node of `priorities` (a configuration error the
    /// cluster file's validation rules out).
    pub fn new(me: NodeId, priorities: Vec<i64>, config: ElectionConfig, now: Instant) -> Self {
        let n = priorities.len();
        assert!(me < n, "node {me} is not one of the {n} nodes");
        let mut peers = vec![Peer::default(); n];
        peers[me] = Peer {
            last_heard: Some(now),
            live: true,
            ..Peer::default()
        };
        let mut election = Election {
            me,
            priorities,
            next_heartbeat: now + config.heartbeat,
            peers,
            coordinator: None,
            coordinator_heard: now,
            phase: Phase::Starting {
                deadline: now + config.t2,
                views: BTreeMap::new(),
            },
            config,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            leaving: false,
        };
        for node in election.others() {
            election.transmits.push_back((node, Message::IAmUp));
        }
        election.finish_start_if_complete(now);
        election
    }

    /// Processes one message from node `from`.
    ///
    /// Any message is a sign of life from its sender. Messages from a node
    /// that does not exist, or from this node itself, are ignored, as are
    /// messages that make no sense from their sender (an `Election`,
    /// `Answer` or `Nomination` against the priority order).
    ///
    /// A [`Message::Leaving`] is not a sign of life, and for a while after
    /// one only an `IAmUp` is taken from its sender (see [Leaving](self#leaving)).
    /// A node that is itself leaving ignores everything.
    pub fn handle(&mut self, now: Instant, from: NodeId, message: Message) {
        if from >= self.priorities.len() || from == self.me || self.leaving {
            return;
        }
        if let Message::Leaving { incarnation } = message {
            self.on_leaving(now, from, incarnation);
            return;
        }
        if self.quiet(now, from) && message != Message::IAmUp {
            return;
        }
        self.peers[from].quiet_until = None;
        self.heard(now, from);
        match message {
            Message::Heartbeat => {}
            Message::Election => self.on_election(now, from),
            Message::Answer => self.on_answer(now, from),
            Message::Nomination => self.on_nomination(from),
            Message::Coordinator => self.on_coordinator(now, from),
            Message::IAmUp => self.on_i_am_up(now, from),
            Message::View { live, .. } => self.on_view(now, from, live),
            // Taken above, before the sign of life.
            Message::Leaving { .. } => {}
        }
    }

    /// This node is stopping: tells every other node so
    /// ([`Message::Leaving`] with `incarnation`, this run's boot number),
    /// and takes part in nothing from now on. It no longer follows anyone
    /// ([`Event::CoordinatorChanged`]`(None)`), so a coordinator gives up
    /// the role here first.
    ///
    /// Each call sends the message once more to everyone: a driver on a
    /// lossy network calls it a few times, a little apart.
    pub fn leave(&mut self, incarnation: u64) {
        self.leaving = true;
        self.phase = Phase::Idle;
        self.set_coordinator(None);
        for node in self.others() {
            self.transmits
                .push_back((node, Message::Leaving { incarnation }));
        }
    }

    /// Whether [`leave`](Election::leave) has been called.
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// Acts on everything due at or before `now`: suspicions, the current
    /// phase's deadline, a lapsed coordinator claim, the heartbeat.
    ///
    /// Safe to call at any time; with nothing due it does nothing. Deadlines
    /// set here count from `now`, so a driver that wakes late still gives
    /// each wait its full length.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.leaving {
            return;
        }
        // Suspicion first, so an election started below skips the nodes
        // that have just gone silent.
        for node in self.others() {
            let peer = self.peers[node];
            if peer.live
                && peer
                    .last_heard
                    .is_some_and(|t| t + self.config.suspect_after <= now)
            {
                self.peers[node].live = false;
                self.events.push_back(Event::NodeDown(node));
            }
        }

        if self.phase.deadline().is_some_and(|d| d <= now) {
            self.on_phase_deadline(now);
        }

        if let Some(deadline) = self.claim_deadline()
            && deadline <= now
        {
            // The coordinator has failed (T1): elect a new one.
            self.start_election(now);
        }

        if self.next_heartbeat <= now {
            let message = if self.is_coordinator() {
                Message::Coordinator
            } else {
                Message::Heartbeat
            };
            for node in self.others() {
                self.transmits.push_back((node, message.clone()));
            }
            self.next_heartbeat += self.config.heartbeat;
            if self.next_heartbeat <= now {
                // The driver woke late: skip the missed beats, don't burst.
                self.next_heartbeat = now + self.config.heartbeat;
            }
        }
    }

    /// The next message to send, and to whom.
    pub fn poll_transmit(&mut self) -> Option<(NodeId, Message)> {
        self.transmits.pop_front()
    }

    /// The next event to act on, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest time [`handle_timeout`](Election::handle_timeout) must
    /// run: the next heartbeat, the next suspicion, the current phase's
    /// deadline or the coordinator's claim lapsing. Never `None` (the
    /// heartbeat is always due sometime) but for a node that is leaving,
    /// which has nothing left to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.leaving {
            return None;
        }
        let suspicions = self.others().filter_map(|node| {
            let peer = self.peers[node];
            peer.live
                .then_some(peer.last_heard)
                .flatten()
                .map(|t| t + self.config.suspect_after)
        });
        std::iter::once(self.next_heartbeat)
            .chain(suspicions)
            .chain(self.phase.deadline())
            .chain(self.claim_deadline())
            .min()
    }

    /// Whom this node follows: itself if it coordinates, `None` while an
    /// election or its start is under way.
    pub fn coordinator(&self) -> Option<NodeId> {
        self.coordinator
    }

    /// Whether `node` is believed live. This node always is; a node never
    /// heard from is not; a node that does not exist is not.
    pub fn is_live(&self, node: NodeId) -> bool {
        self.peers.get(node).is_some_and(|p| p.live)
    }

    /// The nodes believed live, this one included, sorted.
    pub fn live(&self) -> Vec<NodeId> {
        (0..self.peers.len())
            .filter(|&n| self.peers[n].live)
            .collect()
    }

    // ----- messages -----

    /// Records a sign of life from `node`; a node that was down comes up,
    /// and a coordinator tells it at once who coordinates.
    fn heard(&mut self, now: Instant, node: NodeId) {
        let peer = &mut self.peers[node];
        peer.last_heard = Some(now);
        if !peer.live {
            peer.live = true;
            self.events.push_back(Event::NodeUp(node));
            if self.is_coordinator() {
                self.transmits.push_back((node, Message::Coordinator));
            }
        }
    }

    /// `Election` from `from`: a lower node believes the coordinator failed.
    fn on_election(&mut self, now: Instant, from: NodeId) {
        if !self.outranks(self.me, from) {
            return;
        }
        self.transmits.push_back((from, Message::Answer));
        match self.phase {
            Phase::Idle if self.is_coordinator() => {
                // Already coordinating: say so, sparing the sender its wait.
                self.transmits.push_back((from, Message::Coordinator));
            }
            Phase::Idle => {
                self.phase = Phase::AwaitingOutcome {
                    deadline: now + self.config.t4,
                };
            }
            // Our own start or election will announce its outcome to the
            // sender; an earlier answer's wait keeps its deadline.
            Phase::Starting { .. }
            | Phase::Electing { .. }
            | Phase::Nominating { .. }
            | Phase::AwaitingOutcome { .. } => {}
        }
    }

    /// `Answer` from `from`: a higher node is alive.
    fn on_answer(&mut self, now: Instant, from: NodeId) {
        if !self.outranks(from, self.me) {
            return;
        }
        match &mut self.phase {
            Phase::Electing { asked, answers, .. } => {
                if !answers.contains(&from) {
                    answers.push(from);
                }
                let best_possible = asked.iter().all(|&a| !outranks(&self.priorities, a, from));
                if best_possible {
                    // Nobody who could still answer outranks this one.
                    let answers = std::mem::take(answers);
                    self.nominate(now, answers, Vec::new());
                }
            }
            // A late answer: a candidate should the nominee fail.
            Phase::Nominating {
                candidates, tried, ..
            } if !tried.contains(&from) && !candidates.contains(&from) => {
                candidates.push(from);
                let priorities = &self.priorities;
                candidates.sort_by_key(|&c| Reverse((priorities[c], c)));
            }
            _ => {}
        }
    }

    /// `Nomination` from a lower node: we are the highest that answered.
    fn on_nomination(&mut self, from: NodeId) {
        if self.outranks(self.me, from) {
            self.become_coordinator();
        }
    }

    /// `Coordinator` from `from`: it claims the role.
    fn on_coordinator(&mut self, now: Instant, from: NodeId) {
        if self.outranks(from, self.me) {
            let stale = self
                .current_higher_coordinator(now)
                .is_some_and(|c| c != from && self.outranks(c, from));
            if !stale {
                self.accept(now, from);
            }
            return;
        }
        // A lower node claims the role: the highest must win.
        if self.is_coordinator() {
            self.transmits.push_back((from, Message::Coordinator));
            return;
        }
        if self.current_higher_coordinator(now).is_some() {
            // Our coordinator outranks us and is current; its renewals will
            // correct the claimant.
            return;
        }
        match self.phase {
            Phase::Idle | Phase::AwaitingOutcome { .. } => self.become_coordinator(),
            // Our own start or election will announce its outcome.
            Phase::Starting { .. } | Phase::Electing { .. } | Phase::Nominating { .. } => {}
        }
    }

    /// `IAmUp` from `from`: it (re)started. Reply with our view; if it was
    /// our coordinator, it lost the role with its memory: elect.
    fn on_i_am_up(&mut self, now: Instant, from: NodeId) {
        let lost_coordinator = self.coordinator == Some(from);
        if lost_coordinator {
            self.set_coordinator(None);
        }
        let view = Message::View {
            coordinator: self.coordinator,
            live: self.live(),
        };
        self.transmits.push_back((from, view));
        if lost_coordinator {
            self.start_election(now);
        }
    }

    /// `View` from `from`: a reply to our `IAmUp`.
    fn on_view(&mut self, now: Instant, from: NodeId, live: Vec<NodeId>) {
        if let Phase::Starting { views, .. } = &mut self.phase {
            let n = self.priorities.len();
            let live = live.into_iter().filter(|&node| node < n).collect();
            views.insert(from, live);
            self.finish_start_if_complete(now);
        }
    }

    /// `Leaving` from `from`, in its run `incarnation`: it is stopping.
    fn on_leaving(&mut self, now: Instant, from: NodeId, incarnation: u64) {
        let peer = &mut self.peers[from];
        if peer.left.is_some_and(|left| incarnation <= left) {
            // A copy of a leave already acted on, or an older run's.
            return;
        }
        peer.left = Some(incarnation);
        peer.quiet_until = Some(now + self.config.suspect_after);
        if peer.live {
            peer.live = false;
            self.events.push_back(Event::NodeDown(from));
        }
        if self.coordinator == Some(from) {
            self.start_election(now);
            return;
        }
        // Whatever waits on the leaver stops waiting.
        match &mut self.phase {
            Phase::Starting { views, .. } => {
                views.remove(&from);
            }
            Phase::Electing { asked, answers, .. } => {
                asked.retain(|&n| n != from);
                answers.retain(|&n| n != from);
                let (asked, answers) = (asked.clone(), answers.clone());
                let best = answers
                    .iter()
                    .copied()
                    .max_by_key(|&n| (self.priorities[n], n));
                match best {
                    None if asked.is_empty() => self.become_coordinator(),
                    None => {}
                    Some(best) if asked.iter().all(|&a| !self.outranks(a, best)) => {
                        self.nominate(now, answers, Vec::new());
                    }
                    Some(_) => {}
                }
            }
            Phase::Nominating {
                candidates, tried, ..
            } => {
                candidates.retain(|&n| n != from);
                if tried.last() == Some(&from) {
                    let (candidates, tried) = (candidates.clone(), tried.clone());
                    self.nominate(now, candidates, tried);
                }
            }
            Phase::Idle | Phase::AwaitingOutcome { .. } => {}
        }
    }

    /// Whether `node` left lately and only its `IAmUp` is taken.
    fn quiet(&self, now: Instant, node: NodeId) -> bool {
        self.peers[node].quiet_until.is_some_and(|t| now < t)
    }

    // ----- transitions -----

    /// The current phase's deadline has passed.
    fn on_phase_deadline(&mut self, now: Instant) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Starting { views, .. } => self.finish_start(now, views),
            Phase::Electing { answers, .. } if answers.is_empty() => self.become_coordinator(),
            Phase::Electing { answers, .. } => self.nominate(now, answers, Vec::new()),
            Phase::Nominating {
                candidates, tried, ..
            } => self.nominate(now, candidates, tried),
            Phase::AwaitingOutcome { .. } => self.start_election(now),
            Phase::Idle => {}
        }
    }

    /// Finishes the start early once every other node has sent its view.
    fn finish_start_if_complete(&mut self, now: Instant) {
        if let Phase::Starting { views, .. } = &self.phase
            && views.len() + 1 >= self.priorities.len()
        {
            let Phase::Starting { views, .. } = std::mem::replace(&mut self.phase, Phase::Idle)
            else {
                unreachable!("checked just above");
            };
            self.finish_start(now, views);
        }
    }

    /// Merges the views: the highest live node coordinates, without an
    /// election. Nodes a view calls live are taken as live (and given
    /// `suspect_after` to prove it).
    fn finish_start(&mut self, now: Instant, views: BTreeMap<NodeId, Vec<NodeId>>) {
        for (&sender, live) in &views {
            for node in std::iter::once(sender).chain(live.iter().copied()) {
                // A view sent before a leave reached its sender does not
                // bring the leaver back.
                if node != self.me && !self.peers[node].live && !self.quiet(now, node) {
                    self.heard(now, node);
                }
            }
        }
        let best = self
            .live()
            .into_iter()
            .max_by_key(|&n| (self.priorities[n], n))
            .unwrap_or(self.me);
        if best == self.me {
            self.become_coordinator();
        } else {
            self.accept(now, best);
        }
    }

    /// Starts an election: `Election` to every higher live node, or, with
    /// none, the role at once.
    fn start_election(&mut self, now: Instant) {
        self.set_coordinator(None);
        let asked: Vec<NodeId> = self
            .others()
            .filter(|&n| self.peers[n].live && self.outranks(n, self.me))
            .collect();
        if asked.is_empty() {
            self.become_coordinator();
            return;
        }
        for &node in &asked {
            self.transmits.push_back((node, Message::Election));
        }
        self.phase = Phase::Electing {
            deadline: now + self.config.t2,
            asked,
            answers: Vec::new(),
        };
    }

    /// Nominates the highest of `candidates` not yet tried; with none left,
    /// starts the election again.
    fn nominate(&mut self, now: Instant, mut candidates: Vec<NodeId>, mut tried: Vec<NodeId>) {
        candidates.retain(|c| !tried.contains(c));
        let priorities = &self.priorities;
        candidates.sort_by_key(|&c| Reverse((priorities[c], c)));
        candidates.dedup();
        if candidates.is_empty() {
            self.start_election(now);
            return;
        }
        let nominee = candidates.remove(0);
        tried.push(nominee);
        self.transmits.push_back((nominee, Message::Nomination));
        self.phase = Phase::Nominating {
            deadline: now + self.config.t3,
            candidates,
            tried,
        };
    }

    /// Takes the role: tells every lower live node, and from the next
    /// heartbeat on renews the claim to everyone.
    fn become_coordinator(&mut self) {
        self.phase = Phase::Idle;
        self.set_coordinator(Some(self.me));
        for node in self.others() {
            if self.peers[node].live && self.outranks(self.me, node) {
                self.transmits.push_back((node, Message::Coordinator));
            }
        }
    }

    /// Follows `node`, ending whatever was under way.
    fn accept(&mut self, now: Instant, node: NodeId) {
        self.phase = Phase::Idle;
        self.coordinator_heard = now;
        self.set_coordinator(Some(node));
    }

    fn set_coordinator(&mut self, coordinator: Option<NodeId>) {
        if self.coordinator != coordinator {
            self.coordinator = coordinator;
            self.events
                .push_back(Event::CoordinatorChanged(coordinator));
        }
    }

    // ----- helpers -----

    /// When the followed coordinator's claim lapses (T1), if one is followed
    /// and nothing else is under way.
    fn claim_deadline(&self) -> Option<Instant> {
        match (self.coordinator, &self.phase) {
            (Some(c), Phase::Idle | Phase::AwaitingOutcome { .. }) if c != self.me => {
                Some(self.coordinator_heard + self.config.t1)
            }
            _ => None,
        }
    }

    /// The followed coordinator, if it outranks us and its claim is current.
    fn current_higher_coordinator(&self, now: Instant) -> Option<NodeId> {
        let c = self.coordinator?;
        let current = self.claim_deadline().is_some_and(|d| now < d);
        (c != self.me && self.outranks(c, self.me) && current).then_some(c)
    }

    fn is_coordinator(&self) -> bool {
        self.coordinator == Some(self.me)
    }

    /// Every node but this one.
    fn others(&self) -> impl Iterator<Item = NodeId> + use<> {
        let me = self.me;
        (0..self.priorities.len()).filter(move |&n| n != me)
    }

    fn outranks(&self, a: NodeId, b: NodeId) -> bool {
        outranks(&self.priorities, a, b)
    }
}

/// Whether node `a` ranks above node `b`: higher priority, ties broken by
/// the higher index so that every node orders the cluster alike.
fn outranks(priorities: &[i64], a: NodeId, b: NodeId) -> bool {
    (priorities[a], a) > (priorities[b], b)
}

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
