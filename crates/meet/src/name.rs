//! User names, as EE450 defines them: 1 to 20 lowercase ASCII letters.

/// The most letters a user name may have.
pub const MAX_NAME_LEN: usize = 20;

/// The most names one query may carry.
pub const MAX_NAMES_PER_QUERY: usize = 10;

/// Why a string is not a user name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing at all.
    #[error("a username cannot be empty")]
    Empty,
    /// Over [`MAX_NAME_LEN`] letters.
    #[error("{name:?} is not a valid username: it has {len} letters, at most 20 are allowed")]
    TooLong {
        /// The name (cut to a readable length).
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// Something other than `a`-`z`.
    #[error("{name:?} is not a valid username: use lowercase letters a-z only")]
    NotLowercase {
        /// The name (cut to a readable length).
        name: String,
    },
}

/// Checks one user name.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(NameError::NotLowercase {
            name: shorten(name),
        });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            name: shorten(name),
            len: name.len(),
        });
    }
    Ok(())
}

/// Long or hostile input is echoed back cut short, never whole.
fn shorten(name: &str) -> String {
    name.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ee450_names() {
        assert_eq!(check_name("alice"), Ok(()));
        assert_eq!(check_name(&"z".repeat(20)), Ok(()));
        assert!(matches!(
            check_name(&"z".repeat(21)),
            Err(NameError::TooLong { len: 21, .. })
        ));
        assert!(matches!(
            check_name("Alice"),
            Err(NameError::NotLowercase { .. })
        ));
        assert!(matches!(
            check_name("bob1"),
            Err(NameError::NotLowercase { .. })
        ));
        assert!(matches!(
            check_name("é"),
            Err(NameError::NotLowercase { .. })
        ));
        assert_eq!(check_name(""), Err(NameError::Empty));
    }
}
