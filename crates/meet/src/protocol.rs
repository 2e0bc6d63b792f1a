//! The client protocol: how `convene meet` talks to a main node over TCP.
//!
//! The seed fixes no wire format between its client and main server, so this
//! one is chosen to be read and typed by hand (`nc 127.0.0.1 24092`): one
//! request line, one reply line, UTF-8, at most [`MAX_LINE`] bytes.
//!
//! ```text
//! query eliana theodore luis
//! result missing=luis found=eliana,theodore slots=[[2,3],[17,18]]
//!
//! register [17,18] eliana theodore
//! registered [17,18]
//!
//! query Bob
//! error "Bob" is not a valid username: use lowercase letters a-z only
//!
//! query eliana bob luis
//! error luis do not exist; bob unreachable (Server B did not answer); try again later
//! ```
//!
//! Users the main node cannot reach (their backend did not answer, or a
//! backend it has never heard from may hold them) are answered with an
//! `error` line, not a new kind of reply, so every client that reads this
//! protocol, older ones included, shows the reason as it is; the wording is
//! [`lines::unreachable_reply`](crate::lines::unreachable_reply).
//!
//! In a `result`, an empty list of names is written `-`; `slots` is absent
//! when no name exists (nothing was intersected).

use convene_time::{Interval, SlotList};

use crate::availability::{parse_interval, parse_slot_list};
use crate::name::{MAX_NAMES_PER_QUERY, NameError, check_name};

/// The longest line either side accepts, newline included.
pub const MAX_LINE: usize = 1024;

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Which of these users exist, and when are they all free?
    Query(Vec<String>),
    /// Book `slot` for these users.
    Register(Interval, Vec<String>),
}

/// What a main node answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The answer to a query.
    Result {
        /// Names no backend holds, in request order.
        missing: Vec<String>,
        /// Names that exist, in request order.
        found: Vec<String>,
        /// When every found user is free; `None` when none was found.
        slots: Option<SlotList>,
    },
    /// The meeting is registered on every backend involved.
    Registered(Interval),
    /// The request was refused or failed; the text says why.
    Error(String),
}

/// Why a line is not a valid request or reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The line is empty.
    #[error("empty request: send `query <names>` or `register [start,end] <names>`")]
    Empty,
    /// The first word is not a known command.
    #[error("unknown command {0:?}: send `query <names>` or `register [start,end] <names>`")]
    UnknownCommand(String),
    /// A query or registration without names.
    #[error("please enter at least one username")]
    NoNames,
    /// More than [`MAX_NAMES_PER_QUERY`] names.
    #[error("please enter at most 10 usernames (got {0})")]
    TooManyNames(usize),
    /// A name breaks the EE450 rules.
    #[error(transparent)]
    BadName(#[from] NameError),
    /// A malformed interval or list.
    #[error("bad time interval: {0}")]
    BadTime(String),
    /// A reply this client cannot read.
    #[error("unreadable reply from the server: {0:?}")]
    BadReply(String),
}

/// Checks and de-duplicates user names (first occurrence wins, order kept).
pub fn check_names<'a>(
    words: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, ProtocolError> {
    let mut names: Vec<String> = Vec::new();
    let mut count = 0;
    for word in words {
        count += 1;
        check_name(word)?;
        if !names.iter().any(|n| n == word) {
            names.push(word.to_string());
        }
    }
    if count == 0 {
        return Err(ProtocolError::NoNames);
    }
    if count > MAX_NAMES_PER_QUERY {
        return Err(ProtocolError::TooManyNames(count));
    }
    Ok(names)
}

impl Request {
    /// Parses one request line (without its newline).
    pub fn parse(line: &str) -> Result<Request, ProtocolError> {
        let line = line.trim();
        let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match command {
            "" => Err(ProtocolError::Empty),
            "query" => Ok(Request::Query(check_names(rest.split_whitespace())?)),
            "register" => {
                let rest = rest.trim_start();
                let close = rest.find(']').ok_or_else(|| {
                    let found: String = rest.chars().take(40).collect();
                    ProtocolError::BadTime(format!("expected [start,end] but found {found:?}"))
                })?;
                let slot = parse_interval(&rest[..=close])
                    .map_err(|e| ProtocolError::BadTime(e.to_string()))?;
                Ok(Request::Register(
                    slot,
                    check_names(rest[close + 1..].split_whitespace())?,
                ))
            }
            other => Err(ProtocolError::UnknownCommand(
                other.chars().take(40).collect(),
            )),
        }
    }

    /// The request as one line, newline included.
    pub fn to_line(&self) -> String {
        match self {
            Request::Query(names) => format!("query {}\n", names.join(" ")),
            Request::Register(slot, names) => format!("register {slot} {}\n", names.join(" ")),
        }
    }
}

fn csv(names: &[String]) -> String {
    if names.is_empty() {
        "-".to_string()
    } else {
        names.join(",")
    }
}

fn parse_csv(text: &str) -> Result<Vec<String>, ProtocolError> {
    if text == "-" {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|n| {
            check_name(n)
                .map(|()| n.to_string())
                .map_err(ProtocolError::from)
        })
        .collect()
}

impl Reply {
    /// The reply as one line, newline included.
    pub fn to_line(&self) -> String {
        match self {
            Reply::Result {
                missing,
                found,
                slots,
            } => {
                let mut line = format!("result missing={} found={}", csv(missing), csv(found));
                if let Some(slots) = slots {
                    line.push_str(&format!(" slots={slots}"));
                }
                line.push('\n');
                line
            }
            Reply::Registered(slot) => format!("registered {slot}\n"),
            // A message never spans lines.
            Reply::Error(message) => format!("error {}\n", message.replace(['\r', '\n'], " ")),
        }
    }

    /// Parses one reply line (without its newline).
    pub fn parse(line: &str) -> Result<Reply, ProtocolError> {
        let bad = || ProtocolError::BadReply(line.chars().take(80).collect());
        let line = line.trim_end();
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        match command {
            // As in `to_line`: a message never carries a line break.
            "error" => Ok(Reply::Error(rest.replace(['\r', '\n'], " "))),
            "registered" => Ok(Reply::Registered(parse_interval(rest).map_err(|_| bad())?)),
            "result" => {
                let mut missing = None;
                let mut found = None;
                let mut slots = None;
                for field in rest.split(' ') {
                    match field.split_once('=') {
                        Some(("missing", v)) => missing = Some(parse_csv(v).map_err(|_| bad())?),
                        Some(("found", v)) => found = Some(parse_csv(v).map_err(|_| bad())?),
                        Some(("slots", v)) => slots = Some(parse_slot_list(v).map_err(|_| bad())?),
                        _ => return Err(bad()),
                    }
                }
                Ok(Reply::Result {
                    missing: missing.ok_or_else(bad)?,
                    found: found.ok_or_else(bad)?,
                    slots,
                })
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(a: u32, b: u32) -> Interval {
        Interval::new(a, b).unwrap()
    }

    #[test]
    fn requests_parse_and_round_trip() {
        let q = Request::parse("query  eliana theodore eliana luis ").unwrap();
        assert_eq!(
            q,
            Request::Query(vec!["eliana".into(), "theodore".into(), "luis".into()])
        );
        assert_eq!(Request::parse(q.to_line().trim_end()).unwrap(), q);
        let r = Request::parse("register [ 17 , 18 ] alice bob").unwrap();
        assert_eq!(
            r,
            Request::Register(iv(17, 18), vec!["alice".into(), "bob".into()])
        );
        assert_eq!(Request::parse(r.to_line().trim_end()).unwrap(), r);
    }

    #[test]
    fn bad_requests_say_why() {
        assert_eq!(Request::parse(""), Err(ProtocolError::Empty));
        assert_eq!(Request::parse("query"), Err(ProtocolError::NoNames));
        assert!(matches!(
            Request::parse("query Bob"),
            Err(ProtocolError::BadName(_))
        ));
        let eleven = ["a"; 11].join(" ");
        assert_eq!(
            Request::parse(&format!("query {eleven}")),
            Err(ProtocolError::TooManyNames(11))
        );
        assert!(matches!(
            Request::parse("fetch x"),
            Err(ProtocolError::UnknownCommand(_))
        ));
        assert!(matches!(
            Request::parse("register [18,17] a"),
            Err(ProtocolError::BadTime(_))
        ));
        assert!(matches!(
            Request::parse("register 17 18 a"),
            Err(ProtocolError::BadTime(_))
        ));
        assert_eq!(
            Request::parse("register [1,2]"),
            Err(ProtocolError::NoNames)
        );
    }

    #[test]
    fn replies_round_trip() {
        let slots = SlotList::from_sorted(vec![iv(2, 3), iv(17, 18)]).unwrap();
        for reply in [
            Reply::Result {
                missing: vec!["luis".into()],
                found: vec!["eliana".into()],
                slots: Some(slots),
            },
            Reply::Result {
                missing: vec!["luis".into()],
                found: vec![],
                slots: None,
            },
            Reply::Result {
                missing: vec![],
                found: vec!["a".into()],
                slots: Some(SlotList::new()),
            },
            Reply::Registered(iv(17, 18)),
            Reply::Error("Server A did not answer".into()),
        ] {
            let line = reply.to_line();
            assert!(line.ends_with('\n') && line.len() <= MAX_LINE);
            assert_eq!(Reply::parse(line.trim_end()).unwrap(), reply);
        }
        assert!(Reply::parse("result missing=A found=-").is_err());
        // A stray carriage return inside a message reads back as it is sent.
        let odd = Reply::parse("error a\rb").unwrap();
        assert_eq!(Reply::parse(odd.to_line().trim_end()).unwrap(), odd);
        assert!(Reply::parse("hello").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_what_parses_round_trips(line in "\\PC{0,120}") {
            if let Ok(r) = Request::parse(&line) {
                proptest::prop_assert_eq!(Request::parse(r.to_line().trim_end()), Ok(r));
            }
            if let Ok(r) = Reply::parse(&line) {
                proptest::prop_assert_eq!(Reply::parse(r.to_line().trim_end()), Ok(r));
            }
        }

        #[test]
        fn protocol_shaped_lines_round_trip(
            command in "(query|register|result|registered|error)",
            rest in "[a-z\\[\\],=0-9 \\-]{0,60}",
        ) {
            let line = format!("{command} {rest}");
            if let Ok(r) = Request::parse(&line) {
                proptest::prop_assert_eq!(Request::parse(r.to_line().trim_end()), Ok(r));
            }
            if let Ok(r) = Reply::parse(&line) {
                proptest::prop_assert_eq!(Reply::parse(r.to_line().trim_end()), Ok(r));
            }
        }
    }
}
