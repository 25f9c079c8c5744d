//! The synchronization status as the Config Tool, the REST API and the CLI show it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use model::RunOutcome;

use crate::Role;
use crate::status::{Health, Progress, ProxyInfo, Revisions, Transfer};
use store::StoreError;

/// Everything the Synchronization page shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncStatus {
    pub health: Health,
    pub proxy: ProxyInfo,
    /// Per Directory kind.
    pub kinds: BTreeMap<String, KindStatus>,
    pub latest_run: Option<RunReport>,
    /// Entities received from the proxy since the role started.
    pub transfer: Transfer,
    /// How far the Directory is behind the proxy while following changes.
    #[serde(default)]
    pub revisions: Revisions,
    /// What each of the role's workers is doing (the connection, the synchronizer).
    #[serde(default)]
    pub workers: Vec<runtime::WorkerStatus>,
}

/// One Directory kind: what the Directory holds against what SiPass has.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KindStatus {
    /// Entities currently in the Directory.
    pub synchronized: u64,
    /// Entities eligible in SiPass, as the proxy last reported (null before the first report).
    pub eligible: Option<u64>,
    /// Whether counts and digests agree (null until verified, and while the role is not
    /// connected to the proxy: the last verdict is about a copy that may have moved since).
    pub digest_match: Option<bool>,
}

/// The latest synchronization.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub id: i64,
    pub trigger: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_ms: i64,
    pub outcome: RunOutcome,
    pub error: Option<String>,
    /// Per Directory kind.
    pub progress: BTreeMap<String, Progress>,
}

impl Role {
    /// The current synchronization status.
    pub fn sync_status(&self) -> Result<SyncStatus, StoreError> {
        let mut kinds: BTreeMap<String, KindStatus> = BTreeMap::new();
        for (source, e) in self.status.eligibility() {
            // Each SiPass object of `source` is one entity of each of its Directory kinds, and
            // the digest keeps how many objects are held: a one-row read where counting the
            // rows would walk a million index entries, several times a second while a
            // status is watched during a synchronization.
            let held = self.directory.digest(source.as_str())?.count();
            for directory_kind in model::DirectoryKind::from_sipass(source) {
                let entry = kinds
                    .entry(directory_kind.as_str().to_owned())
                    .or_insert(KindStatus {
                        synchronized: 0,
                        eligible: Some(0),
                        digest_match: Some(true),
                    });
                entry.synchronized += held;
                entry.eligible = entry.eligible.map(|n| n + e.eligible);
                entry.digest_match = match (entry.digest_match, e.digest_match) {
                    (Some(a), Some(b)) => Some(a && b),
                    _ => None,
                };
            }
        }
        if !self.status.proxy().connected {
            for kind in kinds.values_mut() {
                kind.digest_match = None;
            }
        }
        let latest_run = self.directory.latest_run()?.map(|run| {
            let end = run.ended_at.unwrap_or_else(runtime::now_millis);
            RunReport {
                id: run.id,
                trigger: run.trigger,
                started_at: model::time::rfc3339_millis(run.started_at),
                ended_at: run.ended_at.map(model::time::rfc3339_millis),
                duration_ms: end - run.started_at,
                outcome: run.outcome,
                error: run.error,
                progress: progress_by_directory_kind(self.status.progress()),
            }
        });
        Ok(SyncStatus {
            health: self.status.health(),
            proxy: self.status.proxy(),
            kinds,
            latest_run,
            transfer: self.status.transfer(),
            revisions: self.status.revisions(),
            workers: self.workers.statuses(),
        })
    }
}

/// Progress per Directory kind: SiPass kinds that become the same Directory kind (APB
/// clusters and APB areas both become areas) add up.
fn progress_by_directory_kind(
    by_source: BTreeMap<model::EntityKind, Progress>,
) -> BTreeMap<String, Progress> {
    let mut out: BTreeMap<String, Progress> = BTreeMap::new();
    for (source, p) in by_source {
        for kind in model::DirectoryKind::from_sipass(source) {
            let entry = out.entry(kind.as_str().to_owned()).or_default();
            entry.done += p.done;
            entry.total += p.total;
        }
    }
    out
}
