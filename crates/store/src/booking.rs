//! The booking service's tables: bookings, and the replies kept so a retry
//! is never executed twice.
//!
//! A change to a booking and the reply that reports it are written in one
//! transaction ([`Store::commit_booking_writes`]): after a crash either both
//! are on disk (a retry gets the stored reply) or neither is (the retry
//! executes for the first time). Writes come in batches so a busy node pays
//! one commit for many requests.
//!
//! Kept replies are bounded by the service: its in-memory record holds at
//! most so many per client address and in all, and each write names the
//! replies that record has let go of ([`BookingWrite::forget`]), so the
//! table holds no more than the record does. Older ones go by age
//! ([`Store::prune_booking_replies`]).
//!
//! (The table `booking_sequence` held the counter of the sequential
//! confirmation ids of earlier versions; ids are random now, and it is no
//! longer read or written.)

use rusqlite::params;

use crate::error::StoreError;
use crate::store::Store;

/// A booking as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingRow {
    /// Confirmation id.
    pub id: String,
    /// The facility booked.
    pub facility: String,
    /// Start, minutes since Monday 00:00.
    pub start: u32,
    /// End (exclusive), minutes since Monday 00:00.
    pub end: u32,
    /// The end that extend counts from.
    pub original_end: u32,
    /// Cancelled bookings are kept, and no longer block the facility.
    pub cancelled: bool,
}

/// A reply kept for at-most-once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyRow {
    /// The client's address, `ip:port`.
    pub client: String,
    /// The client's request id.
    pub request_id: u32,
    /// Checksum of the request datagram (a reused id has another one).
    pub checksum: u64,
    /// The exact reply bytes.
    pub reply: Vec<u8>,
    /// When it was made, milliseconds since the Unix epoch.
    pub created_ms: i64,
}

/// One request's writes: the booking it changed (if any), its reply (if
/// replies are kept), and kept replies to drop.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BookingWrite {
    /// The booking as it is after the request.
    pub booking: Option<BookingRow>,
    /// The reply to keep.
    pub reply: Option<ReplyRow>,
    /// Kept replies to drop, by client address (`ip:port`) and request id:
    /// those the service's record evicted to stay within its bounds.
    pub forget: Vec<(String, u32)>,
}

impl Store {
    /// Writes a batch of requests' changes in one transaction.
    pub fn commit_booking_writes(&self, writes: &[BookingWrite]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO booking_bookings (id, facility, start_min, end_min, original_end, cancelled)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET facility = ?2, start_min = ?3, end_min = ?4,
                                                    original_end = ?5, cancelled = ?6",
                )
                .map_err(|e| self.sqlite(e))?;
            let mut reply = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO booking_replies (client, request_id, checksum, reply, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| self.sqlite(e))?;
            let mut forget = tx
                .prepare_cached("DELETE FROM booking_replies WHERE client = ?1 AND request_id = ?2")
                .map_err(|e| self.sqlite(e))?;
            for w in writes {
                if let Some(b) = &w.booking {
                    upsert
                        .execute(params![
                            b.id,
                            b.facility,
                            b.start,
                            b.end,
                            b.original_end,
                            b.cancelled
                        ])
                        .map_err(|e| self.sqlite(e))?;
                }
                for (client, request_id) in &w.forget {
                    forget
                        .execute(params![client, request_id])
                        .map_err(|e| self.sqlite(e))?;
                }
                if let Some(r) = &w.reply {
                    reply
                        .execute(params![
                            r.client,
                            r.request_id,
                            r.checksum as i64,
                            r.reply,
                            r.created_ms
                        ])
                        .map_err(|e| self.sqlite(e))?;
                }
            }
        }
        tx.commit().map_err(|e| self.sqlite(e))
    }

    /// Every stored booking.
    pub fn bookings(&self) -> Result<Vec<BookingRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, facility, start_min, end_min, original_end, cancelled FROM booking_bookings ORDER BY rowid")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(BookingRow {
                    id: r.get(0)?,
                    facility: r.get(1)?,
                    start: r.get(2)?,
                    end: r.get(3)?,
                    original_end: r.get(4)?,
                    cancelled: r.get(5)?,
                })
            })
            .map_err(|e| self.sqlite(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))?;
        for b in &rows {
            if b.start >= b.end || b.end > 10080 || b.original_end > 10080 {
                return Err(StoreError::Corrupt {
                    path: self.path().to_path_buf(),
                    table: "booking_bookings",
                    problem: format!("booking {} spans {}..{}", b.id, b.start, b.end),
                });
            }
        }
        Ok(rows)
    }

    /// Replies made at or after `since_ms` (older ones are expired anyway).
    pub fn booking_replies(&self, since_ms: i64) -> Result<Vec<ReplyRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT client, request_id, checksum, reply, created_ms FROM booking_replies WHERE created_ms >= ?1")
            .map_err(|e| self.sqlite(e))?;
        stmt.query_map(params![since_ms], |r| {
            Ok(ReplyRow {
                client: r.get(0)?,
                request_id: r.get(1)?,
                checksum: r.get::<_, i64>(2)? as u64,
                reply: r.get(3)?,
                created_ms: r.get(4)?,
            })
        })
        .map_err(|e| self.sqlite(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.sqlite(e))
    }

    /// Forgets replies made before `before_ms`; returns how many.
    pub fn prune_booking_replies(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "DELETE FROM booking_replies WHERE created_ms < ?1",
                params![before_ms],
            )
            .map_err(|e| self.sqlite(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, cancelled: bool) -> BookingRow {
        BookingRow {
            id: id.into(),
            facility: "Meeting Room A".into(),
            start: 600,
            end: 660,
            original_end: 660,
            cancelled,
        }
    }

    fn reply(id: u32, at: i64) -> ReplyRow {
        ReplyRow {
            client: "127.0.0.1:5000".into(),
            request_id: id,
            checksum: u64::MAX - 1,
            reply: vec![102, 0, 0, 0, 1, b'x'],
            created_ms: at,
        }
    }

    #[test]
    fn a_batch_lands_whole_and_reopens_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .commit_booking_writes(&[
                BookingWrite {
                    booking: Some(row("CONF1-3f9a0c27e4b5d861", false)),
                    reply: Some(reply(1, 1_000)),
                    forget: Vec::new(),
                },
                BookingWrite {
                    booking: Some(row("CONF1-3f9a0c27e4b5d861", true)),
                    reply: Some(reply(2, 2_000)),
                    forget: Vec::new(),
                },
            ])
            .unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.bookings().unwrap(),
            vec![row("CONF1-3f9a0c27e4b5d861", true)]
        );
        assert_eq!(
            store.booking_replies(0).unwrap(),
            vec![reply(1, 1_000), reply(2, 2_000)]
        );
        assert_eq!(store.booking_replies(1_500).unwrap(), vec![reply(2, 2_000)]);
        assert_eq!(store.prune_booking_replies(1_500).unwrap(), 1);
        assert_eq!(store.booking_replies(0).unwrap(), vec![reply(2, 2_000)]);
    }

    #[test]
    fn forgotten_replies_go_in_the_same_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writes: Vec<BookingWrite> = (1..=3)
            .map(|id| BookingWrite {
                reply: Some(reply(id, 1_000)),
                ..Default::default()
            })
            .collect();
        store.commit_booking_writes(&writes).unwrap();
        store
            .commit_booking_writes(&[BookingWrite {
                reply: Some(reply(4, 2_000)),
                forget: vec![("127.0.0.1:5000".into(), 1), ("127.0.0.1:5000".into(), 3)],
                ..Default::default()
            }])
            .unwrap();
        assert_eq!(
            store.booking_replies(0).unwrap(),
            vec![reply(2, 1_000), reply(4, 2_000)]
        );
    }
}
