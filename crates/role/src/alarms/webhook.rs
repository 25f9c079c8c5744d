//! The alarm webhook: each alarm change, as JSON, posted to the configured address, oldest
//! first, at least once. Messages wait in the plugin database's outbox (written with the
//! change itself) until the receiver answered 2xx; a failure is retried with backoff. Each
//! carries its `sequence` (also in the `X-SiPass-Bridge-Sequence` header), increasing and
//! never reused, for the receiver to drop a repeat.

use std::sync::Arc;
use std::time::Duration;

use runtime::{Backoff, WorkerContext};
use store::{Directory, PluginDatabase};

use super::AlarmSignals;
use crate::config;

/// How long one delivery may take, and how often the outbox is looked at when idle.
const TIMEOUT: Duration = Duration::from_secs(10);
const IDLE: Duration = Duration::from_secs(5);
/// Messages read from the outbox at a time.
const BATCH: u32 = 100;

/// The webhook worker.
pub struct Webhook {
    pub directory: Arc<dyn Directory>,
    pub plugin: Arc<dyn PluginDatabase>,
    pub signals: AlarmSignals,
}

impl runtime::Worker for Webhook {
    fn name(&self) -> String {
        "alarm webhook".into()
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), String> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the webhook's HTTP client cannot start: {e}"))?;
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        loop {
            let wait = match self.deliver(&client, &ctx).await {
                Ok(()) => {
                    backoff.reset();
                    IDLE
                }
                Err(e) => {
                    ctx.status.retrying(e);
                    backoff.next_delay()
                }
            };
            tokio::select! {
                () = self.signals.webhook.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = ctx.shutdown.wait() => return Ok(()),
            }
        }
    }
}

impl Webhook {
    /// Posts what the outbox holds, in order, until it is empty or a post fails.
    async fn deliver(&self, client: &reqwest::Client, ctx: &WorkerContext) -> Result<(), String> {
        loop {
            let (directory, plugin) = (self.directory.clone(), self.plugin.clone());
            let (url, pending) = runtime::try_blocking(move || {
                let url = config::read(directory.as_ref())?.alarm_webhook_url;
                let pending = if url.is_empty() {
                    Vec::new()
                } else {
                    plugin.outbox(BATCH)?
                };
                Ok::<_, store::StoreError>((url, pending))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("reading the webhook outbox failed: {e}"))?;
            if url.is_empty() {
                ctx.status.idle("no webhook is set (alarm_webhook_url)");
                return Ok(());
            }
            if pending.is_empty() {
                ctx.status
                    .idle("every alarm change delivered to the webhook");
                return Ok(());
            }
            ctx.status.busy("posting alarm changes to the webhook");
            for message in pending {
                let answer = client
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("X-SiPass-Bridge-Sequence", message.sequence.to_string())
                    .body(message.body)
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "posting alarm change {} to the webhook failed: {}",
                            message.sequence,
                            protocol::error_chain(&e)
                        )
                    })?;
                if !answer.status().is_success() {
                    return Err(format!(
                        "the webhook answered {} to alarm change {}; retrying",
                        answer.status(),
                        message.sequence
                    ));
                }
                let plugin = self.plugin.clone();
                let sequence = message.sequence;
                runtime::try_blocking(move || plugin.outbox_delivered(sequence))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("marking a webhook message delivered failed: {e}"))?;
            }
        }
    }
}
