//! How a node writes its logs: `log_format` in the cluster file,
//! `--log-format` on `convene node` and `convene up` (the flag wins).
//!
//! Logs always go to standard error; standard output carries the seeds'
//! on-screen lines, whichever format the logs take.

/// How a node's logs (through `tracing`, on standard error) are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Lines for a person, warnings and errors unless `RUST_LOG` says
    /// otherwise (the default).
    #[default]
    Text,
    /// One JSON object a line, for a log collector, from `info` unless
    /// `RUST_LOG` says otherwise; every request a front door serves is one
    /// record (its span closing) with its service, door, kind, peer and
    /// outcome.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "{other:?} is not a log format: use \"text\" or \"json\""
            )),
        }
    }
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_is_text_or_json_and_nothing_else() {
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        let err = "JSON".parse::<LogFormat>().unwrap_err();
        assert!(
            err.contains("\"JSON\"") && err.contains("\"text\" or \"json\""),
            "{err}"
        );
        assert_eq!(LogFormat::Json.to_string(), "json");
    }
}
