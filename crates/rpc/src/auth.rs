//! Authenticated datagrams: who sent this, and has it acted before?
//!
//! Every node of a cluster holds the same secret key. Before a datagram
//! leaves, the [`Sealer`] appends a trailer and a MAC; when one arrives, the
//! [`Opener`] checks both before anything else reads a byte of it. A
//! process without the key cannot make a datagram that passes, so it cannot
//! speak for a node even from the node's own address; and a datagram that
//! did pass once cannot pass again, here or at any other node.
//!
//! # The sealed datagram
//!
//! ```text
//! +---------------------------+--------+--------+-----------+-----------+
//! | envelope, version byte 2  | boot   | seq    | sent at   | MAC       |
//! | (magic, 2, kind, id,      | u64 BE | u64 BE | u64 BE ms | 16 bytes  |
//! |  payload)                 |        |        |           |           |
//! +---------------------------+--------+--------+-----------+-----------+
//! ```
//!
//! The MAC is keyed BLAKE3 (truncated to 128 bits) over every byte before
//! it, with a key for the pair of nodes: derived from the cluster key, the
//! sender's node id and the receiver's (each node derives the keys of its
//! pairs once, at start). The ids are not on the wire: the receiver knows
//! who is at each address from the cluster file, and who it is itself. So:
//!
//! * **a forged datagram** fails: without the key there is no MAC;
//! * **a datagram replayed from another address**, even by a member, fails:
//!   it was sealed for the sender at its own address;
//! * **a datagram sent to another node** fails: it was sealed for one
//!   receiver;
//! * **a datagram replayed later to its receiver** fails on its numbers:
//!   `boot` names the sender's run (it only grows: see
//!   [`Sealer::new`]), `seq` counts the datagrams of that run, and the
//!   receiver remembers, per sender, the latest run and which of its last
//!   [`WINDOW`] numbers it has seen (the sliding window of IPsec and
//!   DTLS). A datagram of an older run, one already seen, or one older than
//!   the window is dropped;
//! * **a receiver that restarted** has forgotten its windows, so the
//!   datagram's `sent at` (the sender's wall clock) must be within
//!   [`MAX_CLOCK_SKEW`] of the receiver's, and no more than
//!   [`START_FENCE`] before the receiver started. A datagram captured before
//!   the restart is older than that.
//!
//! Nodes' clocks must therefore agree within [`MAX_CLOCK_SKEW`] (NTP does
//! far better); a node whose clock is off is told so in its peers' logs.
//!
//! # The operator
//!
//! A process that holds the key but no node's address (`convene status`
//! run by the operator against a cluster with no web front) seals as
//! [`OPERATOR_ID`] instead of a node id, from any address; a node seals its
//! reply to such an address for [`OPERATOR_ID`] too. Services take requests
//! only from members, so all the operator can ask over the peer port is what
//! the membership service answers anyone who got this far: who is up.
//!
//! The checks cost one keyed hash per datagram each way (a few hundred
//! nanoseconds for a typical peer message) and 40 bytes on the wire.
//!
//! Both halves are sans-IO: the caller passes the current wall-clock time
//! in milliseconds, so every rule here is tested with a fake clock.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::envelope::{Envelope, HEADER_LEN, MAGIC};
use crate::error::EnvelopeError;

/// The envelope version byte of a sealed datagram.
pub const SEALED_VERSION: u8 = 2;

/// Bytes the seal adds: boot, seq and time (8 each), then the MAC.
pub const SEAL_LEN: usize = 8 + 8 + 8 + MAC_LEN;

/// Length of the MAC on the wire.
pub const MAC_LEN: usize = 16;

/// How many of a sender's most recent sequence numbers a receiver tracks.
/// A datagram overtaken by more than this many later ones is dropped (and
/// retried by its sender, like any lost datagram).
pub const WINDOW: u64 = 4096;

/// How far a datagram's `sent at` may be from the receiver's clock, either
/// way, in milliseconds.
pub const MAX_CLOCK_SKEW: u64 = 30_000;

/// How long before the receiver started a datagram may have been sent, in
/// milliseconds: the clock difference tolerated right after a restart.
pub const START_FENCE: u64 = 1_000;

/// A 32-byte MAC key, derived from the cluster secret.
pub type MacKey = [u8; 32];

/// The id the MAC binds for the operator: not a valid node id (node ids
/// are letters, digits, `-` and `_`), so it can never be a member's.
pub const OPERATOR_ID: &str = "@operator";

/// How many operator addresses an [`Opener`] remembers windows for.
const OPERATOR_WINDOWS: usize = 16;

/// One node as the seal knows it: its id (what the MAC binds) and the
/// address it sends from and receives on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The node's id in the cluster file.
    pub id: String,
    /// The node's peer address.
    pub addr: SocketAddr,
}

/// Why a received datagram was dropped unread.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a sealed datagram at all (too short, wrong magic or version).
    #[error("not a sealed datagram: {0}")]
    NotSealed(EnvelopeError),
    /// It came from an address that is no node's.
    #[error("sent from {from}, which is no node of the cluster")]
    Stranger {
        /// The address it came from.
        from: SocketAddr,
    },
    /// The MAC is wrong: another key, or bytes changed on the way.
    #[error("failed authentication: does every node use the same secret_file?")]
    BadMac,
    /// Its time is too far from ours.
    #[error("sent {skew_ms} ms {direction} our clock: are the nodes' clocks synchronised (NTP)?")]
    Stale {
        /// How far off.
        skew_ms: u64,
        /// "before" or "after".
        direction: &'static str,
    },
    /// Sent before this node started: a datagram from before a restart.
    #[error("sent before this node started (a replay, or a clock behind ours)")]
    BeforeStart,
    /// Sent by an earlier run of the sender.
    #[error("sent by an earlier run of that node")]
    OldBoot,
    /// Already received: a replay or a duplicate.
    #[error("already received (a replay or a duplicate)")]
    Replayed,
    /// Older than the window of sequence numbers kept.
    #[error("too old: overtaken by more than {WINDOW} later datagrams")]
    TooOld,
}

impl AuthError {
    /// A short, stable name for counting and logging.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::NotSealed(_) => "malformed",
            AuthError::Stranger { .. } => "stranger",
            AuthError::BadMac => "bad_mac",
            AuthError::Stale { .. } | AuthError::BeforeStart => "stale",
            AuthError::OldBoot | AuthError::Replayed | AuthError::TooOld => "replayed",
        }
    }
}

/// Counts of datagrams the [`Opener`] dropped, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Datagrams that opened: authentic and new.
    pub accepted: u64,
    /// Not sealed at all.
    pub malformed: u64,
    /// From an address that is no node's.
    pub strangers: u64,
    /// A wrong MAC.
    pub bad_mac: u64,
    /// Too far from our clock, or from before our start.
    pub stale: u64,
    /// Seen before, from an earlier run, or older than the window.
    pub replayed: u64,
}

impl AuthStats {
    fn count(&mut self, error: &AuthError) {
        let counter = match error.reason() {
            "malformed" => &mut self.malformed,
            "stranger" => &mut self.strangers,
            "bad_mac" => &mut self.bad_mac,
            "stale" => &mut self.stale,
            _ => &mut self.replayed,
        };
        *counter += 1;
    }

    /// Every datagram dropped, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.malformed + self.strangers + self.bad_mac + self.stale + self.replayed
    }
}

/// Seals outgoing datagrams for one node (or the operator). Shared by
/// every sending task (`&self`: the sequence number is atomic).
#[derive(Debug)]
pub struct Sealer {
    members: Vec<Member>,
    /// The key of each pair (us, member), by the member's position.
    to_member: Vec<MacKey>,
    /// The key of the pair (us, the operator).
    to_operator: MacKey,
    boot: u64,
    next_seq: AtomicU64,
}

impl Sealer {
    /// A sealer for member `me` of `members`, in its run `boot`.
    ///
    /// `boot` must grow from one run of the node to the next, or peers that
    /// remember the previous run drop everything as replayed until they
    /// restart themselves. The node takes the larger of the wall clock in
    /// milliseconds and the previous boot plus one, remembered on disk.
    ///
    /// `me` is our position among the members, or `None` for the operator.
    pub fn new(key: MacKey, members: Vec<Member>, me: Option<usize>, boot: u64) -> Self {
        let me = id_of(&members, me);
        Sealer {
            to_member: members.iter().map(|m| pair_key(&key, &me, &m.id)).collect(),
            to_operator: pair_key(&key, &me, OPERATOR_ID),
            members,
            boot,
            next_seq: AtomicU64::new(1),
        }
    }

    /// This run's boot number.
    pub fn boot(&self) -> u64 {
        self.boot
    }

    /// Seals an encoded envelope (version 1, as [`Envelope`] writes it) for
    /// the node at `to`, stamped `now_ms`; for an address that is no node's,
    /// for the operator (only a reply to the operator goes there). `None`
    /// if `envelope` is too short to be one.
    pub fn seal(&self, envelope: &[u8], to: SocketAddr, now_ms: u64) -> Option<Vec<u8>> {
        if envelope.len() < HEADER_LEN {
            return None;
        }
        let key = member_at(&self.members, to).map_or(&self.to_operator, |i| &self.to_member[i]);
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let mut out = Vec::with_capacity(envelope.len() + SEAL_LEN);
        out.extend_from_slice(envelope);
        out[1] = SEALED_VERSION;
        out.extend_from_slice(&self.boot.to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&now_ms.to_be_bytes());
        let mac = mac(key, &out);
        out.extend_from_slice(&mac);
        Some(out)
    }
}

/// Opens incoming datagrams for one node and remembers what each sender
/// has sent. Owned by the one task that receives (`&mut self`).
#[derive(Debug)]
pub struct Opener {
    members: Vec<Member>,
    /// The key of each pair (member, us), by the member's position.
    from_member: Vec<MacKey>,
    /// The key of the pair (the operator, us), if we are a member (an
    /// operator hears from members only).
    from_operator: Option<MacKey>,
    started_ms: u64,
    windows: Vec<Option<Window>>,
    /// Windows of the operator, per address it wrote from; the most
    /// recently used last, at most [`OPERATOR_WINDOWS`].
    operators: Vec<(SocketAddr, Option<Window>)>,
    stats: AuthStats,
}

/// What a receiver remembers of one sender: its latest run, and which of
/// that run's last [`WINDOW`] sequence numbers arrived.
#[derive(Debug, Clone)]
struct Window {
    boot: u64,
    /// The highest sequence number accepted.
    top: u64,
    /// Bit `i` set: `top - i` was accepted.
    seen: [u64; (WINDOW / 64) as usize],
}

/// Who sent an opened datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The member at this position.
    Member(usize),
    /// The operator, holding the key at an address that is no node's.
    Operator,
}

/// An opened datagram: who sent it, and the envelope inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened<'a> {
    /// Who sent it.
    pub sender: Sender,
    /// The envelope, authentic and new.
    pub envelope: Envelope<'a>,
}

impl Opener {
    /// An opener for member `me` of `members` (`None`: the operator), which
    /// started at `started_ms` (wall clock, milliseconds).
    pub fn new(key: MacKey, members: Vec<Member>, me: Option<usize>, started_ms: u64) -> Self {
        let windows = vec![None; members.len()];
        let from_operator = me.map(|_| ());
        let me = id_of(&members, me);
        Opener {
            from_member: members.iter().map(|m| pair_key(&key, &m.id, &me)).collect(),
            from_operator: from_operator.map(|()| pair_key(&key, OPERATOR_ID, &me)),
            members,
            started_ms,
            windows,
            operators: Vec::new(),
            stats: AuthStats::default(),
        }
    }

    /// The members, as given.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Counts so far.
    pub fn stats(&self) -> AuthStats {
        self.stats
    }

    /// Checks a datagram received from `from` at `now_ms` and returns its
    /// envelope if it is authentic and new. Nothing in `datagram` is read
    /// before its MAC has been checked, except its size and the two bytes
    /// that say it is a sealed datagram at all; a datagram from an address
    /// that is no member's is not even looked at.
    pub fn open<'a>(
        &mut self,
        datagram: &'a [u8],
        from: SocketAddr,
        now_ms: u64,
    ) -> Result<Opened<'a>, AuthError> {
        let result = self.check(datagram, from, now_ms);
        match &result {
            Ok(_) => self.stats.accepted += 1,
            Err(error) => self.stats.count(error),
        }
        result
    }

    fn check<'a>(
        &mut self,
        datagram: &'a [u8],
        from: SocketAddr,
        now_ms: u64,
    ) -> Result<Opened<'a>, AuthError> {
        let member = member_at(&self.members, from);
        // Only a member may write to the operator, and a datagram from an
        // address that is no member's can only be the operator's.
        let key = match member {
            Some(i) => &self.from_member[i],
            None => self
                .from_operator
                .as_ref()
                .ok_or(AuthError::Stranger { from })?,
        };
        if datagram.len() < HEADER_LEN + SEAL_LEN {
            return Err(AuthError::NotSealed(EnvelopeError::Truncated {
                len: datagram.len(),
                needed: HEADER_LEN + SEAL_LEN,
            }));
        }
        if datagram[0] != MAGIC {
            return Err(AuthError::NotSealed(EnvelopeError::BadMagic(datagram[0])));
        }
        if datagram[1] != SEALED_VERSION {
            return Err(AuthError::NotSealed(EnvelopeError::UnknownVersion(
                datagram[1],
            )));
        }
        let (signed, tag) = datagram.split_at(datagram.len() - MAC_LEN);
        let expected = mac(key, signed);
        if !constant_time_eq(&expected, tag) {
            // From an address no member has, a wrong MAC means a stranger.
            return Err(match member {
                Some(_) => AuthError::BadMac,
                None => AuthError::Stranger { from },
            });
        }
        let trailer = &signed[signed.len() - (SEAL_LEN - MAC_LEN)..];
        let number = |i: usize| u64::from_be_bytes(trailer[i..i + 8].try_into().unwrap_or([0; 8]));
        let (boot, seq, sent_ms) = (number(0), number(8), number(16));
        if sent_ms.saturating_add(MAX_CLOCK_SKEW) < now_ms {
            return Err(AuthError::Stale {
                skew_ms: now_ms - sent_ms,
                direction: "before",
            });
        }
        if sent_ms > now_ms.saturating_add(MAX_CLOCK_SKEW) {
            return Err(AuthError::Stale {
                skew_ms: sent_ms - now_ms,
                direction: "after",
            });
        }
        if sent_ms.saturating_add(START_FENCE) < self.started_ms {
            return Err(AuthError::BeforeStart);
        }
        let (window, sender) = match member {
            Some(i) => (&mut self.windows[i], Sender::Member(i)),
            None => (self.operator_window(from), Sender::Operator),
        };
        accept(window, boot, seq)?;
        let envelope = Envelope::parse_version(&signed[..signed.len() - trailer.len()], 2)
            .map_err(AuthError::NotSealed)?;
        Ok(Opened { sender, envelope })
    }

    /// The operator's window for datagrams from `from`, made if need be;
    /// the least recently used address is forgotten beyond
    /// [`OPERATOR_WINDOWS`] (its late datagrams then count as a new run's,
    /// which the clock checks still bound).
    fn operator_window(&mut self, from: SocketAddr) -> &mut Option<Window> {
        match self.operators.iter().position(|(a, _)| *a == from) {
            Some(i) => {
                let entry = self.operators.remove(i);
                self.operators.push(entry);
            }
            None => {
                if self.operators.len() >= OPERATOR_WINDOWS {
                    self.operators.remove(0);
                }
                self.operators.push((from, None));
            }
        }
        let last = self.operators.len() - 1;
        &mut self.operators[last].1
    }
}

/// The id the MAC binds for position `me` (`None`: the operator).
fn id_of(members: &[Member], me: Option<usize>) -> String {
    me.and_then(|i| members.get(i))
        .map_or_else(|| OPERATOR_ID.to_string(), |m| m.id.clone())
}

/// Records `(boot, seq)` in a sender's window, or says why it cannot be
/// accepted. The window changes only for an accepted datagram.
fn accept(window: &mut Option<Window>, boot: u64, seq: u64) -> Result<(), AuthError> {
    let w = match window {
        Some(w) if boot < w.boot => return Err(AuthError::OldBoot),
        Some(w) if boot == w.boot => w,
        _ => {
            let mut fresh = Window {
                boot,
                top: seq,
                seen: [0; (WINDOW / 64) as usize],
            };
            fresh.seen[0] = 1;
            *window = Some(fresh);
            return Ok(());
        }
    };
    if seq > w.top {
        shift(&mut w.seen, seq - w.top);
        w.top = seq;
        w.seen[0] |= 1;
        return Ok(());
    }
    let age = w.top - seq;
    if age >= WINDOW {
        return Err(AuthError::TooOld);
    }
    let (word, bit) = ((age / 64) as usize, age % 64);
    if w.seen[word] & (1 << bit) != 0 {
        return Err(AuthError::Replayed);
    }
    w.seen[word] |= 1 << bit;
    Ok(())
}

/// Moves every bit of the window `by` places towards older (bit `i`
/// becomes bit `i + by`), dropping what falls off the end.
fn shift(seen: &mut [u64], by: u64) {
    let words = seen.len();
    if by >= WINDOW {
        seen.fill(0);
        return;
    }
    let (whole, bits) = ((by / 64) as usize, (by % 64) as u32);
    for i in (0..words).rev() {
        let lower = i.checked_sub(whole).map_or(0, |j| seen[j]);
        let carry = match (bits, i.checked_sub(whole + 1)) {
            (0, _) | (_, None) => 0,
            (_, Some(j)) => seen[j] >> (64 - bits),
        };
        seen[i] = (lower << bits) | carry;
    }
}

/// The position of the member at `addr`. IPv4-mapped IPv6 addresses match
/// the IPv4 address they carry (a dual-stack socket reports them so).
fn member_at(members: &[Member], addr: SocketAddr) -> Option<usize> {
    members.iter().position(|m| {
        m.addr.port() == addr.port() && m.addr.ip().to_canonical() == addr.ip().to_canonical()
    })
}

/// The key of the pair (sender, receiver): keyed BLAKE3 of both ids under
/// the cluster key, each id length-prefixed so no two pairs read the same.
/// A pseudo-random function of the pair, so knowing one pair's key tells
/// nothing of another's or of the cluster key.
fn pair_key(key: &MacKey, sender: &str, receiver: &str) -> MacKey {
    let mut hasher = blake3::Hasher::new_keyed(key);
    for id in [sender, receiver] {
        // Ids are at most 64 bytes (the cluster file's rule); the length
        // is written as two bytes so a longer one could not collide either.
        hasher.update(&(id.len() as u16).to_be_bytes());
        hasher.update(id.as_bytes());
    }
    *hasher.finalize().as_bytes()
}

/// The MAC of `signed` under a pair's key, cut to [`MAC_LEN`].
fn mac(pair_key: &MacKey, signed: &[u8]) -> [u8; MAC_LEN] {
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&blake3::keyed_hash(pair_key, signed).as_bytes()[..MAC_LEN]);
    out
}

/// Compares two byte strings in time that depends only on their length,
/// so an attacker cannot learn a MAC byte by byte from response timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
