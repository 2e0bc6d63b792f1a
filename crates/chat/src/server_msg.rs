//! Everything a server sends a client (reference §2.2).
//!
//! Two quirks of the course's Java client fix how these are written:
//!
//! - **Booleans are strings.** The client tests `approved` with
//!   `"true".equals(...)` on the *string* it reads, so the JSON boolean `true`
//!   would read as a refusal. [`ServerMessage::to_line`] always writes `"true"` or
//!   `"false"`, lowercase.
//! - **The port is a string.** The client reads `port` as a string and parses it
//!   itself, so it is written `"port":"4444"`, never `"port":4444`.
//!
//! Keys are written in the order of the reference's examples. The client does not
//! care (it reads by key), but a transcript then reads like the reference's.
//!
//! ```
//! use convene_chat::ServerMessage;
//!
//! let route = ServerMessage::Route {
//!     roomid: "jokes".into(),
//!     host: "127.0.0.1".into(),
//!     port: 4444,
//! };
//! assert_eq!(
//!     route.to_line(),
//!     "{\"type\":\"route\",\"roomid\":\"jokes\",\"host\":\"127.0.0.1\",\"port\":\"4444\"}\n"
//! );
//! assert_eq!(ServerMessage::parse(&route.to_line()), Ok(route));
//!
//! let no = ServerMessage::NewIdentity { approved: false };
//! assert_eq!(no.to_line(), "{\"type\":\"newidentity\",\"approved\":\"false\"}\n");
//! ```

use crate::ProtocolError;
use crate::json::{self, Fields, LineWriter};

/// One line from a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerMessage {
    /// `newidentity`: the answer to a client's `newidentity`. After `false` the
    /// server closes the connection; the client prints `<id> already in use.` for any
    /// refusal and exits.
    NewIdentity {
        /// Whether the identity was granted.
        approved: bool,
    },
    /// `roomchange`: `identity` moved from `former` to `roomid`. `former` is `""` for a
    /// client that just arrived, `roomid` is `""` for one that quit, and
    /// `former == roomid` tells a client its `joinroom` failed ("room unchanged").
    RoomChange {
        /// Who moved.
        identity: String,
        /// The room left, or `""`.
        former: String,
        /// The room entered, or `""`.
        roomid: String,
    },
    /// `roomlist`: the answer to `list`, every room in the system, MainHalls included.
    RoomList {
        /// The room ids.
        rooms: Vec<String>,
    },
    /// `roomcontents`: the answer to `who`, for the caller's current room.
    RoomContents {
        /// The room.
        roomid: String,
        /// Its members.
        identities: Vec<String>,
        /// Its owner; `""` for a MainHall.
        owner: String,
    },
    /// `createroom`: the answer to `createroom`.
    CreateRoom {
        /// The room asked for.
        roomid: String,
        /// Whether it was created.
        approved: bool,
    },
    /// `deleteroom`: the answer to `deleteroom`.
    DeleteRoom {
        /// The room asked for.
        roomid: String,
        /// Whether it was deleted.
        approved: bool,
    },
    /// `route`: the room joined lives on another server; connect there and send
    /// `movejoin`.
    Route {
        /// The room being joined.
        roomid: String,
        /// The other server's client address.
        host: String,
        /// The other server's client port (a string on the wire).
        port: u16,
    },
    /// `serverchange`: the answer to `movejoin`, sent before the `roomchange`.
    ServerChange {
        /// Whether the move was accepted. On `false` the client stays on its old
        /// server, whose connection it has not closed.
        approved: bool,
        /// The id of the server that answers.
        serverid: String,
    },
    /// `message`: a chat line from another member of the room (never the sender's own
    /// echo).
    Message {
        /// Who wrote it.
        identity: String,
        /// What they wrote.
        content: String,
    },
}

/// Every `"type"` a server sends, as [`ServerMessage::kind`] names them.
const KINDS: &[&str] = &[
    "newidentity",
    "roomchange",
    "roomlist",
    "roomcontents",
    "createroom",
    "deleteroom",
    "route",
    "serverchange",
    "message",
];

impl ServerMessage {
    /// Parses one line from a server (for Convene's own clients), with or without its
    /// line ending.
    ///
    /// As strict as the reference allows: `approved` must be the string `"true"` or
    /// `"false"` (any letter case, since the reference notes the real client accepts
    /// `"True"`; a JSON boolean is refused), `port` a string of decimal digits naming a
    /// port 1-65535, lists arrays of strings. Keys may come in any order and unknown
    /// keys are ignored.
    ///
    /// No length limit is applied: a `roomlist` grows with the system, so the reader
    /// that frames lines from a server chooses its own bound.
    pub fn parse(line: &str) -> Result<ServerMessage, ProtocolError> {
        let object = json::parse_object(line)?;
        let kind = json::message_type(&object, KINDS)?;
        let f = Fields::new(kind, &object);
        Ok(match kind {
            "newidentity" => ServerMessage::NewIdentity {
                approved: f.approved()?,
            },
            "roomchange" => ServerMessage::RoomChange {
                identity: f.string("identity")?,
                former: f.string("former")?,
                roomid: f.string("roomid")?,
            },
            "roomlist" => ServerMessage::RoomList {
                rooms: f.strings("rooms")?,
            },
            "roomcontents" => ServerMessage::RoomContents {
                roomid: f.string("roomid")?,
                identities: f.strings("identities")?,
                owner: f.string("owner")?,
            },
            "createroom" => ServerMessage::CreateRoom {
                roomid: f.string("roomid")?,
                approved: f.approved()?,
            },
            "deleteroom" => ServerMessage::DeleteRoom {
                roomid: f.string("roomid")?,
                approved: f.approved()?,
            },
            "route" => ServerMessage::Route {
                roomid: f.string("roomid")?,
                host: f.string("host")?,
                port: f.port()?,
            },
            "serverchange" => ServerMessage::ServerChange {
                approved: f.approved()?,
                serverid: f.string("serverid")?,
            },
            "message" => ServerMessage::Message {
                identity: f.string("identity")?,
                content: f.string("content")?,
            },
            // Only if KINDS names a type this match forgot (a test checks it does not).
            other => return Err(ProtocolError::UnknownType(other.into())),
        })
    }

    /// The message's `"type"`, e.g. `"roomchange"` (for log lines).
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMessage::NewIdentity { .. } => "newidentity",
            ServerMessage::RoomChange { .. } => "roomchange",
            ServerMessage::RoomList { .. } => "roomlist",
            ServerMessage::RoomContents { .. } => "roomcontents",
            ServerMessage::CreateRoom { .. } => "createroom",
            ServerMessage::DeleteRoom { .. } => "deleteroom",
            ServerMessage::Route { .. } => "route",
            ServerMessage::ServerChange { .. } => "serverchange",
            ServerMessage::Message { .. } => "message",
        }
    }

    /// The message as the Java client reads it: one line of printable ASCII ending in
    /// `\n`, `approved` as `"true"`/`"false"`, `port` as a string, keys in the order of
    /// the reference's examples. Any text, quotes, backslashes and line breaks
    /// included, is escaped so the message stays one line.
    pub fn to_line(&self) -> String {
        let w = LineWriter::new(self.kind());
        match self {
            ServerMessage::NewIdentity { approved } => w.approved(*approved),
            ServerMessage::RoomChange {
                identity,
                former,
                roomid,
            } => w
                .string("identity", identity)
                .string("former", former)
                .string("roomid", roomid),
            ServerMessage::RoomList { rooms } => w.strings("rooms", rooms),
            ServerMessage::RoomContents {
                roomid,
                identities,
                owner,
            } => w
                .string("roomid", roomid)
                .strings("identities", identities)
                .string("owner", owner),
            ServerMessage::CreateRoom { roomid, approved }
            | ServerMessage::DeleteRoom { roomid, approved } => {
                w.string("roomid", roomid).approved(*approved)
            }
            ServerMessage::Route { roomid, host, port } => w
                .string("roomid", roomid)
                .string("host", host)
                .string("port", &port.to_string()),
            ServerMessage::ServerChange { approved, serverid } => {
                w.approved(*approved).string("serverid", serverid)
            }
            ServerMessage::Message { identity, content } => {
                w.string("identity", identity).string("content", content)
            }
        }
        .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::any_text;
    use proptest::prelude::*;

    fn parse(line: &str) -> Result<ServerMessage, ProtocolError> {
        ServerMessage::parse(line)
    }

    #[test]
    fn every_kind_is_matched_and_named() {
        for kind in KINDS {
            let line = format!(
                r#"{{"type":"{kind}","approved":"true","identity":"a","former":"b","roomid":"c","rooms":[],"identities":[],"owner":"","host":"h","port":"1","serverid":"s1","content":"d"}}"#
            );
            assert_eq!(parse(&line).unwrap().kind(), *kind);
        }
    }

    #[test]
    fn approved_is_a_string_in_any_case() {
        for (text, value) in [
            ("true", true),
            ("false", false),
            ("True", true),
            ("FALSE", false),
            ("tRuE", true),
        ] {
            let line = format!(r#"{{"type":"newidentity","approved":"{text}"}}"#);
            let message = parse(&line).unwrap();
            assert_eq!(message, ServerMessage::NewIdentity { approved: value });
            // Read in any case, always written lowercase.
            assert_eq!(
                message.to_line(),
                format!(
                    "{{\"type\":\"newidentity\",\"approved\":\"{}\"}}\n",
                    text.to_lowercase()
                )
            );
        }
        for bad in ["yes", "", "1", "true ", "truee"] {
            assert_eq!(
                parse(&format!(
                    r#"{{"type":"createroom","roomid":"j","approved":"{bad}"}}"#
                )),
                Err(ProtocolError::BadApproved {
                    kind: "createroom",
                    value: bad.into()
                })
            );
        }
        assert_eq!(
            parse(r#"{"type":"newidentity","approved":true}"#),
            Err(ProtocolError::WrongType {
                kind: "newidentity",
                field: "approved",
                expected: "the string \"true\" or \"false\"",
                found: "a boolean"
            })
        );
        assert_eq!(
            parse(r#"{"type":"serverchange","serverid":"s2"}"#),
            Err(ProtocolError::MissingField {
                kind: "serverchange",
                field: "approved"
            })
        );
    }

    #[test]
    fn port_is_a_string_of_digits() {
        let route = |port: &str| {
            parse(&format!(
                r#"{{"type":"route","roomid":"jokes","host":"127.0.0.1","port":{port}}}"#
            ))
        };
        assert!(matches!(
            route(r#""4444""#),
            Ok(ServerMessage::Route { port: 4444, .. })
        ));
        assert!(matches!(
            route("4444"),
            Err(ProtocolError::WrongType {
                field: "port",
                found: "a number",
                ..
            })
        ));
        assert_eq!(
            route(r#""70000""#),
            Err(ProtocolError::BadPort("70000".into()))
        );
        assert_eq!(route(r#""""#), Err(ProtocolError::BadPort("".into())));
        assert!(route(r#""0""#).is_err());
    }

    #[test]
    fn lists_are_arrays_of_strings() {
        assert_eq!(
            parse(r#"{"type":"roomlist","rooms":[]}"#),
            Ok(ServerMessage::RoomList { rooms: vec![] })
        );
        assert_eq!(
            parse(r#"{"type":"roomlist","rooms":["a",1]}"#),
            Err(ProtocolError::WrongType {
                kind: "roomlist",
                field: "rooms",
                expected: "an array of strings",
                found: "an array with a non-string item"
            })
        );
        assert!(matches!(
            parse(r#"{"type":"roomlist","rooms":"a"}"#),
            Err(ProtocolError::WrongType {
                found: "a string",
                ..
            })
        ));
        assert!(matches!(
            parse(r#"{"type":"roomcontents","roomid":"j","owner":""}"#),
            Err(ProtocolError::MissingField {
                field: "identities",
                ..
            })
        ));
        assert_eq!(
            ServerMessage::RoomList { rooms: vec![] }.to_line(),
            "{\"type\":\"roomlist\",\"rooms\":[]}\n"
        );
    }

    #[test]
    fn malformed_lines_say_why() {
        assert!(matches!(parse("nope"), Err(ProtocolError::NotJson(_))));
        assert_eq!(parse("[]"), Err(ProtocolError::NotAnObject("an array")));
        assert_eq!(parse(r#"{"x":1}"#), Err(ProtocolError::MissingType));
        assert_eq!(
            parse(r#"{"type":"foo"}"#),
            Err(ProtocolError::UnknownType("foo".into()))
        );
        assert_eq!(
            parse(r#"{"type":true}"#),
            Err(ProtocolError::TypeNotString("a boolean"))
        );
        // A client's message is not a server's.
        assert_eq!(
            parse(r#"{"type":"list"}"#),
            Err(ProtocolError::UnknownType("list".into()))
        );
        assert_eq!(
            parse(r#"{"type":"message","content":"hi"}"#),
            Err(ProtocolError::MissingField {
                kind: "message",
                field: "identity"
            })
        );
        assert!(matches!(
            parse(r#"{"type":"message","identity":7,"content":"hi"}"#),
            Err(ProtocolError::WrongType {
                field: "identity",
                found: "a number",
                ..
            })
        ));
    }

    #[test]
    fn text_is_escaped_onto_one_line() {
        let message = ServerMessage::Message {
            identity: "Adel".into(),
            content: "line one\nsaid \"hi\" C:\\tmp é".into(),
        };
        assert_eq!(
            message.to_line(),
            "{\"type\":\"message\",\"identity\":\"Adel\",\"content\":\"line one\\nsaid \\\"hi\\\" C:\\\\tmp \\u00e9\"}\n"
        );
        assert_eq!(parse(&message.to_line()), Ok(message));
    }

    fn any_approved() -> impl Strategy<Value = bool> {
        any::<bool>()
    }

    fn any_server_message() -> impl Strategy<Value = ServerMessage> {
        let texts = || proptest::collection::vec(any_text(), 0..5);
        prop_oneof![
            any_approved().prop_map(|approved| ServerMessage::NewIdentity { approved }),
            (any_text(), any_text(), any_text()).prop_map(|(identity, former, roomid)| {
                ServerMessage::RoomChange {
                    identity,
                    former,
                    roomid,
                }
            }),
            texts().prop_map(|rooms| ServerMessage::RoomList { rooms }),
            (any_text(), texts(), any_text()).prop_map(|(roomid, identities, owner)| {
                ServerMessage::RoomContents {
                    roomid,
                    identities,
                    owner,
                }
            }),
            (any_text(), any_approved())
                .prop_map(|(roomid, approved)| ServerMessage::CreateRoom { roomid, approved }),
            (any_text(), any_approved())
                .prop_map(|(roomid, approved)| ServerMessage::DeleteRoom { roomid, approved }),
            (any_text(), any_text(), 1..=u16::MAX)
                .prop_map(|(roomid, host, port)| ServerMessage::Route { roomid, host, port }),
            (any_approved(), any_text()).prop_map(|(approved, serverid)| {
                ServerMessage::ServerChange { approved, serverid }
            }),
            (any_text(), any_text())
                .prop_map(|(identity, content)| ServerMessage::Message { identity, content }),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(line in any::<String>()) {
            let _ = parse(&line);
        }

        #[test]
        fn parse_never_panics_on_json_shaped_lines(
            kind in "(newidentity|roomchange|roomlist|roomcontents|createroom|deleteroom|route|serverchange|message|foo)",
            fields in proptest::collection::vec(
                (
                    "(approved|identity|former|roomid|rooms|identities|owner|host|port|serverid|content|x)",
                    "(\"[a-zA-Z0-9\\\\\"]{0,5}\"|-?[0-9]{1,6}|true|null|\\[\\]|\\[\"a\"\\]|\\[1\\]|\\{\\})",
                ),
                0..8,
            ),
        ) {
            let mut line = format!(r#"{{"type":"{kind}""#);
            for (key, value) in fields {
                line.push_str(&format!(r#","{key}":{value}"#));
            }
            line.push('}');
            if let Ok(message) = parse(&line) {
                prop_assert_eq!(parse(&message.to_line()), Ok(message));
            }
        }

        #[test]
        fn encode_then_parse_is_identity(message in any_server_message()) {
            let line = message.to_line();
            prop_assert!(crate::testing::is_one_printable_line(&line), "{line:?}");
            // Any JSON reader sees the reference's shapes: strings for approved and port.
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            if let Some(approved) = value.get("approved") {
                prop_assert!(approved == "true" || approved == "false");
            }
            if let Some(port) = value.get("port") {
                prop_assert!(port.is_string());
            }
            prop_assert_eq!(parse(&line), Ok(message.clone()));
            prop_assert_eq!(parse(line.trim_end()), Ok(message));
        }
    }
}
