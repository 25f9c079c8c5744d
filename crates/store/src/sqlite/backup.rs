//! Backup, restore and update of an SQLite database file, beside the role that may use it.
//!
//! A copy is SQLite's online backup taken from a connection of its own that holds one read
//! transaction from the first step to the last: the copy is that one snapshot, and in WAL
//! mode the role's writes go on meanwhile (they never wait for it, and do not restart it).
//! A replacement is the backup API the other way, into the database: one write transaction,
//! so that a failure or a kill leaves the database as it was, and the role's own
//! connections see the new contents when it resumes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::StoreError;
use crate::backup::{Maintained, Progress};
use crate::migrate::{DatabaseStatus, Migration, Schema, SchemaStatus, UpdateReport};

/// Bytes copied per step (pages of whatever size the database has): progress every few
/// milliseconds.
const STEP_BYTES: i64 = 4 * 1024 * 1024;

/// An SQLite database file of a data folder.
pub struct SqliteFile {
    path: PathBuf,
    schema: &'static Schema,
}

impl SqliteFile {
    pub fn new(path: PathBuf, schema: &'static Schema) -> Self {
        SqliteFile { path, schema }
    }

    fn error(&self, path: &Path, e: rusqlite::Error) -> StoreError {
        if crate::error::is_corruption(&e) {
            StoreError::Damaged {
                database: self.schema.database,
                path: path.to_owned(),
                detail: e.to_string(),
            }
        } else {
            StoreError::Open {
                database: self.schema.database,
                path: path.to_owned(),
                reason: e.to_string(),
            }
        }
    }

    /// `copy` rewritten with pages of `size` into a file beside the database, when its own
    /// are another size; `None` when they are the same. SQLite cannot change the page size of
    /// a database in WAL mode, nor copy pages of another size into it, and page sizes differ
    /// between releases (a Directory made before 16 KiB pages, restored into a new one, or
    /// the reverse).
    fn with_page_size(&self, copy: &Path, size: i64) -> Result<Option<PathBuf>, StoreError> {
        let src = Connection::open_with_flags(copy, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| self.error(copy, e))?;
        if page_size(&src).map_err(|e| self.error(copy, e))? == size {
            return Ok(None);
        }
        let mut resized = self.path.as_os_str().to_owned();
        resized.push(".restoring");
        let resized = PathBuf::from(resized);
        let _ = std::fs::remove_file(&resized);
        let written = src
            .pragma_update(None, "page_size", size)
            .and_then(|()| src.execute("VACUUM INTO ?1", [resized.to_string_lossy()]))
            .and_then(|_| page_size(&Connection::open(&resized)?));
        match written {
            Ok(got) if got == size => Ok(Some(resized)),
            Ok(got) => {
                let _ = std::fs::remove_file(&resized);
                Err(StoreError::Open {
                    database: self.schema.database,
                    path: resized,
                    reason: format!("the copy has {got}-byte pages, not {size}"),
                })
            }
            Err(e) => {
                let _ = std::fs::remove_file(&resized);
                Err(self.error(&resized, e))
            }
        }
    }

    /// A connection that reads and writes the database, beside the role's own.
    fn open_writer(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&self.path).map_err(|e| self.error(&self.path, e))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        Ok(conn)
    }
}

fn page_size(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA page_size", [], |r| r.get(0))
}

/// Copies all of `src` into `dst` in steps; `Busy` waits a moment and tries again.
fn copy_all(
    src: &Connection,
    dst: &mut Connection,
    pages: i32,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), rusqlite::Error> {
    let backup = Backup::new(src, dst)?;
    loop {
        let step = backup.step(pages)?;
        let p = backup.progress();
        let total = p.pagecount.max(0) as u64;
        progress(Progress {
            done: total.saturating_sub(p.remaining.max(0) as u64),
            total,
        });
        match step {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            StepResult::Busy | StepResult::Locked => std::thread::sleep(Duration::from_millis(20)),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

impl Maintained for SqliteFile {
    fn schema(&self) -> &'static Schema {
        self.schema
    }

    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> PathBuf {
        self.path.clone()
    }

    fn snapshot_to(
        &self,
        dest: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<i64, StoreError> {
        if !self.path.is_file() {
            return Err(StoreError::Open {
                database: self.schema.database,
                path: self.path.clone(),
                reason: "no such file".into(),
            });
        }
        let src = super::migrate::open_read_only(&self.path, self.schema)?;
        // One read transaction across every step: a single snapshot, whatever the role
        // writes meanwhile.
        src.execute_batch("BEGIN")
            .map_err(|e| self.error(&self.path, e))?;
        let status = super::migrate::inspect(&src, self.schema, &self.path)?;
        let _ = std::fs::remove_file(dest);
        let mut dst = Connection::open(dest).map_err(|e| self.error(dest, e))?;
        let step_pages = STEP_BYTES
            / page_size(&src)
                .map_err(|e| self.error(&self.path, e))?
                .max(512);
        copy_all(&src, &mut dst, step_pages as i32, progress).map_err(|e| {
            match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DiskFull) => StoreError::Open {
                    database: self.schema.database,
                    path: dest.to_owned(),
                    reason: format!("cannot write the copy: {e}"),
                },
                _ => self.error(&self.path, e),
            }
        })?;
        src.execute_batch("COMMIT")?;
        // The copy stands alone: no write-ahead log beside it.
        dst.pragma_update(None, "journal_mode", "DELETE")
            .map_err(|e| self.error(dest, e))?;
        drop(dst);
        Ok(status.found)
    }

    fn check_copy(&self, copy: &Path) -> Result<SchemaStatus, StoreError> {
        let conn = Connection::open_with_flags(copy, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| self.error(copy, e))?;
        let damaged = |detail: String| StoreError::Damaged {
            database: self.schema.database,
            path: copy.to_owned(),
            detail,
        };
        let problems: Vec<String> = conn
            .prepare("PRAGMA integrity_check(5)")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<_, _>>()
            })
            .map_err(|e| damaged(e.to_string()))?;
        if problems != ["ok"] {
            return Err(damaged(problems.join("; ")));
        }
        super::migrate::inspect(&conn, self.schema, copy)
    }

    fn origin_of_copy(&self, copy: &Path) -> Result<Option<String>, StoreError> {
        if self.schema.file != super::PLUGIN.file {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(copy, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| self.error(copy, e))?;
        role_id(&conn)
    }

    fn origin(&self) -> Result<Option<String>, StoreError> {
        if self.schema.file != super::PLUGIN.file || !self.path.is_file() {
            return Ok(None);
        }
        let conn = super::migrate::open_read_only(&self.path, self.schema)?;
        role_id(&conn)
    }

    fn replace_from(&self, copy: &Path) -> Result<(), StoreError> {
        let mut dst = self.open_writer()?;
        let page_size = page_size(&dst).map_err(|e| self.error(&self.path, e))?;
        let resized = self.with_page_size(copy, page_size)?;
        let source = resized.as_deref().unwrap_or(copy);
        let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| self.error(source, e))?;
        // All pages in one step: one write transaction, all or nothing.
        let copied =
            copy_all(&src, &mut dst, -1, &mut |_| {}).map_err(|e| self.error(&self.path, e));
        drop(src);
        if let Some(resized) = &resized {
            let _ = std::fs::remove_file(resized);
        }
        copied?;
        if self.schema.file == super::DIRECTORY.file {
            // A backup taken during a synchronization records it running; no one runs it now.
            super::write::interrupt_unfinished_runs(&dst)?;
        }
        Ok(())
    }

    fn update(&self, on_step: &mut dyn FnMut(&Migration)) -> Result<UpdateReport, StoreError> {
        let mut conn = self.open_writer()?;
        let mut applied = Vec::new();
        let (before, after) =
            super::migrate::apply(&mut conn, self.schema, &self.path, &mut |m| {
                applied.push(format!("{} {}", m.version, m.name));
                on_step(m);
            })?;
        Ok(UpdateReport {
            database: self.schema.database.to_owned(),
            file: self.path.clone(),
            from: before.found,
            to: after.found,
            applied,
        })
    }

    fn status(&self) -> Result<DatabaseStatus, StoreError> {
        super::migrate::describe(&self.path, self.schema)
    }
}

fn role_id(conn: &Connection) -> Result<Option<String>, StoreError> {
    let has_meta: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = 'role_id'", [], |r| {
            r.get(0)
        })
        .optional()?)
}

/// The Directory and the plugin database of a role's data folder, in the order a backup
/// holds them.
pub fn role_databases(data: &Path) -> [SqliteFile; 2] {
    [
        SqliteFile::new(data.join(super::DIRECTORY.file), &super::DIRECTORY),
        SqliteFile::new(data.join(super::PLUGIN.file), &super::PLUGIN),
    ]
}

#[cfg(test)]
#[path = "backup_tests.rs"]
mod tests;
