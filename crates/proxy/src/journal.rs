//! The event journal: every SiPass event and alarm change, stored durably with a sequence
//! number before it is offered to a role, and kept until the role acknowledges it.
//!
//! It sits in its own SQLite file beside the cache, so that a burst of events never waits
//! behind an entity reload. The SiPass push sequence it has reached is stored in the same
//! transaction as the entries, so a restarted proxy resumes the push channel exactly where
//! its journal ends: nothing lost, nothing twice.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::watch;

use crate::cache::now_millis;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    seq         INTEGER PRIMARY KEY,
    source_seq  INTEGER NOT NULL,
    type        INTEGER NOT NULL,
    payload     BLOB    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

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
    #[error("event journal error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// The journal.
pub struct Journal {
    conn: Mutex<Connection>,
    latest: watch::Sender<u64>,
    max_entries: u64,
}

impl Journal {
    /// Opens (or creates) the journal. `max_entries` bounds what is kept unacknowledged.
    pub fn open(path: &Path, max_entries: u64) -> Result<Self, JournalError> {
        let open = || -> Result<Connection, rusqlite::Error> {
            let conn = Connection::open(path)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            // FULL: an event acknowledged to nobody yet must survive a power cut too.
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
            conn.execute_batch(SCHEMA)?;
            Ok(conn)
        };
        let conn = open().map_err(|e| JournalError::Open {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let last: u64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM entries", [], |r| {
            r.get::<_, i64>(0)
        })? as u64;
        // Sequence numbers are never reused, even when every entry has been acknowledged
        // and deleted.
        let last = last
            .max(meta(&conn, "acked")?.unwrap_or(0))
            .max(meta(&conn, "last_seq")?.unwrap_or(0));
        let (latest, _) = watch::channel(last);
        Ok(Journal {
            conn: Mutex::new(conn),
            latest,
            max_entries,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The SiPass push sequence the journal has reached (0 before the first message).
    pub fn push_sequence(&self) -> Result<u64, JournalError> {
        Ok(meta(&self.conn(), "push_sequence")?.unwrap_or(0))
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
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let reached = meta(&tx, "push_sequence")?.unwrap_or(0);
        let journaled = meta(&tx, "journaled_source")?.unwrap_or(0).max(reached);
        let mut seq = *self.latest.borrow();
        let now = now_millis();
        let mut appended = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO entries (seq, source_seq, type, payload, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for entry in entries.iter().filter(|e| e.source_seq > journaled) {
                seq += 1;
                insert.execute(params![
                    seq as i64,
                    entry.source_seq as i64,
                    entry.entry_type as i32,
                    entry.payload,
                    now
                ])?;
                appended += 1;
            }
        }
        set_meta(&tx, "push_sequence", push_sequence.max(reached))?;
        set_meta(&tx, "last_seq", seq)?;
        if let Some(last) = entries.last().filter(|e| e.source_seq > journaled) {
            set_meta(&tx, "journaled_source", last.source_seq)?;
        }
        tx.commit()?;
        drop(conn);
        if appended > 0 {
            self.latest.send_replace(seq);
            self.enforce_bound()?;
        }
        Ok(appended)
    }

    /// Up to `limit` entries after `after`.
    pub fn read_after(&self, after: u64, limit: usize) -> Result<Vec<Entry>, JournalError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, type, payload, at FROM entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![after as i64, limit as i64], |r| {
                Ok(Entry {
                    seq: r.get::<_, i64>(0)? as u64,
                    entry_type: r.get(1)?,
                    payload: r.get(2)?,
                    at_ms: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Forgets what the role has stored. Returns how many entries are still kept.
    pub fn acknowledge(&self, up_to: u64) -> Result<u64, JournalError> {
        let conn = self.conn();
        let up_to = up_to.min(*self.latest.borrow());
        conn.execute("DELETE FROM entries WHERE seq <= ?1", [up_to as i64])?;
        let acked = meta(&conn, "acked")?.unwrap_or(0).max(up_to);
        set_meta(&conn, "acked", acked)?;
        self.depth_of(&conn)
    }

    /// How many entries are kept, not yet acknowledged.
    pub fn depth(&self) -> Result<u64, JournalError> {
        self.depth_of(&self.conn())
    }

    /// Entries are numbered without gaps and only ever forgotten oldest first, so the kept
    /// ones are exactly the first kept to the last: two index lookups, where `COUNT(*)`
    /// would read the whole table at every append.
    fn depth_of(&self, conn: &Connection) -> Result<u64, JournalError> {
        let first: Option<i64> = conn
            .prepare_cached("SELECT seq FROM entries ORDER BY seq LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        let last: Option<i64> = conn
            .prepare_cached("SELECT seq FROM entries ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(match (first, last) {
            (Some(first), Some(last)) => (last - first + 1) as u64,
            _ => 0,
        })
    }

    /// Past the bound, the oldest entries go, with a warning naming how many: a proxy must
    /// not fill its disk because no role has connected for weeks.
    fn enforce_bound(&self) -> Result<(), JournalError> {
        let conn = self.conn();
        let depth = self.depth_of(&conn)?;
        if depth <= self.max_entries {
            return Ok(());
        }
        let excess = depth - self.max_entries;
        conn.execute(
            "DELETE FROM entries WHERE seq IN (SELECT seq FROM entries ORDER BY seq LIMIT ?1)",
            [excess as i64],
        )?;
        tracing::warn!(
            dropped = excess,
            bound = self.max_entries,
            "the event journal reached its bound of {} unacknowledged entries; the oldest {excess} were dropped. Connect a role, or raise --journal-max",
            self.max_entries
        );
        Ok(())
    }
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
    fn acknowledged_entries_go_and_sequence_numbers_are_never_reused() {
        let path = temp("ack");
        {
            let journal = Journal::open(&path, 100).unwrap();
            journal.append(&[entry(1), entry(2), entry(3)], 3).unwrap();
            assert_eq!(journal.acknowledge(1).unwrap(), 2);
            assert_eq!(journal.depth().unwrap(), 2);
            assert_eq!(journal.acknowledge(3).unwrap(), 0);
        }
        let journal = Journal::open(&path, 100).unwrap();
        journal.append(&[entry(4)], 4).unwrap();
        assert_eq!(journal.read_after(0, 10).unwrap()[0].seq, 4);
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
        assert_eq!(journal.depth().unwrap(), 2);
    }
}
