//! Everything a client sends a server (reference §2.1).
//!
//! The course's `client.jar` sends one JSON object per line, built with json-simple,
//! so the order of keys varies from line to line; only `"type"` tells what a line is.
//!
//! | client input              | line sent                                                                |
//! |---------------------------|--------------------------------------------------------------------------|
//! | (on connect)              | `{"type":"newidentity","identity":"Adel"}`                               |
//! | any line not starting `#` | `{"type":"message","content":"<whole line>"}`                            |
//! | `#list` / `#who` / `#quit`| `{"type":"list"}` / `{"type":"who"}` / `{"type":"quit"}`                  |
//! | `#createroom jokes`       | `{"type":"createroom","roomid":"jokes"}` (also `joinroom`, `deleteroom`) |
//! | `#newidentity Bob`        | `{"type":"newidentity","identity":"Bob"}` (undocumented, mid-session)    |
//! | (after a `route`)         | `{"type":"movejoin","identity":"Maria","former":"MainHall-s1","roomid":"jokes"}` |
//!
//! ```
//! use convene_chat::{ClientMessage, ProtocolError};
//!
//! // Key order does not matter; extra keys are ignored.
//! let line = r#"{"roomid":"jokes","type":"joinroom","via":"x"}"#;
//! assert_eq!(
//!     ClientMessage::parse(line),
//!     Ok(ClientMessage::JoinRoom { roomid: "jokes".into() })
//! );
//!
//! // Ids are not checked here: "1ab" is the server's to refuse, in the protocol.
//! let odd = ClientMessage::parse(r#"{"type":"newidentity","identity":"1ab"}"#).unwrap();
//! assert_eq!(odd, ClientMessage::NewIdentity { identity: "1ab".into() });
//!
//! assert_eq!(
//!     ClientMessage::parse(r#"{"type":"foo"}"#),
//!     Err(ProtocolError::UnknownType("foo".into()))
//! );
//! assert_eq!(ClientMessage::Who.to_line(), "{\"type\":\"who\"}\n");
//! ```

use crate::json::{self, Fields, LineWriter};
use crate::{MAX_LINE, ProtocolError};

/// One line from a client.
///
/// Fields hold exactly what was sent: identities and room ids are not checked for
/// syntax (see [`crate::ids`]), and `content` may be any text, empty or multi-line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage {
    /// `newidentity`: the first line of every session, or a rename mid-session.
    NewIdentity {
        /// The identity asked for.
        identity: String,
    },
    /// `list`: every room in the system, MainHalls included.
    List,
    /// `who`: the members and owner of the caller's current room.
    Who,
    /// `createroom`: create a room owned by the caller and move into it.
    CreateRoom {
        /// The room id asked for.
        roomid: String,
    },
    /// `joinroom`: move into an existing room, possibly on another server.
    JoinRoom {
        /// The room to join.
        roomid: String,
    },
    /// `deleteroom`: delete a room the caller owns.
    DeleteRoom {
        /// The room to delete.
        roomid: String,
    },
    /// `message`: a chat line for the other members of the caller's room.
    Message {
        /// The text, exactly as typed (the client sends any line not starting `#`).
        content: String,
    },
    /// `quit`: leave the system.
    Quit,
    /// `movejoin`: the first line on a new server after a `route`.
    MoveJoin {
        /// The client's identity, approved by the former server.
        identity: String,
        /// The room the client was in on the former server.
        former: String,
        /// The room it is moving into on this server.
        roomid: String,
    },
}

/// Every `"type"` a client sends, as [`ClientMessage::kind`] names them.
const KINDS: &[&str] = &[
    "newidentity",
    "list",
    "who",
    "createroom",
    "joinroom",
    "deleteroom",
    "message",
    "quit",
    "movejoin",
];

impl ClientMessage {
    /// Parses one line from a client, with or without its line ending.
    ///
    /// The line must be a single JSON object no longer than [`MAX_LINE`] bytes, with a
    /// string `"type"` this side knows and every field that type needs, each a string.
    /// Keys may come in any order and unknown keys are ignored, as the Java client's
    /// json-simple output requires.
    pub fn parse(line: &str) -> Result<ClientMessage, ProtocolError> {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.len() > MAX_LINE {
            return Err(ProtocolError::TooLong { len: line.len() });
        }
        let object = json::parse_object(line)?;
        let kind = json::message_type(&object, KINDS)?;
        let f = Fields::new(kind, &object);
        Ok(match kind {
            "newidentity" => ClientMessage::NewIdentity {
                identity: f.string("identity")?,
            },
            "list" => ClientMessage::List,
            "who" => ClientMessage::Who,
            "createroom" => ClientMessage::CreateRoom {
                roomid: f.string("roomid")?,
            },
            "joinroom" => ClientMessage::JoinRoom {
                roomid: f.string("roomid")?,
            },
            "deleteroom" => ClientMessage::DeleteRoom {
                roomid: f.string("roomid")?,
            },
            "message" => ClientMessage::Message {
                content: f.string("content")?,
            },
            "quit" => ClientMessage::Quit,
            "movejoin" => ClientMessage::MoveJoin {
                identity: f.string("identity")?,
                former: f.string("former")?,
                roomid: f.string("roomid")?,
            },
            // Only if KINDS names a type this match forgot (a test checks it does not).
            other => return Err(ProtocolError::UnknownType(other.into())),
        })
    }

    /// The message's `"type"`, e.g. `"newidentity"` (for log lines).
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::NewIdentity { .. } => "newidentity",
            ClientMessage::List => "list",
            ClientMessage::Who => "who",
            ClientMessage::CreateRoom { .. } => "createroom",
            ClientMessage::JoinRoom { .. } => "joinroom",
            ClientMessage::DeleteRoom { .. } => "deleteroom",
            ClientMessage::Message { .. } => "message",
            ClientMessage::Quit => "quit",
            ClientMessage::MoveJoin { .. } => "movejoin",
        }
    }

    /// The message as one line of printable ASCII ending in `\n`, keys in the
    /// reference's order (for Convene's own clients; the Java client writes its own).
    ///
    /// A `content` longer than about [`MAX_LINE`] bytes makes a line a server refuses.
    pub fn to_line(&self) -> String {
        let w = LineWriter::new(self.kind());
        match self {
            ClientMessage::NewIdentity { identity } => w.string("identity", identity),
            ClientMessage::List | ClientMessage::Who | ClientMessage::Quit => w,
            ClientMessage::CreateRoom { roomid }
            | ClientMessage::JoinRoom { roomid }
            | ClientMessage::DeleteRoom { roomid } => w.string("roomid", roomid),
            ClientMessage::Message { content } => w.string("content", content),
            ClientMessage::MoveJoin {
                identity,
                former,
                roomid,
            } => w
                .string("identity", identity)
                .string("former", former)
                .string("roomid", roomid),
        }
        .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::any_text;
    use proptest::prelude::*;

    fn parse(line: &str) -> Result<ClientMessage, ProtocolError> {
        ClientMessage::parse(line)
    }

    #[test]
    fn every_kind_is_matched_and_named() {
        for kind in KINDS {
            // Enough fields for every type; the extras are ignored.
            let line = format!(
                r#"{{"type":"{kind}","identity":"a","roomid":"b","former":"c","content":"d"}}"#
            );
            assert_eq!(parse(&line).unwrap().kind(), *kind);
        }
    }

    #[test]
    fn line_endings_and_whitespace() {
        let list = Ok(ClientMessage::List);
        assert_eq!(parse("{\"type\":\"list\"}\n"), list);
        // A Java client on Windows ends its lines with \r\n.
        assert_eq!(parse("{\"type\":\"list\"}\r\n"), list);
        assert_eq!(parse(" { \"type\" : \"list\" } "), list);
        // Two messages on one line are not one message.
        assert!(matches!(
            parse(r#"{"type":"list"}{"type":"who"}"#),
            Err(ProtocolError::NotJson(_))
        ));
        assert!(matches!(
            parse("{\"type\":\"list\"}\n{\"type\":\"who\"}"),
            Err(ProtocolError::NotJson(_))
        ));
    }

    #[test]
    fn malformed_lines_say_why() {
        assert!(matches!(parse(""), Err(ProtocolError::NotJson(_))));
        assert!(matches!(parse("hello"), Err(ProtocolError::NotJson(_))));
        assert!(matches!(
            parse(r#"{"type":"list""#),
            Err(ProtocolError::NotJson(_))
        ));
        assert_eq!(
            parse(r#"["type","list"]"#),
            Err(ProtocolError::NotAnObject("an array"))
        );
        assert_eq!(
            parse(r#""list""#),
            Err(ProtocolError::NotAnObject("a string"))
        );
        assert_eq!(parse("null"), Err(ProtocolError::NotAnObject("null")));
        assert_eq!(parse("42"), Err(ProtocolError::NotAnObject("a number")));
        assert_eq!(parse("{}"), Err(ProtocolError::MissingType));
        assert_eq!(
            parse(r#"{"identity":"Adel"}"#),
            Err(ProtocolError::MissingType)
        );
        assert_eq!(
            parse(r#"{"type":"foo"}"#),
            Err(ProtocolError::UnknownType("foo".into()))
        );
        // Type names are exact: the client only ever sends lowercase.
        assert_eq!(
            parse(r#"{"type":"List"}"#),
            Err(ProtocolError::UnknownType("List".into()))
        );
        // A server's message is not a client's.
        assert_eq!(
            parse(r#"{"type":"roomchange","identity":"a","former":"","roomid":"b"}"#),
            Err(ProtocolError::UnknownType("roomchange".into()))
        );
        assert_eq!(
            parse(r#"{"type":1}"#),
            Err(ProtocolError::TypeNotString("a number"))
        );
        assert_eq!(
            parse(r#"{"type":["list"]}"#),
            Err(ProtocolError::TypeNotString("an array"))
        );
        assert_eq!(
            parse(r#"{"type":"newidentity"}"#),
            Err(ProtocolError::MissingField {
                kind: "newidentity",
                field: "identity"
            })
        );
        assert_eq!(
            parse(r#"{"type":"newidentity","identity":42}"#),
            Err(ProtocolError::WrongType {
                kind: "newidentity",
                field: "identity",
                expected: "a string",
                found: "a number"
            })
        );
        assert!(matches!(
            parse(r#"{"type":"message","content":null}"#),
            Err(ProtocolError::WrongType { found: "null", .. })
        ));
        assert_eq!(
            parse(r#"{"type":"movejoin","identity":"Maria","roomid":"jokes"}"#),
            Err(ProtocolError::MissingField {
                kind: "movejoin",
                field: "former"
            })
        );
    }

    #[test]
    fn error_messages_read_well() {
        assert_eq!(
            parse(r#"{"type":"newidentity","identity":42}"#)
                .unwrap_err()
                .to_string(),
            r#"in a "newidentity" message, "identity" must be a string, got a number"#
        );
        assert_eq!(
            parse(r#"{"type":"foo"}"#).unwrap_err().to_string(),
            r#"unknown message type "foo""#
        );
        assert_eq!(
            parse("[]").unwrap_err().to_string(),
            "expected a JSON object, got an array"
        );
        assert_eq!(
            parse("{").unwrap_err().to_string(),
            "not valid JSON: EOF while parsing an object at line 1 column 1"
        );
        // A hostile type name is not echoed whole.
        let long = format!(r#"{{"type":"{}"}}"#, "x".repeat(5000));
        assert_eq!(
            parse(&long),
            Err(ProtocolError::UnknownType("x".repeat(40)))
        );
    }

    #[test]
    fn hostile_lines_are_bounded() {
        let message = |len: usize| ClientMessage::Message {
            content: "a".repeat(len),
        };
        // `{"type":"message","content":""}` is 31 bytes.
        let at_limit = message(MAX_LINE - 31).to_line();
        assert_eq!(at_limit.len(), MAX_LINE + 1); // with its newline
        assert_eq!(parse(&at_limit), Ok(message(MAX_LINE - 31)));
        assert_eq!(
            parse(&at_limit.replace('\n', "\r\n")),
            Ok(message(MAX_LINE - 31))
        );
        assert_eq!(
            parse(&message(MAX_LINE - 30).to_line()),
            Err(ProtocolError::TooLong { len: MAX_LINE + 1 })
        );
        // Deep nesting is an error, not a stack overflow.
        let deep = format!(
            r#"{{"type":"list","x":{}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(matches!(parse(&deep), Err(ProtocolError::NotJson(_))));
        // A duplicated key keeps its last value, as json-simple's HashMap does.
        assert_eq!(
            parse(r#"{"type":"joinroom","roomid":"a","roomid":"b"}"#),
            Ok(ClientMessage::JoinRoom { roomid: "b".into() })
        );
    }

    #[test]
    fn escapes_the_java_client_may_send() {
        // json-simple writes "/" as "\/"; any escape JSON allows is read.
        assert_eq!(
            parse(r#"{"type":"message","content":"a\/b \u00e9 \ud83d\ude00 \"q\" \\"}"#),
            Ok(ClientMessage::Message {
                content: "a/b é 😀 \"q\" \\".into()
            })
        );
        // Raw UTF-8 too.
        assert_eq!(
            parse(r#"{"type":"message","content":"é😀"}"#),
            Ok(ClientMessage::Message {
                content: "é😀".into()
            })
        );
        // A lone surrogate is not text.
        assert!(matches!(
            parse(r#"{"type":"message","content":"\ud800"}"#),
            Err(ProtocolError::NotJson(_))
        ));
    }

    fn any_client_message() -> impl Strategy<Value = ClientMessage> {
        prop_oneof![
            any_text().prop_map(|identity| ClientMessage::NewIdentity { identity }),
            Just(ClientMessage::List),
            Just(ClientMessage::Who),
            any_text().prop_map(|roomid| ClientMessage::CreateRoom { roomid }),
            any_text().prop_map(|roomid| ClientMessage::JoinRoom { roomid }),
            any_text().prop_map(|roomid| ClientMessage::DeleteRoom { roomid }),
            any_text().prop_map(|content| ClientMessage::Message { content }),
            Just(ClientMessage::Quit),
            (any_text(), any_text(), any_text()).prop_map(|(identity, former, roomid)| {
                ClientMessage::MoveJoin {
                    identity,
                    former,
                    roomid,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(line in any::<String>()) {
            let _ = parse(&line);
        }

        #[test]
        fn parse_never_panics_on_json_shaped_lines(
            kind in "(newidentity|list|who|createroom|joinroom|deleteroom|message|quit|movejoin|foo)",
            fields in proptest::collection::vec(
                ("(identity|roomid|former|content|type|x)", "(\"[a-z\\\\\"]{0,4}\"|-?[0-9]{1,3}|true|null|\\[\\]|\\{\\})"),
                0..5,
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
        fn encode_then_parse_is_identity(message in any_client_message()) {
            let line = message.to_line();
            // Exactly one line, printable ASCII, whatever the content.
            prop_assert!(crate::testing::is_one_printable_line(&line), "{line:?}");
            prop_assert_eq!(parse(&line), Ok(message.clone()));
            prop_assert_eq!(parse(line.trim_end()), Ok(message));
        }
    }
}
