//! The entry point: checks the data folder and the TLS files, logs in to SiPass, opens the
//! cache and the journal, then starts the workers that keep them and serve them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use model::SiPassVersion;
use runtime::{Shutdown, Workers};
use sipass_client::{HrClient, SiPassError};

use crate::cache::{Cache, CacheError};
use crate::config::{ProxyConfig, cache_path, journal_path, tls_dir, token_path};
use crate::follower::Follower;
use crate::journal::{Journal, JournalError};
use crate::keep_alive::SessionKeepAlive;
use crate::listener::ListenerLimits;
use crate::loader::LoadProgress;
use crate::reconcile::Reconciler;
use crate::serve::GrpcServer;
use crate::shared::Shared;

/// Why the proxy cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "data folder '{0}' does not exist; create it (mkdir -p -m 700 {0}) or point --data at the proxy's folder"
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
    #[error("cannot start the proxy's {name} thread: {source}")]
    Thread {
        name: String,
        source: std::io::Error,
    },
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
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl RunningProxy {
    /// Waits until every worker has stopped after the shutdown was triggered.
    pub async fn stopped(self) {
        for task in self.tasks {
            let _ = task.await;
        }
        for thread in self.threads {
            let _ = runtime::blocking(move || thread.join()).await;
        }
    }
}

/// The proxy's certificate and key, and where the CA that roles trust is.
fn identity(config: &ProxyConfig) -> Result<(tls::ServerIdentity, PathBuf), ProxyError> {
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
    Ok((identity, ca_path))
}

fn read_ca(path: &Path) -> Result<String, ProxyError> {
    std::fs::read_to_string(path).map_err(|source| {
        ProxyError::Tls(tls::TlsError::Read {
            path: path.to_owned(),
            source,
        })
    })
}

/// Logs in to SiPass (a refused login is an error at once), then serves on `listener` and
/// keeps the cache and the journal in the background until `shutdown` is triggered.
pub async fn start(
    config: ProxyConfig,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<RunningProxy, ProxyError> {
    if !config.data_dir.is_dir() {
        return Err(ProxyError::NoDataFolder(config.data_dir.clone()));
    }
    let addr = listener.local_addr().map_err(|e| ProxyError::Serve {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        reason: e.to_string(),
    })?;
    let (identity, ca_path) = identity(&config)?;
    let ca_pem = read_ca(&ca_path)?;
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
    let shared = Arc::new(open_shared(&config, client).await?);
    let (tasks, threads) = start_workers(&config, listener, identity, &token, &shared, &shutdown)?;
    Ok(RunningProxy {
        addr,
        ca_pem,
        ca_path,
        token,
        shared,
        tasks,
        threads,
    })
}

/// Opens the cache and the journal and asks SiPass which release it is.
async fn open_shared(config: &ProxyConfig, client: Arc<HrClient>) -> Result<Shared, ProxyError> {
    let path = cache_path(&config.data_dir);
    let cache = Arc::new(runtime::blocking(move || Cache::open(&path)).await?);
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
    Ok(Shared {
        cache,
        journal,
        sipass_version: sipass_version(&client, config.sipass_version).await,
        client,
        reconcile: tokio::sync::Notify::new(),
        progress: LoadProgress::default(),
        loaded: AtomicBool::new(complete),
        loaded_now: tokio::sync::Notify::new(),
        workers: Workers::new(),
        push_missing: AtomicBool::new(false),
        reload_without_push: config.reload_every_without_push,
        connections: Default::default(),
        streams: crate::shared::StreamCaps::new(crate::shared::StreamCaps::DEFAULT),
    })
}

type Started = (
    Vec<tokio::task::JoinHandle<()>>,
    Vec<std::thread::JoinHandle<()>>,
);

/// Starts every worker through the shared registry, all stopped by `shutdown`.
fn start_workers(
    config: &ProxyConfig,
    listener: tokio::net::TcpListener,
    identity: tls::ServerIdentity,
    token: &str,
    shared: &Arc<Shared>,
    shutdown: &Shutdown,
) -> Result<Started, ProxyError> {
    let workers = &shared.workers;
    let mut threads = Vec::new();
    if let Some(housekeeper) = shared.journal.housekeeper() {
        let name = runtime::BlockingWorker::name(&housekeeper);
        let thread = workers
            .spawn_thread(housekeeper, shutdown)
            .map_err(|source| ProxyError::Thread { name, source })?;
        threads.push(thread);
    }
    let server = GrpcServer {
        listener,
        identity,
        token: token.to_owned(),
        shared: shared.clone(),
        limits: listener_limits(config.limits),
        connections: shared.connections.clone(),
    };
    let reconciler = Reconciler {
        shared: shared.clone(),
        every: config.reload_every,
        retention: config.retention,
    };
    let tasks = vec![
        workers.spawn(server, shutdown),
        workers.spawn(reconciler, shutdown),
        workers.spawn(Follower::new(shared.clone()), shutdown),
        workers.spawn(
            SessionKeepAlive {
                client: shared.client.clone(),
            },
            shutdown,
        ),
    ];
    Ok((tasks, threads))
}

/// The configured limits, with the connection cap fitted under the open-files limit (raised
/// to its hard limit first).
fn listener_limits(configured: ListenerLimits) -> ListenerLimits {
    match crate::listener::raise_open_files_limit() {
        Some(open_files) => {
            let limits = configured.within_open_files(open_files);
            tracing::info!(
                open_files,
                max_connections = limits.max_connections,
                "connection limits on the bridge port"
            );
            limits
        }
        None => configured,
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use runtime::WorkerState;

    use super::*;
    use crate::cache::Retention;

    /// A proxy whose SiPass is down: it starts anyway (SiPass being unreachable is
    /// transient) and its workers keep retrying.
    fn config(dir: &Path) -> ProxyConfig {
        let sipass_ca = tls::Authority::load_or_create(&dir.join("sipass-ca"), "SiPass Root CA")
            .unwrap()
            .cert_path();
        let hr_url = "https://127.0.0.1:1/api/V1/hr".to_owned();
        ProxyConfig {
            data_dir: dir.to_owned(),
            sipass: sipass_client::SiPassConfig {
                management_url: sipass_client::SiPassConfig::management_url_beside(&hr_url),
                hr_url,
                ca_pem: std::fs::read_to_string(sipass_ca).unwrap(),
                user: "operator".into(),
                password: "secret".into(),
                client_id: "test".into(),
            },
            sipass_version: "2.80".parse().unwrap(),
            token: Some("token".into()),
            tls_names: vec!["localhost".into()],
            tls_files: None,
            reload_every: Duration::from_secs(600),
            reload_every_without_push: Duration::from_secs(30),
            retention: Retention::default(),
            journal_max: 100,
            limits: crate::ListenerLimits::default(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_worker_is_registered_and_one_shutdown_stops_them_all() {
        let dir = std::env::temp_dir().join(format!("proxy-workers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shutdown = Shutdown::new();
        let proxy = start(config(&dir), listener, shutdown.clone())
            .await
            .unwrap();
        let workers = proxy.shared.workers.clone();
        let names: Vec<String> = workers.statuses().into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "bridge-server",
                "journal-housekeeping",
                "push-follower",
                "reconciliation",
                "sipass-session"
            ]
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let reconciliation = || workers.statuses().into_iter().nth(3).unwrap();
        while reconciliation().state != WorkerState::Retrying {
            assert!(Instant::now() < deadline, "{:?}", reconciliation());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            reconciliation()
                .last_error
                .is_some_and(|e| e.contains("reading SiPass failed")),
            "{:?}",
            reconciliation()
        );
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(30), proxy.stopped())
            .await
            .expect("every worker stopped");
        for status in workers.statuses() {
            assert_eq!(status.state, WorkerState::Stopped, "{status:?}");
        }
    }
}
