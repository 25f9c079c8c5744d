//! `GET /events`: the stored SiPass events, filtered and paged; `GET /events/live`: each
//! event as it is stored, as server-sent events.
//!
//! The live feed holds little per client beyond the role's shared, bounded buffer (a task
//! and 16 queued events): a client that falls more than that buffer behind is sent a
//! `lagged` event and dropped, so a slow or stalled browser never makes the role grow its
//! memory. At most [`MAX_LIVE`] clients are served at once. Every [`RECHECK`] the feed asks
//! again whether its user may still see events, and ends with `revoked` when not.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use model::access::Viewer;
use serde::{Deserialize, Serialize};
use store::{EventFilter, StoredEvent};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::StreamExt;

use crate::AppState;
use crate::error::{ApiError, Code, ErrorBody};

/// The most live-feed clients at once.
pub const MAX_LIVE: usize = 64;

/// The longest type or entity filter accepted.
const MAX_FILTER: usize = 200;

/// Live-feed clients now.
#[derive(Default)]
pub struct LiveClients(AtomicUsize);

/// `GET /events` query: every parameter optional.
#[derive(Debug, Default, Deserialize)]
pub struct EventQuery {
    /// Occurred at or after: RFC 3339 (`2026-11-22T09:00:00Z`) or Unix milliseconds.
    pub since: Option<String>,
    /// Occurred before, the same way.
    pub until: Option<String>,
    /// SiPass's event type or a native event name.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// An entity id (SiPass token) the event concerns.
    pub entity: Option<String>,
    /// Our id of the last event of the previous page.
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

/// A page of `GET /events`: `next_after` is where the next page starts, if any.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventPage {
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<StoredEvent>,
    pub next_after: Option<i64>,
}

/// `GET /events/summary`: how many events are stored, where reading the proxy's journal
/// stands, and what was counted instead of stored (by switch, ignore list, unknown type).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventSummary {
    pub stored: u64,
    #[schema(value_type = Object)]
    pub position: store::EventPosition,
    pub counters: std::collections::BTreeMap<String, u64>,
}

#[utoipa::path(get, operation_id = "events_summary", path = "/api/v1/events/summary", tag = "events", responses((status = 200, description = "Stored events and counters", body = EventSummary), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody)))]
pub(crate) async fn summary(State(state): State<AppState>) -> Result<Response, ApiError> {
    let role = state.role.clone();
    let summary = runtime::try_blocking(move || -> Result<EventSummary, store::StoreError> {
        Ok(EventSummary {
            stored: role.plugin.event_count()?,
            position: role.plugin.event_position()?,
            counters: role.plugin.event_counters()?.into_iter().collect(),
        })
    })
    .await??;
    Ok(Json(summary).into_response())
}

/// An instant given as RFC 3339 or as Unix milliseconds.
pub(crate) fn instant(field: &'static str, value: Option<String>) -> Result<Option<i64>, ApiError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let value = value.trim();
    value
        .parse::<i64>()
        .ok()
        .or_else(|| model::time::parse_rfc3339_millis(value))
        .map(Some)
        .ok_or_else(|| {
            ApiError::field(
                Code::InvalidQuery,
                field,
                format!(
                    "'{}' is not a time: give RFC 3339 (2026-11-22T09:00:00Z) or Unix milliseconds",
                    value.chars().take(60).collect::<String>().escape_debug()
                ),
            )
        })
}

fn bounded_filter(field: &'static str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.len() > MAX_FILTER => Err(ApiError::field(
            Code::InvalidQuery,
            field,
            format!("{field}: at most {MAX_FILTER} bytes"),
        )),
        other => Ok(other),
    }
}

/// The store's filter from a query, every value checked.
pub fn filter(query: EventQuery) -> Result<EventFilter, ApiError> {
    Ok(EventFilter {
        since_ms: instant("since", query.since)?,
        until_ms: instant("until", query.until)?,
        event_type: bounded_filter("type", query.event_type)?,
        entity: bounded_filter("entity", query.entity)?,
        after_id: query.after.unwrap_or(0).max(0),
        limit: crate::page_limit(query.limit, 100, store::sqlite::MAX_EVENT_PAGE)?,
    })
}

#[utoipa::path(get, operation_id = "events_list", path = "/api/v1/events", tag = "events", params(("since" = Option<String>, Query, description = "RFC 3339 or Unix ms"), ("until" = Option<String>, Query, description = "RFC 3339 or Unix ms"), ("type" = Option<String>, Query, description = "SiPass type or native event"), ("entity" = Option<String>, Query, description = "An entity id"), ("after" = Option<i64>, Query, description = "The last id of the previous page"), ("limit" = Option<u32>, Query, description = "Page size")), responses((status = 200, description = "A page of the events the user may see", body = EventPage), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    query: Result<Query<EventQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(crate::query_refused)?;
    let filter = filter(query)?;
    let limit = filter.limit;
    // Every event is about SiPass entities, which lie in the entity partitions.
    if !crate::sees_entities(&state, &viewer).await? {
        return Ok(Json(EventPage {
            events: Vec::new(),
            next_after: None,
        })
        .into_response());
    }
    let role = state.role.clone();
    let events = runtime::try_blocking(move || role.plugin.events(&filter)).await??;
    let next_after = (events.len() as u32 == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(Json(EventPage { events, next_after }).into_response())
}

/// Holds a live-feed place until the client's stream is dropped.
pub(crate) struct Place(Arc<LiveClients>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How often a live feed asks again whether its user may still follow it: a user removed
/// from the entity partitions, or deleted, stops receiving within this time.
pub(crate) const RECHECK: Duration = Duration::from_secs(5);

/// The user behind a live feed as it is now (its role, groups and partitions read again),
/// or `None` once it is deleted. The role's own API token has no account and stays.
pub(crate) async fn current_viewer(
    state: &AppState,
    viewer: &Viewer,
) -> Result<Option<Viewer>, ApiError> {
    if viewer.user == crate::API_TOKEN_USER && viewer.is_administrator() {
        return Ok(Some(viewer.clone()));
    }
    let (accounts, name) = (state.role.accounts.clone(), viewer.user.clone());
    let membership = runtime::try_blocking(move || accounts.membership(&name)).await??;
    Ok(membership.map(crate::auth::viewer_of))
}

/// Whether `viewer` may still follow the events feed.
async fn still_follows(state: &AppState, viewer: &Viewer) -> bool {
    match current_viewer(state, viewer).await {
        Ok(Some(now)) => crate::sees_entities(state, &now).await.unwrap_or(false),
        _ => false,
    }
}

/// Sends one client each stored event until it goes, falls more than the feed's buffer
/// behind (`lagged`), or may no longer see events (`revoked`).
async fn follow(
    state: AppState,
    viewer: Viewer,
    mut events: tokio::sync::broadcast::Receiver<Arc<StoredEvent>>,
    tx: tokio::sync::mpsc::Sender<SseEvent>,
    _place: Place,
) {
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    loop {
        let event = tokio::select! {
            received = events.recv() => match received {
                Ok(event) => SseEvent::default()
                    .event("stored")
                    .id(event.id.to_string())
                    .json_data(event.as_ref())
                    .unwrap_or_else(|_| SseEvent::default().event("unencodable")),
                Err(RecvError::Lagged(n)) => {
                    let _ = tx.send(SseEvent::default().event("lagged").data(format!(
                        "this client fell {n} events behind the live feed and is disconnected; list them with GET /api/v1/events and reconnect"
                    ))).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            // The client went: its place is given back now, not at the next event.
            _ = tx.closed() => return,
            _ = recheck.tick() => {
                if still_follows(&state, &viewer).await {
                    continue;
                }
                let _ = tx.send(SseEvent::default().event("revoked").data(
                    "this user may no longer see SiPass events (its partitions changed, or it was deleted)",
                )).await;
                return;
            }
        };
        if tx.send(event).await.is_err() {
            return;
        }
    }
}

/// A live-feed place (events or alarms), or `Busy` when every one is taken.
pub(crate) fn take_place(state: &AppState) -> Result<Place, ApiError> {
    let taken = state.live.0.fetch_add(1, Ordering::AcqRel);
    let place = Place(state.live.clone());
    if taken >= MAX_LIVE {
        drop(place);
        return Err(ApiError::new(
            Code::Busy,
            format!("{MAX_LIVE} clients already follow the live feed; try again later"),
        ));
    }
    Ok(place)
}

#[utoipa::path(get, operation_id = "events_live", path = "/api/v1/events/live", tag = "events", responses((status = 200, description = "Server-sent events: `stored` with each event as JSON, `lagged` before the end", content_type = "text/event-stream", body = String), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 503, description = "Too many live clients", body = ErrorBody)))]
pub(crate) async fn live(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
) -> Result<Response, ApiError> {
    if !crate::sees_entities(&state, &viewer).await? {
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "'{}' belongs to none of the partitions SiPass entities and their events are in",
                viewer.user
            ),
        ));
    }
    let place = take_place(&state)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<SseEvent>(16);
    tokio::spawn(follow(
        state.clone(),
        viewer,
        state.role.feed.subscribe(),
        tx,
        place,
    ));
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok::<_, Infallible>);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
