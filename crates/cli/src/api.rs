//! A client of a running role's REST API: where the role is, its token, and typed answers.
//! The administration commands and the progress display both use it.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::RoleTarget;

/// A client of the role's REST API.
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    /// Finds the role (`--role`, or the address it wrote in its data folder) and its token.
    pub fn new(target: &RoleTarget) -> Result<Self> {
        let base = match &target.role {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let path = crate::services::role_address_path(&target.data);
                read_trimmed(&path).map_err(|e| match denied(&e) {
                    true => permission_denied(&path),
                    false => e.context(format!(
                        "no running role found in data folder '{}'; start one (`sipass-bridge demo` or `sipass-bridge role`) or pass --data or --role",
                        target.data.display()
                    )),
                })?
            }
        };
        let token = match std::env::var("SIPASS_BRIDGE_API_TOKEN") {
            Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
            _ => {
                let path = web::token_path(&target.data);
                read_trimmed(&path).map_err(|e| match denied(&e) {
                    true => permission_denied(&path),
                    false => e.context(format!(
                        "no API token: set SIPASS_BRIDGE_API_TOKEN or pass --data with the role's data folder (api-token in '{}')",
                        target.data.display()
                    )),
                })?
            }
        };
        Ok(Api {
            base,
            token,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .default_headers(reqwest::header::HeaderMap::from_iter([(
                    reqwest::header::HeaderName::from_static(web::commands::APPLICATION_HEADER),
                    reqwest::header::HeaderValue::from_static("CLI"),
                )]))
                .build()?,
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(self.http.get(self.url(path))).await
    }

    /// `GET path?query`, the query encoded by the HTTP client.
    pub async fn get_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T> {
        self.send(self.http.get(self.url(path)).query(query)).await
    }

    /// `GET` of the API path made of `segments`, each encoded as one path segment (an id
    /// with a slash or a question mark stays one id).
    pub async fn get_at<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T> {
        let url = self.url_at(segments)?;
        self.send(self.http.get(url)).await
    }

    /// Like [`Api::get_at`], with `None` when the role answers 404 (no such entity).
    pub async fn get_at_if_found<T: DeserializeOwned>(
        &self,
        segments: &[&str],
    ) -> Result<Option<T>> {
        let response = self
            .http
            .get(self.url_at(segments)?)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.read(response).await.map(Some)
    }

    /// `POST` of `body` as JSON to the API path made of `segments` (each one segment).
    pub async fn post_at<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &impl Serialize,
    ) -> Result<T> {
        let url = self.url_at(segments)?;
        self.send(self.http.post(url).json(body)).await
    }

    /// A change answered without a body (201 or 204): `method` on the API path made of
    /// `segments`, with `body` as JSON when given.
    pub async fn change_at(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        body: Option<&serde_json::Value>,
    ) -> Result<()> {
        let mut request = self.http.request(method, self.url_at(segments)?);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = response.bytes().await.unwrap_or_default();
        bail!("the role answered {status}: {}", error_text(&bytes))
    }

    fn url_at(&self, segments: &[&str]) -> Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(&self.url(""))
            .with_context(|| format!("the role's address '{}' is not a URL", self.base))?;
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("the role's address '{}' cannot take a path", self.base))?
            .extend(segments);
        Ok(url)
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(self.http.post(self.url(path))).await
    }

    /// A POST that may take long (it reads the whole Directory), with its own time limit.
    pub async fn post_slow<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: std::time::Duration,
    ) -> Result<T> {
        self.send(self.http.post(self.url(path)).timeout(limit))
            .await
    }

    /// POST with a JSON body, waiting up to `limit` (a backup or restore takes minutes).
    pub async fn post_json_slow<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        limit: std::time::Duration,
    ) -> Result<T> {
        self.send(self.http.post(self.url(path)).json(body).timeout(limit))
            .await
    }

    pub async fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.send(self.http.put(self.url(path)).json(body)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// Sends with the token; an error answer becomes its `message` (and `field`).
    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        self.read(response).await
    }

    fn unreachable(&self, e: &reqwest::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot reach the role at {}: {}; is the role running?",
            self.base,
            protocol::error_chain(e)
        )
    }

    /// An answer's body as `T`; an error answer becomes its `message` (and `field`).
    async fn read<T: DeserializeOwned>(&self, response: reqwest::Response) -> Result<T> {
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            anyhow::anyhow!(
                "the role's answer was cut off: {}",
                protocol::error_chain(&e)
            )
        })?;
        if !status.is_success() {
            bail!("the role answered {status}: {}", error_text(&bytes));
        }
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "the role at {} answered what this release cannot read; are the CLI and the role the same version?",
                self.base
            )
        })
    }
}

/// What an error body says: its message, and the field at fault when it names one.
fn error_text(body: &[u8]) -> String {
    match serde_json::from_slice::<web::ErrorBody>(body) {
        Ok(web::ErrorBody {
            message,
            field: Some(field),
            ..
        }) if !message.starts_with(&format!("{field}:")) => format!("{field}: {message}"),
        Ok(error) => error.message,
        Err(_) => "no details".to_owned(),
    }
}

/// Whether reading a file failed because this user may not read it.
fn denied(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
}

/// A role's folder this user may not read: the role may well be running, as another user.
fn permission_denied(path: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot read {} (permission denied): run as the service's user (sudo -u sipass-bridge sipass-bridge ...) or as root, or pass --role URL with the API token in SIPASS_BRIDGE_API_TOKEN",
        path.display()
    )
}

fn read_trimmed(path: &Path) -> Result<String> {
    Ok(std::fs::read_to_string(path)?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[test]
    fn an_error_body_shows_its_field_once() {
        let named =
            br#"{"code":"invalid_setting","message":"port: 0 is not a port","field":"port"}"#;
        assert_eq!(error_text(named), "port: 0 is not a port");
        let bare = br#"{"code":"invalid_query","message":"give the kind","field":"kind"}"#;
        assert_eq!(error_text(bare), "kind: give the kind");
        assert_eq!(error_text(b"<html>"), "no details");
    }
}
