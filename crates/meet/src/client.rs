//! `convene meet`: the EE450 client.
//!
//! Interactive mode follows the spec's client loop: prompt for names, show
//! the reply, ask for a meeting time inside a recommendation, register it,
//! start a new request. Unlike the C++ originals it ends cleanly (exit 0) when
//! its input ends, so it can be driven from a pipe or a test. An empty line at
//! the meeting-time prompt skips registration.
//!
//! One-shot mode (`convene meet alice bob`) sends one query, prints the same
//! lines without prompts, and exits non-zero if the server cannot be reached
//! or refuses the request.
//!
//! The client is synchronous: it has one conversation at a time, and a plain
//! blocking socket is the simplest thing that does that.
//!
//! It may be given several main nodes ([`MainServers`]): it talks to the
//! first that accepts a connection, and when that one stops answering (the
//! connection breaks, or no reply comes within 10 s) it sends the request to
//! the next, and so on around the list, each at most once per request. The
//! lines it prints are the same whichever main node answers.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use convene_time::{Interval, SlotList};

use convene_wire::line::{LineError, LineReader, read_line};

use crate::availability::parse_interval;
use crate::lines;
use crate::protocol::{MAX_LINE, ProtocolError, Reply, Request, check_names};

mod servers;

pub use servers::{MainServers, ServersError};

/// Why the client stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No main server could be reached: each one tried, with what the
    /// operating system said.
    #[error("{}", describe_unreachable(tried))]
    Connect {
        /// Where we tried, in order, and why each failed.
        tried: Vec<(SocketAddr, std::io::Error)>,
    },
    /// The connection failed mid-conversation.
    #[error("lost the connection to the Main Server at {server}: {error}")]
    Io {
        /// The server.
        server: SocketAddr,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The server answered something this client cannot read.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The server refused the request or could not serve it, e.g. because
    /// some users are unreachable (one-shot mode).
    #[error("the Main Server answered with an error: {0}")]
    Refused(String),
    /// A meeting time outside every recommendation (one-shot mode).
    #[error("time interval {0} is not inside a recommended interval")]
    NotRecommended(Interval),
    /// Writing to our own output failed.
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
}

/// `cannot reach the Main Server at A: refused`, or with several,
/// `cannot reach any Main Server (A: refused; B: timed out)`.
fn describe_unreachable(tried: &[(SocketAddr, std::io::Error)]) -> String {
    match tried {
        [(server, error)] => format!("cannot reach the Main Server at {server}: {error}"),
        _ => {
            let each: Vec<String> = tried.iter().map(|(s, e)| format!("{s}: {e}")).collect();
            format!("cannot reach any Main Server ({})", each.join("; "))
        }
    }
}

/// How long to wait for a reply before giving up. Long enough for a main
/// node that is itself retrying a slow backend.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for a main node to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest reply line, its ending not counted: as the main node reads
/// requests, a line of [`MAX_LINE`] bytes with its `\n`.
const LINE_LIMIT: usize = MAX_LINE - 1;

/// One connection to a main node, re-opened (to the same node or the next)
/// when it breaks.
pub struct Connection {
    servers: MainServers,
    /// The main node in use: an index into `servers`.
    at: usize,
    stream: Option<Stream>,
}

/// The reading half (with the line being read) and the writing half.
struct Stream {
    read: BufReader<TcpStream>,
    lines: LineReader,
    write: TcpStream,
}

impl Connection {
    /// Connects to the first of `servers` that accepts.
    pub fn open(servers: impl Into<MainServers>) -> Result<Self, ClientError> {
        let mut c = Connection {
            servers: servers.into(),
            at: 0,
            stream: None,
        };
        c.connect_from(0)?;
        Ok(c)
    }

    /// The main node in use.
    pub fn server(&self) -> SocketAddr {
        self.servers.as_slice()[self.at]
    }

    /// Connects to the first main node that accepts, trying each once,
    /// from `start` around the list.
    fn connect_from(&mut self, start: usize) -> Result<(), ClientError> {
        self.stream = None;
        let n = self.servers.len();
        let mut tried = Vec::new();
        for k in 0..n {
            let at = (start + k) % n;
            let server = self.servers.as_slice()[at];
            match connect(server) {
                Ok(stream) => {
                    if !tried.is_empty() {
                        tracing::warn!(%server, "using the next Main Server: {}", describe_unreachable(&tried));
                    }
                    self.at = at;
                    self.stream = Some(stream);
                    return Ok(());
                }
                Err(error) => tried.push((server, error)),
            }
        }
        Err(ClientError::Connect { tried })
    }

    /// The client's own TCP port (the spec prints it).
    pub fn local_port(&self) -> u16 {
        self.stream
            .as_ref()
            .and_then(|s| s.write.local_addr().ok())
            .map_or(0, |a| a.port())
    }

    /// Sends a request and reads its reply. If the connection breaks or no
    /// reply comes, the request goes again on a new connection: to the same
    /// main node first if it broke (it may have closed an idle connection, or
    /// restarted), to the next if it timed out; then around the list, at
    /// most once more per main node.
    ///
    /// A registration sent again after its main node failed mid-way may be
    /// refused as "not free any more" when the first attempt had in fact
    /// booked it; a query then shows which. It is never booked twice: the
    /// backends allow one meeting per free slot.
    pub fn exchange(&mut self, request: &Request) -> Result<Reply, ClientError> {
        let mut failures = 0;
        loop {
            match self.try_exchange(request) {
                Err(ClientError::Io { server, error }) if failures < self.servers.len() => {
                    failures += 1;
                    tracing::debug!(%server, "no reply ({error}); trying again");
                    let timed_out = matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    );
                    let next = if timed_out { self.at + 1 } else { self.at };
                    self.connect_from(next % self.servers.len())?;
                }
                other => return other,
            }
        }
    }

    fn try_exchange(&mut self, request: &Request) -> Result<Reply, ClientError> {
        if self.stream.is_none() {
            self.connect_from(self.at)?;
        }
        let server = self.server();
        let io = |error| ClientError::Io { server, error };
        let stream = self.stream.as_mut().expect("connected above");
        let line = stream
            .write
            .write_all(request.to_line().as_bytes())
            .and_then(|()| read_line(&mut stream.read, &mut stream.lines))
            .map_err(io)
            .and_then(|line| {
                let broken = |kind, text: String| Err(io(std::io::Error::new(kind, text)));
                match line {
                    Ok(line) => String::from_utf8(line).or_else(|_| {
                        broken(
                            std::io::ErrorKind::InvalidData,
                            "stream did not contain valid UTF-8".into(),
                        )
                    }),
                    Err(LineError::Closed) => broken(
                        std::io::ErrorKind::UnexpectedEof,
                        "the server closed the connection".into(),
                    ),
                    Err(LineError::TooLong { .. }) => broken(
                        std::io::ErrorKind::InvalidData,
                        format!("the server sent a line longer than {MAX_LINE} bytes"),
                    ),
                }
            });
        match line {
            Ok(line) => Ok(Reply::parse(&line)?),
            Err(e) => {
                // Whatever broke, this connection is done with.
                self.stream = None;
                Err(e)
            }
        }
    }
}

/// Opens a connection to one main node, with the reply timeout set.
fn connect(server: SocketAddr) -> std::io::Result<Stream> {
    let stream = TcpStream::connect_timeout(&server, CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let write = stream.try_clone()?;
    Ok(Stream {
        read: BufReader::new(stream),
        lines: LineReader::new(LINE_LIMIT),
        write,
    })
}

/// Writes lines, mapping failures to [`ClientError::Output`].
struct Out<'a>(&'a mut dyn Write);

impl Out<'_> {
    fn line(&mut self, text: impl std::fmt::Display) -> Result<(), ClientError> {
        writeln!(self.0, "{text}")
            .and_then(|()| self.0.flush())
            .map_err(ClientError::Output)
    }
}

/// What one query showed.
struct Shown {
    found: Vec<String>,
    slots: Option<SlotList>,
}

/// Sends a query and shows the reply the way the spec's client does.
fn show_query(
    conn: &mut Connection,
    out: &mut Out<'_>,
    names: Vec<String>,
) -> Result<Result<Shown, String>, ClientError> {
    let reply = conn.exchange(&Request::Query(names))?;
    out.line(lines::CLIENT_SENT)?;
    let port = conn.local_port();
    match reply {
        Reply::Result {
            missing,
            found,
            slots,
        } => {
            if !missing.is_empty() {
                out.line(lines::client_got_reply(port))?;
                out.line(lines::client_missing(&missing))?;
            }
            if let Some(slots) = &slots {
                out.line(lines::client_got_reply(port))?;
                out.line(lines::client_result(slots, &found))?;
            }
            Ok(Ok(Shown { found, slots }))
        }
        Reply::Error(message) => {
            out.line(lines::client_got_reply(port))?;
            out.line(format!("Error: {message}"))?;
            Ok(Err(message))
        }
        Reply::Registered(_) => {
            Err(ProtocolError::BadReply("registered (to a query)".into()).into())
        }
    }
}

/// Sends a registration and shows the outcome. `Ok(Err(reason))` when the
/// server refused it.
fn show_registration(
    conn: &mut Connection,
    out: &mut Out<'_>,
    slot: Interval,
    found: &[String],
) -> Result<Result<(), String>, ClientError> {
    out.line(lines::client_registering(&slot, found))?;
    match conn.exchange(&Request::Register(slot, found.to_vec()))? {
        Reply::Registered(_) => {
            out.line(lines::CLIENT_REGISTERED)?;
            Ok(Ok(()))
        }
        Reply::Error(message) => {
            out.line(format!("Registration failed: {message}"))?;
            Ok(Err(message))
        }
        Reply::Result { .. } => {
            Err(ProtocolError::BadReply("result (to a registration)".into()).into())
        }
    }
}

/// The interactive loop. Returns `Ok(())` when `input` ends.
pub fn run_interactive(
    servers: impl Into<MainServers>,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> Result<(), ClientError> {
    let mut out = Out(output);
    out.line(lines::CLIENT_UP)?;
    let mut conn = Connection::open(servers)?;
    out.line(lines::CLIENT_PROMPT)?;
    let mut line = String::new();
    let mut read = |line: &mut String| -> Result<bool, ClientError> {
        line.clear();
        let n = input.read_line(line).map_err(ClientError::Output)?;
        Ok(n > 0)
    };
    while read(&mut line)? {
        let names = match check_names(line.split_whitespace()) {
            Ok(names) => names,
            Err(e) => {
                out.line(format!("Invalid input: {e}."))?;
                out.line(lines::CLIENT_PROMPT)?;
                continue;
            }
        };
        if let Ok(Shown {
            found,
            slots: Some(slots),
        }) = show_query(&mut conn, &mut out, names)?
            && !slots.is_empty()
        {
            out.line(lines::CLIENT_MEETING_PROMPT)?;
            loop {
                if !read(&mut line)? {
                    return Ok(());
                }
                let text = line.trim();
                if text.is_empty() {
                    break; // no meeting this time
                }
                match parse_interval(text) {
                    Err(e) => out.line(format!(
                        "{:?} is not a time interval ({e}): write it as [start,end]. Please enter again:",
                        text.chars().take(40).collect::<String>()
                    ))?,
                    Ok(slot) if !slots.covers(&slot) => out.line(lines::client_invalid_time(slot))?,
                    Ok(slot) => {
                        // A refusal has been shown; either way a new request follows.
                        let _ = show_registration(&mut conn, &mut out, slot, &found)?;
                        break;
                    }
                }
            }
        }
        out.line(lines::CLIENT_NEW_REQUEST)?;
        out.line(lines::CLIENT_PROMPT)?;
    }
    Ok(())
}

/// One query (and optionally one registration), then return.
pub fn run_once(
    servers: impl Into<MainServers>,
    names: &[String],
    register: Option<Interval>,
    output: &mut dyn Write,
) -> Result<(), ClientError> {
    let names = check_names(names.iter().map(String::as_str))?;
    let mut out = Out(output);
    out.line(lines::CLIENT_UP)?;
    let mut conn = Connection::open(servers)?;
    let shown = show_query(&mut conn, &mut out, names)?.map_err(ClientError::Refused)?;
    let Some(slot) = register else { return Ok(()) };
    match &shown.slots {
        Some(slots) if slots.covers(&slot) => {}
        _ => {
            out.line(lines::client_invalid_time(slot))?;
            return Err(ClientError::NotRecommended(slot));
        }
    }
    show_registration(&mut conn, &mut out, slot, &shown.found)?.map_err(ClientError::Refused)
}
