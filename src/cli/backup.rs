//! `convene backup --config FILE --out DIR [--id ID] [--no-database]` and
//! `convene restore --from DIR --config FILE [--id ID] [--force]
//! [--no-database]`: a consistent copy of this host's nodes and of the
//! cluster database while they run, and bringing it back into new, empty
//! places (see [`convene_node::backup`]).
//!
//! Each prints one line per node and one for the database, then a
//! summary; an error is printed as every other command's (`convene:
//! ...`), exit 1.

use std::path::PathBuf;
use std::process::ExitCode;

use convene_node::backup::manifest::{Database, Manifest};
use convene_node::backup::{BackupOptions, RestoreOptions};

pub fn backup(
    config: PathBuf,
    out: PathBuf,
    id: Option<String>,
    no_database: bool,
) -> anyhow::Result<ExitCode> {
    let options = BackupOptions {
        config,
        out,
        id,
        no_database,
        version: env!("CARGO_PKG_VERSION").to_string(),
        commit: env!("CONVENE_COMMIT").to_string(),
    };
    let manifest = super::runtime()?.block_on(convene_node::backup::backup(&options))?;
    print!("{}", describe(&manifest));
    println!(
        "backup of {} written to {} in {} ms",
        manifest.nodes.join(", "),
        options.out.display(),
        manifest.took_ms
    );
    Ok(ExitCode::SUCCESS)
}

pub fn restore(
    from: PathBuf,
    config: PathBuf,
    id: Option<String>,
    force: bool,
    no_database: bool,
) -> anyhow::Result<ExitCode> {
    let options = RestoreOptions {
        from,
        config,
        id,
        force,
        no_database,
    };
    let restored = super::runtime()?.block_on(convene_node::backup::restore(&options))?;
    let m = &restored.manifest;
    println!(
        "backup of {} taken {} by convene {} (commit {})",
        m.nodes.join(", "),
        m.started,
        m.version,
        m.commit
    );
    println!("  database: {}", restored.database);
    println!(
        "restored {} ({} files) from {}; start the nodes as usual",
        restored.nodes.join(", "),
        restored.files,
        options.from.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// One line per node (files, bytes) and one for the database.
fn describe(manifest: &Manifest) -> String {
    let mut out = String::new();
    for id in &manifest.nodes {
        let (files, bytes) = manifest
            .files_of(id)
            .fold((0, 0), |(n, b), e| (n + 1, b + e.bytes));
        out.push_str(&format!("  node {id}: {files} files, {bytes} bytes\n"));
    }
    let database = match &manifest.database {
        Database::Skipped => "left out (--no-database)".to_string(),
        Database::Nothing { why } => format!("nothing to copy ({why})"),
        Database::Sqlite { path } => {
            let bytes: u64 = manifest
                .files
                .iter()
                .filter(|e| &e.path == path)
                .map(|e| e.bytes)
                .sum();
            format!("SQLite, {bytes} bytes")
        }
        Database::Server {
            backend, tables, ..
        } => {
            let rows: u64 = tables.iter().map(|t| t.rows).sum();
            format!("{backend}, {} tables, {rows} rows", tables.len())
        }
    };
    out.push_str(&format!("  database: {database}\n"));
    out
}
