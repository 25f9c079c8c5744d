//! A SiPass Integrated simulator.
//!
//! It is a real HTTPS server that speaks SiPass's HR API as `reference/sipass-api.md`
//! describes it (raw-token sessions with sliding expiry, the `Records` envelope,
//! `startIndex`/`endIndex` paging, case-insensitive paths), backed by a deterministic
//! generated site. Demos, tests and benchmarks run against it wherever no SiPass is at hand.
//!
//! # HR API (under `/api/V1/hr`)
//! | Method and path | What it does |
//! |---|---|
//! | `POST Authentication` `{Username, Password}` | `{Token: "<64 hex>:<user>"}`; empty token when refused |
//! | `GET Authentication` | keep-alive: slides the session's expiry |
//! | `GET Authentication/SessionTimeout` (or `?sessiontimeout`) | the timeout in seconds, a bare integer |
//! | `DELETE Authentication` | logout |
//! | `GET Cardholders?startIndex=&endIndex=&fields=` | a page (`endIndex` exclusive) in the `Records` envelope |
//! | `GET Cardholders/{token}` | one full cardholder |
//!
//! Every call needs the `clientUniqueId` and `language` headers; every call but login needs
//! `Authorization: <token>` (the raw token, no "Bearer").

mod generate;
mod hr;
mod session;
mod site;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use generate::SiteSpec;
pub use site::Site;

use model::SiPassVersion;

/// How to run a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The site to generate at start.
    pub site: SiteSpec,
    /// The operator allowed to log in.
    pub operator: Operator,
    /// How long a session lives without a call (sliding expiry).
    pub session_timeout: Duration,
    /// The SiPass release to pretend to be.
    pub version: SiPassVersion,
    /// Where the "SiPass Root CA" is kept; created on first start.
    pub tls_dir: PathBuf,
    /// Names and addresses the server certificate is valid for.
    pub tls_names: Vec<String>,
}

/// A SiPass operator's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub user: String,
    pub password: String,
}

impl Operator {
    /// The documented local default, for demos and tests only.
    pub const DEFAULT: &'static str = "operator:sipass";
}

impl std::str::FromStr for Operator {
    type Err = SimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(Operator {
                user: user.to_owned(),
                password: password.to_owned(),
            }),
            _ => Err(SimError::BadOperator),
        }
    }
}

/// What can stop the simulator from starting.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("operator must be given as USER:PASSWORD, both non-empty")]
    BadOperator,
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen: {0}")]
    Listen(std::io::Error),
}

/// A running simulator.
pub struct RunningSim {
    /// The address the HR API listens on.
    pub addr: SocketAddr,
    /// PEM of the "SiPass Root CA" that signed the server certificate.
    pub ca_pem: String,
    /// Where that CA certificate is on disk.
    pub ca_path: PathBuf,
    /// The site, for tests that want to look or change it directly.
    pub site: Arc<Site>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSim {
    /// The HR API's base URL.
    pub fn hr_url(&self) -> String {
        format!("https://{}/api/V1/hr", self.addr)
    }

    /// Waits until the server has stopped (after the shutdown future completed).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Generates the site and starts serving on `listener` until `shutdown` completes.
pub async fn start(
    config: SimConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<RunningSim, SimError> {
    let addr = listener.local_addr().map_err(SimError::Listen)?;
    let authority = tls::Authority::load_or_create(&config.tls_dir, "SiPass Root CA")?;
    let identity = authority.issue_server(&config.tls_names)?;
    let tls = identity.rustls_config()?;
    let started = std::time::Instant::now();
    let site = Arc::new(Site::generate(&config.site, config.version));
    tracing::info!(
        cardholders = site.cardholder_count(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "generated site"
    );
    let state = hr::HrState::new(site.clone(), &config);
    let router = hr::router(state);
    let task = tokio::spawn(tls::serve_https(listener, tls, router, shutdown));
    Ok(RunningSim {
        addr,
        ca_pem: authority.cert_pem().to_owned(),
        ca_path: authority.cert_path(),
        site,
        task,
    })
}
