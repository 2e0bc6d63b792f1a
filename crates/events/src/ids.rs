//! Random identifiers: event codes people share, and secret tokens.

/// Letters for event codes: no 0/O or 1/l/I to misread when a code is read
/// aloud or copied by hand.
const CODE_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Length of an event code: 31^10 ≈ 8·10^14 codes, so guessing one is
/// hopeless and two never collide in practice (the database refuses a
/// repeat anyway).
pub const EVENT_ID_LEN: usize = 10;

/// A fresh event code such as `k7mq2xwt9a`.
pub fn new_event_id() -> String {
    let mut bytes = [0u8; EVENT_ID_LEN];
    fill_random(&mut bytes);
    bytes
        .iter()
        .map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char)
        .collect()
}

/// Whether `text` could be an event code (checked before any lookup, so a
/// path like `/api/events/../x` never reaches the database).
pub fn is_event_id(text: &str) -> bool {
    text.len() == EVENT_ID_LEN && text.bytes().all(|b| CODE_ALPHABET.contains(&b))
}

/// A fresh secret: 32 random bytes as 64 hex digits.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fill_random(bytes: &mut [u8]) {
    // The OS generator failing is not something a server can work around.
    getrandom::fill(bytes).expect("the operating system's random generator failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_codes_and_differ() {
        let a = new_event_id();
        assert!(is_event_id(&a), "{a}");
        assert_ne!(a, new_event_id());
        assert!(!is_event_id("../etc/pwd"));
        assert!(!is_event_id("ABCDEFGHJK"));
        assert!(!is_event_id("abcdefghj"));
    }

    #[test]
    fn tokens_are_64_hex_digits() {
        let t = new_token();
        assert_eq!(t.len(), 64);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(t, new_token());
    }
}
