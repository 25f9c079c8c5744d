//! A consistent copy of one schema of the database (the Directory or the plugin database),
//! for backups: every table's rows in PostgreSQL's binary COPY format, read in one
//! repeatable-read transaction (one snapshot, while the role goes on writing), after a
//! header saying which migrations the schema had and whose role it was.
//!
//! A copy is restored in one transaction: the schema dropped and made again by this
//! release's migrations up to the copy's version, the rows copied in, the identity
//! sequences moved past them. A failure or a kill leaves the database as it was. A copy is
//! a file from outside: its header is bounded and checked, its table names must be plain
//! identifiers, and PostgreSQL checks the rows as it reads them.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use postgres::{Client, GenericClient};
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::migrate::{self, Applied, Schema, SchemaStatus};

/// The first line of a copy.
const MAGIC: &str = "sipass-bridge postgresql copy 1";
/// The longest header read back.
const MAX_HEADER: u64 = 1 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    /// The migrations the schema had: (version, checksum).
    pub applied: Vec<(i64, String)>,
    /// The role's identity, in a plugin database's copy.
    pub origin: Option<String>,
    /// Each table and the bytes of its rows, in the order they follow the header.
    pub tables: Vec<(String, u64)>,
    /// Each identity column (table, column) and the next value its sequence gives, so that
    /// a number once given (a webhook message's) is never given again after a restore.
    pub sequences: Vec<(String, String, i64)>,
}

fn damaged(schema: &Schema, path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Damaged {
        database: schema.database,
        path: path.to_owned(),
        detail: detail.into(),
    }
}

fn io_error(schema: &Schema, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Open {
        database: schema.database,
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Writes a copy of `schema` to `dest`; returns its schema version.
pub(crate) fn write(
    client: &mut Client,
    schema: &Schema,
    dest: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<i64, StoreError> {
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let applied: Vec<(i64, String)> = tx
        .query(
            "SELECT version, checksum FROM schema_migrations ORDER BY version",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let origin = match tables(&mut tx, schema)?.iter().any(|t| t == "meta") {
        true => tx
            .query_opt("SELECT value FROM meta WHERE key = 'role_id'", &[])?
            .map(|r| r.get(0)),
        false => None,
    };
    let names = tables(&mut tx, schema)?;
    let sequences = sequences(&mut tx, schema)?;
    let body_path = dest.with_extension("rows.partial");
    let mut body = File::create(&body_path).map_err(|e| io_error(schema, &body_path, e))?;
    let mut sizes = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let mut reader = tx.copy_out(&format!("COPY {name} TO STDOUT (FORMAT binary)"))?;
        let bytes = std::io::copy(&mut reader, &mut body).map_err(|e| io_error(schema, dest, e))?;
        sizes.push((name.clone(), bytes));
        progress(i as u64 + 1, names.len() as u64);
    }
    tx.commit()?;
    let version = applied.iter().map(|(v, _)| *v).max().unwrap_or(0);
    let header = Header {
        applied,
        origin,
        tables: sizes,
        sequences,
    };
    assemble(schema, dest, &header, &body_path)?;
    Ok(version)
}

/// The header line, then the rows, into `dest`, flushed to disk.
fn assemble(schema: &Schema, dest: &Path, header: &Header, body: &Path) -> Result<(), StoreError> {
    let fail = |e: std::io::Error| io_error(schema, dest, e);
    let mut out = File::create(dest).map_err(fail)?;
    let json = serde_json::to_string(header).map_err(|e| fail(e.into()))?;
    writeln!(out, "{MAGIC}").map_err(fail)?;
    writeln!(out, "{json}").map_err(fail)?;
    let mut rows = File::open(body).map_err(fail)?;
    std::io::copy(&mut rows, &mut out).map_err(fail)?;
    out.sync_all().map_err(fail)?;
    drop(rows);
    std::fs::remove_file(body).map_err(fail)
}

/// The schema's own tables (its record of migrations aside), each after the tables its
/// foreign keys reference, so that a restore copies them in in that order.
fn tables(c: &mut impl GenericClient, schema: &Schema) -> Result<Vec<String>, StoreError> {
    let names: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = $1 AND table_type = 'BASE TABLE'
               AND table_name <> 'schema_migrations'
             ORDER BY table_name",
            &[&schema.file],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let references: Vec<(String, String)> = c
        .query(
            "SELECT child.relname::text, parent.relname::text
             FROM pg_constraint k
             JOIN pg_class child ON child.oid = k.conrelid
             JOIN pg_class parent ON parent.oid = k.confrelid
             JOIN pg_namespace n ON n.oid = k.connamespace
             WHERE k.contype = 'f' AND n.nspname = $1",
            &[&schema.file],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(parents_first(names, &references))
}

/// `names` ordered so that each comes after every table it references (`(child, parent)`);
/// a cycle (none in our schemas) keeps the rest in name order.
fn parents_first(mut names: Vec<String>, references: &[(String, String)]) -> Vec<String> {
    let mut ordered: Vec<String> = Vec::with_capacity(names.len());
    while !names.is_empty() {
        let ready = names.iter().position(|name| {
            references
                .iter()
                .filter(|(child, parent)| child == name && parent != name)
                .all(|(_, parent)| ordered.contains(parent) || !names.contains(parent))
        });
        ordered.push(names.remove(ready.unwrap_or(0)));
    }
    ordered
}

/// Reads and checks a copy's header: its first line, a bounded JSON line, plain table
/// names, and a length that matches the file. Returns it with the reader at the rows.
pub(crate) fn read_header(
    schema: &Schema,
    path: &Path,
) -> Result<(Header, BufReader<File>), StoreError> {
    let file = File::open(path).map_err(|e| io_error(schema, path, e))?;
    let length = file
        .metadata()
        .map_err(|e| io_error(schema, path, e))?
        .len();
    let mut reader = BufReader::new(file);
    let mut magic = String::new();
    (&mut reader)
        .take(MAGIC.len() as u64 + 1)
        .read_line(&mut magic)
        .map_err(|e| io_error(schema, path, e))?;
    if magic.trim_end() != MAGIC {
        return Err(damaged(
            schema,
            path,
            "not a PostgreSQL copy of SiPass Bridge",
        ));
    }
    let mut json = String::new();
    (&mut reader)
        .take(MAX_HEADER)
        .read_line(&mut json)
        .map_err(|e| io_error(schema, path, e))?;
    let header: Header = serde_json::from_str(&json)
        .map_err(|e| damaged(schema, path, format!("unreadable header: {e}")))?;
    if let Some((name, _)) = header.tables.iter().find(|(n, _)| !plain(n)) {
        return Err(damaged(schema, path, format!("a table named {name:?}")));
    }
    let rows: u64 = header.tables.iter().map(|(_, b)| *b).sum();
    let head = (magic.len() + json.len()) as u64;
    if head + rows != length {
        return Err(damaged(
            schema,
            path,
            format!("{length} bytes where the header says {}", head + rows),
        ));
    }
    Ok((header, reader))
}

/// A table name as our migrations make them: lowercase letters, digits and underscores.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Where a copy's schema stands against this release's migrations (an edited or newer one
/// refused).
pub(crate) fn status(
    schema: &Schema,
    path: &Path,
    header: &Header,
) -> Result<SchemaStatus, StoreError> {
    let applied: Vec<Applied> = header
        .applied
        .iter()
        .map(|(version, checksum)| Applied {
            version: *version,
            checksum: checksum.clone(),
        })
        .collect();
    migrate::check(schema, path, &applied)
}

/// Replaces the schema with the copy at `path`, in one transaction.
pub(crate) fn restore(client: &mut Client, schema: &Schema, path: &Path) -> Result<(), StoreError> {
    let (header, mut reader) = read_header(schema, path)?;
    let found = status(schema, path, &header)?.found;
    let s = schema.file;
    let mut tx = client.transaction()?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock(hashtext('sipass-bridge migrate {s}'));
         DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; SET LOCAL search_path TO {s};
         CREATE TABLE schema_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
             applied_at BIGINT NOT NULL)"
    ))?;
    for m in schema.migrations.iter().filter(|m| m.version <= found) {
        tx.batch_execute(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations VALUES ($1, $2, $3, $4)",
            &[
                &m.version,
                &m.name,
                &migrate::checksum(m.sql),
                &runtime::now_millis(),
            ],
        )?;
    }
    // Rows made by a migration itself (the built-in partition) are the copy's to give.
    for (name, _) in &header.tables {
        tx.batch_execute(&format!("DELETE FROM {name}"))?;
    }
    for (name, bytes) in &header.tables {
        let mut writer = tx.copy_in(&format!("COPY {name} FROM STDIN (FORMAT binary)"))?;
        let copied = std::io::copy(&mut (&mut reader).take(*bytes), &mut writer)
            .map_err(|e| io_error(schema, path, e))?;
        if copied != *bytes {
            return Err(damaged(schema, path, format!("table {name} is cut short")));
        }
        writer.finish()?;
    }
    move_sequences(&mut tx, schema, &header.sequences)?;
    tx.commit()?;
    Ok(())
}

/// Every identity column of the schema and the next value its sequence gives.
fn sequences(
    c: &mut impl GenericClient,
    schema: &Schema,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let columns: Vec<(String, String)> = c
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = $1 AND is_identity = 'YES' ORDER BY 1, 2",
            &[&schema.file],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut out = Vec::with_capacity(columns.len());
    for (table, column) in columns {
        let row = c.query_one(
            "SELECT COALESCE(s.last_value + CASE WHEN s.last_value IS NULL THEN 0 ELSE 1 END, 1)
             FROM pg_sequences s
             WHERE s.schemaname || '.' || s.sequencename
                   = pg_get_serial_sequence($1 || '.' || $2, $3)",
            &[&schema.file, &table, &column],
        )?;
        out.push((table, column, row.get(0)));
    }
    Ok(out)
}

/// Moves every identity sequence past the rows copied in and at least to where it stood
/// when the copy was made, so that no id or webhook number is given twice.
fn move_sequences(
    tx: &mut postgres::Transaction<'_>,
    schema: &Schema,
    copied: &[(String, String, i64)],
) -> Result<(), StoreError> {
    for (table, column, next) in copied {
        if !plain(table) || !plain(column) {
            return Err(StoreError::Unreadable {
                database: schema.database,
                detail: format!("a sequence named {table:?}.{column:?}"),
            });
        }
        tx.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{s}.{table}', '{column}'),
                           GREATEST({next}, COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1),
                           false)",
            s = schema.file
        ))?;
    }
    Ok(())
}
