//! The migration runner's SQLite side: reads what a file records, records what it applies.
//!
//! The applied migrations are in a table `schema_migrations` (version, name, checksum,
//! time); each step also sets the file's `user_version`, so that a release that only read
//! that number (the proxy cache up to 0.1.0) still refuses a newer file.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, params};

use crate::StoreError;
use crate::migrate::{
    self, Applied, DatabaseStatus, Layout, Migration, Schema, SchemaStatus, TableCount,
    UpdateReport,
};

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)";

/// The file's own tables (SQLite's internal ones left out).
fn layout(conn: &Connection) -> Result<Layout, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let tables = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let user_version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(Layout {
        tables,
        user_version,
    })
}

fn applied(conn: &Connection) -> Result<Vec<Applied>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Applied {
                version: r.get(0)?,
                checksum: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Where a file's schema stands, without writing to it (`db status`, read-only opens). A
/// file from before versions were recorded is at the version its schema recognises.
pub fn inspect(
    conn: &Connection,
    schema: &Schema,
    path: &Path,
) -> Result<SchemaStatus, StoreError> {
    let layout = layout(conn)?;
    let expected = schema.expected();
    if layout.tables.is_empty() {
        return Ok(SchemaStatus { found: 0, expected });
    }
    if layout.has(&["schema_migrations"]) {
        return migrate::check(schema, path, &applied(conn)?);
    }
    match (schema.legacy)(&layout) {
        Some(found) => Ok(SchemaStatus { found, expected }),
        None => Err(StoreError::Unrecognised {
            database: schema.database,
            path: path.to_owned(),
        }),
    }
}

/// Readies a file for use: a new one gets every migration, one from before versions were
/// recorded has its version recorded (nothing else changes), and any version but this
/// release's is refused.
pub fn prepare(
    conn: &mut Connection,
    schema: &Schema,
    path: &Path,
) -> Result<SchemaStatus, StoreError> {
    if layout(conn)?.tables.is_empty() {
        return apply(conn, schema, path, &mut |_| {}).map(|(_, after)| after);
    }
    let status = inspect(conn, schema, path)?;
    migrate::require_current(schema, path, status)?;
    record_legacy(conn, schema, status.found)?;
    Ok(status)
}

/// Records migrations up to `version` as applied in a file that predates the record.
fn record_legacy(conn: &mut Connection, schema: &Schema, version: i64) -> Result<(), StoreError> {
    if layout(conn)?.has(&["schema_migrations"]) {
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch(CREATE_TABLE)?;
    for m in schema.migrations.iter().filter(|m| m.version <= version) {
        record(&tx, m)?;
    }
    tx.commit()?;
    tracing::info!(
        database = schema.database,
        version,
        "recorded the schema version of a file from before versions were recorded"
    );
    Ok(())
}

fn record(conn: &Connection, m: &Migration) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
        params![m.version, m.name, migrate::checksum(m.sql), runtime::now_millis()],
    )?;
    conn.pragma_update(None, "user_version", m.version)?;
    Ok(())
}

/// Applies every pending migration, each in its own transaction, calling `on_step` before
/// each. Returns where the schema stood before and after.
pub fn apply(
    conn: &mut Connection,
    schema: &Schema,
    path: &Path,
    on_step: &mut dyn FnMut(&Migration),
) -> Result<(SchemaStatus, SchemaStatus), StoreError> {
    let before = inspect(conn, schema, path)?;
    if before.found > before.expected {
        return Err(migrate::newer(schema, path, before.found));
    }
    if before.found > 0 {
        record_legacy(conn, schema, before.found)?;
    }
    for m in schema.pending(before.found) {
        on_step(m);
        let tx = conn.transaction()?;
        tx.execute_batch(CREATE_TABLE)?;
        tx.execute_batch(m.sql)?;
        record(&tx, m)?;
        tx.commit()?;
        tracing::info!(
            database = schema.database,
            version = m.version,
            name = m.name,
            "applied migration"
        );
    }
    Ok((before, inspect(conn, schema, path)?))
}

/// True for SQLite's "another connection holds the lock".
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Opens a file for `db update`, alone: a running role or proxy keeps its files open, and
/// updating under it would pull the schema from under its feet, so that is refused by name.
pub fn open_exclusive(path: &Path, schema: &Schema) -> Result<Connection, StoreError> {
    let in_use = || StoreError::InUse {
        database: schema.database,
        path: path.to_owned(),
    };
    let open_error = |e: rusqlite::Error| StoreError::Open {
        database: schema.database,
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(open_error)?;
    conn.busy_timeout(Duration::from_secs(1))?;
    // Set before the first read, the lock is taken on the file itself and held until the
    // connection closes; any process with the file open (WAL) keeps it from being taken.
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    match conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;") {
        Ok(()) => Ok(conn),
        Err(e) if is_busy(&e) => Err(in_use()),
        Err(e) => Err(open_error(e)),
    }
}

/// Opens a file without writing to it or locking out the process that uses it.
pub fn open_read_only(path: &Path, schema: &Schema) -> Result<Connection, StoreError> {
    let open_error = |e: rusqlite::Error| StoreError::Open {
        database: schema.database,
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_error)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(open_error)?;
    Ok(conn)
}

/// `db status` of one file: its schema version, size and the rows of its main tables.
pub fn describe(path: &Path, schema: &Schema) -> Result<DatabaseStatus, StoreError> {
    let conn = open_read_only(path, schema)?;
    // A newer file is reported as it is, not refused: status is how one finds out.
    let status = match inspect(&conn, schema, path) {
        Err(StoreError::NewerSchema {
            found, expected, ..
        }) => SchemaStatus { found, expected },
        other => other?,
    };
    // A count whose table an older version lacks is left out.
    let counts = schema
        .counts
        .iter()
        .filter_map(|(label, query)| {
            let rows: i64 = conn.query_row(query, [], |r| r.get(0)).ok()?;
            Some(TableCount {
                table: (*label).to_owned(),
                rows: rows as u64,
            })
        })
        .collect();
    Ok(DatabaseStatus {
        database: schema.database.to_owned(),
        file: path.to_owned(),
        schema: status,
        size_bytes: size_on_disk(path),
        counts,
    })
}

/// The file and its write-ahead log.
fn size_on_disk(path: &Path) -> u64 {
    let wal = format!("{}-wal", path.display());
    [path, Path::new(&wal)]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// `db update` of one file: applies what is pending, alone, and says what it did.
pub fn update(
    path: &Path,
    schema: &Schema,
    on_step: &mut dyn FnMut(&Migration),
) -> Result<UpdateReport, StoreError> {
    let mut conn = open_exclusive(path, schema)?;
    let mut applied = Vec::new();
    let (before, after) = apply(&mut conn, schema, path, &mut |m| {
        applied.push(format!("{} {}", m.version, m.name));
        on_step(m);
    })?;
    Ok(UpdateReport {
        database: schema.database.to_owned(),
        file: path.to_owned(),
        from: before.found,
        to: after.found,
        applied,
    })
}
