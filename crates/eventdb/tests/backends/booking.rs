//! The booking tables behave the same on every engine: the fence, claims,
//! kept replies by facility, and ids that never overwrite.
//!
//! Servers are shared with whatever else runs, so every name here carries
//! a random prefix.

use std::sync::Arc;

use convene_booking::db::sqlite::SqliteBookingDb;
use convene_booking::db::{BookingDb, BookingRow, Committed, FencedWrite, ReplyRow};

use crate::service_url;

fn unique() -> String {
    format!("t{:016x}", convene_rpc::os_random_u64())
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
            checksum: u64::MAX - 1,
            reply: vec![0, 1, 2, 255],
            created_ms: 1_000,
        }),
        forget: Vec::new(),
    }
}

/// Two handles on one database stand for two nodes.
fn the_fence_holds(node0: &dyn BookingDb, node1: &dyn BookingDb) {
    let p = unique();
    let (room, other) = (format!("{p} Room"), format!("{p} room"));
    let first = node0.claim_unowned(&room, 0).unwrap();
    assert_eq!((first.node, first.token), (0, 1));
    assert_eq!(node1.claim_unowned(&room, 1).unwrap(), first);
    // Names are exact: another case is another facility.
    assert_eq!(node1.claim_unowned(&other, 1).unwrap().node, 1);

    let id = format!("{p}-1");
    let b = booking(&id, &room, 600, false);
    let mut made = write(&room, 1, Some(b.clone()), "10.0.0.1:5", 1);
    made.created = true;
    assert_eq!(
        node0.commit(&[made.clone()]).unwrap(),
        vec![Committed::Stored]
    );
    // A new booking never overwrites one with its id.
    assert!(node0.commit(&[made]).is_err());

    let moved = node1.assign(&room, 1, 5).unwrap();
    assert_eq!((moved.node, moved.token), (1, 2));
    assert_eq!(node1.assign(&room, 1, 5).unwrap().token, 2);
    assert!(node0.owners().unwrap().contains(&moved));

    let cancel = booking(&id, &room, 600, true);
    assert_eq!(
        node0
            .commit(&[write(&room, 1, Some(cancel.clone()), "10.0.0.1:5", 2)])
            .unwrap(),
        vec![Committed::Fenced]
    );
    assert_eq!(node1.live_bookings(&room).unwrap(), vec![b]);
    assert_eq!(
        node1
            .commit(&[
                write(&room, 2, Some(cancel.clone()), "10.0.0.1:5", 2),
                write(&other, 1, None, "10.0.0.1:5", 3),
                write(&other, 9, None, "10.0.0.1:5", 4),
            ])
            .unwrap(),
        vec![Committed::Stored, Committed::Stored, Committed::Fenced]
    );
    assert!(node1.live_bookings(&room).unwrap().is_empty());
    assert_eq!(node0.booking(&id).unwrap(), Some(cancel));
    assert_eq!(node0.booking(&format!("{p}-none")).unwrap(), None);

    let mut kept: Vec<u32> = node1
        .replies(&room, 0)
        .unwrap()
        .iter()
        .map(|r| r.request_id)
        .collect();
    kept.sort();
    assert_eq!(kept, vec![1, 2]);
    let reply = &node1.replies(&other, 0).unwrap()[0];
    assert_eq!(
        (reply.checksum, reply.reply.as_slice()),
        (u64::MAX - 1, &[0u8, 1, 2, 255][..])
    );

    // Dropping replies: named ones, and old ones.
    let mut w = write(&room, 2, None, "10.0.0.1:5", 5);
    w.forget.push(("10.0.0.1:5".into(), 1));
    node1.commit(&[w]).unwrap();
    let mut kept: Vec<u32> = node1
        .replies(&room, 0)
        .unwrap()
        .iter()
        .map(|r| r.request_id)
        .collect();
    kept.sort();
    assert_eq!(kept, vec![2, 5]);
    assert!(node1.replies(&room, 1_001).unwrap().is_empty());

    let imported = vec![
        booking(&format!("{p}-i1"), &room, 2_000, false),
        booking(&id, &room, 3_000, false),
    ];
    assert_eq!(
        node0.import(&imported).unwrap(),
        1,
        "the database's row wins"
    );

    // A coordinator of an older term cannot move the facility back; a
    // later one can.
    let stale = node0.assign(&room, 0, 4).unwrap();
    assert_eq!((stale.node, stale.token, stale.term), (1, 2, 5));
    let later = node0.assign(&room, 0, 6).unwrap();
    assert_eq!((later.node, later.token, later.term), (0, 3, 6));
    assert_eq!(
        node0.live_bookings(&room).unwrap(),
        vec![imported[0].clone()]
    );
}

async fn run(node0: Arc<dyn BookingDb>, node1: Arc<dyn BookingDb>) {
    tokio::task::spawn_blocking(move || the_fence_holds(&*node0, &*node1))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_tables_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.db");
    let open = || -> Arc<dyn BookingDb> { Arc::new(SqliteBookingDb::open(&path).unwrap()) };
    run(open(), open()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_tables_on_mysql() {
    let Some(url) = service_url("CONVENE_TEST_MYSQL_URL") else {
        return;
    };
    let a = convene_eventdb::open_booking(&url).await.unwrap();
    let b = convene_eventdb::open_booking(&url).await.unwrap();
    run(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_tables_on_postgres() {
    let Some(url) = service_url("CONVENE_TEST_POSTGRES_URL") else {
        return;
    };
    let a = convene_eventdb::open_booking(&url).await.unwrap();
    let b = convene_eventdb::open_booking(&url).await.unwrap();
    run(a, b).await;
}
