//! Administration commands: they talk to a running role through its REST API.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::RoleTarget;

#[derive(clap::Subcommand)]
pub enum SyncCommand {
    /// Per entity kind: synchronized and eligible counts and whether digests match; the
    /// latest synchronization and the role's health.
    Status(RoleTarget),
    /// Start a full (manual) synchronization.
    Start(RoleTarget),
}

pub async fn sync(command: SyncCommand) -> Result<()> {
    match command {
        SyncCommand::Status(target) => {
            let status = Api::new(&target)?.get("/sync/status").await?;
            if target.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
        }
        SyncCommand::Start(target) => {
            let answer = Api::new(&target)?.post("/sync/start").await?;
            if target.json {
                println!("{answer}");
            } else {
                println!(
                    "Full synchronization requested; follow it with `sipass-bridge sync status`."
                );
            }
        }
    }
    Ok(())
}

/// A client of the role's REST API.
struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    fn new(target: &RoleTarget) -> Result<Self> {
        let base = match &target.role {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => read_trimmed(&crate::services::role_address_path(&target.data)).with_context(|| {
                format!(
                    "no running role found in data folder '{}'; start one (`sipass-bridge demo` or `sipass-bridge role`) or pass --data or --role",
                    target.data.display()
                )
            })?,
        };
        let token = match std::env::var("SIPASS_BRIDGE_API_TOKEN") {
            Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
            _ => read_trimmed(&web::token_path(&target.data)).with_context(|| {
                format!(
                    "no API token: set SIPASS_BRIDGE_API_TOKEN or pass --data with the role's data folder (api-token in '{}')",
                    target.data.display()
                )
            })?,
        };
        Ok(Api {
            base,
            token,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
        })
    }

    async fn get(&self, path: &str) -> Result<Value> {
        self.send(self.http.get(self.url(path))).await
    }

    async fn post(&self, path: &str) -> Result<Value> {
        self.send(self.http.post(self.url(path))).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value> {
        let response = request.bearer_auth(&self.token).send().await.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the role at {}: {}; is the role running?",
                self.base,
                protocol::error_chain(&e)
            )
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let message = body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no details");
            bail!("the role answered {status}: {message}");
        }
        Ok(body)
    }
}

fn read_trimmed(path: &Path) -> Result<String> {
    Ok(std::fs::read_to_string(path)?.trim().to_owned())
}

fn print_status(status: &Value) {
    let text = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let health = &status["health"];
    println!(
        "Health:  {} ({})",
        text(&health["state"]),
        text(&health["reason"])
    );
    let proxy = &status["proxy"];
    println!(
        "Proxy:   {} ({}, proxy {}, SiPass {})",
        text(&proxy["address"]),
        if proxy["connected"] == Value::Bool(true) {
            "connected"
        } else {
            "not connected"
        },
        text(&proxy["product_version"]),
        text(&proxy["sipass_version"])
    );
    println!();
    println!(
        "{:<26} {:>13} {:>13}  VERIFIED",
        "ENTITY TYPE", "SYNCHRONIZED", "ELIGIBLE"
    );
    if let Some(kinds) = status["kinds"].as_object() {
        for (kind, k) in kinds {
            let verified = match k["digest_match"] {
                Value::Bool(true) => "equal",
                Value::Bool(false) => "DIFFERS",
                _ => "-",
            };
            println!(
                "{kind:<26} {:>13} {:>13}  {verified}",
                text(&k["synchronized"]),
                text(&k["eligible"])
            );
        }
    }
    println!();
    match status.get("latest_run").filter(|r| !r.is_null()) {
        Some(run) => {
            println!(
                "Latest synchronization: {} ({}), started {}, {:.1} s{}",
                text(&run["outcome"]),
                text(&run["trigger"]),
                text(&run["started_at"]),
                run["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0,
                run["error"]
                    .as_str()
                    .map(|e| format!(", error: {e}"))
                    .unwrap_or_default()
            );
            if let Some(progress) = run["progress"].as_object() {
                for (kind, p) in progress {
                    println!("  {kind:<24} {} / {}", text(&p["done"]), text(&p["total"]));
                }
            }
        }
        None => println!("No synchronization yet."),
    }
}
