//! An event server's working set: its partial solution for each event it
//! holds constraints of, and whether that event is frozen.
//!
//! The seed keeps this in Redis on each event server; Convene keeps it in
//! memory by default and in Redis when the cluster file names a `redis_url`
//! (the Redis store is in `convene-eventdb`). Either way the database's
//! constraint backups are the truth: a server that starts, or adopts a dead
//! server's share, rebuilds its entries from them.
//!
//! Each server writes only its own entries, one event at a time (the service
//! holds a per-event lock around read, fold and write), so a plain get/put
//! store is enough: no cross-server transaction is needed.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::{DbError, DbFuture, decode_availability, encode_availability};
use crate::interval::Partial;

/// One event's state on one server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The intersection of the constraints this server holds.
    pub partial: Partial,
    /// True once the leader froze the event: no more constraints here.
    pub frozen: bool,
}

impl Entry {
    /// The entry as text: `open|` or `frozen|`, then `none` or the
    /// availability ([`encode_availability`]).
    pub fn encode(&self) -> String {
        let state = if self.frozen { "frozen" } else { "open" };
        match self.partial.current() {
            None => format!("{state}|none"),
            Some(a) => format!("{state}|{}", encode_availability(a)),
        }
    }

    /// Reads back [`Entry::encode`]'s text.
    pub fn decode(text: &str) -> Result<Entry, DbError> {
        let corrupt = || DbError::Corrupt(format!("working-set entry {text:?}"));
        let (state, partial) = text.split_once('|').ok_or_else(corrupt)?;
        let frozen = match state {
            "open" => false,
            "frozen" => true,
            _ => return Err(corrupt()),
        };
        let partial = match partial {
            "none" => Partial::none(),
            text => Partial::from_current(Some(decode_availability(text)?)),
        };
        Ok(Entry { partial, frozen })
    }
}

/// Where a server keeps its entries.
pub trait WorkingSet: Send + Sync + 'static {
    /// `"memory"` or `"redis"`.
    fn kind(&self) -> &'static str;

    /// `server`'s entry for `event`.
    fn get<'a>(&'a self, server: &'a str, event: &'a str) -> DbFuture<'a, Option<Entry>>;

    /// Replaces `server`'s entry for `event`.
    fn put<'a>(&'a self, server: &'a str, event: &'a str, entry: &'a Entry) -> DbFuture<'a, ()>;

    /// Forgets `server`'s entry for `event` (after the result is stored).
    fn remove<'a>(&'a self, server: &'a str, event: &'a str) -> DbFuture<'a, ()>;
}

/// The default working set: a map in this process.
#[derive(Default)]
pub struct MemoryWorkingSet {
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl MemoryWorkingSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl WorkingSet for MemoryWorkingSet {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn get<'a>(&'a self, server: &'a str, event: &'a str) -> DbFuture<'a, Option<Entry>> {
        let entry = self
            .map()
            .get(&(server.to_string(), event.to_string()))
            .cloned();
        Box::pin(async move { Ok(entry) })
    }

    fn put<'a>(&'a self, server: &'a str, event: &'a str, entry: &'a Entry) -> DbFuture<'a, ()> {
        self.map()
            .insert((server.to_string(), event.to_string()), entry.clone());
        Box::pin(async { Ok(()) })
    }

    fn remove<'a>(&'a self, server: &'a str, event: &'a str) -> DbFuture<'a, ()> {
        self.map().remove(&(server.to_string(), event.to_string()));
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interval::{Availability, Interval};

    #[test]
    fn entries_round_trip_as_text() {
        let mut partial = Partial::none();
        let none = Entry {
            partial: partial.clone(),
            frozen: false,
        };
        assert_eq!(none.encode(), "open|none");
        assert_eq!(Entry::decode("open|none").unwrap(), none);
        partial.fold(&Availability::from_iter([Interval::new(5, 9).unwrap()]));
        let some = Entry {
            partial: partial.clone(),
            frozen: true,
        };
        assert_eq!(some.encode(), "frozen|5-9");
        assert_eq!(Entry::decode("frozen|5-9").unwrap(), some);
        partial.fold(&Availability::from_iter([Interval::new(10, 11).unwrap()]));
        let empty = Entry {
            partial,
            frozen: false,
        };
        assert_eq!(empty.encode(), "open|");
        assert_eq!(Entry::decode("open|").unwrap(), empty);
        for bad in ["", "open", "shut|none", "open|9-5"] {
            assert!(Entry::decode(bad).is_err(), "{bad:?}");
        }
    }
}
