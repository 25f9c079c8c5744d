//! Versioned, checksummed schema migrations.
//!
//! Every table comes from a migration, from the first on. A database records which
//! migrations it has, with their checksums, so that an edited migration or a database from a
//! newer release is noticed instead of silently misread.

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// One schema step.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The Directory's migrations, oldest first. Append only; never edit a released one.
pub const DIRECTORY: &[Migration] = &[Migration {
    version: 1,
    name: "directory",
    sql: include_str!("migrations/0001_directory.sql"),
}];

/// Where a database's schema stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaStatus {
    pub current: i64,
    pub latest: i64,
}

/// FNV-1a of the migration text: enough to notice an edit.
fn checksum(sql: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sql.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn ensure_table(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )?;
    Ok(())
}

/// Reads the schema version and checks the applied migrations against ours.
pub fn status(conn: &Connection, migrations: &[Migration]) -> Result<SchemaStatus, StoreError> {
    ensure_table(conn)?;
    let latest = migrations.last().map_or(0, |m| m.version);
    let mut stmt =
        conn.prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")?;
    let applied = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut current = 0;
    for (version, sum) in applied {
        match migrations.iter().find(|m| m.version == version) {
            Some(m) if checksum(m.sql) == sum => current = version,
            Some(m) => {
                return Err(StoreError::ChecksumMismatch {
                    version,
                    name: m.name.to_owned(),
                });
            }
            None => {
                return Err(StoreError::NewerSchema {
                    found: version,
                    latest,
                });
            }
        }
    }
    Ok(SchemaStatus { current, latest })
}

/// Applies every pending migration, each in its own transaction.
pub fn apply(
    conn: &mut Connection,
    migrations: &[Migration],
    now: i64,
) -> Result<SchemaStatus, StoreError> {
    let before = status(conn, migrations)?;
    for m in migrations.iter().filter(|m| m.version > before.current) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            params![m.version, m.name, checksum(m.sql), now],
        )?;
        tx.commit()?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    status(conn, migrations)
}

/// True when the database has no tables of ours yet (a new file).
pub fn is_empty(conn: &Connection) -> Result<bool, StoreError> {
    let any: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(any.is_none())
}
