//! [`Authority`]: who may take a decision that must be unique cluster-wide,
//! and under which [`Term`], as one sans-IO state machine.
//!
//! Fast Bully ([`election`](crate::election)) chooses who *should*
//! coordinate, but it cannot make that choice unique: a coordinator cut off
//! from the rest still believes it coordinates while the others elect a new
//! one, and with a non-transitive partition (A hears B, B hears C, A does not
//! hear C) two nodes can each be coordinator for as long as it lasts. This
//! module adds what makes a decision safe: a coordinator decides only while
//! it holds **leases from a majority** of the cluster, within a **term** that
//! every decision carries.
//!
//! Like [`Election`](crate::election::Election), an [`Authority`] never
//! touches a socket or reads a clock. Its driver hands it each [`Message`]
//! ([`Authority::handle`]), sends what [`Authority::poll_transmit`] returns,
//! sleeps until [`Authority::poll_timeout`] and then calls
//! [`Authority::handle_timeout`]; and it tells it whom Fast Bully chose
//! ([`Authority::set_coordinator`]). A service asks
//! [`Authority::authority`] (or [`Authority::check`], for a typed refusal)
//! right before it decides.
//!
//! # The rules
//!
//! * **Terms.** A [`Term`] is a number; each node only ever uses numbers
//!   congruent to its own index modulo the cluster size, so no two nodes
//!   ever use the same term. A node that becomes coordinator picks the
//!   smallest of its terms above every term it has seen.
//! * **Requests.** While it believes it coordinates, a node sends
//!   [`Message::LeaseRequest`] with its term and a round number to every
//!   other node (and applies the same rule to itself): every `renew` while
//!   it holds authority, every `retry` while it does not.
//! * **Grants are promises.** A node answers [`Message::LeaseGrant`] only if
//!   (1) it has not promised *another* holder whose promise is still
//!   running, (2) the term is at least as high as any it has granted, and
//!   (3) it is not in its start-up quiet period (below). Granting is a
//!   promise, measured **on the grantor's clock from the moment it received
//!   the request**, to grant no other holder for `lease`. Otherwise it
//!   answers [`Message::LeaseRefused`] with the highest term it has granted,
//!   so that a holder with too low a term can move above it.
//! * **Authority.** A holder counts a round's lease **from the moment it sent
//!   the request**, for `lease - drift_margin` on its own clock. It has
//!   authority while some round of its current term has grants from a
//!   majority of the cluster (itself included) and that round's count has
//!   not run out. [`Authority::authority`] is then `Some(term)`; at every
//!   other moment it is `None`, and a node that is not (or no longer)
//!   coordinator loses authority at once.
//!
//! # Why no two terms ever decide at the same time
//!
//! Take two holders A and B, and a moment when A has authority through a
//! round it sent at `s`. Its majority and any majority B gathers share at
//! least one node, G. G received A's request after A sent it, so G's promise
//! to A runs from some moment after `s`, for `lease` on G's clock. A's own
//! count runs from `s` (earlier), for `lease - drift_margin` on A's clock.
//! If clocks run at rates within `1 ± ρ` of real time, A's count lasts at
//! most `(lease - margin) / (1 - ρ)` real time and G's promise at least
//! `lease / (1 + ρ)`; with `margin ≥ lease · 2ρ / (1 + ρ)` (the default
//! [`QuorumConfig::with_drift`] takes `2ρ · lease` plus a constant), A's
//! authority ends before G's promise does. While the promise runs G refuses
//! B, so B cannot complete a majority that includes G, and so cannot have
//! authority, until after A's has ended. That is the whole argument: it
//! needs nothing from Fast Bully, the network or message order, only
//! bounded clock *rates* (not synchronised clocks: every duration is
//! measured on one clock). Loss, delay, duplication and reordering can only
//! make a holder count from an earlier moment than a grantor, which is the
//! safe direction; a grant that arrives after its round's count has ended
//! adds nothing.
//!
//! **Terms only grow with time.** Any node G in both majorities granted A's
//! term first and B's later, and never grants a term below one it has
//! granted; terms are unique per node, so B's term is higher. A resource
//! that remembers the highest term it has seen and rejects lower ones
//! (*fencing*) therefore also rejects a stale holder whose message was
//! delayed past its authority: every decision must carry the term.
//!
//! # Crash and restart
//!
//! A restarted node has forgotten its promises. It therefore grants nothing
//! (not even to itself) for `lease` after [`Authority::new`]: any promise it
//! made before the crash was made before the restart and has run out by
//! then. It must also never reuse a term nor grant below one it granted, or
//! fencing would break: the **driver persists [`Authority::highest_term`]**
//! whenever it grows, before sending what [`Authority::poll_transmit`]
//! returns, and passes the stored value to [`Authority::new`]. (It grows
//! once per new term, not once per renewal.)
//!
//! # Details that matter
//!
//! * **Rounds.** Each round of requests has its own number, and a grant
//!   counts only for the round it answers: a late grant of an old round must
//!   not be counted from a newer round's (later) send time.
//! * **Refusals do not raise a grantor's threshold**; only grants do. If a
//!   refused request raised it, two nodes that both believe they coordinate
//!   (a non-transitive partition does that) would refuse each other's
//!   renewals in turn, and authority would flip between them every lease.
//!   As it is, whoever holds the middle node's promise first keeps it.
//! * **The holder grants itself by the same rule.** A coordinator that steps
//!   down has promised itself for a lease, and refuses its successor until
//!   that promise ends: its own grant was part of its majority.
//!
//! # Leaving
//!
//! A holder that stops on purpose need not leave its grantors bound by
//! their promises for up to a `lease`, during which its successor could
//! decide nothing. [`Authority::leave`] drops its authority for good (it
//! holds no term, grants nothing and starts no term again), and only then
//! does the driver tell the others, with the highest term it has used
//! ([`Authority::highest_term`]). A grantor told so by `X` with term `t`
//! ([`Authority::left`]) forgets a promise to `X` made for a term up to
//! `t`, and refuses `X`'s requests for such terms from then on (one
//! overtaken by the news must not bind it again). That is safe for the
//! reason a promise is: it stands for `X` deciding, and `X` decides nothing
//! more under those terms. A later run of `X` asks under a higher term
//! (terms only grow, and are stored), so news of an earlier run's leave,
//! however late, releases nothing that run did not hold.
//!
//! # What it assumes, and what it does not give
//!
//! Clock *rates* within the configured drift, on a clock that keeps counting
//! while the process is paused. A process paused longer than its margin (a
//! stopped VM, a debugger) can still act on authority that has run out: the
//! term carried by the decision is the defence, checked by whatever stores
//! it.
//!
//! Safety, not liveness, under every partition. In particular a coordinator
//! that is heard but does not hear (the grants to it are lost) never gets
//! authority, yet its requests keep the grantors' promises running, so no
//! one else gets it either while it keeps asking. Curing that belongs to the
//! choice of coordinator: Fast Bully should not let a node without two-way
//! contact with a majority coordinate.
//!
//! The simulator in this module's tests checks all of this with drifting
//! clocks, one-way and non-transitive partitions, loss, delay, duplication,
//! crash-restart and arbitrary coordinator beliefs.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::election::NodeId;

/// A term: the fencing token every decision carries. Terms of one node are
/// congruent to its index modulo the cluster size, so two nodes never share
/// one; a later authority always has a higher term. `Term(0)` is "none yet".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Term(pub u64);

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "term {}", self.0)
    }
}

/// The timers of leases.
///
/// ```
/// use std::time::Duration;
/// use convene_cluster::quorum::QuorumConfig;
///
/// let config = QuorumConfig::default();
/// assert_eq!(config.lease, Duration::from_secs(2));
/// assert!(config.drift_margin >= config.lease.mul_f64(2.0 * 0.01));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumConfig {
    /// How long a grantor promises not to grant another holder, on its own
    /// clock from when it received the request. Also how long a restarted
    /// node grants nothing. Default 2 s.
    pub lease: Duration,
    /// What the holder takes off `lease` for its own count, so that its
    /// authority ends before any grantor's promise, whatever the clocks'
    /// drift. See [`QuorumConfig::with_drift`].
    pub drift_margin: Duration,
    /// How often a holder with authority renews it. Default `lease / 4`.
    pub renew: Duration,
    /// How often a coordinator without authority asks again. Default
    /// `lease / 10`.
    pub retry: Duration,
}

impl QuorumConfig {
    /// A constant added to every drift margin: slack for what the rate bound
    /// does not cover (rounding, a timer read a little late).
    pub const MARGIN_SLACK: Duration = Duration::from_millis(10);

    /// Leases of `lease`, safe while every clock runs within `max_drift`
    /// (a fraction: 0.01 is 1 %) of real time: the margin is
    /// `2 · max_drift · lease + MARGIN_SLACK`, above the
    /// `lease · 2ρ / (1 + ρ)` the module documentation derives.
    pub fn with_drift(lease: Duration, max_drift: f64) -> Self {
        QuorumConfig {
            lease,
            drift_margin: lease.mul_f64(2.0 * max_drift) + Self::MARGIN_SLACK,
            renew: lease / 4,
            retry: lease / 10,
        }
    }
}

impl Default for QuorumConfig {
    /// 2 s leases, safe for clocks within 1 % of each other (real clocks
    /// are within a few hundred parts per million).
    fn default() -> Self {
        QuorumConfig::with_drift(Duration::from_secs(2), 0.01)
    }
}

/// What nodes send each other about leases. The driver encodes these; this
/// module decides who gets which and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// "Promise me, for `lease`, to grant nobody else." `round` tells the
    /// grant apart from grants of the same term's other rounds.
    LeaseRequest {
        /// The requester's term.
        term: Term,
        /// The requester's round, increasing within its run.
        round: u64,
    },
    /// "Promised": the answer to the request of this term and round.
    LeaseGrant {
        /// The term granted.
        term: Term,
        /// The round granted.
        round: u64,
    },
    /// "Not now": another holder's promise is running, the term is below
    /// one already granted, or the grantor has just started.
    LeaseRefused {
        /// The term refused.
        term: Term,
        /// The highest term the grantor has granted.
        highest: Term,
    },
}

/// Why this node may not decide now: the answer to give a client whose
/// claim needs a unique decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoAuthority {
    /// Another node coordinates (or none is known): ask it.
    #[error("this node does not coordinate (coordinator: {0:?})")]
    NotCoordinator(Option<NodeId>),
    /// This node coordinates but does not hold leases from a majority (it
    /// may be on the minority side of a partition, or just elected).
    #[error("this node cannot see a majority of the cluster")]
    NoMajority,
}

/// A promise this node made as a grantor.
#[derive(Clone, Copy, Debug)]
struct Promise {
    holder: NodeId,
    /// The highest term granted to it under this promise.
    term: Term,
    /// Until when (this node's clock) it grants no other holder.
    until: Instant,
}

/// One round of lease requests sent by this node as holder.
#[derive(Clone, Debug)]
struct Round {
    number: u64,
    /// When the requests went out: the lease is counted from here.
    sent: Instant,
    /// The nodes that granted it, this one included if it did.
    granted: BTreeSet<NodeId>,
}

/// What this node does as (would-be) holder while it coordinates.
#[derive(Clone, Debug)]
struct Holding {
    term: Term,
    /// The rounds whose lease could still count, oldest first.
    rounds: VecDeque<Round>,
    /// Until when (this node's clock) authority holds: the end of the count
    /// of the latest round that reached a majority.
    until: Option<Instant>,
    /// When the next round goes out.
    next_round: Instant,
}

/// Leases and terms for one node; see the [module documentation](self) for
/// the rules and why they are safe.
///
/// ```
/// use std::time::{Duration, Instant};
/// use convene_cluster::quorum::{Authority, Message, QuorumConfig, Term};
///
/// let t0 = Instant::now();
/// let config = QuorumConfig::default();
/// let mut nodes: Vec<Authority> =
///     (0..3).map(|me| Authority::new(me, 3, config.clone(), t0, Term(0))).collect();
/// // Nobody grants during the first lease after a start.
/// let t1 = t0 + config.lease;
/// for node in &mut nodes {
///     node.set_coordinator(t1, Some(2));
/// }
/// // Node 2 asks nodes 0 and 1; node 0 grants, and that is a majority.
/// let (to, request) = nodes[2].poll_transmit().unwrap();
/// assert_eq!(to, 0);
/// nodes[0].handle(t1, 2, request);
/// let (_, grant) = nodes[0].poll_transmit().unwrap();
/// assert!(matches!(grant, Message::LeaseGrant { .. }));
/// nodes[2].handle(t1, 0, grant);
/// let term = nodes[2].authority(t1).unwrap();
/// assert_eq!(term.0 % 3, 2, "node 2's terms are 2 mod 3");
/// // Without renewal, authority ends before the lease does.
/// assert_eq!(nodes[2].authority(t1 + config.lease - config.drift_margin), None);
/// ```
#[derive(Debug)]
pub struct Authority {
    me: NodeId,
    n: usize,
    config: QuorumConfig,
    /// Whom Fast Bully says coordinates.
    coordinator: Option<NodeId>,
    /// The highest term this node has granted: it grants no lower one.
    granted_max: Term,
    /// The highest term this node has granted or used (persisted by the
    /// driver).
    highest: Term,
    /// The highest term this node has heard of (refusals included); a new
    /// term goes above it.
    seen: Term,
    /// No grant before this moment: a restart's quiet period.
    grants_from: Instant,
    promise: Option<Promise>,
    /// `Some` while this node coordinates.
    holding: Option<Holding>,
    next_round_number: u64,
    transmits: VecDeque<(NodeId, Message)>,
    /// Per node, the highest term it said it left under: no grant to it
    /// for that term or below.
    departed: Vec<Term>,
    /// Set by [`Authority::leave`]: this node takes part in nothing.
    leaving: bool,
}

impl Authority {
    /// Node `me` of a cluster of `n` nodes, starting (or restarting) at
    /// `now`, with `stored` the last [`Authority::highest_term`] its driver
    /// persisted (`Term(0)` on the very first start). It grants nothing for
    /// `config.lease`.
    pub fn new(me: NodeId, n: usize, config: QuorumConfig, now: Instant, stored: Term) -> Self {
        assert!(me < n, "node {me} of a cluster of {n}");
        Authority {
            me,
            n,
            grants_from: now + config.lease,
            config,
            coordinator: None,
            granted_max: stored,
            highest: stored,
            seen: stored,
            promise: None,
            holding: None,
            next_round_number: 0,
            transmits: VecDeque::new(),
            departed: vec![Term(0); n],
            leaving: false,
        }
    }

    /// The highest term this node has granted or used. The driver persists
    /// it whenever it grows, before sending what
    /// [`poll_transmit`](Self::poll_transmit) returns next, and passes it
    /// back to [`Authority::new`] after a restart.
    pub fn highest_term(&self) -> Term {
        self.highest
    }

    /// The term under which this node may decide now, or `None`. Every
    /// decision carries it, and whatever stores a decision rejects terms
    /// below the highest it has seen.
    pub fn authority(&self, now: Instant) -> Option<Term> {
        self.authority_until(now).map(|(term, _)| term)
    }

    /// [`authority`](Self::authority), and until when (this node's clock) it
    /// holds without a further renewal: a decision that takes time should
    /// finish before then.
    pub fn authority_until(&self, now: Instant) -> Option<(Term, Instant)> {
        let holding = self.holding.as_ref()?;
        let until = holding.until?;
        (now < until).then_some((holding.term, until))
    }

    /// [`authority`](Self::authority) as a typed answer: the term, or why
    /// not.
    pub fn check(&self, now: Instant) -> Result<Term, NoAuthority> {
        if self.coordinator != Some(self.me) {
            return Err(NoAuthority::NotCoordinator(self.coordinator));
        }
        self.authority(now).ok_or(NoAuthority::NoMajority)
    }

    /// Whom Fast Bully says coordinates, as last told.
    pub fn coordinator(&self) -> Option<NodeId> {
        self.coordinator
    }

    /// The driver tells whom Fast Bully chose (`None` while an election
    /// runs). Becoming coordinator starts a new term and asks for leases at
    /// once; ceasing to be coordinator drops authority at once.
    pub fn set_coordinator(&mut self, now: Instant, coordinator: Option<NodeId>) {
        let was = self.coordinator == Some(self.me);
        self.coordinator = coordinator;
        let is = coordinator == Some(self.me) && !self.leaving;
        if is && !was {
            self.start_term(now);
        } else if !is {
            self.holding = None;
        }
    }

    /// This node is stopping: it gives up authority now and for good (no
    /// term, no grant, no request from here on). The driver then tells the
    /// others, with [`highest_term`](Self::highest_term), so that they can
    /// forget their promises to it ([`left`](Self::left)).
    pub fn leave(&mut self) {
        self.leaving = true;
        self.holding = None;
        self.transmits.clear();
    }

    /// Node `from` said it is stopping, having used no term above `term`:
    /// a promise to it for such a term is forgotten, and it is granted no
    /// such term again. See [Leaving](self#leaving).
    pub fn left(&mut self, from: NodeId, term: Term) {
        let Some(departed) = self.departed.get_mut(from) else {
            return;
        };
        if from == self.me {
            return;
        }
        *departed = (*departed).max(term);
        if let Some(p) = self.promise
            && p.holder == from
            && p.term <= term
        {
            self.promise = None;
        }
    }

    /// Handles a message `from` another node.
    pub fn handle(&mut self, now: Instant, from: NodeId, message: Message) {
        if from >= self.n || from == self.me {
            return;
        }
        match message {
            Message::LeaseRequest { term, round } => {
                let answer = match self.grant(now, from, term) {
                    true => Message::LeaseGrant { term, round },
                    false => Message::LeaseRefused {
                        term,
                        highest: self.granted_max,
                    },
                };
                self.transmits.push_back((from, answer));
            }
            Message::LeaseGrant { term, round } => self.granted(from, term, round),
            Message::LeaseRefused { highest, .. } => self.seen = self.seen.max(highest),
        }
    }

    /// Handles the deadline [`poll_timeout`](Self::poll_timeout) returned:
    /// sends the next round of requests.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(holding) = self.holding.as_ref() else {
            return;
        };
        if now < holding.next_round {
            return;
        }
        // Without authority and with a term someone has refused as too low,
        // move above it; with authority, keep the term (a new one would
        // drop authority until its first majority).
        if self.authority(now).is_none() && self.seen > holding.term {
            self.start_term(now);
        } else {
            self.send_round(now);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.holding.as_ref().map(|h| h.next_round)
    }

    /// The next message to send, and to whom.
    pub fn poll_transmit(&mut self) -> Option<(NodeId, Message)> {
        self.transmits.pop_front()
    }

    /// The grantor's rule; records the promise when it grants.
    fn grant(&mut self, now: Instant, holder: NodeId, term: Term) -> bool {
        if self.leaving || now < self.grants_from || term < self.granted_max {
            return false;
        }
        if self.departed.get(holder).is_some_and(|&d| term <= d) {
            // It left under this term: an overtaken request binds nothing.
            return false;
        }
        if let Some(p) = self.promise
            && p.holder != holder
            && now < p.until
        {
            return false;
        }
        self.granted_max = term;
        self.highest = self.highest.max(term);
        self.seen = self.seen.max(term);
        let until = now + self.config.lease;
        self.promise = Some(Promise {
            holder,
            term,
            until: match self.promise {
                Some(p) if p.holder == holder => p.until.max(until),
                _ => until,
            },
        });
        true
    }

    /// A grant arrived: count it for its round, if still ours.
    fn granted(&mut self, from: NodeId, term: Term, round: u64) {
        let majority = self.n / 2 + 1;
        let lease = self.config.lease.saturating_sub(self.config.drift_margin);
        let renew = self.config.renew;
        let Some(holding) = self.holding.as_mut() else {
            return;
        };
        if term != holding.term {
            return;
        }
        let Some(r) = holding.rounds.iter_mut().find(|r| r.number == round) else {
            return;
        };
        r.granted.insert(from);
        if r.granted.len() >= majority {
            let end = r.sent + lease;
            holding.until = Some(holding.until.map_or(end, |u| u.max(end)));
            // Holding now: the next round is a renewal, not a quick retry.
            holding.next_round = holding.next_round.max(r.sent + renew);
        }
    }

    /// Starts a new term above everything seen, and asks for it.
    fn start_term(&mut self, now: Instant) {
        let n = self.n as u64;
        let above = self.seen.max(self.highest).0;
        let me = self.me as u64;
        // The smallest number above `above` that is `me` modulo `n`.
        let mut term = (above / n) * n + me;
        if term <= above {
            term += n;
        }
        let term = Term(term);
        self.seen = term;
        self.holding = Some(Holding {
            term,
            rounds: VecDeque::new(),
            until: None,
            next_round: now,
        });
        self.send_round(now);
    }

    /// Sends one round of requests for the current term, grants itself by
    /// the same rule, and schedules the next round.
    fn send_round(&mut self, now: Instant) {
        let number = self.next_round_number;
        self.next_round_number += 1;
        let Some(term) = self.holding.as_ref().map(|h| h.term) else {
            return;
        };
        let mine = self.grant(now, self.me, term);
        // A used term is never used again, granted to itself or not; but
        // it does not raise what this node grants (`granted_max`), or two
        // coordinators would refuse each other's renewals in turn.
        self.highest = self.highest.max(term);
        let lease = self.config.lease.saturating_sub(self.config.drift_margin);
        let (renew, retry) = (self.config.renew, self.config.retry);
        let holding = self.holding.as_mut().expect("checked above");
        holding.rounds.retain(|r| r.sent + lease > now);
        holding.rounds.push_back(Round {
            number,
            sent: now,
            granted: BTreeSet::new(),
        });
        for to in (0..self.n).filter(|&to| to != self.me) {
            self.transmits.push_back((
                to,
                Message::LeaseRequest {
                    term,
                    round: number,
                },
            ));
        }
        let holds = holding.until.is_some_and(|u| now < u);
        holding.next_round = now + if holds { renew } else { retry };
        if mine {
            self.granted(self.me, term, number);
        }
    }
}

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
