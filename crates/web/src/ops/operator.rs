//! The operator's credential: proof of holding the cluster secret, without
//! ever sending it.
//!
//! Whoever holds the cluster file's `secret_file` runs the cluster, so
//! `convene status --config cluster.toml` works without an account. Each
//! request carries
//!
//! ```text
//! Authorization: Convene-Operator <unix-ms>.<64 hex digits>
//! ```
//!
//! where the hex digits are keyed BLAKE3 over the method, the path (with
//! its query), the timestamp and the BLAKE3 hash of the body, keyed with
//! `secret.derive("convene operator HTTP v1")`. The key is derived, so it
//! is never the secret itself nor the key of the peer transport's MAC; the
//! body is covered, so a captured lock request cannot be turned into one
//! for another file.
//!
//! **Replay.** A credential is accepted within ±60 s of the node's clock
//! (both machines' clocks must agree that well), and once: each node
//! remembers the credentials it accepted until they are too old to be
//! accepted anyway. What is left is a captured request sent to *another*
//! web node within those 60 s, where it would do again what it did (show
//! the status or the files, or lock or unlock the same file for the
//! operator). Over plain HTTP anyone who can capture a request can read
//! its answer anyway, so beyond loopback serve the web front over TLS.
//!
//! Keyed BLAKE3 rather than HMAC-SHA-256: the secret's keys are BLAKE3
//! derivations already (`ClusterSecret::derive`), BLAKE3 is a keyed MAC by
//! design, and its [`blake3::Hash`] compares in constant time.
//!
//! Everything here takes `now` in Unix milliseconds and does no I/O.

use std::collections::BTreeSet;
use std::sync::Mutex;

use convene_cluster::ClusterSecret;

/// The `Authorization` scheme.
pub const SCHEME: &str = "Convene-Operator";

/// The context string the key is derived with.
const CONTEXT: &str = "convene operator HTTP v1";

/// How far a credential's time may be from the node's clock.
pub const WINDOW_MS: i64 = 60_000;

/// The most credentials a node remembers (those of the last two minutes):
/// far above what one operator sends, and a bound on memory.
const REMEMBERED: usize = 10_000;

/// The operator's key, derived from the cluster secret.
#[derive(Clone)]
pub struct OperatorKey([u8; 32]);

impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorKey(..)")
    }
}

impl OperatorKey {
    /// The key for `secret`.
    pub fn new(secret: &ClusterSecret) -> OperatorKey {
        OperatorKey(secret.derive(CONTEXT))
    }

    /// The `Authorization` header value for a request made at `now_ms`.
    ///
    /// ```
    /// use convene_cluster::ClusterSecret;
    /// use convene_web::ops::operator::{OperatorGate, OperatorKey};
    ///
    /// let secret = ClusterSecret::from_hex(&"ab".repeat(32)).unwrap();
    /// let key = OperatorKey::new(&secret);
    /// let header = key.authorization("GET", "/api/status", b"", 1_000_000);
    /// assert!(header.starts_with("Convene-Operator 1000000."));
    /// let gate = OperatorGate::new(key);
    /// assert!(gate.verify(&header, "GET", "/api/status", b"", 1_000_500).is_ok());
    /// assert!(gate.verify(&header, "GET", "/api/status", b"", 1_000_500).is_err()); // once
    /// ```
    pub fn authorization(&self, method: &str, path: &str, body: &[u8], now_ms: i64) -> String {
        let tag = self.tag(method, path, body, now_ms);
        format!("{SCHEME} {now_ms}.{}", tag.to_hex())
    }

    fn tag(&self, method: &str, path: &str, body: &[u8], at_ms: i64) -> blake3::Hash {
        let message = format!(
            "{CONTEXT}\n{method}\n{path}\n{at_ms}\n{}",
            blake3::hash(body).to_hex()
        );
        blake3::keyed_hash(&self.0, message.as_bytes())
    }
}

/// Why an operator credential was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OperatorRefusal {
    /// Not `Convene-Operator <ms>.<64 hex>`.
    #[error("the operator credential is malformed")]
    Malformed,
    /// Outside the window around the node's clock.
    #[error(
        "the operator credential is {off_s} s away from this node's clock (at most 60 s is accepted): check the clocks"
    )]
    Stale {
        /// How far off, in whole seconds.
        off_s: i64,
    },
    /// The MAC does not match: another secret, or a changed request.
    #[error("the operator credential does not match: is it this cluster's secret_file?")]
    Mismatch,
    /// Seen before.
    #[error("the operator credential was used before")]
    Replayed,
    /// Too many credentials to remember right now.
    #[error("too many operator requests at once; try again in a minute")]
    Overloaded,
}

/// A web node's check of operator credentials, remembering those it
/// accepted.
pub struct OperatorGate {
    key: OperatorKey,
    /// `(time, tag)` of each accepted credential still inside the window.
    seen: Mutex<BTreeSet<(i64, [u8; 32])>>,
}

impl OperatorGate {
    /// A gate for `key`.
    pub fn new(key: OperatorKey) -> OperatorGate {
        OperatorGate {
            key,
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// Checks an `Authorization` header value (scheme included) for a
    /// request with `method`, `path` and `body`, at `now_ms`.
    pub fn verify(
        &self,
        header: &str,
        method: &str,
        path: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<(), OperatorRefusal> {
        let (at_ms, given) = parse(header).ok_or(OperatorRefusal::Malformed)?;
        let off = now_ms.saturating_sub(at_ms);
        if off.abs() > WINDOW_MS {
            return Err(OperatorRefusal::Stale { off_s: off / 1000 });
        }
        let expected = self.key.tag(method, path, body, at_ms);
        // blake3::Hash's equality takes the same time wherever they differ.
        if expected != blake3::Hash::from_bytes(given) {
            return Err(OperatorRefusal::Mismatch);
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Forget what is too old to be accepted again anyway.
        let oldest = now_ms.saturating_sub(WINDOW_MS);
        while seen.first().is_some_and(|(at, _)| *at < oldest) {
            seen.pop_first();
        }
        if seen.contains(&(at_ms, given)) {
            return Err(OperatorRefusal::Replayed);
        }
        if seen.len() >= REMEMBERED {
            return Err(OperatorRefusal::Overloaded);
        }
        seen.insert((at_ms, given));
        Ok(())
    }
}

/// `Convene-Operator <ms>.<64 hex>` as its parts.
fn parse(header: &str) -> Option<(i64, [u8; 32])> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let (at, hex) = rest.trim().split_once('.')?;
    if at.is_empty() || at.len() > 18 || !at.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let at: i64 = at.parse().ok()?;
    if hex.len() != 64 {
        return None;
    }
    let mut tag = [0u8; 32];
    for (byte, pair) in tag.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let digits = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(digits, 16).ok()?;
    }
    Some((at, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: &str) -> OperatorKey {
        OperatorKey::new(&ClusterSecret::from_hex(&byte.repeat(32)).unwrap())
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_fresh_credential_is_accepted_once() {
        let gate = OperatorGate::new(key("11"));
        let body = br#"{"path":"a.txt"}"#;
        let header = key("11").authorization("POST", "/api/files/lock", body, NOW);
        assert_eq!(
            gate.verify(&header, "POST", "/api/files/lock", body, NOW + 59_000),
            Ok(())
        );
        assert_eq!(
            gate.verify(&header, "POST", "/api/files/lock", body, NOW + 59_000),
            Err(OperatorRefusal::Replayed)
        );
    }

    #[test]
    fn another_secret_or_a_changed_request_does_not_match() {
        let gate = OperatorGate::new(key("11"));
        let other = key("22").authorization("GET", "/api/status", b"", NOW);
        assert_eq!(
            gate.verify(&other, "GET", "/api/status", b"", NOW),
            Err(OperatorRefusal::Mismatch)
        );
        let mine = key("11").authorization("POST", "/api/files/lock", b"{\"path\":\"a\"}", NOW);
        for (method, path, body) in [
            ("POST", "/api/files/unlock", &b"{\"path\":\"a\"}"[..]),
            ("POST", "/api/files/lock", b"{\"path\":\"b\"}"),
            ("GET", "/api/files/lock", b"{\"path\":\"a\"}"),
        ] {
            assert_eq!(
                gate.verify(&mine, method, path, body, NOW),
                Err(OperatorRefusal::Mismatch),
                "{method} {path}"
            );
        }
        // Another time with the same tag is another message.
        let (_, hex) = mine.rsplit_once('.').unwrap();
        let moved = format!("{SCHEME} {}.{hex}", NOW + 1);
        assert_eq!(
            gate.verify(&moved, "POST", "/api/files/lock", b"{\"path\":\"a\"}", NOW),
            Err(OperatorRefusal::Mismatch)
        );
    }

    #[test]
    fn old_or_future_credentials_are_refused() {
        let gate = OperatorGate::new(key("11"));
        let header = key("11").authorization("GET", "/api/status", b"", NOW);
        assert_eq!(
            gate.verify(&header, "GET", "/api/status", b"", NOW + 61_000),
            Err(OperatorRefusal::Stale { off_s: 61 })
        );
        assert_eq!(
            gate.verify(&header, "GET", "/api/status", b"", NOW - 61_000),
            Err(OperatorRefusal::Stale { off_s: -61 })
        );
        assert!(
            OperatorRefusal::Stale { off_s: 61 }
                .to_string()
                .contains("check the clocks")
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let gate = OperatorGate::new(key("11"));
        let good = key("11").authorization("GET", "/", b"", NOW);
        let (_, hex) = good.rsplit_once('.').unwrap();
        for bad in [
            String::new(),
            "Bearer abc".into(),
            format!("{SCHEME} {NOW}"),
            format!("{SCHEME} -5.{hex}"),
            format!("{SCHEME} {NOW}.{}", &hex[1..]),
            format!("{SCHEME} {NOW}.{}g", &hex[1..]),
            format!("{SCHEME} 99999999999999999999.{hex}"),
        ] {
            assert_eq!(
                gate.verify(&bad, "GET", "/", b"", NOW),
                Err(OperatorRefusal::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn remembered_credentials_are_forgotten_once_too_old_to_matter() {
        let gate = OperatorGate::new(key("11"));
        let k = key("11");
        for i in 0..5 {
            let header = k.authorization("GET", "/api/status", b"", NOW + i);
            gate.verify(&header, "GET", "/api/status", b"", NOW + i)
                .unwrap();
        }
        assert_eq!(gate.seen.lock().unwrap().len(), 5);
        let later = NOW + WINDOW_MS + 10;
        let header = k.authorization("GET", "/api/status", b"", later);
        gate.verify(&header, "GET", "/api/status", b"", later)
            .unwrap();
        assert_eq!(gate.seen.lock().unwrap().len(), 1);
    }
}
