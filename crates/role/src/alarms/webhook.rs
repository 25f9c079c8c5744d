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
/// The most messages kept for a receiver that does not answer (about 100 MB at 1 kB each):
/// beyond it the oldest are forgotten, counted and logged, so that a receiver away for days
/// cannot fill the plugin database's disk. Its gaps show in the sequence numbers, and every
/// alarm's history stays in the plugin database.
pub const MAX_WAITING: u64 = 100_000;

/// The webhook worker.
pub struct Webhook {
    pub directory: Arc<dyn Directory>,
    pub plugin: Arc<dyn PluginDatabase>,
    pub signals: AlarmSignals,
    /// [`MAX_WAITING`], smaller in tests.
    pub max_waiting: u64,
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
            let max_waiting = self.max_waiting;
            let (url, pending, dropped) = runtime::try_blocking(move || {
                let url = config::read(directory.as_ref())?.alarm_webhook_url;
                let (pending, dropped) = if url.is_empty() {
                    (Vec::new(), 0)
                } else {
                    let dropped = plugin.trim_outbox(max_waiting)?;
                    (plugin.outbox(BATCH)?, dropped)
                };
                Ok::<_, store::StoreError>((url, pending, dropped))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("reading the webhook outbox failed: {e}"))?;
            if dropped > 0 {
                self.signals
                    .webhook_dropped
                    .fetch_add(dropped, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(
                    "the alarm webhook's receiver has not taken the last {max_waiting} alarm changes; the {dropped} oldest were forgotten (every alarm's history is still in the plugin database)"
                );
            }
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::Ordering;

    use store::{AlarmAction, SipassAlarmChange};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A receiver that refuses the first post (503) and takes the rest, recording each
    /// (sequence header, body).
    async fn receiver(seen: Arc<Mutex<Vec<(String, String)>>>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut refused = false;
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let (head, body) = loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break (String::new(), String::new());
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break (head.to_owned(), body.to_owned());
                        }
                    }
                };
                let status = if refused {
                    let sequence = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("x-sipass-bridge-sequence:")
                                .map(|v| v.trim().to_owned())
                        })
                        .unwrap_or_default();
                    seen.lock().unwrap().push((sequence, body));
                    "200 OK"
                } else {
                    refused = true;
                    "503 Service Unavailable"
                };
                let answer =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        format!("http://{addr}/hook")
    }

    fn trigger(id: &str) -> SipassAlarmChange {
        SipassAlarmChange {
            journal_seq: 0,
            action: AlarmAction::Triggered,
            sipass_id: id.into(),
            class_id: "3".into(),
            class_name: "Door Forced".into(),
            priority: 10,
            message: String::new(),
            source_kind: String::new(),
            source_id: String::new(),
            by: String::new(),
            comment: String::new(),
            at: String::new(),
            at_ms: 0,
        }
    }

    /// Queues a trigger for each of `ids` with a webhook set, runs the worker (keeping at
    /// most `max_waiting`) until the outbox is empty, and returns what the receiver took.
    async fn delivered(
        name: &str,
        ids: &[&str],
        max_waiting: u64,
    ) -> (Vec<(String, String)>, AlarmSignals) {
        let dir = std::env::temp_dir().join(format!("webhook-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let directory = store::open(&dir.join("directory.db")).unwrap();
        let plugin = store::open_plugin(&dir.join("plugin.db")).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let url = receiver(seen.clone()).await;
        config::apply(
            directory.as_ref(),
            &config::SettingsChange {
                alarm_webhook_url: Some(url),
                ..Default::default()
            },
        )
        .unwrap();
        let triggers: Vec<_> = ids.iter().map(|id| trigger(id)).collect();
        plugin.apply_sipass_alarms(&triggers, true).unwrap();
        let signals = AlarmSignals::default();
        let workers = runtime::Workers::new();
        let shutdown = runtime::Shutdown::new();
        let handle = workers.spawn(
            Webhook {
                directory,
                plugin: plugin.clone(),
                signals: signals.clone(),
                max_waiting,
            },
            &shutdown,
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !plugin.outbox(10).unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never delivered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        shutdown.trigger();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let seen = seen.lock().unwrap().clone();
        (seen, signals)
    }

    #[tokio::test]
    async fn alarm_changes_are_posted_in_order_retried_after_a_refusal_and_then_forgotten() {
        let (seen, signals) = delivered("order", &["1", "2"], MAX_WAITING).await;
        let sequences: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            sequences,
            ["1", "2"],
            "the refused one again, then the next"
        );
        let body: serde_json::Value = serde_json::from_str(&seen[1].1).unwrap();
        assert_eq!(body["sequence"], 2);
        assert_eq!(body["alarm"]["sipass_id"], "2");
        assert_eq!(body["entry"]["action"], "triggered");
        assert_eq!(signals.webhook_dropped.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_full_outbox_forgets_its_oldest_messages_and_counts_them() {
        let (seen, signals) = delivered("full", &["1", "2", "3", "4"], 2).await;
        let sequences: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(sequences, ["3", "4"], "the newest two, numbers intact");
        assert_eq!(signals.webhook_dropped.load(Ordering::Relaxed), 2);
    }
}
