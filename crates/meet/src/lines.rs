//! Every on-screen line of the EE450 spec, in one place.
//!
//! The spec's tables (4, 7 and 8) fix what the backends, the main server and
//! the client print. Where the spec's own example output disagrees with its
//! tables (`ServerA` against `Server A`), the tables win. Lines the spec does
//! not define (one backend involved, registration at the main server) follow
//! the nearest defined line's wording.

use std::fmt::Display;

use convene_time::{Interval, SlotList};

/// `alice, bob, carol`: how the spec lists names.
pub fn names(list: &[impl AsRef<str>]) -> String {
    let mut out = String::new();
    for (i, n) in list.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(n.as_ref());
    }
    out
}

/// `A and B`, `A, B and C`: how the spec joins server letters.
pub fn servers(list: &[impl AsRef<str>]) -> String {
    match list {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => format!("{} and {}", names(init), last.as_ref()),
    }
}

// ---- Backend (Table 4) ----

/// A backend has started.
pub fn backend_up(server: &str, port: u16) -> String {
    format!("Server {server} is up and running using UDP on port {port}.")
}

/// A backend has told a main server its user names.
pub fn backend_sent_names(server: &str) -> String {
    format!("Server {server} finished sending a list of usernames to Main Server.")
}

/// A backend got a query.
pub fn backend_received(server: &str, port: u16) -> String {
    format!("Server {server} received the usernames from Main Server using UDP over port {port}.")
}

/// A backend's own intersection.
pub fn backend_found(result: &SlotList, users: &[impl AsRef<str>]) -> String {
    format!(
        "Found the intersection result: {result} for {}.",
        names(users)
    )
}

/// A backend has replied.
pub fn backend_replied(server: &str) -> String {
    format!("Server {server} finished sending the response to Main Server.")
}

/// A backend registers a meeting (extra credit); one [`backend_updated`] line
/// per user follows.
pub fn backend_register(slot: &Interval) -> String {
    format!("Register a meeting at {slot} and update the availability for the following users:")
}

/// One user's availability before and after a registration.
pub fn backend_updated(user: &str, before: &SlotList, after: &SlotList) -> String {
    format!("{user}: updated from {before} to {after}")
}

/// A backend has finished a registration.
pub fn backend_registered() -> &'static str {
    "Notified Main Server that registration has finished."
}

// ---- Main server (Table 7) ----

/// The main server has started.
pub const MAIN_UP: &str = "Main Server is up and running.";

/// The main server has a backend's full user list.
pub fn main_got_names(server: &str, port: u16) -> String {
    format!(
        "Main Server received the username list from server {server} using UDP over port {port}."
    )
}

/// The main server got a client's query.
pub fn main_got_request(port: u16) -> String {
    format!("Main Server received the request from client using TCP over port {port}.")
}

/// Names no backend holds.
pub fn main_missing(missing: &[impl AsRef<str>]) -> String {
    format!(
        "{} do not exist. Send a reply to the client.",
        names(missing)
    )
}

/// Names one backend holds, about to be sent to it.
pub fn main_found_at(users: &[impl AsRef<str>], server: &str) -> String {
    format!(
        "Found {} located at Server {server}. Send to Server {server}.",
        names(users)
    )
}

/// A backend's partial result (two lines).
pub fn main_got_partial(server: &str, port: u16, partial: &SlotList) -> [String; 2] {
    [
        format!(
            "Main Server received from server {server} the intersection result using UDP over port {port}:"
        ),
        format!("{partial}."),
    ]
}

/// The final intersection (two lines).
pub fn main_final(servers_involved: &[impl AsRef<str>], result: &SlotList) -> [String; 2] {
    [
        format!(
            "Found the intersection between the results from server {}:",
            servers(servers_involved)
        ),
        format!("{result}."),
    ]
}

/// The main server has answered.
pub const MAIN_SENT: &str = "Main Server sent the result to the client.";

/// The main server got a registration (not in the spec's tables).
pub fn main_got_registration(slot: &Interval, users: &[impl AsRef<str>], port: u16) -> String {
    format!(
        "Main Server received the request to register {slot} for {} from client using TCP over port {port}.",
        names(users)
    )
}

/// The main server forwards a registration to one backend.
pub fn main_forward_registration(users: &[impl AsRef<str>], server: &str) -> String {
    format!(
        "Found {} located at Server {server}. Send the meeting to Server {server}.",
        names(users)
    )
}

/// The main server has confirmed a registration to the client.
pub const MAIN_REGISTERED: &str = "Main Server notified the client that registration has finished.";

// ---- Client (Table 8) ----

/// The client has started.
pub const CLIENT_UP: &str = "Client is up and running.";
/// The client's prompt for names.
pub const CLIENT_PROMPT: &str = "Please enter the usernames to check schedule availability:";
/// The client has sent a query.
pub const CLIENT_SENT: &str = "Client finished sending the usernames to Main Server.";
/// The client starts over.
pub const CLIENT_NEW_REQUEST: &str = "-----Start a new request-----";
/// The extra credit's prompt (the spec's "an meeting" kept as written).
pub const CLIENT_MEETING_PROMPT: &str =
    "Please enter the final meeting time to register an meeting:";
/// The main server confirmed a registration.
pub const CLIENT_REGISTERED: &str = "Received the notification that registration has finished.";

/// The first line of every reply the client shows.
pub fn client_got_reply(port: u16) -> String {
    format!("Client received the reply from Main Server using TCP over port {port}:")
}

/// Names that do not exist, as the client shows them.
pub fn client_missing(missing: &[impl AsRef<str>]) -> String {
    format!("{} do not exist.", names(missing))
}

/// The recommendation, as the client shows it.
pub fn client_result(result: &SlotList, users: &[impl AsRef<str>]) -> String {
    format!("Time intervals {result} works for {}.", names(users))
}

/// A meeting time outside every recommended interval.
pub fn client_invalid_time(slot: impl Display) -> String {
    format!("Time interval {slot} is not valid. Please enter again:")
}

/// The client sends a registration.
pub fn client_registering(slot: &Interval, users: &[impl AsRef<str>]) -> String {
    format!(
        "Sent the request to register {slot} as the meeting time for {}.",
        names(users)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_like_the_spec() {
        assert_eq!(
            names(&["eliana", "theodore", "bob"]),
            "eliana, theodore, bob"
        );
        assert_eq!(servers(&["A"]), "A");
        assert_eq!(servers(&["A", "B"]), "A and B");
        assert_eq!(servers(&["A", "B", "C"]), "A, B and C");
    }

    #[test]
    fn spec_examples() {
        let r = SlotList::from_sorted(vec![
            Interval::new(2, 3).unwrap(),
            Interval::new(17, 18).unwrap(),
        ])
        .unwrap();
        assert_eq!(
            client_result(&r, &["eliana", "theodore", "bob", "alice", "amy"]),
            "Time intervals [[2,3],[17,18]] works for eliana, theodore, bob, alice, amy."
        );
        assert_eq!(
            main_missing(&["luis"]),
            "luis do not exist. Send a reply to the client."
        );
        assert_eq!(
            main_found_at(&["eliana", "alice"], "A"),
            "Found eliana, alice located at Server A. Send to Server A."
        );
        assert_eq!(
            main_final(&["A", "B"], &r),
            [
                "Found the intersection between the results from server A and B:".to_string(),
                "[[2,3],[17,18]].".to_string()
            ]
        );
    }
}
