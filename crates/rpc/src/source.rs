//! [`Source`]: who a datagram counts against when limits are per sender.
//!
//! Per-sender limits (the reply budget, the reply cache's share per sender)
//! count addresses as the network hands them out: an IPv4 address alone, an
//! IPv6 address by its /64 network, since one host commonly holds a whole
//! /64 and would otherwise get 2^64 separate allowances. IPv4-mapped IPv6
//! addresses count as the IPv4 address they carry. This is the rule
//! `convene_cluster::admission::AddressKey` follows for TCP front doors;
//! it is restated here because this crate sits below that one.

use std::net::IpAddr;

/// The part of an address a per-sender limit counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// One IPv4 address.
    V4(u32),
    /// The first 64 bits of an IPv6 address.
    V6(u64),
}

impl Source {
    /// The source `ip` counts against.
    pub(crate) fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Source::V4(u32::from(v4)),
            IpAddr::V6(v6) => Source::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(ip: &str) -> Source {
        Source::of(ip.parse().unwrap())
    }

    #[test]
    fn ipv4_alone_ipv6_by_its_64() {
        assert_eq!(of("192.0.2.1"), of("::ffff:192.0.2.1"));
        assert_ne!(of("192.0.2.1"), of("192.0.2.2"));
        assert_eq!(of("2001:db8:1:2::1"), of("2001:db8:1:2:ffff::9"));
        assert_ne!(of("2001:db8:1:2::1"), of("2001:db8:1:3::1"));
    }
}
