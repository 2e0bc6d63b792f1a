//! `convene check --config FILE [--id ID]`: whether the nodes of this host
//! would start, without starting them (see [`convene_node::check`]).
//!
//! Prints every node with what it runs, marking the ones checked here,
//! then every problem, one per line. Exits 0 when the nodes of this host
//! would start, 1 otherwise: a deployment script or a systemd
//! `ExecStartPre=` can stop on it.

use std::path::Path;
use std::process::ExitCode;

use convene_node::check::{Report, check};

pub fn run(config: &Path, id: Option<&str>) -> anyhow::Result<ExitCode> {
    let report = super::runtime()?.block_on(check(config, id));
    print!("{}", render(config, id, &report));
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The report as printed.
fn render(config: &Path, id: Option<&str>, report: &Report) -> String {
    let mut out = String::new();
    if !report.nodes.is_empty() {
        out.push_str(&format!("{}:\n", config.display()));
    }
    for node in &report.nodes {
        let services = if node.services.is_empty() {
            "membership only".to_string()
        } else {
            node.services.join("; ")
        };
        let mark = if node.here {
            "checked here"
        } else {
            "elsewhere"
        };
        out.push_str(&format!(
            "  {} (peer {}, {mark}): {services}\n",
            node.id, node.peer
        ));
    }
    let checked: Vec<&str> = report
        .nodes
        .iter()
        .filter(|n| n.here)
        .map(|n| n.id.as_str())
        .collect();
    if report.problems.is_empty() {
        if checked.is_empty() {
            out.push_str(
                "ok: the file is valid; no node of it is on this host (give --id to check one)\n",
            );
        } else {
            out.push_str(&format!("ok: {} would start here\n", checked.join(", ")));
        }
    } else {
        let count = report.problems.len();
        let what = match id {
            Some(id) => format!("node {id}"),
            None => "this host's nodes".into(),
        };
        out.push_str(&format!(
            "{count} problem{} ({what} would not start):\n",
            if count == 1 { "" } else { "s" }
        ));
        for problem in &report.problems {
            out.push_str(&format!("  - {problem}\n"));
        }
    }
    out
}
