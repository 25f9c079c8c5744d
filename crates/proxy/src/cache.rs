//! The proxy's durable copy of SiPass: every entity with the revision of its latest change,
//! and a change log from which roles watch.
//!
//! It lives in an SQLite file in the proxy's data folder, so a restarted proxy keeps its
//! entities, its revisions and its identity: a role that reconnects receives only what
//! changed. A change gets the next revision only when the entity really changed, so a
//! reconciliation pass that finds nothing new costs the roles nothing.
//!
//! The change log keeps one row per entity (its latest change, deletions included), so
//! watching from any revision replays each changed entity once, in revision order. Rows older
//! than the retention window are pruned; a watch from before the pruned point is answered
//! "too old" and the role lists again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use model::{Digest, EntityKind, Revision};
use runtime::now_millis;
use rusqlite::{Connection, OptionalExtension, params};
use store::StoreError;
use store::migrate::{Layout, Migration, Schema};
use store::sqlite::Checkpointer;
use tokio::sync::watch;

/// The cache's migrations, oldest first. Append only; never edit a released one.
/// Read connections kept open between reads.
const MAX_IDLE_READERS: usize = 4;

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "cache",
        sql: include_str!("migrations/0001_cache.sql"),
    },
    Migration {
        version: 2,
        name: "cache_entities_rowid",
        sql: include_str!("migrations/0002_cache_entities_rowid.sql"),
    },
];

/// The proxy cache as the migration runner knows it.
pub const SCHEMA: Schema = Schema {
    database: "proxy cache",
    file: "cache.db",
    migrations: MIGRATIONS,
    legacy: legacy_version,
    counts: &[
        ("entities", "SELECT COUNT(*) FROM entities"),
        ("changes", "SELECT COUNT(*) FROM changes"),
    ],
};

/// Releases up to 0.1.0 kept the cache's version in the file's header only.
fn legacy_version(layout: &Layout) -> Option<i64> {
    match layout.user_version {
        1 if layout.has(&["meta", "entities", "changes", "kind_stats"]) => Some(1),
        newer if newer > 1 => Some(newer),
        _ => None,
    }
}

/// When a reconciliation pass read what it applies (see [`Cache::apply_unless_newer`]).
#[derive(Debug, Clone)]
pub struct ReadAt {
    /// The cache's revision when SiPass was read.
    pub revision: Revision,
    /// Revisions the same pass wrote from earlier reads (its previous pages, stored while
    /// this one was being fetched): not newer than this read, although after `revision`.
    pub own: Vec<Revisions>,
}

impl ReadAt {
    /// A read at `revision`, before this pass wrote anything.
    pub fn at(revision: Revision) -> Self {
        ReadAt {
            revision,
            own: Vec::new(),
        }
    }

    /// Whether an entity at revision `current` changed after this read.
    fn is_older_than(&self, current: Revision) -> bool {
        current > self.revision && !self.own.iter().any(|own| own.contains(current))
    }
}

/// The revisions one apply took: after `after`, up to and including `up_to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revisions {
    pub after: Revision,
    pub up_to: Revision,
}

impl Revisions {
    fn contains(&self, revision: Revision) -> bool {
        revision > self.after && revision <= self.up_to
    }
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The changes that changed something.
    pub changed: u64,
    pub revisions: Revisions,
}

/// One cached SiPass object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedEntity {
    pub revision: Revision,
    pub name: String,
    /// The SiPass object as JSON.
    pub payload: Vec<u8>,
}

/// A change to apply to the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Upsert {
        kind: EntityKind,
        id: String,
        name: String,
        payload: Vec<u8>,
        /// The object it belongs to (a credential's cardholder), or empty.
        owner: String,
    },
    Delete {
        kind: EntityKind,
        id: String,
    },
}

/// One entry of the change log as a watcher receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedChange {
    pub revision: Revision,
    pub kind: EntityKind,
    pub id: String,
    /// `None` for a deletion.
    pub entity: Option<CachedEntity>,
}

/// What a kind looks like right now: its size and digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindSummary {
    pub eligible: u64,
    pub digest: u64,
}

/// How long changes stay watchable.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub max_age: Duration,
    pub max_changes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(24 * 3600),
            max_changes: 10_000_000,
        }
    }
}

/// What can go wrong with the cache file.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("the proxy cache {path} cannot be used: {reason}")]
    Unusable { path: PathBuf, reason: String },
    /// On another schema than this release's (the message says what to do).
    #[error(transparent)]
    Schema(StoreError),
    #[error("proxy cache error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("a proxy background task failed: {0}")]
    Task(String),
    #[error(
        "cannot open the proxy cache {path}: {reason}; check that no other proxy uses this data folder and that it is readable and writable"
    )]
    Open { path: PathBuf, reason: String },
}

/// True for SQLite's "this file is damaged or not a database".
/// A watch that starts before the oldest change still kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooOld {
    /// The oldest revision a watch may start after.
    pub oldest: Revision,
}

/// The cache, shared by the loader and the gRPC server.
pub struct Cache {
    id: String,
    path: PathBuf,
    writer: Arc<Mutex<Writer>>,
    readers: Mutex<Vec<Connection>>,
    /// Copies the write-ahead log into the file off the writer's thread: a first load's
    /// commits no longer stop to do it (6 % of the proxy's time there).
    _checkpointer: Checkpointer,
    latest: watch::Sender<Revision>,
    floor: Mutex<Revision>,
}

struct Writer {
    conn: Connection,
    revision: Revision,
    stats: HashMap<EntityKind, (u64, Digest)>,
    /// False until SiPass has been read completely once. No role can watch a cache before
    /// that (Watch, List and Summary wait for the first complete pass), so the first load
    /// writes no change log: two fewer statements and rows per entity, for a million
    /// cardholders. Completing moves the watch floor to the revision reached.
    logs_changes: bool,
}

fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // 16 KiB pages for a new cache: a cardholder's payload is about 2 KB, and two such rows
    // do not fit a 4 KiB page, so each took a page of its own and half of every write was
    // empty space. (An existing cache keeps the size it was created with.)
    conn.execute_batch(
        "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(conn)
}

impl Cache {
    /// Opens the cache at `path`, creating it when missing. A file that is not a usable
    /// cache is moved aside and a new cache (with a new identity) is created, so that roles
    /// list again; revisions of the new cache start above any the old one can have used.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        match Self::open_existing(path) {
            Ok(cache) => Ok(cache),
            Err(CacheError::Unusable { reason, .. }) if path.exists() => {
                let aside = path.with_extension(format!("corrupt-{}", now_millis()));
                tracing::warn!(
                    "the proxy cache {} is unusable ({reason}); moved it to {} and rebuilding from SiPass",
                    path.display(),
                    aside.display()
                );
                std::fs::rename(path, &aside).map_err(|e| CacheError::Unusable {
                    path: path.to_owned(),
                    reason: format!("cannot move it aside: {e}"),
                })?;
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Self::open_existing(path)
            }
            Err(e) => Err(e),
        }
    }

    fn open_existing(path: &Path) -> Result<Self, CacheError> {
        let unusable = |reason: String| CacheError::Unusable {
            path: path.to_owned(),
            reason,
        };
        // Only a damaged file is moved aside; a busy, unreadable or full disk is reported as
        // it is, since rebuilding would cost every role a full synchronization.
        let classify = |e: rusqlite::Error| {
            if store::is_corruption(&e) {
                unusable(e.to_string())
            } else {
                CacheError::Open {
                    path: path.to_owned(),
                    reason: e.to_string(),
                }
            }
        };
        let mut conn = connect(path).map_err(classify)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(classify)?;
        if check != "ok" {
            return Err(unusable(check));
        }
        match store::sqlite::migrate::prepare(&mut conn, &SCHEMA, path) {
            Ok(_) => {}
            Err(StoreError::Unrecognised { .. }) => {
                return Err(unusable("it holds tables of something else".into()));
            }
            Err(StoreError::Sql(e)) => return Err(classify(e)),
            Err(e) => return Err(CacheError::Schema(e)),
        }
        // A busy or failing disk here is not a damaged cache: only corruption moves it aside.
        Self::seed_identity(&mut conn).map_err(classify)?;
        let meta = |key: &str| -> Result<String, CacheError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?
                .ok_or_else(|| unusable(format!("'{key}' is missing")))
        };
        let id = meta("cache_id")?;
        let revision: Revision = meta("revision")?
            .parse()
            .map_err(|_| unusable("bad revision".into()))?;
        let floor: Revision = meta("watch_floor")?
            .parse()
            .map_err(|_| unusable("bad watch floor".into()))?;
        let stats = load_stats(&conn)?;
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")
            .map_err(classify)?;
        let logs_changes = meta("complete").is_ok_and(|v| v == "1");
        let (latest, _) = watch::channel(revision);
        let writer = Arc::new(Mutex::new(Writer {
            conn,
            revision,
            stats,
            logs_changes,
        }));
        let checkpointer =
            Checkpointer::start(path, "proxy cache", writer.clone()).map_err(|e| {
                CacheError::Open {
                    path: path.to_owned(),
                    reason: e.to_string(),
                }
            })?;
        Ok(Cache {
            id,
            path: path.to_owned(),
            writer,
            readers: Mutex::new(Vec::new()),
            _checkpointer: checkpointer,
            latest,
            floor: Mutex::new(floor),
        })
    }

    /// Gives a new cache its identity (its schema comes from the migrations). Revisions
    /// start at the creation time in microseconds: a cache rebuilt after the old one was
    /// lost still never reuses a revision.
    fn seed_identity(conn: &mut Connection) -> Result<(), rusqlite::Error> {
        let tx = conn.transaction()?;
        let empty: bool =
            tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM meta)", [], |r| r.get(0))?;
        if !empty {
            return Ok(());
        }
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_micros() as u64);
        let id = format!("{:016x}{:08x}", start, std::process::id());
        for (key, value) in [
            ("cache_id", id),
            ("revision", start.to_string()),
            ("watch_floor", start.to_string()),
        ] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
        }
        tx.commit()
    }

    /// Identifies this cache's history of revisions.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The latest revision.
    pub fn revision(&self) -> Revision {
        *self.latest.borrow()
    }

    /// Follows the latest revision, to wake watchers when something changed.
    pub fn subscribe(&self) -> watch::Receiver<Revision> {
        self.latest.subscribe()
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on a pooled read connection.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, CacheError> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        let result = f(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        // Beyond a few, a reader is closed rather than kept: a burst of streams must not
        // leave hundreds of open files and page caches behind.
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        drop(idle);
        Ok(result?)
    }

    /// Applies changes in one transaction; each real change takes the next revision.
    /// Returns how many changed something.
    pub fn apply(&self, changes: &[Change]) -> Result<u64, CacheError> {
        Ok(self.apply_unless_newer(changes, None)?.changed)
    }

    /// Like [`Cache::apply`], but leaves alone any entity changed after `read_at`: a
    /// reconciliation pass read SiPass at that point, and a push-driven refresh since then
    /// knows better than its older copy.
    pub fn apply_unless_newer(
        &self,
        changes: &[Change],
        read_at: Option<ReadAt>,
    ) -> Result<Applied, CacheError> {
        let mut writer = self.writer();
        let Writer {
            conn,
            revision,
            stats,
            logs_changes,
        } = &mut *writer;
        let logs_changes = *logs_changes;
        let tx = conn.transaction()?;
        let mut next = *revision;
        let mut new_stats = stats.clone();
        let mut changed = 0;
        let now = now_millis();
        for change in changes {
            let (kind, id) = match change {
                Change::Upsert { kind, id, .. } | Change::Delete { kind, id } => (*kind, id),
            };
            // A first load meets new entities nearly only: inserting first spares reading
            // back a row that is not there (a resumed first load finds the ones it stored).
            if !logs_changes && insert_new(&tx, change, next + 1)? {
                next += 1;
                let stat = new_stats.entry(kind).or_default();
                stat.0 += 1;
                stat.1.add(id, next);
                changed += 1;
                continue;
            }
            let old: Option<(Revision, String, Vec<u8>)> = tx
                .prepare_cached(
                    "SELECT revision, name, payload FROM entities WHERE kind = ?1 AND id = ?2",
                )?
                .query_row(params![kind.as_str(), id], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            if let (Some(read_at), Some((current, ..))) = (&read_at, &old)
                && read_at.is_older_than(*current)
            {
                continue;
            }
            let stat = new_stats.entry(kind).or_default();
            match (change, &old) {
                (Change::Upsert { name, payload, .. }, Some((_, old_name, old_payload)))
                    if old_name == name && old_payload == payload =>
                {
                    continue;
                }
                (Change::Delete { .. }, None) => continue,
                (
                    Change::Upsert {
                        name,
                        payload,
                        owner,
                        ..
                    },
                    _,
                ) => {
                    next += 1;
                    tx.prepare_cached(
                        "INSERT INTO entities (kind, id, revision, name, payload, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (kind, id) DO UPDATE SET revision = excluded.revision,
                            name = excluded.name, payload = excluded.payload, owner = excluded.owner",
                    )?
                    .execute(params![kind.as_str(), id, next as i64, name, payload, owner])?;
                    if let Some((old_revision, ..)) = &old {
                        stat.1.remove(id, *old_revision);
                    } else {
                        stat.0 += 1;
                    }
                    stat.1.add(id, next);
                    if logs_changes {
                        log_change(&tx, next, kind, id, false, now)?;
                    }
                }
                (Change::Delete { .. }, Some((old_revision, ..))) => {
                    next += 1;
                    tx.prepare_cached("DELETE FROM entities WHERE kind = ?1 AND id = ?2")?
                        .execute(params![kind.as_str(), id])?;
                    stat.0 = stat.0.saturating_sub(1);
                    stat.1.remove(id, *old_revision);
                    if logs_changes {
                        log_change(&tx, next, kind, id, true, now)?;
                    }
                }
            }
            changed += 1;
        }
        let revisions = Revisions {
            after: *revision,
            up_to: next,
        };
        if changed == 0 {
            return Ok(Applied { changed, revisions });
        }
        for (kind, (count, digest)) in &new_stats {
            tx.prepare_cached(
                "INSERT INTO kind_stats (kind, count, digest) VALUES (?1, ?2, ?3)
                 ON CONFLICT (kind) DO UPDATE SET count = excluded.count, digest = excluded.digest",
            )?
            .execute(params![kind.as_str(), *count as i64, digest.value() as i64])?;
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'revision'",
            [next.to_string()],
        )?;
        tx.commit()?;
        *revision = next;
        *stats = new_stats;
        drop(writer);
        self.latest.send_replace(next);
        Ok(Applied { changed, revisions })
    }

    /// True once SiPass has been read completely into this cache at least once: from then on
    /// the cache can be served, even right after a restart.
    pub fn is_complete(&self) -> Result<bool, CacheError> {
        self.with_reader(|conn| {
            conn.query_row("SELECT value FROM meta WHERE key = 'complete'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map(|v| v.as_deref() == Some("1"))
        })
    }

    /// Records that SiPass has been read completely. The first time, watches may start
    /// only from the revision reached: nothing before it was logged.
    pub fn mark_complete(&self) -> Result<(), CacheError> {
        let mut writer = self.writer();
        if writer.logs_changes {
            return Ok(());
        }
        let floor = writer.revision;
        let tx = writer.conn.transaction()?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('complete', '1')
             ON CONFLICT (key) DO UPDATE SET value = '1'",
            [],
        )?;
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'watch_floor'",
            [floor.to_string()],
        )?;
        tx.execute("DELETE FROM changes", [])?;
        tx.commit()?;
        writer.logs_changes = true;
        *self.floor.lock().unwrap_or_else(|e| e.into_inner()) = floor;
        Ok(())
    }

    /// The ids of one kind, for finding what SiPass no longer has.
    pub fn ids(&self, kind: EntityKind) -> Result<Vec<String>, CacheError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached("SELECT id FROM entities WHERE kind = ?1")?;
            stmt.query_map([kind.as_str()], |r| r.get(0))?.collect()
        })
    }

    /// The ids of the entities of `kind` that belong to `owner` (a cardholder's credentials).
    pub fn owned_by(&self, kind: EntityKind, owner: &str) -> Result<Vec<String>, CacheError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM entities WHERE kind = ?1 AND owner = ?2 AND owner <> ''",
            )?;
            stmt.query_map(params![kind.as_str(), owner], |r| r.get(0))?
                .collect()
        })
    }

    /// One entity.
    pub fn get(&self, kind: EntityKind, id: &str) -> Result<Option<CachedEntity>, CacheError> {
        self.with_reader(|conn| {
            conn.prepare_cached(
                "SELECT revision, name, payload FROM entities WHERE kind = ?1 AND id = ?2",
            )?
            .query_row(params![kind.as_str(), id], |r| {
                Ok(CachedEntity {
                    revision: r.get::<_, i64>(0)? as u64,
                    name: r.get(1)?,
                    payload: r.get(2)?,
                })
            })
            .optional()
        })
    }

    /// Up to `limit` entities of `kind` whose ids sort after `after`, with the kind's count.
    pub fn page(
        &self,
        kind: EntityKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, CachedEntity)>, u64), CacheError> {
        let page = self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, revision, name, payload FROM entities
                 WHERE kind = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            stmt.query_map(
                params![kind.as_str(), after.unwrap_or(""), limit as i64],
                |r| {
                    Ok((
                        r.get(0)?,
                        CachedEntity {
                            revision: r.get::<_, i64>(1)? as u64,
                            name: r.get(2)?,
                            payload: r.get(3)?,
                        },
                    ))
                },
            )?
            .collect()
        })?;
        Ok((page, self.summary(kind).eligible))
    }

    /// Counts and digests of `kinds` together with the revision they describe, read under
    /// the writer's lock so that the three belong to the same moment: a role compares them
    /// only when it is at exactly that revision.
    pub fn summaries(&self, kinds: &[EntityKind]) -> (Revision, Vec<KindSummary>) {
        let writer = self.writer();
        let summaries = kinds
            .iter()
            .map(|kind| {
                writer
                    .stats
                    .get(kind)
                    .map(|(count, digest)| KindSummary {
                        eligible: *count,
                        digest: digest.value(),
                    })
                    .unwrap_or_default()
            })
            .collect();
        (writer.revision, summaries)
    }

    /// Count and digest of one kind.
    pub fn summary(&self, kind: EntityKind) -> KindSummary {
        self.summaries(&[kind]).1[0]
    }

    /// Up to `limit` changes after revision `after`, oldest first; `TooOld` when changes
    /// after `after` have been pruned.
    pub fn changes_after(
        &self,
        after: Revision,
        limit: usize,
    ) -> Result<Result<Vec<LoggedChange>, TooOld>, CacheError> {
        let floor = || *self.floor.lock().unwrap_or_else(|e| e.into_inner());
        // A role claiming a revision this cache never reached has a copy from elsewhere
        // (a restored or lost cache): it must list again rather than skip changes.
        if after < floor() || after > self.revision() {
            return Ok(Err(TooOld { oldest: floor() }));
        }
        let rows = self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT c.revision, c.kind, c.id, c.deleted, e.revision, e.name, e.payload
                 FROM changes c LEFT JOIN entities e ON e.kind = c.kind AND e.id = c.id
                 WHERE c.revision > ?1 ORDER BY c.revision LIMIT ?2",
            )?;
            stmt.query_map(params![after as i64, limit as i64], |r| {
                let kind: String = r.get(1)?;
                let deleted: bool = r.get(3)?;
                let entity = match (deleted, r.get::<_, Option<i64>>(4)?) {
                    (false, Some(revision)) => Some(CachedEntity {
                        revision: revision as u64,
                        name: r.get(5)?,
                        payload: r.get(6)?,
                    }),
                    _ => None,
                };
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    kind,
                    r.get::<_, String>(2)?,
                    entity,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()
        })?;
        // A prune may have committed between the check above and the read.
        if after < floor() {
            return Ok(Err(TooOld { oldest: floor() }));
        }
        Ok(Ok(rows
            .into_iter()
            .filter_map(|(revision, kind, id, entity)| {
                Some(LoggedChange {
                    revision,
                    kind: kind.parse().ok()?,
                    id,
                    entity,
                })
            })
            .collect()))
    }

    /// Drops change-log rows beyond the retention window. Watches from before the pruned
    /// point are then answered "too old". Returns how many rows were pruned.
    pub fn prune(&self, retention: Retention) -> Result<u64, CacheError> {
        let mut writer = self.writer();
        let tx = writer.conn.transaction()?;
        let cutoff_at = now_millis() - retention.max_age.as_millis() as i64;
        let total: i64 = tx.query_row("SELECT COUNT(*) FROM changes", [], |r| r.get(0))?;
        let excess = (total as u64).saturating_sub(retention.max_changes) as i64;
        // The newest revision to prune: everything older than the cutoff, and enough of the
        // oldest rows to stay within the count.
        let by_age: Option<i64> = tx.query_row(
            "SELECT MAX(revision) FROM changes WHERE at < ?1",
            [cutoff_at],
            |r| r.get(0),
        )?;
        let by_count: Option<i64> = if excess > 0 {
            tx.query_row(
                "SELECT revision FROM changes ORDER BY revision LIMIT 1 OFFSET ?1",
                [excess - 1],
                |r| r.get(0),
            )
            .optional()?
        } else {
            None
        };
        let Some(upto) = by_age.max(by_count) else {
            return Ok(0);
        };
        let pruned = tx.execute("DELETE FROM changes WHERE revision <= ?1", [upto])?;
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'watch_floor'",
            [upto.to_string()],
        )?;
        tx.commit()?;
        *self.floor.lock().unwrap_or_else(|e| e.into_inner()) = upto as u64;
        Ok(pruned as u64)
    }
}

/// Inserts an upsert's entity at `revision` when the cache does not hold it yet; false,
/// changing nothing, when it does (or for a delete).
fn insert_new(
    tx: &rusqlite::Transaction<'_>,
    change: &Change,
    revision: Revision,
) -> Result<bool, rusqlite::Error> {
    let Change::Upsert {
        kind,
        id,
        name,
        payload,
        owner,
    } = change
    else {
        return Ok(false);
    };
    let inserted = tx
        .prepare_cached(
            "INSERT INTO entities (kind, id, revision, name, payload, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (kind, id) DO NOTHING",
        )?
        .execute(params![kind.as_str(), id, revision as i64, name, payload, owner])?;
    Ok(inserted == 1)
}

fn log_change(
    tx: &Connection,
    revision: Revision,
    kind: EntityKind,
    id: &str,
    deleted: bool,
    at: i64,
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached("DELETE FROM changes WHERE kind = ?1 AND id = ?2")?
        .execute(params![kind.as_str(), id])?;
    tx.prepare_cached(
        "INSERT INTO changes (revision, kind, id, deleted, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![revision as i64, kind.as_str(), id, deleted, at])?;
    Ok(())
}

fn load_stats(conn: &Connection) -> Result<HashMap<EntityKind, (u64, Digest)>, CacheError> {
    let mut stmt = conn.prepare("SELECT kind, count, digest FROM kind_stats")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, count, digest)| {
            Some((
                kind.parse().ok()?,
                (count, Digest::from_parts(digest, count)),
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests;
