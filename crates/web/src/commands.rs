//! Commands and the activity trail on the REST API:
//!
//! - `GET /entities/{id}/commands[?kind=]`: what the entity (or entities: SiPass numbers
//!   each kind on its own) with that id supports.
//! - `POST /entities/{id}/commands {action, kind?}`: sends one to SiPass through the proxy;
//!   200 with SiPass's result, or an error naming the entity and the command.
//! - `GET /activity[?entity=&since=&before=&limit=]`: the activity trail, newest first.
//!
//! The application recorded in the trail comes from the `X-SiPass-Bridge-Application`
//! header (the CLI and the Config Tool send it); without it, "REST API".

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::access::Viewer;
use role::commands::{CommandError, CommandOrder};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState, Code};

/// The header naming what sent a command.
pub const APPLICATION_HEADER: &str = "x-sipass-bridge-application";

/// The application recorded when the header is missing or unreadable.
pub const DEFAULT_APPLICATION: &str = "REST API";

/// The longest application name kept.
const MAX_APPLICATION: usize = 40;

/// The longest id, kind or action accepted.
const MAX_TEXT: usize = 200;

/// Activities per page: the default and the most.
const DEFAULT_LIMIT: u32 = 100;

/// `POST /entities/{id}/commands` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    /// A command's name (`unlock`), or for an output an output behaviour's name.
    pub action: String,
    /// The entity's Directory kind, when its id names several.
    #[serde(default)]
    pub kind: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct KindQuery {
    kind: Option<String>,
}

/// `GET /entities/{id}/commands`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandTargets {
    pub entities: Vec<role::commands::CommandTarget>,
}

#[derive(Deserialize)]
pub(crate) struct ActivityQuery {
    entity: Option<String>,
    since: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

/// A page of the activity trail: `next_before` continues it, if there is more.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityPage {
    pub activities: Vec<store::Activity>,
    pub next_before: Option<i64>,
}

/// What sent the request: the header's value when it is short printable text.
fn application(headers: &HeaderMap) -> String {
    headers
        .get(APPLICATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| {
            !v.is_empty()
                && v.chars().count() <= MAX_APPLICATION
                && !v.chars().any(char::is_control)
        })
        .unwrap_or(DEFAULT_APPLICATION)
        .to_owned()
}

fn bounded(field: &'static str, value: &str) -> Result<(), ApiError> {
    if value.len() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(ApiError::field(
            Code::InvalidBody,
            field,
            format!("{field} must be printable text of at most {MAX_TEXT} bytes"),
        ));
    }
    Ok(())
}

/// A `kind` that names no Directory kind is a typo to point at (400, `kind`), not an entity
/// that is missing (404).
fn directory_kind(kind: &str, code: Code) -> Result<(), ApiError> {
    bounded("kind", kind)?;
    if model::kind::DirectoryKind::from_name(kind).is_none() {
        return Err(ApiError::field(
            code,
            "kind",
            format!(
                "kind: '{}' is not a Directory kind; the kinds that take commands are door, intrusion-detection-area and output",
                protocol::printable(kind, 100)
            ),
        ));
    }
    Ok(())
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let (code, message) = match e {
            CommandError::UnknownEntity(m) => (Code::NotFound, m),
            CommandError::UnknownCommand(m) => (Code::UnknownCommand, m),
            CommandError::NotSupported(m) => (Code::CommandNotSupported, m),
            CommandError::Ambiguous(m) => (Code::AmbiguousEntity, m),
            CommandError::NotConnected(m) => (Code::NotConnected, m),
            CommandError::Failed(m) => (Code::CommandFailed, m),
            CommandError::Store(e) => return ApiError::from(e),
        };
        ApiError::new(code, message)
    }
}

#[utoipa::path(get, operation_id = "commands_offered", path = "/api/v1/entities/{id}/commands", tag = "commands", params(("id" = String, Path, description = "The id"), ("kind" = Option<String>, Query, description = "The Directory kind, when the id names several entities")), responses((status = 200, description = "The commands the entity takes", body = serde_json::Value), (status = 400, description = "A kind that is no Directory kind; `field` names it", body = crate::ErrorBody), (status = 404, description = "No such thing, or not visible to this user", body = crate::ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody)))]
pub(crate) async fn offered(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    query: Result<Query<KindQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(crate::query_refused)?;
    bounded("id", &id)?;
    if let Some(kind) = &query.kind {
        directory_kind(kind, Code::InvalidQuery)?;
    }
    let role = state.role.clone();
    let entities =
        runtime::try_blocking(move || role.commands.offered(&id, query.kind.as_deref(), &viewer))
            .await??;
    Ok(Json(CommandTargets { entities }).into_response())
}

#[utoipa::path(post, operation_id = "commands_send", path = "/api/v1/entities/{id}/commands", tag = "commands", params(("id" = String, Path, description = "The id")), request_body(content = serde_json::Value, description = "The command and its arguments (docs/commands.md)"), responses((status = 200, description = "Carried out", body = serde_json::Value), (status = 400, description = "A refused body or value; `field` names it", body = crate::ErrorBody), (status = 404, description = "No such thing, or not visible to this user", body = crate::ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Not allowed for this user", body = crate::ErrorBody), (status = 409, description = "The id names several entities; give the kind", body = crate::ErrorBody), (status = 422, description = "The entity does not take that command", body = crate::ErrorBody), (status = 502, description = "The proxy or SiPass failed", body = crate::ErrorBody), (status = 503, description = "Not connected to the proxy", body = crate::ErrorBody)))]
pub(crate) async fn send(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(crate::body_refused)?;
    let body: CommandBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            Code::InvalidBody,
            format!("the body must be a JSON object {{\"action\": \"unlock\"}} (and \"kind\" when the id names several entities): {e}"),
        )
    })?;
    bounded("id", &id)?;
    bounded("action", &body.action)?;
    if let Some(kind) = &body.kind {
        directory_kind(kind, Code::InvalidBody)?;
    }
    let order = CommandOrder {
        entity: id,
        kind: body.kind,
        action: body.action,
        application: application(&headers),
        viewer,
    };
    let answer = state.role.commands.send(order).await?;
    Ok((StatusCode::OK, Json(answer)).into_response())
}

#[utoipa::path(get, operation_id = "commands_activity", path = "/api/v1/activity", tag = "commands", params(("entity" = Option<String>, Query, description = "Only commands to this entity id"), ("since" = Option<String>, Query, description = "RFC 3339 or Unix ms"), ("before" = Option<i64>, Query, description = "next_before of the previous page"), ("limit" = Option<u32>, Query, description = "1 to 1000, 100 by default")), responses((status = 200, description = "The activity trail, newest first, paged", body = serde_json::Value), (status = 400, description = "A refused body or value; `field` names it", body = crate::ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody)))]
pub(crate) async fn activity(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    query: Result<Query<ActivityQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(crate::query_refused)?;
    let limit = crate::page_limit(query.limit, DEFAULT_LIMIT, store::MAX_ACTIVITY_PAGE)?;
    if let Some(entity) = &query.entity {
        bounded("entity", entity)?;
    }
    let filter = store::ActivityFilter {
        entity: query.entity.filter(|e| !e.trim().is_empty()),
        since_ms: crate::events::instant("since", query.since)?,
        before_id: query.before.unwrap_or(0).max(0),
        // One more than the page: whether another follows.
        limit: limit + 1,
    };
    let role = state.role.clone();
    let mut rows =
        runtime::try_blocking(move || role.commands.activity(&filter, &viewer)).await??;
    let more = rows.len() as u32 > limit;
    rows.truncate(limit as usize);
    let next_before = more.then(|| rows.last().map(|a| a.id)).flatten();
    Ok(Json(ActivityPage {
        activities: rows,
        next_before,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    const TOKEN: &str = "commands-token";

    /// A role over a fresh Directory holding door 3 "Main <b>entrance</b>", never connected.
    fn role_with_a_door(name: &str) -> (std::path::PathBuf, axum::Router) {
        let dir = std::env::temp_dir().join(format!(
            "sipass-web-commands-{name}-{}-{}",
            std::process::id(),
            runtime::now_millis()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let role = role::Role::open(role::RoleConfig {
            data_dir: dir.clone(),
            database_url: None,
            proxy_ca_pem: String::new(),
            proxy_token: String::new(),
            client_name: "role-host".into(),
        })
        .unwrap();
        let door = store::SourceEntity {
            source_kind: "doorset".into(),
            id: "3".into(),
            revision: 1,
            name: "Main <b>entrance</b>".into(),
            fields: "{}".into(),
            kinds: vec!["door".into()],
        };
        let position = store::WatchPosition {
            cache_id: "c".into(),
            revision: 1,
        };
        role.directory
            .apply_changes(&[store::SourceChange::Upsert(door)], &position)
            .unwrap();
        (dir, crate::router(Arc::new(role), TOKEN.into()))
    }

    async fn call(
        router: &axum::Router,
        method: &str,
        uri: &str,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn a_kind_that_is_no_directory_kind_is_refused_naming_the_field() {
        let (_dir, router) = role_with_a_door("bad-kind");
        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/entities/3/commands",
            r#"{"action":"unlock","kind":"doors"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            (&body["code"], &body["field"]),
            (&"invalid_body".into(), &"kind".into())
        );
        assert!(
            body["message"].as_str().unwrap().contains("'doors'"),
            "{body}"
        );
        let (status, body) =
            call(&router, "GET", "/api/v1/entities/3/commands?kind=doors", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            (&body["code"], &body["field"]),
            (&"invalid_query".into(), &"kind".into())
        );
        let (status, body) =
            call(&router, "GET", "/api/v1/entities/3/commands?kind=door", "").await;
        assert_eq!(status, StatusCode::OK, "a real kind still answers: {body}");
    }

    #[tokio::test]
    async fn commands_are_offered_refused_and_recorded_through_the_api() {
        let (dir, router) = role_with_a_door("api");
        let (status, offered) = call(&router, "GET", "/api/v1/entities/3/commands", "").await;
        assert_eq!(status, StatusCode::OK, "{offered}");
        assert_eq!(offered["entities"][0]["kind"], "door");
        assert_eq!(
            offered["entities"][0]["commands"].as_array().unwrap().len(),
            8
        );

        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/entities/9/commands",
            r#"{"action":"unlock"}"#,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        assert!(body["message"].as_str().unwrap().contains("'9'"), "{body}");

        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/entities/3/commands",
            r#"{"action":"arm"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "command_not_supported");

        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/entities/3/commands",
            r#"{"action":"unlock"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["code"], "not_connected");

        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/entities/3/commands",
            r#"{"action":"explode"}"#,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unknown_command"))
        );
        let (status, _) = call(
            &router,
            "POST",
            "/api/v1/entities/3/commands",
            r#"{"verb":"unlock"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (status, page) = call(&router, "GET", "/api/v1/activity?limit=999999", "").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let activities = page["activities"].as_array().unwrap();
        assert_eq!(
            activities.len(),
            2,
            "the refusal and the attempt while disconnected: {page}"
        );
        assert_eq!(activities[0]["outcome"], "not-connected");
        assert_eq!(activities[0]["application"], "REST API");
        assert_eq!(activities[0]["machine"], "role-host");
        assert_eq!(activities[0]["user"], crate::API_TOKEN_USER);
        assert_eq!(activities[0]["entity_name"], "Main <b>entrance</b>");
        assert_eq!(activities[1]["outcome"], "not-supported");
        assert!(page["next_before"].is_null(), "everything fitted: {page}");
        let (_, first) = call(&router, "GET", "/api/v1/activity?limit=1", "").await;
        let before = first["next_before"].as_i64().expect("another page follows");
        let (_, second) = call(
            &router,
            "GET",
            &format!("/api/v1/activity?limit=1&before={before}"),
            "",
        )
        .await;
        assert_eq!(
            second["activities"][0]["outcome"], "not-supported",
            "{second}"
        );
        assert!(second["next_before"].is_null(), "{second}");

        let (status, body) = call(&router, "GET", "/api/v1/activity?since=yesterday", "").await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("since"))
        );
        let (_, none) = call(&router, "GET", "/api/v1/activity?entity=4", "").await;
        assert_eq!(none["activities"].as_array().unwrap().len(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_application_is_the_header_when_it_is_short_printable_text() {
        let mut headers = HeaderMap::new();
        assert_eq!(application(&headers), "REST API");
        headers.insert(APPLICATION_HEADER, "CLI".parse().unwrap());
        assert_eq!(application(&headers), "CLI");
        headers.insert(APPLICATION_HEADER, "x".repeat(41).parse().unwrap());
        assert_eq!(application(&headers), "REST API");
        headers.insert(APPLICATION_HEADER, "  ".parse().unwrap());
        assert_eq!(application(&headers), "REST API");
    }
}
