use super::*;

fn open(dir: &tempfile::TempDir) -> SqliteBookingDb {
    SqliteBookingDb::open(&dir.path().join("shared").join("cluster.db")).unwrap()
}

fn booking(id: &str, facility: &str, start: u32, cancelled: bool) -> BookingRow {
    BookingRow {
        id: id.into(),
        facility: facility.into(),
        start,
        end: start + 60,
        original_end: start + 60,
        cancelled,
    }
}

fn write(facility: &str, token: u64, b: Option<BookingRow>, client: &str, id: u32) -> FencedWrite {
    FencedWrite {
        facility: facility.into(),
        token,
        booking: b,
        created: false,
        reply: Some(ReplyRow {
            client: client.into(),
            request_id: id,
            checksum: 7,
            reply: vec![1, 2, 3],
            created_ms: 1_000,
        }),
        forget: Vec::new(),
    }
}

/// Two handles on one file stand for two node processes.
#[test]
fn a_stale_owner_cannot_write_after_the_facility_moves() {
    let dir = tempfile::tempdir().unwrap();
    let (node0, node1) = (open(&dir), open(&dir));
    let first = node0.claim_unowned("Room A", 0).unwrap();
    assert_eq!((first.node, first.token), (0, 1));
    // A second claim finds it owned and changes nothing.
    assert_eq!(node1.claim_unowned("Room A", 1).unwrap(), first);

    let b = booking("CONF0-1", "Room A", 600, false);
    assert_eq!(
        node0
            .commit(&[write("Room A", 1, Some(b.clone()), "10.0.0.1:5", 1)])
            .unwrap(),
        vec![Committed::Stored]
    );
    let moved = node1.assign("Room A", 1, 5).unwrap();
    assert_eq!((moved.node, moved.token), (1, 2));
    // Assigning to the same owner again keeps the token.
    assert_eq!(node1.assign("Room A", 1, 5).unwrap().token, 2);

    // Node 0 has not heard: its write (a cancel) is refused, node 1's kept.
    let cancel = booking("CONF0-1", "Room A", 600, true);
    assert_eq!(
        node0
            .commit(&[write("Room A", 1, Some(cancel.clone()), "10.0.0.1:5", 2)])
            .unwrap(),
        vec![Committed::Fenced]
    );
    assert_eq!(node1.live_bookings("Room A").unwrap(), vec![b]);
    assert_eq!(
        node1
            .commit(&[write("Room A", 2, Some(cancel.clone()), "10.0.0.1:5", 2)])
            .unwrap(),
        vec![Committed::Stored]
    );
    assert!(node1.live_bookings("Room A").unwrap().is_empty());
    assert_eq!(node0.booking("CONF0-1").unwrap(), Some(cancel));
    // Only the replies of committed writes are kept.
    let kept = node1.replies("Room A", 0).unwrap();
    let mut ids: Vec<u32> = kept.iter().map(|r| r.request_id).collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn one_batch_stores_the_current_owners_writes_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    db.claim_unowned("A", 0).unwrap();
    db.claim_unowned("B", 0).unwrap();
    db.assign("B", 2, 1).unwrap();
    let outcomes = db
        .commit(&[
            write("A", 1, Some(booking("x", "A", 0, false)), "c:1", 1),
            write("B", 1, Some(booking("y", "B", 0, false)), "c:1", 2),
            write(
                "Nowhere",
                1,
                Some(booking("z", "Nowhere", 0, false)),
                "c:1",
                3,
            ),
        ])
        .unwrap();
    assert_eq!(
        outcomes,
        vec![Committed::Stored, Committed::Fenced, Committed::Fenced]
    );
    assert!(db.booking("y").unwrap().is_none());
    assert!(db.booking("z").unwrap().is_none());
    assert_eq!(db.owners().unwrap().len(), 2);
}

#[test]
fn replies_are_loaded_per_facility_and_pruned_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    db.claim_unowned("A", 0).unwrap();
    db.claim_unowned("B", 0).unwrap();
    let mut old = write("A", 1, None, "c:1", 1);
    old.reply.as_mut().unwrap().created_ms = 10;
    db.commit(&[old, write("B", 1, None, "c:1", 2)]).unwrap();
    assert_eq!(db.replies("A", 0).unwrap().len(), 1);
    assert!(db.replies("A", 11).unwrap().is_empty());
    assert_eq!(db.prune_replies(11).unwrap(), 1);
    assert!(db.replies("A", 0).unwrap().is_empty());
    assert_eq!(db.replies("B", 0).unwrap()[0].request_id, 2);
    // A write may drop replies the owner's record let go of.
    let mut w = write("B", 1, None, "c:1", 3);
    w.forget.push(("c:1".into(), 2));
    db.commit(&[w]).unwrap();
    let left: Vec<u32> = db
        .replies("B", 0)
        .unwrap()
        .iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(left, vec![3]);
}

#[test]
fn import_keeps_what_the_database_has_and_reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    let rows = vec![booking("a", "A", 0, false), booking("b", "A", 100, true)];
    assert_eq!(db.import(&rows).unwrap(), 2);
    assert_eq!(db.import(&rows).unwrap(), 0);
    drop(db);
    let again = open(&dir);
    assert_eq!(again.live_bookings("A").unwrap(), vec![rows[0].clone()]);
    assert_eq!(again.booking("b").unwrap(), Some(rows[1].clone()));
}

#[test]
fn a_corrupt_row_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    db.import(&[BookingRow {
        end: 99_999,
        ..booking("bad", "A", 0, false)
    }])
    .unwrap();
    assert!(matches!(
        db.live_bookings("A"),
        Err(BookingDbError::Corrupt { .. })
    ));
    assert!(matches!(
        db.booking("bad"),
        Err(BookingDbError::Corrupt { .. })
    ));
}

#[test]
fn a_file_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(&dir));
    let path = dir.path().join("shared").join("cluster.db");
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO convene_booking_schema (version) VALUES (99)",
            [],
        )
        .unwrap();
    assert!(matches!(
        SqliteBookingDb::open(&path),
        Err(BookingDbError::TooNew { found: 99, .. })
    ));
}

#[test]
fn a_new_booking_never_overwrites_a_stored_one_with_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    db.claim_unowned("A", 0).unwrap();
    let first = booking("CONF0-1", "A", 0, true);
    db.commit(&[write("A", 1, Some(first.clone()), "c:1", 1)])
        .unwrap();
    let mut clash = write("A", 1, Some(booking("CONF0-1", "A", 600, false)), "c:1", 2);
    clash.created = true;
    assert!(db.commit(&[clash]).is_err(), "the batch fails");
    assert_eq!(db.booking("CONF0-1").unwrap(), Some(first));
}

#[test]
fn an_assignment_of_an_older_term_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    db.claim_unowned("A", 0).unwrap();
    let moved = db.assign("A", 1, 7).unwrap();
    assert_eq!((moved.node, moved.token, moved.term), (1, 2, 7));
    // A coordinator of term 6, paused past its authority, wakes up.
    let stale = db.assign("A", 2, 6).unwrap();
    assert_eq!(stale, moved, "nothing changed");
    // The same term, or a later one, may move it.
    let back = db.assign("A", 0, 7).unwrap();
    assert_eq!((back.node, back.token, back.term), (0, 3, 7));
}
