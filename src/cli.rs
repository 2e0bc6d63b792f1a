//! The command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use convene_cluster::log_format::LogFormat;
use convene_cluster::screen::ScreenMode;

mod backup;
mod book;
mod book_experiment;
mod chat;
mod check;
mod credentials;
mod files;
mod logging;
mod login;
mod meet;
mod node;
mod remote;
mod secret;
mod status;
mod up;

/// What `convene --version` prints after the name: the version and the git
/// commit built from (embedded by `build.rs`; `unknown` outside a checkout).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CONVENE_COMMIT"),
    ")"
);

/// Convene: one self-hosted, clustered server to find a common free time,
/// book rooms, schedule events, chat and keep a shared folder in sync.
#[derive(Parser)]
#[command(name = "convene", version = VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one node of a cluster until Ctrl-C or SIGTERM.
    Node {
        /// The cluster file.
        #[arg(
            long,
            short,
            required_unless_present = "chat_config",
            conflicts_with = "chat_config"
        )]
        config: Option<PathBuf>,
        /// Instead of a cluster file, the chat seed's configuration.txt (5 columns:
        /// id host client-port coordination-port priority; or the 4-column course
        /// format): every server a chat-only node.
        #[arg(long)]
        chat_config: Option<PathBuf>,
        /// With --chat-config: the cluster's secret (64 hex digits; `convene secret` makes one).
        #[arg(long, requires = "chat_config")]
        secret_file: Option<PathBuf>,
        /// Which node of the file to run.
        #[arg(long)]
        id: String,
        /// For tests only, and hidden from --help: a fault to inject
        /// (`convene_node::Fault`), e.g. `events-no-hand-over`. The tests
        /// that kill node processes mid-way need one; a flag, unlike an
        /// environment variable or a cluster-file key, is typed, seen only
        /// by the one process it is given to, and never set by accident.
        #[arg(long = "fault", value_name = "FAULT", hide = true)]
        faults: Vec<convene_node::Fault>,
        /// Once started, write the ports this node bound to FILE (lines
        /// `peer=PORT`, `client=`, `booking=`, `chat=`, `http=`; written
        /// whole): how a program that started it learns the ports a port of
        /// 0 in the cluster file became.
        #[arg(long, value_name = "FILE")]
        ports_file: Option<PathBuf>,
        /// For tests only, and hidden from --help: use the socket open on
        /// descriptor FD for KIND (peer, client, booking, chat, http),
        /// bound by the process that started this one, instead of binding
        /// it (see `cli::node::inherited`).
        #[arg(long = "socket", value_name = "KIND=FD", hide = true)]
        sockets: Vec<node::inherited::InheritedSocket>,
        /// How much of the seeds' lines to show: `seed` (every line),
        /// `summary` (the first of each kind, then counts every 5 s) or
        /// `quiet`. Default: the cluster file's `screen`, else `seed`.
        #[arg(long, value_name = "MODE")]
        screen: Option<ScreenMode>,
        /// How logs on standard error look: `text`, or `json` (one record
        /// a line, one per request served; `RUST_LOG` sets the levels).
        /// Default: the cluster file's `log_format`, else `text`.
        #[arg(long, value_name = "FORMAT")]
        log_format: Option<LogFormat>,
    },
    /// Run every node of a cluster file in this process (with no file: a demo cluster).
    Up {
        /// The cluster file; without it, a demo cluster on loopback.
        #[arg(long, short, conflicts_with = "chat_config")]
        config: Option<PathBuf>,
        /// Instead of a cluster file, the chat seed's configuration.txt: every
        /// server it lists, in this process.
        #[arg(long)]
        chat_config: Option<PathBuf>,
        /// With --chat-config: the cluster's secret (64 hex digits; `convene secret` makes one).
        #[arg(long, requires = "chat_config")]
        secret_file: Option<PathBuf>,
        /// How much of the seeds' lines to show (as `convene node --screen`).
        #[arg(long, value_name = "MODE")]
        screen: Option<ScreenMode>,
        /// How logs look, `text` or `json` (as `convene node --log-format`).
        #[arg(long, value_name = "FORMAT")]
        log_format: Option<LogFormat>,
    },
    /// Each node up or down, and the current coordinator: asked of a
    /// node's web front, as the logged-in account or the cluster's operator.
    Status {
        /// A node's web front (default: your latest `convene login`).
        #[arg(long, short, value_name = "URL", conflicts_with = "chat_config")]
        server: Option<String>,
        /// The cluster file: ask as its operator, with its secret_file
        /// (without --server or a login: the demo cluster's, if here).
        #[arg(long, short, conflicts_with = "chat_config")]
        config: Option<PathBuf>,
        /// Instead, the chat seed's configuration.txt (no web front): ask
        /// each node's peer port.
        #[arg(long)]
        chat_config: Option<PathBuf>,
        /// With --chat-config: the cluster's secret (64 hex digits; `convene secret` makes one).
        #[arg(long, requires = "chat_config")]
        secret_file: Option<PathBuf>,
    },
    /// Check a cluster file without starting anything: keys, ports free
    /// here, secret, data directories, database; prints what each node
    /// runs, and every problem (exit 1 if any).
    Check {
        /// The cluster file.
        #[arg(long, short)]
        config: PathBuf,
        /// Check this node only (default: every node whose address is on
        /// this host).
        #[arg(long)]
        id: Option<String>,
    },
    /// Copy this host's nodes' state and the cluster database while the
    /// cluster runs (SQLite's online backup; one snapshot of a server
    /// database), with a manifest of checksums; Redis is a cache and is not
    /// copied.
    Backup {
        /// The cluster file.
        #[arg(long, short)]
        config: PathBuf,
        /// A new or empty directory to write the backup to.
        #[arg(long)]
        out: PathBuf,
        /// Back up this node only (default: every node whose address is on
        /// this host).
        #[arg(long)]
        id: Option<String>,
        /// Leave the cluster database out (another machine backs it up).
        #[arg(long)]
        no_database: bool,
    },
    /// Bring a backup back into the data directories, shared folders and
    /// database_url the cluster file names (all empty, or --force); the
    /// nodes must be stopped.
    Restore {
        /// The backup directory.
        #[arg(long)]
        from: PathBuf,
        /// The cluster file.
        #[arg(long, short)]
        config: PathBuf,
        /// Restore this node only (default: every node of the backup).
        #[arg(long)]
        id: Option<String>,
        /// Replace what the data directories, folders and database hold.
        #[arg(long)]
        force: bool,
        /// Leave the cluster database as it is.
        #[arg(long)]
        no_database: bool,
    },
    /// Print a new cluster secret (64 hex digits from the OS random source):
    /// `convene secret > cluster.secret`, then `secret_file = "cluster.secret"`.
    Secret,
    /// Log in to a cluster's web front and keep the session for `convene
    /// status` and `convene files` (in ~/.config/convene/credentials.toml).
    Login {
        /// The web front (a node's http_port).
        #[arg(long, short, value_name = "URL", default_value = remote::DEMO_WEB)]
        server: String,
        /// The user name (else asked for).
        #[arg(long, short)]
        user: Option<String>,
    },
    /// End the session of `convene login` and forget it.
    Logout {
        /// The web front (default: your latest login).
        #[arg(long, short, value_name = "URL")]
        server: Option<String>,
    },
    /// The EE450 meeting client: with names, one query; without, the interactive loop.
    Meet(meet::MeetArgs),
    /// The facility booking client: without a subcommand, the seed's interactive menu.
    Book(book::BookArgs),
    /// The CS4262 chat client: the course client's commands and output lines.
    Chat(chat::ChatArgs),
    /// The shared folders: `ls` lists every node's files in one numbered list.
    #[command(subcommand)]
    Files(files::FilesCommand),
    /// A chaos test: a cluster of its own under a mixed workload while a
    /// seeded schedule kills nodes (`kill -9`) and cuts them off; then
    /// checks what clients were told against what the cluster holds.
    Chaos(crate::chaos::ChaosArgs),
    /// Benchmarks (numbers for docs/benchmarks.md).
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

/// Parses the command line, runs the command, turns errors into a message
/// on standard error and an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A node's format may come from its cluster file, read later (see
    // `logging`); a flag is known now.
    match &cli.command {
        Command::Node { log_format, .. } | Command::Up { log_format, .. } => {
            if let Some(format) = log_format {
                logging::init(*format);
            }
        }
        _ => logging::init(LogFormat::Text),
    }
    let result = match cli.command {
        Command::Node {
            config,
            chat_config,
            secret_file,
            id,
            faults,
            ports_file,
            sockets,
            screen,
            log_format,
        } => {
            let options = node::RunOptions {
                faults: faults.into_iter().collect(),
                ports_file,
                sockets,
                screen,
                log_format,
            };
            match (config, chat_config) {
                (Some(config), _) => node::run(&config, &id, options),
                (None, Some(chat)) => node::run_course(&chat, secret_file.as_deref(), &id, options),
                (None, None) => Err(anyhow::anyhow!("give --config FILE or --chat-config FILE")),
            }
        }
        Command::Up {
            config,
            chat_config,
            secret_file,
            screen,
            log_format,
        } => up::run(
            config.as_deref(),
            chat_config.as_deref(),
            secret_file.as_deref(),
            up::Display { screen, log_format },
        ),
        Command::Status {
            server,
            config,
            chat_config,
            secret_file,
        } => status::run(
            server.as_deref(),
            config.as_deref(),
            chat_config.as_deref(),
            secret_file.as_deref(),
        ),
        Command::Check { config, id } => check::run(&config, id.as_deref()),
        Command::Backup {
            config,
            out,
            id,
            no_database,
        } => backup::backup(config, out, id, no_database),
        Command::Restore {
            from,
            config,
            id,
            force,
            no_database,
        } => backup::restore(from, config, id, force, no_database),
        Command::Secret => secret::run(),
        Command::Login { server, user } => login::login(&server, user),
        Command::Logout { server } => login::logout(server.as_deref()),
        Command::Meet(args) => meet::run(args),
        Command::Book(args) => book::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Files(cmd) => files::run(cmd),
        Command::Chaos(args) => crate::chaos::run(args),
        Command::Bench(cmd) => crate::bench::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("convene: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Says, once, that a cluster runs without a secret (allowed only on
/// loopback), or stops with how to make one.
fn check_secret(cluster: &convene_cluster::ClusterConfig) -> anyhow::Result<()> {
    if cluster.check_secret()? {
        logging::warn(
            "this cluster has no secret_file, so any process on this machine \
             can speak for its nodes (allowed only because every node is on a loopback address); \
             run `convene secret > cluster.secret` and add `secret_file = \"cluster.secret\"` \
             to the cluster file to close that",
        );
    }
    Ok(())
}

/// A `--server HOST:PORT` argument as an address.
fn resolve(server: &str) -> anyhow::Result<std::net::SocketAddr> {
    use anyhow::Context;
    use std::net::ToSocketAddrs;
    server
        .to_socket_addrs()
        .with_context(|| format!("--server {server:?}: expected HOST:PORT"))?
        .next()
        .with_context(|| format!("--server {server:?}: no address found"))
}

/// A multi-threaded runtime for the node commands.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
