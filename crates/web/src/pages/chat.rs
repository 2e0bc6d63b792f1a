//! `/chat`: a browser chat client of this node's chat server. The page is
//! a server-rendered shell (the identity form, the room list, the log, the
//! message box); `/chat.js` ([`scripts::CHAT`]) connects it to `/api/chat` and speaks the
//! course protocol's JSON messages, one per WebSocket frame (see
//! `ops/chat.rs`). Without script the page says the chat needs it.
//!
//! The identity offered is the account's name when it meets the course's
//! rules (`^[A-Za-z][A-Za-z0-9]{2,15}$`); otherwise the page says why and
//! offers a name made from it ([`identity_for`]), which the person may
//! accept or edit. The chat server checks the rules and the uniqueness
//! again, as for every client.

use std::sync::Arc;

use axum::Extension;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use convene_chat::ids::{MAX_ID_LEN, MIN_ID_LEN, check_identity, check_room_id};
use maud::html;
use serde::Deserialize;

use crate::ops::Ops;
use crate::pages::layout::{self, page};
use crate::scripts;
use crate::session::Viewer;

/// The identity to offer `account`, and why the account's own name cannot
/// be it (if it cannot). The name made keeps the account's letters and
/// digits in order, starts with a letter (`u` in front otherwise), is cut
/// to 16 and padded to 3.
pub fn identity_for(account: &str) -> (String, Option<String>) {
    let Err(problem) = check_identity(account) else {
        return (account.to_string(), None);
    };
    let mut name: String = account
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert(0, 'u');
    }
    name.truncate(MAX_ID_LEN);
    while name.len() < MIN_ID_LEN {
        name.push('x');
    }
    (name, Some(problem.to_string()))
}

/// `?room=`: a room to enter once connected (made if nobody has), as a
/// final event's page links it.
#[derive(Deserialize, Default)]
pub struct ChatQuery {
    #[serde(default)]
    room: Option<String>,
}

/// `GET /chat`.
pub async fn show(
    Extension(ops): Extension<Arc<Ops>>,
    viewer: Viewer,
    Query(query): Query<ChatQuery>,
) -> Response {
    // A room id that breaks the rules is not passed on: the page says so.
    let wanted = query.room.filter(|r| !r.is_empty());
    let room_problem = wanted
        .as_deref()
        .and_then(|r| check_room_id(r).err().map(|e| e.to_string()));
    let wanted = wanted.filter(|_| room_problem.is_none());
    let server = ops
        .chat
        .as_ref()
        .map(|c| c.chat.server_id())
        .unwrap_or_default();
    let (identity, problem) = identity_for(&viewer.name);
    let markup = page(
        "Chat",
        Some(&viewer),
        html! {
            h1 { "Chat" }
            p.hint {
                "You chat as a client of server " strong { (server) } ", in the same rooms as "
                code { "convene chat" } " and the course's " code { "client.jar" } " users."
            }
            noscript { p.error { "The chat needs JavaScript: it talks to the server over a WebSocket." } }
            p #chat-status .notice role="status" aria-live="polite" hidden { }
            @if let Some(problem) = &room_problem {
                p.error role="alert" { "Not a room to enter: " (problem) }
            }
            form #chat-join .card data-server=(server) data-room=[wanted.as_deref()] {
                @if let Some(room) = &wanted {
                    p.hint { "Once connected you enter room " strong { (room) } " (made if nobody has)." }
                }
                label for="chat-identity" { "Identity" }
                @if let Some(problem) = &problem {
                    p.hint #chat-identity-why {
                        "Your account name cannot be a chat identity: " (problem)
                        ". Suggested instead:"
                    }
                }
                input #chat-identity name="identity" value=(identity) required
                    minlength=(MIN_ID_LEN) maxlength=(MAX_ID_LEN) pattern="[A-Za-z][A-Za-z0-9]{2,15}"
                    autocomplete="off" aria-describedby="chat-identity-rule";
                p.hint #chat-identity-rule {
                    "3 to 16 letters and digits, starting with a letter; unique across the cluster."
                }
                div.actions { button type="submit" { "Connect" } }
            }
            div #chat-room hidden {
                section.card aria-labelledby="chat-rooms-heading" {
                    h2 #chat-rooms-heading { "Rooms" }
                    p { "You are in " strong #chat-current { } " as " strong #chat-me { } "." }
                    ul.plain #chat-rooms { }
                    div.actions {
                        button.secondary #chat-list type="button" { "Refresh rooms" }
                        button.secondary #chat-who type="button" { "Who is here" }
                        button.secondary #chat-quit type="button" { "Leave the chat" }
                    }
                    form #chat-create {
                        label for="chat-new-room" { "New room" }
                        input #chat-new-room required minlength=(MIN_ID_LEN) maxlength=(MAX_ID_LEN)
                            pattern="[A-Za-z][A-Za-z0-9]{2,15}" autocomplete="off";
                        div.actions { button type="submit" { "Create and enter" } }
                    }
                }
                section.card aria-labelledby="chat-log-heading" {
                    h2 #chat-log-heading { "Messages" }
                    ol.plain #chat-log aria-live="polite" { }
                    form #chat-send {
                        label for="chat-message" { "Message" }
                        input #chat-message required autocomplete="off" maxlength="4000";
                        div.actions { button type="submit" { "Send" } }
                    }
                }
            }
            script src=(scripts::chat_src()) defer { }
        },
    );
    layout::html(StatusCode::OK, markup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_account_name_is_the_identity() {
        assert_eq!(identity_for("ada"), ("ada".into(), None));
        assert_eq!(identity_for("Grace1906"), ("Grace1906".into(), None));
    }

    #[test]
    fn other_names_get_a_valid_one_and_the_reason() {
        for (account, offered) in [
            ("ada.lovelace", "adalovelace"),
            ("1984", "u1984"),
            ("al", "alx"),
            ("a_very-long.account-name", "averylongaccount"),
            ("--", "uxx"),
        ] {
            let (name, why) = identity_for(account);
            assert_eq!(name, offered);
            assert!(why.is_some(), "{account}");
            assert!(check_identity(&name).is_ok(), "{name}");
        }
    }
}
