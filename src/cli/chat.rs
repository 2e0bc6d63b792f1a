//! `convene chat --server HOST:PORT --identity NAME [--debug]`: the CS4262
//! course client, in Rust.
//!
//! It behaves like `client.jar`: it sends `newidentity` on connect, turns each
//! line typed into the message the Java client sends (or prints
//! `Invalid command!`), prints the Java client's line for each message received,
//! and follows a `route` to another server by itself, printing only the
//! `serverchange` answer. Its standard output can therefore be compared line by
//! line with a transcript of the Java client.
//!
//! Where it parts from the Java client, it does so to be scriptable and to fail
//! visibly:
//!
//! | event                                   | `client.jar`                   | `convene chat`                                     |
//! |-----------------------------------------|--------------------------------|----------------------------------------------------|
//! | own quit confirmed (`<me> has quit!`)   | exit 1                         | exit 0                                             |
//! | identity refused (`<me> already in use.`) | exit 1                       | exit 1                                             |
//! | end of standard input                   | send thread dies, no quit      | sends `quit`, waits up to 2 s for the answer       |
//! | server closes the connection            | receive thread dies, no exit   | `Connection closed by the server.` on stderr, exit 3 |
//! | unreadable line from the server         | exit 1, or the thread dies     | reported on stderr, skipped                        |
//! | `serverchange` refused or broken        | `Server change failed`         | the same, with the reason on stderr                |
//! | control characters from others          | printed raw                    | escaped when standard output is a terminal         |
//! | prompt `[room] me> `                    | always                         | only when standard input is a terminal             |
//! | `--debug` trace                         | on standard output             | on standard error                                  |
//!
//! Exit codes: 0 once the server confirms our quit (after `#quit` or at the end
//! of input), 1 when the identity is refused or on an error (no answer to the
//! quit within 2 s, a server line over 1 MiB, the server unreachable), 2 for a
//! usage error, 3 when the server closes the connection first.

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use convene_chat::client::{
    ChatSession, ClientError, ServerChangeOutcome, parse_command, prompt, render,
};
use convene_chat::service::CLAIM_PATIENCE;
use convene_chat::{ClientMessage, ProtocolError, ServerMessage};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(clap::Args)]
pub struct ChatArgs {
    /// The chat server's client address (default: the demo cluster's node M).
    #[arg(long, short, value_name = "HOST:PORT", default_value = crate::demo::DEMO_CHAT_SERVER)]
    server: String,
    /// The identity to ask for: 3 to 16 letters and digits, starting with a letter.
    #[arg(long, short, value_name = "NAME")]
    identity: String,
    /// Trace on standard error: each server connected to, each line sent and received.
    #[arg(long, short)]
    debug: bool,
}

/// How long to wait for the server to confirm our `quit` once standard input
/// has ended. A live server answers at once; this only bounds a dead one.
const QUIT_WAIT: Duration = Duration::from_secs(2);

/// The exit code when the server closes the connection first.
const CLOSED_BY_SERVER: u8 = 3;

pub fn run(args: ChatArgs) -> anyhow::Result<ExitCode> {
    let server = super::resolve(&args.server)?;
    // One conversation, one thread: a current-thread runtime is all it needs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut terminal = Terminal {
        debug: args.debug,
        prompts: std::io::stdin().is_terminal(),
        escape_controls: std::io::stdout().is_terminal(),
    };
    runtime.block_on(chat(server, &args.identity, &mut terminal))
}

async fn chat(
    server: SocketAddr,
    identity: &str,
    terminal: &mut Terminal,
) -> anyhow::Result<ExitCode> {
    terminal.trace(&format!("Connecting to server {server}"));
    let mut session = ChatSession::connect(server, identity).await?;
    terminal.trace_sent(&ClientMessage::NewIdentity {
        identity: identity.to_owned(),
    });
    let mut input = spawn_stdin_reader();
    let mut input_open = true;
    let mut quit_deadline: Option<Instant> = None;
    // Nothing is read from standard input until the identity is approved
    // (or the server has given up on the claim).
    let mut awaiting = Some(Awaiting::within(Expect::Arrival, CLAIM_PATIENCE));
    terminal.prompt(&session)?;
    loop {
        let waiting_until = awaiting.as_ref().map(|a| a.until);
        tokio::select! {
            line = input.recv(), if input_open && awaiting.is_none() => match line {
                Some(line) => {
                    match parse_command(&line) {
                        Ok(message) => {
                            if let Err(e) = send(&mut session, terminal, &message).await {
                                return Ok(closed_by_server(terminal, e));
                            }
                            awaiting = Expect::reply_to(&message).map(Awaiting::new);
                        }
                        Err(invalid) => terminal.line(&invalid.to_string())?,
                    }
                    terminal.prompt(&session)?;
                }
                None => {
                    // End of input: leave properly, so the server tells the room we
                    // quit, rather than just vanish.
                    input_open = false;
                    if let Err(e) = send(&mut session, terminal, &ClientMessage::Quit).await {
                        return Ok(closed_by_server(terminal, e));
                    }
                    quit_deadline = Some(Instant::now() + QUIT_WAIT);
                }
            },
            received = session.recv() => {
                if let Some(code) = on_received(&mut session, terminal, received, &mut awaiting).await? {
                    return Ok(code);
                }
            }
            () = tokio::time::sleep_until(waiting_until.unwrap_or_else(Instant::now)),
                if waiting_until.is_some() =>
            {
                // A reply that never came: go on with the next command.
                terminal.trace("No reply within the wait; going on.");
                awaiting = None;
            }
            () = tokio::time::sleep_until(quit_deadline.unwrap_or_else(Instant::now)),
                if quit_deadline.is_some() =>
            {
                anyhow::bail!("the server did not confirm our quit within {QUIT_WAIT:?}");
            }
        }
    }
}

/// Handles one `recv` result; `Some(code)` ends the client.
async fn on_received(
    session: &mut ChatSession,
    terminal: &mut Terminal,
    received: Result<ServerMessage, ClientError>,
    awaiting: &mut Option<Awaiting>,
) -> anyhow::Result<Option<ExitCode>> {
    let message = match received {
        Ok(message) => message,
        Err(e @ (ClientError::Protocol { .. } | ClientError::NotUtf8 { .. })) => {
            // The line was framed, so the stream is still in step: report it, go on.
            terminal.trace(&format!("Receiving: {}", session.last_line()));
            match e {
                ClientError::Protocol {
                    line,
                    error: ProtocolError::UnknownType(_),
                } => terminal.trace(&format!("Unknown Message: {line}")),
                e => eprintln!("convene chat: skipped a line: {}", chain(e)),
            }
            return Ok(None);
        }
        Err(e @ (ClientError::Closed | ClientError::Io(_))) => {
            return Ok(Some(closed_by_server(terminal, e)));
        }
        Err(e) => return Err(e.into()),
    };
    terminal.trace(&format!("Receiving: {}", session.last_line()));
    if let ServerMessage::Route { roomid, host, port } = &message {
        let moved = follow_route(session, terminal, roomid, host, *port).await?;
        if !moved {
            // No roomchange will come from a server we did not move to.
            *awaiting = None;
        }
    } else if let Some(line) = render(&message, session.identity()) {
        terminal.line(&line)?;
    }
    if awaiting
        .as_ref()
        .is_some_and(|a| a.expect.is_answered_by(&message, session.identity()))
    {
        *awaiting = None;
    }
    if let ServerMessage::NewIdentity { approved: false } = message {
        // Refused, at the start or for a `#newidentity`: the Java client exits
        // too, and the server closes the connection anyway.
        return Ok(Some(ExitCode::FAILURE));
    }
    if session.has_quit() {
        return Ok(Some(ExitCode::SUCCESS));
    }
    terminal.prompt(session)?;
    Ok(None)
}

/// Follows a `route` as the Java client does, printing only the outcome;
/// `true` if the client moved.
async fn follow_route(
    session: &mut ChatSession,
    terminal: &mut Terminal,
    roomid: &str,
    host: &str,
    port: u16,
) -> anyhow::Result<bool> {
    terminal.trace(&format!("Connecting to server {host}:{port}"));
    let outcome = session.follow_route(roomid, host, port).await;
    if !session.last_line().is_empty() {
        terminal.trace(&format!("Receiving: {}", session.last_line()));
    }
    match outcome {
        Ok(outcome) => {
            if let Some(line) = render(&outcome.message(), session.identity()) {
                terminal.line(&line)?;
            }
            Ok(matches!(outcome, ServerChangeOutcome::Switched { .. }))
        }
        Err(e) => {
            // Whatever went wrong, the session is still on the old server, as the
            // Java client is after `Server change failed`.
            eprintln!("convene chat: cannot move to {host}:{port}: {}", chain(e));
            terminal.line("Server change failed")?;
            Ok(false)
        }
    }
}

/// How long to wait for the answer to a command before reading the next
/// line of input anyway. A claim (the identity, `#createroom`) waits as
/// long as the server does for the cluster to decide it
/// ([`CLAIM_PATIENCE`]): a coordinator decides only with a majority behind
/// it, which a fresh cluster has only after about two seconds.
const REPLY_WAIT: Duration = Duration::from_secs(2);

/// A command's answer the client is waiting for.
///
/// A person waits for the answer to `#createroom` before typing the next
/// command; a pipe does not. So that a piped script behaves like a person
/// (its `#createroom` answered before its next line is sent, its last
/// command answered before the end of input sends `quit`), the client reads
/// the next line of input only once the last command is answered, or after
/// [`REPLY_WAIT`] ([`CLAIM_PATIENCE`] for a claim). Chat messages have no
/// answer and do not wait.
struct Awaiting {
    expect: Expect,
    until: Instant,
}

impl Awaiting {
    fn new(expect: Expect) -> Awaiting {
        let wait = match expect {
            Expect::CreateRoom => CLAIM_PATIENCE,
            _ => REPLY_WAIT,
        };
        Awaiting::within(expect, wait)
    }

    fn within(expect: Expect, wait: Duration) -> Awaiting {
        Awaiting {
            expect,
            until: Instant::now() + wait,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// This client's own `roomchange` (arrival, a join, or room unchanged).
    Arrival,
    RoomList,
    RoomContents,
    CreateRoom,
    DeleteRoom,
}

impl Expect {
    /// What answers `message`, if anything does.
    fn reply_to(message: &ClientMessage) -> Option<Expect> {
        match message {
            ClientMessage::List => Some(Expect::RoomList),
            ClientMessage::Who => Some(Expect::RoomContents),
            ClientMessage::CreateRoom { .. } => Some(Expect::CreateRoom),
            ClientMessage::DeleteRoom { .. } => Some(Expect::DeleteRoom),
            ClientMessage::JoinRoom { .. } => Some(Expect::Arrival),
            // A mid-session rename has no defined answer; a message none;
            // a quit is waited for on its own.
            _ => None,
        }
    }

    fn is_answered_by(self, message: &ServerMessage, me: &str) -> bool {
        match (self, message) {
            (Expect::Arrival, ServerMessage::RoomChange { identity, .. }) => identity == me,
            // A refused identity: nothing more will come.
            (Expect::Arrival, ServerMessage::NewIdentity { approved: false }) => true,
            (Expect::RoomList, ServerMessage::RoomList { .. })
            | (Expect::RoomContents, ServerMessage::RoomContents { .. }) => true,
            // A created room is entered at once: wait for that move as well.
            (Expect::CreateRoom, ServerMessage::CreateRoom { approved, .. }) => !approved,
            (Expect::CreateRoom, ServerMessage::RoomChange { identity, .. }) => identity == me,
            (Expect::DeleteRoom, ServerMessage::DeleteRoom { .. }) => true,
            _ => false,
        }
    }
}

async fn send(
    session: &mut ChatSession,
    terminal: &Terminal,
    message: &ClientMessage,
) -> Result<(), ClientError> {
    terminal.trace_sent(message);
    session.send(message).await
}

/// Reports a connection the server closed (or reset), and the exit code for it.
fn closed_by_server(terminal: &Terminal, e: ClientError) -> ExitCode {
    terminal.trace(&chain(e));
    eprintln!("Connection closed by the server.");
    ExitCode::from(CLOSED_BY_SERVER)
}

/// An error and its causes, on one line (`cannot connect to …: Connection refused`).
fn chain(e: ClientError) -> String {
    format!("{:#}", anyhow::Error::from(e))
}

/// Standard input, line by line, on a channel. Reading a terminal blocks, so a
/// plain thread does it; the channel closes at the end of input (or on a read
/// error, which ends input just the same).
fn spawn_stdin_reader() -> mpsc::Receiver<String> {
    let (lines, receiver) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match stdin.read_until(b'\n', &mut buffer) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("cannot read standard input: {e}");
                    break;
                }
            }
            // Without its ending, as Java's Scanner.nextLine returns it.
            if buffer.last() == Some(&b'\n') {
                buffer.pop();
                if buffer.last() == Some(&b'\r') {
                    buffer.pop();
                }
            }
            let line = String::from_utf8_lossy(&buffer).into_owned();
            if lines.blocking_send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Where the client's lines go: the course client's lines on standard output,
/// the trace on standard error.
struct Terminal {
    debug: bool,
    /// Whether to show the prompt: only for a person at a terminal, so that a
    /// piped transcript holds the course client's lines and nothing else.
    prompts: bool,
    /// Whether standard output is a terminal, where control characters from
    /// other users (escape sequences that move the cursor, retitle the window)
    /// are shown escaped instead of obeyed. Piped output keeps them, as sent.
    escape_controls: bool,
}

impl Terminal {
    /// Prints one of the course client's lines.
    fn line(&mut self, text: &str) -> std::io::Result<()> {
        let text = if self.escape_controls {
            escape_controls(text)
        } else {
            Cow::Borrowed(text)
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()
    }

    fn prompt(&mut self, session: &ChatSession) -> std::io::Result<()> {
        if !self.prompts {
            return Ok(());
        }
        let text = prompt(session.current_room(), session.identity());
        let mut out = std::io::stdout().lock();
        write!(out, "{}", escape_controls(&text))?;
        out.flush()
    }

    fn trace(&self, text: &str) {
        if self.debug {
            eprintln!("{}", escape_controls(text));
        }
    }

    fn trace_sent(&self, message: &ClientMessage) {
        if self.debug {
            eprintln!("Sending: {}", message.to_line().trim_end());
        }
    }
}

/// `text` with control characters other than line breaks and tabs written as
/// Rust escapes (`\u{1b}`), so that what others type cannot drive the terminal.
fn escape_controls(text: &str) -> Cow<'_, str> {
    let is_unsafe = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if is_unsafe(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_but_line_breaks_kept() {
        assert_eq!(escape_controls("Maria: hi"), "Maria: hi");
        assert_eq!(escape_controls("a\nb\tc"), "a\nb\tc");
        assert_eq!(escape_controls("\x1b[2Jgone"), "\\u{1b}[2Jgone");
        assert_eq!(escape_controls("bell\x07\u{9b}"), "bell\\u{7}\\u{9b}");
    }
}
