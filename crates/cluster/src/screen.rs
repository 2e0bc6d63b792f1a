//! The on-screen lines a seed's users expect to see.
//!
//! Each seed prints exact lines at exact moments ("Main Server is up and
//! running."). Services write them through a [`Screen`] instead of
//! `println!` for three reasons:
//!
//! - **Atomic blocks.** Some messages span two lines ("...over port 23092:"
//!   then "[[2,3]]."). With many clients served at once, a block must not be
//!   interleaved with another request's lines.
//! - **Throughput.** A `println!` is one `write` system call. A busy main node
//!   prints several lines per query; a writer thread drains everything queued
//!   since its last write into one `write`, so the cost per line falls as load
//!   rises, while an idle node still shows each line at once.
//! - **Tests.** [`Screen::capture`] records lines in memory so an integration
//!   test can compare them with the seed's tables.

use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    Writer(mpsc::Sender<String>),
    Capture(Captured),
    Discard,
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
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::Builder::new()
            .name("screen".into())
            .spawn(move || {
                let mut batch = String::new();
                while let Ok(first) = rx.recv() {
                    batch.clear();
                    batch.push_str(&first);
                    while let Ok(more) = rx.try_recv() {
                        batch.push_str(&more);
                    }
                    // A closed pipe is no reason to stop the node.
                    let _ = out.write_all(batch.as_bytes()).and_then(|()| out.flush());
                }
            })
            .expect("spawning the screen thread");
        Screen {
            sink: Sink::Writer(tx),
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
    pub fn line(&self, line: impl AsRef<str>) {
        self.block(&[line.as_ref()]);
    }

    /// Shows several lines together, never interleaved with other blocks.
    pub fn block<S: AsRef<str>>(&self, lines: &[S]) {
        match &self.sink {
            Sink::Discard => {}
            Sink::Writer(tx) => {
                let mut text = String::new();
                for line in lines {
                    text.push_str(&self.prefix);
                    text.push_str(line.as_ref());
                    text.push('\n');
                }
                let _ = tx.send(text);
            }
            Sink::Capture(captured) => {
                let mut all = captured.lines.lock().unwrap_or_else(|e| e.into_inner());
                for line in lines {
                    all.push(format!("{}{}", self.prefix, line.as_ref()));
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

    #[test]
    fn capture_keeps_blocks_together_and_applies_the_prefix() {
        let (screen, captured) = Screen::capture();
        screen.line("one");
        screen.with_prefix("[A] ").block(&["two", "three"]);
        assert_eq!(captured.lines(), ["one", "[A] two", "[A] three"]);
    }

    #[test]
    fn writer_delivers_every_line_in_order() {
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
}
