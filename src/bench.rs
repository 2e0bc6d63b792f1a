//! `convene bench`: the measurements behind docs/benchmarks.md.
//!
//! Benchmarks are commands, not tests: these machines are shared and noisy,
//! so numbers are recorded with the machine and the command, never asserted.
//! Build with `--release` before believing any number.

use std::process::ExitCode;

mod amplification;
mod booking;
mod booking_live;
mod chat;
mod data;
mod events;
mod files;
mod intersect;
mod leave;
mod meet;
mod stats;
mod web;

/// The benchmarks.
#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// The k-way intersection kernel on synthetic lists.
    Intersect {
        /// Lists (users) intersected at once.
        #[arg(long, default_value_t = 10)]
        users: usize,
        /// Intervals per list.
        #[arg(long, default_value_t = 100_000)]
        intervals: usize,
        /// Timed repetitions (the median is reported).
        #[arg(long, default_value_t = 30)]
        rounds: usize,
    },
    /// UDP amplification: bytes a stranger's socket gets back per byte it
    /// sends, on the booking port (every request type, the worst cases) and
    /// the peer port.
    Amplification {
        /// Seconds per stream.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Requests sent per second in each stream.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Raise the booking limits out of reach: the seed's behaviour.
        #[arg(long)]
        no_budget: bool,
    },
    /// The booking front door: query and book+cancel under both semantics.
    Booking {
        /// Concurrent clients, one run per value.
        #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
        clients: Vec<usize>,
        /// Seconds per run.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Then book+cancel at 32 clients for this long, at most-once,
        /// printing the process's memory at each quarter (0 skips it).
        #[arg(long, default_value_t = 0.0)]
        soak_seconds: f64,
    },
    /// The live booking grid: from a UDP booking to the week read from
    /// open grids' event streams.
    BookingLive {
        /// Open grids (event streams), one run per value.
        #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
        grids: Vec<usize>,
        /// Book+cancel pairs per run.
        #[arg(long, default_value_t = 100)]
        rounds: usize,
    },
    /// The chat service: fan-out, broadcast latency, failover, idle memory.
    Chat {
        /// Clients in one room on one node, for the fan-out run (0 skips it).
        #[arg(long, default_value_t = 100)]
        fanout: usize,
        /// Clients over three nodes, for the broadcast latency run (0 skips it).
        #[arg(long, default_value_t = 1000)]
        broadcast: usize,
        /// Browser-protocol clients (WebSockets to `/api/chat`) over three
        /// nodes' web fronts, for the same run (0 skips it).
        #[arg(long, default_value_t = 1000)]
        web_broadcast: usize,
        /// Seconds of fan-out.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Coordinator failures to time (0 skips it).
        #[arg(long, default_value_t = 5)]
        failovers: usize,
        /// Idle connections for the memory run (0 skips it).
        #[arg(long, default_value_t = 10_000)]
        idle: usize,
    },
    /// The files service: propagation latency, a large file, start-up reconciliation.
    Files {
        /// Small files created, then modified, then deleted (0 skips it).
        #[arg(long, default_value_t = 100)]
        changes: usize,
        /// Size of the large file in MiB (0 skips it).
        #[arg(long, default_value_t = 1024)]
        large_mib: usize,
        /// Files on one node only at start (0 skips it).
        #[arg(long, default_value_t = 10_000)]
        reconcile: usize,
    },
    /// The events service: submissions/s through the JSON API, finalizing
    /// a large event, page render times.
    Events {
        /// Concurrent users submitting constraints.
        #[arg(long, default_value_t = 64)]
        users: usize,
        /// Seconds of submissions (0 skips them).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Participants of the event finalized (0 skips it).
        #[arg(long, default_value_t = 10_000)]
        participants: usize,
        /// Requests per page for the render times (0 skips them).
        #[arg(long, default_value_t = 2_000)]
        renders: usize,
        /// The shared database (default: a SQLite file in a temporary folder).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The web app: every page's render time for a logged-in person, on
    /// the demo cluster.
    Web {
        /// Requests per page.
        #[arg(long, default_value_t = 2_000)]
        renders: usize,
    },
    /// Failover after a node stops: gracefully (it says it is leaving) and
    /// at once (its peers notice the silence), until the others name a new
    /// coordinator, it holds authority, and the stopped node's facility is
    /// served again.
    Leave {
        /// Stops timed, each way.
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// End to end: clients -> main -> two backends, over loopback.
    Meet {
        /// Users per backend.
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        /// Concurrent clients, one run per value.
        #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
        clients: Vec<usize>,
        /// Seconds per run.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Skip the backend memory measurement (it starts child processes).
        #[arg(long)]
        no_memory: bool,
    },
}

/// Runs one benchmark.
pub fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; numbers mean little. Use `cargo run --release -- bench ...`."
        );
    }
    match cmd {
        BenchCommand::Intersect {
            users,
            intervals,
            rounds,
        } => intersect::run(users, intervals, rounds),
        BenchCommand::Meet {
            users,
            clients,
            seconds,
            no_memory,
        } => meet::run(users, &clients, seconds, !no_memory),
        BenchCommand::Booking {
            clients,
            seconds,
            soak_seconds,
        } => booking::run(&clients, seconds, soak_seconds),
        BenchCommand::BookingLive { grids, rounds } => {
            booking_live::run(&booking_live::BookingLiveBench { grids, rounds })
        }
        BenchCommand::Amplification {
            seconds,
            rate,
            no_budget,
        } => amplification::run(&amplification::AmplificationBench {
            seconds,
            rate,
            no_budget,
        }),
        BenchCommand::Files {
            changes,
            large_mib,
            reconcile,
        } => files::run(&files::FilesBench {
            changes,
            large_mib,
            reconcile,
        }),
        BenchCommand::Events {
            users,
            seconds,
            participants,
            renders,
            database_url,
        } => events::run(&events::EventsBench {
            users,
            seconds,
            participants,
            renders,
            database_url,
        }),
        BenchCommand::Web { renders } => web::run(renders),
        BenchCommand::Leave { runs } => leave::run(runs),
        BenchCommand::Chat {
            fanout,
            broadcast,
            web_broadcast,
            seconds,
            failovers,
            idle,
        } => chat::run(&chat::ChatBench {
            fanout,
            broadcast,
            web_broadcast,
            seconds,
            failovers,
            idle,
        }),
    }?;
    Ok(ExitCode::SUCCESS)
}
