//! Passwords and user names: the rules, and argon2id hashing off the async
//! threads.
//!
//! Hashes are argon2id with the `argon2` crate's defaults (19 MiB, two
//! passes), stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`), so
//! the parameters travel with each hash and can be raised later without
//! breaking old accounts. One hash takes tens of milliseconds of CPU, which
//! would stall every other request on an async worker thread: hashing runs
//! on tokio's blocking pool, and a semaphore lets only as many run at once
//! as there are cores, so a burst of logins queues instead of taking 19 MiB
//! each and starving the rest of the node.
//!
//! Only register and login hash anything; every other request is
//! authenticated by its session cookie.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::{OnceCell, Semaphore};

/// Longest user name, in characters.
pub const MAX_USERNAME: usize = 64;
/// Shortest password, in characters.
pub const MIN_PASSWORD: usize = 8;
/// Longest password, in characters (hashing time grows with the length).
pub const MAX_PASSWORD: usize = 1024;

/// Why a user name cannot be used, in the words a form shows; `None` if it
/// can. Names are ASCII letters, digits, `.`, `_` and `-`: they appear in
/// participant lists typed by hand, so no spaces, commas or look-alike
/// letters from other scripts.
pub fn username_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("choose a user name".into());
    }
    if name.len() > MAX_USERNAME {
        return Some(format!("a user name has at most {MAX_USERNAME} characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Some("a user name may only hold letters, digits, '.', '_' and '-'".into());
    }
    None
}

/// Why a password cannot be used, or `None`.
pub fn password_problem(password: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD {
        return Some(format!("a password has at least {MIN_PASSWORD} characters"));
    }
    if length > MAX_PASSWORD {
        return Some(format!("a password has at most {MAX_PASSWORD} characters"));
    }
    None
}

/// The node's password hasher: argon2id on the blocking pool, a few at a
/// time.
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A hash of a password nobody knows, verified when the user name is
    /// unknown so that "no such user" takes as long as "wrong password".
    dummy: OnceCell<String>,
}

/// Hashing failed (the blocking pool is gone: the node is stopping).
#[derive(Debug, thiserror::Error)]
#[error("the password could not be hashed")]
pub struct HashError;

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    /// A hasher allowing one hash at a time per core.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Passwords {
            permits: Arc::new(Semaphore::new(cores)),
            dummy: OnceCell::new(),
        }
    }

    /// The PHC string of a new argon2id hash of `password`, with a fresh
    /// random salt.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        // The permit moves into the blocking task: a request dropped while
        // hashing must not free its place while the hash still runs.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashError)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash_now(&password)
        })
        .await
        .map_err(|_| HashError)?
    }

    /// Whether `password` matches `hash` (a PHC string). With no hash (no
    /// such user), a dummy hash is verified anyway and the answer is false,
    /// so timing does not tell which names exist.
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let (hash, real) = match hash {
            Some(hash) => (hash, true),
            None => match self
                .dummy
                .get_or_try_init(|| self.hash(random_text()))
                .await
            {
                Ok(dummy) => (dummy.clone(), false),
                Err(_) => return false,
            },
        };
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return false;
        };
        let matched = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify_now(&password, &hash)
        })
        .await
        .unwrap_or(false);
        matched && real
    }
}

fn hash_now(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| HashError)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| HashError)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| HashError)
}

fn verify_now(password: &str, hash: &str) -> bool {
    // A stored hash that does not parse matches nothing.
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

fn random_text() -> String {
    convene_events::ids::new_token()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_rules() {
        for good in ["alice", "Bob.Smith", "x", "a_b-c.9", &"a".repeat(64)] {
            assert_eq!(username_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "al ice",
            "a,b",
            "é",
            "<script>",
            &"a".repeat(65),
            "ali\nce",
        ] {
            assert!(username_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_follow_the_rules() {
        assert!(password_problem("1234567").is_some());
        assert_eq!(password_problem("12345678"), None);
        assert_eq!(password_problem("ééééééééé"), None, "counted in characters");
        assert_eq!(password_problem(&"p".repeat(1024)), None);
        assert!(password_problem(&"p".repeat(1025)).is_some());
    }

    #[tokio::test]
    async fn a_hash_abandoned_by_its_request_keeps_its_place_until_done() {
        let passwords = Passwords::new();
        let all = passwords.permits.available_permits();
        // An argon2id hash takes far longer than a millisecond.
        let abandoned = tokio::time::timeout(
            std::time::Duration::from_millis(1),
            passwords.hash("x".into()),
        )
        .await;
        assert!(abandoned.is_err());
        assert_eq!(passwords.permits.available_permits(), all - 1);
        while passwords.permits.available_permits() < all {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let passwords = Passwords::new();
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_ne!(
            hash,
            passwords.hash("correct horse".into()).await.unwrap(),
            "salted"
        );
        assert!(
            passwords
                .verify("correct horse".into(), Some(hash.clone()))
                .await
        );
        assert!(!passwords.verify("wrong horse".into(), Some(hash)).await);
        assert!(!passwords.verify("correct horse".into(), None).await);
        assert!(
            !passwords
                .verify("x".into(), Some("not a hash".into()))
                .await
        );
    }
}
