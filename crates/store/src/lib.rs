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

use model::{Digest, RunOutcome};
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

/// A SiPass object to store: one row per Directory kind it becomes, the first of which
/// stands for it in counts and digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntity {
    pub source_kind: String,
    pub id: String,
    pub revision: u64,
    pub name: String,
    /// The SiPass attributes, as JSON.
    pub fields: String,
    /// The Directory kinds it becomes; never empty.
    pub kinds: Vec<String>,
}

/// A change arriving in real time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChange {
    Upsert(SourceEntity),
    Delete {
        source_kind: String,
        id: String,
        revision: u64,
    },
}

/// Where real-time synchronization stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchPosition {
    pub cache_id: String,
    pub revision: u64,
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
    pub outcome: RunOutcome,
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
        page: &[SourceEntity],
        position: &SyncPosition,
    ) -> Result<(), StoreError> {
        let mut conn = self.write();
        let tx = conn.transaction()?;
        let mut digest = load_digest(&tx, &position.source_kind)?;
        for entity in page {
            upsert_entity(
                &tx,
                entity,
                position.generation,
                SameRevision::Rewrite,
                &mut digest,
            )?;
        }
        save_digest(&tx, &position.source_kind, &digest)?;
        save_position(&tx, position)?;
        tx.commit()?;
        Ok(())
    }

    /// Applies real-time changes and the watch position after them in one transaction. A
    /// change older than what the Directory holds is skipped, so replaying is harmless.
    /// Returns how many changes were applied.
    pub fn apply_changes(
        &self,
        changes: &[SourceChange],
        position: &WatchPosition,
    ) -> Result<u64, StoreError> {
        let mut conn = self.write();
        let tx = conn.transaction()?;
        let mut digests: std::collections::HashMap<String, Digest> =
            std::collections::HashMap::new();
        let mut applied = 0;
        for change in changes {
            let source_kind = match change {
                SourceChange::Upsert(e) => &e.source_kind,
                SourceChange::Delete { source_kind, .. } => source_kind,
            };
            if !digests.contains_key(source_kind) {
                let d = load_digest(&tx, source_kind)?;
                digests.insert(source_kind.clone(), d);
            }
            let digest = digests.get_mut(source_kind).expect("inserted above");
            applied += match change {
                SourceChange::Upsert(entity) => {
                    let generation = current_generation(&tx, &entity.source_kind)?;
                    upsert_entity(&tx, entity, generation, SameRevision::Skip, digest)? as u64
                }
                SourceChange::Delete {
                    source_kind,
                    id,
                    revision,
                } => delete_entity(&tx, source_kind, id, *revision, digest)? as u64,
            };
        }
        for (source_kind, digest) in &digests {
            save_digest(&tx, source_kind, digest)?;
        }
        save_watch_position(&tx, position)?;
        tx.commit()?;
        Ok(applied)
    }

    /// Where real-time synchronization stands.
    pub fn watch_position(&self) -> Result<Option<WatchPosition>, StoreError> {
        Ok(self
            .read()
            .query_row(
                "SELECT cache_id, revision FROM watch_position WHERE id = 1",
                [],
                |r| {
                    Ok(WatchPosition {
                        cache_id: r.get(0)?,
                        revision: r.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .optional()?)
    }

    /// Records where real-time synchronization stands (after a full synchronization).
    pub fn set_watch_position(&self, position: &WatchPosition) -> Result<(), StoreError> {
        save_watch_position(&self.write(), position)
    }

    /// Ends the listing of a kind: removes what the listing did not see (it no longer exists
    /// in SiPass) and marks the position complete, in one transaction. Returns how many
    /// SiPass objects were removed.
    pub fn finish_listing(&self, position: &SyncPosition) -> Result<u64, StoreError> {
        let mut conn = self.write();
        let tx = conn.transaction()?;
        let mut digest = load_digest(&tx, &position.source_kind)?;
        let removed = {
            let mut stmt = tx.prepare(
                "DELETE FROM entities WHERE source_kind = ?1 AND generation < ?2
                 RETURNING id, revision, primary_row",
            )?;
            let rows = stmt
                .query_map(params![position.source_kind, position.generation], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, bool>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut removed = 0;
            for (id, revision, _) in rows.into_iter().filter(|(_, _, primary)| *primary) {
                digest.remove(&id, revision);
                removed += 1;
            }
            removed
        };
        save_digest(&tx, &position.source_kind, &digest)?;
        save_position(
            &tx,
            &SyncPosition {
                page_token: String::new(),
                complete: true,
                ..position.clone()
            },
        )?;
        tx.commit()?;
        Ok(removed)
    }

    /// Removes every entity that came from a SiPass kind, and its position (for example
    /// when credential synchronization is switched off).
    pub fn remove_source_kind(&self, source_kind: &str) -> Result<u64, StoreError> {
        let mut conn = self.write();
        let tx = conn.transaction()?;
        let removed = tx.execute(
            "DELETE FROM entities WHERE source_kind = ?1 AND primary_row = 1",
            [source_kind],
        )?;
        tx.execute("DELETE FROM entities WHERE source_kind = ?1", [source_kind])?;
        tx.execute(
            "DELETE FROM sync_position WHERE source_kind = ?1",
            [source_kind],
        )?;
        tx.execute(
            "DELETE FROM source_digest WHERE source_kind = ?1",
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

    /// The count and digest over (id, revision) of what came from a SiPass kind, to compare
    /// with the proxy's Summary.
    pub fn digest(&self, source_kind: &str) -> Result<Digest, StoreError> {
        load_digest(&self.read(), source_kind)
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
             WHERE kind = ?1 AND id > ?2 ORDER BY id, source_kind LIMIT ?3",
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
        outcome: RunOutcome,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write().execute(
            "UPDATE sync_runs SET outcome = ?2, error = ?3, ended_at = ?4 WHERE id = ?1",
            params![id, outcome.as_str(), error, now_millis()],
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
                        outcome: r.get::<_, String>(4)?.parse().map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                4,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })?,
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

fn load_digest(conn: &Connection, source_kind: &str) -> Result<Digest, StoreError> {
    let found: Option<(i64, i64)> = conn
        .prepare_cached("SELECT count, digest FROM source_digest WHERE source_kind = ?1")?
        .query_row([source_kind], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(found.map_or_else(Digest::default, |(count, digest)| {
        Digest::from_parts(digest as u64, count as u64)
    }))
}

fn save_digest(conn: &Connection, source_kind: &str, digest: &Digest) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO source_digest (source_kind, count, digest) VALUES (?1, ?2, ?3)
         ON CONFLICT (source_kind) DO UPDATE SET count = excluded.count, digest = excluded.digest",
    )?
    .execute(params![
        source_kind,
        digest.count() as i64,
        digest.value() as i64
    ])?;
    Ok(())
}

/// The revision the Directory holds of a SiPass object, if any.
fn stored_revision(
    conn: &Connection,
    source_kind: &str,
    id: &str,
) -> Result<Option<u64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT revision FROM entities WHERE source_kind = ?1 AND id = ?2 AND primary_row = 1",
        )?
        .query_row(params![source_kind, id], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|r| r as u64))
}

/// How an upsert treats an object the Directory already holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SameRevision {
    /// A listing always writes it, stamping it with the listing's generation.
    Rewrite,
    /// A real-time change (or its replay) is skipped unless it is newer.
    Skip,
}

/// Writes a SiPass object's rows (a real-time change only when newer than what is held);
/// false when skipped.
fn upsert_entity(
    conn: &Connection,
    entity: &SourceEntity,
    generation: i64,
    same: SameRevision,
    digest: &mut Digest,
) -> Result<bool, StoreError> {
    let old = stored_revision(conn, &entity.source_kind, &entity.id)?;
    // A listing is authoritative: what it read is at least as new as anything the
    // Directory got from the same proxy cache before it, and revisions from another cache
    // (after a rebuild) cannot be compared at all.
    let newer_held = match same {
        SameRevision::Rewrite => false,
        SameRevision::Skip => old.is_some_and(|r| r >= entity.revision),
    };
    if newer_held {
        return Ok(false);
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO entities (source_kind, id, kind, primary_row, revision, name, fields, generation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (source_kind, id, kind) DO UPDATE SET
            primary_row = excluded.primary_row, revision = excluded.revision,
            name = excluded.name, fields = excluded.fields, generation = excluded.generation",
    )?;
    for (i, kind) in entity.kinds.iter().enumerate() {
        stmt.execute(params![
            entity.source_kind,
            entity.id,
            kind,
            i == 0,
            entity.revision as i64,
            entity.name,
            entity.fields,
            generation
        ])?;
    }
    if let Some(r) = old {
        digest.remove(&entity.id, r);
    }
    digest.add(&entity.id, entity.revision);
    Ok(true)
}

/// Deletes a SiPass object's rows unless the Directory holds a revision newer than the
/// deletion; false when there was nothing to delete.
fn delete_entity(
    conn: &Connection,
    source_kind: &str,
    id: &str,
    revision: u64,
    digest: &mut Digest,
) -> Result<bool, StoreError> {
    let Some(old) = stored_revision(conn, source_kind, id)? else {
        return Ok(false);
    };
    if old > revision {
        return Ok(false);
    }
    conn.prepare_cached("DELETE FROM entities WHERE source_kind = ?1 AND id = ?2")?
        .execute(params![source_kind, id])?;
    digest.remove(id, old);
    Ok(true)
}

/// The generation of the latest listing of a kind, so that real-time changes are not
/// mistaken for leftovers when that listing finishes.
fn current_generation(conn: &Connection, source_kind: &str) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT generation FROM sync_position WHERE source_kind = ?1")?
        .query_row([source_kind], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

fn save_watch_position(conn: &Connection, p: &WatchPosition) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO watch_position (id, cache_id, revision) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET cache_id = excluded.cache_id, revision = excluded.revision",
    )?
    .execute(params![p.cache_id, p.revision as i64])?;
    Ok(())
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
