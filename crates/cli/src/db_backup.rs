//! `db backup`, `db restore` and `role-state`: through the running role's REST API when a
//! role serves the data folder (it deactivates itself around a restore), directly on the
//! files when none does. Both ways run the same store code (docs/databases.md).

use std::io::IsTerminal;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use store::backup::{self, Maintained, Manifest, RestoreReport};
use store::sqlite::backup::{SqliteFile, role_databases};
use web::resources::{
    ActivationChanged, BackupRequest, BackupWritten, DbStatus, DeactivateRequest, RestoreRequest,
};

use crate::api::Api;
use crate::{DEFAULT_DATA, RoleTarget};

/// How long a backup or restore through the role may take.
const SLOW: Duration = Duration::from_secs(6 * 3600);

#[derive(clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (replaced only once the new backup is complete).
    file: PathBuf,
    /// The role's data folder.
    #[arg(long, default_value = DEFAULT_DATA, env = "SIPASS_BRIDGE_DATA")]
    data: PathBuf,
    /// A role's PostgreSQL database (its --database-url): refused, naming PostgreSQL's own
    /// tools, which back it up and restore it.
    #[arg(long, value_name = "URL", env = "SIPASS_BRIDGE_DATABASE_URL")]
    database_url: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup file to restore.
    file: PathBuf,
    /// The role's data folder.
    #[arg(long, default_value = DEFAULT_DATA, env = "SIPASS_BRIDGE_DATA")]
    data: PathBuf,
    /// A role's PostgreSQL database (its --database-url): refused, naming PostgreSQL's own
    /// tools, which back it up and restore it.
    #[arg(long, value_name = "URL", env = "SIPASS_BRIDGE_DATABASE_URL")]
    database_url: Option<String>,
    /// Restore a backup of another role (moving a role to a new server): this role takes
    /// that role's identity.
    #[arg(long)]
    accept_foreign: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
pub enum RoleStateCommand {
    /// Stop the role's workers (disconnect from the proxy, stop synchronization and events)
    /// until it is activated; the Config Tool keeps answering.
    Deactivate {
        #[command(flatten)]
        target: RoleTarget,
        /// Why, shown in the health.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Start the role's workers again: they resume where the databases stand.
    Activate(RoleTarget),
}

/// The running role serving `data`, if one answers at the address it wrote there.
pub(crate) fn running_role(data: &Path, json: bool) -> Result<Option<Api>> {
    let address = crate::services::role_address_path(data);
    let Ok(url) = std::fs::read_to_string(&address) else {
        return Ok(None);
    };
    let host = url
        .trim()
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let reachable = host
        .to_socket_addrs()
        .ok()
        .into_iter()
        .flatten()
        .any(|a: SocketAddr| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    if !reachable {
        return Ok(None);
    }
    let target = RoleTarget {
        data: data.to_owned(),
        role: None,
        json,
    };
    Api::new(&target).map(Some)
}

/// A file's absolute path, for a role that may run in another folder.
fn absolute(file: &Path) -> Result<PathBuf> {
    std::path::absolute(file).with_context(|| format!("cannot resolve {}", file.display()))
}

fn bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>20} [{bar:40}] {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// Follows the role's operation on a terminal until `work` ends.
pub(crate) async fn follow<T>(
    api: &Api,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    let shown = bar(1);
    tokio::pin!(work);
    loop {
        tokio::select! {
            result = &mut work => {
                shown.finish_and_clear();
                return result;
            }
            _ = tokio::time::sleep(Duration::from_millis(300)) => {
                if let Ok(status) = api.get::<DbStatus>("/db/status").await
                    && let Some(op) = status.operation
                {
                    shown.set_prefix(op.database.clone());
                    shown.set_length(op.total.max(1));
                    shown.set_position(op.done);
                    shown.set_message(format!("{} {}", op.kind, op.step));
                }
            }
        }
    }
}

pub async fn backup_command(args: BackupArgs) -> Result<()> {
    if let Some(url) = crate::services::database_url(args.database_url.clone())? {
        bail!(store::postgres::maintained::refusal(&url, "a backup"));
    }
    let file = absolute(&args.file)?;
    let (manifest, through) = match running_role(&args.data, args.json)? {
        Some(api) => {
            let request = BackupRequest {
                file: Some(file.clone()),
            };
            let written: BackupWritten =
                follow(&api, api.post_json_slow("/db/backup", &request, SLOW)).await?;
            (written.manifest, "through the running role")
        }
        None => {
            let data = args.data.clone();
            let target = file.clone();
            let manifest =
                tokio::task::spawn_blocking(move || backup_direct(&data, &target)).await??;
            (manifest, "from the data folder")
        }
    };
    if args.json {
        out!(
            "{}",
            serde_json::json!({ "file": file, "manifest": manifest })
        );
        return Ok(());
    }
    out!("backup written to {} ({through})", file.display());
    print_manifest(&manifest);
    Ok(())
}

fn print_manifest(m: &Manifest) {
    out!(
        "  role {}, written {} by release {}",
        m.origin,
        m.created_at,
        m.product_version
    );
    for p in &m.parts {
        out!(
            "  {}: schema version {}, {} bytes, sha256 {}",
            p.database,
            p.schema_version,
            p.bytes,
            p.sha256
        );
    }
}

fn the_databases(data: &Path) -> Result<[SqliteFile; 2]> {
    if !data.is_dir() {
        bail!(
            "data folder '{}' does not exist; point --data at the role's data folder",
            data.display()
        );
    }
    Ok(role_databases(data))
}

fn refs(dbs: &[SqliteFile]) -> Vec<&dyn Maintained> {
    dbs.iter().map(|d| d as &dyn Maintained).collect()
}

/// A backup straight from the files (no role serves the folder).
fn backup_direct(data: &Path, file: &Path) -> Result<Manifest> {
    let dbs = the_databases(data)?;
    let origin = dbs[1].origin()?.with_context(|| {
        format!(
            "no plugin database in '{}': is it a role's data folder?",
            data.display()
        )
    })?;
    let terminal = std::io::stderr().is_terminal();
    let mut shown: Option<(String, ProgressBar)> = None;
    let manifest = backup::write(
        file,
        &refs(&dbs),
        &origin,
        model::version::PRODUCT_VERSION,
        &mut |db, p| {
            if !terminal {
                return;
            }
            if shown.as_ref().is_none_or(|(name, _)| name != db) {
                if let Some((_, b)) = shown.take() {
                    b.finish();
                }
                let b = bar(p.total.max(1));
                b.set_prefix(db.to_owned());
                shown = Some((db.to_owned(), b));
            }
            if let Some((_, b)) = &shown {
                b.set_length(p.total.max(1));
                b.set_position(p.done);
            }
        },
    )?;
    if let Some((_, b)) = shown {
        b.finish();
    }
    Ok(manifest)
}

pub async fn restore_command(args: RestoreArgs) -> Result<()> {
    if let Some(url) = crate::services::database_url(args.database_url.clone())? {
        bail!(store::postgres::maintained::refusal(&url, "a restore"));
    }
    let file = absolute(&args.file)?;
    let (report, through) = match running_role(&args.data, args.json)? {
        Some(api) => {
            let request = RestoreRequest {
                file: file.clone(),
                accept_foreign: args.accept_foreign,
            };
            let report: RestoreReport =
                follow(&api, api.post_json_slow("/db/restore", &request, SLOW)).await?;
            (report, "through the running role, deactivated meanwhile")
        }
        None => {
            let data = args.data.clone();
            let source = file.clone();
            let accept = args.accept_foreign;
            let report =
                tokio::task::spawn_blocking(move || restore_direct(&data, &source, accept))
                    .await??;
            (report, "into the data folder")
        }
    };
    if args.json {
        out!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    out!("restored {} ({through})", file.display());
    print_manifest(&report.manifest);
    for u in &report.updates {
        out!(
            "  {}: the backup was at schema version {}, updated to {} (applied {})",
            u.database,
            u.from,
            u.to,
            u.applied.join(", ")
        );
    }
    Ok(())
}

/// A restore straight into the files: refused while any process has them open.
fn restore_direct(data: &Path, file: &Path, accept_foreign: bool) -> Result<RestoreReport> {
    let dbs = the_databases(data)?;
    for db in &dbs {
        let path = db.location();
        if path.is_file() {
            drop(store::sqlite::migrate::open_exclusive(&path, db.schema())?);
        }
    }
    let current = dbs[1].origin()?;
    let checked = backup::check(file, &refs(&dbs), current.as_deref(), accept_foreign, data)?;
    let older = checked.older();
    if !older.is_empty() {
        eprintln!(
            "the backup is from an older release: {} will be updated after the restore",
            older.join(", ")
        );
    }
    Ok(backup::restore(checked, &refs(&dbs), &mut |db, m| {
        if std::io::stderr().is_terminal() {
            eprintln!("{db}: applying migration {} ({})...", m.version, m.name);
        }
    })?)
}

pub async fn role_state(command: RoleStateCommand) -> Result<()> {
    let (target, changed): (RoleTarget, ActivationChanged) = match command {
        RoleStateCommand::Deactivate { target, reason } => {
            let api = Api::new(&target)?;
            let answer = api
                .post_json_slow(
                    "/role/deactivate",
                    &DeactivateRequest { reason },
                    Duration::from_secs(120),
                )
                .await?;
            (target, answer)
        }
        RoleStateCommand::Activate(target) => {
            let answer = Api::new(&target)?.post("/role/activate").await?;
            (target, answer)
        }
    };
    if target.json {
        out!("{}", serde_json::to_string(&changed)?);
        return Ok(());
    }
    let state = serde_json::to_value(changed.health.state)?;
    let state = state.as_str().unwrap_or("?");
    let reason = changed.health.reason.unwrap_or_default();
    if changed.changed {
        out!("the role is now {state}: {reason}");
    } else {
        out!("nothing to do: the role is {state} ({reason})");
    }
    Ok(())
}
