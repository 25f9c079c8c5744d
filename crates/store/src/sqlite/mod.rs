//! The SQLite engine: the embedded default, one file in the data folder.
//!
//! One writer connection and one reader connection, so that the Config Tool can read while
//! a synchronization writes (WAL). Nothing outside this module knows the tables.

mod accounts;
pub(crate) mod alarms;
pub mod backup;
pub mod checkpoint;
pub mod import;
pub mod migrate;
mod plugin;

pub use accounts::SqliteAccounts;
pub use checkpoint::Checkpointer;
mod read;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use model::{Digest, RunOutcome};
use rusqlite::Connection;

pub use plugin::{
    MAX_PAGE as MAX_EVENT_PAGE, PLUGIN, PLUGIN_MIGRATIONS, SqlitePlugin, SqlitePluginReader,
    random_id,
};

use crate::migrate::{Migration, Schema, no_legacy};
use crate::{
    Directory, DirectoryRead, EntityRow, SourceChange, SourceEntity, StoreError, SyncPosition,
    SyncRun, WatchPosition,
};

/// The Directory's migrations, oldest first. Append only; never edit a released one.
pub const DIRECTORY_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "directory",
        sql: include_str!("migrations/0001_directory.sql"),
    },
    Migration {
        version: 2,
        name: "entities_rowid",
        sql: include_str!("migrations/0002_entities_rowid.sql"),
    },
    Migration {
        version: 3,
        name: "directory_alarms",
        sql: include_str!("migrations/0003_directory_alarms.sql"),
    },
    Migration {
        version: 4,
        name: "directory_accounts",
        sql: include_str!("migrations/0004_directory_accounts.sql"),
    },
];

/// The Directory database as the migration runner knows it.
pub const DIRECTORY: Schema = Schema {
    database: "Directory database",
    file: "directory.db",
    migrations: DIRECTORY_MIGRATIONS,
    legacy: no_legacy,
    counts: &[
        ("entities", "SELECT COUNT(*) FROM entities"),
        ("config", "SELECT COUNT(*) FROM config"),
        ("sync_runs", "SELECT COUNT(*) FROM sync_runs"),
    ],
};

fn connect(path: &Path) -> Result<Connection, StoreError> {
    open_connection(
        path,
        DIRECTORY.database,
        // 16 KiB pages for a new Directory; an existing one keeps the size it was created
        // with. A cardholder's row is about 2 KB, just over half a 4 KiB page, so with
        // SQLite's default each took a page of its own: 36 % of the file was empty space
        // and a synchronization wrote nearly twice the bytes it stored. Seven such rows fill
        // a 16 KiB page.
        "PRAGMA page_size = 16384;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 0;",
    )
}

/// The writer connection of a database that is sound and on this release's schema: opened
/// with `connect`, checked (quick_check), then created or checked by the migration runner. A
/// damaged file is `Damaged`, naming it, decided by SQLite's error codes, never by message
/// text.
pub(crate) fn open_checked(
    path: &Path,
    schema: &Schema,
    connect: fn(&Path) -> Result<Connection, StoreError>,
) -> Result<Connection, StoreError> {
    let damaged = |detail: String| StoreError::Damaged {
        database: schema.database,
        path: path.to_owned(),
        detail,
    };
    let corruption = |e: StoreError| match e {
        StoreError::Sql(ref sql) if crate::error::is_corruption(sql) => damaged(e.to_string()),
        other => other,
    };
    let mut writer = connect(path).map_err(corruption)?;
    check_integrity(&writer)
        .map_err(corruption)?
        .map_or(Ok(()), |d| Err(damaged(d)))?;
    migrate::prepare(&mut writer, schema, path).map_err(corruption)?;
    Ok(writer)
}

/// Opens a connection to `database` at `path` with `pragmas`: a file SQLite finds damaged is
/// `Damaged`, any other failure `Open`, both naming the file.
pub(crate) fn open_connection(
    path: &Path,
    database: &'static str,
    pragmas: &str,
) -> Result<Connection, StoreError> {
    let open_error = |e: rusqlite::Error| {
        if crate::error::is_corruption(&e) {
            StoreError::Damaged {
                database,
                path: path.to_owned(),
                detail: e.to_string(),
            }
        } else {
            StoreError::Open {
                database,
                path: path.to_owned(),
                reason: e.to_string(),
            }
        }
    };
    let conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(pragmas).map_err(open_error)?;
    Ok(conn)
}

/// SQLite's quick check of every page and index (seconds for a million cardholders, once at
/// start): `Some(what is wrong)` for a damaged file, so that it is refused with its name
/// instead of failing later in the middle of a synchronization.
fn check_integrity(conn: &Connection) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare("PRAGMA quick_check(5)")?;
    let problems: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(match problems.as_slice() {
        [ok] if ok == "ok" => None,
        _ => Some(problems.join("; ")),
    })
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic mid-transaction rolls the transaction back when it is dropped, so the
    // connection behind a poisoned lock is still consistent.
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

/// A Directory file opened for reading only.
pub struct SqliteReader {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteReader {
    /// Opens the Directory at `path` for reading, beside the role that may be writing it:
    /// nothing is migrated, written or locked. A schema other than this release's is
    /// refused, since it would be misread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = migrate::open_read_only(path, &DIRECTORY)?;
        let status = migrate::inspect(&conn, &DIRECTORY, path)?;
        crate::migrate::require_current(&DIRECTORY, path, status)?;
        Ok(SqliteReader {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }
}

/// The Directory in an SQLite file, read and written.
pub struct SqliteDirectory {
    writer: Arc<Mutex<Connection>>,
    reader: SqliteReader,
    /// Copies the write-ahead log into the file off the writer's path; stops when dropped.
    _checkpointer: checkpoint::Checkpointer,
}

impl SqliteDirectory {
    /// Opens the Directory at `path`, creating it with the latest schema when new. An
    /// existing database on another schema is refused ([`StoreError::NeedsUpdate`],
    /// [`StoreError::NewerSchema`]). The writer is the role: a run still recorded as running
    /// belongs to a role that was killed, and is marked interrupted at once rather than
    /// showing "running" until the next synchronization starts.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let writer = open_checked(path, &DIRECTORY, connect)?;
        let interrupted = write::interrupt_unfinished_runs(&writer)?;
        if interrupted > 0 {
            tracing::info!(
                runs = interrupted,
                "a synchronization left running by a stopped role is marked interrupted"
            );
        }
        let reader = SqliteReader {
            path: path.to_owned(),
            conn: Mutex::new(connect(path)?),
        };
        let writer = Arc::new(Mutex::new(writer));
        let checkpointer =
            checkpoint::Checkpointer::start(path, DIRECTORY.database, writer.clone())?;
        Ok(SqliteDirectory {
            writer,
            reader,
            _checkpointer: checkpointer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.reader.path()
    }

    fn write(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }
}

impl DirectoryRead for SqliteReader {
    fn config(&self, key: &str) -> Result<Option<String>, StoreError> {
        read::config(&self.conn(), key)
    }
    fn watch_position(&self) -> Result<Option<WatchPosition>, StoreError> {
        read::watch_position(&self.conn())
    }
    fn position(&self, source_kind: &str) -> Result<Option<SyncPosition>, StoreError> {
        read::position(&self.conn(), source_kind)
    }
    fn count(&self, kind: &str) -> Result<u64, StoreError> {
        read::count(&self.conn(), kind)
    }
    fn digest(&self, source_kind: &str) -> Result<Digest, StoreError> {
        read::digest(&self.conn(), source_kind)
    }
    fn entities(&self, kind: &str, after: &str, limit: u32) -> Result<Vec<EntityRow>, StoreError> {
        read::entities(&self.conn(), kind, after, limit)
    }
    fn search(
        &self,
        kind: &str,
        text: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<EntityRow>, StoreError> {
        read::search(&self.conn(), kind, text, after, limit)
    }
    fn all_entities(&self, kind: &str) -> Result<Vec<EntityRow>, StoreError> {
        read::all_entities(&self.conn(), kind)
    }
    fn entity(&self, id: &str) -> Result<Vec<EntityRow>, StoreError> {
        read::entity(&self.conn(), id)
    }
    fn latest_run(&self) -> Result<Option<SyncRun>, StoreError> {
        read::latest_run(&self.conn())
    }
    fn runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        read::runs(&self.conn(), limit)
    }
}

/// Reads go through the reader connection, never waiting for a write to commit.
impl DirectoryRead for SqliteDirectory {
    fn config(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.reader.config(key)
    }
    fn watch_position(&self) -> Result<Option<WatchPosition>, StoreError> {
        self.reader.watch_position()
    }
    fn position(&self, source_kind: &str) -> Result<Option<SyncPosition>, StoreError> {
        self.reader.position(source_kind)
    }
    fn count(&self, kind: &str) -> Result<u64, StoreError> {
        self.reader.count(kind)
    }
    fn digest(&self, source_kind: &str) -> Result<Digest, StoreError> {
        self.reader.digest(source_kind)
    }
    fn entities(&self, kind: &str, after: &str, limit: u32) -> Result<Vec<EntityRow>, StoreError> {
        self.reader.entities(kind, after, limit)
    }
    fn search(
        &self,
        kind: &str,
        text: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<EntityRow>, StoreError> {
        self.reader.search(kind, text, after, limit)
    }
    fn all_entities(&self, kind: &str) -> Result<Vec<EntityRow>, StoreError> {
        self.reader.all_entities(kind)
    }
    fn entity(&self, id: &str) -> Result<Vec<EntityRow>, StoreError> {
        self.reader.entity(id)
    }
    fn latest_run(&self) -> Result<Option<SyncRun>, StoreError> {
        self.reader.latest_run()
    }
    fn runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        self.reader.runs(limit)
    }
}

impl Directory for SqliteDirectory {
    fn set_config(&self, values: &[(&str, String)]) -> Result<(), StoreError> {
        write::set_config(&mut self.write(), values)
    }
    fn write_page(&self, page: &[SourceEntity], position: &SyncPosition) -> Result<(), StoreError> {
        write::write_page(&mut self.write(), page, position)
    }
    fn finish_listing(&self, position: &SyncPosition) -> Result<u64, StoreError> {
        write::finish_listing(&mut self.write(), position)
    }
    fn apply_changes(
        &self,
        changes: &[SourceChange],
        position: &WatchPosition,
    ) -> Result<u64, StoreError> {
        write::apply_changes(&mut self.write(), changes, position)
    }
    fn set_watch_position(&self, position: &WatchPosition) -> Result<(), StoreError> {
        write::save_watch_position(&self.write(), position)
    }
    fn remove_source_kind(&self, source_kind: &str) -> Result<u64, StoreError> {
        write::remove_source_kind(&mut self.write(), source_kind)
    }
    fn start_run(&self, trigger: &str) -> Result<i64, StoreError> {
        write::start_run(&self.write(), trigger)
    }
    fn finish_run(
        &self,
        id: i64,
        outcome: RunOutcome,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        write::finish_run(&self.write(), id, outcome, error)
    }
}

#[cfg(test)]
mod tests;
