//! The decisions, checked directly: examples, then properties over any
//! cluster, any live set, any open events and any order of answers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::db::{EventState, OpenEvent};
use crate::interval::{Availability, Interval, Partial};

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn open(id: &str, leader: &str, deadline: i64) -> OpenEvent {
    OpenEvent {
        id: id.into(),
        leader: leader.into(),
        deadline,
    }
}

fn partial(start: i64, end: i64) -> Partial {
    Partial::from_current(Some(Availability::from_iter([
        Interval::new(start, end).unwrap()
    ])))
}

// ---- hand-over ----

#[test]
fn a_dead_servers_backups_and_events_go_to_live_servers_in_turn() {
    let steps = plan_hand_over(
        &ids(&["A", "C"]),
        &ids(&["A", "B", "C"]),
        &[
            open("e1", "B", 10),
            open("e2", "A", 11),
            open("e3", "B", 12),
        ],
    );
    assert_eq!(
        steps,
        [
            HandOverStep::Backups {
                dead: "B".into(),
                heir: "A".into()
            },
            HandOverStep::Lead {
                event: "e1".into(),
                dead: "B".into(),
                heir: "C".into()
            },
            HandOverStep::Lead {
                event: "e3".into(),
                dead: "B".into(),
                heir: "A".into()
            },
        ]
    );
}

#[test]
fn nothing_is_handed_over_when_nobody_is_dead_or_nobody_is_live() {
    let servers = ids(&["A", "B"]);
    let events = [open("e1", "A", 10), open("e2", "B", 10)];
    assert!(plan_hand_over(&servers, &servers, &events).is_empty());
    assert!(plan_hand_over(&[], &servers, &events).is_empty());
}

#[test]
fn an_event_led_by_a_server_no_longer_in_the_file_gets_a_live_leader() {
    let steps = plan_hand_over(&ids(&["A"]), &ids(&["A"]), &[open("e1", "old", 10)]);
    assert_eq!(
        steps,
        [HandOverStep::Lead {
            event: "e1".into(),
            dead: "old".into(),
            heir: "A".into()
        }]
    );
}

// ---- sweep ----

#[test]
fn the_sweep_arms_its_own_events_and_takes_over_only_after_the_grace_period() {
    let live = ids(&["A", "C"]);
    let events = [
        open("mine", "A", 100),
        open("dead-early", "B", 99),
        open("dead-late", "B", 98),
        open("alive", "C", 50),
    ];
    // At 100 the event due at 98 is 2 s past its deadline, the one due at
    // 99 only 1 s.
    let steps = plan_sweep(100, "A", &live, &events, &[]);
    assert_eq!(
        steps,
        [
            SweepStep::Arm {
                event: "mine".into(),
                deadline: 100
            },
            SweepStep::TakeOver {
                event: "dead-late".into(),
                dead: "B".into(),
                deadline: 98
            },
        ]
    );
}

#[test]
fn the_sweep_clears_what_is_no_longer_open_once_its_deadline_has_passed() {
    let held = [
        Held {
            event: "final".into(),
            deadline: Some(90),
        },
        Held {
            event: "unknown-deadline".into(),
            deadline: None,
        },
        Held {
            event: "still-open".into(),
            deadline: Some(90),
        },
        Held {
            event: "not-yet-due".into(),
            deadline: Some(200),
        },
    ];
    let steps = plan_sweep(
        100,
        "A",
        &ids(&["A"]),
        &[open("still-open", "A", 90)],
        &held,
    );
    assert_eq!(
        steps,
        [
            SweepStep::Arm {
                event: "still-open".into(),
                deadline: 90
            },
            SweepStep::Clear {
                event: "final".into()
            },
            SweepStep::Clear {
                event: "unknown-deadline".into()
            },
        ]
    );
}

// ---- the leader's finish ----

#[test]
fn only_the_leader_of_an_open_event_finishes_it() {
    let live = ids(&["A", "B"]);
    let now = Instant::now();
    let open = Stored {
        state: EventState::Open,
        leader: "A",
    };
    assert!(Finish::start("A", Some(open), &live, now).is_some());
    assert!(Finish::start("B", Some(open), &live, now).is_none());
    let done = Stored {
        state: EventState::Final,
        leader: "A",
    };
    assert!(Finish::start("A", Some(done), &live, now).is_none());
    assert!(Finish::start("A", None, &live, now).is_none());
}

fn started(live: &[&str], at: Instant) -> Finish {
    let stored = Stored {
        state: EventState::Open,
        leader: "A",
    };
    Finish::start("A", Some(stored), &ids(live), at).expect("A leads")
}

#[test]
fn the_result_is_stored_when_the_last_server_answers() {
    let t0 = Instant::now();
    let mut finish = started(&["A", "B", "C"], t0);
    assert_eq!(finish.servers(), ids(&["A", "B", "C"]));
    assert_eq!(finish.next(t0), FinishStep::Wait(t0 + FREEZE_WAIT));
    finish.partial("B", &partial(0, 10), t0 + Duration::from_millis(5));
    finish.no_partial("C", t0 + Duration::from_millis(6));
    assert_eq!(finish.next(t0), FinishStep::Wait(t0 + FREEZE_WAIT));
    finish.partial("A", &partial(5, 20), t0 + Duration::from_millis(7));
    assert_eq!(
        finish.next(t0 + Duration::from_millis(7)),
        FinishStep::Store
    );
    assert_eq!(
        finish.into_result(),
        Collected {
            partial: partial(5, 10),
            answered: ids(&["A", "B"]),
            silent: ids(&["C"]),
        }
    );
}

#[test]
fn a_server_that_does_not_answer_in_time_is_silent() {
    let t0 = Instant::now();
    let mut finish = started(&["A", "B"], t0);
    finish.partial("A", &partial(0, 10), t0);
    assert_eq!(
        finish.next(t0 + Duration::from_secs(4)),
        FinishStep::Wait(t0 + FREEZE_WAIT)
    );
    assert_eq!(finish.next(t0 + FREEZE_WAIT), FinishStep::Store);
    // An answer after the wait is not counted: the database has its share.
    finish.partial(
        "B",
        &partial(3, 4),
        t0 + FREEZE_WAIT + Duration::from_millis(1),
    );
    let collected = finish.into_result();
    assert_eq!(collected.answered, ids(&["A"]));
    assert_eq!(collected.silent, ids(&["B"]));
    assert_eq!(collected.partial, partial(0, 10));
}

#[test]
fn a_pause_before_storing_delays_the_store_and_nothing_else() {
    let t0 = Instant::now();
    let pause = Duration::from_secs(3);
    let mut finish = started(&["A"], t0).with_pause_before_store(pause);
    let answered_at = t0 + Duration::from_millis(10);
    finish.partial("A", &partial(0, 10), answered_at);
    assert_eq!(
        finish.next(answered_at),
        FinishStep::Wait(answered_at + pause)
    );
    assert_eq!(finish.next(answered_at + pause), FinishStep::Store);
    assert_eq!(finish.into_result().answered, ids(&["A"]));
}

#[test]
fn with_no_live_server_the_leader_stores_at_once_from_the_database() {
    let t0 = Instant::now();
    let finish = started(&[], t0);
    assert_eq!(finish.next(t0), FinishStep::Store);
    let collected = finish.into_result();
    assert_eq!(collected.partial, Partial::none());
    assert!(collected.answered.is_empty() && collected.silent.is_empty());
}

// ---- properties ----

/// A cluster of up to six event servers, some live, and open events led
/// by any of them or by a server no longer in the file.
fn cluster() -> impl Strategy<Value = (Vec<String>, Vec<String>, Vec<OpenEvent>)> {
    (1usize..=6)
        .prop_flat_map(|n| {
            let live = prop::collection::vec(any::<bool>(), n);
            let events = prop::collection::vec((0..=n, 0i64..20), 0..12);
            (Just(n), live, events)
        })
        .prop_map(|(n, live, events)| {
            let servers: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
            let live = servers
                .iter()
                .zip(&live)
                .filter(|(_, up)| **up)
                .map(|(s, _)| s.clone())
                .collect();
            let events = events
                .into_iter()
                .enumerate()
                .map(|(i, (leader, deadline))| OpenEvent {
                    id: format!("e{i}"),
                    leader: servers.get(leader).cloned().unwrap_or("gone".into()),
                    deadline,
                })
                .collect();
            (servers, live, events)
        })
}

proptest! {
    #[test]
    fn every_dead_servers_backups_and_events_get_exactly_one_live_heir(
        (servers, live, events) in cluster()
    ) {
        let steps = plan_hand_over(&live, &servers, &events);
        if live.is_empty() {
            prop_assert!(steps.is_empty());
            return Ok(());
        }
        let mut backups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut leads: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut heirs: BTreeMap<&str, usize> = BTreeMap::new();
        let mut seen_lead = false;
        for step in &steps {
            match step {
                HandOverStep::Backups { dead, heir } => {
                    prop_assert!(!seen_lead, "backups come before leads");
                    backups.entry(dead).or_default().push(heir);
                    *heirs.entry(heir).or_default() += 1;
                }
                HandOverStep::Lead { event, dead, heir } => {
                    seen_lead = true;
                    let open = events.iter().find(|e| &e.id == event).unwrap();
                    prop_assert_eq!(&open.leader, dead);
                    leads.entry(event).or_default().push(heir);
                    *heirs.entry(heir).or_default() += 1;
                }
            }
        }
        for server in &servers {
            let given = backups.get(server.as_str()).map_or(0, Vec::len);
            prop_assert_eq!(given, usize::from(!live.contains(server)), "{}", server);
        }
        for event in &events {
            let given = leads.get(event.id.as_str()).map_or(0, Vec::len);
            prop_assert_eq!(given, usize::from(!live.contains(&event.leader)), "{}", event.id);
        }
        for heir in heirs.keys() {
            prop_assert!(live.iter().any(|l| l == heir), "heir {} is live", heir);
        }
        // Round-robin: no live server takes two more than another.
        if let (Some(most), Some(least)) = (heirs.values().max(), live.iter().map(|l| heirs.get(l.as_str()).copied().unwrap_or(0)).min()) {
            prop_assert!(most - least <= 1);
        }
    }

    #[test]
    fn nothing_is_planned_when_nobody_is_dead((servers, _, events) in cluster()) {
        let events: Vec<OpenEvent> = events
            .into_iter()
            .map(|mut e| {
                if !servers.contains(&e.leader) {
                    e.leader = servers[0].clone();
                }
                e
            })
            .collect();
        prop_assert!(plan_hand_over(&servers, &servers, &events).is_empty());
    }

    #[test]
    fn the_sweep_never_takes_over_early_nor_from_the_living(
        (servers, live, events) in cluster(),
        me in 0usize..6,
        now in 0i64..25,
    ) {
        let me = servers.get(me).cloned().unwrap_or_else(|| servers[0].clone());
        let steps = plan_sweep(now, &me, &live, &events, &[]);
        let grace = TAKE_OVER_AFTER.as_secs() as i64;
        for event in &events {
            let taken = steps.iter().filter(|s| matches!(s, SweepStep::TakeOver { event: e, .. } if *e == event.id)).count();
            let armed = steps.iter().filter(|s| matches!(s, SweepStep::Arm { event: e, .. } if *e == event.id)).count();
            let due = event.deadline + grace <= now;
            let dead = !live.contains(&event.leader);
            let mine = event.leader == me;
            prop_assert_eq!(armed, usize::from(mine), "{:?}", event);
            prop_assert_eq!(taken, usize::from(!mine && dead && due), "{:?} at {}", event, now);
        }
        for step in &steps {
            if let SweepStep::TakeOver { deadline, dead, .. } = step {
                prop_assert!(deadline + grace <= now);
                prop_assert!(!live.contains(dead) && *dead != me);
            }
        }
    }

    #[test]
    fn the_sweep_never_clears_an_open_event_nor_one_before_its_deadline(
        (_, live, events) in cluster(),
        held in prop::collection::btree_map(0usize..16, prop::option::of(0i64..20), 0..10),
        now in 0i64..25,
    ) {
        let held: Vec<Held> = held
            .into_iter()
            .map(|(i, deadline)| Held { event: format!("e{i}"), deadline })
            .collect();
        let steps = plan_sweep(now, "s0", &live, &events, &held);
        for h in &held {
            let cleared = steps.iter().any(|s| matches!(s, SweepStep::Clear { event } if *event == h.event));
            let is_open = events.iter().any(|e| e.id == h.event);
            let due = h.deadline.is_none_or(|d| d <= now);
            prop_assert_eq!(cleared, !is_open && due, "{:?}", h);
        }
    }

    #[test]
    fn the_leader_stores_once_everyone_is_heard_from_or_the_wait_is_over(
        answers in prop::collection::vec((0usize..4, any::<bool>(), 0u64..7_000, 0i64..24, 1i64..24), 0..8),
        pause_ms in prop::option::of(0u64..4_000),
    ) {
        let servers = ["A", "B", "C", "D"];
        let t0 = Instant::now();
        let mut finish = started(&servers, t0);
        if let Some(ms) = pause_ms {
            finish = finish.with_pause_before_store(Duration::from_millis(ms));
        }
        let pause = Duration::from_millis(pause_ms.unwrap_or(0));
        let mut answers = answers;
        answers.sort_by_key(|a| a.2);
        let mut expected = Partial::none();
        let mut first: BTreeMap<usize, bool> = BTreeMap::new();
        let mut all_heard_at = None;
        let mut last_fed = t0;
        for (server, sends, ms, start, len) in answers {
            let at = t0 + Duration::from_millis(ms);
            // The driver asks before each answer, and stops once told to
            // store.
            if finish.next(at) == FinishStep::Store {
                break;
            }
            let p = partial(start, start + len);
            if sends {
                finish.partial(servers[server], &p, at);
            } else {
                finish.no_partial(servers[server], at);
            }
            last_fed = at;
            if at <= t0 + FREEZE_WAIT && !first.contains_key(&server) {
                first.insert(server, sends);
                if sends {
                    expected.merge(&p);
                }
                if first.len() == servers.len() {
                    all_heard_at = Some(at);
                }
            }
        }
        // Stored once everyone is heard from or the wait is over, plus
        // the pause; never before.
        let store_at = all_heard_at.unwrap_or(t0 + FREEZE_WAIT) + pause;
        prop_assert_eq!(finish.next(store_at), FinishStep::Store);
        for ms in [0, 1, 500, 2_500, 5_000, 9_000] {
            let t = last_fed + Duration::from_millis(ms);
            if t < store_at {
                match finish.next(t) {
                    FinishStep::Wait(until) => prop_assert!(t < until && until <= store_at),
                    FinishStep::Store => prop_assert!(false, "stored at {:?}, before {:?}", t - t0, store_at - t0),
                }
            }
        }
        let collected = finish.into_result();
        let answered: Vec<String> = first.iter().filter(|(_, s)| **s).map(|(i, _)| servers[*i].to_string()).collect();
        prop_assert_eq!(&collected.answered, &answered);
        prop_assert_eq!(collected.answered.len() + collected.silent.len(), servers.len());
        prop_assert!(collected.silent.iter().all(|s| !answered.contains(s)));
        prop_assert_eq!(collected.partial, expected);
    }
}
