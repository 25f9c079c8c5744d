//! A client for SiPass Integrated's HR API.
//!
//! It knows SiPass's ways: the raw token in `Authorization`, the `clientUniqueId` and
//! `language` headers on every call, the `Records` envelope, `startIndex`/`endIndex` paging,
//! and a session that expires and is answered with 401, after which it logs in again once.
//! It assumes nothing that `reference/sipass-api.md` does not support, so that it works
//! unchanged against a real SiPass server as against the simulator.

pub mod push;
pub mod read;

use std::sync::Mutex;
use std::time::Duration;

use model::management::{self, ObjectKind};

use model::sipass::{Login, error_code};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Where SiPass is and who to log in as.
#[derive(Clone)]
pub struct SiPassConfig {
    /// The HR API base URL, e.g. `https://sipass:8745/api/V1/hr`.
    pub hr_url: String,
    /// The management API base URL, e.g. `https://sipass:8745/api/management/V1`.
    pub management_url: String,
    /// PEM of the CA that signed SiPass's certificate (SiPass's own "SiPass Root CA").
    pub ca_pem: String,
    pub user: String,
    pub password: String,
    /// Sent as `clientUniqueId`; SiPass tells clients apart by it.
    pub client_id: String,
}

impl SiPassConfig {
    /// The management API next to an HR API URL on the same server, which is where the
    /// simulator serves it.
    pub fn management_url_beside(hr_url: &str) -> String {
        let trimmed = hr_url.trim_end_matches('/');
        let root = match trimmed.to_ascii_lowercase().rfind("/api/v1/hr") {
            Some(i) => &trimmed[..i],
            None => trimmed,
        };
        format!("{root}{}", management::BASE)
    }
}

impl std::fmt::Debug for SiPassConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiPassConfig")
            .field("hr_url", &self.hr_url)
            .field("management_url", &self.management_url)
            .field("user", &self.user)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Why a call to SiPass failed, in SiPass's own terms where it gave any.
#[derive(Debug, thiserror::Error)]
pub enum SiPassError {
    #[error(
        "cannot reach SiPass at {url}: {reason}; check the address and that SiPass's HR API service is running"
    )]
    Unreachable { url: String, reason: String },
    #[error(
        "SiPass refused the login of operator '{user}': invalid user name or password; check the operator and its password"
    )]
    LoginRefused { user: String },
    #[error(
        "SiPass refused the login: the HR API licence is not available (SiPass error {code}: {message}); enable 'HR API Connect' in SiPass's licence"
    )]
    LicenceMissing { code: i32, message: String },
    #[error("SiPass answered {status} to {what} (SiPass error {code}: {message})")]
    Refused {
        what: String,
        status: u16,
        code: i32,
        message: String,
    },
    #[error("SiPass sent an answer to {what} that is not what the HR API sends: {reason}")]
    Malformed { what: String, reason: String },
    #[error("invalid SiPass CA certificate: {0}")]
    BadCa(String),
}

impl SiPassError {
    /// True for failures that may go away by themselves (network, server busy): worth a
    /// retry with backoff. A refused login or licence does not fix itself.
    pub fn is_transient(&self) -> bool {
        match self {
            SiPassError::Unreachable { .. } => true,
            SiPassError::Refused { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A page of cardholders as SiPass sent it. [`CardholderPage::read`] reads it in place:
/// records borrow their text from the page instead of becoming `Value`s.
pub struct CardholderPage {
    body: Vec<u8>,
}

impl CardholderPage {
    /// A page from the bytes of a list answer.
    pub fn from_body(body: Vec<u8>) -> Self {
        CardholderPage { body }
    }

    /// The records in SiPass's spelling and the total SiPass reports (-1 when it does not
    /// know). CPU work: a thousand records of about 2 kB.
    pub fn read(&self) -> Result<(Vec<model::tree::Tree<'_>>, i64), SiPassError> {
        read::cardholder_list(&self.body, "the cardholder list")
    }
}

/// An HR API client holding one session.
pub struct HrClient {
    config: SiPassConfig,
    http: reqwest::Client,
    /// The push channel's own connection. Sharing one HTTP/2 connection with the calls
    /// deadlocks under load: while the proxy fetches a changed object, unread push data
    /// fills the connection's flow-control window and the fetch's answer can no longer
    /// arrive.
    push_http: reqwest::Client,
    token: Mutex<Option<String>>,
}

impl HrClient {
    /// A client that trusts only `config.ca_pem`. It does not log in until the first call.
    pub fn new(config: SiPassConfig) -> Result<Self, SiPassError> {
        let ca = reqwest::Certificate::from_pem(config.ca_pem.as_bytes())
            .map_err(|e| SiPassError::BadCa(e.to_string()))?;
        let http = reqwest::Client::builder()
            .add_root_certificate(ca.clone())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| SiPassError::BadCa(e.to_string()))?;
        let push_http = reqwest::Client::builder()
            .add_root_certificate(ca)
            .connect_timeout(Duration::from_secs(10))
            .http1_only()
            .build()
            .map_err(|e| SiPassError::BadCa(e.to_string()))?;
        Ok(HrClient {
            config,
            http,
            push_http,
            token: Mutex::new(None),
        })
    }

    /// The HR API base URL this client talks to.
    pub fn hr_url(&self) -> &str {
        &self.config.hr_url
    }

    /// Logs in, replacing any session held.
    pub async fn login(&self) -> Result<(), SiPassError> {
        let body = Login {
            username: self.config.user.clone(),
            password: self.config.password.clone(),
        };
        let response = self
            .request(Method::POST, "Authentication", None)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            let err = error_from(status, &bytes, "login");
            return Err(match err {
                SiPassError::Refused { code, message, .. }
                    if code == error_code::API_LICENSE_NOT_AVAILABLE =>
                {
                    SiPassError::LicenceMissing { code, message }
                }
                SiPassError::Refused { code, .. }
                    if code == error_code::INVALID_USERNAME_OR_PASSWORD =>
                {
                    SiPassError::LoginRefused {
                        user: self.config.user.clone(),
                    }
                }
                other => other,
            });
        }
        let token = read::login_token(&bytes)?;
        if token.is_empty() {
            return Err(SiPassError::LoginRefused {
                user: self.config.user.clone(),
            });
        }
        *self.lock() = Some(token);
        Ok(())
    }

    /// Keeps the session alive (SiPass's expiry slides with every call).
    pub async fn keep_alive(&self) -> Result<(), SiPassError> {
        self.call::<Value>(Method::GET, "Authentication", "keep-alive", true)
            .await
            .map(|_| ())
    }

    /// The session timeout SiPass applies, read from `Authentication/SessionTimeout`.
    pub async fn session_timeout(&self) -> Result<Duration, SiPassError> {
        let body: Value = self
            .call(
                Method::GET,
                "Authentication/SessionTimeout",
                "session timeout",
                true,
            )
            .await?;
        read::session_timeout(body)
    }

    /// Ends the session, if one is held. Failures are ignored: the session expires anyway.
    pub async fn logout(&self) {
        let token = { self.lock().take() };
        if let Some(token) = token {
            let _ = self
                .request(Method::DELETE, "Authentication", Some(&token))
                .send()
                .await;
        }
    }

    /// Cardholders at positions `start..end` (end exclusive), with the given top-level fields
    /// (SiPass always adds `Token`).
    pub async fn cardholder_page(
        &self,
        start: usize,
        end: usize,
        fields: &[&str],
    ) -> Result<CardholderPage, SiPassError> {
        let mut path = format!("Cardholders?startIndex={start}&endIndex={end}&searchString=");
        if !fields.is_empty() {
            path.push_str("&fields=");
            path.push_str(&fields.join(","));
        }
        let body = self
            .call_bytes_at(
                Api::Hr,
                Method::GET,
                &path,
                "the cardholder list",
                true,
                None,
            )
            .await?;
        Ok(CardholderPage::from_body(body))
    }

    /// One full cardholder.
    pub async fn cardholder(&self, token: &str) -> Result<Value, SiPassError> {
        let body: Value = self
            .call(
                Method::GET,
                &format!("Cardholders/{token}"),
                "a cardholder",
                true,
            )
            .await?;
        Ok(read::cardholder(body))
    }

    /// The SiPass release, from the management API's `Version`.
    pub async fn version(&self) -> Result<String, SiPassError> {
        let info: management::VersionInfo = self
            .call_at(
                Api::Management,
                Method::GET,
                "Version",
                "the SiPass version",
                true,
                None,
            )
            .await?;
        Ok(info.version)
    }

    /// Every object of a device or configuration kind, from the management API (the HR API
    /// for the kinds it serves: workgroups and reference lists).
    pub async fn objects(&self, kind: ObjectKind) -> Result<Vec<Value>, SiPassError> {
        let api = if kind.served_by_hr_api() {
            Api::Hr
        } else {
            Api::Management
        };
        let what = format!("the {} list", kind.collection());
        let body: Value = self
            .call_at(api, Method::GET, kind.collection(), &what, true, None)
            .await?;
        let (records, _) = read::list(body, &what)?;
        Ok(records.into_iter().map(|r| read::object(kind, r)).collect())
    }

    /// One object by token; `None` when SiPass no longer has it.
    pub async fn object(
        &self,
        kind: ObjectKind,
        token: &str,
    ) -> Result<Option<Value>, SiPassError> {
        let result = match kind {
            ObjectKind::Cardholder => self.cardholder(token).await,
            ObjectKind::WorkGroup => {
                let path = format!("WorkGroups?workGroupID={token}");
                self.call_at(Api::Hr, Method::GET, &path, "a workgroup", true, None)
                    .await
            }
            _ => {
                let path = format!("{}/{token}", kind.collection());
                self.call_at(Api::Management, Method::GET, &path, "an object", true, None)
                    .await
            }
        };
        match result {
            Ok(Value::Object(o)) if model::lenient::get(&o, "Records").is_some() => {
                let (records, _) = read::list(Value::Object(o), "an object")?;
                Ok(records.into_iter().next().map(|r| read::object(kind, r)))
            }
            Ok(v) => Ok(Some(read::object(kind, v))),
            Err(SiPassError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Audit-trail events after a push sequence number (back-fill after a gap).
    pub async fn events_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<management::Event>, SiPassError> {
        let path = format!("Events?after={after}&limit={limit}");
        let body: Value = self
            .call_at(
                Api::Management,
                Method::GET,
                &path,
                "the events",
                true,
                None,
            )
            .await?;
        records(body, "the events")?
            .into_iter()
            .map(|v| {
                serde_json::from_value(v).map_err(|e| SiPassError::Malformed {
                    what: "an event".into(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// The alarms active now.
    pub async fn active_alarms(&self) -> Result<Vec<management::Alarm>, SiPassError> {
        let body: Value = self
            .call_at(
                Api::Management,
                Method::GET,
                "Alarms",
                "the active alarms",
                true,
                None,
            )
            .await?;
        records(body, "the active alarms")?
            .into_iter()
            .map(|v| {
                serde_json::from_value(v).map_err(|e| SiPassError::Malformed {
                    what: "an alarm".into(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Acknowledges an alarm in SiPass (idempotent there too).
    pub async fn acknowledge(
        &self,
        alarm_id: &str,
        operator: &str,
        comment: &str,
    ) -> Result<(), SiPassError> {
        let body = serde_json::to_value(management::Acknowledge {
            operator: operator.to_owned(),
            comment: comment.to_owned(),
        })
        .unwrap_or_default();
        let path = format!("Alarms/{alarm_id}/Acknowledge");
        let _: Value = self
            .call_at(
                Api::Management,
                Method::POST,
                &path,
                "an acknowledgement",
                true,
                Some(body),
            )
            .await?;
        Ok(())
    }

    /// Sends a manual-override command.
    pub async fn command(
        &self,
        request: &management::CommandRequest,
    ) -> Result<management::CommandResult, SiPassError> {
        let body = serde_json::to_value(request).unwrap_or_default();
        self.call_at(
            Api::Management,
            Method::POST,
            "Commands",
            "a command",
            true,
            Some(body),
        )
        .await
    }

    /// Opens the push channel, replaying what SiPass retained after `after`. Messages arrive
    /// on the returned receiver, each decoded and with its JSON as SiPass sent it, until the
    /// connection ends (then the receiver closes, after an `Err` when it ended badly).
    pub async fn subscribe(
        &self,
        after: u64,
    ) -> Result<tokio::sync::mpsc::Receiver<Result<push::PushMessage, SiPassError>>, SiPassError>
    {
        let mut response = self.open_stream(after, true).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let url = self.config.management_url.clone();
        tokio::spawn(async move {
            let mut parser = push::SseParser::default();
            loop {
                // SiPass sends a keep-alive comment every 15 s: a silent connection is a dead
                // one (a half-open TCP connection, a stalled server), and is left.
                let next = tokio::time::timeout(PUSH_IDLE, response.chunk()).await;
                let Ok(next) = next else {
                    let reason = format!("nothing received for {} s", PUSH_IDLE.as_secs());
                    let _ = tx
                        .send(Err(SiPassError::Unreachable {
                            url: url.clone(),
                            reason,
                        }))
                        .await;
                    break;
                };
                let chunk = match next {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx
                            .send(Err(SiPassError::Unreachable {
                                url: url.clone(),
                                reason: root_cause(&e),
                            }))
                            .await;
                        break;
                    }
                };
                for message in parser.feed(&chunk) {
                    let decoded = message.into_push().map_err(|e| SiPassError::Malformed {
                        what: "a push message".into(),
                        reason: e.to_string(),
                    });
                    if tx.send(decoded).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }

    async fn open_stream(
        &self,
        after: u64,
        retry_on_401: bool,
    ) -> Result<reqwest::Response, SiPassError> {
        let token = self.session_token().await?;
        let path = format!("{}?after={after}", management::NOTIFICATIONS);
        let url = format!(
            "{}/{path}",
            self.config.management_url.trim_end_matches('/')
        );
        let response = self
            .push_http
            .get(url)
            .header("clientUniqueId", &self.config.client_id)
            .header("language", "English")
            .header("Authorization", &token)
            .header("Accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED && retry_on_401 {
            self.forget_session();
            self.login().await?;
            return Box::pin(self.open_stream(after, false)).await;
        }
        if !status.is_success() {
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(error_from(status, &bytes, "the push channel"));
        }
        Ok(response)
    }

    /// Sends an authenticated call; on 401 logs in again once and retries.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        what: &str,
        retry_on_401: bool,
    ) -> Result<T, SiPassError> {
        self.call_at(Api::Hr, method, path, what, retry_on_401, None)
            .await
    }

    /// The session token, logging in first when none is held.
    async fn session_token(&self) -> Result<String, SiPassError> {
        let current = self.lock().clone();
        match current {
            Some(token) => Ok(token),
            None => {
                self.login().await?;
                let fresh = self.lock().clone();
                Ok(fresh.unwrap_or_default())
            }
        }
    }

    fn forget_session(&self) {
        self.lock().take();
    }

    async fn call_at<T: DeserializeOwned>(
        &self,
        api: Api,
        method: Method,
        path: &str,
        what: &str,
        retry_on_401: bool,
        body: Option<Value>,
    ) -> Result<T, SiPassError> {
        let bytes = self
            .call_bytes_at(api, method, path, what, retry_on_401, body)
            .await?;
        decode(&bytes, what)
    }

    /// Like [`Self::call_at`], answering the body as it came, for the caller to read.
    async fn call_bytes_at(
        &self,
        api: Api,
        method: Method,
        path: &str,
        what: &str,
        retry_on_401: bool,
        body: Option<Value>,
    ) -> Result<Vec<u8>, SiPassError> {
        let token = self.session_token().await?;
        let mut request = self.request_at(api, method.clone(), path, Some(&token));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED && retry_on_401 {
            tracing::debug!("SiPass session expired; logging in again");
            self.forget_session();
            self.login().await?;
            return Box::pin(self.call_bytes_at(api, method, path, what, false, body)).await;
        }
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(error_from(status, &bytes, what));
        }
        Ok(Vec::from(bytes))
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        self.request_at(Api::Hr, method, path, token)
    }

    fn request_at(
        &self,
        api: Api,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let base = match api {
            Api::Hr => &self.config.hr_url,
            Api::Management => &self.config.management_url,
        };
        let url = format!("{}/{}", base.trim_end_matches('/'), path);
        let mut builder = self
            .http
            .request(method, url)
            .header("clientUniqueId", &self.config.client_id)
            .header("language", "English");
        if let Some(token) = token {
            builder = builder.header("Authorization", token);
        }
        builder
    }

    fn unreachable(&self, err: &reqwest::Error) -> SiPassError {
        SiPassError::Unreachable {
            url: self.config.hr_url.clone(),
            reason: root_cause(err),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.token.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How long the push channel may stay silent before it is considered dead.
const PUSH_IDLE: Duration = Duration::from_secs(45);

/// Which of SiPass's APIs a call goes to.
#[derive(Clone, Copy)]
enum Api {
    Hr,
    Management,
}

/// The records of a list answer: the `Records` envelope, or a bare array (SiPass sends
/// some reference lists that way).
fn records(body: Value, what: &str) -> Result<Vec<Value>, SiPassError> {
    match body {
        Value::Array(items) => Ok(items),
        Value::Object(mut o) => match o.remove("Records") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(SiPassError::Malformed {
                what: what.to_owned(),
                reason: "no Records array".into(),
            }),
        },
        _ => Err(SiPassError::Malformed {
            what: what.to_owned(),
            reason: "neither a list nor an envelope".into(),
        }),
    }
}

/// The innermost cause of a transport error, which is the one a person can act on
/// ("connection refused", "invalid peer certificate").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn error_from(status: StatusCode, body: &[u8], what: &str) -> SiPassError {
    read::error(status.as_u16(), body, what)
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, SiPassError> {
    serde_json::from_slice(bytes).map_err(|e| SiPassError::Malformed {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}
