//! The Config Tool: the REST API under `/api/v1` and the web UI, served by the plugin role.
//!
//! Every API call needs `Authorization: Bearer <token>`, the role's API token kept in its
//! data folder (`api-token`); the web UI asks for it once and keeps it in the browser.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use role::Role;
use serde::Serialize;

/// Where the API token is kept in the role's data folder.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("api-token")
}

/// An API error: a stable code, a message a person can act on, and the HTTP status.
#[derive(Debug, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            e.to_string(),
        )
    }
}

#[derive(Clone)]
struct AppState {
    role: Arc<Role>,
    token: Arc<String>,
}

/// The Config Tool's router.
pub fn router(role: Arc<Role>, token: String) -> Router {
    let state = AppState {
        role,
        token: Arc::new(format!("Bearer {token}")),
    };
    let api = Router::new()
        .route("/sync/status", get(sync_status))
        .route("/sync/start", post(sync_start))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API endpoint")
        });
    Router::new()
        .route("/", get(index))
        .nest("/api/v1", api)
        .with_state(state)
}

async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if constant_time_eq(given, state.token.as_bytes()) {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API token; send 'Authorization: Bearer <token>' with the token from the role's data folder (api-token)",
        )
        .into_response()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn index() -> Html<&'static str> {
    Html(include_str!("assets/index.html"))
}

async fn sync_status(State(state): State<AppState>) -> Result<Response, ApiError> {
    let role = state.role.clone();
    let status = tokio::task::spawn_blocking(move || role.sync_status())
        .await
        .map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })??;
    Ok(Json(status).into_response())
}

async fn sync_start(State(state): State<AppState>) -> Response {
    state.role.start_full_sync();
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"message": "full synchronization requested"})),
    )
        .into_response()
}
