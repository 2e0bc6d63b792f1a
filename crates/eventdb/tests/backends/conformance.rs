//! The conformance suite: what every [`EventDb`] and [`WorkingSet`] must do,
//! run against each backend.
//!
//! The suite shares its database with other tests running at the same
//! time (the MySQL and PostgreSQL servers are shared; so is a SQLite file
//! opened by several "nodes"), so it never assumes a table is empty: every
//! name, event id and server id it uses carries a random suffix, and it
//! only looks at rows it made.

use std::collections::HashSet;
use std::sync::Arc;

use convene_events::db::{
    AccountBooking, Constraint, EventCursor, EventState, EventSummary, NewEvent, PageOf,
    Participant, Session, User,
};
use convene_events::ids::new_event_id;
use convene_events::working::{Entry, WorkingSet};
use convene_events::{Availability, DbError, EventDb, Interval, Partial};
use tokio::task::JoinSet;

/// A random suffix for this run's names.
pub fn run_id() -> String {
    new_event_id()
}

/// An availability of `[start, end)` pairs.
pub fn avail(pairs: &[(i64, i64)]) -> Availability {
    Availability::from_iter(pairs.iter().map(|&(s, e)| Interval::new(s, e).unwrap()))
}

/// One test's names, all with the same random suffix.
pub struct Names {
    run: String,
}

impl Names {
    /// Fresh names.
    pub fn new() -> Names {
        Names { run: run_id() }
    }

    /// A user name.
    pub fn user(&self, who: &str) -> String {
        format!("{who}-{}", self.run)
    }

    /// An event server id.
    pub fn server(&self, which: &str) -> String {
        format!("srv-{which}-{}", self.run)
    }
}

/// Makes an account (password and zone are not checked by the database).
pub async fn make_user(db: &dyn EventDb, name: &str) {
    db.create_user(&User {
        name: name.to_string(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt${name}"),
        time_zone: "Europe/Paris".into(),
    })
    .await
    .unwrap_or_else(|e| panic!("create_user({name}): {e}"));
}

/// Makes many accounts, 16 at a time.
pub async fn make_users(db: &Arc<dyn EventDb>, names: &[String]) {
    let mut tasks = JoinSet::new();
    for chunk in names.chunks(names.len().div_ceil(16).max(1)) {
        let db = db.clone();
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            for name in &chunk {
                make_user(&*db, name).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// A new open event.
pub fn new_event(creator: &str, participants: &[&str], deadline: i64, leader: &str) -> NewEvent {
    NewEvent {
        id: new_event_id(),
        name: format!("Lunch {deadline}"),
        description: "Somewhere near — «the» office ☕".into(),
        creator: creator.to_string(),
        participants: participants.iter().map(|p| p.to_string()).collect(),
        deadline,
        leader: leader.to_string(),
        created_at: 1_767_000_000,
    }
}

/// A constraint for `event` from `user`, held by `server`.
pub fn constraint(
    event: &str,
    user: &str,
    server: &str,
    pairs: &[(i64, i64)],
    at: i64,
) -> Constraint {
    Constraint {
        event: event.to_string(),
        user: user.to_string(),
        server: server.to_string(),
        availability: avail(pairs),
        submitted_at: at,
    }
}

/// Makes `event` final through `finish`, with `result` as the answering
/// servers' partial and every backup folded in too; whether this call did it.
async fn store_result(db: &Arc<dyn EventDb>, event: &str, result: &Availability) -> bool {
    let collected = Partial::from_current(Some(result.clone()));
    db.finish(event, &collected, &[]).await.unwrap().is_some()
}

/// Every check, in order. Panics on the first failure, naming it.
pub async fn conformance(db: Arc<dyn EventDb>) {
    users(&db).await;
    unknown_users(&db).await;
    sessions(&db).await;
    account_bookings(&db).await;
    events_round_trip(&db).await;
    events_for_ordering(&db).await;
    events_in_pages(&db).await;
    counting_open_events(&db).await;
    constraints_while_open(&db).await;
    open_events_and_leaders(&db).await;
    moving_constraints(&db).await;
    finalize_once(&db).await;
    concurrent_finalize(&db).await;
    finish_reads_the_silent_servers(&db).await;
    constraints_racing_finish(&db).await;
    big_event(&db).await;
}

/// Accounts: create, read back, duplicate refused, exact (case-sensitive)
/// names.
pub async fn users(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let alice = n.user("alice");
    assert_eq!(db.user(&alice).await.unwrap(), None);
    let user = User {
        name: alice.clone(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        time_zone: "America/New_York".into(),
    };
    db.create_user(&user).await.unwrap();
    assert_eq!(db.user(&alice).await.unwrap(), Some(user.clone()));
    assert_eq!(db.create_user(&user).await, Err(DbError::Duplicate));
    // Another user whose name differs only in case is another user.
    let upper = n.user("ALICE");
    assert_eq!(db.user(&upper).await.unwrap(), None);
    make_user(&**db, &upper).await;
    assert_eq!(db.user(&upper).await.unwrap().unwrap().name, upper);
    assert_eq!(db.user(&alice).await.unwrap(), Some(user));
    // Non-ASCII names round-trip.
    let accented = n.user("zoë-日本");
    make_user(&**db, &accented).await;
    assert_eq!(db.user(&accented).await.unwrap().unwrap().name, accented);
}

/// `unknown_users` keeps the order given, spans several IN chunks, and
/// handles the empty list.
pub async fn unknown_users(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let names: Vec<String> = (0..1_200).map(|i| n.user(&format!("u{i:04}"))).collect();
    let known: Vec<String> = names.iter().step_by(3).cloned().collect();
    make_users(db, &known).await;
    let mut asked = names.clone();
    asked.reverse();
    asked.push(names[1].clone()); // a repeat stays a repeat
    let unknown = db.unknown_users(&asked).await.unwrap();
    let known: HashSet<&String> = known.iter().collect();
    let expected: Vec<String> = asked
        .iter()
        .filter(|n| !known.contains(n))
        .cloned()
        .collect();
    assert_eq!(unknown.len(), 801);
    assert_eq!(unknown, expected);
    assert!(db.unknown_users(&[]).await.unwrap().is_empty());
    // Exact matching: a name differing in case is unknown.
    let upper = names[0].to_uppercase();
    assert_eq!(
        db.unknown_users(std::slice::from_ref(&upper))
            .await
            .unwrap(),
        [upper]
    );
}

/// Sessions: create, read, duplicate, delete (twice).
pub async fn sessions(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let bob = n.user("bob");
    make_user(&**db, &bob).await;
    let session = Session {
        token_hash: convene_events::ids::new_token(),
        user: bob.clone(),
        csrf: convene_events::ids::new_token(),
        expires_at: 1_800_000_000,
    };
    assert_eq!(db.session(&session.token_hash).await.unwrap(), None);
    db.create_session(&session).await.unwrap();
    assert_eq!(
        db.session(&session.token_hash).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(db.create_session(&session).await, Err(DbError::Duplicate));
    db.delete_session(&session.token_hash).await.unwrap();
    assert_eq!(db.session(&session.token_hash).await.unwrap(), None);
    // Deleting what is gone is not an error.
    db.delete_session(&session.token_hash).await.unwrap();
}

/// Bookings made over HTTP: saved, replaced (moved), listed per account
/// by facility and start, deleted (twice).
pub async fn account_bookings(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let (ada, bob) = (n.user("ada"), n.user("bob"));
    make_user(&**db, &ada).await;
    make_user(&**db, &bob).await;
    let booking = |id: &str, account: &str, facility: &str, start: i64| AccountBooking {
        id: n.server(id),
        account: account.to_string(),
        facility: facility.to_string(),
        start,
        end: start + 60,
    };
    let late = booking("late", &ada, "Room A", 900);
    let early = booking("early", &ada, "Room A", 600);
    let hall = booking("hall", &ada, "Hall B", 1200);
    let bobs = booking("bobs", &bob, "Room A", 60);
    for b in [&late, &early, &hall, &bobs] {
        db.save_account_booking(b).await.unwrap();
    }
    assert_eq!(
        db.account_booking(&late.id).await.unwrap(),
        Some(late.clone())
    );
    assert_eq!(
        db.account_bookings(&ada).await.unwrap(),
        [hall.clone(), early.clone(), late.clone()]
    );
    // Moved: the row is replaced, not repeated.
    let moved = AccountBooking {
        start: 100,
        end: 200,
        ..late.clone()
    };
    db.save_account_booking(&moved).await.unwrap();
    assert_eq!(
        db.account_bookings(&ada).await.unwrap(),
        [hall.clone(), moved.clone(), early.clone()]
    );
    db.delete_account_booking(&moved.id).await.unwrap();
    db.delete_account_booking(&moved.id).await.unwrap();
    assert_eq!(db.account_booking(&moved.id).await.unwrap(), None);
    assert_eq!(db.account_bookings(&bob).await.unwrap(), [bobs]);
}

/// An event reads back as created: participants in order, none answered,
/// open, no result. A repeated id is a duplicate; a creator missing from
/// the list is added first.
pub async fn events_round_trip(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let (ann, bob, cat) = (n.user("ann"), n.user("bob"), n.user("cat"));
    make_users(db, &[ann.clone(), bob.clone(), cat.clone()]).await;
    let leader = n.server("a");
    assert_eq!(db.event(&new_event_id()).await.unwrap(), None);

    let new = new_event(&ann, &[&cat, &ann, &bob], 1_900_000_000, &leader);
    db.create_event(&new).await.unwrap();
    let event = db.event(&new.id).await.unwrap().expect("the event");
    assert_eq!(event.id, new.id);
    assert_eq!(event.name, new.name);
    assert_eq!(event.description, new.description);
    assert_eq!(event.creator, ann);
    assert_eq!(event.deadline, new.deadline);
    assert_eq!(event.leader, leader);
    assert_eq!(event.state, EventState::Open);
    assert_eq!(event.result, None);
    assert_eq!(event.created_at, new.created_at);
    let names: Vec<&str> = event.participants.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, [cat.as_str(), ann.as_str(), bob.as_str()]);
    assert!(event.participants.iter().all(|p| !p.answered));

    let mut again = new_event(&bob, &[&bob], 1, &leader);
    again.id = new.id.clone();
    assert_eq!(db.create_event(&again).await, Err(DbError::Duplicate));
    // The failed create left the first event as it was.
    assert_eq!(db.event(&new.id).await.unwrap().unwrap(), event);

    let no_creator = new_event(&bob, &[&cat, &ann, &cat], 1_900_000_000, &leader);
    db.create_event(&no_creator).await.unwrap();
    let event = db.event(&no_creator.id).await.unwrap().unwrap();
    let names: Vec<&str> = event.participants.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, [bob.as_str(), cat.as_str(), ann.as_str()]);
}

/// Every event `user` is in, read with `events_page` in one page.
async fn all_events(db: &Arc<dyn EventDb>, user: &str) -> Vec<EventSummary> {
    db.events_page(user, &PageOf::First, 1_000).await.unwrap()
}

/// `events_page`: every event the user is in, latest deadline first, with
/// that user's own `answered`.
pub async fn events_for_ordering(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let (ann, bob, cat) = (n.user("ann"), n.user("bob"), n.user("cat"));
    make_users(db, &[ann.clone(), bob.clone(), cat.clone()]).await;
    let s = n.server("a");
    assert!(all_events(db, &ann).await.is_empty());
    let early = new_event(&ann, &[&ann, &bob], 1_800_000_000, &s);
    let late = new_event(&bob, &[&bob, &ann], 1_900_000_000, &s);
    let middle = new_event(&cat, &[&cat, &ann], 1_850_000_000, &s);
    let without_ann = new_event(&bob, &[&bob, &cat], 1_950_000_000, &s);
    for e in [&early, &late, &middle, &without_ann] {
        db.create_event(e).await.unwrap();
    }
    assert!(
        db.add_constraint(&constraint(&middle.id, &ann, &s, &[(10, 20)], 5))
            .await
            .unwrap()
    );
    assert!(store_result(db, &early.id, &avail(&[(1, 2)])).await);

    let list = all_events(db, &ann).await;
    let ids: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [late.id.as_str(), middle.id.as_str(), early.id.as_str()]
    );
    let answered: Vec<bool> = list.iter().map(|e| e.answered).collect();
    assert_eq!(answered, [false, true, false]);
    assert_eq!(list[0].creator, bob);
    assert_eq!(list[0].name, late.name);
    assert_eq!(list[0].deadline, late.deadline);
    assert_eq!(list[0].state, EventState::Open);
    assert_eq!(list[0].result, None);
    assert_eq!(list[2].state, EventState::Final);
    assert_eq!(list[2].result, Some(avail(&[(1, 2)])));
    // Cat answered nothing: their line of `middle` says so.
    let cats = all_events(db, &cat).await;
    let ids: Vec<&str> = cats.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [without_ann.id.as_str(), middle.id.as_str()]);
    assert!(cats.iter().all(|e| !e.answered));
}

/// `events_page` in pages of 3: forwards from the first page, each event
/// once and in order (ties on the deadline broken by id); backwards from
/// the last; a page after a place still holds the same events when
/// events are created meanwhile before that place; only the user's own
/// events.
pub async fn events_in_pages(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let (ann, bob) = (n.user("ann"), n.user("bob"));
    make_users(db, &[ann.clone(), bob.clone()]).await;
    let s = n.server("a");
    // Eight events, three of them sharing a deadline, and one without ann.
    let deadlines = [
        1_900_000_500,
        1_900_000_100,
        1_900_000_300,
        1_900_000_300,
        1_900_000_300,
        1_900_000_200,
        1_900_000_400,
        1_900_000_000,
    ];
    let mut made: Vec<NewEvent> = Vec::new();
    for (i, &deadline) in deadlines.iter().enumerate() {
        let (creator, with) = if i % 2 == 0 {
            (&ann, &bob)
        } else {
            (&bob, &ann)
        };
        let event = new_event(creator, &[creator, with], deadline, &s);
        db.create_event(&event).await.unwrap();
        made.push(event);
    }
    db.create_event(&new_event(&bob, &[&bob], 1_900_000_250, &s))
        .await
        .unwrap();
    let mut expected: Vec<(i64, String)> =
        made.iter().map(|e| (e.deadline, e.id.clone())).collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let ids = |page: &[EventSummary]| page.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    let expected_ids: Vec<String> = expected.iter().map(|(_, id)| id.clone()).collect();

    // Forwards.
    let mut seen = Vec::new();
    let mut page = db.events_page(&ann, &PageOf::First, 3).await.unwrap();
    let mut pages = 0;
    while !page.is_empty() {
        pages += 1;
        assert!(page.len() <= 3);
        seen.extend(ids(&page));
        let last = EventCursor::of(page.last().unwrap());
        page = db.events_page(&ann, &PageOf::After(last), 3).await.unwrap();
    }
    assert_eq!(seen, expected_ids, "forwards, every event once, in order");
    assert_eq!(pages, 3);

    // Backwards from after the last event.
    let end = EventCursor {
        deadline: i64::MIN,
        id: String::new(),
    };
    let mut back = Vec::new();
    let mut page = db.events_page(&ann, &PageOf::Before(end), 3).await.unwrap();
    assert_eq!(
        ids(&page),
        expected_ids[5..],
        "the last page, in list order"
    );
    while !page.is_empty() {
        back.splice(0..0, ids(&page));
        let first = EventCursor::of(&page[0]);
        page = db
            .events_page(&ann, &PageOf::Before(first), 3)
            .await
            .unwrap();
    }
    assert_eq!(back, expected_ids, "backwards, every event once");

    // A place holds while events are created before it.
    let third = EventCursor::of(&db.events_page(&ann, &PageOf::First, 3).await.unwrap()[2]);
    let next = db
        .events_page(&ann, &PageOf::After(third.clone()), 3)
        .await
        .unwrap();
    db.create_event(&new_event(&ann, &[&ann], 1_900_000_900, &s))
        .await
        .unwrap();
    let again = db
        .events_page(&ann, &PageOf::After(third), 3)
        .await
        .unwrap();
    assert_eq!(ids(&again), ids(&next));
    assert_eq!(ids(&next), expected_ids[3..6]);
    // Bob's own event is in his list only.
    assert_eq!(all_events(db, &bob).await.len(), made.len() + 1);
}

/// `open_events_created`: the events a user created (not those they are
/// invited to) whose deadline is after the time given.
pub async fn counting_open_events(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let (ann, bob) = (n.user("ann"), n.user("bob"));
    make_users(db, &[ann.clone(), bob.clone()]).await;
    let s = n.server("a");
    // Deadlines in the future, so that no event server sharing this
    // database takes these events over as overdue.
    let t = |k: i64| 2_100_000_000 + k * 1_000;
    assert_eq!(db.open_events_created(&ann, t(1)).await.unwrap(), 0);
    for deadline in [t(2), t(3), t(4)] {
        db.create_event(&new_event(&ann, &[&ann, &bob], deadline, &s))
            .await
            .unwrap();
    }
    db.create_event(&new_event(&bob, &[&bob, &ann], t(5), &s))
        .await
        .unwrap();
    let finished = new_event(&ann, &[&ann], t(6), &s);
    db.create_event(&finished).await.unwrap();
    assert!(store_result(db, &finished.id, &Availability::new()).await);
    assert_eq!(db.open_events_created(&ann, t(1)).await.unwrap(), 4);
    assert_eq!(db.open_events_created(&ann, t(2)).await.unwrap(), 3);
    assert_eq!(db.open_events_created(&ann, t(3) + 500).await.unwrap(), 2);
    assert_eq!(db.open_events_created(&ann, t(6)).await.unwrap(), 0);
    assert_eq!(db.open_events_created(&bob, t(1)).await.unwrap(), 1);
}

/// `add_constraint` stores while open, refuses unknown and final events;
/// `constraints` lists a server's oldest first; `finish` folds in those
/// accepted by the servers that did not answer.
pub async fn constraints_while_open(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let (ann, bob) = (n.user("ann"), n.user("bob"));
    make_users(db, &[ann.clone(), bob.clone()]).await;
    let (a, b) = (n.server("a"), n.server("b"));
    let event = new_event(&ann, &[&ann, &bob], 1_900_000_000, &a);
    db.create_event(&event).await.unwrap();
    assert!(db.constraints(&event.id, &a).await.unwrap().is_empty());

    // Submitted out of time order: "oldest" is the order they arrived in.
    let first = constraint(&event.id, &ann, &b, &[(100, 200), (300, 400)], 50);
    let second = constraint(&event.id, &bob, &b, &[(150, 350)], 10);
    let third = constraint(&event.id, &ann, &a, &[(0, 1_000)], 30);
    let fourth = constraint(&event.id, &ann, &b, &[], 40);
    for c in [&first, &second, &third, &fourth] {
        assert!(db.add_constraint(c).await.unwrap());
    }
    assert_eq!(
        db.constraints(&event.id, &b).await.unwrap(),
        [
            first.availability.clone(),
            second.availability,
            fourth.availability
        ]
    );
    assert_eq!(
        db.constraints(&event.id, &a).await.unwrap(),
        [third.availability]
    );
    let e = db.event(&event.id).await.unwrap().unwrap();
    assert!(e.participants.iter().all(|p| p.answered));

    let unknown = constraint(&new_event_id(), &ann, &a, &[(1, 2)], 1);
    assert!(!db.add_constraint(&unknown).await.unwrap());
    assert!(db.constraints(&unknown.event, &a).await.unwrap().is_empty());

    // `a` answered with its partial; `b` did not, so its backups are read:
    // (100-200, 300-400), (150-350) and the empty set share nothing.
    let from_a = Partial::from_current(Some(avail(&[(0, 1_000)])));
    let result = db
        .finish(&event.id, &from_a, std::slice::from_ref(&a))
        .await
        .unwrap();
    assert_eq!(result, Some(Availability::new()));
    assert!(!db.add_constraint(&first).await.unwrap());
    assert!(db.constraints(&event.id, &b).await.unwrap().is_empty());
    let stored = db.event(&event.id).await.unwrap().unwrap();
    assert_eq!(stored.result, Some(Availability::new()));
    // Once only.
    assert_eq!(db.finish(&event.id, &from_a, &[]).await.unwrap(), None);
    assert_eq!(
        db.finish(&new_event_id(), &from_a, &[]).await.unwrap(),
        None
    );
}

/// `finish` counts what the silent servers accepted, by who accepted it:
/// `a` answered, `b` did not; `b`'s backups, now held by `c`, still count.
pub async fn finish_reads_the_silent_servers(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let (ann, bob) = (n.user("ann"), n.user("bob"));
    make_users(db, &[ann.clone(), bob.clone()]).await;
    let (a, b, c) = (n.server("a"), n.server("b"), n.server("c"));
    let event = new_event(&ann, &[&ann, &bob], 1_900_000_000, &a);
    db.create_event(&event).await.unwrap();
    for con in [
        constraint(&event.id, &ann, &a, &[(0, 100)], 1),
        constraint(&event.id, &bob, &b, &[(20, 80)], 2),
        constraint(&event.id, &bob, &b, &[(10, 60)], 3),
    ] {
        assert!(db.add_constraint(&con).await.unwrap());
    }
    db.move_constraints(&b, &c).await.unwrap();
    let from_a = Partial::from_current(Some(avail(&[(0, 100)])));
    let result = db
        .finish(&event.id, &from_a, std::slice::from_ref(&a))
        .await
        .unwrap();
    assert_eq!(result, Some(avail(&[(20, 60)])));
}

/// `open_events` lists open events by deadline; `set_leader` is a
/// compare-and-set that a final event refuses.
pub async fn open_events_and_leaders(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let ann = n.user("ann");
    make_user(&**db, &ann).await;
    let (a, b, c) = (n.server("a"), n.server("b"), n.server("c"));
    let later = new_event(&ann, &[&ann], 2_000_000_002, &a);
    let sooner = new_event(&ann, &[&ann], 2_000_000_001, &b);
    let done = new_event(&ann, &[&ann], 2_000_000_000, &a);
    for e in [&later, &sooner, &done] {
        db.create_event(e).await.unwrap();
    }
    assert!(store_result(db, &done.id, &Availability::new()).await);
    let ours: HashSet<&str> = [later.id.as_str(), sooner.id.as_str(), done.id.as_str()].into();
    let open = db.open_events().await.unwrap();
    assert!(open.windows(2).all(|w| w[0].deadline <= w[1].deadline));
    let mine: Vec<_> = open
        .into_iter()
        .filter(|e| ours.contains(e.id.as_str()))
        .collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(
        (mine[0].id.as_str(), mine[0].leader.as_str()),
        (sooner.id.as_str(), b.as_str())
    );
    assert_eq!(mine[0].deadline, sooner.deadline);
    assert_eq!(
        (mine[1].id.as_str(), mine[1].leader.as_str()),
        (later.id.as_str(), a.as_str())
    );

    // Wrong `from`: nothing changes.
    assert!(!db.set_leader(&later.id, &b, &c).await.unwrap());
    assert_eq!(db.event(&later.id).await.unwrap().unwrap().leader, a);
    assert!(db.set_leader(&later.id, &a, &c).await.unwrap());
    assert_eq!(db.event(&later.id).await.unwrap().unwrap().leader, c);
    // The old leader can no longer hand it over.
    assert!(!db.set_leader(&later.id, &a, &b).await.unwrap());
    // A final event keeps its leader; an unknown one has none.
    assert!(!db.set_leader(&done.id, &a, &c).await.unwrap());
    assert_eq!(db.event(&done.id).await.unwrap().unwrap().leader, a);
    assert!(!db.set_leader(&new_event_id(), &a, &c).await.unwrap());
}

/// `move_constraints` hands every backup of one server to another and
/// names the events, sorted and once each.
pub async fn moving_constraints(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let (ann, bob) = (n.user("ann"), n.user("bob"));
    make_users(db, &[ann.clone(), bob.clone()]).await;
    let (a, b, c) = (n.server("a"), n.server("b"), n.server("c"));
    let events: Vec<_> = (0..3)
        .map(|i| new_event(&ann, &[&ann, &bob], 1_900_000_000 + i, &a))
        .collect();
    for e in &events {
        db.create_event(e).await.unwrap();
    }
    // Events 0 and 2 have backups on `a` (two in event 2), event 1 on `b`.
    for (e, user, server) in [(0, &ann, &a), (2, &ann, &a), (2, &bob, &a), (1, &ann, &b)] {
        let c = constraint(&events[e].id, user, server, &[(e as i64, 100)], 1);
        assert!(db.add_constraint(&c).await.unwrap());
    }
    // `c` already holds one of event 1's.
    assert!(
        db.add_constraint(&constraint(&events[1].id, &bob, &c, &[(5, 6)], 1))
            .await
            .unwrap()
    );
    let moved = db.move_constraints(&a, &c).await.unwrap();
    let mut expected = vec![events[0].id.clone(), events[2].id.clone()];
    expected.sort();
    assert_eq!(moved, expected);
    // The holder changed; who accepted them did not, and still rebuilds
    // from them (a wrongly suspected server that restarts).
    assert_eq!(db.constraints(&events[2].id, &c).await.unwrap().len(), 2);
    assert_eq!(db.constraints(&events[2].id, &a).await.unwrap().len(), 2);
    assert!(db.move_constraints(&a, &c).await.unwrap().is_empty());
}

/// `finish` succeeds once, stores the result (even an empty one),
/// deletes the backups, and refuses unknown events.
pub async fn finalize_once(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let ann = n.user("ann");
    make_user(&**db, &ann).await;
    let a = n.server("a");
    let event = new_event(&ann, &[&ann], 1_900_000_000, &a);
    db.create_event(&event).await.unwrap();
    assert!(
        db.add_constraint(&constraint(&event.id, &ann, &a, &[(10, 20)], 1))
            .await
            .unwrap()
    );
    let result = avail(&[(10, 12), (15, 20)]);
    assert!(store_result(db, &event.id, &result).await);
    assert!(!store_result(db, &event.id, &avail(&[(1, 2)])).await);
    let stored = db.event(&event.id).await.unwrap().unwrap();
    assert_eq!(stored.state, EventState::Final);
    assert_eq!(stored.result, Some(result));
    assert!(db.constraints(&event.id, &a).await.unwrap().is_empty());
    // Answers given before the end stay recorded.
    assert!(stored.participants[0].answered);

    let empty = new_event(&ann, &[&ann], 1_900_000_000, &a);
    db.create_event(&empty).await.unwrap();
    assert!(store_result(db, &empty.id, &Availability::new()).await);
    let stored = db.event(&empty.id).await.unwrap().unwrap();
    assert_eq!(stored.result, Some(Availability::new()));
    assert!(!store_result(db, &new_event_id(), &Availability::new()).await);
}

/// Two servers finishing one event at once: exactly one wins.
pub async fn concurrent_finalize(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let ann = n.user("ann");
    make_user(&**db, &ann).await;
    let a = n.server("a");
    for round in 0..10 {
        let event = new_event(&ann, &[&ann], 1_900_000_000, &a);
        db.create_event(&event).await.unwrap();
        let mut tasks = JoinSet::new();
        for i in 0..2 {
            let (db, id) = (db.clone(), event.id.clone());
            tasks.spawn(async move { store_result(&db, &id, &avail(&[(i, i + 1)])).await });
        }
        let wins = tasks.join_all().await.into_iter().filter(|w| *w).count();
        assert_eq!(wins, 1, "round {round}");
        let stored = db.event(&event.id).await.unwrap().unwrap();
        assert_eq!(stored.state, EventState::Final);
        let result = stored.result.unwrap();
        assert!(
            result == avail(&[(0, 1)]) || result == avail(&[(1, 2)]),
            "{result:?}"
        );
    }
}

/// Constraints arriving while the leader finishes: each one acknowledged
/// is in the result (`finish` reads the backups in the transaction that
/// stores it), each one after is refused.
pub async fn constraints_racing_finish(db: &Arc<dyn EventDb>) {
    let n = Names::new();
    let users: Vec<String> = (0..8).map(|i| n.user(&format!("q{i}"))).collect();
    make_users(db, &users).await;
    let a = n.server("a");
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let event = new_event(&users[0], &refs, 1_900_000_000, &a);
    db.create_event(&event).await.unwrap();
    let mut tasks = JoinSet::new();
    for (i, user) in users.iter().enumerate() {
        // Each user's window starts later: the result's start tells the
        // latest one that counted.
        let c = constraint(&event.id, user, &a, &[(i as i64 * 10, 1_000)], i as i64);
        let db = db.clone();
        tasks.spawn(async move {
            db.add_constraint(&c)
                .await
                .unwrap()
                .then_some(i as i64 * 10)
        });
    }
    tokio::task::yield_now().await;
    // Nobody answered: everything comes from the backups.
    let result = db
        .finish(&event.id, &Partial::none(), &[])
        .await
        .unwrap()
        .unwrap();
    let accepted: Vec<i64> = tasks.join_all().await.into_iter().flatten().collect();
    match accepted.iter().max() {
        Some(&latest) => assert_eq!(result, avail(&[(latest, 1_000)]), "accepted: {accepted:?}"),
        None => assert!(result.is_empty()),
    }
    // No backup outlives the result, and a later answer is refused.
    assert!(db.constraints(&event.id, &a).await.unwrap().is_empty());
    let late = constraint(&event.id, &users[0], &a, &[(0, 1_000)], 99);
    assert!(!db.add_constraint(&late).await.unwrap());
    assert!(db.constraints(&event.id, &a).await.unwrap().is_empty());
}

/// An event of 1,001 participants stores and reads back in order.
pub async fn big_event(db: &Arc<dyn EventDb>) {
    big_event_of(db, 1_001).await;
}

/// An event of `size` participants stores and reads back in order.
pub async fn big_event_of(db: &Arc<dyn EventDb>, size: usize) {
    let n = Names::new();
    let names: Vec<String> = (0..size).map(|i| n.user(&format!("m{i:05}"))).collect();
    make_users(db, &names).await;
    let mut order: Vec<&str> = names.iter().map(String::as_str).collect();
    order.reverse(); // not the order the database would sort them in
    let event = new_event(names[0].as_str(), &order, 1_900_000_000, &n.server("a"));
    let started = std::time::Instant::now();
    db.create_event(&event).await.unwrap();
    let took = started.elapsed();
    let stored = db.event(&event.id).await.unwrap().unwrap();
    let read: Vec<&str> = stored
        .participants
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(read, order);
    eprintln!(
        "{}: created an event of {} participants in {took:?}",
        db.backend(),
        order.len()
    );
    let mine = all_events(db, &names[size / 2]).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(
        stored
            .participants
            .iter()
            .filter(|p: &&Participant| p.answered)
            .count(),
        0
    );
}

/// A stored result that does not parse reads back as `Corrupt`, not a
/// panic. `spoil` overwrites the result of the event it is given.
pub async fn corrupt_result<F, Fut>(db: &Arc<dyn EventDb>, spoil: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let n = Names::new();
    let ann = n.user("ann");
    make_user(&**db, &ann).await;
    let event = new_event(&ann, &[&ann], 1_900_000_000, &n.server("a"));
    db.create_event(&event).await.unwrap();
    assert!(store_result(db, &event.id, &avail(&[(1, 2)])).await);
    spoil(event.id.clone()).await;
    assert!(matches!(
        db.event(&event.id).await,
        Err(DbError::Corrupt(_))
    ));
    assert!(matches!(
        db.events_page(&ann, &PageOf::First, 10).await,
        Err(DbError::Corrupt(_))
    ));
}

/// What every working set must do: absent entries, round trips,
/// overwrites, removal, one entry per (server, event).
pub async fn working_set(ws: Arc<dyn WorkingSet>) {
    let n = Names::new();
    let (a, b) = (n.server("a"), n.server("b"));
    let (e1, e2) = (new_event_id(), new_event_id());
    assert_eq!(ws.get(&a, &e1).await.unwrap(), None);

    let mut partial = Partial::none();
    let fresh = Entry {
        partial: partial.clone(),
        frozen: false,
    };
    ws.put(&a, &e1, &fresh).await.unwrap();
    assert_eq!(ws.get(&a, &e1).await.unwrap(), Some(fresh));
    assert_eq!(ws.get(&b, &e1).await.unwrap(), None);
    assert_eq!(ws.get(&a, &e2).await.unwrap(), None);

    partial.fold(&avail(&[(10, 20), (30, 40)]));
    let folded = Entry {
        partial: partial.clone(),
        frozen: false,
    };
    ws.put(&a, &e1, &folded).await.unwrap();
    assert_eq!(ws.get(&a, &e1).await.unwrap(), Some(folded.clone()));

    partial.fold(&avail(&[(50, 60)]));
    let frozen_empty = Entry {
        partial,
        frozen: true,
    };
    ws.put(&b, &e1, &frozen_empty).await.unwrap();
    assert_eq!(ws.get(&b, &e1).await.unwrap(), Some(frozen_empty));
    assert_eq!(ws.get(&a, &e1).await.unwrap(), Some(folded));

    ws.remove(&a, &e1).await.unwrap();
    assert_eq!(ws.get(&a, &e1).await.unwrap(), None);
    ws.remove(&a, &e1).await.unwrap();
    ws.remove(&b, &e1).await.unwrap();
    assert_eq!(ws.get(&b, &e1).await.unwrap(), None);
}
