//! Making a backup (see the [module docs](super) for what is taken and
//! why it is consistent).

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use convene_cluster::{ClusterConfig, NodeConfig};
use convene_eventdb::open::Target;
use convene_files::FilesSection;

use super::copy;
use super::error::BackupError;
use super::manifest::{self, Database, Entry, FORMAT, Manifest, What};

/// What `convene backup` was asked.
#[derive(Clone, Debug)]
pub struct BackupOptions {
    /// The cluster file.
    pub config: PathBuf,
    /// The directory to write: new, or empty.
    pub out: PathBuf,
    /// Only this node (default: every node of this host).
    pub id: Option<String>,
    /// Leave the cluster database out.
    pub no_database: bool,
    /// This build's version, for the manifest.
    pub version: String,
    /// This build's git commit, for the manifest.
    pub commit: String,
}

/// Backs up the nodes of this host (or `--id`'s) and the cluster database
/// into `options.out`, and returns the manifest written there last.
pub async fn backup(options: &BackupOptions) -> Result<Manifest, BackupError> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cluster = crate::services::load_cluster(&options.config)?;
    let nodes: Vec<NodeConfig> = match &options.id {
        Some(id) => vec![cluster.node(id)?.clone()],
        None => cluster
            .nodes
            .iter()
            .filter(|n| crate::check::on_this_host(n.host))
            .cloned()
            .collect(),
    };
    if nodes.is_empty() {
        return Err(BackupError::NoNodesHere {
            config: options.config.clone(),
        });
    }
    let out = options.out.clone();
    prepare_out(&out)?;

    let mut files = Vec::new();
    let database = if options.no_database {
        Database::Skipped
    } else {
        let (database, entries) = take_database(&cluster, &out).await?;
        files.extend(entries);
        database
    };
    let cluster_db = match Target::parse(&cluster.events.database_url) {
        Ok(Target::SqliteFile(path)) => Some(path),
        _ => None,
    };
    for node in &nodes {
        let node = node.clone();
        let out = out.clone();
        let cluster_db = cluster_db.clone();
        let entries = tokio::task::spawn_blocking(move || take_node(&node, &out, cluster_db))
            .await
            .map_err(|e| BackupError::Io {
                path: options.out.clone(),
                error: std::io::Error::other(format!("the copying task failed: {e}")),
            })??;
        files.extend(entries);
    }

    let manifest = Manifest {
        format: FORMAT,
        version: options.version.clone(),
        commit: options.commit.clone(),
        started_unix,
        started: manifest::rfc3339(started_unix),
        took_ms: started.elapsed().as_millis() as u64,
        cluster_file: options.config.display().to_string(),
        nodes: nodes.iter().map(|n| n.id.clone()).collect(),
        database,
        files,
    };
    sync_tree(&out)?;
    write_manifest(&out, &manifest)?;
    Ok(manifest)
}

/// Creates `out`, or checks that it is empty.
fn prepare_out(out: &Path) -> Result<(), BackupError> {
    let io = |error| BackupError::Io {
        path: out.to_path_buf(),
        error,
    };
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::OutNotEmpty {
                    dir: out.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(out).map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}

/// The cluster database: a SQLite file copied, a server's tables exported.
async fn take_database(
    cluster: &ClusterConfig,
    out: &Path,
) -> Result<(Database, Vec<Entry>), BackupError> {
    let url = &cluster.events.database_url;
    let target = Target::parse(url)
        .map_err(|e| BackupError::Database(convene_eventdb::dump::DumpError::Open(e)))?;
    match target {
        Target::SqliteMemory => Ok((
            Database::Nothing {
                why: "database_url is in memory".into(),
            },
            Vec::new(),
        )),
        Target::SqliteFile(from) => {
            if !from.exists() {
                return Ok((
                    Database::Nothing {
                        why: format!("{} did not exist yet", from.display()),
                    },
                    Vec::new(),
                ));
            }
            let relative = format!("{}/convene.db", super::DATABASE_DIR);
            let to = out.join(&relative);
            mkdir_for(&to)?;
            let source = from.clone();
            let copied = tokio::task::spawn_blocking(move || copy::sqlite(&source, &to))
                .await
                .map_err(|e| BackupError::Io {
                    path: from.clone(),
                    error: std::io::Error::other(format!("the copying task failed: {e}")),
                })?
                .map_err(|error| BackupError::Sqlite {
                    path: from.clone(),
                    error,
                })?;
            let entry = Entry {
                path: relative.clone(),
                what: What::ClusterDb,
                node: None,
                bytes: copied.bytes,
                blake3: copied.blake3,
            };
            Ok((Database::Sqlite { path: relative }, vec![entry]))
        }
        Target::MySql(_) | Target::Postgres(_) => super::server_db::export(url, out).await,
    }
}

/// Copies one node's data directory and shared folder.
fn take_node(
    node: &NodeConfig,
    out: &Path,
    cluster_db: Option<PathBuf>,
) -> Result<Vec<Entry>, BackupError> {
    let folder = FilesSection::of(node).map(|f| f.dir.clone());
    // Taken once, as themselves, if they lie inside the data directory.
    let skip: Vec<PathBuf> = [cluster_db, folder.clone()]
        .into_iter()
        .flatten()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut entries = Vec::new();
    for relative in walk(&node.data_dir, &skip)? {
        let from = node.data_dir.join(&relative);
        let sqlite = copy::is_sqlite(&from).map_err(|error| BackupError::Io {
            path: from.clone(),
            error,
        })?;
        let what = What::of_data_file(&relative, sqlite);
        let path = format!("{}/{}", super::data_prefix(&node.id), slashed(&relative));
        entries.extend(copy_one(&from, out, path, what, &node.id)?);
    }
    if let Some(folder) = folder {
        for relative in walk(&folder, &skip)? {
            let from = folder.join(&relative);
            let path = format!("{}/{}", super::folder_prefix(&node.id), slashed(&relative));
            entries.extend(copy_one(&from, out, path, What::SharedFile, &node.id)?);
        }
    }
    Ok(entries)
}

/// Copies one file; `None` if it was deleted since the walk found it (a
/// file of the shared folder deleted meanwhile: the backup holds the
/// folder as it was after the deletion).
fn copy_one(
    from: &Path,
    out: &Path,
    path: String,
    what: What,
    node: &str,
) -> Result<Option<Entry>, BackupError> {
    let to = out.join(&path);
    mkdir_for(&to)?;
    let copied = if what.is_sqlite() {
        copy::sqlite(from, &to).map_err(|error| BackupError::Sqlite {
            path: from.to_path_buf(),
            error,
        })?
    } else {
        match copy::plain(from, &to) {
            Ok(copied) => copied,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !from.exists() => {
                return Ok(None);
            }
            Err(error) => {
                return Err(BackupError::Io {
                    path: from.to_path_buf(),
                    error,
                });
            }
        }
    };
    Ok(Some(Entry {
        path,
        what,
        node: Some(node.to_string()),
        bytes: copied.bytes,
        blake3: copied.blake3,
    }))
}

/// Every regular file under `root` worth taking, relative to it, sorted;
/// nothing if `root` does not exist (a node that never started). Links are
/// not followed; see the module docs for what is left out.
pub fn walk(root: &Path, skip: &[PathBuf]) -> Result<Vec<PathBuf>, BackupError> {
    let root = match std::fs::canonicalize(root) {
        Ok(root) => root,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(BackupError::Io {
                path: root.to_path_buf(),
                error,
            });
        }
    };
    let mut found = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        let io = |error| BackupError::Io {
            path: dir.clone(),
            error,
        };
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let path = entry.path();
            if skip.contains(&path) || left_out(&entry.file_name().to_string_lossy()) {
                continue;
            }
            let kind = entry.file_type().map_err(io)?;
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                found.push(path.strip_prefix(&root).unwrap_or(&path).to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Files that belong to another (a SQLite file's log) or to nothing yet
/// (a replacement not renamed into place, a transfer under way).
fn left_out(name: &str) -> bool {
    name.ends_with("-wal")
        || name.ends_with("-shm")
        || name.ends_with("-journal")
        || name.ends_with(".tmp")
        || name.starts_with(convene_files::path::RESERVED_PREFIX)
}

fn slashed(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn mkdir_for(path: &Path) -> Result<(), BackupError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|error| BackupError::Io {
        path: dir.to_path_buf(),
        error,
    })
}

/// Syncs every directory of the backup, once each, so that the files'
/// names are on disk before the manifest says the backup is complete.
fn sync_tree(out: &Path) -> Result<(), BackupError> {
    let mut dirs = vec![out.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let io = |error| BackupError::Io {
            path: dir.clone(),
            error,
        };
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entry.file_type().map_err(io)?.is_dir() {
                dirs.push(entry.path());
            }
        }
        copy::sync_dir(&dir).map_err(io)?;
    }
    Ok(())
}

/// Writes the manifest whole: a temporary file, synced, renamed, the
/// directory synced. Until then the backup has no manifest.
fn write_manifest(out: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let path = out.join(manifest::FILE_NAME);
    let temporary = out.join(format!("{}.tmp", manifest::FILE_NAME));
    let io = |error| BackupError::Io {
        path: path.clone(),
        error,
    };
    std::fs::write(&temporary, manifest.encode()).map_err(io)?;
    std::fs::File::open(&temporary)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(&temporary, &path).map_err(io)?;
    copy::sync_dir(out).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_takes_files_and_leaves_logs_temporaries_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("meet-lists")).unwrap();
        std::fs::create_dir_all(root.join("shared/sub")).unwrap();
        for name in [
            "convene.db",
            "convene.db-wal",
            "convene.db-shm",
            "boot",
            "boot.tmp",
            "meet-lists/B.txt",
            "meet-lists/C.txt.tmp",
            ".convene-tmp-3",
            "shared/sub/a.txt",
        ] {
            std::fs::write(root.join(name), name).unwrap();
        }
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        let all = walk(&root, &[]).unwrap();
        let names: Vec<String> = all.iter().map(|p| slashed(p)).collect();
        assert_eq!(
            names,
            ["boot", "convene.db", "meet-lists/B.txt", "shared/sub/a.txt"]
        );
        let shared = std::fs::canonicalize(root.join("shared")).unwrap();
        assert_eq!(walk(&root, &[shared]).unwrap().len(), 3);
        assert!(walk(&dir.path().join("never"), &[]).unwrap().is_empty());
    }

    #[test]
    fn a_shared_file_deleted_after_the_walk_is_left_out_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone.txt");
        let out = dir.path().join("out");
        let copied = copy_one(
            &gone,
            &out,
            "nodes/A/folder/gone.txt".into(),
            What::SharedFile,
            "A",
        );
        assert!(copied.unwrap().is_none());
        std::fs::write(&gone, "here").unwrap();
        let copied = copy_one(
            &gone,
            &out,
            "nodes/A/folder/gone.txt".into(),
            What::SharedFile,
            "A",
        );
        let entry = copied.unwrap().unwrap();
        assert_eq!((entry.bytes, entry.node.as_deref()), (4, Some("A")));
    }
}
