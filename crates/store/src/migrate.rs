//! One migration runner for every database the system keeps: the Directory, the plugin
//! database (to come), the proxy's cache and its event journal.
//!
//! Each database is a [`Schema`]: its migrations, oldest first, each with a version and a
//! checksum recorded in the database when applied. Opening a database for use refuses any
//! version but this release's: an older one with the command that updates it (`sipass-bridge
//! db update`), a newer one with both versions, an edited migration by name. This module
//! decides; an engine ([`crate::sqlite`]) reads what a file records and applies the steps.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// One schema step, in one engine's SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// What a file from before the runner holds, for its [`Schema::legacy`] to recognise.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Its tables, by name.
    pub tables: Vec<String>,
    /// The version number kept in the file's header (SQLite's `user_version`).
    pub user_version: i64,
}

impl Layout {
    /// Whether it has every one of `tables`.
    pub fn has(&self, tables: &[&str]) -> bool {
        tables
            .iter()
            .all(|t| self.tables.iter().any(|have| have == t))
    }
}

/// A database the system keeps, as the runner knows it.
#[derive(Debug)]
pub struct Schema {
    /// How messages name it, e.g. "Directory database".
    pub database: &'static str,
    /// Its file in a data folder.
    pub file: &'static str,
    /// Oldest first. Append only; never edit a released one (its checksum would differ).
    pub migrations: &'static [Migration],
    /// The version a file written before versions were recorded is at, if it is one of
    /// ours: releases up to 0.1.0 kept the cache's in its header and none for the journal.
    pub legacy: fn(&Layout) -> Option<i64>,
    /// What `db status` counts in it: a label (its main tables) and a query giving one
    /// integer.
    pub counts: &'static [(&'static str, &'static str)],
}

impl Schema {
    /// The version this release needs.
    pub fn expected(&self) -> i64 {
        self.migrations.last().map_or(0, |m| m.version)
    }

    /// The steps after `found`, oldest first.
    pub fn pending(&self, found: i64) -> impl Iterator<Item = &Migration> {
        self.migrations.iter().filter(move |m| m.version > found)
    }
}

/// For a database that always recorded its versions: any file without them is not ours.
pub fn no_legacy(_: &Layout) -> Option<i64> {
    None
}

/// Where a database's schema stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaStatus {
    /// The version the database is at (0: a new, empty file).
    pub found: i64,
    /// The version this release needs.
    pub expected: i64,
}

/// A migration a database records as applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: i64,
    pub checksum: String,
}

/// FNV-1a of the migration text: enough to notice an edit.
pub fn checksum(sql: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sql.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The version a database is at, from the migrations it records; refuses one it records
/// differently from this release (edited) or does not know (a newer release's).
pub fn check(
    schema: &Schema,
    path: &Path,
    applied: &[Applied],
) -> Result<SchemaStatus, StoreError> {
    let expected = schema.expected();
    let mut found = 0;
    for a in applied {
        match schema.migrations.iter().find(|m| m.version == a.version) {
            Some(m) if checksum(m.sql) == a.checksum => found = found.max(a.version),
            Some(m) => {
                return Err(StoreError::ChecksumMismatch {
                    database: schema.database,
                    path: path.to_owned(),
                    version: a.version,
                    name: m.name.to_owned(),
                });
            }
            None => {
                let found = applied.iter().map(|a| a.version).max().unwrap_or(a.version);
                return Err(newer(schema, path, found));
            }
        }
    }
    Ok(SchemaStatus { found, expected })
}

/// Refuses any version but the expected one, saying what to do.
pub fn require_current(
    schema: &Schema,
    path: &Path,
    status: SchemaStatus,
) -> Result<(), StoreError> {
    if status.found > status.expected {
        return Err(newer(schema, path, status.found));
    }
    if status.found < status.expected {
        return Err(StoreError::NeedsUpdate {
            database: schema.database,
            path: path.to_owned(),
            found: status.found,
            expected: status.expected,
        });
    }
    Ok(())
}

/// Refuses a version above this release's.
pub fn newer(schema: &Schema, path: &Path, found: i64) -> StoreError {
    StoreError::NewerSchema {
        database: schema.database,
        path: path.to_owned(),
        found,
        expected: schema.expected(),
    }
}

/// What `db status` reports about one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseStatus {
    /// E.g. "Directory database".
    pub database: String,
    pub file: PathBuf,
    /// The schema version found in the file and the one this release needs.
    #[serde(flatten)]
    pub schema: SchemaStatus,
    /// Bytes on disk, its write-ahead log included.
    pub size_bytes: u64,
    /// Rows of its main tables.
    pub counts: Vec<TableCount>,
}

/// Rows in one of a database's main tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    /// The table, or what is counted in it (the journal's entries).
    pub table: String,
    pub rows: u64,
}

/// What `db update` did to one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateReport {
    pub database: String,
    pub file: PathBuf,
    /// The version before and after.
    pub from: i64,
    pub to: i64,
    /// The migrations applied, as "version name".
    pub applied: Vec<String>,
}
