//! `db status` and `db update`: the databases found in a data folder (a role's holds the
//! Directory and the plugin database, a proxy's its cache and event journal), read or brought to this release's
//! schema through the store's migration runner, with the process that uses them stopped.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use store::migrate::{DatabaseStatus, Migration, Schema, UpdateReport};
use store::sqlite::migrate;

use crate::DEFAULT_DATA;

#[derive(clap::Subcommand)]
pub enum DbCommand {
    /// Per database in the data folder: its file, the schema version found and the one this
    /// release needs, its size and the rows of its main tables.
    Status(DbArgs),
    /// Apply pending schema migrations to every database in the data folder, one
    /// transaction per step. Stop the role or proxy that uses the folder first, and back it
    /// up.
    Update(DbArgs),
    /// Write a consistent copy of the role's Directory and plugin database into one file,
    /// while the role runs (through it) or not (from the files); with a manifest (release,
    /// schema versions, the role's identity, SHA-256 of each part).
    Backup(crate::db_backup::BackupArgs),
    /// Replace the role's databases with a backup, after checking its integrity, schema and
    /// origin; a running role is deactivated meanwhile and activated again.
    Restore(crate::db_backup::RestoreArgs),
}

#[derive(clap::Args)]
pub struct DbArgs {
    /// The data folder: a role's holds directory.db and plugin.db, a proxy's cache.db and
    /// journal.db.
    #[arg(long, default_value = DEFAULT_DATA, env = "SIPASS_BRIDGE_DATA")]
    data: PathBuf,
    /// A role's PostgreSQL database (its --database-url) instead of the data folder's files.
    #[arg(long, value_name = "URL", env = "SIPASS_BRIDGE_DATABASE_URL")]
    database_url: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A role's two databases on PostgreSQL.
const POSTGRES_SCHEMAS: [&Schema; 2] = [&store::postgres::DIRECTORY, &store::postgres::PLUGIN];

/// Every database the system keeps, as the migration runner knows it.
const SCHEMAS: [&Schema; 4] = [
    &store::sqlite::DIRECTORY,
    &store::sqlite::PLUGIN,
    &proxy::CACHE_SCHEMA,
    &proxy::JOURNAL_SCHEMA,
];

pub async fn db(command: DbCommand) -> Result<()> {
    match command {
        DbCommand::Status(args) => status(&args),
        DbCommand::Update(args) => update(&args).await,
        DbCommand::Backup(args) => crate::db_backup::backup_command(args).await,
        DbCommand::Restore(args) => crate::db_backup::restore_command(args).await,
    }
}

/// The databases present in `data`, with their files.
fn databases(data: &Path) -> Result<Vec<(&'static Schema, PathBuf)>> {
    if !data.is_dir() {
        bail!(
            "data folder '{}' does not exist; point --data at a role's or a proxy's data folder",
            data.display()
        );
    }
    let found: Vec<_> = SCHEMAS
        .iter()
        .map(|schema| (*schema, data.join(schema.file)))
        .filter(|(_, path)| path.is_file())
        .collect();
    if found.is_empty() {
        bail!(
            "no database in '{}': a role's data folder holds directory.db and plugin.db, a proxy's holds cache.db and journal.db",
            data.display()
        );
    }
    Ok(found)
}

fn status(args: &DbArgs) -> Result<()> {
    let statuses = match crate::services::database_url(args.database_url.clone())? {
        Some(url) => POSTGRES_SCHEMAS
            .iter()
            .map(|schema| {
                store::postgres::migrate::describe(&url, schema)
                    .with_context(|| format!("reading the {}", schema.database))
            })
            .collect::<Result<Vec<_>>>()?,
        None => databases(&args.data)?
            .into_iter()
            .map(|(schema, path)| {
                migrate::describe(&path, schema)
                    .with_context(|| format!("reading {}", path.display()))
            })
            .collect::<Result<Vec<_>>>()?,
    };
    if args.json {
        out!("{}", serde_json::json!({ "databases": statuses }));
        return Ok(());
    }
    for s in &statuses {
        print_status(s);
    }
    Ok(())
}

fn print_status(s: &DatabaseStatus) {
    let state = match s.schema.found.cmp(&s.schema.expected) {
        std::cmp::Ordering::Equal => "up to date".to_owned(),
        std::cmp::Ordering::Less if store::postgres::is_postgres_url(&s.file.to_string_lossy()) => {
            format!(
                "needs `sipass-bridge db update --database-url {}`",
                s.file.display()
            )
        }
        std::cmp::Ordering::Less => format!(
            "needs `sipass-bridge db update --data {}`",
            s.file.parent().unwrap_or(Path::new(".")).display()
        ),
        std::cmp::Ordering::Greater => "newer than this release".to_owned(),
    };
    let counts: Vec<String> = s
        .counts
        .iter()
        .map(|c| format!("{} {}", c.table, c.rows))
        .collect();
    out!("{} ({})", s.database, s.file.display());
    out!(
        "  schema version {} (this release: {}): {state}",
        s.schema.found,
        s.schema.expected
    );
    out!(
        "  {} on disk; rows: {}",
        human_size(s.size_bytes),
        counts.join(", ")
    );
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// Through the running role when one serves the folder (it deactivates itself meanwhile),
/// else directly on the files (refused while a process has them open).
async fn update(args: &DbArgs) -> Result<()> {
    let reports = match crate::db_backup::running_role(&args.data, args.json)? {
        Some(api) => {
            let updated: web::resources::DbUpdated = crate::db_backup::follow(
                &api,
                api.post_slow("/db/update", std::time::Duration::from_secs(6 * 3600)),
            )
            .await?;
            updated.databases
        }
        None => update_files(args)?,
    };
    if args.json {
        out!("{}", serde_json::json!({ "databases": reports }));
        return Ok(());
    }
    for r in &reports {
        print_update(r);
    }
    Ok(())
}

/// `db update` of a role's PostgreSQL databases, each step under the migration lock.
fn update_postgres(url: &str) -> Result<Vec<UpdateReport>> {
    let terminal = std::io::stderr().is_terminal();
    POSTGRES_SCHEMAS
        .iter()
        .map(|schema| {
            let mut progress = |m: &Migration| {
                if terminal {
                    eprintln!(
                        "{}: applying migration {} ({})...",
                        schema.database, m.version, m.name
                    );
                }
            };
            store::postgres::migrate::update(url, schema, &mut progress)
                .with_context(|| format!("updating the {}", schema.database))
        })
        .collect()
}

fn update_files(args: &DbArgs) -> Result<Vec<UpdateReport>> {
    if let Some(url) = crate::services::database_url(args.database_url.clone())? {
        return update_postgres(&url);
    }
    let terminal = std::io::stderr().is_terminal();
    let mut reports = Vec::new();
    for (schema, path) in databases(&args.data)? {
        let mut progress = |m: &Migration| {
            if terminal {
                eprintln!(
                    "{}: applying migration {} ({})...",
                    schema.file, m.version, m.name
                );
            }
        };
        let report = migrate::update(&path, schema, &mut progress)
            .with_context(|| format!("updating {}", path.display()))?;
        reports.push(report);
    }
    Ok(reports)
}

fn print_update(r: &UpdateReport) {
    if r.applied.is_empty() {
        out!(
            "{} ({}): already at schema version {}",
            r.database,
            r.file.display(),
            r.to
        );
    } else {
        out!(
            "{} ({}): schema version {} -> {} (applied {})",
            r.database,
            r.file.display(),
            r.from,
            r.to,
            r.applied.join(", ")
        );
    }
}
