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
