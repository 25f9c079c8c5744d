//! The synchronization engine: connect, say Hello, list what the Directory lacks (resuming an
//! interrupted listing where it stopped), then watch every change from the last committed
//! revision, applying each in order with the revision in the same transaction. Whenever the
//! watch has caught up, counts and digests are compared with the proxy's Summary; a kind that
//! differs is listed again. A proxy that no longer holds the role's revision says so, and the
//! role lists everything again.

use std::sync::Arc;
use std::time::Duration;

use model::version::{self, PeerVersions};
use model::{EntityKind, RunOutcome};
use protocol::pb::{HelloRequest, ListRequest, SummaryRequest, WatchRequest, watch_event::Event};
use protocol::{BridgeClient, ProxyAddress, kind_from_wire, kind_to_wire};
use store::{Directory, SyncPosition, WatchPosition};
use tokio::sync::{Notify, watch};

use crate::status::{Eligibility, HealthState, Progress, ProxyInfo, StatusBoard};
use crate::{RoleConfig, keys, mapping};

/// Entities asked for per List call.
const PAGE_SIZE: u32 = 2000;
/// How often, while watching, the configuration is checked for changes and a caught-up copy
/// is verified. Verifying at every caught-up moment would cost a Summary round trip per
/// change at high change rates.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// The least time between two repairs of a difference that the first did not fix.
const REPAIR_PAUSE: Duration = Duration::from_secs(30);
/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub(crate) struct Engine {
    pub directory: Arc<dyn Directory>,
    pub status: Arc<StatusBoard>,
    pub config: RoleConfig,
    pub manual_sync: Arc<Notify>,
}

/// Why a session with the proxy ended.
enum Stop {
    Shutdown,
    /// The configuration changed (proxy address, credential synchronization): start over.
    Reconfigured,
    NotConfigured(String),
    Disconnected(String),
    Incompatible(String),
    Database(String),
}

impl From<store::StoreError> for Stop {
    fn from(e: store::StoreError) -> Self {
        Stop::Database(e.to_string())
    }
}

/// What the engine works with during one session.
struct Session {
    client: BridgeClient,
    cache_id: String,
    /// The kinds the proxy serves.
    served: Vec<EntityKind>,
    /// The kinds this session synchronizes: served and wanted by the configuration.
    kinds: Vec<EntityKind>,
    /// The proxy address this session is connected to.
    address: (String, u16),
    /// The proxy revision the last verification saw; nothing to verify while unchanged.
    verified_at: Option<u64>,
    /// When a kind was last listed again because its digest differed.
    repaired_at: Option<std::time::Instant>,
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

impl Engine {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(1);
        loop {
            let stop = self.session(&mut shutdown).await;
            // A session that got connected resets the backoff: the next failure is a new one.
            if self.status.proxy().connected {
                backoff = Duration::from_secs(1);
            }
            self.status.set_connected(false);
            let wait = match stop {
                Stop::Shutdown => break,
                Stop::Reconfigured => Duration::ZERO,
                Stop::NotConfigured(reason) => self.warn(reason, Duration::from_secs(2)),
                Stop::Disconnected(reason) => {
                    let wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    self.warn(format!("{reason}; retrying in {}s", wait.as_secs()), wait)
                }
                Stop::Incompatible(reason) => self.warn(reason, MAX_BACKOFF),
                Stop::Database(reason) => {
                    if self
                        .status
                        .set_health(HealthState::Error, Some(reason.clone()))
                    {
                        tracing::error!("{reason}");
                    }
                    Duration::from_secs(10)
                }
            };

            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stopped(&mut shutdown) => break,
            }
        }
        tracing::info!("synchronization engine stopped");
    }

    /// Sets a warning, logging it only when it is new, and returns `wait`.
    fn warn(&self, reason: String, wait: Duration) -> Duration {
        let first_line = reason
            .split("; retrying")
            .next()
            .unwrap_or(&reason)
            .to_owned();
        let was = self.status.health();
        self.status.set_health(HealthState::Warning, Some(reason));
        if was
            .reason
            .as_deref()
            .and_then(|r| r.split("; retrying").next())
            != Some(first_line.as_str())
        {
            tracing::warn!("{first_line}");
        }
        wait
    }

    async fn session(&self, shutdown: &mut watch::Receiver<bool>) -> Stop {
        let mut session = match self.connect().await {
            Ok(s) => s,
            Err(stop) => return stop,
        };
        match self.work(&mut session, shutdown).await {
            Ok(()) => Stop::Shutdown,
            Err(stop) => stop,
        }
    }

    /// Connects and says Hello; both sides check the version rule.
    async fn connect(&self) -> Result<Session, Stop> {
        let (host, port) = self.proxy_address()?;
        let address = ProxyAddress {
            host: host.clone(),
            port,
            ca_pem: self.config.proxy_ca_pem.clone(),
            token: self.config.proxy_token.clone(),
        };
        let mut client = protocol::connect(&address)
            .await
            .map_err(|e| Stop::Disconnected(e.to_string()))?;
        let ours = PeerVersions::this_role();
        let hello = client
            .hello(HelloRequest {
                product_version: ours.product.clone(),
                protocol_version: ours.protocol,
                client_name: self.config.client_name.clone(),
            })
            .await
            .map_err(|s| match s.code() {
                tonic::Code::FailedPrecondition => Stop::Incompatible(s.message().to_owned()),
                _ => Stop::Disconnected(describe(&host, port, &s)),
            })?
            .into_inner();
        let theirs = PeerVersions {
            product: hello.product_version.clone(),
            protocol: hello.protocol_version,
            sipass: hello.sipass_version.clone(),
        };
        version::check(&ours, &theirs).map_err(|e| Stop::Incompatible(e.to_string()))?;
        self.status.set_proxy(ProxyInfo {
            address: format!("{host}:{port}"),
            product_version: hello.product_version,
            sipass_version: hello.sipass_version,
            connected: true,
        });
        tracing::info!(proxy = %format!("{host}:{port}"), "connected to the proxy");
        let served: Vec<EntityKind> = hello
            .kinds
            .iter()
            .filter_map(|k| kind_from_wire(*k).ok())
            .collect();
        let kinds = self.wanted_kinds(&served)?;
        Ok(Session {
            client,
            cache_id: hello.cache_id,
            served,
            kinds,
            address: (host, port),
            verified_at: None,
            repaired_at: None,
        })
    }

    fn proxy_address(&self) -> Result<(String, u16), Stop> {
        let host = self.directory.config(keys::PROXY_HOST)?.unwrap_or_default();
        if host.is_empty() {
            return Err(Stop::NotConfigured(
                "no proxy host is configured; set it with `sipass-bridge config set host <name or IP>`".into(),
            ));
        }
        let port = match self.directory.config(keys::PROXY_PORT)? {
            Some(p) => p.parse().map_err(|_| {
                Stop::NotConfigured(format!(
                    "the configured proxy port '{p}' is not a number from 1 to 65535"
                ))
            })?,
            None => protocol::DEFAULT_PORT,
        };
        Ok((host, port))
    }

    /// The served SiPass kinds this role synchronizes, per its configuration (credentials
    /// are synchronized unless switched off).
    fn wanted_kinds(&self, served: &[EntityKind]) -> Result<Vec<EntityKind>, Stop> {
        let credentials = self
            .directory
            .config(keys::SYNC_CREDENTIALS)?
            .is_none_or(|v| v == "true");
        Ok(EntityKind::ALL
            .into_iter()
            .filter(|k| served.contains(k))
            .filter(|k| *k != EntityKind::Credential || credentials)
            .collect())
    }

    /// True when the configuration no longer matches what this session works with.
    fn reconfigured(&self, session: &Session) -> Result<bool, Stop> {
        Ok(self.wanted_kinds(&session.served)? != session.kinds
            || self.proxy_address()? != session.address)
    }

    async fn work(
        &self,
        session: &mut Session,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), Stop> {
        self.wait_until_loaded(session, shutdown).await?;
        if !session.kinds.contains(&EntityKind::Credential) {
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
        }
        let stale = self.kinds_to_list(session)?;
        if !stale.is_empty() {
            let resumed = stale.iter().any(|k| {
                self.directory
                    .position(k.as_str())
                    .ok()
                    .flatten()
                    .is_some_and(|p| !p.complete && p.cache_id == session.cache_id)
            });
            let other_cache = stale.iter().any(|k| {
                self.directory
                    .position(k.as_str())
                    .ok()
                    .flatten()
                    .is_some_and(|p| p.cache_id != session.cache_id)
            });
            let trigger = if resumed {
                "resumed"
            } else if other_cache {
                "proxy cache changed"
            } else if self.directory.watch_position()?.is_some() {
                "kinds newly synchronized"
            } else {
                "first connection"
            };
            self.full_sync(session, &stale, trigger, false).await?;
        }
        loop {
            let all = session.kinds.clone();
            match self.follow(session, shutdown).await? {
                FollowEnd::TooOld(reason) => {
                    tracing::info!("{reason}; listing everything again");
                    self.full_sync(session, &all, "proxy change log too old", true)
                        .await?;
                }
                FollowEnd::Differs(kinds) => {
                    // A difference that a listing did not repair is not repaired by listing
                    // again at once: wait, saying so, instead of relisting back to back.
                    if session
                        .repaired_at
                        .is_some_and(|t| t.elapsed() < REPAIR_PAUSE)
                    {
                        self.status.set_health(
                            HealthState::Warning,
                            Some(format!(
                                "the Directory still differs from SiPass after a repair ({}); trying again in {} s",
                                kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
                                REPAIR_PAUSE.as_secs()
                            )),
                        );
                        tokio::select! {
                            () = tokio::time::sleep(REPAIR_PAUSE) => {}
                            () = stopped(shutdown) => return Ok(()),
                        }
                    }
                    session.repaired_at = Some(std::time::Instant::now());
                    self.full_sync(session, &kinds, "digest mismatch", true)
                        .await?;
                }
                FollowEnd::Manual => self.full_sync(session, &all, "manual", true).await?,
            }
        }
    }

    /// Watches the proxy from the Directory's watch position, applying each batch of changes
    /// with the position after it, until something calls for a listing.
    async fn follow(
        &self,
        session: &mut Session,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<FollowEnd, Stop> {
        let mut position = match self.directory.watch_position()? {
            Some(p) if p.cache_id == session.cache_id => p,
            _ => {
                return Ok(FollowEnd::TooOld(
                    "the Directory has no watch position for this proxy cache".into(),
                ));
            }
        };
        let mut stream = session
            .client
            .watch(WatchRequest {
                after_revision: position.revision,
                kinds: session
                    .kinds
                    .iter()
                    .map(|k| kind_to_wire(*k) as i32)
                    .collect(),
                cache_id: session.cache_id.clone(),
            })
            .await
            .map_err(|s| {
                Stop::Disconnected(format!("the proxy refused to watch: {}", s.message()))
            })?
            .into_inner();
        let mut check = tokio::time::interval(CHECK_EVERY);
        // The revision the proxy last said the role has caught up with, while nothing newer
        // has arrived.
        let mut caught_up: Option<u64> = None;
        loop {
            tokio::select! {
                message = stream.message() => {
                    let event = match message {
                        Ok(Some(m)) => m.event,
                        Ok(None) => return Err(Stop::Disconnected("the proxy ended the watch".into())),
                        Err(s) => return Err(Stop::Disconnected(format!("the watch was interrupted: {}", s.message()))),
                    };
                    match event {
                        Some(Event::Changes(batch)) => {
                            caught_up = None;
                            self.apply(batch, &mut position).await?;
                        }
                        Some(Event::CaughtUp(up)) => {
                            if up.revision > position.revision {
                                position.revision = up.revision;
                                let p = position.clone();
                                self.blocking(move |d| d.set_watch_position(&p)).await?;
                            }
                            caught_up = Some(position.revision);
                            // Right after a listing, verify at once; otherwise on the next tick.
                            if session.verified_at.is_none() {
                                let differs = self.verify(session, position.revision).await?;
                                if !differs.is_empty() {
                                    return Ok(FollowEnd::Differs(differs));
                                }
                            }
                        }
                        Some(Event::TooOld(too_old)) => return Ok(FollowEnd::TooOld(too_old.reason)),
                        None => {}
                    }
                }
                () = self.manual_sync.notified() => return Ok(FollowEnd::Manual),
                () = stopped(shutdown) => return Err(Stop::Shutdown),
                _ = check.tick() => {
                    if self.reconfigured(session)? {
                        tracing::info!("the configuration changed; reconnecting");
                        return Err(Stop::Reconfigured);
                    }
                    if let Some(at) = caught_up.filter(|at| session.verified_at != Some(*at)) {
                        let differs = self.verify(session, at).await?;
                        if !differs.is_empty() {
                            return Ok(FollowEnd::Differs(differs));
                        }
                    }
                }
            }
        }
    }

    /// Applies one batch of watched changes, with the watch position after it.
    async fn apply(
        &self,
        batch: protocol::pb::ChangeBatch,
        position: &mut WatchPosition,
    ) -> Result<(), Stop> {
        let Some(last) = batch.changes.last().map(|c| c.revision) else {
            return Ok(());
        };
        let changes: Vec<_> = batch
            .changes
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

    /// A proxy that is still reading SiPass answers UNAVAILABLE; synchronizing from it
    /// would only be interrupted, so the role waits, saying why.
    async fn wait_until_loaded(
        &self,
        session: &mut Session,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), Stop> {
        loop {
            let probe = session
                .client
                .summary(SummaryRequest { kinds: Vec::new() })
                .await;
            match probe {
                Ok(_) => return Ok(()),
                Err(s)
                    if s.code() == tonic::Code::Unavailable
                        && s.message().contains("still loading") =>
                {
                    self.status
                        .set_health(HealthState::Warning, Some(s.message().to_owned()));
                }
                Err(s) => {
                    return Err(Stop::Disconnected(format!(
                        "the proxy's summary failed: {}",
                        s.message()
                    )));
                }
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                () = stopped(shutdown) => return Err(Stop::Shutdown),
            }
        }
    }

    /// Kinds whose copy is missing, unfinished, or from another proxy cache.
    fn kinds_to_list(&self, session: &Session) -> Result<Vec<EntityKind>, Stop> {
        let mut stale = Vec::new();
        for kind in &session.kinds {
            match self.directory.position(kind.as_str())? {
                Some(p) if p.complete && p.cache_id == session.cache_id => {}
                _ => stale.push(*kind),
            }
        }
        Ok(stale)
    }

    /// Lists `kinds` into the Directory, recording the run in the history.
    async fn full_sync(
        &self,
        session: &mut Session,
        kinds: &[EntityKind],
        trigger: &str,
        from_scratch: bool,
    ) -> Result<(), Stop> {
        let trigger_owned = trigger.to_owned();
        let run = self.blocking(move |d| d.start_run(&trigger_owned)).await?;
        self.status.set_health(
            HealthState::Synchronizing,
            Some(format!("full synchronization ({trigger})")),
        );
        tracing::info!(trigger, kinds = ?kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(), "full synchronization started");
        let started = std::time::Instant::now();
        for kind in kinds {
            if let Err(stop) = self.list_kind(session, *kind, from_scratch).await {
                let (outcome, reason) = match &stop {
                    Stop::Disconnected(r) | Stop::Database(r) => {
                        (RunOutcome::Interrupted, r.clone())
                    }
                    Stop::Incompatible(r) | Stop::NotConfigured(r) => {
                        (RunOutcome::Failed, r.clone())
                    }
                    Stop::Shutdown | Stop::Reconfigured => {
                        (RunOutcome::Interrupted, "stopped".to_owned())
                    }
                };
                let _ = self
                    .blocking(move |d| d.finish_run(run, outcome, Some(&reason)))
                    .await;
                return Err(stop);
            }
        }
        self.resume_watch_after_listing(session, kinds)?;
        self.blocking(move |d| d.finish_run(run, RunOutcome::Succeeded, None))
            .await?;
        session.verified_at = None;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "full synchronization finished"
        );
        Ok(())
    }

    /// After listing `listed`, watching starts from the oldest revision any kind is known to be
    /// current at: the snapshots of the kinds just listed, and for the others the watch
    /// position they were following (or their own listing's snapshot). Replaying a change the
    /// Directory already has is harmless, missing one is not. A watch position the proxy
    /// called too old is never reused when every kind was listed again.
    fn resume_watch_after_listing(
        &self,
        session: &Session,
        listed: &[EntityKind],
    ) -> Result<(), Stop> {
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
    async fn list_kind(
        &self,
        session: &mut Session,
        kind: EntityKind,
        from_scratch: bool,
    ) -> Result<(), Stop> {
        let mut position = self.start_position(kind, &session.cache_id, from_scratch)?;
        // The next page is fetched while the current one is written: the network and the
        // database work at the same time.
        let mut next = Some(fetch_page(
            &session.client,
            kind,
            position.page_token.clone(),
        ));
        while let Some(pending) = next.take() {
            let reply = match pending.await {
                Ok(Ok(r)) => r,
                Ok(Err(s))
                    if s.code() == tonic::Code::InvalidArgument
                        && !position.page_token.is_empty() =>
                {
                    tracing::warn!(kind = %kind, "the proxy refused the page token ({}); listing again", s.message());
                    position = self.start_position(kind, &session.cache_id, true)?;
                    next = Some(fetch_page(&session.client, kind, String::new()));
                    continue;
                }
                Ok(Err(s)) => {
                    return Err(Stop::Disconnected(format!(
                        "listing {kind}s failed: {}",
                        s.message()
                    )));
                }
                Err(e) => return Err(Stop::Disconnected(format!("listing {kind}s failed: {e}"))),
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
                    &session.client,
                    kind,
                    position.page_token.clone(),
                ));
            }
            let pos = position.clone();
            let received = page.len() as u64;
            self.blocking(move |d| d.write_page(&page, &pos)).await?;
            self.status.count_transfer(received, 0);
            self.status.set_progress(
                kind,
                Progress {
                    done: position.done,
                    total: position.total.max(position.done),
                },
            );
        }
        let pos = position.clone();
        let removed = self.blocking(move |d| d.finish_listing(&pos)).await?;
        tracing::info!(kind = %kind, listed = position.done, removed, "listed");
        Ok(())
    }

    /// Where a listing starts: the unfinished listing of the same proxy cache, or a new one.
    fn start_position(
        &self,
        kind: EntityKind,
        cache_id: &str,
        from_scratch: bool,
    ) -> Result<SyncPosition, Stop> {
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

    /// Compares counts and digests with the proxy's Summary; returns the kinds that differ.
    /// Only meaningful when the Directory is at `at`: the summary is compared only when the
    /// proxy is still at that revision (otherwise more changes are on their way).
    async fn verify(&self, session: &mut Session, at: u64) -> Result<Vec<EntityKind>, Stop> {
        let summary = session
            .client
            .summary(SummaryRequest {
                kinds: session
                    .kinds
                    .iter()
                    .map(|k| kind_to_wire(*k) as i32)
                    .collect(),
            })
            .await
            .map_err(|s| {
                Stop::Disconnected(format!("the proxy's summary failed: {}", s.message()))
            })?
            .into_inner();
        if session.verified_at == Some(summary.revision) || summary.revision != at {
            return Ok(Vec::new());
        }
        let mut mismatched = Vec::new();
        for k in summary.kinds {
            let Ok(kind) = kind_from_wire(k.kind) else {
                continue;
            };
            let ours = self.blocking(move |d| d.digest(kind.as_str())).await?;
            let equal = ours.count() == k.eligible && ours.value() == k.digest;
            self.status.set_eligibility(
                kind,
                Eligibility {
                    eligible: k.eligible,
                    digest_match: Some(equal),
                },
            );
            if !equal {
                tracing::info!(kind = %kind, ours = ours.count(), proxy = k.eligible, "the Directory differs from the proxy; listing again");
                mismatched.push(kind);
            }
        }
        if mismatched.is_empty() {
            session.verified_at = Some(summary.revision);
            if self.status.set_health(
                HealthState::Online,
                Some("synchronized and verified".to_owned()),
            ) {
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
    ) -> Result<T, Stop> {
        let directory = self.directory.clone();
        tokio::task::spawn_blocking(move || f(directory.as_ref()))
            .await
            .map_err(|e| Stop::Database(format!("a database task failed: {e}")))?
            .map_err(Stop::from)
    }
}

/// Starts fetching one page of a listing in the background.
fn fetch_page(
    client: &BridgeClient,
    kind: EntityKind,
    page_token: String,
) -> tokio::task::JoinHandle<Result<protocol::pb::ListReply, tonic::Status>> {
    let mut client = client.clone();
    tokio::spawn(async move {
        client
            .list(ListRequest {
                kind: kind_to_wire(kind) as i32,
                page_size: PAGE_SIZE,
                page_token,
            })
            .await
            .map(|r| r.into_inner())
    })
}

/// A failed call, in words that say where and what to do.
fn describe(host: &str, port: u16, status: &tonic::Status) -> String {
    match status.code() {
        tonic::Code::Unauthenticated => format!(
            "the proxy at {host}:{port} refused the bridge token; give the role the proxy's token ({})",
            status.message()
        ),
        _ => format!(
            "the proxy at {host}:{port} did not answer: {}",
            status.message()
        ),
    }
}

/// Completes once shutdown is signalled (or the sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
