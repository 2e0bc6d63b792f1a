//! One test per rule, driving single state machines by hand with a fake
//! clock, then the scenarios on the simulator (see [`super::sim`]).

use std::time::{Duration, Instant};

use super::sim::{NetConfig, Sim, config};
use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn transmits(a: &mut Authority) -> Vec<(NodeId, Message)> {
    std::iter::from_fn(|| a.poll_transmit()).collect()
}

/// A grantor, node `me` of 3, started long enough ago to grant.
fn grantor(me: NodeId, t0: Instant) -> (Authority, Instant) {
    let a = Authority::new(me, 3, config(), t0, Term(0));
    (a, t0 + config().lease)
}

fn request(term: u64, round: u64) -> Message {
    Message::LeaseRequest {
        term: Term(term),
        round,
    }
}

#[test]
fn a_grant_is_a_promise_to_refuse_other_holders_for_a_lease() {
    let t0 = Instant::now();
    let (mut g, t) = grantor(0, t0);
    g.handle(t, 1, request(1, 0));
    assert_eq!(
        transmits(&mut g),
        vec![(
            1,
            Message::LeaseGrant {
                term: Term(1),
                round: 0
            }
        )]
    );
    // Node 2, even with a higher term, is refused while the promise runs.
    g.handle(t + config().lease - ms(1), 2, request(5, 0));
    assert_eq!(
        transmits(&mut g),
        vec![(
            2,
            Message::LeaseRefused {
                term: Term(5),
                highest: Term(1)
            }
        )]
    );
    // The same holder is granted again (a renewal), extending the promise.
    g.handle(t + ms(500), 1, request(1, 1));
    assert!(matches!(
        transmits(&mut g)[..],
        [(1, Message::LeaseGrant { .. })]
    ));
    g.handle(t + config().lease + ms(499), 2, request(5, 1));
    assert!(matches!(
        transmits(&mut g)[..],
        [(2, Message::LeaseRefused { .. })]
    ));
    // Once it has run out, another holder is granted.
    g.handle(t + config().lease + ms(500), 2, request(5, 2));
    assert!(matches!(
        transmits(&mut g)[..],
        [(2, Message::LeaseGrant { .. })]
    ));
}

#[test]
fn no_grant_below_a_term_already_granted() {
    let t0 = Instant::now();
    let (mut g, t) = grantor(0, t0);
    g.handle(t, 2, request(5, 0));
    transmits(&mut g);
    let later = t + 2 * config().lease;
    g.handle(later, 1, request(4, 0));
    assert_eq!(
        transmits(&mut g),
        vec![(
            1,
            Message::LeaseRefused {
                term: Term(4),
                highest: Term(5)
            }
        )]
    );
    // Not even to the same holder (a stale request of an older term).
    g.handle(later, 2, request(2, 7));
    assert!(matches!(
        transmits(&mut g)[..],
        [(2, Message::LeaseRefused { .. })]
    ));
}

#[test]
fn a_restarted_node_grants_nothing_for_a_lease() {
    let t0 = Instant::now();
    let mut g = Authority::new(0, 3, config(), t0, Term(7));
    g.handle(t0 + config().lease - ms(1), 1, request(10, 0));
    assert!(matches!(
        transmits(&mut g)[..],
        [(1, Message::LeaseRefused { .. })]
    ));
    g.handle(t0 + config().lease, 1, request(10, 1));
    assert!(matches!(
        transmits(&mut g)[..],
        [(1, Message::LeaseGrant { .. })]
    ));
}

#[test]
fn terms_are_the_nodes_own_above_everything_stored_and_seen() {
    let t0 = Instant::now();
    // Node 1 of 3 restarted with 7 stored: its next term is 10 (1 mod 3).
    let mut a = Authority::new(1, 3, config(), t0, Term(7));
    a.set_coordinator(t0, Some(1));
    assert_eq!(a.highest_term(), Term(10));
    let out = transmits(&mut a);
    assert_eq!(out, vec![(0, request(10, 0)), (2, request(10, 0))]);
    // Refused by someone who granted 14: after its retry it moves to 16.
    a.handle(
        t0 + ms(10),
        0,
        Message::LeaseRefused {
            term: Term(10),
            highest: Term(14),
        },
    );
    a.handle_timeout(t0 + config().retry);
    assert_eq!(a.highest_term(), Term(16));
}

/// Node 2 of 3, coordinator since `t`, which is past its quiet period; its
/// first round's requests are drained.
fn holder(t0: Instant) -> (Authority, Instant) {
    let t = t0 + config().lease;
    let mut h = Authority::new(2, 3, config(), t0, Term(0));
    h.set_coordinator(t, Some(2));
    transmits(&mut h);
    (h, t)
}

#[test]
fn authority_needs_a_majority_and_is_counted_from_the_request() {
    let t0 = Instant::now();
    let (mut h, t) = holder(t0);
    // Its own grant alone is not a majority of 3.
    assert_eq!(h.authority(t), None);
    assert_eq!(h.check(t), Err(NoAuthority::NoMajority));
    // A grant that took 300 ms to come back still counts from the request.
    let back = t + ms(300);
    h.handle(
        back,
        0,
        Message::LeaseGrant {
            term: Term(2),
            round: 0,
        },
    );
    assert_eq!(h.authority(back), Some(Term(2)));
    assert_eq!(h.check(back), Ok(Term(2)));
    let end = t + config().lease - config().drift_margin;
    assert_eq!(h.authority_until(back), Some((Term(2), end)));
    assert_eq!(h.authority(end - ms(1)), Some(Term(2)));
    assert_eq!(h.authority(end), None);
}

#[test]
fn grants_of_another_round_or_term_do_not_count() {
    let t0 = Instant::now();
    let (mut h, t) = holder(t0);
    h.handle(
        t,
        0,
        Message::LeaseGrant {
            term: Term(5),
            round: 0,
        },
    );
    h.handle(
        t,
        0,
        Message::LeaseGrant {
            term: Term(2),
            round: 9,
        },
    );
    assert_eq!(h.authority(t), None);
}

#[test]
fn renewals_extend_authority_and_losing_the_role_drops_it_at_once() {
    let t0 = Instant::now();
    let (mut h, t) = holder(t0);
    h.handle(
        t,
        0,
        Message::LeaseGrant {
            term: Term(2),
            round: 0,
        },
    );
    assert_eq!(h.poll_timeout(), Some(t + config().renew));
    let r = t + config().renew;
    h.handle_timeout(r);
    let out = transmits(&mut h);
    assert_eq!(out, vec![(0, request(2, 1)), (1, request(2, 1))]);
    h.handle(
        r,
        1,
        Message::LeaseGrant {
            term: Term(2),
            round: 1,
        },
    );
    let end = r + config().lease - config().drift_margin;
    assert_eq!(h.authority_until(r), Some((Term(2), end)));
    h.set_coordinator(r, Some(1));
    assert_eq!(h.authority(r), None);
    assert_eq!(h.check(r), Err(NoAuthority::NotCoordinator(Some(1))));
    assert_eq!(h.poll_timeout(), None);
}

#[test]
fn a_holder_refuses_others_while_its_own_promise_runs() {
    // The holder grants itself by the same rule: stepping down does not
    // free it to grant a new holder before its own lease has run out.
    let t0 = Instant::now();
    let (mut h, t) = holder(t0);
    h.set_coordinator(t + ms(100), Some(1));
    h.handle(t + ms(100), 1, request(4, 0));
    assert!(matches!(
        transmits(&mut h)[..],
        [(1, Message::LeaseRefused { .. })]
    ));
    h.handle(t + config().lease, 1, request(4, 1));
    assert!(matches!(
        transmits(&mut h)[..],
        [(1, Message::LeaseGrant { .. })]
    ));
}

#[test]
fn a_single_node_cluster_decides_alone_after_its_quiet_period() {
    let t0 = Instant::now();
    let mut a = Authority::new(0, 1, config(), t0, Term(0));
    a.set_coordinator(t0, Some(0));
    assert_eq!(a.authority(t0), None);
    let t = a.poll_timeout().unwrap();
    assert!(t < t0 + config().lease);
    let mut now = t;
    loop {
        a.handle_timeout(now);
        if a.authority(now).is_some() {
            break;
        }
        now = a.poll_timeout().unwrap();
    }
    assert!(now <= t0 + config().lease + config().retry);
}

// ----- the scenarios, on the simulator -----

fn sim3(seed: u64) -> Sim {
    // Clocks at the edges of the drift bound: the coordinator slow, the
    // others fast, the worst case for a cut-off holder.
    let mut sim = Sim::new(&[0.05, 0.05, -0.05], config(), NetConfig::reliable(), seed);
    sim.start_all();
    sim.believe_all(2);
    sim.run_for(2 * config().lease);
    assert!(sim.authority(2).is_some(), "{}", sim.log);
    sim
}

#[test]
fn a_coordinator_cut_off_from_the_other_two_stops_deciding_before_they_start() {
    let mut sim = sim3(1);
    let old = sim.authority(2).unwrap();
    sim.isolate(2);
    let cut = sim.now;
    // Fast Bully on the majority side elects node 1 after its t1 (1.6 s);
    // node 2 still believes it coordinates.
    sim.run_for(ms(1600));
    sim.believe(0, Some(1));
    sim.believe(1, Some(1));
    sim.run_for(3 * config().lease);
    let ended = sim.last_end(2).expect("node 2 lost authority");
    assert!(ended <= cut + config().lease, "{}", sim.log);
    assert_eq!(
        sim.nodes[2].as_ref().unwrap().check(sim.local(2, sim.now)),
        Err(NoAuthority::NoMajority)
    );
    let new = sim.authority(1).expect("the majority side decides");
    assert!(new > old);
    // Healed, Fast Bully gives node 2 the role back, under a newer term.
    sim.heal();
    sim.believe_all(2);
    sim.run_for(3 * config().lease);
    assert!(sim.authority(2).unwrap() > new);
    sim.check_safety().unwrap();
}

#[test]
fn a_non_transitive_triangle_never_has_two_deciders() {
    // 0 and 2 cannot hear each other; both hear 1. Fast Bully leaves node 0
    // believing it coordinates (it cannot hear 2), while 1 follows 2.
    let mut sim = sim3(2);
    sim.cut(0, 2);
    sim.cut(2, 0);
    sim.believe(0, Some(0));
    sim.run_for(ms(30_000));
    sim.check_safety().unwrap();
    // Node 1's promises go to whoever asked first and renews: node 2
    // keeps it, node 0 never gets a majority.
    assert!(sim.authority(2).is_some());
    assert!(
        sim.intervals.iter().all(|i| i.node == 2),
        "{:?}",
        sim.intervals
    );
}

#[test]
fn asymmetric_links_are_safe() {
    // Node 2 hears the others, they do not hear it: its requests are lost,
    // it never has authority again once its lease has run out. Node 1,
    // told it coordinates, takes over after node 2's promises end.
    let mut sim = sim3(3);
    sim.cut(2, 0);
    sim.cut(2, 1);
    let cut = sim.now;
    sim.believe(0, Some(1));
    sim.believe(1, Some(1));
    sim.run_for(3 * config().lease);
    assert!(sim.last_end(2).is_some_and(|e| e <= cut + config().lease));
    assert!(sim.authority(1).is_some());
    sim.check_safety().unwrap();
}

#[test]
fn a_holder_that_cannot_hear_its_grants_blocks_everyone_but_stays_safe() {
    // The other direction: node 2's requests arrive and are granted, but
    // the grants never come back. It has no authority; its renewed
    // requests keep the others' promises running, so node 1 cannot decide
    // either. Safe, not live, for `Authority` alone: the membership driver
    // stops granting a coordinator that does not hear the grantor (the
    // next test, with Fast Bully and the driver's rule).
    let mut sim = sim3(4);
    sim.cut(0, 2);
    sim.cut(1, 2);
    let cut = sim.now;
    sim.believe(0, Some(1));
    sim.believe(1, Some(1));
    sim.run_for(3 * config().lease);
    assert!(sim.last_end(2).is_some_and(|e| e <= cut + config().lease));
    assert_eq!(sim.authority(1), None);
    sim.check_safety().unwrap();
}

#[test]
fn with_the_drivers_two_way_rule_a_coordinator_heard_but_not_hearing_is_replaced() {
    // Real Fast Bully elections (node 2 the highest), claims that name the
    // nodes the claimant hears, and no grant to a claimant that does not
    // name the grantor: membership's driver, as the simulator plays it.
    let mut sim = Sim::with_fast_bully(
        &[0.05, 0.05, -0.05],
        vec![0, 1, 2],
        config(),
        NetConfig::reliable(),
        6,
    );
    sim.start_all();
    sim.run_for(Duration::from_secs(8));
    let first = sim.authority(2).expect(&sim.log);
    // Links into node 2 cut: it hears nobody; they hear it.
    sim.cut(0, 2);
    sim.cut(1, 2);
    sim.run_for(Duration::from_secs(8));
    let taken = sim.authority(1).expect(&sim.log);
    assert!(taken > first);
    assert_eq!(sim.authority(2), None);
    // It lasts, while node 2's requests keep arriving.
    sim.run_for(Duration::from_secs(8));
    assert_eq!(sim.authority(1), Some(taken), "{}", sim.log);
    // Mended: node 2 hears them, names them, and takes over again.
    sim.mend(0, 2);
    sim.mend(1, 2);
    sim.run_for(Duration::from_secs(10));
    assert!(sim.authority(2).expect(&sim.log) > taken);
    sim.check_safety().unwrap();
}

#[test]
fn a_grantor_restarting_at_once_cannot_grant_a_successor_early() {
    let mut sim = sim3(5);
    let old = sim.authority(2).unwrap();
    // Node 1 stops hearing node 2, so node 2's majority is itself and node
    // 0, and node 1's own promise to node 2 runs out.
    sim.cut(2, 1);
    sim.run_for(config().lease + ms(100));
    assert_eq!(sim.authority(2), Some(old));
    // Node 0 crashes and restarts at once, node 2 is cut off, and node 1 is
    // elected: node 0 has forgotten its promise to node 2, and only its
    // quiet period keeps it from giving node 1 a majority while node 2
    // still has authority.
    sim.crash(0);
    sim.start(0);
    sim.isolate(2);
    sim.believe(0, Some(1));
    sim.believe(1, Some(1));
    sim.run_for(3 * config().lease);
    assert!(sim.authority(1).unwrap() > old);
    sim.check_safety().unwrap();
}

// ----- leaving -----

#[test]
fn a_grantor_forgets_its_promise_to_a_holder_that_left() {
    let t0 = Instant::now();
    let (mut g, t) = grantor(0, t0);
    g.handle(t, 1, request(1, 0));
    transmits(&mut g);
    g.left(1, Term(1));
    // Node 2 is granted at once, not a lease later.
    g.handle(t + ms(10), 2, request(5, 0));
    assert_eq!(
        transmits(&mut g),
        vec![(
            2,
            Message::LeaseGrant {
                term: Term(5),
                round: 0
            }
        )]
    );
    // A request of the leaver's, overtaken by its leave, binds nothing.
    let (mut g, t) = grantor(0, t0);
    g.left(1, Term(1));
    g.handle(t, 1, request(1, 3));
    assert!(matches!(
        transmits(&mut g)[..],
        [(1, Message::LeaseRefused { .. })]
    ));
    // Its next run asks under a higher term, and is granted.
    g.handle(t, 1, request(4, 0));
    assert!(matches!(
        transmits(&mut g)[..],
        [(1, Message::LeaseGrant { .. })]
    ));
}

#[test]
fn an_earlier_runs_leave_releases_nothing_of_a_later_run() {
    let t0 = Instant::now();
    let (mut g, t) = grantor(0, t0);
    // Node 1's later run holds term 4; its earlier run left having used 1.
    g.handle(t, 1, request(4, 0));
    transmits(&mut g);
    g.left(1, Term(1));
    g.handle(t + ms(10), 2, request(5, 0));
    assert!(matches!(
        transmits(&mut g)[..],
        [(2, Message::LeaseRefused { .. })]
    ));
    // A leave from another node, or one naming itself, changes nothing.
    g.left(2, Term(100));
    g.left(0, Term(100));
    g.left(7, Term(100));
    g.handle(t + ms(20), 2, request(5, 1));
    assert!(matches!(
        transmits(&mut g)[..],
        [(2, Message::LeaseRefused { .. })]
    ));
}

#[test]
fn a_leaving_holder_decides_nothing_more_and_its_successor_at_once() {
    let t0 = Instant::now();
    let t = t0 + config().lease;
    let mut nodes: Vec<Authority> = (0..3)
        .map(|me| Authority::new(me, 3, config(), t0, Term(0)))
        .collect();
    for node in &mut nodes {
        node.set_coordinator(t, Some(2));
    }
    // Node 2 gets everyone's lease.
    let requests = transmits(&mut nodes[2]);
    for (to, request) in requests {
        nodes[to].handle(t, 2, request);
        for (_, grant) in transmits(&mut nodes[to]) {
            nodes[2].handle(t, to, grant);
        }
    }
    assert!(nodes[2].authority(t).is_some());
    // It leaves: no authority, and none again, whatever it is told.
    nodes[2].leave();
    assert_eq!(nodes[2].authority(t), None);
    nodes[2].set_coordinator(t, Some(2));
    assert_eq!(nodes[2].authority(t), None);
    assert_eq!(nodes[2].poll_timeout(), None);
    assert_eq!(transmits(&mut nodes[2]), vec![]);
    let highest = nodes[2].highest_term();
    // The others are told, and node 1 takes over: one round, not a lease.
    let later = t + ms(50);
    for node in nodes.iter_mut().take(2) {
        node.left(2, highest);
        node.set_coordinator(later, Some(1));
    }
    let requests = transmits(&mut nodes[1]);
    for (to, request) in requests {
        nodes[to].handle(later, 1, request);
        for (back, answer) in transmits(&mut nodes[to]) {
            if back == 1 {
                nodes[1].handle(later, to, answer);
            }
        }
    }
    assert!(nodes[1].authority(later).is_some());
    assert!(nodes[1].authority(later).unwrap() > highest);
}
