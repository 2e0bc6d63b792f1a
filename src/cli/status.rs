//! `convene status [--config FILE | --chat-config FILE]`: each node up or
//! down, and the coordinator.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use convene_cluster::ClusterConfig;
use convene_cluster::membership::query_status;
use convene_cluster::shutdown::Shutdown;
use convene_rpc::socket::handler_fn;

use crate::demo;

pub fn run(
    config: Option<&Path>,
    chat_config: Option<&Path>,
    secret_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let cluster = match chat_config {
        Some(chat) => super::node::load_course(chat, secret_file)?,
        None => load(config)?,
    };
    show(cluster)
}

fn load(config: Option<&Path>) -> anyhow::Result<ClusterConfig> {
    let path = match config {
        Some(p) => p.to_path_buf(),
        None => {
            let p = Path::new(demo::DEMO_DIR).join("cluster.toml");
            anyhow::ensure!(
                p.exists(),
                "no --config given and no demo cluster at {} (start one with `convene up`)",
                p.display()
            );
            p
        }
    };
    Ok(ClusterConfig::load(&path)?)
}

fn show(cluster: ClusterConfig) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async {
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
        // We ask as the operator: holding the cluster's secret, at an
        // address that is no node's (see convene_rpc::auth).
        let auth = convene_rpc::PeerAuth {
            key: cluster.peer_mac_key(),
            members: cluster
                .nodes
                .iter()
                .map(|n| convene_rpc::Member {
                    id: n.id.clone(),
                    addr: n.peer_addr(),
                })
                .collect(),
            me: None,
            boot: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_millis() as u64),
        };
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
        let mut views = Vec::new();
        for ask in asks {
            views.push(ask.await.unwrap_or_else(|e| Err(e.to_string())));
        }
        trigger.trigger();
        let _ = task.await;

        let name = |n: usize| cluster.nodes.get(n).map_or("?", |node| node.id.as_str());
        println!(
            "{:<10} {:<24} {:<6} {:<12} live, as it sees it",
            "node", "peer address", "state", "coordinator"
        );
        let mut coordinators = Vec::new();
        for (node, view) in cluster.nodes.iter().zip(&views) {
            match view {
                Ok((_, coordinator, live)) => {
                    let live: Vec<&str> = live.iter().map(|n| name(*n)).collect();
                    let c = coordinator.map_or("-", name);
                    println!(
                        "{:<10} {:<24} {:<6} {:<12} {}",
                        node.id,
                        node.peer_addr().to_string(),
                        "up",
                        c,
                        live.join(", ")
                    );
                    coordinators.push(*coordinator);
                }
                Err(_) => println!(
                    "{:<10} {:<24} {:<6} {:<12} -",
                    node.id,
                    node.peer_addr().to_string(),
                    "down",
                    "-"
                ),
            }
        }
        coordinators.dedup();
        match coordinators.as_slice() {
            [] => {
                println!("coordinator: unknown (no node answered)");
                Ok(ExitCode::FAILURE)
            }
            [Some(c)] => {
                println!(
                    "coordinator: {} (priority {})",
                    name(*c),
                    cluster.nodes[*c].priority
                );
                Ok(ExitCode::SUCCESS)
            }
            _ => {
                println!("coordinator: not agreed yet (an election may be under way)");
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
