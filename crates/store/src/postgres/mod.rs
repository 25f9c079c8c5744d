//! The PostgreSQL engine: for large sites and for two role servers on one database. The
//! Directory and the plugin database are two schemas (`directory`, `plugin`) of the database
//! the URL names, each with its own migrations, numbered and named as SQLite's.
//!
//! The client is the synchronous `postgres` crate, like the store's traits. It drives its
//! connection on a small runtime of its own, which cannot run on a thread that is already
//! driving the role's async tasks: there every call is made on a short-lived scoped thread
//! ([`off_runtime`]), the caller waiting as it waits for SQLite's disk.

mod accounts;
mod alarms;
pub mod lease;
pub mod maintained;
pub mod migrate;
mod plugin;
mod read;
mod write;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

use model::{Digest, RunOutcome};
use postgres::{Client, NoTls};

pub use accounts::PgAccounts;
pub use plugin::{PgImport, PgPlugin, PgPluginReader};

use crate::migrate::{Migration, Schema, no_legacy};
use crate::{
    Directory, DirectoryRead, EntityRow, SourceChange, SourceEntity, StoreError, SyncPosition,
    SyncRun, WatchPosition,
};

/// The Directory's migrations in PostgreSQL's dialect: the same versions and names as
/// SQLite's ([`crate::sqlite::DIRECTORY_MIGRATIONS`]). Append only.
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

/// The plugin database's migrations in PostgreSQL's dialect, as SQLite's
/// ([`crate::sqlite::PLUGIN_MIGRATIONS`]). Append only.
pub const PLUGIN_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "plugin",
        sql: include_str!("migrations/0001_plugin.sql"),
    },
    Migration {
        version: 2,
        name: "plugin_alarms",
        sql: include_str!("migrations/0002_plugin_alarms.sql"),
    },
    Migration {
        version: 3,
        name: "plugin_activity",
        sql: include_str!("migrations/0003_plugin_activity.sql"),
    },
];

/// The Directory on PostgreSQL; `file` is its schema in the database.
pub const DIRECTORY: Schema = Schema {
    database: "Directory database",
    file: "directory",
    migrations: DIRECTORY_MIGRATIONS,
    legacy: no_legacy,
    counts: crate::sqlite::DIRECTORY.counts,
};

/// The plugin database on PostgreSQL; `file` is its schema in the database.
pub const PLUGIN: Schema = Schema {
    database: "plugin database",
    file: "plugin",
    migrations: PLUGIN_MIGRATIONS,
    legacy: no_legacy,
    counts: crate::sqlite::PLUGIN.counts,
};

/// Whether `url` names a PostgreSQL database (rather than a data folder's SQLite files).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// How messages name a database: its URL without the password (in the user part or a
/// `password=` parameter).
pub fn location(url: &str) -> PathBuf {
    let Some((scheme, rest)) = url.split_once("://") else {
        return PathBuf::from(url);
    };
    let (address, query) = match rest.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (rest, None),
    };
    let address = match address.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{user}@{host}")
        }
        None => address.to_owned(),
    };
    let query: Vec<&str> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.to_ascii_lowercase().starts_with("password="))
        .collect();
    let shown = if query.is_empty() {
        format!("{scheme}://{address}")
    } else {
        format!("{scheme}://{address}?{}", query.join("&"))
    };
    PathBuf::from(shown)
}

/// Runs `f` where the `postgres` client may block: here, or on a scoped thread when this
/// thread drives an async runtime (the client's own runtime cannot nest in it).
pub(crate) fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// One connection to one schema of the database, used by one caller at a time, made again
/// when the server closed it (restarted, or the network failed): the call that found it
/// closed failed as transient, the next one reconnects.
pub(crate) struct Pg {
    /// `None` only once dropped (see `Drop`).
    client: Mutex<Option<Client>>,
    url: String,
    database: &'static str,
    search_path: &'static str,
    location: PathBuf,
}

impl Pg {
    /// Connects to `url` with `search_path` set to `schema.file`; the schema itself is made
    /// by the migration runner.
    pub(crate) fn connect(url: &str, schema: &Schema) -> Result<Self, StoreError> {
        let client = open_client(url, schema.database, schema.file)?;
        Ok(Pg {
            client: Mutex::new(Some(client)),
            url: url.to_owned(),
            database: schema.database,
            search_path: schema.file,
            location: location(url),
        })
    }

    /// Runs `f` on the connection (see [`off_runtime`]).
    pub(crate) fn run<R: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, StoreError> + Send,
    ) -> Result<R, StoreError> {
        let mut guard = self.lock();
        if guard.as_ref().is_none_or(Client::is_closed) {
            let fresh = open_client(&self.url, self.database, self.search_path)?;
            tracing::info!(database = self.database, "connected to PostgreSQL again");
            let closed = guard.replace(fresh);
            off_runtime(move || drop(closed));
        }
        let Some(client) = guard.as_mut() else {
            return Err(StoreError::Open {
                database: self.database,
                path: self.location.clone(),
                reason: "the connection is closed".into(),
            });
        };
        let result = off_runtime(move || f(client));
        if let Err(StoreError::Postgres(e)) = &result
            && connection_lost(e)
        {
            let lost = guard.take();
            off_runtime(move || drop(lost));
        }
        result
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`.
    pub(crate) fn transaction<R: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<R, StoreError> + Send,
    ) -> Result<R, StoreError> {
        self.run(|client| {
            let mut tx = client.transaction()?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Client>> {
        // A panic mid-transaction drops (and so rolls back) the transaction.
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn location(&self) -> &Path {
        &self.location
    }
}

/// Whether the connection is gone after `e` (the server closed or ended the session, the
/// network failed), rather than one statement having failed on a sound connection.
fn connection_lost(e: &postgres::Error) -> bool {
    match e.code() {
        Some(state) => ["08", "57P"]
            .iter()
            .any(|class| state.code().starts_with(class)),
        None => e.as_db_error().is_none(),
    }
}

/// A connection to `url` for `database`, its `search_path` set to its schema.
fn open_client(url: &str, database: &'static str, search_path: &str) -> Result<Client, StoreError> {
    let open_error = |reason: String| StoreError::Open {
        database,
        path: location(url),
        reason,
    };
    let config = postgres::Config::from_str(url).map_err(|e| open_error(e.to_string()))?;
    off_runtime(|| -> Result<Client, postgres::Error> {
        let mut client = config.connect(NoTls)?;
        client.batch_execute(&format!(
            "SET search_path TO {search_path}; SET application_name TO 'sipass-bridge'"
        ))?;
        Ok(client)
    })
    .map_err(|e| open_error(e.to_string()))
}

/// The client owns a runtime, which may not be dropped on a thread driving another one
/// (the role's, when it ends): it is dropped where the client may block.
impl Drop for Pg {
    fn drop(&mut self) {
        let client = self
            .client
            .get_mut()
            .map_or_else(|e| e.into_inner().take(), Option::take);
        off_runtime(move || drop(client));
    }
}

/// The Directory in a PostgreSQL database: a writer connection (the role) and a reader
/// (the Config Tool, verification), so that reading never waits behind a page being written.
pub struct PgDirectory {
    writer: Pg,
    reader: Pg,
}

impl PgDirectory {
    /// Opens the Directory in the database at `url`, creating its schema when new; one on
    /// another schema version is refused like SQLite's. A run left running by a role that
    /// was killed is marked interrupted.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let writer = Pg::connect(url, &DIRECTORY)?;
        migrate::prepare(&writer, &DIRECTORY)?;
        let interrupted = writer.run(write::interrupt_unfinished_runs)?;
        if interrupted > 0 {
            tracing::info!(
                runs = interrupted,
                "a synchronization left running by a stopped role is marked interrupted"
            );
        }
        let reader = Pg::connect(url, &DIRECTORY)?;
        Ok(PgDirectory { writer, reader })
    }

    /// The Directory for reading only: nothing is migrated or written; a schema other than
    /// this release's is refused.
    pub fn open_read_only(url: &str) -> Result<PgReader, StoreError> {
        let reader = Pg::connect(url, &DIRECTORY)?;
        let status = migrate::inspect(&reader, &DIRECTORY)?;
        migrate::require_current(&DIRECTORY, reader.location(), status)?;
        Ok(PgReader { conn: reader })
    }
}

/// A Directory in PostgreSQL opened for reading only.
pub struct PgReader {
    conn: Pg,
}

macro_rules! directory_read {
    ($type:ty, $conn:ident) => {
        impl DirectoryRead for $type {
            fn config(&self, key: &str) -> Result<Option<String>, StoreError> {
                self.$conn.run(|c| read::config(c, key))
            }
            fn watch_position(&self) -> Result<Option<WatchPosition>, StoreError> {
                self.$conn.run(|c| read::watch_position(c))
            }
            fn position(&self, source_kind: &str) -> Result<Option<SyncPosition>, StoreError> {
                self.$conn.run(|c| read::position(c, source_kind))
            }
            fn count(&self, kind: &str) -> Result<u64, StoreError> {
                self.$conn.run(|c| read::count(c, kind))
            }
            fn digest(&self, source_kind: &str) -> Result<Digest, StoreError> {
                self.$conn.run(|c| read::digest(c, source_kind))
            }
            fn entities(
                &self,
                kind: &str,
                after: &str,
                limit: u32,
            ) -> Result<Vec<EntityRow>, StoreError> {
                self.$conn.run(|c| read::entities(c, kind, after, limit))
            }
            fn search(
                &self,
                kind: &str,
                text: &str,
                after: &str,
                limit: u32,
            ) -> Result<Vec<EntityRow>, StoreError> {
                self.$conn
                    .run(|c| read::search(c, kind, text, after, limit))
            }
            fn all_entities(&self, kind: &str) -> Result<Vec<EntityRow>, StoreError> {
                self.$conn.run(|c| read::all_entities(c, kind))
            }
            fn entity(&self, id: &str) -> Result<Vec<EntityRow>, StoreError> {
                self.$conn.run(|c| read::entity(c, id))
            }
            fn latest_run(&self) -> Result<Option<SyncRun>, StoreError> {
                self.$conn.run(|c| read::runs(c, 1)).map(|mut r| r.pop())
            }
            fn runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
                self.$conn.run(|c| read::runs(c, limit))
            }
        }
    };
}

directory_read!(PgReader, conn);
directory_read!(PgDirectory, reader);

impl Directory for PgDirectory {
    fn set_config(&self, values: &[(&str, String)]) -> Result<(), StoreError> {
        self.writer.transaction(|tx| write::set_config(tx, values))
    }
    fn write_page(&self, page: &[SourceEntity], position: &SyncPosition) -> Result<(), StoreError> {
        self.writer
            .transaction(|tx| write::write_page(tx, page, position))
    }
    fn finish_listing(&self, position: &SyncPosition) -> Result<u64, StoreError> {
        self.writer
            .transaction(|tx| write::finish_listing(tx, position))
    }
    fn apply_changes(
        &self,
        changes: &[SourceChange],
        position: &WatchPosition,
    ) -> Result<u64, StoreError> {
        self.writer
            .transaction(|tx| write::apply_changes(tx, changes, position))
    }
    fn set_watch_position(&self, position: &WatchPosition) -> Result<(), StoreError> {
        self.writer
            .transaction(|tx| write::save_watch_position(tx, position))
    }
    fn remove_source_kind(&self, source_kind: &str) -> Result<u64, StoreError> {
        self.writer
            .transaction(|tx| write::remove_source_kind(tx, source_kind))
    }
    fn start_run(&self, trigger: &str) -> Result<i64, StoreError> {
        self.writer.transaction(|tx| write::start_run(tx, trigger))
    }
    fn finish_run(
        &self,
        id: i64,
        outcome: RunOutcome,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.writer
            .transaction(|tx| write::finish_run(tx, id, outcome, error))
    }
}

#[cfg(test)]
mod tests;
