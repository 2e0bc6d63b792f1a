//! Every on-screen line of the EE450 spec, in one place.
//!
//! The spec's tables (4, 7 and 8) fix what the backends, the main server and
//! the client print. Where the spec's own example output disagrees with its
//! tables (`ServerA` against `Server A`), the tables win. Lines the spec does
//! not define (one backend involved, registration at the main server) follow
//! the nearest defined line's wording.

use std::fmt::{self, Display};

use convene_time::{Interval, SlotList};

/// `alice, bob, carol`: how the spec lists names.
pub fn names<S: AsRef<str>>(list: &[S]) -> impl Display + '_ {
    fmt::from_fn(move |f| {
        for (i, n) in list.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(n.as_ref())?;
        }
        Ok(())
    })
}

/// `A and B`, `A, B and C`: how the spec joins server letters.
pub fn servers<S: AsRef<str>>(list: &[S]) -> impl Display + '_ {
    fmt::from_fn(move |f| match list {
        [] => Ok(()),
        [one] => f.write_str(one.as_ref()),
        [init @ .., last] => write!(f, "{} and {}", names(init), last.as_ref()),
    })
}

// ---- Backend (Table 4) ----

/// A backend has started.
pub fn backend_up(server: &str, port: u16) -> impl Display + '_ {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Server {server} is up and running using UDP on port {port}."
        )
    })
}

/// A backend has told a main server its user names.
pub fn backend_sent_names(server: &str) -> impl Display + '_ {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Server {server} finished sending a list of usernames to Main Server."
        )
    })
}

/// A backend got a query.
pub fn backend_received(server: &str, port: u16) -> impl Display + '_ {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Server {server} received the usernames from Main Server using UDP over port {port}."
        )
    })
}

/// A backend's own intersection.
pub fn backend_found<'a, S: AsRef<str>>(result: &'a SlotList, users: &'a [S]) -> impl Display + 'a {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Found the intersection result: {result} for {}.",
            names(users)
        )
    })
}

/// A backend has replied.
pub fn backend_replied(server: &str) -> impl Display + '_ {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Server {server} finished sending the response to Main Server."
        )
    })
}

/// A backend registers a meeting (extra credit); one [`backend_updated`] line
/// per user follows.
pub fn backend_register(slot: &Interval) -> impl Display + '_ {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Register a meeting at {slot} and update the availability for the following users:"
        )
    })
}

/// One user's availability before and after a registration.
pub fn backend_updated<'a>(
    user: &'a str,
    before: &'a SlotList,
    after: &'a SlotList,
) -> impl Display + 'a {
    fmt::from_fn(move |f| write!(f, "{user}: updated from {before} to {after}"))
}

/// A backend has finished a registration.
pub const BACKEND_REGISTERED: &str = "Notified Main Server that registration has finished.";

// ---- Main server (Table 7) ----

/// The main server has started.
pub const MAIN_UP: &str = "Main Server is up and running.";

/// The main server has a backend's full user list.
pub fn main_got_names(server: &str, port: u16) -> impl Display + '_ {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Main Server received the username list from server {server} using UDP over port {port}."
        )
    })
}

/// The main server got a client's query.
pub fn main_got_request(port: u16) -> impl Display {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Main Server received the request from client using TCP over port {port}."
        )
    })
}

/// Names no backend holds.
pub fn main_missing<S: AsRef<str>>(missing: &[S]) -> impl Display + '_ {
    fmt::from_fn(move |f| {
        write!(
            f,
            "{} do not exist. Send a reply to the client.",
            names(missing)
        )
    })
}

/// Names one backend holds, about to be sent to it.
pub fn main_found_at<'a, S: AsRef<str>>(users: &'a [S], server: &'a str) -> impl Display + 'a {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Found {} located at Server {server}. Send to Server {server}.",
            names(users)
        )
    })
}

/// A backend's partial result (two lines).
pub fn main_got_partial<'a>(
    server: &'a str,
    port: u16,
    partial: &'a SlotList,
) -> (impl Display + 'a, impl Display + 'a) {
    (
        fmt::from_fn(move |f| {
            write!(
                f,
                "Main Server received from server {server} the intersection result using UDP over port {port}:"
            )
        }),
        fmt::from_fn(move |f| write!(f, "{partial}.")),
    )
}

/// The final intersection (two lines).
pub fn main_final<'a, S: AsRef<str>>(
    servers_involved: &'a [S],
    result: &'a SlotList,
) -> (impl Display + 'a, impl Display + 'a) {
    (
        fmt::from_fn(move |f| {
            write!(
                f,
                "Found the intersection between the results from server {}:",
                servers(servers_involved)
            )
        }),
        fmt::from_fn(move |f| write!(f, "{result}.")),
    )
}

/// Names held by a backend that did not answer (not in the spec; worded
/// as [`main_missing`] is).
pub fn main_unreachable<'a, S: AsRef<str>>(users: &'a [S], server: &'a str) -> impl Display + 'a {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Server {server} did not answer: {} unreachable. Send a reply to the client.",
            names(users)
        )
    })
}

/// Names on no known list while some backend's list is not known yet (not
/// in the spec): they may be there, so they are not said not to exist.
pub fn main_unplaced<'a, S: AsRef<str>, T: AsRef<str>>(
    users: &'a [S],
    silent: &'a [T],
) -> impl Display + 'a {
    fmt::from_fn(move |f| {
        write!(
            f,
            "No username list yet from Server {}: {} unreachable. Send a reply to the client.",
            servers(silent),
            names(users)
        )
    })
}

/// Why some users could not be asked, for [`unreachable_reply`].
pub enum Unreached<'a> {
    /// Their backend did not answer.
    NoAnswer {
        /// The backend.
        server: &'a str,
        /// Its users in the request.
        users: &'a [String],
    },
    /// No known list holds them and these backends have not sent theirs.
    NoList {
        /// The backends not heard from.
        silent: &'a [&'a str],
        /// The users.
        users: &'a [String],
    },
}

/// The text of the `error` reply when some users could not be asked: the
/// names that do not exist (if any), then who is unreachable and why, then
/// what to do. One line, so every client shows it whole, e.g.
/// `luis do not exist; bob, amy unreachable (Server B did not answer); try again later`.
pub fn unreachable_reply<'a, S: AsRef<str>>(
    missing: &'a [S],
    unreached: &'a [Unreached<'a>],
    then: &'a str,
) -> impl Display + 'a {
    fmt::from_fn(move |f| {
        if !missing.is_empty() {
            write!(f, "{} do not exist; ", names(missing))?;
        }
        for u in unreached {
            match u {
                Unreached::NoAnswer { server, users } => write!(
                    f,
                    "{} unreachable (Server {server} did not answer); ",
                    names(users)
                )?,
                Unreached::NoList { silent, users } => write!(
                    f,
                    "{} unreachable (no username list yet from Server {}); ",
                    names(users),
                    servers(silent)
                )?,
            }
        }
        f.write_str(then)
    })
}

/// The main server has answered.
pub const MAIN_SENT: &str = "Main Server sent the result to the client.";

/// The main server got a registration (not in the spec's tables).
pub fn main_got_registration<'a, S: AsRef<str>>(
    slot: &'a Interval,
    users: &'a [S],
    port: u16,
) -> impl Display + 'a {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Main Server received the request to register {slot} for {} from client using TCP over port {port}.",
            names(users)
        )
    })
}

/// The main server forwards a registration to one backend.
pub fn main_forward_registration<'a, S: AsRef<str>>(
    users: &'a [S],
    server: &'a str,
) -> impl Display + 'a {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Found {} located at Server {server}. Send the meeting to Server {server}.",
            names(users)
        )
    })
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
pub fn client_got_reply(port: u16) -> impl Display {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Client received the reply from Main Server using TCP over port {port}:"
        )
    })
}

/// Names that do not exist, as the client shows them.
pub fn client_missing<S: AsRef<str>>(missing: &[S]) -> impl Display + '_ {
    fmt::from_fn(move |f| write!(f, "{} do not exist.", names(missing)))
}

/// The recommendation, as the client shows it.
pub fn client_result<'a, S: AsRef<str>>(result: &'a SlotList, users: &'a [S]) -> impl Display + 'a {
    fmt::from_fn(move |f| write!(f, "Time intervals {result} works for {}.", names(users)))
}

/// A meeting time outside every recommended interval.
pub fn client_invalid_time<T: Display>(slot: T) -> impl Display {
    fmt::from_fn(move |f| write!(f, "Time interval {slot} is not valid. Please enter again:"))
}

/// The client sends a registration.
pub fn client_registering<'a, S: AsRef<str>>(
    slot: &'a Interval,
    users: &'a [S],
) -> impl Display + 'a {
    fmt::from_fn(move |f| {
        write!(
            f,
            "Sent the request to register {slot} as the meeting time for {}.",
            names(users)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_like_the_spec() {
        assert_eq!(
            names(&["eliana", "theodore", "bob"]).to_string(),
            "eliana, theodore, bob"
        );
        assert_eq!(servers(&["A"]).to_string(), "A");
        assert_eq!(servers(&["A", "B"]).to_string(), "A and B");
        assert_eq!(servers(&["A", "B", "C"]).to_string(), "A, B and C");
    }

    #[test]
    fn spec_examples() {
        let r = SlotList::from_sorted(vec![
            Interval::new(2, 3).unwrap(),
            Interval::new(17, 18).unwrap(),
        ])
        .unwrap();
        assert_eq!(
            client_result(&r, &["eliana", "theodore", "bob", "alice", "amy"]).to_string(),
            "Time intervals [[2,3],[17,18]] works for eliana, theodore, bob, alice, amy."
        );
        assert_eq!(
            main_missing(&["luis"]).to_string(),
            "luis do not exist. Send a reply to the client."
        );
        assert_eq!(
            main_found_at(&["eliana", "alice"], "A").to_string(),
            "Found eliana, alice located at Server A. Send to Server A."
        );
        let (first, second) = main_final(&["A", "B"], &r);
        assert_eq!(
            first.to_string(),
            "Found the intersection between the results from server A and B:"
        );
        assert_eq!(second.to_string(), "[[2,3],[17,18]].");
    }

    #[test]
    fn unreachable_users_are_named_with_the_reason() {
        let (bob, ghost) = (
            vec!["bob".to_string(), "amy".into()],
            vec!["ghost".to_string()],
        );
        let unreached = [
            Unreached::NoAnswer {
                server: "B",
                users: &bob,
            },
            Unreached::NoList {
                silent: &["C", "D"],
                users: &ghost,
            },
        ];
        let reply = unreachable_reply(&["luis"], &unreached, "try again later");
        assert_eq!(
            reply.to_string(),
            "luis do not exist; bob, amy unreachable (Server B did not answer); \
             ghost unreachable (no username list yet from Server C and D); try again later"
        );
        assert_eq!(
            main_unreachable(&bob, "B").to_string(),
            "Server B did not answer: bob, amy unreachable. Send a reply to the client."
        );
        assert_eq!(
            main_unplaced(&ghost, &["C"]).to_string(),
            "No username list yet from Server C: ghost unreachable. Send a reply to the client."
        );
    }
}
