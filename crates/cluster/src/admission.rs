//! Admission control for TCP front doors: how many connections a node
//! holds open, in all and from one address.
//!
//! A front door asks [`ConnectionLimiter::admit`] for each accepted
//! connection and keeps the [`ConnectionPermit`] for as long as the
//! connection lives; dropping the permit gives the place back. A refused
//! connection should be told why where the protocol has a way (HTTP's 503)
//! and closed at once, so one client (or one host) cannot hold every
//! descriptor of the process and lock everyone else out.
//!
//! Addresses are counted as the network sees them: an IPv4 address alone,
//! an IPv6 address by its /64 network, since one host commonly holds a whole
//! /64 and would otherwise have 2^64 separate allowances. IPv4-mapped IPv6
//! addresses count as the IPv4 address they carry.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Counts open connections, in all and per address.
///
/// Cheap to clone; clones share the counts.
///
/// ```
/// use convene_cluster::admission::{ConnectionLimiter, Refused};
///
/// let limiter = ConnectionLimiter::new(3, 2);
/// let ip = "192.0.2.1".parse().unwrap();
/// let a = limiter.admit(ip).unwrap();
/// let _b = limiter.admit(ip).unwrap();
/// assert_eq!(limiter.admit(ip).unwrap_err(), Refused::PerAddress { limit: 2 });
/// drop(a);
/// assert!(limiter.admit(ip).is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionLimiter {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    total: usize,
    per_address: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    open: usize,
    /// Only addresses with at least one open connection: the map never
    /// holds more entries than there are connections.
    by_address: HashMap<AddressKey, usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The node holds as many connections as it takes.
    #[error("the server is at its limit of {limit} connections; try again later")]
    Total {
        /// The limit.
        limit: usize,
    },
    /// This address holds as many connections as one address may.
    #[error("too many connections from your address (at most {limit}); close some and try again")]
    PerAddress {
        /// The limit.
        limit: usize,
    },
}

/// An open connection's place, given back when dropped.
#[derive(Debug)]
pub struct ConnectionPermit {
    shared: Arc<Shared>,
    key: AddressKey,
}

/// What addresses are counted by: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    /// One IPv4 address.
    V4(u32),
    /// The first 64 bits of an IPv6 address.
    V6(u64),
}

impl AddressKey {
    /// The key `ip` is counted under.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => AddressKey::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

impl ConnectionLimiter {
    /// At most `total` connections open, at most `per_address` of them from
    /// one address. A limit of 0 is taken as 1.
    pub fn new(total: usize, per_address: usize) -> Self {
        ConnectionLimiter {
            shared: Arc::new(Shared {
                total: total.max(1),
                per_address: per_address.max(1),
                counts: Mutex::default(),
            }),
        }
    }

    /// Takes a place for a connection from `ip`, or says why not.
    pub fn admit(&self, ip: IpAddr) -> Result<ConnectionPermit, Refused> {
        let key = AddressKey::of(ip);
        let mut counts = self.shared.lock();
        if counts.open >= self.shared.total {
            return Err(Refused::Total {
                limit: self.shared.total,
            });
        }
        let from_here = counts.by_address.entry(key).or_insert(0);
        if *from_here >= self.shared.per_address {
            return Err(Refused::PerAddress {
                limit: self.shared.per_address,
            });
        }
        *from_here += 1;
        counts.open += 1;
        Ok(ConnectionPermit {
            shared: self.shared.clone(),
            key,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.shared.lock().open
    }

    /// Connections open now from `ip`'s address (or network).
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let key = AddressKey::of(ip);
        self.shared
            .lock()
            .by_address
            .get(&key)
            .copied()
            .unwrap_or(0)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        // The counts are updated in one step under the lock; a panic
        // elsewhere cannot leave them half-changed.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut counts = self.shared.lock();
        counts.open = counts.open.saturating_sub(1);
        if let Some(n) = counts.by_address.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.by_address.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_total_limit_holds_across_addresses() {
        let limiter = ConnectionLimiter::new(2, 10);
        let _a = limiter.admit(ip("10.0.0.1")).unwrap();
        let _b = limiter.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(
            limiter.admit(ip("10.0.0.3")).unwrap_err(),
            Refused::Total { limit: 2 }
        );
        assert_eq!(limiter.open(), 2);
    }

    #[test]
    fn one_address_cannot_take_every_place() {
        let limiter = ConnectionLimiter::new(10, 2);
        let held: Vec<_> = (0..2)
            .map(|_| limiter.admit(ip("10.0.0.1")).unwrap())
            .collect();
        assert!(limiter.admit(ip("10.0.0.1")).is_err());
        assert!(limiter.admit(ip("10.0.0.2")).is_ok());
        drop(held);
        assert_eq!(limiter.open_from(ip("10.0.0.1")), 0);
        assert_eq!(limiter.open(), 0);
        assert!(
            limiter.shared.lock().by_address.is_empty(),
            "no entry outlives its connections"
        );
    }

    #[test]
    fn an_ipv6_network_counts_as_one_address_and_mapped_ipv4_as_ipv4() {
        let limiter = ConnectionLimiter::new(10, 1);
        let _a = limiter.admit(ip("2001:db8::1")).unwrap();
        assert!(limiter.admit(ip("2001:db8::ffff:1")).is_err());
        assert!(limiter.admit(ip("2001:db8:0:1::1")).is_ok());
        let _v4 = limiter.admit(ip("192.0.2.7")).unwrap();
        assert!(limiter.admit(ip("::ffff:192.0.2.7")).is_err());
    }
}
