//! The plugin database in an SQLite file (`plugin.db` beside the Directory).
//!
//! Events are acknowledged to the proxy once stored, and the proxy then forgets them: so
//! this file is written with `synchronous = FULL`, each commit on disk before it returns,
//! where the Directory (derivable again from the proxy) trades that for speed.

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::StoreError;
use crate::migrate::{Migration, Schema, no_legacy};
use crate::plugin::{
    EventEntity, EventFilter, EventPosition, NewEvent, PluginDatabase, PluginRead, StoredEvent,
    Tally,
};

/// The plugin database's migrations, oldest first. Append only; never edit a released one.
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

/// The plugin database as the migration runner knows it.
pub const PLUGIN: Schema = Schema {
    database: "plugin database",
    file: "plugin.db",
    migrations: PLUGIN_MIGRATIONS,
    legacy: no_legacy,
    counts: &[
        ("events", "SELECT COUNT(*) FROM events"),
        ("event_entities", "SELECT COUNT(*) FROM event_entities"),
        ("alarms", "SELECT COUNT(*) FROM alarms"),
        ("alarm_ack_queue", "SELECT COUNT(*) FROM alarm_ack_queue"),
        ("activity", "SELECT COUNT(*) FROM activity"),
    ],
};

/// The most events one listing returns.
pub const MAX_PAGE: u32 = 10_000;

/// Native event names are stored joined by this (a name never holds it).
pub(super) const NATIVE_SEPARATOR: char = '|';

fn connect(path: &Path) -> Result<Connection, StoreError> {
    super::open_connection(
        path,
        PLUGIN.database,
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA cache_size = -65536;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 0;",
    )
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic mid-transaction rolls it back when dropped: the connection is consistent.
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

/// A random identity: 64 bits from the standard library's randomly seeded hasher (the
/// operating system's randomness), mixed with the time and process. An identity, not a secret.
pub fn random_id() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(runtime::now_millis());
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// The plugin database in an SQLite file: a writer (the event recorder) and a reader (the
/// REST API, the CLI), so that listing never waits for a commit.
pub struct SqlitePlugin {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    reader: Mutex<Connection>,
    /// Copies the write-ahead log into the file off the writer's path; stops when dropped.
    _checkpointer: super::checkpoint::Checkpointer,
}

impl SqlitePlugin {
    /// Opens the plugin database at `path`, creating it when new: integrity-checked, its
    /// schema brought to or checked against this release's through the migration runner.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let writer = super::open_checked(path, &PLUGIN, connect)?;
        writer.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('role_id', ?1)",
            [random_id()],
        )?;
        let reader = connect(path)?;
        let writer = Arc::new(Mutex::new(writer));
        let checkpointer =
            super::checkpoint::Checkpointer::start(path, PLUGIN.database, writer.clone())?;
        Ok(SqlitePlugin {
            path: path.to_owned(),
            writer,
            reader: Mutex::new(reader),
            _checkpointer: checkpointer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A plugin database opened for reading only, beside the role writing it (tests, tools):
/// nothing is migrated, written or locked.
pub struct SqlitePluginReader {
    conn: Mutex<Connection>,
}

impl SqlitePluginReader {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = super::migrate::open_read_only(path, &PLUGIN)?;
        let status = super::migrate::inspect(&conn, &PLUGIN, path)?;
        crate::migrate::require_current(&PLUGIN, path, status)?;
        Ok(SqlitePluginReader {
            conn: Mutex::new(conn),
        })
    }
}

impl PluginRead for SqlitePluginReader {
    fn role_id(&self) -> Result<String, StoreError> {
        Ok(
            lock(&self.conn).query_row(
                "SELECT value FROM meta WHERE key = 'role_id'",
                [],
                |r| r.get(0),
            )?,
        )
    }
    fn event_position(&self) -> Result<EventPosition, StoreError> {
        read_position(&lock(&self.conn))
    }
    fn events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        list_events(&lock(&self.conn), filter)
    }
    fn event_count(&self) -> Result<u64, StoreError> {
        let n: i64 = lock(&self.conn).query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
        Ok(n as u64)
    }
    fn event_counters(&self) -> Result<Vec<(String, u64)>, StoreError> {
        read_counters(&lock(&self.conn))
    }
}

fn read_counters(conn: &Connection) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt = conn.prepare("SELECT counter, count FROM event_counters ORDER BY counter")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

impl PluginRead for SqlitePlugin {
    fn role_id(&self) -> Result<String, StoreError> {
        let conn = lock(&self.reader);
        Ok(
            conn.query_row("SELECT value FROM meta WHERE key = 'role_id'", [], |r| {
                r.get(0)
            })?,
        )
    }

    fn event_position(&self) -> Result<EventPosition, StoreError> {
        read_position(&lock(&self.reader))
    }

    fn events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        list_events(&lock(&self.reader), filter)
    }

    fn event_count(&self) -> Result<u64, StoreError> {
        let n: i64 =
            lock(&self.reader).query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn event_counters(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let conn = lock(&self.reader);
        let mut stmt =
            conn.prepare("SELECT counter, count FROM event_counters ORDER BY counter")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

impl PluginDatabase for SqlitePlugin {
    fn store_events(
        &self,
        events: &[NewEvent],
        tally: &Tally,
        position: &EventPosition,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some(added) = write_events(&tx, events, tally, position)? else {
            return Ok(Vec::new());
        };
        tx.commit()?;
        Ok(added)
    }
}

impl SqlitePlugin {
    /// The writer connection, for the alarm tables beside the events.
    pub(super) fn writer(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }

    /// The reader connection.
    pub(super) fn reader(&self) -> MutexGuard<'_, Connection> {
        lock(&self.reader)
    }
}

impl SqlitePluginReader {
    pub(super) fn reader(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }
}

/// Inserts one event, as entry `e.journal_seq` of `journal_id`, without its entity links
/// (see [`EntityLinks`]); the new row's id, or `None` when that entry is stored already.
pub(super) fn insert_event(
    conn: &Connection,
    journal_id: &str,
    e: &NewEvent,
) -> Result<Option<i64>, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO events (journal_id, journal_seq, sipass_id, occurred_at,
                occurred_ms, journaled_ms, sipass_type, native_events, category, known_type,
                message, entities, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?
        .execute(params![
            journal_id,
            e.journal_seq as i64,
            e.sipass_id,
            e.occurred_at,
            e.occurred_ms,
            e.journaled_ms,
            e.sipass_type,
            e.native_events.join(&NATIVE_SEPARATOR.to_string()),
            e.category,
            e.known_type,
            e.message,
            entities_json(&e.entities),
            e.payload,
        ])?;
    Ok((inserted > 0).then(|| conn.last_insert_rowid()))
}

/// The entity index rows of the events of one transaction, written together in the
/// index's own order: one event's links land all over the index (a cardholder, a door...),
/// so inserting them event by event touched a different page for nearly every row, and
/// that was most of the time spent storing events.
#[derive(Default)]
pub(super) struct EntityLinks<'a> {
    links: Vec<(&'a str, i64)>,
}

impl<'a> EntityLinks<'a> {
    /// The links of stored event `event_id` (a controller is linked twice, as two kinds,
    /// and indexed once).
    pub(super) fn add(&mut self, event_id: i64, e: &'a NewEvent) {
        let start = self.links.len();
        self.links
            .extend(e.entities.iter().map(|x| (x.id.as_str(), event_id)));
        let mine = &mut self.links[start..];
        mine.sort_unstable();
        let unique = dedup_sorted(mine);
        self.links.truncate(start + unique);
    }

    pub(super) fn write(mut self, conn: &Connection) -> Result<(), StoreError> {
        self.links.sort_unstable();
        let mut link = conn.prepare_cached(
            "INSERT OR IGNORE INTO event_entities (entity_id, event_id) VALUES (?1, ?2)",
        )?;
        for (entity_id, event_id) in self.links {
            link.execute(params![entity_id, event_id])?;
        }
        Ok(())
    }
}

/// Moves the distinct elements of a sorted slice to its front; how many there are.
fn dedup_sorted<T: PartialEq>(items: &mut [T]) -> usize {
    let mut kept = 0;
    for i in 0..items.len() {
        if kept == 0 || items[i] != items[kept - 1] {
            items.swap(kept, i);
            kept += 1;
        }
    }
    kept
}

/// Writes events, the tally and the position within `tx`. `None` when the position is a
/// replay of what is stored already (nothing written).
pub(super) fn write_events(
    tx: &rusqlite::Transaction<'_>,
    events: &[NewEvent],
    tally: &Tally,
    position: &EventPosition,
) -> Result<Option<Vec<StoredEvent>>, StoreError> {
    let stored = read_position(tx)?;
    if stored.journal_id == position.journal_id && position.sequence <= stored.sequence {
        // A replay of what is stored already.
        return Ok(None);
    }
    let mut added = Vec::with_capacity(events.len());
    let mut links = EntityLinks::default();
    for e in events {
        let Some(id) = insert_event(tx, &position.journal_id, e)? else {
            continue;
        };
        links.add(id, e);
        added.push(StoredEvent {
            id,
            journal_seq: e.journal_seq,
            sipass_id: e.sipass_id.clone(),
            occurred_at: e.occurred_at.clone(),
            occurred_ms: e.occurred_ms,
            sipass_type: e.sipass_type.clone(),
            native_events: e.native_events.clone(),
            category: e.category.clone(),
            known_type: e.known_type,
            message: e.message.clone(),
            entities: e.entities.clone(),
        });
    }
    links.write(tx)?;
    let mut count = tx.prepare_cached(
        "INSERT INTO event_counters (counter, count) VALUES (?1, ?2)
         ON CONFLICT (counter) DO UPDATE SET count = count + excluded.count",
    )?;
    for (counter, n) in tally {
        count.execute(params![counter, *n as i64])?;
    }
    tx.prepare_cached(
        "INSERT INTO event_position (one, journal_id, sequence) VALUES (1, ?1, ?2)
         ON CONFLICT (one) DO UPDATE SET journal_id = excluded.journal_id,
            sequence = excluded.sequence",
    )?
    .execute(params![position.journal_id, position.sequence as i64])?;
    Ok(Some(added))
}

fn read_position(conn: &Connection) -> Result<EventPosition, StoreError> {
    Ok(conn
        .prepare_cached("SELECT journal_id, sequence FROM event_position WHERE one = 1")?
        .query_row([], |r| {
            Ok(EventPosition {
                journal_id: r.get(0)?,
                sequence: r.get::<_, i64>(1)? as u64,
            })
        })
        .optional()?
        .unwrap_or_default())
}

fn list_events(conn: &Connection, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
    let mut sql = String::from(
        "SELECT e.id, e.journal_seq, e.sipass_id, e.occurred_at, e.occurred_ms, e.sipass_type,
                e.native_events, e.category, e.known_type, e.message, e.entities
         FROM events e WHERE e.id > ?",
    );
    let mut args: Vec<rusqlite::types::Value> = vec![filter.after_id.into()];
    if let Some(since) = filter.since_ms {
        sql.push_str(" AND e.occurred_ms >= ?");
        args.push(since.into());
    }
    if let Some(until) = filter.until_ms {
        sql.push_str(" AND e.occurred_ms < ?");
        args.push(until.into());
    }
    if let Some(t) = &filter.event_type {
        // Exact names, case-insensitive: the custom event, or one of the native events.
        sql.push_str(
            " AND (e.sipass_type = ? COLLATE NOCASE
                   OR ('|' || e.native_events || '|') LIKE ('%|' || ? || '|%') ESCAPE '\\')",
        );
        args.push(t.clone().into());
        args.push(escape_like(t).into());
    }
    if let Some(entity) = &filter.entity {
        sql.push_str(
            " AND e.id IN (SELECT x.event_id FROM event_entities x WHERE x.entity_id = ?)",
        );
        args.push(entity.clone().into());
    }
    sql.push_str(" ORDER BY e.id LIMIT ?");
    args.push(i64::from(filter.limit.clamp(1, MAX_PAGE)).into());
    let mut stmt = conn.prepare(&sql)?;
    let events: Vec<StoredEvent> = stmt
        .query_map(params_from_iter(args), |r| {
            let native: String = r.get(6)?;
            Ok(StoredEvent {
                id: r.get(0)?,
                journal_seq: r.get::<_, i64>(1)? as u64,
                sipass_id: r.get(2)?,
                occurred_at: r.get(3)?,
                occurred_ms: r.get(4)?,
                sipass_type: r.get(5)?,
                native_events: native
                    .split(NATIVE_SEPARATOR)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect(),
                category: r.get(7)?,
                known_type: r.get(8)?,
                message: r.get(9)?,
                entities: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or_default(),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(events)
}

pub(super) fn entities_json(entities: &[EventEntity]) -> String {
    serde_json::to_string(entities).unwrap_or_else(|_| "[]".to_owned())
}

/// `text` matched literally by LIKE ... ESCAPE '\'.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

mod activity;
#[cfg(test)]
mod tests;
