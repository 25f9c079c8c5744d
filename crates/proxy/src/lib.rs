//! The proxy service that runs beside SiPass.
//!
//! It logs in to SiPass's HR API, loads every cardholder and credential into its cache (each
//! change stamped with the next revision), reloads periodically so that changes are found,
//! and serves the bridge protocol on port 5645 over TLS with a shared token.

mod cache;
mod events;
mod follower;
mod journal;
mod loader;
mod server;
mod watcher;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use cache::{Cache, CacheError, CachedEntity, Change, KindSummary, Retention};
pub use journal::{CommittedJournal, Journal, JournalError};
pub use loader::{LoadError, LoadProgress, LoadStats};
/// The proxy's databases as the migration runner knows them (`db status|update`).
pub use {cache::SCHEMA as CACHE_SCHEMA, journal::SCHEMA as JOURNAL_SCHEMA};

use model::SiPassVersion;
use model::version::{PRODUCT_VERSION, PROTOCOL_VERSION, PeerVersions};
use sipass_client::{HrClient, SiPassConfig, SiPassError};
use tokio::sync::watch;

/// How to run a proxy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Holds the TLS authority and the bridge token; must exist.
    pub data_dir: PathBuf,
    pub sipass: SiPassConfig,
    /// The SiPass release behind this proxy, reported to roles in Hello.
    pub sipass_version: SiPassVersion,
    /// The shared token; read from (or created in) the data folder when not given.
    pub token: Option<String>,
    /// Names and addresses the proxy's certificate is valid for.
    pub tls_names: Vec<String>,
    /// A certificate and key given by the operator (PEM files, with the CA that roles must
    /// trust); by default the proxy's own CA issues one at each start.
    pub tls_files: Option<TlsFiles>,
    /// How often SiPass is read again to find changes.
    pub reload_every: Duration,
    /// How long changes stay watchable.
    pub retention: Retention,
    /// The most unacknowledged events the journal keeps.
    pub journal_max: u64,
}

/// The proxy's certificate chain, key and CA as files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: Option<PathBuf>,
}

/// Why the proxy cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "data folder '{0}' does not exist; create it (mkdir -p {0}) or point --data at the proxy's folder"
    )]
    NoDataFolder(PathBuf),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    SiPass(#[from] SiPassError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("cannot serve the bridge protocol on {addr}: {reason}")]
    Serve { addr: SocketAddr, reason: String },
}

/// State shared by the loader and the gRPC service.
pub struct Shared {
    pub cache: Arc<Cache>,
    pub journal: Arc<Journal>,
    pub client: Arc<HrClient>,
    /// Wakes the loader for a reconciliation pass now (after a missed push message).
    pub reconcile: tokio::sync::Notify,
    pub progress: LoadProgress,
    /// True once SiPass has been read completely at least once.
    pub loaded: AtomicBool,
    sipass_version: SiPassVersion,
}

impl Shared {
    fn versions(&self) -> PeerVersions {
        PeerVersions {
            product: PRODUCT_VERSION.to_owned(),
            protocol: PROTOCOL_VERSION,
            sipass: self.sipass_version.to_string(),
        }
    }
}

/// A running proxy.
pub struct RunningProxy {
    pub addr: SocketAddr,
    /// Where the proxy's CA certificate is, for roles to trust.
    pub ca_path: PathBuf,
    pub ca_pem: String,
    pub token: String,
    pub shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningProxy {
    /// Waits until the proxy has stopped after shutdown was signalled.
    pub async fn stopped(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn identity_ca(path: &Path) -> Result<String, ProxyError> {
    std::fs::read_to_string(path).map_err(|source| {
        ProxyError::Tls(tls::TlsError::Read {
            path: path.to_owned(),
            source,
        })
    })
}

/// Where the bridge token is kept in the data folder.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("proxy-token")
}

/// Where the proxy's cache is kept in the data folder.
pub fn cache_path(data_dir: &Path) -> PathBuf {
    data_dir.join("cache.db")
}

/// Where the proxy's event journal is kept in the data folder.
pub fn journal_path(data_dir: &Path) -> PathBuf {
    data_dir.join("journal.db")
}

/// Where the proxy's TLS authority is kept in the data folder.
pub fn tls_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}

/// Logs in to SiPass (a refused login is an error at once), then serves on `listener` and
/// loads SiPass in the background until `shutdown` turns true.
pub async fn start(
    config: ProxyConfig,
    listener: tokio::net::TcpListener,
    shutdown: watch::Receiver<bool>,
) -> Result<RunningProxy, ProxyError> {
    if !config.data_dir.is_dir() {
        return Err(ProxyError::NoDataFolder(config.data_dir.clone()));
    }
    let addr = listener.local_addr().map_err(|e| ProxyError::Serve {
        addr: "0.0.0.0:0".parse().expect("literal address"),
        reason: e.to_string(),
    })?;
    let (identity, ca_path) = match &config.tls_files {
        Some(files) => (
            tls::ServerIdentity::from_files(&files.cert, &files.key, files.ca.as_deref())?,
            files.ca.clone().unwrap_or_else(|| files.cert.clone()),
        ),
        None => {
            let authority = tls::Authority::load_or_create(
                &tls_dir(&config.data_dir),
                "SiPass Bridge Proxy CA",
            )?;
            (
                authority.issue_server(&config.tls_names)?,
                authority.cert_path(),
            )
        }
    };
    // Refuse unusable files now, with their names, rather than at the first role.
    identity.rustls_config()?;
    let token = match &config.token {
        Some(token) => token.clone(),
        None => tls::load_or_create_secret(&token_path(&config.data_dir))?,
    };
    let client = Arc::new(HrClient::new(config.sipass.clone())?);
    match client.login().await {
        Ok(()) => tracing::info!(url = %config.sipass.hr_url, "logged in to SiPass"),
        Err(e) if e.is_transient() => tracing::warn!("{e}; will keep trying"),
        Err(e) => return Err(e.into()),
    }
    let path = cache_path(&config.data_dir);
    let cache = Arc::new(
        tokio::task::spawn_blocking(move || Cache::open(&path))
            .await
            .map_err(|e| CacheError::Task(e.to_string()))??,
    );
    let journal = Arc::new(Journal::open(
        &journal_path(&config.data_dir),
        config.journal_max,
    )?);
    let complete = cache.is_complete()?;
    if complete {
        tracing::info!(
            revision = cache.revision(),
            "serving the cache kept from the last run while SiPass is read again"
        );
    }
    let shared = Arc::new(Shared {
        cache,
        journal,
        client: client.clone(),
        reconcile: tokio::sync::Notify::new(),
        progress: LoadProgress::default(),
        loaded: AtomicBool::new(complete),
        sipass_version: sipass_version(&client, config.sipass_version).await,
    });
    let server = tokio::spawn(serve(
        listener,
        identity,
        token.clone(),
        shared.clone(),
        shutdown.clone(),
    ));
    let follower = tokio::spawn(follower::follow(shared.clone(), shutdown.clone()));
    let keep_alive = tokio::spawn(keep_session_alive(client.clone(), shutdown.clone()));
    let loader = tokio::spawn(keep_loaded(
        client,
        shared.clone(),
        config.reload_every,
        config.retention,
        shutdown,
    ));
    Ok(RunningProxy {
        addr,
        ca_pem: identity_ca(&ca_path)?,
        ca_path,
        token,
        shared,
        tasks: vec![server, loader, follower, keep_alive],
    })
}

async fn serve(
    listener: tokio::net::TcpListener,
    identity: tls::ServerIdentity,
    token: String,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    use protocol::pb::bridge_server::BridgeServer;
    use tonic::transport::{Identity, Server, ServerTlsConfig};
    let addr = listener.local_addr().ok();
    let service = BridgeServer::new(server::BridgeService::new(shared))
        .max_decoding_message_size(protocol::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(protocol::MAX_MESSAGE_BYTES);
    let intercepted = tonic::service::interceptor::InterceptedService::new(
        service,
        protocol::RequireToken::new(&token),
    );
    let tls =
        ServerTlsConfig::new().identity(Identity::from_pem(identity.cert_pem, identity.key_pem));
    let builder = match Server::builder().tls_config(tls) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("cannot set up TLS for the bridge protocol: {e}");
            return;
        }
    };
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let stop = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let mut builder = builder.http2_keepalive_interval(Some(Duration::from_secs(30)));
    if let Err(e) = builder
        .add_service(intercepted)
        .serve_with_incoming_shutdown(incoming, stop)
        .await
    {
        tracing::error!(?addr, "the bridge protocol server stopped: {e}");
    }
}

/// The SiPass release behind the proxy: what SiPass says (its management API's Version),
/// else what the operator configured. A disagreement is logged, because the cardholder Status
/// codes differ between releases.
async fn sipass_version(client: &HrClient, configured: SiPassVersion) -> SiPassVersion {
    match client.version().await.map(|v| v.parse::<SiPassVersion>()) {
        Ok(Ok(reported)) => {
            if reported != configured {
                tracing::warn!(%reported, %configured, "SiPass reports another release than configured; using SiPass's");
            }
            reported
        }
        Ok(Err(e)) => {
            tracing::warn!("{e}; assuming the configured {configured}");
            configured
        }
        Err(_) => configured,
    }
}

/// Keeps the HR API session alive between loads (SiPass's expiry slides with every call),
/// at a third of the timeout SiPass reports.
async fn keep_session_alive(client: Arc<HrClient>, mut shutdown: watch::Receiver<bool>) {
    let every = client
        .session_timeout()
        .await
        .map_or(Duration::from_secs(120), |t| {
            (t / 3).max(Duration::from_secs(5))
        });
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = client.keep_alive().await {
            tracing::debug!("SiPass keep-alive failed: {e}; the next call logs in again");
        }
    }
}

/// Loads SiPass, then loads it again every `every`, retrying failures with backoff, until
/// shutdown. Logs out of SiPass at the end.
async fn keep_loaded(
    client: Arc<HrClient>,
    shared: Arc<Shared>,
    every: Duration,
    retention: Retention,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = std::time::Instant::now();
        let wait = match loader::load_all(&client, &shared.cache, &shared.progress).await {
            Ok(stats) => {
                if let Err(e) = shared.cache.mark_complete() {
                    tracing::error!("{e}");
                }
                match shared.cache.prune(retention) {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "pruned the change log"),
                    Err(e) => tracing::error!("{e}"),
                }
                if !shared.loaded.swap(true, Ordering::AcqRel) {
                    tracing::info!(
                        cardholders = stats.seen,
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
                backoff = Duration::from_secs(1);
                every
            }
            Err(e) => {
                tracing::warn!(
                    "reading SiPass failed: {e}; retrying in {}s",
                    backoff.as_secs()
                );
                let wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(60));
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.reconcile.notified() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    client.logout().await;
}
