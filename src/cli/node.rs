//! `convene node --config FILE --id ID`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use convene_cluster::{ClusterConfig, Screen};

pub fn run(config: &Path, id: &str) -> anyhow::Result<ExitCode> {
    let cluster = ClusterConfig::load(config)?;
    let node = cluster.node(id)?.clone();
    super::runtime()?.block_on(async {
        let sockets = convene_node::bind_node(&node).await?;
        let running = convene_node::start(Arc::new(cluster), id, sockets, Screen::stdout())
            .await
            .with_context(|| format!("node {id} did not start"))?;
        super::stop_signal().await;
        running.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}
