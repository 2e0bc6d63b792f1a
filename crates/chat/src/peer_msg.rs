//! What chat servers and the coordinator say to each other over the peer
//! transport (UDP, payloads tagged [`TAG`]).
//!
//! The course leaves server-to-server traffic to each team (reference §3).
//! Convene's is small: servers put questions to the coordinator, which holds
//! the [`Registry`](crate::registry::Registry), and a new coordinator asks each
//! server what it holds. Every request is answered, so the transport's retries
//! cover loss; every request is safe to repeat (a repeated claim by the holder
//! is approved again, a repeated release of a free name changes nothing).
//!
//! Every message from a server carries its **boot**, a number drawn when the
//! chat service starts. A coordinator that sees a new boot for a server knows
//! the server restarted and lost its clients, even if the failure detector
//! never saw it down, and frees what the old incarnation held.
//!
//! | kind | request                 | body                                   |
//! |------|-------------------------|----------------------------------------|
//! | 1    | [`PeerRequest::Hello`]  | u64 boot                               |
//! | 2    | [`PeerRequest::Claim`]  | u64 boot, u8 kind, string name         |
//! | 3    | [`PeerRequest::Release`]| u64 boot, u8 kind, string name         |
//! | 4    | [`PeerRequest::Moved`]  | u64 boot, string identity, string former room |
//! | 5    | [`PeerRequest::WhereIs`]| string room                            |
//! | 6    | [`PeerRequest::ListRooms`] | (none)                              |
//! | 7    | [`PeerRequest::ViewPart`] | u64 snapshot, u32 offset             |
//! | 8    | [`PeerRequest::Evict`]  | u8 kind, string name                   |
//! | 9    | [`PeerRequest::Replicate`] | u64 term, u32 count, writes ([`put_write`]) |
//! | 10   | [`PeerRequest::ReplicaPart`] | u64 term, u64 snapshot, u32 offset |
//!
//! | kind | reply                    | body                                  |
//! |------|--------------------------|---------------------------------------|
//! | 1    | [`PeerReply::NotCoordinator`] | (none)                           |
//! | 2    | [`PeerReply::Ack`]       | (none)                                |
//! | 3    | [`PeerReply::Decision`]  | u8 approved                           |
//! | 4    | [`PeerReply::Location`]  | u8 present, string server             |
//! | 5    | [`PeerReply::Rooms`]     | u32 count, strings                    |
//! | 6    | [`PeerReply::ViewPart`]  | u64 boot, u64 snapshot, u32 total, bytes (u32 length) |
//! | 7    | [`PeerReply::StaleSnapshot`] | (none)                            |
//! | 8    | [`PeerReply::StaleTerm`] | u64 highest term seen                 |
//! | 9    | [`PeerReply::ReplicaPart`] | u64 snapshot, u32 total, bytes (u32 length) |
//!
//! Integers are big-endian, strings a u32 length then UTF-8. Names are at most
//! [`MAX_NAME`] bytes: more than any valid identity or room id, so a peer
//! cannot make another allocate much, and still lenient enough that a server
//! with a looser syntax check (the wild implementations differ by a
//! character) is not refused here.
//!
//! A [`ServerView`] can outgrow one datagram (thousands of identities), so it
//! travels as bytes ([`encode_view`]) in parts: the server freezes a snapshot
//! on the first request and serves it by offset, and a coordinator that finds
//! the snapshot replaced (or, after half a minute, expired) starts over (see
//! [`convene_cluster::snapshot`]).
//!
//! The coordinator's writes to the nodes' [copies](crate::replica) of the
//! approved names go in batches of at most [`MAX_WRITES`]; a new
//! coordinator reads a copy in parts, like a view. Both carry the
//! coordinator's quorum term, and a node that has seen a higher one answers
//! [`PeerReply::StaleTerm`]. An older node drops kinds 9 and 10 as
//! malformed, which the coordinator counts as no copy.

use convene_cluster::ServiceTag;
use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use crate::registry::{Kind, ServerView};
use crate::replica::{Write, put_write, write};

/// Chat's peer messages start with this byte (see [`ServiceTag`]).
pub const TAG: ServiceTag = ServiceTag::new(4, "chat");

/// The longest name (identity, room id or server id) accepted on the wire.
pub const MAX_NAME: usize = 64;

/// The most view bytes in one reply: well under a datagram with its headers.
pub const VIEW_PART: usize = 48 * 1024;

/// The most rooms one [`PeerReply::Rooms`] carries: keeps the reply inside
/// one datagram even with every id at [`MAX_NAME`].
pub const MAX_LISTED_ROOMS: usize = 900;

/// The most writes in one [`PeerRequest::Replicate`]: each is at most 153
/// bytes, so a batch stays under [`VIEW_PART`].
pub const MAX_WRITES: usize = 300;

/// A request from one node's chat service to another's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerRequest {
    /// To the coordinator: "I am up, this is my boot". Sent first by every
    /// starting server, so a restart is noticed before any claim.
    Hello {
        /// The sender's boot.
        boot: u64,
    },
    /// To the coordinator: may my client have this name?
    Claim {
        /// The sender's boot.
        boot: u64,
        /// Identity or room.
        kind: Kind,
        /// The name.
        name: String,
    },
    /// To the coordinator: this name is free again.
    Release {
        /// The sender's boot.
        boot: u64,
        /// Identity or room.
        kind: Kind,
        /// The name.
        name: String,
    },
    /// To the coordinator: I accepted the `movejoin` of this identity, which
    /// left room `former` on another server.
    Moved {
        /// The sender's boot.
        boot: u64,
        /// The identity that moved.
        identity: String,
        /// The room it left (its `movejoin`'s `former`).
        former: String,
    },
    /// To the coordinator: which server holds this room?
    WhereIs {
        /// The room.
        room: String,
    },
    /// To the coordinator: every room of the cluster.
    ListRooms,
    /// To a server, from a new coordinator: part of your view.
    ViewPart {
        /// 0 to freeze a new snapshot, else the one being read.
        snapshot: u64,
        /// Where in the snapshot's bytes to start.
        offset: u32,
    },
    /// To a server, from the coordinator: drop this name, another server
    /// keeps it.
    Evict {
        /// Identity or room.
        kind: Kind,
        /// The name.
        name: String,
    },
    /// To any node, from the coordinator: keep these writes in your copy of
    /// the approved names (see [`Replica`](crate::replica::Replica)).
    Replicate {
        /// The coordinator's quorum term.
        term: u64,
        /// At most [`MAX_WRITES`] writes, each stamped with `term`.
        writes: Vec<Write>,
    },
    /// To any node, from a coordinator starting a term: part of your copy of
    /// the approved names; refuse writes below `term` from now on.
    ReplicaPart {
        /// The coordinator's quorum term.
        term: u64,
        /// 0 to freeze a new snapshot, else the one being read.
        snapshot: u64,
        /// Where in the snapshot's bytes to start.
        offset: u32,
    },
}

/// The answer to a [`PeerRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerReply {
    /// The receiver is not the coordinator (or not yet ready to act as one):
    /// ask again when membership says who is.
    NotCoordinator,
    /// Done.
    Ack,
    /// The answer to a claim.
    Decision(bool),
    /// The answer to [`PeerRequest::WhereIs`]: the holding server's id.
    Location(Option<String>),
    /// The answer to [`PeerRequest::ListRooms`], sorted.
    Rooms(Vec<String>),
    /// Part of a view.
    ViewPart {
        /// The server's boot.
        boot: u64,
        /// The snapshot these bytes belong to.
        snapshot: u64,
        /// The snapshot's whole length.
        total: u32,
        /// The bytes from the requested offset.
        bytes: Vec<u8>,
    },
    /// The snapshot asked for has been replaced or has expired; start
    /// again from 0.
    StaleSnapshot,
    /// Refused: this node has seen a higher term than the request's.
    StaleTerm {
        /// The highest term it has seen.
        seen: u64,
    },
    /// Part of a copy of the approved names.
    ReplicaPart {
        /// The snapshot these bytes belong to.
        snapshot: u64,
        /// The snapshot's whole length.
        total: u32,
        /// The bytes from the requested offset.
        bytes: Vec<u8>,
    },
}

fn put_kind(out: &mut Vec<u8>, kind: Kind) {
    out.put_u8(match kind {
        Kind::Identity => 1,
        Kind::Room => 2,
    });
}

fn kind(r: &mut Reader<'_>) -> Result<Kind, DecodeError> {
    match r.u8()? {
        1 => Ok(Kind::Identity),
        2 => Ok(Kind::Room),
        _ => Err(DecodeError::Invalid("name kind")),
    }
}

fn name(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    Ok(r.string_max(MAX_NAME)?.to_string())
}

fn names(r: &mut Reader<'_>) -> Result<Vec<String>, DecodeError> {
    let count = r.count(4)?;
    (0..count).map(|_| name(r)).collect()
}

fn put_names<S: AsRef<str>>(out: &mut Vec<u8>, names: &[S]) {
    out.put_u32(names.len() as u32);
    for n in names {
        out.put_string(n.as_ref());
    }
}

impl Encode for PeerRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PeerRequest::Hello { boot } => {
                out.put_u8(1);
                out.put_u64(*boot);
            }
            PeerRequest::Claim { boot, kind, name } => {
                out.put_u8(2);
                out.put_u64(*boot);
                put_kind(out, *kind);
                out.put_string(name);
            }
            PeerRequest::Release { boot, kind, name } => {
                out.put_u8(3);
                out.put_u64(*boot);
                put_kind(out, *kind);
                out.put_string(name);
            }
            PeerRequest::Moved {
                boot,
                identity,
                former,
            } => {
                out.put_u8(4);
                out.put_u64(*boot);
                out.put_string(identity);
                out.put_string(former);
            }
            PeerRequest::WhereIs { room } => {
                out.put_u8(5);
                out.put_string(room);
            }
            PeerRequest::ListRooms => out.put_u8(6),
            PeerRequest::ViewPart { snapshot, offset } => {
                out.put_u8(7);
                out.put_u64(*snapshot);
                out.put_u32(*offset);
            }
            PeerRequest::Evict { kind, name } => {
                out.put_u8(8);
                put_kind(out, *kind);
                out.put_string(name);
            }
            PeerRequest::Replicate { term, writes } => {
                out.put_u8(9);
                out.put_u64(*term);
                let writes = &writes[..writes.len().min(MAX_WRITES)];
                out.put_u32(writes.len() as u32);
                for w in writes {
                    put_write(out, w);
                }
            }
            PeerRequest::ReplicaPart {
                term,
                snapshot,
                offset,
            } => {
                out.put_u8(10);
                out.put_u64(*term);
                out.put_u64(*snapshot);
                out.put_u32(*offset);
            }
        }
    }
}

impl Decode<'_> for PeerRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => PeerRequest::Hello { boot: r.u64()? },
            2 => PeerRequest::Claim {
                boot: r.u64()?,
                kind: kind(r)?,
                name: name(r)?,
            },
            3 => PeerRequest::Release {
                boot: r.u64()?,
                kind: kind(r)?,
                name: name(r)?,
            },
            4 => PeerRequest::Moved {
                boot: r.u64()?,
                identity: name(r)?,
                former: name(r)?,
            },
            5 => PeerRequest::WhereIs { room: name(r)? },
            6 => PeerRequest::ListRooms,
            7 => PeerRequest::ViewPart {
                snapshot: r.u64()?,
                offset: r.u32()?,
            },
            8 => PeerRequest::Evict {
                kind: kind(r)?,
                name: name(r)?,
            },
            9 => {
                let term = r.u64()?;
                // Each write is at least 25 bytes.
                let count = r.count(25)?;
                if count > MAX_WRITES {
                    return Err(DecodeError::Invalid("too many writes"));
                }
                let writes = (0..count)
                    .map(|_| write(r))
                    .collect::<Result<_, DecodeError>>()?;
                PeerRequest::Replicate { term, writes }
            }
            10 => PeerRequest::ReplicaPart {
                term: r.u64()?,
                snapshot: r.u64()?,
                offset: r.u32()?,
            },
            _ => return Err(DecodeError::Invalid("chat request kind")),
        })
    }
}

impl Encode for PeerReply {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PeerReply::NotCoordinator => out.put_u8(1),
            PeerReply::Ack => out.put_u8(2),
            PeerReply::Decision(approved) => {
                out.put_u8(3);
                out.put_u8(u8::from(*approved));
            }
            PeerReply::Location(server) => {
                out.put_u8(4);
                out.put_u8(u8::from(server.is_some()));
                out.put_string(server.as_deref().unwrap_or(""));
            }
            PeerReply::Rooms(rooms) => {
                out.put_u8(5);
                put_names(out, &rooms[..rooms.len().min(MAX_LISTED_ROOMS)]);
            }
            PeerReply::ViewPart {
                boot,
                snapshot,
                total,
                bytes,
            } => {
                out.put_u8(6);
                out.put_u64(*boot);
                out.put_u64(*snapshot);
                out.put_u32(*total);
                out.put_u32(bytes.len() as u32);
                out.put_bytes(bytes);
            }
            PeerReply::StaleSnapshot => out.put_u8(7),
            PeerReply::StaleTerm { seen } => {
                out.put_u8(8);
                out.put_u64(*seen);
            }
            PeerReply::ReplicaPart {
                snapshot,
                total,
                bytes,
            } => {
                out.put_u8(9);
                out.put_u64(*snapshot);
                out.put_u32(*total);
                out.put_u32(bytes.len() as u32);
                out.put_bytes(bytes);
            }
        }
    }
}

impl Decode<'_> for PeerReply {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => PeerReply::NotCoordinator,
            2 => PeerReply::Ack,
            3 => PeerReply::Decision(match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(DecodeError::Invalid("decision")),
            }),
            4 => {
                let present = r.u8()?;
                let server = name(r)?;
                match present {
                    0 => PeerReply::Location(None),
                    1 => PeerReply::Location(Some(server)),
                    _ => return Err(DecodeError::Invalid("location flag")),
                }
            }
            5 => PeerReply::Rooms(names(r)?),
            6 => {
                let boot = r.u64()?;
                let snapshot = r.u64()?;
                let total = r.u32()?;
                let len = r.u32()? as usize;
                if len > VIEW_PART {
                    return Err(DecodeError::Invalid("view part length"));
                }
                PeerReply::ViewPart {
                    boot,
                    snapshot,
                    total,
                    bytes: r.bytes(len)?.to_vec(),
                }
            }
            7 => PeerReply::StaleSnapshot,
            8 => PeerReply::StaleTerm { seen: r.u64()? },
            9 => {
                let snapshot = r.u64()?;
                let total = r.u32()?;
                let len = r.u32()? as usize;
                if len > VIEW_PART {
                    return Err(DecodeError::Invalid("copy part length"));
                }
                PeerReply::ReplicaPart {
                    snapshot,
                    total,
                    bytes: r.bytes(len)?.to_vec(),
                }
            }
            _ => return Err(DecodeError::Invalid("chat reply kind")),
        })
    }
}

/// A view as bytes, to be sent in [`VIEW_PART`]-sized parts: four name
/// lists (identities, rooms with their owners as pairs, pending identities,
/// pending rooms).
pub fn encode_view(view: &ServerView) -> Vec<u8> {
    let mut out = Vec::new();
    put_names(&mut out, &view.identities);
    out.put_u32(view.rooms.len() as u32);
    for (room, owner) in &view.rooms {
        out.put_string(room);
        out.put_string(owner);
    }
    put_names(&mut out, &view.pending_identities);
    put_names(&mut out, &view.pending_rooms);
    out
}

/// The view [`encode_view`] wrote.
pub fn decode_view(bytes: &[u8]) -> Result<ServerView, DecodeError> {
    let mut r = Reader::new(bytes);
    let identities = names(&mut r)?;
    let count = r.count(8)?;
    let rooms = (0..count)
        .map(|_| Ok((name(&mut r)?, name(&mut r)?)))
        .collect::<Result<_, DecodeError>>()?;
    let pending_identities = names(&mut r)?;
    let pending_rooms = names(&mut r)?;
    r.finish()?;
    Ok(ServerView {
        identities,
        rooms,
        pending_identities,
        pending_rooms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds() -> impl Strategy<Value = Kind> {
        prop_oneof![Just(Kind::Identity), Just(Kind::Room)]
    }

    fn requests() -> impl Strategy<Value = PeerRequest> {
        let n = "[A-Za-z0-9-]{0,20}";
        prop_oneof![
            any::<u64>().prop_map(|boot| PeerRequest::Hello { boot }),
            (any::<u64>(), kinds(), n).prop_map(|(boot, kind, name)| PeerRequest::Claim {
                boot,
                kind,
                name
            }),
            (any::<u64>(), kinds(), n).prop_map(|(boot, kind, name)| PeerRequest::Release {
                boot,
                kind,
                name
            }),
            (any::<u64>(), n, n).prop_map(|(boot, identity, former)| PeerRequest::Moved {
                boot,
                identity,
                former
            }),
            n.prop_map(|room| PeerRequest::WhereIs { room }),
            Just(PeerRequest::ListRooms),
            (any::<u64>(), any::<u32>())
                .prop_map(|(snapshot, offset)| PeerRequest::ViewPart { snapshot, offset }),
            (kinds(), n).prop_map(|(kind, name)| PeerRequest::Evict { kind, name }),
            (
                any::<u64>(),
                prop::collection::vec(
                    (any::<u64>(), kinds(), n, proptest::option::of("s[0-9]")),
                    0..5
                )
            )
                .prop_map(|(term, writes)| PeerRequest::Replicate {
                    term,
                    writes: writes
                        .into_iter()
                        .map(|(seq, kind, name, holder)| Write {
                            stamp: crate::replica::Stamp { term, seq },
                            kind,
                            name,
                            holder,
                        })
                        .collect(),
                }),
            (any::<u64>(), any::<u64>(), any::<u32>()).prop_map(|(term, snapshot, offset)| {
                PeerRequest::ReplicaPart {
                    term,
                    snapshot,
                    offset,
                }
            }),
        ]
    }

    fn replies() -> impl Strategy<Value = PeerReply> {
        prop_oneof![
            Just(PeerReply::NotCoordinator),
            Just(PeerReply::Ack),
            any::<bool>().prop_map(PeerReply::Decision),
            proptest::option::of("[a-z0-9]{0,10}").prop_map(PeerReply::Location),
            prop::collection::vec("[A-Za-z0-9-]{1,16}", 0..20).prop_map(PeerReply::Rooms),
            (
                any::<u64>(),
                any::<u64>(),
                any::<u32>(),
                prop::collection::vec(any::<u8>(), 0..100)
            )
                .prop_map(|(boot, snapshot, total, bytes)| PeerReply::ViewPart {
                    boot,
                    snapshot,
                    total,
                    bytes
                }),
            Just(PeerReply::StaleSnapshot),
            any::<u64>().prop_map(|seen| PeerReply::StaleTerm { seen }),
            (
                any::<u64>(),
                any::<u32>(),
                prop::collection::vec(any::<u8>(), 0..100)
            )
                .prop_map(|(snapshot, total, bytes)| PeerReply::ReplicaPart {
                    snapshot,
                    total,
                    bytes
                }),
        ]
    }

    proptest! {
        #[test]
        fn requests_round_trip(request in requests()) {
            prop_assert_eq!(PeerRequest::from_bytes(&request.to_bytes()), Ok(request));
        }

        #[test]
        fn replies_round_trip(reply in replies()) {
            prop_assert_eq!(PeerReply::from_bytes(&reply.to_bytes()), Ok(reply));
        }

        #[test]
        fn views_round_trip(
            identities in prop::collection::vec("[A-Za-z0-9]{3,16}", 0..30),
            rooms in prop::collection::vec(("[A-Za-z0-9-]{3,16}", "[A-Za-z0-9]{0,16}"), 0..30),
            pending in prop::collection::vec("[A-Za-z0-9]{3,16}", 0..5),
        ) {
            let view = ServerView {
                identities,
                rooms,
                pending_identities: pending.clone(),
                pending_rooms: pending,
            };
            prop_assert_eq!(decode_view(&encode_view(&view)), Ok(view));
        }

        #[test]
        fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = PeerRequest::from_bytes(&bytes);
            let _ = PeerReply::from_bytes(&bytes);
            let _ = decode_view(&bytes);
        }
    }

    #[test]
    fn names_longer_than_the_limit_are_refused_before_allocation() {
        let long = "x".repeat(MAX_NAME + 1);
        let bytes = PeerRequest::WhereIs { room: long }.to_bytes();
        assert!(PeerRequest::from_bytes(&bytes).is_err());
    }

    #[test]
    fn a_room_list_is_capped_to_fit_a_datagram() {
        let rooms: Vec<String> = (0..2000).map(|i| format!("{i:0>64}")).collect();
        let bytes = PeerReply::Rooms(rooms).to_bytes();
        assert!(bytes.len() < 65_000 - 64, "{} bytes", bytes.len());
        let PeerReply::Rooms(listed) = PeerReply::from_bytes(&bytes).unwrap() else {
            panic!("not a room list");
        };
        assert_eq!(listed.len(), MAX_LISTED_ROOMS);
    }
}
