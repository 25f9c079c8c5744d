//! The machine's raw limit for the synchronization's rows (SPEC §5): plain rusqlite and no
//! project code, so that a slow schema or write path shows as a low ratio instead of
//! lowering its own yardstick.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags, params};

/// Rows per transaction, as SPEC §5 sets the yardstick.
const BATCH: usize = 10_000;

/// The Directory kinds whose rows a full synchronization is made of (nearly all of them).
const KINDS: [&str; 2] = ["cardholder", "credential"];

/// The same rows as the synchronization wrote (ids and payload bytes read back from the
/// synchronized Directory file with plain SQL), upserted into an empty plain table with an
/// integer rowid and a unique text id, in batches of 10,000, WAL, `synchronous=NORMAL`, in
/// a file in `dir` (beside the Directory). Only the writes are timed.
pub fn raw_sqlite_rows_per_sec(dir: &Path, directory_db: &Path) -> Result<f64> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let path = dir.join("raw.db");
    let source = Connection::open_with_flags(directory_db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot read {}", directory_db.display()))?;
    let mut target =
        Connection::open(&path).with_context(|| format!("cannot create {}", path.display()))?;
    target.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         CREATE TABLE rows (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, payload BLOB NOT NULL);",
    )?;
    let mut read = source.prepare(
        "SELECT id, fields FROM entities WHERE kind = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    )?;
    let mut writing = Duration::ZERO;
    let mut rows = 0u64;
    for kind in KINDS {
        let mut after = String::new();
        loop {
            let batch: Vec<(String, Vec<u8>)> = read
                .query_map(params![kind, after, BATCH as i64], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?.into_bytes()))
                })?
                .collect::<Result<_, _>>()?;
            let Some((last, _)) = batch.last() else { break };
            after = last.clone();
            rows += batch.len() as u64;
            let started = Instant::now();
            upsert(&mut target, &batch)?;
            writing += started.elapsed();
        }
    }
    drop(target);
    let _ = std::fs::remove_dir_all(dir);
    Ok(rows as f64 / writing.as_secs_f64().max(1e-9))
}

/// One batch in one transaction, through one prepared statement.
fn upsert(conn: &mut Connection, batch: &[(String, Vec<u8>)]) -> Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO rows (id, payload) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET payload = excluded.payload",
        )?;
        for (id, payload) in batch {
            stmt.execute(params![id, payload])?;
        }
    }
    tx.commit()?;
    Ok(())
}
