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

/// Events per transaction for the events yardstick (the same batch size as the rows').
const EVENT_BATCH: usize = 10_000;

/// The machine's limit for the role's stored events: the rows the role stored (SiPass's id
/// and every other column's bytes, read back from the plugin database with plain SQL)
/// inserted into an empty plain table with an integer rowid and a unique text id, in
/// batches of 10,000, WAL, `synchronous=FULL` as the plugin database commits, in a file in
/// `dir`. Only the writes are timed.
pub fn raw_sqlite_events_per_sec(dir: &Path, plugin_db: &Path) -> Result<f64> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let path = dir.join("raw-events.db");
    let source = Connection::open_with_flags(plugin_db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot read {}", plugin_db.display()))?;
    let mut target =
        Connection::open(&path).with_context(|| format!("cannot create {}", path.display()))?;
    target.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         CREATE TABLE rows (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, payload BLOB NOT NULL);",
    )?;
    // Every column but SiPass's id, as the bytes the role wrote, one after another.
    let mut read = source.prepare(
        "SELECT id, sipass_id, CAST(journal_id || journal_seq || occurred_at || occurred_ms
                || journaled_ms || sipass_type || native_events || category || known_type
                || message || entities || payload AS BLOB)
         FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let mut writing = Duration::ZERO;
    let mut rows = 0u64;
    let mut after = 0i64;
    loop {
        let batch: Vec<(i64, String, Vec<u8>)> = read
            .query_map(params![after, EVENT_BATCH as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        let Some((last, _, _)) = batch.last() else {
            break;
        };
        after = *last;
        rows += batch.len() as u64;
        let started = Instant::now();
        let tx = target.transaction()?;
        {
            // SiPass's ids may repeat across journals; the yardstick keeps the first.
            let mut stmt =
                tx.prepare_cached("INSERT OR IGNORE INTO rows (id, payload) VALUES (?1, ?2)")?;
            for (_, id, payload) in &batch {
                stmt.execute(params![id, payload])?;
            }
        }
        tx.commit()?;
        writing += started.elapsed();
    }
    drop(target);
    let _ = std::fs::remove_dir_all(dir);
    Ok(rows as f64 / writing.as_secs_f64().max(1e-9))
}

/// The disk's flushes, measured alone: what every durable commit waits for.
#[derive(Debug, Clone, Copy)]
pub struct DiskFlushes {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Flushes that took over 100 ms: each one a stall of everything waiting on a commit.
    pub over_100ms: usize,
}

/// Writes 64 KiB and flushes it (`fdatasync`, as SQLite does at a durable commit), every
/// 5 ms for `secs` seconds, in a file in `dir`, nothing else of ours running: the yardstick
/// of the latency figures, which wait on such flushes (the event journal flushes every
/// commit). Plain std, no project code.
pub fn disk_flushes(dir: &Path, secs: u64) -> Result<DiskFlushes> {
    use std::io::Write;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let path = dir.join("flush.dat");
    let mut file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let block: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 + 13) as u8).collect();
    let until = Instant::now() + Duration::from_secs(secs);
    let mut took = Vec::new();
    let mut written = 0usize;
    while Instant::now() < until {
        if written >= 64 << 20 {
            use std::io::Seek;
            file.rewind()?;
            written = 0;
        }
        file.write_all(&block)?;
        written += block.len();
        let started = Instant::now();
        file.sync_data()?;
        took.push(started.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(file);
    let _ = std::fs::remove_dir_all(dir);
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize];
    Ok(DiskFlushes {
        count: took.len(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: took.last().copied().unwrap_or(0.0),
        over_100ms: took.iter().filter(|ms| **ms > 100.0).count(),
    })
}
