//! `convene node --config FILE --id ID`, or `convene node --chat-config
//! configuration.txt --id s1` for the chat seed's own server list.
//!
//! - [`ports_file`]: `--ports-file`, the ports the node bound.
//! - [`inherited`]: `--socket` (hidden), sockets bound by the process that
//!   started the node.

pub mod inherited;
pub mod ports_file;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use convene_cluster::log_format::LogFormat;
use convene_cluster::screen::ScreenMode;
use convene_cluster::{ClusterConfig, Screen};
use convene_node::Faults;

/// How a node process is run, beside its cluster: what the command line
/// says about this process alone.
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Faults to inject (for tests; none otherwise).
    pub faults: Faults,
    /// Where to write the bound ports once started (`--ports-file`).
    pub ports_file: Option<PathBuf>,
    /// Sockets handed down by the starting process (`--socket`, for tests).
    pub sockets: Vec<inherited::InheritedSocket>,
    /// `--screen`: how much of the seeds' lines to show (over the file's).
    pub screen: Option<ScreenMode>,
    /// `--log-format`: how logs look (over the file's `log_format`).
    pub log_format: Option<LogFormat>,
}

/// Runs node `id` of the cluster file `config`.
pub fn run(config: &Path, id: &str, options: RunOptions) -> anyhow::Result<ExitCode> {
    let cluster = convene_node::load_cluster(config)?;
    run_cluster(cluster, id, options)
}

/// Runs node `id` of a course chat configuration (see [`load_course`]).
pub fn run_course(
    config: &Path,
    secret_file: Option<&Path>,
    id: &str,
    options: RunOptions,
) -> anyhow::Result<ExitCode> {
    run_cluster(load_course(config, secret_file)?, id, options)
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

fn run_cluster(cluster: ClusterConfig, id: &str, options: RunOptions) -> anyhow::Result<ExitCode> {
    // First, before the runtime opens anything (see `inherited::adopt`).
    let inherited = inherited::adopt(&options.sockets)?;
    super::logging::init(options.log_format.unwrap_or(cluster.log_format));
    cluster.node(id)?; // an unknown id: an error that lists the known ones
    super::check_secret(&cluster)?;
    let index = cluster.index_of(id).unwrap_or_default();
    let screen_mode = options.screen.unwrap_or(cluster.screen);
    super::runtime()?.block_on(async {
        // A port 0 in the file becomes the port the OS chose, so the node
        // can reach itself (a single-node cluster needs nothing else).
        let (cluster, sockets) = convene_node::bind_one(cluster, index, inherited).await?;
        let bound = cluster.nodes[index].clone();
        // No context added: the error already names the node.
        let running = convene_node::start_with_faults(
            Arc::new(cluster),
            id,
            sockets,
            Screen::for_mode(screen_mode),
            options.faults,
        )
        .await?;
        if let Some(path) = &options.ports_file
            && let Err(error) = ports_file::write(path, &bound)
        {
            running.stop().await;
            return Err(error);
        }
        super::stop_signal().await;
        // Gracefully: finish what is in flight, tell the peers. A second
        // signal stops at once.
        tokio::select! {
            () = running.leave(convene_node::running::DRAIN) => {}
            () = super::stop_signal() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}
