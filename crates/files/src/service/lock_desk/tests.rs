//! The lock desk alone: a lock book in a temporary folder, no cluster, no
//! folder, no task; time passed in.

use super::*;
use crate::plan::Record;

const LEASE: Duration = Duration::from_secs(60);

struct Desk {
    dir: tempfile::TempDir,
    desk: LockDesk,
}

impl Desk {
    /// A desk over a fresh store; `admins` may break anyone's lock.
    fn new(admins: &[&str]) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let desk = desk_over(&dir, admins, 100, Instant::now());
        Desk { dir, desk }
    }

    /// The desk a restarted holder would have: the same store, read again.
    fn restarted(&self, now: Instant) -> LockDesk {
        desk_over(&self.dir, &[], 100, now)
    }
}

fn desk_over(
    dir: &tempfile::TempDir,
    admins: &[&str],
    per_account: usize,
    now: Instant,
) -> LockDesk {
    let book =
        Arc::new(super::super::lock_book::LockBook::open(&dir.path().join("book.db")).unwrap());
    let token = book.claim_first("A").unwrap().token;
    let limits = DeskLimits {
        lease: LEASE,
        per_account,
        admins: admins.iter().map(|a| a.to_string()).collect(),
    };
    LockDesk::restore(book, token, limits, now, &mut |_, _| {}).unwrap()
}

fn path(text: &str) -> SharedPath {
    SharedPath::parse(text).unwrap()
}

fn update(from: &str, counter: u64) -> Held {
    Held {
        from: from.into(),
        record: Record {
            version: VersionVector::from_counters([(from, counter)]),
            deleted: false,
            size: 1,
            modified_ns: 0,
            checksum: counter,
            baseline: false,
        },
        file: Some(format!(".convene-held-{counter:016x}")),
    }
}

fn refusal(reply: FilesReply) -> Refusal {
    match reply {
        FilesReply::Refused(refusal, _) => refusal,
        other => panic!("not a refusal: {other:?}"),
    }
}

#[test]
fn a_lock_holds_updates_in_arrival_order_until_its_owner_unlocks() {
    let Desk { desk, dir: _dir } = Desk::new(&[]);
    let now = Instant::now();
    let a = path("a.txt");
    assert_eq!(
        desk.lock(&a, "ana", now),
        Ok("Locked a.txt (for 60 s unless renewed).".into())
    );
    assert!(desk.is_locked(&a));
    assert_eq!(desk.locked_paths(), vec![a.clone()]);
    assert!(
        !desk.hold_update(&path("b.txt"), update("B", 1), None),
        "not locked: apply now"
    );
    assert!(desk.hold_update(&a, update("B", 1), None));
    assert!(desk.hold_update(&a, update("C", 1), None));
    assert_eq!(desk.waiting_for(&a), 2);
    assert!(desk.holds_last(&a, &update("C", 1).record.version));
    assert!(!desk.holds_last(&a, &update("B", 1).record.version));

    let bo = desk.unlock(&a, "bo", false).unwrap_err();
    assert_eq!(refusal(bo), Refusal::NotOwner);
    let held = desk.unlock(&a, "ana", false).unwrap();
    assert_eq!(held, vec![update("B", 1), update("C", 1)]);
    assert!(!desk.is_locked(&a));
    let again = desk.unlock(&a, "ana", false).unwrap_err();
    assert_eq!(refusal(again), Refusal::NotLocked);
}

#[test]
fn only_the_owner_an_admin_or_the_operator_may_break_a_lock() {
    let Desk { desk, dir: _dir } = Desk::new(&["ada"]);
    let now = Instant::now();
    let a = path("a.txt");
    desk.lock(&a, "ana", now).unwrap();
    assert_eq!(
        refusal(desk.lock(&a, "bo", now).unwrap_err()),
        Refusal::Held
    );

    let FilesReply::Refused(Refusal::NotOwner, why) = desk.unlock(&a, "bo", true).unwrap_err()
    else {
        panic!("bo may not break ana's lock");
    };
    assert!(why.contains("it belongs to ana"), "{why}");
    // An admin unlocking without --force is told that they may force it.
    let FilesReply::Refused(Refusal::NotOwner, why) = desk.unlock(&a, "ada", false).unwrap_err()
    else {
        panic!("not ada's lock");
    };
    assert!(
        why.ends_with("as an admin you may break it with --force"),
        "{why}"
    );
    assert_eq!(desk.unlock(&a, "ada", true), Ok(Vec::new()));

    desk.lock(&a, "ana", now).unwrap();
    assert_eq!(desk.unlock(&a, OPERATOR, true), Ok(Vec::new()));
    desk.lock(&a, "ana", now).unwrap();
    assert_eq!(
        desk.unlock(&a, "ana", true),
        Ok(Vec::new()),
        "the owner may too"
    );
}

#[test]
fn an_account_holds_at_most_its_share_of_locks() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    let desk = desk_over(&dir, &[], 2, now);
    desk.lock(&path("a"), "ana", now).unwrap();
    desk.lock(&path("b"), "ana", now).unwrap();
    let too_many = desk.lock(&path("c"), "ana", now).unwrap_err();
    assert_eq!(refusal(too_many), Refusal::TooManyLocks);
    desk.lock(&path("a"), "ana", now)
        .expect("renewing is always allowed");
    desk.lock(&path("c"), "bo", now)
        .expect("another account's share");
}

#[test]
fn a_lease_that_runs_out_hands_back_its_updates() {
    let Desk { desk, dir: _dir } = Desk::new(&[]);
    let now = Instant::now();
    let a = path("a.txt");
    desk.lock(&a, "ana", now).unwrap();
    assert!(desk.hold_update(&a, update("B", 1), None));
    assert_eq!(desk.next_expiry(), Some(now + LEASE));
    assert!(desk.expire(now + LEASE / 2).is_empty());
    // Past its end but not collected: nobody else gets the file yet.
    let late = now + LEASE * 2;
    assert_eq!(
        refusal(desk.lock(&a, "bo", late).unwrap_err()),
        Refusal::Held
    );
    assert_eq!(desk.expire(late), vec![(a.clone(), vec![update("B", 1)])]);
    assert!(!desk.is_locked(&a));
    assert_eq!(desk.next_expiry(), None);
    desk.lock(&a, "bo", late).expect("free once collected");
}

#[test]
fn locks_and_held_updates_survive_a_restart_until_released() {
    let desks = Desk::new(&[]);
    let now = Instant::now();
    let (a, b) = (path("a.txt"), path("d/b.txt"));
    desks.desk.lock(&a, "ana", now).unwrap();
    desks.desk.lock(&b, "bo", now).unwrap();
    assert!(desks.desk.hold_update(&a, update("B", 1), None));
    assert!(desks.desk.hold_update(&a, update("C", 2), None));

    let restarted = desks.restarted(Instant::now());
    let mut locked = restarted.locked_paths();
    locked.sort();
    assert_eq!(locked, vec![a.clone(), b.clone()]);
    assert_eq!(
        refusal(restarted.unlock(&a, "bo", false).unwrap_err()),
        Refusal::NotOwner
    );
    let held = restarted.unlock(&a, "ana", false).unwrap();
    assert_eq!(held, vec![update("B", 1), update("C", 2)]);

    // Released but not yet applied: a crash now brings the lock and its
    // updates back, so nothing is lost.
    let crashed = desks.restarted(Instant::now());
    assert_eq!(crashed.waiting_for(&a), 2);
    restarted.finish_release(&a);
    let applied = desks.restarted(Instant::now());
    assert_eq!(applied.locked_paths(), vec![b]);
    assert_eq!(applied.waiting_for(&a), 0);
}

#[test]
fn a_lease_that_ran_out_while_the_holder_was_down_comes_back_expired() {
    let desks = Desk::new(&[]);
    let a = path("a.txt");
    desks.desk.lock(&a, "ana", Instant::now()).unwrap();
    assert!(desks.desk.hold_update(&a, update("B", 1), None));
    // The row as the book keeps it, its end long past.
    desks
        .desk
        .book
        .put_lock(
            desks.desk.token(),
            &BookLock {
                path: a.as_str().into(),
                owner: "ana".into(),
                expires_ms: now_ms() - 1000,
            },
        )
        .unwrap();
    let now = Instant::now();
    let restarted = desks.restarted(now);
    assert!(restarted.next_expiry().is_some_and(|at| at <= now));
    assert_eq!(restarted.expire(now), vec![(a, vec![update("B", 1)])]);
}

#[test]
fn held_rows_that_name_other_files_are_dropped_on_restore() {
    let desks = Desk::new(&[]);
    let a = path("a.txt");
    desks.desk.lock(&a, "ana", Instant::now()).unwrap();
    let forged = Held {
        file: Some("../../etc/passwd".into()),
        ..update("B", 1)
    };
    let row = BookHeld {
        update: forged.to_bytes(),
        content: None,
    };
    desks
        .desk
        .book
        .hold(desks.desk.token(), a.as_str(), &row)
        .unwrap();
    assert!(desks.desk.hold_update(&a, update("C", 2), None));
    let restarted = desks.restarted(Instant::now());
    assert_eq!(restarted.unlock(&a, "ana", false), Ok(vec![update("C", 2)]));
}

#[test]
fn a_desk_whose_token_moved_on_grants_nothing_and_goes_stale() {
    let desks = Desk::new(&[]);
    let now = Instant::now();
    let (a, b) = (path("a.txt"), path("b.txt"));
    desks.desk.lock(&a, "ana", now).unwrap();
    assert!(
        desks
            .desk
            .hold_update(&a, update("B", 1), Some(b"x".to_vec()))
    );
    // The coordinator hands the locks to node C (A was cut off).
    let book = &desks.desk.book;
    let c = book.hand_over(desks.desk.token(), "C", 2).unwrap().unwrap();
    let limits = DeskLimits {
        lease: LEASE,
        per_account: 100,
        admins: Vec::new(),
    };
    let mut contents = Vec::new();
    let new = LockDesk::restore(book.clone(), c.token, limits, now, &mut |held, bytes| {
        contents.push((held.clone(), bytes.to_vec()))
    })
    .unwrap();
    // C has ana's lock and B's held update, with its content.
    assert_eq!(new.locked_paths(), vec![a.clone()]);
    assert_eq!(new.waiting_for(&a), 1);
    assert_eq!(contents, vec![(update("B", 1), b"x".to_vec())]);
    new.lock(&b, "bo", now).unwrap();

    // A still believes it holds the locks: it cannot grant b.txt to ana.
    let FilesReply::Failed(why) = desks.desk.lock(&b, "ana", now).unwrap_err() else {
        panic!("a fenced desk must not grant");
    };
    assert!(why.contains("node C does"), "{why}");
    assert!(desks.desk.is_stale());
    // Nor unlock, nor hold: everything is refused from now on.
    assert!(desks.desk.unlock(&a, "ana", false).is_err());
    assert!(!desks.desk.hold_update(&a, update("C", 2), None));
    // The book has what C granted, and ana's lock untouched.
    let rows = book.locks().unwrap();
    let owners: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.path.as_str(), r.owner.as_str()))
        .collect();
    assert_eq!(owners, [("a.txt", "ana"), ("b.txt", "bo")]);
    // And C, unlocking, gets the update that A held before the move.
    assert_eq!(new.unlock(&a, "ana", false), Ok(vec![update("B", 1)]));
}

#[test]
fn locks_from_a_holders_own_store_are_imported_once() {
    let desks = Desk::new(&[]);
    let now = Instant::now();
    desks.desk.lock(&path("b.txt"), "bo", now).unwrap();
    let old = |p: &str| BookLock {
        path: p.into(),
        owner: "ana".into(),
        expires_ms: now_ms() + 60_000,
    };
    let held = [BookHeld {
        update: update("B", 1).to_bytes(),
        content: Some(b"x".to_vec()),
    }];
    assert_eq!(desks.desk.import(&old("a.txt"), &held), Ok(true));
    // A lock the book has already stays as it is.
    assert_eq!(desks.desk.import(&old("b.txt"), &[]), Ok(false));
    desks.desk.mark_stale();
    assert!(
        desks.desk.lock(&path("c.txt"), "ana", now).is_err(),
        "stale"
    );
    let rebuilt = desks.restarted(now);
    assert_eq!(rebuilt.waiting_for(&path("a.txt")), 1);
    assert_eq!(
        refusal(rebuilt.unlock(&path("b.txt"), "ana", false).unwrap_err()),
        Refusal::NotOwner
    );
    assert_eq!(
        rebuilt.unlock(&path("a.txt"), "ana", false),
        Ok(vec![update("B", 1)])
    );
}

#[test]
fn a_locks_view_names_its_owner_and_the_nodes_whose_updates_wait() {
    let Desk { desk, dir: _dir } = Desk::new(&[]);
    let now = Instant::now();
    let a = path("a.txt");
    assert_eq!(desk.view(&a, now), None);
    desk.lock(&a, "ana", now).unwrap();
    assert!(desk.hold_update(&a, update("B", 1), Some(b"b".to_vec())));
    assert!(desk.hold_update(&a, update("C", 1), Some(b"c".to_vec())));
    let view = desk.view(&a, now + Duration::from_secs(5)).unwrap();
    assert_eq!(
        (view.owner.as_str(), view.held, view.held_from.clone()),
        ("ana", 2, vec!["B".to_string(), "C".to_string()])
    );
    assert_eq!((view.locked_ms, view.left_ms), (5_000, 55_000));
    assert_eq!(desk.view(&path("b.txt"), now), None);
}
