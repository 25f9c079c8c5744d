//! The alarm manager. SiPass's alarm changes come through the proxy's journal with the
//! events and are applied by the event recorder in the same transaction as the journal
//! position (exactly once, see `events`); what this worker adds, within each session:
//!
//! - every alarm class of the Directory becomes an alarm entity, with the default recipients
//!   and partitions of the moment it is created;
//! - at connection, every alarm active in SiPass is triggered (once: idempotent on SiPass's
//!   alarm id, across sessions and restarts);
//! - acknowledgements made here wait in the plugin database's queue and are sent to SiPass
//!   in order, each removed only once the proxy confirmed it, so that one made while the
//!   proxy is away is delivered after it returns.
//!
//! Alarm changes reach the live feed ([`AlarmFeed`]) and, when one is set, the webhook.

mod access;
mod feed;
mod sipass;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use runtime::{Backoff, Shutdown, StatusReporter};
use store::{AlarmUpdate, Directory, PluginDatabase};
use tokio::sync::Notify;

pub use access::{
    AckAnswer, AlarmEntityView, AlarmError, AlarmView, MAX_COMMENT, recipients_notice,
    validate_comment, validate_partition,
};
pub use feed::{ALARM_FEED_BUFFER, AlarmFeed};
pub(crate) use sipass::{bounded, journal_change};

use crate::config;
use crate::proxy::{AckDelivery, Proxy};
use crate::session::{Session, SessionEnd};

/// How often alarm classes new in the Directory become alarm entities.
const ENTITIES_EVERY: Duration = Duration::from_secs(2);

/// What the alarm workers and the API tell each other; cheap to clone.
#[derive(Clone, Default)]
pub struct AlarmSignals {
    /// Alarm changes as they are written, for the live feed.
    pub feed: AlarmFeed,
    /// An acknowledgement was queued: send it now.
    pub acks: Arc<Notify>,
    /// A webhook message was queued.
    pub webhook: Arc<Notify>,
    /// Webhook messages forgotten since the role started because the outbox was full (the
    /// receiver away for long); for `/metrics`.
    pub webhook_dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl AlarmSignals {
    /// Offers changes just committed to the feed, and wakes the webhook when it has work.
    pub fn published(&self, updates: Vec<AlarmUpdate>) {
        if updates.iter().any(|u| u.sequence > 0) {
            self.webhook.notify_one();
        }
        for update in updates {
            self.feed.publish(update);
        }
    }
}

/// The alarm manager, within a session.
pub(crate) struct AlarmManager {
    pub directory: Arc<dyn Directory>,
    pub plugin: Arc<dyn PluginDatabase>,
    pub reporter: StatusReporter,
    pub signals: AlarmSignals,
}

impl AlarmManager {
    /// Works until shutdown: the session ends through the other workers when the proxy goes
    /// (a failed acknowledgement is kept and retried, never a reason to end a session).
    pub async fn serve<P: Proxy>(&self, session: &Session<P>, shutdown: &Shutdown) -> SessionEnd {
        self.reporter.busy("triggering the alarms active in SiPass");
        self.ensure_entities().await;
        self.trigger_active(session).await;
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        loop {
            let wait = match self.send_queued(session).await {
                Ok(()) => {
                    backoff.reset();
                    self.reporter.idle("waiting for alarm acknowledgements");
                    ENTITIES_EVERY
                }
                Err(e) => {
                    self.reporter.retrying(e);
                    backoff.next_delay()
                }
            };
            tokio::select! {
                () = self.signals.acks.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.wait() => break,
            }
            self.ensure_entities().await;
        }
        self.reporter.idle("waiting for a session with the proxy");
        SessionEnd::Shutdown
    }

    /// Alarm classes new in the Directory become alarm entities with the defaults of now.
    async fn ensure_entities(&self) {
        let directory = self.directory.clone();
        let created = runtime::try_blocking(move || {
            let settings = config::read(directory.as_ref())?;
            directory.ensure_alarm_entities(
                &settings.alarm_recipients,
                &settings.alarm_partitions,
                runtime::now_millis(),
            )
        })
        .await;
        match created {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(created = n, "alarm classes became alarm entities"),
            Ok(Err(e)) => self
                .reporter
                .error(format!("creating alarm entities failed: {e}")),
            Err(e) => self.reporter.error(e.to_string()),
        }
    }

    /// Triggers every alarm active in SiPass that is not here yet.
    async fn trigger_active<P: Proxy>(&self, session: &Session<P>) {
        let active = match session.proxy.active_alarms().await {
            Ok(active) => active,
            Err(e) => {
                self.reporter.error(format!(
                    "reading SiPass's active alarms failed (they are triggered as their changes arrive): {e}"
                ));
                return;
            }
        };
        let now = runtime::now_millis();
        let changes: Vec<_> = active
            .iter()
            .filter_map(|a| sipass::active_alarm(a, now))
            .flatten()
            .collect();
        let (plugin, directory) = (self.plugin.clone(), self.directory.clone());
        let applied = runtime::try_blocking(move || {
            let webhook = !config::read(directory.as_ref())?
                .alarm_webhook_url
                .is_empty();
            plugin.apply_sipass_alarms(&changes, webhook)
        })
        .await;
        match applied {
            Ok(Ok(updates)) => {
                if !updates.is_empty() {
                    tracing::info!(
                        changes = updates.len(),
                        "alarms active in SiPass at connection were brought here"
                    );
                }
                self.signals.published(updates);
            }
            Ok(Err(e)) => self
                .reporter
                .error(format!("storing SiPass's active alarms failed: {e}")),
            Err(e) => self.reporter.error(e.to_string()),
        }
    }

    /// Sends the queued acknowledgements in order; stops at the first the proxy could not
    /// take (kept, with why, for the next attempt).
    async fn send_queued<P: Proxy>(&self, session: &Session<P>) -> Result<(), String> {
        let plugin = self.plugin.clone();
        let queued = runtime::try_blocking(move || plugin.queued_acks())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("reading the acknowledgement queue failed: {e}"))?;
        for ack in queued {
            self.reporter
                .busy("sending alarm acknowledgements to SiPass");
            let sent = session
                .proxy
                .acknowledge_alarm(&ack.sipass_id, &ack.operator, &ack.comment)
                .await;
            let plugin = self.plugin.clone();
            match sent {
                Ok(AckDelivery::Delivered) => {
                    runtime::try_blocking(move || plugin.ack_delivered(ack.id))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| format!("removing a delivered acknowledgement failed: {e}"))?;
                }
                Ok(AckDelivery::Refused(why)) => {
                    tracing::warn!(
                        alarm = %ack.sipass_id.escape_debug(),
                        why = %why.escape_debug(),
                        "SiPass refused an alarm acknowledgement made here; it is not sent again"
                    );
                    runtime::try_blocking(move || plugin.ack_delivered(ack.id))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| format!("removing a refused acknowledgement failed: {e}"))?;
                }
                Err(e) => {
                    let why = format!(
                        "acknowledging SiPass alarm {} failed (kept in the queue): {e}",
                        ack.sipass_id
                    );
                    let error = why.clone();
                    let _ = runtime::try_blocking(move || plugin.ack_failed(ack.id, &error)).await;
                    return Err(why);
                }
            }
        }
        Ok(())
    }
}
