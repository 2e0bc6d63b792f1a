//! A backup's manifest, `manifest.json`: what made it, when, of which
//! nodes, and every file it holds with its size and BLAKE3 checksum.
//!
//! It is written last, after every file it names is on disk, so a backup
//! cut short has no manifest and `convene restore` refuses it rather than
//! restoring part of it. Restoring checks every file against it before
//! writing anything, so a file damaged since (a bad disk, a careless edit)
//! stops the restore with the file's name.
//!
//! JSON because an operator reads it (`jq .files[].what`), and because its
//! format must outlive this version: [`FORMAT`] says which one it is, and
//! a manifest of another format is refused with both numbers.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// This version's manifest format.
pub const FORMAT: u32 = 1;

/// The manifest's file name in a backup directory.
pub const FILE_NAME: &str = "manifest.json";

/// A whole backup, as described by its manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The manifest format ([`FORMAT`]).
    pub format: u32,
    /// Convene's version that made it.
    pub version: String,
    /// The git commit of that build.
    pub commit: String,
    /// When it was started, in seconds since the Unix epoch.
    pub started_unix: u64,
    /// The same, readable (UTC, RFC 3339).
    pub started: String,
    /// How long it took, in milliseconds.
    pub took_ms: u64,
    /// The cluster file it was taken with.
    pub cluster_file: String,
    /// The nodes whose state it holds, in the file's order.
    pub nodes: Vec<String>,
    /// The cluster database.
    pub database: Database,
    /// Every file, in the order written.
    pub files: Vec<Entry>,
}

/// What a backup holds of the cluster database (`database_url`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Database {
    /// Not backed up (`--no-database`).
    Skipped,
    /// Nothing to back up: the database is in memory (tests), or its
    /// SQLite file did not exist yet.
    Nothing {
        /// Why.
        why: String,
    },
    /// A SQLite file, copied through SQLite's online backup.
    Sqlite {
        /// The file within the backup.
        path: String,
    },
    /// A MySQL/MariaDB or PostgreSQL database, exported table by table
    /// from one snapshot.
    Server {
        /// `mysql` or `postgres`.
        backend: String,
        /// The events schema version it was at.
        events_schema: i64,
        /// The booking schema version it was at (0: no booking tables).
        booking_schema: i64,
        /// Every table exported.
        tables: Vec<TableDump>,
    },
}

/// One table of a server database, exported as JSON lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDump {
    /// The table.
    pub name: String,
    /// Its columns, in the order of each line's values, with their kinds
    /// (`text`, `text?`, `int`, `int32`, `int?`, `flag`, `bytes`).
    pub columns: Vec<(String, String)>,
    /// How many rows (lines).
    pub rows: u64,
    /// The file within the backup.
    pub path: String,
}

/// One file of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Its path within the backup, `/`-separated.
    pub path: String,
    /// What it is.
    pub what: What,
    /// The node it belongs to (`None`: the cluster database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its BLAKE3 checksum, 64 hex digits.
    pub blake3: String,
}

/// What a file of a backup is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    /// A node's store (`convene.db`: meetings, booking ids, files records).
    Store,
    /// A node's own booking tables (`booking.db`, with an in-memory
    /// cluster database).
    BookingDb,
    /// A node's own files lock book (`files-locks.db`).
    LockBook,
    /// Another SQLite file in a data directory.
    OtherSqlite,
    /// The boot number (`boot`).
    Boot,
    /// The highest election term (`term`).
    Term,
    /// A main node's kept list of a backend's users (`meet-lists/`).
    MeetList,
    /// Another file in a data directory.
    DataFile,
    /// A file of the node's shared folder (`[node.files] dir`).
    SharedFile,
    /// The cluster's SQLite database (`database_url`).
    ClusterDb,
    /// One table of a server database, as JSON lines.
    Table,
}

impl What {
    /// Whether the file is a SQLite database (copied through SQLite).
    pub fn is_sqlite(self) -> bool {
        matches!(
            self,
            What::Store | What::BookingDb | What::LockBook | What::OtherSqlite | What::ClusterDb
        )
    }

    /// What a file at `relative` in a data directory is, given whether it
    /// is a SQLite database.
    pub fn of_data_file(relative: &Path, sqlite: bool) -> What {
        let name = relative.to_string_lossy();
        match (name.as_ref(), sqlite) {
            (convene_store::store::FILE_NAME, true) => What::Store,
            ("booking.db", true) => What::BookingDb,
            ("files-locks.db", true) => What::LockBook,
            (_, true) => What::OtherSqlite,
            (crate::boot::BOOT_FILE, false) => What::Boot,
            (convene_cluster::term_store::TERM_FILE, false) => What::Term,
            (name, false) if name.starts_with("meet-lists/") => What::MeetList,
            _ => What::DataFile,
        }
    }
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON of the expected shape.
    #[error("not a Convene backup manifest: {0}")]
    Malformed(#[from] serde_json::Error),
    /// Another format than this version reads.
    #[error(
        "manifest format {found}; this Convene reads format {FORMAT} (restore with the version that made it)"
    )]
    Format {
        /// The format found.
        found: u32,
    },
}

impl Manifest {
    /// The manifest as written (pretty JSON, a final newline).
    pub fn encode(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .expect("a manifest is plain data and always encodes");
        text.push('\n');
        text
    }

    /// Reads a manifest, refusing another format.
    pub fn decode(text: &str) -> Result<Manifest, ManifestError> {
        #[derive(Deserialize)]
        struct Head {
            format: u32,
        }
        // The format first, so a newer manifest is named as such rather
        // than as malformed.
        let head: Head = serde_json::from_str(text)?;
        if head.format != FORMAT {
            return Err(ManifestError::Format { found: head.format });
        }
        Ok(serde_json::from_str(text)?)
    }

    /// The files of node `id`.
    pub fn files_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.files
            .iter()
            .filter(move |e| e.node.as_deref() == Some(id))
    }
}

/// `unix` seconds as RFC 3339 in UTC (`2026-03-01T12:00:00Z`).
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: FORMAT,
            version: "0.1.0".into(),
            commit: "abc123".into(),
            started_unix: 1_700_000_000,
            started: rfc3339(1_700_000_000),
            took_ms: 12,
            cluster_file: "/srv/convene/cluster.toml".into(),
            nodes: vec!["A".into(), "B".into()],
            database: Database::Server {
                backend: "postgres".into(),
                events_schema: 4,
                booking_schema: 1,
                tables: vec![TableDump {
                    name: "users".into(),
                    columns: vec![
                        ("name".into(), "text".into()),
                        ("created_at".into(), "int".into()),
                    ],
                    rows: 2,
                    path: "database/users.jsonl".into(),
                }],
            },
            files: vec![
                Entry {
                    path: "nodes/A/data/convene.db".into(),
                    what: What::Store,
                    node: Some("A".into()),
                    bytes: 4096,
                    blake3: "00".repeat(32),
                },
                Entry {
                    path: "database/users.jsonl".into(),
                    what: What::Table,
                    node: None,
                    bytes: 10,
                    blake3: "ff".repeat(32),
                },
            ],
        }
    }

    #[test]
    fn a_manifest_reads_back_as_written() {
        let m = sample();
        let text = m.encode();
        assert!(text.ends_with("}\n"));
        assert_eq!(Manifest::decode(&text).unwrap(), m);
        assert_eq!(m.files_of("A").count(), 1);
        assert_eq!(m.files_of("B").count(), 0);
        for database in [
            Database::Skipped,
            Database::Nothing {
                why: "in memory".into(),
            },
            Database::Sqlite {
                path: "database/convene.db".into(),
            },
        ] {
            let m = Manifest {
                database,
                ..sample()
            };
            assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn the_file_says_what_each_entry_is_in_words() {
        let text = sample().encode();
        assert!(text.contains("\"what\": \"store\""), "{text}");
        assert!(text.contains("\"kind\": \"server\""), "{text}");
        // The database's own files name no node.
        assert_eq!(text.matches("\"node\"").count(), 1, "{text}");
    }

    #[test]
    fn another_format_is_named_with_both_numbers() {
        let text = sample().encode().replace("\"format\": 1", "\"format\": 7");
        let err = Manifest::decode(&text).unwrap_err().to_string();
        assert!(
            err.contains("format 7") && err.contains("format 1"),
            "{err}"
        );
    }

    #[test]
    fn malformed_manifests_are_refused_not_guessed() {
        for text in [
            "",
            "[]",
            "{\"format\": 1}",
            &sample().encode().replace("\"store\"", "\"stove\""),
            &sample()
                .encode()
                .replace("\"took_ms\"", "\"extra\": 1, \"took_ms\""),
        ] {
            let err = Manifest::decode(text).unwrap_err();
            assert!(matches!(err, ManifestError::Malformed(_)), "{text}: {err}");
        }
    }

    #[test]
    fn data_files_are_named_by_what_the_node_keeps_in_them() {
        let of = |p: &str, sqlite| What::of_data_file(Path::new(p), sqlite);
        assert_eq!(of("convene.db", true), What::Store);
        assert_eq!(of("booking.db", true), What::BookingDb);
        assert_eq!(of("files-locks.db", true), What::LockBook);
        assert_eq!(of("x.db", true), What::OtherSqlite);
        assert_eq!(of("boot", false), What::Boot);
        assert_eq!(of("term", false), What::Term);
        assert_eq!(of("meet-lists/B.txt", false), What::MeetList);
        assert_eq!(of("notes.txt", false), What::DataFile);
        assert!(What::ClusterDb.is_sqlite() && !What::Table.is_sqlite());
    }

    #[test]
    fn times_are_written_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
