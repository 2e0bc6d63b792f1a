//! `convene up [--config FILE | --chat-config FILE]`: every node of a
//! cluster in one process.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use convene_cluster::log_format::LogFormat;
use convene_cluster::screen::ScreenMode;
use convene_cluster::{ClusterConfig, Screen};

use crate::demo;

/// What the command line says of what a cluster shows: the seeds' lines
/// and the logs (each over the cluster file's key).
pub struct Display {
    /// `--screen`.
    pub screen: Option<ScreenMode>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
}

pub fn run(
    config: Option<&Path>,
    chat_config: Option<&Path>,
    secret_file: Option<&Path>,
    display: Display,
) -> anyhow::Result<ExitCode> {
    if let Some(chat) = chat_config {
        return run_cluster(super::node::load_course(chat, secret_file)?, false, display);
    }
    let path = match config {
        Some(path) => path.to_path_buf(),
        None => {
            let path = demo::write_demo(Path::new(demo::DEMO_DIR)).with_context(|| {
                format!("cannot write the demo cluster into {}", demo::DEMO_DIR)
            })?;
            print!("{}", demo::banner(&path));
            return run_cluster(convene_node::load_cluster(&path)?, true, display);
        }
    };
    run_cluster(convene_node::load_cluster(&path)?, false, display)
}

fn run_cluster(
    cluster: ClusterConfig,
    demo_data: bool,
    display: Display,
) -> anyhow::Result<ExitCode> {
    super::logging::init(display.log_format.unwrap_or(cluster.log_format));
    let screen = display.screen;
    super::check_secret(&cluster)?;
    // The demo's accounts have a published password: only where nobody
    // else can reach them.
    let demo_data = demo_data && cluster.all_loopback();
    super::runtime()?.block_on(async {
        let screen = Screen::for_mode(screen.unwrap_or(cluster.screen));
        let several = cluster.nodes.len() > 1;
        // Every node is bound first: ports given as 0 become real ports that
        // every node then knows.
        let (_, running) = convene_node::start_all(cluster, |node| {
            if several {
                screen.with_prefix(&format!("[{}] ", node.id))
            } else {
                screen.clone()
            }
        })
        .await
        .context("the cluster did not start")?;
        if demo_data
            && let Some(events) = running.iter().find_map(|n| n.events())
            && let Err(error) = demo::seed_events(events).await
        {
            eprintln!("convene: the demo's events could not be written: {error}");
        }
        super::stop_signal().await;
        // Gracefully, as `convene node` does; a second signal stops at once.
        tokio::select! {
            () = convene_node::leave_all(running, convene_node::running::DRAIN) => {}
            () = super::stop_signal() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}
