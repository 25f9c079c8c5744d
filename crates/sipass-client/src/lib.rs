//! A client for SiPass Integrated's HR API.
//!
//! It knows SiPass's ways: the raw token in `Authorization`, the `clientUniqueId` and
//! `language` headers on every call, the `Records` envelope, `startIndex`/`endIndex` paging,
//! and a session that expires and is answered with 401, after which it logs in again once.
//! It assumes nothing that `reference/sipass-api.md` does not support, so that it works
//! unchanged against a real SiPass server as against the simulator.

use std::sync::Mutex;
use std::time::Duration;

use model::sipass::{Envelope, ErrorBody, Login, LoginToken, error_code};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Where SiPass is and who to log in as.
#[derive(Clone)]
pub struct SiPassConfig {
    /// The HR API base URL, e.g. `https://sipass:8745/api/V1/hr`.
    pub hr_url: String,
    /// PEM of the CA that signed SiPass's certificate (SiPass's own "SiPass Root CA").
    pub ca_pem: String,
    pub user: String,
    pub password: String,
    /// Sent as `clientUniqueId`; SiPass tells clients apart by it.
    pub client_id: String,
}

impl std::fmt::Debug for SiPassConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiPassConfig")
            .field("hr_url", &self.hr_url)
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

/// A page of cardholders and the total SiPass reports.
pub struct CardholderPage {
    pub records: Vec<Value>,
    /// SiPass may report -1 when it does not know.
    pub total: i64,
}

/// An HR API client holding one session.
pub struct HrClient {
    config: SiPassConfig,
    http: reqwest::Client,
    token: Mutex<Option<String>>,
}

impl HrClient {
    /// A client that trusts only `config.ca_pem`. It does not log in until the first call.
    pub fn new(config: SiPassConfig) -> Result<Self, SiPassError> {
        let ca = reqwest::Certificate::from_pem(config.ca_pem.as_bytes())
            .map_err(|e| SiPassError::BadCa(e.to_string()))?;
        let http = reqwest::Client::builder()
            .add_root_certificate(ca)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| SiPassError::BadCa(e.to_string()))?;
        Ok(HrClient {
            config,
            http,
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
        let token: LoginToken = decode(&bytes, "login")?;
        if token.token.is_empty() {
            return Err(SiPassError::LoginRefused {
                user: self.config.user.clone(),
            });
        }
        *self.lock() = Some(token.token);
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
        let secs: u64 = self
            .call(
                Method::GET,
                "Authentication/SessionTimeout",
                "session timeout",
                true,
            )
            .await?;
        Ok(Duration::from_secs(secs))
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
        let envelope: Envelope<Value> = self
            .call(Method::GET, &path, "the cardholder list", true)
            .await?;
        Ok(CardholderPage {
            records: envelope.records,
            total: envelope.total_records,
        })
    }

    /// One full cardholder.
    pub async fn cardholder(&self, token: &str) -> Result<Value, SiPassError> {
        self.call(
            Method::GET,
            &format!("Cardholders/{token}"),
            "a cardholder",
            true,
        )
        .await
    }

    /// Sends an authenticated call; on 401 logs in again once and retries.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        what: &str,
        retry_on_401: bool,
    ) -> Result<T, SiPassError> {
        let current = self.lock().clone();
        let token = match current {
            Some(token) => token,
            None => {
                self.login().await?;
                let fresh = self.lock().clone();
                fresh.unwrap_or_default()
            }
        };
        let response = self
            .request(method.clone(), path, Some(&token))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED && retry_on_401 {
            tracing::debug!("SiPass session expired; logging in again");
            {
                self.lock().take();
            }
            self.login().await?;
            return Box::pin(self.call(method, path, what, false)).await;
        }
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(error_from(status, &bytes, what));
        }
        decode(&bytes, what)
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let url = format!("{}/{}", self.config.hr_url.trim_end_matches('/'), path);
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
    let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => (e.error_code, e.message),
        Err(_) => (0, String::from_utf8_lossy(body).chars().take(200).collect()),
    };
    SiPassError::Refused {
        what: what.to_owned(),
        status: status.as_u16(),
        code,
        message,
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, SiPassError> {
    serde_json::from_slice(bytes).map_err(|e| SiPassError::Malformed {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}
