//! How often one stranger may try to log in or register: the web app's
//! rate limits, per client address and per account name.
//!
//! | What | Counted by | Default (`[limits]`) |
//! |---|---|---|
//! | logins (page and API) | client address | 30 a minute (`logins_per_minute_per_ip`) |
//! | logins (page and API) | account name tried | 10 a minute (`logins_per_minute_per_account`) |
//! | registrations (page and API) | client address | 20 an hour (`registrations_per_hour_per_ip`) |
//!
//! Beyond a limit the answer is 429 with `Retry-After`, before any
//! password is hashed. Every attempt counts, failed or successful, and a
//! limited attempt is refused even with the right password: otherwise the
//! limit would still tell a guesser when it had guessed right.
//!
//! **The address** is the TCP peer's ([`ClientAddress`]); an IPv6 client
//! counts by its /64 network, as in the connection limits. A
//! `X-Forwarded-For` header is not believed, since anyone can send one,
//! unless the peer is a reverse proxy named in `limits.trusted_proxies`:
//! then the client is the nearest address in that header that is not a
//! trusted proxy ([`client_address`]). Behind a proxy left unnamed, every
//! client would share the proxy's allowance.
//!
//! **The account** limit stops a guesser who spreads over many addresses.
//! Every well-formed name has a bucket, existing or not, so a 429 tells
//! nothing about which names exist. A successful login does not refill
//! the account's bucket: the bucket refills within a minute anyway, and a
//! refill on success would give a guesser ten fresh tries every time the
//! real owner (or their script) logs in.
//!
//! The price is that a stranger who keeps sending wrong passwords for an
//! account keeps its owner from logging in for as long as they keep it up
//! (sessions already open carry on, for a week). That trade is the usual
//! one: the alternative is letting them guess.
//!
//! **Per node**: each node counts on its own (no shared state, no round
//! trip on a login), so a cluster of N web fronts lets one client make N
//! times the rate if it spreads its attempts over all of them. At the
//! defaults that is still 10·N guesses a minute per account, which keeps
//! online guessing of any password worth having hopeless; a shared count
//! (in the database, or by hashing each account to one node) would make
//! it exact, at the cost of a write per attempt.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::header::HeaderName;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use convene_cluster::admission::AddressKey;
use convene_cluster::config::Limits;

use crate::error::{ApiError, PageError};
use crate::password::username_problem;
use crate::rate::{Limited, RateLimiter};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Most keys each limiter remembers. At about 100 bytes a key (an account
/// name of up to 64 bytes, an instant, the map's own cost) that is a few
/// MiB at worst; see [`crate::rate`] for what happens beyond.
pub const MAX_KEYS: usize = 1 << 16;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// Why an attempt was refused, and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooMany {
    /// What the person reads.
    pub message: String,
    /// Seconds to wait, for `Retry-After`.
    pub retry_after: u64,
}

/// The web app's rate limits on one node. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Throttle {
    logins_by_address: Mutex<RateLimiter<AddressKey>>,
    logins_by_account: Mutex<RateLimiter<String>>,
    registrations_by_address: Mutex<RateLimiter<AddressKey>>,
    trusted_proxies: Vec<IpAddr>,
}

impl Throttle {
    /// The limits of `[limits]`.
    pub fn new(limits: &Limits) -> Self {
        Throttle {
            logins_by_address: Mutex::new(RateLimiter::new(
                limits.logins_per_minute_per_ip,
                MINUTE,
                MAX_KEYS,
            )),
            logins_by_account: Mutex::new(RateLimiter::new(
                limits.logins_per_minute_per_account,
                MINUTE,
                MAX_KEYS,
            )),
            registrations_by_address: Mutex::new(RateLimiter::new(
                limits.registrations_per_hour_per_ip,
                HOUR,
                MAX_KEYS,
            )),
            trusted_proxies: limits.trusted_proxies.clone(),
        }
    }

    /// Counts a login attempt from `address` for `account` at `now`, or
    /// refuses it. The address is counted first: an attempt its address
    /// may not make does not use up the account's allowance.
    pub fn login(&self, address: IpAddr, account: &str, now: Instant) -> Result<(), TooMany> {
        lock(&self.logins_by_address)
            .check(AddressKey::of(address), now)
            .map_err(|limited| too_many("too many login attempts from your address", limited))?;
        // A name that breaks the rules cannot exist, and could be a
        // megabyte long: it gets no bucket of its own (its address's
        // still counts it).
        if username_problem(account).is_none() {
            lock(&self.logins_by_account)
                .check(account.to_string(), now)
                .map_err(|limited| too_many("too many login attempts for this account", limited))?;
        }
        Ok(())
    }

    /// Counts a registration attempt from `address` at `now`, or refuses it.
    pub fn register(&self, address: IpAddr, now: Instant) -> Result<(), TooMany> {
        lock(&self.registrations_by_address)
            .check(AddressKey::of(address), now)
            .map_err(|limited| too_many("too many accounts registered from your address", limited))
    }
}

fn too_many(what: &str, limited: Limited) -> TooMany {
    let retry_after = limited.seconds();
    TooMany {
        message: format!("{what}; try again in {}", wait_text(retry_after)),
        retry_after,
    }
}

/// `45 seconds`, `3 minutes`: a wait as a person reads it (rounded up).
pub fn wait_text(seconds: u64) -> String {
    match seconds {
        1 => "a second".into(),
        0..60 => format!("{seconds} seconds"),
        60 => "a minute".into(),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The limiters hold no invariant a panic could break halfway.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The client's address: `peer`, the TCP peer's, unless it is one of the
/// `trusted` proxies; then the nearest address in the `X-Forwarded-For`
/// lines (`forwarded`, in the order received) that is not a trusted proxy.
///
/// The header is read from the right: each proxy appends the address it
/// got the request from, so the entries to the left of the last one a
/// trusted proxy wrote are whatever the client chose to send. An entry
/// that is not an address ends the walk at the last good one.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| {
        trusted
            .iter()
            .any(|t| t.to_canonical() == ip.to_canonical())
    };
    let mut client = peer;
    if !is_trusted(client) {
        return client;
    }
    let entries = forwarded.rev().flat_map(|line| line.rsplit(','));
    for entry in entries {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// The address of the client on the other end of the TCP connection, as
/// the server loop records it (axum's [`ConnectInfo`]), or, from a trusted
/// proxy, as it says ([`client_address`]). Any state that gives the
/// [`Throttle`] (as [`App`](crate::state::App) does) can extract it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl<S> FromRequestParts<S> for ClientAddress
where
    S: Send + Sync,
    Arc<Throttle>: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => {
                let forwarded = parts
                    .headers
                    .get_all(X_FORWARDED_FOR)
                    .iter()
                    .filter_map(|value| value.to_str().ok());
                let throttle = Arc::<Throttle>::from_ref(state);
                let trusted = &throttle.trusted_proxies;
                Ok(ClientAddress(client_address(peer.ip(), forwarded, trusted)))
            }
            None => {
                // A server loop that does not record peers: refuse rather
                // than run without limits.
                tracing::error!("the web server did not record the client's address");
                let status = StatusCode::INTERNAL_SERVER_ERROR;
                let message = "the server cannot tell where this request comes from";
                Err(if parts.uri.path().starts_with("/api/") {
                    ApiError::new(status, message).into_response()
                } else {
                    PageError::new(status, crate::error::capitalized(message)).into_response()
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_ip: u32, per_account: u32, registrations: u32) -> Limits {
        Limits {
            logins_per_minute_per_ip: per_ip,
            logins_per_minute_per_account: per_account,
            registrations_per_hour_per_ip: registrations,
            ..Limits::default()
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_account_from_many_addresses_is_limited_per_account() {
        let throttle = Throttle::new(&limits(100, 3, 1));
        let now = Instant::now();
        for i in 1..=3 {
            let from = ip(&format!("192.0.2.{i}"));
            assert_eq!(throttle.login(from, "alice", now), Ok(()));
        }
        let refused = throttle.login(ip("192.0.2.4"), "alice", now).unwrap_err();
        assert_eq!(refused.retry_after, 20);
        assert_eq!(
            refused.message,
            "too many login attempts for this account; try again in 20 seconds"
        );
        // Other accounts, from those same addresses, are not limited.
        assert_eq!(throttle.login(ip("192.0.2.4"), "bob", now), Ok(()));
        // Names that do not exist are limited alike: a 429 says nothing
        // about which names are taken.
        for _ in 0..3 {
            throttle.login(ip("192.0.2.5"), "nobody", now).unwrap();
        }
        assert!(throttle.login(ip("192.0.2.6"), "nobody", now).is_err());
    }

    #[test]
    fn one_address_is_limited_whatever_the_accounts() {
        let throttle = Throttle::new(&limits(5, 100, 1));
        let now = Instant::now();
        for i in 0..5 {
            throttle
                .login(ip("198.51.100.7"), &format!("user{i}"), now)
                .unwrap();
        }
        let refused = throttle
            .login(ip("198.51.100.7"), "user9", now)
            .unwrap_err();
        assert_eq!(
            refused.message,
            "too many login attempts from your address; try again in 12 seconds"
        );
        // The refused attempt did not use up user9's allowance.
        assert_eq!(throttle.login(ip("198.51.100.8"), "user9", now), Ok(()));
        // One IPv6 host's /64 is one address.
        for i in 0..5 {
            let from = ip(&format!("2001:db8::{i}"));
            throttle.login(from, "x", now).unwrap();
        }
        assert!(throttle.login(ip("2001:db8::ffff:1"), "y", now).is_err());
        assert!(throttle.login(ip("2001:db8:0:1::1"), "y", now).is_ok());
    }

    #[test]
    fn registrations_are_counted_per_address_per_hour() {
        let throttle = Throttle::new(&limits(1, 1, 2));
        let now = Instant::now();
        throttle.register(ip("203.0.113.1"), now).unwrap();
        throttle.register(ip("203.0.113.1"), now).unwrap();
        let refused = throttle.register(ip("203.0.113.1"), now).unwrap_err();
        assert_eq!(refused.retry_after, 1800);
        assert_eq!(
            refused.message,
            "too many accounts registered from your address; try again in 30 minutes"
        );
        assert!(throttle.register(ip("203.0.113.2"), now).is_ok());
    }

    #[test]
    fn names_that_cannot_exist_get_no_bucket() {
        let throttle = Throttle::new(&limits(1000, 1, 1));
        let now = Instant::now();
        let long = "x".repeat(100_000);
        for _ in 0..10 {
            throttle.login(ip("192.0.2.1"), &long, now).unwrap();
        }
        assert_eq!(lock(&throttle.logins_by_account).len(), 0);
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxy = ip("10.0.0.5");
        let trusted = [proxy, ip("10.0.0.6")];
        let at =
            |peer: &str, lines: &[&str]| client_address(ip(peer), lines.iter().copied(), &trusted);
        // From anyone else, the header is ignored.
        assert_eq!(at("198.51.100.9", &["203.0.113.1"]), ip("198.51.100.9"));
        assert_eq!(at("198.51.100.9", &[]), ip("198.51.100.9"));
        // From the proxy: the address it appended.
        assert_eq!(at("10.0.0.5", &["203.0.113.1"]), ip("203.0.113.1"));
        // What the client put to the left is not believed.
        assert_eq!(at("10.0.0.5", &["1.2.3.4, 203.0.113.1"]), ip("203.0.113.1"));
        assert_eq!(
            at("10.0.0.5", &["1.2.3.4", "203.0.113.1"]),
            ip("203.0.113.1")
        );
        // Through two trusted proxies.
        assert_eq!(
            at("10.0.0.5", &["1.2.3.4, 203.0.113.1, 10.0.0.6"]),
            ip("203.0.113.1")
        );
        // Junk stops the walk at the last address that was good.
        assert_eq!(
            at("10.0.0.5", &["203.0.113.1, junk, 10.0.0.6"]),
            ip("10.0.0.6")
        );
        assert_eq!(at("10.0.0.5", &["junk"]), proxy);
        // No header from the proxy: the proxy.
        assert_eq!(at("10.0.0.5", &[]), proxy);
        // An IPv4-mapped peer is its IPv4 address.
        assert_eq!(at("::ffff:10.0.0.5", &["203.0.113.1"]), ip("203.0.113.1"));
    }

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(wait_text(1), "a second");
        assert_eq!(wait_text(45), "45 seconds");
        assert_eq!(wait_text(60), "a minute");
        assert_eq!(wait_text(61), "2 minutes");
        assert_eq!(wait_text(1800), "30 minutes");
    }
}
