//! `convene status [--server URL | --config FILE | --chat-config FILE]`:
//! each node up or down, and the coordinator.
//!
//! The view comes from a web front's `GET /api/status`, which asks every
//! node over the peer transport (see [`remote`](super::remote) for who
//! asks, and how). The chat seed's own `configuration.txt` describes a
//! cluster with no web front: there the client asks each node's peer port
//! itself, which answers only where that port is open to this machine.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use convene_cluster::ClusterConfig;
use convene_cluster::membership::query_status;
use convene_cluster::shutdown::Shutdown;
use convene_rpc::socket::handler_fn;

use super::remote::Remote;

/// One line of the table.
struct Row {
    id: String,
    peer_address: String,
    priority: i64,
    /// `None` when the node is down; else its coordinator and live set.
    view: Option<(Option<String>, Vec<String>)>,
    /// Its quorum term, with `*` if it holds authority now ("-" if unknown).
    term: String,
}

/// A term as the table shows it: `7*` while the node may decide.
fn term_cell(term: Option<u64>, authority: bool) -> String {
    match term {
        Some(t) if authority => format!("{t}*"),
        Some(t) => t.to_string(),
        None => "-".into(),
    }
}

pub fn run(
    server: Option<&str>,
    config: Option<&Path>,
    chat_config: Option<&Path>,
    secret_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let rows = match chat_config {
        Some(chat) => super::runtime()?.block_on(over_peer_ports(super::node::load_course(
            chat,
            secret_file,
        )?))?,
        None => super::runtime()?.block_on(over_http(Remote::resolve(server, config)?))?,
    };
    Ok(show(&rows))
}

/// The rows from a web front's `GET /api/status`.
async fn over_http(mut remote: Remote) -> anyhow::Result<Vec<Row>> {
    let answer = remote.get("/api/status").await?;
    if answer.status != 200 {
        bail!("{}: {}", remote.url(), answer.error());
    }
    let unreadable = || anyhow::anyhow!("{} answered an unreadable status", remote.url());
    let nodes = answer.body["nodes"].as_array().ok_or_else(unreadable)?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    nodes
        .iter()
        .map(|node| {
            let view = match node["state"].as_str() {
                Some("up") => Some((
                    text(&node["coordinator"]),
                    node["live"]
                        .as_array()
                        .ok_or_else(unreadable)?
                        .iter()
                        .map(|n| text(n).unwrap_or_else(|| "?".into()))
                        .collect(),
                )),
                _ => None,
            };
            Ok(Row {
                id: text(&node["id"]).ok_or_else(unreadable)?,
                peer_address: text(&node["peer_address"]).unwrap_or_default(),
                priority: node["priority"].as_i64().unwrap_or_default(),
                view,
                term: term_cell(
                    node["term"].as_u64(),
                    node["authority"].as_bool().unwrap_or(false),
                ),
            })
        })
        .collect()
}

/// The rows from asking each node's peer port directly (the chat seed's
/// cluster, which has no web front), as the cluster's operator: holding its
/// secret, at an address that is no node's (see `convene_rpc::auth`).
async fn over_peer_ports(cluster: ClusterConfig) -> anyhow::Result<Vec<Row>> {
    // A transport of our own, on an ephemeral port, that answers nothing.
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0")
        .await
        .context("cannot open a UDP socket")?;
    let config = convene_rpc::Config {
        timeout: Duration::from_millis(300),
        retries: 2,
        ..Default::default()
    };
    let (trigger, shutdown) = Shutdown::new();
    let boot = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_millis() as u64);
    let auth = cluster.peer_auth(None, boot);
    let (client, task) = convene_rpc::start_authenticated(
        socket,
        config,
        auth,
        Arc::new(handler_fn(|_, _| async { None })),
        async move { shutdown.wait().await },
    );
    let mut asks = Vec::new();
    for node in &cluster.nodes {
        let client = client.clone();
        let addr = node.peer_addr();
        asks.push(tokio::spawn(
            async move { query_status(&client, addr).await },
        ));
    }
    let name = |n: usize| {
        cluster
            .nodes
            .get(n)
            .map_or("?", |node| node.id.as_str())
            .to_string()
    };
    let mut rows = Vec::new();
    for (node, ask) in cluster.nodes.iter().zip(asks) {
        let view = ask.await.unwrap_or_else(|e| Err(e.to_string())).ok();
        rows.push(Row {
            id: node.id.clone(),
            peer_address: node.peer_addr().to_string(),
            priority: node.priority,
            term: term_cell(
                view.as_ref().map(|(_, v)| v.term),
                view.as_ref().is_some_and(|(_, v)| v.authority),
            ),
            view: view.map(|(_, v)| {
                (
                    v.coordinator.map(name),
                    v.live.into_iter().map(name).collect(),
                )
            }),
        });
    }
    trigger.trigger();
    let _ = task.await;
    Ok(rows)
}

/// Prints the table and the coordinator line; fails if no node answered.
fn show(rows: &[Row]) -> ExitCode {
    println!(
        "{:<10} {:<24} {:<6} {:<12} {:<8} live, as it sees it",
        "node", "peer address", "state", "coordinator", "term"
    );
    let mut coordinators = Vec::new();
    for row in rows {
        match &row.view {
            Some((coordinator, live)) => {
                println!(
                    "{:<10} {:<24} {:<6} {:<12} {:<8} {}",
                    row.id,
                    row.peer_address,
                    "up",
                    coordinator.as_deref().unwrap_or("-"),
                    row.term,
                    live.join(", ")
                );
                coordinators.push(coordinator.clone());
            }
            None => println!(
                "{:<10} {:<24} {:<6} {:<12} {:<8} -",
                row.id, row.peer_address, "down", "-", "-"
            ),
        }
    }
    println!(
        "term: the highest quorum term a node has granted or used; * = it holds a majority's leases and may decide"
    );
    coordinators.dedup();
    match coordinators.as_slice() {
        [] => {
            println!("coordinator: unknown (no node answered)");
            ExitCode::FAILURE
        }
        [Some(c)] => {
            let priority = rows.iter().find(|r| &r.id == c).map_or(0, |r| r.priority);
            println!("coordinator: {c} (priority {priority})");
            ExitCode::SUCCESS
        }
        _ => {
            println!("coordinator: not agreed yet (an election may be under way)");
            ExitCode::SUCCESS
        }
    }
}
