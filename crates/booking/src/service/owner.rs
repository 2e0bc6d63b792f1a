//! The owner side: executing requests on the facilities this node owns.
//!
//! Every request for a facility or booking ends here, whichever node the
//! client talked to. Under at-most-once the owner keeps its own record of
//! executed changes (client address and request id, with the request's
//! checksum), persisted with the change itself, so a retry is answered from
//! the record even after a restart of the owner or via another front door.
//! Queries change nothing and are simply executed again.
//!
//! That record is bounded: at most `limits.booking_replies_per_source`
//! replies per client address (an IPv6 client by its /64), the oldest going
//! first, and at most `reply_cache_entries` in all; the rows it lets go of
//! are deleted from the store with the next write, so the table never holds
//! more than the record. Writes wait in a bounded queue (see
//! [`Committer`]); a request that finds it full is dropped before it
//! changes anything, unanswered, and the client's retry comes back later.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use convene_cluster::Screen;
use convene_cluster::screen::Untrusted;
use convene_rpc::{CacheConfig, Lookup, ReplyCache, RestoredEntry};
use convene_store::{BookingRow, BookingWrite, ReplyRow, Store};
use convene_time::WeekTime;

use super::committer::Committer;
use super::lines;
use crate::state::{Booking, BookingError, Facilities, IdScheme, Minute};
use crate::wire::{self, DayAvailability, ErrorCode, Reply, Request};

/// What executing a request produced.
pub enum Outcome {
    /// Send these bytes; if a facility changed, its monitors must hear.
    Reply(Vec<u8>, Option<String>),
    /// The same request is executing right now (or could not be stored,
    /// or the store's queue is full): send nothing, the client will retry.
    Busy,
}

/// The facilities of this node, and what it needs to change them safely.
pub struct Owner {
    facilities: Mutex<Facilities>,
    record: Mutex<ReplyCache>,
    committer: Committer,
    /// Where the committed truth is, to reload from if a commit fails.
    store: Arc<Store>,
    names: Vec<String>,
    node: u32,
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

impl Owner {
    /// Loads this node's facilities, bookings and kept replies; at most
    /// `replies_per_source` replies are kept for one client address.
    pub fn load(
        names: &[String],
        node: u32,
        store: Arc<Store>,
        cache: CacheConfig,
        replies_per_source: usize,
        screen: Screen,
    ) -> Result<Owner, convene_store::StoreError> {
        let facilities = load_facilities(names, node, &store)?;
        let mut record = ReplyCache::new(cache)
            .with_source_limit(replies_per_source)
            .with_eviction_log();
        let now = Instant::now();
        let now_ms = now_ms();
        for row in store.booking_replies(now_ms - cache.ttl.as_millis() as i64)? {
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
        // Rows beyond today's bounds (a smaller limit, or written by an
        // earlier version) go now.
        let forget = forgotten(&mut record);
        if !forget.is_empty() {
            store.commit_booking_writes(&[BookingWrite {
                forget,
                ..BookingWrite::default()
            }])?;
        }
        store.prune_booking_replies(now_ms - cache.ttl.as_millis() as i64)?;
        Ok(Owner {
            facilities: Mutex::new(facilities),
            record: Mutex::new(record),
            committer: Committer::start(store.clone()),
            store,
            names: names.to_vec(),
            node,
            screen,
            subscribers: Mutex::new(HashMap::new()),
        })
    }

    /// Executes a client's request here. `dedup` is the front door's
    /// semantics: at-most-once keeps a record of changes.
    pub async fn execute(&self, client: SocketAddr, datagram: &[u8], dedup: bool) -> Outcome {
        let (header, request) = match wire::decode_request(datagram) {
            Ok(ok) => ok,
            Err(e) => return Outcome::Reply(e.to_reply().encode(), None),
        };
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
            let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
            match record.begin(Instant::now(), client, header.request_id, datagram) {
                Lookup::Done(bytes) => return Outcome::Reply(bytes.to_vec(), None),
                Lookup::InProgress => return Outcome::Busy,
                Lookup::New => {}
            }
        }
        let (reply, changed) = self.apply(&request);
        let bytes = reply.encode();
        if let Some(place) = place {
            let forget = if dedup {
                forgotten(&mut self.record.lock().unwrap_or_else(|e| e.into_inner()))
            } else {
                Vec::new()
            };
            let write = BookingWrite {
                booking: changed.as_ref().map(row),
                forget,
                reply: dedup.then(|| ReplyRow {
                    client: client.to_string(),
                    request_id: header.request_id,
                    checksum: ReplyCache::checksum(datagram),
                    reply: bytes.clone(),
                    created_ms: now_ms(),
                }),
            };
            if (write.booking.is_some() || write.reply.is_some() || !write.forget.is_empty())
                && let Err(e) = self.committer.commit(place, write).await
            {
                // Not durable, so not sent: the client's retry asks again.
                // The change was applied in memory: go back to what is on disk.
                tracing::error!("booking change not stored: {e}; reloading from the store");
                self.reload().await;
                if dedup {
                    self.record
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .abandon(client, header.request_id, datagram);
                }
                return Outcome::Busy;
            }
            if dedup {
                self.record
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .finish(Instant::now(), client, header.request_id, datagram, &bytes);
            }
        }
        Outcome::Reply(bytes, changed.map(|b| b.facility))
    }

    /// Replaces the in-memory facilities with what the store holds (after a
    /// failed commit, so memory never claims what the disk does not).
    async fn reload(&self) {
        let (names, node, store) = (self.names.clone(), self.node, self.store.clone());
        match tokio::task::spawn_blocking(move || load_facilities(&names, node, &store)).await {
            Ok(Ok(fresh)) => *self.facilities.lock().unwrap_or_else(|e| e.into_inner()) = fresh,
            Ok(Err(e)) => tracing::error!("cannot reload bookings from the store: {e}"),
            Err(e) => tracing::error!("reload task failed: {e}"),
        }
    }

    /// Runs one request against the facilities, printing the seed's lines.
    fn apply(&self, request: &Request) -> (Reply, Option<Booking>) {
        let mut f = self.facilities.lock().unwrap_or_else(|e| e.into_inner());
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
        match result {
            Ok((reply, booking)) => (reply, booking),
            Err(e) => (
                Reply::Error {
                    code: e.code,
                    message: e.message,
                },
                None,
            ),
        }
    }

    /// The MONITOR_UPDATE datagram for a facility: its whole week.
    pub fn update_datagram(&self, facility: &str) -> Option<Vec<u8>> {
        let week = self
            .facilities
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .week(facility)
            .ok()?;
        Some(
            Reply::Update {
                facility: facility.to_string(),
                days: to_wire(&week),
            }
            .encode(),
        )
    }

    /// Records that `who` (this node's front door: `None`) wants changes to
    /// `facility` until `until`. A facility this node does not own is
    /// ignored, so the list holds at most one entry per owned facility and
    /// front door.
    pub fn subscribe(&self, facility: &str, who: Option<SocketAddr>, until: Instant) {
        if !self
            .facilities
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .has(facility)
        {
            return;
        }
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let list = subs.entry(facility.to_string()).or_default();
        match list.iter_mut().find(|(w, _)| *w == who) {
            Some((_, u)) => *u = (*u).max(until),
            None => list.push((who, until)),
        }
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

/// This node's facilities with their stored bookings.
fn load_facilities(
    names: &[String],
    node: u32,
    store: &Store,
) -> Result<Facilities, convene_store::StoreError> {
    let mut facilities = Facilities::new(names.iter().cloned(), IdScheme { node });
    let rows = store.bookings()?;
    // Bookings of a facility this node no longer owns (the cluster file
    // changed) stay in the store but are not loaded.
    let (mine, elsewhere): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|r| facilities.has(&r.facility));
    if !elsewhere.is_empty() {
        tracing::warn!(
            count = elsewhere.len(),
            "stored bookings of facilities this node no longer owns were not loaded"
        );
        // Their ids are in the store's table all the same: never reissue one.
        facilities.reserve_ids(elsewhere.into_iter().map(|r| r.id));
    }
    let bookings = mine
        .into_iter()
        .map(|r| Booking {
            id: r.id,
            facility: r.facility,
            start: r.start,
            end: r.end,
            original_end: r.original_end,
            cancelled: r.cancelled,
        })
        .collect();
    facilities
        .restore(bookings)
        .map_err(|e| convene_store::StoreError::Corrupt {
            path: store.path().to_path_buf(),
            table: "booking_bookings",
            problem: e.to_string(),
        })?;
    Ok(facilities)
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
