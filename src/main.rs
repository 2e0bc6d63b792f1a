//! `convene`: one binary for every node of a Convene cluster and every client.
//!
//! # Layout
//!
//! - [`cli`]: the command line (clap), one module per subcommand.
//! - [`demo`]: the built-in demo cluster that `convene up` starts.
//! - [`bench`](mod@bench): `convene bench`, the benchmarks behind docs/benchmarks.md.
//! - [`chaos`]: `convene chaos`, faults under a workload, and what must hold.

mod bench;
mod chaos;
mod cli;
mod demo;

fn main() -> std::process::ExitCode {
    cli::main()
}
