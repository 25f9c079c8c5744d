//! What every API of the simulator shares: state, SiPass-style errors, headers, sessions,
//! faults, path normalisation and JSON bodies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use model::sipass::{ErrorBody, error_code};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::faults::LiveFaults;
use crate::session::{Operator, Sessions};
use crate::site::Site;

/// Shared by every handler of every API.
#[derive(Clone)]
pub struct AppState {
    pub site: Arc<Site>,
    pub sessions: Arc<Sessions>,
    pub operator: Arc<Operator>,
    pub faults: Arc<LiveFaults>,
    /// How answers are shaped for the simulated release and site.
    pub present: Arc<crate::present::Presentation>,
    /// How often an idle push stream gets a `: keep-alive` comment.
    pub keep_alive: Duration,
    /// Becomes true when the server shuts down: push streams end then, so that shutdown
    /// does not wait on them.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// A refusal, answered with SiPass's `{ErrorCode, Message}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i32,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: i32, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with error 909 (InputNotValid).
    pub fn bad_input(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            error_code::INPUT_NOT_VALID,
            message,
        )
    }

    /// 404 with error 909: an unknown token.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, error_code::INPUT_NOT_VALID, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        sipass_error(self.status, self.code, &self.message)
    }
}

/// An error answer with SiPass's `{ErrorCode, Message}` body.
pub fn sipass_error(status: StatusCode, code: i32, message: &str) -> Response {
    (
        status,
        axum::Json(ErrorBody {
            error_code: code,
            message: message.to_owned(),
        }),
    )
        .into_response()
}

/// 400 with error 909 (InputNotValid): what SiPass answers to input it cannot use.
pub fn bad_input(message: &str) -> Response {
    sipass_error(
        StatusCode::BAD_REQUEST,
        error_code::INPUT_NOT_VALID,
        message,
    )
}

/// 404 with error 909: an unknown token.
pub fn not_found(message: &str) -> Response {
    sipass_error(StatusCode::NOT_FOUND, error_code::INPUT_NOT_VALID, message)
}

/// 200 with `value` as JSON.
pub fn json<T: Serialize>(value: T) -> Response {
    axum::Json(value).into_response()
}

/// A query parameter, its name matched case-insensitively (ASP.NET does).
pub fn param<'a>(query: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A body as JSON: 413 when over the size limit, 400 when not JSON at all.
pub fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bytes = body.map_err(|rejection| {
        // 413 when over the limit (the status IIS gives), else what axum found wrong.
        ApiError::new(
            rejection.status(),
            error_code::INPUT_NOT_VALID,
            rejection.body_text(),
        )
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_input(format!("the body is not valid JSON: {e}")))
}

/// A JSON value as `T`: 400 naming the problem when the shape or types are wrong.
pub fn typed<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_input(format!("not a valid {what}: {e}")))
}

/// A JSON value bound to an HR API type as SiPass (ASP.NET Web API) binds it: keys in any
/// case, `null` and missing properties as defaults, numbers and numeric strings swapped
/// where the type wants the other (`model::lenient`). 400 naming the problem otherwise.
pub fn bound<T: DeserializeOwned + model::lenient::Shape>(
    value: Value,
    what: &str,
) -> Result<T, ApiError> {
    model::lenient::bind(value).map_err(|e| ApiError::bad_input(format!("not a valid {what}: {e}")))
}

/// SiPass (ASP.NET) matches paths case-insensitively and accepts a trailing slash: the
/// path is lower-cased and the slash dropped before routing, so routes are lower case.
pub fn normalise_path(mut req: Request) -> Request {
    let path = req.uri().path();
    let trimmed = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let lowered = trimmed.to_ascii_lowercase();
    if lowered != req.uri().path() {
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{lowered}?{q}"),
            None => lowered,
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Every SiPass call needs `clientUniqueId` and `language`.
pub async fn require_client_headers(req: Request, next: Next) -> Response {
    for header in ["clientUniqueId", "language"] {
        if req.headers().get(header).is_none() {
            return bad_input(&format!("the {header} header is required"));
        }
    }
    next.run(req).await
}

/// Every call but login needs a live session's token in `Authorization`; each call slides
/// the session's expiry.
pub async fn require_session(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match authorization(req.headers()) {
        Some(token) if state.sessions.touch(token) => next.run(req).await,
        _ => unauthorized(),
    }
}

/// 401 with error 908 (SessionExpired).
pub fn unauthorized() -> Response {
    sipass_error(
        StatusCode::UNAUTHORIZED,
        error_code::SESSION_EXPIRED,
        "session expired or invalid; log in again",
    )
}

/// The raw token of `Authorization` (SiPass sends no "Bearer").
pub fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get("Authorization")?.to_str().ok()
}

/// Applies stall, latency and error rate to one HR or management API call.
pub async fn apply_faults(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (stall, latency, fail) = state.faults.next_answer();
    if let Some(until) = stall {
        tokio::time::sleep_until(until.into()).await;
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if fail {
        return sipass_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_code::INTERNAL_SERVER_ERROR,
            "simulated internal server error (fault ErrorRate)",
        );
    }
    next.run(req).await
}
