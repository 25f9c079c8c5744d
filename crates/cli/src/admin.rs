//! Administration commands: they talk to a running role through its REST API.

use anyhow::{Result, bail};
use model::RunOutcome;
use role::config::RoleSettings;
use role::report::SyncStatus;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::RoleTarget;
use crate::api::Api;

#[derive(clap::Subcommand)]
pub enum SyncCommand {
    /// Per entity kind: synchronized and eligible counts and whether digests match; the
    /// latest synchronization and the role's health.
    Status {
        #[command(flatten)]
        target: RoleTarget,
        /// For monitoring scripts: exit 0 when the role is online and no digest differs, 2
        /// (with the reason on standard error) when it is not, 1 when the role cannot be asked.
        #[arg(long)]
        check: bool,
    },
    /// Check the Directory: with --deep, every kind's count and digest recomputed from its
    /// rows and compared with what the Directory keeps (finds a damaged Directory that
    /// everyday verification, which trusts the kept digests, cannot). Exits 2 when a kind is
    /// inconsistent.
    Verify {
        #[command(flatten)]
        target: RoleTarget,
        /// Recompute from the rows (reads every entity).
        #[arg(long)]
        deep: bool,
    },
    /// Start a full (manual) synchronization.
    Start {
        #[command(flatten)]
        target: RoleTarget,
        /// Wait until it ends, showing progress per entity kind.
        #[arg(long)]
        wait: bool,
    },
}

// Parsed once per run: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Print a commented configuration file for a service (every setting at its default),
    /// to save and pass with `--config FILE`.
    Init {
        #[arg(value_parser = crate::config_file::SERVICES)]
        service: String,
    },
    /// Every setting of the Properties page: proxy host and port, credential synchronization,
    /// entity partitions, events not logged and ignored, alarm recipients, partitions and
    /// webhook, output behaviours.
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
        /// Event categories not stored, comma-separated (e.g. "Generic,Operator"); "" logs
        /// every category.
        #[arg(long)]
        events_not_logged: Option<String>,
        /// SiPass event types never stored, comma-separated (e.g. "Door Closed"); "" for none.
        #[arg(long)]
        events_ignored: Option<String>,
        /// The partitions SiPass entities and their events belong to, comma-separated (an
        /// operator sees them when it belongs to one).
        #[arg(long)]
        entity_partitions: Option<String>,
        /// Default recipients of new alarm entities, comma-separated "user:NAME" and
        /// "group:NAME" (applied when an alarm class first appears); "" for nobody.
        #[arg(long)]
        alarm_recipients: Option<String>,
        /// Partitions of every alarm entity, comma-separated; reapplied to every alarm at
        /// once, removing partitions added by hand; "" for none.
        #[arg(long)]
        alarm_partitions: Option<String>,
        /// An http:// address each alarm change is posted to as JSON; "" for none.
        #[arg(long)]
        alarm_webhook_url: Option<String>,
        /// Link a SiPass pulse pattern to an output behaviour, PATTERN=BEHAVIOUR (patterns:
        /// fast-pulse, single-pulse, slow-pulse, toggle); repeat for several.
        #[arg(long, value_name = "PATTERN=BEHAVIOUR")]
        output_behaviour: Vec<String>,
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
        SyncCommand::Status { target, check } => {
            let status: SyncStatus = Api::new(&target)?.get("/sync/status").await?;
            if target.json {
                out!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
            if check && let Some(problem) = unhealthy(&status) {
                return Err(Unhealthy(problem).into());
            }
        }
        SyncCommand::Start { target, wait } => start(&target, wait).await?,
        SyncCommand::Verify { target, deep } => verify(&target, deep).await?,
    }
    Ok(())
}

/// What `sync status --check` found wrong; the process exits with 2.
#[derive(Debug)]
pub struct Unhealthy(pub String);

impl std::fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unhealthy {}

/// Why a role is not healthy, for monitoring: not online, or a kind whose digest differs
/// from the proxy's.
fn unhealthy(status: &SyncStatus) -> Option<String> {
    let health = &status.health;
    if health.state != role::HealthState::Online {
        return Some(format!(
            "the role is {} ({})",
            json_name(&health.state),
            or_dash(health.reason.as_deref())
        ));
    }
    let differing: Vec<&str> = status
        .kinds
        .iter()
        .filter(|(_, k)| k.digest_match == Some(false))
        .map(|(kind, _)| kind.as_str())
        .collect();
    (!differing.is_empty()).then(|| {
        format!(
            "the Directory differs from SiPass for: {}",
            differing.join(", ")
        )
    })
}

async fn verify(target: &RoleTarget, deep: bool) -> Result<()> {
    let api = Api::new(target)?;
    if !deep {
        // Everyday verification: the kept digests against the proxy's.
        let status: SyncStatus = api.get("/sync/status").await?;
        if target.json {
            out!("{}", serde_json::to_string_pretty(&status.kinds)?);
        } else {
            print_status(&status);
        }
        return match unhealthy(&status) {
            Some(problem) => Err(Unhealthy(problem).into()),
            None => Ok(()),
        };
    }
    // About ten seconds per million entities; generous, since it only reads.
    let limit = std::time::Duration::from_secs(600);
    let report: web::DeepVerification = api.post_slow("/sync/verify", limit).await?;
    if target.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!(
            "{:<26} {:>12} {:>12}  ROWS",
            "SIPASS KIND",
            "KEPT",
            "IN ROWS"
        );
        for k in &report.kinds {
            out!(
                "{:<26} {:>12} {:>12}  {}",
                k.kind,
                k.kept_count,
                k.rows_count,
                if k.consistent {
                    "consistent"
                } else {
                    "INCONSISTENT"
                }
            );
        }
    }
    let broken: Vec<&str> = report
        .kinds
        .iter()
        .filter(|k| !k.consistent)
        .map(|k| k.kind.as_str())
        .collect();
    if broken.is_empty() {
        return Ok(());
    }
    Err(Unhealthy(format!(
        "the Directory's rows do not add up to what it keeps for: {}; it is damaged: run `sipass-bridge sync start` to list everything again, or restore a backup",
        broken.join(", ")
    ))
    .into())
}

/// The answer to `POST /sync/start`.
#[derive(Serialize, Deserialize)]
struct Accepted {
    message: String,
}

async fn start(target: &RoleTarget, wait: bool) -> Result<()> {
    let api = Api::new(target)?;
    let status: SyncStatus = api.get("/sync/status").await?;
    let before = status.latest_run.map_or(0, |run| run.id);
    let answer: Accepted = api.post("/sync/start").await?;
    if !wait {
        if target.json {
            out!("{}", serde_json::to_string(&answer)?);
        } else {
            out!("Full synchronization requested; follow it with `sipass-bridge sync status`.");
        }
        return Ok(());
    }
    let run = crate::progress::follow_run(&api, before, target.json).await?;
    if target.json {
        out!("{}", serde_json::to_string_pretty(&run)?);
    }
    if run.outcome != RunOutcome::Succeeded {
        bail!(
            "the synchronization ended {}: {}",
            run.outcome,
            run.error.as_deref().unwrap_or("no details")
        );
    }
    Ok(())
}

pub async fn config(command: ConfigCommand) -> Result<()> {
    let (target, settings): (_, RoleSettings) = match command {
        ConfigCommand::Init { service } => {
            use clap::CommandFactory;
            let template = crate::config_file::template(&crate::Cli::command(), &service)
                .ok_or_else(|| anyhow::anyhow!("no service '{service}'"))?;
            out!("{}", template.trim_end());
            return Ok(());
        }
        ConfigCommand::Show(target) => {
            let settings = Api::new(&target)?.get("/config").await?;
            (target, settings)
        }
        ConfigCommand::Set {
            target,
            host,
            port,
            sync_credentials,
            events_not_logged,
            events_ignored,
            entity_partitions,
            alarm_recipients,
            alarm_partitions,
            alarm_webhook_url,
            output_behaviour,
        } => {
            let mut change = serde_json::Map::new();
            for (key, value) in [
                ("alarm_recipients", alarm_recipients),
                ("alarm_partitions", alarm_partitions),
                ("alarm_webhook_url", alarm_webhook_url),
            ] {
                if let Some(value) = value {
                    change.insert(key.into(), Value::String(value));
                }
            }
            if !output_behaviour.is_empty() {
                change.insert(
                    "output_behaviours".into(),
                    Value::Object(crate::commands::behaviour_pairs(&output_behaviour)?),
                );
            }
            if let Some(list) = entity_partitions {
                change.insert("entity_partitions".into(), Value::String(list));
            }
            if let Some(list) = events_not_logged {
                change.insert("events_not_logged".into(), Value::String(list));
            }
            if let Some(list) = events_ignored {
                change.insert("events_ignored".into(), Value::String(list));
            }
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
                bail!(
                    "nothing to set: give --host, --port, --sync-credentials, --events-not-logged, --events-ignored, --alarm-recipients, --alarm-partitions, --alarm-webhook-url, --output-behaviour and/or --entity-partitions"
                );
            }
            let settings = Api::new(&target)?.put("/config", &change).await?;
            (target, settings)
        }
    };
    if target.json {
        out!("{}", serde_json::to_string_pretty(&settings)?);
    } else {
        let host = Some(settings.host.as_str()).filter(|h| !h.is_empty());
        out!("host:             {}", host.unwrap_or("(not set)"));
        out!("port:             {}", settings.port);
        let on = if settings.sync_credentials {
            "on"
        } else {
            "off"
        };
        out!("sync credentials: {on}");
        let list = |l: &[String]| match l {
            [] => "(none)".to_owned(),
            l => l.join(", "),
        };
        out!("events not logged: {}", list(&settings.events_not_logged));
        out!("events ignored:    {}", list(&settings.events_ignored));
        out!("entity partitions: {}", list(&settings.entity_partitions));
        let recipients = crate::alarms::recipients_text(&settings.alarm_recipients);
        out!("alarm recipients:  {recipients}");
        out!("alarm partitions:  {}", list(&settings.alarm_partitions));
        let webhook = Some(settings.alarm_webhook_url.as_str()).filter(|u| !u.is_empty());
        out!("alarm webhook:     {}", webhook.unwrap_or("(none)"));
        for (pattern, behaviour) in &settings.output_behaviours {
            out!("output behaviour:  {pattern:<13} -> {}", shown(behaviour));
        }
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
            let limit = limit.to_string();
            let query = [
                ("kind", kind.as_str()),
                ("limit", &limit),
                ("after", &after),
            ];
            let page: web::EntityPage = Api::new(&target)?.get_query("/entities", &query).await?;
            if target.json {
                out!("{}", serde_json::to_string_pretty(&page)?);
                return Ok(());
            }
            if page.entities.is_empty() {
                out!("No {kind} entities.");
            }
            for e in &page.entities {
                out!("{:<24} {:<18} {}", shown(&e.id), e.revision, shown(&e.name));
            }
            if let Some(next) = page.next_after {
                out!("(more: --after {next})");
            }
        }
        EntitiesCommand::Show { target, id } => {
            let found: web::EntityMatches = Api::new(&target)?.get_at(&["entities", &id]).await?;
            if target.json {
                out!("{}", serde_json::to_string_pretty(&found)?);
                return Ok(());
            }
            for e in &found.entities {
                out!(
                    "{} {} \"{}\" (SiPass {}, revision {})",
                    e.kind,
                    shown(&e.id),
                    shown(&e.name),
                    e.source_kind,
                    e.revision
                );
                out!("{}", serde_json::to_string_pretty(&e.fields)?);
            }
        }
    }
    Ok(())
}

/// A value or "-" when the role does not know it yet.
fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| shown(&v.to_string()))
}

/// Text that came from SiPass or the network, made safe for a terminal: control characters
/// escaped (no forged lines, no escape sequences) and length capped.
pub(crate) fn shown(text: &str) -> String {
    protocol::printable(text, 256)
}

/// A value's name as the JSON shows it (e.g. a health state, lower case).
fn json_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

fn print_status(status: &SyncStatus) {
    let health = &status.health;
    let retry = health
        .retry_in_ms
        .map(|ms| format!("; retrying in {} s", ms.div_ceil(1000)))
        .unwrap_or_default();
    out!(
        "Health:  {} ({}{retry})",
        json_name(&health.state),
        or_dash(health.reason.as_deref())
    );
    let proxy = &status.proxy;
    // Versions only once this proxy has said them in Hello.
    let versions = if proxy.product_version.is_empty() {
        String::new()
    } else {
        format!(
            ", proxy {}, SiPass {}",
            shown(&proxy.product_version),
            shown(&proxy.sipass_version)
        )
    };
    out!(
        "Proxy:   {} ({}{versions})",
        shown(&proxy.address),
        if proxy.connected {
            "connected"
        } else {
            "not connected"
        }
    );
    for u in &proxy.unavailable {
        let kinds = if u.kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", u.kinds.join(", "))
        };
        out!("Unavailable: {}{kinds}: {}", u.feature, u.reason);
    }
    if let (Some(applied), Some(proxy), Some(behind)) = (
        status.revisions.applied,
        status.revisions.proxy,
        status.revisions.behind,
    ) {
        out!("Real time: {behind} revisions behind the proxy (at {applied} of {proxy})");
    }
    out!();
    out!(
        "{:<26} {:>13} {:>13}  VERIFIED",
        "ENTITY TYPE",
        "SYNCHRONIZED",
        "ELIGIBLE"
    );
    for (kind, k) in &status.kinds {
        let verified = match k.digest_match {
            Some(true) => "equal",
            Some(false) => "DIFFERS",
            None => "-",
        };
        out!(
            "{kind:<26} {:>13} {:>13}  {verified}",
            k.synchronized,
            or_dash(k.eligible)
        );
    }
    out!();
    match &status.latest_run {
        Some(run) => {
            out!(
                "Latest synchronization: {} ({}), started {}, {:.1} s{}",
                run.outcome,
                run.trigger,
                run.started_at,
                run.duration_ms as f64 / 1000.0,
                run.error
                    .as_deref()
                    .map(|e| format!(", error: {}", shown(e)))
                    .unwrap_or_default()
            );
            for (kind, p) in &run.progress {
                out!("  {kind:<24} {} / {}", p.done, p.total);
            }
        }
        None => out!("No synchronization yet."),
    }
}
