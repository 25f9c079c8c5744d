//! The Config Tool: the REST API under `/api/v1` and the web UI, served by the plugin role.
//!
//! Every API call is made by someone ([`auth`]): a user signed in from a browser (session
//! cookie and CSRF token), a user's API token, or the role's own API token kept in its data
//! folder (`api-token`, an administrator's, for the CLI). The pages are static HTML and
//! script ([`pages`]) that read and change everything through the same API.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use model::access::Viewer;
use role::Role;
use serde::{Deserialize, Serialize};

pub mod accounts;
pub mod alarms;
pub mod auth;
pub mod browse;
pub mod commands;
mod error;
pub mod events;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod resources;
pub mod version;

pub use error::{ApiError, Code, ErrorBody};

/// Where the API token is kept in the role's data folder.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("api-token")
}

/// The user name recorded for what is done with the API token (the CLI, scripts).
pub const API_TOKEN_USER: &str = "api-token";

#[derive(Clone)]
struct AppState {
    role: Arc<Role>,
    token: Arc<String>,
    live: Arc<events::LiveClients>,
    sessions: Arc<auth::Sessions>,
    failures: Arc<auth::Failures>,
    /// Served over HTTPS: the session cookie is `Secure`.
    secure_cookies: bool,
}

/// How the Config Tool is served.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Over HTTPS (`--tls-cert`/`--tls-key`): cookies are sent over HTTPS only.
    pub https: bool,
}

/// The Config Tool's router, served over plain HTTP.
pub fn router(role: Arc<Role>, token: String) -> Router {
    router_with(role, token, Options::default())
}

/// The Config Tool's router.
pub fn router_with(role: Arc<Role>, token: String, options: Options) -> Router {
    let state = AppState {
        role,
        token: Arc::new(format!("Bearer {token}")),
        live: Arc::default(),
        sessions: Arc::default(),
        failures: Arc::default(),
        secure_cookies: options.https,
    };
    let api = Router::new()
        .route("/session", get(auth::current).delete(auth::sign_out))
        .route("/session/password", post(auth::change_password))
        .route(
            "/users",
            get(accounts::users_list).post(accounts::user_create),
        )
        .route(
            "/users/{name}",
            axum::routing::put(accounts::user_update).delete(accounts::user_delete),
        )
        .route(
            "/users/{name}/password",
            post(accounts::user_reset_password),
        )
        .route("/users/{name}/tokens", post(accounts::user_token))
        .route("/tokens", get(accounts::tokens_list))
        .route(
            "/tokens/{id}",
            axum::routing::delete(accounts::token_revoke),
        )
        .route(
            "/groups",
            get(accounts::groups_list).post(accounts::group_create),
        )
        .route(
            "/groups/{name}",
            axum::routing::put(accounts::group_update).delete(accounts::group_delete),
        )
        .route(
            "/partitions",
            get(accounts::partitions_list).post(accounts::partition_create),
        )
        .route(
            "/partitions/{name}",
            axum::routing::delete(accounts::partition_delete),
        )
        .route("/sync/status", get(sync_status))
        .route("/sync/start", post(sync_start))
        .route("/sync/verify", post(sync_verify))
        .route("/sync/runs", get(sync_runs))
        .route("/config", get(config_show).put(config_set))
        .route("/entities", get(entities_list))
        .route("/entities/{id}", get(entity_show))
        .route("/entity-kinds", get(browse::entity_kinds))
        .route("/event-types", get(browse::event_types))
        .route("/version", get(version::version))
        .route(
            "/entities/{id}/commands",
            get(commands::offered).post(commands::send),
        )
        .route("/activity", get(commands::activity))
        .route("/events", get(events::list))
        .route("/events/live", get(events::live))
        .route("/events/summary", get(events::summary))
        .route("/db/status", get(resources::db_status))
        .route("/db/update", post(resources::db_update))
        .route("/db/backup", post(resources::db_backup))
        .route("/db/backups", get(resources::db_backups))
        .route("/db/restore", post(resources::db_restore))
        .route("/role/deactivate", post(resources::role_deactivate))
        .route("/role/activate", post(resources::role_activate))
        .route("/alarms", get(alarms::list))
        .route("/alarms/live", get(alarms::live))
        .route("/alarms/{id}", get(alarms::show))
        .route("/alarms/{id}/history", get(alarms::history))
        .route("/alarms/{id}/acknowledge", post(alarms::acknowledge))
        .route("/alarm-entities", get(alarms::entities))
        .route(
            "/alarm-entities/{id}/partitions",
            post(alarms::add_partition),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        // Signing in is the one API call made by nobody yet.
        .route("/session", post(auth::sign_in))
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(|| async { ApiError::new(Code::NotFound, "no such API endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                Code::MethodNotAllowed,
                "this endpoint does not take that method",
            )
        });
    pages::routes()
        // Without the token, for load balancers, monitoring and Prometheus: they carry
        // states and counts, no personal data.
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .nest("/api/v1", api)
        .fallback(pages::not_found)
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// What a browser may do with our pages: only our own script, style and API (no inline
/// script, so injected markup cannot run), never framed; no content sniffing anywhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response
}

#[utoipa::path(get, path = "/api/v1/sync/status", tag = "synchronization", responses((status = 200, description = "Per entity type, synchronized against eligible with the digest verdict; the latest run with its progress; the health", body = serde_json::Value), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 503, description = "The database is unavailable", body = ErrorBody)))]
async fn sync_status(State(state): State<AppState>) -> Result<Response, ApiError> {
    let role = state.role.clone();
    let status = runtime::try_blocking(move || role.sync_status()).await??;
    Ok(Json(status).into_response())
}

/// A past synchronization, as the history shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunView {
    pub id: i64,
    pub trigger: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// Until its end, or until now while it runs.
    pub duration_ms: i64,
    #[schema(value_type = String, example = "succeeded")]
    pub outcome: model::RunOutcome,
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct RunsQuery {
    limit: Option<u32>,
}

/// The synchronization history, newest first.
#[utoipa::path(get, path = "/api/v1/sync/runs", tag = "synchronization", params(("limit" = Option<u32>, Query, description = "1 to 1000, 20 by default")), responses((status = 200, description = "The latest synchronizations, newest first", body = Vec<RunView>), (status = 400, description = "A malformed limit", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody)))]
async fn sync_runs(
    State(state): State<AppState>,
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(query_refused)?;
    let limit = page_limit(query.limit, 20, 1000)?;
    let role = state.role.clone();
    let runs = runtime::try_blocking(move || role.directory.runs(limit)).await??;
    let now = runtime::now_millis();
    let runs: Vec<RunView> = runs
        .into_iter()
        .map(|r| RunView {
            id: r.id,
            trigger: r.trigger,
            started_at: model::time::rfc3339_millis(r.started_at),
            ended_at: r.ended_at.map(model::time::rfc3339_millis),
            duration_ms: r.ended_at.unwrap_or(now) - r.started_at,
            outcome: r.outcome,
            error: r.error,
        })
        .collect();
    Ok(Json(runs).into_response())
}

/// Deep verification: every kind's count and digest recomputed from the Directory's rows and
/// compared with what the Directory keeps (seconds per million entities).
#[utoipa::path(post, path = "/api/v1/sync/verify", tag = "synchronization", responses((status = 200, description = "Every kind recomputed from the Directory rows", body = DeepVerification), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 503, description = "The database is unavailable", body = ErrorBody)))]
async fn sync_verify(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, ApiError> {
    auth::require_administrator(&viewer)?;
    let role = state.role.clone();
    let kinds =
        runtime::try_blocking(move || role::verify::verify_deep(&*role.directory)).await??;
    let consistent = kinds.iter().all(|k| k.consistent);
    Ok(Json(DeepVerification { consistent, kinds }).into_response())
}

/// The answer to `POST /api/v1/sync/verify`.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DeepVerification {
    /// True when every kind's rows add up to the count and digest the Directory keeps.
    pub consistent: bool,
    #[schema(value_type = Vec<Object>)]
    pub kinds: Vec<role::verify::DeepVerdict>,
}

/// The role's health for monitoring: 200 when it is online or synchronizing, 503 otherwise,
/// with the state and its reason.
#[utoipa::path(get, path = "/health", tag = "monitoring", security(()), responses((status = 200, description = "Online or synchronizing, with the reason", body = serde_json::Value), (status = 503, description = "Not working, with the reason", body = serde_json::Value)))]
async fn health(State(state): State<AppState>) -> Response {
    let health = state.role.status.health();
    let working = matches!(
        health.state,
        role::HealthState::Online | role::HealthState::Synchronizing
    );
    let code = if working {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(health)).into_response()
}

/// The role's metrics in the Prometheus text format (docs/metrics.md).
#[utoipa::path(get, path = "/metrics", tag = "monitoring", security(()), responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
async fn metrics_text(State(state): State<AppState>) -> Result<Response, ApiError> {
    let role = state.role.clone();
    let (status, alarms, events) = runtime::try_blocking(move || {
        let alarms = metrics::AlarmFigures {
            active: role.plugin.active_alarm_count()?,
            acks_queued: role.plugin.queued_acks()?.len() as u64,
            webhook_waiting: role.plugin.outbox_len()?,
            webhook_dropped: role
                .alarm_signals
                .webhook_dropped
                .load(std::sync::atomic::Ordering::Relaxed),
        };
        let events = metrics::EventFigures {
            stored: role.plugin.event_count()?,
            counters: role.plugin.event_counters()?,
        };
        Ok::<_, store::StoreError>((role.sync_status()?, alarms, events))
    })
    .await??;
    let mut text = metrics::encode(&status);
    text.push_str(&metrics::encode_alarms(&alarms));
    text.push_str(&metrics::encode_events(&events));
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

#[utoipa::path(get, path = "/api/v1/config", tag = "properties", responses((status = 200, description = "The role's settings", body = serde_json::Value), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody)))]
async fn config_show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, ApiError> {
    auth::require_administrator(&viewer)?;
    let role = state.role.clone();
    let settings = runtime::try_blocking(move || role::config::read(&*role.directory)).await??;
    Ok(Json(settings).into_response())
}

/// Changes settings; a bad value is refused with the field named, and nothing changes.
#[utoipa::path(put, path = "/api/v1/config", tag = "properties", request_body(content = serde_json::Value, description = "The settings to change, named as GET /api/v1/config shows them (host, port, sync_credentials, events_not_logged, events_ignored, entity_partitions, alarm_recipients, alarm_partitions, alarm_webhook_url, output_behaviours); every field is validated before any changes"), responses((status = 200, description = "The settings now in force", body = serde_json::Value), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody)))]
async fn config_set(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth::require_administrator(&viewer)?;
    let body = body.map_err(body_refused)?;
    let change: role::config::SettingsChange = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            Code::InvalidBody,
            format!("the body must be a JSON object of the settings to change, named as GET /api/v1/config shows them: {e}"),
        )
    })?;
    let role = state.role.clone();
    let settings =
        runtime::try_blocking(move || role::config::apply(&*role.directory, &change)).await??;
    // A role waiting for an address, or backing off from an old one, connects now; its
    // first connection starts the full synchronization.
    state.role.settings_applied();
    Ok(Json(settings).into_response())
}

/// A page's size: `default` when not given, at most `max` (a larger one is cut to it, as the
/// API documents); 0 is refused naming the parameter, since it lists nothing and a client
/// that sends it has made a mistake (it was silently read as 1).
pub(crate) fn page_limit(given: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match given {
        Some(0) => Err(ApiError::field(
            Code::InvalidQuery,
            "limit",
            format!("limit: 0 lists nothing; give 1 to {max} ({default} when not given)"),
        )),
        given => Ok(given.unwrap_or(default).min(max)),
    }
}

/// A query string that does not fit the endpoint's parameters, with the parameter named
/// in `field` ("limit: invalid digit found in string"), as for every other refused value;
/// axum's own text ("Failed to deserialize query string: ...") names no field.
pub(crate) fn query_refused(rejection: QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text);
    let parameter = detail
        .split_once(": ")
        .map(|(name, _)| name)
        .filter(|name| {
            !name.is_empty()
                && name.len() <= 40
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    match parameter {
        Some(name) => ApiError::field(
            Code::InvalidQuery,
            name.to_owned(),
            format!("query parameter {detail}"),
        ),
        None => ApiError::new(Code::InvalidQuery, format!("the query string: {detail}")),
    }
}

/// A body the server would not read: too large (413) or not readable (400).
pub(crate) fn body_refused(rejection: BytesRejection) -> ApiError {
    let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Code::PayloadTooLarge
    } else {
        Code::InvalidBody
    };
    ApiError::new(code, rejection.body_text())
}

#[derive(Deserialize)]
struct EntityQuery {
    kind: Option<String>,
    #[serde(default)]
    after: String,
    limit: Option<u32>,
    /// Only entities whose name or id contains this text.
    #[serde(default)]
    q: String,
}

/// The longest search text: a name is matched, not a document.
const MAX_SEARCH: usize = 100;

/// The `q` parameter, trimmed; refused when longer than a name could be.
fn search_text(q: &str) -> Result<String, ApiError> {
    let q = q.trim();
    if q.chars().count() > MAX_SEARCH {
        return Err(ApiError::field(
            Code::InvalidQuery,
            "q",
            format!(
                "the search text is longer than {MAX_SEARCH} characters; search for part of a name or an id"
            ),
        ));
    }
    Ok(q.to_owned())
}

/// An entity as the API shows it, its SiPass fields as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityView {
    pub kind: String,
    pub id: String,
    pub source_kind: String,
    pub revision: u64,
    pub name: String,
    pub fields: serde_json::Value,
}

impl From<store::EntityRow> for EntityView {
    fn from(row: store::EntityRow) -> Self {
        let fields =
            serde_json::from_str(&row.fields).unwrap_or(serde_json::Value::String(row.fields));
        EntityView {
            kind: row.kind,
            id: row.id,
            source_kind: row.source_kind,
            revision: row.revision,
            name: row.name,
            fields,
        }
    }
}

/// A page of `GET /entities`: `next_after` is where the next page starts, if any.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityPage {
    pub entities: Vec<EntityView>,
    pub next_after: Option<String>,
}

/// `GET /entities/{id}`: every Directory entity with that id (a controller is two).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityMatches {
    pub entities: Vec<EntityView>,
}

/// The `kind` parameter, which must name a Directory kind.
fn directory_kind(kind: Option<String>) -> Result<String, ApiError> {
    let kind = kind.ok_or_else(|| {
        ApiError::field(
            Code::InvalidQuery,
            "kind",
            "give the Directory kind to list, e.g. kind=cardholder",
        )
    })?;
    let known = model::EntityKind::ALL
        .iter()
        .flat_map(|k| model::DirectoryKind::from_sipass(*k))
        .any(|d| d.as_str() == kind);
    if known {
        Ok(kind)
    } else {
        Err(ApiError::field(
            Code::InvalidQuery,
            "kind",
            format!("'{kind}' is not a Directory kind (e.g. cardholder, credential, door)"),
        ))
    }
}

/// Whether the viewer sees SiPass entities: an administrator always, an operator when it
/// belongs to one of the partitions set by `entity_partitions` (docs/config-tool.md).
pub(crate) async fn sees_entities(state: &AppState, viewer: &Viewer) -> Result<bool, ApiError> {
    let (role, viewer) = (state.role.clone(), viewer.clone());
    let sees =
        runtime::try_blocking(move || role::config::sees_entities(&*role.directory, &viewer))
            .await??;
    Ok(sees)
}

#[utoipa::path(get, path = "/api/v1/entities", tag = "entities", params(("kind" = String, Query, description = "The Directory kind, e.g. cardholder"), ("after" = Option<String>, Query, description = "The last id of the previous page"), ("limit" = Option<u32>, Query, description = "1 to 10000, 100 by default"), ("q" = Option<String>, Query, description = "Only entities whose name or id contains this text (ASCII letters in any case), at most 100 characters")), responses((status = 200, description = "A page of the entities the user may see", body = EntityPage), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody)))]
async fn entities_list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    query: Result<Query<EntityQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(query_refused)?;
    let kind = directory_kind(query.kind)?;
    let limit = page_limit(query.limit, 100, 10_000)?;
    let q = search_text(&query.q)?;
    if !sees_entities(&state, &viewer).await? {
        return Ok(Json(EntityPage {
            entities: Vec::new(),
            next_after: None,
        })
        .into_response());
    }
    let role = state.role.clone();
    let rows = runtime::try_blocking(move || match q.as_str() {
        "" => role.directory.entities(&kind, &query.after, limit),
        q => role.directory.search(&kind, q, &query.after, limit),
    })
    .await??;
    let next_after = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let entities = rows.into_iter().map(EntityView::from).collect();
    Ok(Json(EntityPage {
        entities,
        next_after,
    })
    .into_response())
}

#[utoipa::path(get, path = "/api/v1/entities/{id}", tag = "entities", params(("id" = String, Path, description = "The SiPass id")), responses((status = 200, description = "Every Directory entity with that id", body = EntityMatches), (status = 404, description = "No such thing", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody)))]
async fn entity_show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let visible = sees_entities(&state, &viewer).await?;
    let role = state.role.clone();
    let lookup = id.clone();
    let rows = runtime::try_blocking(move || role.directory.entity(&lookup)).await??;
    // Another partition's entity is answered like a missing one: its existence is not told.
    if rows.is_empty() || !visible {
        return Err(ApiError::new(
            Code::NotFound,
            format!("no entity with id '{id}' in the Directory"),
        ));
    }
    let entities = rows.into_iter().map(EntityView::from).collect();
    Ok(Json(EntityMatches { entities }).into_response())
}

#[utoipa::path(post, path = "/api/v1/sync/start", tag = "synchronization", responses((status = 202, description = "A full synchronization is requested", body = serde_json::Value), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody)))]
async fn sync_start(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, ApiError> {
    auth::require_administrator(&viewer)?;
    state.role.start_full_sync();
    tracing::info!(by = %viewer.user, "full synchronization requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"message": "full synchronization requested"})),
    )
        .into_response())
}

#[cfg(test)]
mod tests;
