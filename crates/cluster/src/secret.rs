//! The cluster secret: 32 random bytes that every node of a cluster shares.
//!
//! The secret is what makes a node a member. The peer transport keys the MAC
//! on every datagram with a key derived from it, so a process that does not
//! hold it cannot speak for a node, however it got the node's address. The
//! operator who holds it may also use it to prove themselves to a node's HTTP
//! API (see [`ClusterSecret::derive`]).
//!
//! On disk it is 64 hex digits in a file of its own (whitespace ignored),
//! named by `secret_file` in the cluster file, readable by its owner only.
//! `convene secret` prints a new one.
//!
//! Each use takes its own key, derived with BLAKE3's key derivation mode and
//! a context string naming the use, so the key that authenticates datagrams
//! is never the one that authenticates an operator, and neither is the
//! secret itself.

use std::fmt;
use std::path::Path;

/// Length of the secret in bytes.
pub const SECRET_LEN: usize = 32;

/// The context of the key that authenticates peer datagrams.
pub const PEER_MAC_CONTEXT: &str = "convene 2026-12-06 peer datagram MAC v1";

/// The cluster secret. Its `Debug` output never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret([u8; SECRET_LEN]);

/// Why a secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text is not 64 hex digits.
    #[error(
        "expected 64 hex digits (32 random bytes), found {found}: make one with `convene secret`"
    )]
    Format {
        /// What was found instead, in words.
        found: String,
    },
    /// The operating system's random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

impl ClusterSecret {
    /// A new secret from the operating system's random source.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = [0u8; SECRET_LEN];
        getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(ClusterSecret(bytes))
    }

    /// Reads 64 hex digits, ignoring whitespace anywhere (so a secret may be
    /// wrapped or end with a newline).
    ///
    /// ```
    /// use convene_cluster::secret::ClusterSecret;
    ///
    /// let hex = "00112233445566778899aabbccddeeff 00112233445566778899AABBCCDDEEFF\n";
    /// let secret = ClusterSecret::from_hex(hex).unwrap();
    /// assert_eq!(secret.to_hex(), hex.split_whitespace().collect::<String>().to_lowercase());
    /// assert!(ClusterSecret::from_hex("abc").is_err());
    /// ```
    pub fn from_hex(text: &str) -> Result<Self, SecretError> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if let Some(bad) = digits.iter().find(|b| !b.is_ascii_hexdigit()) {
            return Err(SecretError::Format {
                found: if bad.is_ascii_graphic() {
                    format!("the character {:?}", *bad as char)
                } else {
                    format!("the byte 0x{bad:02x}")
                },
            });
        }
        if digits.len() != 2 * SECRET_LEN {
            return Err(SecretError::Format {
                found: format!("{} digits", digits.len()),
            });
        }
        let mut bytes = [0u8; SECRET_LEN];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
        }
        Ok(ClusterSecret(bytes))
    }

    /// The secret as 64 lowercase hex digits, as `convene secret` prints it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A 32-byte key for one use, named by `context` (a string fixed in the
    /// code, such as `"convene 2026 peer datagram MAC"`). Different contexts
    /// give unrelated keys; nothing learnt from one key reveals another or
    /// the secret.
    pub fn derive(&self, context: &str) -> [u8; 32] {
        blake3::derive_key(context, &self.0)
    }

    /// The secret of a cluster that has none: all zeros, known to everyone.
    /// A loopback-only cluster without `secret_file` still seals its
    /// datagrams with it, so the same code runs with and without a secret
    /// (and replays are still refused), but it proves nothing: any process
    /// on the machine can use it.
    pub fn public() -> Self {
        ClusterSecret([0; SECRET_LEN])
    }

    /// Whether the file at `path` can be read by accounts other than its
    /// owner (its group or everyone): a secret should not be.
    pub fn readable_by_others(path: &Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            false
        }
    }

    /// Writes a new secret to `path`, readable and writable by its owner
    /// only, unless the file exists (then it is left alone and `false` is
    /// returned).
    pub fn create_file(path: &Path) -> std::io::Result<bool> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = match options.open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e),
        };
        let secret = Self::generate().map_err(std::io::Error::other)?;
        writeln!(file, "{}", secret.to_hex())?;
        file.sync_all()?;
        Ok(true)
    }
}

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_differ_and_read_back() {
        let a = ClusterSecret::generate().unwrap();
        let b = ClusterSecret::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(ClusterSecret::from_hex(&a.to_hex()).unwrap(), a);
        assert_eq!(format!("{a:?}"), "ClusterSecret(..)");
    }

    #[test]
    fn bad_text_says_what_is_wrong() {
        let short = ClusterSecret::from_hex("00ff").unwrap_err().to_string();
        assert!(short.contains("found 4 digits"), "{short}");
        assert!(short.contains("convene secret"), "{short}");
        let odd = "g".repeat(64);
        let odd = ClusterSecret::from_hex(&odd).unwrap_err().to_string();
        assert!(odd.contains("the character 'g'"), "{odd}");
    }

    #[test]
    fn contexts_give_different_keys() {
        let s = ClusterSecret::from_hex(&"ab".repeat(32)).unwrap();
        assert_ne!(s.derive("one"), s.derive("two"));
        assert_eq!(s.derive("one"), s.derive("one"));
    }

    #[test]
    fn a_new_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.secret");
        assert!(ClusterSecret::create_file(&path).unwrap());
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(ClusterSecret::from_hex(&first).is_ok());
        assert!(!ClusterSecret::readable_by_others(&path));
        assert!(!ClusterSecret::create_file(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    }
}
