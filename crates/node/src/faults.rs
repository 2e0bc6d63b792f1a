//! Faults a test injects into a node: one [`Faults`] value, handed to each
//! service that has any.
//!
//! Tests that kill a process in the middle of its work need the work to
//! last long enough, or one piece of it switched off. A test running nodes
//! in its own process passes [`Faults`] to [`start_with_faults`]; a test
//! running `convene node` processes passes `--fault` flags, parsed here
//! ([`Fault`]'s `FromStr`, and `Display` to write one). The flag is hidden
//! from `--help` and meant for tests only; no environment variable and no
//! cluster-file key turns a fault on, so nothing a user sets by accident
//! can, and a production code path never looks for one.
//!
//! [`start_with_faults`]: crate::running::start_with_faults

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use convene_events::service::EventsFaults;
use convene_files::service::FilesFaults;

/// Every fault a node can be started with: none by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// The events service's.
    pub events: EventsFaults,
    /// The files service's.
    pub files: FilesFaults,
}

/// One fault, as `convene node --fault` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `events-pause-before-store=MS`: a leader waits MS milliseconds
    /// between collecting the partials and storing an event's result.
    EventsPauseBeforeStore(Duration),
    /// `events-no-hand-over`: the coordinator never hands a dead server's
    /// share over.
    EventsNoHandOver,
    /// `files-chunk-pause=MS`: the node waits MS milliseconds before
    /// serving each chunk of a file.
    FilesChunkPause(Duration),
}

/// A `--fault` value that names no fault, or a bad duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown fault {0:?} (events-pause-before-store=MS, events-no-hand-over, files-chunk-pause=MS)"
)]
pub struct UnknownFault(String);

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownFault(text.to_string());
        let (name, value) = match text.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (text, None),
        };
        let millis = || {
            value
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis)
                .ok_or_else(unknown)
        };
        match (name, value) {
            ("events-pause-before-store", Some(_)) => Ok(Fault::EventsPauseBeforeStore(millis()?)),
            ("events-no-hand-over", None) => Ok(Fault::EventsNoHandOver),
            ("files-chunk-pause", Some(_)) => Ok(Fault::FilesChunkPause(millis()?)),
            _ => Err(unknown()),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::EventsPauseBeforeStore(pause) => {
                write!(f, "events-pause-before-store={}", pause.as_millis())
            }
            Fault::EventsNoHandOver => f.write_str("events-no-hand-over"),
            Fault::FilesChunkPause(pause) => write!(f, "files-chunk-pause={}", pause.as_millis()),
        }
    }
}

impl FromIterator<Fault> for Faults {
    fn from_iter<I: IntoIterator<Item = Fault>>(faults: I) -> Self {
        let mut all = Faults::default();
        for fault in faults {
            match fault {
                Fault::EventsPauseBeforeStore(pause) => all.events.pause_before_store = Some(pause),
                Fault::EventsNoHandOver => all.events.no_hand_over = true,
                Fault::FilesChunkPause(pause) => all.files.chunk_pause = Some(pause),
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_back_as_written_and_gather_into_one_setting() {
        let given = [
            Fault::EventsPauseBeforeStore(Duration::from_millis(3000)),
            Fault::EventsNoHandOver,
            Fault::FilesChunkPause(Duration::from_millis(400)),
        ];
        for fault in given {
            assert_eq!(fault.to_string().parse::<Fault>(), Ok(fault));
        }
        let faults: Faults = given.into_iter().collect();
        assert_eq!(
            faults.events.pause_before_store,
            Some(Duration::from_millis(3000))
        );
        assert!(faults.events.no_hand_over);
        assert_eq!(faults.files.chunk_pause, Some(Duration::from_millis(400)));
        assert_eq!(Faults::default().events, EventsFaults::default());
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "events-no-hand-over=1",
            "events-pause-before-store",
            "events-pause-before-store=3s",
            "files-chunk-pause=-1",
            "no-such-fault",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad:?}");
        }
    }
}
