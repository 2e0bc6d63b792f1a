//! `convene up [--config FILE]`: every node of a cluster in one process.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use convene_cluster::{ClusterConfig, Screen};

use crate::demo;

pub fn run(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let path = match config {
        Some(path) => path.to_path_buf(),
        None => {
            let path = demo::write_demo(Path::new(demo::DEMO_DIR)).with_context(|| {
                format!("cannot write the demo cluster into {}", demo::DEMO_DIR)
            })?;
            print!("{}", demo::banner(&path));
            path
        }
    };
    let cluster = ClusterConfig::load(&path)?;
    super::runtime()?.block_on(async {
        // Bind everything first: ports given as 0 become real ports that
        // every node then knows.
        let (cluster, sockets) = convene_node::bind_cluster(cluster).await?;
        let cluster = Arc::new(cluster);
        let screen = Screen::stdout();
        let several = cluster.nodes.len() > 1;
        let mut running = Vec::new();
        for (node, sockets) in cluster.nodes.iter().zip(sockets) {
            let screen = if several {
                screen.with_prefix(&format!("[{}] ", node.id))
            } else {
                screen.clone()
            };
            match convene_node::start(cluster.clone(), &node.id, sockets, screen).await {
                Ok(n) => running.push(n),
                Err(e) => {
                    for n in running {
                        n.stop().await;
                    }
                    return Err(anyhow::Error::new(e).context("the cluster did not start"));
                }
            }
        }
        super::stop_signal().await;
        for n in running {
            n.stop().await;
        }
        Ok(ExitCode::SUCCESS)
    })
}
