use super::*;

/// Two books on one file, as two nodes of one machine open it.
fn two_nodes() -> (tempfile::TempDir, LockBook, LockBook) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shared").join("convene.db");
    let a = LockBook::open(&file).unwrap();
    let b = LockBook::open(&file).unwrap();
    (dir, a, b)
}

fn lock(path: &str, owner: &str) -> BookLock {
    BookLock {
        path: path.into(),
        owner: owner.into(),
        expires_ms: 1_000,
    }
}

#[test]
fn the_first_claim_wins_and_later_ones_see_it() {
    let (_dir, a, b) = two_nodes();
    assert_eq!(a.holder().unwrap(), None);
    let first = a.claim_first("A").unwrap();
    assert_eq!((first.node.as_str(), first.token), ("A", 1));
    assert_eq!(b.claim_first("B").unwrap(), first, "B finds A first");
    assert_eq!(b.holder().unwrap(), Some(first));
}

#[test]
fn a_stale_holder_cannot_grant_a_lock_the_new_holder_grants() {
    let (_dir, a, b) = two_nodes();
    let old = a.claim_first("A").unwrap();
    a.put_lock(old.token, &lock("a.txt", "alice")).unwrap();
    // A is cut off; the coordinator of term 3 gives the role to B.
    let new = b.hand_over(old.token, "B", 3).unwrap().unwrap();
    assert_eq!((new.node.as_str(), new.token, new.term), ("B", 2, 3));
    // B, restoring from the book, still sees alice's lock.
    assert_eq!(b.locks().unwrap(), [lock("a.txt", "alice")]);
    b.put_lock(new.token, &lock("b.txt", "bob")).unwrap();
    // A, not knowing, tries to grant b.txt to carol: refused, nothing stored.
    let fenced = a.put_lock(old.token, &lock("b.txt", "carol"));
    assert_eq!(fenced, Err(BookError::Fenced { holder: "B".into() }));
    for refused in [
        a.release_lock(old.token, "a.txt"),
        a.forget_lock(old.token, "a.txt"),
        a.hold(
            old.token,
            "a.txt",
            &BookHeld {
                update: b"u".to_vec(),
                content: None,
            },
        )
        .map(|_| ()),
    ] {
        assert!(
            matches!(refused, Err(BookError::Fenced { .. })),
            "{refused:?}"
        );
    }
    assert_eq!(
        a.locks().unwrap(),
        [lock("a.txt", "alice"), lock("b.txt", "bob")]
    );
    assert!(a.held("a.txt").unwrap().is_empty());
}

#[test]
fn a_hand_over_needs_the_token_seen_and_no_later_term() {
    let (_dir, a, b) = two_nodes();
    let first = a.claim_first("A").unwrap();
    let by_five = b.hand_over(first.token, "B", 5).unwrap().unwrap();
    // A second coordinator that saw the old token changes nothing.
    assert_eq!(a.hand_over(first.token, "C", 6).unwrap(), None);
    // A coordinator of an older term cannot undo term 5's choice.
    assert_eq!(a.hand_over(by_five.token, "A", 4).unwrap(), None);
    assert_eq!(b.holder().unwrap(), Some(by_five.clone()));
    // A later term can, and the token moves on again.
    let back = a.hand_over(by_five.token, "A", 6).unwrap().unwrap();
    assert_eq!((back.node.as_str(), back.token), ("A", 3));
    // B, back from the dead with token 2, is refused.
    assert!(matches!(
        b.put_lock(by_five.token, &lock("x", "bob")),
        Err(BookError::Fenced { .. })
    ));
}

#[test]
fn held_updates_keep_their_content_and_order_and_go_with_their_lock() {
    let (_dir, a, b) = two_nodes();
    let token = a.claim_first("A").unwrap().token;
    let held = |n: u8| BookHeld {
        update: vec![n],
        content: (n != 2).then(|| vec![n; 3]),
    };
    assert_eq!(a.hold(token, "a.txt", &held(1)), Ok(false), "not locked");
    a.put_lock(token, &lock("a.txt", "alice")).unwrap();
    a.put_lock(token, &lock("b.txt", "bob")).unwrap();
    for n in 1..=3 {
        assert_eq!(a.hold(token, "a.txt", &held(n)), Ok(true));
    }
    assert_eq!(a.hold(token, "b.txt", &held(9)), Ok(true));
    // Another node reads them, in arrival order, deletion included.
    assert_eq!(b.held("a.txt").unwrap(), [held(1), held(2), held(3)]);
    a.release_lock(token, "a.txt").unwrap();
    assert_eq!(b.locks().unwrap()[0].expires_ms, 0, "released, not applied");
    assert_eq!(b.held("a.txt").unwrap().len(), 3, "kept until applied");
    a.forget_lock(token, "a.txt").unwrap();
    assert!(b.held("a.txt").unwrap().is_empty());
    assert_eq!(b.locks().unwrap(), [lock("b.txt", "bob")]);
    assert_eq!(b.held("b.txt").unwrap(), [held(9)]);
}

#[test]
fn only_sqlite_urls_name_a_file() {
    assert_eq!(
        LockBook::sqlite_file("sqlite:///var/c/convene.db"),
        Some(PathBuf::from("/var/c/convene.db"))
    );
    assert_eq!(
        LockBook::sqlite_file("sqlite://rel/c.db"),
        Some(PathBuf::from("rel/c.db"))
    );
    assert_eq!(LockBook::sqlite_file("sqlite::memory:"), None);
    assert_eq!(LockBook::sqlite_file("postgres://u@h/d"), None);
}
