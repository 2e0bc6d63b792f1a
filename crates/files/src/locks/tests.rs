use super::*;

use proptest::prelude::*;

const LEASE: Duration = Duration::from_secs(30);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The expiry index matches the locks, and the count matches the queues.
fn check_invariants<K: Ord + Clone + std::fmt::Debug, U>(table: &LockTable<K, U>) {
    let from_locks: BTreeSet<(Instant, K)> = table
        .locks
        .iter()
        .map(|(key, held)| (held.info.expires_at, key.clone()))
        .collect();
    assert_eq!(table.by_expiry, from_locks);
    let total: usize = table.locks.values().map(|held| held.queue.len()).sum();
    assert_eq!(table.queued, total);
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    for held in table.locks.values() {
        *owners.entry(held.info.owner.clone()).or_default() += 1;
    }
    assert_eq!(table.per_owner, owners);
}

#[test]
fn an_owner_may_hold_only_so_many_locks_but_always_renew() {
    let t0 = Instant::now();
    let mut table: LockTable<&str, u32> = LockTable::new().with_owner_limit(2);
    table.lock("a", "ana", t0, LEASE).unwrap();
    table.lock("b", "ana", t0, LEASE).unwrap();
    let too_many = LockError::TooMany {
        owner: "ana".into(),
        limit: 2,
    };
    assert_eq!(table.lock("c", "ana", t0, LEASE), Err(too_many.clone()));
    assert_eq!(
        too_many.to_string(),
        "ana already holds 2 locks, the most one account may hold"
    );
    // Renewing one's own lock is not a new lock; others are not limited by ana.
    table.lock("a", "ana", t0 + secs(1), LEASE).unwrap();
    table.lock("c", "bo", t0, LEASE).unwrap();
    assert_eq!(table.owned_by("ana"), 2);
    // Each way a lock ends frees a place.
    table.unlock(&"a", "ana").unwrap();
    table.lock("d", "ana", t0, LEASE).unwrap();
    table.force_unlock(&"d").unwrap();
    table.lock("e", "ana", t0, secs(1)).unwrap();
    assert_eq!(table.expire(t0 + secs(1)).len(), 1);
    table.lock("f", "ana", t0 + secs(1), LEASE).unwrap();
    assert_eq!(table.owned_by("ana"), 2);
    assert_eq!(table.owned_by("bo"), 1);
    check_invariants(&table);
}

#[test]
fn lab3_scenario_unlock_applies_the_held_updates_in_order() {
    let now = Instant::now();
    let mut table: LockTable<String, String> = LockTable::new();
    let info = table.lock("a.jpg".into(), "ana", now, LEASE).unwrap();
    assert_eq!(info.owner, "ana");
    assert_eq!(info.locked_since, now);
    assert_eq!(info.expires_at, now + LEASE);
    assert!(table.is_locked(&"a.jpg".into()));

    assert_eq!(
        table.hold(&"a.jpg".into(), "a.jpg from B, v2".into()),
        Ok(())
    );
    // Another file is not locked: its update is given back, to apply now.
    assert_eq!(
        table.hold(&"b.txt".into(), "b.txt from B, v2".into()),
        Err("b.txt from B, v2".to_string())
    );
    assert_eq!(
        table.hold(&"a.jpg".into(), "a.jpg from B, v3".into()),
        Ok(())
    );
    assert_eq!(table.queued(), 2);
    assert_eq!(table.queued_for(&"a.jpg".into()), 2);
    assert_eq!(table.queued_for(&"b.txt".into()), 0);
    check_invariants(&table);

    assert_eq!(
        table.unlock(&"a.jpg".into(), "ana"),
        Ok(vec![
            "a.jpg from B, v2".to_string(),
            "a.jpg from B, v3".into()
        ])
    );
    assert!(!table.is_locked(&"a.jpg".into()));
    assert!(table.is_empty());
    assert_eq!(table.queued(), 0);
    assert_eq!(table.next_expiry(), None);
    // Unlocked: updates flow straight through again.
    assert_eq!(table.hold(&"a.jpg".into(), "v4".into()), Err("v4".into()));
    check_invariants(&table);
}

#[test]
fn a_lease_lapses_unless_renewed() {
    let t0 = Instant::now();
    let mut table: LockTable<&str, u32> = LockTable::new();
    table.lock("a", "ana", t0, secs(10)).unwrap();
    table.lock("b", "bo", t0, secs(20)).unwrap();
    table.hold(&"a", 1).unwrap();
    table.hold(&"b", 2).unwrap();
    assert_eq!(table.next_expiry(), Some(t0 + secs(10)));

    // Renewing at t0+8 pushes "a" past "b".
    let renewed = table.renew(&"a", "ana", t0 + secs(8), secs(30)).unwrap();
    assert_eq!(renewed.expires_at, t0 + secs(38));
    assert_eq!(renewed.locked_since, t0);
    assert_eq!(renewed.remaining(t0 + secs(18)), secs(20));
    assert_eq!(table.next_expiry(), Some(t0 + secs(20)));
    assert!(table.expire(t0 + secs(19)).is_empty());

    // Locking again as the owner is a renewal too.
    let again = table.lock("b", "bo", t0 + secs(19), secs(5)).unwrap();
    assert_eq!(again.expires_at, t0 + secs(24));
    assert_eq!(again.locked_since, t0);
    table.hold(&"b", 3).unwrap();

    // The lease ends exactly at expires_at.
    assert_eq!(table.expire(t0 + secs(24)), vec![("b", vec![2, 3])]);
    assert!(!table.is_locked(&"b"));
    assert_eq!(table.next_expiry(), Some(t0 + secs(38)));
    assert_eq!(table.expire(t0 + secs(100)), vec![("a", vec![1])]);
    assert!(table.is_empty());
    assert_eq!(table.queued(), 0);
    check_invariants(&table);
}

#[test]
fn expire_returns_locks_in_the_order_their_leases_ran_out() {
    let t0 = Instant::now();
    let mut table: LockTable<&str, u32> = LockTable::new();
    table.lock("z", "ana", t0, secs(1)).unwrap();
    table.lock("a", "ana", t0, secs(3)).unwrap();
    table.lock("m", "bo", t0, secs(2)).unwrap();
    table.lock("keep", "bo", t0, secs(9)).unwrap();
    let keys: Vec<&str> = table
        .expire(t0 + secs(5))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["z", "m", "a"]);
    assert_eq!(table.len(), 1);
    check_invariants(&table);
}

#[test]
fn a_lapsed_lease_must_be_expired_before_the_file_is_locked_again() {
    let t0 = Instant::now();
    let mut table: LockTable<&str, u32> = LockTable::new();
    table.lock("a", "ana", t0, secs(10)).unwrap();
    table.hold(&"a", 1).unwrap();
    let late = t0 + secs(12);
    let lapsed = Err(LockError::Lapsed {
        by: "ana".into(),
        ago: secs(2),
    });
    assert_eq!(table.lock("a", "bo", late, LEASE), lapsed);
    assert_eq!(table.lock("a", "ana", late, LEASE), lapsed);
    assert_eq!(table.renew(&"a", "ana", late, LEASE), lapsed);
    // Not expired yet, so updates still queue behind it.
    table.hold(&"a", 2).unwrap();

    assert_eq!(table.expire(late), vec![("a", vec![1, 2])]);
    let info = table.lock("a", "bo", late, LEASE).unwrap();
    assert_eq!(info.locked_since, late);
    assert_eq!(table.queued_for(&"a"), 0);
    check_invariants(&table);
}

#[test]
fn the_owner_can_still_unlock_a_lapsed_lease() {
    let t0 = Instant::now();
    let mut table: LockTable<&str, u32> = LockTable::new();
    table.lock("a", "ana", t0, secs(1)).unwrap();
    table.hold(&"a", 7).unwrap();
    assert!(table.get(&"a").unwrap().has_lapsed(t0 + secs(2)));
    assert_eq!(table.unlock(&"a", "ana"), Ok(vec![7]));
    assert!(table.expire(t0 + secs(2)).is_empty());
    check_invariants(&table);
}

#[test]
fn force_unlock_breaks_anyones_lock() {
    let t0 = Instant::now();
    let mut table: LockTable<&str, u32> = LockTable::new();
    table.lock("a", "ana", t0, LEASE).unwrap();
    table.lock("b", "bo", t0, LEASE).unwrap();
    table.hold(&"a", 1).unwrap();
    table.hold(&"b", 2).unwrap();
    table.hold(&"a", 3).unwrap();
    assert_eq!(table.force_unlock(&"a"), Ok(vec![1, 3]));
    assert_eq!(table.force_unlock(&"a"), Err(LockError::NotLocked));
    assert_eq!(table.force_unlock(&"nope"), Err(LockError::NotLocked));
    // The other lock and its queue are untouched.
    assert!(table.is_locked(&"b"));
    assert_eq!(table.queued(), 1);
    assert_eq!(table.next_expiry(), Some(t0 + LEASE));
    // The file is free for anyone now.
    table.lock("a", "bo", t0 + secs(1), LEASE).unwrap();
    check_invariants(&table);
}

#[test]
fn only_the_owner_may_renew_or_unlock() {
    let t0 = Instant::now();
    let mut table: LockTable<&str, u32> = LockTable::new();
    table.lock("a", "ana", t0, LEASE).unwrap();
    table.hold(&"a", 1).unwrap();

    assert_eq!(
        table.lock("a", "bo", t0 + secs(10), LEASE),
        Err(LockError::Held {
            by: "ana".into(),
            expires_in: secs(20),
        })
    );
    let not_owner = LockError::NotOwner { by: "ana".into() };
    assert_eq!(table.unlock(&"a", "bo"), Err(not_owner.clone()));
    assert_eq!(table.renew(&"a", "bo", t0, LEASE), Err(not_owner));
    assert_eq!(table.unlock(&"b", "ana"), Err(LockError::NotLocked));
    assert_eq!(
        table.renew(&"b", "ana", t0, LEASE),
        Err(LockError::NotLocked)
    );

    // Nothing changed: still ana's, same expiry, queue intact.
    let info = table.get(&"a").unwrap();
    assert_eq!(info.owner, "ana");
    assert_eq!(info.expires_at, t0 + LEASE);
    assert_eq!(table.unlock(&"a", "ana"), Ok(vec![1]));
    check_invariants(&table);
}

#[test]
fn leases_that_cannot_be_granted_are_refused() {
    let t0 = Instant::now();
    let mut table: LockTable<&str, u32> = LockTable::new();
    assert_eq!(
        table.lock("a", "ana", t0, Duration::ZERO),
        Err(LockError::ZeroLease)
    );
    assert_eq!(
        table.lock("a", "ana", t0, Duration::MAX),
        Err(LockError::LeaseTooLong {
            lease: Duration::MAX
        })
    );
    assert!(table.is_empty());
    table.lock("a", "ana", t0, LEASE).unwrap();
    assert_eq!(
        table.renew(&"a", "ana", t0, Duration::ZERO),
        Err(LockError::ZeroLease)
    );
    assert_eq!(table.get(&"a").unwrap().expires_at, t0 + LEASE);
    check_invariants(&table);
}

#[test]
fn errors_read_as_sentences() {
    let held = LockError::Held {
        by: "ana".into(),
        expires_in: secs(3),
    };
    assert_eq!(held.to_string(), "locked by ana for another 3 s");
    assert_eq!(
        LockError::NotOwner { by: "ana".into() }.to_string(),
        "the lock belongs to ana"
    );
}

#[test]
fn snapshot_and_restore_round_trip_as_durations() {
    let t0 = Instant::now();
    let mut table: LockTable<String, u32> = LockTable::new();
    table.lock("a".into(), "ana", t0, secs(30)).unwrap();
    table
        .lock("b".into(), "bo", t0 + secs(5), secs(10))
        .unwrap();
    table.lock("c".into(), "cy", t0, secs(1)).unwrap();
    for (key, update) in [("a", 1), ("b", 2), ("a", 3), ("c", 4)] {
        table.hold(&key.to_string(), update).unwrap();
    }

    // Saved at t0+10, restored after a restart, at some other instant.
    let saved_at = t0 + secs(10);
    let saved: Vec<(String, SavedLock, Vec<u32>)> = table
        .snapshot()
        .into_iter()
        .map(|(key, info, queue)| (key, info.save(saved_at), queue))
        .collect();
    assert_eq!(
        saved[0].1,
        SavedLock {
            owner: "ana".into(),
            remaining: secs(20),
            held_for: secs(10),
        }
    );
    assert_eq!(saved[2].1.remaining, Duration::ZERO); // c had lapsed

    let t1 = t0 + secs(1000);
    let mut restored = LockTable::restore(saved, t1).unwrap();
    check_invariants(&restored);
    assert_eq!(restored.len(), 3);
    assert_eq!(restored.queued(), 4);
    let a = restored.get(&"a".into()).unwrap();
    assert_eq!(a.owner, "ana");
    assert_eq!(a.expires_at, t1 + secs(20));
    assert_eq!(a.locked_since, t1 - secs(10));
    assert_eq!(restored.get(&"b".into()).unwrap().remaining(t1), secs(5));

    // The lease that lapsed before the restart hands back its queue at once.
    assert_eq!(restored.expire(t1), vec![("c".to_string(), vec![4])]);
    assert_eq!(restored.unlock(&"a".into(), "ana"), Ok(vec![1, 3]));
    assert_eq!(restored.unlock(&"b".into(), "bo"), Ok(vec![2]));
    check_invariants(&restored);
}

#[test]
fn restore_refuses_damaged_state() {
    let now = Instant::now();
    let saved = |remaining| SavedLock {
        owner: "ana".into(),
        remaining,
        held_for: Duration::ZERO,
    };
    let twice = vec![
        ("a", saved(LEASE), vec![1u32]),
        ("a", saved(LEASE), vec![2]),
    ];
    assert_eq!(
        LockTable::restore(twice, now).unwrap_err(),
        RestoreError::DuplicateKey { index: 1 }
    );
    let too_long = vec![
        ("a", saved(LEASE), vec![1u32]),
        ("b", saved(Duration::MAX), vec![]),
    ];
    assert_eq!(
        LockTable::restore(too_long, now).unwrap_err(),
        RestoreError::LeaseTooLong {
            index: 1,
            remaining: Duration::MAX
        }
    );
    // Held since before the clock's origin: clamped to now, not a failure.
    let ancient = SavedLock {
        owner: "ana".into(),
        remaining: LEASE,
        held_for: Duration::MAX,
    };
    let table = LockTable::<&str, u32>::restore([("a", ancient, vec![])], now).unwrap();
    assert_eq!(table.get(&"a").unwrap().locked_since, now);
}

/// One step of a random session.
#[derive(Clone, Debug)]
enum Op {
    Lock { key: u8, owner: u8, lease_ms: u64 },
    Renew { key: u8, owner: u8, lease_ms: u64 },
    Unlock { key: u8, owner: u8 },
    Force { key: u8 },
    Hold { key: u8 },
    Advance { ms: u64 },
    Expire,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..3;
    let owner = 0u8..2;
    // Holds are weighted up so queues grow long enough to be worth checking.
    prop_oneof![
        2 => (key.clone(), owner.clone(), 1u64..50)
            .prop_map(|(key, owner, lease_ms)| Op::Lock { key, owner, lease_ms }),
        1 => (key.clone(), owner.clone(), 1u64..50)
            .prop_map(|(key, owner, lease_ms)| Op::Renew { key, owner, lease_ms }),
        1 => (key.clone(), owner).prop_map(|(key, owner)| Op::Unlock { key, owner }),
        1 => key.clone().prop_map(|key| Op::Force { key }),
        4 => key.prop_map(|key| Op::Hold { key }),
        1 => (0u64..30).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Expire),
        1 => Just(Op::Restart),
    ]
}

/// The reference: a plain map from key to (owner, expiry, queue).
#[derive(Default)]
struct Model {
    locks: BTreeMap<u8, (String, Instant, Vec<u32>)>,
}

impl Model {
    /// Ends the lock on `key`, returning its queue.
    fn take(&mut self, key: u8) -> Option<Vec<u32>> {
        self.locks.remove(&key).map(|(_, _, queue)| queue)
    }

    fn lock(
        &mut self,
        key: u8,
        owner: &str,
        now: Instant,
        lease: Duration,
    ) -> Result<(), LockError> {
        match self.locks.get_mut(&key) {
            None => {
                self.locks
                    .insert(key, (owner.into(), now + lease, Vec::new()));
                Ok(())
            }
            Some((by, at, _)) if *at <= now => Err(LockError::Lapsed {
                by: by.clone(),
                ago: now - *at,
            }),
            Some((by, at, _)) if by != owner => Err(LockError::Held {
                by: by.clone(),
                expires_in: *at - now,
            }),
            Some((_, at, _)) => {
                *at = now + lease;
                Ok(())
            }
        }
    }

    fn renew(
        &mut self,
        key: u8,
        owner: &str,
        now: Instant,
        lease: Duration,
    ) -> Result<(), LockError> {
        match self.locks.get_mut(&key) {
            None => Err(LockError::NotLocked),
            Some((by, _, _)) if by != owner => Err(LockError::NotOwner { by: by.clone() }),
            Some((by, at, _)) if *at <= now => Err(LockError::Lapsed {
                by: by.clone(),
                ago: now - *at,
            }),
            Some((_, at, _)) => {
                *at = now + lease;
                Ok(())
            }
        }
    }
}

/// Records a batch of updates handed back for `key`: each must be
/// delivered for the first time, and the key must no longer be locked.
fn deliver(
    delivered: &mut Vec<u32>,
    table: &LockTable<u8, u32>,
    key: u8,
    updates: &[u32],
) -> Result<(), TestCaseError> {
    prop_assert!(
        !table.is_locked(&key),
        "updates for {} returned while locked",
        key
    );
    for &u in updates {
        prop_assert!(!delivered.contains(&u), "update {} returned twice", u);
        delivered.push(u);
    }
    Ok(())
}

proptest! {
    /// Random sessions against a reference model: every answer matches,
    /// every held update comes back exactly once, in the order it was held
    /// for its key, and never while its key is locked.
    #[test]
    fn every_held_update_comes_back_once_in_order(ops in proptest::collection::vec(op(), 1..80)) {
        let owners = ["ana", "bo"];
        let mut now = Instant::now();
        let mut table: LockTable<u8, u32> = LockTable::new();
        let mut model = Model::default();
        let mut next_update = 0u32;
        let mut delivered: Vec<u32> = Vec::new();

        for op in &ops {
            match *op {
                Op::Lock { key, owner, lease_ms } => {
                    let lease = Duration::from_millis(lease_ms);
                    let got = table.lock(key, owners[owner as usize], now, lease).map(|_| ());
                    prop_assert_eq!(got, model.lock(key, owners[owner as usize], now, lease));
                }
                Op::Renew { key, owner, lease_ms } => {
                    let lease = Duration::from_millis(lease_ms);
                    let got = table.renew(&key, owners[owner as usize], now, lease).map(|_| ());
                    prop_assert_eq!(got, model.renew(key, owners[owner as usize], now, lease));
                }
                Op::Unlock { key, owner } => {
                    let owner = owners[owner as usize];
                    let got = table.unlock(&key, owner);
                    match model.locks.get(&key) {
                        None => prop_assert_eq!(got, Err(LockError::NotLocked)),
                        Some((by, _, _)) if by != owner => {
                            prop_assert_eq!(got, Err(LockError::NotOwner { by: by.clone() }));
                        }
                        Some(_) => {
                            let queue = model.take(key);
                            prop_assert_eq!(got.clone().ok(), queue);
                            let got = got.unwrap_or_default();
                            deliver(&mut delivered, &table, key, &got)?;
                        }
                    }
                }
                Op::Force { key } => {
                    let got = table.force_unlock(&key);
                    match model.take(key) {
                        None => prop_assert_eq!(got, Err(LockError::NotLocked)),
                        Some(queue) => {
                            prop_assert_eq!(got.clone(), Ok(queue));
                            let got = got.unwrap_or_default();
                            deliver(&mut delivered, &table, key, &got)?;
                        }
                    }
                }
                Op::Hold { key } => {
                    let update = next_update;
                    next_update += 1;
                    let got = table.hold(&key, update);
                    match model.locks.get_mut(&key) {
                        Some((_, _, queue)) => {
                            prop_assert_eq!(got, Ok(()));
                            queue.push(update);
                        }
                        None => {
                            prop_assert_eq!(got, Err(update));
                            deliver(&mut delivered, &table, key, &[update])?;
                        }
                    }
                }
                Op::Advance { ms } => now += Duration::from_millis(ms),
                Op::Expire => {
                    let mut want: Vec<(Instant, u8)> = model
                        .locks
                        .iter()
                        .filter(|(_, (_, at, _))| *at <= now)
                        .map(|(key, (_, at, _))| (*at, *key))
                        .collect();
                    want.sort();
                    let got = table.expire(now);
                    prop_assert_eq!(
                        got.iter().map(|(key, _)| *key).collect::<Vec<_>>(),
                        want.iter().map(|(_, key)| *key).collect::<Vec<_>>()
                    );
                    for (key, updates) in &got {
                        prop_assert_eq!(Some(updates.clone()), model.take(*key));
                        deliver(&mut delivered, &table, *key, updates)?;
                    }
                }
                Op::Restart => {
                    let saved: Vec<_> = table
                        .snapshot()
                        .into_iter()
                        .map(|(key, info, queue)| (key, info.save(now), queue))
                        .collect();
                    table = LockTable::restore(saved, now).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    // A lapsed lease comes back lapsed, as of now.
                    for (_, at, _) in model.locks.values_mut() {
                        *at = (*at).max(now);
                    }
                }
            }

            check_invariants(&table);
            prop_assert_eq!(table.len(), model.locks.len());
            prop_assert_eq!(
                table.queued(),
                model.locks.values().map(|(_, _, q)| q.len()).sum::<usize>()
            );
            prop_assert_eq!(
                table.next_expiry(),
                model.locks.values().map(|(_, at, _)| *at).min()
            );
            let got: Vec<(u8, String, Instant)> = table
                .locked()
                .map(|(key, info)| (*key, info.owner.clone(), info.expires_at))
                .collect();
            let want: Vec<(u8, String, Instant)> = model
                .locks
                .iter()
                .map(|(key, (owner, at, _))| (*key, owner.clone(), *at))
                .collect();
            prop_assert_eq!(got, want);
        }

        // Wind down: every lock ends, and then every update has come back once.
        for (key, updates) in table.expire(now + Duration::from_secs(3600)) {
            prop_assert_eq!(Some(updates.clone()), model.take(key));
            deliver(&mut delivered, &table, key, &updates)?;
        }
        prop_assert!(table.is_empty());
        prop_assert_eq!(table.queued(), 0);
        delivered.sort_unstable();
        prop_assert_eq!(delivered, (0..next_update).collect::<Vec<_>>());
    }
}
