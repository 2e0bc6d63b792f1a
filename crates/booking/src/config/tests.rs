use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
    ClusterConfig::from_toml(
        text,
        Path::new("/etc/convene/cluster.toml"),
        &[BookingSection::READER],
    )
}

#[test]
fn the_booking_example_parses_and_facilities_have_one_owner() {
    let c = parse(
        r#"
[[node]]
id = "A"
host = "127.0.0.1"
peer_port = 21092
booking_port = 2222
[node.booking]
semantics = "at-least-once"
request_loss = 0.1
reply_loss = 0.5
facilities = ["Meeting Room A", "Lecture Theatre 1", "Conference Hall", "Seminar Room B"]

[[node]]
id = "B"
host = "127.0.0.1"
peer_port = 21093
"#,
    )
    .unwrap();
    let a = BookingSection::of(c.node("A").unwrap());
    assert_eq!(
        c.node("A").unwrap().booking_addr(),
        Some("127.0.0.1:2222".parse().unwrap())
    );
    assert_eq!(a.semantics, Semantics::AtLeastOnce);
    assert_eq!((a.request_loss, a.reply_loss), (0.1, 0.5));
    assert_eq!(facility_owner(&c, "Conference Hall"), Some(0));
    assert_eq!(
        facility_owner(&c, "conference hall"),
        None,
        "names are case-sensitive"
    );
    let b = BookingSection::of(c.node("B").unwrap());
    assert_eq!(b.semantics, Semantics::AtMostOnce, "the default");
    assert!(b.facilities.is_empty());
    assert_eq!(b, BookingSection::default());
}

#[test]
fn bad_booking_settings_are_refused() {
    let base = "[[node]]\nid='a'\nhost='::1'\npeer_port=1\n[node.booking]\n";
    for (extra, needle) in [
        ("semantics = 'exactly-once'\n", "semantics"),
        ("reply_loss = 1.5\n", "reply_loss"),
        ("facilities = ['X', 'X']\n", "twice"),
        ("facilities = ['']\n", "facilities"),
        ("reply_cache_entries = 0\n", "reply_cache_entries"),
        ("colour = 'blue'\n", "colour"),
    ] {
        let err = parse(&format!("{base}{extra}")).unwrap_err().to_string();
        assert!(err.contains(needle), "{extra}: {err}");
    }
    let err = parse("[[node]]\nid='a'\nhost='::1'\npeer_port=1\n[node.booking]\nfacilities=['X']\n[[node]]\nid='b'\nhost='::1'\npeer_port=2\n[node.booking]\nfacilities=['X']\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("already owns"), "{err}");
}

#[test]
fn an_unknown_key_names_itself_and_its_line() {
    let err = parse("[[node]]\nid='a'\nhost='::1'\npeer_port=1\n[node.booking]\ncolour='blue'\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("/etc/convene/cluster.toml: TOML parse error at line 6, column 1"),
        "{err}"
    );
    assert!(
        err.contains("unknown field `colour`, expected one of `semantics`"),
        "{err}"
    );
}
