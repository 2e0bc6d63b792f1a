//! Messages between meet nodes, on the peer transport.
//!
//! Hand-written big-endian encoding (see `convene_wire`): a one-byte kind,
//! then the fields. Names are u32-length strings checked against the EE450
//! rules on decode, times are u32, lists are a u32 count then the items.
//!
//! | kind | request                                           | reply         |
//! |------|---------------------------------------------------|---------------|
//! | 1    | `Announce { boot, chunk, chunks, names }`         | `Announced`   |
//! | 2    | `Solicit { boot }`                                | `Ack`         |
//! | 3    | `Intersect { names }`                             | `Partial`     |
//! | 4    | `Register { meeting, slot, names }`               | `Registered` / `Conflict` / `Failed` |
//! | 5    | `Unregister { meeting }`                          | `Ack`         |

use convene_cluster::ServiceTag;
use convene_time::{Interval, SlotList};
use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use crate::name::{MAX_NAME_LEN, check_name};

/// Meet's peer messages start with this byte (see [`ServiceTag`]).
pub const TAG: ServiceTag = ServiceTag::new(1, "meet");

/// What one meet node asks another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeetRequest {
    /// Backend to main: one chunk of my user names. `boot` grows with every
    /// start of the backend, so a main node can tell a restart's list from a
    /// late chunk of an older one.
    Announce {
        /// When this run of the backend started (nanoseconds since the epoch).
        boot: u64,
        /// Which chunk this is, from 0.
        chunk: u32,
        /// How many chunks make the whole list.
        chunks: u32,
        /// The names in this chunk.
        names: Vec<String>,
    },
    /// Main to backend: I started, announce your users to me (unless you
    /// already did to this run of mine, whose boot stamp this is).
    Solicit {
        /// When this run of the main node started.
        boot: u64,
    },
    /// Main to backend: intersect these users' availability.
    Intersect {
        /// Users of the receiving backend, in request order.
        names: Vec<String>,
    },
    /// Main to backend: remove `slot` from these users' availability.
    Register {
        /// Chosen by main; the same on every backend, so a retry is
        /// recognised and a failed registration can be undone.
        meeting: u64,
        /// The meeting time.
        slot: Interval,
        /// Users of the receiving backend.
        names: Vec<String>,
    },
    /// Main to backend: undo a registration (another backend refused it).
    Unregister {
        /// The meeting to undo.
        meeting: u64,
    },
}

/// What a meet node answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeetReply {
    /// Done.
    Ack,
    /// Main took an announcement chunk.
    Announced {
        /// When this run of the main node started, so the backend knows
        /// which run has its list.
        boot: u64,
    },
    /// A backend's intersection of its own users' lists.
    Partial {
        /// When all of them are free.
        slots: SlotList,
        /// Requested names this backend does not hold (its list changed).
        unknown: Vec<String>,
    },
    /// The meeting is registered (or was already).
    Registered,
    /// The slot is not free (any more) for this user; nothing was changed.
    Conflict {
        /// The first user found busy or unknown.
        name: String,
    },
    /// The backend could not do it (its store failed); nothing was changed.
    Failed {
        /// Why.
        message: String,
    },
}

fn put_names(out: &mut Vec<u8>, names: &[String]) {
    out.put_u32(names.len() as u32);
    for n in names {
        out.put_string(n);
    }
}

fn names(r: &mut Reader<'_>) -> Result<Vec<String>, DecodeError> {
    // Each name takes at least its 4-byte length and one letter.
    let count = r.count(5)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let name = r.string_max(MAX_NAME_LEN)?;
        check_name(name).map_err(|_| DecodeError::Invalid("user name"))?;
        out.push(name.to_string());
    }
    Ok(out)
}

fn put_interval(out: &mut Vec<u8>, i: &Interval) {
    out.put_u32(i.start());
    out.put_u32(i.end());
}

fn interval(r: &mut Reader<'_>) -> Result<Interval, DecodeError> {
    let (start, end) = (r.u32()?, r.u32()?);
    Interval::new(start, end)
        .map_err(|_| DecodeError::Invalid("interval start must be less than its end"))
}

impl Encode for MeetRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MeetRequest::Announce {
                boot,
                chunk,
                chunks,
                names,
            } => {
                out.put_u8(1);
                out.put_u64(*boot);
                out.put_u32(*chunk);
                out.put_u32(*chunks);
                put_names(out, names);
            }
            MeetRequest::Solicit { boot } => {
                out.put_u8(2);
                out.put_u64(*boot);
            }
            MeetRequest::Intersect { names } => {
                out.put_u8(3);
                put_names(out, names);
            }
            MeetRequest::Register {
                meeting,
                slot,
                names,
            } => {
                out.put_u8(4);
                out.put_u64(*meeting);
                put_interval(out, slot);
                put_names(out, names);
            }
            MeetRequest::Unregister { meeting } => {
                out.put_u8(5);
                out.put_u64(*meeting);
            }
        }
    }
}

impl<'a> Decode<'a> for MeetRequest {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => {
                let boot = r.u64()?;
                let chunk = r.u32()?;
                let chunks = r.u32()?;
                if chunk >= chunks {
                    return Err(DecodeError::Invalid(
                        "announce chunk number past the chunk count",
                    ));
                }
                MeetRequest::Announce {
                    boot,
                    chunk,
                    chunks,
                    names: names(r)?,
                }
            }
            2 => MeetRequest::Solicit { boot: r.u64()? },
            3 => MeetRequest::Intersect { names: names(r)? },
            4 => MeetRequest::Register {
                meeting: r.u64()?,
                slot: interval(r)?,
                names: names(r)?,
            },
            5 => MeetRequest::Unregister { meeting: r.u64()? },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "meet request",
                    tag,
                });
            }
        })
    }
}

impl Encode for MeetReply {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MeetReply::Ack => out.put_u8(1),
            MeetReply::Partial { slots, unknown } => {
                out.put_u8(2);
                out.put_u32(slots.len() as u32);
                for i in slots.as_slice() {
                    put_interval(out, i);
                }
                put_names(out, unknown);
            }
            MeetReply::Registered => out.put_u8(3),
            MeetReply::Conflict { name } => {
                out.put_u8(4);
                out.put_string(name);
            }
            MeetReply::Failed { message } => {
                out.put_u8(5);
                out.put_string(message);
            }
            MeetReply::Announced { boot } => {
                out.put_u8(6);
                out.put_u64(*boot);
            }
        }
    }
}

impl<'a> Decode<'a> for MeetReply {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => MeetReply::Ack,
            2 => {
                let count = r.count(8)?;
                let mut list = Vec::with_capacity(count);
                for _ in 0..count {
                    list.push(interval(r)?);
                }
                let slots = SlotList::from_sorted(list)
                    .map_err(|_| DecodeError::Invalid("partial result intervals out of order"))?;
                MeetReply::Partial {
                    slots,
                    unknown: names(r)?,
                }
            }
            3 => MeetReply::Registered,
            4 => MeetReply::Conflict {
                name: r.string_max(MAX_NAME_LEN)?.to_string(),
            },
            5 => MeetReply::Failed {
                message: r.string_max(1024)?.to_string(),
            },
            6 => MeetReply::Announced { boot: r.u64()? },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "meet reply",
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

    fn iv(a: u32, b: u32) -> Interval {
        Interval::new(a, b).unwrap()
    }

    #[test]
    fn every_message_round_trips() {
        let requests = [
            MeetRequest::Announce {
                boot: 9,
                chunk: 0,
                chunks: 2,
                names: vec!["alice".into(), "bob".into()],
            },
            MeetRequest::Solicit { boot: 12 },
            MeetRequest::Intersect {
                names: vec!["alice".into()],
            },
            MeetRequest::Register {
                meeting: u64::MAX,
                slot: iv(17, 18),
                names: vec!["bob".into()],
            },
            MeetRequest::Unregister { meeting: 3 },
        ];
        for m in requests {
            assert_eq!(MeetRequest::from_bytes(&m.to_bytes()).unwrap(), m);
        }
        let replies = [
            MeetReply::Ack,
            MeetReply::Partial {
                slots: SlotList::from_sorted(vec![iv(1, 3), iv(12, 18)]).unwrap(),
                unknown: vec!["zed".into()],
            },
            MeetReply::Registered,
            MeetReply::Conflict { name: "bob".into() },
            MeetReply::Failed {
                message: "disk full".into(),
            },
            MeetReply::Announced { boot: 5 },
        ];
        for m in replies {
            assert_eq!(MeetReply::from_bytes(&m.to_bytes()).unwrap(), m);
        }
    }

    #[test]
    fn hostile_messages_are_typed_errors() {
        // Unknown kind.
        assert!(matches!(
            MeetRequest::from_bytes(&[99]),
            Err(DecodeError::UnknownTag { tag: 99, .. })
        ));
        // A count of four billion names in a 9-byte datagram.
        assert!(MeetRequest::from_bytes(&[3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]).is_err());
        // A name that breaks the rules.
        let mut bad = vec![3];
        bad.put_u32(1);
        bad.put_string("Robert'); DROP TABLE");
        assert!(MeetRequest::from_bytes(&bad).is_err());
        // An interval backwards.
        let mut back = vec![4];
        back.put_u64(1);
        back.put_u32(18);
        back.put_u32(17);
        back.put_u32(0);
        assert!(MeetRequest::from_bytes(&back).is_err());
        // Trailing garbage.
        let mut long = MeetRequest::Solicit { boot: 1 }.to_bytes();
        long.push(0);
        assert!(MeetRequest::from_bytes(&long).is_err());
        // Out-of-order partial result.
        let mut partial = vec![2];
        partial.put_u32(2);
        for v in [5, 6, 1, 2] {
            partial.put_u32(v);
        }
        partial.put_u32(0);
        assert!(MeetReply::from_bytes(&partial).is_err());
    }

    proptest! {
        #[test]
        fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = MeetRequest::from_bytes(&bytes);
            let _ = MeetReply::from_bytes(&bytes);
        }
    }
}
