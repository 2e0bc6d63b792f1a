//! The files lock book behaves the same on every engine: the first claim,
//! hand-overs by token and term, the fence, held updates with and without
//! content, in order, and paths as long as the files service allows.
//!
//! A server's book has one holder row for everyone who uses the database,
//! so the test takes the role over from whoever holds it (by its token),
//! and names everything with a random prefix.

use std::sync::Arc;

use convene_files::service::lock_book::{BookError, BookHeld, BookLock, LockBook, LockBookDb};

use crate::service_url;

fn lock(path: &str, owner: &str, expires_ms: i64) -> BookLock {
    BookLock {
        path: path.into(),
        owner: owner.into(),
        expires_ms,
    }
}

fn the_book_holds(a: &dyn LockBookDb, b: &dyn LockBookDb) {
    let p = format!("t{:016x}", convene_rpc::os_random_u64());
    let now = match a.holder().unwrap() {
        Some(row) => row,
        None => a.claim_first(&format!("{p}-first")).unwrap(),
    };
    assert_eq!(
        b.claim_first("someone else").unwrap(),
        now,
        "the first claim stands"
    );
    let (node_a, node_b) = (format!("{p}-A"), format!("{p}-B"));
    let mine = a.hand_over(now.token, &node_a, now.term).unwrap().unwrap();
    assert_eq!(
        (mine.node.as_str(), mine.token),
        (node_a.as_str(), now.token + 1)
    );
    assert_eq!(
        a.hand_over(now.token, &node_b, now.term).unwrap(),
        None,
        "stale token"
    );

    let (file, other) = (format!("{p}/a.txt"), format!("{p}/b.txt"));
    a.put_lock(mine.token, &lock(&file, "alice", 1_000))
        .unwrap();
    a.put_lock(mine.token, &lock(&file, "alice", 2_000))
        .unwrap();
    let ours = |book: &dyn LockBookDb| -> Vec<BookLock> {
        book.locks()
            .unwrap()
            .into_iter()
            .filter(|l| l.path.starts_with(&p))
            .collect()
    };
    assert_eq!(
        ours(b),
        [lock(&file, "alice", 2_000)],
        "renewed, not doubled"
    );

    // B is chosen under a later term; A, not knowing, is refused.
    let theirs = b
        .hand_over(mine.token, &node_b, now.term + 1)
        .unwrap()
        .unwrap();
    assert_eq!(theirs.term, now.term + 1);
    assert_eq!(
        a.put_lock(mine.token, &lock(&other, "carol", 1)),
        Err(BookError::Fenced {
            holder: node_b.clone()
        })
    );
    assert!(matches!(
        a.release_lock(mine.token, &file),
        Err(BookError::Fenced { .. })
    ));
    // An older term cannot take it back, even with the current token.
    assert_eq!(a.hand_over(theirs.token, &node_a, now.term).unwrap(), None);

    let edit = BookHeld {
        update: vec![1, 2, 3],
        content: Some(b"new text".to_vec()),
    };
    let delete = BookHeld {
        update: vec![4],
        content: None,
    };
    let empty = BookHeld {
        update: vec![5],
        content: Some(Vec::new()),
    };
    for held in [&edit, &delete, &empty] {
        assert!(b.hold(theirs.token, &file, held).unwrap());
    }
    assert!(!b.hold(theirs.token, &other, &edit).unwrap(), "not locked");
    assert_eq!(a.held(&file).unwrap(), [edit, delete, empty]);

    b.release_lock(theirs.token, &file).unwrap();
    assert_eq!(ours(a), [lock(&file, "alice", 0)]);
    b.forget_lock(theirs.token, &file).unwrap();
    assert!(ours(a).is_empty());
    assert!(a.held(&file).unwrap().is_empty());

    // As long a path as the files service takes.
    let long = format!("{p}/{}", "x/".repeat(2_000));
    b.put_lock(theirs.token, &lock(&long, "alice", 5)).unwrap();
    assert_eq!(ours(a), [lock(&long, "alice", 5)]);
    b.forget_lock(theirs.token, &long).unwrap();
}

async fn run(a: Arc<dyn LockBookDb>, b: Arc<dyn LockBookDb>) {
    tokio::task::spawn_blocking(move || the_book_holds(&*a, &*b))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_book_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.db");
    let open = || -> Arc<dyn LockBookDb> { Arc::new(LockBook::open(&path).unwrap()) };
    run(open(), open()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_book_on_mysql() {
    let Some(url) = service_url("CONVENE_TEST_MYSQL_URL") else {
        return;
    };
    let a = convene_eventdb::open_lock_book(&url).await.unwrap();
    let b = convene_eventdb::open_lock_book(&url).await.unwrap();
    run(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_book_on_postgres() {
    let Some(url) = service_url("CONVENE_TEST_POSTGRES_URL") else {
        return;
    };
    let a = convene_eventdb::open_lock_book(&url).await.unwrap();
    let b = convene_eventdb::open_lock_book(&url).await.unwrap();
    run(a, b).await;
}
