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
    Start {
        #[command(flatten)]
        target: RoleTarget,
        /// Wait until it ends, showing progress per entity kind.
        #[arg(long)]
        wait: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// The connection settings: proxy host and port, credential synchronization.
    Show(RoleTarget),
    /// Change settings. Every value is checked first; a bad one changes nothing.
    Set {
        #[command(flatten)]
        target: RoleTarget,
        /// The proxy's host name or IP address.
        #[arg(long)]
        host: Option<String>,
        /// The proxy's port, 1 to 65535.
        #[arg(long)]
        port: Option<String>,
        /// Synchronize credentials: on or off.
        #[arg(long)]
        sync_credentials: Option<String>,
    },
}

#[derive(clap::Subcommand)]
pub enum EntitiesCommand {
    /// Entities of one kind in the Directory, e.g. cardholder, credential, door.
    List {
        #[command(flatten)]
        target: RoleTarget,
        #[arg(long)]
        kind: String,
        /// How many at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Start after this id (for paging).
        #[arg(long, default_value = "")]
        after: String,
    },
    /// One entity with all its fields.
    Show {
        #[command(flatten)]
        target: RoleTarget,
        id: String,
    },
}

pub async fn sync(command: SyncCommand) -> Result<()> {
    match command {
        SyncCommand::Status(target) => {
            let status = Api::new(&target)?.get("/sync/status").await?;
            if target.json {
                out!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
        }
        SyncCommand::Start { target, wait } => start(&target, wait).await?,
    }
    Ok(())
}

async fn start(target: &RoleTarget, wait: bool) -> Result<()> {
    let api = Api::new(target)?;
    let before = api.get("/sync/status").await?["latest_run"]["id"]
        .as_i64()
        .unwrap_or(0);
    let answer = api.post("/sync/start", None).await?;
    if !wait {
        if target.json {
            out!("{answer}");
        } else {
            out!("Full synchronization requested; follow it with `sipass-bridge sync status`.");
        }
        return Ok(());
    }
    let run = crate::progress::follow_run(&api, before, target.json).await?;
    if target.json {
        out!("{}", serde_json::to_string_pretty(&run)?);
    }
    if run["outcome"] != "succeeded" {
        bail!(
            "the synchronization ended {}: {}",
            run["outcome"].as_str().unwrap_or("?"),
            run["error"].as_str().unwrap_or("no details")
        );
    }
    Ok(())
}

pub async fn config(command: ConfigCommand) -> Result<()> {
    let (target, settings) = match command {
        ConfigCommand::Show(target) => {
            let settings = Api::new(&target)?.get("/config").await?;
            (target, settings)
        }
        ConfigCommand::Set {
            target,
            host,
            port,
            sync_credentials,
        } => {
            let mut change = serde_json::Map::new();
            if let Some(host) = host {
                change.insert("host".into(), Value::String(host));
            }
            if let Some(port) = port {
                change.insert("port".into(), Value::String(port));
            }
            if let Some(switch) = sync_credentials {
                change.insert(
                    "sync_credentials".into(),
                    Value::String(switch.to_lowercase()),
                );
            }
            if change.is_empty() {
                bail!("nothing to set: give --host, --port and/or --sync-credentials");
            }
            let settings = Api::new(&target)?
                .put("/config", Value::Object(change))
                .await?;
            (target, settings)
        }
    };
    if target.json {
        out!("{}", serde_json::to_string_pretty(&settings)?);
    } else {
        let host = settings["host"].as_str().filter(|h| !h.is_empty());
        out!("host:             {}", host.unwrap_or("(not set)"));
        out!("port:             {}", settings["port"]);
        let on = settings["sync_credentials"] == true;
        out!("sync credentials: {}", if on { "on" } else { "off" });
    }
    Ok(())
}

pub async fn entities(command: EntitiesCommand) -> Result<()> {
    match command {
        EntitiesCommand::List {
            target,
            kind,
            limit,
            after,
        } => {
            let path = format!(
                "/entities?kind={}&limit={limit}&after={}",
                encode(&kind),
                encode(&after)
            );
            let answer = Api::new(&target)?.get(&path).await?;
            if target.json {
                out!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            let entities = answer["entities"].as_array().cloned().unwrap_or_default();
            if entities.is_empty() {
                out!("No {kind} entities.");
            }
            for e in &entities {
                let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                out!("{:<24} {:<18} {}", text("id"), e["revision"], text("name"));
            }
            if let Some(next) = answer["next_after"].as_str() {
                out!("(more: --after {next})");
            }
        }
        EntitiesCommand::Show { target, id } => {
            let answer = Api::new(&target)?
                .get(&format!("/entities/{}", encode(&id)))
                .await?;
            if target.json {
                out!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            for e in answer["entities"].as_array().cloned().unwrap_or_default() {
                let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                out!(
                    "{} {} \"{}\" (SiPass {}, revision {})",
                    text("kind"),
                    text("id"),
                    text("name"),
                    text("source_kind"),
                    e["revision"]
                );
                out!("{}", serde_json::to_string_pretty(&e["fields"])?);
            }
        }
    }
    Ok(())
}

/// Percent-encodes a query or path value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A client of the role's REST API.
pub struct Api {
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

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> Result<Value> {
        let mut request = self.http.post(self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Result<Value> {
        self.send(self.http.put(self.url(path)).json(&body)).await
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
    out!(
        "Health:  {} ({})",
        text(&health["state"]),
        text(&health["reason"])
    );
    let proxy = &status["proxy"];
    out!(
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
    out!();
    out!(
        "{:<26} {:>13} {:>13}  VERIFIED",
        "ENTITY TYPE",
        "SYNCHRONIZED",
        "ELIGIBLE"
    );
    if let Some(kinds) = status["kinds"].as_object() {
        for (kind, k) in kinds {
            let verified = match k["digest_match"] {
                Value::Bool(true) => "equal",
                Value::Bool(false) => "DIFFERS",
                _ => "-",
            };
            out!(
                "{kind:<26} {:>13} {:>13}  {verified}",
                text(&k["synchronized"]),
                text(&k["eligible"])
            );
        }
    }
    out!();
    match status.get("latest_run").filter(|r| !r.is_null()) {
        Some(run) => {
            out!(
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
                    out!("  {kind:<24} {} / {}", text(&p["done"]), text(&p["total"]));
                }
            }
        }
        None => out!("No synchronization yet."),
    }
}
