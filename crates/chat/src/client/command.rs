//! What a line typed into the course client sends (reference §2.1).
//!
//! The rules are the Java client's, quirks included, so that the same input gives
//! the same lines on the wire whichever client reads it:
//!
//! - A line whose first word does not start with `#` is a chat message, sent
//!   whole: leading and trailing spaces, a lone `#` further on, all of it.
//! - A command is split on **single spaces**, exactly like Java's
//!   `line.split(" ")`: two spaces in a row make an empty word, so
//!   `#joinroom  jokes` has three words and is invalid, while trailing spaces are
//!   dropped (Java drops trailing empty strings), so `#joinroom jokes ` is fine.
//!   Tabs are not separators.
//! - Commands are recognised by **prefix**, as the client's `startsWith` does:
//!   `#listing` is `#list`, `#joinroomz jokes` is `#joinroom jokes`.
//! - `#list`, `#who`, `#quit` take no argument; `#joinroom`, `#createroom`,
//!   `#deleteroom` and `#newidentity` take exactly one. Anything else is
//!   [`InvalidCommand`], and nothing is sent.
//!
//! Room ids and identities are not checked here: a bad one is the server's to
//! refuse, inside the protocol, as it would be for the Java client.
//!
//! ```
//! use convene_chat::ClientMessage;
//! use convene_chat::client::{InvalidCommand, parse_command};
//!
//! assert_eq!(
//!     parse_command("#joinroom jokes"),
//!     Ok(ClientMessage::JoinRoom { roomid: "jokes".into() })
//! );
//! assert_eq!(
//!     parse_command("hi #all"),
//!     Ok(ClientMessage::Message { content: "hi #all".into() })
//! );
//! assert_eq!(parse_command("#joinroom"), Err(InvalidCommand));
//! assert_eq!(InvalidCommand.to_string(), "Invalid command!");
//! ```

use crate::ClientMessage;

/// A line that starts with `#` but is no command of the course client.
///
/// Its text is the line the Java client prints for it, so a terminal client
/// prints this error as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Invalid command!")]
pub struct InvalidCommand;

/// The message a line typed into the client sends, without its line ending.
pub fn parse_command(line: &str) -> Result<ClientMessage, InvalidCommand> {
    let words = java_split(line);
    let Some(first) = words.first().filter(|w| w.starts_with('#')) else {
        // Not a command. This includes a line of spaces only, which Java splits
        // into no words at all and on which the Java client's send thread dies
        // (ArrayIndexOutOfBounds); here it is sent as the message it looks like.
        return Ok(ClientMessage::Message {
            content: line.to_owned(),
        });
    };
    match (words.len(), words.get(1)) {
        (1, _) if first.starts_with("#list") => Ok(ClientMessage::List),
        (1, _) if first.starts_with("#quit") => Ok(ClientMessage::Quit),
        (1, _) if first.starts_with("#who") => Ok(ClientMessage::Who),
        (2, Some(arg)) => {
            let arg = (*arg).to_owned();
            if first.starts_with("#joinroom") {
                Ok(ClientMessage::JoinRoom { roomid: arg })
            } else if first.starts_with("#createroom") {
                Ok(ClientMessage::CreateRoom { roomid: arg })
            } else if first.starts_with("#deleteroom") {
                Ok(ClientMessage::DeleteRoom { roomid: arg })
            } else if first.starts_with("#newidentity") {
                Ok(ClientMessage::NewIdentity { identity: arg })
            } else {
                Err(InvalidCommand)
            }
        }
        _ => Err(InvalidCommand),
    }
}

/// `line.split(" ")` as Java computes it: split at every single space, then drop
/// the trailing empty strings. The one exception is the empty line, which Java
/// returns whole (`[""]`) because the pattern never matched.
fn java_split(line: &str) -> Vec<&str> {
    if line.is_empty() {
        return vec![""];
    }
    let mut words: Vec<&str> = line.split(' ').collect();
    while words.last().is_some_and(|w| w.is_empty()) {
        words.pop();
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(content: &str) -> Result<ClientMessage, InvalidCommand> {
        Ok(ClientMessage::Message {
            content: content.into(),
        })
    }

    #[test]
    fn java_split_drops_only_trailing_empty_words() {
        assert_eq!(java_split(""), vec![""]);
        assert_eq!(java_split(" "), Vec::<&str>::new());
        assert_eq!(java_split("a  b "), vec!["a", "", "b"]);
        assert_eq!(java_split(" a"), vec!["", "a"]);
        assert_eq!(java_split("a\tb"), vec!["a\tb"]);
    }

    #[test]
    fn lines_without_a_leading_hash_are_messages_sent_whole() {
        for line in [
            "hi all",
            "",
            "  ",
            " #list",
            "hi #quit",
            "  padded  ",
            "é 日",
        ] {
            assert_eq!(parse_command(line), message(line), "{line:?}");
        }
    }

    #[test]
    fn commands_without_an_argument() {
        assert_eq!(parse_command("#list"), Ok(ClientMessage::List));
        assert_eq!(parse_command("#who"), Ok(ClientMessage::Who));
        assert_eq!(parse_command("#quit"), Ok(ClientMessage::Quit));
        // Trailing spaces are dropped, as Java's split drops trailing empty words.
        assert_eq!(parse_command("#list  "), Ok(ClientMessage::List));
        // Matched by prefix, like the Java client's startsWith.
        assert_eq!(parse_command("#listing"), Ok(ClientMessage::List));
        assert_eq!(parse_command("#whoami"), Ok(ClientMessage::Who));
        assert_eq!(parse_command("#quit!"), Ok(ClientMessage::Quit));
    }

    #[test]
    fn commands_with_one_argument() {
        let room = || "jokes".to_string();
        assert_eq!(
            parse_command("#joinroom jokes"),
            Ok(ClientMessage::JoinRoom { roomid: room() })
        );
        assert_eq!(
            parse_command("#createroom jokes"),
            Ok(ClientMessage::CreateRoom { roomid: room() })
        );
        assert_eq!(
            parse_command("#deleteroom jokes "),
            Ok(ClientMessage::DeleteRoom { roomid: room() })
        );
        assert_eq!(
            parse_command("#newidentity Bob"),
            Ok(ClientMessage::NewIdentity {
                identity: "Bob".into()
            })
        );
        assert_eq!(
            parse_command("#joinroomz jokes"),
            Ok(ClientMessage::JoinRoom { roomid: room() })
        );
        // The argument is not checked: the server refuses a bad id in the protocol.
        assert_eq!(
            parse_command("#createroom 1\tx"),
            Ok(ClientMessage::CreateRoom {
                roomid: "1\tx".into()
            })
        );
    }

    #[test]
    fn everything_else_is_invalid() {
        for line in [
            "#",
            "#foo",
            "#lis",
            "#list jokes",
            "#who me",
            "#quit now",
            "#joinroom",
            "#joinroom ",
            "#joinroom  jokes",
            "#joinroom jokes now",
            "#createroom a b",
            "#deleteroom",
            "#newidentity",
            "#hello world",
            "#list\t jokes",
        ] {
            assert_eq!(parse_command(line), Err(InvalidCommand), "{line:?}");
        }
    }
}
