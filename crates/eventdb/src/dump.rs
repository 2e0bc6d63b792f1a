//! Every table of ours on a MySQL/MariaDB or PostgreSQL server, read out
//! as one consistent snapshot and written back into an empty database:
//! what `convene backup` and `convene restore` do with a server database.
//!
//! # Why an export of our own, not the server's dump tool
//!
//! `pg_dump` and `mysqldump` must be installed, of a version that suits the
//! server, and reachable from the machine that backs up; their output is
//! tied to the engine. Reading our tables through the driver the nodes
//! already use needs nothing installed, and the rows come back as typed
//! [`Value`]s that the caller stores as it likes (`convene_node::backup`
//! writes JSON lines). The schema is not exported: restoring opens the
//! target as a node would, which creates the schema of this version, and
//! then fills its tables. So a backup restores only into the schema
//! version it was taken at ([`SchemaVersions`]).
//!
//! # Consistency
//!
//! [`Export::begin`] opens one transaction, `REPEATABLE READ` and read
//! only, and every table is read inside it: PostgreSQL's snapshot is taken
//! at the first query, InnoDB's consistent read likewise, so the rows of
//! all tables are as of one instant, while the nodes keep writing. Nothing
//! is locked but what a plain read locks (nothing, on either engine).
//!
//! # The tables
//!
//! [`TABLES`] lists them in an order that satisfies their foreign keys
//! (users before sessions and events, events before participants), which
//! is the order [`Import`] fills them. The schema-version tables are not in
//! it: the target has its own, made by opening it.

use std::str::FromStr;

use convene_events::DbError;
use sqlx::pool::PoolOptions;
use sqlx::{Pool, Transaction};

use crate::error::{OpenError, from_sqlx, redact};
use crate::open::Target;
use crate::sql::{Arg, Engine, exec, fetch};

/// The kind of one column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text, never NULL.
    Text,
    /// Text or NULL.
    OptText,
    /// A 64-bit integer.
    Int,
    /// A 32-bit integer column (`INT`), read and written as a 64-bit one.
    Int32,
    /// An integer or NULL.
    OptInt,
    /// A boolean.
    Flag,
    /// Bytes.
    Bytes,
}

/// One column of a [`Table`].
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// Its values' kind.
    pub kind: Kind,
}

/// One table of ours on a server.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    /// Its name.
    pub name: &'static str,
    /// Its columns, in the order rows are given.
    pub columns: &'static [Column],
    /// Its primary key, to read it in a stable order.
    pub key: &'static str,
    /// A column the engine numbers itself (an identity or serial key),
    /// whose counter must move past the restored rows.
    pub numbered: Option<&'static str>,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

use Kind::{Bytes, Flag, Int, Int32, OptInt, OptText, Text};

/// Every table of ours, in foreign-key order (see the module docs).
pub const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: &[
            col("name", Text),
            col("password_hash", Text),
            col("time_zone", Text),
            col("created_at", Int),
        ],
        key: "name",
        numbered: None,
    },
    Table {
        name: "sessions",
        columns: &[
            col("token_hash", Text),
            col("user_name", Text),
            col("csrf", Text),
            col("expires_at", Int),
        ],
        key: "token_hash",
        numbered: None,
    },
    Table {
        name: "events",
        columns: &[
            col("id", Text),
            col("name", Text),
            col("description", Text),
            col("creator", Text),
            col("deadline", Int),
            col("leader", Text),
            col("state", Text),
            col("result", OptText),
            col("created_at", Int),
            col("finished_at", OptInt),
        ],
        key: "id",
        numbered: None,
    },
    Table {
        name: "participants",
        columns: &[
            col("event_id", Text),
            col("user_name", Text),
            col("position", Int32),
            col("answered", Flag),
        ],
        key: "event_id, user_name",
        numbered: None,
    },
    Table {
        name: "constraints",
        columns: &[
            col("id", Int),
            col("event_id", Text),
            col("user_name", Text),
            col("server", Text),
            col("availability", Text),
            col("submitted_at", Int),
            col("origin", Text),
        ],
        key: "id",
        numbered: Some("id"),
    },
    Table {
        name: "account_bookings",
        columns: &[
            col("id", Text),
            col("account", Text),
            col("facility", Text),
            col("start_min", Int),
            col("end_min", Int),
        ],
        key: "id",
        numbered: None,
    },
    Table {
        name: "booking_owner",
        columns: &[
            col("facility", Text),
            col("node", Int),
            col("token", Int),
            col("term", Int),
        ],
        key: "facility",
        numbered: None,
    },
    Table {
        name: "booking_record",
        columns: &[
            col("id", Text),
            col("facility", Text),
            col("start_min", Int),
            col("end_min", Int),
            col("original_end", Int),
            col("cancelled", Int),
        ],
        key: "id",
        numbered: None,
    },
    Table {
        name: "booking_kept_reply",
        columns: &[
            col("client", Text),
            col("request_id", Int),
            col("facility", Text),
            col("checksum", Int),
            col("reply", Bytes),
            col("created_ms", Int),
        ],
        key: "client, request_id",
        numbered: None,
    },
    Table {
        name: "files_book_holder",
        columns: &[
            col("id", Int),
            col("node", Text),
            col("token", Int),
            col("term", Int),
        ],
        key: "id",
        numbered: None,
    },
    Table {
        name: "files_book_locks",
        columns: &[
            col("id", Int),
            col("path", Text),
            col("owner", Text),
            col("expires_ms", Int),
        ],
        key: "id",
        numbered: Some("id"),
    },
    Table {
        name: "files_book_held",
        columns: &[
            col("seq", Int),
            col("path", Text),
            col("update_bytes", Bytes),
            col("content", Bytes),
            col("has_content", Int),
        ],
        key: "seq",
        numbered: Some("seq"),
    },
];

/// The table named `name`, if it is one of ours.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// NULL (only in an `Opt` column).
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// A boolean.
    Flag(bool),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// The schema versions of a database: what a backup was taken at and a
/// restore must find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemaVersions {
    /// `convene_events_schema`'s highest version (0: no such table).
    pub events: i64,
    /// `convene_booking_schema`'s highest version (0: no such table).
    pub booking: i64,
}

/// How many rows are read or written per statement.
pub const PAGE_ROWS: usize = 1_000;

/// Why an export or an import failed.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The URL names SQLite (copied as a file instead) or nothing known.
    #[error("{0}")]
    Open(#[from] OpenError),
    /// The URL is not a server database.
    #[error("{url} is not a MySQL/MariaDB or PostgreSQL database")]
    NotAServer {
        /// The URL (password hidden).
        url: String,
    },
    /// A statement failed.
    #[error("{what}: {error}")]
    Query {
        /// What was being done.
        what: String,
        /// What the database said.
        error: DbError,
    },
    /// The target already holds rows (restoring would mix two clusters).
    #[error("table {table} already holds {rows} rows")]
    NotEmpty {
        /// The table.
        table: &'static str,
        /// How many.
        rows: i64,
    },
    /// A row does not fit its table.
    #[error("table {table}: {problem}")]
    BadRow {
        /// The table.
        table: &'static str,
        /// What does not fit.
        problem: String,
    },
}

fn query(what: impl Into<String>) -> impl FnOnce(DbError) -> DumpError {
    let what = what.into();
    move |error| DumpError::Query { what, error }
}

/// A consistent read of every table of ours (see the module docs).
pub enum Export {
    /// On MySQL or MariaDB.
    MySql(Snapshot<sqlx::MySql>),
    /// On PostgreSQL.
    Postgres(Snapshot<sqlx::Postgres>),
}

/// One engine's open read transaction.
pub struct Snapshot<E: Engine> {
    tx: Transaction<'static, E>,
    _pool: Pool<E>,
}

/// Connects to the server at `url` with one connection.
async fn connect<E: Engine>(url: &str) -> Result<Pool<E>, DumpError> {
    PoolOptions::<E>::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| {
            DumpError::Open(OpenError::Connect {
                url: redact(url),
                error: Box::new(e),
            })
        })
}

fn server(url: &str) -> Result<Target, DumpError> {
    match Target::parse(url)? {
        target @ (Target::MySql(_) | Target::Postgres(_)) => Ok(target),
        _ => Err(DumpError::NotAServer { url: redact(url) }),
    }
}

impl Export {
    /// Connects to `url` and opens the read transaction.
    pub async fn begin(url: &str) -> Result<Export, DumpError> {
        match server(url)? {
            Target::MySql(url) => Ok(Export::MySql(Snapshot::begin(&url).await?)),
            Target::Postgres(url) => Ok(Export::Postgres(Snapshot::begin(&url).await?)),
            _ => unreachable!("server() returns servers only"),
        }
    }

    /// `"mysql"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Export::MySql(_) => "mysql",
            Export::Postgres(_) => "postgres",
        }
    }

    /// The schema versions, as of the snapshot.
    pub async fn versions(&mut self) -> Result<SchemaVersions, DumpError> {
        match self {
            Export::MySql(s) => versions::<sqlx::MySql>(&mut *s.tx).await,
            Export::Postgres(s) => versions::<sqlx::Postgres>(&mut *s.tx).await,
        }
    }

    /// Whether `table` exists (a cluster with no booking node has no
    /// booking tables).
    pub async fn exists(&mut self, table: &Table) -> Result<bool, DumpError> {
        match self {
            Export::MySql(s) => exists::<sqlx::MySql>(&mut *s.tx, table.name).await,
            Export::Postgres(s) => exists::<sqlx::Postgres>(&mut *s.tx, table.name).await,
        }
    }

    /// Up to [`PAGE_ROWS`] rows of `table` in key order: the first ones,
    /// or those after `after` (the last row of the page before). Each page
    /// starts where the last ended by its key, so a page costs the same
    /// however far into the table it is (`OFFSET` would read and skip
    /// every row before it).
    pub async fn page(
        &mut self,
        table: &Table,
        after: Option<&[Value]>,
    ) -> Result<Vec<Vec<Value>>, DumpError> {
        match self {
            Export::MySql(s) => page::<sqlx::MySql>(&mut *s.tx, table, after).await,
            Export::Postgres(s) => page::<sqlx::Postgres>(&mut *s.tx, table, after).await,
        }
    }

    /// Ends the read transaction.
    pub async fn finish(self) -> Result<(), DumpError> {
        let done = match self {
            Export::MySql(s) => s.tx.rollback().await,
            Export::Postgres(s) => s.tx.rollback().await,
        };
        done.map_err(|e| DumpError::Query {
            what: "ending the read transaction".into(),
            error: from_sqlx(e),
        })
    }
}

impl<E: Engine> Snapshot<E> {
    async fn begin(url: &str) -> Result<Self, DumpError> {
        let pool = connect::<E>(url).await?;
        let mut conn = pool
            .acquire()
            .await
            .map_err(|e| query("connecting")(from_sqlx(e)))?;
        if E::BACKEND == "mysql" {
            // For the next transaction only; InnoDB then reads every table
            // from the snapshot its first read takes.
            exec::<E>(
                &mut *conn,
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                &[],
            )
            .await
            .map_err(query("setting the isolation level"))?;
        }
        drop(conn);
        let mut tx = pool
            .begin()
            .await
            .map_err(|e| query("starting the read transaction")(from_sqlx(e)))?;
        if E::BACKEND == "postgres" {
            exec::<E>(
                &mut *tx,
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                &[],
            )
            .await
            .map_err(query("setting the isolation level"))?;
        }
        Ok(Snapshot { tx, _pool: pool })
    }
}

async fn exists<E: Engine>(conn: &mut E::Connection, name: &str) -> Result<bool, DumpError> {
    let schema = if E::BACKEND == "postgres" {
        "current_schema()"
    } else {
        "DATABASE()"
    };
    let text = format!(
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = {schema} AND table_name = ?"
    );
    let rows = fetch::<E>(conn, &text, &[Arg::Text(name)])
        .await
        .map_err(query(format!("looking for table {name}")))?;
    let n = match rows.first() {
        Some(row) => E::int(row, 0).map_err(query(format!("looking for table {name}")))?,
        None => 0,
    };
    Ok(n > 0)
}

async fn versions<E: Engine>(conn: &mut E::Connection) -> Result<SchemaVersions, DumpError> {
    let mut found = SchemaVersions {
        events: 0,
        booking: 0,
    };
    for (name, slot) in [
        ("convene_events_schema", &mut found.events),
        ("convene_booking_schema", &mut found.booking),
    ] {
        if !exists::<E>(conn, name).await? {
            continue;
        }
        let text = format!("SELECT COALESCE(MAX(version), 0) FROM {name}");
        let rows = fetch::<E>(conn, &text, &[])
            .await
            .map_err(query(format!("reading {name}")))?;
        if let Some(row) = rows.first() {
            *slot = E::int(row, 0).map_err(query(format!("reading {name}")))?;
        }
    }
    Ok(found)
}

fn select_list<E: Engine>(table: &Table) -> String {
    let int32 = if E::BACKEND == "postgres" {
        "BIGINT"
    } else {
        "SIGNED"
    };
    table
        .columns
        .iter()
        .map(|c| match c.kind {
            Int32 => format!("CAST({} AS {int32})", c.name),
            _ => c.name.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The key's values in `row` (text or integers: every key column is).
fn key_args<'a>(table: &Table, row: &'a [Value]) -> Result<Vec<Arg<'a>>, DumpError> {
    table
        .key
        .split(", ")
        .map(|name| {
            let at = table.columns.iter().position(|c| c.name == name);
            match at.and_then(|i| row.get(i)) {
                Some(Value::Text(t)) => Ok(Arg::Text(t)),
                Some(Value::Int(n)) => Ok(Arg::Int(*n)),
                other => Err(DumpError::BadRow {
                    table: table.name,
                    problem: format!("key column {name} holds {other:?}"),
                }),
            }
        })
        .collect()
}

async fn page<E: Engine>(
    conn: &mut E::Connection,
    table: &Table,
    after: Option<&[Value]>,
) -> Result<Vec<Vec<Value>>, DumpError> {
    let args = match after {
        Some(row) => key_args(table, row)?,
        None => Vec::new(),
    };
    // A row comparison, `(a, b) > (?, ?)`: both engines order it as the
    // ORDER BY does.
    let filter = if args.is_empty() {
        String::new()
    } else {
        let marks = vec!["?"; args.len()].join(", ");
        format!(" WHERE ({}) > ({marks})", table.key)
    };
    let text = format!(
        "SELECT {} FROM {}{filter} ORDER BY {} LIMIT {PAGE_ROWS}",
        select_list::<E>(table),
        table.name,
        table.key
    );
    let what = || format!("reading table {}", table.name);
    let rows = fetch::<E>(conn, &text, &args)
        .await
        .map_err(query(what()))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut values = Vec::with_capacity(table.columns.len());
        for (i, c) in table.columns.iter().enumerate() {
            let value = match c.kind {
                Text => E::text(row, i).map(Value::Text),
                OptText => E::opt_text(row, i).map(|v| v.map_or(Value::Null, Value::Text)),
                Int | Int32 => E::int(row, i).map(Value::Int),
                OptInt => E::opt_int(row, i).map(|v| v.map_or(Value::Null, Value::Int)),
                Flag => E::flag(row, i).map(Value::Flag),
                Bytes => E::bytes(row, i).map(Value::Bytes),
            };
            values.push(value.map_err(query(what()))?);
        }
        out.push(values);
    }
    Ok(out)
}

/// Filling an empty database from an export, in one transaction.
pub enum Import {
    /// Into MySQL or MariaDB.
    MySql(Filling<sqlx::MySql>),
    /// Into PostgreSQL.
    Postgres(Filling<sqlx::Postgres>),
}

/// One engine's open write transaction.
pub struct Filling<E: Engine> {
    tx: Transaction<'static, E>,
    _pool: Pool<E>,
}

impl Import {
    /// Opens the database at `url` as a node does (creating the schema of
    /// this version: events, booking tables, lock book), then starts the
    /// transaction that fills it.
    pub async fn begin(url: &str) -> Result<Import, DumpError> {
        let target = server(url)?;
        // Each opener creates its tables or brings them up to date.
        drop(crate::open(url).await?);
        drop(crate::open_booking(url).await?);
        drop(crate::open_lock_book(url).await?);
        match target {
            Target::MySql(url) => Ok(Import::MySql(Filling::begin(&url).await?)),
            Target::Postgres(url) => Ok(Import::Postgres(Filling::begin(&url).await?)),
            _ => unreachable!("server() returns servers only"),
        }
    }

    /// `"mysql"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Import::MySql(_) => "mysql",
            Import::Postgres(_) => "postgres",
        }
    }

    /// The target's schema versions.
    pub async fn versions(&mut self) -> Result<SchemaVersions, DumpError> {
        match self {
            Import::MySql(f) => versions::<sqlx::MySql>(&mut *f.tx).await,
            Import::Postgres(f) => versions::<sqlx::Postgres>(&mut *f.tx).await,
        }
    }

    /// How many rows `table` holds.
    pub async fn count(&mut self, table: &Table) -> Result<i64, DumpError> {
        match self {
            Import::MySql(f) => count::<sqlx::MySql>(&mut *f.tx, table).await,
            Import::Postgres(f) => count::<sqlx::Postgres>(&mut *f.tx, table).await,
        }
    }

    /// Deletes every row of every table of ours (`restore --force`), in
    /// reverse foreign-key order.
    pub async fn clear(&mut self) -> Result<(), DumpError> {
        for table in TABLES.iter().rev() {
            let text = format!("DELETE FROM {}", table.name);
            let what = format!("emptying table {}", table.name);
            match self {
                Import::MySql(f) => exec::<sqlx::MySql>(&mut *f.tx, &text, &[]).await,
                Import::Postgres(f) => exec::<sqlx::Postgres>(&mut *f.tx, &text, &[]).await,
            }
            .map_err(query(what))?;
        }
        Ok(())
    }

    /// Inserts `rows` into `table`.
    pub async fn insert(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<(), DumpError> {
        match self {
            Import::MySql(f) => insert::<sqlx::MySql>(&mut *f.tx, table, rows).await,
            Import::Postgres(f) => insert::<sqlx::Postgres>(&mut *f.tx, table, rows).await,
        }
    }

    /// Moves each numbered column's counter past the rows restored, and
    /// commits.
    pub async fn commit(self) -> Result<(), DumpError> {
        let committed = match self {
            Import::MySql(f) => f.tx.commit().await,
            Import::Postgres(mut f) => {
                for table in TABLES {
                    let Some(column) = table.numbered else {
                        continue;
                    };
                    let text = format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', '{column}'), \
                         COALESCE(MAX({column}), 0) + 1, false) FROM {0}",
                        table.name
                    );
                    fetch::<sqlx::Postgres>(&mut *f.tx, &text, &[])
                        .await
                        .map_err(query(format!("moving {}'s counter", table.name)))?;
                }
                f.tx.commit().await
            }
        };
        committed.map_err(|e| DumpError::Query {
            what: "committing the restored rows".into(),
            error: from_sqlx(e),
        })
    }
}

impl<E: Engine> Filling<E> {
    async fn begin(url: &str) -> Result<Self, DumpError> {
        let pool = connect::<E>(url).await?;
        let tx = pool
            .begin()
            .await
            .map_err(|e| query("starting the write transaction")(from_sqlx(e)))?;
        Ok(Filling { tx, _pool: pool })
    }
}

async fn count<E: Engine>(conn: &mut E::Connection, table: &Table) -> Result<i64, DumpError> {
    let text = format!("SELECT COUNT(*) FROM {}", table.name);
    let what = || format!("counting the rows of {}", table.name);
    let rows = fetch::<E>(conn, &text, &[]).await.map_err(query(what()))?;
    match rows.first() {
        Some(row) => E::int(row, 0).map_err(query(what())),
        None => Ok(0),
    }
}

async fn insert<E: Engine>(
    conn: &mut E::Connection,
    table: &Table,
    rows: &[Vec<Value>],
) -> Result<(), DumpError> {
    if rows.is_empty() {
        return Ok(());
    }
    let one: Vec<&str> = table
        .columns
        .iter()
        .map(|c| match c.kind {
            // A boolean from an integer, the same on both engines.
            Flag => "(? <> 0)",
            _ => "?",
        })
        .collect();
    let one = format!("({})", one.join(", "));
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let overriding = if E::BACKEND == "postgres" && table.name == "constraints" {
        // An identity column GENERATED ALWAYS takes a value only so.
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    // Statements of up to PAGE_ROWS rows and well under 65,535 values.
    let per_statement = (30_000 / table.columns.len()).clamp(1, PAGE_ROWS);
    for chunk in rows.chunks(per_statement) {
        let mut args = Vec::with_capacity(chunk.len() * table.columns.len());
        for row in chunk {
            if row.len() != table.columns.len() {
                return Err(DumpError::BadRow {
                    table: table.name,
                    problem: format!(
                        "a row has {} values, the table {} columns",
                        row.len(),
                        table.columns.len()
                    ),
                });
            }
            for (value, c) in row.iter().zip(table.columns) {
                args.push(arg(table, c, value)?);
            }
        }
        let groups = vec![one.as_str(); chunk.len()].join(", ");
        let text = format!(
            "INSERT INTO {} ({}){overriding} VALUES {groups}",
            table.name,
            names.join(", ")
        );
        exec::<E>(conn, &text, &args)
            .await
            .map_err(query(format!("filling table {}", table.name)))?;
    }
    Ok(())
}

fn arg<'a>(table: &Table, column: &Column, value: &'a Value) -> Result<Arg<'a>, DumpError> {
    let arg = match (column.kind, value) {
        (Text, Value::Text(t)) => Arg::Text(t),
        (OptText, Value::Text(t)) => Arg::OptText(Some(t)),
        (OptText, Value::Null) => Arg::OptText(None),
        (Int | Int32, Value::Int(n)) => Arg::Int(*n),
        (OptInt, Value::Int(n)) => Arg::OptInt(Some(*n)),
        (OptInt, Value::Null) => Arg::OptInt(None),
        (Flag, Value::Flag(f)) => Arg::Int(i64::from(*f)),
        (Bytes, Value::Bytes(b)) => Arg::Bytes(b),
        (kind, value) => {
            return Err(DumpError::BadRow {
                table: table.name,
                problem: format!("column {} is {kind:?}, not {value:?}", column.name),
            });
        }
    };
    Ok(arg)
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Kind, String> {
        Ok(match s {
            "text" => Text,
            "text?" => OptText,
            "int" => Int,
            "int32" => Int32,
            "int?" => OptInt,
            "flag" => Flag,
            "bytes" => Bytes,
            other => return Err(format!("no column kind is called {other:?}")),
        })
    }
}

impl Kind {
    /// Its name in a backup's manifest (read back by [`FromStr`]).
    pub fn name(self) -> &'static str {
        match self {
            Text => "text",
            OptText => "text?",
            Int => "int",
            Int32 => "int32",
            OptInt => "int?",
            Flag => "flag",
            Bytes => "bytes",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_by_its_name() {
        for kind in [Text, OptText, Int, Int32, OptInt, Flag, Bytes] {
            assert_eq!(kind.name().parse::<Kind>(), Ok(kind));
        }
        assert!("float".parse::<Kind>().is_err());
    }

    #[test]
    fn tables_are_named_once_and_keyed_by_their_own_columns() {
        let mut names: Vec<_> = TABLES.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
        for t in TABLES {
            for key in t.key.split(", ") {
                assert!(t.columns.iter().any(|c| c.name == key), "{}.{key}", t.name);
            }
            if let Some(n) = t.numbered {
                assert!(t.columns.iter().any(|c| c.name == n), "{}.{n}", t.name);
            }
        }
        // Foreign keys point back in the list.
        let at = |n: &str| TABLES.iter().position(|t| t.name == n).unwrap();
        assert!(at("users") < at("sessions"));
        assert!(at("users") < at("events"));
        assert!(at("events") < at("participants"));
        assert!(at("events") < at("constraints"));
        assert!(at("users") < at("account_bookings"));
    }

    #[test]
    fn a_page_starts_after_the_last_row_by_its_whole_key() {
        let t = table("participants").unwrap();
        let row = [
            Value::Text("e1".into()),
            Value::Text("bo".into()),
            Value::Int(0),
            Value::Flag(true),
        ];
        let args = key_args(t, &row).unwrap();
        assert!(matches!(args[..], [Arg::Text("e1"), Arg::Text("bo")]));
        let t = table("constraints").unwrap();
        let args = key_args(t, &[Value::Int(7)]).unwrap();
        assert!(matches!(args[..], [Arg::Int(7)]));
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_refused_not_bound() {
        let t = table("events").unwrap();
        let err = arg(t, &t.columns[0], &Value::Int(3)).unwrap_err();
        assert!(err.to_string().contains("column id"), "{err}");
        assert!(matches!(
            arg(t, &t.columns[7], &Value::Null),
            Ok(Arg::OptText(None))
        ));
    }
}
