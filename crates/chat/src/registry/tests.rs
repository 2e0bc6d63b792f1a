//! Tests of the registry: races, retries, releases, moves, dead servers, the
//! reserved MainHalls, rebuilds (consistent, conflicting, with pending claims),
//! and property tests against a plain map of name to holder.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

fn s(text: &str) -> String {
    text.to_string()
}

/// A registry with these servers live.
fn registry(servers: &[&str]) -> Registry {
    let mut registry = Registry::new();
    for server in servers {
        registry.add_server(server);
    }
    registry.check();
    registry
}

fn view(identities: &[&str], rooms: &[&str], pending_identities: &[&str]) -> ServerView {
    ServerView {
        identities: identities.iter().copied().map(s).collect(),
        rooms: rooms
            .iter()
            .map(|room| {
                (
                    s(room),
                    if is_main_hall(room) {
                        s("")
                    } else {
                        s("Owner")
                    },
                )
            })
            .collect(),
        pending_identities: pending_identities.iter().copied().map(s).collect(),
        pending_rooms: Vec::new(),
    }
}

fn conflict(kind: Kind, name: &str, kept: &str, dropped: &str) -> Conflict {
    Conflict {
        kind,
        name: s(name),
        kept: s(kept),
        dropped: s(dropped),
    }
}

impl Registry {
    /// Asserts the invariants of [`Registry`]: the name maps and the per-server
    /// index agree, every holder is live, every live server holds its MainHall
    /// and nobody else holds a MainHall id.
    fn check(&self) {
        for kind in [Kind::Identity, Kind::Room] {
            for (name, server) in self.names(kind) {
                let held = self.servers.get(server);
                let held = held.unwrap_or_else(|| panic!("{name} held by {server}, not live"));
                let names = match kind {
                    Kind::Identity => &held.identities,
                    Kind::Room => &held.rooms,
                };
                assert!(names.contains(name), "{name} missing from {server}'s index");
                if kind == Kind::Room && is_main_hall(name) {
                    assert_eq!(*name, main_hall(server), "a MainHall held by another");
                }
            }
        }
        for (server, held) in &self.servers {
            for name in &held.identities {
                assert_eq!(self.holder(Kind::Identity, name), Some(server.as_str()));
            }
            for name in &held.rooms {
                assert_eq!(self.holder(Kind::Room, name), Some(server.as_str()));
            }
            assert!(
                self.away.contains(server) || held.rooms.contains(&main_hall(server)),
                "{server} lost its MainHall"
            );
        }
    }
}

// Claims.

#[test]
fn two_servers_racing_for_one_identity_get_one_yes() {
    let mut registry = registry(&["s1", "s2"]);
    assert!(registry.claim("s2", Kind::Identity, "Adel"));
    assert!(!registry.claim("s1", Kind::Identity, "Adel"));
    assert_eq!(registry.holder(Kind::Identity, "Adel"), Some("s2"));
    // The loser asking again is still refused; the winner, again approved.
    assert!(!registry.claim("s1", Kind::Identity, "Adel"));
    assert!(registry.claim("s2", Kind::Identity, "Adel"));
    registry.check();
}

#[test]
fn two_servers_racing_for_one_room_get_one_yes() {
    let mut registry = registry(&["s1", "s2"]);
    assert!(registry.claim("s1", Kind::Room, "jokes"));
    assert!(!registry.claim("s2", Kind::Room, "jokes"));
    assert_eq!(registry.holder(Kind::Room, "jokes"), Some("s1"));
}

#[test]
fn a_retried_claim_gets_the_same_answer() {
    let mut registry = registry(&["s1"]);
    assert!(registry.claim("s1", Kind::Identity, "Adel"));
    assert!(registry.claim("s1", Kind::Identity, "Adel"));
    assert_eq!(registry.identities_of("s1"), ["Adel"]);
    registry.check();
}

#[test]
fn identities_and_rooms_are_separate_namespaces() {
    let mut registry = registry(&["s1", "s2"]);
    assert!(registry.claim("s1", Kind::Identity, "jokes"));
    assert!(registry.claim("s2", Kind::Room, "jokes"));
    assert_eq!(registry.holder(Kind::Identity, "jokes"), Some("s1"));
    assert_eq!(registry.holder(Kind::Room, "jokes"), Some("s2"));
}

#[test]
fn main_hall_ids_are_refused_as_rooms() {
    let mut registry = registry(&["s1", "s2"]);
    // Its own, another live server's, and one of a server not up yet.
    assert!(!registry.claim("s1", Kind::Room, "MainHall-s1"));
    assert!(!registry.claim("s1", Kind::Room, "MainHall-s2"));
    assert!(!registry.claim("s1", Kind::Room, "MainHall-s3"));
    assert_eq!(registry.holder(Kind::Room, "MainHall-s1"), Some("s1"));
    assert_eq!(registry.holder(Kind::Room, "MainHall-s2"), Some("s2"));
    assert_eq!(registry.holder(Kind::Room, "MainHall-s3"), None);
    // So s3 gets its MainHall when it comes up.
    registry.add_server("s3");
    assert_eq!(registry.holder(Kind::Room, "MainHall-s3"), Some("s3"));
    registry.check();
}

#[test]
fn a_claim_from_a_server_not_live_is_refused() {
    let mut registry = registry(&["s1"]);
    assert!(!registry.claim("s9", Kind::Identity, "Adel"));
    assert_eq!(registry.holder(Kind::Identity, "Adel"), None);
}

#[test]
fn rooms_lists_the_cluster_sorted_main_halls_included() {
    let mut registry = registry(&["s3", "s1", "s2"]);
    assert!(registry.claim("s1", Kind::Room, "jokes"));
    assert!(registry.claim("s2", Kind::Room, "comics"));
    assert!(registry.claim("s1", Kind::Identity, "Adel"));
    // The reference's `list`, plus comics.
    assert_eq!(
        registry.rooms(),
        [
            "MainHall-s1",
            "MainHall-s2",
            "MainHall-s3",
            "comics",
            "jokes"
        ]
    );
    assert_eq!(registry.identities_of("s1"), ["Adel"]);
    assert!(registry.identities_of("s2").is_empty());
    assert!(registry.identities_of("s9").is_empty());
}

#[test]
fn adding_a_live_server_again_changes_nothing() {
    let mut registry = registry(&["s1"]);
    assert!(registry.claim("s1", Kind::Identity, "Adel"));
    let before = registry.clone();
    registry.add_server("s1");
    assert_eq!(registry, before);
}

// Releases.

#[test]
fn the_holder_releases_a_name_for_anyone() {
    let mut registry = registry(&["s1", "s2"]);
    assert!(registry.claim("s1", Kind::Identity, "Adel"));
    assert!(registry.claim("s1", Kind::Room, "jokes"));
    registry.release("s1", Kind::Identity, "Adel");
    registry.release("s1", Kind::Room, "jokes");
    assert_eq!(registry.holder(Kind::Identity, "Adel"), None);
    assert_eq!(registry.holder(Kind::Room, "jokes"), None);
    assert!(registry.claim("s2", Kind::Identity, "Adel"));
    assert!(registry.claim("s2", Kind::Room, "jokes"));
    // Releasing again (a retried release) is harmless.
    registry.release("s1", Kind::Identity, "Adel");
    assert_eq!(registry.holder(Kind::Identity, "Adel"), Some("s2"));
    registry.check();
}

#[test]
fn a_release_by_another_server_is_ignored() {
    let mut registry = registry(&["s1", "s2"]);
    assert!(registry.claim("s1", Kind::Identity, "Adel"));
    assert!(registry.claim("s1", Kind::Room, "jokes"));
    let before = registry.clone();
    // s2 gave up on its claim of Adel, or lost a conflict over jokes.
    registry.release("s2", Kind::Identity, "Adel");
    registry.release("s2", Kind::Room, "jokes");
    registry.release("s9", Kind::Identity, "Adel");
    registry.release("s2", Kind::Identity, "Nobody");
    assert_eq!(registry, before);
}

#[test]
fn a_main_hall_is_not_released_but_with_its_server() {
    let mut registry = registry(&["s1"]);
    registry.release("s1", Kind::Room, "MainHall-s1");
    assert_eq!(registry.holder(Kind::Room, "MainHall-s1"), Some("s1"));
}

// Moves.

#[test]
fn a_moved_identity_changes_holder_and_stays_taken() {
    let mut registry = registry(&["s1", "s2", "s3"]);
    assert!(registry.claim("s2", Kind::Identity, "Maria"));
    assert!(registry.moved("Maria", "s2", "s1"));
    assert_eq!(registry.holder(Kind::Identity, "Maria"), Some("s1"));
    assert_eq!(registry.identities_of("s1"), ["Maria"]);
    assert!(registry.identities_of("s2").is_empty());
    // Reported twice: the same answer.
    assert!(registry.moved("Maria", "s2", "s1"));
    // Taken all along: nobody else can claim it, and its old server cannot free it.
    assert!(!registry.claim("s3", Kind::Identity, "Maria"));
    registry.release("s2", Kind::Identity, "Maria");
    assert_eq!(registry.holder(Kind::Identity, "Maria"), Some("s1"));
    // Its new server can.
    registry.release("s1", Kind::Identity, "Maria");
    assert_eq!(registry.holder(Kind::Identity, "Maria"), None);
    registry.check();
}

#[test]
fn a_move_of_a_free_identity_gives_it_to_the_new_server() {
    // s2 died while Maria was on her way to s1.
    let mut registry = registry(&["s1", "s2", "s3"]);
    assert!(registry.claim("s2", Kind::Identity, "Maria"));
    registry.server_down("s2");
    assert!(registry.moved("Maria", "s2", "s1"));
    assert_eq!(registry.holder(Kind::Identity, "Maria"), Some("s1"));
    assert!(!registry.claim("s3", Kind::Identity, "Maria"));
    registry.check();
}

#[test]
fn a_move_of_an_identity_someone_else_holds_is_refused() {
    let mut registry = registry(&["s1", "s2", "s3"]);
    assert!(registry.claim("s2", Kind::Identity, "Maria"));
    registry.server_down("s2");
    assert!(registry.claim("s3", Kind::Identity, "Maria"));
    assert!(!registry.moved("Maria", "s2", "s1"));
    assert_eq!(registry.holder(Kind::Identity, "Maria"), Some("s3"));
    registry.check();
}

#[test]
fn a_move_to_a_server_not_live_changes_nothing() {
    let mut registry = registry(&["s1", "s2"]);
    assert!(registry.claim("s2", Kind::Identity, "Maria"));
    let before = registry.clone();
    assert!(!registry.moved("Maria", "s2", "s9"));
    assert_eq!(registry, before);
}

// Dead servers.

#[test]
fn a_dead_server_releases_everything_it_held() {
    let mut registry = registry(&["s1", "s2"]);
    assert!(registry.claim("s2", Kind::Identity, "Adel"));
    assert!(registry.claim("s2", Kind::Identity, "Bob"));
    assert!(registry.claim("s2", Kind::Room, "jokes"));
    assert!(registry.claim("s1", Kind::Identity, "Maria"));
    registry.server_down("s2");
    assert_eq!(registry.holder(Kind::Identity, "Adel"), None);
    assert_eq!(registry.holder(Kind::Identity, "Bob"), None);
    assert_eq!(registry.holder(Kind::Room, "jokes"), None);
    assert_eq!(registry.holder(Kind::Room, "MainHall-s2"), None);
    assert_eq!(registry.rooms(), ["MainHall-s1"]);
    assert_eq!(registry.identities_of("s1"), ["Maria"]);
    registry.check();
    // Its names are free for the living; a late claim of its own is refused.
    assert!(!registry.claim("s2", Kind::Identity, "Adel"));
    assert!(registry.claim("s1", Kind::Identity, "Adel"));
    assert!(registry.claim("s1", Kind::Room, "jokes"));
    // Reported down twice: nothing more happens.
    let before = registry.clone();
    registry.server_down("s2");
    registry.server_down("s9");
    assert_eq!(registry, before);
}

#[test]
fn a_restarted_server_comes_back_with_only_its_main_hall() {
    let mut registry = registry(&["s1"]);
    assert!(registry.claim("s1", Kind::Identity, "Adel"));
    registry.server_down("s1");
    registry.add_server("s1");
    assert_eq!(registry.rooms(), ["MainHall-s1"]);
    assert!(registry.identities_of("s1").is_empty());
    assert!(registry.claim("s1", Kind::Identity, "Adel"));
    registry.check();
}

// Servers away (unreachable, maybe cut off with their clients).

#[test]
fn an_away_server_keeps_its_names_and_claims_nothing() {
    let mut registry = registry(&["s1", "s2"]);
    assert!(registry.claim("s2", Kind::Identity, "dave"));
    registry.server_away("s2");
    assert!(registry.is_away("s2") && !registry.is_live("s2"));
    // Its client may still be using the name on the other side.
    assert!(!registry.claim("s1", Kind::Identity, "dave"));
    assert!(!registry.moved("dave", "s3", "s1"), "not from its holder");
    assert!(!registry.claim("s2", Kind::Identity, "erin"));
    assert_eq!(registry.rooms(), ["MainHall-s1", "MainHall-s2"]);
    registry.check();
    // Back: it holds what it held, and claims again.
    registry.add_server("s2");
    assert!(registry.is_live("s2"));
    assert_eq!(registry.identities_of("s2"), ["dave"]);
    assert!(registry.claim("s2", Kind::Identity, "erin"));
    registry.check();
    // Restarted instead: everything goes.
    registry.server_away("s2");
    registry.server_down("s2");
    assert!(registry.claim("s1", Kind::Identity, "dave"));
    registry.check();
}

#[test]
fn a_reserved_name_is_kept_for_a_server_without_a_view() {
    let (mut registry, _) = Registry::rebuild(&[(s("s1"), view(&["ann"], &[], &[]))]);
    // The copies say s3, which sent no view, holds "dave" and a room.
    assert!(registry.reserve("s3", Kind::Identity, "dave"));
    assert!(registry.reserve("s3", Kind::Room, "jokes"));
    assert!(registry.reserve("s3", Kind::Room, "MainHall-s3"));
    assert!(registry.is_away("s3"));
    assert!(!registry.claim("s1", Kind::Identity, "dave"));
    assert!(!registry.claim("s1", Kind::Room, "jokes"));
    // Not over a name a reachable server holds, nor another's MainHall.
    assert!(!registry.reserve("s3", Kind::Identity, "ann"));
    assert!(!registry.reserve("s3", Kind::Room, "MainHall-s1"));
    assert_eq!(registry.holder(Kind::Identity, "ann"), Some("s1"));
    let held: Vec<_> = registry.held().collect();
    assert_eq!(
        held,
        [
            (Kind::Identity, "ann", "s1"),
            (Kind::Identity, "dave", "s3"),
            (Kind::Room, "MainHall-s1", "s1"),
            (Kind::Room, "MainHall-s3", "s3"),
            (Kind::Room, "jokes", "s3"),
        ]
    );
    registry.check();
}

// Rebuilds.

#[test]
fn a_rebuild_from_consistent_views_restores_every_name() {
    let mut old = registry(&["s1", "s2", "s3"]);
    assert!(old.claim("s1", Kind::Identity, "Adel"));
    assert!(old.claim("s1", Kind::Room, "jokes"));
    assert!(old.claim("s2", Kind::Identity, "Maria"));
    assert!(old.claim("s3", Kind::Identity, "Bob"));
    let views = [
        (s("s1"), view(&["Adel"], &["MainHall-s1", "jokes"], &[])),
        (s("s2"), view(&["Maria"], &["MainHall-s2"], &[])),
        (s("s3"), view(&["Bob"], &["MainHall-s3"], &[])),
    ];
    let (rebuilt, conflicts) = Registry::rebuild(&views);
    assert!(conflicts.is_empty());
    assert_eq!(rebuilt, old);
    rebuilt.check();
}

#[test]
fn a_rebuild_registers_every_main_hall_even_if_a_view_omits_it() {
    let (rebuilt, conflicts) = Registry::rebuild(&[(s("s1"), ServerView::default())]);
    assert!(conflicts.is_empty());
    assert_eq!(rebuilt.rooms(), ["MainHall-s1"]);
}

#[test]
fn a_rebuild_keeps_one_holder_of_a_name_two_views_hold() {
    // A partition healed: each half granted Adel and jokes.
    let views = [
        (s("s2"), view(&["Adel"], &["MainHall-s2", "jokes"], &[])),
        (s("s1"), view(&["Adel"], &["MainHall-s1", "jokes"], &[])),
        (s("s3"), view(&["Adel"], &["MainHall-s3"], &[])),
    ];
    let (rebuilt, conflicts) = Registry::rebuild(&views);
    assert_eq!(rebuilt.holder(Kind::Identity, "Adel"), Some("s1"));
    assert_eq!(rebuilt.holder(Kind::Room, "jokes"), Some("s1"));
    assert_eq!(
        conflicts,
        [
            conflict(Kind::Identity, "Adel", "s1", "s2"),
            conflict(Kind::Identity, "Adel", "s1", "s3"),
            conflict(Kind::Room, "jokes", "s1", "s2"),
        ]
    );
    rebuilt.check();
    // Whatever order the views came in.
    let mut reversed = views.clone();
    reversed.reverse();
    assert_eq!(Registry::rebuild(&reversed), (rebuilt.clone(), conflicts));
    // The losers dropping their clients release nothing that counts.
    let mut after = rebuilt.clone();
    after.release("s2", Kind::Identity, "Adel");
    after.release("s2", Kind::Room, "jokes");
    assert_eq!(after, rebuilt);
}

#[test]
fn a_rebuild_credits_pending_claims_to_their_server() {
    // s2 claimed Maria; the old coordinator died before s2 heard the answer.
    let views = [
        (s("s1"), view(&["Adel"], &["MainHall-s1"], &[])),
        (s("s2"), view(&[], &["MainHall-s2"], &["Maria"])),
    ];
    let (mut rebuilt, conflicts) = Registry::rebuild(&views);
    assert!(conflicts.is_empty());
    assert_eq!(rebuilt.holder(Kind::Identity, "Maria"), Some("s2"));
    // Nobody else gets it; s2 re-asks and is approved.
    assert!(!rebuilt.claim("s1", Kind::Identity, "Maria"));
    assert!(rebuilt.claim("s2", Kind::Identity, "Maria"));
    // A server that gave up on the claim releases it.
    rebuilt.release("s2", Kind::Identity, "Maria");
    assert_eq!(rebuilt.holder(Kind::Identity, "Maria"), None);
}

#[test]
fn a_rebuild_credits_pending_rooms_too() {
    let mut pending = view(&["Adel"], &["MainHall-s2"], &[]);
    pending.pending_rooms.push(s("jokes"));
    let views = [(s("s2"), pending), (s("s1"), ServerView::default())];
    let (rebuilt, conflicts) = Registry::rebuild(&views);
    assert!(conflicts.is_empty());
    assert_eq!(rebuilt.holder(Kind::Room, "jokes"), Some("s2"));
    assert_eq!(rebuilt.rooms(), ["MainHall-s1", "MainHall-s2", "jokes"]);
}

#[test]
fn in_a_rebuild_a_held_name_beats_a_pending_claim() {
    // s1 sorts first, but only claimed Adel; s2's client has it and was told so.
    let views = [
        (s("s1"), view(&[], &[], &["Adel"])),
        (s("s2"), view(&["Adel"], &[], &[])),
    ];
    let (rebuilt, conflicts) = Registry::rebuild(&views);
    assert_eq!(rebuilt.holder(Kind::Identity, "Adel"), Some("s2"));
    assert_eq!(conflicts, [conflict(Kind::Identity, "Adel", "s2", "s1")]);
}

#[test]
fn in_a_rebuild_two_pending_claims_go_to_the_first_server() {
    let views = [
        (s("s2"), view(&[], &[], &["Adel"])),
        (s("s1"), view(&[], &[], &["Adel"])),
    ];
    let (rebuilt, conflicts) = Registry::rebuild(&views);
    assert_eq!(rebuilt.holder(Kind::Identity, "Adel"), Some("s1"));
    assert_eq!(conflicts, [conflict(Kind::Identity, "Adel", "s1", "s2")]);
}

#[test]
fn a_loser_listing_a_name_twice_loses_it_once() {
    // s2 holds Adel and also still lists a claim of it; s1 holds it too.
    let views = [
        (s("s2"), view(&["Adel"], &[], &["Adel"])),
        (s("s1"), view(&["Adel"], &[], &[])),
    ];
    let (rebuilt, conflicts) = Registry::rebuild(&views);
    assert_eq!(rebuilt.holder(Kind::Identity, "Adel"), Some("s1"));
    assert_eq!(conflicts, [conflict(Kind::Identity, "Adel", "s1", "s2")]);
    // The winner listing it twice is no conflict at all.
    let (_, conflicts) = Registry::rebuild(&[(s("s1"), view(&["Adel"], &[], &["Adel"]))]);
    assert!(conflicts.is_empty());
}

#[test]
fn in_a_rebuild_another_servers_main_hall_is_a_conflict() {
    let views = [
        (s("s1"), view(&[], &["MainHall-s1"], &[])),
        (
            s("s2"),
            view(&[], &["MainHall-s2", "MainHall-s1", "MainHall-s9"], &[]),
        ),
    ];
    let (rebuilt, conflicts) = Registry::rebuild(&views);
    assert_eq!(rebuilt.rooms(), ["MainHall-s1", "MainHall-s2"]);
    assert_eq!(
        conflicts,
        [
            conflict(Kind::Room, "MainHall-s1", "s1", "s2"),
            conflict(Kind::Room, "MainHall-s9", "s9", "s2"),
        ]
    );
    rebuilt.check();
}

#[test]
fn a_rebuild_merges_two_views_of_one_server() {
    let views = [
        (s("s1"), view(&["Adel"], &["MainHall-s1"], &["Bob"])),
        (s("s1"), view(&["Adel", "Bob"], &["MainHall-s1"], &[])),
    ];
    let (rebuilt, conflicts) = Registry::rebuild(&views);
    assert!(conflicts.is_empty());
    assert_eq!(rebuilt.identities_of("s1"), ["Adel", "Bob"]);
}

#[test]
fn the_dead_are_not_rebuilt() {
    let (rebuilt, _) = Registry::rebuild(&[(s("s1"), ServerView::default())]);
    assert_eq!(rebuilt.rooms(), ["MainHall-s1"]);
    let mut rebuilt = rebuilt;
    assert!(!rebuilt.claim("s2", Kind::Identity, "Adel"));
}

// Property tests.

const SERVERS: [&str; 4] = ["s1", "s2", "s3", "s4"];
/// Names used for both kinds: two MainHall ids (one of a server that never
/// exists) to exercise the reservation.
const NAMES: [&str; 6] = [
    "Adel",
    "Maria",
    "Bob",
    "jokes",
    "MainHall-s1",
    "MainHall-s9",
];

#[derive(Clone, Debug)]
enum Op {
    Claim(usize, Kind, usize),
    Release(usize, Kind, usize),
    Moved(usize, usize, usize),
    Down(usize),
    Up(usize),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Identity), Just(Kind::Room)]
}

fn op() -> impl Strategy<Value = Op> {
    let server = 0..SERVERS.len();
    let name = 0..NAMES.len();
    prop_oneof![
        4 => (server.clone(), kind(), name.clone()).prop_map(|(s, k, n)| Op::Claim(s, k, n)),
        2 => (server.clone(), kind(), name.clone()).prop_map(|(s, k, n)| Op::Release(s, k, n)),
        2 => (name, server.clone(), server.clone()).prop_map(|(n, f, t)| Op::Moved(n, f, t)),
        1 => server.clone().prop_map(Op::Down),
        1 => server.prop_map(Op::Up),
    ]
}

/// The registry's rules, as plainly as they can be said.
#[derive(Clone, Debug, Default)]
struct Model {
    live: BTreeSet<String>,
    holders: BTreeMap<(Kind, String), String>,
}

impl Model {
    fn reserved(kind: Kind, name: &str) -> bool {
        kind == Kind::Room && name.starts_with("MainHall-")
    }

    fn up(&mut self, server: &str) {
        if self.live.insert(s(server)) {
            self.holders
                .insert((Kind::Room, main_hall(server)), s(server));
        }
    }

    fn apply(&mut self, op: &Op) -> Option<bool> {
        match *op {
            Op::Claim(server, kind, name) => {
                let (server, key) = (SERVERS[server], (kind, s(NAMES[name])));
                let free = self.holders.get(&key).is_none_or(|h| h == server);
                let ok = self.live.contains(server) && !Self::reserved(kind, NAMES[name]) && free;
                if ok {
                    self.holders.insert(key, s(server));
                }
                Some(ok)
            }
            Op::Release(server, kind, name) => {
                let key = (kind, s(NAMES[name]));
                if !Self::reserved(kind, NAMES[name])
                    && self.holders.get(&key).map(String::as_str) == Some(SERVERS[server])
                {
                    self.holders.remove(&key);
                }
                None
            }
            Op::Moved(name, from, to) => {
                let key = (Kind::Identity, s(NAMES[name]));
                let holder = self.holders.get(&key).map(String::as_str);
                let ok = self.live.contains(SERVERS[to])
                    && holder.is_none_or(|h| h == SERVERS[from] || h == SERVERS[to]);
                if ok {
                    self.holders.insert(key, s(SERVERS[to]));
                }
                Some(ok)
            }
            Op::Down(server) => {
                self.live.remove(SERVERS[server]);
                self.holders.retain(|_, holder| holder != SERVERS[server]);
                None
            }
            Op::Up(server) => {
                self.up(SERVERS[server]);
                None
            }
        }
    }

    /// The views the live servers would report, each held name marked pending
    /// where `pending` says so (cycled), MainHalls always held.
    fn views(&self, pending: &[bool]) -> Vec<(ServerId, ServerView)> {
        let mut flags = pending
            .iter()
            .copied()
            .chain(std::iter::repeat(false))
            .cycle();
        let mut views: BTreeMap<String, ServerView> = self
            .live
            .iter()
            .map(|server| (s(server), ServerView::default()))
            .collect();
        for ((kind, name), holder) in &self.holders {
            let view = views.get_mut(holder).expect("held by a live server");
            let pending = !is_main_hall(name) && flags.next().unwrap_or(false);
            match (kind, pending) {
                (Kind::Identity, false) => view.identities.push(name.clone()),
                (Kind::Identity, true) => view.pending_identities.push(name.clone()),
                (Kind::Room, false) => view.rooms.push((name.clone(), s("Owner"))),
                (Kind::Room, true) => view.pending_rooms.push(name.clone()),
            }
        }
        views.into_iter().collect()
    }
}

/// Every name the tests can touch, in both namespaces.
fn every_name() -> impl Iterator<Item = (Kind, String)> {
    let names = NAMES
        .iter()
        .map(|name| s(name))
        .chain(SERVERS.iter().map(|server| main_hall(server)));
    names.flat_map(|name| [(Kind::Identity, name.clone()), (Kind::Room, name)])
}

/// The registry agrees with the model on every name, and on its listings.
fn assert_agrees(registry: &Registry, model: &Model) {
    registry.check();
    for (kind, name) in every_name() {
        let expected = model.holders.get(&(kind, name.clone())).map(String::as_str);
        assert_eq!(registry.holder(kind, &name), expected, "{kind:?} {name}");
    }
    let rooms: Vec<String> = (model.holders.keys())
        .filter(|(kind, _)| *kind == Kind::Room)
        .map(|(_, name)| name.clone())
        .collect();
    assert_eq!(registry.rooms(), rooms);
    for server in SERVERS {
        let identities: Vec<String> = (model.holders.iter())
            .filter(|((kind, _), holder)| *kind == Kind::Identity && *holder == server)
            .map(|((_, name), _)| name.clone())
            .collect();
        assert_eq!(registry.identities_of(server), identities);
    }
}

/// Runs `ops` on a registry and on the model, all four servers up at first.
fn run(ops: &[Op]) -> (Registry, Model) {
    let mut registry = registry(&SERVERS);
    let mut model = Model::default();
    for server in SERVERS {
        model.up(server);
    }
    for op in ops {
        let answer = match *op {
            Op::Claim(server, kind, name) => {
                Some(registry.claim(SERVERS[server], kind, NAMES[name]))
            }
            Op::Release(server, kind, name) => {
                registry.release(SERVERS[server], kind, NAMES[name]);
                None
            }
            Op::Moved(name, from, to) => {
                Some(registry.moved(NAMES[name], SERVERS[from], SERVERS[to]))
            }
            Op::Down(server) => {
                registry.server_down(SERVERS[server]);
                None
            }
            Op::Up(server) => {
                registry.add_server(SERVERS[server]);
                None
            }
        };
        assert_eq!(answer, model.apply(op), "{op:?}");
        assert_agrees(&registry, &model);
    }
    (registry, model)
}

/// Any view: a few of the test names in each list.
fn any_view() -> impl Strategy<Value = ServerView> {
    let names = || prop::collection::vec(prop::sample::select(NAMES.to_vec()), 0..4);
    (names(), names(), names(), names()).prop_map(|(ids, rooms, pids, prooms)| ServerView {
        identities: ids.into_iter().map(s).collect(),
        rooms: rooms
            .into_iter()
            .map(|room| (s(room), s("Owner")))
            .collect(),
        pending_identities: pids.into_iter().map(s).collect(),
        pending_rooms: prooms.into_iter().map(s).collect(),
    })
}

fn any_views() -> impl Strategy<Value = Vec<(ServerId, ServerView)>> {
    let server = prop::sample::select(SERVERS.to_vec()).prop_map(s);
    prop::collection::vec((server, any_view()), 0..6)
}

proptest! {
    #[test]
    fn random_traffic_matches_the_model(ops in prop::collection::vec(op(), 0..120)) {
        run(&ops);
    }

    #[test]
    fn a_rebuild_from_the_live_views_restores_every_holder(
        ops in prop::collection::vec(op(), 0..120),
        pending in prop::collection::vec(any::<bool>(), 0..16),
    ) {
        let (registry, model) = run(&ops);
        let views = model.views(&pending);
        let (rebuilt, conflicts) = Registry::rebuild(&views);
        prop_assert!(conflicts.is_empty());
        assert_agrees(&rebuilt, &model);
        prop_assert_eq!(rebuilt, registry);
    }

    #[test]
    fn a_rebuild_from_any_views_keeps_one_holder_by_the_rule(views in any_views()) {
        let (rebuilt, conflicts) = Registry::rebuild(&views);
        rebuilt.check();
        let mut reversed = views.clone();
        reversed.reverse();
        prop_assert_eq!(Registry::rebuild(&reversed), (rebuilt.clone(), conflicts.clone()));

        // Every claimant of every name, best first: held before pending, then by id.
        let mut claimants: BTreeMap<(Kind, String), BTreeSet<(bool, String)>> = BTreeMap::new();
        for (server, view) in &views {
            let entries = (view.identities.iter().map(|n| (Kind::Identity, n, false)))
                .chain(view.rooms.iter().map(|(n, _)| (Kind::Room, n, false)))
                .chain(view.pending_identities.iter().map(|n| (Kind::Identity, n, true)))
                .chain(view.pending_rooms.iter().map(|n| (Kind::Room, n, true)));
            for (kind, name, pending) in entries {
                claimants.entry((kind, name.clone())).or_default().insert((pending, server.clone()));
            }
        }
        let live: BTreeSet<&str> = views.iter().map(|(server, _)| server.as_str()).collect();
        let mut expected = Vec::new();
        for ((kind, name), ranked) in &claimants {
            let mut servers: Vec<&str> = Vec::new();
            for (_, server) in ranked {
                if !servers.contains(&server.as_str()) {
                    servers.push(server);
                }
            }
            let kept = match name.strip_prefix("MainHall-") {
                Some(owner) if *kind == Kind::Room => owner,
                _ => servers[0],
            };
            let holder = (*kind != Kind::Room || !is_main_hall(name) || live.contains(kept))
                .then_some(kept);
            prop_assert_eq!(rebuilt.holder(*kind, name), holder, "{:?} {}", kind, name);
            for dropped in servers.into_iter().filter(|server| *server != kept) {
                expected.push(conflict(*kind, name, kept, dropped));
            }
        }
        expected.sort();
        prop_assert_eq!(conflicts, expected);
        // Nothing but the views' names and the MainHalls.
        let held = rebuilt.identities.len() + rebuilt.rooms.len();
        let main_halls = live.len();
        let named = claimants
            .keys()
            .filter(|(kind, name)| *kind != Kind::Room || !is_main_hall(name))
            .count();
        prop_assert_eq!(held, main_halls + named);
    }
}
