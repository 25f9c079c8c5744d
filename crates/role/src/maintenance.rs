//! Backup, restore and update of a running role's databases (the Resources page and the
//! REST calls behind it): one operation at a time, with its progress readable meanwhile.
//!
//! A backup runs beside the workers (its copy never blocks their writes). A restore and an
//! update replace or change the databases underneath the workers, so the role is deactivated
//! around them and activated again afterwards if it was active; a backup file is checked
//! completely before the role is touched, so a refused file costs no downtime.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use store::backup::{self, BackupError, Maintained, Manifest, RestoreReport};
use store::migrate::{DatabaseStatus, UpdateReport};
use store::sqlite::backup::role_databases;

use crate::Role;
use crate::activation::Change;

/// What is being done to the databases, and how far it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// "backup", "restore" or "update" (or "activation", "deactivation" for a moment).
    pub kind: String,
    /// The database being worked on, e.g. "Directory database".
    pub database: String,
    /// In the engine's units (SQLite: pages); both 0 when a step has no measure.
    pub done: u64,
    pub total: u64,
    /// What is happening, e.g. "applying migration 2 (entities_rowid)".
    pub step: String,
}

/// One operation at a time, and its progress.
#[derive(Default)]
pub struct Maintenance {
    running: Mutex<Option<Operation>>,
}

/// Why an operation did not run or failed; nothing was replaced unless it says so.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("{} is already running; wait for it to end", with_article(.0))]
    Busy(String),
    #[error(transparent)]
    Refused(#[from] BackupError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Internal(#[from] runtime::Panicked),
    #[error(
        "this role is a standby: {} holds the lease of the database they share, and only one role may be active; this one activates by itself once that role stops",
        if .0.is_empty() { "another role" } else { .0.as_str() }
    )]
    Standby(String),
    #[error(
        "could not keep the role's activation state in {}: {source}; check that the data folder is writable",
        file.display()
    )]
    KeepState {
        file: PathBuf,
        source: std::io::Error,
    },
}

/// "a backup", "an update".
fn with_article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

/// Clears the operation when it ends, however it ends.
pub(crate) struct Running<'a>(&'a Maintenance);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        *lock(&self.0.running) = None;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Maintenance {
    /// The operation running now, if any.
    pub fn current(&self) -> Option<Operation> {
        lock(&self.running).clone()
    }

    pub(crate) fn begin(&self, kind: &str) -> Result<Running<'_>, MaintenanceError> {
        let mut running = lock(&self.running);
        if let Some(op) = running.as_ref() {
            return Err(MaintenanceError::Busy(op.kind.clone()));
        }
        *running = Some(Operation {
            kind: kind.to_owned(),
            ..Operation::default()
        });
        Ok(Running(self))
    }

    fn report(&self, database: &str, done: u64, total: u64, step: &str) {
        if let Some(op) = lock(&self.running).as_mut() {
            op.database = database.to_owned();
            op.done = done;
            op.total = total;
            op.step = step.to_owned();
        }
    }
}

/// The databases as the backup interface sees them.
fn refs(dbs: &[Box<dyn Maintained>]) -> Vec<&dyn Maintained> {
    dbs.iter().map(|d| d.as_ref()).collect()
}

impl Role {
    /// The role's databases as backup, restore and update handle them, in the order a
    /// backup holds them (the Directory, then the plugin database). The engine decides how;
    /// SQLite files in the data folder today.
    pub fn databases(&self) -> Vec<Box<dyn Maintained>> {
        if let Some(url) = &self.config.database_url {
            return store::postgres::maintained::role_databases(url)
                .into_iter()
                .map(|d| Box::new(d) as Box<dyn Maintained>)
                .collect();
        }
        role_databases(&self.config.data_dir)
            .into_iter()
            .map(|d| Box::new(d) as Box<dyn Maintained>)
            .collect()
    }

    /// The role's data folder.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Per database: schema version found and needed, size, main counts.
    pub fn database_status(&self) -> Result<Vec<DatabaseStatus>, store::StoreError> {
        self.databases().iter().map(|d| d.status()).collect()
    }

    /// Writes a backup of both databases to `file` while the role keeps working.
    pub async fn backup(self: &Arc<Self>, file: PathBuf) -> Result<Manifest, MaintenanceError> {
        self.refuse_on_postgres("a backup")?;
        let role = self.clone();
        runtime::try_blocking(move || {
            let _running = role.maintenance.begin("backup")?;
            let origin = role.plugin.role_id()?;
            let dbs = role.databases();
            let manifest = backup::write(
                &file,
                &refs(&dbs),
                &origin,
                model::version::PRODUCT_VERSION,
                &mut |db, p| role.maintenance.report(db, p.done, p.total, "copying"),
            )?;
            tracing::info!(file = %file.display(), "backup written");
            Ok(manifest)
        })
        .await?
    }

    /// Checks `file`, then deactivates the role, replaces its databases with the backup's,
    /// updates them if the backup is from an older release, and activates the role again
    /// if it was active. A refused file leaves the role and its databases as they were.
    pub async fn restore(
        self: &Arc<Self>,
        file: PathBuf,
        accept_foreign: bool,
    ) -> Result<RestoreReport, MaintenanceError> {
        self.refuse_on_postgres("a restore")?;
        let _running = self.maintenance.begin("restore")?;
        self.maintenance.report("", 0, 0, "checking the backup");
        let role = self.clone();
        let checked = runtime::try_blocking(move || {
            let dbs = role.databases();
            let current = role.plugin.role_id()?;
            Ok::<_, MaintenanceError>(backup::check(
                &file,
                &refs(&dbs),
                Some(&current),
                accept_foreign,
                &role.config.data_dir,
            )?)
        })
        .await??;
        let was_active = self
            .activation
            .deactivate(&self.status, "restoring a backup")
            .await
            == Change::Done;
        self.maintenance.report("", 0, 0, "replacing the databases");
        let role = self.clone();
        let result = runtime::try_blocking(move || {
            let dbs = role.databases();
            backup::restore(checked, &refs(&dbs), &mut |db, m| {
                role.maintenance.report(db, 0, 0, &migration_step(m));
            })
        })
        .await;
        if was_active {
            self.activation.activate(&self.status).await;
        }
        let report = result??;
        tracing::info!(created_at = %report.manifest.created_at, "backup restored");
        Ok(report)
    }

    /// Applies pending migrations to both databases, the role deactivated meanwhile (and
    /// activated again if it was active).
    pub async fn update_databases(self: &Arc<Self>) -> Result<Vec<UpdateReport>, MaintenanceError> {
        let _running = self.maintenance.begin("update")?;
        let was_active = self
            .activation
            .deactivate(&self.status, "updating the databases")
            .await
            == Change::Done;
        let role = self.clone();
        let result = runtime::try_blocking(move || {
            role.databases()
                .iter()
                .map(|db| {
                    backup::update(db.as_ref(), &mut |name, m| {
                        role.maintenance.report(name, 0, 0, &migration_step(m))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await;
        if was_active {
            self.activation.activate(&self.status).await;
        }
        Ok(result??)
    }
}

impl Role {
    /// Deactivates the role on request, unless a backup, restore or update runs (they
    /// decide when the role is active while they run).
    /// The deactivation is kept in the data folder (written first: when it cannot be kept,
    /// nothing is deactivated) so that a restart does not activate the role behind the
    /// administrator's back.
    pub async fn deactivate_when_idle(&self, reason: &str) -> Result<Change, MaintenanceError> {
        let _running = self.maintenance.begin("deactivation")?;
        match self.activation.deactivated().await {
            None => self.keep_deactivation(Some(reason))?,
            // A standby deactivated on request stays deactivated when the lease frees up.
            Some(standby) if standby.starts_with(crate::lease::STANDBY) => {
                self.keep_deactivation(Some(reason))?;
                self.activation.set_reason(&self.status, reason).await;
                return Ok(Change::Done);
            }
            Some(_) => {}
        }
        Ok(self.activation.deactivate(&self.status, reason).await)
    }

    /// Activates the role on request, unless a backup, restore or update runs: a restore
    /// activates it itself once the databases are replaced.
    /// The kept deactivation is forgotten first: when it cannot be, the role stays
    /// deactivated rather than be deactivated again by the next restart.
    pub async fn activate_when_idle(&self) -> Result<Change, MaintenanceError> {
        let _running = self.maintenance.begin("activation")?;
        if let Some(holder) = self.lease_elsewhere()? {
            // Not active while another holds the lease, but no longer kept deactivated
            // either: a standby again, which activates once the lease is free.
            self.keep_deactivation(None)?;
            self.activation
                .set_reason(&self.status, &crate::lease::waiting())
                .await;
            return Err(MaintenanceError::Standby(holder));
        }
        self.keep_deactivation(None)?;
        Ok(self.activation.activate(&self.status).await)
    }

    fn keep_deactivation(&self, reason: Option<&str>) -> Result<(), MaintenanceError> {
        crate::activation::keep_deactivation(&self.config.data_dir, reason)
            .map(drop)
            .map_err(|source| MaintenanceError::KeepState {
                file: self
                    .config
                    .data_dir
                    .join(crate::activation::DEACTIVATED_FILE),
                source,
            })
    }
}

impl Role {
    /// Backup and restore on PostgreSQL are PostgreSQL's tools' (the message names them):
    /// refused before anything is touched.
    fn refuse_on_postgres(&self, what: &str) -> Result<(), MaintenanceError> {
        match &self.config.database_url {
            Some(url) => Err(store::postgres::maintained::refusal(url, what).into()),
            None => Ok(()),
        }
    }
}

fn migration_step(m: &store::migrate::Migration) -> String {
    format!("applying migration {} ({})", m.version, m.name)
}
