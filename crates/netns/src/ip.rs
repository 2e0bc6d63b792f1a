//! Running the `ip` command, with its error as a typed error.

use std::process::Command;

/// Why a lab could not be made or changed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// `ip` could not be started at all.
    #[error("could not run `ip {args}`: {source}")]
    Spawn {
        /// The arguments, joined by spaces.
        args: String,
        /// Why it did not start.
        source: std::io::Error,
    },
    /// `ip` ran and failed.
    #[error("`ip {args}` failed: {stderr}")]
    Failed {
        /// The arguments, joined by spaces.
        args: String,
        /// What it said.
        stderr: String,
    },
    /// Every subnet this crate uses is taken by other labs.
    #[error("no free 10.213.S.0/24 subnet for a new lab")]
    NoSubnet,
}

/// Runs `ip ARGS`, returning its standard output.
pub(crate) fn ip(args: &[&str]) -> Result<String, NetnsError> {
    let joined = args.join(" ");
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|source| NetnsError::Spawn {
            args: joined.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(NetnsError::Failed {
            args: joined,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
