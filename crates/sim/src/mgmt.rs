//! The management API (ours: SiPass publishes none) under `/api/management/V1`: devices,
//! alarms, manual-override commands, the audit trail, and the push channel.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use model::management::{Acknowledge, CommandRequest, ObjectKind, PushType, VersionInfo};
use tokio::sync::mpsc;

use crate::hr::{change_error, envelope, object_routes};
use crate::http::{ApiError, AppState, bad_input, json, json_body, not_found, param, typed};
use crate::hub::Hub;

/// The management API's base path, lower-cased.
pub const BASE: &str = "/api/management/v1";

/// Default and largest page of `GET Events`.
const EVENTS_DEFAULT: usize = 1000;
const EVENTS_MAX: usize = 10_000;

/// How many retained messages a push stream copies per lock.
const PUSH_BATCH: usize = 512;

/// The management routes (all need a session).
pub fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/version", get(version))
        .route("/alarms", get(list_alarms))
        .route("/alarms/{id}", get(get_alarm))
        .route("/alarms/{id}/acknowledge", post(acknowledge))
        .route("/commands", post(command))
        .route("/events", get(events))
        .route("/notifications", get(notifications));
    // Every kind the HR API does not serve is a device kind the management API lists.
    for kind in ObjectKind::ALL
        .into_iter()
        .filter(|k| !k.served_by_hr_api())
    {
        router = object_routes(router, kind, false);
    }
    router
}

async fn version(State(state): State<AppState>) -> Response {
    json(VersionInfo {
        version: state.site.version().as_str().to_owned(),
    })
}

async fn list_alarms(State(state): State<AppState>) -> Response {
    let alarms = state
        .site
        .active_alarms()
        .into_iter()
        .filter_map(|a| serde_json::to_value(a).ok())
        .collect();
    envelope(alarms)
}

async fn get_alarm(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.site.alarm(&id) {
        Some(a) => json(a),
        None => not_found(&format!("no alarm with id '{id}'")),
    }
}

/// Acknowledges an alarm; idempotent. An empty body acknowledges without operator.
async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let ack = match &body {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Acknowledge::default(),
        _ => match json_body(body).and_then(|v| typed::<Acknowledge>(v, "acknowledgement")) {
            Ok(a) => a,
            Err(r) => return r.into_response(),
        },
    };
    match state
        .site
        .acknowledge_alarm(&id, &ack.operator, &ack.comment)
    {
        Some(a) => json(a),
        None => not_found(&format!("no alarm with id '{id}'")),
    }
}

async fn command(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let req = match json_body(body).and_then(|v| typed::<CommandRequest>(v, "command")) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    match state.site.command(&req) {
        Ok(result) => json(result),
        Err(e) => change_error(e),
    }
}

/// `after` (default 0) and `limit` of `GET Events` / `Notifications`.
fn after_param(query: &HashMap<String, String>) -> Result<Option<u64>, ApiError> {
    match param(query, "after").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::bad_input(format!("after must be a sequence number, not '{v}'"))
        }),
    }
}

/// The audit trail after a sequence number, oldest first, in the `Records` envelope. The
/// records are the retained `event` push messages, copied as they were sent.
async fn events(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let after = match after_param(&query) {
        Ok(a) => a.unwrap_or(0),
        Err(r) => return r.into_response(),
    };
    let limit = match param(&query, "limit").filter(|v| !v.is_empty()) {
        None => EVENTS_DEFAULT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n.clamp(1, EVENTS_MAX),
            Err(_) => return bad_input(&format!("limit must be a positive integer, not '{v}'")),
        },
    };
    let messages = state.site.hub().events_after(after, limit);
    let mut body =
        String::with_capacity(messages.iter().map(|m| m.json.len() + 1).sum::<usize>() + 64);
    body.push_str("{\"Records\":[");
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&m.json);
    }
    body.push_str(&format!(
        "],\"TotalRecords\":{n},\"TotalDisplayRecords\":{n}}}",
        n = messages.len()
    ));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The push channel: Server-Sent Events from `after` (or the `Last-Event-ID` header; live
/// only when neither is given).
async fn notifications(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let after = match after_param(&query) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let last_event_id = headers
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let site = state.site.clone();
    let after = after
        .or(last_event_id)
        .unwrap_or_else(|| site.hub().last_sequence());
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(8);
    let keep_alive = state.keep_alive;
    let mut stopping = state.stopping.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = stream(site, after, tx, keep_alive) => {}
            _ = stopping.wait_for(|stop| *stop) => {}
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Writes the messages after `cursor` to one subscriber, then waits for more; a comment
/// line every `keep_alive` when idle. Ends when the subscriber goes away.
async fn stream(
    site: Arc<crate::site::Site>,
    mut cursor: u64,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    keep_alive: std::time::Duration,
) {
    let hub: &Hub = site.hub();
    let mut wake = hub.subscribe();
    loop {
        wake.borrow_and_update();
        let batch = hub.read_after(cursor, PUSH_BATCH);
        let mut frames = String::new();
        if let Some(gap) = batch.gap {
            let data = crate::site::json_line(&gap);
            frames.push_str(&frame(gap.to, PushType::Gap, &data));
            cursor = gap.to;
        }
        for m in &batch.messages {
            frames.push_str(&frame(m.seq, m.kind, &m.json));
            cursor = m.seq;
        }
        let full = batch.messages.len() == PUSH_BATCH;
        if !frames.is_empty() {
            if tx.send(Ok(Bytes::from(frames))).await.is_err() {
                return;
            }
            if full {
                continue;
            }
        }
        match tokio::time::timeout(keep_alive, wake.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                if tx
                    .send(Ok(Bytes::from_static(b": keep-alive\n\n")))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

fn frame(seq: u64, kind: PushType, data: &str) -> String {
    format!("id: {seq}\nevent: {}\ndata: {data}\n\n", kind.as_str())
}
