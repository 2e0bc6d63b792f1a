//! Versioned schema migrations, one list per engine.
//!
//! Each engine has its own ordered list ([`SQLITE`], [`MYSQL`],
//! [`POSTGRES`]) because their SQL dialects differ in types (`INTEGER` vs
//! `BIGINT`, `TEXT` vs `VARCHAR(64)`), in how a key generates itself, and
//! in which text comparisons are exact. The lists describe the same tables
//! and grow together: version *n* means the same schema on every engine.
//!
//! The database remembers which versions it has in the table
//! `convene_events_schema(version, name, applied_at)`. Opening a database
//! applies exactly the versions it lacks, in order, and records each. A
//! migration, once released, is never edited; a change comes as a new
//! entry at the end.
//!
//! # Many nodes opening one database at once
//!
//! Every node of a cluster opens the shared database when it starts, so
//! migrations must tolerate concurrent openers. Each engine serializes
//! them its own way:
//!
//! - SQLite: the whole check-and-apply runs in one `BEGIN IMMEDIATE`
//!   transaction, which takes the file's write lock first; a second opener
//!   waits (busy timeout) and then finds the work done.
//! - PostgreSQL: a session advisory lock (`pg_advisory_lock`) around the
//!   check-and-apply; each version runs in a transaction (PostgreSQL's DDL
//!   is transactional) together with its record.
//! - MySQL/MariaDB: a named lock (`GET_LOCK`) around the check-and-apply.
//!   MySQL commits DDL implicitly, so a version is not atomic there: its
//!   statements are written to be re-runnable (`CREATE TABLE IF NOT
//!   EXISTS`, indexes declared inside the table) so that a crash halfway
//!   is repaired by the next open.
//!
//! # The tables
//!
//! - `users`: accounts, keyed by exact (case-sensitive) name.
//! - `sessions`: logged-in browsers, keyed by a hash of their token.
//! - `events`: one row per event; `state` is `open` or `final`, `result`
//!   the common time once final ([`encode_availability`] text).
//! - `participants`: who is invited to which event, in the order given
//!   (`position`), and whether they answered.
//! - `constraints`: the backup of every accepted constraint, tagged with
//!   the event server holding it (`server`, which changes when the
//!   coordinator hands a dead server's share on) and the one that accepted
//!   it (`origin`, which never changes), deleted when the event becomes
//!   final.
//!   Its `id` grows with every insert, so it orders constraints by arrival.
//!
//! [`encode_availability`]: convene_events::db::encode_availability

/// One schema step.
pub struct Migration {
    /// The version the database has after this step (1, 2, ...).
    pub version: i64,
    /// What the step does, for logs and the schema table.
    pub name: &'static str,
    /// The statements, run one at a time in order.
    pub statements: &'static [&'static str],
}

/// The table recording applied versions, the same on every engine (its
/// `CREATE` is re-run on every open, hence `IF NOT EXISTS`).
pub const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS convene_events_schema (
    version    BIGINT       NOT NULL PRIMARY KEY,
    name       VARCHAR(255) NOT NULL,
    applied_at BIGINT       NOT NULL   -- Unix seconds
)";

/// SQLite's steps.
///
/// SQLite compares text exactly (`BINARY` collation) and lets any column
/// hold any length, so keys are plain `TEXT`. `constraints.id` is the rowid:
/// a new row gets one more than the largest, so it orders by arrival
/// without the extra bookkeeping of `AUTOINCREMENT`.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "events: users, sessions, events, participants, constraint backups",
        statements: &[
            "CREATE TABLE users (
            name          TEXT    NOT NULL PRIMARY KEY,
            password_hash TEXT    NOT NULL,
            time_zone     TEXT    NOT NULL,
            created_at    INTEGER NOT NULL
        )",
            "CREATE TABLE sessions (
            token_hash TEXT    NOT NULL PRIMARY KEY,
            user_name  TEXT    NOT NULL REFERENCES users (name),
            csrf       TEXT    NOT NULL,
            expires_at INTEGER NOT NULL
        )",
            "CREATE INDEX sessions_by_user ON sessions (user_name)",
            "CREATE TABLE events (
            id          TEXT    NOT NULL PRIMARY KEY,
            name        TEXT    NOT NULL,
            description TEXT    NOT NULL,
            creator     TEXT    NOT NULL REFERENCES users (name),
            deadline    INTEGER NOT NULL,
            leader      TEXT    NOT NULL,
            state       TEXT    NOT NULL CHECK (state IN ('open', 'final')),
            result      TEXT,
            created_at  INTEGER NOT NULL,
            finished_at INTEGER
        )",
            "CREATE INDEX events_by_state_deadline ON events (state, deadline)",
            "CREATE TABLE participants (
            event_id  TEXT    NOT NULL REFERENCES events (id),
            user_name TEXT    NOT NULL REFERENCES users (name),
            position  INTEGER NOT NULL,
            answered  BOOLEAN NOT NULL DEFAULT FALSE,
            PRIMARY KEY (event_id, user_name)
        ) WITHOUT ROWID",
            "CREATE INDEX participants_by_user ON participants (user_name)",
            "CREATE TABLE constraints (
            id           INTEGER NOT NULL PRIMARY KEY,
            event_id     TEXT    NOT NULL REFERENCES events (id),
            user_name    TEXT    NOT NULL,
            server       TEXT    NOT NULL,
            availability TEXT    NOT NULL,
            submitted_at INTEGER NOT NULL
        )",
            "CREATE INDEX constraints_by_event_server ON constraints (event_id, server)",
            "CREATE INDEX constraints_by_server ON constraints (server)",
        ],
    },
    Migration {
        version: 2,
        name: "constraints: who accepted each (origin), kept when the holder changes",
        statements: &[
            "ALTER TABLE constraints ADD COLUMN origin TEXT NOT NULL DEFAULT ''",
            "UPDATE constraints SET origin = server WHERE origin = ''",
            "CREATE INDEX constraints_by_event_origin ON constraints (event_id, origin)",
        ],
    },
    Migration {
        version: 3,
        name: "events: by creator and deadline, to count a user's open events",
        statements: &["CREATE INDEX events_by_creator_deadline ON events (creator, deadline)"],
    },
    Migration {
        version: 4,
        name: "account_bookings: which account made each booking over HTTP",
        statements: &[
            "CREATE TABLE account_bookings (
                id         TEXT    NOT NULL PRIMARY KEY,
                account    TEXT    NOT NULL REFERENCES users (name),
                facility   TEXT    NOT NULL,
                start_min  INTEGER NOT NULL,
                end_min    INTEGER NOT NULL
            )",
            "CREATE INDEX account_bookings_by_account ON account_bookings (account)",
        ],
    },
];

/// MySQL's and MariaDB's steps.
///
/// Every table is `utf8mb4` (all of Unicode) with the `utf8mb4_bin`
/// collation: the default collations compare case-insensitively, which
/// would make `Alice` and `alice` one user. Keys need a bounded length to
/// be indexed, hence `VARCHAR`: user names and node ids up to 64
/// characters, event ids 32 (they are 10), token digests 128 (they are
/// 64). Long text is `TEXT`/`MEDIUMTEXT`.
///
/// One difference remains: `utf8mb4_bin` ignores trailing spaces when it
/// compares (`'ann'` = `'ann '`), where SQLite and PostgreSQL do not: a
/// name ending in a space must be refused before it reaches the database.
pub const MYSQL: &[Migration] = &[
    Migration {
        version: 1,
        name: "events: users, sessions, events, participants, constraint backups",
        statements: &[
            "CREATE TABLE IF NOT EXISTS users (
            name          VARCHAR(64)  NOT NULL PRIMARY KEY,
            password_hash VARCHAR(255) NOT NULL,
            time_zone     VARCHAR(64)  NOT NULL,
            created_at    BIGINT       NOT NULL
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
            "CREATE TABLE IF NOT EXISTS sessions (
            token_hash VARCHAR(128) NOT NULL PRIMARY KEY,
            user_name  VARCHAR(64)  NOT NULL,
            csrf       VARCHAR(128) NOT NULL,
            expires_at BIGINT       NOT NULL,
            INDEX sessions_by_user (user_name),
            FOREIGN KEY (user_name) REFERENCES users (name)
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
            "CREATE TABLE IF NOT EXISTS events (
            id          VARCHAR(32) NOT NULL PRIMARY KEY,
            name        TEXT        NOT NULL,
            description TEXT        NOT NULL,
            creator     VARCHAR(64) NOT NULL,
            deadline    BIGINT      NOT NULL,
            leader      VARCHAR(64) NOT NULL,
            state       VARCHAR(8)  NOT NULL CHECK (state IN ('open', 'final')),
            result      MEDIUMTEXT  NULL,
            created_at  BIGINT      NOT NULL,
            finished_at BIGINT      NULL,
            INDEX events_by_state_deadline (state, deadline),
            FOREIGN KEY (creator) REFERENCES users (name)
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
            "CREATE TABLE IF NOT EXISTS participants (
            event_id  VARCHAR(32) NOT NULL,
            user_name VARCHAR(64) NOT NULL,
            position  INT         NOT NULL,
            answered  BOOLEAN     NOT NULL DEFAULT FALSE,
            PRIMARY KEY (event_id, user_name),
            INDEX participants_by_user (user_name),
            FOREIGN KEY (event_id) REFERENCES events (id),
            FOREIGN KEY (user_name) REFERENCES users (name)
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
            "CREATE TABLE IF NOT EXISTS constraints (
            id           BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
            event_id     VARCHAR(32) NOT NULL,
            user_name    VARCHAR(64) NOT NULL,
            server       VARCHAR(64) NOT NULL,
            availability MEDIUMTEXT  NOT NULL,
            submitted_at BIGINT      NOT NULL,
            INDEX constraints_by_event_server (event_id, server),
            INDEX constraints_by_server (server),
            FOREIGN KEY (event_id) REFERENCES events (id)
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        ],
    },
    Migration {
        version: 2,
        name: "constraints: who accepted each (origin), kept when the holder changes",
        statements: &[
            // One ALTER for the column and its index: MySQL has no
            // `ADD COLUMN IF NOT EXISTS` (only MariaDB does), and one
            // statement is applied whole.
            "ALTER TABLE constraints
                ADD COLUMN origin VARCHAR(64) NOT NULL DEFAULT '',
                ADD INDEX constraints_by_event_origin (event_id, origin)",
            "UPDATE constraints SET origin = server WHERE origin = ''",
        ],
    },
    Migration {
        version: 3,
        name: "events: by creator and deadline, to count a user's open events",
        // One statement: MySQL has no `ADD INDEX IF NOT EXISTS` (MariaDB
        // has), so this step is not re-runnable; being one statement, only
        // a crash between it and its record could leave it half done.
        statements: &[
            "ALTER TABLE events ADD INDEX events_by_creator_deadline (creator, deadline)",
        ],
    },
    Migration {
        version: 4,
        name: "account_bookings: which account made each booking over HTTP",
        // One statement, the index inside it: re-runnable as a whole.
        statements: &["CREATE TABLE IF NOT EXISTS account_bookings (
                id         VARCHAR(64) NOT NULL PRIMARY KEY,
                account    VARCHAR(64) NOT NULL,
                facility   VARCHAR(255) NOT NULL,
                start_min  BIGINT      NOT NULL,
                end_min    BIGINT      NOT NULL,
                INDEX account_bookings_by_account (account),
                FOREIGN KEY (account) REFERENCES users (name)
            ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
    },
];

/// PostgreSQL's steps.
///
/// PostgreSQL compares text exactly and does not need lengths for keys, so
/// text is `TEXT`; `constraints.id` is an identity column.
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "events: users, sessions, events, participants, constraint backups",
        statements: &[
            "CREATE TABLE users (
            name          TEXT   NOT NULL PRIMARY KEY,
            password_hash TEXT   NOT NULL,
            time_zone     TEXT   NOT NULL,
            created_at    BIGINT NOT NULL
        )",
            "CREATE TABLE sessions (
            token_hash TEXT   NOT NULL PRIMARY KEY,
            user_name  TEXT   NOT NULL REFERENCES users (name),
            csrf       TEXT   NOT NULL,
            expires_at BIGINT NOT NULL
        )",
            "CREATE INDEX sessions_by_user ON sessions (user_name)",
            "CREATE TABLE events (
            id          TEXT   NOT NULL PRIMARY KEY,
            name        TEXT   NOT NULL,
            description TEXT   NOT NULL,
            creator     TEXT   NOT NULL REFERENCES users (name),
            deadline    BIGINT NOT NULL,
            leader      TEXT   NOT NULL,
            state       TEXT   NOT NULL CHECK (state IN ('open', 'final')),
            result      TEXT,
            created_at  BIGINT NOT NULL,
            finished_at BIGINT
        )",
            "CREATE INDEX events_by_state_deadline ON events (state, deadline)",
            "CREATE TABLE participants (
            event_id  TEXT    NOT NULL REFERENCES events (id),
            user_name TEXT    NOT NULL REFERENCES users (name),
            position  INTEGER NOT NULL,
            answered  BOOLEAN NOT NULL DEFAULT FALSE,
            PRIMARY KEY (event_id, user_name)
        )",
            "CREATE INDEX participants_by_user ON participants (user_name)",
            "CREATE TABLE constraints (
            id           BIGINT NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id     TEXT   NOT NULL REFERENCES events (id),
            user_name    TEXT   NOT NULL,
            server       TEXT   NOT NULL,
            availability TEXT   NOT NULL,
            submitted_at BIGINT NOT NULL
        )",
            "CREATE INDEX constraints_by_event_server ON constraints (event_id, server)",
            "CREATE INDEX constraints_by_server ON constraints (server)",
        ],
    },
    Migration {
        version: 2,
        name: "constraints: who accepted each (origin), kept when the holder changes",
        statements: &[
            "ALTER TABLE constraints ADD COLUMN IF NOT EXISTS origin TEXT NOT NULL DEFAULT ''",
            "UPDATE constraints SET origin = server WHERE origin = ''",
            "CREATE INDEX IF NOT EXISTS constraints_by_event_origin ON constraints (event_id, origin)",
        ],
    },
    Migration {
        version: 3,
        name: "events: by creator and deadline, to count a user's open events",
        statements: &[
            "CREATE INDEX IF NOT EXISTS events_by_creator_deadline ON events (creator, deadline)",
        ],
    },
    Migration {
        version: 4,
        name: "account_bookings: which account made each booking over HTTP",
        statements: &[
            "CREATE TABLE IF NOT EXISTS account_bookings (
                id         TEXT   NOT NULL PRIMARY KEY,
                account    TEXT   NOT NULL REFERENCES users (name),
                facility   TEXT   NOT NULL,
                start_min  BIGINT NOT NULL,
                end_min    BIGINT NOT NULL
            )",
            "CREATE INDEX IF NOT EXISTS account_bookings_by_account ON account_bookings (account)",
        ],
    },
];

/// The newest version in `list`.
pub fn latest(list: &[Migration]) -> i64 {
    list.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_has_the_same_versions_in_order() {
        let versions = |list: &[Migration]| list.iter().map(|m| m.version).collect::<Vec<_>>();
        for list in [SQLITE, MYSQL, POSTGRES] {
            let v = versions(list);
            assert_eq!(v, (1..=v.len() as i64).collect::<Vec<_>>());
        }
        assert_eq!(versions(SQLITE), versions(MYSQL));
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }
}
