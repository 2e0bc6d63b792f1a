//! What an operator runs around a cluster: `convene --version`, the health
//! endpoints a load balancer or systemd asks, and `convene check` before a
//! start.

use crate::util::convene;

/// `--version` names the version and the commit, so a bug report says which
/// code it is about.
#[test]
fn version_names_the_version_and_the_commit() {
    let output = convene().arg("--version").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let line = text.trim();
    assert!(
        line.starts_with(&format!("convene {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{line:?}"
    );
    let commit = line
        .rsplit_once("(commit ")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no commit in {line:?}"));
    // A short hash from git, or `unknown` for a build outside a checkout.
    assert!(
        commit == "unknown"
            || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit:?}"
    );
}
