//! Checkpoints off the writer's path: a thread of its own copies the write-ahead log into the
//! database file, so that no commit pays for it.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the log past 1,000 pages,
//! on the thread that commits: 7 % of the role's CPU while it stored events, all of it on
//! the thread everything else waits for. Here the writer's connection has automatic
//! checkpoints off and this thread copies the log every few milliseconds, passively (never
//! waiting for the writer). A passive checkpoint cannot finish while commits keep coming, so
//! once the log is long the last commit or two are copied while holding the writer, which
//! lets the next commit start the log over: the log stays bounded.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::StoreError;

/// How often the log is copied.
const EVERY: Duration = Duration::from_millis(50);
/// A log this long (pages) is finished under the writer, so that it starts over (16 MiB of
/// the plugin database's 4 KiB pages, 64 MiB of the Directory's 16 KiB ones).
pub const RESTART_PAGES: i64 = 4096;

/// The checkpointing thread of one database; stopped (after a last copy) when dropped.
pub struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing `path`, whose writer (opened with automatic checkpoints off)
    /// commits only while holding `writer`.
    pub fn start<W: Send + 'static>(
        path: &Path,
        database: &'static str,
        writer: Arc<Mutex<W>>,
    ) -> Result<Self, StoreError> {
        let own = super::open_connection(path, database, "PRAGMA wal_autocheckpoint = 0;")?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&own, database, &writer, &stopping))
            .map_err(|e| StoreError::Open {
                database,
                path: path.to_owned(),
                reason: format!("cannot start its checkpointing thread: {e}"),
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Copies the log every `EVERY` until stopped, then once more.
fn run<W>(
    own: &Connection,
    database: &'static str,
    writer: &Mutex<W>,
    stop: &(Mutex<bool>, Condvar),
) {
    let (stopped, wake) = stop;
    loop {
        if let Err(e) = checkpoint(own, database, writer, RESTART_PAGES) {
            tracing::warn!("a checkpoint failed: {e}; trying again shortly");
        }
        let guard = stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = wake
            .wait_timeout_while(guard, EVERY, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        if *guard {
            break;
        }
    }
    let _ = passive(own);
}

/// One copy of the log of `database` with its own connection `own`: passive, then finished
/// while holding `writer` once the log has reached `restart_pages`, so that the next commit
/// starts it over. Holding the writer on every copy would make each commit behind it wait
/// for the disk's flush; never holding it lets the log grow without bound while commits
/// keep coming.
pub fn checkpoint<W>(
    own: &Connection,
    database: &'static str,
    writer: &Mutex<W>,
    restart_pages: i64,
) -> rusqlite::Result<()> {
    let log_pages = passive(own)?;
    if log_pages >= restart_pages {
        let _commits_wait = writer.lock().unwrap_or_else(|e| e.into_inner());
        let started = std::time::Instant::now();
        passive(own)?;
        // Every commit waits meanwhile: a long one is a stall seen by everything behind the
        // writer (the bench's real-time p99), and is said so.
        let held = started.elapsed();
        if held >= HELD_TOO_LONG {
            tracing::warn!(
                database,
                held_ms = held.as_millis() as u64,
                log_pages,
                "a checkpoint held the writer: commits waited for it (the disk was slow to take the copy)"
            );
        }
    }
    Ok(())
}

/// How long a checkpoint may hold the writer before it is logged.
const HELD_TOO_LONG: Duration = Duration::from_millis(100);

/// A passive checkpoint; the log's length in pages (-1 when the file is not in WAL mode).
fn passive(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(name: &str) -> (std::path::PathBuf, Arc<Mutex<Connection>>) {
        let dir =
            std::env::temp_dir().join(format!("store-checkpoint-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let writer = super::super::open_connection(
            &path,
            "test database",
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;",
        )
        .unwrap();
        writer
            .execute_batch("CREATE TABLE rows (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
            .unwrap();
        (path, Arc::new(Mutex::new(writer)))
    }

    /// Commits `rows` rows of 1 KiB, 100 a transaction, from `first` on.
    fn commit_rows(writer: &Mutex<Connection>, first: i64, rows: i64) {
        for batch in (first..first + rows).step_by(100) {
            let mut conn = writer.lock().unwrap();
            let tx = conn.transaction().unwrap();
            for id in batch..(batch + 100).min(first + rows) {
                tx.execute(
                    "INSERT INTO rows (id, payload) VALUES (?1, zeroblob(1024))",
                    [id],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
    }

    /// Pages in the write-ahead log now, read without copying anything.
    fn log_pages(path: &Path) -> i64 {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let bytes = std::fs::read(wal).unwrap_or_default();
        // Each frame is a 24-byte header and a 4 KiB page after the 32-byte file header;
        // frames of an older round of the log are told apart by their salt.
        if bytes.len() < 32 {
            return 0;
        }
        let salt = &bytes[16..24];
        bytes[32..]
            .chunks_exact(24 + 4096)
            .take_while(|frame| &frame[8..16] == salt)
            .count() as i64
    }

    #[test]
    fn a_long_log_is_finished_under_the_writer_so_that_the_next_commit_starts_it_over() {
        let (path, writer) = database("restart");
        let own = super::super::open_connection(&path, "test database", "").unwrap();
        commit_rows(&writer, 0, 20_000);
        assert!(log_pages(&path) >= RESTART_PAGES, "{}", log_pages(&path));
        checkpoint(&own, "test database", &writer, RESTART_PAGES).unwrap();
        commit_rows(&writer, 20_000, 100);
        let after = log_pages(&path);
        assert!(after < 100, "the log did not start over: {after} pages");
        let count: i64 = own
            .query_row("SELECT COUNT(*) FROM rows", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 20_100);
    }

    #[test]
    fn the_thread_copies_the_log_into_the_file_without_the_writer_asking() {
        let (path, writer) = database("thread");
        let checkpointer = Checkpointer::start(&path, "test database", writer.clone()).unwrap();
        commit_rows(&writer, 0, 10_000);
        // Automatic checkpoints are off: only the thread makes the file itself grow.
        let copied = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::metadata(&path).map_or(0, |m| m.len()) > 10_000 * 1024
        });
        assert!(copied, "the database file did not receive the rows");
        drop(checkpointer);
        drop(writer);
        let reopened = Connection::open(&path).unwrap();
        let count: i64 = reopened
            .query_row("SELECT COUNT(*) FROM rows", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 10_000);
    }
}
