//! Real hosts and real partitions on one Linux machine, for Convene's
//! partition tests and `convene chaos`.
//!
//! A [`Lab`] is a few network namespaces ("hosts"), each with its own
//! address on one Ethernet bridge (the cluster's network), built with the
//! `ip` command. Nodes run inside the hosts as ordinary processes
//! ([`Lab::command`] wraps `ip netns exec`), bind their host's address and
//! talk to each other across the bridge: nothing in them is simulated.
//! [`Lab::cut`] takes a host's link off the bridge, so it can reach no other
//! host and none can reach it (a partition at the link layer, seen by the
//! nodes only as silence); [`Lab::heal`] puts it back.
//!
//! The program that made the lab (a test, or `convene chaos`) lives in the
//! machine's own namespace. So that it can still talk to every host, cut or
//! not, as a client on the cut host's side would, each host also has a
//! point-to-point "client link" to it, which is never cut and carries no
//! traffic between hosts (the machine does not forward between them unless
//! its own `ip_forward` is on, and even then only the hosts' /32 routes
//! lead there, and hosts have no route to each other through it).
//!
//! ```text
//!   this program (machine namespace)
//!     | cvS h0 (client link)   | cvS h1           | cvS h2
//!   [ host 0 ]              [ host 1 ]         [ host 2 ]
//!     | eth0 10.213.S.1        | eth0 10.213.S.2  | eth0 10.213.S.3
//!     +----------- bridge br0 (namespace of its own) -----------+
//! ```
//!
//! Everything is removed when the lab is dropped, on panic as well (the
//! namespaces are deleted, and with them every link). A program killed
//! before it could drop its lab leaves namespaces named after its process
//! id; [`remove_leftovers`] (which [`Lab::new`] calls first) deletes those
//! of processes that no longer exist.
//!
//! This kernel has no `netem`, so there are no lossy or slow links here:
//! only up or cut.

mod ip;
mod lab;
mod leftovers;

pub use ip::NetnsError;
pub use lab::Lab;
pub use leftovers::{PREFIX, remove_leftovers};

/// Whether labs can be made here: run as root, with the `ip` command.
/// `Err` says what is missing, for a test's "skipped" line.
pub fn available() -> Result<(), String> {
    if !is_root() {
        return Err("not running as root (network namespaces need it)".to_string());
    }
    match std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`ip netns list` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("no `ip` command ({e})")),
    }
}

/// Whether this process runs as root, read from `/proc/self/status` (its
/// effective user id) so that the crate needs no system-call library.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            // Uid: real effective saved filesystem
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}
