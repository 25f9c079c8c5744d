//! The role's status, read as the typed report its REST API serves, and the one rule for
//! "verified" that the tests and the bench share.

use std::path::Path;
use std::time::Duration;

use model::RunOutcome;
use role::HealthState;
use role::report::SyncStatus;
use role::status::Progress;

use crate::error::read;
use crate::{HarnessError, Result};

/// A client of one role's REST API, with the API token from its data folder.
#[derive(Clone)]
pub struct RoleApi {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl RoleApi {
    /// The role whose Config Tool is at `role_url` and whose data is in `role_dir`.
    pub fn new(role_url: &str, role_dir: &Path) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(RoleApi {
            http,
            url: role_url.trim_end_matches('/').to_owned(),
            token: read(&web::token_path(role_dir))?.trim().to_owned(),
        })
    }

    /// `GET /api/v1/sync/status`, typed.
    pub async fn status(&self) -> Result<SyncStatus> {
        let request = format!("{}/api/v1/sync/status", self.url);
        let response = self
            .http
            .get(&request)
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(HarnessError::Status {
                request,
                status: status.as_u16(),
                body,
            });
        }
        Ok(response.json().await?)
    }
}

/// True when the role is online, its latest run succeeded, and every kind is verified equal
/// to the proxy's, with as many entities as are eligible.
pub fn verified(status: &SyncStatus) -> bool {
    status.health.state == HealthState::Online
        && status
            .latest_run
            .as_ref()
            .is_some_and(|run| run.outcome == RunOutcome::Succeeded)
        && !status.kinds.is_empty()
        && status
            .kinds
            .values()
            .all(|k| k.digest_match == Some(true) && k.eligible == Some(k.synchronized))
}

/// Entities that travel in one clean synchronization: a controller becomes two Directory
/// kinds but travels once, so the intrusion detection units are not counted.
pub fn total_eligible(status: &SyncStatus) -> u64 {
    status
        .kinds
        .iter()
        .filter(|(kind, _)| kind.as_str() != model::DirectoryKind::IntrusionDetectionUnit.as_str())
        .filter_map(|(_, k)| k.eligible)
        .sum()
}

/// How far the latest run's listing of cardholders is.
pub fn cardholder_progress(status: &SyncStatus) -> Option<Progress> {
    let run = status.latest_run.as_ref()?;
    run.progress
        .get(model::DirectoryKind::Cardholder.as_str())
        .copied()
}
