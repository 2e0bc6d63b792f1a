//! [`ReplyCache`]: at-most-once execution for requests that arrive over UDP.
//!
//! A UDP client that hears nothing sends its request again, with the same
//! request id. It cannot tell a lost request from a lost reply, so the server
//! may see the same request twice. For a read that is harmless; for "book
//! this slot" or "cancel that booking" running twice is wrong (the second
//! run fails, or worse, succeeds). The classic fix is NFS's *duplicate
//! request cache* (RFC 1813 §4.5, Linux `fs/nfsd/nfscache.c`): the server
//! remembers each recent request and the reply it sent, and answers a retry
//! from memory instead of executing it again.
//!
//! # States
//!
//! ```text
//!            begin: New                 finish
//!   (absent) ----------> In progress ----------> Done(reply)
//!                |                                   |
//!                +-- abandon: back to absent          +-- expires after ttl,
//!                                                         or evicted when full
//! ```
//!
//! The server calls [`ReplyCache::begin`] for every request. It answers:
//!
//! * [`Lookup::New`]: never seen. The cache now holds the request as *in
//!   progress*; execute it, send the reply and call [`ReplyCache::finish`]
//!   (or [`ReplyCache::abandon`] if it produced no reply).
//! * [`Lookup::InProgress`]: a retry of a request still executing. Drop it:
//!   the original's reply is on its way, and that answers the retry too.
//! * [`Lookup::Done`]: a retry of a finished request. Send the cached bytes
//!   again, exactly, without executing anything.
//!
//! # Telling a retry from a new request
//!
//! A request is identified by the client's address and its request id. That
//! alone is not enough: a client that restarts numbers its requests from 1
//! again, and its new request 1 must not be answered with the reply to its
//! old request 1. So each entry also keeps a 64-bit checksum of the whole
//! request datagram ([`ReplyCache::checksum`]); a known key with a different
//! checksum is a *reused id*: the old entry is dropped and the request is
//! new. (nfsd checksums the first 256 bytes plus the length; our datagrams
//! are small, so we hash all of them.)
//!
//! # Bounds
//!
//! The cache forgets an entry `ttl` after it was created. `ttl` must exceed
//! the clients' whole retry window (first send to last retransmission), or a
//! late retry of an expired entry executes again.
//!
//! It never holds more than `max_entries`. Inserting into a full cache
//! evicts the oldest entry, so memory stays bounded whatever arrives,
//! including a flood of distinct keys. The price is that such a flood pushes
//! out genuine entries, whose retries would then execute again: size
//! `max_entries` above the peak request rate times `ttl`.
//!
//! A flood from one sender need not push out everyone else's entries:
//! [`ReplyCache::with_source_limit`] caps the entries one source (an IPv4
//! address, or an IPv6 /64) may hold, and a new entry beyond the cap evicts
//! that source's own oldest. A server that keeps a copy of the entries
//! elsewhere (the booking owner persists them) asks for the keys evicted
//! for room with [`ReplyCache::with_eviction_log`] and
//! [`ReplyCache::take_evicted`], to drop its copies too.
//!
//! # Layout
//!
//! Entries live in a `HashMap` from a compact key (28 bytes: the client's
//! address, port and link, and the request id; IPv4 and IPv6 alike) to the
//! checksum, the expiry time, the reply as a `Box<[u8]>` (no spare
//! capacity, and `None` while in progress) and a sequence number. A
//! `VecDeque` of `(key, sequence number)` in insertion order finds the oldest
//! entry, for eviction and for expiry. Removing an entry from the middle
//! (abandon, reuse, restore) leaves its queue record behind; a record whose
//! sequence number no longer matches its entry's is *stale* and skipped when
//! it reaches the front. Stale records are swept out in one pass whenever
//! they outnumber live entries, so the queue never exceeds about twice
//! `max_entries`, and the sweep's cost is paid by the removals that made the
//! records stale. [`ReplyCache::approx_bytes_per_entry`] measures the result:
//! about 206 bytes per entry with 40-byte replies.
//!
//! With a per-source limit, each source with entries also has its own queue
//! of `(key, sequence number)` records, kept the same way (swept once its
//! stale records outnumber its live entries, dropped with its last entry),
//! to find that source's oldest entry without a scan.
//!
//! # Time
//!
//! The cache never reads a clock: every call that needs the time takes
//! `now`, so expiry is tested exactly with a fake clock. [`ReplyCache::begin`]
//! and [`ReplyCache::finish`] drop expired entries from the front of the
//! queue as they go (each entry is dropped once, so this is amortised O(1));
//! [`ReplyCache::purge`] sweeps everything.

mod key;

use std::collections::{HashMap, VecDeque};
use std::mem::size_of;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use key::Key;

use crate::source::Source;

/// How long the cache remembers requests, and how many.
///
/// ```
/// use std::time::Duration;
/// use convene_rpc::CacheConfig;
///
/// let config = CacheConfig::default();
/// assert_eq!(config.ttl, Duration::from_secs(300));
/// assert_eq!(config.max_entries, 100_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long after its creation an entry is forgotten. Must exceed the
    /// clients' total retry window. Default 300 s (nfsd uses 120 s).
    /// A `ttl` too large to add to an [`Instant`] means "never expires".
    pub ttl: Duration,
    /// The most entries held at once; inserting beyond it evicts the
    /// oldest. Default 100,000, about 21 MB with 40-byte replies. Zero
    /// disables the cache: every request is [`Lookup::New`].
    pub max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: Duration::from_secs(300),
            max_entries: 100_000,
        }
    }
}

/// What [`ReplyCache::begin`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// Not seen (or expired, or the id was reused for a different request):
    /// an entry is now in progress; execute, then call
    /// [`ReplyCache::finish`] (or [`ReplyCache::abandon`]).
    New,
    /// A retry of a request still executing: drop it silently (the
    /// original's reply is coming).
    InProgress,
    /// A retry of a finished request: resend these exact bytes, do not
    /// execute.
    Done(&'a [u8]),
}

/// A finished entry saved before a restart, handed back with
/// [`ReplyCache::restore`].
///
/// A restarted server that forgot its cache would execute retries of
/// requests it already executed before going down; persisting finished
/// entries (the store does) and restoring them closes that gap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredEntry {
    /// The client that sent the request.
    pub client: SocketAddr,
    /// The client's request id.
    pub request_id: u32,
    /// [`ReplyCache::checksum`] of the request datagram.
    pub checksum: u64,
    /// The reply that was sent.
    pub reply: Vec<u8>,
    /// How long ago the entry was created; it lives for the rest of `ttl`.
    pub age: Duration,
}

/// Running totals since the cache was created.
///
/// Every [`ReplyCache::begin`] counts in exactly one of `hits_done`,
/// `hits_in_progress` and `misses`. `reused_ids` counts the misses that
/// replaced an entry with a different checksum. `expired`, `evicted_full`
/// and `evicted_source` count entries dropped for age, for room, and to keep
/// a source within its limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Retries answered from a finished entry ([`Lookup::Done`]).
    pub hits_done: u64,
    /// Retries dropped because the original is executing
    /// ([`Lookup::InProgress`]).
    pub hits_in_progress: u64,
    /// Requests to execute ([`Lookup::New`]).
    pub misses: u64,
    /// Requests whose key was known with a different checksum: the client
    /// reused the id for a new request.
    pub reused_ids: u64,
    /// Entries evicted, oldest first, to stay within `max_entries`.
    pub evicted_full: u64,
    /// Entries evicted, the source's oldest first, to stay within the
    /// per-source limit ([`ReplyCache::with_source_limit`]).
    pub evicted_source: u64,
    /// Entries dropped because they outlived `ttl`, including restored
    /// entries that were already too old to keep.
    pub expired: u64,
}

/// One remembered request.
#[derive(Debug)]
struct Entry {
    /// When the entry is forgotten: it expires once `now` is past this.
    /// `None` if `ttl` is too large for an [`Instant`]: never.
    expires: Option<Instant>,
    /// [`ReplyCache::checksum`] of the request.
    checksum: u64,
    /// Matches the entry's record in [`ReplyCache::order`]; any other
    /// record for the same key is stale.
    seq: u64,
    /// The reply once finished; `None` while in progress.
    reply: Option<Box<[u8]>>,
}

impl Entry {
    fn is_expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|expires| now > expires)
    }
}

/// What [`ReplyCache::begin`] found under a key, before acting on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Absent,
    Expired,
    Reused,
    InProgress,
    Done,
}

/// Stale queue records tolerated before a sweep even when the cache is
/// nearly empty, so a small cache does not sweep on every removal.
const MIN_STALE: usize = 64;

/// The at-most-once reply cache. See the [module docs](self).
///
/// ```
/// use std::time::Instant;
/// use convene_rpc::{CacheConfig, Lookup, ReplyCache};
///
/// let mut cache = ReplyCache::new(CacheConfig::default());
/// let (now, client) = (Instant::now(), "192.0.2.1:4000".parse().unwrap());
/// let request = b"\x01\x00\x00\x00\x07book slot 3";
///
/// // First arrival: execute it, then record the reply.
/// assert_eq!(cache.begin(now, client, 7, request), Lookup::New);
/// cache.finish(now, client, 7, request, b"booked");
///
/// // A retransmission is answered from the cache.
/// assert_eq!(cache.begin(now, client, 7, request), Lookup::Done(b"booked"));
/// ```
#[derive(Debug)]
pub struct ReplyCache {
    config: CacheConfig,
    /// Every live entry.
    entries: HashMap<Key, Entry>,
    /// `(key, seq)` of every entry in insertion order, plus stale records.
    order: VecDeque<(Key, u64)>,
    /// Entries per source, if limited ([`ReplyCache::with_source_limit`]).
    sources: Option<Sources>,
    /// Keys evicted for room, if asked for ([`ReplyCache::with_eviction_log`]).
    evicted: Option<Vec<Key>>,
    /// The sequence number of the next insertion.
    next_seq: u64,
    stats: CacheStats,
}

/// The entries of each source, for a per-source limit.
#[derive(Debug)]
struct Sources {
    /// Most entries one source may hold.
    limit: usize,
    /// Only sources with at least one entry.
    queues: HashMap<Source, SourceQueue>,
}

/// One source's entries: how many, and their records oldest first (plus
/// stale records, as in [`ReplyCache::order`]).
#[derive(Debug, Default)]
struct SourceQueue {
    live: usize,
    order: VecDeque<(Key, u64)>,
}

impl ReplyCache {
    /// An empty cache. Allocates nothing until the first entry.
    pub fn new(config: CacheConfig) -> Self {
        ReplyCache {
            config,
            entries: HashMap::new(),
            order: VecDeque::new(),
            sources: None,
            evicted: None,
            next_seq: 0,
            stats: CacheStats::default(),
        }
    }

    /// Limits the entries one source (an IPv4 address, or an IPv6 /64) may
    /// hold to `limit` (at least 1): a new entry beyond it evicts that
    /// source's oldest, so one sender cannot flush everyone else's entries.
    /// Set it on a new cache, before any entry.
    ///
    /// ```
    /// use std::time::Instant;
    /// use convene_rpc::{CacheConfig, Lookup, ReplyCache};
    ///
    /// let mut cache = ReplyCache::new(CacheConfig::default()).with_source_limit(2);
    /// let now = Instant::now();
    /// let (flood, other) = ("192.0.2.1:4000".parse().unwrap(), "192.0.2.2:4000".parse().unwrap());
    /// cache.begin(now, other, 1, b"mine");
    /// for id in 0..100 {
    ///     cache.begin(now, flood, id, b"x");
    /// }
    /// assert_eq!(cache.len(), 3);
    /// assert_eq!(cache.begin(now, other, 1, b"mine"), Lookup::InProgress);
    /// ```
    pub fn with_source_limit(mut self, limit: usize) -> Self {
        self.sources = Some(Sources {
            limit: limit.max(1),
            queues: HashMap::new(),
        });
        self
    }

    /// Keeps the key of every entry evicted for room (from a full cache or
    /// a source at its limit) until [`take_evicted`](ReplyCache::take_evicted)
    /// collects them. Entries that expire are not listed: the caller knows
    /// their age.
    pub fn with_eviction_log(mut self) -> Self {
        self.evicted = Some(Vec::new());
        self
    }

    /// The `(client, request id)` of every entry evicted for room since the
    /// last call (always empty without
    /// [`with_eviction_log`](ReplyCache::with_eviction_log)).
    pub fn take_evicted(&mut self) -> Vec<(SocketAddr, u32)> {
        self.evicted
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
            .into_iter()
            .map(|key| (key.client(), key.request_id()))
            .collect()
    }

    /// The configuration this cache was built with.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Looks up request `request_id` from `client`, whose whole datagram is
    /// `request`, and says what to do with it (see [`Lookup`]).
    ///
    /// On [`Lookup::New`] the request is recorded as in progress, evicting
    /// the oldest entry if the cache is full. Also drops expired entries
    /// from the front of the queue.
    pub fn begin(
        &mut self,
        now: Instant,
        client: SocketAddr,
        request_id: u32,
        request: &[u8],
    ) -> Lookup<'_> {
        self.purge_front(now);
        let key = Key::new(client, request_id);
        let checksum = Self::checksum(request);
        let found = match self.entries.get(&key) {
            None => Found::Absent,
            Some(e) if e.is_expired(now) => Found::Expired,
            Some(e) if e.checksum != checksum => Found::Reused,
            Some(e) if e.reply.is_none() => Found::InProgress,
            Some(_) => Found::Done,
        };
        match found {
            Found::InProgress => {
                self.stats.hits_in_progress += 1;
                return Lookup::InProgress;
            }
            Found::Done => {}
            Found::Expired => {
                self.remove(&key);
                self.stats.expired += 1;
                return self.start(now, key, checksum);
            }
            Found::Reused => {
                self.remove(&key);
                self.stats.reused_ids += 1;
                return self.start(now, key, checksum);
            }
            Found::Absent => return self.start(now, key, checksum),
        }
        // Looked up a second time: returning a borrow from the first lookup
        // while other paths mutate the map is beyond today's borrow checker.
        // The entry was just seen finished, so the fallback is unreachable;
        // it is the conservative answer (never execute twice).
        self.stats.hits_done += 1;
        match self.entries.get(&key).and_then(|e| e.reply.as_deref()) {
            Some(reply) => Lookup::Done(reply),
            None => Lookup::InProgress,
        }
    }

    /// Records `reply` as the answer to the request that
    /// [`begin`](ReplyCache::begin) returned [`Lookup::New`] for; `request`
    /// is that request's datagram again.
    ///
    /// Normally this turns the in-progress entry into a finished one. If the
    /// entry is gone meanwhile (evicted to make room, or expired during a
    /// long execution), a finished entry is inserted afresh, so retries of
    /// this request are still answered from the cache. If the entry is
    /// already finished, the first reply stays: it is the one the client may
    /// have received. If the key now belongs to a different request (the
    /// client reused the id while this one executed), nothing is recorded:
    /// that client has moved on and will not retry this request.
    ///
    /// Both of those cases are why `finish` needs the request and not just
    /// its key: a fresh entry must carry the request's checksum, and a key
    /// taken over by a reused id is only recognisable by its checksum.
    pub fn finish(
        &mut self,
        now: Instant,
        client: SocketAddr,
        request_id: u32,
        request: &[u8],
        reply: &[u8],
    ) {
        self.purge_front(now);
        let key = Key::new(client, request_id);
        let checksum = Self::checksum(request);
        match self.entries.get_mut(&key) {
            Some(entry) if !entry.is_expired(now) => {
                if entry.checksum == checksum && entry.reply.is_none() {
                    entry.reply = Some(reply.into());
                }
                return;
            }
            Some(_) => {
                self.remove(&key);
                self.stats.expired += 1;
            }
            None => {}
        }
        let expires = now.checked_add(self.config.ttl);
        self.insert(key, checksum, expires, Some(reply.into()));
    }

    /// Forgets an in-progress request whose execution failed without a
    /// reply, so that a retry executes it again. `request` is its datagram.
    ///
    /// Does nothing if the entry is finished (its reply may have been sent,
    /// so a retry must still get it), absent, or belongs to a different
    /// request under a reused id.
    pub fn abandon(&mut self, client: SocketAddr, request_id: u32, request: &[u8]) {
        let key = Key::new(client, request_id);
        let checksum = Self::checksum(request);
        if self
            .entries
            .get(&key)
            .is_some_and(|e| e.reply.is_none() && e.checksum == checksum)
        {
            self.remove(&key);
            self.sweep_if_stale();
        }
    }

    /// Puts back a finished entry saved before a restart. It lives for the
    /// rest of its `ttl`: until `now + ttl - age`. An entry older than `ttl`
    /// is not kept (and counts as expired). An entry already present under
    /// the same key is replaced. Evicts the oldest entry if the cache is
    /// full.
    ///
    /// Entries restored out of age order are still expired exactly on
    /// lookup, but only [`purge`](ReplyCache::purge) reclaims an expired one
    /// queued behind a younger one.
    pub fn restore(&mut self, now: Instant, entry: RestoredEntry) {
        let Some(remaining) = self.config.ttl.checked_sub(entry.age) else {
            self.stats.expired += 1;
            return;
        };
        let key = Key::new(entry.client, entry.request_id);
        self.remove(&key);
        let expires = now.checked_add(remaining);
        self.insert(
            key,
            entry.checksum,
            expires,
            Some(entry.reply.into_boxed_slice()),
        );
    }

    /// Drops every expired entry, wherever it is in the queue, and sweeps
    /// out stale queue records. O(entries); [`begin`](ReplyCache::begin) and
    /// [`finish`](ReplyCache::finish) already keep the cache tidy
    /// incrementally, so call this only to reclaim memory promptly (on a
    /// timer, or after a bulk [`restore`](ReplyCache::restore)).
    pub fn purge(&mut self, now: Instant) {
        let before = self.entries.len();
        self.entries.retain(|_, e| !e.is_expired(now));
        self.stats.expired += (before - self.entries.len()) as u64;
        self.sweep();
        if let Some(sources) = &mut self.sources {
            let entries = &self.entries;
            sources.queues.retain(|_, queue| {
                queue.sweep(entries);
                queue.live = queue.order.len();
                queue.live > 0
            });
        }
    }

    /// How many requests are remembered (in progress or finished).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no request is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// The 64-bit FNV-1a hash of a whole request datagram.
    ///
    /// Public so the store can persist it with a finished entry and hand it
    /// back in [`RestoredEntry::checksum`]. FNV-1a is not cryptographic: it
    /// tells a client's reused id from a retry, it does not stop a forger
    /// (who could spoof the client's address anyway).
    ///
    /// ```
    /// use convene_rpc::ReplyCache;
    ///
    /// assert_eq!(ReplyCache::checksum(b""), 0xcbf2_9ce4_8422_2325);
    /// assert_eq!(ReplyCache::checksum(b"a"), 0xaf63_dc4c_8601_ec8c);
    /// ```
    pub fn checksum(request: &[u8]) -> u64 {
        const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        request.iter().fold(OFFSET_BASIS, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
    }

    /// An estimate of the heap and inline bytes the whole cache occupies.
    /// See [`approx_bytes_per_entry`](ReplyCache::approx_bytes_per_entry)
    /// for what is counted.
    pub fn approx_bytes(&self) -> usize {
        let table = hash_table_bytes(self.entries.capacity(), size_of::<(Key, Entry)>());
        let queue = self
            .order
            .capacity()
            .saturating_mul(size_of::<(Key, u64)>());
        let replies: usize = self
            .entries
            .values()
            .filter_map(|e| e.reply.as_deref())
            .map(|reply| heap_block(reply.len()))
            .fold(0, usize::saturating_add);
        let sources = self.sources.as_ref().map_or(0, |sources| {
            let record = size_of::<(Key, u64)>();
            let table = hash_table_bytes(
                sources.queues.capacity(),
                size_of::<(Source, SourceQueue)>(),
            );
            sources
                .queues
                .values()
                .map(|q| q.order.capacity().saturating_mul(record))
                .fold(table, usize::saturating_add)
        });
        let evicted = self
            .evicted
            .as_ref()
            .map_or(0, |log| log.capacity().saturating_mul(size_of::<Key>()));
        size_of::<Self>()
            .saturating_add(table)
            .saturating_add(queue)
            .saturating_add(replies)
            .saturating_add(sources)
            .saturating_add(evicted)
    }

    /// [`approx_bytes`](ReplyCache::approx_bytes) divided by the number of
    /// entries (by 1 when empty): what one entry really costs, overheads
    /// shared out.
    ///
    /// Computed from sizes and capacities, not from a count of entries, so
    /// spare capacity is charged to the entries present:
    ///
    /// * **the hash table**: std's `HashMap` is a SwissTable with a
    ///   power-of-two number of buckets, at most 7/8 full. Each bucket holds
    ///   a `(Key, Entry)` (80 bytes on 64-bit targets: a 28-byte key, and an
    ///   entry of expiry, checksum, sequence number and boxed reply) plus one
    ///   control byte, and the table has 16 extra control bytes. The bucket
    ///   count is derived from `HashMap::capacity`.
    /// * **the queue**: `VecDeque::capacity` records of `(Key, u64)`,
    ///   40 bytes each, stale records and spare room included.
    /// * **the replies**: each non-empty reply is its own allocation, counted
    ///   as glibc's malloc sizes it: length plus an 8-byte header, rounded up
    ///   to 16, at least 32 (so a 40-byte reply costs 48).
    /// * with a per-source limit, each source's queue of records and the
    ///   table of sources; with an eviction log, its keys.
    /// * the `ReplyCache` itself.
    ///
    /// With 100,000 entries and 40-byte replies this is 206 bytes:
    /// 131,072 buckets of 81 bytes (106 per entry), a queue of 131,072
    /// records (52 per entry), and 48 bytes of reply.
    pub fn approx_bytes_per_entry(&self) -> usize {
        self.approx_bytes() / self.entries.len().max(1)
    }

    /// Records a new request, absent from the map, as in progress.
    fn start(&mut self, now: Instant, key: Key, checksum: u64) -> Lookup<'static> {
        self.stats.misses += 1;
        let expires = now.checked_add(self.config.ttl);
        self.insert(key, checksum, expires, None);
        Lookup::New
    }

    /// Inserts an entry for a key not in the map, first evicting the oldest
    /// entries until there is room. Inserts nothing if `max_entries` is 0.
    fn insert(
        &mut self,
        key: Key,
        checksum: u64,
        expires: Option<Instant>,
        reply: Option<Box<[u8]>>,
    ) {
        while self.entries.len() >= self.config.max_entries {
            if !self.evict_oldest() {
                // Empty queue: nothing left to evict (max_entries is 0).
                return;
            }
        }
        self.make_room_for(key.source());
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.entries.insert(
            key,
            Entry {
                expires,
                checksum,
                seq,
                reply,
            },
        );
        self.order.push_back((key, seq));
        if let Some(sources) = &mut self.sources {
            let queue = sources.queues.entry(key.source()).or_default();
            queue.live += 1;
            queue.order.push_back((key, seq));
        }
        self.sweep_if_stale();
    }

    /// Evicts `source`'s oldest entries until it may add one (with a
    /// per-source limit; otherwise does nothing).
    fn make_room_for(&mut self, source: Source) {
        loop {
            let Some(sources) = &mut self.sources else {
                return;
            };
            let limit = sources.limit;
            let Some(queue) = sources.queues.get_mut(&source) else {
                return;
            };
            if queue.live < limit {
                return;
            }
            let Some((key, seq)) = queue.order.pop_front() else {
                return; // unreachable: live entries have records
            };
            if self.entries.get(&key).is_some_and(|e| e.seq == seq) {
                self.remove(&key);
                self.stats.evicted_source += 1;
                self.log_eviction(key);
            }
        }
    }

    /// Removes the oldest live entry, skipping stale records. Returns false
    /// if the queue ran out first.
    fn evict_oldest(&mut self) -> bool {
        while let Some((key, seq)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|e| e.seq == seq) {
                self.remove(&key);
                self.stats.evicted_full += 1;
                self.log_eviction(key);
                return true;
            }
        }
        false
    }

    fn log_eviction(&mut self, key: Key) {
        if let Some(log) = &mut self.evicted {
            log.push(key);
        }
    }

    /// Removes the entry under `key`, if any, keeping the per-source counts.
    /// Its queue records become stale.
    fn remove(&mut self, key: &Key) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        if let Some(sources) = &mut self.sources {
            let source = key.source();
            if let Some(queue) = sources.queues.get_mut(&source) {
                queue.live = queue.live.saturating_sub(1);
                if queue.live == 0 {
                    sources.queues.remove(&source);
                } else if queue.order.len().saturating_sub(queue.live) > queue.live {
                    queue.sweep(&self.entries);
                }
            }
        }
        Some(entry)
    }

    /// Drops stale records and expired entries from the front of the queue,
    /// stopping at the first live entry that has not expired.
    fn purge_front(&mut self, now: Instant) {
        while let Some(&(key, seq)) = self.order.front() {
            match self.entries.get(&key) {
                Some(e) if e.seq == seq => {
                    if !e.is_expired(now) {
                        break;
                    }
                    self.remove(&key);
                    self.stats.expired += 1;
                }
                _ => {} // stale
            }
            self.order.pop_front();
        }
    }

    /// Sweeps the queue once stale records outnumber live entries (and
    /// [`MIN_STALE`]), which bounds the queue at about twice the entries.
    fn sweep_if_stale(&mut self) {
        let stale = self.order.len().saturating_sub(self.entries.len());
        if stale > self.entries.len().max(MIN_STALE) {
            self.sweep();
        }
    }

    /// Removes every stale record from the queue, keeping the order.
    fn sweep(&mut self) {
        let entries = &self.entries;
        self.order
            .retain(|(key, seq)| entries.get(key).is_some_and(|e| e.seq == *seq));
    }
}

impl SourceQueue {
    /// Removes every stale record, keeping the order.
    fn sweep(&mut self, entries: &HashMap<Key, Entry>) {
        self.order
            .retain(|(key, seq)| entries.get(key).is_some_and(|e| e.seq == *seq));
    }
}

/// Bytes of a std `HashMap` table with `capacity` (as `HashMap::capacity`
/// reports it) and `slot` bytes per bucket.
///
/// hashbrown allocates a power-of-two number of buckets, a slot and a
/// control byte each, plus one 16-byte group of trailing control bytes; it
/// reports `buckets - 1` as the capacity of tables under 8 buckets and
/// `buckets * 7 / 8` above.
fn hash_table_bytes(capacity: usize, slot: usize) -> usize {
    const GROUP_WIDTH: usize = 16;
    let buckets = match capacity {
        0 => return 0,
        1..8 => capacity + 1,
        _ => capacity.saturating_mul(8) / 7,
    };
    let buckets = buckets.checked_next_power_of_two().unwrap_or(usize::MAX);
    buckets
        .saturating_mul(slot.saturating_add(1))
        .saturating_add(GROUP_WIDTH)
}

/// Bytes glibc's malloc takes for a `len`-byte allocation: an 8-byte size
/// header, rounded up to 16, at least 32. Nothing for an empty `Box<[u8]>`,
/// which does not allocate.
fn heap_block(len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (len.saturating_add(8 + 15) & !15).max(32)
}

#[cfg(test)]
mod tests;
