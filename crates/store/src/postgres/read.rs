//! The Directory's reads on PostgreSQL.

use model::Digest;
use postgres::{GenericClient, Row};

use crate::{EntityRow, StoreError, SyncPosition, SyncRun, WatchPosition};

pub fn config(c: &mut impl GenericClient, key: &str) -> Result<Option<String>, StoreError> {
    Ok(
        c.query_opt("SELECT value FROM config WHERE key = $1", &[&key])?
            .map(|r| r.get(0)),
    )
}

pub fn watch_position(c: &mut impl GenericClient) -> Result<Option<WatchPosition>, StoreError> {
    Ok(c.query_opt(
        "SELECT cache_id, revision FROM watch_position WHERE id = 1",
        &[],
    )?
    .map(|r| WatchPosition {
        cache_id: r.get(0),
        revision: r.get::<_, i64>(1) as u64,
    }))
}

pub fn position(
    c: &mut impl GenericClient,
    source_kind: &str,
) -> Result<Option<SyncPosition>, StoreError> {
    Ok(c.query_opt(
        "SELECT source_kind, cache_id, generation, snapshot_revision, page_token, done, total,
                complete
         FROM sync_position WHERE source_kind = $1",
        &[&source_kind],
    )?
    .map(|r| SyncPosition {
        source_kind: r.get(0),
        cache_id: r.get(1),
        generation: r.get(2),
        snapshot_revision: r.get::<_, i64>(3) as u64,
        page_token: r.get(4),
        done: r.get::<_, i64>(5) as u64,
        total: r.get::<_, i64>(6) as u64,
        complete: r.get(7),
    }))
}

pub fn count(c: &mut impl GenericClient, kind: &str) -> Result<u64, StoreError> {
    let n: i64 = c
        .query_one("SELECT COUNT(*) FROM entities WHERE kind = $1", &[&kind])?
        .get(0);
    Ok(n as u64)
}

pub fn digest(c: &mut impl GenericClient, source_kind: &str) -> Result<Digest, StoreError> {
    Ok(c.query_opt(
        "SELECT count, digest FROM source_digest WHERE source_kind = $1",
        &[&source_kind],
    )?
    .map_or_else(Digest::default, |r| {
        Digest::from_parts(r.get::<_, i64>(1) as u64, r.get::<_, i64>(0) as u64)
    }))
}

const ENTITY_COLUMNS: &str = "kind, id, source_kind, revision, name, fields";

pub fn entities(
    c: &mut impl GenericClient,
    kind: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<EntityRow>, StoreError> {
    let rows = c.query(
        &format!(
            "SELECT {ENTITY_COLUMNS} FROM entities
             WHERE kind = $1 AND id > $2 ORDER BY id, source_kind LIMIT $3"
        ),
        &[&kind, &after, &i64::from(limit)],
    )?;
    Ok(rows.iter().map(entity_row).collect())
}

/// Entities of a kind whose name or id holds `text`, ASCII letters in any case (as the
/// SQLite engine: only ASCII is folded, whatever the server's locale); `%` and `_` are
/// plain characters here.
pub fn search(
    c: &mut impl GenericClient,
    kind: &str,
    text: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<EntityRow>, StoreError> {
    const FOLD: &str = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'";
    let rows = c.query(
        &format!(
            "SELECT {ENTITY_COLUMNS} FROM entities
             WHERE kind = $1 AND id > $2
               AND (strpos(translate(name, {FOLD}), $3) > 0
                    OR strpos(translate(id, {FOLD}), $3) > 0)
             ORDER BY id, source_kind LIMIT $4"
        ),
        &[&kind, &after, &text.to_ascii_lowercase(), &i64::from(limit)],
    )?;
    Ok(rows.iter().map(entity_row).collect())
}

pub fn all_entities(c: &mut impl GenericClient, kind: &str) -> Result<Vec<EntityRow>, StoreError> {
    let rows = c.query(
        &format!("SELECT {ENTITY_COLUMNS} FROM entities WHERE kind = $1 ORDER BY id, source_kind"),
        &[&kind],
    )?;
    Ok(rows.iter().map(entity_row).collect())
}

/// Every Directory entity with this id: the primary key starts with the SiPass kind, so the
/// lookup names them all (one index probe each) rather than reading the whole table.
pub fn entity(c: &mut impl GenericClient, id: &str) -> Result<Vec<EntityRow>, StoreError> {
    let source_kinds: Vec<&str> = model::EntityKind::ALL.iter().map(|k| k.as_str()).collect();
    let rows = c.query(
        &format!(
            "SELECT {ENTITY_COLUMNS} FROM entities
             WHERE source_kind = ANY($1) AND id = $2 ORDER BY kind"
        ),
        &[&source_kinds, &id],
    )?;
    Ok(rows.iter().map(entity_row).collect())
}

/// The most recent `limit` runs, newest first.
pub fn runs(c: &mut impl GenericClient, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
    let rows = c.query(
        "SELECT id, trigger, started_at, ended_at, outcome, error FROM sync_runs
         ORDER BY id DESC LIMIT $1",
        &[&i64::from(limit)],
    )?;
    rows.iter()
        .map(|r| {
            let outcome: String = r.get(4);
            Ok(SyncRun {
                id: r.get(0),
                trigger: r.get(1),
                started_at: r.get(2),
                ended_at: r.get(3),
                outcome: outcome.parse().map_err(|_| StoreError::Unreadable {
                    database: "Directory database",
                    detail: format!("synchronization outcome {outcome:?}"),
                })?,
                error: r.get(5),
            })
        })
        .collect()
}

fn entity_row(r: &Row) -> EntityRow {
    EntityRow {
        kind: r.get(0),
        id: r.get(1),
        source_kind: r.get(2),
        revision: r.get::<_, i64>(3) as u64,
        name: r.get(4),
        fields: r.get(5),
    }
}
