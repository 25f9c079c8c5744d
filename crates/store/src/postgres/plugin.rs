//! The plugin database on PostgreSQL: events, where reading the journal stands, the
//! counters, the activity trail (alarms are in `alarms.rs`). Every commit is durable when it
//! returns (PostgreSQL's default `synchronous_commit`), as the proxy forgets what the role
//! acknowledged.

use postgres::types::ToSql;
use postgres::{GenericClient, Row, Transaction};

use super::{PLUGIN, Pg, migrate};
use crate::StoreError;
use crate::activity::{Activity, ActivityFilter, ActivityTrail, MAX_ACTIVITY_PAGE};
use crate::import::{EventImport, IMPORT_JOURNAL};
use crate::plugin::{
    EventEntity, EventFilter, EventPosition, NewEvent, PluginDatabase, PluginRead, StoredEvent,
    Tally,
};
use crate::sqlite::{MAX_EVENT_PAGE, random_id};

/// Native event names are stored joined by this, as in SQLite.
const NATIVE_SEPARATOR: char = '|';

/// The plugin database in PostgreSQL: a writer (the event recorder) and a reader (the REST
/// API), so that listing never waits for a commit.
pub struct PgPlugin {
    writer: Pg,
    reader: PgPluginReader,
}

/// The plugin database opened for reading only: nothing migrated or written.
pub struct PgPluginReader {
    conn: Pg,
}

impl PgPlugin {
    /// Opens the plugin database in the database at `url`, creating its schema when new;
    /// another schema version is refused. The role's identity is created once.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let writer = Pg::connect(url, &PLUGIN)?;
        migrate::prepare(&writer, &PLUGIN)?;
        writer.run(|c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES ('role_id', $1) ON CONFLICT (key) DO NOTHING",
                &[&random_id()],
            )?;
            Ok(())
        })?;
        let reader = PgPluginReader {
            conn: Pg::connect(url, &PLUGIN)?,
        };
        Ok(PgPlugin { writer, reader })
    }

    pub(super) fn writer(&self) -> &Pg {
        &self.writer
    }

    pub(super) fn reader(&self) -> &Pg {
        &self.reader.conn
    }
}

impl PgPluginReader {
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let conn = Pg::connect(url, &PLUGIN)?;
        let status = migrate::inspect(&conn, &PLUGIN)?;
        migrate::require_current(&PLUGIN, conn.location(), status)?;
        Ok(PgPluginReader { conn })
    }

    pub(super) fn reader(&self) -> &Pg {
        &self.conn
    }
}

impl PluginRead for PgPluginReader {
    fn role_id(&self) -> Result<String, StoreError> {
        self.conn.run(|c| {
            Ok(
                c.query_one("SELECT value FROM meta WHERE key = 'role_id'", &[])?
                    .get(0),
            )
        })
    }
    fn event_position(&self) -> Result<EventPosition, StoreError> {
        self.conn.run(read_position)
    }
    fn events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        self.conn.run(|c| list_events(c, filter))
    }
    fn event_count(&self) -> Result<u64, StoreError> {
        self.conn.run(|c| {
            let n: i64 = c.query_one("SELECT COUNT(*) FROM events", &[])?.get(0);
            Ok(n as u64)
        })
    }
    fn event_counters(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.conn.run(|c| {
            let rows = c.query(
                "SELECT counter, count FROM event_counters ORDER BY counter",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
                .collect())
        })
    }
}

/// Reads go through the reader connection.
impl PluginRead for PgPlugin {
    fn role_id(&self) -> Result<String, StoreError> {
        self.reader.role_id()
    }
    fn event_position(&self) -> Result<EventPosition, StoreError> {
        self.reader.event_position()
    }
    fn events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        self.reader.events(filter)
    }
    fn event_count(&self) -> Result<u64, StoreError> {
        self.reader.event_count()
    }
    fn event_counters(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.reader.event_counters()
    }
}

impl PluginDatabase for PgPlugin {
    fn store_events(
        &self,
        events: &[NewEvent],
        tally: &Tally,
        position: &EventPosition,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.writer
            .transaction(|tx| Ok(write_events(tx, events, tally, position)?.unwrap_or_default()))
    }
}

/// Takes the plugin database's writer lock for this transaction: a second role on the same
/// database waits here rather than storing the same journal entries or alarms beside this
/// one (the lock ends with the transaction).
pub(super) fn serialise(tx: &mut Transaction<'_>) -> Result<(), StoreError> {
    tx.batch_execute("SELECT pg_advisory_xact_lock(hashtext('sipass-bridge plugin writer'))")?;
    Ok(())
}

/// Writes events, the tally and the position within `tx`; `None` when the position is a
/// replay of what is stored already (nothing written).
pub(super) fn write_events(
    tx: &mut Transaction<'_>,
    events: &[NewEvent],
    tally: &Tally,
    position: &EventPosition,
) -> Result<Option<Vec<StoredEvent>>, StoreError> {
    serialise(tx)?;
    let stored = read_position(tx)?;
    if stored.journal_id == position.journal_id && position.sequence <= stored.sequence {
        return Ok(None);
    }
    let mut added = Vec::with_capacity(events.len());
    for e in events {
        let Some(id) = insert_event(tx, &position.journal_id, e)? else {
            continue;
        };
        added.push(stored_event(id, e));
    }
    let count = tx.prepare(
        "INSERT INTO event_counters (counter, count) VALUES ($1, $2)
         ON CONFLICT (counter) DO UPDATE SET count = event_counters.count + excluded.count",
    )?;
    for (counter, n) in tally {
        tx.execute(&count, &[counter, &(*n as i64)])?;
    }
    tx.execute(
        "INSERT INTO event_position (one, journal_id, sequence) VALUES (1, $1, $2)
         ON CONFLICT (one) DO UPDATE SET journal_id = excluded.journal_id,
            sequence = excluded.sequence",
        &[&position.journal_id, &(position.sequence as i64)],
    )?;
    Ok(Some(added))
}

fn stored_event(id: i64, e: &NewEvent) -> StoredEvent {
    StoredEvent {
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
    }
}

/// Inserts one event with its entity links; the new row's id, or `None` when that entry of
/// that journal is stored already.
pub(super) fn insert_event(
    tx: &mut Transaction<'_>,
    journal_id: &str,
    e: &NewEvent,
) -> Result<Option<i64>, StoreError> {
    let row = tx.query_opt(
        "INSERT INTO events (journal_id, journal_seq, sipass_id, occurred_at, occurred_ms,
            journaled_ms, sipass_type, native_events, category, known_type, message, entities,
            payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (journal_id, journal_seq) DO NOTHING
         RETURNING id",
        &[
            &journal_id,
            &(e.journal_seq as i64),
            &e.sipass_id,
            &e.occurred_at,
            &e.occurred_ms,
            &e.journaled_ms,
            &e.sipass_type,
            &e.native_events.join(&NATIVE_SEPARATOR.to_string()),
            &e.category,
            &e.known_type,
            &e.message,
            &entities_json(&e.entities),
            &e.payload,
        ],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.get(0);
    // A controller is linked twice (two kinds), indexed once.
    let mut ids: Vec<&str> = e.entities.iter().map(|x| x.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if !ids.is_empty() {
        tx.execute(
            "INSERT INTO event_entities (entity_id, event_id)
             SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING",
            &[&ids, &id],
        )?;
    }
    Ok(Some(id))
}

fn read_position(c: &mut impl GenericClient) -> Result<EventPosition, StoreError> {
    Ok(c.query_opt(
        "SELECT journal_id, sequence FROM event_position WHERE one = 1",
        &[],
    )?
    .map(|r| EventPosition {
        journal_id: r.get(0),
        sequence: r.get::<_, i64>(1) as u64,
    })
    .unwrap_or_default())
}

fn list_events(
    c: &mut impl GenericClient,
    filter: &EventFilter,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(filter.after_id)];
    let mut sql = String::from(
        "SELECT e.id, e.journal_seq, e.sipass_id, e.occurred_at, e.occurred_ms, e.sipass_type,
                e.native_events, e.category, e.known_type, e.message, e.entities
         FROM events e WHERE e.id > $1",
    );
    let mut next = |sql: &mut String, clause: &str, value: Box<dyn ToSql + Sync + Send>| {
        args.push(value);
        sql.push_str(&clause.replace('$', &format!("${}", args.len())));
    };
    if let Some(since) = filter.since_ms {
        next(&mut sql, " AND e.occurred_ms >= $", Box::new(since));
    }
    if let Some(until) = filter.until_ms {
        next(&mut sql, " AND e.occurred_ms < $", Box::new(until));
    }
    if let Some(t) = &filter.event_type {
        // Exact names, case-insensitive: the custom event, or one of the native events.
        next(
            &mut sql,
            " AND (lower(e.sipass_type) = lower($)",
            Box::new(t.clone()),
        );
        next(
            &mut sql,
            " OR lower($) = ANY(string_to_array(lower(e.native_events), '|')))",
            Box::new(t.clone()),
        );
    }
    if let Some(entity) = &filter.entity {
        next(
            &mut sql,
            " AND e.id IN (SELECT x.event_id FROM event_entities x WHERE x.entity_id = $)",
            Box::new(entity.clone()),
        );
    }
    next(
        &mut sql,
        " ORDER BY e.id LIMIT $",
        Box::new(i64::from(filter.limit.clamp(1, MAX_EVENT_PAGE))),
    );
    let params: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = c.query(&sql, &params)?;
    Ok(rows.iter().map(event_row).collect())
}

fn event_row(r: &Row) -> StoredEvent {
    let native: String = r.get(6);
    StoredEvent {
        id: r.get(0),
        journal_seq: r.get::<_, i64>(1) as u64,
        sipass_id: r.get(2),
        occurred_at: r.get(3),
        occurred_ms: r.get(4),
        sipass_type: r.get(5),
        native_events: native
            .split(NATIVE_SEPARATOR)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
        category: r.get(7),
        known_type: r.get(8),
        message: r.get(9),
        entities: serde_json::from_str(r.get::<_, &str>(10)).unwrap_or_default(),
    }
}

fn entities_json(entities: &[EventEntity]) -> String {
    serde_json::to_string(entities).unwrap_or_else(|_| "[]".to_owned())
}

impl ActivityTrail for PgPlugin {
    fn record_activity(&self, a: &Activity) -> Result<Activity, StoreError> {
        let id = self.writer.run(|c| {
            let row = c.query_one(
                "INSERT INTO activity (at_ms, at, entity_id, entity_kind, entity_name, activity,
                    activity_label, application, application_version, machine, user_name,
                    outcome, message)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 RETURNING id",
                &[
                    &a.at_ms,
                    &a.at,
                    &a.entity_id,
                    &a.entity_kind,
                    &a.entity_name,
                    &a.activity,
                    &a.activity_label,
                    &a.application,
                    &a.application_version,
                    &a.machine,
                    &a.user,
                    &a.outcome,
                    &a.message,
                ],
            )?;
            Ok(row.get::<_, i64>(0))
        })?;
        Ok(Activity { id, ..a.clone() })
    }

    fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>, StoreError> {
        self.reader().run(|c| list_activities(c, filter))
    }
}

fn list_activities(
    c: &mut impl GenericClient,
    filter: &ActivityFilter,
) -> Result<Vec<Activity>, StoreError> {
    // Absent bounds are NULL, so that one statement serves every filter.
    let before = (filter.before_id > 0).then_some(filter.before_id);
    let limit = i64::from(filter.limit.clamp(1, MAX_ACTIVITY_PAGE + 1));
    let rows = c.query(
        "SELECT id, at_ms, at, entity_id, entity_kind, entity_name, activity, activity_label,
                application, application_version, machine, user_name, outcome, message
         FROM activity
         WHERE ($1::int8 IS NULL OR id < $1) AND ($2::text IS NULL OR entity_id = $2)
           AND ($3::int8 IS NULL OR at_ms >= $3)
         ORDER BY id DESC LIMIT $4",
        &[&before, &filter.entity, &filter.since_ms, &limit],
    )?;
    Ok(rows
        .iter()
        .map(|r| Activity {
            id: r.get(0),
            at_ms: r.get(1),
            at: r.get(2),
            entity_id: r.get(3),
            entity_kind: r.get(4),
            entity_name: r.get(5),
            activity: r.get(6),
            activity_label: r.get(7),
            application: r.get(8),
            application_version: r.get(9),
            machine: r.get(10),
            user: r.get(11),
            outcome: r.get(12),
            message: r.get(13),
        })
        .collect())
}

/// The plugin database opened for importing events (`events import`), beside a role that
/// may be writing it: each batch is one transaction under the writers' lock.
pub struct PgImport {
    conn: Pg,
}

impl PgImport {
    /// Opens the plugin database at `url`, which must be on this release's schema.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let conn = Pg::connect(url, &PLUGIN)?;
        let status = migrate::inspect(&conn, &PLUGIN)?;
        migrate::require_current(&PLUGIN, conn.location(), status)?;
        Ok(PgImport { conn })
    }
}

impl EventImport for PgImport {
    fn stored_sipass_ids(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        self.conn.run(|c| {
            Ok(c.query("SELECT sipass_id FROM events", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn import_events(&self, events: &[NewEvent]) -> Result<Vec<bool>, StoreError> {
        self.conn.transaction(|tx| {
            serialise(tx)?;
            events
                .iter()
                .map(|e| Ok(insert_event(tx, IMPORT_JOURNAL, e)?.is_some()))
                .collect()
        })
    }
}
