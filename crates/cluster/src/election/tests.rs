//! One test per rule of the algorithm, driving single state machines by hand
//! with a fake clock, plus a few short runs on the simulator (see
//! [`super::sim`]) where a rule is about several nodes at once.

use std::time::{Duration, Instant};

use super::sim::{NetConfig, Sim, is_election_traffic};
use super::*;

/// The default timers, but heartbeats a minute apart: the rule tests feed
/// every message by hand, and periodic heartbeats would only interleave with
/// the messages under test. The membership tests use the real defaults.
fn config() -> ElectionConfig {
    ElectionConfig {
        heartbeat: Duration::from_secs(60),
        ..ElectionConfig::default()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn transmits(e: &mut Election) -> Vec<(NodeId, Message)> {
    std::iter::from_fn(|| e.poll_transmit()).collect()
}

fn events(e: &mut Election) -> Vec<Event> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

/// The messages of one kind, by recipient.
fn sent(out: &[(NodeId, Message)], kind: &Message) -> Vec<NodeId> {
    out.iter()
        .filter(|(_, m)| m == kind)
        .map(|&(to, _)| to)
        .collect()
}

fn view(coordinator: Option<NodeId>, live: &[NodeId]) -> Message {
    Message::View {
        coordinator,
        live: live.to_vec(),
    }
}

/// Node `me` of a cluster with these priorities, started at `t0` and told by
/// every other node's view that all are live and `coordinator` leads. It
/// ends Idle, following the highest node; its start-up output is drained.
fn running(me: NodeId, priorities: &[i64], coordinator: NodeId, t0: Instant) -> Election {
    running_with(config(), me, priorities, coordinator, t0)
}

fn running_with(
    config: ElectionConfig,
    me: NodeId,
    priorities: &[i64],
    coordinator: NodeId,
    t0: Instant,
) -> Election {
    let mut e = Election::new(me, priorities.to_vec(), config, t0);
    let all: Vec<NodeId> = (0..priorities.len()).collect();
    for node in 0..priorities.len() {
        if node != me {
            e.handle(t0, node, view(Some(coordinator), &all));
        }
    }
    transmits(&mut e);
    events(&mut e);
    e
}

// ----- start-up -----

#[test]
fn a_node_alone_becomes_coordinator_after_t2() {
    let t0 = Instant::now();
    let mut e = Election::new(1, vec![10, 20, 30], config(), t0);
    assert_eq!(
        transmits(&mut e),
        vec![(0, Message::IAmUp), (2, Message::IAmUp)]
    );
    assert_eq!(e.coordinator(), None);
    assert_eq!(e.poll_timeout(), Some(t0 + config().t2));

    e.handle_timeout(t0 + ms(499));
    assert_eq!(e.coordinator(), None);
    e.handle_timeout(t0 + config().t2);
    assert_eq!(e.coordinator(), Some(1));
    assert_eq!(events(&mut e), vec![Event::CoordinatorChanged(Some(1))]);
    assert_eq!(e.live(), vec![1]);
    // Nobody lower is live to tell; the next heartbeat renews the claim to
    // everyone.
    assert_eq!(transmits(&mut e), vec![]);
    e.handle_timeout(t0 + config().heartbeat);
    assert_eq!(
        transmits(&mut e),
        vec![(0, Message::Coordinator), (2, Message::Coordinator)]
    );
}

#[test]
fn a_one_node_cluster_coordinates_at_once() {
    let t0 = Instant::now();
    let mut e = Election::new(0, vec![7], config(), t0);
    assert_eq!(e.coordinator(), Some(0));
    assert_eq!(transmits(&mut e), vec![]);
    assert_eq!(e.poll_timeout(), Some(t0 + config().heartbeat));
}

#[test]
fn a_lower_node_starting_after_a_higher_one_accepts_it_without_an_election() {
    let t0 = Instant::now();
    // Node 0 (priority 30) coordinates; node 1 (10) starts.
    let mut low = Election::new(1, vec![30, 10], config(), t0);
    assert_eq!(transmits(&mut low), vec![(0, Message::IAmUp)]);
    low.handle(t0 + ms(5), 0, view(Some(0), &[0]));
    // Every other node has answered: decided at once, no wait for T2.
    assert_eq!(low.coordinator(), Some(0));
    assert_eq!(
        events(&mut low),
        vec![Event::NodeUp(0), Event::CoordinatorChanged(Some(0))]
    );
    assert_eq!(transmits(&mut low), vec![], "no Election, no claim");
    // It then waits for the coordinator's renewals, nothing else.
    assert_eq!(low.poll_timeout(), Some(t0 + ms(5) + config().t1));
}

#[test]
fn a_starting_node_trusts_the_live_sets_it_is_told() {
    let t0 = Instant::now();
    // Node 0 (10) starts; only node 1 (20) answers, but says node 2 (30)
    // is live. Node 2 is accepted without hearing from it directly.
    let mut e = Election::new(0, vec![10, 20, 30], config(), t0);
    transmits(&mut e);
    e.handle(t0, 1, view(Some(2), &[1, 2]));
    assert_eq!(e.coordinator(), None, "node 2 may still answer");
    e.handle_timeout(t0 + config().t2);
    assert_eq!(e.coordinator(), Some(2));
    assert_eq!(e.live(), vec![0, 1, 2]);
    // If node 2 never renews its claim, that is a failure like any other:
    // T1 later, an election.
    let t1 = t0 + config().t2 + config().t1;
    e.handle(t1 - ms(1), 1, Message::Heartbeat);
    e.handle_timeout(t1);
    assert_eq!(e.coordinator(), None);
    assert!(sent(&transmits(&mut e), &Message::Election).contains(&1));
}

#[test]
fn a_higher_node_starting_later_takes_over() {
    let t0 = Instant::now();
    let priorities = vec![10, 20, 30];
    // Node 2 is down; 0 and 1 start together and settle on 1.
    let mut n0 = Election::new(0, priorities.clone(), config(), t0);
    let mut n1 = Election::new(1, priorities.clone(), config(), t0);
    n0.handle(t0, 1, Message::IAmUp);
    n1.handle(t0, 0, Message::IAmUp);
    transmits(&mut n0);
    transmits(&mut n1);
    n0.handle_timeout(t0 + config().t2);
    n1.handle_timeout(t0 + config().t2);
    assert_eq!((n0.coordinator(), n1.coordinator()), (Some(1), Some(1)));
    transmits(&mut n0);
    transmits(&mut n1);

    let t = t0 + ms(700);
    let mut n2 = Election::new(2, priorities.clone(), config(), t);
    assert_eq!(sent(&transmits(&mut n2), &Message::IAmUp), vec![0, 1]);
    n0.handle(t, 2, Message::IAmUp);
    n1.handle(t, 2, Message::IAmUp);
    let v0 = transmits(&mut n0);
    let v1 = transmits(&mut n1);
    assert_eq!(v0, vec![(2, view(Some(1), &[0, 1, 2]))]);
    // The coordinator also greets the newcomer with its claim.
    assert_eq!(
        v1,
        vec![(2, Message::Coordinator), (2, view(Some(1), &[0, 1, 2]))]
    );
    for (from, out) in [(0, v0), (1, v1)] {
        for (_, m) in out {
            n2.handle(t, from, m);
        }
    }
    // A lower claim does not sway a starting node; the views decide.
    assert_eq!(n2.coordinator(), Some(2));
    let out = transmits(&mut n2);
    assert_eq!(sent(&out, &Message::Coordinator), vec![0, 1]);
    assert!(out.iter().all(|(_, m)| !is_election_traffic(m)));
    for (to, m) in out {
        match to {
            0 => n0.handle(t, 2, m),
            _ => n1.handle(t, 2, m),
        }
    }
    assert_eq!((n0.coordinator(), n1.coordinator()), (Some(2), Some(2)));
    assert_eq!(
        events(&mut n1).last(),
        Some(&Event::CoordinatorChanged(Some(2)))
    );
}

#[test]
fn a_starting_node_accepts_a_higher_claim_at_once() {
    let t0 = Instant::now();
    let mut e = Election::new(0, vec![10, 20, 30], config(), t0);
    transmits(&mut e);
    e.handle(t0 + ms(3), 2, Message::Coordinator);
    assert_eq!(e.coordinator(), Some(2));
    // Late views change nothing.
    e.handle(t0 + ms(4), 1, view(Some(1), &[1]));
    assert_eq!(e.coordinator(), Some(2));
}

// ----- membership -----

#[test]
fn heartbeats_go_to_every_other_node_every_period() {
    let t0 = Instant::now();
    let mut e = running_with(ElectionConfig::default(), 1, &[10, 20, 30], 2, t0);
    let hb = ElectionConfig::default().heartbeat;
    for k in 1..=3u32 {
        let t = t0 + hb * k;
        // Node 2 renews its claim just in time, so nothing else happens.
        e.handle(t, 2, Message::Coordinator);
        e.handle(t, 0, Message::Heartbeat);
        assert_eq!(e.poll_timeout(), Some(t));
        e.handle_timeout(t);
        assert_eq!(
            transmits(&mut e),
            vec![(0, Message::Heartbeat), (2, Message::Heartbeat)]
        );
    }
    assert_eq!(e.coordinator(), Some(2));
    assert_eq!(events(&mut e), vec![]);
}

#[test]
fn the_coordinator_heartbeats_by_renewing_its_claim() {
    let t0 = Instant::now();
    let mut e = running_with(ElectionConfig::default(), 2, &[10, 20, 30], 2, t0);
    assert_eq!(e.coordinator(), Some(2));
    e.handle_timeout(t0 + ElectionConfig::default().heartbeat);
    assert_eq!(
        transmits(&mut e),
        vec![(0, Message::Coordinator), (1, Message::Coordinator)]
    );
}

#[test]
fn a_silent_node_goes_down_and_comes_back_up() {
    let t0 = Instant::now();
    let mut e = running_with(ElectionConfig::default(), 2, &[10, 20, 30], 2, t0);
    let down_at = t0 + ElectionConfig::default().suspect_after;
    e.handle(t0 + ms(100), 1, Message::Heartbeat);
    assert!(e.poll_timeout().unwrap() <= down_at);
    e.handle_timeout(down_at);
    assert_eq!(events(&mut e), vec![Event::NodeDown(0)]);
    assert!(!e.is_live(0) && e.is_live(1) && e.is_live(2));
    assert_eq!(e.live(), vec![1, 2]);
    transmits(&mut e);

    let back = down_at + ms(50);
    e.handle(back, 0, Message::Heartbeat);
    assert_eq!(events(&mut e), vec![Event::NodeUp(0)]);
    assert!(e.is_live(0));
    // A coordinator tells a node that comes back who coordinates.
    assert_eq!(transmits(&mut e), vec![(0, Message::Coordinator)]);
}

#[test]
fn unknown_senders_and_self_are_ignored() {
    let t0 = Instant::now();
    let mut e = Election::new(0, vec![10, 20], config(), t0);
    transmits(&mut e);
    e.handle(t0, 0, Message::Coordinator);
    e.handle(t0, 2, Message::Coordinator);
    e.handle(t0, usize::MAX, Message::IAmUp);
    e.handle(t0, 1, view(None, &[1, 99]));
    assert_eq!(e.live(), vec![0, 1]);
    assert!(!e.is_live(99));
    e.handle_timeout(t0 + config().t2);
    assert_eq!(e.coordinator(), Some(1));
}

#[test]
fn an_i_am_up_is_answered_with_a_view() {
    let t0 = Instant::now();
    let mut e = running(1, &[10, 20, 30], 2, t0);
    e.handle(t0 + ms(10), 0, Message::IAmUp);
    assert_eq!(transmits(&mut e), vec![(0, view(Some(2), &[0, 1, 2]))]);
    assert_eq!(e.coordinator(), Some(2));
}

// ----- detection and election -----

#[test]
fn a_coordinator_silent_for_t1_triggers_an_election() {
    let t0 = Instant::now();
    let mut e = running(1, &[10, 20, 30, 40], 3, t0);
    let t1 = t0 + config().t1;
    assert!(e.poll_timeout().unwrap() <= t1);
    // The others keep heartbeating; node 3 says nothing.
    for k in 1..=3u32 {
        let t = t0 + ms(500) * k;
        e.handle(t, 0, Message::Heartbeat);
        e.handle(t, 2, Message::Heartbeat);
        e.handle_timeout(t);
    }
    transmits(&mut e);
    events(&mut e);
    e.handle_timeout(t1);
    assert_eq!(e.coordinator(), None);
    assert_eq!(
        events(&mut e),
        vec![Event::NodeDown(3), Event::CoordinatorChanged(None)]
    );
    // Election goes to the higher nodes believed live: 2, not the silent 3.
    assert_eq!(transmits(&mut e), vec![(2, Message::Election)]);
    assert_eq!(e.poll_timeout(), Some(t1 + config().t2));
}

#[test]
fn an_election_without_answers_makes_the_elector_coordinator() {
    let t0 = Instant::now();
    let mut e = running(1, &[10, 20, 30], 2, t0);
    let t1 = t0 + config().t1;
    e.handle(t1 - ms(1), 0, Message::Heartbeat);
    // Node 2 heartbeats (so it stays live) but has stopped claiming.
    e.handle(t1 - ms(1), 2, Message::Heartbeat);
    e.handle_timeout(t1);
    assert_eq!(sent(&transmits(&mut e), &Message::Election), vec![2]);
    e.handle_timeout(t1 + config().t2 - ms(1));
    assert_eq!(e.coordinator(), None);
    e.handle_timeout(t1 + config().t2);
    assert_eq!(e.coordinator(), Some(1));
    assert_eq!(sent(&transmits(&mut e), &Message::Coordinator), vec![0]);
}

#[test]
fn the_highest_live_node_elects_itself_without_asking() {
    let t0 = Instant::now();
    let mut e = running(2, &[10, 20, 30, 40], 3, t0);
    e.handle(t0 + ms(500), 0, Message::Heartbeat);
    e.handle(t0 + ms(500), 1, Message::Heartbeat);
    transmits(&mut e);
    e.handle_timeout(t0 + config().t1);
    assert_eq!(e.coordinator(), Some(2));
    let out = transmits(&mut e);
    assert!(out.iter().all(|(_, m)| !is_election_traffic(m)), "{out:?}");
    assert_eq!(sent(&out, &Message::Coordinator), vec![0, 1]);
}

/// Node 0 of `[10, 20, 30, 40]`, following node 3, which has just stopped
/// renewing its claim (but still heartbeats, so it is still live): it has
/// sent `Election` to 1, 2 and 3. Returns it and the time.
fn electing_node_0(t0: Instant) -> (Election, Instant) {
    let mut e = running(0, &[10, 20, 30, 40], 3, t0);
    let t1 = t0 + config().t1;
    for node in 1..4 {
        e.handle(t1 - ms(1), node, Message::Heartbeat);
    }
    transmits(&mut e);
    e.handle_timeout(t1);
    assert_eq!(sent(&transmits(&mut e), &Message::Election), vec![1, 2, 3]);
    (e, t1)
}

#[test]
fn the_highest_answer_is_nominated_at_once() {
    let t0 = Instant::now();
    let (mut e, t) = electing_node_0(t0);
    e.handle(t + ms(5), 2, Message::Answer);
    assert_eq!(transmits(&mut e), vec![], "node 3 may still answer");
    e.handle(t + ms(6), 3, Message::Answer);
    // No later answer can outrank node 3: nominate now, not after T2.
    assert_eq!(transmits(&mut e), vec![(3, Message::Nomination)]);
    e.handle(t + ms(20), 3, Message::Coordinator);
    assert_eq!(e.coordinator(), Some(3));
    assert_eq!(
        events(&mut e).last(),
        Some(&Event::CoordinatorChanged(Some(3)))
    );
}

#[test]
fn a_nominee_that_crashed_is_skipped_after_t3() {
    let t0 = Instant::now();
    let (mut e, t) = electing_node_0(t0);
    // Node 3 answers and crashes; 2 and 1 answer later.
    e.handle(t + ms(5), 3, Message::Answer);
    assert_eq!(transmits(&mut e), vec![(3, Message::Nomination)]);
    e.handle(t + ms(7), 1, Message::Answer);
    e.handle(t + ms(8), 2, Message::Answer);
    let t3 = t + ms(5) + config().t3;
    assert_eq!(e.poll_timeout(), Some(t3));
    e.handle_timeout(t3 - ms(1));
    assert_eq!(transmits(&mut e), vec![]);
    e.handle_timeout(t3);
    assert_eq!(transmits(&mut e), vec![(2, Message::Nomination)]);
    assert_eq!(e.coordinator(), None);
    e.handle(t3 + ms(10), 2, Message::Coordinator);
    assert_eq!(e.coordinator(), Some(2));
}

#[test]
fn with_every_nominee_silent_the_election_starts_again() {
    let t0 = Instant::now();
    let (mut e, t) = electing_node_0(t0);
    e.handle(t + ms(5), 1, Message::Answer);
    e.handle(t + ms(6), 2, Message::Answer);
    // T2 passes (node 3 never answers): nominate 2, then 1, then restart.
    let t2 = t + config().t2;
    e.handle_timeout(t2);
    assert_eq!(transmits(&mut e), vec![(2, Message::Nomination)]);
    let t3 = t2 + config().t3;
    e.handle_timeout(t3);
    assert_eq!(transmits(&mut e), vec![(1, Message::Nomination)]);
    // Node 3, heard 1.5 s ago, is still believed live: it is asked again.
    let again = t3 + config().t3;
    e.handle_timeout(again);
    let out = transmits(&mut e);
    assert_eq!(sent(&out, &Message::Election), vec![1, 2, 3]);
    assert_eq!(e.coordinator(), None);
}

#[test]
fn a_node_that_answers_waits_t4_then_elects_itself() {
    let t0 = Instant::now();
    let mut e = running(2, &[10, 20, 30, 40], 3, t0);
    let t = t0 + ms(200);
    e.handle(t, 0, Message::Election);
    assert_eq!(transmits(&mut e), vec![(0, Message::Answer)]);
    // Node 0 never nominates anyone, and node 3 stays silent.
    let t4 = t + config().t4;
    assert_eq!(e.poll_timeout(), Some(t4));
    e.handle_timeout(t4 - ms(1));
    assert_eq!(e.coordinator(), Some(3));
    e.handle_timeout(t4);
    assert_eq!(e.coordinator(), None);
    assert_eq!(transmits(&mut e), vec![(3, Message::Election)]);
}

#[test]
fn a_coordinator_renewal_ends_the_t4_wait() {
    let t0 = Instant::now();
    let mut e = running(2, &[10, 20, 30, 40], 3, t0);
    e.handle(t0 + ms(200), 0, Message::Election);
    e.handle(t0 + ms(400), 3, Message::Coordinator);
    transmits(&mut e);
    e.handle_timeout(t0 + ms(200) + config().t4);
    assert_eq!(e.coordinator(), Some(3));
    assert!(
        transmits(&mut e)
            .iter()
            .all(|(_, m)| !is_election_traffic(m))
    );
}

#[test]
fn a_nominated_node_becomes_coordinator() {
    let t0 = Instant::now();
    let mut e = running(2, &[10, 20, 30, 40], 3, t0);
    e.handle(t0 + ms(100), 0, Message::Election);
    e.handle(t0 + ms(150), 0, Message::Nomination);
    assert_eq!(e.coordinator(), Some(2));
    let out = transmits(&mut e);
    assert_eq!(sent(&out, &Message::Coordinator), vec![0, 1]);
}

#[test]
fn a_coordinator_answers_an_election_and_reasserts_itself() {
    let t0 = Instant::now();
    let mut e = running(2, &[10, 20, 30], 2, t0);
    e.handle(t0 + ms(100), 0, Message::Election);
    assert_eq!(
        transmits(&mut e),
        vec![(0, Message::Answer), (0, Message::Coordinator)]
    );
    assert_eq!(e.coordinator(), Some(2));
}

#[test]
fn messages_against_the_priority_order_are_ignored() {
    let t0 = Instant::now();
    let mut e = running(1, &[10, 20, 30], 2, t0);
    e.handle(t0, 2, Message::Election); // a higher node cannot elect via us
    e.handle(t0, 0, Message::Answer); // a lower node cannot answer us
    e.handle(t0, 2, Message::Nomination); // nominations come from below
    assert_eq!(transmits(&mut e), vec![]);
    assert_eq!(e.coordinator(), Some(2));
}

// ----- competing claims -----

#[test]
fn a_claim_from_a_lower_node_is_overridden() {
    let t0 = Instant::now();
    let mut e = running(2, &[10, 20, 30], 2, t0);
    e.handle(t0 + ms(10), 0, Message::Coordinator);
    assert_eq!(e.coordinator(), Some(2));
    assert_eq!(transmits(&mut e), vec![(0, Message::Coordinator)]);

    // A node whose coordinator's claim has lapsed asserts itself too.
    let mut e = running(1, &[10, 20, 30], 2, t0);
    let late = t0 + config().t1 + ms(1);
    e.handle(late, 0, Message::Coordinator);
    assert_eq!(e.coordinator(), Some(1));
    assert_eq!(sent(&transmits(&mut e), &Message::Coordinator), vec![0]);
}

#[test]
fn a_lower_claim_is_left_to_a_current_higher_coordinator() {
    let t0 = Instant::now();
    let mut e = running(1, &[10, 20, 30], 2, t0);
    e.handle(t0 + ms(10), 0, Message::Coordinator);
    // Node 2 outranks both and renews its claim: it will correct node 0.
    assert_eq!(e.coordinator(), Some(2));
    assert_eq!(transmits(&mut e), vec![]);
}

#[test]
fn a_stale_claim_below_the_current_coordinator_is_ignored() {
    let t0 = Instant::now();
    let mut e = running(0, &[10, 20, 30], 2, t0);
    e.handle(t0 + ms(10), 1, Message::Coordinator);
    assert_eq!(e.coordinator(), Some(2));
    // But a higher claim than the current one is accepted at once.
    let mut e = running(0, &[10, 30, 20], 2, t0);
    assert_eq!(e.coordinator(), Some(1));
    e.handle(t0 + ms(10), 2, Message::Coordinator);
    assert_eq!(e.coordinator(), Some(1));
    e.handle(t0 + config().t1 + ms(1), 2, Message::Coordinator);
    assert_eq!(e.coordinator(), Some(2), "node 1's claim has lapsed");
}

#[test]
fn a_coordinator_yields_to_a_higher_claim() {
    let t0 = Instant::now();
    let mut e = running(1, &[10, 20, 30], 1, t0);
    // Built with node 2 live, so it follows 2; let 2's claim lapse.
    let t1 = t0 + config().t1;
    e.handle(t1 - ms(1), 0, Message::Heartbeat);
    e.handle_timeout(t1);
    assert_eq!(e.coordinator(), Some(1));
    e.handle(t1 + ms(5), 2, Message::Coordinator);
    assert_eq!(e.coordinator(), Some(2));
}

#[test]
fn the_coordinator_restarting_triggers_an_election() {
    let t0 = Instant::now();
    let mut e = running(0, &[10, 20, 30], 2, t0);
    e.handle(t0 + ms(300), 2, Message::IAmUp);
    let out = transmits(&mut e);
    // It reports no coordinator (node 2 lost the role with its memory) and
    // asks the higher nodes, node 2 included.
    assert_eq!(out[0], (2, view(None, &[0, 1, 2])));
    assert_eq!(sent(&out, &Message::Election), vec![1, 2]);
    assert_eq!(e.coordinator(), None);
}

// ----- leaving -----

fn leaving(incarnation: u64) -> Message {
    Message::Leaving { incarnation }
}

#[test]
fn a_leaving_node_tells_everyone_and_then_takes_part_in_nothing() {
    let t0 = Instant::now();
    let mut e = running(3, &[10, 20, 30, 40], 3, t0);
    e.become_coordinator();
    transmits(&mut e);
    events(&mut e);
    e.leave(7);
    assert_eq!(
        transmits(&mut e),
        vec![(0, leaving(7)), (1, leaving(7)), (2, leaving(7))]
    );
    assert_eq!(e.coordinator(), None, "it gives up the role");
    assert_eq!(events(&mut e), vec![Event::CoordinatorChanged(None)]);
    assert_eq!(e.poll_timeout(), None, "no heartbeat, no deadline");
    // It answers no election (no candidate), and says nothing on its own.
    e.handle(t0 + ms(1), 0, Message::Election);
    e.handle(t0 + ms(1), 1, Message::Nomination);
    e.handle_timeout(t0 + Duration::from_secs(120));
    assert_eq!(transmits(&mut e), vec![]);
    assert_eq!(e.coordinator(), None);
    // Each call sends it once more: a driver's copies.
    e.leave(7);
    assert_eq!(sent(&transmits(&mut e), &leaving(7)), vec![0, 1, 2]);
}

#[test]
fn the_coordinator_leaving_starts_an_election_at_once() {
    let t0 = Instant::now();
    let mut e = running(1, &[10, 20, 30, 40], 3, t0);
    let t = t0 + ms(100);
    e.handle(t, 2, Message::Heartbeat);
    transmits(&mut e);
    e.handle(t, 3, leaving(5));
    assert!(!e.is_live(3));
    assert_eq!(
        events(&mut e),
        vec![Event::NodeDown(3), Event::CoordinatorChanged(None)]
    );
    // Not after t1: now, asking only the higher node still live.
    assert_eq!(transmits(&mut e), vec![(2, Message::Election)]);
    // The next highest, told the same, takes the role without asking.
    let mut next = running(2, &[10, 20, 30, 40], 3, t0);
    next.handle(t, 3, leaving(5));
    assert_eq!(next.coordinator(), Some(2));
    assert_eq!(
        sent(&transmits(&mut next), &Message::Coordinator),
        vec![0, 1]
    );
}

#[test]
fn a_node_that_is_not_coordinator_leaving_only_goes_down() {
    let t0 = Instant::now();
    let mut e = running(0, &[10, 20, 30, 40], 3, t0);
    e.handle(t0 + ms(5), 1, leaving(5));
    assert_eq!(events(&mut e), vec![Event::NodeDown(1)]);
    assert_eq!(e.live(), vec![0, 2, 3]);
    assert_eq!(e.coordinator(), Some(3));
    assert_eq!(transmits(&mut e), vec![]);
}

#[test]
fn an_elector_stops_waiting_for_a_node_that_leaves() {
    let t0 = Instant::now();
    // Asked 1, 2 and 3; 2 answers; 3 (who could outrank it) leaves: 2 is
    // nominated now rather than after t2.
    let (mut e, t) = electing_node_0(t0);
    e.handle(t + ms(5), 2, Message::Answer);
    assert_eq!(transmits(&mut e), vec![]);
    e.handle(t + ms(6), 3, leaving(1));
    assert_eq!(transmits(&mut e), vec![(2, Message::Nomination)]);
    // The nominee leaving: the next answerer at once, not after t3.
    e.handle(t + ms(7), 1, Message::Answer);
    e.handle(t + ms(8), 2, leaving(1));
    assert_eq!(transmits(&mut e), vec![(1, Message::Nomination)]);
    // With nobody left to ask or nominate, it takes the role.
    let (mut alone, t) = electing_node_0(t0);
    for node in 1..4 {
        alone.handle(t + ms(1), node, leaving(1));
    }
    assert_eq!(alone.coordinator(), Some(0));
}

#[test]
fn a_late_copy_of_a_leave_does_not_take_down_the_nodes_next_run() {
    let t0 = Instant::now();
    let mut e = running(0, &[10, 20, 30], 2, t0);
    e.handle(t0 + ms(10), 1, leaving(100));
    assert!(!e.is_live(1));
    // Its next run starts, and is taken at once, quiet spell or not.
    e.handle(t0 + ms(300), 1, Message::IAmUp);
    assert!(e.is_live(1));
    // A copy of the first leave, held back by the network: ignored.
    e.handle(t0 + ms(310), 1, leaving(100));
    assert!(e.is_live(1), "a copy of an acted-on leave");
    e.handle(t0 + ms(320), 1, leaving(99));
    assert!(e.is_live(1), "an older run's leave");
    assert_eq!(
        events(&mut e),
        vec![Event::NodeDown(1), Event::NodeUp(1)],
        "down once, up once"
    );
    // The new run's own leave counts.
    e.handle(t0 + ms(400), 1, leaving(101));
    assert!(!e.is_live(1));
}

#[test]
fn what_a_leaver_sent_before_leaving_does_not_bring_it_back() {
    let t0 = Instant::now();
    let mut e = running(0, &[10, 20, 30], 2, t0);
    e.handle(t0 + ms(10), 2, leaving(100));
    events(&mut e);
    transmits(&mut e);
    // Its last claim, overtaken by the leave, arrives: not followed, and
    // it stays down.
    e.handle(t0 + ms(20), 2, Message::Coordinator);
    e.handle(t0 + ms(30), 2, Message::Heartbeat);
    assert!(!e.is_live(2));
    assert_ne!(e.coordinator(), Some(2));
    assert!(!events(&mut e).contains(&Event::NodeUp(2)));
    // After the quiet spell a sign of life counts again (a restart whose
    // IAmUp was lost is not shut out for good).
    e.handle(t0 + ms(10) + config().suspect_after, 2, Message::Heartbeat);
    assert!(e.is_live(2));
}

// ----- short simulated runs -----

#[test]
fn after_the_coordinator_crashes_the_highest_live_node_wins() {
    let mut sim = Sim::new(
        vec![10, 40, 20, 30],
        ElectionConfig::default(),
        NetConfig::reliable(),
        11,
    );
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.node(0).coordinator(), Some(1));
    let before = sim.now;
    sim.crash(1);
    sim.run_for(Duration::from_secs(4));
    sim.check_agreement().unwrap();
    assert_eq!(sim.node(0).coordinator(), Some(3));
    assert!(sim.count_sent(before, |m| *m == Message::Election) > 0);
}
