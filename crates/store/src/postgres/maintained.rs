//! The role's PostgreSQL databases as backup, restore and update see them: update and
//! status work as on SQLite; a backup or a restore is refused, naming PostgreSQL's own tools,
//! since a copy of a shared server's schemas is that server's administrators' business
//! (and a file the role writes could not be restored into another server's roles anyway).

use std::path::{Path, PathBuf};

use super::migrate;
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

    fn not_here(&self, what: &str) -> StoreError {
        refusal(&self.url, what)
    }
}

/// Why `what` (a backup, a restore) of the role's databases at `url` is not done here, and
/// how to do it with PostgreSQL's own tools.
pub fn refusal(url: &str, what: &str) -> StoreError {
    StoreError::NotSupported(format!(
        "{what} of a role's databases on PostgreSQL ({location}) is not done by SiPass Bridge: \
         use PostgreSQL's own tools, `pg_dump --format=custom --schema=directory --schema=plugin --file=FILE URL` \
         to back up and `pg_restore --clean --if-exists --single-transaction --dbname=URL FILE` (every role stopped) to restore",
        location = super::location(url).display(),
    ))
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
        _dest: &Path,
        _progress: &mut dyn FnMut(Progress),
    ) -> Result<i64, StoreError> {
        Err(self.not_here("a backup"))
    }
    fn check_copy(&self, _copy: &Path) -> Result<SchemaStatus, StoreError> {
        Err(self.not_here("a restore"))
    }
    fn origin_of_copy(&self, _copy: &Path) -> Result<Option<String>, StoreError> {
        Err(self.not_here("a restore"))
    }
    fn origin(&self) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    fn replace_from(&self, _copy: &Path) -> Result<(), StoreError> {
        Err(self.not_here("a restore"))
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
