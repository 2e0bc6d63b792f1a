//! [`Endpoint`]: the sans-IO request/reply state machine.
//!
//! The endpoint owns every pending request and decides what goes on the wire
//! and when, but never touches a socket or reads a clock. Its driver (the
//! tokio transport in [`socket`](crate::socket), or a test) does four things
//! in a loop:
//!
//! 1. hands it each received datagram: [`Endpoint::handle_datagram`];
//! 2. sends whatever [`Endpoint::poll_transmit`] returns;
//! 3. acts on whatever [`Endpoint::poll_event`] returns (run a handler for a
//!    request, wake the caller of a reply or failure);
//! 4. sleeps until [`Endpoint::poll_timeout`] and then calls
//!    [`Endpoint::handle_timeout`].
//!
//! Because time only enters as the `now` arguments, retries and failures can
//! be tested exactly, with a fake clock, and a test can shuttle datagrams
//! between two endpoints by hand, dropping or duplicating them at will.
//!
//! # Retries
//!
//! Each request has one deadline, `timeout` after its latest attempt. When
//! it passes, the request is sent again, unchanged, with the same id, until
//! `retries` extra attempts have been made; after the last attempt's
//! deadline the request fails with [`RpcError::TimedOut`]. Replies are never
//! retransmitted: if a reply is lost, the request's retransmission produces a
//! new one.
//!
//! # Matching replies
//!
//! A reply completes a request only if its id is pending *and* it comes from
//! the address the request was sent to. Anything else (a duplicate reply,
//! a late reply to a request that already timed out, a reply from a third
//! host) is dropped, counted in [`Stats`], and reported to the driver as an
//! `Err` it can log.
//!
//! # Deadlines
//!
//! Deadlines are kept in a `BTreeSet` ordered by `(deadline, id)` beside the
//! `HashMap` of pending requests. Completing or cancelling a request removes
//! its entry directly, so the set never holds stale entries, and
//! [`poll_timeout`](Endpoint::poll_timeout) is the set's first element:
//! every operation is `O(log n)` with thousands of requests in flight.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use convene_wire::Encode;

use crate::config::Config;
use crate::envelope::{Envelope, HEADER_LEN, Kind, RequestId};
use crate::error::RpcError;
use crate::stats::Stats;

/// A datagram the driver should send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub to: SocketAddr,
    /// The whole datagram, envelope included.
    pub data: Vec<u8>,
}

/// Something the driver must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A peer asks something. Run the handler, then answer with
    /// [`Endpoint::reply`] using the same `from` and `id` (or don't, and the
    /// peer will eventually time out).
    Request {
        /// The peer's address; the reply goes here.
        from: SocketAddr,
        /// The peer's id for this request; the reply must carry it.
        id: RequestId,
        /// The service's request bytes.
        payload: Vec<u8>,
    },
    /// A peer sent a one-way notice (see [`Endpoint::notify`]).
    Notice {
        /// The peer's address.
        from: SocketAddr,
        /// The service's bytes.
        payload: Vec<u8>,
    },
    /// A request of ours was answered. Delivered at most once per id.
    Reply {
        /// The id [`Endpoint::request`] returned.
        id: RequestId,
        /// The service's reply bytes.
        payload: Vec<u8>,
    },
    /// A request of ours will never be answered.
    Failed {
        /// The id [`Endpoint::request`] returned.
        id: RequestId,
        /// Why; currently always [`RpcError::TimedOut`].
        error: RpcError,
    },
}

/// A request waiting for its reply.
#[derive(Debug)]
struct Pending {
    /// Where the request went, and so where the reply must come from.
    to: SocketAddr,
    /// The encoded datagram, kept to retransmit it byte for byte.
    datagram: Vec<u8>,
    /// How many times it has been sent so far.
    attempts: u32,
    /// When the current attempt times out; mirrored in `Endpoint::deadlines`.
    deadline: Instant,
}

/// The sans-IO request/reply protocol for one UDP socket.
///
/// One endpoint both sends requests (as a client) and answers them (as a
/// server): a node has one per socket.
///
/// ```
/// use std::time::Instant;
/// use convene_rpc::{Config, Endpoint, Event};
///
/// let (a_addr, b_addr) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap());
/// let mut a = Endpoint::new(Config::default(), 100);
/// let mut b = Endpoint::new(Config::default(), 200);
/// let now = Instant::now();
///
/// // A asks B.
/// let id = a.request(now, b_addr, b"ping".to_vec()).unwrap();
/// let t = a.poll_transmit().unwrap();
/// b.handle_datagram(now, a_addr, &t.data).unwrap();
///
/// // B's driver runs its handler and replies.
/// let Some(Event::Request { from, id: their_id, payload }) = b.poll_event() else { panic!() };
/// assert_eq!(payload, b"ping");
/// b.reply(from, their_id, b"pong".to_vec()).unwrap();
/// let t = b.poll_transmit().unwrap();
///
/// // The reply completes A's request.
/// a.handle_datagram(now, b_addr, &t.data).unwrap();
/// assert_eq!(a.poll_event(), Some(Event::Reply { id, payload: b"pong".to_vec() }));
/// ```
#[derive(Debug)]
pub struct Endpoint {
    config: Config,
    /// The next id to hand out.
    next_id: u64,
    /// Requests waiting for a reply, by id.
    pending: HashMap<RequestId, Pending>,
    /// Every pending request's current deadline, earliest first.
    deadlines: BTreeSet<(Instant, RequestId)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl Endpoint {
    /// A new endpoint whose request ids start at `first_id`.
    ///
    /// Pass something random (see [`random_seed`](crate::random_seed)) so a
    /// restarted node does not reuse ids of its previous life: a peer's late
    /// reply to an old request must not complete a new one.
    pub fn new(config: Config, first_id: u64) -> Self {
        Endpoint {
            config,
            next_id: first_id,
            pending: HashMap::new(),
            deadlines: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The configuration this endpoint was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts a request to `to` and queues its first transmission.
    ///
    /// The outcome arrives later as exactly one [`Event::Reply`] or
    /// [`Event::Failed`] carrying the returned id, unless the request is
    /// [`cancel`](Endpoint::cancel)led first.
    ///
    /// Fails with [`RpcError::TooLarge`], sending nothing, if the datagram
    /// would exceed [`Config::max_datagram`].
    pub fn request(
        &mut self,
        now: Instant,
        to: SocketAddr,
        payload: Vec<u8>,
    ) -> Result<RequestId, RpcError> {
        self.check_size(payload.len())?;
        let id = self.allocate_id();
        let datagram = Envelope {
            kind: Kind::Request,
            id,
            payload: &payload,
        }
        .to_bytes();
        let deadline = now + self.config.timeout;
        self.transmits.push_back(Transmit {
            to,
            data: datagram.clone(),
        });
        self.stats.sent += 1;
        self.deadlines.insert((deadline, id));
        self.pending.insert(
            id,
            Pending {
                to,
                datagram,
                attempts: 1,
                deadline,
            },
        );
        Ok(id)
    }

    /// Queues a one-way notice to `to`: sent once, never retried, never
    /// answered. The receiver gets an [`Event::Notice`].
    ///
    /// Fails with [`RpcError::TooLarge`], sending nothing, if the datagram
    /// would exceed [`Config::max_datagram`].
    pub fn notify(&mut self, to: SocketAddr, payload: Vec<u8>) -> Result<(), RpcError> {
        self.check_size(payload.len())?;
        let data = Envelope {
            kind: Kind::Notice,
            id: RequestId(0),
            payload: &payload,
        }
        .to_bytes();
        self.transmits.push_back(Transmit { to, data });
        self.stats.sent += 1;
        Ok(())
    }

    /// Queues a reply to a request received as [`Event::Request`].
    ///
    /// Replies are sent once and forgotten: if one is lost, the requester
    /// retransmits its request and the handler runs again.
    ///
    /// Fails with [`RpcError::TooLarge`], sending nothing, if the datagram
    /// would exceed [`Config::max_datagram`].
    pub fn reply(
        &mut self,
        to: SocketAddr,
        id: RequestId,
        payload: Vec<u8>,
    ) -> Result<(), RpcError> {
        self.check_size(payload.len())?;
        let data = Envelope {
            kind: Kind::Reply,
            id,
            payload: &payload,
        }
        .to_bytes();
        self.transmits.push_back(Transmit { to, data });
        self.stats.sent += 1;
        Ok(())
    }

    /// Processes one datagram received from `from`.
    ///
    /// A request becomes an [`Event::Request`]; a reply to a pending request
    /// from the address that request went to becomes an [`Event::Reply`] and
    /// completes it. Everything else is dropped, counted in
    /// [`stats`](Endpoint::stats), and returned as an error for the driver to
    /// log: [`RpcError::Malformed`], [`RpcError::UnexpectedReply`] or
    /// [`RpcError::WrongSender`]. None of these errors is fatal.
    ///
    /// `now` is not needed yet; it is part of the signature so the reply
    /// cache can expire entries without changing every driver.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
    ) -> Result<(), RpcError> {
        let envelope = Envelope::parse(data).map_err(|error| {
            self.stats.received += 1;
            self.stats.dropped_malformed += 1;
            RpcError::Malformed(error)
        })?;
        self.handle_envelope(now, from, envelope)
    }

    /// Processes one envelope already taken out of a datagram, as
    /// [`handle_datagram`](Endpoint::handle_datagram) does after parsing:
    /// for a transport that authenticates datagrams before they reach the
    /// endpoint (see [`auth`](crate::auth)).
    pub fn handle_envelope(
        &mut self,
        now: Instant,
        from: SocketAddr,
        envelope: Envelope<'_>,
    ) -> Result<(), RpcError> {
        let _ = now;
        self.stats.received += 1;
        let id = envelope.id;
        match envelope.kind {
            Kind::Notice => {
                self.events.push_back(Event::Notice {
                    from,
                    payload: envelope.payload.to_vec(),
                });
                Ok(())
            }
            Kind::Request => {
                self.events.push_back(Event::Request {
                    from,
                    id,
                    payload: envelope.payload.to_vec(),
                });
                Ok(())
            }
            Kind::Reply => {
                let Some(pending) = self.pending.get(&id) else {
                    self.stats.dropped_unexpected += 1;
                    return Err(RpcError::UnexpectedReply { id, from });
                };
                if !same_peer(pending.to, from) {
                    self.stats.dropped_unexpected += 1;
                    return Err(RpcError::WrongSender {
                        id,
                        from,
                        expected: pending.to,
                    });
                }
                self.forget(id);
                self.events.push_back(Event::Reply {
                    id,
                    payload: envelope.payload.to_vec(),
                });
                Ok(())
            }
        }
    }

    /// Acts on every deadline at or before `now`: retransmits requests that
    /// have attempts left, fails the others with [`RpcError::TimedOut`].
    ///
    /// Safe to call at any time; with nothing due it does nothing. The next
    /// attempt's deadline counts from `now`, so a driver that wakes late
    /// still gives each attempt a full timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(pending) = self.pending.get_mut(&id) else {
                // Unreachable while `pending` and `deadlines` agree; if they
                // ever don't, dropping the orphan deadline is the safe repair.
                continue;
            };
            if pending.attempts <= self.config.retries {
                pending.attempts += 1;
                pending.deadline = now + self.config.timeout;
                self.deadlines.insert((pending.deadline, id));
                self.transmits.push_back(Transmit {
                    to: pending.to,
                    data: pending.datagram.clone(),
                });
                self.stats.sent += 1;
                self.stats.retransmitted += 1;
            } else {
                let attempts = pending.attempts;
                self.pending.remove(&id);
                self.stats.timed_out += 1;
                self.events.push_back(Event::Failed {
                    id,
                    error: RpcError::TimedOut { attempts },
                });
            }
        }
    }

    /// Abandons a pending request: no more retransmissions, and no event
    /// for it. A reply that still arrives is dropped as unexpected. Does
    /// nothing if `id` is not pending.
    pub fn cancel(&mut self, id: RequestId) {
        self.forget(id);
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event to act on, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Endpoint::handle_timeout) should next be
    /// called, or `None` if no request is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// How many requests are waiting for a reply.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// The traffic counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Checks that a payload of `len` bytes fits in one datagram.
    fn check_size(&self, len: usize) -> Result<(), RpcError> {
        let size = HEADER_LEN.saturating_add(len);
        if size > self.config.max_datagram {
            return Err(RpcError::TooLarge {
                size,
                max: self.config.max_datagram,
            });
        }
        Ok(())
    }

    /// Hands out the next id, skipping any still pending (only possible
    /// after 2^64 requests wrap around, but cheap to rule out).
    fn allocate_id(&mut self) -> RequestId {
        loop {
            let id = RequestId(self.next_id);
            self.next_id = self.next_id.wrapping_add(1);
            if !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    /// Removes a request and its deadline.
    fn forget(&mut self, id: RequestId) {
        if let Some(pending) = self.pending.remove(&id) {
            self.deadlines.remove(&(pending.deadline, id));
        }
    }
}

/// Whether a reply from `from` comes from the peer a request was sent to.
///
/// Compares addresses after mapping IPv4-mapped IPv6 addresses
/// (`::ffff:a.b.c.d`) to plain IPv4, because a dual-stack socket reports an
/// IPv4 peer in the mapped form even when we sent to its IPv4 address.
fn same_peer(sent_to: SocketAddr, from: SocketAddr) -> bool {
    sent_to.port() == from.port() && sent_to.ip().to_canonical() == from.ip().to_canonical()
}

#[cfg(test)]
mod tests;
