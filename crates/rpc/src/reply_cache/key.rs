//! [`Key`]: the compact identity of one request in the reply cache.
//!
//! The obvious key, `(SocketAddr, u32)`, is 36 bytes and compares more than
//! it should: `SocketAddrV6`'s equality includes the IPv6 flow label, which a
//! client's stack may change between retransmissions without becoming a
//! different client. [`Key`] keeps exactly what identifies a request and
//! nothing else, in 28 bytes:
//!
//! * the IP address as 16 bytes, with IPv4 stored in its IPv4-mapped IPv6
//!   form (`::ffff:a.b.c.d`). A dual-stack socket reports an IPv4 peer in the
//!   mapped form, so `1.2.3.4:5` and `[::ffff:1.2.3.4]:5` are one client, as
//!   they are for the endpoint's reply matching;
//! * the IPv6 scope id, because `fe80::1%eth0` and `fe80::1%eth1` are
//!   different hosts on different links (always 0 for IPv4);
//! * the port and the client's request id.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use crate::source::Source;

/// Who sent a request (address, port, link) and which of theirs it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key {
    /// The client's IP address, IPv4 in IPv4-mapped form.
    ip: [u8; 16],
    /// The IPv6 scope id (interface index) of a link-local client; 0 otherwise.
    scope_id: u32,
    /// The request id the client put in its datagram.
    request_id: u32,
    /// The client's UDP port.
    port: u16,
}

impl Key {
    /// The key of request `request_id` from `client`.
    pub(super) fn new(client: SocketAddr, request_id: u32) -> Self {
        let (ip, scope_id) = match client {
            SocketAddr::V4(a) => (a.ip().to_ipv6_mapped().octets(), 0),
            SocketAddr::V6(a) => {
                // A mapped IPv4 address names an IPv4 host: it has no link.
                let scope_id = if a.ip().to_ipv4_mapped().is_some() {
                    0
                } else {
                    a.scope_id()
                };
                (a.ip().octets(), scope_id)
            }
        };
        Key {
            ip,
            scope_id,
            request_id,
            port: client.port(),
        }
    }

    /// The client's IP address (IPv4 as such, not mapped).
    fn ip(&self) -> IpAddr {
        Ipv6Addr::from(self.ip).to_canonical()
    }

    /// Who sent the request: its address, port and link.
    pub(super) fn client(&self) -> SocketAddr {
        match self.ip() {
            IpAddr::V4(v4) => SocketAddr::from((v4, self.port)),
            IpAddr::V6(v6) => SocketAddrV6::new(v6, self.port, 0, self.scope_id).into(),
        }
    }

    /// The client's request id.
    pub(super) fn request_id(&self) -> u32 {
        self.request_id
    }

    /// The source a per-source limit counts this request against.
    pub(super) fn source(&self) -> Source {
        Source::of(self.ip())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(addr: &str, id: u32) -> Key {
        Key::new(addr.parse().unwrap(), id)
    }

    #[test]
    fn is_28_bytes() {
        assert_eq!(std::mem::size_of::<Key>(), 28);
    }

    #[test]
    fn ipv4_and_its_mapped_form_are_one_client() {
        assert_eq!(key("1.2.3.4:5", 7), key("[::ffff:1.2.3.4]:5", 7));
    }

    #[test]
    fn distinguishes_address_port_id_and_link() {
        let base = key("[2001:db8::1]:5", 7);
        assert_ne!(base, key("[2001:db8::2]:5", 7));
        assert_ne!(base, key("[2001:db8::1]:6", 7));
        assert_ne!(base, key("[2001:db8::1]:5", 8));
        assert_ne!(key("[fe80::1%1]:5", 7), key("[fe80::1%2]:5", 7));
        assert_ne!(key("1.2.3.4:5", 7), key("[::1.2.3.4]:5", 7));
    }

    #[test]
    fn gives_back_the_client_and_its_source() {
        for client in ["1.2.3.4:5", "[2001:db8::1]:5", "[fe80::1%3]:5"] {
            let k = key(client, 7);
            assert_eq!(k.client(), client.parse::<SocketAddr>().unwrap());
            assert_eq!(k.request_id(), 7);
        }
        assert_eq!(key("1.2.3.4:5", 1).source(), key("1.2.3.4:6", 2).source());
        assert_eq!(
            key("[2001:db8:0:1::1]:5", 1).source(),
            key("[2001:db8:0:1::2]:5", 1).source()
        );
        assert_ne!(key("1.2.3.4:5", 1).source(), key("1.2.3.5:5", 1).source());
    }

    #[test]
    fn ignores_the_flow_label() {
        let a: std::net::SocketAddrV6 = "[2001:db8::1]:5".parse().unwrap();
        let mut b = a;
        b.set_flowinfo(0x12345);
        assert_eq!(Key::new(a.into(), 1), Key::new(b.into(), 1));
    }
}
