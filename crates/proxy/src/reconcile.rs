//! Reconciliation: SiPass read completely, again and again, so that whatever the push
//! channel missed (or a SiPass without one) still reaches the cache. The first complete pass
//! is what makes the proxy serve List and Watch.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use runtime::{Backoff, Progress, StatusReporter, Worker, WorkerContext};

use crate::cache::Retention;
use crate::loader::{self, LoadError, LoadStats};
use crate::shared::Shared;

/// The first wait after a failed pass.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait after failed passes.
const LONGEST_RETRY: Duration = Duration::from_secs(60);
/// How often a pass under way copies the loader's progress into the worker's status.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Loads SiPass, then loads it again every `every` (or at once when woken through
/// [`Shared::reconcile`]), retrying failures with backoff, until shutdown. Logs out of
/// SiPass at the end.
pub(crate) struct Reconciler {
    pub shared: Arc<Shared>,
    pub every: Duration,
    pub retention: Retention,
}

impl Worker for Reconciler {
    fn name(&self) -> String {
        "reconciliation".into()
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), String> {
        let shared = &self.shared;
        let mut backoff = Backoff::new(FIRST_RETRY, LONGEST_RETRY);
        loop {
            ctx.status.busy("reading SiPass");
            let started = Instant::now();
            let wait = match self.pass(&ctx.status).await {
                Ok(stats) => {
                    self.after_pass(&ctx.status, &stats, started);
                    backoff.reset();
                    ctx.status.idle("waiting for the next reconciliation");
                    self.interval()
                }
                Err(e) => {
                    let wait = backoff.next_delay();
                    tracing::warn!(
                        "reading SiPass failed: {e}; retrying in {:.1}s",
                        wait.as_secs_f32()
                    );
                    ctx.status.retrying(format!("reading SiPass failed: {e}"));
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shared.reconcile.notified() => {}
                () = ctx.shutdown.wait() => break,
            }
        }
        shared.client.logout().await;
        Ok(())
    }
}

impl Reconciler {
    /// The wait between passes: shorter when SiPass has no push channel, since passes are
    /// then the only way changes are found.
    fn interval(&self) -> Duration {
        if self.shared.push_missing.load(Ordering::Relaxed) {
            self.every.min(self.shared.reload_without_push)
        } else {
            self.every
        }
    }

    /// One complete read of SiPass, its progress (cardholders read of those SiPass has)
    /// reported while it runs.
    async fn pass(&self, status: &StatusReporter) -> Result<LoadStats, LoadError> {
        let shared = &self.shared;
        let load = loader::load_all(&shared.client, &shared.cache, &shared.progress);
        tokio::pin!(load);
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        loop {
            tokio::select! {
                result = &mut load => return result,
                _ = tick.tick() => status.progress(Some(Progress {
                    done: shared.progress.loaded.load(Ordering::Relaxed),
                    total: shared.progress.total.load(Ordering::Relaxed),
                })),
            }
        }
    }

    /// Marks the cache complete, prunes the change log and says what the pass found. Errors
    /// here are the cache's: logged and reported, and the next pass tries again.
    fn after_pass(&self, status: &StatusReporter, stats: &LoadStats, started: Instant) {
        let shared = &self.shared;
        // Not complete, not served: until then the cache logs no changes for watchers.
        if let Err(e) = shared.cache.mark_complete() {
            tracing::error!("{e}");
            status.error(e.to_string());
            return;
        }
        match shared.cache.prune(self.retention) {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned the change log"),
            Err(e) => {
                tracing::error!("{e}");
                status.error(e.to_string());
            }
        }
        if !shared.loaded.swap(true, Ordering::AcqRel) {
            shared.loaded_now.notify_waiters();
            tracing::info!(
                entities = stats.seen,
                elapsed_ms = started.elapsed().as_millis() as u64,
                revision = shared.cache.revision(),
                "loaded SiPass"
            );
        } else if stats.changed + stats.deleted > 0 {
            tracing::info!(
                changed = stats.changed,
                deleted = stats.deleted,
                "found changes in SiPass"
            );
        }
    }
}
