//! `convene secret`: prints a new cluster secret.

use std::process::ExitCode;

use convene_cluster::ClusterSecret;

pub fn run() -> anyhow::Result<ExitCode> {
    println!("{}", ClusterSecret::generate()?.to_hex());
    Ok(ExitCode::SUCCESS)
}
