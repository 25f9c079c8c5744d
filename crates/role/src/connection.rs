//! The connection: establishes a session with the proxy (Hello, version rule, a proxy still
//! loading), hands it to the workers that need the proxy, and when the session ends waits
//! (backoff with jitter) before the next one, with the health saying why.

use std::sync::Arc;
use std::time::Duration;

use model::EntityKind;
use model::version::{self, PeerVersions};
use protocol::kind_from_wire;
use runtime::{Backoff, WorkerContext};
use store::Directory;

use crate::alarms::AlarmManager;
use crate::commands::CommandLine;
use crate::events::EventRecorder;
use crate::proxy::{Dialer, Endpoint, Proxy, ProxyError};
use crate::session::{Session, SessionEnd, configured_endpoint, wanted_kinds};
use crate::status::{HealthState, ProxyInfo, StatusBoard};
use crate::synchronizer::Synchronizer;

/// How long the connection waits, by cause. Tests shorten them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Waits {
    /// The first wait after losing the proxy; it doubles, with jitter, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Between two looks at a configuration that has no proxy address.
    pub not_configured: Duration,
    /// After a Directory failure.
    pub database: Duration,
    /// Between two Hellos to a proxy still reading SiPass.
    pub loading: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Waits {
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            not_configured: Duration::from_secs(2),
            database: Duration::from_secs(10),
            loading: Duration::from_secs(2),
        }
    }
}

/// The worker that owns the session with the proxy.
pub(crate) struct Connection<D> {
    pub dialer: D,
    pub directory: Arc<dyn Directory>,
    pub status: Arc<StatusBoard>,
    /// How the role names itself to the proxy.
    pub client_name: String,
    pub waits: Waits,
    /// The workers that need a session (the alarm manager joins them here): each serves the
    /// same session, and the first to end it ends it for all.
    pub synchronizer: Synchronizer,
    pub events: EventRecorder,
    pub alarms: AlarmManager,
    pub commands: CommandLine,
    /// Notified when the settings were applied: a waiting connection tries again at once.
    pub reconnect: Arc<tokio::sync::Notify>,
}

impl<D: Dialer> runtime::Worker for Connection<D> {
    fn name(&self) -> String {
        "connection".into()
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), String> {
        let mut backoff = Backoff::new(self.waits.first_backoff, self.waits.max_backoff);
        loop {
            ctx.status.busy("connecting to the proxy");
            let end = match self.establish(&ctx).await {
                Ok(session) => {
                    backoff.reset();
                    ctx.status
                        .idle(format!("connected to the proxy at {}", session.endpoint));
                    tokio::select! {
                        end = self.synchronizer.serve(&session, &ctx.shutdown) => end,
                        end = self.events.serve(&session, &ctx.shutdown) => end,
                        end = self.alarms.serve(&session, &ctx.shutdown) => end,
                        end = self.commands.serve(&session, &ctx.shutdown) => end,
                    }
                }
                Err(end) => end,
            };
            self.status.set_connected(false);
            // Whichever worker ended the session, the lag is unknown until following again
            // (the synchronizer clears it itself only when its own watch ends).
            self.status.clear_revisions();
            let wait = match self.wait_after(end, &mut backoff, &ctx) {
                Some(wait) => wait,
                None => break,
            };
            // Apply on the Properties page ends the wait at once.
            let stopped = tokio::select! {
                stopped = ctx.shutdown.sleep_async(wait) => stopped,
                () = self.reconnect.notified() => false,
            };
            if stopped {
                break;
            }
        }
        tracing::info!("disconnected from the proxy: the role stops");
        self.synchronizer.reporter.stopped();
        self.events.reporter.stopped();
        self.alarms.reporter.stopped();
        Ok(())
    }
}

impl<D: Dialer> Connection<D> {
    /// Dials, says Hello, and waits while the proxy is still loading.
    async fn establish(&self, ctx: &WorkerContext) -> Result<Session<D::Proxy>, SessionEnd> {
        let endpoint = configured_endpoint(self.directory.as_ref())?;
        self.status.aim_at(endpoint.to_string());
        // The dialer's and Hello's messages already name the proxy and what to check.
        let proxy = self.dialer.dial(&endpoint).await?;
        // Logged once: the counts in the reason move at every Hello.
        let mut said_loading = false;
        loop {
            let hello = self.hello(&proxy, &endpoint).await?;
            let reason = match hello.loading {
                Some(loading) => format!(
                    "the proxy at {endpoint} is still loading SiPass ({} of {} cardholders)",
                    loading.cardholders_loaded, loading.cardholders_total
                ),
                None => match proxy.summary(&[]).await {
                    // A proxy from before Hello reported loading (0.1.0) shows it only by
                    // refusing to serve: probed here, so that it is waited for like any
                    // other instead of recording a failed run at every attempt.
                    Err(ProxyError::NotReady(detail)) => {
                        format!("the proxy at {endpoint} is not ready to serve yet ({detail})")
                    }
                    Err(e) => return Err(e.into()),
                    Ok(_) => return self.open(proxy, endpoint, hello),
                },
            };
            let wait = self.waits.loading;
            ctx.status.idle("waiting for the proxy to load SiPass");
            self.status
                .set_health_retrying(HealthState::Warning, reason.clone(), wait);
            if !std::mem::replace(&mut said_loading, true) {
                tracing::info!("{reason}; waiting");
            }
            if ctx.shutdown.sleep_async(wait).await {
                return Err(SessionEnd::Shutdown);
            }
        }
    }

    /// Hello, with both sides' versions checked against the rule.
    async fn hello(
        &self,
        proxy: &D::Proxy,
        endpoint: &Endpoint,
    ) -> Result<protocol::pb::HelloReply, SessionEnd> {
        let ours = PeerVersions::this_role();
        let hello = proxy
            .hello(protocol::pb::HelloRequest {
                product_version: ours.product.clone(),
                protocol_version: ours.protocol,
                client_name: self.client_name.clone(),
            })
            .await?;
        let theirs = PeerVersions {
            product: hello.product_version.clone(),
            protocol: hello.protocol_version,
            sipass: hello.sipass_version.clone(),
        };
        let verdict = version::check(&ours, &theirs);
        self.status
            .set_proxy_versions(crate::status::ProxyVersions {
                address: endpoint.to_string(),
                product_version: protocol::printable(&hello.product_version, 64),
                protocol_version: hello.protocol_version,
                sipass_version: protocol::printable(&hello.sipass_version, 64),
                supported: verdict.is_ok(),
                refusal: verdict
                    .as_ref()
                    .err()
                    .map(|e| protocol::printable(&e.to_string(), 1024)),
                said_at: model::time::rfc3339_millis(runtime::now_millis()),
            });
        verdict.map_err(|e| SessionEnd::Incompatible(e.to_string()))?;
        self.status.set_proxy(ProxyInfo {
            address: endpoint.to_string(),
            product_version: hello.product_version.clone(),
            sipass_version: hello.sipass_version.clone(),
            connected: true,
            unavailable: hello
                .unavailable
                .iter()
                .take(16)
                .map(crate::status::UnavailableFeature::from_wire)
                .collect(),
        });
        Ok(hello)
    }

    fn open(
        &self,
        proxy: D::Proxy,
        endpoint: Endpoint,
        hello: protocol::pb::HelloReply,
    ) -> Result<Session<D::Proxy>, SessionEnd> {
        tracing::info!(proxy = %endpoint, "connected to the proxy");
        let served: Vec<EntityKind> = hello
            .kinds
            .iter()
            .filter_map(|k| kind_from_wire(*k).ok())
            .collect();
        let kinds = wanted_kinds(self.directory.as_ref(), &served)?;
        Ok(Session {
            proxy,
            endpoint,
            cache_id: hello.cache_id,
            served,
            kinds,
        })
    }

    /// Reports why the session ended and returns how long to wait; `None` to stop.
    fn wait_after(
        &self,
        end: SessionEnd,
        backoff: &mut Backoff,
        ctx: &WorkerContext,
    ) -> Option<Duration> {
        let (state, reason, wait) = match end {
            SessionEnd::Shutdown => return None,
            SessionEnd::Reconfigured => return Some(Duration::ZERO),
            SessionEnd::NotConfigured(r) => {
                // Nothing to retry: the role looks at its settings again, dialing nowhere.
                ctx.status
                    .idle("not configured: waiting for a proxy address");
                if self
                    .status
                    .set_health(HealthState::NotConfigured, r.clone())
                {
                    tracing::warn!("{r}");
                }
                return Some(self.waits.not_configured);
            }
            SessionEnd::Disconnected(r) => (HealthState::Warning, r, backoff.next_delay()),
            SessionEnd::Incompatible(r) => (HealthState::Warning, r, self.waits.max_backoff),
            SessionEnd::Database(r) => (HealthState::Error, r, self.waits.database),
        };
        ctx.status.retrying(reason.clone());
        // Logged when the reason is new, not at every attempt.
        if self.status.set_health_retrying(state, reason.clone(), wait) {
            match state {
                HealthState::Error => tracing::error!("{reason}"),
                _ => tracing::warn!("{reason}"),
            }
        }
        Some(wait)
    }
}
