//! The event journal: every SiPass event and alarm change, stored durably with a sequence
//! number before it is offered to a role, and kept until the role acknowledges it.
//!
//! It sits in its own SQLite file beside the cache, so that a burst of events never waits
//! behind an entity reload. The SiPass push sequence it has reached is stored in the same
//! transaction as the entries, so a restarted proxy resumes the push channel exactly where
//! its journal ends: nothing lost, nothing twice.
//!
//! Each append is one row holding its whole batch of entries (see `batch`), numbered by
//! the journal sequence of its first and last entry.
//!
//! Nothing slow happens on the path of an append. Acknowledging only moves a mark (entries
//! up to it are never served again); a housekeeping thread (the [`Housekeeper`] worker,
//! which the proxy starts with its other workers) deletes the batches wholly
//! behind the mark, a few at a time between appends, and copies the write-ahead log into the
//! database file with its own connection. Deleting a whole acknowledgement's worth at once
//! held the writer for some 50 ms at 90,000 entries a second, and every event arriving
//! meanwhile waited as long (docs/performance.md).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use runtime::{BlockingWorker, StatusReporter, WorkerContext, now_millis};
use rusqlite::{Connection, OptionalExtension, params};
use store::StoreError;
use store::migrate::{Layout, Migration, Schema};
use tokio::sync::watch;

mod batch;
pub mod roles;

use roles::Roles;

/// The journal's migrations, oldest first. Append only; never edit a released one.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "journal",
    sql: include_str!("migrations/0001_journal.sql"),
}];

/// The event journal as the migration runner knows it.
pub const SCHEMA: Schema = Schema {
    database: "event journal",
    file: "journal.db",
    migrations: MIGRATIONS,
    legacy: legacy_version,
    counts: &[
        ("batches", "SELECT COUNT(*) FROM batches"),
        (
            "entries",
            "SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM batches",
        ),
    ],
};

/// Releases up to 0.1.0 recorded no version: theirs is 1, whether it keeps batches or
/// (before batches) a row per entry, which [`carry_over_entries`] converts on open.
fn legacy_version(layout: &Layout) -> Option<i64> {
    match layout.user_version {
        0 if layout.has(&["meta", "batches"]) || layout.has(&["meta", "entries"]) => Some(1),
        newer if newer > 1 => Some(newer),
        _ => None,
    }
}

/// Batches deleted per housekeeping transaction: a few milliseconds of the writer at most.
const PRUNE_CHUNK: usize = 16;

/// Entries per batch when a journal from before batches is carried over.
const CARRIED_BATCH: usize = 4096;

/// The pause between two housekeeping chunks, so that appends get the writer in between.
const PRUNE_PAUSE: Duration = Duration::from_millis(1);

/// The least time between two warnings that the bound dropped entries.
const DROP_WARNING_EVERY_MS: i64 = 60_000;

/// The least time between two background checkpoints, and how soon the housekeeping
/// thread notices a wake-up or the shutdown.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(100);

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    Event = 1,
    Alarm = 2,
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// SiPass's push sequence number of the message.
    pub source_seq: u64,
    pub entry_type: EntryType,
    pub payload: Vec<u8>,
}

/// A journaled entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub entry_type: i32,
    pub payload: Vec<u8>,
    pub at_ms: i64,
}

/// What can go wrong with the journal file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the event journal {path} cannot be opened: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(
        "the event journal {path} is damaged ({detail}); stop the proxy, move the file aside and start the proxy again: it starts a new journal, and the events the damaged one held that no role had stored are lost"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error("event journal error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// On another schema than this release's (the message says what to do).
    #[error(transparent)]
    Schema(StoreError),
    #[error(
        "the event journal's batch of entries {first} to {last} cannot be read: {reason}; move the journal file aside to start a new one (its unacknowledged events are then lost)"
    )]
    Corrupt {
        first: u64,
        last: u64,
        reason: String,
    },
}

/// The journal: a writer connection for appends and acknowledgements, a reader connection
/// for the Events stream (committed data only, never waiting for a flush), and the
/// housekeeping thread's wake-up.
pub struct Journal {
    writer: Arc<Mutex<Connection>>,
    reader: Mutex<Connection>,
    latest: watch::Sender<u64>,
    /// Entries up to this sequence are acknowledged (or dropped by the bound): never served
    /// again, and deleted in the background. Mirrors the `forgotten` meta value.
    forgotten: AtomicU64,
    max_entries: u64,
    /// Entries dropped by the bound since the last warning, and when that was (Unix ms):
    /// a full journal drops some at every append, but says so once a minute.
    dropped_unreported: AtomicU64,
    last_drop_warning_ms: std::sync::atomic::AtomicI64,
    /// Wakes the housekeeping thread; it stops when this is dropped.
    housekeeping: SyncSender<()>,
    /// The housekeeping worker until [`Journal::housekeeper`] hands it out.
    housekeeper: Mutex<Option<Housekeeper>>,
    /// Disconnects once the housekeeper has ended (or was dropped unstarted): waited for on
    /// drop, so that a journal opened again never meets the old one's thread.
    housekeeper_ended: Mutex<Receiver<()>>,
    /// Set on drop: the housekeeping thread leaves what is left to delete for next time.
    stopping: Arc<AtomicBool>,
    /// This journal's identity, made when the file is created: a role whose position came
    /// from another journal (one moved aside and recreated) reads this one from its start.
    id: String,
    /// Each role's acknowledged position; changed under the writer.
    roles: Mutex<Roles>,
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Release);
        let (stopped, _) = std::sync::mpsc::sync_channel(1);
        drop(std::mem::replace(&mut self.housekeeping, stopped));
        drop(lock(&self.housekeeper).take());
        // Only a disconnection comes: the housekeeper never sends.
        let _ = lock(&self.housekeeper_ended).recv();
    }
}

impl Journal {
    /// Opens (or creates) the journal. `max_entries` bounds what is kept unacknowledged.
    pub fn open(path: &Path, max_entries: u64) -> Result<Self, JournalError> {
        let open_error = |e: rusqlite::Error| JournalError::Open {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let damaged = |detail: String| JournalError::Damaged {
            path: path.to_owned(),
            detail,
        };
        // Decided by SQLite's error codes, never by message text.
        let failed = |e: rusqlite::Error| {
            if store::is_corruption(&e) {
                damaged(e.to_string())
            } else {
                open_error(e)
            }
        };
        let mut writer = connect(path).map_err(failed)?;
        let check: String = writer
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(failed)?;
        if check != "ok" {
            return Err(damaged(check));
        }
        match store::sqlite::migrate::prepare(&mut writer, &SCHEMA, path) {
            Ok(_) => {}
            Err(StoreError::Sql(e)) => return Err(failed(e)),
            Err(e) => return Err(JournalError::Schema(e)),
        }
        let opened = (|| -> Result<_, rusqlite::Error> {
            carry_over_entries(&mut writer)?;
            Ok((connect(path)?, connect(path)?))
        })();
        let (reader, checkpointer) = opened.map_err(open_error)?;
        // Journals written before the forgotten mark existed recorded "acked" instead.
        let forgotten = meta(&writer, "forgotten")?
            .unwrap_or(0)
            .max(meta(&writer, "acked")?.unwrap_or(0));
        let stored: u64 =
            writer.query_row("SELECT COALESCE(MAX(last_seq), 0) FROM batches", [], |r| {
                r.get::<_, i64>(0)
            })? as u64;
        // Sequence numbers are never reused, even when every entry has been acknowledged
        // and deleted.
        let last = stored
            .max(forgotten)
            .max(meta(&writer, "last_seq")?.unwrap_or(0));
        let id = journal_id(&writer)?;
        let roles = Roles::from_meta(role_rows(&writer)?);
        let writer = Arc::new(Mutex::new(writer));
        let (housekeeping, wake) = std::sync::mpsc::sync_channel(1);
        let (ended, housekeeper_ended) = std::sync::mpsc::sync_channel(0);
        let stopping = Arc::new(AtomicBool::new(false));
        let housekeeper = Housekeeper {
            writer: writer.clone(),
            checkpointer,
            wake,
            stopping: stopping.clone(),
            _ended: ended,
        };
        let journal = Journal {
            writer,
            reader: Mutex::new(reader),
            latest: watch::channel(last).0,
            forgotten: AtomicU64::new(forgotten),
            max_entries,
            dropped_unreported: AtomicU64::new(0),
            last_drop_warning_ms: std::sync::atomic::AtomicI64::new(0),
            housekeeping,
            housekeeper: Mutex::new(Some(housekeeper)),
            housekeeper_ended: Mutex::new(housekeeper_ended),
            stopping,
            id,
            roles: Mutex::new(roles),
        };
        journal.wake_housekeeping();
        Ok(journal)
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }

    /// The worker that deletes acknowledged entries and checkpoints the file, to run on a
    /// thread of its own (`Workers::spawn_thread`); `None` once handed out. Until it runs,
    /// nothing is deleted and the write-ahead log only grows.
    pub fn housekeeper(&self) -> Option<Housekeeper> {
        lock(&self.housekeeper).take()
    }

    fn wake_housekeeping(&self) {
        // Full means a wake-up is pending already.
        let _ = self.housekeeping.try_send(());
    }

    /// The SiPass push sequence the journal has reached (0 before the first message).
    pub fn push_sequence(&self) -> Result<u64, JournalError> {
        Ok(meta(&self.writer(), "push_sequence")?.unwrap_or(0))
    }

    /// The last journal sequence number.
    pub fn last(&self) -> u64 {
        *self.latest.borrow()
    }

    /// Follows the last sequence number, to wake readers.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// Appends entries and records the push sequence reached, in one transaction. Entries
    /// must come in increasing push sequence; those the journal already has are skipped (a
    /// replay after a restart). Returns the number appended.
    pub fn append(&self, entries: &[NewEntry], push_sequence: u64) -> Result<u64, JournalError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let reached = meta(&tx, "push_sequence")?.unwrap_or(0);
        let journaled = meta(&tx, "journaled_source")?.unwrap_or(0).max(reached);
        let fresh: Vec<&NewEntry> = entries
            .iter()
            .filter(|e| e.source_seq > journaled)
            .collect();
        let appended = fresh.len() as u64;
        let first = *self.latest.borrow() + 1;
        let seq = first - 1 + appended;
        if appended > 0 {
            tx.prepare_cached(
                "INSERT INTO batches (first_seq, last_seq, at, entries) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                first as i64,
                seq as i64,
                now_millis(),
                batch::encode(fresh)
            ])?;
        }
        set_meta(&tx, "push_sequence", push_sequence.max(reached))?;
        set_meta(&tx, "last_seq", seq)?;
        if let Some(last) = entries.last().filter(|e| e.source_seq > journaled) {
            set_meta(&tx, "journaled_source", last.source_seq)?;
        }
        let dropped = self.bound(&tx, seq)?;
        tx.commit()?;
        // Under the writer, like every change of the mark, so that it only ever grows.
        if let Some((_, mark)) = dropped {
            self.forgotten.fetch_max(mark, Ordering::AcqRel);
        }
        drop(conn);
        if appended > 0 {
            self.latest.send_replace(seq);
            self.wake_housekeeping();
        }
        if let Some((dropped, _)) = dropped {
            self.report_dropped(dropped);
        }
        Ok(appended)
    }

    /// Warns about entries dropped by the bound, at most once a minute, with how many.
    fn report_dropped(&self, dropped: u64) {
        let unreported = self
            .dropped_unreported
            .fetch_add(dropped, Ordering::Relaxed)
            + dropped;
        let now = now_millis();
        let last = self.last_drop_warning_ms.load(Ordering::Relaxed);
        if last != 0 && now - last < DROP_WARNING_EVERY_MS {
            return;
        }
        self.last_drop_warning_ms.store(now, Ordering::Relaxed);
        self.dropped_unreported.store(0, Ordering::Relaxed);
        tracing::warn!(
            dropped = unreported,
            bound = self.max_entries,
            "the event journal is at its bound of {} unacknowledged entries: the oldest {unreported} were dropped{}. Connect a role, or raise --journal-max",
            self.max_entries,
            if last == 0 {
                ""
            } else {
                " in the last minute or so"
            }
        );
    }

    /// Past the bound, the oldest entries are forgotten: a proxy must not fill its disk
    /// because no role has connected for weeks. Returns how many, and the new mark.
    fn bound(&self, tx: &Connection, last: u64) -> Result<Option<(u64, u64)>, JournalError> {
        let forgotten = self.forgotten.load(Ordering::Acquire);
        let depth = last.saturating_sub(forgotten);
        if depth <= self.max_entries {
            return Ok(None);
        }
        let mark = last - self.max_entries;
        set_meta(tx, "forgotten", mark)?;
        Ok(Some((mark - forgotten, mark)))
    }

    /// Up to `limit` entries after `after` that are not forgotten.
    pub fn read_after(&self, after: u64, limit: usize) -> Result<Vec<Entry>, JournalError> {
        let after = after.max(self.forgotten.load(Ordering::Acquire));
        // A client may ask from any number: beyond the end there is nothing yet, and the
        // arithmetic below stays far from u64's and SQLite's i64's limits.
        if after >= self.last() {
            return Ok(Vec::new());
        }
        let conn = lock(&self.reader);
        // From the batch holding `after + 1` on.
        let mut stmt = conn.prepare_cached(
            "SELECT first_seq, last_seq, at, entries FROM batches
             WHERE first_seq >= COALESCE((SELECT MAX(first_seq) FROM batches WHERE first_seq <= ?1), 0)
             ORDER BY first_seq",
        )?;
        let mut rows = stmt.query([(after + 1) as i64])?;
        let mut entries = Vec::new();
        while entries.len() < limit {
            let Some(row) = rows.next()? else { break };
            let first = row.get::<_, i64>(0)? as u64;
            let last = row.get::<_, i64>(1)? as u64;
            let at_ms: i64 = row.get(2)?;
            let corrupt = |reason: String| JournalError::Corrupt {
                first,
                last,
                reason,
            };
            let blob = row
                .get_ref(3)?
                .as_blob()
                .map_err(|e| corrupt(e.to_string()))?;
            let decoded = batch::decode(blob).map_err(|e| corrupt(e.to_string()))?;
            if decoded.len() as u64 != last + 1 - first {
                return Err(corrupt(format!(
                    "it holds {} entries instead of {}",
                    decoded.len(),
                    last + 1 - first
                )));
            }
            let wanted = (first..).zip(decoded).filter(|(seq, _)| *seq > after);
            for (seq, entry) in wanted.take(limit - entries.len()) {
                entries.push(Entry {
                    seq,
                    entry_type: i32::from(entry.entry_type),
                    payload: entry.payload.to_vec(),
                    at_ms,
                });
            }
        }
        Ok(entries)
    }

    /// This journal's identity (16 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A role opens the Events stream after `after`: from now on the journal keeps what it
    /// has not acknowledged (see [`roles`]). `role_id` must have passed [`roles::check_id`].
    pub fn register_role(&self, role_id: &str, after: u64) -> Result<(), JournalError> {
        let mut conn = self.writer();
        let mut roles = lock(&self.roles);
        let changes = roles.register(
            role_id,
            after,
            self.forgotten.load(Ordering::Acquire),
            self.last(),
            now_millis(),
        );
        let tx = conn.transaction()?;
        save_roles(&tx, &changes)?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets what every known role has stored: `role_id` has stored every entry up to
    /// `up_to` (clamped to the journal's end). Durably marked at once, deleted in the
    /// background. Returns how many entries are still kept.
    pub fn acknowledge_for(&self, role_id: &str, up_to: u64) -> Result<u64, JournalError> {
        let mut conn = self.writer();
        let mut roles = lock(&self.roles);
        let last = *self.latest.borrow();
        let now = now_millis();
        let mut changes = roles.acknowledge(role_id, up_to, last, now);
        changes.extend(roles.forget_silent(role_id, now));
        let mark = roles.all_acked().unwrap_or(0);
        let forgotten = self.forgotten.load(Ordering::Acquire).max(mark.min(last));
        let tx = conn.transaction()?;
        save_roles(&tx, &changes)?;
        set_meta(&tx, "forgotten", forgotten)?;
        tx.commit()?;
        self.forgotten.fetch_max(forgotten, Ordering::AcqRel);
        drop(roles);
        drop(conn);
        self.wake_housekeeping();
        Ok(self.depth())
    }

    /// [`Journal::acknowledge_for`] the role without an id (releases up to 0.1.0, tools).
    pub fn acknowledge(&self, up_to: u64) -> Result<u64, JournalError> {
        self.acknowledge_for("", up_to)
    }

    /// How many entries are kept, not yet acknowledged. Entries are numbered without gaps
    /// and forgotten oldest first, so this is a subtraction, never a count.
    pub fn depth(&self) -> u64 {
        self.last()
            .saturating_sub(self.forgotten.load(Ordering::Acquire))
    }

    /// When the oldest entry kept for a role was journaled (Unix ms); `None` when every
    /// entry has been acknowledged. One indexed row: forgotten batches are deleted.
    pub fn oldest_kept_at(&self) -> Result<Option<i64>, JournalError> {
        if self.depth() == 0 {
            return Ok(None);
        }
        let forgotten = self.forgotten.load(Ordering::Acquire);
        let conn = lock(&self.reader);
        let at = conn
            .prepare_cached(
                "SELECT at FROM batches WHERE last_seq > ?1 ORDER BY first_seq LIMIT 1",
            )?
            .query_row([forgotten.min(i64::MAX as u64) as i64], |r| r.get(0))
            .optional()?;
        Ok(at)
    }
}

/// A running proxy's journal file, opened read-only by another process (the bench): what
/// it has committed, read through the journal's own bookkeeping.
pub struct CommittedJournal {
    conn: Connection,
}

impl CommittedJournal {
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let opened = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|conn| {
                conn.busy_timeout(Duration::from_secs(5))?;
                Ok(conn)
            });
        let conn = opened.map_err(|e| JournalError::Open {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(CommittedJournal { conn })
    }

    /// The last journal sequence number committed.
    pub fn last(&self) -> Result<u64, JournalError> {
        Ok(meta(&self.conn, "last_seq")?.unwrap_or(0))
    }

    /// The SiPass push sequence up to which every event and alarm change is committed
    /// (including those journaled ahead of an entity refresh still under way).
    pub fn push_sequence_reached(&self) -> Result<u64, JournalError> {
        let recorded = meta(&self.conn, "push_sequence")?.unwrap_or(0);
        Ok(recorded.max(meta(&self.conn, "journaled_source")?.unwrap_or(0)))
    }
}

fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // FULL: an event acknowledged to nobody yet must survive a power cut too. Checkpoints
    // are the housekeeping thread's, never an append's.
    // The log file is cut back to 64 MiB when it starts over.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;
         PRAGMA journal_size_limit = 67108864;",
    )?;
    Ok(conn)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A statement either completed or rolled back before a panic; the connection is usable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The journal's housekeeping: at each wake-up, deletes forgotten batches a chunk at a time,
/// then copies the write-ahead log into the database file (passive: it never blocks the
/// writer; what a reader still uses is copied next time). Wake-ups within
/// `CHECKPOINT_PAUSE` of a checkpoint are gathered into the next one. Runs until the
/// shutdown or until the journal is dropped.
pub struct Housekeeper {
    writer: Arc<Mutex<Connection>>,
    checkpointer: Connection,
    wake: Receiver<()>,
    stopping: Arc<AtomicBool>,
    /// Dropped when the housekeeper ends, which is what a dropped journal waits for.
    _ended: SyncSender<()>,
}

impl BlockingWorker for Housekeeper {
    fn name(&self) -> String {
        "journal-housekeeping".into()
    }

    fn run(self, ctx: WorkerContext) -> Result<(), String> {
        let stopping = || self.stopping.load(Ordering::Acquire) || ctx.shutdown.is_triggered();
        ctx.status.idle(WAITING);
        loop {
            match self.wake.try_recv() {
                Ok(()) => self.tidy(&ctx.status, &stopping),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => break,
            }
            if ctx.shutdown.sleep(CHECKPOINT_PAUSE) {
                break;
            }
        }
        // What the last appends wrote, copied before the proxy exits (passive: never waiting
        // for a reader; what is left is copied at the next start).
        let _ = self
            .checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        Ok(())
    }
}

/// What the housekeeper says while it waits.
const WAITING: &str = "waiting for acknowledgements and appends";

impl Housekeeper {
    /// One round: deletes what is forgotten, then checkpoints. A failure is retried at the
    /// next wake-up.
    fn tidy(&self, status: &StatusReporter, stopping: &dyn Fn() -> bool) {
        status.busy("deleting acknowledged entries");
        let pruned = prune(&self.writer, stopping).inspect_err(|e| {
            tracing::warn!(
                "the event journal could not delete acknowledged entries: {e}; retrying later"
            );
            status.retrying(format!("cannot delete acknowledged entries: {e}"));
        });
        status.busy("checkpointing");
        let checkpointed = checkpoint(&self.writer, &self.checkpointer).inspect_err(|e| {
            tracing::warn!("the event journal could not be checkpointed: {e}; retrying later");
            status.retrying(format!("cannot checkpoint: {e}"));
        });
        if pruned.is_ok() && checkpointed.is_ok() {
            status.idle(WAITING);
        }
    }
}

/// Copies the write-ahead log into the database file: without the writer, and once the log
/// has grown to `RESTART_PAGES`, the last commits while holding it, so that the next append
/// starts the log over. Without that second step, appends every few milliseconds keep every
/// checkpoint a little behind and the log grows without bound (800 MB in 20 s at 90,000
/// entries a second); taking it at every copy (ten times a second) made appends wait for a
/// disk flush each time, the events' latency spikes.
fn checkpoint(writer: &Mutex<Connection>, checkpointer: &Connection) -> rusqlite::Result<()> {
    store::sqlite::checkpoint::checkpoint(checkpointer, "event journal", writer, RESTART_PAGES)
}

/// A log this long (pages of 4 KiB: 32 MiB) is finished under the writer.
const RESTART_PAGES: i64 = 8192;

/// Deletes every wholly forgotten batch, a chunk per transaction, pausing between chunks so that
/// appends get the writer; stops early when `stopping` says so.
fn prune(writer: &Mutex<Connection>, stopping: &dyn Fn() -> bool) -> rusqlite::Result<()> {
    while !stopping() {
        // The writer is released before the pause (a guard inside the `if` would be held
        // through it).
        let pruned = prune_chunk(&mut lock(writer))?;
        if !pruned {
            break;
        }
        std::thread::sleep(PRUNE_PAUSE);
    }
    Ok(())
}

/// Deletes up to `PRUNE_CHUNK` batches whose entries are all forgotten; false when there
/// were none.
fn prune_chunk(conn: &mut Connection) -> Result<bool, rusqlite::Error> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let forgotten = meta(&tx, "forgotten")?.unwrap_or(0);
    let mut deleted = 0;
    while deleted < PRUNE_CHUNK {
        let oldest: Option<(i64, i64)> = tx
            .prepare_cached("SELECT first_seq, last_seq FROM batches ORDER BY first_seq LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match oldest {
            Some((first, last)) if last as u64 <= forgotten => {
                tx.prepare_cached("DELETE FROM batches WHERE first_seq = ?1")?
                    .execute([first])?;
                deleted += 1;
            }
            _ => break,
        }
    }
    tx.commit()?;
    Ok(deleted > 0)
}

/// Journals written before batches kept a row per entry, in a table `entries`: their
/// entries move into batches (runs of consecutive sequence numbers journaled at the same
/// moment) in one transaction, so that an upgrade loses no event and serves none twice.
fn carry_over_entries(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS batches (first_seq INTEGER PRIMARY KEY,
            last_seq INTEGER NOT NULL, at INTEGER NOT NULL, entries BLOB NOT NULL)",
    )?;
    {
        let mut read =
            tx.prepare("SELECT seq, source_seq, type, payload, at FROM entries ORDER BY seq")?;
        let mut insert = tx.prepare(
            "INSERT INTO batches (first_seq, last_seq, at, entries) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut rows = read.query([])?;
        let mut run: Vec<NewEntry> = Vec::new();
        let (mut first, mut last, mut at) = (0i64, 0i64, 0i64);
        let mut flush = |run: &mut Vec<NewEntry>, first: i64, last: i64, at: i64| {
            if run.is_empty() {
                return Ok(());
            }
            insert.execute(params![first, last, at, batch::encode(run.iter())])?;
            run.clear();
            Ok::<(), rusqlite::Error>(())
        };
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let row_at: i64 = row.get(4)?;
            if !run.is_empty() && (seq != last + 1 || row_at != at || run.len() >= CARRIED_BATCH) {
                flush(&mut run, first, last, at)?;
            }
            if run.is_empty() {
                (first, at) = (seq, row_at);
            }
            last = seq;
            run.push(NewEntry {
                source_seq: row.get::<_, i64>(1)? as u64,
                entry_type: if row.get::<_, i64>(2)? == EntryType::Alarm as i64 {
                    EntryType::Alarm
                } else {
                    EntryType::Event
                },
                payload: row.get(3)?,
            });
        }
        flush(&mut run, first, last, at)?;
    }
    // The old bound deleted entries without recording it: whatever precedes the first kept
    // entry was acknowledged or dropped, and is marked forgotten so that depth stays exact.
    let first_kept: Option<i64> = tx.query_row("SELECT MIN(seq) FROM entries", [], |r| r.get(0))?;
    let before_first = match first_kept {
        Some(first) => first as u64 - 1,
        None => meta(&tx, "last_seq")?.unwrap_or(0),
    };
    let forgotten = before_first
        .max(meta(&tx, "acked")?.unwrap_or(0))
        .max(meta(&tx, "forgotten")?.unwrap_or(0));
    set_meta(&tx, "forgotten", forgotten)?;
    tx.execute_batch("DROP TABLE entries")?;
    tx.commit()
}

/// The journal's identity, made (and recorded) when there is none yet.
fn journal_id(conn: &Connection) -> Result<String, rusqlite::Error> {
    let id = match meta(conn, "journal_id")? {
        Some(id) => id,
        None => {
            let id = u64::from_str_radix(&store::sqlite::random_id(), 16).unwrap_or(1);
            set_meta(conn, "journal_id", id)?;
            id
        }
    };
    Ok(format!("{id:016x}"))
}

/// The `meta` rows that record roles' acknowledgements.
fn role_rows(conn: &Connection) -> Result<Vec<(String, u64)>, rusqlite::Error> {
    let mut stmt =
        conn.prepare("SELECT key, value FROM meta WHERE key LIKE 'role\\_%' ESCAPE '\\'")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn save_roles(conn: &Connection, changes: &[roles::Change]) -> Result<(), rusqlite::Error> {
    for change in changes {
        match change {
            roles::Change::Set(id, ack) => {
                set_meta(conn, &format!("{}{id}", roles::ACKED_PREFIX), ack.acked)?;
                set_meta(
                    conn,
                    &format!("{}{id}", roles::SEEN_PREFIX),
                    ack.seen_ms as u64,
                )?;
            }
            roles::Change::Forget(id) => {
                conn.prepare_cached("DELETE FROM meta WHERE key IN (?1, ?2)")?
                    .execute([
                        format!("{}{id}", roles::ACKED_PREFIX),
                        format!("{}{id}", roles::SEEN_PREFIX),
                    ])?;
            }
        }
    }
    Ok(())
}

fn meta(conn: &Connection, key: &str) -> Result<Option<u64>, rusqlite::Error> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get::<_, i64>(0))
        .optional()
        .map(|v| v.map(|v| v as u64))
}

fn set_meta(conn: &Connection, key: &str, value: u64) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value as i64])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::{Shutdown, WorkerState, Workers};

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("journal.db")
    }

    fn entry(source_seq: u64) -> NewEntry {
        NewEntry {
            source_seq,
            entry_type: EntryType::Event,
            payload: format!("{{\"Sequence\":{source_seq}}}").into_bytes(),
        }
    }

    #[test]
    fn entries_survive_a_restart_and_replays_are_not_journaled_twice() {
        let path = temp("restart");
        {
            let journal = Journal::open(&path, 100).unwrap();
            assert_eq!(journal.append(&[entry(1), entry(2)], 2).unwrap(), 2);
        }
        let journal = Journal::open(&path, 100).unwrap();
        assert_eq!(journal.push_sequence().unwrap(), 2);
        assert_eq!(
            journal.append(&[entry(2), entry(3)], 3).unwrap(),
            1,
            "2 was journaled already"
        );
        let seqs: Vec<_> = journal
            .read_after(0, 10)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
    }

    #[test]
    fn events_journaled_ahead_of_the_recorded_push_sequence_are_not_journaled_again() {
        let journal = Journal::open(&temp("ahead"), 100).unwrap();
        // Events 2 and 3 journaled while an entity message (1) was still being refreshed.
        journal.append(&[entry(2), entry(3)], 0).unwrap();
        assert_eq!(journal.push_sequence().unwrap(), 0);
        assert_eq!(
            journal.append(&[entry(2), entry(3), entry(4)], 4).unwrap(),
            1
        );
        assert_eq!(journal.read_after(0, 10).unwrap().len(), 3);
    }

    #[test]
    fn reading_after_the_end_or_near_the_integer_limits_returns_nothing() {
        let path = temp("far");
        let journal = Journal::open(&path, 100).unwrap();
        journal.append(&[entry(1), entry(2)], 2).unwrap();
        for after in [
            2,
            3,
            i64::MAX as u64,
            i64::MAX as u64 + 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert!(
                journal.read_after(after, 10).unwrap().is_empty(),
                "after {after}"
            );
        }
        assert_eq!(journal.read_after(0, 10).unwrap().len(), 2);
    }

    #[test]
    fn acknowledged_entries_go_and_sequence_numbers_are_never_reused() {
        let path = temp("ack");
        {
            let journal = Journal::open(&path, 100).unwrap();
            journal.append(&[entry(1), entry(2), entry(3)], 3).unwrap();
            assert_eq!(journal.acknowledge(1).unwrap(), 2);
            assert_eq!(journal.depth(), 2);
            assert_eq!(journal.acknowledge(3).unwrap(), 0);
        }
        let journal = Journal::open(&path, 100).unwrap();
        journal.append(&[entry(4)], 4).unwrap();
        assert_eq!(journal.read_after(0, 10).unwrap()[0].seq, 4);
    }

    #[test]
    fn each_role_keeps_what_it_has_not_acknowledged_across_a_restart() {
        let path = temp("roles");
        let id;
        {
            let journal = Journal::open(&path, 100).unwrap();
            id = journal.id().to_owned();
            journal
                .append(&(1..=5).map(entry).collect::<Vec<_>>(), 5)
                .unwrap();
            journal.register_role("a", 0).unwrap();
            journal.register_role("b", 0).unwrap();
            assert_eq!(journal.acknowledge_for("a", 4).unwrap(), 5, "b has none");
            assert_eq!(journal.acknowledge_for("b", 2).unwrap(), 3);
        }
        let journal = Journal::open(&path, 100).unwrap();
        assert_eq!(journal.id(), id, "the identity is kept with the file");
        assert_eq!(journal.read_after(0, 10).unwrap()[0].seq, 3);
        assert_eq!(
            journal.acknowledge_for("b", u64::MAX).unwrap(),
            1,
            "a's 4 holds 5 back; a client's number is clamped to the end"
        );
        std::fs::remove_file(&path).unwrap();
        drop(journal);
        let _ = std::fs::remove_file(path.with_extension("db-wal"));
        let _ = std::fs::remove_file(path.with_extension("db-shm"));
        let recreated = Journal::open(&path, 100).unwrap();
        assert_ne!(recreated.id(), id, "a recreated journal is another journal");
    }

    #[test]
    fn the_bound_drops_the_oldest() {
        let journal = Journal::open(&temp("bound"), 2).unwrap();
        journal.append(&[entry(1), entry(2), entry(3)], 3).unwrap();
        let seqs: Vec<_> = journal
            .read_after(0, 10)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [2, 3]);
        assert_eq!(journal.depth(), 2);
    }

    #[test]
    fn acknowledged_entries_are_deleted_in_the_background() {
        let path = temp("prune");
        let journal = Journal::open(&path, 100_000).unwrap();
        let shutdown = Shutdown::new();
        let housekeeper = journal.housekeeper().unwrap();
        Workers::new().spawn_thread(housekeeper, &shutdown).unwrap();
        for first in (1..=10_000).step_by(1_000) {
            let entries: Vec<_> = (first..first + 1_000).map(entry).collect();
            journal.append(&entries, first + 999).unwrap();
        }
        // A batch goes once all of it is acknowledged: 8,001..9,000 goes, 9,001.. stays.
        assert_eq!(journal.acknowledge(9_500).unwrap(), 500);
        assert_eq!(journal.read_after(0, 1).unwrap()[0].seq, 9_501);
        let stored = || -> i64 {
            let conn = Connection::open(&path).unwrap();
            conn.query_row(
                "SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM batches",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while stored() != 1_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "acknowledged entries still stored: {}",
                stored()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn the_housekeeper_is_handed_out_once_and_stops_at_the_shutdown() {
        let journal = Journal::open(&temp("housekeeper"), 100).unwrap();
        let (workers, shutdown) = (Workers::new(), Shutdown::new());
        let thread = workers
            .spawn_thread(journal.housekeeper().unwrap(), &shutdown)
            .unwrap();
        assert!(journal.housekeeper().is_none());
        journal.append(&[entry(1)], 1).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while workers.statuses()[0].state != WorkerState::Idle {
            assert!(std::time::Instant::now() < deadline, "never idle");
            std::thread::sleep(Duration::from_millis(10));
        }
        shutdown.trigger();
        thread.join().unwrap();
        let status = &workers.statuses()[0];
        assert_eq!(
            (status.name.as_str(), status.state, status.errors),
            ("journal-housekeeping", WorkerState::Stopped, 0)
        );
        // The journal still works without its housekeeper; its drop does not wait for it.
        assert_eq!(journal.acknowledge(1).unwrap(), 0);
    }

    #[test]
    fn reads_start_inside_a_batch_and_stop_at_the_limit() {
        let journal = Journal::open(&temp("ranges"), 100).unwrap();
        journal.append(&[entry(1), entry(2), entry(3)], 3).unwrap();
        journal.append(&[entry(4), entry(5)], 5).unwrap();
        let seqs = |after, limit| -> Vec<u64> {
            journal
                .read_after(after, limit)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect()
        };
        assert_eq!(seqs(1, 10), [2, 3, 4, 5]);
        assert_eq!(seqs(2, 2), [3, 4]);
        assert_eq!(seqs(3, 10), [4, 5]);
        assert!(seqs(5, 10).is_empty());
        let first = &journal.read_after(3, 1).unwrap()[0];
        assert_eq!(first.payload, entry(4).payload);
        assert_eq!(first.entry_type, EntryType::Event as i32);
    }

    #[test]
    fn a_journal_from_before_batches_keeps_its_entries_and_numbers() {
        let path = temp("carry-over");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE entries (seq INTEGER PRIMARY KEY, source_seq INTEGER NOT NULL,
                    type INTEGER NOT NULL, payload BLOB NOT NULL, at INTEGER NOT NULL);
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 INSERT INTO entries VALUES (5, 50, 1, x'7b7d', 1000), (6, 51, 2, x'5b5d', 1000),
                    (7, 52, 1, x'31', 2000);
                 -- 3 and 4 were dropped by the old bound, which did not move 'acked'.
                 INSERT INTO meta VALUES ('acked', 2), ('push_sequence', 52), ('last_seq', 7),
                    ('journaled_source', 52);",
            )
            .unwrap();
        }
        let journal = Journal::open(&path, 100).unwrap();
        let entries = journal.read_after(0, 10).unwrap();
        let got: Vec<_> = entries
            .iter()
            .map(|e| (e.seq, e.entry_type, e.payload.as_slice(), e.at_ms))
            .collect();
        assert_eq!(
            got,
            [
                (5, 1, b"{}".as_slice(), 1000),
                (6, 2, b"[]".as_slice(), 1000),
                (7, 1, b"1".as_slice(), 2000)
            ]
        );
        assert_eq!(journal.push_sequence().unwrap(), 52);
        assert_eq!(journal.append(&[entry(52), entry(53)], 53).unwrap(), 1);
        assert_eq!(journal.read_after(7, 10).unwrap()[0].seq, 8);
        assert_eq!(journal.depth(), 4);
    }

    #[test]
    fn the_release_0_1_0_journal_opens_unchanged_with_every_entry() {
        let path = temp("release");
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/0.1.0/journal.db");
        std::fs::copy(fixture, &path).unwrap();
        let status = store::sqlite::migrate::describe(&path, &SCHEMA).unwrap();
        assert_eq!((status.schema.found, status.schema.expected), (1, 1));
        assert!(
            status
                .counts
                .iter()
                .any(|c| c.table == "entries" && c.rows == 10)
        );
        let journal = Journal::open(&path, 100).unwrap();
        assert_eq!(journal.push_sequence().unwrap(), 10);
        assert_eq!(journal.last(), 10);
        assert_eq!(journal.depth(), 10);
        let seqs: Vec<_> = journal
            .read_after(0, 100)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
        drop(journal);
        let journal = Journal::open(&path, 100).unwrap();
        assert_eq!(journal.read_after(0, 100).unwrap().len(), 10);
    }

    #[test]
    fn a_journal_from_a_newer_release_is_refused_naming_both_versions() {
        let path = temp("newer");
        drop(Journal::open(&path, 100).unwrap());
        static NEXT: &[Migration] = &[
            MIGRATIONS[0],
            Migration {
                version: 2,
                name: "next",
                sql: "CREATE TABLE next (x);",
            },
        ];
        let next = Schema {
            migrations: NEXT,
            ..SCHEMA
        };
        store::sqlite::migrate::update(&path, &next, &mut |_| {}).unwrap();
        let err = Journal::open(&path, 100).err().unwrap().to_string();
        assert!(
            err.contains("version 2") && err.contains("version 1"),
            "{err}"
        );
    }

    #[test]
    fn a_damaged_batch_is_named_and_not_misread() {
        let path = temp("damaged");
        let journal = Journal::open(&path, 100).unwrap();
        journal.append(&[entry(1), entry(2)], 2).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE batches SET entries = x'01ff' WHERE first_seq = 1",
                [],
            )
            .unwrap();
        let error = journal.read_after(0, 10).unwrap_err().to_string();
        assert!(
            error.contains("batch of entries 1 to 2") && error.contains("ends in the middle"),
            "{error}"
        );
    }

    #[test]
    fn a_damaged_journal_file_is_refused_at_open_naming_it() {
        let path = temp("damaged-file");
        {
            let journal = Journal::open(&path, 1_000_000).unwrap();
            for n in 0..200u64 {
                let batch: Vec<NewEntry> = (1..=20)
                    .map(|i| NewEntry {
                        source_seq: n * 20 + i,
                        entry_type: EntryType::Event,
                        payload: vec![b'x'; 1000],
                    })
                    .collect();
                journal.append(&batch, n * 20 + 20).unwrap();
            }
        }
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 64 * 1024, "{} bytes", bytes.len());
        let middle = bytes.len() / 2;
        bytes[middle..middle + 12 * 1024].fill(0x5a);
        std::fs::write(&path, bytes).unwrap();
        let error = Journal::open(&path, 1_000_000).err().unwrap();
        assert!(matches!(error, JournalError::Damaged { .. }), "{error}");
        let message = error.to_string();
        assert!(
            message.contains(&path.display().to_string())
                && message.contains("move the file aside"),
            "{message}"
        );
    }

    #[test]
    fn the_oldest_unacknowledged_entry_is_dated_until_it_is_acknowledged() {
        let path = temp("oldest");
        let journal = Journal::open(&path, 100).unwrap();
        assert_eq!(journal.oldest_kept_at().unwrap(), None);
        let before = now_millis();
        journal.append(&[entry(1), entry(2)], 2).unwrap();
        journal.append(&[entry(3)], 3).unwrap();
        let at = journal.oldest_kept_at().unwrap().unwrap();
        assert!(at >= before && at <= now_millis(), "{at}");
        journal.acknowledge(3).unwrap();
        assert_eq!(journal.oldest_kept_at().unwrap(), None);
    }
}
