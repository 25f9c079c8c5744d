//! The role's PostgreSQL databases as backup, restore and update see them, as SQLite's: a
//! backup part is a consistent copy of one schema (`copy.rs`), restored in one transaction;
//! update and status through the migration runner.

use std::path::{Path, PathBuf};

use super::{Pg, copy, migrate};
use crate::StoreError;
use crate::backup::{Maintained, Progress};
use crate::migrate::{DatabaseStatus, Migration, Schema, SchemaStatus, UpdateReport};

/// One schema (the Directory or the plugin database) of the database at a URL.
pub struct PgSchema {
    url: String,
    schema: &'static Schema,
}

impl PgSchema {
    pub fn new(url: &str, schema: &'static Schema) -> Self {
        PgSchema {
            url: url.to_owned(),
            schema,
        }
    }
}

/// Refuses to work on the database at `url` behind a running role: any other SiPass Bridge
/// session on it (a role on this machine or another) is one, named with its address.
pub fn require_no_role(url: &str) -> Result<(), StoreError> {
    let pg = Pg::connect(url, &super::DIRECTORY)?;
    let others: Vec<String> = pg.run(|c| {
        Ok(c.query(
            "SELECT application_name || ' from ' || COALESCE(host(client_addr), 'local socket')
             FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND application_name LIKE 'sipass-bridge%'",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
    })?;
    match others.first() {
        None => Ok(()),
        Some(first) => Err(StoreError::InUse {
            database: "role's databases",
            path: PathBuf::from(format!(
                "{} ({} session{} open, e.g. {first})",
                super::location(url).display(),
                others.len(),
                if others.len() == 1 { "" } else { "s" }
            )),
        }),
    }
}

/// The role's two databases on PostgreSQL, in backup order.
pub fn role_databases(url: &str) -> [PgSchema; 2] {
    [
        PgSchema::new(url, &super::DIRECTORY),
        PgSchema::new(url, &super::PLUGIN),
    ]
}

impl Maintained for PgSchema {
    fn schema(&self) -> &'static Schema {
        self.schema
    }
    fn engine(&self) -> &'static str {
        "postgresql"
    }
    fn location(&self) -> PathBuf {
        super::location(&self.url)
    }
    fn snapshot_to(
        &self,
        dest: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<i64, StoreError> {
        let pg = Pg::connect(&self.url, self.schema)?;
        let schema = self.schema;
        let version = pg.run(|c| copy::write(c, schema, dest, &mut |_, _| {}))?;
        progress(Progress { done: 1, total: 1 });
        Ok(version)
    }
    fn check_copy(&self, copy: &Path) -> Result<SchemaStatus, StoreError> {
        let (header, _) = copy::read_header(self.schema, copy)?;
        copy::status(self.schema, copy, &header)
    }
    fn origin_of_copy(&self, copy: &Path) -> Result<Option<String>, StoreError> {
        Ok(copy::read_header(self.schema, copy)?.0.origin)
    }
    fn origin(&self) -> Result<Option<String>, StoreError> {
        if self.schema.file != super::PLUGIN.file {
            return Ok(None);
        }
        let pg = Pg::connect(&self.url, self.schema)?;
        pg.run(|c| {
            let exists: bool = c
                .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])?
                .get(0);
            if !exists {
                return Ok(None);
            }
            Ok(
                c.query_opt("SELECT value FROM meta WHERE key = 'role_id'", &[])?
                    .map(|r| r.get(0)),
            )
        })
    }
    fn replace_from(&self, copy: &Path) -> Result<(), StoreError> {
        let pg = Pg::connect(&self.url, self.schema)?;
        let schema = self.schema;
        pg.run(|c| copy::restore(c, schema, copy))
    }
    fn update(&self, on_step: &mut dyn FnMut(&Migration)) -> Result<UpdateReport, StoreError> {
        let mut steps = Vec::new();
        let report = migrate::update(&self.url, self.schema, &mut |m| steps.push(*m))?;
        for m in &steps {
            on_step(m);
        }
        Ok(report)
    }
    fn status(&self) -> Result<DatabaseStatus, StoreError> {
        migrate::describe(&self.url, self.schema)
    }
}
