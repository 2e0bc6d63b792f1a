//! `convene files ls|lock|unlock [--server URL | --config FILE]`: the
//! composite listing of every node's shared folder (lab 1), numbered as
//! lab 3 numbers it, and locks by number (lab 3).
//!
//! The client asks a node's web front (see [`remote`](super::remote)):
//! that node gathers every folder's listing from the others, and passes
//! lock requests to the lock holder with the logged-in account as the
//! owner (the operator's locks belong to `(operator)`).

use std::process::ExitCode;

use anyhow::bail;
use convene_files::listing::{Entry, by_index, render};
use convene_files::path::SharedPath;
use serde_json::json;

use super::remote::Remote;

/// Where to ask, and as whom (the same for every subcommand).
#[derive(clap::Args)]
pub struct Target {
    /// A node's web front (default: your latest `convene login`).
    #[arg(long, short, value_name = "URL")]
    server: Option<String>,
    /// The cluster file: ask as its operator, with its secret_file.
    #[arg(long, short)]
    config: Option<std::path::PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum FilesCommand {
    /// One list of every node's shared files, sorted by name and numbered.
    Ls {
        #[command(flatten)]
        target: Target,
    },
    /// Lock file number INDEX of `ls` (as the logged-in account): updates
    /// to it from other nodes wait at the lock holder until it is unlocked.
    Lock {
        /// The file's number in `convene files ls`.
        index: usize,
        #[command(flatten)]
        target: Target,
    },
    /// Unlock file number INDEX: its held updates are applied in arrival
    /// order. Only its owner may; with --force, also an admin.
    Unlock {
        /// The file's number in `convene files ls`.
        index: usize,
        #[command(flatten)]
        target: Target,
        /// Break the lock, whoever holds it (its owner, an account in the
        /// cluster file's `admins`, or the operator).
        #[arg(long)]
        force: bool,
    },
}

pub fn run(command: FilesCommand) -> anyhow::Result<ExitCode> {
    match command {
        FilesCommand::Ls { target } => {
            let mut remote = Remote::resolve(target.server.as_deref(), target.config.as_deref())?;
            let listing = super::runtime()?.block_on(list(&mut remote))?;
            let now = jiff::Timestamp::now().as_second();
            let locked = |p: &SharedPath| listing.locked.contains(p);
            for line in render(&listing.entries, &locked, now) {
                println!("{line}");
            }
            if !listing.missing.is_empty() {
                eprintln!(
                    "convene files: no answer from node {}; its files are missing from this list",
                    listing.missing.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        FilesCommand::Lock { index, target } => lock(target, index, "/api/files/lock", false),
        FilesCommand::Unlock {
            index,
            target,
            force,
        } => lock(target, index, "/api/files/unlock", force),
    }
}

/// What `ls` shows.
struct Listing {
    entries: Vec<Entry>,
    missing: Vec<String>,
    locked: Vec<SharedPath>,
}

/// Locks or unlocks file number `index` of the listing as it is now.
fn lock(target: Target, index: usize, route: &str, force: bool) -> anyhow::Result<ExitCode> {
    let mut remote = Remote::resolve(target.server.as_deref(), target.config.as_deref())?;
    super::runtime()?.block_on(async {
        let listing = list(&mut remote).await?;
        let entry = match by_index(&listing.entries, index) {
            Ok(entry) => entry,
            Err(e) => {
                eprintln!("convene files: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        let mut body = json!({ "path": entry.path.as_str() });
        if force {
            body["force"] = json!(true);
        }
        let answer = remote.post(route, &body).await?;
        if answer.status == 200 {
            println!("{}", answer.body["message"].as_str().unwrap_or("Done."));
            Ok(ExitCode::SUCCESS)
        } else {
            eprintln!("convene files: {}", answer.error());
            Ok(ExitCode::FAILURE)
        }
    })
}

/// The composite listing, from `GET /api/files`.
async fn list(remote: &mut Remote) -> anyhow::Result<Listing> {
    let answer = remote.get("/api/files").await?;
    if answer.status != 200 {
        bail!("{}: {}", remote.url(), answer.error());
    }
    let unreadable =
        |what: &str| anyhow::anyhow!("{} answered an unreadable listing ({what})", remote.url());
    let files = answer.body["files"]
        .as_array()
        .ok_or_else(|| unreadable("no files"))?;
    let mut listing = Listing {
        entries: Vec::with_capacity(files.len()),
        missing: Vec::new(),
        locked: Vec::new(),
    };
    for file in files {
        // A path from the network is checked as any other: it cannot name
        // anything outside a shared folder, nor hold control characters.
        let path = file["path"]
            .as_str()
            .and_then(|p| SharedPath::parse(p).ok())
            .ok_or_else(|| unreadable("a path"))?;
        let modified = file["modified"]
            .as_str()
            .and_then(|m| {
                let instant = m.parse::<jiff::Timestamp>().map(|t| t.as_second());
                instant.ok().or_else(|| m.parse().ok())
            })
            .ok_or_else(|| unreadable("a time"))?;
        if file["locked"].as_bool() == Some(true) {
            listing.locked.push(path.clone());
        }
        listing.entries.push(Entry {
            path,
            size: file["size"].as_u64().ok_or_else(|| unreadable("a size"))?,
            modified,
        });
    }
    listing.missing = answer.body["missing"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(listing)
}
