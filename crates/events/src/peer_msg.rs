//! The messages of the events service on the peer transport.
//!
//! A web front sends [`Request::Submit`] to the event server it picked and
//! [`Request::Lead`] to the server that takes an event's creation; a leader
//! sends [`Request::Freeze`] to every event server at the deadline and
//! [`Request::Clear`] once the result is stored; the coordinator sends
//! [`Request::Adopt`] and [`Request::Lead`] when it hands a dead server's
//! share to live ones. Every request gets a [`Reply`].
//!
//! Layout (big-endian, strings as `u32` length + UTF-8, see `convene_wire`):
//! a tag byte, the event id, then per message: `Submit` adds the user and an
//! availability (`u32` count, then `u64` start and `u64` end per interval);
//! replies are `Done`, `Refused` (a reason byte and a message) or `Partial`
//! (a presence byte and an availability).

use convene_cluster::ServiceTag;
use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use crate::error::EventsError;
use crate::interval::{Availability, Interval, Partial};

/// The events service's peer messages start with this byte (see
/// [`ServiceTag`]).
pub const TAG: ServiceTag = ServiceTag::new(6, "events");

/// Longest event id, user name or message accepted from the network.
const MAX_TEXT: usize = 1024;

/// A request to an event server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Validate, back up and fold in one user's constraint.
    Submit {
        /// The event.
        event: String,
        /// Who submits.
        user: String,
        /// The times they can make.
        availability: Availability,
    },
    /// You lead this event: arm its deadline.
    Lead {
        /// The event.
        event: String,
    },
    /// The deadline passed: take no more constraints and send your partial.
    Freeze {
        /// The event.
        event: String,
    },
    /// Constraints of this event were handed to you: rebuild your partial
    /// from the database.
    Adopt {
        /// The event.
        event: String,
    },
    /// The result is stored: drop your working state for this event.
    Clear {
        /// The event.
        event: String,
    },
}

/// An event server's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Done as asked.
    Done,
    /// Refused, with the reason.
    Refused(EventsError),
    /// The server's partial solution (after a freeze).
    Partial(Partial),
}

impl Request {
    /// The event the request is about.
    pub fn event(&self) -> &str {
        match self {
            Request::Submit { event, .. }
            | Request::Lead { event }
            | Request::Freeze { event }
            | Request::Adopt { event }
            | Request::Clear { event } => event,
        }
    }
}

fn put_availability(out: &mut Vec<u8>, availability: &Availability) {
    out.put_u32(availability.as_slice().len() as u32);
    for interval in availability.as_slice() {
        out.put_u64(interval.start() as u64);
        out.put_u64(interval.end() as u64);
    }
}

fn read_availability(r: &mut Reader<'_>) -> Result<Availability, DecodeError> {
    let count = r.count(16)?;
    let mut intervals = Vec::with_capacity(count);
    for _ in 0..count {
        let start =
            i64::try_from(r.u64()?).map_err(|_| DecodeError::Invalid("time out of range"))?;
        let end = i64::try_from(r.u64()?).map_err(|_| DecodeError::Invalid("time out of range"))?;
        intervals.push(
            Interval::new(start, end)
                .map_err(|_| DecodeError::Invalid("interval ends before it starts"))?,
        );
    }
    Ok(Availability::from_iter(intervals))
}

impl Encode for Request {
    fn encode(&self, out: &mut Vec<u8>) {
        let tag = match self {
            Request::Submit { .. } => 1,
            Request::Lead { .. } => 2,
            Request::Freeze { .. } => 3,
            Request::Adopt { .. } => 4,
            Request::Clear { .. } => 5,
        };
        out.put_u8(tag);
        out.put_string(self.event());
        if let Request::Submit {
            user, availability, ..
        } = self
        {
            out.put_string(user);
            put_availability(out, availability);
        }
    }
}

impl Decode<'_> for Request {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8()?;
        let event = r.string_max(MAX_TEXT)?.to_string();
        Ok(match tag {
            1 => Request::Submit {
                event,
                user: r.string_max(MAX_TEXT)?.to_string(),
                availability: read_availability(r)?,
            },
            2 => Request::Lead { event },
            3 => Request::Freeze { event },
            4 => Request::Adopt { event },
            5 => Request::Clear { event },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "events request",
                    tag,
                });
            }
        })
    }
}

/// The reason byte of a refusal: the error kinds another node can report.
fn refusal_code(error: &EventsError) -> u8 {
    match error {
        EventsError::UnknownEvent(_) => 1,
        EventsError::NotInvited { .. } => 2,
        EventsError::DeadlinePassed => 3,
        // The caps are checked by the web front's own node and never sent
        // between servers; were one sent, it would arrive as its message.
        EventsError::UnknownUsers(_)
        | EventsError::Invalid(_)
        | EventsError::TooManyParticipants { .. }
        | EventsError::TooManyOpenEvents { .. } => 4,
        EventsError::NoEventServer => 5,
        EventsError::Db(_) => 6,
    }
}

impl Encode for Reply {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Done => out.put_u8(1),
            Reply::Refused(error) => {
                out.put_u8(2);
                out.put_u8(refusal_code(error));
                // The detail a user needs (which event, which user) travels
                // as the one string of each kind.
                let detail = match error {
                    EventsError::UnknownEvent(id) => id.clone(),
                    EventsError::NotInvited { user } => user.clone(),
                    EventsError::Db(crate::db::DbError::Unavailable(why)) => why.clone(),
                    other => other.to_string(),
                };
                out.put_string(&detail);
            }
            Reply::Partial(partial) => {
                out.put_u8(3);
                match partial.current() {
                    None => out.put_u8(0),
                    Some(availability) => {
                        out.put_u8(1);
                        put_availability(out, availability);
                    }
                }
            }
        }
    }
}

impl Decode<'_> for Reply {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => Reply::Done,
            2 => {
                let code = r.u8()?;
                let detail = r.string_max(MAX_TEXT)?.to_string();
                Reply::Refused(match code {
                    1 => EventsError::UnknownEvent(detail),
                    2 => EventsError::NotInvited { user: detail },
                    3 => EventsError::DeadlinePassed,
                    4 => EventsError::Invalid(detail),
                    5 => EventsError::NoEventServer,
                    6 => EventsError::Db(crate::db::DbError::Unavailable(detail)),
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            what: "refusal",
                            tag,
                        });
                    }
                })
            }
            3 => Reply::Partial(match r.u8()? {
                0 => Partial::none(),
                1 => Partial::from_current(Some(read_availability(r)?)),
                tag => {
                    return Err(DecodeError::UnknownTag {
                        what: "partial presence",
                        tag,
                    });
                }
            }),
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "events reply",
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

    fn availability(pairs: &[(i64, i64)]) -> Availability {
        Availability::from_iter(pairs.iter().map(|&(s, e)| Interval::new(s, e).unwrap()))
    }

    #[test]
    fn every_message_round_trips() {
        let a = availability(&[(100, 200), (300, 400)]);
        for request in [
            Request::Submit {
                event: "k7mq2xwt9a".into(),
                user: "ada".into(),
                availability: a.clone(),
            },
            Request::Lead { event: "e".into() },
            Request::Freeze { event: "e".into() },
            Request::Adopt { event: "e".into() },
            Request::Clear { event: "e".into() },
        ] {
            assert_eq!(Request::from_bytes(&request.to_bytes()), Ok(request));
        }
        for reply in [
            Reply::Done,
            Reply::Refused(EventsError::DeadlinePassed),
            Reply::Refused(EventsError::NotInvited { user: "bob".into() }),
            Reply::Refused(EventsError::UnknownEvent("x".into())),
            Reply::Partial(Partial::none()),
            Reply::Partial(Partial::from_current(Some(a))),
            Reply::Partial(Partial::from_current(Some(Availability::new()))),
        ] {
            assert_eq!(Reply::from_bytes(&reply.to_bytes()), Ok(reply));
        }
    }

    #[test]
    fn bad_intervals_and_tags_are_refused() {
        let mut bytes = Request::Submit {
            event: "e".into(),
            user: "u".into(),
            availability: availability(&[(1, 2)]),
        }
        .to_bytes();
        let n = bytes.len();
        // End (last 8 bytes) before start.
        bytes[n - 8..].copy_from_slice(&0u64.to_be_bytes());
        assert!(Request::from_bytes(&bytes).is_err());
        assert!(Request::from_bytes(&[9, 0, 0, 0, 0]).is_err());
        assert!(Reply::from_bytes(&[3, 2]).is_err());
        assert!(Reply::from_bytes(&[]).is_err());
    }

    proptest! {
        #[test]
        fn decoding_never_panics_and_what_decodes_round_trips(
            bytes in prop::collection::vec(any::<u8>(), 0..64)
        ) {
            if let Ok(m) = Request::from_bytes(&bytes) {
                prop_assert_eq!(Request::from_bytes(&m.to_bytes()), Ok(m));
            }
            if let Ok(m) = Reply::from_bytes(&bytes) {
                prop_assert_eq!(Reply::from_bytes(&m.to_bytes()), Ok(m));
            }
        }
    }
}
