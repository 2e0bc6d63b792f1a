//! `convene meet [--server HOST:PORT[,HOST:PORT...]] [--register [S,E]] [NAMES...]`.

use std::io::IsTerminal;
use std::process::ExitCode;

use convene_meet::availability::parse_interval;
use convene_meet::client::{self, ClientError, MainServers};

use crate::demo::DEMO_SERVER;

#[derive(clap::Args)]
pub struct MeetArgs {
    /// The main node to ask, HOST:PORT. Give several (comma-separated, or
    /// the flag again) to fail over: the next is asked when one does not answer.
    #[arg(long, short, default_value = DEMO_SERVER, value_delimiter = ',')]
    server: Vec<String>,
    /// With names: after the query, register this meeting time, e.g. `[17,18]`.
    #[arg(long, value_name = "[START,END]", requires = "names")]
    register: Option<String>,
    /// Up to 10 user names; none starts the interactive client.
    names: Vec<String>,
}

pub fn run(args: MeetArgs) -> anyhow::Result<ExitCode> {
    let servers = args
        .server
        .iter()
        .map(|s| super::resolve(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let servers = MainServers::new(servers).map_err(|e| anyhow::anyhow!("--server: {e}"))?;
    let mut stdout = std::io::stdout().lock();
    let outcome = if args.names.is_empty() {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            tracing::debug!("standard input is not a terminal: reading requests line by line");
        }
        client::run_interactive(servers, &mut stdin.lock(), &mut stdout)
    } else {
        let register = args
            .register
            .as_deref()
            .map(parse_interval)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--register: {e}; write it as [start,end]"))?;
        client::run_once(servers, &args.names, register, &mut stdout)
    };
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // Invalid input is a usage error (2); everything else is a failure (1).
        Err(ClientError::Protocol(e)) => {
            eprintln!("convene meet: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}
