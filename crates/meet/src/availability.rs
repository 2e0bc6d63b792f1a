//! EE450 availability files.
//!
//! One user per line: `username;[[t1_start,t1_end],[t2_start,t2_end],...]`.
//! White space may appear anywhere except inside a name, even inside a
//! number (`[46,4   8]` is the interval `[46,48]`, as in the seed repository's
//! own test file). Names are 1 to 20 lowercase letters and unique in the file;
//! each interval has start < end and the list is sorted with gaps between
//! intervals (`t[i]_end < t[i+1]_start`).
//!
//! Beyond the course's limits (times 0-100, 1-10 intervals per user), times
//! may be any unsigned 32-bit value and a list may be empty (`bob;[]`, a user
//! with no free time), so large test files work. Blank lines are skipped.
//!
//! The whole file is checked before anything is used: a single bad line
//! rejects the file with its path, line number and what is wrong.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use convene_time::{Interval, SlotList};

use crate::name::check_name;

/// One user's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAvailability {
    /// The user name.
    pub name: String,
    /// When the user is free.
    pub slots: SlotList,
}

/// A line of an availability file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {problem}", path = .path.display())]
pub struct AvailabilityError {
    /// The file.
    pub path: PathBuf,
    /// The line, counting from 1 (0 when the file could not be read at all).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// Reads and checks a whole availability file.
pub fn load(path: &Path) -> Result<Vec<UserAvailability>, AvailabilityError> {
    let bytes = std::fs::read(path).map_err(|e| AvailabilityError {
        path: path.to_path_buf(),
        line: 0,
        problem: format!("cannot read the availability file: {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        AvailabilityError {
            path: path.to_path_buf(),
            line: valid.iter().filter(|b| **b == b'\n').count() + 1,
            problem: "the line is not valid UTF-8 text".into(),
        }
    })?;
    parse(&text, path)
}

/// Checks availability-file text as if read from `path` (used in messages).
pub fn parse(text: &str, path: &Path) -> Result<Vec<UserAvailability>, AvailabilityError> {
    let mut users = Vec::new();
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let fail = |problem: String| AvailabilityError {
            path: path.to_path_buf(),
            line: number,
            problem,
        };
        if line.trim().is_empty() {
            continue;
        }
        let user = parse_line(line).map_err(|p| fail(p.to_string()))?;
        if let Some(earlier) = first_seen.insert(user.name.clone(), number) {
            return Err(fail(format!(
                "user {:?} already appears on line {earlier}",
                user.name
            )));
        }
        users.push(user);
    }
    Ok(users)
}

/// What is wrong with one line.
#[derive(Debug)]
enum LineProblem {
    NoSemicolon,
    Name(crate::name::NameError),
    NameHasSpace(String),
    List(ListProblem),
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineProblem::NoSemicolon => {
                write!(f, "expected `username;[[start,end],...]` but found no ';'")
            }
            LineProblem::Name(e) => write!(f, "{e}"),
            LineProblem::NameHasSpace(n) => {
                write!(f, "{n:?} is not a valid username: no spaces inside a name")
            }
            LineProblem::List(e) => write!(f, "{e}"),
        }
    }
}

fn parse_line(line: &str) -> Result<UserAvailability, LineProblem> {
    let (name, list) = line.split_once(';').ok_or(LineProblem::NoSemicolon)?;
    let name = name.trim();
    if name.contains(char::is_whitespace) {
        return Err(LineProblem::NameHasSpace(name.chars().take(40).collect()));
    }
    check_name(name).map_err(LineProblem::Name)?;
    let slots = parse_slot_list(list).map_err(LineProblem::List)?;
    Ok(UserAvailability {
        name: name.to_string(),
        slots,
    })
}

/// What is wrong with a written list of intervals.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListProblem {
    /// A character that does not belong where it is.
    #[error("expected {expected} but found {found}")]
    Unexpected {
        /// What the grammar wanted.
        expected: &'static str,
        /// What was there (`end of line` at the end).
        found: String,
    },
    /// A number that does not fit in 32 bits.
    #[error("the number {0} is too large")]
    NumberTooLarge(String),
    /// An interval whose start is not before its end.
    #[error("interval [{0},{1}]: the start must be less than the end")]
    EmptyInterval(u32, u32),
    /// Intervals out of order, overlapping or touching.
    #[error("interval [{0},{1}] must start after the previous one ends ([{2},{3}])")]
    Unsorted(u32, u32, u32, u32),
}

/// Parses `[[a,b],[c,d],...]` (white space ignored everywhere) into a
/// checked [`SlotList`].
pub fn parse_slot_list(text: &str) -> Result<SlotList, ListProblem> {
    let mut p = Tokens::new(text);
    p.expect(b'[', "'['")?;
    let mut intervals = Vec::new();
    if p.peek() == Some(b']') {
        p.bump();
    } else {
        loop {
            let interval = p.interval()?;
            if let Some(prev) = intervals.last() {
                let prev: &Interval = prev;
                if interval.start() <= prev.end() {
                    return Err(ListProblem::Unsorted(
                        interval.start(),
                        interval.end(),
                        prev.start(),
                        prev.end(),
                    ));
                }
            }
            intervals.push(interval);
            match p.next() {
                Some(b',') => continue,
                Some(b']') => break,
                other => return Err(p.unexpected("',' or ']'", other)),
            }
        }
    }
    p.end()?;
    // Order and gaps were checked above, so this cannot fail.
    SlotList::from_sorted(intervals).map_err(|_| ListProblem::Unexpected {
        expected: "sorted intervals",
        found: "unsorted intervals".into(),
    })
}

/// Parses one written interval, `[a,b]` (white space ignored).
pub fn parse_interval(text: &str) -> Result<Interval, ListProblem> {
    let mut p = Tokens::new(text);
    let interval = p.interval()?;
    p.end()?;
    Ok(interval)
}

/// A cursor over the non-space bytes of a line.
struct Tokens<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens {
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn peek(&mut self) -> Option<u8> {
        while let Some(b) = self.bytes.get(self.at) {
            if !b.is_ascii_whitespace() {
                return Some(*b);
            }
            self.at += 1;
        }
        None
    }

    fn bump(&mut self) {
        if self.peek().is_some() {
            self.at += 1;
        }
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        self.bump();
        b
    }

    fn unexpected(&self, expected: &'static str, found: Option<u8>) -> ListProblem {
        ListProblem::Unexpected {
            expected,
            found: match found {
                None => "end of line".into(),
                Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
                Some(b) => format!("byte 0x{b:02x}"),
            },
        }
    }

    fn expect(&mut self, want: u8, expected: &'static str) -> Result<(), ListProblem> {
        match self.next() {
            Some(b) if b == want => Ok(()),
            other => Err(self.unexpected(expected, other)),
        }
    }

    fn number(&mut self) -> Result<u32, ListProblem> {
        let mut digits = String::new();
        while let Some(b @ b'0'..=b'9') = self.peek() {
            digits.push(b as char);
            self.bump();
        }
        if digits.is_empty() {
            let found = self.peek();
            return Err(self.unexpected("a number", found));
        }
        digits
            .parse()
            .map_err(|_| ListProblem::NumberTooLarge(digits.chars().take(30).collect()))
    }

    fn interval(&mut self) -> Result<Interval, ListProblem> {
        self.expect(b'[', "'['")?;
        let start = self.number()?;
        self.expect(b',', "','")?;
        let end = self.number()?;
        self.expect(b']', "']'")?;
        Interval::new(start, end).map_err(|_| ListProblem::EmptyInterval(start, end))
    }

    fn end(&mut self) -> Result<(), ListProblem> {
        match self.next() {
            None => Ok(()),
            other => Err(self.unexpected("end of line", other)),
        }
    }
}

#[cfg(test)]
mod tests;
