//! The Directory's writes, each one transaction on the writer connection.

use std::collections::HashMap;

use model::{Digest, RunOutcome};
use rusqlite::{Connection, OptionalExtension, params};

use super::read::digest as load_digest;
use crate::{SourceChange, SourceEntity, StoreError, SyncPosition, WatchPosition};

pub fn set_config(conn: &mut Connection, values: &[(&str, String)]) -> Result<(), StoreError> {
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

pub fn write_page(
    conn: &mut Connection,
    page: &[SourceEntity],
    position: &SyncPosition,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let mut digest = load_digest(&tx, &position.source_kind)?;
    let held = held_revisions(&tx, &position.source_kind, page)?;
    for entity in page {
        let old = held.get(entity.id.as_str()).copied();
        write_entity(&tx, entity, position.generation, &mut digest, old)?;
    }
    save_digest(&tx, &position.source_kind, &digest)?;
    save_position(&tx, position)?;
    tx.commit()?;
    Ok(())
}

pub fn apply_changes(
    conn: &mut Connection,
    changes: &[SourceChange],
    position: &WatchPosition,
) -> Result<u64, StoreError> {
    let tx = conn.transaction()?;
    let mut digests: HashMap<String, Digest> = HashMap::new();
    let mut applied = 0;
    for change in changes {
        let source_kind = match change {
            SourceChange::Upsert(e) => &e.source_kind,
            SourceChange::Delete { source_kind, .. } => source_kind,
        };
        let digest = match digests.entry(source_kind.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(load_digest(&tx, source_kind)?)
            }
        };
        applied += match change {
            SourceChange::Upsert(entity) => {
                let generation = current_generation(&tx, &entity.source_kind)?;
                upsert_entity(&tx, entity, generation, digest)? as u64
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

pub fn finish_listing(conn: &mut Connection, position: &SyncPosition) -> Result<u64, StoreError> {
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

pub fn remove_source_kind(conn: &mut Connection, source_kind: &str) -> Result<u64, StoreError> {
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

/// Marks every run still recorded as running interrupted, ended now; returns how many.
pub fn interrupt_unfinished_runs(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE sync_runs SET outcome = 'interrupted', ended_at = ?1 WHERE outcome = 'running'",
        [runtime::now_millis()],
    )?)
}

pub fn start_run(conn: &Connection, trigger: &str) -> Result<i64, StoreError> {
    let now = runtime::now_millis();
    interrupt_unfinished_runs(conn)?;
    conn.execute(
        "INSERT INTO sync_runs (trigger, started_at, outcome) VALUES (?1, ?2, 'running')",
        params![trigger, now],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn finish_run(
    conn: &Connection,
    id: i64,
    outcome: RunOutcome,
    error: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sync_runs SET outcome = ?2, error = ?3, ended_at = ?4 WHERE id = ?1",
        params![id, outcome.as_str(), error, runtime::now_millis()],
    )?;
    Ok(())
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

/// What the Directory holds of a SiPass object: its revision and the listing that wrote it.
#[derive(Clone, Copy)]
struct Held {
    revision: u64,
    generation: i64,
}

fn held_row(conn: &Connection, source_kind: &str, id: &str) -> Result<Option<Held>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT revision, generation FROM entities
             WHERE source_kind = ?1 AND id = ?2 AND primary_row = 1",
        )?
        .query_row(params![source_kind, id], |r| {
            Ok(Held {
                revision: r.get::<_, i64>(0)? as u64,
                generation: r.get(1)?,
            })
        })
        .optional()?)
}

/// The revisions the Directory holds of a listing page's objects (all of one SiPass kind),
/// read with one range scan of the page's ids instead of one lookup per object: on a first
/// synchronization there are none, and the scan finds that at once.
fn held_revisions(
    conn: &Connection,
    source_kind: &str,
    page: &[SourceEntity],
) -> Result<HashMap<String, u64>, StoreError> {
    let (Some(first), Some(last)) = (
        page.iter().map(|e| e.id.as_str()).min(),
        page.iter().map(|e| e.id.as_str()).max(),
    ) else {
        return Ok(HashMap::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id, revision FROM entities
         WHERE source_kind = ?1 AND id BETWEEN ?2 AND ?3 AND primary_row = 1",
    )?;
    let held = stmt
        .query_map(params![source_kind, first, last], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<Result<HashMap<_, _>, _>>()?;
    Ok(held)
}

/// Writes a real-time change (or its replay) unless the Directory holds the same revision
/// or a newer one; false when skipped. A listing does not come here: it is authoritative
/// (what it read is at least as new as anything the Directory got from the same proxy cache
/// before it, and revisions from another cache, after a rebuild, cannot be compared at all),
/// so it always writes.
fn upsert_entity(
    conn: &Connection,
    entity: &SourceEntity,
    generation: i64,
    digest: &mut Digest,
) -> Result<bool, StoreError> {
    let held = held_row(conn, &entity.source_kind, &entity.id)?;
    match held {
        Some(held) if held.revision >= entity.revision => return Ok(false),
        Some(held) if held.generation == generation => {
            update_entity(conn, entity, generation, digest, held.revision)?;
        }
        _ => write_entity(conn, entity, generation, digest, held.map(|h| h.revision))?,
    }
    Ok(true)
}

/// Rewrites a held object's rows assigning only what a change of it can change. SQLite
/// rewrites an index's entry whenever a statement assigns one of its columns, changed or
/// not: assigning the generation cost a second random page per real-time change (the
/// generation index's), as many bytes written again as the row itself.
fn update_entity(
    conn: &Connection,
    entity: &SourceEntity,
    generation: i64,
    digest: &mut Digest,
    old: u64,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO entities (source_kind, id, kind, primary_row, revision, name, fields, generation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (source_kind, id, kind) DO UPDATE SET
            revision = excluded.revision, name = excluded.name, fields = excluded.fields",
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
    digest.remove(&entity.id, old);
    digest.add(&entity.id, entity.revision);
    Ok(())
}

/// Writes a SiPass object's rows, each once (inserted, or updated in place when held), and
/// moves the digest from `old`, the revision held, to the new one.
fn write_entity(
    conn: &Connection,
    entity: &SourceEntity,
    generation: i64,
    digest: &mut Digest,
    old: Option<u64>,
) -> Result<(), StoreError> {
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
    Ok(())
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
    let Some(old) = held_row(conn, source_kind, id)?.map(|h| h.revision) else {
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

pub fn save_watch_position(conn: &Connection, p: &WatchPosition) -> Result<(), StoreError> {
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
