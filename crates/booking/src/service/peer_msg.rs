//! Messages between booking nodes on the peer transport.
//!
//! | kind | request                                         | reply                  |
//! |------|-------------------------------------------------|------------------------|
//! | 1    | `Execute { client, dedup, datagram }`           | `Executed { reply }` or `Busy` |
//! | 2    | `Subscribe { facility, seconds }`               | `Subscribed { week }` or `Busy` (not served here) |
//! | 3    | `Update { facility, datagram }`                 | `Ack`                  |
//!
//! `Execute` carries the client's own datagram, untouched, to the node that
//! owns the facility or booking, with the client's address: the owner keys
//! its at-most-once record by the client, not by the forwarding node, so a
//! retry that reaches another node, or the same node after a restart, still
//! finds it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use convene_cluster::ServiceTag;
use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use crate::wire::{MAX_DATAGRAM, MAX_NAME};

/// Booking's peer messages start with this byte (see [`ServiceTag`]).
pub const TAG: ServiceTag = ServiceTag::new(2, "booking");

/// What one booking node asks another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerRequest {
    /// Run this client request here, where its facility or booking lives.
    Execute {
        /// The client who sent it.
        client: SocketAddr,
        /// Whether the client's front door runs at-most-once.
        dedup: bool,
        /// The client's datagram, as received.
        datagram: Vec<u8>,
    },
    /// Tell me about changes to this facility for the next `seconds`.
    Subscribe {
        /// The facility.
        facility: String,
        /// For how long.
        seconds: u32,
    },
    /// This facility changed; here is the MONITOR_UPDATE to pass on.
    Update {
        /// The facility.
        facility: String,
        /// The encoded MONITOR_UPDATE datagram.
        datagram: Vec<u8>,
    },
}

/// What a booking node answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerReply {
    /// Done.
    Ack,
    /// Subscribed; the facility's week now, as a MONITOR_UPDATE datagram
    /// (what a front door passes on after the facility moved, so its
    /// monitors see the state they may have missed a change of).
    Subscribed {
        /// The encoded MONITOR_UPDATE.
        week: Vec<u8>,
    },
    /// The reply to send the client.
    Executed {
        /// Its bytes.
        reply: Vec<u8>,
    },
    /// The same request is still executing: say nothing to the client.
    Busy,
}

fn put_addr(out: &mut Vec<u8>, a: &SocketAddr) {
    match a.ip() {
        IpAddr::V4(ip) => {
            out.put_u8(4);
            out.put_bytes(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.put_u8(6);
            out.put_bytes(&ip.octets());
        }
    }
    out.put_u16(a.port());
}

fn addr(r: &mut Reader<'_>) -> Result<SocketAddr, DecodeError> {
    let ip = match r.u8()? {
        4 => {
            let b: [u8; 4] = r
                .bytes(4)?
                .try_into()
                .map_err(|_| DecodeError::Invalid("ipv4"))?;
            IpAddr::V4(Ipv4Addr::from(b))
        }
        6 => {
            let b: [u8; 16] = r
                .bytes(16)?
                .try_into()
                .map_err(|_| DecodeError::Invalid("ipv6"))?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "address family",
                tag,
            });
        }
    };
    Ok(SocketAddr::new(ip, r.u16()?))
}

fn blob(r: &mut Reader<'_>) -> Result<Vec<u8>, DecodeError> {
    let n = r.u32()? as usize;
    if n > MAX_DATAGRAM {
        return Err(DecodeError::TooLong {
            what: "datagram",
            len: n,
            max: MAX_DATAGRAM,
        });
    }
    Ok(r.bytes(n)?.to_vec())
}

fn put_blob(out: &mut Vec<u8>, b: &[u8]) {
    out.put_u32(b.len() as u32);
    out.put_bytes(b);
}

impl Encode for PeerRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PeerRequest::Execute {
                client,
                dedup,
                datagram,
            } => {
                out.put_u8(1);
                put_addr(out, client);
                out.put_u8(u8::from(*dedup));
                put_blob(out, datagram);
            }
            PeerRequest::Subscribe { facility, seconds } => {
                out.put_u8(2);
                out.put_string(facility);
                out.put_u32(*seconds);
            }
            PeerRequest::Update { facility, datagram } => {
                out.put_u8(3);
                out.put_string(facility);
                put_blob(out, datagram);
            }
        }
    }
}

impl<'a> Decode<'a> for PeerRequest {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => PeerRequest::Execute {
                client: addr(r)?,
                dedup: r.u8()? != 0,
                datagram: blob(r)?,
            },
            2 => PeerRequest::Subscribe {
                facility: r.string_max(MAX_NAME)?.to_string(),
                seconds: r.u32()?,
            },
            3 => PeerRequest::Update {
                facility: r.string_max(MAX_NAME)?.to_string(),
                datagram: blob(r)?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "booking peer request",
                    tag,
                });
            }
        })
    }
}

impl Encode for PeerReply {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PeerReply::Ack => out.put_u8(1),
            PeerReply::Executed { reply } => {
                out.put_u8(2);
                put_blob(out, reply);
            }
            PeerReply::Busy => out.put_u8(3),
            PeerReply::Subscribed { week } => {
                out.put_u8(4);
                put_blob(out, week);
            }
        }
    }
}

impl<'a> Decode<'a> for PeerReply {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => PeerReply::Ack,
            2 => PeerReply::Executed { reply: blob(r)? },
            3 => PeerReply::Busy,
            4 => PeerReply::Subscribed { week: blob(r)? },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "booking peer reply",
                    tag,
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_message_round_trips() {
        for m in [
            PeerRequest::Execute {
                client: "127.0.0.1:9".parse().unwrap(),
                dedup: true,
                datagram: vec![6, 0, 0, 0, 1],
            },
            PeerRequest::Execute {
                client: "[::1]:65535".parse().unwrap(),
                dedup: false,
                datagram: vec![],
            },
            PeerRequest::Subscribe {
                facility: "Meeting Room A".into(),
                seconds: 60,
            },
            PeerRequest::Update {
                facility: "Conference Hall".into(),
                datagram: vec![200, 1, 2],
            },
        ] {
            assert_eq!(PeerRequest::from_bytes(&m.to_bytes()).unwrap(), m);
        }
        for m in [
            PeerReply::Ack,
            PeerReply::Busy,
            PeerReply::Executed {
                reply: vec![255, 3],
            },
            PeerReply::Subscribed {
                week: vec![202, 0, 0],
            },
        ] {
            assert_eq!(PeerReply::from_bytes(&m.to_bytes()).unwrap(), m);
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = PeerRequest::from_bytes(&bytes);
            let _ = PeerReply::from_bytes(&bytes);
        }
    }
}
