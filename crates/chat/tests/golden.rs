//! The reference's lines, byte for byte: every example of §2.1 and §2.2 of
//! `chat-protocol.md`, and the golden exchange of §2.6 between the real `client.jar`
//! and a reference server.
//!
//! Each client line must parse into the expected message; each server message must
//! parse from, and encode to, exactly the reference's text. Where the golden exchange
//! abbreviates a line ("roomchange Maria MainHall-s2→jokes"), it is written out in
//! the form §2.2 gives for that message.

use convene_chat::{
    ClientMessage, IdError, ProtocolError, ServerMessage, check_identity, check_room_id, main_hall,
};

fn s(text: &str) -> String {
    text.to_string()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|i| s(i)).collect()
}

/// Every line a client sends in the reference, with its meaning.
fn client_vectors() -> Vec<(&'static str, ClientMessage)> {
    vec![
        // §2.1 and §2.6
        (
            r#"{"type":"newidentity","identity":"Adel"}"#,
            ClientMessage::NewIdentity {
                identity: s("Adel"),
            },
        ),
        (
            r#"{"type":"message","content":"hi all"}"#,
            ClientMessage::Message {
                content: s("hi all"),
            },
        ),
        (r#"{"type":"list"}"#, ClientMessage::List),
        (r#"{"type":"who"}"#, ClientMessage::Who),
        (
            r#"{"type":"createroom","roomid":"jokes"}"#,
            ClientMessage::CreateRoom { roomid: s("jokes") },
        ),
        (
            r#"{"type":"joinroom","roomid":"jokes"}"#,
            ClientMessage::JoinRoom { roomid: s("jokes") },
        ),
        (
            r#"{"type":"deleteroom","roomid":"jokes"}"#,
            ClientMessage::DeleteRoom { roomid: s("jokes") },
        ),
        (
            r#"{"type":"newidentity","identity":"Bob"}"#,
            ClientMessage::NewIdentity { identity: s("Bob") },
        ),
        (r#"{"type":"quit"}"#, ClientMessage::Quit),
        (
            r#"{"type":"movejoin","identity":"Maria","former":"MainHall-s1","roomid":"jokes"}"#,
            ClientMessage::MoveJoin {
                identity: s("Maria"),
                former: s("MainHall-s1"),
                roomid: s("jokes"),
            },
        ),
        (
            r#"{"type":"movejoin","identity":"Maria","former":"MainHall-s2","roomid":"jokes"}"#,
            ClientMessage::MoveJoin {
                identity: s("Maria"),
                former: s("MainHall-s2"),
                roomid: s("jokes"),
            },
        ),
    ]
}

/// Every line a server sends in the reference, with its meaning.
fn server_vectors() -> Vec<(&'static str, ServerMessage)> {
    let change = |identity: &str, former: &str, roomid: &str| ServerMessage::RoomChange {
        identity: s(identity),
        former: s(former),
        roomid: s(roomid),
    };
    vec![
        // newidentity, accepted and refused (§2.2, §2.6)
        (
            r#"{"type":"newidentity","approved":"true"}"#,
            ServerMessage::NewIdentity { approved: true },
        ),
        (
            r#"{"type":"newidentity","approved":"false"}"#,
            ServerMessage::NewIdentity { approved: false },
        ),
        (
            r#"{"type":"roomchange","identity":"Adel","former":"","roomid":"MainHall-s1"}"#,
            change("Adel", "", "MainHall-s1"),
        ),
        // list
        (
            r#"{"type":"roomlist","rooms":["MainHall-s1","MainHall-s2","MainHall-s3","jokes"]}"#,
            ServerMessage::RoomList {
                rooms: strings(&["MainHall-s1", "MainHall-s2", "MainHall-s3", "jokes"]),
            },
        ),
        // who
        (
            r#"{"type":"roomcontents","roomid":"jokes","identities":["Adel","Maria"],"owner":"Adel"}"#,
            ServerMessage::RoomContents {
                roomid: s("jokes"),
                identities: strings(&["Adel", "Maria"]),
                owner: s("Adel"),
            },
        ),
        // createroom
        (
            r#"{"type":"createroom","roomid":"jokes","approved":"true"}"#,
            ServerMessage::CreateRoom {
                roomid: s("jokes"),
                approved: true,
            },
        ),
        (
            r#"{"type":"roomchange","identity":"Adel","former":"MainHall-s1","roomid":"jokes"}"#,
            change("Adel", "MainHall-s1", "jokes"),
        ),
        (
            r#"{"type":"createroom","roomid":"jokes","approved":"false"}"#,
            ServerMessage::CreateRoom {
                roomid: s("jokes"),
                approved: false,
            },
        ),
        // joinroom: failure ("room unchanged"), and a room on another server
        (
            r#"{"type":"roomchange","identity":"Maria","former":"MainHall-s2","roomid":"MainHall-s2"}"#,
            change("Maria", "MainHall-s2", "MainHall-s2"),
        ),
        (
            r#"{"type":"route","roomid":"jokes","host":"127.0.0.1","port":"4444"}"#,
            ServerMessage::Route {
                roomid: s("jokes"),
                host: s("127.0.0.1"),
                port: 4444,
            },
        ),
        (
            r#"{"type":"route","roomid":"jokes","host":"127.0.0.1","port":"4544"}"#,
            ServerMessage::Route {
                roomid: s("jokes"),
                host: s("127.0.0.1"),
                port: 4544,
            },
        ),
        // movejoin, on the new server: serverchange first, then the roomchange
        (
            r#"{"type":"serverchange","approved":"true","serverid":"s2"}"#,
            ServerMessage::ServerChange {
                approved: true,
                serverid: s("s2"),
            },
        ),
        (
            r#"{"type":"serverchange","approved":"true","serverid":"s1"}"#,
            ServerMessage::ServerChange {
                approved: true,
                serverid: s("s1"),
            },
        ),
        (
            r#"{"type":"roomchange","identity":"Maria","former":"MainHall-s1","roomid":"jokes"}"#,
            change("Maria", "MainHall-s1", "jokes"),
        ),
        (
            r#"{"type":"roomchange","identity":"Maria","former":"MainHall-s2","roomid":"jokes"}"#,
            change("Maria", "MainHall-s2", "jokes"),
        ),
        // message
        (
            r#"{"type":"message","identity":"Adel","content":"Hi there!"}"#,
            ServerMessage::Message {
                identity: s("Adel"),
                content: s("Hi there!"),
            },
        ),
        (
            r#"{"type":"message","identity":"Adel","content":"hi all"}"#,
            ServerMessage::Message {
                identity: s("Adel"),
                content: s("hi all"),
            },
        ),
        // deleteroom: the roomchanges, then the reply
        (
            r#"{"type":"roomchange","identity":"Adel","former":"jokes","roomid":"MainHall-s1"}"#,
            change("Adel", "jokes", "MainHall-s1"),
        ),
        (
            r#"{"type":"roomchange","identity":"Maria","former":"jokes","roomid":"MainHall-s1"}"#,
            change("Maria", "jokes", "MainHall-s1"),
        ),
        (
            r#"{"type":"deleteroom","roomid":"jokes","approved":"true"}"#,
            ServerMessage::DeleteRoom {
                roomid: s("jokes"),
                approved: true,
            },
        ),
        (
            r#"{"type":"deleteroom","roomid":"jokes","approved":"false"}"#,
            ServerMessage::DeleteRoom {
                roomid: s("jokes"),
                approved: false,
            },
        ),
        // quit
        (
            r#"{"type":"roomchange","identity":"Adel","former":"MainHall-s1","roomid":""}"#,
            change("Adel", "MainHall-s1", ""),
        ),
    ]
}

#[test]
fn client_lines_parse_and_encode_exactly() {
    for (line, message) in client_vectors() {
        assert_eq!(ClientMessage::parse(line), Ok(message.clone()), "{line}");
        assert_eq!(
            ClientMessage::parse(&format!("{line}\n")),
            Ok(message.clone())
        );
        assert_eq!(message.to_line(), format!("{line}\n"));
    }
}

#[test]
fn server_lines_parse_and_encode_exactly() {
    for (line, message) in server_vectors() {
        assert_eq!(ServerMessage::parse(line), Ok(message.clone()), "{line}");
        assert_eq!(message.to_line(), format!("{line}\n"));
    }
}

/// The Java client's json-simple writes keys in `HashMap` order, which is not the
/// reference's: the order must not matter.
#[test]
fn key_order_is_irrelevant() {
    for (line, message) in client_vectors() {
        assert_eq!(ClientMessage::parse(&reordered_keys(line)), Ok(message));
    }
    for (line, message) in server_vectors() {
        assert_eq!(ServerMessage::parse(&reordered_keys(line)), Ok(message));
    }
    assert_eq!(
        ClientMessage::parse(r#"{"identity":"Adel","type":"newidentity"}"#),
        Ok(ClientMessage::NewIdentity {
            identity: s("Adel")
        })
    );
}

/// The same object with `"type"` last and the other keys sorted, an order the
/// reference never writes (it always puts `"type"` first).
fn reordered_keys(line: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    let object = value.as_object().unwrap();
    let field = |k: &str, v: &serde_json::Value| format!("{}:{v}", serde_json::Value::from(k));
    let mut fields: Vec<String> = object
        .iter()
        .filter(|(k, _)| *k != "type")
        .map(|(k, v)| field(k, v))
        .collect();
    fields.push(field("type", &object["type"]));
    format!("{{{}}}", fields.join(","))
}

/// The ids of the golden exchange: "1ab" is well-formed JSON the server refuses in the
/// protocol, with approved "false", so parsing must not reject it.
#[test]
fn ids_of_the_exchange() {
    for id in ["Adel", "Maria", "Bob"] {
        assert_eq!(check_identity(id), Ok(()));
    }
    assert_eq!(
        ClientMessage::parse(r#"{"type":"newidentity","identity":"1ab"}"#),
        Ok(ClientMessage::NewIdentity { identity: s("1ab") })
    );
    assert!(matches!(
        check_identity("1ab"),
        Err(IdError::FirstNotLetter { .. })
    ));
    assert_eq!(check_room_id("jokes"), Ok(()));
    for server in ["s1", "s2", "s3"] {
        let hall = main_hall(server);
        assert_eq!(hall, format!("MainHall-{server}"));
        assert!(matches!(
            check_room_id(&hall),
            Err(IdError::Reserved { .. })
        ));
    }
}

/// What the server-to-server `deleteroom` of COMP90015 looks like to a client parser:
/// it lacks `approved`, so a client refuses it rather than guessing.
#[test]
fn the_comp90015_server_deleteroom_is_not_a_client_message() {
    assert_eq!(
        ServerMessage::parse(r#"{"type":"deleteroom","serverid":"s1","roomid":"jokes"}"#),
        Err(ProtocolError::MissingField {
            kind: "deleteroom",
            field: "approved"
        })
    );
}
