//! The Config Tool: the REST API under `/api/v1` and the web UI, served by the plugin role.
//!
//! Every API call needs `Authorization: Bearer <token>`, the role's API token kept in its
//! data folder (`api-token`); the web UI asks for it once and keeps it in the browser.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, Request, State};
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
    /// The field a refused value was given for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
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
        .route("/config", get(config_show).put(config_set))
        .route("/entities", get(entities_list))
        .route("/entities/{id}", get(entity_show))
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

/// Runs a Directory read or write off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
}

async fn config_show(State(state): State<AppState>) -> Result<Response, ApiError> {
    let role = state.role.clone();
    let settings = blocking(move || Ok(role::config::read(&*role.directory)?)).await?;
    Ok(Json(settings).into_response())
}

/// Changes settings; a bad value is refused with the field named, and nothing changes.
async fn config_set(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let change: role::config::SettingsChange = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("the body must be a JSON object with host, port and/or sync_credentials: {e}"),
        )
    })?;
    let role = state.role.clone();
    let settings = blocking(move || {
        role::config::apply(&*role.directory, &change).map_err(|e| match e {
            role::config::SettingsError::Invalid(invalid) => ApiError {
                field: Some(invalid.field),
                ..ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_setting",
                    invalid.to_string(),
                )
            },
            role::config::SettingsError::Store(e) => e.into(),
        })
    })
    .await?;
    Ok(Json(settings).into_response())
}

#[derive(serde::Deserialize)]
struct EntityQuery {
    kind: String,
    #[serde(default)]
    after: String,
    limit: Option<u32>,
}

/// An entity as the API shows it, its SiPass fields as JSON.
fn entity_json(row: store::EntityRow) -> serde_json::Value {
    serde_json::json!({
        "kind": row.kind,
        "id": row.id,
        "source_kind": row.source_kind,
        "revision": row.revision,
        "name": row.name,
        "fields": serde_json::from_str::<serde_json::Value>(&row.fields).unwrap_or(serde_json::Value::String(row.fields)),
    })
}

async fn entities_list(
    State(state): State<AppState>,
    Query(query): Query<EntityQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 10_000);
    let role = state.role.clone();
    let rows =
        blocking(move || Ok(role.directory.entities(&query.kind, &query.after, limit)?)).await?;
    let next_after = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let entities: Vec<_> = rows.into_iter().map(entity_json).collect();
    Ok(Json(serde_json::json!({"entities": entities, "next_after": next_after})).into_response())
}

async fn entity_show(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let role = state.role.clone();
    let lookup = id.clone();
    let rows = blocking(move || Ok(role.directory.entity(&lookup)?)).await?;
    if rows.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no entity with id '{id}' in the Directory"),
        ));
    }
    let entities: Vec<_> = rows.into_iter().map(entity_json).collect();
    Ok(Json(serde_json::json!({"entities": entities})).into_response())
}

async fn sync_start(State(state): State<AppState>) -> Response {
    state.role.start_full_sync();
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"message": "full synchronization requested"})),
    )
        .into_response()
}
