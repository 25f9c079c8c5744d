//! The Directory database: configuration, the entities synchronized from SiPass, and where
//! synchronization stands.
//!
//! SQLite in the data folder is the embedded default. Callers see only [`Directory`]'s
//! methods, never SQL, so that a PostgreSQL backend can follow without changing them. The
//! schema comes from versioned, checksummed migrations ([`migrate`]); a database on an older
//! schema is refused with the command that updates it.

pub mod migrate;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use model::Digest;
use rusqlite::{Connection, OptionalExtension, params};

pub use migrate::SchemaStatus;

/// What can go wrong with the Directory database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the Directory database {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(
        "the Directory database is at schema version {current} but this release needs {latest}; run `sipass-bridge db update --data <folder>` to update it (back it up first)"
    )]
    NeedsUpdate { current: i64, latest: i64 },
    #[error(
        "the Directory database has schema version {found}, newer than this release knows ({latest}); run the release that created it, or restore a backup"
    )]
    NewerSchema { found: i64, latest: i64 },
    #[error(
        "migration {version} ({name}) in the database differs from this release's; the database was changed by hand or by an unreleased build"
    )]
    ChecksumMismatch { version: i64, name: String },
    #[error("Directory database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// A Directory entity as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRow {
    /// The Directory kind, e.g. "cardholder".
    pub kind: String,
    pub id: String,
    /// The SiPass kind it came from, e.g. "cardholder".
    pub source_kind: String,
    pub revision: u64,
    pub name: String,
    /// The SiPass attributes, as JSON.
    pub fields: String,
}

/// Where the listing of one SiPass kind stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPosition {
    pub source_kind: String,
    /// The proxy cache the listing came from; another cache means listing again.
    pub cache_id: String,
    pub generation: i64,
    pub snapshot_revision: u64,
    /// Resumes the listing after the last committed page; empty once complete.
    pub page_token: String,
    pub done: u64,
    pub total: u64,
    pub complete: bool,
}

/// One synchronization, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub id: i64,
    pub trigger: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// "running", "succeeded", "failed" or "interrupted".
    pub outcome: String,
    pub error: Option<String>,
}

/// The Directory database. One writer connection and one reader connection, so that the
/// Config Tool can read while a synchronization writes (SQLite in WAL mode).
pub struct Directory {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| StoreError::Open {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(|e| StoreError::Open {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(conn)
}

impl Directory {
    /// Opens the Directory at `path`, creating it with the latest schema when new. An
    /// existing database on an older schema is refused with [`StoreError::NeedsUpdate`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = connect(path)?;
        if migrate::is_empty(&writer)? {
            migrate::apply(&mut writer, migrate::DIRECTORY, now_millis())?;
        }
        let status = migrate::status(&writer, migrate::DIRECTORY)?;
        if status.current < status.latest {
            return Err(StoreError::NeedsUpdate {
                current: status.current,
                latest: status.latest,
            });
        }
        let reader = connect(path)?;
        Ok(Directory {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    /// Applies pending migrations to the database at `path` (the `db update` command).
    pub fn update(path: &Path) -> Result<SchemaStatus, StoreError> {
        let mut conn = connect(path)?;
        migrate::apply(&mut conn, migrate::DIRECTORY, now_millis())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic mid-transaction rolls the transaction back when it is dropped, so the
        // connection behind a poisoned lock is still consistent.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A configuration value.
    pub fn config(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .read()
            .query_row("SELECT value FROM config WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets configuration values, all or none.
    pub fn set_config(&self, values: &[(&str, String)]) -> Result<(), StoreError> {
        let mut conn = self.write();
        let tx = conn.transaction()?;
        for (key, value) in values {
            tx.execute(
                "INSERT INTO config (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Writes one page of a listing and the position after it in one transaction, so that a
    /// restart resumes exactly after the last page that is in the database.
    pub fn write_page(
        &self,
        rows: &[EntityRow],
        position: &SyncPosition,
    ) -> Result<(), StoreError> {
        let mut conn = self.write();
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO entities (kind, id, source_kind, revision, name, fields, generation)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (kind, id) DO UPDATE SET
                    source_kind = excluded.source_kind, revision = excluded.revision,
                    name = excluded.name, fields = excluded.fields, generation = excluded.generation",
            )?;
            for row in rows {
                upsert.execute(params![
                    row.kind,
                    row.id,
                    row.source_kind,
                    row.revision as i64,
                    row.name,
                    row.fields,
                    position.generation
                ])?;
            }
        }
        save_position(&tx, position)?;
        tx.commit()?;
        Ok(())
    }

    /// Ends the listing of a kind: removes what the listing did not see (it no longer exists
    /// in SiPass) and marks the position complete, in one transaction. Returns how many
    /// entities were removed.
    pub fn finish_listing(&self, position: &SyncPosition) -> Result<u64, StoreError> {
        let mut conn = self.write();
        let tx = conn.transaction()?;
        let removed = tx.execute(
            "DELETE FROM entities WHERE source_kind = ?1 AND generation < ?2",
            params![position.source_kind, position.generation],
        )?;
        save_position(
            &tx,
            &SyncPosition {
                page_token: String::new(),
                complete: true,
                ..position.clone()
            },
        )?;
        tx.commit()?;
        Ok(removed as u64)
    }

    /// Removes every entity that came from a SiPass kind, and its position (for example
    /// when credential synchronization is switched off).
    pub fn remove_source_kind(&self, source_kind: &str) -> Result<u64, StoreError> {
        let mut conn = self.write();
        let tx = conn.transaction()?;
        let removed = tx.execute("DELETE FROM entities WHERE source_kind = ?1", [source_kind])?;
        tx.execute(
            "DELETE FROM sync_position WHERE source_kind = ?1",
            [source_kind],
        )?;
        tx.commit()?;
        Ok(removed as u64)
    }

    /// Where the listing of a SiPass kind stands.
    pub fn position(&self, source_kind: &str) -> Result<Option<SyncPosition>, StoreError> {
        Ok(self
            .read()
            .query_row(
                "SELECT source_kind, cache_id, generation, snapshot_revision, page_token, done, total, complete
                 FROM sync_position WHERE source_kind = ?1",
                [source_kind],
                |r| {
                    Ok(SyncPosition {
                        source_kind: r.get(0)?,
                        cache_id: r.get(1)?,
                        generation: r.get(2)?,
                        snapshot_revision: r.get::<_, i64>(3)? as u64,
                        page_token: r.get(4)?,
                        done: r.get::<_, i64>(5)? as u64,
                        total: r.get::<_, i64>(6)? as u64,
                        complete: r.get(7)?,
                    })
                },
            )
            .optional()?)
    }

    /// How many entities of a Directory kind there are.
    pub fn count(&self, kind: &str) -> Result<u64, StoreError> {
        let n: i64 = self.read().query_row(
            "SELECT COUNT(*) FROM entities WHERE kind = ?1",
            [kind],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// The digest over (id, revision) of a Directory kind, to compare with the proxy's.
    pub fn digest(&self, kind: &str) -> Result<Digest, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached("SELECT id, revision FROM entities WHERE kind = ?1")?;
        let mut rows = stmt.query([kind])?;
        let mut digest = Digest::default();
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            digest.add(&id, row.get::<_, i64>(1)? as u64);
        }
        Ok(digest)
    }

    /// Up to `limit` entities of a kind whose ids sort after `after`.
    pub fn entities(
        &self,
        kind: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<EntityRow>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT kind, id, source_kind, revision, name, fields FROM entities
             WHERE kind = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![kind, after, limit], entity_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Every Directory entity with this id (a controller is two entities with one id).
    pub fn entity(&self, id: &str) -> Result<Vec<EntityRow>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT kind, id, source_kind, revision, name, fields FROM entities WHERE id = ?1 ORDER BY kind",
        )?;
        let rows = stmt
            .query_map([id], entity_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Records the start of a synchronization and returns its id. A run left "running" by a
    /// role that died is marked "interrupted" first.
    pub fn start_run(&self, trigger: &str) -> Result<i64, StoreError> {
        let conn = self.write();
        conn.execute(
            "UPDATE sync_runs SET outcome = 'interrupted', ended_at = ?1 WHERE outcome = 'running'",
            [now_millis()],
        )?;
        conn.execute(
            "INSERT INTO sync_runs (trigger, started_at, outcome) VALUES (?1, ?2, 'running')",
            params![trigger, now_millis()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Records the end of a synchronization.
    pub fn finish_run(
        &self,
        id: i64,
        outcome: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write().execute(
            "UPDATE sync_runs SET outcome = ?2, error = ?3, ended_at = ?4 WHERE id = ?1",
            params![id, outcome, error, now_millis()],
        )?;
        Ok(())
    }

    /// The most recent synchronization.
    pub fn latest_run(&self) -> Result<Option<SyncRun>, StoreError> {
        Ok(self
            .read()
            .query_row(
                "SELECT id, trigger, started_at, ended_at, outcome, error FROM sync_runs ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(SyncRun {
                        id: r.get(0)?,
                        trigger: r.get(1)?,
                        started_at: r.get(2)?,
                        ended_at: r.get(3)?,
                        outcome: r.get(4)?,
                        error: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }
}

fn entity_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EntityRow> {
    Ok(EntityRow {
        kind: r.get(0)?,
        id: r.get(1)?,
        source_kind: r.get(2)?,
        revision: r.get::<_, i64>(3)? as u64,
        name: r.get(4)?,
        fields: r.get(5)?,
    })
}

fn save_position(conn: &Connection, p: &SyncPosition) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sync_position (source_kind, cache_id, generation, snapshot_revision, page_token, done, total, complete)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (source_kind) DO UPDATE SET
            cache_id = excluded.cache_id, generation = excluded.generation,
            snapshot_revision = excluded.snapshot_revision, page_token = excluded.page_token,
            done = excluded.done, total = excluded.total, complete = excluded.complete",
    )?
    .execute(params![
        p.source_kind,
        p.cache_id,
        p.generation,
        p.snapshot_revision as i64,
        p.page_token,
        p.done as i64,
        p.total as i64,
        p.complete
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests;
