//! The synchronization status as the Config Tool, the REST API and the CLI show it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Role;
use crate::status::{Health, Progress, ProxyInfo};
use store::StoreError;

/// Everything the Synchronization page shows.
#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    pub health: Health,
    pub proxy: ProxyInfo,
    /// Per Directory kind.
    pub kinds: BTreeMap<String, KindStatus>,
    pub latest_run: Option<RunReport>,
}

/// One Directory kind: what the Directory holds against what SiPass has.
#[derive(Debug, Clone, Serialize)]
pub struct KindStatus {
    /// Entities currently in the Directory.
    pub synchronized: u64,
    /// Entities eligible in SiPass, as the proxy last reported (null before the first report).
    pub eligible: Option<u64>,
    /// Whether counts and digests agree (null until verified).
    pub digest_match: Option<bool>,
}

/// The latest synchronization.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub id: i64,
    pub trigger: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_ms: i64,
    pub outcome: String,
    pub error: Option<String>,
    /// Per Directory kind.
    pub progress: BTreeMap<String, Progress>,
}

impl Role {
    /// The current synchronization status.
    pub fn sync_status(&self) -> Result<SyncStatus, StoreError> {
        let eligibility = self.status.eligibility();
        let mut kinds = BTreeMap::new();
        for (kind, e) in &eligibility {
            kinds.insert(
                kind.clone(),
                KindStatus {
                    synchronized: self.directory.count(kind)?,
                    eligible: Some(e.eligible),
                    digest_match: e.digest_match,
                },
            );
        }
        let latest_run = self.directory.latest_run()?.map(|run| {
            let end = run.ended_at.unwrap_or_else(store::now_millis);
            RunReport {
                id: run.id,
                trigger: run.trigger,
                started_at: model::time::rfc3339_millis(run.started_at),
                ended_at: run.ended_at.map(model::time::rfc3339_millis),
                duration_ms: end - run.started_at,
                outcome: run.outcome,
                error: run.error,
                progress: self.status.progress(),
            }
        });
        Ok(SyncStatus {
            health: self.status.health(),
            proxy: self.status.proxy(),
            kinds,
            latest_run,
        })
    }
}
