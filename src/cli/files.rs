//! `convene files ls [--server HOST:PORT]`: the composite listing of every
//! node's shared folder (lab 1), numbered as lab 3 numbers it.
//!
//! The client speaks the peer transport's request/reply (as `convene
//! status` does) to any node of the cluster, at its `peer_port`; that node
//! gathers every folder's listing from the others.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use convene_cluster::ServiceTag;
use convene_cluster::shutdown::Shutdown;
use convene_files::files_msg::{FilesReply, FilesRequest};
use convene_files::listing::{Entry, render};
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
}

pub fn run(command: FilesCommand) -> anyhow::Result<ExitCode> {
    match command {
        FilesCommand::Ls { server } => {
            let server = super::resolve(&server)?;
            let (entries, missing) = super::runtime()?.block_on(list(server))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            for line in render(&entries, &|_| false, now) {
                println!("{line}");
            }
            if !missing.is_empty() {
                eprintln!(
                    "convene files: no answer from node {}; its files are missing from this list",
                    missing.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The composite listing from the node at `server`, page by page.
async fn list(server: std::net::SocketAddr) -> anyhow::Result<(Vec<Entry>, Vec<String>)> {
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
    let result = async {
        for _ in 0..3 {
            let mut entries: Vec<Entry> = Vec::new();
            let mut snapshot = 0;
            loop {
                let request = FilesRequest::ListAll {
                    snapshot,
                    offset: entries.len() as u32,
                };
                let mut body = vec![ServiceTag::Files as u8];
                body.extend(request.to_bytes());
                let reply = client.call(server, body).await.with_context(|| {
                    format!("no answer from {server} (is it a node's peer_port?)")
                })?;
                match FilesReply::from_bytes(&reply).context("unreadable reply")? {
                    FilesReply::Listing {
                        snapshot: s,
                        total,
                        entries: page,
                        missing,
                    } => {
                        snapshot = s;
                        if page.is_empty() && entries.len() < total as usize {
                            bail!("the listing ended early");
                        }
                        entries.extend(page);
                        if entries.len() >= total as usize {
                            return Ok((entries, missing));
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
