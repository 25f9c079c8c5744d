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

    /// `method /api/v1{path}` with `body`, as the role's API token or `token` when given:
    /// (HTTP status, JSON answer or null).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, serde_json::Value)> {
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| HarnessError::Answer {
                what: "an HTTP method".into(),
                detail: e.to_string(),
            })?;
        let request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.url))
            .bearer_auth(token.unwrap_or(&self.token));
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or_default()))
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A status as the role serves it: online, the latest run succeeded, two kinds.
    fn status(cardholders: u64, synchronized: u64, digest_match: bool) -> SyncStatus {
        serde_json::from_value(json!({
            "health": {"state": "online", "reason": null},
            "proxy": {"address": "127.0.0.1:5645", "product_version": "0.1.0",
                      "sipass_version": "2.80", "connected": true},
            "kinds": {
                "cardholder": {"synchronized": synchronized, "eligible": cardholders,
                               "digest_match": digest_match},
                "intrusion-detection-unit": {"synchronized": 2, "eligible": 2,
                                             "digest_match": true}
            },
            "latest_run": {"id": 1, "trigger": "startup", "started_at": "", "ended_at": null,
                           "duration_ms": 5, "outcome": "succeeded", "error": null,
                           "progress": {"cardholder": {"done": 3, "total": cardholders}}},
            "transfer": {"listed": 10, "watched": 0}
        }))
        .unwrap()
    }

    #[test]
    fn verified_needs_matching_digests_and_counts() {
        assert!(verified(&status(10, 10, true)));
        assert!(!verified(&status(10, 10, false)));
        assert!(!verified(&status(10, 9, true)));
    }

    #[test]
    fn a_unit_travels_once() {
        assert_eq!(total_eligible(&status(10, 10, true)), 10);
        let progress = cardholder_progress(&status(10, 10, true)).unwrap();
        assert_eq!((progress.done, progress.total), (3, 10));
    }
}
