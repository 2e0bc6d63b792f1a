//! Strategies the tests of several modules share.

use proptest::prelude::*;

/// Any text: arbitrary Unicode, or a mix dense in what escaping must get right
/// (quotes, backslashes, line breaks, control characters, non-ASCII, astral).
pub(crate) fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\"\\\\\n\r\t\u{0}\u{1f}\u{7f}\u{85}\u{2028}\u{feff}é日😀a /{}:,\\[\\]]{0,24}",
    ]
}

/// Whether `line` is exactly one line of printable ASCII ending in `\n`: what
/// every encoded message must be, whatever its content (the Java client reads
/// one object per line, and a moved connection in the JVM's default charset).
pub(crate) fn is_one_printable_line(line: &str) -> bool {
    line.strip_suffix('\n')
        .is_some_and(|body| body.bytes().all(|b| (b' '..=b'~').contains(&b)))
}
