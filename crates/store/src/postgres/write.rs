//! The Directory's writes on PostgreSQL, each inside the caller's transaction.
//!
//! A listing page is written with one statement: its rows go as arrays, unnested into one
//! multi-row upsert, so that a page of thousands costs one round trip, not thousands.

use std::collections::HashMap;

use model::{Digest, RunOutcome};
use postgres::{GenericClient, Transaction};

use super::read::digest as load_digest;
use crate::{SourceChange, SourceEntity, StoreError, SyncPosition, WatchPosition};

pub fn set_config(tx: &mut Transaction<'_>, values: &[(&str, String)]) -> Result<(), StoreError> {
    let stmt = tx.prepare(
        "INSERT INTO config (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?;
    for (key, value) in values {
        tx.execute(&stmt, &[key, value])?;
    }
    Ok(())
}

/// The page without repeats of one SiPass object (the last one wins, as it would row by
/// row): one upsert may not touch a row twice.
fn distinct(page: &[SourceEntity]) -> Vec<&SourceEntity> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(page.len());
    for (i, e) in page.iter().enumerate() {
        last.insert(e.id.as_str(), i);
    }
    page.iter()
        .enumerate()
        .filter(|(i, e)| last.get(e.id.as_str()) == Some(i))
        .map(|(_, e)| e)
        .collect()
}

pub fn write_page(
    tx: &mut Transaction<'_>,
    page: &[SourceEntity],
    position: &SyncPosition,
) -> Result<(), StoreError> {
    let page = distinct(page);
    let mut digest = load_digest(tx, &position.source_kind)?;
    let held = held_revisions(tx, &position.source_kind, &page)?;
    for entity in &page {
        if let Some(r) = held.get(entity.id.as_str()) {
            digest.remove(&entity.id, *r);
        }
        digest.add(&entity.id, entity.revision);
    }
    upsert_rows(tx, &position.source_kind, &page, position.generation)?;
    save_digest(tx, &position.source_kind, &digest)?;
    save_position(tx, position)?;
    Ok(())
}

/// Inserts or updates every row of `entities` (one per Directory kind each becomes) in one
/// statement.
fn upsert_rows(
    tx: &mut Transaction<'_>,
    source_kind: &str,
    entities: &[&SourceEntity],
    generation: i64,
) -> Result<(), StoreError> {
    let rows: usize = entities.iter().map(|e| e.kinds.len()).sum();
    if rows == 0 {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(rows);
    let mut kinds = Vec::with_capacity(rows);
    let mut primary = Vec::with_capacity(rows);
    let mut revisions = Vec::with_capacity(rows);
    let mut names = Vec::with_capacity(rows);
    let mut fields = Vec::with_capacity(rows);
    for e in entities {
        for (i, kind) in e.kinds.iter().enumerate() {
            ids.push(e.id.as_str());
            kinds.push(kind.as_str());
            primary.push(i == 0);
            revisions.push(e.revision as i64);
            names.push(e.name.as_str());
            fields.push(e.fields.as_str());
        }
    }
    tx.execute(
        "INSERT INTO entities (source_kind, id, kind, primary_row, revision, name, fields,
            generation)
         SELECT $1, u.id, u.kind, u.primary_row, u.revision, u.name, u.fields, $2
         FROM unnest($3::text[], $4::text[], $5::bool[], $6::int8[], $7::text[], $8::text[])
            AS u (id, kind, primary_row, revision, name, fields)
         ON CONFLICT (source_kind, id, kind) DO UPDATE SET
            primary_row = excluded.primary_row, revision = excluded.revision,
            name = excluded.name, fields = excluded.fields, generation = excluded.generation",
        &[
            &source_kind,
            &generation,
            &ids,
            &kinds,
            &primary,
            &revisions,
            &names,
            &fields,
        ],
    )?;
    Ok(())
}

/// The revisions held of a page's objects, read with one range scan of the page's ids (a
/// listing comes in id order, so the range holds little else; on a first synchronization it
/// holds nothing, which the index says at once) rather than a lookup per id.
fn held_revisions(
    tx: &mut Transaction<'_>,
    source_kind: &str,
    page: &[&SourceEntity],
) -> Result<HashMap<String, u64>, StoreError> {
    let (Some(first), Some(last)) = (
        page.iter().map(|e| e.id.as_str()).min(),
        page.iter().map(|e| e.id.as_str()).max(),
    ) else {
        return Ok(HashMap::new());
    };
    let rows = tx.query(
        "SELECT id, revision FROM entities
         WHERE source_kind = $1 AND id BETWEEN $2 AND $3 AND primary_row",
        &[&source_kind, &first, &last],
    )?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
        .collect())
}

pub fn apply_changes(
    tx: &mut Transaction<'_>,
    changes: &[SourceChange],
    position: &WatchPosition,
) -> Result<u64, StoreError> {
    let mut digests: HashMap<String, Digest> = HashMap::new();
    let mut applied = 0;
    for change in changes {
        let source_kind = match change {
            SourceChange::Upsert(e) => &e.source_kind,
            SourceChange::Delete { source_kind, .. } => source_kind,
        };
        if !digests.contains_key(source_kind) {
            let d = load_digest(tx, source_kind)?;
            digests.insert(source_kind.clone(), d);
        }
        let digest = digests.get_mut(source_kind).expect("inserted above");
        applied += match change {
            SourceChange::Upsert(entity) => upsert_entity(tx, entity, digest)? as u64,
            SourceChange::Delete {
                source_kind,
                id,
                revision,
            } => delete_entity(tx, source_kind, id, *revision, digest)? as u64,
        };
    }
    for (source_kind, digest) in &digests {
        save_digest(tx, source_kind, digest)?;
    }
    save_watch_position(tx, position)?;
    Ok(applied)
}

pub fn finish_listing(
    tx: &mut Transaction<'_>,
    position: &SyncPosition,
) -> Result<u64, StoreError> {
    let mut digest = load_digest(tx, &position.source_kind)?;
    let rows = tx.query(
        "DELETE FROM entities WHERE source_kind = $1 AND generation < $2
         RETURNING id, revision, primary_row",
        &[&position.source_kind, &position.generation],
    )?;
    let mut removed = 0;
    for r in rows.iter().filter(|r| r.get::<_, bool>(2)) {
        digest.remove(r.get::<_, &str>(0), r.get::<_, i64>(1) as u64);
        removed += 1;
    }
    save_digest(tx, &position.source_kind, &digest)?;
    save_position(
        tx,
        &SyncPosition {
            page_token: String::new(),
            complete: true,
            ..position.clone()
        },
    )?;
    Ok(removed)
}

pub fn remove_source_kind(tx: &mut Transaction<'_>, source_kind: &str) -> Result<u64, StoreError> {
    let removed = tx.execute(
        "DELETE FROM entities WHERE source_kind = $1 AND primary_row",
        &[&source_kind],
    )?;
    tx.execute(
        "DELETE FROM entities WHERE source_kind = $1",
        &[&source_kind],
    )?;
    tx.execute(
        "DELETE FROM sync_position WHERE source_kind = $1",
        &[&source_kind],
    )?;
    tx.execute(
        "DELETE FROM source_digest WHERE source_kind = $1",
        &[&source_kind],
    )?;
    Ok(removed)
}

/// Marks every run still recorded as running interrupted, ended now; returns how many.
pub fn interrupt_unfinished_runs(c: &mut impl GenericClient) -> Result<u64, StoreError> {
    Ok(c.execute(
        "UPDATE sync_runs SET outcome = 'interrupted', ended_at = $1 WHERE outcome = 'running'",
        &[&runtime::now_millis()],
    )?)
}

pub fn start_run(tx: &mut Transaction<'_>, trigger: &str) -> Result<i64, StoreError> {
    interrupt_unfinished_runs(tx)?;
    let row = tx.query_one(
        "INSERT INTO sync_runs (trigger, started_at, outcome) VALUES ($1, $2, 'running')
         RETURNING id",
        &[&trigger, &runtime::now_millis()],
    )?;
    Ok(row.get(0))
}

pub fn finish_run(
    tx: &mut Transaction<'_>,
    id: i64,
    outcome: RunOutcome,
    error: Option<&str>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sync_runs SET outcome = $2, error = $3, ended_at = $4 WHERE id = $1",
        &[&id, &outcome.as_str(), &error, &runtime::now_millis()],
    )?;
    Ok(())
}

fn save_digest(
    tx: &mut Transaction<'_>,
    source_kind: &str,
    digest: &Digest,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO source_digest (source_kind, count, digest) VALUES ($1, $2, $3)
         ON CONFLICT (source_kind) DO UPDATE SET count = excluded.count, digest = excluded.digest",
        &[
            &source_kind,
            &(digest.count() as i64),
            &(digest.value() as i64),
        ],
    )?;
    Ok(())
}

fn stored_revision(
    tx: &mut Transaction<'_>,
    source_kind: &str,
    id: &str,
) -> Result<Option<u64>, StoreError> {
    Ok(tx
        .query_opt(
            "SELECT revision FROM entities WHERE source_kind = $1 AND id = $2 AND primary_row",
            &[&source_kind, &id],
        )?
        .map(|r| r.get::<_, i64>(0) as u64))
}

/// Writes a real-time change unless the Directory holds the same revision or a newer one
/// (see the SQLite engine for why a listing always writes); false when skipped.
fn upsert_entity(
    tx: &mut Transaction<'_>,
    entity: &SourceEntity,
    digest: &mut Digest,
) -> Result<bool, StoreError> {
    let old = stored_revision(tx, &entity.source_kind, &entity.id)?;
    if old.is_some_and(|r| r >= entity.revision) {
        return Ok(false);
    }
    let generation = current_generation(tx, &entity.source_kind)?;
    upsert_rows(tx, &entity.source_kind, &[entity], generation)?;
    if let Some(r) = old {
        digest.remove(&entity.id, r);
    }
    digest.add(&entity.id, entity.revision);
    Ok(true)
}

fn delete_entity(
    tx: &mut Transaction<'_>,
    source_kind: &str,
    id: &str,
    revision: u64,
    digest: &mut Digest,
) -> Result<bool, StoreError> {
    let Some(old) = stored_revision(tx, source_kind, id)? else {
        return Ok(false);
    };
    if old > revision {
        return Ok(false);
    }
    tx.execute(
        "DELETE FROM entities WHERE source_kind = $1 AND id = $2",
        &[&source_kind, &id],
    )?;
    digest.remove(id, old);
    Ok(true)
}

/// The generation of the latest listing of a kind, so that real-time changes are not
/// mistaken for leftovers when that listing finishes.
fn current_generation(tx: &mut Transaction<'_>, source_kind: &str) -> Result<i64, StoreError> {
    Ok(tx
        .query_opt(
            "SELECT generation FROM sync_position WHERE source_kind = $1",
            &[&source_kind],
        )?
        .map_or(0, |r| r.get(0)))
}

pub fn save_watch_position(tx: &mut Transaction<'_>, p: &WatchPosition) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO watch_position (id, cache_id, revision) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET cache_id = excluded.cache_id,
            revision = excluded.revision",
        &[&p.cache_id, &(p.revision as i64)],
    )?;
    Ok(())
}

fn save_position(tx: &mut Transaction<'_>, p: &SyncPosition) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sync_position (source_kind, cache_id, generation, snapshot_revision,
            page_token, done, total, complete)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (source_kind) DO UPDATE SET
            cache_id = excluded.cache_id, generation = excluded.generation,
            snapshot_revision = excluded.snapshot_revision, page_token = excluded.page_token,
            done = excluded.done, total = excluded.total, complete = excluded.complete",
        &[
            &p.source_kind,
            &p.cache_id,
            &p.generation,
            &(p.snapshot_revision as i64),
            &p.page_token,
            &(p.done as i64),
            &(p.total as i64),
            &p.complete,
        ],
    )?;
    Ok(())
}
