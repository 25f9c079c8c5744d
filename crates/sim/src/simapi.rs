//! The simulator's own test and demo endpoints under `/api/sim/V1`: change any object,
//! inject events, raise and clear alarms, and switch faults. Faults never apply here, so a
//! test can always switch them off again.

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use model::management::ObjectKind;

use crate::control::{Created, FaultsUpdate, InjectEvent, RaiseAlarm};

use crate::hr::{cardholder_body, change_error};
use crate::http::{ApiError, AppState, bad_input, json, json_body, not_found, typed};
use crate::serve::ConnId;

/// The test endpoints' base path, lower-cased.
pub const BASE: &str = "/api/sim/v1";

/// The test routes (all need a session).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/faults", get(get_faults).put(put_faults))
        .route("/events", post(inject_event))
        .route("/alarms", post(raise_alarm))
        .route("/alarms/{id}/clear", post(clear_alarm))
        .route("/alarms/{id}/acknowledgements", get(ack_requests))
        .route("/{collection}", post(create))
        .route(
            "/{collection}/{token}",
            axum::routing::put(update).delete(delete),
        )
}

fn kind(collection: &str) -> Result<ObjectKind, ApiError> {
    collection.parse().map_err(|_| {
        ApiError::not_found(format!(
            "no such collection '{collection}'; use one of Cardholders, WorkGroups, Doorsets, ..."
        ))
    })
}

async fn create(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let kind = match kind(&collection) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    let token = if kind == ObjectKind::Cardholder {
        match cardholder_body(body) {
            Ok(c) => state.site.create_cardholder(c),
            Err(r) => return r.into_response(),
        }
    } else {
        let body = match json_body(body) {
            Ok(v) => v,
            Err(r) => return r.into_response(),
        };
        match state.site.create(kind, body) {
            Ok(t) => t,
            Err(e) => return change_error(e),
        }
    };
    (
        StatusCode::CREATED,
        axum::Json(Created {
            token: token.to_string(),
        }),
    )
        .into_response()
}

async fn update(
    State(state): State<AppState>,
    Path((collection, token)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let kind = match kind(&collection) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    if kind == ObjectKind::Cardholder {
        if state.site.cardholder(&token).is_none() {
            return not_found(&format!("no cardholder with token '{token}'"));
        }
        let c = match cardholder_body(body) {
            Ok(c) => c,
            Err(r) => return r.into_response(),
        };
        if !state.site.update_cardholder(&token, c) {
            return not_found(&format!("no cardholder with token '{token}'"));
        }
    } else {
        let body = match json_body(body) {
            Ok(v) => v,
            Err(r) => return r.into_response(),
        };
        if let Err(e) = state.site.update(kind, &token, body) {
            return change_error(e);
        }
    }
    json(Created { token })
}

async fn delete(
    State(state): State<AppState>,
    Path((collection, token)): Path<(String, String)>,
) -> Response {
    let kind = match kind(&collection) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    if kind == ObjectKind::Cardholder {
        if !state.site.delete_cardholder(&token) {
            return not_found(&format!("no cardholder with token '{token}'"));
        }
    } else if let Err(e) = state.site.delete(kind, &token) {
        return change_error(e);
    }
    StatusCode::OK.into_response()
}

async fn inject_event(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let inject = match json_body(body).and_then(|v| typed::<InjectEvent>(v, "event")) {
        Ok(i) => i,
        Err(r) => return r.into_response(),
    };
    match state.site.inject_event(inject) {
        Ok(event) => (StatusCode::CREATED, axum::Json(event)).into_response(),
        Err(e) => change_error(e),
    }
}

async fn raise_alarm(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let raise = match json_body(body).and_then(|v| typed::<RaiseAlarm>(v, "alarm")) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    match state.site.raise_alarm(raise) {
        Ok(alarm) => (StatusCode::CREATED, axum::Json(alarm)).into_response(),
        Err(e) => change_error(e),
    }
}

async fn clear_alarm(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.site.clear_alarm(&id) {
        Some(a) => json(a),
        None => not_found(&format!("no alarm with id '{id}'")),
    }
}

/// `{"AlarmId": ..., "Requests": n}`: how many acknowledge requests the alarm received,
/// repeats included (SiPass's acknowledgement is idempotent, so only this tells them apart).
async fn ack_requests(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.site.alarm_ack_requests(&id) {
        Some(n) => json(serde_json::json!({ "AlarmId": id.trim(), "Requests": n })),
        None => not_found(&format!("no alarm with id '{id}'")),
    }
}

async fn get_faults(State(state): State<AppState>) -> Response {
    json(state.faults.settings())
}

async fn put_faults(
    State(state): State<AppState>,
    conn: Option<Extension<ConnId>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let update = match json_body(body).and_then(|v| typed::<FaultsUpdate>(v, "fault settings")) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let own = conn.map(|Extension(ConnId(id))| id);
    match state
        .faults
        .apply(&update, state.site.hub(), &state.sessions, own)
    {
        Ok(()) => json(state.faults.settings()),
        Err(e) => bad_input(&e.to_string()),
    }
}
