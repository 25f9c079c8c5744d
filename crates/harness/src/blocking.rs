//! Synchronous forms of the async clients, for tests that drive the system step by step.

use std::path::Path;

use role::report::SyncStatus;
use serde_json::Value;

use crate::{HarnessError, Result, RoleApi, SimClient};

/// A runtime of its own for one synchronous caller.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| HarnessError::Io {
            what: "cannot start an async runtime".into(),
            source,
        })
}

/// [`SimClient`] called synchronously; its runtime also serves the caller's other async
/// clients (e.g. a gRPC client of the proxy).
pub struct SimApi {
    pub runtime: tokio::runtime::Runtime,
    client: SimClient,
}

impl SimApi {
    pub fn login(hr_url: &str, sim_dir: &Path, client_id: &str) -> Result<Self> {
        let runtime = runtime()?;
        let client = runtime.block_on(SimClient::login(hr_url, sim_dir, client_id))?;
        Ok(SimApi { runtime, client })
    }

    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        self.runtime.block_on(self.client.call(method, path, body))
    }

    pub fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        self.runtime.block_on(self.client.ok(method, path, body))
    }

    pub fn cardholders(&self) -> Result<std::collections::BTreeSet<(String, String)>> {
        self.runtime.block_on(self.client.cardholders())
    }
}

/// The role's status over its REST API, with a runtime of its own (for tight polling from
/// synchronous code).
pub fn role_status(role_url: &str, role_dir: &Path) -> Result<SyncStatus> {
    let api = RoleApi::new(role_url, role_dir)?;
    runtime()?.block_on(api.status())
}

/// `GET url` without credentials (health, metrics): the status code and the body.
pub fn get_text(url: &str) -> Result<(u16, String)> {
    runtime()?.block_on(async {
        let response = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?
            .get(url)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    })
}

/// [`RoleApi`] called synchronously.
pub struct RoleCalls {
    runtime: tokio::runtime::Runtime,
    api: RoleApi,
}

impl RoleCalls {
    pub fn new(role_url: &str, role_dir: &Path) -> Result<Self> {
        Ok(RoleCalls {
            runtime: runtime()?,
            api: RoleApi::new(role_url, role_dir)?,
        })
    }

    /// See [`RoleApi::call`].
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let call = || {
            self.runtime
                .block_on(self.api.call(method, path, token, body))
        };
        match call() {
            // A kept-alive connection the role closed as it was reused (seen under load):
            // a GET is safe to send again.
            Err(crate::HarnessError::Http(e)) if method == "GET" && e.is_request() => call(),
            other => other,
        }
    }
}
