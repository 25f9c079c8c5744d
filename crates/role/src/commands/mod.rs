//! Commands: a person's manual override (unlock a door, arm an area, pulse an output) sent
//! through the proxy to SiPass, answered with SiPass's result, and recorded in the activity
//! trail whatever the outcome.
//!
//! The [`CommandDesk`] is what the REST API calls. While a session with the proxy is open,
//! the connection's [`CommandLine`] serves it: the desk hands each command over a channel to
//! the session and waits for SiPass's answer. With no session, the desk answers at once that
//! the role is not connected (and records it): a command is never queued to run later, when
//! whoever sent it has stopped expecting it.

mod resolve;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use model::access::Viewer;
use model::commands::{self, PulsePattern};
use model::management::ManualOverride;
use protocol::pb;
use store::{Activity, ActivityFilter, Directory, EntityRow, PluginDatabase, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::proxy::{Proxy, ProxyError};
use crate::session::{Session, SessionEnd};

pub use resolve::{CommandTarget, Resolved, resolve};

/// How long SiPass has to answer one command.
const ANSWER_WITHIN: Duration = Duration::from_secs(15);

/// Commands in flight at once per session; more wait for a place.
const IN_FLIGHT: usize = 32;

/// What a command is sent as, and who sends it.
#[derive(Debug, Clone)]
pub struct CommandOrder {
    /// The entity's id (SiPass token).
    pub entity: String,
    /// Its Directory kind, when the id alone may name several entities.
    pub kind: Option<String>,
    /// A command name (`unlock`), or for an output the output behaviour linked to a pattern.
    pub action: String,
    /// What sent it: CLI, Config Tool, REST API.
    pub application: String,
    pub viewer: Viewer,
}

/// SiPass's answer to a command it received.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommandAnswer {
    /// `Succeeded`, `NotSupported`, `UnitOffline`... as SiPass says.
    pub result: String,
    pub message: String,
    /// The entry the activity trail holds for it.
    pub activity: Activity,
}

/// Why a command was not carried out by SiPass.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// No entity the viewer may see has that id (and kind).
    #[error("{0}")]
    UnknownEntity(String),
    /// Not a command, nor an output behaviour.
    #[error("{0}")]
    UnknownCommand(String),
    /// The entity exists but does not take that command; the message names both and what
    /// the entity takes. Recorded.
    #[error("{0}")]
    NotSupported(String),
    /// The id names several entities that could take it: the kind must be given.
    #[error("{0}")]
    Ambiguous(String),
    /// No session with the proxy. Recorded.
    #[error("{0}")]
    NotConnected(String),
    /// The proxy or SiPass failed or did not answer. Recorded.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One command handed to the session.
struct Job {
    request: pb::CommandRequest,
    reply: oneshot::Sender<Result<pb::CommandReply, ProxyError>>,
}

type Slot = Arc<Mutex<Option<mpsc::Sender<Job>>>>;

/// Where commands are sent from: resolves the entity, checks who asks, hands the command to
/// the session, and records the outcome.
#[derive(Clone)]
pub struct CommandDesk {
    directory: Arc<dyn Directory>,
    plugin: Arc<dyn PluginDatabase>,
    /// The role's host name, recorded as the machine.
    machine: String,
    /// What the proxy said in Hello: whether its SiPass takes commands at all.
    status: Arc<crate::StatusBoard>,
    slot: Slot,
}

impl CommandDesk {
    pub(crate) fn new(
        directory: Arc<dyn Directory>,
        plugin: Arc<dyn PluginDatabase>,
        machine: String,
        status: Arc<crate::StatusBoard>,
    ) -> Self {
        CommandDesk {
            directory,
            plugin,
            machine,
            status,
            slot: Arc::default(),
        }
    }

    /// The part the connection runs within each session.
    pub(crate) fn line(&self) -> CommandLine {
        CommandLine {
            slot: self.slot.clone(),
        }
    }

    /// The entities with this id (and kind) that `viewer` may command or see, with the
    /// commands each takes, output behaviours included.
    pub fn offered(
        &self,
        entity: &str,
        kind: Option<&str>,
        viewer: &Viewer,
    ) -> Result<Vec<CommandTarget>, CommandError> {
        let rows = self.visible_rows(entity, kind, viewer)?;
        let behaviours = crate::config::output_behaviours(&*self.directory)?;
        Ok(rows
            .into_iter()
            .map(|row| CommandTarget::new(row, &behaviours))
            .collect())
    }

    /// Sends `order` to SiPass and waits for its answer; every outcome but an unknown
    /// entity or command is recorded in the activity trail first.
    pub async fn send(&self, order: CommandOrder) -> Result<CommandAnswer, CommandError> {
        let desk = self.clone();
        let lookup = order.clone();
        let (resolved, mut activity) = runtime::try_blocking(move || desk.prepare(&lookup))
            .await
            .map_err(|e| CommandError::Failed(e.to_string()))??;
        let (row, command) = match resolved {
            Resolved::Command { row, command } => (row, command),
            Resolved::NotSupported { message, .. } => {
                activity.outcome = "not-supported".into();
                activity.message = message.clone();
                self.record(activity).await?;
                return Err(CommandError::NotSupported(message));
            }
        };
        let outcome = self.deliver(&row, command).await;
        match outcome {
            Ok(reply) => {
                activity.outcome = outcome_name(&reply.result);
                activity.message = non_empty(&reply.message, &reply.result);
                let activity = self.record(activity).await?;
                Ok(CommandAnswer {
                    result: reply.result,
                    message: reply.message,
                    activity,
                })
            }
            Err(e) => {
                let (outcome, message) = match &e {
                    CommandError::NotConnected(m) => ("not-connected", m.clone()),
                    other => ("failed", other.to_string()),
                };
                activity.outcome = outcome.into();
                activity.message = message;
                self.record(activity).await?;
                Err(e)
            }
        }
    }

    /// The activity trail, newest first, as `viewer` may see it: every command is about a
    /// SiPass entity, so an operator outside the entity partitions sees none.
    pub fn activity(
        &self,
        filter: &ActivityFilter,
        viewer: &Viewer,
    ) -> Result<Vec<Activity>, StoreError> {
        if !crate::config::sees_entities(&*self.directory, viewer)? {
            return Ok(Vec::new());
        }
        self.plugin.activities(filter)
    }

    /// The entity and command, and the activity entry with everything but the outcome.
    fn prepare(&self, order: &CommandOrder) -> Result<(Resolved, Activity), CommandError> {
        let rows = self.visible_rows(&order.entity, order.kind.as_deref(), &order.viewer)?;
        let behaviours = crate::config::output_behaviours(&*self.directory)?;
        let resolved = resolve(rows, &order.action, &behaviours)?;
        let (row, command) = match &resolved {
            Resolved::Command { row, command } => (row, *command),
            Resolved::NotSupported { row, command, .. } => (row, *command),
        };
        let now = runtime::now_millis();
        let label = match PulsePattern::of(command) {
            Some(pattern) => {
                let behaviour = behaviours
                    .iter()
                    .find(|(p, _)| *p == pattern)
                    .map(|(_, b)| b.as_str())
                    .unwrap_or(pattern.default_behaviour());
                format!(
                    "{} (output behaviour '{behaviour}')",
                    commands::label(command)
                )
            }
            None => commands::label(command).to_owned(),
        };
        let activity = Activity {
            id: 0,
            at_ms: now,
            at: model::time::rfc3339_millis(now),
            entity_id: row.id.clone(),
            entity_kind: row.kind.clone(),
            entity_name: non_empty(&row.name, &format!("{} {}", row.kind, row.id)),
            activity: commands::name(command).to_owned(),
            activity_label: label,
            application: non_empty(&order.application, "REST API"),
            application_version: model::version::PRODUCT_VERSION.to_owned(),
            machine: non_empty(&self.machine, "unknown machine"),
            user: non_empty(&order.viewer.user, "unknown user"),
            outcome: String::new(),
            message: String::new(),
        };
        Ok((resolved, activity))
    }

    /// The Directory entities with this id (of this kind) that `viewer` may see.
    fn visible_rows(
        &self,
        entity: &str,
        kind: Option<&str>,
        viewer: &Viewer,
    ) -> Result<Vec<EntityRow>, CommandError> {
        // Another partition's entity is answered like a missing one: its existence is not told.
        let visible = crate::config::sees_entities(&*self.directory, viewer)?;
        let rows: Vec<EntityRow> = self
            .directory
            .entity(entity)?
            .into_iter()
            .filter(|r| visible && kind.is_none_or(|k| r.kind == k))
            .collect();
        if rows.is_empty() {
            let what = match kind {
                Some(k) => format!("no {k} with id '{entity}'"),
                None => format!("no entity with id '{entity}'"),
            };
            return Err(CommandError::UnknownEntity(format!(
                "{what} in the Directory; `sipass-bridge entities list --kind door` lists the doors"
            )));
        }
        Ok(rows)
    }

    /// Hands the command to the session and waits for SiPass's answer.
    async fn deliver(
        &self,
        row: &EntityRow,
        command: ManualOverride,
    ) -> Result<pb::CommandReply, CommandError> {
        let target = resolve::directory_kind(&row.kind)
            .and_then(commands::target_of)
            .ok_or_else(|| CommandError::Failed(format!("a {} takes no commands", row.kind)))?;
        let request = pb::CommandRequest {
            target_kind: wire_name(&target),
            target_token: row.id.clone(),
            command: wire_name(&command),
        };
        let sender = self.slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if sender.is_some()
            && let Some(missing) = self
                .status
                .proxy()
                .unavailable
                .into_iter()
                .find(|u| u.feature == "commands")
        {
            return Err(CommandError::Failed(format!(
                "the SiPass behind the proxy takes no commands: {}",
                missing.reason
            )));
        }
        let not_connected = || {
            CommandError::NotConnected(
                "not connected to the proxy: the command was not sent; `sipass-bridge sync status` says why the role is disconnected"
                    .to_owned(),
            )
        };
        let sender = sender.ok_or_else(not_connected)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Job { request, reply })
            .await
            .map_err(|_| not_connected())?;
        match tokio::time::timeout(ANSWER_WITHIN, answer).await {
            Err(_) => Err(CommandError::Failed(format!(
                "SiPass did not answer within {} s; the command may or may not have been carried out",
                ANSWER_WITHIN.as_secs()
            ))),
            Ok(Err(_)) => Err(CommandError::Failed(
                "the connection to the proxy ended before SiPass answered; the command may or may not have been carried out"
                    .to_owned(),
            )),
            Ok(Ok(Err(e))) => Err(CommandError::Failed(e.to_string())),
            Ok(Ok(Ok(reply))) => Ok(reply),
        }
    }

    async fn record(&self, activity: Activity) -> Result<Activity, CommandError> {
        let plugin = self.plugin.clone();
        Ok(
            runtime::try_blocking(move || plugin.record_activity(&activity))
                .await
                .map_err(|e| CommandError::Failed(e.to_string()))??,
        )
    }
}

/// An enum's name as serde writes it (SiPass's wire names: `Doorset`, `AllowAccess`).
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// SiPass's result as the trail's outcome: `Succeeded` -> `succeeded`, `UnitOffline` ->
/// `unit-offline`.
fn outcome_name(result: &str) -> String {
    let mut out = String::new();
    for (i, c) in result.chars().take(64).enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        }
    }
    non_empty(&out, "unknown")
}

fn non_empty(text: &str, otherwise: &str) -> String {
    if text.trim().is_empty() {
        otherwise.to_owned()
    } else {
        text.to_owned()
    }
}

/// Serves commands for one session: the worker side of the desk.
pub(crate) struct CommandLine {
    slot: Slot,
}

impl CommandLine {
    /// Takes commands while the session lasts; never ends it. When the session ends (this
    /// future dropped), the desk is told at once that nothing is connected.
    pub async fn serve<P: Proxy>(
        &self,
        session: &Session<P>,
        shutdown: &runtime::Shutdown,
    ) -> SessionEnd {
        let (sender, mut jobs) = mpsc::channel::<Job>(IN_FLIGHT);
        let _open = OpenSlot::open(&self.slot, sender);
        let places = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        loop {
            let job = tokio::select! {
                job = jobs.recv() => job,
                _ = shutdown.wait() => return SessionEnd::Shutdown,
            };
            let Some(job) = job else {
                return std::future::pending().await;
            };
            let Ok(place) = places.clone().acquire_owned().await else {
                continue;
            };
            let proxy = session.proxy.clone();
            tokio::spawn(async move {
                let answer = proxy.command(job.request).await;
                let _ = job.reply.send(answer);
                drop(place);
            });
        }
    }
}

/// The session's sender in the desk's slot while the session lasts.
struct OpenSlot<'a>(&'a Slot);

impl<'a> OpenSlot<'a> {
    fn open(slot: &'a Slot, sender: mpsc::Sender<Job>) -> Self {
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender);
        OpenSlot(slot)
    }
}

impl Drop for OpenSlot<'_> {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sipass_results_become_trail_outcomes() {
        assert_eq!(outcome_name("Succeeded"), "succeeded");
        assert_eq!(outcome_name("UnitOffline"), "unit-offline");
        assert_eq!(outcome_name("NotSupported"), "not-supported");
        assert_eq!(outcome_name(""), "unknown");
        assert_eq!(outcome_name("<script>"), "script");
    }
}
