//! The migration runner's PostgreSQL side: each database is a schema of its own with a
//! `schema_migrations` table, as SQLite's files have. Every step takes a transaction-scoped
//! advisory lock first, so that two roles starting on one new database migrate it once.

use postgres::GenericClient;

use super::Pg;
use crate::StoreError;
use crate::migrate::{
    self, Applied, DatabaseStatus, Migration, Schema, SchemaStatus, TableCount, UpdateReport,
};

pub use crate::migrate::require_current;

/// The advisory lock every migration of one schema takes (its key: the schema's name).
fn lock_sql(schema: &Schema) -> String {
    format!(
        "SELECT pg_advisory_xact_lock(hashtext('sipass-bridge migrate {}'))",
        schema.file
    )
}

fn create_sql(schema: &Schema) -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.schema_migrations (
             version    BIGINT PRIMARY KEY,
             name       TEXT   NOT NULL,
             checksum   TEXT   NOT NULL,
             applied_at BIGINT NOT NULL
         )",
        s = schema.file
    )
}

/// Whether the schema exists with its record of migrations.
fn has_record(c: &mut impl GenericClient, schema: &Schema) -> Result<bool, StoreError> {
    let row = c.query_one(
        "SELECT to_regclass($1) IS NOT NULL",
        &[&format!("{}.schema_migrations", schema.file)],
    )?;
    Ok(row.get(0))
}

/// Whether the schema holds any table but the record (something not ours, or a database
/// written by hand).
fn other_tables(c: &mut impl GenericClient, schema: &Schema) -> Result<i64, StoreError> {
    let row = c.query_one(
        "SELECT COUNT(*) FROM information_schema.tables
         WHERE table_schema = $1 AND table_name <> 'schema_migrations'",
        &[&schema.file],
    )?;
    Ok(row.get(0))
}

fn applied(c: &mut impl GenericClient, schema: &Schema) -> Result<Vec<Applied>, StoreError> {
    let rows = c.query(
        &format!(
            "SELECT version, checksum FROM {}.schema_migrations ORDER BY version",
            schema.file
        ),
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| Applied {
            version: r.get(0),
            checksum: r.get(1),
        })
        .collect())
}

/// Where a schema stands, without writing (`db status`, read-only opens).
fn status_of(
    c: &mut impl GenericClient,
    schema: &Schema,
    location: &std::path::Path,
) -> Result<SchemaStatus, StoreError> {
    if !has_record(c, schema)? {
        if other_tables(c, schema)? > 0 {
            return Err(StoreError::Unrecognised {
                database: schema.database,
                path: location.to_owned(),
            });
        }
        return Ok(SchemaStatus {
            found: 0,
            expected: schema.expected(),
        });
    }
    migrate::check(schema, location, &applied(c, schema)?)
}

/// Where the schema of `pg`'s database stands.
pub(crate) fn inspect(pg: &Pg, schema: &Schema) -> Result<SchemaStatus, StoreError> {
    let location = pg.location().to_owned();
    pg.run(|c| status_of(c, schema, &location))
}

/// Applies each pending migration in a transaction of its own under the advisory lock,
/// calling `on_step` before each; returns the status before and after.
fn apply(
    pg: &Pg,
    schema: &Schema,
    on_step: &mut (dyn FnMut(&Migration) + Send),
) -> Result<(SchemaStatus, SchemaStatus), StoreError> {
    let location = pg.location().to_owned();
    let before = inspect(pg, schema)?;
    if before.found > before.expected {
        return Err(migrate::newer(schema, &location, before.found));
    }
    for m in schema.pending(before.found) {
        let done = pg.transaction(|tx| {
            tx.batch_execute(&lock_sql(schema))?;
            tx.batch_execute(&create_sql(schema))?;
            // Another process may have applied it while this one waited for the lock.
            if status_of(tx, schema, &location)?.found >= m.version {
                return Ok(false);
            }
            on_step(m);
            tx.batch_execute(m.sql)?;
            tx.execute(
                &format!(
                    "INSERT INTO {}.schema_migrations (version, name, checksum, applied_at)
                     VALUES ($1, $2, $3, $4)",
                    schema.file
                ),
                &[
                    &m.version,
                    &m.name,
                    &migrate::checksum(m.sql),
                    &runtime::now_millis(),
                ],
            )?;
            Ok(true)
        })?;
        if done {
            tracing::info!(
                database = schema.database,
                version = m.version,
                name = m.name,
                "applied migration"
            );
        }
    }
    Ok((before, inspect(pg, schema)?))
}

/// Readies a schema for use: a new one gets every migration; any version but this
/// release's is refused.
pub(crate) fn prepare(pg: &Pg, schema: &Schema) -> Result<SchemaStatus, StoreError> {
    let status = inspect(pg, schema)?;
    if status.found == 0 {
        return apply(pg, schema, &mut |_| {}).map(|(_, after)| after);
    }
    require_current(schema, pg.location(), status)?;
    Ok(status)
}

/// `db status` of one schema of the database at `url`.
pub fn describe(url: &str, schema: &Schema) -> Result<DatabaseStatus, StoreError> {
    let pg = Pg::connect(url, schema)?;
    let status = match inspect(&pg, schema) {
        Err(StoreError::NewerSchema {
            found, expected, ..
        }) => SchemaStatus { found, expected },
        other => other?,
    };
    let (counts, size) = pg.run(|c| {
        let counts = schema
            .counts
            .iter()
            .filter_map(|(label, query)| {
                let rows: i64 = c.query_one(*query, &[]).ok()?.get(0);
                Some(TableCount {
                    table: (*label).to_owned(),
                    rows: rows as u64,
                })
            })
            .collect::<Vec<_>>();
        let size: i64 = c
            .query_one(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relkind = 'r'",
                &[&schema.file],
            )?
            .get(0);
        Ok((counts, size))
    })?;
    Ok(DatabaseStatus {
        database: schema.database.to_owned(),
        file: pg.location().to_owned(),
        schema: status,
        size_bytes: size.max(0) as u64,
        counts,
    })
}

/// `db update` of one schema of the database at `url`: applies what is pending, each step
/// in a transaction under the migration lock, and says what it did.
pub fn update(
    url: &str,
    schema: &Schema,
    on_step: &mut (dyn FnMut(&Migration) + Send),
) -> Result<UpdateReport, StoreError> {
    let pg = Pg::connect(url, schema)?;
    let mut applied = Vec::new();
    let (before, after) = apply(&pg, schema, &mut |m| {
        applied.push(format!("{} {}", m.version, m.name));
        on_step(m);
    })?;
    Ok(UpdateReport {
        database: schema.database.to_owned(),
        file: pg.location().to_owned(),
        from: before.found,
        to: after.found,
        applied,
    })
}
