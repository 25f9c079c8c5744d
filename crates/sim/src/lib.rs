//! A SiPass Integrated simulator.
//!
//! A real HTTPS server (one listener, default 127.0.0.1:8745, certificate from a "SiPass Root
//! CA" kept in its data folder) that keeps SiPass's object model, speaks SiPass's HR API as
//! `reference/sipass-api.md` describes it, adds a management API and a push channel of ours
//! for what SiPass does not publish, generates deterministic sites of any size (a million
//! cardholders in about 200 MiB: generated cardholders are rebuilt from the seed on demand),
//! changes them at a chosen rate, and misbehaves on demand. `docs/simulator.md` is the full
//! manual; the wire types are in `model::sipass`, `model::management` and, for the test
//! endpoints, [`control`].
//!
//! Every call needs the `clientUniqueId` and `language` headers; every call but login needs
//! `Authorization: <token>` (the raw token, no "Bearer"). Paths are case-insensitive, a
//! trailing slash is accepted, errors are `{ErrorCode, Message}` and lists are
//! `{Records, TotalRecords, TotalDisplayRecords}`.
//!
//! # HR API (`/api/V1/hr`)
//! | Method and path | What it does |
//! |---|---|
//! | `POST Authentication` `{Username, Password}` | `{Token: "<64 upper-case hex>:<user>"}`; empty token when refused |
//! | `GET Authentication` | keep-alive: slides the session's expiry (401 once expired) |
//! | `GET Authentication/SessionTimeout` (or `?sessiontimeout`) | the timeout in seconds, a bare integer |
//! | `DELETE Authentication` | logout |
//! | `GET Cardholders?startIndex=&endIndex=&fields=&searchString=&sortingOrder=&filterExpression=` | a page (`endIndex` exclusive, at most 10,000) |
//! | `GET/PUT/DELETE Cardholders/{token}`, `POST Cardholders` | one cardholder; create answers 201 with the new Token, a missing top-level field 500 |
//! | `GET WorkGroups[?workGroupID=]`, `AccessLevels`, `AccessGroups` (+ POST/PUT/DELETE) | workgroup Tokens are numbers |
//! | `GET AccessPoints`, `AccessPointGroups`, `FloorPoints`, `FloorPointGroups` | in the envelope |
//! | `GET TimeSchedules`, `CardTechnologies`, `CredentialProfiles` | bare arrays |
//! | `GET /api/V1/cardholders/images?imgId=&token=` | the portrait a cardholder's `Potrait` URL points at |
//!
//! Bodies are bound as SiPass's ASP.NET Web API binds them (`model::lenient`); answers take
//! the shapes the public clients recorded ([`present`]). `docs/simulator.md` names the source
//! of each behaviour. With `hr_only` the management API and push channel are not served.
//!
//! # Management API (`/api/management/V1`, ours)
//! | Method and path | What it does |
//! |---|---|
//! | `GET Version` | `{"Version": "2.80"}` |
//! | `GET Units`, `Doorsets`, `Banks`, `ApbClusters`, `ApbAreas`, `IntrusionAreas`, `Inputs`, `Outputs`, `AlarmClasses` (+ `/{token}`) | devices |
//! | `GET Alarms`, `GET Alarms/{id}`, `POST Alarms/{id}/Acknowledge` `{Operator, Comment}` | active alarms; acknowledging is idempotent |
//! | `POST Commands` `{TargetKind, TargetToken, Command}` | manual overrides: `{Result, Message}`; state changes and events follow |
//! | `GET Events?after=&limit=` | the audit trail after a sequence number |
//! | `GET Notifications?after=` | the push channel: Server-Sent Events `id: <seq>`, `event: entity\|event\|alarm\|gap`, `data: <JSON>`; global sequence numbers from 1, replay of retained messages after `after`, a `gap` when some are no longer retained, `: keep-alive` every 15 s |
//!
//! # Test endpoints (`/api/sim/V1`, ours; faults never apply here)
//! | Method and path | What it does |
//! |---|---|
//! | `POST <Collection>`, `PUT/DELETE <Collection>/{token}` | create, change, delete any object (each pushes an `entity` message) |
//! | `POST Events` | inject an event |
//! | `POST Alarms`, `POST Alarms/{id}/Clear` | raise, clear an alarm |
//! | `GET Faults`, `PUT Faults` | `DropConnections`, `StallSeconds`, `LatencyMs`, `ExpireSessions`, `RefuseLoginsLicence` (login gets 912), `ErrorRate`, `DropPushSequence` |

mod cardholders;
pub mod control;
mod faults;
mod generate;
mod hr;
mod http;
mod hub;
mod load;
mod mgmt;
mod people;
pub mod present;
mod projection;
mod rng;
mod serve;
mod session;
mod simapi;
mod site;
mod table;
mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;

pub use generate::{Proportions, SiteSpec};
pub use people::{StatusCodes, status_codes, status_valid};
pub use session::Operator;
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
    /// Random cardholder changes per second (0 for none).
    pub changes_per_sec: f64,
    /// Random events per second, of every type in turn (0 for none).
    pub events_per_sec: f64,
    /// How many push messages are kept for replay with `after`.
    pub push_retain: usize,
    /// How often an idle push stream gets a `: keep-alive` comment.
    pub keep_alive: Duration,
    /// Bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// The site's UTC offset (`+08:00`), which SiPass adds to the dates it answers.
    pub utc_offset: String,
    /// Serve the HR API alone, as a real SiPass does: no management API and no push
    /// channel of ours (the test endpoints stay).
    pub hr_only: bool,
    /// Push sequence numbers, audit-trail event ids and alarm ids start after this. A real
    /// SiPass never reuses them (they are its database's), but the simulator regenerates
    /// its site at each start: a base above any earlier run's numbers (see
    /// [`numbering_base_now`]) keeps a proxy that resumes after an earlier run's sequence
    /// from waiting, silently, for numbers the new run would take hours to reach.
    pub numbering_base: u64,
}

/// A numbering base above every number an earlier run of the simulator handed out: the
/// time in microseconds, which grows faster than any run can number messages (a million a
/// second), and stays below 2^53 so that JavaScript reads it exactly.
pub fn numbering_base_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl SimConfig {
    /// Defaults for a local simulator keeping its CA in `tls_dir`: 1000 cardholders, seed
    /// 1, the default operator, SiPass 2.80, 360 s sessions, no background load.
    pub fn local(tls_dir: impl Into<PathBuf>) -> Self {
        SimConfig {
            site: SiteSpec::default(),
            operator: Operator {
                user: "operator".to_owned(),
                password: "sipass".to_owned(),
            },
            session_timeout: Duration::from_secs(360),
            version: SiPassVersion::V2_80,
            tls_dir: tls_dir.into(),
            tls_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            changes_per_sec: 0.0,
            events_per_sec: 0.0,
            push_retain: DEFAULT_PUSH_RETAIN,
            keep_alive: Duration::from_secs(15),
            max_body_bytes: DEFAULT_MAX_BODY,
            utc_offset: "+00:00".to_owned(),
            numbering_base: 0,
            hr_only: false,
        }
    }
}

/// Checks a UTC offset as SiPass writes it: `+HH:MM` or `-HH:MM`, at most 14 hours.
pub fn parse_utc_offset(text: &str) -> Result<String, SimError> {
    let bytes = text.as_bytes();
    let ok = bytes.len() == 6
        && (bytes[0] == b'+' || bytes[0] == b'-')
        && bytes[3] == b':'
        && [1, 2, 4, 5].iter().all(|&i| bytes[i].is_ascii_digit())
        && text[1..3].parse::<u32>().is_ok_and(|h| h <= 14)
        && text[4..6].parse::<u32>().is_ok_and(|m| m < 60);
    if ok {
        Ok(text.to_owned())
    } else {
        Err(SimError::BadUtcOffset(text.to_owned()))
    }
}

/// Push messages kept for replay by default.
pub const DEFAULT_PUSH_RETAIN: usize = 1_000_000;

/// The largest request body accepted by default (1 MiB).
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

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
    #[error("UTC offset '{0}' is not of the form +HH:MM or -HH:MM (e.g. +08:00)")]
    BadUtcOffset(String),
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

    /// The management API's base URL.
    pub fn management_url(&self) -> String {
        format!("https://{}{}", self.addr, model::management::BASE)
    }

    /// The test endpoints' base URL.
    pub fn sim_url(&self) -> String {
        format!("https://{}{}", self.addr, control::SIM_BASE)
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
    let site = Arc::new(Site::generate(
        &config.site,
        config.version,
        config.push_retain,
    ));
    site.number_after(config.numbering_base);
    tracing::info!(
        cardholders = site.cardholder_count(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "generated site"
    );
    let connections = Arc::new(serve::Connections::default());
    let (stop_streams, stopping) = tokio::sync::watch::channel(false);
    let state = http::AppState {
        site: site.clone(),
        sessions: Arc::new(session::Sessions::new(config.session_timeout)),
        operator: Arc::new(config.operator.clone()),
        faults: Arc::new(faults::LiveFaults::new(connections.clone())),
        present: Arc::new(present::Presentation::new(
            config.version,
            &parse_utc_offset(&config.utc_offset)?,
        )),
        keep_alive: config.keep_alive,
        stopping,
    };
    let router = router(state, config.max_body_bytes, config.hr_only);
    load::start(site.clone(), config.changes_per_sec, config.events_per_sec);
    let shutdown = async move {
        shutdown.await;
        stop_streams.send_replace(true);
    };
    let task = tokio::spawn(serve::serve_https(
        listener,
        tls,
        router,
        connections,
        shutdown,
    ));
    Ok(RunningSim {
        addr,
        ca_pem: authority.cert_pem().to_owned(),
        ca_path: authority.cert_path(),
        site,
        task,
    })
}

/// The three APIs on one listener. Paths are lower-cased and a trailing slash dropped
/// before routing (SiPass matches paths case-insensitively). Faults apply to the HR and
/// management APIs only.
fn router(state: http::AppState, max_body: usize, hr_only: bool) -> Router {
    let session = || middleware::from_fn_with_state(state.clone(), http::require_session);
    let faults = middleware::from_fn_with_state(state.clone(), http::apply_faults);
    let hr = hr::open_routes().merge(hr::session_routes().route_layer(session()));
    let mut faulty = Router::new().nest(hr::BASE, hr);
    if !hr_only {
        faulty = faulty.nest(mgmt::BASE, mgmt::routes().route_layer(session()));
    }
    let api = Router::new()
        .merge(faulty.layer(faults))
        .nest(simapi::BASE, simapi::routes().route_layer(session()))
        .layer(middleware::from_fn(http::require_client_headers))
        .layer(DefaultBodyLimit::max(max_body))
        // Portraits are fetched by URL (a browser's <img>), without SiPass's headers.
        .route(hr::IMAGES, axum::routing::get(hr::portrait))
        .with_state(state)
        .fallback(|| async {
            http::sipass_error(
                StatusCode::NOT_FOUND,
                model::sipass::error_code::INPUT_NOT_VALID,
                "no such resource",
            )
        });
    // Rewriting must happen before routing, so it wraps the router as a whole.
    Router::new().fallback_service(tower::ServiceExt::map_request(api, http::normalise_path))
}

#[cfg(test)]
mod tests {
    /// Routing sees lower-cased paths, so the routers keep lower-cased copies of the bases
    /// clients are told; the copies must not drift.
    #[test]
    fn routed_bases_are_the_published_ones_lower_cased() {
        assert_eq!(
            super::mgmt::BASE,
            model::management::BASE.to_ascii_lowercase()
        );
        assert_eq!(
            super::simapi::BASE,
            super::control::SIM_BASE.to_ascii_lowercase()
        );
    }
}
