//! Identities and room ids: what a valid one looks like, and the reserved MainHalls.
//!
//! The CS4262 spec defines an identity as "an alphanumeric string starting with an
//! upper or lower case character … at least 3 characters and no more than 16
//! characters long", i.e. `^[A-Za-z][A-Za-z0-9]{2,15}$`, and COMP90015-derived servers
//! apply the same check to room ids. Both are ASCII only: `é` is not alphanumeric here.
//!
//! Every server owns one room nobody created, its MainHall, named
//! `"MainHall-" + server id` ([`main_hall`]). It has no owner, cannot be created or
//! deleted, and so a room id a client asks for must not look like one
//! ([`check_room_id`]).
//!
//! These rules are the *server's*: a client that breaks them gets a well-formed
//! refusal (`"approved":"false"`), not a protocol error, which is why
//! [`ClientMessage::parse`](crate::ClientMessage::parse) does not apply them.
//!
//! ```
//! use convene_chat::ids::{IdError, check_identity, check_room_id, main_hall};
//!
//! assert_eq!(check_identity("Adel"), Ok(()));
//! assert!(matches!(check_identity("1ab"), Err(IdError::FirstNotLetter { .. })));
//! assert_eq!(main_hall("s1"), "MainHall-s1");
//! assert!(matches!(check_room_id("MainHall-s1"), Err(IdError::Reserved { .. })));
//! ```

/// The fewest characters an identity or room id may have.
pub const MIN_ID_LEN: usize = 3;

/// The most characters an identity or room id may have.
pub const MAX_ID_LEN: usize = 16;

/// What every MainHall's id starts with; the server id follows.
pub const MAIN_HALL_PREFIX: &str = "MainHall-";

/// Why a string is not a valid identity or room id.
///
/// Each variant carries the offending id cut to 40 characters: it came from the
/// network, and an error message must not echo an arbitrarily long string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Fewer than [`MIN_ID_LEN`] characters.
    #[error("{id:?} is too short: it has {len} characters, at least 3 are needed")]
    TooShort {
        /// The id.
        id: String,
        /// Its length in characters.
        len: usize,
    },
    /// More than [`MAX_ID_LEN`] characters.
    #[error("{id:?} is too long: it has {len} characters, at most 16 are allowed")]
    TooLong {
        /// The id, cut to 40 characters.
        id: String,
        /// Its length in characters.
        len: usize,
    },
    /// The first character is not an ASCII letter.
    #[error("{id:?} must start with a letter A-Z or a-z")]
    FirstNotLetter {
        /// The id.
        id: String,
    },
    /// A character other than `A`-`Z`, `a`-`z`, `0`-`9`.
    #[error("{id:?} may contain only the letters A-Z, a-z and the digits 0-9")]
    NotAlphanumeric {
        /// The id.
        id: String,
    },
    /// A room id of the form `MainHall-…`: those are the servers' own rooms.
    #[error("{id:?} is reserved: rooms named MainHall-<server> belong to the servers")]
    Reserved {
        /// The id.
        id: String,
    },
}

/// Checks that `identity` is a valid client identity (`^[A-Za-z][A-Za-z0-9]{2,15}$`).
///
/// Uniqueness across the system is not a syntax rule and is not checked here.
pub fn check_identity(identity: &str) -> Result<(), IdError> {
    check_syntax(identity)
}

/// Checks that `room` is a valid id for a room a client creates.
///
/// Same syntax as an identity, and not a MainHall. A `MainHall-…` id already
/// breaks the syntax (`-` is not alphanumeric); it is tested first anyway so the
/// refusal says the real reason.
pub fn check_room_id(room: &str) -> Result<(), IdError> {
    if is_main_hall(room) {
        return Err(IdError::Reserved { id: shorten(room) });
    }
    check_syntax(room)
}

/// The id of server `server_id`'s MainHall: `"MainHall-" + server_id`.
pub fn main_hall(server_id: &str) -> String {
    format!("{MAIN_HALL_PREFIX}{server_id}")
}

/// Whether `room` is some server's MainHall (starts with [`MAIN_HALL_PREFIX`]).
pub fn is_main_hall(room: &str) -> bool {
    room.starts_with(MAIN_HALL_PREFIX)
}

/// The shared rule, checked in an order that makes each refusal say one clear thing.
fn check_syntax(id: &str) -> Result<(), IdError> {
    let len = id.chars().count();
    if len < MIN_ID_LEN {
        return Err(IdError::TooShort {
            id: shorten(id),
            len,
        });
    }
    if len > MAX_ID_LEN {
        return Err(IdError::TooLong {
            id: shorten(id),
            len,
        });
    }
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(IdError::FirstNotLetter { id: shorten(id) });
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(IdError::NotAlphanumeric { id: shorten(id) });
    }
    Ok(())
}

/// Long or hostile input is echoed back cut short, never whole.
pub(crate) fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lengths_at_the_boundaries() {
        assert!(matches!(
            check_identity("ab"),
            Err(IdError::TooShort { len: 2, .. })
        ));
        assert_eq!(check_identity("abc"), Ok(()));
        assert_eq!(check_identity("Abcdefghij123456"), Ok(())); // 16
        assert!(matches!(
            check_identity("Abcdefghij1234567"), // 17: Split-Second accepts it, the spec does not
            Err(IdError::TooLong { len: 17, .. })
        ));
        assert!(matches!(
            check_identity(""),
            Err(IdError::TooShort { len: 0, .. })
        ));
        // The same for rooms.
        assert!(check_room_id("ab").is_err());
        assert_eq!(check_room_id("abc"), Ok(()));
        assert_eq!(check_room_id("Abcdefghij123456"), Ok(()));
        assert!(check_room_id("Abcdefghij1234567").is_err());
    }

    #[test]
    fn characters() {
        assert_eq!(check_identity("Adel"), Ok(()));
        assert_eq!(check_identity("maria2"), Ok(()));
        assert_eq!(
            check_identity("1ab"),
            Err(IdError::FirstNotLetter { id: "1ab".into() })
        );
        assert!(matches!(
            check_identity("_ab"),
            Err(IdError::FirstNotLetter { .. })
        ));
        assert!(matches!(
            check_identity("ab c"),
            Err(IdError::NotAlphanumeric { .. })
        ));
        assert!(matches!(
            check_identity("ab-c"),
            Err(IdError::NotAlphanumeric { .. })
        ));
        // Non-ASCII letters and digits are not alphanumeric here, even where Unicode says so.
        assert!(matches!(
            check_identity("Zoë1"),
            Err(IdError::NotAlphanumeric { .. })
        ));
        assert!(matches!(
            check_identity("éabc"),
            Err(IdError::FirstNotLetter { .. })
        ));
        assert!(matches!(
            check_identity("abc٣"), // ARABIC-INDIC DIGIT THREE
            Err(IdError::NotAlphanumeric { .. })
        ));
        // Length counts characters, so three 2-byte letters are not "too long".
        assert!(matches!(
            check_identity("ééé"),
            Err(IdError::FirstNotLetter { .. })
        ));
    }

    #[test]
    fn main_halls_are_reserved() {
        assert_eq!(main_hall("s1"), "MainHall-s1");
        assert!(is_main_hall("MainHall-s1"));
        assert_eq!(
            check_room_id("MainHall-s1"),
            Err(IdError::Reserved {
                id: "MainHall-s1".into()
            })
        );
        assert!(matches!(
            check_room_id("MainHall-"),
            Err(IdError::Reserved { .. })
        ));
        // Only the prefix with its dash is reserved.
        assert_eq!(check_room_id("MainHall"), Ok(()));
        assert_eq!(check_room_id("MainHalls1"), Ok(()));
        // An identity is not a room: the MainHall rule does not apply, the dash does.
        assert!(matches!(
            check_identity("MainHall-s1"),
            Err(IdError::NotAlphanumeric { .. })
        ));
    }

    #[test]
    fn errors_do_not_echo_long_input() {
        let long = "a".repeat(10_000);
        let err = check_identity(&long).unwrap_err();
        assert_eq!(
            err,
            IdError::TooLong {
                id: "a".repeat(40),
                len: 10_000
            }
        );
        assert!(err.to_string().len() < 200);
    }

    proptest! {
        #[test]
        fn matches_the_spec_regex(id in "\\PC{0,20}|[A-Za-z0-9]{0,20}") {
            let bytes = id.as_bytes();
            let expected = (3..=16).contains(&bytes.len())
                && bytes[0].is_ascii_alphabetic()
                && bytes.iter().all(u8::is_ascii_alphanumeric);
            prop_assert_eq!(check_identity(&id).is_ok(), expected);
            prop_assert_eq!(check_room_id(&id).is_ok(), expected);
        }
    }
}
