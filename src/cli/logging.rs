//! Where logs go and how they look: standard error always (standard output
//! carries the seeds' on-screen lines), as text or JSON
//! ([`LogFormat`]), at the levels `RUST_LOG` sets.
//!
//! - **text** (the default): lines for a person, `warn` and above unless
//!   `RUST_LOG` says otherwise: what `convene` has always written.
//! - **json**: one JSON object a line, `info` and above unless `RUST_LOG`
//!   says otherwise. A span's close is a record too, so every request a
//!   front door serves (its span, target `convene_request`; see
//!   `convene_metrics::Request`) gives one record whose `span` carries its
//!   service, door, kind, peer and outcome, and `time.busy`/`time.idle`
//!   how long it took. `RUST_LOG=info,convene_request=off` keeps the
//!   other records and drops those.
//!
//! `convene node` and `convene up` take the format from `--log-format`,
//! else from the cluster file's `log_format`, so logging starts once that
//! is known (see [`init`]); every other command logs text from the start.

use std::sync::OnceLock;

use convene_cluster::log_format::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// The format logging started with; set once.
static STARTED: OnceLock<LogFormat> = OnceLock::new();

/// Starts logging in `format`; a later call changes nothing (the flag,
/// read first, wins over the cluster file's key).
pub fn init(format: LogFormat) {
    let mut first = false;
    STARTED.get_or_init(|| {
        first = true;
        format
    });
    if !first {
        return;
    }
    let default = match format {
        LogFormat::Text => "warn",
        LogFormat::Json => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Another subscriber already set (none is, in this binary) leaves
    // that one in place.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_span_events(FmtSpan::CLOSE)
            .with_span_list(false)
            .try_init(),
    };
}

/// Whether logs are JSON: a warning for the operator must then be a
/// record too, or a collector reading standard error finds a line it
/// cannot parse.
pub fn json() -> bool {
    STARTED.get() == Some(&LogFormat::Json)
}

/// A warning for whoever started the node: on standard error as
/// `convene: warning: …`, or a JSON record.
pub fn warn(message: &str) {
    if json() {
        tracing::warn!(target: "convene", "{message}");
    } else {
        eprintln!("convene: warning: {message}");
    }
}
