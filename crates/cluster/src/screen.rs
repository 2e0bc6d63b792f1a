//! The on-screen lines a seed's users expect to see.
//!
//! Each seed prints exact lines at exact moments ("Main Server is up and
//! running."). Services write them through a [`Screen`] instead of
//! `println!` for three reasons:
//!
//! - **Atomic blocks.** Some messages span two lines ("...over port 23092:"
//!   then `"[[2,3]]."`). With many clients served at once, a block must not be
//!   interleaved with another request's lines.
//! - **Throughput.** A `println!` is one `write` system call, and waking a
//!   writer thread per line costs a context switch. A busy main node prints
//!   several lines per query, so lines go into a shared buffer; the writer
//!   thread is woken only when the buffer goes from empty to non-empty, waits
//!   [`LINGER`] for the rest of the burst, then writes it all at once. A
//!   person sees each line within a millisecond; a loaded node pays one
//!   wake-up and one `write` per burst instead of per line.
//! - **Tests.** [`Screen::capture`] records lines in memory so an integration
//!   test can compare them with the seed's tables.
//!
//! Two rules keep the screen safe from the network. Text that came from a
//! client (a facility name, an identity) is shown through [`Untrusted`],
//! which escapes control characters, so no client can move the operator's
//! cursor, clear the terminal or forge a line. And the text waiting for the
//! writer is bounded ([`MAX_PENDING`]): if the terminal stops reading (a
//! paused `less`, a stuck pipe), lines are dropped and counted instead of
//! growing memory, and a line says how many were lost once it reads again.

use std::fmt::{Display, Write as _};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long the writer lets a burst of lines gather before writing it.
pub const LINGER: Duration = Duration::from_millis(1);

/// Most bytes of text kept waiting for the writer; lines beyond are dropped
/// (and counted) until it catches up.
pub const MAX_PENDING: usize = 4 << 20;

/// Shows text that came from the network with every control character
/// escaped (as `\u{1b}`), and the Unicode marks that reorder text on
/// screen (bidirectional overrides) too; everything else as it is.
///
/// ```
/// use convene_cluster::screen::Untrusted;
///
/// assert_eq!(Untrusted("Room A").to_string(), "Room A");
/// assert_eq!(Untrusted("\x1b[2Jhi\n").to_string(), "\\u{1b}[2Jhi\\n");
/// assert_eq!(Untrusted("a\u{202e}b").to_string(), "a\\u{202e}b");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Untrusted<'a>(pub &'a str);

impl std::fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            let reorders = matches!(c, '\u{200e}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || reorders {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Where a node's on-screen lines go. Cheap to clone; all clones share one
/// sink and keep its order.
#[derive(Clone)]
pub struct Screen {
    sink: Sink,
    /// Prepended to every line, e.g. `"[A] "` when several nodes share one
    /// terminal under `convene up`.
    prefix: Arc<str>,
}

#[derive(Clone)]
enum Sink {
    Writer(Arc<WriterHandle>),
    Capture(Captured),
    Discard,
}

/// Owned by every clone of a writing [`Screen`]. When the last one goes, the
/// writer is told to finish, and is waited for, so no line is lost at exit.
struct WriterHandle {
    pending: Arc<Pending>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.pending
            .text
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed = true;
        self.pending.wake.notify_one();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

/// Text waiting for the writer thread.
#[derive(Default)]
struct Pending {
    text: Mutex<PendingText>,
    wake: Condvar,
}

#[derive(Default)]
struct PendingText {
    text: String,
    /// Lines dropped because `text` was full, not yet reported.
    dropped: u64,
    /// The writer is asleep waiting for text (so the next line must wake it).
    idle: bool,
    /// Every `Screen` is gone: write what is left and stop.
    closed: bool,
}

/// The lines a capturing [`Screen`] has recorded.
#[derive(Clone, Default)]
pub struct Captured {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Screen {
    /// Lines go to standard output, written by a background thread.
    pub fn stdout() -> Self {
        Self::writer(std::io::stdout())
    }

    /// Lines go to any writer (a file, a pipe), written by a background
    /// thread that batches whatever is queued into one write.
    pub fn writer<W: Write + Send + 'static>(mut out: W) -> Self {
        let pending = Arc::new(Pending::default());
        let shared = pending.clone();
        let thread = std::thread::Builder::new()
            .name("screen".into())
            .spawn(move || {
                let mut batch = String::new();
                loop {
                    {
                        let mut p = shared.text.lock().unwrap_or_else(|e| e.into_inner());
                        while p.text.is_empty() && !p.closed {
                            p.idle = true;
                            p = shared.wake.wait(p).unwrap_or_else(|e| e.into_inner());
                        }
                        if p.text.is_empty() && p.closed {
                            return;
                        }
                        if !p.closed {
                            drop(p);
                            // Let the rest of the burst arrive, then take it all.
                            std::thread::sleep(LINGER);
                        }
                    }
                    {
                        let mut p = shared.text.lock().unwrap_or_else(|e| e.into_inner());
                        std::mem::swap(&mut batch, &mut p.text);
                    }
                    // A closed pipe is no reason to stop the node.
                    let _ = out.write_all(batch.as_bytes()).and_then(|()| out.flush());
                    batch.clear();
                }
            })
            .expect("spawning the screen thread");
        let handle = WriterHandle {
            pending,
            thread: Mutex::new(Some(thread)),
        };
        Screen {
            sink: Sink::Writer(Arc::new(handle)),
            prefix: Arc::from(""),
        }
    }

    /// Lines are recorded in memory; the returned handle reads them.
    pub fn capture() -> (Self, Captured) {
        let captured = Captured::default();
        let screen = Screen {
            sink: Sink::Capture(captured.clone()),
            prefix: Arc::from(""),
        };
        (screen, captured)
    }

    /// Lines are dropped (benchmarks that measure the service, not the terminal).
    pub fn discard() -> Self {
        Screen {
            sink: Sink::Discard,
            prefix: Arc::from(""),
        }
    }

    /// The same sink, with `prefix` before every line.
    pub fn with_prefix(&self, prefix: &str) -> Self {
        Screen {
            sink: self.sink.clone(),
            prefix: Arc::from(prefix),
        }
    }

    /// Shows one line.
    pub fn line(&self, line: impl Display) {
        self.block(&[&line]);
    }

    /// Shows several lines together, never interleaved with other blocks.
    ///
    /// Lines are `Display` values formatted straight into the sink, so a busy
    /// node allocates nothing per line.
    pub fn block(&self, lines: &[&dyn Display]) {
        match &self.sink {
            Sink::Discard => {}
            Sink::Writer(handle) => {
                let pending = &handle.pending;
                let mut p = pending.text.lock().unwrap_or_else(|e| e.into_inner());
                if p.text.len() >= MAX_PENDING {
                    p.dropped += lines.len() as u64;
                    return;
                }
                if p.dropped > 0 {
                    let dropped = std::mem::take(&mut p.dropped);
                    let _ = writeln!(
                        p.text,
                        "{}({dropped} lines not shown: the terminal was not reading)",
                        self.prefix
                    );
                }
                for line in lines {
                    // Writing into a String cannot fail.
                    let _ = writeln!(p.text, "{}{line}", self.prefix);
                }
                if std::mem::take(&mut p.idle) {
                    pending.wake.notify_one();
                }
            }
            Sink::Capture(captured) => {
                let mut all = captured.lines.lock().unwrap_or_else(|e| e.into_inner());
                for line in lines {
                    all.push(format!("{}{line}", self.prefix));
                }
            }
        }
    }
}

impl Captured {
    /// Every line recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets the lines recorded so far.
    pub fn clear(&self) {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Waits until some recorded line satisfies `pred`, or `timeout` passes.
    /// Returns whether it did. For tests: lines appear from other tasks.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.lines().iter().any(|l| pred(l)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can read.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn capture_keeps_blocks_together_and_applies_the_prefix() {
        let (screen, captured) = Screen::capture();
        screen.line("one");
        screen.with_prefix("[A] ").block(&[&"two", &"three"]);
        assert_eq!(captured.lines(), ["one", "[A] two", "[A] three"]);
    }

    #[test]
    fn writer_delivers_every_line_in_order() {
        let out = Shared::default();
        let screen = Screen::writer(out.clone());
        for i in 0..1000 {
            screen.line(format!("line {i}"));
        }
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        while out.0.lock().unwrap().len() < expected.len() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            expected
        );
    }

    /// A writer that blocks until the test opens its gate, and says when
    /// it has started waiting.
    struct Stuck {
        gate: Arc<Gate>,
        out: Shared,
    }

    /// Whether a [`Stuck`] writer may write, and whether it is waiting.
    #[derive(Default)]
    struct Gate {
        state: Mutex<(bool, bool)>,
        changed: Condvar,
    }

    impl Gate {
        fn open(&self) {
            self.state.lock().unwrap().0 = true;
            self.changed.notify_all();
        }

        /// Waits (at most ten seconds) until the writer is blocked.
        fn wait_for_writer(&self) {
            let state = self.state.lock().unwrap();
            let (state, _) = self
                .changed
                .wait_timeout_while(state, Duration::from_secs(10), |s| !s.1)
                .unwrap();
            assert!(state.1, "the writer never started writing");
        }
    }

    /// Opens the gate however the test ends, so a failed assertion cannot
    /// leave the writer thread (and the drop that joins it) blocked.
    struct OpenOnDrop(Arc<Gate>);

    impl Drop for OpenOnDrop {
        fn drop(&mut self) {
            self.0.open();
        }
    }

    impl Write for Stuck {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let mut state = self.gate.state.lock().unwrap();
            state.1 = true;
            self.gate.changed.notify_all();
            while !state.0 {
                state = self.gate.changed.wait(state).unwrap();
            }
            drop(state);
            self.out.write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_terminal_that_does_not_read_costs_bounded_memory_and_is_told_what_it_missed() {
        let gate = Arc::new(Gate::default());
        let _open = OpenOnDrop(gate.clone());
        let out = Shared::default();
        let screen = Screen::writer(Stuck {
            gate: gate.clone(),
            out: out.clone(),
        });
        // The writer takes the first line and blocks on it: from then on
        // nothing leaves the pending text.
        screen.line("first");
        gate.wait_for_writer();
        let line = "x".repeat(1000);
        for _ in 0..(2 * MAX_PENDING / 1000) {
            screen.line(&line);
        }
        if let Sink::Writer(handle) = &screen.sink {
            let p = handle.pending.text.lock().unwrap();
            assert!(p.text.len() <= MAX_PENDING + 2000, "{}", p.text.len());
            assert!(p.dropped > 0);
        }
        gate.open();
        // Once the writer has taken the full text, a new line has room.
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Sink::Writer(handle) = &screen.sink
            && handle.pending.text.lock().unwrap().text.len() >= MAX_PENDING
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        screen.line("after");
        drop(screen);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.starts_with("first\n"));
        assert!(text.contains("lines not shown: the terminal was not reading)\nafter\n"));
    }

    #[test]
    fn dropping_the_last_screen_flushes_every_line() {
        let out = Shared::default();
        let screen = Screen::writer(out.clone());
        let clone = screen.with_prefix("> ");
        screen.line("first");
        drop(screen);
        clone.line("last");
        drop(clone);
        // No waiting: the drop itself waited for the writer.
        assert_eq!(
            String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            "first\n> last\n"
        );
    }
}
