//! What the course client prints for each server message (reference §2.4).
//!
//! The lines are the Java client's, byte for byte, so that a transcript of
//! Convene's terminal client can be compared with one of `client.jar` run
//! against the same server. Where the Java client's logic is odd, it is
//! followed anyway, and the oddity is written down here:
//!
//! - A `roomchange` is read in the Java client's order: `roomid` empty means a
//!   quit (even if `former` is empty too), then `former` empty means an arrival,
//!   then `former == roomid` means `room unchanged`.
//! - `room unchanged` is printed for a no-op `roomchange` about *anyone*, not
//!   only about this client. A conforming server sends one only to the client
//!   whose `joinroom` failed (§2.2), so the case does not arise; if a server did
//!   send one about somebody else, saying `<id> moves from X to X` would be more
//!   accurate, but printing what the Java client prints keeps transcripts equal,
//!   which is what these lines are for.
//! - A refused `newidentity` prints *this* client's identity (`me`), whichever
//!   identity was asked for: the Java client never changes its own identity,
//!   even after a `#newidentity` (see [`ChatSession`](super::ChatSession)).
//! - `message` content is printed as sent, line breaks included.
//!
//! ```
//! use convene_chat::ServerMessage;
//! use convene_chat::client::{prompt, render};
//!
//! let who = ServerMessage::RoomContents {
//!     roomid: "jokes".into(),
//!     identities: vec!["Adel".into(), "Maria".into()],
//!     owner: "Adel".into(),
//! };
//! assert_eq!(render(&who, "Maria").as_deref(), Some("jokes contains Adel* Maria"));
//! assert_eq!(prompt("jokes", "Maria"), "[jokes] Maria> ");
//! ```

use crate::ServerMessage;

/// The line the course client prints for `message`, received by the client
/// whose identity is `me`, without a line ending; `None` for a `route`, which
/// prints nothing (the client follows it, and prints the `serverchange` answer).
pub fn render(message: &ServerMessage, me: &str) -> Option<String> {
    Some(match message {
        ServerMessage::NewIdentity { approved: true } => "User has been approved.".to_owned(),
        ServerMessage::NewIdentity { approved: false } => format!("{me} already in use."),
        ServerMessage::RoomChange {
            identity,
            former,
            roomid,
        } => {
            if roomid.is_empty() {
                format!("{identity} has quit!")
            } else if former.is_empty() {
                format!("{identity} moves to {roomid}")
            } else if former == roomid {
                "room unchanged".to_owned()
            } else {
                format!("{identity} moves from {former} to {roomid}")
            }
        }
        ServerMessage::RoomList { rooms } => {
            let mut line = "List of chat rooms:".to_owned();
            for room in rooms {
                line.push(' ');
                line.push_str(room);
            }
            line
        }
        ServerMessage::RoomContents {
            roomid,
            identities,
            owner,
        } => {
            let mut line = format!("{roomid} contains");
            for identity in identities {
                line.push(' ');
                line.push_str(identity);
                if identity == owner {
                    line.push('*');
                }
            }
            line
        }
        ServerMessage::Message { identity, content } => format!("{identity}: {content}"),
        ServerMessage::CreateRoom {
            roomid,
            approved: true,
        } => format!("Room {roomid} is created."),
        ServerMessage::CreateRoom {
            roomid,
            approved: false,
        } => format!("Create room {roomid} failed."),
        ServerMessage::DeleteRoom {
            roomid,
            approved: true,
        } => format!("Room {roomid} is deleted."),
        ServerMessage::DeleteRoom {
            roomid,
            approved: false,
        } => format!("Delete room {roomid} failed."),
        ServerMessage::ServerChange {
            approved: true,
            serverid,
        } => format!("{me} switches to server {serverid}"),
        ServerMessage::ServerChange {
            approved: false, ..
        } => "Server change failed".to_owned(),
        ServerMessage::Route { .. } => return None,
    })
}

/// The course client's prompt: `[<room>] <me>> `, with an empty room before the
/// first `roomchange` (`[] Adel> `). No line ending: input is typed after it.
pub fn prompt(room: &str, me: &str) -> String {
    format!("[{room}] {me}> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(message: ServerMessage) -> String {
        render(&message, "Adel").expect("a line")
    }

    fn roomchange(identity: &str, former: &str, roomid: &str) -> ServerMessage {
        ServerMessage::RoomChange {
            identity: identity.into(),
            former: former.into(),
            roomid: roomid.into(),
        }
    }

    #[test]
    fn newidentity() {
        let approved = |approved| ServerMessage::NewIdentity { approved };
        assert_eq!(line(approved(true)), "User has been approved.");
        assert_eq!(line(approved(false)), "Adel already in use.");
    }

    #[test]
    fn roomchange_in_the_java_clients_order() {
        assert_eq!(
            line(roomchange("Adel", "", "MainHall-s1")),
            "Adel moves to MainHall-s1"
        );
        assert_eq!(
            line(roomchange("Maria", "MainHall-s2", "jokes")),
            "Maria moves from MainHall-s2 to jokes"
        );
        assert_eq!(line(roomchange("Adel", "jokes", "jokes")), "room unchanged");
        // About someone else too: the Java client does not look at the identity.
        assert_eq!(
            line(roomchange("Maria", "jokes", "jokes")),
            "room unchanged"
        );
        assert_eq!(
            line(roomchange("Adel", "MainHall-s1", "")),
            "Adel has quit!"
        );
        assert_eq!(line(roomchange("Maria", "jokes", "")), "Maria has quit!");
        // An empty roomid is a quit before anything else.
        assert_eq!(line(roomchange("Maria", "", "")), "Maria has quit!");
    }

    #[test]
    fn roomlist() {
        let rooms = |rooms: &[&str]| ServerMessage::RoomList {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
        };
        assert_eq!(
            line(rooms(&["MainHall-s1", "MainHall-s2", "jokes"])),
            "List of chat rooms: MainHall-s1 MainHall-s2 jokes"
        );
        assert_eq!(line(rooms(&[])), "List of chat rooms:");
    }

    #[test]
    fn roomcontents_marks_the_owner() {
        let who = |roomid: &str, identities: &[&str], owner: &str| ServerMessage::RoomContents {
            roomid: roomid.into(),
            identities: identities.iter().map(|i| i.to_string()).collect(),
            owner: owner.into(),
        };
        assert_eq!(
            line(who("jokes", &["Adel", "Maria", "Bob"], "Maria")),
            "jokes contains Adel Maria* Bob"
        );
        assert_eq!(
            line(who("MainHall-s1", &["Adel", "Maria"], "")),
            "MainHall-s1 contains Adel Maria"
        );
        assert_eq!(line(who("empty", &[], "")), "empty contains");
    }

    #[test]
    fn message_is_printed_as_sent() {
        let message = |content: &str| ServerMessage::Message {
            identity: "Maria".into(),
            content: content.into(),
        };
        assert_eq!(line(message("hi all")), "Maria: hi all");
        assert_eq!(line(message("")), "Maria: ");
        assert_eq!(line(message("two\nlines")), "Maria: two\nlines");
    }

    #[test]
    fn createroom_and_deleteroom() {
        let roomid = || "jokes".to_string();
        let create = |approved| ServerMessage::CreateRoom {
            roomid: roomid(),
            approved,
        };
        let delete = |approved| ServerMessage::DeleteRoom {
            roomid: roomid(),
            approved,
        };
        assert_eq!(line(create(true)), "Room jokes is created.");
        assert_eq!(line(create(false)), "Create room jokes failed.");
        assert_eq!(line(delete(true)), "Room jokes is deleted.");
        assert_eq!(line(delete(false)), "Delete room jokes failed.");
    }

    #[test]
    fn serverchange_and_route() {
        let change = |approved| ServerMessage::ServerChange {
            approved,
            serverid: "s2".into(),
        };
        assert_eq!(line(change(true)), "Adel switches to server s2");
        assert_eq!(line(change(false)), "Server change failed");
        let route = ServerMessage::Route {
            roomid: "jokes".into(),
            host: "127.0.0.1".into(),
            port: 4444,
        };
        assert_eq!(render(&route, "Adel"), None);
    }

    #[test]
    fn prompt_shows_room_and_identity() {
        assert_eq!(prompt("MainHall-s1", "Adel"), "[MainHall-s1] Adel> ");
        assert_eq!(prompt("", "Adel"), "[] Adel> ");
    }
}
