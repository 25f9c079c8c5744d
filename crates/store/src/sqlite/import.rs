//! [`EventImport`] on the SQLite plugin database, beside a role that may be writing it:
//! each batch is one short transaction, which the role's writer waits for like any other.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::Connection;

use super::plugin::{EntityLinks, PLUGIN, insert_event};
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
        let mut links = EntityLinks::default();
        for e in events {
            let id = insert_event(&tx, IMPORT_JOURNAL, e)?;
            if let Some(id) = id {
                links.add(id, e);
            }
            stored.push(id.is_some());
        }
        links.write(&tx)?;
        tx.commit()?;
        Ok(stored)
    }
}
