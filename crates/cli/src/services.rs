//! Starting the simulator, the proxy and the role, alone or together in the demo.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use model::SiPassVersion;
use runtime::Shutdown;
use tokio::net::TcpListener;

use crate::DEFAULT_DATA;

#[derive(clap::Args)]
pub struct SimArgs {
    /// Read settings from this TOML file (`sipass-bridge config init SERVICE` prints one);
    /// flags and environment variables win over it.
    #[arg(long, value_name = "FILE", env = "SIPASS_BRIDGE_CONFIG")]
    config: Option<PathBuf>,
    /// Address for the HR API, the management API and the test endpoints (HTTPS).
    #[arg(long, default_value = "127.0.0.1:8745")]
    listen: SocketAddr,
    /// Folder for the simulator's "SiPass Root CA" (created when missing).
    #[arg(long, default_value = "sipass-sim-data")]
    data: PathBuf,
    #[command(flatten)]
    site: SiteArgs,
}

#[derive(clap::Args, Clone)]
pub struct SiteArgs {
    /// How many cardholders the generated site has.
    #[arg(long, default_value_t = 1000)]
    cardholders: usize,
    /// Seed of the site generator: the same seed gives the same site.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The SiPass operator allowed to log in, as USER:PASSWORD.
    #[arg(long, default_value = sim::Operator::DEFAULT, env = "SIPASS_BRIDGE_SIM_OPERATOR", hide_default_value = false)]
    operator: sim::Operator,
    /// The SiPass release to pretend to be: 2.65, 2.70, 2.75, 2.76 or 2.80.
    #[arg(long, default_value = "2.80")]
    sipass_version: SiPassVersion,
    /// Seconds a session lives without a call (sliding).
    #[arg(long, default_value_t = 360)]
    session_timeout: u64,
    /// Random cardholder changes (updates, creates, deletes) per second, each pushed.
    #[arg(long, default_value_t = 0.0)]
    changes_per_sec: f64,
    /// Random events per second, of every event type in turn, each pushed.
    #[arg(long, default_value_t = 0.0)]
    events_per_sec: f64,
    /// Push messages kept for replay with `Notifications?after=`.
    #[arg(long, default_value_t = sim::DEFAULT_PUSH_RETAIN)]
    push_retain: usize,
    /// The site's UTC offset, which SiPass adds to the dates it answers (e.g. +08:00).
    #[arg(long, default_value = "+00:00", value_parser = parse_offset, allow_hyphen_values = true)]
    utc_offset: String,
    /// Serve the HR API alone, as a real SiPass does: no management API (devices, events,
    /// alarms) and no push channel.
    #[arg(long)]
    hr_only: bool,
    /// Push sequence numbers, event ids and alarm ids start after this number. By default
    /// the start time in microseconds, so that a restarted simulator never hands out the
    /// numbers of an earlier run (a proxy resumes after those); 0 numbers from 1.
    #[arg(long)]
    numbering_base: Option<u64>,
}

fn parse_offset(text: &str) -> Result<String, String> {
    sim::parse_utc_offset(text).map_err(|e| e.to_string())
}

#[derive(clap::Args)]
pub struct ProxyArgs {
    /// Read settings from this TOML file (`sipass-bridge config init SERVICE` prints one);
    /// flags and environment variables win over it.
    #[arg(long, value_name = "FILE", env = "SIPASS_BRIDGE_CONFIG")]
    config: Option<PathBuf>,
    /// The proxy's data folder (cache, journal, TLS authority, bridge token). An explicit
    /// folder must exist; the default (the platform's folder for service state) is created.
    #[arg(long, default_value_os_t = crate::data_folder::service_default("proxy"), env = "SIPASS_BRIDGE_DATA")]
    data: PathBuf,
    /// Address for the bridge protocol; roles connect here.
    #[arg(long, default_value = "0.0.0.0:5645", env = "SIPASS_BRIDGE_LISTEN")]
    listen: SocketAddr,
    /// SiPass's HR API base URL.
    #[arg(
        long,
        default_value = "https://127.0.0.1:8745/api/V1/hr",
        env = "SIPASS_BRIDGE_SIPASS_URL"
    )]
    sipass_url: String,
    /// SiPass's management API base URL (devices, events, alarms, push channel); by default
    /// beside the HR API on the same server.
    #[arg(long, env = "SIPASS_BRIDGE_SIPASS_MANAGEMENT_URL")]
    sipass_management_url: Option<String>,
    /// PEM file of the CA that signed SiPass's certificate ("SiPass Root CA").
    #[arg(long, env = "SIPASS_BRIDGE_SIPASS_CA")]
    sipass_ca: PathBuf,
    /// The SiPass operator the proxy logs in as.
    #[arg(long, default_value = "operator", env = "SIPASS_BRIDGE_SIPASS_USER")]
    sipass_user: String,
    /// File holding the operator's password (or set SIPASS_BRIDGE_SIPASS_PASSWORD).
    #[arg(long, env = "SIPASS_BRIDGE_SIPASS_PASSWORD_FILE")]
    sipass_password_file: Option<PathBuf>,
    /// The SiPass release behind this proxy.
    #[arg(long, default_value = "2.80", env = "SIPASS_BRIDGE_SIPASS_VERSION")]
    sipass_version: SiPassVersion,
    /// File holding the bridge token (or set SIPASS_BRIDGE_TOKEN); by default the token in
    /// the data folder, created on first start.
    #[arg(long, env = "SIPASS_BRIDGE_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Extra host names or addresses roles use to reach the proxy (for its certificate).
    #[arg(
        long = "tls-name",
        env = "SIPASS_BRIDGE_TLS_NAME",
        value_delimiter = ','
    )]
    tls_names: Vec<String>,
    /// The proxy's certificate chain (PEM) instead of one issued by its own CA.
    #[arg(long, requires = "tls_key", env = "SIPASS_BRIDGE_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert", env = "SIPASS_BRIDGE_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// The CA that signed --tls-cert, which roles trust (default: the certificate itself).
    #[arg(long, requires = "tls_cert", env = "SIPASS_BRIDGE_TLS_CA")]
    tls_ca: Option<PathBuf>,
    /// Seconds between two complete reads of SiPass (reconciliation).
    #[arg(long, default_value_t = 600, env = "SIPASS_BRIDGE_RELOAD_EVERY")]
    reload_every: u64,
    /// Seconds between two complete reads when SiPass has no push channel (a real SiPass):
    /// reading again is then the only way changes are found.
    #[arg(
        long,
        default_value_t = 30,
        env = "SIPASS_BRIDGE_RELOAD_EVERY_WITHOUT_PUSH"
    )]
    reload_every_without_push: u64,
    /// Hours changes stay watchable; a role away longer lists again.
    #[arg(long, default_value_t = 24, env = "SIPASS_BRIDGE_CHANGE_LOG_HOURS")]
    change_log_hours: u64,
    /// The most changes kept watchable.
    #[arg(
        long,
        default_value_t = 10_000_000,
        env = "SIPASS_BRIDGE_CHANGE_LOG_MAX"
    )]
    change_log_max: u64,
    /// The most events the journal keeps while no role acknowledges them.
    #[arg(long, default_value_t = 10_000_000, env = "SIPASS_BRIDGE_JOURNAL_MAX")]
    journal_max: u64,
    /// The most connections port 5645 holds at once (lowered to fit the open-files limit).
    #[arg(long, default_value_t = proxy::ListenerLimits::default().max_connections, env = "SIPASS_BRIDGE_MAX_CONNECTIONS")]
    max_connections: usize,
    /// The most established connections from one address (a role uses one).
    #[arg(long, default_value_t = proxy::ListenerLimits::default().max_per_address, env = "SIPASS_BRIDGE_MAX_CONNECTIONS_PER_ADDRESS")]
    max_connections_per_address: usize,
    /// Serve the proxy's metrics in the Prometheus text format on http://ADDR/metrics (off by
    /// default; plain HTTP, so keep it on loopback or a monitoring network).
    #[arg(long, value_name = "ADDR", env = "SIPASS_BRIDGE_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Seconds a new connection gets to finish its TLS handshake.
    #[arg(long, default_value_t = proxy::ListenerLimits::default().handshake_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=600), env = "SIPASS_BRIDGE_HANDSHAKE_TIMEOUT_SECS")]
    handshake_timeout_secs: u64,
}

#[derive(clap::Args)]
pub struct RoleArgs {
    /// Read settings from this TOML file (`sipass-bridge config init SERVICE` prints one);
    /// flags and environment variables win over it.
    #[arg(long, value_name = "FILE", env = "SIPASS_BRIDGE_CONFIG")]
    config: Option<PathBuf>,
    /// The role's data folder (Directory, plugin database, API token). An explicit folder
    /// must exist; the default (the platform's folder for service state) is created.
    #[arg(long, default_value_os_t = crate::data_folder::service_default("role"), env = "SIPASS_BRIDGE_DATA")]
    data: PathBuf,
    /// Address for the Config Tool (web UI and REST API).
    #[arg(long, default_value = "127.0.0.1:8080", env = "SIPASS_BRIDGE_LISTEN")]
    listen: SocketAddr,
    /// Keep the Directory and the plugin database in this PostgreSQL database
    /// (postgres://USER@HOST:PORT/DATABASE, or ?host=/run/postgresql for its socket) instead
    /// of SQLite files in the data folder; for large sites and two roles in failover.
    #[arg(long, value_name = "URL", env = "SIPASS_BRIDGE_DATABASE_URL")]
    database_url: Option<String>,
    /// The proxy's host name or IP address (stored in the Directory's configuration).
    #[arg(long, env = "SIPASS_BRIDGE_PROXY_HOST")]
    proxy_host: Option<String>,
    /// The proxy's port (stored in the Directory's configuration).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..), env = "SIPASS_BRIDGE_PROXY_PORT")]
    proxy_port: Option<u16>,
    /// PEM file of the proxy's CA (the proxy's tls/ca.pem).
    #[arg(long, env = "SIPASS_BRIDGE_PROXY_CA")]
    proxy_ca: PathBuf,
    /// File holding the bridge token (or set SIPASS_BRIDGE_TOKEN).
    #[arg(long, env = "SIPASS_BRIDGE_PROXY_TOKEN_FILE")]
    proxy_token_file: Option<PathBuf>,
    /// Serve the Config Tool over HTTPS with this certificate chain (PEM), for remote
    /// administrators; needs --tls-key.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        env = "SIPASS_BRIDGE_TLS_CERT"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        env = "SIPASS_BRIDGE_TLS_KEY"
    )]
    tls_key: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Data folder for the demo (created when missing).
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// Address for the Config Tool; another free port is used when it is taken.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    site: SiteArgs,
}

/// The one shutdown of the process, triggered on Ctrl-C or SIGTERM.
fn shutdown_on_signal() -> Shutdown {
    let shutdown = Shutdown::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        trigger.trigger();
    });
    shutdown
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Resolves at the shutdown, for the parts that stop on a future (the simulator, the web
/// server).
async fn until(shutdown: Shutdown) {
    shutdown.wait().await;
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for the {what}; is another program using that port? choose another with --listen")
    })
}

fn sim_config(site: &SiteArgs, data: &Path) -> sim::SimConfig {
    sim::SimConfig {
        site: sim::SiteSpec {
            cardholders: site.cardholders,
            seed: site.seed,
        },
        operator: site.operator.clone(),
        session_timeout: Duration::from_secs(site.session_timeout),
        version: site.sipass_version,
        tls_dir: data.to_owned(),
        tls_names: tls::default_server_names(),
        changes_per_sec: site.changes_per_sec,
        events_per_sec: site.events_per_sec,
        push_retain: site.push_retain,
        utc_offset: site.utc_offset.clone(),
        hr_only: site.hr_only,
        numbering_base: site.numbering_base.unwrap_or_else(sim::numbering_base_now),
        ..sim::SimConfig::local(data)
    }
}

pub async fn sim(args: SimArgs) -> Result<()> {
    let shutdown = shutdown_on_signal();
    // "Created when missing": before the lock, which lives in it.
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create the data folder {}", args.data.display()))?;
    let _lock = crate::data_folder::lock(&args.data, "sim")?;
    warn_if_others_can_read(&args.data);
    let listener = bind(args.listen, "SiPass simulator").await?;
    let running = sim::start(
        sim_config(&args.site, &args.data),
        listener,
        until(shutdown),
    )
    .await?;
    out!(
        "SiPass simulator {} listening on {} (CA: {}, operator '{}')",
        args.site.sipass_version,
        running.hr_url(),
        running.ca_path.display(),
        args.site.operator.user
    );
    if args.site.hr_only {
        out!(
            "  HR API only: no management API and no push channel; test endpoints {}",
            running.sim_url()
        );
    } else {
        out!(
            "  management API {} (push channel: {}/Notifications), test endpoints {}",
            running.management_url(),
            running.management_url(),
            running.sim_url()
        );
    }
    running.stopped().await;
    Ok(())
}

/// Prints where a service listens, and logs it too: a log file (`--log-dir`) then records
/// which port the service took and where its CA and tokens are.
fn announce(line: &str) {
    out!("{line}");
    tracing::info!("{line}");
}

/// Reads a secret from a file named by a flag, or from an environment variable.
fn secret(file: Option<&Path>, env: &str, what: &str, flag: &str) -> Result<Option<String>> {
    if let Some(path) = file {
        #[cfg(unix)]
        if let Some(warning) = crate::data_folder::loose_secret_file(path, flag) {
            tracing::warn!("{warning}");
        }
        #[cfg(not(unix))]
        let _ = flag;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {what} from {}", path.display()))?;
        let text = text.trim().to_owned();
        if text.is_empty() {
            bail!("{} is empty; it should hold {what}", path.display());
        }
        return Ok(Some(text));
    }
    match std::env::var(env) {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_owned())),
        _ => Ok(None),
    }
}

fn read_pem(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} from {}", path.display()))
}

pub async fn proxy(args: ProxyArgs) -> Result<()> {
    let shutdown = shutdown_on_signal();
    crate::data_folder::prepare_default(&args.data, "proxy")
        .with_context(|| format!("cannot create the data folder {}", args.data.display()))?;
    let _lock = crate::data_folder::lock(&args.data, "proxy")?;
    warn_if_others_can_read(&args.data);
    let password = secret(
        args.sipass_password_file.as_deref(),
        "SIPASS_BRIDGE_SIPASS_PASSWORD",
        "the SiPass operator's password",
        "--sipass-password-file",
    )?
    .context("the SiPass operator's password is needed: put it in a file and pass --sipass-password-file FILE, or set SIPASS_BRIDGE_SIPASS_PASSWORD")?;
    let token = secret(
        args.token_file.as_deref(),
        "SIPASS_BRIDGE_TOKEN",
        "the bridge token",
        "--token-file",
    )?;
    let mut tls_names = tls::default_server_names();
    tls_names.extend(args.tls_names.iter().cloned());
    let config = proxy::ProxyConfig {
        data_dir: args.data.clone(),
        sipass: sipass_client::SiPassConfig {
            management_url: args.sipass_management_url.clone().unwrap_or_else(|| {
                sipass_client::SiPassConfig::management_url_beside(&args.sipass_url)
            }),
            hr_url: args.sipass_url.clone(),
            ca_pem: read_pem(&args.sipass_ca, "SiPass's CA certificate")?,
            user: args.sipass_user.clone(),
            password,
            client_id: "SIPASS-BRIDGE-PROXY".into(),
        },
        sipass_version: args.sipass_version,
        token,
        tls_names,
        tls_files: args
            .tls_cert
            .clone()
            .zip(args.tls_key.clone())
            .map(|(cert, key)| proxy::TlsFiles {
                cert,
                key,
                ca: args.tls_ca.clone(),
            }),
        reload_every: Duration::from_secs(args.reload_every.max(1)),
        reload_every_without_push: Duration::from_secs(args.reload_every_without_push.max(1)),
        retention: proxy::Retention {
            max_age: Duration::from_secs(args.change_log_hours * 3600),
            max_changes: args.change_log_max,
        },
        journal_max: args.journal_max,
        limits: proxy::ListenerLimits {
            max_connections: args.max_connections.max(1),
            max_per_address: args.max_connections_per_address.max(1),
            handshake_timeout: Duration::from_secs(args.handshake_timeout_secs),
            ..proxy::ListenerLimits::default()
        },
    };
    let listener = bind(args.listen, "bridge protocol").await?;
    let metrics_listener = match args.metrics_listen {
        Some(addr) => Some(bind(addr, "metrics").await?),
        None => None,
    };
    let running = proxy::start(config, listener, shutdown.clone()).await?;
    if let Some(listener) = metrics_listener {
        let addr = listener.local_addr()?;
        let shared = running.shared.clone();
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let shared = shared.clone();
                async move {
                    let text = runtime::try_blocking(move || proxy::metrics::encode(&shared))
                        .await
                        .unwrap_or_else(|e| format!("# {e}\n"));
                    ([("content-type", proxy::metrics::CONTENT_TYPE)], text)
                }
            }),
        );
        tokio::spawn(tls::serve(listener, router, until(shutdown)));
        announce(&format!("proxy metrics on http://{addr}/metrics"));
    }
    announce(&format!(
        "proxy listening on {} (CA: {}, token: {})",
        running.addr,
        running.ca_path.display(),
        if args.token_file.is_some() || std::env::var("SIPASS_BRIDGE_TOKEN").is_ok() {
            "as given".to_owned()
        } else {
            proxy::token_path(&args.data).display().to_string()
        }
    ));
    running.stopped().await;
    tracing::info!("proxy stopped");
    Ok(())
}

/// The administrator the demo makes, said in its banner; a role makes `admin` with a
/// one-time password instead.
const DEMO_ADMIN_PASSWORD: &str = "demo-admin-password";

/// How the Config Tool is served and its first administrator made.
#[derive(Default)]
struct WebSetup {
    https: Option<Arc<tls::rustls::ServerConfig>>,
    /// The demo's fixed password for `admin`; none for a one-time password.
    demo_password: Option<&'static str>,
}

/// A role and what serves it, started.
struct RunningRole {
    addr: SocketAddr,
    api_token: String,
    /// The first administrator's password, when this start made it.
    first_password: Option<String>,
    /// The proxy address given at start and the different one it replaced in the Directory.
    replaced_proxy: Option<(String, String)>,
    engine: tokio::task::JoinHandle<()>,
    web: tokio::task::JoinHandle<()>,
}

impl RunningRole {
    async fn stopped(self) {
        let _ = self.engine.await;
        let _ = self.web.await;
    }
}

async fn start_role(
    (data, database_url): (&Path, Option<String>),
    listener: TcpListener,
    proxy: Option<(String, Option<u16>)>,
    proxy_ca_pem: String,
    proxy_token: String,
    shutdown: Shutdown,
    setup: WebSetup,
) -> Result<RunningRole> {
    let role = role::Role::open(role::RoleConfig {
        data_dir: data.to_owned(),
        database_url,
        proxy_ca_pem,
        proxy_token,
        client_name: tls::host_name().unwrap_or_else(|| "sipass-bridge-role".into()),
    })?;
    let replaced_proxy = match &proxy {
        Some((host, port)) => role.set_proxy_address(host, *port)?.map(|old| {
            let given = port.map_or_else(|| host.clone(), |p| format!("{host}:{p}"));
            (given, old)
        }),
        None => None,
    };
    let role = Arc::new(role);
    let api_token = tls::load_or_create_secret(&web::token_path(data))?;
    let addr = listener.local_addr()?;
    write_role_address(data, addr, setup.https.is_some())?;
    let first_password = web::auth::first_administrator(&*role.accounts, setup.demo_password)
        .map_err(|e| anyhow::anyhow!("cannot make the first administrator: {}", e.message))?;
    let engine = role.spawn(shutdown.clone());
    let options = web::Options {
        https: setup.https.is_some(),
    };
    let router = web::router_with(role, api_token.clone(), options);
    let web = match setup.https {
        Some(config) => tokio::spawn(tls::serve_tls(listener, router, config, until(shutdown))),
        None => tokio::spawn(tls::serve(listener, router, until(shutdown))),
    };
    Ok(RunningRole {
        addr,
        api_token,
        first_password,
        replaced_proxy,
        engine,
        web,
    })
}

/// Where the running role's address is written, for the administration commands.
pub fn role_address_path(data: &Path) -> PathBuf {
    data.join("role-address")
}

fn write_role_address(data: &Path, addr: SocketAddr, https: bool) -> Result<()> {
    let path = role_address_path(data);
    let scheme = if https { "https" } else { "http" };
    std::fs::write(&path, format!("{scheme}://{addr}\n"))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The role's PostgreSQL database, if one is given: empty is none (an unset template line),
/// anything but a PostgreSQL URL is refused before the role starts.
pub fn database_url(given: Option<String>) -> Result<Option<String>> {
    match given {
        Some(url) if url.trim().is_empty() => Ok(None),
        Some(url) if store::postgres::is_postgres_url(&url) => Ok(Some(url)),
        Some(url) => bail!(
            "--database-url {} is not a PostgreSQL URL: give postgres://USER@HOST:PORT/DATABASE, or leave it out for SQLite files in the data folder",
            store::postgres::location(&url).display()
        ),
        None => Ok(None),
    }
}

pub async fn role(args: RoleArgs) -> Result<()> {
    let shutdown = shutdown_on_signal();
    crate::data_folder::prepare_default(&args.data, "role")
        .with_context(|| format!("cannot create the data folder {}", args.data.display()))?;
    let token = secret(args.proxy_token_file.as_deref(), "SIPASS_BRIDGE_TOKEN", "the bridge token", "--proxy-token-file")?
        .context("the bridge token is needed: pass --proxy-token-file FILE (the proxy's proxy-token) or set SIPASS_BRIDGE_TOKEN")?;
    let ca = read_pem(&args.proxy_ca, "the proxy's CA certificate")?;
    let proxy = match (args.proxy_host, args.proxy_port) {
        (Some(host), port) => Some((role::config::validate_host(&host)?, port)),
        (None, Some(_)) => bail!("--proxy-port needs --proxy-host"),
        (None, None) => None,
    };
    if !args.data.is_dir() {
        bail!(role::RoleError::NoDataFolder(args.data.clone()));
    }
    let _lock = crate::data_folder::lock(&args.data, "role")?;
    warn_if_others_can_read(&args.data);
    let listener = bind(args.listen, "Config Tool").await?;
    let https = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            tls::ServerIdentity::from_files(cert, key, None)
                .and_then(|identity| identity.rustls_config())
                .context("cannot serve the Config Tool over HTTPS (--tls-cert/--tls-key)")?,
        ),
        _ => None,
    };
    let scheme = if https.is_some() { "https" } else { "http" };
    let setup = WebSetup {
        https,
        demo_password: None,
    };
    let database_url = database_url(args.database_url)?;
    let running = start_role(
        (&args.data, database_url),
        listener,
        proxy,
        ca,
        token,
        shutdown,
        setup,
    )
    .await?;
    if let Some((given, stored)) = &running.replaced_proxy {
        tracing::warn!(
            "the proxy address from the configuration file or flags ({given}) replaces the one stored in the Directory ({stored}, set in the Config Tool or with `config set`); leave proxy-host and proxy-port out of role.toml to manage them there"
        );
    }
    announce(&format!(
        "Config Tool listening on {scheme}://{}/ (API token in {})",
        running.addr,
        web::token_path(&args.data).display()
    ));
    if let Some(password) = &running.first_password {
        out!(
            "First start: sign in as 'admin' with the one-time password {password} (shown only now; you will be asked to choose your own)"
        );
    }
    running.stopped().await;
    tracing::info!("role stopped");
    Ok(())
}

pub async fn demo(args: DemoArgs) -> Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create the data folder {}", args.data.display()))?;
    let (sim_dir, proxy_dir) = (args.data.join("sim"), args.data.join("proxy"));
    std::fs::create_dir_all(&proxy_dir)
        .with_context(|| format!("cannot create {}", proxy_dir.display()))?;
    let _locks = (
        crate::data_folder::lock(&args.data, "demo")?,
        crate::data_folder::lock(&proxy_dir, "demo")?,
    );
    let shutdown = shutdown_on_signal();
    let loopback: SocketAddr = "127.0.0.1:0".parse()?;

    let sim_listener = bind(loopback, "SiPass simulator").await?;
    let sim = sim::start(
        sim_config(&args.site, &sim_dir),
        sim_listener,
        until(shutdown.clone()),
    )
    .await?;

    let proxy_listener = bind(loopback, "bridge protocol").await?;
    let proxy = proxy::start(
        proxy::ProxyConfig {
            data_dir: proxy_dir.clone(),
            sipass: sipass_client::SiPassConfig {
                management_url: sipass_client::SiPassConfig::management_url_beside(&sim.hr_url()),
                hr_url: sim.hr_url(),
                ca_pem: sim.ca_pem.clone(),
                user: args.site.operator.user.clone(),
                password: args.site.operator.password.clone(),
                client_id: "SIPASS-BRIDGE-PROXY".into(),
            },
            sipass_version: args.site.sipass_version,
            token: None,
            tls_names: tls::default_server_names(),
            tls_files: None,
            reload_every: Duration::from_secs(10),
            reload_every_without_push: Duration::from_secs(10),
            retention: proxy::Retention::default(),
            journal_max: 10_000_000,
            limits: proxy::ListenerLimits::default(),
        },
        proxy_listener,
        shutdown.clone(),
    )
    .await?;

    let web_listener = match TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            bind(SocketAddr::new(args.listen.ip(), 0), "Config Tool").await?
        }
        Err(e) => {
            return Err(e).context(format!(
                "cannot listen on {} for the Config Tool",
                args.listen
            ));
        }
    };
    let role = start_role(
        (&args.data, None),
        web_listener,
        Some(("127.0.0.1".into(), Some(proxy.addr.port()))),
        proxy.ca_pem.clone(),
        proxy.token.clone(),
        shutdown,
        WebSetup {
            https: None,
            demo_password: Some(DEMO_ADMIN_PASSWORD),
        },
    )
    .await?;

    let data = args.data.display();
    out!(
        "SiPass Bridge demo is running ({} cardholders, SiPass {}).",
        args.site.cardholders,
        args.site.sipass_version
    );
    out!("  Config Tool:      http://{}/", role.addr);
    out!("  Sign in as:       admin / {DEMO_ADMIN_PASSWORD} (demo credentials; an administrator)");
    out!(
        "  API token:        {} (kept in {})",
        role.api_token,
        web::token_path(&args.data).display()
    );
    out!("  From a terminal:  sipass-bridge sync status --data {data}");
    out!(
        "  SiPass simulator: {} (operator '{}')",
        sim.hr_url(),
        args.site.operator.user
    );
    out!("  Proxy:            127.0.0.1:{}", proxy.addr.port());
    out!("Press Ctrl-C to stop.");
    role.stopped().await;
    proxy.stopped().await;
    sim.stopped().await;
    out!("Stopped cleanly; everything is saved in {data}.");
    Ok(())
}

/// Warns when a data folder, or a file directly in it, can be read by other users: what this
/// process creates is private (see `private_files`), but a folder made by hand or by an older
/// release may not be, and it holds names, card numbers, tokens and keys.
fn warn_if_others_can_read(folder: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o777)
                .ok()
        };
        if let Some(m) = mode(folder).filter(|m| m & 0o077 != 0) {
            tracing::warn!(
                "the data folder {} can be read by other users (mode {m:o}); it holds personal data and secrets: chmod 700 {}",
                folder.display(),
                folder.display()
            );
        }
        let loose: Vec<String> = std::fs::read_dir(folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.is_file() && mode(path).is_some_and(|m| m & 0o077 != 0))
            .map(|path| path.display().to_string())
            .collect();
        if !loose.is_empty() {
            tracing::warn!(
                "files in the data folder can be read by other users: chmod 600 {}",
                loose.join(" ")
            );
        }
    }
    // Windows: the folder's access control list is the installer's (docs/deployment.md).
    #[cfg(not(unix))]
    let _ = folder;
}
