//! The HR API: SiPass's REST interface under `/api/V1/hr`, as SiPass answers it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use model::sipass::{Cardholder, Envelope, ErrorBody, Login, LoginToken, error_code};
use serde_json::Value;

use crate::session::Sessions;
use crate::{Operator, SimConfig, Site};

/// The HR API's base path, lower-cased: paths are matched case-insensitively.
pub const BASE: &str = "/api/v1/hr";

/// The largest page one `GET Cardholders` returns, whatever `endIndex` asks.
const MAX_PAGE: usize = 10_000;

/// Shared by every handler.
#[derive(Clone)]
pub struct HrState {
    site: Arc<Site>,
    sessions: Arc<Sessions>,
    operator: Arc<Operator>,
}

impl HrState {
    pub fn new(site: Arc<Site>, config: &SimConfig) -> Self {
        HrState {
            site,
            sessions: Arc::new(Sessions::new(config.session_timeout)),
            operator: Arc::new(config.operator.clone()),
        }
    }
}

/// The HR API router. Paths are lower-cased and a trailing slash dropped before routing.
pub fn router(state: HrState) -> Router {
    let authenticated = Router::new()
        .route("/cardholders", get(list_cardholders))
        .route("/cardholders/{token}", get(get_cardholder))
        .route("/authentication/sessiontimeout", get(session_timeout))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_session,
        ));
    let api = Router::new()
        .route(
            "/authentication",
            get(keep_alive).post(login).delete(logout),
        )
        .merge(authenticated)
        .layer(middleware::from_fn(require_client_headers))
        .with_state(state);
    let routed = Router::new().nest(BASE, api).fallback(|| async {
        sipass_error(
            StatusCode::NOT_FOUND,
            error_code::INPUT_NOT_VALID,
            "no such resource",
        )
    });
    // Rewriting must happen before routing, so it wraps the router as a whole.
    Router::new().fallback_service(tower::ServiceExt::map_request(routed, normalise_path))
}

/// SiPass (ASP.NET) matches paths case-insensitively and accepts a trailing slash.
fn normalise_path(mut req: Request) -> Request {
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

/// An error answer with SiPass's `{ErrorCode, Message}` body.
fn sipass_error(status: StatusCode, code: i32, message: &str) -> Response {
    (
        status,
        axum::Json(ErrorBody {
            error_code: code,
            message: message.to_owned(),
        }),
    )
        .into_response()
}

async fn require_client_headers(req: Request, next: Next) -> Response {
    for header in ["clientUniqueId", "language"] {
        if req.headers().get(header).is_none() {
            return sipass_error(
                StatusCode::BAD_REQUEST,
                error_code::INPUT_NOT_VALID,
                &format!("the {header} header is required"),
            );
        }
    }
    next.run(req).await
}

async fn require_session(State(state): State<HrState>, req: Request, next: Next) -> Response {
    match authorization(req.headers()) {
        Some(token) if state.sessions.touch(token) => next.run(req).await,
        _ => sipass_error(
            StatusCode::UNAUTHORIZED,
            error_code::SESSION_EXPIRED,
            "session expired or invalid; log in again",
        ),
    }
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get("Authorization")?.to_str().ok()
}

async fn login(State(state): State<HrState>, body: Bytes) -> Response {
    let Ok(login) = serde_json::from_slice::<Login>(&body) else {
        return sipass_error(
            StatusCode::BAD_REQUEST,
            error_code::INPUT_NOT_VALID,
            "body must be {\"Username\": ..., \"Password\": ...}",
        );
    };
    let token =
        if login.username == state.operator.user && login.password == state.operator.password {
            state.sessions.open(&login.username)
        } else {
            String::new()
        };
    axum::Json(LoginToken { token }).into_response()
}

async fn keep_alive(
    State(state): State<HrState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = authorization(&headers).filter(|t| state.sessions.touch(t)) else {
        return sipass_error(
            StatusCode::UNAUTHORIZED,
            error_code::SESSION_EXPIRED,
            "session expired or invalid; log in again",
        );
    };
    let _ = token;
    if query
        .keys()
        .any(|k| k.eq_ignore_ascii_case("sessiontimeout"))
    {
        return axum::Json(state.sessions.timeout().as_secs()).into_response();
    }
    StatusCode::OK.into_response()
}

async fn session_timeout(State(state): State<HrState>) -> Response {
    axum::Json(state.sessions.timeout().as_secs()).into_response()
}

async fn logout(State(state): State<HrState>, headers: HeaderMap) -> Response {
    if let Some(token) = authorization(&headers) {
        state.sessions.close(token);
    }
    StatusCode::OK.into_response()
}

/// The fields a cardholder list returns when `fields` is not given.
const SUMMARY_FIELDS: [&str; 4] = ["FirstName", "LastName", "Status", "Potrait"];

async fn list_cardholders(
    State(state): State<HrState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let index = |name: &str, default: usize| -> Result<usize, String> {
        match param(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("{name} must be a non-negative integer, not '{v}'")),
        }
    };
    let range = index("startIndex", 0).and_then(|start| {
        let end = index("endIndex", start + 100)?;
        Ok((start, end.min(start.saturating_add(MAX_PAGE))))
    });
    let (start, end) = match range {
        Ok(r) => r,
        Err(message) => {
            return sipass_error(
                StatusCode::BAD_REQUEST,
                error_code::INPUT_NOT_VALID,
                &message,
            );
        }
    };
    let fields = param("fields").filter(|f| !f.trim().is_empty()).map(|f| {
        f.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    let (records, total) = state.site.with_cardholder_page(start, end, |page| {
        page.iter()
            .map(|c| project(c, fields.as_deref()))
            .collect::<Vec<_>>()
    });
    axum::Json(Envelope {
        records,
        total_records: total as i64,
        total_display_records: total as i64,
    })
    .into_response()
}

/// A cardholder as a list returns it: `Token` always, then the requested fields (matched
/// case-insensitively, as ASP.NET does), or the summary fields when none were requested.
fn project(cardholder: &Cardholder, fields: Option<&[String]>) -> Value {
    let Ok(Value::Object(full)) = serde_json::to_value(cardholder) else {
        return Value::Null;
    };
    let wanted = |key: &str| match fields {
        Some(fields) => fields.iter().any(|f| f.eq_ignore_ascii_case(key)),
        None => SUMMARY_FIELDS.contains(&key),
    };
    let mut out: serde_json::Map<String, Value> = full
        .into_iter()
        .filter(|(k, _)| k == "Token" || wanted(k))
        .collect();
    out.insert("_links".to_owned(), Value::Array(Vec::new()));
    Value::Object(out)
}

async fn get_cardholder(State(state): State<HrState>, Path(token): Path<String>) -> Response {
    match state.site.cardholder(&token) {
        Some(c) => axum::Json(c).into_response(),
        None => sipass_error(
            StatusCode::NOT_FOUND,
            error_code::INPUT_NOT_VALID,
            &format!("no cardholder with token '{token}'"),
        ),
    }
}
