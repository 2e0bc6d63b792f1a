//! Restoring a backup into new, empty places (see the [module
//! docs](super) for the refusals, all made before anything is written).

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};

use convene_cluster::{ClusterConfig, NodeConfig};
use convene_eventdb::open::Target;
use convene_files::FilesSection;

use super::copy;
use super::error::RestoreError;
use super::manifest::{self, Database, Entry, Manifest};

/// What `convene restore` was asked.
#[derive(Clone, Debug)]
pub struct RestoreOptions {
    /// The backup directory.
    pub from: PathBuf,
    /// The cluster file naming where things go.
    pub config: PathBuf,
    /// Only this node (default: every node of the backup).
    pub id: Option<String>,
    /// Replace what the targets hold instead of refusing.
    pub force: bool,
    /// Leave the cluster database as it is.
    pub no_database: bool,
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// The nodes restored.
    pub nodes: Vec<String>,
    /// How many files were written into data directories and folders.
    pub files: usize,
    /// What became of the database, in words.
    pub database: String,
}

/// Reads and checks the backup at `from`: its manifest, and every file
/// against it.
pub fn verify(from: &Path) -> Result<Manifest, RestoreError> {
    let path = from.join(manifest::FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RestoreError::NoManifest {
                dir: from.to_path_buf(),
            });
        }
        Err(error) => return Err(RestoreError::Io { path, error }),
    };
    let manifest =
        Manifest::decode(&text).map_err(|error| RestoreError::Manifest { path, error })?;
    for entry in &manifest.files {
        check_entry(from, entry)?;
    }
    Ok(manifest)
}

fn check_entry(from: &Path, entry: &Entry) -> Result<(), RestoreError> {
    // A manifest names files inside the backup only.
    let relative = Path::new(&entry.path);
    let inside = relative
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    let path = from.join(relative);
    if !inside {
        return Err(RestoreError::Damaged {
            path,
            problem: "the manifest names a file outside the backup".into(),
        });
    }
    let found = copy::checksum(&path).map_err(|error| RestoreError::Damaged {
        path: path.clone(),
        problem: format!("cannot be read ({error})"),
    })?;
    if found.bytes != entry.bytes {
        return Err(RestoreError::Damaged {
            path,
            problem: format!("{} bytes, the manifest says {}", found.bytes, entry.bytes),
        });
    }
    if found.blake3 != entry.blake3 {
        return Err(RestoreError::Damaged {
            path,
            problem: "its checksum differs from the manifest's".into(),
        });
    }
    Ok(())
}

/// Restores the backup at `options.from` (see the module docs).
pub async fn restore(options: &RestoreOptions) -> Result<Restored, RestoreError> {
    let manifest = verify(&options.from)?;
    let cluster = crate::services::load_cluster(&options.config)?;
    let ids: Vec<String> = match &options.id {
        Some(id) if !manifest.nodes.contains(id) => {
            return Err(RestoreError::NotInBackup {
                id: id.clone(),
                held: manifest.nodes.clone(),
            });
        }
        Some(id) => vec![id.clone()],
        None => manifest.nodes.clone(),
    };
    let mut nodes = Vec::new();
    for id in &ids {
        let node = cluster.nodes.iter().find(|n| &n.id == id).ok_or_else(|| {
            RestoreError::NotInCluster {
                id: id.clone(),
                config: options.config.clone(),
            }
        })?;
        check_stopped(node)?;
        let has_folder = manifest
            .files_of(id)
            .any(|e| e.path.starts_with(&super::folder_prefix(id)));
        check_empty(
            &format!("node {id}'s data_dir"),
            &node.data_dir,
            options.force,
        )?;
        let folder = FilesSection::of(node).map(|f| f.dir.clone());
        if let Some(folder) = &folder {
            check_empty(&format!("node {id}'s shared folder"), folder, options.force)?;
        } else if has_folder {
            return Err(RestoreError::NoFolder {
                id: id.clone(),
                config: options.config.clone(),
            });
        }
        nodes.push((node.clone(), folder));
    }

    // The database: checked (and, for a server, opened in a transaction)
    // before any node's files are written.
    let database = if options.no_database {
        Pending::Left
    } else {
        prepare_database(&cluster, &manifest, options.force).await?
    };
    let database = match database {
        Pending::Left => "left as it is".to_string(),
        Pending::Nothing => "nothing to restore".to_string(),
        Pending::Sqlite { to } => {
            let entry = manifest
                .files
                .iter()
                .find(|e| e.what == manifest::What::ClusterDb)
                .ok_or_else(|| {
                    RestoreError::Database("the manifest lists no database file".into())
                })?;
            place(&options.from.join(&entry.path), &to)?;
            sync_dirs([to.parent().unwrap_or(Path::new("."))])?;
            format!("copied to {}", to.display())
        }
        Pending::Server(import) => {
            let rows = super::server_db::fill(import, &options.from, &manifest.database).await?;
            format!("{rows} rows restored")
        }
    };

    let mut files = 0;
    for (node, folder) in &nodes {
        files += restore_node(&options.from, &manifest, node, folder.as_deref())?;
    }
    Ok(Restored {
        nodes: ids,
        files,
        database,
        manifest,
    })
}

/// A node whose peer port is taken is still running: restoring under it
/// would be overwritten, or worse, mixed.
fn check_stopped(node: &NodeConfig) -> Result<(), RestoreError> {
    if node.peer_port == 0 || !crate::check::on_this_host(node.host) {
        return Ok(());
    }
    let addr = SocketAddr::new(node.host, node.peer_port);
    match UdpSocket::bind(addr) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(RestoreError::Running {
            id: node.id.clone(),
            addr,
        }),
        Err(_) => Ok(()),
    }
}

/// A directory that is missing or empty is fine; with `force`, one that
/// holds something is emptied.
fn check_empty(what: &str, dir: &Path, force: bool) -> Result<(), RestoreError> {
    let io = |error| RestoreError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        return Ok(());
    }
    if !force {
        let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
        let more = if names.len() > 3 { ", ..." } else { "" };
        return Err(RestoreError::NotEmpty {
            what: format!("{what} {}", dir.display()),
            detail: format!("it holds {}{more}", shown.join(", ")),
        });
    }
    Ok(())
}

/// The database step, checked and ready.
enum Pending {
    /// `--no-database`.
    Left,
    /// The backup holds no database.
    Nothing,
    /// Copy the backup's SQLite file to `to`.
    Sqlite { to: PathBuf },
    /// Fill the server database in this open transaction.
    Server(convene_eventdb::dump::Import),
}

async fn prepare_database(
    cluster: &ClusterConfig,
    manifest: &Manifest,
    force: bool,
) -> Result<Pending, RestoreError> {
    let url = &cluster.events.database_url;
    let target = Target::parse(url).map_err(|e| RestoreError::Database(e.to_string()))?;
    match (&manifest.database, target) {
        (Database::Skipped | Database::Nothing { .. }, _) => Ok(Pending::Nothing),
        (Database::Sqlite { .. }, Target::SqliteFile(to)) => {
            let taken = std::fs::metadata(&to).is_ok_and(|m| m.len() > 0);
            if taken && !force {
                return Err(RestoreError::NotEmpty {
                    what: format!("the database {}", to.display()),
                    detail: "the file exists".into(),
                });
            }
            Ok(Pending::Sqlite { to })
        }
        (Database::Server { .. }, Target::MySql(_) | Target::Postgres(_)) => Ok(Pending::Server(
            super::server_db::prepare(url, &manifest.database, force).await?,
        )),
        (Database::Sqlite { .. }, Target::SqliteMemory) => Err(RestoreError::Database(
            "the backup holds a SQLite database, but database_url is in memory".into(),
        )),
        (Database::Sqlite { .. }, _) => Err(RestoreError::Database(
            "the backup holds a SQLite database; database_url names a server (restore into a \
             SQLite database_url)"
                .into(),
        )),
        (Database::Server { backend, .. }, _) => Err(RestoreError::Database(format!(
            "the backup holds a {backend} database; database_url names another engine"
        ))),
    }
}

/// Writes node `node`'s files from the backup; how many.
fn restore_node(
    from: &Path,
    manifest: &Manifest,
    node: &NodeConfig,
    folder: Option<&Path>,
) -> Result<usize, RestoreError> {
    let data = format!("{}/", super::data_prefix(&node.id));
    let shared = format!("{}/", super::folder_prefix(&node.id));
    empty_dir(&node.data_dir)?;
    if let Some(folder) = folder {
        empty_dir(folder)?;
    }
    let mut written = 0;
    // The directories made, and those holding them.
    let mut dirs: std::collections::BTreeSet<PathBuf> = [Some(node.data_dir.as_path()), folder]
        .into_iter()
        .flatten()
        .filter_map(|d| d.parent().filter(|p| !p.as_os_str().is_empty()))
        .map(Path::to_path_buf)
        .collect();
    for entry in manifest.files_of(&node.id) {
        let to = if let Some(rest) = entry.path.strip_prefix(&data) {
            node.data_dir.join(rest)
        } else if let (Some(rest), Some(folder)) = (entry.path.strip_prefix(&shared), folder) {
            folder.join(rest)
        } else {
            continue;
        };
        place(&from.join(&entry.path), &to)?;
        dirs.extend(
            to.ancestors()
                .skip(1)
                .map(Path::to_path_buf)
                .take_while(|d| {
                    d.starts_with(&node.data_dir) || folder.is_some_and(|f| d.starts_with(f))
                }),
        );
        written += 1;
    }
    sync_dirs(dirs.iter().map(PathBuf::as_path))?;
    Ok(written)
}

/// Syncs each of `dirs`, so the names of the files placed in them survive
/// a crash (once per directory, not once per file).
fn sync_dirs<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> Result<(), RestoreError> {
    for dir in dirs {
        copy::sync_dir(dir).map_err(|error| RestoreError::Io {
            path: dir.to_path_buf(),
            error,
        })?;
    }
    Ok(())
}

/// Makes `dir` exist and hold nothing (it was checked empty, or `--force`).
fn empty_dir(dir: &Path) -> Result<(), RestoreError> {
    let io = |error| RestoreError::Io {
        path: dir.to_path_buf(),
        error,
    };
    if dir.exists() {
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let removed = if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|error| RestoreError::Io { path, error })?;
        }
    }
    std::fs::create_dir_all(dir).map_err(io)
}

/// Copies one file of the backup to `to` (replacing it and any SQLite
/// log beside it), synced; the caller syncs its directory.
fn place(from: &Path, to: &Path) -> Result<(), RestoreError> {
    let dir = to.parent().unwrap_or(Path::new("."));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| RestoreError::Io { path, error }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut old = to.as_os_str().to_owned();
        old.push(suffix);
        match std::fs::remove_file(&old) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io(Path::new(&old))(error)),
        }
    }
    copy::plain(from, to).map_err(io(to))?;
    Ok(())
}
