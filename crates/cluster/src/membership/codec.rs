//! Election traffic on the wire.
//!
//! Election messages travel as one-way notices (a lost heartbeat is simply
//! superseded by the next; a retried one would only arrive late). So do the
//! [`quorum`]'s lease messages, over the same tag: a lost
//! request or grant is superseded by the next round, and a grant that
//! arrives late counts from its round's send time, which is the safe
//! direction. The status query behind `convene status` is an ordinary
//! request.
//!
//! | kind | body                                   |
//! |------|----------------------------------------|
//! | 1-6  | Heartbeat, Election, Answer, Nomination, Coordinator, IAmUp |
//! | 7    | View: u8 has-coordinator, u32 coordinator, u32 count, u32 node ids |
//! | 8    | LeaseRequest: u64 term, u64 round      |
//! | 9    | LeaseGrant: u64 term, u64 round        |
//! | 10   | LeaseRefused: u64 term, u64 highest granted term |
//! | 11   | Claim: u32 count, u32 node ids (a Coordinator with the nodes the claimant hears) |
//! | 12   | Leaving: u64 boot, u64 highest term (the sender is stopping) |
//! | 20   | status request (no body)               |
//! | 21   | status reply: u32 me, u8 has-coordinator, u32 coordinator, u32 count, u32 live node ids, u64 highest term, u8 holds authority |

use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use crate::election::{Message, NodeId};
use crate::quorum::{self, Term};

/// Anything on the election service's wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wire {
    /// An election message.
    Election(Message),
    /// A lease message of the quorum.
    Quorum(quorum::Message),
    /// [`Message::Coordinator`] as a coordinator sends it: with the nodes it
    /// hears (its live set), so that a node the claimant does not hear can
    /// refuse to follow it (see [`membership`](crate::membership), "Two-way
    /// contact"). Plain kind 5 is still read, as a claim without the set.
    Claim {
        /// The nodes the claimant believes live, itself included.
        hears: Vec<NodeId>,
    },
    /// [`Message::Leaving`] as a node sends it: its run and the highest
    /// term it has used, so that the receivers' [`quorum`] can forget their
    /// promises to it (see [`Authority::left`](crate::quorum::Authority::left)).
    /// A `Wire::Election(Message::Leaving { .. })` is written as this with
    /// term 0, which releases nothing.
    Leaving {
        /// The sender's boot number (its incarnation).
        boot: u64,
        /// The highest term the sender has granted or used.
        term: Term,
    },
    /// "What do you see?"
    StatusRequest,
    /// A node's view: itself, its coordinator, the nodes it believes live.
    Status {
        /// The answering node.
        me: NodeId,
        /// Its coordinator, if it has one.
        coordinator: Option<NodeId>,
        /// The nodes it believes live, itself included.
        live: Vec<NodeId>,
        /// The highest term it has granted or used.
        term: u64,
        /// Whether it holds a majority's leases now (it may decide).
        authority: bool,
    },
}

/// Node ids on the wire are u32; more nodes than that is not a cluster.
fn put_node(out: &mut Vec<u8>, n: NodeId) {
    out.put_u32(n as u32);
}

fn put_optional(out: &mut Vec<u8>, n: Option<NodeId>) {
    out.put_u8(u8::from(n.is_some()));
    put_node(out, n.unwrap_or(0));
}

fn put_nodes(out: &mut Vec<u8>, nodes: &[NodeId]) {
    out.put_u32(nodes.len() as u32);
    for n in nodes {
        put_node(out, *n);
    }
}

fn optional(r: &mut Reader<'_>) -> Result<Option<NodeId>, DecodeError> {
    let present = r.u8()?;
    let node = r.u32()? as NodeId;
    match present {
        0 => Ok(None),
        1 => Ok(Some(node)),
        _ => Err(DecodeError::Invalid("coordinator flag")),
    }
}

fn nodes(r: &mut Reader<'_>) -> Result<Vec<NodeId>, DecodeError> {
    let count = r.count(4)?;
    (0..count).map(|_| r.u32().map(|n| n as NodeId)).collect()
}

impl Encode for Wire {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Wire::Election(m) => match m {
                Message::Heartbeat => out.put_u8(1),
                Message::Election => out.put_u8(2),
                Message::Answer => out.put_u8(3),
                Message::Nomination => out.put_u8(4),
                Message::Coordinator => out.put_u8(5),
                Message::IAmUp => out.put_u8(6),
                Message::View { coordinator, live } => {
                    out.put_u8(7);
                    put_optional(out, *coordinator);
                    put_nodes(out, live);
                }
                Message::Leaving { incarnation } => Wire::Leaving {
                    boot: *incarnation,
                    term: Term(0),
                }
                .encode(out),
            },
            Wire::Quorum(m) => {
                let (kind, term, second) = match m {
                    quorum::Message::LeaseRequest { term, round } => (8, term, *round),
                    quorum::Message::LeaseGrant { term, round } => (9, term, *round),
                    quorum::Message::LeaseRefused { term, highest } => (10, term, highest.0),
                };
                out.put_u8(kind);
                out.put_u64(term.0);
                out.put_u64(second);
            }
            Wire::Claim { hears } => {
                out.put_u8(11);
                put_nodes(out, hears);
            }
            Wire::Leaving { boot, term } => {
                out.put_u8(12);
                out.put_u64(*boot);
                out.put_u64(term.0);
            }
            Wire::StatusRequest => out.put_u8(20),
            Wire::Status {
                me,
                coordinator,
                live,
                term,
                authority,
            } => {
                out.put_u8(21);
                put_node(out, *me);
                put_optional(out, *coordinator);
                put_nodes(out, live);
                out.put_u64(*term);
                out.put_u8(u8::from(*authority));
            }
        }
    }
}

impl<'a> Decode<'a> for Wire {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => Wire::Election(Message::Heartbeat),
            2 => Wire::Election(Message::Election),
            3 => Wire::Election(Message::Answer),
            4 => Wire::Election(Message::Nomination),
            5 => Wire::Election(Message::Coordinator),
            6 => Wire::Election(Message::IAmUp),
            7 => Wire::Election(Message::View {
                coordinator: optional(r)?,
                live: nodes(r)?,
            }),
            8 => Wire::Quorum(quorum::Message::LeaseRequest {
                term: Term(r.u64()?),
                round: r.u64()?,
            }),
            9 => Wire::Quorum(quorum::Message::LeaseGrant {
                term: Term(r.u64()?),
                round: r.u64()?,
            }),
            10 => Wire::Quorum(quorum::Message::LeaseRefused {
                term: Term(r.u64()?),
                highest: Term(r.u64()?),
            }),
            11 => Wire::Claim { hears: nodes(r)? },
            12 => Wire::Leaving {
                boot: r.u64()?,
                term: Term(r.u64()?),
            },
            20 => Wire::StatusRequest,
            21 => Wire::Status {
                me: r.u32()? as NodeId,
                coordinator: optional(r)?,
                live: nodes(r)?,
                term: r.u64()?,
                authority: match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(DecodeError::Invalid("authority flag")),
                },
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "election message",
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
        let all = [
            Wire::Election(Message::Heartbeat),
            Wire::Election(Message::Election),
            Wire::Election(Message::Answer),
            Wire::Election(Message::Nomination),
            Wire::Election(Message::Coordinator),
            Wire::Election(Message::IAmUp),
            Wire::Election(Message::View {
                coordinator: Some(2),
                live: vec![0, 2],
            }),
            Wire::Election(Message::View {
                coordinator: None,
                live: vec![],
            }),
            Wire::Quorum(quorum::Message::LeaseRequest {
                term: Term(5),
                round: 7,
            }),
            Wire::Quorum(quorum::Message::LeaseGrant {
                term: Term(u64::MAX),
                round: 0,
            }),
            Wire::Quorum(quorum::Message::LeaseRefused {
                term: Term(3),
                highest: Term(9),
            }),
            Wire::Claim { hears: vec![0, 2] },
            Wire::Claim { hears: vec![] },
            Wire::Leaving {
                boot: 1_700_000_000_123,
                term: Term(7),
            },
            Wire::StatusRequest,
            Wire::Status {
                me: 1,
                coordinator: Some(2),
                live: vec![1, 2],
                term: 7,
                authority: true,
            },
        ];
        for m in all {
            assert_eq!(Wire::from_bytes(&m.to_bytes()).unwrap(), m);
        }
        assert!(
            Wire::from_bytes(&[7, 2, 0, 0, 0, 0, 0, 0, 0, 0]).is_err(),
            "bad flag"
        );
        assert!(
            Wire::from_bytes(&[7, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err(),
            "huge count"
        );
        assert!(Wire::from_bytes(&[99]).is_err());
        assert!(
            Wire::from_bytes(&[8, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0]).is_err(),
            "short lease request"
        );
    }

    /// The bytes of the messages that were on the wire before the quorum's
    /// were added, spelled out: a node of this version and one of the
    /// previous still understand each other's election.
    #[test]
    fn election_bytes_are_unchanged() {
        assert_eq!(Wire::Election(Message::Heartbeat).to_bytes(), [1]);
        assert_eq!(Wire::Election(Message::IAmUp).to_bytes(), [6]);
        assert_eq!(
            Wire::Election(Message::View {
                coordinator: Some(2),
                live: vec![1],
            })
            .to_bytes(),
            [7, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1]
        );
        assert_eq!(Wire::StatusRequest.to_bytes(), [20]);
    }

    #[test]
    fn lease_messages_have_a_fixed_layout() {
        let m = Wire::Quorum(quorum::Message::LeaseGrant {
            term: Term(0x0102),
            round: 3,
        });
        assert_eq!(
            m.to_bytes(),
            [9, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 3]
        );
    }

    #[test]
    fn leaving_has_a_fixed_layout_and_refuses_short_input() {
        let m = Wire::Leaving {
            boot: 0x0102,
            term: Term(3),
        };
        assert_eq!(
            m.to_bytes(),
            [12, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 3]
        );
        // The election's own message is written as the wire's, term 0.
        assert_eq!(
            Wire::from_bytes(&Wire::Election(Message::Leaving { incarnation: 9 }).to_bytes()),
            Ok(Wire::Leaving {
                boot: 9,
                term: Term(0)
            })
        );
        for len in 0..17 {
            let bytes = &m.to_bytes()[..len];
            assert!(
                matches!(Wire::from_bytes(bytes), Err(DecodeError::Truncated { .. })),
                "{len} bytes: {:?}",
                Wire::from_bytes(bytes)
            );
        }
        assert_eq!(
            Wire::from_bytes(&[m.to_bytes(), vec![0]].concat()),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    proptest! {
        #[test]
        fn leaving_round_trips(boot: u64, term: u64) {
            let wire = Wire::Leaving { boot, term: Term(term) };
            prop_assert_eq!(Wire::from_bytes(&wire.to_bytes()).unwrap(), wire);
        }

        #[test]
        fn mangled_leaving_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..24)) {
            let mut bytes = vec![12];
            bytes.extend(tail);
            match Wire::from_bytes(&bytes) {
                Ok(Wire::Leaving { .. }) => prop_assert_eq!(bytes.len(), 17),
                Ok(other) => prop_assert!(false, "read as {other:?}"),
                Err(_) => prop_assert_ne!(bytes.len(), 17),
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Wire::from_bytes(&bytes);
        }

        #[test]
        fn lease_messages_round_trip(kind in 0u8..3, term: u64, second: u64) {
            let m = match kind {
                0 => quorum::Message::LeaseRequest { term: Term(term), round: second },
                1 => quorum::Message::LeaseGrant { term: Term(term), round: second },
                _ => quorum::Message::LeaseRefused { term: Term(term), highest: Term(second) },
            };
            let wire = Wire::Quorum(m);
            prop_assert_eq!(Wire::from_bytes(&wire.to_bytes()).unwrap(), wire);
        }

        #[test]
        fn mangled_lease_messages_never_panic(
            kind in 8u8..11,
            tail in proptest::collection::vec(any::<u8>(), 0..24),
        ) {
            let mut bytes = vec![kind];
            bytes.extend(tail);
            let _ = Wire::from_bytes(&bytes);
        }
    }
}
