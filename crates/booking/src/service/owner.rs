//! The owner side: executing requests on the facilities this node owns.
//!
//! Every request for a facility or booking ends here, whichever node the
//! client talked to. Which facilities a node owns changes while it runs
//! ([`Owner::adopt`], [`Owner::release`]): the database says who owns what
//! (see [`crate::db`]), with a token per facility that every write carries,
//! so a node that lost a facility without knowing it cannot change it.
//!
//! Under at-most-once the owner keeps its own record of executed changes
//! (client address and request id, with the request's checksum), stored with
//! the change itself, so a retry is answered from the record even after a
//! restart of the owner, via another front door, or after the facility
//! moved to another node (which loads the facility's kept replies when it
//! takes it on). Queries change nothing and are simply executed again.
//!
//! That record is bounded: at most `limits.booking_replies_per_source`
//! replies per client address (an IPv6 client by its /64), the oldest going
//! first, and at most `reply_cache_entries` in all; the rows it lets go of
//! are deleted from the database with the next write, so the table never
//! holds more than the record. Writes wait in a bounded queue (see
//! [`Committer`]); a request that finds it full is dropped before it
//! changes anything, unanswered, and the client's retry comes back later.
//!
//! Memory holds the *live* bookings of owned facilities only: a cancelled
//! booking is fetched back from the database for the one request that
//! names it (so a second cancel still gets the seed's "already cancelled")
//! and forgotten after.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use convene_cluster::Screen;
use convene_cluster::screen::Untrusted;
use convene_rpc::{CacheConfig, Lookup, ReplyCache, RestoredEntry};
use convene_time::WeekTime;

use super::committer::Committer;
use super::lines;
use crate::db::{BookingDb, BookingDbError, BookingRow, Committed, FencedWrite, ReplyRow};
use crate::state::{Booking, BookingError, Facilities, IdScheme, Minute};
use crate::wire::{self, DayAvailability, ErrorCode, Reply, Request};

/// What executing a request produced.
pub enum Outcome {
    /// Send these bytes; if a facility changed, its monitors must hear.
    Reply(Vec<u8>, Option<String>),
    /// The same request is executing right now (or could not be stored,
    /// or the store's queue is full): send nothing, the client will retry.
    Busy,
    /// This node does not own what the request names (it moved, or the
    /// asker's view is stale): send nothing, the client's retry will find
    /// the owner.
    NotHere,
}

/// Where a booking named by id is, for the owner about to execute on it.
enum Found {
    /// Held here; `true` if it was fetched back (cancelled) for this request.
    Here(bool),
    /// On a facility another node owns.
    Elsewhere,
    /// No such booking anywhere.
    Nowhere,
    /// The database did not answer, or memory is behind it: try again.
    Unknown,
}

/// The facilities this node holds now, and the token of each.
struct Held {
    facilities: Facilities,
    tokens: HashMap<String, u64>,
}

/// The facilities of this node, and what it needs to change them safely.
pub struct Owner {
    held: Mutex<Held>,
    record: Mutex<ReplyCache>,
    committer: Committer,
    /// Where the committed truth is, to load from and reload from.
    db: Arc<dyn BookingDb>,
    cache: CacheConfig,
    screen: Screen,
    /// Who wants to hear about each facility, and until when.
    subscribers: Mutex<HashMap<String, Vec<Subscriber>>>,
}

/// A front door that wants to hear about a facility: `None` is this node's
/// own, `Some(addr)` another node's; with the time its interest ends.
type Subscriber = (Option<SocketAddr>, Instant);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Runs a blocking database call off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BookingDbError> + Send + 'static,
) -> Result<T, BookingDbError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(BookingDbError::Engine {
            name: "booking database".into(),
            message: format!("the blocking task failed: {e}"),
        })
    })
}

impl Owner {
    /// An owner holding nothing yet; node `node` issues the ids, at most
    /// `replies_per_source` replies are kept for one client address.
    pub fn new(
        node: u32,
        db: Arc<dyn BookingDb>,
        cache: CacheConfig,
        replies_per_source: usize,
        screen: Screen,
    ) -> Owner {
        let record = ReplyCache::new(cache)
            .with_source_limit(replies_per_source)
            .with_eviction_log();
        Owner {
            held: Mutex::new(Held {
                facilities: Facilities::new(Vec::new(), IdScheme { node }),
                tokens: HashMap::new(),
            }),
            record: Mutex::new(record),
            committer: Committer::start(db.clone()),
            db,
            cache,
            screen,
            subscribers: Mutex::new(HashMap::new()),
        }
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self) -> MutexGuard<'_, ReplyCache> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The at-most-once record's counts so far.
    pub fn cache_stats(&self) -> convene_rpc::CacheStats {
        self.record().stats()
    }

    /// The facilities held now, with their tokens.
    pub fn tokens(&self) -> HashMap<String, u64> {
        self.held().tokens.clone()
    }

    /// Takes on `facility` under `token`: loads its live bookings and its
    /// kept replies from the database. Holding it already under `token`
    /// changes nothing.
    pub async fn adopt(&self, facility: &str, token: u64) -> Result<(), BookingDbError> {
        if self.held().tokens.get(facility) == Some(&token) {
            return Ok(());
        }
        let (db, name, since) = (
            self.db.clone(),
            facility.to_string(),
            now_ms() - self.cache.ttl.as_millis() as i64,
        );
        let (rows, replies) = blocking(move || {
            let rows = db.live_bookings(&name)?;
            let replies = db.replies(&name, since)?;
            Ok((rows, replies))
        })
        .await?;
        let count = rows.len();
        {
            let mut held = self.held();
            held.facilities
                .adopt(facility, rows.into_iter().map(booking).collect())
                .map_err(|e| BookingDbError::Corrupt {
                    name: self.db.name(),
                    table: "booking_record",
                    problem: e.to_string(),
                })?;
            held.tokens.insert(facility.to_string(), token);
        }
        restore_replies(&mut self.record(), replies);
        tracing::info!(
            facility,
            token,
            bookings = count,
            "now serving this facility"
        );
        Ok(())
    }

    /// Lets go of `facility` (it moved to another node).
    pub fn release(&self, facility: &str) {
        let mut held = self.held();
        if held.tokens.remove(facility).is_some() {
            held.facilities.release(facility);
            tracing::info!(facility, "no longer serving this facility");
        }
        drop(held);
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(facility);
    }

    /// Executes a client's request here. `dedup` is the front door's
    /// semantics: at-most-once keeps a record of changes.
    pub async fn execute(&self, client: SocketAddr, datagram: &[u8], dedup: bool) -> Outcome {
        let (header, request) = match wire::decode_request(datagram) {
            Ok(ok) => ok,
            Err(e) => return Outcome::Reply(e.to_reply().encode(), None),
        };
        // A booking named by id must be held here, or (cancelled) fetched back.
        let recalled = match confirmation_of(&request) {
            Some(id) => match self.find(id).await {
                Found::Here(recalled) => recalled.then(|| id.to_string()),
                Found::Elsewhere => return Outcome::NotHere,
                Found::Nowhere => {
                    let e = BookingError::invalid_confirmation_id();
                    let reply = Reply::Error {
                        code: e.code,
                        message: e.message,
                    };
                    return Outcome::Reply(reply.encode(), None);
                }
                Found::Unknown => return Outcome::Busy,
            },
            None => None,
        };
        let outcome = self
            .execute_held(client, datagram, dedup, header.request_id, &request)
            .await;
        if let Some(id) = recalled {
            self.held().facilities.forget(&id);
        }
        outcome
    }

    /// Where the booking `id` is (see [`Found`]); a cancelled one of a
    /// facility held here is fetched back into memory.
    async fn find(&self, id: &str) -> Found {
        if self.held().facilities.booking(id).is_some() {
            return Found::Here(false);
        }
        let (db, key) = (self.db.clone(), id.to_string());
        let row = match blocking(move || db.booking(&key)).await {
            Ok(row) => row,
            Err(e) => {
                tracing::warn!("cannot look booking {id} up: {e}");
                return Found::Unknown;
            }
        };
        let Some(row) = row else {
            return Found::Nowhere;
        };
        let mut held = self.held();
        if !held.facilities.has(&row.facility) {
            return Found::Elsewhere;
        }
        if held.facilities.booking(id).is_some() {
            return Found::Here(false);
        }
        if !row.cancelled {
            // Live in the database but not in memory: memory is behind (a
            // reload is on its way); the client's retry comes back later.
            return Found::Unknown;
        }
        held.facilities.recall_cancelled(booking(row));
        Found::Here(true)
    }

    async fn execute_held(
        &self,
        client: SocketAddr,
        datagram: &[u8],
        dedup: bool,
        request_id: u32,
        request: &Request,
    ) -> Outcome {
        let changes = !matches!(request, Request::Query { .. } | Request::Monitor { .. });
        // A place in the store's queue first, before anything changes.
        let place = if changes {
            match self.committer.reserve() {
                Some(place) => Some(place),
                None => {
                    tracing::debug!(%client, "booking store queue full; request dropped");
                    return Outcome::Busy;
                }
            }
        } else {
            None
        };
        if dedup && changes {
            match self
                .record()
                .begin(Instant::now(), client, request_id, datagram)
            {
                Lookup::Done(bytes) => return Outcome::Reply(bytes.to_vec(), None),
                Lookup::InProgress => return Outcome::Busy,
                Lookup::New => {}
            }
        }
        let Some((reply, changed, facility, token)) = self.apply(request) else {
            if dedup && changes {
                self.record().abandon(client, request_id, datagram);
            }
            return Outcome::NotHere;
        };
        let bytes = reply.encode();
        if let Some(place) = place {
            let forget = if dedup {
                forgotten(&mut self.record())
            } else {
                Vec::new()
            };
            let write = FencedWrite {
                facility: facility.clone(),
                token,
                booking: changed.as_ref().map(row),
                created: matches!(request, Request::Book { .. }),
                forget,
                reply: dedup.then(|| ReplyRow {
                    client: client.to_string(),
                    request_id,
                    checksum: ReplyCache::checksum(datagram),
                    reply: bytes.clone(),
                    created_ms: now_ms(),
                }),
            };
            let needed =
                write.booking.is_some() || write.reply.is_some() || !write.forget.is_empty();
            let stored = if needed {
                self.committer.commit(place, write).await
            } else {
                Ok(Committed::Stored)
            };
            let failed = match stored {
                Ok(Committed::Stored) => None,
                Ok(Committed::Fenced) => {
                    // Another node owns it now: nothing was written, and
                    // memory is no longer this node's to keep.
                    tracing::warn!(
                        facility,
                        token,
                        "the facility moved to another node; letting it go"
                    );
                    self.release(&facility);
                    Some(Outcome::NotHere)
                }
                Err(e) => {
                    // Not durable, so not sent: the client's retry asks again.
                    // The change was applied in memory: go back to what is stored.
                    tracing::error!("booking change not stored: {e}; reloading {facility}");
                    self.reload(&facility, token).await;
                    Some(Outcome::Busy)
                }
            };
            if let Some(outcome) = failed {
                if dedup {
                    self.record().abandon(client, request_id, datagram);
                }
                return outcome;
            }
            if dedup {
                self.record()
                    .finish(Instant::now(), client, request_id, datagram, &bytes);
            }
        }
        if let Some(b) = &changed
            && b.cancelled
        {
            self.held().facilities.forget(&b.id);
        }
        Outcome::Reply(bytes, changed.map(|b| b.facility))
    }

    /// Replaces a facility's bookings in memory with what the database
    /// holds (after a failed commit, so memory never claims what is not
    /// stored). If that fails too, the facility is let go: the next look at
    /// the owners table takes it on again.
    async fn reload(&self, facility: &str, token: u64) {
        self.held().tokens.remove(facility);
        if let Err(e) = self.adopt(facility, token).await {
            tracing::error!("cannot reload {facility} from the booking database: {e}");
            self.release(facility);
        }
    }

    /// Runs one request against the facilities, printing the seed's lines.
    ///
    /// `None` if the facility (or the booking's facility) is not held here;
    /// otherwise the reply, the booking changed if any, and the facility
    /// with the token it is held under.
    fn apply(&self, request: &Request) -> Option<(Reply, Option<Booking>, String, u64)> {
        let mut held = self.held();
        let facility = match request {
            Request::Query { facility, .. }
            | Request::Book { facility, .. }
            | Request::Monitor { facility, .. } => facility.clone(),
            Request::Change { confirmation, .. }
            | Request::Extend { confirmation, .. }
            | Request::Cancel { confirmation } => {
                held.facilities.booking(confirmation)?.facility.clone()
            }
        };
        let token = *held.tokens.get(&facility)?;
        let f = &mut held.facilities;
        let screen = &self.screen;
        let result: Result<(Reply, Option<Booking>), BookingError> = match request {
            Request::Query { facility, days } => {
                screen.line(format_args!(
                    "Query: facility='{}', days={}",
                    Untrusted(facility),
                    lines::days(days)
                ));
                f.availability(facility, days).map(|a| {
                    (
                        Reply::Availability {
                            facility: facility.clone(),
                            days: to_wire(&a),
                        },
                        None,
                    )
                })
            }
            Request::Book {
                facility,
                start,
                end,
            } => {
                screen.line(format_args!(
                    "Book: facility='{}', from {start} to {end}",
                    Untrusted(facility)
                ));
                f.book(facility, start.minutes(), end.minutes()).map(|b| {
                    (
                        Reply::Booked {
                            confirmation: b.id.clone(),
                        },
                        Some(b.clone()),
                    )
                })
            }
            Request::Change {
                confirmation,
                offset_minutes,
            } => {
                screen.line(format_args!(
                    "Change: confirmation_id='{}', offset={offset_minutes} minutes",
                    Untrusted(confirmation)
                ));
                f.change(confirmation, *offset_minutes).map(|b| {
                    screen.line(format_args!(
                        "Booking changed to from {} to {}",
                        at(b.start),
                        at(b.end)
                    ));
                    (Reply::Changed, Some(b.clone()))
                })
            }
            Request::Extend {
                confirmation,
                minutes,
            } => {
                screen.line(format_args!(
                    "Extend: confirmation_id='{}', extension={minutes} minutes",
                    Untrusted(confirmation)
                ));
                let before = f.booking(confirmation).map(|b| b.end);
                f.extend(confirmation, *minutes).map(|x| {
                    let end = at(x.booking.end);
                    if x.changed {
                        let old = before.map_or(end, at);
                        screen.line(format_args!("Extended booking from {old} to {end}"));
                    } else {
                        screen.line(format_args!(
                            "Booking already extended to {end} (idempotent - no change)"
                        ));
                    }
                    let changed = x.changed.then(|| x.booking.clone());
                    (
                        Reply::Extended {
                            message: format!("Booking extended to {end}"),
                        },
                        changed,
                    )
                })
            }
            Request::Cancel { confirmation } => {
                screen.line(format_args!(
                    "Cancel: confirmation_id='{}'",
                    Untrusted(confirmation)
                ));
                f.cancel(confirmation).map(|b| {
                    (
                        Reply::Cancelled {
                            message: "Booking cancelled successfully".into(),
                        },
                        Some(b.clone()),
                    )
                })
            }
            // Registrations live at the front door; it never sends them here.
            Request::Monitor { .. } => Err(BookingError {
                code: ErrorCode::InvalidRequest as u8,
                message: "Monitor registrations are made at the front door".into(),
            }),
        };
        let (reply, booking) = match result {
            Ok((reply, booking)) => (reply, booking),
            Err(e) => (
                Reply::Error {
                    code: e.code,
                    message: e.message,
                },
                None,
            ),
        };
        Some((reply, booking, facility, token))
    }

    /// The MONITOR_UPDATE datagram for a facility: its whole week.
    pub fn update_datagram(&self, facility: &str) -> Option<Vec<u8>> {
        let week = self.held().facilities.week(facility).ok()?;
        Some(
            Reply::Update {
                facility: facility.to_string(),
                days: to_wire(&week),
            }
            .encode(),
        )
    }

    /// Records that `who` (this node's front door: `None`) wants changes to
    /// `facility` until `until`, and returns `true`. A facility this node
    /// does not serve (yet) is refused (`false`; the front door asks again),
    /// so the list holds at most one entry per served facility and front
    /// door.
    pub fn subscribe(&self, facility: &str, who: Option<SocketAddr>, until: Instant) -> bool {
        if !self.held().facilities.has(facility) {
            return false;
        }
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let list = subs.entry(facility.to_string()).or_default();
        match list.iter_mut().find(|(w, _)| *w == who) {
            Some((_, u)) => *u = (*u).max(until),
            None => list.push((who, until)),
        }
        true
    }

    /// Who to tell about a change to `facility` now; expired entries go.
    pub fn subscribers(&self, facility: &str, now: Instant) -> Vec<Option<SocketAddr>> {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(list) = subs.get_mut(facility) else {
            return Vec::new();
        };
        list.retain(|(_, until)| *until > now);
        list.iter().map(|(w, _)| *w).collect()
    }

    /// Drops every subscription that has ended by `now`.
    pub fn purge_subscribers(&self, now: Instant) {
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, list| {
                list.retain(|(_, until)| *until > now);
                !list.is_empty()
            });
    }

    /// Subscriptions held, counting ended ones not yet dropped.
    pub fn subscriptions(&self) -> usize {
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(Vec::len)
            .sum()
    }
}

/// The replies the record let go of since last asked, as the store names them.
fn forgotten(record: &mut ReplyCache) -> Vec<(String, u32)> {
    record
        .take_evicted()
        .into_iter()
        .map(|(client, request_id)| (client.to_string(), request_id))
        .collect()
}

/// Puts kept replies loaded from the database into the record.
fn restore_replies(record: &mut ReplyCache, replies: Vec<ReplyRow>) {
    let (now, now_ms) = (Instant::now(), now_ms());
    for row in replies {
        let Ok(client) = row.client.parse::<SocketAddr>() else {
            continue;
        };
        record.restore(
            now,
            RestoredEntry {
                client,
                request_id: row.request_id,
                checksum: row.checksum,
                reply: row.reply,
                age: Duration::from_millis(now_ms.saturating_sub(row.created_ms).max(0) as u64),
            },
        );
    }
}

/// The confirmation id a request names, if any.
fn confirmation_of(request: &Request) -> Option<&str> {
    match request {
        Request::Change { confirmation, .. }
        | Request::Extend { confirmation, .. }
        | Request::Cancel { confirmation } => Some(confirmation),
        _ => None,
    }
}

fn booking(r: BookingRow) -> Booking {
    Booking {
        id: r.id,
        facility: r.facility,
        start: r.start,
        end: r.end,
        original_end: r.original_end,
        cancelled: r.cancelled,
    }
}

fn row(b: &Booking) -> BookingRow {
    BookingRow {
        id: b.id.clone(),
        facility: b.facility.clone(),
        start: b.start,
        end: b.end,
        original_end: b.original_end,
        cancelled: b.cancelled,
    }
}

/// A minute of the week as the seed prints it ("Mon 10:30").
fn at(m: Minute) -> WeekTime {
    WeekTime::from_minutes(m).unwrap_or_else(|| WeekTime::end_of_day(6).expect("Sunday exists"))
}

/// Free slots as the wire carries them: a slot that reaches the end of its
/// day ends at (day, 24, 0), as the seed encodes it.
fn to_wire(days: &[(u8, Vec<(Minute, Minute)>)]) -> Vec<DayAvailability> {
    days.iter()
        .map(|(day, slots)| DayAvailability {
            day: *day,
            slots: slots
                .iter()
                .map(|&(start, end)| {
                    let day_end = (u32::from(*day) + 1) * convene_time::MINUTES_PER_DAY;
                    let end_time = if end >= day_end {
                        WeekTime::end_of_day(*day)
                    } else {
                        WeekTime::from_minutes(end)
                    };
                    (at(start), end_time.unwrap_or_else(|| at(end)))
                })
                .collect(),
        })
        .collect()
}
