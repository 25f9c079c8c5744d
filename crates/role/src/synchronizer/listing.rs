//! Full synchronization: listing kinds page by page into the Directory, each page committed
//! with the position after it so that an interrupted listing resumes where it stopped, and
//! every listing recorded in the run history.

use model::{EntityKind, RunOutcome};
use store::{SyncPosition, WatchPosition};

use super::{Synchronizer, Verified};
use crate::mapping;
use crate::proxy::{Proxy, ProxyError};
use crate::session::{Session, SessionEnd};
use crate::status::{HealthState, Progress};

/// Entities asked for per List call.
const PAGE_SIZE: u32 = 2000;

impl Synchronizer {
    /// Kinds whose copy is missing, unfinished, or from another proxy cache.
    pub(super) fn kinds_to_list<P>(
        &self,
        session: &Session<P>,
    ) -> Result<Vec<EntityKind>, SessionEnd> {
        let mut stale = Vec::new();
        for kind in &session.kinds {
            match self.directory.position(kind.as_str())? {
                Some(p) if p.complete && p.cache_id == session.cache_id => {}
                _ => stale.push(*kind),
            }
        }
        Ok(stale)
    }

    /// The trigger the run history records for listing `stale` at the start of a session.
    pub(super) fn why_listing<P>(
        &self,
        session: &Session<P>,
        stale: &[EntityKind],
    ) -> Result<&'static str, SessionEnd> {
        let mut resumed = false;
        let mut other_cache = false;
        for kind in stale {
            if let Some(p) = self.directory.position(kind.as_str())? {
                resumed |= !p.complete && p.cache_id == session.cache_id;
                other_cache |= p.cache_id != session.cache_id;
            }
        }
        Ok(if resumed {
            "resumed"
        } else if other_cache {
            "proxy cache changed"
        } else if self.directory.watch_position()?.is_some() {
            "kinds newly synchronized"
        } else {
            "first connection"
        })
    }

    /// Lists `kinds` into the Directory, recording the run in the history.
    pub(super) async fn full_sync<P: Proxy>(
        &self,
        session: &Session<P>,
        verified: &mut Verified,
        kinds: &[EntityKind],
        trigger: &str,
        from_scratch: bool,
    ) -> Result<(), SessionEnd> {
        let trigger_owned = trigger.to_owned();
        let run = self.blocking(move |d| d.start_run(&trigger_owned)).await?;
        self.status.set_health(
            HealthState::Synchronizing,
            Some(format!("full synchronization ({trigger})")),
        );
        tracing::info!(trigger, kinds = ?kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(), "full synchronization started");
        let started = std::time::Instant::now();
        for kind in kinds {
            if let Err(end) = self.list_kind(session, *kind, from_scratch).await {
                let (outcome, reason) = run_outcome(&end);
                let _ = self
                    .blocking(move |d| d.finish_run(run, outcome, Some(&reason)))
                    .await;
                return Err(end);
            }
        }
        self.resume_watch_after_listing(session, kinds)?;
        self.blocking(move |d| d.finish_run(run, RunOutcome::Succeeded, None))
            .await?;
        verified.at = None;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "full synchronization finished"
        );
        Ok(())
    }

    /// After listing `listed`, watching starts from the oldest revision any kind is known to
    /// be current at: the snapshots of the kinds just listed, and for the others the watch
    /// position they were following (or their own listing's snapshot). Replaying a change the
    /// Directory already has is harmless, missing one is not. A watch position the proxy
    /// called too old is never reused when every kind was listed again.
    fn resume_watch_after_listing<P>(
        &self,
        session: &Session<P>,
        listed: &[EntityKind],
    ) -> Result<(), SessionEnd> {
        let current = self
            .directory
            .watch_position()?
            .filter(|w| w.cache_id == session.cache_id);
        let mut revision = u64::MAX;
        for kind in &session.kinds {
            let position = self.directory.position(kind.as_str())?;
            let from = match (&current, listed.contains(kind)) {
                (Some(w), false) => Some(w.revision),
                _ => position.map(|p| p.snapshot_revision),
            };
            if let Some(from) = from {
                revision = revision.min(from);
            }
        }
        if revision != u64::MAX {
            self.directory.set_watch_position(&WatchPosition {
                cache_id: session.cache_id.clone(),
                revision,
            })?;
        }
        Ok(())
    }

    /// Lists one kind page by page, each page committed with the position after it.
    async fn list_kind<P: Proxy>(
        &self,
        session: &Session<P>,
        kind: EntityKind,
        from_scratch: bool,
    ) -> Result<(), SessionEnd> {
        let mut position = self.start_position(kind, &session.cache_id, from_scratch)?;
        self.reporter.busy(format!("listing {kind}s"));
        // The next page is fetched while the current one is written: the network and the
        // database work at the same time.
        let mut next = Some(fetch_page(
            &session.proxy,
            kind,
            position.page_token.clone(),
        ));
        while let Some(pending) = next.take() {
            let reply = match pending.await {
                Ok(Ok(r)) => r,
                Ok(Err(ProxyError::BadPageToken(reason))) if !position.page_token.is_empty() => {
                    tracing::warn!(kind = %kind, "the proxy refused the page token ({reason}); listing again");
                    position = self.start_position(kind, &session.cache_id, true)?;
                    next = Some(fetch_page(&session.proxy, kind, String::new()));
                    continue;
                }
                Ok(Err(e)) => {
                    return Err(SessionEnd::from_proxy(
                        &format!("listing {kind}s failed"),
                        e,
                    ));
                }
                Err(e) => {
                    return Err(SessionEnd::Disconnected(format!(
                        "listing {kind}s failed: {e}"
                    )));
                }
            };
            let page: Vec<_> = reply
                .entities
                .into_iter()
                .map(|e| mapping::from_listing(kind, e))
                .collect();
            position.done += page.len() as u64;
            position.total = reply.total;
            position.snapshot_revision = reply.snapshot_revision;
            position.page_token = reply.next_page_token;
            if !position.page_token.is_empty() {
                next = Some(fetch_page(
                    &session.proxy,
                    kind,
                    position.page_token.clone(),
                ));
            }
            let pos = position.clone();
            let received = page.len() as u64;
            self.blocking(move |d| d.write_page(&page, &pos)).await?;
            self.status.count_transfer(received, 0);
            self.report_progress(kind, &position);
        }
        let pos = position.clone();
        let removed = self.blocking(move |d| d.finish_listing(&pos)).await?;
        tracing::info!(kind = %kind, listed = position.done, removed, "listed");
        Ok(())
    }

    fn report_progress(&self, kind: EntityKind, position: &SyncPosition) {
        let total = position.total.max(position.done);
        self.status.set_progress(
            kind,
            Progress {
                done: position.done,
                total,
            },
        );
        self.reporter.progress(Some(runtime::Progress {
            done: position.done,
            total,
        }));
    }

    /// Where a listing starts: the unfinished listing of the same proxy cache, or a new one.
    fn start_position(
        &self,
        kind: EntityKind,
        cache_id: &str,
        from_scratch: bool,
    ) -> Result<SyncPosition, SessionEnd> {
        let previous = self.directory.position(kind.as_str())?;
        if let Some(p) = &previous
            && !from_scratch
            && !p.complete
            && p.cache_id == cache_id
        {
            tracing::info!(kind = %kind, done = p.done, total = p.total, "resuming the listing");
            return Ok(p.clone());
        }
        Ok(SyncPosition {
            source_kind: kind.as_str().to_owned(),
            cache_id: cache_id.to_owned(),
            generation: previous.map_or(1, |p| p.generation + 1),
            snapshot_revision: 0,
            page_token: String::new(),
            done: 0,
            total: 0,
            complete: false,
        })
    }
}

/// How a listing that ended with `end` is recorded in the history.
fn run_outcome(end: &SessionEnd) -> (RunOutcome, String) {
    match end {
        SessionEnd::Disconnected(r) | SessionEnd::Database(r) => {
            (RunOutcome::Interrupted, r.clone())
        }
        SessionEnd::Incompatible(r) | SessionEnd::NotConfigured(r) => {
            (RunOutcome::Failed, r.clone())
        }
        SessionEnd::Shutdown | SessionEnd::Reconfigured => {
            (RunOutcome::Interrupted, "stopped".to_owned())
        }
    }
}

/// Starts fetching one page of a listing in the background.
fn fetch_page<P: Proxy>(
    proxy: &P,
    kind: EntityKind,
    page_token: String,
) -> tokio::task::JoinHandle<Result<protocol::pb::ListReply, ProxyError>> {
    let proxy = proxy.clone();
    tokio::spawn(async move { proxy.list(kind, PAGE_SIZE, page_token).await })
}
