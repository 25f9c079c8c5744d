//! What can go wrong with a database the system keeps.

use std::path::{Path, PathBuf};

/// What can go wrong with the Directory, or (through the migration runner) with any other
/// database the system keeps. Each message names the file and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the {database} {path}: {reason}")]
    Open {
        database: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "the {database} {path} is at schema version {found} but this release needs {expected}; back it up, then update it with `sipass-bridge db update {target}` while the role or proxy using it is stopped",
        target = target_of(path)
    )]
    NeedsUpdate {
        database: &'static str,
        path: PathBuf,
        found: i64,
        expected: i64,
    },
    #[error(
        "the {database} {path} has schema version {found}, newer than this release's version {expected}; run the release that wrote it, or restore a backup of this release with `sipass-bridge db restore BACKUP_FILE {target}`",
        target = target_of(path)
    )]
    NewerSchema {
        database: &'static str,
        path: PathBuf,
        found: i64,
        expected: i64,
    },
    #[error(
        "migration {version} ({name}) recorded in the {database} {path} differs from this release's; the database was changed by hand or by an unreleased build: restore a backup"
    )]
    ChecksumMismatch {
        database: &'static str,
        path: PathBuf,
        version: i64,
        name: String,
    },
    #[error(
        "the {database} {path} holds tables this release does not recognise; check that --data points at the right folder"
    )]
    Unrecognised {
        database: &'static str,
        path: PathBuf,
    },
    #[error(
        "the {database} {path} is in use by a running process (the role or proxy of this data folder); stop it, then run this again"
    )]
    InUse {
        database: &'static str,
        path: PathBuf,
    },
    #[error(
        "the {database} {path} is damaged ({detail}); stop the process that uses it, then restore a backup with `sipass-bridge db restore BACKUP_FILE --data {folder}` or move the file aside (a role lists everything from the proxy again into a new Directory)",
        folder = folder_of(path)
    )]
    Damaged {
        database: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("the {database} holds a value this release cannot read: {detail}")]
    Unreadable {
        database: &'static str,
        detail: String,
    },
    /// An operation this engine leaves to other tools; the message names them.
    #[error("{0}")]
    NotSupported(String),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
}

impl StoreError {
    /// Whether trying again later may work: the database busy, locked, out of disk or
    /// unreadable for now, as opposed to a schema or a file that is wrong for this release.
    pub fn is_transient(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            StoreError::Open { .. } | StoreError::InUse { .. } => true,
            // A lost connection, a server restarting or a serialisation conflict: a
            // constraint or a syntax error is not one of them.
            StoreError::Postgres(e) => e.is_closed() || e.code().is_none_or(is_transient_state),
            StoreError::Sql(e) => matches!(
                e.sqlite_error_code(),
                Some(DatabaseBusy | DatabaseLocked | DiskFull | SystemIoFailure | CannotOpen)
            ),
            _ => false,
        }
    }
}

/// Whether SQLite says the file is damaged or not a database at all.
pub fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// PostgreSQL's error classes worth trying again: connection exceptions (08), insufficient
/// resources (53), operator intervention such as a shutdown (57), and serialisation
/// failures or deadlocks (40).
fn is_transient_state(state: &postgres::error::SqlState) -> bool {
    ["08", "40", "53", "57"]
        .iter()
        .any(|class| state.code().starts_with(class))
}

/// How the commands that fix a database name it: `--database-url URL` for PostgreSQL,
/// `--data FOLDER` for a data folder's file.
fn target_of(path: &Path) -> String {
    let shown = path.display().to_string();
    if crate::postgres::is_postgres_url(&shown) {
        format!("--database-url {shown}")
    } else {
        format!("--data {}", folder_of(path))
    }
}

/// The data folder a database file is in, as the user would type it.
fn folder_of(path: &Path) -> String {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ => ".".to_owned(),
    }
}
