//! The synchronizer: lists what the Directory lacks (resuming an interrupted listing where it
//! stopped), then watches every change from the last committed revision, applying each in
//! order with the revision in the same transaction. Whenever the watch has caught up, counts
//! and digests are compared with the proxy's Summary; a kind that differs is listed again. A
//! proxy that no longer holds the role's revision says so, and the role lists everything
//! again. It works within a session the connection established.

mod grouping;
mod listing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use model::EntityKind;
use protocol::kind_from_wire;
use runtime::{Shutdown, StatusReporter};
use store::{Directory, WatchPosition};
use tokio::sync::Notify;

use crate::mapping;
use crate::proxy::{ChangeStream, Proxy, WatchItem};
use crate::session::{Session, SessionEnd};
use crate::status::{Eligibility, HealthState, StatusBoard};

/// The synchronizer's waits. Tests shorten them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// How often, while watching, the configuration is checked for changes and a caught-up
    /// copy is verified. Verifying at every caught-up moment would cost a Summary round trip
    /// per change at high change rates.
    pub check_every: Duration,
    /// The least time between two repairs of a difference that the first did not fix.
    pub repair_pause: Duration,
    /// While changes keep coming, the least time between two of their transactions (see
    /// `grouping`).
    pub group_every: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            check_every: Duration::from_secs(1),
            repair_pause: Duration::from_secs(30),
            group_every: Duration::from_millis(10),
        }
    }
}

/// Keeps the Directory equal to the proxy's cache, within a session.
pub(crate) struct Synchronizer {
    pub directory: Arc<dyn Directory>,
    pub status: Arc<StatusBoard>,
    pub manual_sync: Arc<Notify>,
    /// The synchronizer's worker status (the connection reports its own).
    pub reporter: StatusReporter,
    pub pace: Pace,
}

/// What the synchronizer remembers within one session.
#[derive(Default)]
struct Verified {
    /// The proxy revision the last verification saw; nothing to verify while unchanged.
    at: Option<u64>,
    /// When a kind was last listed again because its digest differed.
    repaired_at: Option<Instant>,
}

/// Why following the proxy's changes stopped while connected.
enum FollowEnd {
    /// The proxy no longer holds the role's revision: list everything again.
    TooOld(String),
    /// These kinds differ from the proxy: list them again.
    Differs(Vec<EntityKind>),
    /// "Start synchronization" was asked for.
    Manual,
}

impl Synchronizer {
    /// Synchronizes until the session ends; says why it ended.
    pub async fn serve<P: Proxy>(&self, session: &Session<P>, shutdown: &Shutdown) -> SessionEnd {
        let mut verified = Verified::default();
        let end = match self.work(session, &mut verified, shutdown).await {
            Ok(()) => SessionEnd::Shutdown,
            Err(end) => end,
        };
        self.reporter.idle("waiting for a session with the proxy");
        end
    }

    async fn work<P: Proxy>(
        &self,
        session: &Session<P>,
        verified: &mut Verified,
        shutdown: &Shutdown,
    ) -> Result<(), SessionEnd> {
        self.drop_unwanted_credentials(session).await?;
        let stale = self.kinds_to_list(session)?;
        if !stale.is_empty() {
            let trigger = self.why_listing(session, &stale)?;
            self.full_sync(session, verified, &stale, trigger, false)
                .await?;
        }
        loop {
            let all = session.kinds.clone();
            let end = self.follow(session, verified, shutdown).await;
            // The lag is a following figure: unknown while listing or disconnected.
            self.status.clear_revisions();
            match end? {
                FollowEnd::TooOld(reason) => {
                    tracing::info!("{reason}; listing everything again");
                    self.full_sync(session, verified, &all, "proxy change log too old", true)
                        .await?;
                }
                FollowEnd::Differs(kinds) => {
                    if self.pause_before_repair(verified, &kinds, shutdown).await {
                        return Ok(());
                    }
                    verified.repaired_at = Some(Instant::now());
                    self.full_sync(session, verified, &kinds, "digest mismatch", true)
                        .await?;
                }
                FollowEnd::Manual => {
                    self.full_sync(session, verified, &all, "manual", true)
                        .await?
                }
            }
        }
    }

    /// A difference that a listing did not repair is not repaired by listing again at once:
    /// waits, saying so, instead of relisting back to back. True when stopped meanwhile.
    async fn pause_before_repair(
        &self,
        verified: &Verified,
        kinds: &[EntityKind],
        shutdown: &Shutdown,
    ) -> bool {
        let pause = self.pace.repair_pause;
        if verified.repaired_at.is_none_or(|t| t.elapsed() >= pause) {
            return false;
        }
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        self.status.set_health_retrying(
            HealthState::Warning,
            format!(
                "the Directory still differs from SiPass after a repair ({})",
                kinds.join(", ")
            ),
            pause,
        );
        self.reporter.idle("waiting before repairing again");
        shutdown.sleep_async(pause).await
    }

    /// Credentials not synchronized are not kept.
    async fn drop_unwanted_credentials<P>(&self, session: &Session<P>) -> Result<(), SessionEnd> {
        if session.kinds.contains(&EntityKind::Credential) {
            return Ok(());
        }
        let removed = self
            .blocking(|d| d.remove_source_kind(EntityKind::Credential.as_str()))
            .await?;
        if removed > 0 {
            tracing::info!(
                removed,
                "credential synchronization is off; removed credentials"
            );
        }
        self.status.forget(EntityKind::Credential);
        Ok(())
    }

    /// Watches the proxy from the Directory's watch position, applying each batch of changes
    /// with the position after it, until something calls for a listing.
    async fn follow<P: Proxy>(
        &self,
        session: &Session<P>,
        verified: &mut Verified,
        shutdown: &Shutdown,
    ) -> Result<FollowEnd, SessionEnd> {
        let mut position = match self.directory.watch_position()? {
            Some(p) if p.cache_id == session.cache_id => p,
            _ => {
                return Ok(FollowEnd::TooOld(
                    "the Directory has no watch position for this proxy cache".into(),
                ));
            }
        };
        let mut changes = session
            .proxy
            .watch(position.revision, &session.kinds, &session.cache_id)
            .await
            .map_err(|e| SessionEnd::from_proxy("the proxy refused to watch", e))?;
        self.reporter.idle("following changes");
        self.status.note_revisions(position.revision, 0);
        let mut check = tokio::time::interval(self.pace.check_every);
        // The revision the proxy last said the role has caught up with, while nothing newer
        // has arrived.
        let mut caught_up: Option<u64> = None;
        // When the last changes were applied, and what ended the group after them.
        let mut applied_at: Option<tokio::time::Instant> = None;
        let mut held: Option<grouping::Next> = None;
        loop {
            let next = match held.take() {
                Some(next) => next,
                None => tokio::select! {
                    next = changes.next() => next,
                    () = self.manual_sync.notified() => return Ok(FollowEnd::Manual),
                    () = shutdown.wait() => return Err(SessionEnd::Shutdown),
                    _ = check.tick() => {
                        if session.reconfigured(self.directory.as_ref())? {
                            tracing::info!("the configuration changed; reconnecting");
                            return Err(SessionEnd::Reconfigured);
                        }
                        if let Some(at) = caught_up.filter(|at| verified.at != Some(*at)) {
                            let differs = self.verify(session, verified, at).await?;
                            if !differs.is_empty() {
                                return Ok(FollowEnd::Differs(differs));
                            }
                        }
                        continue;
                    }
                },
            };
            let item = next
                .map_err(|e| SessionEnd::from_proxy("the watch was interrupted", e))?
                .ok_or_else(|| SessionEnd::Disconnected("the proxy ended the watch".into()))?;
            let up_to = match item {
                WatchItem::Changes {
                    changes: first,
                    proxy_revision,
                } => {
                    let until = applied_at.map(|at| at + self.pace.group_every);
                    let (group, after) =
                        grouping::gather(first, proxy_revision, until, &mut changes).await;
                    held = after;
                    self.apply(group.changes, group.caught_up, &mut position)
                        .await?;
                    applied_at = Some(tokio::time::Instant::now());
                    caught_up = None;
                    self.status
                        .note_revisions(position.revision, group.proxy_revision);
                    let Some(up_to) = group.caught_up else {
                        continue;
                    };
                    up_to
                }
                WatchItem::CaughtUp(revision) => {
                    self.caught_up(revision, &mut position).await?;
                    revision
                }
                WatchItem::TooOld(reason) => return Ok(FollowEnd::TooOld(reason)),
            };
            self.status.note_revisions(position.revision, up_to);
            caught_up = Some(position.revision);
            // Right after a listing, verify at once; otherwise on the next tick.
            if verified.at.is_none() {
                let differs = self.verify(session, verified, position.revision).await?;
                if !differs.is_empty() {
                    return Ok(FollowEnd::Differs(differs));
                }
            }
        }
    }

    /// Applies a group of watched changes, with the watch position after it (after
    /// `caught_up` when the proxy said it had sent everything up to there).
    async fn apply(
        &self,
        batch: Vec<protocol::pb::Change>,
        caught_up: Option<u64>,
        position: &mut WatchPosition,
    ) -> Result<(), SessionEnd> {
        let Some(last) = batch.last().map(|c| c.revision) else {
            return Ok(());
        };
        let last = last.max(caught_up.unwrap_or(0));
        let changes: Vec<_> = batch
            .into_iter()
            .filter_map(|c| Some(mapping::from_change(kind_from_wire(c.kind).ok()?, c)))
            .collect();
        self.status.count_transfer(0, changes.len() as u64);
        position.revision = position.revision.max(last);
        let p = position.clone();
        self.blocking(move |d| d.apply_changes(&changes, &p))
            .await?;
        Ok(())
    }

    /// Records that every change up to `revision` is in the Directory.
    async fn caught_up(
        &self,
        revision: u64,
        position: &mut WatchPosition,
    ) -> Result<(), SessionEnd> {
        if revision > position.revision {
            position.revision = revision;
            let p = position.clone();
            self.blocking(move |d| d.set_watch_position(&p)).await?;
        }
        Ok(())
    }

    /// Compares counts and digests with the proxy's Summary; returns the kinds that differ.
    /// Only meaningful when the Directory is at `at`: the summary is compared only when the
    /// proxy is still at that revision (otherwise more changes are on their way).
    async fn verify<P: Proxy>(
        &self,
        session: &Session<P>,
        verified: &mut Verified,
        at: u64,
    ) -> Result<Vec<EntityKind>, SessionEnd> {
        let summary = session
            .proxy
            .summary(&session.kinds)
            .await
            .map_err(|e| SessionEnd::from_proxy("the proxy's summary failed", e))?;
        if verified.at == Some(summary.revision) || summary.revision != at {
            return Ok(Vec::new());
        }
        let mut mismatched = Vec::new();
        let mut verdicts = Vec::with_capacity(summary.kinds.len());
        for k in summary.kinds {
            let Ok(kind) = kind_from_wire(k.kind) else {
                continue;
            };
            let ours = self.blocking(move |d| d.digest(kind.as_str())).await?;
            let equal = ours.count() == k.eligible && ours.value() == k.digest;
            verdicts.push((
                kind,
                Eligibility {
                    eligible: k.eligible,
                    digest_match: Some(equal),
                },
            ));
            if !equal {
                tracing::info!(kind = %kind, ours = ours.count(), proxy = k.eligible, "the Directory differs from the proxy; listing again");
                mismatched.push(kind);
            }
        }
        self.status.set_eligibility(verdicts);
        if mismatched.is_empty() {
            verified.at = Some(summary.revision);
            let missing: Vec<String> = self
                .status
                .proxy()
                .unavailable
                .into_iter()
                .map(|u| u.feature)
                .collect();
            let reason = if missing.is_empty() {
                "synchronized and verified".to_owned()
            } else {
                format!(
                    "synchronized and verified; not available against this SiPass: {}",
                    missing.join(", ")
                )
            };
            if self.status.set_health(HealthState::Online, Some(reason)) {
                tracing::info!("synchronized and verified");
            }
        } else {
            self.status.set_health(
                HealthState::Warning,
                Some("the Directory differs from SiPass; repairing".to_owned()),
            );
        }
        Ok(mismatched)
    }

    /// Runs a Directory call off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Directory) -> Result<T, store::StoreError> + Send + 'static,
    ) -> Result<T, SessionEnd> {
        let directory = self.directory.clone();
        // A panicking call fails this step, which is retried, as a database error would be.
        runtime::try_blocking(move || f(directory.as_ref()))
            .await
            .map_err(|p| SessionEnd::Database(p.to_string()))?
            .map_err(SessionEnd::from)
    }
}
