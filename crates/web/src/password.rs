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
//! each and starving the rest of the node. The queue is bounded
//! (`limits.password_hash_queue`, 64 by default): a request that finds it
//! full is refused at once ([`HashError::Busy`], a 503 with `Retry-After`)
//! rather than wait behind work it would only add to.
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
/// time, with a bounded queue.
pub struct Passwords {
    /// One per core: the hashes that may run at once.
    cores: Arc<Semaphore>,
    /// The hashes running or waiting for a core: cores plus the queue's
    /// length. A request that finds none left is refused at once.
    places: Arc<Semaphore>,
    /// A hash of a password nobody knows, verified when the user name is
    /// unknown so that "no such user" takes as long as "wrong password".
    dummy: OnceCell<String>,
}

/// Why a password was not hashed or checked.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// Every core is hashing and the queue is full: try again shortly.
    #[error("the server is busy checking other passwords; try again in a moment")]
    Busy,
    /// The blocking pool is gone (the node is stopping).
    #[error("the password could not be hashed")]
    Failed,
}

/// Seconds a request refused with [`HashError::Busy`] is told to wait:
/// a full queue of 64 drains in about a second on two cores.
pub const BUSY_RETRY_AFTER: u64 = 1;

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    /// A hasher allowing one hash at a time per core and the default queue
    /// (`limits.password_hash_queue`).
    pub fn new() -> Self {
        Self::with_queue(convene_cluster::config::Limits::default().password_hash_queue)
    }

    /// A hasher allowing one hash at a time per core, and `queue` more
    /// waiting for one.
    pub fn with_queue(queue: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::with_cores(cores, queue)
    }

    /// `cores` hashes at a time and `queue` waiting (tests pick both).
    pub fn with_cores(cores: usize, queue: usize) -> Self {
        let cores = cores.max(1);
        Passwords {
            cores: Arc::new(Semaphore::new(cores)),
            places: Arc::new(Semaphore::new(cores + queue)),
            dummy: OnceCell::new(),
        }
    }

    /// Runs `job` on the blocking pool once a core is free; refused at
    /// once if the queue is full.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let place = self
            .places
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        let core = self
            .cores
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashError::Failed)?;
        // The permits move into the blocking task: a request dropped while
        // hashing must not free its place while the hash still runs.
        tokio::task::spawn_blocking(move || {
            let _held = (place, core);
            job()
        })
        .await
        .map_err(|_| HashError::Failed)
    }

    /// The PHC string of a new argon2id hash of `password`, with a fresh
    /// random salt.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `hash` (a PHC string). With no hash (no
    /// such user), a dummy hash is verified anyway and the answer is false,
    /// so timing does not tell which names exist.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let (hash, real) = match hash {
            Some(hash) => (hash, true),
            None => {
                let dummy = self
                    .dummy
                    .get_or_try_init(|| self.hash(random_text()))
                    .await?;
                (dummy.clone(), false)
            }
        };
        let matched = self.run(move || verify_now(&password, &hash)).await?;
        Ok(matched && real)
    }
}

fn hash_now(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| HashError::Failed)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| HashError::Failed)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| HashError::Failed)
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
        let all = passwords.cores.available_permits();
        let places = passwords.places.available_permits();
        // An argon2id hash takes far longer than a millisecond.
        let abandoned = tokio::time::timeout(
            std::time::Duration::from_millis(1),
            passwords.hash("x".into()),
        )
        .await;
        assert!(abandoned.is_err());
        assert_eq!(passwords.cores.available_permits(), all - 1);
        assert_eq!(passwords.places.available_permits(), places - 1);
        while passwords.cores.available_permits() < all {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(passwords.places.available_permits(), places);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_without_hashing() {
        let passwords = Arc::new(Passwords::with_cores(1, 2));
        // One hashing and two waiting fill it.
        let mut busy = Vec::new();
        for _ in 0..3 {
            let passwords = passwords.clone();
            busy.push(tokio::spawn(async move {
                passwords.hash("correct horse".into()).await
            }));
        }
        while passwords.places.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            passwords.hash("one too many".into()).await,
            Err(HashError::Busy)
        );
        assert_eq!(
            passwords
                .verify("x".into(), Some("$argon2id$...".into()))
                .await,
            Err(HashError::Busy)
        );
        for task in busy {
            assert!(task.await.unwrap().is_ok(), "those admitted all finish");
        }
        assert!(passwords.hash("room again".into()).await.is_ok());
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
        let verify = |password: &str, hash: Option<&str>| {
            passwords.verify(password.into(), hash.map(str::to_string))
        };
        assert_eq!(verify("correct horse", Some(&hash)).await, Ok(true));
        assert_eq!(verify("wrong horse", Some(&hash)).await, Ok(false));
        assert_eq!(verify("correct horse", None).await, Ok(false));
        assert_eq!(verify("x", Some("not a hash")).await, Ok(false));
    }
}
