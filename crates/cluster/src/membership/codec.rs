//! Election traffic on the wire.
//!
//! Election messages travel as one-way notices (a lost heartbeat is simply
//! superseded by the next; a retried one would only arrive late). The status
//! query behind `convene status` is an ordinary request.
//!
//! | kind | body                                   |
//! |------|----------------------------------------|
//! | 1-6  | Heartbeat, Election, Answer, Nomination, Coordinator, IAmUp |
//! | 7    | View: u8 has-coordinator, u32 coordinator, u32 count, u32 node ids |
//! | 20   | status request (no body)               |
//! | 21   | status reply: u32 me, u8 has-coordinator, u32 coordinator, u32 count, u32 live node ids |

use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use crate::election::{Message, NodeId};

/// Anything on the election service's wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wire {
    /// An election message.
    Election(Message),
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
            },
            Wire::StatusRequest => out.put_u8(20),
            Wire::Status {
                me,
                coordinator,
                live,
            } => {
                out.put_u8(21);
                put_node(out, *me);
                put_optional(out, *coordinator);
                put_nodes(out, live);
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
            20 => Wire::StatusRequest,
            21 => Wire::Status {
                me: r.u32()? as NodeId,
                coordinator: optional(r)?,
                live: nodes(r)?,
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
            Wire::StatusRequest,
            Wire::Status {
                me: 1,
                coordinator: Some(2),
                live: vec![1, 2],
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
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Wire::from_bytes(&bytes);
        }
    }
}
