//! The JSON both directions share: reading one object from a line, taking typed
//! fields out of it, and writing one object as one line of printable ASCII.
//!
//! Reading goes through `serde_json::Value` rather than derived structs because the
//! protocol is loose where the Java client is (any key order, extra keys ignored) and
//! strict where we must be (every field's JSON type checked, each failure a distinct
//! [`ProtocolError`]). `serde_json` bounds nesting (128 levels), so a hostile
//! `[[[[…` cannot exhaust the stack. A duplicated key keeps its last value, as the
//! client's json-simple `HashMap` does.
//!
//! Writing is by hand, because the order of keys is part of how the reference's
//! examples read (the client does not care, a person comparing transcripts does), and
//! because the escaping is chosen for the Java client: see [`push_string`].

use serde_json::{Map, Value};

use crate::ProtocolError;
use crate::ids::shorten;

/// A JSON object read from one line.
pub(crate) type Object = Map<String, Value>;

/// Parses `line` as exactly one JSON object (surrounding whitespace, a trailing
/// `\r\n` included, is allowed by JSON itself).
pub(crate) fn parse_object(line: &str) -> Result<Object, ProtocolError> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(ProtocolError::NotAnObject(describe(&other))),
        Err(e) => Err(ProtocolError::NotJson(e.to_string())),
    }
}

/// The object's `"type"`, as one of `known` (so errors can name it statically).
pub(crate) fn message_type(
    object: &Object,
    known: &[&'static str],
) -> Result<&'static str, ProtocolError> {
    match object.get("type") {
        None => Err(ProtocolError::MissingType),
        Some(Value::String(kind)) => known
            .iter()
            .find(|k| **k == kind)
            .copied()
            .ok_or_else(|| ProtocolError::UnknownType(shorten(kind))),
        Some(other) => Err(ProtocolError::TypeNotString(describe(other))),
    }
}

/// "a number", "an array", …: what a value is, for error messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The fields of one message of type `kind`, taken out with typed errors.
pub(crate) struct Fields<'a> {
    kind: &'static str,
    object: &'a Object,
}

impl<'a> Fields<'a> {
    /// Wraps a parsed object whose type is `kind`.
    pub(crate) fn new(kind: &'static str, object: &'a Object) -> Self {
        Fields { kind, object }
    }

    fn get(&self, field: &'static str) -> Result<&'a Value, ProtocolError> {
        self.object.get(field).ok_or(ProtocolError::MissingField {
            kind: self.kind,
            field,
        })
    }

    fn wrong(
        &self,
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    ) -> ProtocolError {
        ProtocolError::WrongType {
            kind: self.kind,
            field,
            expected,
            found,
        }
    }

    /// A string field, any content (the empty string included).
    pub(crate) fn string(&self, field: &'static str) -> Result<String, ProtocolError> {
        match self.get(field)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(self.wrong(field, "a string", describe(other))),
        }
    }

    /// An array of strings.
    pub(crate) fn strings(&self, field: &'static str) -> Result<Vec<String>, ProtocolError> {
        const EXPECTED: &str = "an array of strings";
        match self.get(field)? {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(self.wrong(field, EXPECTED, "an array with a non-string item")),
                })
                .collect(),
            other => Err(self.wrong(field, EXPECTED, describe(other))),
        }
    }

    /// The reference's boolean: the *string* `"true"` or `"false"`, in any letter case
    /// (the Java client compares with `equals("true")`, but the reference notes it
    /// tolerates `"True"`; a JSON `true` it would not recognise, so neither do we).
    pub(crate) fn approved(&self) -> Result<bool, ProtocolError> {
        const FIELD: &str = "approved";
        match self.get(FIELD)? {
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            Value::String(s) => Err(ProtocolError::BadApproved {
                kind: self.kind,
                value: shorten(s),
            }),
            other => Err(self.wrong(FIELD, "the string \"true\" or \"false\"", describe(other))),
        }
    }

    /// The reference's port: a *string* of decimal digits naming a port 1-65535.
    pub(crate) fn port(&self) -> Result<u16, ProtocolError> {
        const FIELD: &str = "port";
        match self.get(FIELD)? {
            Value::String(s) => {
                // `u16::from_str` alone would also take "+4444".
                let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                match s.parse::<u16>() {
                    Ok(port) if digits && port != 0 => Ok(port),
                    _ => Err(ProtocolError::BadPort(shorten(s))),
                }
            }
            other => Err(self.wrong(FIELD, "a string of digits", describe(other))),
        }
    }
}

/// Builds one message: `{"type":"<kind>"`, then fields in the order they are added,
/// then `}\n`.
pub(crate) struct LineWriter {
    line: String,
}

impl LineWriter {
    /// Starts a message of type `kind`.
    pub(crate) fn new(kind: &str) -> Self {
        let mut line = String::with_capacity(64);
        line.push_str("{\"type\":");
        push_string(&mut line, kind);
        LineWriter { line }
    }

    fn key(&mut self, key: &str) {
        self.line.push(',');
        push_string(&mut self.line, key);
        self.line.push(':');
    }

    /// Adds a string field.
    pub(crate) fn string(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        push_string(&mut self.line, value);
        self
    }

    /// Adds a boolean the reference's way: as the string `"true"` or `"false"`.
    pub(crate) fn approved(self, value: bool) -> Self {
        self.string("approved", if value { "true" } else { "false" })
    }

    /// Adds an array of strings.
    pub(crate) fn strings(mut self, key: &str, values: &[String]) -> Self {
        self.key(key);
        self.line.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            push_string(&mut self.line, value);
        }
        self.line.push(']');
        self
    }

    /// Closes the object and the line.
    pub(crate) fn finish(mut self) -> String {
        self.line.push_str("}\n");
        self.line
    }
}

/// Appends `s` as a JSON string literal made only of printable ASCII.
///
/// `"` and `\` are escaped as JSON requires, and every control character (`\n` and
/// `\r` above all) is escaped, so a message is always exactly one line. Everything
/// outside printable ASCII is written as `\uXXXX` (two escapes, a UTF-16 surrogate
/// pair, above U+FFFF). That is more than JSON requires, and it is for the Java client:
/// after a server change it reads the new socket in the JVM's default charset instead
/// of UTF-8 (reference §2.5), so raw UTF-8 would be garbled on any machine whose
/// default is not UTF-8, while ASCII escapes read the same in every charset, and
/// json-simple decodes them.
pub(crate) fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str("\\u");
                    for shift in [12, 8, 4, 0] {
                        out.push(char::from(HEX[usize::from((*unit >> shift) & 0xf)]));
                    }
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        push_string(&mut out, s);
        out
    }

    #[test]
    fn escapes_exactly() {
        assert_eq!(quoted(""), r#""""#);
        assert_eq!(quoted("hi all"), r#""hi all""#);
        assert_eq!(quoted(r#"say "hi" \o/"#), r#""say \"hi\" \\o/""#);
        assert_eq!(quoted("a\nb\r\tc"), r#""a\nb\r\tc""#);
        assert_eq!(
            quoted("\u{8}\u{c}\u{0}\u{1f}\u{7f}"),
            r#""\b\f\u0000\u001f\u007f""#
        );
        assert_eq!(quoted("Zoë"), r#""Zo\u00eb""#);
        assert_eq!(quoted("日本"), r#""\u65e5\u672c""#);
        assert_eq!(quoted("\u{2028}"), r#""\u2028""#);
        // Above U+FFFF: a surrogate pair, as Java's own strings hold it.
        assert_eq!(quoted("😀"), r#""\ud83d\ude00""#);
    }

    #[test]
    fn port_strings() {
        let read = |text: &str| {
            let object = parse_object(&format!(r#"{{"port":{text}}}"#)).unwrap();
            Fields::new("route", &object).port()
        };
        assert_eq!(read(r#""4444""#), Ok(4444));
        assert_eq!(read(r#""1""#), Ok(1));
        assert_eq!(read(r#""65535""#), Ok(65535));
        assert_eq!(read(r#""04444""#), Ok(4444));
        for bad in [
            "", "0", "65536", "+4444", "-1", " 4444", "4444 ", "44a4", "4.0", "٣",
        ] {
            assert_eq!(
                read(&format!("{:?}", bad)),
                Err(ProtocolError::BadPort(bad.into())),
                "{bad:?}"
            );
        }
        assert!(matches!(
            read("4444"),
            Err(ProtocolError::WrongType {
                found: "a number",
                ..
            })
        ));
    }
}
