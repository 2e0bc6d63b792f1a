//! A MySQL/MariaDB or PostgreSQL cluster database in a backup: one file of
//! JSON lines per table, `database/<table>.jsonl`, each line one row as a
//! JSON array of its values in the manifest's column order (text as a
//! string, integers as numbers, booleans as `true`/`false`, bytes as a
//! string of hex digits, NULL as `null`). Plain text an operator can read,
//! `grep` and load elsewhere; the rows come from one snapshot
//! ([`convene_eventdb::dump::Export`]).

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use convene_eventdb::dump::{self, Export, Import, Kind, PAGE_ROWS, TABLES, Table, Value};
use serde_json::Value as Json;

use super::error::{BackupError, RestoreError};
use super::manifest::{Database, Entry, TableDump, What};

/// Exports every table of ours at `url` into `root/database/`; what the
/// manifest says of it, and its files.
pub async fn export(url: &str, root: &Path) -> Result<(Database, Vec<Entry>), BackupError> {
    let mut export = Export::begin(url).await?;
    let versions = export.versions().await?;
    let dir = root.join(super::DATABASE_DIR);
    std::fs::create_dir_all(&dir).map_err(|error| BackupError::Io {
        path: dir.clone(),
        error,
    })?;
    let mut tables = Vec::new();
    let mut entries = Vec::new();
    for table in TABLES {
        if !export.exists(table).await? {
            continue;
        }
        let relative = format!("{}/{}.jsonl", super::DATABASE_DIR, table.name);
        let path = root.join(&relative);
        let io = |error| BackupError::Io {
            path: path.clone(),
            error,
        };
        let file = std::fs::File::create_new(&path).map_err(io)?;
        let mut out = HashingWriter::new(BufWriter::new(file));
        let mut rows = 0u64;
        let mut last: Option<Vec<Value>> = None;
        loop {
            let page = export.page(table, last.as_deref()).await?;
            for row in &page {
                let line = Json::Array(row.iter().map(to_json).collect());
                writeln!(out, "{line}").map_err(io)?;
            }
            rows += page.len() as u64;
            if page.len() < PAGE_ROWS {
                break;
            }
            last = page.into_iter().last();
        }
        let (bytes, blake3) = out.finish().map_err(io)?;
        tables.push(TableDump {
            name: table.name.to_string(),
            columns: table
                .columns
                .iter()
                .map(|c| (c.name.to_string(), c.kind.name().to_string()))
                .collect(),
            rows,
            path: relative.clone(),
        });
        entries.push(Entry {
            path: relative,
            what: What::Table,
            node: None,
            bytes,
            blake3,
        });
    }
    let backend = export.backend().to_string();
    export.finish().await?;
    Ok((
        Database::Server {
            backend,
            events_schema: versions.events,
            booking_schema: versions.booking,
            tables,
        },
        entries,
    ))
}

/// Opens the server database at `url` for a restore of `database` (the
/// manifest's): the same engine and schema versions, and every table
/// empty, or emptied with `force`. Nothing is committed until [`fill`]
/// ends.
pub async fn prepare(url: &str, database: &Database, force: bool) -> Result<Import, RestoreError> {
    let Database::Server {
        backend,
        events_schema,
        booking_schema,
        tables,
    } = database
    else {
        return Err(RestoreError::Database(
            "the backup holds no server database".into(),
        ));
    };
    let mut import = Import::begin(url).await?;
    if import.backend() != backend {
        return Err(RestoreError::Database(format!(
            "the backup holds a {backend} database; database_url names a {} one",
            import.backend()
        )));
    }
    let here = import.versions().await?;
    // A backup of a cluster with no booking node has no booking tables.
    if here.events != *events_schema || (*booking_schema != 0 && here.booking != *booking_schema) {
        return Err(RestoreError::Database(format!(
            "the backup's schema is events {events_schema}, booking {booking_schema}; this \
             Convene's is events {}, booking {}: restore with the version that made the backup, \
             then upgrade",
            here.events, here.booking
        )));
    }
    for dumped in tables {
        let table = known(&dumped.name)?;
        let columns: Vec<(String, String)> = table
            .columns
            .iter()
            .map(|c| (c.name.to_string(), c.kind.name().to_string()))
            .collect();
        if columns != dumped.columns {
            return Err(RestoreError::Database(format!(
                "table {}'s columns in the backup differ from this version's",
                dumped.name
            )));
        }
    }
    let mut full = Vec::new();
    for table in TABLES {
        let rows = import.count(table).await?;
        if rows > 0 {
            full.push(format!("{} has {rows} rows", table.name));
        }
    }
    if !full.is_empty() {
        if !force {
            return Err(RestoreError::NotEmpty {
                what: format!("the {} database", import.backend()),
                detail: full.join(", "),
            });
        }
        import.clear().await?;
    }
    Ok(import)
}

/// Fills the prepared database from the backup at `root` and commits.
pub async fn fill(
    mut import: Import,
    root: &Path,
    database: &Database,
) -> Result<u64, RestoreError> {
    let Database::Server { tables, .. } = database else {
        return Ok(0);
    };
    let mut total = 0;
    // In foreign-key order, whatever the manifest's order.
    for table in TABLES {
        let Some(dumped) = tables.iter().find(|t| t.name == table.name) else {
            continue;
        };
        let path = root.join(&dumped.path);
        let io = |error| RestoreError::Io {
            path: path.clone(),
            error,
        };
        let file = std::fs::File::open(&path).map_err(io)?;
        let mut batch = Vec::with_capacity(PAGE_ROWS);
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io)?;
            let row = parse_row(table, &line).map_err(|problem| RestoreError::Damaged {
                path: path.clone(),
                problem: format!("line {}: {problem}", i + 1),
            })?;
            batch.push(row);
            if batch.len() == PAGE_ROWS {
                import.insert(table, &batch).await?;
                total += batch.len() as u64;
                batch.clear();
            }
        }
        import.insert(table, &batch).await?;
        total += batch.len() as u64;
    }
    import.commit().await?;
    Ok(total)
}

fn known(name: &str) -> Result<&'static Table, RestoreError> {
    dump::table(name).ok_or_else(|| {
        RestoreError::Database(format!(
            "the backup has a table {name:?} this version does not know"
        ))
    })
}

/// A value as one JSON value (see the module docs).
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Int(n) => Json::from(*n),
        Value::Text(t) => Json::String(t.clone()),
        Value::Flag(f) => Json::Bool(*f),
        Value::Bytes(b) => Json::String(hex(b)),
    }
}

/// One line read back into a row of `table`.
pub fn parse_row(table: &Table, line: &str) -> Result<Vec<Value>, String> {
    let json: Json = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let Json::Array(items) = json else {
        return Err("not a JSON array".into());
    };
    if items.len() != table.columns.len() {
        return Err(format!(
            "{} values for {} columns",
            items.len(),
            table.columns.len()
        ));
    }
    items
        .into_iter()
        .zip(table.columns)
        .map(|(item, column)| {
            let value = match (column.kind, item) {
                (Kind::OptText | Kind::OptInt, Json::Null) => Some(Value::Null),
                (Kind::Text | Kind::OptText, Json::String(s)) => Some(Value::Text(s)),
                (Kind::Int | Kind::Int32 | Kind::OptInt, Json::Number(n)) => {
                    n.as_i64().map(Value::Int)
                }
                (Kind::Flag, Json::Bool(b)) => Some(Value::Flag(b)),
                (Kind::Bytes, Json::String(s)) => unhex(&s).map(Value::Bytes),
                _ => None,
            };
            value.ok_or_else(|| format!("column {} holds no {}", column.name, column.kind.name()))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// A writer that counts and checksums what passes through it.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: blake3::Hasher::new(),
            bytes: 0,
        }
    }
}

impl HashingWriter<BufWriter<std::fs::File>> {
    /// Flushes and syncs; the size and checksum written.
    fn finish(self) -> std::io::Result<(u64, String)> {
        let file = self.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((self.bytes, self.hasher.finalize().to_hex().to_string()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_value_reads_back_from_its_line() {
        let events = dump::table("events").unwrap();
        let row = vec![
            Value::Text("e1".into()),
            Value::Text("Planning \"Q3\"\nline two".into()),
            Value::Text("".into()),
            Value::Text("ada".into()),
            Value::Int(i64::MAX),
            Value::Text("A".into()),
            Value::Text("open".into()),
            Value::Null,
            Value::Int(-5),
            Value::Null,
        ];
        let line = Json::Array(row.iter().map(to_json).collect()).to_string();
        assert!(!line.contains('\n'), "one row, one line: {line}");
        assert_eq!(parse_row(events, &line).unwrap(), row);

        let held = dump::table("files_book_held").unwrap();
        let row = vec![
            Value::Int(1),
            Value::Text("a.txt".into()),
            Value::Bytes(vec![0, 1, 0xab, 0xff]),
            Value::Bytes(vec![]),
            Value::Int(0),
        ];
        let line = Json::Array(row.iter().map(to_json).collect()).to_string();
        assert!(line.contains("\"0001abff\""), "{line}");
        assert_eq!(parse_row(held, &line).unwrap(), row);
        let participants = dump::table("participants").unwrap();
        let row = vec![
            Value::Text("e1".into()),
            Value::Text("bo".into()),
            Value::Int(2),
            Value::Flag(true),
        ];
        let line = Json::Array(row.iter().map(to_json).collect()).to_string();
        assert_eq!(parse_row(participants, &line).unwrap(), row);
    }

    #[test]
    fn a_line_that_does_not_fit_its_table_says_where() {
        let users = dump::table("users").unwrap();
        let bad = [
            ("not json", "expected"),
            ("{}", "not a JSON array"),
            ("[\"a\", \"h\", \"UTC\"]", "3 values for 4 columns"),
            (
                "[\"a\", \"h\", \"UTC\", \"7\"]",
                "column created_at holds no int",
            ),
            ("[null, \"h\", \"UTC\", 7]", "column name holds no text"),
            ("[\"a\", \"h\", \"UTC\", 1.5]", "column created_at"),
        ];
        for (line, expected) in bad {
            let err = parse_row(users, line).unwrap_err();
            assert!(err.contains(expected), "{line}: {err}");
        }
        let held = dump::table("files_book_held").unwrap();
        let err = parse_row(held, "[1, \"p\", \"abc\", \"\", 0]").unwrap_err();
        assert!(err.contains("update_bytes"), "{err}");
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(&hex(&[7, 200])), Some(vec![7, 200]));
    }
}
