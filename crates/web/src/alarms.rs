//! Alarms over the REST API, each answer decided with the request's [`Viewer`]:
//!
//! - `GET /alarms[?active=true&before=ID&limit=N]`: alarm instances, newest first;
//! - `GET /alarms/{id}`, `GET /alarms/{id}/history`;
//! - `POST /alarms/{id}/acknowledge {"comment": ...}`: recorded at once with the user, sent
//!   to SiPass now or, while the proxy is away, when it returns; idempotent;
//! - `GET /alarms/live`: each alarm change the viewer may see, as server-sent events;
//! - `GET /alarm-entities`, `POST /alarm-entities/{id}/partitions {"partition": ...}`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use model::access::Viewer;
use role::alarms::{AlarmEntityView, AlarmError, AlarmView};
use serde::{Deserialize, Serialize};
use store::{AlarmHistoryEntry, AlarmUpdate};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::AppState;

/// How long acknowledging waits for SiPass's confirmation before answering "queued".
const DELIVERY_WAIT: Duration = Duration::from_secs(1);
use crate::error::{ApiError, Code};

impl From<AlarmError> for ApiError {
    fn from(e: AlarmError) -> Self {
        match e {
            AlarmError::NotFound(message) => ApiError::new(Code::NotFound, message),
            AlarmError::Invalid { field, message } => {
                ApiError::field(Code::InvalidBody, field, format!("{field}: {message}"))
            }
            AlarmError::Forbidden(message) => ApiError::new(Code::Forbidden, message),
            AlarmError::Store(e) => e.into(),
        }
    }
}

/// `GET /alarms` query.
#[derive(Debug, Default, Deserialize)]
pub struct AlarmQuery {
    /// Only active alarms (not both acknowledged and cleared).
    #[serde(default)]
    pub active: bool,
    /// Our id of the last alarm of the previous page.
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

/// A page of `GET /alarms`: `next_before` is where the next page starts when there may be
/// more (a page may be short when the user sees few of the alarms read).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlarmPage {
    pub alarms: Vec<AlarmView>,
    pub next_before: Option<i64>,
}

/// `GET /alarms/{id}/history`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlarmHistory {
    pub alarm: AlarmView,
    pub history: Vec<AlarmHistoryEntry>,
}

/// `GET /alarm-entities`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlarmEntityList {
    pub entities: Vec<AlarmEntityView>,
}

/// `POST /alarms/{id}/acknowledge` body; an empty body acknowledges without comment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    #[serde(default)]
    comment: String,
}

/// `POST /alarm-entities/{id}/partitions` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionBody {
    partition: String,
}

/// An alarm id from the path: our id, a positive number.
fn alarm_id(text: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::field(
                Code::NotFound,
                "id",
                format!(
                    "'{}' is not an alarm id (a positive number, as `alarms list` shows)",
                    text.chars().take(40).collect::<String>().escape_debug()
                ),
            )
        })
}

fn json_body<T: serde::de::DeserializeOwned + Default>(
    body: Result<axum::body::Bytes, BytesRejection>,
    what: &str,
) -> Result<T, ApiError> {
    let body = body.map_err(crate::body_refused)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(Code::InvalidBody, format!("the body must be {what}: {e}")))
}

#[utoipa::path(get, operation_id = "alarms_list", path = "/api/v1/alarms", tag = "alarms", params(("active" = Option<bool>, Query, description = "Only alarms not both acknowledged and cleared"), ("before" = Option<i64>, Query, description = "next_before of the previous page"), ("limit" = Option<u32>, Query, description = "1 to 1000, 100 by default")), responses((status = 200, description = "The alarms this user sees, filtered and paged (docs/alarms.md)", body = serde_json::Value), (status = 400, description = "A refused body or value; `field` names it", body = crate::ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    query: Result<Query<AlarmQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(crate::query_refused)?;
    let limit = crate::page_limit(query.limit, 100, 1000)?;
    let role = state.role.clone();
    let (alarms, next_before) = runtime::try_blocking(move || {
        role.alarms(
            &viewer,
            query.active,
            query.before.unwrap_or(0).max(0),
            limit,
        )
    })
    .await??;
    Ok(Json(AlarmPage {
        alarms,
        next_before,
    })
    .into_response())
}

#[utoipa::path(get, operation_id = "alarms_show", path = "/api/v1/alarms/{id}", tag = "alarms", params(("id" = String, Path, description = "The id")), responses((status = 200, description = "One alarm", body = serde_json::Value), (status = 404, description = "No such thing, or not visible to this user", body = crate::ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = alarm_id(&id)?;
    let role = state.role.clone();
    let alarm = runtime::try_blocking(move || role.alarm(&viewer, id)).await??;
    Ok(Json(alarm).into_response())
}

#[utoipa::path(get, operation_id = "alarms_history", path = "/api/v1/alarms/{id}/history", tag = "alarms", params(("id" = String, Path, description = "The id")), responses((status = 200, description = "The alarm's history", body = serde_json::Value), (status = 404, description = "No such thing, or not visible to this user", body = crate::ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody)))]
pub(crate) async fn history(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = alarm_id(&id)?;
    let role = state.role.clone();
    let answer = runtime::try_blocking(move || -> Result<AlarmHistory, AlarmError> {
        Ok(AlarmHistory {
            alarm: role.alarm(&viewer, id)?,
            history: role.alarm_history(&viewer, id)?,
        })
    })
    .await??;
    Ok(Json(answer).into_response())
}

#[utoipa::path(post, operation_id = "alarms_acknowledge", path = "/api/v1/alarms/{id}/acknowledge", tag = "alarms", params(("id" = String, Path, description = "The id")), request_body(content = serde_json::Value, description = "An optional comment"), responses((status = 200, description = "Acknowledged", body = serde_json::Value), (status = 400, description = "A refused body or value; `field` names it", body = crate::ErrorBody), (status = 404, description = "No such thing, or not visible to this user", body = crate::ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Not allowed for this user", body = crate::ErrorBody)))]
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = alarm_id(&id)?;
    let body: AckBody = json_body(body, "a JSON object like {\"comment\": \"...\"}")?;
    let role = state.role.clone();
    let acting = viewer.clone();
    let mut answer =
        runtime::try_blocking(move || role.acknowledge_alarm(&acting, id, &body.comment)).await??;
    // A moment for the alarm manager to deliver it, so that the answer can say whether
    // SiPass has it; past that it stays queued and the answer says so.
    let started = std::time::Instant::now();
    while answer.alarm.alarm.ack_pending && started.elapsed() < DELIVERY_WAIT {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (role, viewer) = (state.role.clone(), viewer.clone());
        answer.alarm = runtime::try_blocking(move || role.alarm(&viewer, id)).await??;
    }
    Ok(Json(answer).into_response())
}

#[utoipa::path(get, operation_id = "alarms_entities", path = "/api/v1/alarm-entities", tag = "alarms", responses((status = 200, description = "The alarm entities with their recipients and partitions", body = serde_json::Value), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Not allowed for this user", body = crate::ErrorBody)))]
pub(crate) async fn entities(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, ApiError> {
    let role = state.role.clone();
    let entities = runtime::try_blocking(move || role.alarm_entities(&viewer)).await??;
    Ok(Json(AlarmEntityList { entities }).into_response())
}

#[utoipa::path(post, operation_id = "alarms_add_partition", path = "/api/v1/alarm-entities/{id}/partitions", tag = "alarms", params(("id" = String, Path, description = "The id")), request_body(content = serde_json::Value, description = "The partition to add"), responses((status = 200, description = "Added", body = serde_json::Value), (status = 400, description = "A refused body or value; `field` names it", body = crate::ErrorBody), (status = 404, description = "No such thing, or not visible to this user", body = crate::ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Not allowed for this user", body = crate::ErrorBody)))]
pub(crate) async fn add_partition(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(crate::body_refused)?;
    let body: PartitionBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            Code::InvalidBody,
            format!("the body must be a JSON object like {{\"partition\": \"north\"}}: {e}"),
        )
    })?;
    let role = state.role.clone();
    let entity =
        runtime::try_blocking(move || role.add_alarm_partition(&viewer, &id, &body.partition))
            .await??;
    Ok(Json(entity).into_response())
}

/// One alarm change on the live feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlarmChangeEvent {
    pub alarm: AlarmView,
    pub change: AlarmHistoryEntry,
}

/// `GET /alarms/live`: the changes of the alarms the viewer may see, as they are written.
/// A client that falls more than the feed's buffer behind gets `lagged` and the end. Shares
/// the live-feed client limit with `GET /events/live`.
#[utoipa::path(get, operation_id = "alarms_live", path = "/api/v1/alarms/live", tag = "alarms", responses((status = 200, description = "Server-sent alarm changes this user sees", content_type = "text/event-stream", body = String), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 503, description = "Too many live clients", body = crate::ErrorBody)))]
pub(crate) async fn live(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, ApiError> {
    let place = crate::events::take_place(&state)?;
    let updates = state.role.alarm_signals.feed.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<SseEvent>(16);
    tokio::spawn(follow(state, viewer, updates, tx, place));
    let stream = ReceiverStream::new(rx).map(Ok::<_, Infallible>);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// What one step of a client's alarm feed comes to.
enum Step {
    /// Send this and go on.
    Send(SseEvent),
    /// Nothing for this client (an alarm it may not see).
    Skip,
    /// Send this, then end the feed.
    End(SseEvent),
    /// End the feed.
    Stop,
}

/// Sends one client the changes of the alarms its user may see, until the client goes,
/// falls more than the feed's buffer behind (`lagged`), or its user is deleted (`revoked`).
/// The user's partitions are read again every [`crate::events::RECHECK`], so what it sees
/// follows them.
async fn follow(
    state: AppState,
    viewer: Viewer,
    mut updates: tokio::sync::broadcast::Receiver<Arc<AlarmUpdate>>,
    tx: tokio::sync::mpsc::Sender<SseEvent>,
    _place: crate::events::Place,
) {
    let mut viewer = Arc::new(viewer);
    let mut recheck = tokio::time::interval(crate::events::RECHECK);
    recheck.tick().await;
    loop {
        let step = tokio::select! {
            received = updates.recv() => change_step(&state, &viewer, received).await,
            // The client went: its place is given back now, not at the next change.
            _ = tx.closed() => Step::Stop,
            _ = recheck.tick() => match crate::events::current_viewer(&state, &viewer).await {
                Ok(Some(now)) => {
                    viewer = Arc::new(now);
                    Step::Skip
                }
                Ok(None) => Step::End(SseEvent::default().event("revoked").data("this user no longer exists")),
                Err(_) => Step::End(SseEvent::default().event("error").data(
                    "the role could not read this user's partitions; reconnect",
                )),
            },
        };
        match step {
            Step::Send(event) => {
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            Step::Skip => {}
            Step::End(event) => {
                let _ = tx.send(event).await;
                return;
            }
            Step::Stop => return,
        }
    }
}

/// An alarm change read from the feed, as this viewer's client gets it.
async fn change_step(
    state: &AppState,
    viewer: &Arc<Viewer>,
    received: Result<Arc<AlarmUpdate>, RecvError>,
) -> Step {
    let update = match received {
        Ok(update) => update,
        Err(RecvError::Lagged(n)) => {
            return Step::End(SseEvent::default().event("lagged").data(format!(
                "this client fell {n} alarm changes behind the live feed and is disconnected; list them with GET /api/v1/alarms and reconnect"
            )));
        }
        Err(RecvError::Closed) => return Step::Stop,
    };
    let (role, viewer) = (state.role.clone(), viewer.clone());
    let seen = runtime::try_blocking(move || role.alarm_update_for(&viewer, &update)).await;
    match seen {
        Ok(Ok(Some((alarm, change)))) => Step::Send(
            SseEvent::default()
                .event("alarm")
                .id(change.id.to_string())
                .json_data(AlarmChangeEvent { alarm, change })
                .unwrap_or_else(|_| SseEvent::default().event("unencodable")),
        ),
        Ok(Ok(None)) => Step::Skip,
        _ => Step::End(
            SseEvent::default()
                .event("error")
                .data("the role could not read who may see an alarm change; reconnect"),
        ),
    }
}
