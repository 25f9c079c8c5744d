//! [`EventImport`] on the SQLite plugin database, beside a role that may be writing it:
//! each batch is one short transaction, which the role's writer waits for like any other.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::{Connection, params};

use super::plugin::{NATIVE_SEPARATOR, PLUGIN, entities_json};
use crate::NewEvent;
use crate::StoreError;
use crate::import::{EventImport, IMPORT_JOURNAL};

/// The plugin database opened for importing.
pub struct SqliteImport {
    conn: Connection,
}

impl SqliteImport {
    /// Opens an existing plugin database on this release's schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Open {
                database: PLUGIN.database,
                path: path.to_owned(),
                reason: "no such file; start the role once to create it".into(),
            });
        }
        let conn = super::open_connection(path, PLUGIN.database, "PRAGMA synchronous = FULL;")?;
        let status = super::migrate::inspect(&conn, &PLUGIN, path)?;
        crate::migrate::require_current(&PLUGIN, path, status)?;
        Ok(SqliteImport { conn })
    }
}

impl EventImport for SqliteImport {
    fn stored_sipass_ids(&self) -> Result<HashSet<String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT sipass_id FROM events")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<HashSet<String>, _>>()?;
        Ok(ids)
    }

    fn import_events(&self, events: &[NewEvent]) -> Result<Vec<bool>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut stored = Vec::with_capacity(events.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (journal_id, journal_seq, sipass_id, occurred_at,
                    occurred_ms, journaled_ms, sipass_type, native_events, category, known_type,
                    message, entities, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let mut link = tx.prepare_cached(
                "INSERT OR IGNORE INTO event_entities (entity_id, event_id) VALUES (?1, ?2)",
            )?;
            for e in events {
                let inserted = insert.execute(params![
                    IMPORT_JOURNAL,
                    e.journal_seq as i64,
                    e.sipass_id,
                    e.occurred_at,
                    e.occurred_ms,
                    e.journaled_ms,
                    e.sipass_type,
                    e.native_events.join(&NATIVE_SEPARATOR.to_string()),
                    e.category,
                    e.known_type,
                    e.message,
                    entities_json(&e.entities),
                    e.payload,
                ])?;
                stored.push(inserted > 0);
                if inserted == 0 {
                    continue;
                }
                let id = tx.last_insert_rowid();
                let mut ids: Vec<&str> = e.entities.iter().map(|x| x.id.as_str()).collect();
                ids.sort_unstable();
                ids.dedup();
                for entity_id in ids {
                    link.execute(params![entity_id, id])?;
                }
            }
        }
        tx.commit()?;
        Ok(stored)
    }
}
