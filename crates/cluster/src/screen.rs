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
//! An operator who does not want a line per request chooses a
//! [`ScreenMode`] (`screen = "summary"` or `"quiet"` in the cluster file,
//! or `--screen`): a [summary](Screen::summary) shows the first line of
//! each kind and then, every few seconds, one line of counts; quiet shows
//! nothing. At 25,000 requests/s the seeds' lines are over a gigabyte in
//! five minutes.
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
    Summary(Arc<SummaryHandle>),
    Discard,
}

/// How much a node shows of its seeds' lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScreenMode {
    /// Every line, as the seeds print them (the default).
    #[default]
    Seed,
    /// The first line of each kind, then a line of counts every
    /// [`SUMMARY_EVERY`].
    Summary,
    /// Nothing (logs still go to standard error).
    Quiet,
}

impl std::str::FromStr for ScreenMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "seed" => Ok(ScreenMode::Seed),
            "summary" => Ok(ScreenMode::Summary),
            "quiet" => Ok(ScreenMode::Quiet),
            other => Err(format!(
                "{other:?} is not a screen mode: use \"seed\", \"summary\" or \"quiet\""
            )),
        }
    }
}

/// How often a summary screen prints its counts.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(5);

/// Most kinds of line a summary tells apart; the rest count as "other".
const MAX_KINDS: usize = 64;

/// A summary screen's state, shared by its clones; the last one stops its
/// thread, which prints the counts left.
struct SummaryHandle {
    out: Screen,
    counts: Arc<Mutex<Counts>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Default)]
struct Counts {
    /// Lines since the last summary, per kind, in the order first seen.
    pending: Vec<(String, u64)>,
    /// Every kind ever shown once.
    seen: std::collections::HashSet<String>,
}

impl Counts {
    /// Counts `line` (shown after `prefix`); whether it is the first of
    /// its kind (to be shown).
    fn count(&mut self, prefix: &str, line: &str) -> bool {
        let mut kind = format!("{prefix}{}", kind_of(line));
        let mut first = !self.seen.contains(&kind);
        if first && self.seen.len() >= MAX_KINDS {
            // Past the bound every new kind is "other", counted, not shown.
            kind = "other".to_string();
            first = false;
        } else if first {
            self.seen.insert(kind.clone());
        }
        match self.pending.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.pending.push((kind, 1)),
        }
        first
    }

    /// The counts line for `every`, if anything was counted; resets them.
    fn take(&mut self, every: Duration) -> Option<String> {
        let pending = std::mem::take(&mut self.pending);
        let total: u64 = pending.iter().map(|(_, n)| n).sum();
        if total == 0 {
            return None;
        }
        let kinds: Vec<String> = pending.iter().map(|(k, n)| format!("{k} {n}")).collect();
        Some(format!(
            "({total} lines in {} s: {})",
            every.as_secs_f64(),
            kinds.join(", ")
        ))
    }
}

/// What kind of line `line` is: its text before the first `:` when that is
/// a short phrase (`Received request`, `Files`), else its first word; a
/// line that does not start with a letter (a list of times, a number) is
/// `(data)`. Lines from one place in the code share a kind whatever client,
/// user or file they name, so a summary has few kinds.
fn kind_of(line: &str) -> String {
    let line = line.trim();
    if !line.starts_with(|c: char| c.is_alphabetic()) {
        return "(data)".to_string();
    }
    if let Some((head, _)) = line.split_once(':')
        && head.len() <= 24
        && head.chars().all(|c| c.is_alphabetic() || c == ' ')
    {
        return head.to_string();
    }
    line.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

impl Drop for SummaryHandle {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_one();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
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

    /// A screen for `mode` over standard output.
    pub fn for_mode(mode: ScreenMode) -> Self {
        match mode {
            ScreenMode::Seed => Self::stdout(),
            ScreenMode::Summary => Self::summary(Self::stdout(), SUMMARY_EVERY),
            ScreenMode::Quiet => Self::discard(),
        }
    }

    /// Lines go to `out` only the first time a kind of line is seen
    /// (`Files`, `Received request`, …: the text before a `:`, else the
    /// first three words); after that they are counted, and every `every`
    /// one line says how many of each kind there were.
    pub fn summary(out: Screen, every: Duration) -> Self {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let (thread_counts, thread_stop, thread_out) = (counts.clone(), stop.clone(), out.clone());
        let thread = std::thread::Builder::new()
            .name("screen-summary".into())
            .spawn(move || {
                let (stopped, wake) = &*thread_stop;
                let mut done = stopped.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    // A stop asked before this thread first waited must not
                    // wait out a whole period.
                    if !*done {
                        let (guard, _) = wake
                            .wait_timeout(done, every)
                            .unwrap_or_else(|e| e.into_inner());
                        done = guard;
                    }
                    let line = thread_counts
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take(every);
                    if let Some(line) = line {
                        thread_out.line(line);
                    }
                    if *done {
                        return;
                    }
                }
            })
            .expect("spawning the screen summary thread");
        Screen {
            sink: Sink::Summary(Arc::new(SummaryHandle {
                out,
                counts,
                stop,
                thread: Mutex::new(Some(thread)),
            })),
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
            Sink::Summary(handle) => {
                let mut counts = handle.counts.lock().unwrap_or_else(|e| e.into_inner());
                for line in lines {
                    let text = line.to_string();
                    if text.trim().is_empty() {
                        continue;
                    }
                    if counts.count(&self.prefix, &text) {
                        handle.out.line(format_args!("{}{text}", self.prefix));
                    }
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
    fn a_summary_shows_each_kind_once_then_counts() {
        let (out, captured) = Screen::capture();
        // Long enough that only the last count (at the end) is printed.
        let screen = Screen::summary(out, Duration::from_secs(60));
        for i in 0..100 {
            screen.line(format!("Received request: type=3, request_id={i}"));
            screen.block(&[&"Files: synchronized doc.txt from A.", &""]);
        }
        screen
            .with_prefix("[B] ")
            .line("Main Server is up and running.");
        screen.line("[[5,6],[11,12]].");
        screen.line("[[2,3]].");
        let shown = captured.lines();
        assert_eq!(
            shown,
            [
                "Received request: type=3, request_id=0",
                "Files: synchronized doc.txt from A.",
                "[B] Main Server is up and running.",
                "[[5,6],[11,12]].",
            ]
        );
        drop(screen);
        let lines = captured.lines();
        let counts = lines.last().unwrap();
        assert!(
            counts == "(203 lines in 60 s: Received request 100, Files 100, [B] Main 1, (data) 2)",
            "{counts}"
        );
    }

    #[test]
    fn past_the_bound_new_kinds_are_counted_as_other_not_shown() {
        let mut counts = Counts::default();
        for i in 0..MAX_KINDS {
            assert!(counts.count("", &format!("Kind{i}: x")), "kind {i}");
        }
        assert!(!counts.count("", "Another: x"));
        assert!(!counts.count("", "YetAnother: x"));
        let line = counts.take(Duration::from_secs(5)).unwrap();
        assert!(line.ends_with(", other 2)"), "{line}");
    }

    #[test]
    fn screen_modes_read_from_their_names() {
        assert_eq!("summary".parse(), Ok(ScreenMode::Summary));
        assert_eq!("seed".parse(), Ok(ScreenMode::Seed));
        assert_eq!("quiet".parse(), Ok(ScreenMode::Quiet));
        let error = "loud".parse::<ScreenMode>().unwrap_err();
        assert!(
            error.contains("\"seed\", \"summary\" or \"quiet\""),
            "{error}"
        );
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
