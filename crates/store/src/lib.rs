//! The Directory database: configuration, the entities synchronized from SiPass, and where
//! synchronization stands; and the one migration runner every database the system keeps
//! goes through.
//!
//! Callers see the Directory as traits ([`DirectoryRead`], [`Directory`]) in domain terms,
//! never SQL, so that an engine can change its schema, and PostgreSQL can follow SQLite
//! (the embedded default, [`sqlite`]) as a second engine passing the same conformance suite.
//! The plugin database (events, alarms) is a second pair of traits beside these
//! ([`PluginRead`], [`PluginDatabase`]), in a file of its own.
//!
//! Every schema comes from versioned, checksummed migrations ([`migrate`]); a database on
//! another schema is refused, an older one with the command that updates it.

mod accounts;
pub mod activity;
mod alarms;
pub mod backup;
mod directory;
mod error;
pub mod import;
pub mod migrate;
mod plugin;
pub mod postgres;
pub mod sqlite;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod plugin_conformance;

use std::path::Path;
use std::sync::Arc;

pub use accounts::{Accounts, GroupRow, Membership, TokenRow, UserRow};
pub use activity::{Activity, ActivityFilter, ActivityTrail, MAX_ACTIVITY_PAGE};
pub use alarms::{
    AckOutcome, AlarmAction, AlarmEntities, AlarmEntity, AlarmFilter, AlarmHistoryEntry,
    AlarmInstance, AlarmRead, AlarmUpdate, AlarmWrite, ORIGIN_HERE, ORIGIN_SIPASS, OutboxEntry,
    QueuedAck, SipassAlarmChange,
};
pub use directory::{
    Directory, DirectoryRead, EntityRow, SourceChange, SourceEntity, SyncPosition, SyncRun,
    WatchPosition,
};
pub use error::{StoreError, is_corruption};
pub use migrate::{DatabaseStatus, SchemaStatus, UpdateReport};
pub use plugin::{
    EventEntity, EventFilter, EventPosition, NewEvent, PluginDatabase, PluginRead, StoredEvent,
    Tally,
};

/// Opens the Directory at `path` (SQLite), creating it when new; one on another schema is
/// refused.
pub fn open(path: &Path) -> Result<Arc<dyn Directory>, StoreError> {
    Ok(Arc::new(sqlite::SqliteDirectory::open(path)?))
}

/// Opens the Config Tool's accounts in the Directory at `path`, which the role has opened
/// (and so brought to this release's schema) first.
pub fn open_accounts(path: &Path) -> Result<Arc<dyn Accounts>, StoreError> {
    Ok(Arc::new(sqlite::SqliteAccounts::open(path)?))
}

/// Opens the Directory at `path` for reading only, beside a role that may be running on it:
/// nothing is migrated, written or locked (tests, the bench, tools).
pub fn open_read_only(path: &Path) -> Result<Arc<dyn DirectoryRead>, StoreError> {
    Ok(Arc::new(sqlite::SqliteReader::open(path)?))
}

/// Opens the plugin database at `path` (SQLite), creating it when new; one on another schema
/// is refused like the Directory.
pub fn open_plugin(path: &Path) -> Result<Arc<dyn PluginDatabase>, StoreError> {
    Ok(Arc::new(sqlite::SqlitePlugin::open(path)?))
}

/// Opens the plugin database at `path` for reading only, beside a role that may be running
/// on it (tests, tools).
pub fn open_plugin_read_only(path: &Path) -> Result<Arc<dyn PluginRead>, StoreError> {
    Ok(Arc::new(sqlite::SqlitePluginReader::open(path)?))
}

/// Opens the Directory in the PostgreSQL database at `url` (schema `directory`), creating
/// it when new; one on another schema is refused.
pub fn open_postgres(url: &str) -> Result<Arc<dyn Directory>, StoreError> {
    Ok(Arc::new(postgres::PgDirectory::open(url)?))
}

/// Opens the Config Tool's accounts in the PostgreSQL Directory at `url`.
pub fn open_postgres_accounts(url: &str) -> Result<Arc<dyn Accounts>, StoreError> {
    Ok(Arc::new(postgres::PgAccounts::open(url)?))
}

/// Opens the PostgreSQL Directory at `url` for reading only.
pub fn open_postgres_read_only(url: &str) -> Result<Arc<dyn DirectoryRead>, StoreError> {
    Ok(Arc::new(postgres::PgDirectory::open_read_only(url)?))
}

/// Opens the plugin database in the PostgreSQL database at `url` (schema `plugin`),
/// creating it when new.
pub fn open_postgres_plugin(url: &str) -> Result<Arc<dyn PluginDatabase>, StoreError> {
    Ok(Arc::new(postgres::PgPlugin::open(url)?))
}

/// Opens the PostgreSQL plugin database at `url` for reading only.
pub fn open_postgres_plugin_read_only(url: &str) -> Result<Arc<dyn PluginRead>, StoreError> {
    Ok(Arc::new(postgres::PgPluginReader::open(url)?))
}
