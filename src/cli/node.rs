//! `convene node --config FILE --id ID`, or `convene node --chat-config
//! configuration.txt --id s1` for the chat seed's own server list.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use convene_cluster::{ClusterConfig, Screen};
use convene_node::Faults;

/// Runs node `id` of the cluster file `config`, with `faults` injected (for
/// tests; none otherwise).
pub fn run(config: &Path, id: &str, faults: Faults) -> anyhow::Result<ExitCode> {
    let cluster = convene_node::load_cluster(config)?;
    run_cluster(cluster, id, faults)
}

/// Runs node `id` of a course chat configuration (see [`load_course`]).
pub fn run_course(
    config: &Path,
    secret_file: Option<&Path>,
    id: &str,
    faults: Faults,
) -> anyhow::Result<ExitCode> {
    run_cluster(load_course(config, secret_file)?, id, faults)
}

/// Reads the chat seed's `configuration.txt` (or the 4-column course format)
/// as a cluster of chat-only nodes, with the secret in `secret_file` if
/// given (the course format has no place for one).
pub fn load_course(config: &Path, secret_file: Option<&Path>) -> anyhow::Result<ClusterConfig> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let servers = convene_chat::course_config::parse_course_config(&text)
        .with_context(|| format!("{}", config.display()))?;
    let cluster = convene_chat::course_config::course_cluster(&servers, config)?;
    Ok(match secret_file {
        Some(file) => cluster.with_secret_file(file)?,
        None => cluster,
    })
}

fn run_cluster(cluster: ClusterConfig, id: &str, faults: Faults) -> anyhow::Result<ExitCode> {
    cluster.node(id)?; // an unknown id: an error that lists the known ones
    super::check_secret(&cluster)?;
    let index = cluster.index_of(id).unwrap_or_default();
    super::runtime()?.block_on(async {
        // A port 0 in the file becomes the port the OS chose, so the node
        // can reach itself (a single-node cluster needs nothing else).
        let (cluster, sockets) = convene_node::bind_one(cluster, index).await?;
        // No context added: the error already names the node.
        let running = convene_node::start_with_faults(
            Arc::new(cluster),
            id,
            sockets,
            Screen::stdout(),
            faults,
        )
        .await?;
        super::stop_signal().await;
        running.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}
