//! Confirmation ids: unguessable, unique across a cluster, and routable back
//! to their owner.

use std::fmt;

/// How confirmation ids are made, and how to tell which node made one.
///
/// A confirmation id is all a client needs to change, extend or cancel a
/// booking, so it must not be guessable: the seed numbers its bookings
/// `CONF000001`, `CONF000002`, …, and anyone who booked once could cancel
/// everyone else's bookings by counting. It must also say which node owns
/// the booking: a cluster has several nodes booking at once, each owning
/// some facilities, and a change, extend or cancel carries only the id, so
/// the front door that receives it reads the owner off the id
/// ([`owner_of`](Self::owner_of)) and forwards the request there.
///
/// An id is therefore `CONF`, the owning node's number (its position in the
/// cluster file) in decimal, a dash, and 64 bits from the operating system's
/// random source as 16 lowercase hex digits: node 1's ids look like
/// `CONF1-3f9a0c27e4b5d861`. The dash keeps the owner readable at a glance,
/// hex is the shortest spelling of 64 bits made only of digits and letters
/// no one confuses (20 decimal digits would be longer to read out and type),
/// and the `CONF` start is what the seed's client and users expect. Ids from
/// different nodes never collide (their node numbers differ); the owner
/// draws again if a new id equals one it already holds.
///
/// Ids issued before this format, `CONF` and digits (node `n`'s `seq`-th
/// booking was the number `n * 1_000_000 + seq`, node 0's exactly the
/// seed's), are still read, so stored bookings keep their ids and stay
/// routable; no new one is issued.
///
/// ```
/// use convene_booking::state::{IdScheme, ParsedId};
///
/// let id = IdScheme { node: 2 }.format(0x3f9a_0c27_e4b5_d861);
/// assert_eq!(id, "CONF2-3f9a0c27e4b5d861");
/// assert_eq!(IdScheme::owner_of(&id), Some(2));
/// assert_eq!(
///     IdScheme::parse(&id),
///     Some(ParsedId::Random { node: 2, random: 0x3f9a_0c27_e4b5_d861 })
/// );
/// // The sequential ids of before are still read.
/// assert_eq!(IdScheme::owner_of("CONF2000001"), Some(2));
/// assert_eq!(IdScheme::owner_of("CONF000001"), Some(0));
/// // Anything else is no id.
/// assert_eq!(IdScheme::owner_of("conf2-3f9a0c27e4b5d861"), None);
/// assert_eq!(IdScheme::owner_of("CONF2-3F9A0C27E4B5D861"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdScheme {
    /// This node's number in the cluster file.
    pub node: u32,
}

/// What a confirmation id says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParsedId {
    /// `CONF<node>-<16 hex digits>`: the ids issued now.
    Random {
        /// The node that issued it.
        node: u32,
        /// Its 64 random bits.
        random: u64,
    },
    /// `CONF<digits>`: a sequential id issued by an earlier version.
    Sequential {
        /// The node that issued it.
        node: u32,
        /// Its number on that node.
        seq: u32,
    },
}

impl ParsedId {
    /// The node that issued the id.
    pub fn node(&self) -> u32 {
        match *self {
            ParsedId::Random { node, .. } | ParsedId::Sequential { node, .. } => node,
        }
    }
}

impl fmt::Display for ParsedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ParsedId::Random { node, random } => write!(f, "{PREFIX}{node}-{random:016x}"),
            ParsedId::Sequential { node, seq } => write!(
                f,
                "{PREFIX}{:06}",
                u64::from(node) * u64::from(LEGACY_SEQ_LIMIT) + u64::from(seq)
            ),
        }
    }
}

/// Every confirmation id starts so, as the seed's do.
const PREFIX: &str = "CONF";

/// A sequential id of node `n` was the number `n * LEGACY_SEQ_LIMIT + seq`.
const LEGACY_SEQ_LIMIT: u32 = 1_000_000;

/// Hex digits of the random part.
const RANDOM_DIGITS: usize = 16;

impl IdScheme {
    /// The id this node issues for `random`, which should come from the
    /// operating system's random source.
    pub fn format(&self, random: u64) -> String {
        ParsedId::Random {
            node: self.node,
            random,
        }
        .to_string()
    }

    /// Which node issued `id`, if it is a confirmation id in either format
    /// (see [`parse`](Self::parse)), else `None`.
    ///
    /// A well-formed id that was never issued still has an owner; that node is
    /// the one to answer `Invalid confirmation ID` for it.
    pub fn owner_of(id: &str) -> Option<u32> {
        Self::parse(id).map(|p| p.node())
    }

    /// What `id` says, if it is spelt exactly as ids are issued: `CONF`, the
    /// node's number in decimal without leading zeros, `-`, 16 lowercase hex
    /// digits; or the earlier `CONF` and decimal digits. An id in the
    /// current format has one spelling: what `parse` returns displays as the
    /// id again (and so does an earlier id as it was issued).
    pub fn parse(id: &str) -> Option<ParsedId> {
        let rest = id.strip_prefix(PREFIX)?;
        match rest.split_once('-') {
            Some((node, random)) => {
                if !is_decimal(node) || (node.len() > 1 && node.starts_with('0')) {
                    return None;
                }
                let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
                if random.len() != RANDOM_DIGITS || !random.bytes().all(lower_hex) {
                    return None;
                }
                Some(ParsedId::Random {
                    node: node.parse().ok()?,
                    random: u64::from_str_radix(random, 16).ok()?,
                })
            }
            None => {
                // `u64::from_str` would also take a leading `+`; ids have none.
                if !is_decimal(rest) {
                    return None;
                }
                let number: u64 = rest.parse().ok()?;
                let node = u32::try_from(number / u64::from(LEGACY_SEQ_LIMIT)).ok()?;
                // The remainder is below LEGACY_SEQ_LIMIT, so it fits.
                let seq = (number % u64::from(LEGACY_SEQ_LIMIT)) as u32;
                Some(ParsedId::Sequential { node, seq })
            }
        }
    }
}

fn is_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
