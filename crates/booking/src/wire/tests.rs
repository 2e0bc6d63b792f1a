//! Byte-exact vectors written out by hand from the reference's protocol table, round
//! trips, and the hostile inputs a UDP port receives.

use super::*;
use proptest::prelude::*;

/// Concatenates the parts of a hand-written datagram.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn t(day: u8, hour: u8, minute: u8) -> WeekTime {
    WeekTime::new(day, hour, minute).unwrap()
}

const ROOM: &[u8] = b"Meeting Room A"; // 14 bytes: length 00 00 00 0e
const CONF: &[u8] = b"CONF000001"; // 10 bytes: length 00 00 00 0a

/// Every request type, as the seed's client would send it, with its bytes.
fn request_vectors() -> Vec<(u32, Request, Vec<u8>)> {
    vec![
        (
            3,
            Request::Query {
                facility: "Meeting Room A".into(),
                days: vec![0, 1],
            },
            cat(&[
                &[0x01, 0, 0, 0, 3, 0, 0, 0, 0x0e],
                ROOM,
                &[0, 0, 0, 2, 0x00, 0x01],
            ]),
        ),
        (
            1,
            Request::Book {
                facility: "Meeting Room A".into(),
                start: t(0, 10, 0),
                end: t(0, 11, 0),
            },
            cat(&[
                &[0x02, 0, 0, 0, 1, 0, 0, 0, 0x0e],
                ROOM,
                &[0x00, 0x0a, 0x00, 0x00, 0x0b, 0x00],
            ]),
        ),
        (
            2,
            Request::Change {
                confirmation: "CONF000001".into(),
                offset_minutes: -30,
            },
            cat(&[
                &[0x03, 0, 0, 0, 2, 0, 0, 0, 0x0a],
                CONF,
                &[0xff, 0xff, 0xff, 0xe2],
            ]),
        ),
        (
            1,
            Request::Monitor {
                facility: "Meeting Room A".into(),
                seconds: 1200,
            },
            cat(&[
                &[0x04, 0, 0, 0, 1, 0, 0, 0, 0x0e],
                ROOM,
                &[0x00, 0x00, 0x04, 0xb0],
            ]),
        ),
        (
            0x0102_0304,
            Request::Extend {
                confirmation: "CONF000001".into(),
                minutes: 60,
            },
            cat(&[
                &[0x05, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0x0a],
                CONF,
                &[0, 0, 0, 0x3c],
            ]),
        ),
        (
            u32::MAX,
            Request::Cancel {
                confirmation: "CONF000001".into(),
            },
            cat(&[&[0x06, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x0a], CONF]),
        ),
    ]
}

#[test]
fn requests_match_hand_written_bytes() {
    for (id, request, bytes) in request_vectors() {
        assert_eq!(request.encode(id), bytes, "{request:?}");
        let header = Header {
            kind: request.kind(),
            request_id: id,
        };
        assert_eq!(decode_request(&bytes), Ok((header, request)));
        assert_eq!(super::header(&bytes), Some(header));
    }
}

/// Monday with a 10:00-11:00 booking, then Tuesday free, listed twice as the seed does.
fn two_days() -> Vec<DayAvailability> {
    vec![
        DayAvailability {
            day: 0,
            slots: vec![(t(0, 0, 0), t(0, 10, 0)), (t(0, 11, 0), t(0, 24, 0))],
        },
        DayAvailability {
            day: 1,
            slots: vec![(t(1, 0, 0), t(1, 24, 0)), (t(1, 0, 0), t(1, 24, 0))],
        },
    ]
}

const TWO_DAYS_BYTES: &[u8] = &[
    0, 0, 0, 2, // two days
    0x00, 0, 0, 0, 2, // Monday, two slots
    0, 0, 0, 0, 10, 0, // 00:00 - 10:00
    0, 11, 0, 0, 24, 0, // 11:00 - 24:00
    0x01, 0, 0, 0, 2, // Tuesday, two slots
    1, 0, 0, 1, 24, 0, // 00:00 - 24:00
    1, 0, 0, 1, 24, 0, // and again
];

/// Every reply type, as the seed's server would send it, with its bytes.
fn reply_vectors() -> Vec<(Reply, Vec<u8>)> {
    let msg = |s: &str| cat(&[&(s.len() as u32).to_be_bytes(), s.as_bytes()]);
    vec![
        (
            Reply::Availability {
                facility: "Meeting Room A".into(),
                days: two_days(),
            },
            cat(&[&[0x65, 0, 0, 0, 0x0e], ROOM, TWO_DAYS_BYTES]),
        ),
        (
            Reply::Booked {
                confirmation: "CONF000001".into(),
            },
            cat(&[&[0x66, 0, 0, 0, 0x0a], CONF]),
        ),
        (Reply::Changed, vec![0x67, 0x01]),
        (
            Reply::Monitoring {
                message: "Monitoring 'Meeting Room A' for 1200 seconds".into(),
            },
            cat(&[
                &[0x68, 0x01, 0, 0, 0, 44],
                b"Monitoring 'Meeting Room A' for 1200 seconds",
            ]),
        ),
        (
            Reply::Extended {
                message: "Booking extended to Mon 12:00".into(),
            },
            cat(&[&[0x69, 0x01], &msg("Booking extended to Mon 12:00")]),
        ),
        (
            Reply::Cancelled {
                message: "Booking cancelled successfully".into(),
            },
            cat(&[
                &[0x6a, 0x01, 0, 0, 0, 30],
                b"Booking cancelled successfully",
            ]),
        ),
        (
            Reply::Update {
                facility: "Meeting Room A".into(),
                days: two_days(),
            },
            cat(&[&[0xc8, 0, 0, 0, 0x0e], ROOM, TWO_DAYS_BYTES]),
        ),
        (
            Reply::error(
                ErrorCode::AlreadyCancelled,
                "Booking has already been cancelled",
            ),
            cat(&[
                &[0xff, 0x07, 0, 0, 0, 34],
                b"Booking has already been cancelled",
            ]),
        ),
    ]
}

#[test]
fn replies_match_hand_written_bytes() {
    for (reply, bytes) in reply_vectors() {
        assert_eq!(reply.encode(), bytes, "{reply:?}");
        assert_eq!(Reply::decode(&bytes), Ok(reply));
    }
}

#[test]
fn unknown_type_gets_the_seeds_reply() {
    let err = decode_request(&[9, 0, 0, 0, 1]).unwrap_err();
    assert_eq!(err, RequestError::UnknownType(9));
    let reply = err.to_reply().encode();
    assert_eq!(
        reply,
        cat(&[&[0xff, 0x05, 0, 0, 0, 23], b"Unknown request type: 9"])
    );
    // A reply type sent to the server is an unknown request type too.
    assert_eq!(
        decode_request(&[101, 0, 0, 0, 1]),
        Err(RequestError::UnknownType(101))
    );
}

#[test]
fn datagrams_shorter_than_the_header_cannot_be_answered() {
    let full = [2, 0, 0, 0, 1];
    for len in 0..HEADER_LEN {
        assert_eq!(super::header(&full[..len]), None);
        assert_eq!(decode_request(&full[..len]), Err(RequestError::TooShort));
    }
    assert_eq!(
        super::header(&full),
        Some(Header {
            kind: 2,
            request_id: 1
        })
    );
}

#[test]
fn every_truncation_of_a_request_is_malformed() {
    for (_, request, bytes) in request_vectors() {
        for cut in HEADER_LEN..bytes.len() {
            match decode_request(&bytes[..cut]) {
                Err(RequestError::Malformed {
                    kind,
                    error: DecodeError::Truncated { .. },
                }) => assert_eq!(kind, request.kind()),
                other => panic!("{request:?} cut at {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn trailing_bytes_are_malformed() {
    for (_, request, mut bytes) in request_vectors() {
        bytes.push(0);
        assert_eq!(
            decode_request(&bytes),
            Err(RequestError::Malformed {
                kind: request.kind(),
                error: DecodeError::TrailingBytes(1)
            })
        );
    }
}

#[test]
fn huge_string_length_is_refused_without_reading() {
    let bytes = [6, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, b'C'];
    assert_eq!(
        decode_request(&bytes),
        Err(RequestError::TooLong {
            what: Field::ConfirmationId,
            len: 0xffff_ffff
        })
    );
}

#[test]
fn long_facility_names_are_refused() {
    let at_limit = Request::Monitor {
        facility: "x".repeat(MAX_NAME),
        seconds: 1,
    };
    assert_eq!(decode_request(&at_limit.encode(1)).unwrap().1, at_limit);
    let over = Request::Monitor {
        facility: "x".repeat(MAX_NAME + 1),
        seconds: 1,
    };
    let err = decode_request(&over.encode(1)).unwrap_err();
    assert_eq!(
        err,
        RequestError::TooLong {
            what: Field::FacilityName,
            len: MAX_NAME + 1
        }
    );
    assert_eq!(
        err.to_string(),
        "Facility name too long: 257 bytes exceeds the maximum of 256"
    );
    assert_eq!(err.to_reply().error_code(), Some(ErrorCode::InvalidRequest));
}

#[test]
fn invalid_utf8_is_malformed() {
    let bytes = [6, 0, 0, 0, 1, 0, 0, 0, 2, 0xc3, 0x28];
    let err = decode_request(&bytes).unwrap_err();
    assert_eq!(
        err,
        RequestError::Malformed {
            kind: 6,
            error: DecodeError::InvalidUtf8
        }
    );
    assert_eq!(
        err.to_string(),
        "Malformed CANCEL_BOOKING request: string is not valid UTF-8"
    );
}

/// A Book request for Meeting Room A with the given start time and end Mon 11:00.
fn book_starting(day: u8, hour: u8, minute: u8) -> Vec<u8> {
    cat(&[
        &[0x02, 0, 0, 0, 1, 0, 0, 0, 0x0e],
        ROOM,
        &[day, hour, minute, 0, 11, 0],
    ])
}

#[test]
fn impossible_times_are_invalid_time_range() {
    for (bytes, error) in [
        (book_starting(0, 25, 0), WeekTimeError::Hour(25)),
        (book_starting(0, 10, 60), WeekTimeError::Minute(60)),
        (book_starting(7, 10, 0), WeekTimeError::Day(7)),
        (book_starting(0, 24, 30), WeekTimeError::Minute(30)),
    ] {
        let err = decode_request(&bytes).unwrap_err();
        assert_eq!(err, RequestError::BadTime(error));
        assert_eq!(err.code(), ErrorCode::InvalidTimeRange);
        assert_eq!(
            err.to_reply(),
            Reply::error(
                ErrorCode::InvalidTimeRange,
                format!("Invalid time: {error}")
            )
        );
    }
    // The end of a day is a valid time; whether it is after the start is the state's call.
    let (_, request) = decode_request(&book_starting(0, 24, 0)).unwrap();
    assert!(matches!(request, Request::Book { start, .. } if start == t(0, 24, 0)));
}

#[test]
fn day_lists_are_bounded() {
    // A count of four billion in a 15-byte datagram.
    let mut bytes = cat(&[&[0x01, 0, 0, 0, 1, 0, 0, 0, 1], b"A"]);
    bytes.extend_from_slice(&0xffff_ff00u32.to_be_bytes());
    assert_eq!(
        decode_request(&bytes),
        Err(RequestError::TooLong {
            what: Field::DayList,
            len: 0xffff_ff00
        })
    );
    // MAX_DAYS is accepted; one more is refused even with every byte present.
    let query = |n: usize| Request::Query {
        facility: "A".into(),
        days: vec![0; n],
    };
    assert_eq!(
        decode_request(&query(MAX_DAYS).encode(1)).unwrap().1,
        query(MAX_DAYS)
    );
    assert_eq!(
        decode_request(&query(MAX_DAYS + 1).encode(1)),
        Err(RequestError::TooLong {
            what: Field::DayList,
            len: MAX_DAYS + 1
        })
    );
    // Within the limit but short of bytes: truncated, not allocated.
    let mut short = cat(&[&[0x01, 0, 0, 0, 1, 0, 0, 0, 1], b"A"]);
    short.extend_from_slice(&[0, 0, 0, 5, 0, 1]);
    assert!(matches!(
        decode_request(&short),
        Err(RequestError::Malformed {
            kind: 1,
            error: DecodeError::Truncated { .. }
        })
    ));
    // Days are passed through as sent: range and duplicates are the state's business.
    let odd = Request::Query {
        facility: "A".into(),
        days: vec![9, 0, 0],
    };
    assert_eq!(decode_request(&odd.encode(1)).unwrap().1, odd);
}

#[test]
fn every_truncation_of_a_reply_is_an_error() {
    for (reply, bytes) in reply_vectors() {
        for cut in 0..bytes.len() {
            assert!(
                Reply::decode(&bytes[..cut]).is_err(),
                "{reply:?} cut at {cut}"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(Reply::decode(&long), Err(DecodeError::TrailingBytes(1)));
    }
}

#[test]
fn reply_flags_read_like_the_seed() {
    assert_eq!(Reply::decode(&[0x67, 0x02]), Ok(Reply::Changed));
    assert!(matches!(
        Reply::decode(&[0x67, 0x00]),
        Err(DecodeError::Invalid(_))
    ));
    assert!(matches!(
        Reply::decode(&[0x6a, 0x00, 0, 0, 0, 0]),
        Err(DecodeError::Invalid(_))
    ));
}

#[test]
fn unknown_error_codes_are_kept() {
    let bytes = cat(&[&[0xff, 99, 0, 0, 0, 4], b"odd!"]);
    let reply = Reply::decode(&bytes).unwrap();
    assert_eq!(
        reply,
        Reply::Error {
            code: 99,
            message: "odd!".into()
        }
    );
    assert_eq!(reply.error_code(), None);
    assert_eq!(reply.encode(), bytes);
    for code in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_code(code.code()), Some(code));
        assert_eq!(Reply::error(code, "").error_code(), Some(code));
    }
    assert_eq!(ErrorCode::from_code(0), None);
    assert_eq!(
        ErrorCode::FacilityNotFound.to_string(),
        "FACILITY_NOT_FOUND"
    );
}

/// A one-day availability reply with the given slot bytes.
fn one_slot(day: u8, slot: [u8; 6]) -> Vec<u8> {
    cat(&[
        &[0x65, 0, 0, 0, 1],
        b"A",
        &[0, 0, 0, 1, day, 0, 0, 0, 1],
        &slot,
    ])
}

#[test]
fn bad_availability_replies_are_refused() {
    assert!(Reply::decode(&one_slot(0, [0, 9, 0, 0, 10, 0])).is_ok());
    // Hour 25, minute 60, day 7 inside a slot.
    assert!(Reply::decode(&one_slot(0, [0, 25, 0, 0, 26, 0])).is_err());
    assert!(Reply::decode(&one_slot(0, [0, 9, 60, 0, 10, 0])).is_err());
    assert!(Reply::decode(&one_slot(0, [7, 9, 0, 7, 10, 0])).is_err());
    // Empty and backwards slots; Mon 24:00 - Tue 00:00 is empty too.
    assert!(Reply::decode(&one_slot(0, [0, 9, 0, 0, 9, 0])).is_err());
    assert!(Reply::decode(&one_slot(0, [0, 10, 0, 0, 9, 0])).is_err());
    assert!(Reply::decode(&one_slot(0, [0, 24, 0, 1, 0, 0])).is_err());
    // A day that is not a day.
    assert!(Reply::decode(&one_slot(7, [0, 9, 0, 0, 10, 0])).is_err());
    // Four billion slots, or days, in a short datagram.
    let mut many_slots = cat(&[&[0x65, 0, 0, 0, 1], b"A", &[0, 0, 0, 1, 0]]);
    many_slots.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 9, 0, 0, 10, 0]);
    assert!(matches!(
        Reply::decode(&many_slots),
        Err(DecodeError::Truncated { .. })
    ));
    let many_days = cat(&[&[0xc8, 0, 0, 0, 1], b"A", &[0xff, 0xff, 0xff, 0xff]]);
    assert!(matches!(
        Reply::decode(&many_days),
        Err(DecodeError::TooLong { .. })
    ));
    // Unknown reply type.
    assert_eq!(
        Reply::decode(&[0x07]),
        Err(DecodeError::UnknownTag {
            what: "booking reply type",
            tag: 7
        })
    );
    assert!(Reply::decode(&[]).is_err());
}

#[test]
fn kind_names_cover_every_type() {
    for (_, request, _) in request_vectors() {
        assert_ne!(kind::name(request.kind()), "UNKNOWN");
    }
    for (reply, _) in reply_vectors() {
        assert_ne!(kind::name(reply.kind()), "UNKNOWN");
    }
    assert_eq!(kind::name(9), "UNKNOWN");
}

// ---- property tests -------------------------------------------------------------------

fn week_time() -> impl Strategy<Value = WeekTime> {
    prop_oneof![
        (0u8..=6, 0u8..=23, 0u8..=59).prop_map(|(d, h, m)| t(d, h, m)),
        (0u8..=6).prop_map(|d| WeekTime::end_of_day(d).unwrap()),
    ]
}

/// Names of up to 40 characters: at most 160 bytes, inside [`MAX_NAME`].
fn name() -> impl Strategy<Value = String> {
    "\\PC{0,40}"
}

/// Messages of up to 200 characters: at most 800 bytes, inside [`MAX_MESSAGE`].
fn message() -> impl Strategy<Value = String> {
    "\\PC{0,200}"
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (name(), proptest::collection::vec(any::<u8>(), 0..=MAX_DAYS))
            .prop_map(|(facility, days)| Request::Query { facility, days }),
        (name(), week_time(), week_time()).prop_map(|(facility, start, end)| Request::Book {
            facility,
            start,
            end
        }),
        (name(), any::<i32>()).prop_map(|(confirmation, offset_minutes)| Request::Change {
            confirmation,
            offset_minutes
        }),
        (name(), any::<u32>())
            .prop_map(|(facility, seconds)| Request::Monitor { facility, seconds }),
        (name(), any::<u32>()).prop_map(|(confirmation, minutes)| Request::Extend {
            confirmation,
            minutes
        }),
        name().prop_map(|confirmation| Request::Cancel { confirmation }),
    ]
}

/// A slot with positive length, start first.
fn slot() -> impl Strategy<Value = (WeekTime, WeekTime)> {
    (week_time(), week_time())
        .prop_filter("a slot needs positive length", |(a, b)| {
            a.minutes() != b.minutes()
        })
        .prop_map(|(a, b)| {
            if a.minutes() < b.minutes() {
                (a, b)
            } else {
                (b, a)
            }
        })
}

fn days() -> impl Strategy<Value = Vec<DayAvailability>> {
    proptest::collection::vec(
        (0u8..=6, proptest::collection::vec(slot(), 0..8))
            .prop_map(|(day, slots)| DayAvailability { day, slots }),
        0..=7,
    )
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        (name(), days()).prop_map(|(facility, days)| Reply::Availability { facility, days }),
        name().prop_map(|confirmation| Reply::Booked { confirmation }),
        Just(Reply::Changed),
        message().prop_map(|message| Reply::Monitoring { message }),
        message().prop_map(|message| Reply::Extended { message }),
        message().prop_map(|message| Reply::Cancelled { message }),
        (name(), days()).prop_map(|(facility, days)| Reply::Update { facility, days }),
        (any::<u8>(), message()).prop_map(|(code, message)| Reply::Error { code, message }),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(request in request(), id: u32) {
        let bytes = request.encode(id);
        prop_assert_eq!(
            decode_request(&bytes),
            Ok((Header { kind: request.kind(), request_id: id }, request))
        );
    }

    #[test]
    fn replies_round_trip(reply in reply()) {
        prop_assert_eq!(Reply::decode(&reply.encode()), Ok(reply));
    }

    #[test]
    fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        match decode_request(&bytes) {
            Ok((header, request)) => {
                prop_assert_eq!(request.encode(header.request_id), bytes.clone());
            }
            Err(e) => {
                // Whatever the error, it can be answered (and the header read alone
                // agrees about whether there is an id to answer under).
                let _ = e.to_reply().encode();
                prop_assert_eq!(e == RequestError::TooShort, header(&bytes).is_none());
            }
        }
        if let Ok(reply) = Reply::decode(&bytes) {
            prop_assert_eq!(Reply::decode(&reply.encode()), Ok(reply));
        }
    }

    /// Random bytes behind a valid type and header, so the parameter decoders, not just
    /// the type check, see the noise.
    #[test]
    fn decoding_random_parameters_never_panics(
        kind in 1u8..=6,
        id: u32,
        params in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let bytes = cat(&[&[kind], &id.to_be_bytes(), &params]);
        if let Ok((header, request)) = decode_request(&bytes) {
            prop_assert_eq!(header.kind, kind);
            prop_assert_eq!(request.encode(id), bytes);
        }
    }

    #[test]
    fn decoding_random_reply_payloads_never_panics(
        kind in prop::sample::select(vec![101u8, 102, 103, 104, 105, 106, 200, 255]),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let bytes = cat(&[&[kind], &payload]);
        if let Ok(reply) = Reply::decode(&bytes) {
            prop_assert_eq!(reply.kind(), kind);
            prop_assert_eq!(Reply::decode(&reply.encode()), Ok(reply));
        }
    }
}
