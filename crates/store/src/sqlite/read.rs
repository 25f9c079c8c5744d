//! The Directory's reads, on whichever connection the caller holds.

use model::Digest;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{EntityRow, StoreError, SyncPosition, SyncRun, WatchPosition};

pub fn config(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM config WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn watch_position(conn: &Connection) -> Result<Option<WatchPosition>, StoreError> {
    Ok(conn
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

pub fn position(conn: &Connection, source_kind: &str) -> Result<Option<SyncPosition>, StoreError> {
    Ok(conn
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

pub fn count(conn: &Connection, kind: &str) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM entities WHERE kind = ?1",
        [kind],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

pub fn digest(conn: &Connection, source_kind: &str) -> Result<Digest, StoreError> {
    let found: Option<(i64, i64)> = conn
        .prepare_cached("SELECT count, digest FROM source_digest WHERE source_kind = ?1")?
        .query_row([source_kind], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(found.map_or_else(Digest::default, |(count, digest)| {
        Digest::from_parts(digest as u64, count as u64)
    }))
}

pub fn entities(
    conn: &Connection,
    kind: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<EntityRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, id, source_kind, revision, name, fields FROM entities
         WHERE kind = ?1 AND id > ?2 ORDER BY id, source_kind LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![kind, after, limit], entity_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn search(
    conn: &Connection,
    kind: &str,
    text: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<EntityRow>, StoreError> {
    // instr rather than LIKE: the text is matched as it is, '%' and '_' included.
    let mut stmt = conn.prepare_cached(
        "SELECT kind, id, source_kind, revision, name, fields FROM entities
         WHERE kind = ?1 AND id > ?2 AND (instr(lower(name), ?3) > 0 OR instr(lower(id), ?3) > 0)
         ORDER BY id, source_kind LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(
            params![kind, after, text.to_ascii_lowercase(), limit],
            entity_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn all_entities(conn: &Connection, kind: &str) -> Result<Vec<EntityRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, id, source_kind, revision, name, fields FROM entities
         WHERE kind = ?1 ORDER BY id, source_kind",
    )?;
    let rows = stmt
        .query_map([kind], entity_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every Directory entity with this id. The primary key starts with the SiPass kind, so the
/// lookup names every SiPass kind: one index seek each, where `WHERE id = ?` alone would
/// read the whole table (seconds at a million cardholders).
pub fn entity(conn: &Connection, id: &str) -> Result<Vec<EntityRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&entity_by_id_sql())?;
    let rows = stmt
        .query_map([id], entity_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(crate) fn entity_by_id_sql() -> String {
    let source_kinds: Vec<String> = model::EntityKind::ALL
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    format!(
        "SELECT kind, id, source_kind, revision, name, fields FROM entities \
         WHERE source_kind IN ({}) AND id = ?1 ORDER BY kind",
        source_kinds.join(", ")
    )
}

pub fn latest_run(conn: &Connection) -> Result<Option<SyncRun>, StoreError> {
    Ok(runs(conn, 1)?.pop())
}

/// The most recent `limit` runs, newest first.
pub fn runs(conn: &Connection, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, trigger, started_at, ended_at, outcome, error FROM sync_runs ORDER BY id DESC LIMIT ?1",
    )?;
    let runs = stmt
        .query_map([limit], |r| {
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
        })?
        .collect::<Result<_, _>>()?;
    Ok(runs)
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
