//! The HR API: SiPass's REST interface under `/api/V1/hr`, as SiPass answers it.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use model::management::ObjectKind;
use model::sipass::{Cardholder, Envelope, Login, LoginToken, error_code};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::http::{
    ApiError, AppState, authorization, bad_input, bound, json, json_body, not_found, param,
    sipass_error, unauthorized,
};
use crate::present::Presentation;
use crate::projection::serialize_kept;
use crate::world::World;

/// The HR API's base path, lower-cased: paths are matched case-insensitively.
pub const BASE: &str = "/api/v1/hr";

/// The largest page one `GET Cardholders` returns, whatever `endIndex` asks.
pub const MAX_PAGE: usize = 10_000;

/// The page `GET Cardholders` returns when `endIndex` is not given.
const DEFAULT_PAGE: usize = 100;

/// Lists SiPass returns as a bare array rather than in the `Records` envelope.
const BARE_ARRAYS: [ObjectKind; 3] = [
    ObjectKind::TimeSchedule,
    ObjectKind::CardTechnology,
    ObjectKind::CredentialProfile,
];

/// Kinds the HR API can create, change and delete (besides cardholders).
const WRITABLE: [ObjectKind; 3] = [
    ObjectKind::WorkGroup,
    ObjectKind::AccessLevel,
    ObjectKind::AccessGroup,
];

/// Kinds the HR API lists.
const LISTED: [ObjectKind; 10] = model::management::HR_LISTS;

/// The routes that need no session: login, keep-alive, logout (they check it themselves).
pub fn open_routes() -> Router<AppState> {
    Router::new().route(
        "/authentication",
        get(keep_alive).post(login).delete(logout),
    )
}

/// The routes that need a live session.
pub fn session_routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/authentication/sessiontimeout", get(session_timeout))
        .route(
            "/cardholders",
            get(list_cardholders).post(create_cardholder),
        )
        .route(
            "/cardholders/{token}",
            get(get_cardholder)
                .put(update_cardholder)
                .delete(delete_cardholder),
        );
    for kind in LISTED {
        router = object_routes(router, kind, WRITABLE.contains(&kind));
    }
    router
}

/// `GET <collection>` and `GET <collection>/{token}` for `kind`, plus POST, PUT and DELETE
/// when `writable`.
pub fn object_routes(
    router: Router<AppState>,
    kind: ObjectKind,
    writable: bool,
) -> Router<AppState> {
    let collection = format!("/{}", kind.collection().to_ascii_lowercase());
    let mut list: MethodRouter<AppState> = get(
        move |State(s): State<AppState>, Query(q): Query<HashMap<String, String>>| async move {
            list_objects(&s, kind, &q)
        },
    );
    let mut one: MethodRouter<AppState> = get(
        move |State(s): State<AppState>, Path(token): Path<String>| async move {
            match s.site.get(kind, &token) {
                Some(v) => json(s.present.object(kind, v)),
                None => not_found(&format!("no {kind} with token '{token}'")),
            }
        },
    );
    if writable {
        list = list.post(
            move |State(s): State<AppState>, body: Result<Bytes, BytesRejection>| async move {
                create_object(&s, kind, body)
            },
        );
        one = one
            .put(
                move |State(s): State<AppState>,
                      Path(token): Path<String>,
                      body: Result<Bytes, BytesRejection>| async move {
                    update_object(&s, kind, &token, body)
                },
            )
            .delete(
                move |State(s): State<AppState>, Path(token): Path<String>| async move {
                    delete_object(&s, kind, &token)
                },
            );
    }
    router
        .route(&collection, list)
        .route(&format!("{collection}/{{token}}"), one)
}

/// A list of `kind`: in the envelope, or a bare array for the kinds SiPass sends so.
/// `WorkGroups?workGroupID=<token>` answers that one workgroup, as SiPass does.
fn list_objects(state: &AppState, kind: ObjectKind, query: &HashMap<String, String>) -> Response {
    if kind == ObjectKind::WorkGroup
        && let Some(id) = param(query, "workGroupID").filter(|v| !v.is_empty())
    {
        return match state.site.get(kind, id) {
            Some(v) => json(state.present.object(kind, v)),
            None => not_found(&format!("no workgroup with token '{id}'")),
        };
    }
    let records: Vec<Value> = state
        .site
        .list(kind)
        .into_iter()
        .map(|v| state.present.object(kind, v))
        .collect();
    if BARE_ARRAYS.contains(&kind) {
        return json(records);
    }
    if kind == ObjectKind::AccessPoint {
        // Val0429 recorded `"TotalRecords": -1, "TotalDisplayRecords": -1` here.
        return json(Envelope {
            records,
            total_records: -1,
            total_display_records: -1,
        });
    }
    envelope(records)
}

/// The `{Records, TotalRecords, TotalDisplayRecords}` envelope of a whole list.
pub fn envelope(records: Vec<Value>) -> Response {
    let total = records.len() as i64;
    json(Envelope {
        records,
        total_records: total,
        total_display_records: total,
    })
}

fn create_object(
    state: &AppState,
    kind: ObjectKind,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match json_body(body) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    match state.site.create(kind, body) {
        Ok(token) => {
            let created = state
                .site
                .get(kind, &token.to_string())
                .map(|v| state.present.object(kind, v))
                .unwrap_or(Value::Null);
            (StatusCode::CREATED, axum::Json(created)).into_response()
        }
        Err(e) => change_error(e),
    }
}

fn update_object(
    state: &AppState,
    kind: ObjectKind,
    token: &str,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match json_body(body) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    match state.site.update(kind, token, body) {
        Ok(()) => json(
            state
                .site
                .get(kind, token)
                .map(|v| state.present.object(kind, v))
                .unwrap_or(Value::Null),
        ),
        Err(e) => change_error(e),
    }
}

fn delete_object(state: &AppState, kind: ObjectKind, token: &str) -> Response {
    match state.site.delete(kind, token) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => change_error(e),
    }
}

/// The answer for a refused change: 404 for an unknown token, 400 for a bad body.
pub fn change_error(e: crate::site::ChangeError) -> Response {
    use crate::site::ChangeError;
    use crate::table::RowError;
    match e {
        ChangeError::NotFound { .. } | ChangeError::Row(RowError::NotFound { .. }) => {
            not_found(&e.to_string())
        }
        ChangeError::Row(RowError::Invalid { .. }) | ChangeError::Invalid(_) => {
            bad_input(&e.to_string())
        }
    }
}

async fn login(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let login = match json_body(body).and_then(|v| bound::<Login>(v, "login")) {
        Ok(login) => login,
        Err(_) => {
            return bad_input("body must be {\"Username\": ..., \"Password\": ...}");
        }
    };
    if state.faults.refuse_logins() {
        return sipass_error(
            StatusCode::FORBIDDEN,
            error_code::API_LICENSE_NOT_AVAILABLE,
            "SipassAPILicenseNotAvailable: the HR API Connect licence is not available",
        );
    }
    let token =
        if login.username == state.operator.user && login.password == state.operator.password {
            state.sessions.open(&login.username)
        } else {
            String::new()
        };
    json(LoginToken { token })
}

async fn keep_alive(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorization(&headers).is_some_and(|t| state.sessions.touch(t)) {
        return unauthorized();
    }
    if query
        .keys()
        .any(|k| k.eq_ignore_ascii_case("sessiontimeout"))
    {
        return json(state.sessions.timeout().as_secs());
    }
    StatusCode::OK.into_response()
}

async fn session_timeout(State(state): State<AppState>) -> Response {
    json(state.sessions.timeout().as_secs())
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = authorization(&headers) {
        state.sessions.close(token);
    }
    StatusCode::OK.into_response()
}

/// The fields a cardholder list returns when `fields` is not given.
const SUMMARY_FIELDS: [&str; 4] = ["FirstName", "LastName", "Status", "Potrait"];

/// `sortingOrder={"FieldName":"LastName","Value":"","SortingOrder":0}`; 1 is descending.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Sorting {
    field_name: String,
    sorting_order: i32,
}

/// What `GET Cardholders` was asked for.
struct CardholderQuery {
    start: usize,
    end: usize,
    fields: Option<Vec<String>>,
    search: String,
    sorting: Sorting,
    /// `filterExpression`'s non-empty constraints: (field, wanted text).
    filter: Vec<(String, String)>,
}

fn parse_cardholder_query(query: &HashMap<String, String>) -> Result<CardholderQuery, String> {
    let index = |name: &str, default: usize| -> Result<usize, String> {
        match param(query, name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("{name} must be a non-negative integer, not '{v}'")),
        }
    };
    let start = index("startIndex", 0)?;
    let end = index("endIndex", start + DEFAULT_PAGE)?;
    let fields = param(query, "fields")
        .filter(|f| !f.trim().is_empty())
        .map(|f| {
            f.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        });
    let sorting = match param(query, "sortingOrder").filter(|v| !v.trim().is_empty()) {
        None => Sorting::default(),
        Some(v) => {
            serde_json::from_str(v).map_err(|e| format!("sortingOrder is not valid: {e}"))?
        }
    };
    let filter = match param(query, "filterExpression").filter(|v| !v.trim().is_empty()) {
        None => Vec::new(),
        Some(v) => parse_filter(v)?,
    };
    Ok(CardholderQuery {
        start,
        end: end.min(start.saturating_add(MAX_PAGE)),
        fields,
        search: param(query, "searchString")
            .unwrap_or("")
            .trim()
            .to_lowercase(),
        sorting,
        filter,
    })
}

/// `filterExpression` is a JSON object of field -> value (SiPass clients send `{}` or
/// `{'Identifier': ''}`, so single quotes are accepted). Empty values constrain nothing.
fn parse_filter(text: &str) -> Result<Vec<(String, String)>, String> {
    let value: Value = serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&text.replace('\'', "\"")))
        .map_err(|e| format!("filterExpression is not valid JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("filterExpression must be a JSON object".to_owned());
    };
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, value_text(&v)))
        .filter(|(_, v)| !v.is_empty())
        .collect())
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn list_cardholders(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let q = match parse_cardholder_query(&query) {
        Ok(q) => q,
        Err(message) => return bad_input(&message),
    };
    // Building and writing a page of thousands of cardholders takes milliseconds of CPU: it
    // runs on the blocking pool so that the async workers keep serving other calls (the
    // proxy asks two pages at once).
    match tokio::task::spawn_blocking(move || cardholder_page(&state, &q)).await {
        Ok(page) => page,
        Err(e) => sipass_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_code::INTERNAL_SERVER_ERROR,
            &format!("the cardholder page could not be built: {e}"),
        ),
    }
}

/// The answer to `GET Cardholders`: the page `q` asks for in the envelope.
fn cardholder_page(state: &AppState, q: &CardholderQuery) -> Response {
    // Cardholders are taken under the lock; turning them into JSON happens outside it, so a
    // large page does not hold up writers.
    let (cardholders, total) = {
        let world = state.site.read();
        let (tokens, total) = select_cardholders(&world, q);
        let cardholders: Vec<Cardholder> = tokens
            .iter()
            .filter_map(|&t| world.cardholders.get(t))
            .collect();
        (cardholders, total)
    };
    listed_page(&state.present, cardholders, total, q.fields.as_deref())
}

/// A page of `cardholders` (of `total` matching) with the listed `fields`. Written straight
/// from the shaped structs where the release allows, through JSON trees otherwise.
fn listed_page(
    present: &Presentation,
    cardholders: Vec<Cardholder>,
    total: usize,
    fields: Option<&[String]>,
) -> Response {
    if present.cardholder_is_shaped() {
        let records = cardholders
            .into_iter()
            .map(|c| Listed::new(present.shaped(c, &[]), fields))
            .collect();
        json(page_envelope(records, total))
    } else {
        let records = cardholders
            .into_iter()
            .map(|c| project(present.cardholder(c, &[]), fields))
            .collect();
        json(page_envelope(records, total))
    }
}

/// The envelope of one page of a list of `total` matching records.
fn page_envelope<T>(records: Vec<T>, total: usize) -> Envelope<T> {
    Envelope {
        records,
        total_records: total as i64,
        total_display_records: total as i64,
    }
}

/// The tokens of the requested page, and how many cardholders match in all. Plain paging
/// is a rank lookup; a search, filter or sort reads every cardholder (names without
/// building them where possible).
fn select_cardholders(world: &World, q: &CardholderQuery) -> (Vec<u64>, usize) {
    let store = &world.cardholders;
    if q.search.is_empty() && q.filter.is_empty() && q.sorting.field_name.is_empty() {
        return (store.page(q.start, q.end), store.len());
    }
    let mut matching: Vec<u64> = store
        .tokens()
        .filter(|&t| q.search.is_empty() || matches_search(world, t, &q.search))
        .filter(|&t| q.filter.is_empty() || matches_filter(world, t, &q.filter))
        .collect();
    if !q.sorting.field_name.is_empty() {
        sort_tokens(world, &mut matching, &q.sorting);
    }
    let total = matching.len();
    let (start, end) = (q.start.min(total), q.end.min(total));
    (matching[start..end.max(start)].to_vec(), total)
}

/// `searchString`: a case-insensitive part of the first name, last name or employee number.
fn matches_search(world: &World, token: u64, needle: &str) -> bool {
    let store = &world.cardholders;
    if let Some((first, last)) = store.names(token)
        && (first.to_lowercase().contains(needle) || last.to_lowercase().contains(needle))
    {
        return true;
    }
    store
        .get(token)
        .is_some_and(|c| c.employee_number.to_lowercase().contains(needle))
}

/// Every constraint holds: the top-level field (case-insensitive) equals the text,
/// case-insensitively. `Identifier` matches the employee number or any card number.
fn matches_filter(world: &World, token: u64, filter: &[(String, String)]) -> bool {
    let Some(c) = world.cardholders.get(token) else {
        return false;
    };
    let Ok(Value::Object(full)) = serde_json::to_value(&c) else {
        return false;
    };
    filter.iter().all(|(field, wanted)| {
        if field.eq_ignore_ascii_case("Identifier") {
            return c.employee_number.eq_ignore_ascii_case(wanted)
                || c.credentials.iter().any(|k| k.card_number == *wanted);
        }
        full.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(field))
            .is_some_and(|(_, v)| value_text(v).eq_ignore_ascii_case(wanted))
    })
}

fn sort_tokens(world: &World, tokens: &mut [u64], sorting: &Sorting) {
    let field = sorting.field_name.as_str();
    let store = &world.cardholders;
    let key = |t: u64| -> String {
        if field.eq_ignore_ascii_case("FirstName") {
            store.names(t).map(|n| n.0).unwrap_or_default()
        } else if field.eq_ignore_ascii_case("LastName") {
            store.names(t).map(|n| n.1).unwrap_or_default()
        } else {
            store
                .get(t)
                .and_then(|c| serde_json::to_value(&c).ok())
                .and_then(|v| {
                    v.as_object()?
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(field))
                        .map(|(_, v)| value_text(v))
                })
                .unwrap_or_default()
        }
    };
    if field.eq_ignore_ascii_case("Token") {
        if sorting.sorting_order == 1 {
            tokens.reverse();
        }
        return;
    }
    let mut keyed: Vec<(String, u64)> = tokens.iter().map(|&t| (key(t), t)).collect();
    keyed.sort_by(|a, b| {
        let order =
            a.0.to_lowercase()
                .cmp(&b.0.to_lowercase())
                .then(a.1.cmp(&b.1));
        if sorting.sorting_order == 1 {
            order.reverse()
        } else {
            order
        }
    });
    for (slot, (_, t)) in tokens.iter_mut().zip(keyed) {
        *slot = t;
    }
}

/// True when a list answers `key` of a cardholder: `Token` always, then the requested
/// fields (matched case-insensitively, as ASP.NET does), or the summary fields when none
/// were requested.
fn is_listed(key: &str, fields: Option<&[String]>) -> bool {
    key == "Token"
        || match fields {
            Some(fields) => fields.iter().any(|f| f.eq_ignore_ascii_case(key)),
            None => SUMMARY_FIELDS.contains(&key),
        }
}

/// A cardholder as a list returns it: its listed fields and an empty `_links`.
fn project(presented: Value, fields: Option<&[String]>) -> Value {
    let Value::Object(full) = presented else {
        return Value::Null;
    };
    let mut out: serde_json::Map<String, Value> = full
        .into_iter()
        .filter(|(k, _)| is_listed(k, fields))
        .collect();
    out.insert("_links".to_owned(), Value::Array(Vec::new()));
    Value::Object(out)
}

/// A shaped cardholder as a list returns it, written straight from the struct: what
/// [`project`] makes of its JSON tree, without the tree.
struct Listed<'a> {
    cardholder: Cardholder,
    fields: Option<&'a [String]>,
}

impl<'a> Listed<'a> {
    fn new(mut cardholder: Cardholder, fields: Option<&'a [String]>) -> Self {
        cardholder.links = Vec::new();
        Listed { cardholder, fields }
    }
}

impl Serialize for Listed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_kept(&self.cardholder, serializer, |key| {
            key == "_links" || is_listed(key, self.fields)
        })
    }
}

async fn get_cardholder(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match presented_cardholder(&state, &token) {
        Some(c) => json(c),
        None => not_found(&format!("no cardholder with token '{token}'")),
    }
}

/// A cardholder as SiPass answers it, with its primary workgroup's rules.
fn presented_cardholder(state: &AppState, token: &str) -> Option<Value> {
    let (cardholder, rules) = {
        let world = state.site.read();
        let cardholder = world.cardholders.get(token.trim().parse().ok()?)?;
        let rules = u64::try_from(cardholder.primary_workgroup_id)
            .ok()
            .and_then(|t| world.workgroups.get(t))
            .map(|g| g.access_policy_rules.clone())
            .unwrap_or_default();
        (cardholder, rules)
    };
    Some(state.present.cardholder(cardholder, &rules))
}

/// Where `Potrait` URLs point (lower-cased, as routing sees paths). Outside the HR API's
/// base, as in SiPass.
pub const IMAGES: &str = "/api/v1/cardholders/images";

/// `GET api/V1/cardholders/images?imgId=<token>&token=<key>&noCache=<n>`: the portrait as
/// JPEG (Val0429 shows the URL; that it answers the image with the key in the URL and no
/// session is ours). 404 for an unknown cardholder or a wrong key.
pub async fn portrait(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = param(&query, "imgId").unwrap_or("").trim().to_owned();
    let key = param(&query, "token").unwrap_or("");
    let Some(cardholder) = state.site.cardholder(&id) else {
        return not_found(&format!("no portrait with imgId '{id}'"));
    };
    if !key.eq_ignore_ascii_case(&crate::present::image_key(&id)) {
        return not_found(&format!("no portrait with imgId '{id}' and that token"));
    }
    let jpeg = cardholder
        .cardholder_portrait
        .as_deref()
        .and_then(crate::present::decode_base64)
        .filter(|b| !b.is_empty())
        .or_else(|| crate::present::decode_base64(crate::present::PLACEHOLDER_JPEG_BASE64))
        .unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response()
}

/// A cardholder body as SiPass takes it: the fields every source sends must be there, even
/// if `null` (SiPass answers 500 otherwise, reference §1.6); the rest take their defaults;
/// it is bound as ASP.NET binds (`model::lenient`), and a value of the wrong kind is 400.
pub fn cardholder_body(body: Result<Bytes, BytesRejection>) -> Result<Cardholder, ApiError> {
    let value = json_body(body)?;
    let Value::Object(map) = &value else {
        return Err(ApiError::bad_input("a cardholder must be a JSON object"));
    };
    let missing: Vec<&str> = Cardholder::REQUIRED
        .iter()
        .filter(|f| !map.keys().any(|k| k.eq_ignore_ascii_case(f)))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_code::INTERNAL_SERVER_ERROR,
            format!(
                "An error has occurred. Object reference not set to an instance of an object ({})",
                missing.join(", ")
            ),
        ));
    }
    bound(value, "cardholder")
}

async fn create_cardholder(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let cardholder = match cardholder_body(body) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let token = state.site.create_cardholder(cardholder);
    match presented_cardholder(&state, &token.to_string()) {
        Some(c) => (StatusCode::CREATED, axum::Json(c)).into_response(),
        None => not_found("the cardholder was deleted right after it was created"),
    }
}

async fn update_cardholder(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if state.site.cardholder(&token).is_none() {
        return not_found(&format!("no cardholder with token '{token}'"));
    }
    let cardholder = match cardholder_body(body) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    if !state.site.update_cardholder(&token, cardholder) {
        return not_found(&format!("no cardholder with token '{token}'"));
    }
    match presented_cardholder(&state, &token) {
        Some(c) => json(c),
        None => not_found(&format!("no cardholder with token '{token}'")),
    }
}

async fn delete_cardholder(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if state.site.delete_cardholder(&token) {
        StatusCode::OK.into_response()
    } else {
        not_found(&format!("no cardholder with token '{token}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::present::tests::samples;
    use model::SiPassVersion;

    /// The page as the tree-editing presentation answered it.
    fn old_page(present: &Presentation, fields: Option<&[String]>) -> Value {
        let records: Vec<Value> = samples()
            .iter()
            .map(|c| project(present.old_cardholder(c, &[]), fields))
            .collect();
        serde_json::to_value(page_envelope(records, 1234)).unwrap()
    }

    async fn page(present: &Presentation, fields: Option<&[String]>) -> Value {
        let response = listed_page(present, samples(), 1234, fields);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[axum::http::header::CONTENT_TYPE],
            "application/json"
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// The proxy's projection (every field but `Token`), others, and none.
    fn projections() -> Vec<Option<Vec<String>>> {
        let owned = |fields: &[&str]| Some(fields.iter().map(|&f| f.to_owned()).collect());
        let proxy: Vec<&str> = Cardholder::FIELDS
            .into_iter()
            .filter(|f| *f != "Token")
            .collect();
        vec![
            owned(&proxy),
            owned(&Cardholder::FIELDS),
            owned(&["firstname", "CREDENTIALS", "Nope"]),
            owned(&[
                "PrimaryWorkGroupAccessRule",
                "CardholderPortrait",
                "_links",
                "customfields",
                "Potrait",
            ]),
            None,
        ]
    }

    #[tokio::test]
    async fn a_listed_page_answers_as_the_edited_trees_did() {
        for version in [
            SiPassVersion::V2_80,
            SiPassVersion::V2_76,
            SiPassVersion::V2_70,
        ] {
            let present = Presentation::new(version, "+08:00");
            for fields in projections() {
                let fields = fields.as_deref();
                assert_eq!(
                    page(&present, fields).await,
                    old_page(&present, fields),
                    "{version:?} {fields:?}"
                );
            }
        }
    }

    #[test]
    fn pages_are_written_from_the_structs_from_2_76() {
        assert!(Presentation::new(SiPassVersion::V2_76, "+00:00").cardholder_is_shaped());
        assert!(!Presentation::new(SiPassVersion::V2_75, "+00:00").cardholder_is_shaped());
    }
}
