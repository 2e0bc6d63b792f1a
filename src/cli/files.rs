//! `convene files ls|lock|unlock [--server HOST:PORT]`: the composite
//! listing of every node's shared folder (lab 1), numbered as lab 3 numbers
//! it, and locks by number (lab 3).
//!
//! The client speaks the peer transport's request/reply (as `convene
//! status` does) to any node of the cluster, at its `peer_port`; that node
//! gathers every folder's listing from the others, and passes lock requests
//! to the lock holder.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use convene_cluster::ServiceTag;
use convene_cluster::shutdown::{Shutdown, ShutdownTrigger};
use convene_files::files_msg::{FilesReply, FilesRequest, LockAction};
use convene_files::listing::{Entry, by_index, render};
use convene_files::path::SharedPath;
use convene_rpc::socket::handler_fn;
use convene_wire::{Decode, Encode};

use crate::demo::DEMO_PEER;

#[derive(clap::Subcommand)]
pub enum FilesCommand {
    /// One list of every node's shared files, sorted by name and numbered.
    Ls {
        /// Any node of the cluster, at its peer_port (default: the demo's M).
        #[arg(long, short, value_name = "HOST:PORT", default_value = DEMO_PEER)]
        server: String,
    },
    /// Lock file number INDEX of `ls`: updates to it from other nodes wait
    /// at the lock holder until it is unlocked.
    Lock {
        /// The file's number in `convene files ls`.
        index: usize,
        /// Any node of the cluster, at its peer_port (default: the demo's M).
        #[arg(long, short, value_name = "HOST:PORT", default_value = DEMO_PEER)]
        server: String,
        /// Who holds the lock (default: $USER).
        #[arg(long)]
        owner: Option<String>,
    },
    /// Unlock file number INDEX: its held updates are applied in arrival order.
    Unlock {
        /// The file's number in `convene files ls`.
        index: usize,
        /// Any node of the cluster, at its peer_port (default: the demo's M).
        #[arg(long, short, value_name = "HOST:PORT", default_value = DEMO_PEER)]
        server: String,
        /// Who holds the lock (default: $USER).
        #[arg(long)]
        owner: Option<String>,
        /// Break the lock, whoever holds it.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(command: FilesCommand) -> anyhow::Result<ExitCode> {
    match command {
        FilesCommand::Ls { server } => {
            let server = super::resolve(&server)?;
            let listing = super::runtime()?.block_on(list(server))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
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
        FilesCommand::Lock {
            index,
            server,
            owner,
        } => lock(&server, index, owner, LockAction::Lock),
        FilesCommand::Unlock {
            index,
            server,
            owner,
            force,
        } => {
            let action = if force {
                LockAction::ForceUnlock
            } else {
                LockAction::Unlock
            };
            lock(&server, index, owner, action)
        }
    }
}

/// What `ls` shows.
struct Listing {
    entries: Vec<Entry>,
    missing: Vec<String>,
    locked: Vec<SharedPath>,
}

/// Locks or unlocks file number `index` of the listing.
fn lock(
    server: &str,
    index: usize,
    owner: Option<String>,
    action: LockAction,
) -> anyhow::Result<ExitCode> {
    let server = super::resolve(server)?;
    let owner = owner
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "anonymous".into());
    super::runtime()?.block_on(async {
        let listing = list(server).await?;
        let entry = match by_index(&listing.entries, index) {
            Ok(entry) => entry,
            Err(e) => {
                eprintln!("convene files: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        let request = FilesRequest::Lock {
            path: entry.path.clone(),
            owner,
            action,
        };
        let (client, trigger, task) = transport(server).await?;
        let reply = call(&client, server, &request).await;
        trigger.trigger();
        let _ = task.await;
        match reply? {
            FilesReply::LockDone(what) => {
                println!("{what}");
                Ok(ExitCode::SUCCESS)
            }
            FilesReply::Failed(reason) => {
                eprintln!("convene files: {reason}");
                Ok(ExitCode::FAILURE)
            }
            other => bail!("{server} answered something else: {other:?}"),
        }
    })
}

/// A request/reply transport on an ephemeral port that answers nothing.
async fn transport(
    server: SocketAddr,
) -> anyhow::Result<(
    convene_rpc::Client,
    ShutdownTrigger,
    tokio::task::JoinHandle<()>,
)> {
    let bind = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .context("cannot open a UDP socket")?;
    let (trigger, shutdown) = Shutdown::new();
    let config = convene_rpc::Config {
        // A listing gathers every node's folder first: give it time.
        timeout: Duration::from_secs(3),
        retries: 2,
        ..Default::default()
    };
    let (client, task) = convene_rpc::start(
        socket,
        config,
        Arc::new(handler_fn(|_, _| async { None })),
        async move { shutdown.wait().await },
    );
    Ok((client, trigger, task))
}

/// One request to `server`.
async fn call(
    client: &convene_rpc::Client,
    server: SocketAddr,
    request: &FilesRequest,
) -> anyhow::Result<FilesReply> {
    let mut body = vec![ServiceTag::Files as u8];
    body.extend(request.to_bytes());
    let reply = client
        .call(server, body)
        .await
        .with_context(|| format!("no answer from {server} (is it a node's peer_port?)"))?;
    FilesReply::from_bytes(&reply).context("unreadable reply")
}

/// The composite listing from the node at `server`, page by page.
async fn list(server: SocketAddr) -> anyhow::Result<Listing> {
    let (client, trigger, task) = transport(server).await?;
    let result = async {
        for _ in 0..3 {
            let mut entries: Vec<Entry> = Vec::new();
            let mut snapshot = 0;
            loop {
                let request = FilesRequest::ListAll {
                    snapshot,
                    offset: entries.len() as u32,
                };
                match call(&client, server, &request).await? {
                    FilesReply::Listing {
                        snapshot: s,
                        total,
                        entries: page,
                        missing,
                        locked,
                    } => {
                        snapshot = s;
                        if page.is_empty() && entries.len() < total as usize {
                            bail!("the listing ended early");
                        }
                        entries.extend(page);
                        if entries.len() >= total as usize {
                            return Ok(Listing {
                                entries,
                                missing,
                                locked,
                            });
                        }
                    }
                    FilesReply::StaleSnapshot => break,
                    FilesReply::Failed(reason) => bail!("{server}: {reason}"),
                    other => bail!("{server} answered something else: {other:?}"),
                }
            }
        }
        bail!("the listing kept changing; try again")
    }
    .await;
    trigger.trigger();
    let _ = task.await;
    result
}
