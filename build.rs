//! Embeds the git commit the binary is built from, for `convene --version`.
//!
//! A bug report that says "0.1.0" says little while the version number moves
//! only at releases; the commit names the exact code. The commit comes from
//! `git rev-parse --short HEAD` and becomes `CONVENE_COMMIT`; a build without
//! git or outside a checkout (a source tarball) says `unknown` rather than
//! failing.
//!
//! Cargo reruns this script only when a file it names changes: the checkout's
//! `HEAD` (another branch checked out) and the ref `HEAD` points to (a new
//! commit on that branch), plus `packed-refs` (where `git gc` moves refs).
//! Paths are asked of git (`--git-path`), so a linked worktree, whose `.git`
//! is a file pointing elsewhere, works too. A path that does not exist is
//! not named: cargo would take it as changed and rerun on every build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=CONVENE_COMMIT={commit}");

    let mut watched = vec![git_path("HEAD"), git_path("packed-refs")];
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git_path(&reference));
    }
    for path in watched.into_iter().flatten() {
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// What `git args` prints (trimmed), run in the crate's directory; `None`
/// without git, outside a checkout, or on an empty answer.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let output = Command::new("git")
        .args(args)
        .current_dir(&dir)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Where git keeps `name` (`HEAD`, `refs/heads/main`, ...) for this
/// checkout, as an absolute path.
fn git_path(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(git(&["rev-parse", "--git-path", name])?);
    if path.is_absolute() {
        return Some(path);
    }
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    Some(Path::new(&dir).join(path))
}
