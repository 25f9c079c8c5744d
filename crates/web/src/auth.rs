//! Who is asking: sign-in with a password and a session cookie (browsers), API tokens (the
//! CLI, scripts), CSRF protection for browsers, and the [`Viewer`] every API request carries.
//!
//! Sessions are kept in memory, server-side: the cookie holds only a random id, and a
//! restart signs everyone out. A browser's state-changing request must also carry the
//! session's CSRF token in `X-CSRF-Token` (the synchronizer-token pattern), compared in
//! constant time; token-authenticated requests carry no ambient credential and need none.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use model::access::{AccessRole, Viewer};
use serde::{Deserialize, Serialize};
use store::{Accounts, Membership};

use crate::error::{ApiError, Code, ErrorBody};
use crate::{API_TOKEN_USER, AppState};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sipass_session";
/// The header a browser's change carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends after this long without a request.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at once; beyond that the oldest is ended.
const MAX_SESSIONS: usize = 10_000;
/// Failed sign-ins allowed per user name, and per address, within [`FAILURE_WINDOW`].
pub const MAX_FAILURES_PER_USER: u32 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// The shortest password a user may choose.
pub const MIN_PASSWORD: usize = 10;
/// The longest password or name accepted (argon2 would take anything; a body is bounded).
const MAX_PASSWORD: usize = 256;

/// An argon2id PHC string of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| ApiError::new(Code::Internal, "the system's random source failed"))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| ApiError::new(Code::Internal, format!("salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::new(Code::Internal, format!("hashing the password: {e}")))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A random password of 20 letters and digits (about 119 bits), for first starts and resets.
pub fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("the system's random source");
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The SHA-256 of an API token, as kept (the token itself is shown once and never stored).
pub fn token_digest(token: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A password a user chooses: long enough, bounded, printable.
pub fn validate_new_password(field: &str, password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) || password.chars().any(char::is_control) {
        return Err(ApiError::field(
            Code::InvalidBody,
            field,
            format!("a password has {MIN_PASSWORD} to {MAX_PASSWORD} printable characters"),
        ));
    }
    Ok(())
}

/// The administrator made at first start: `admin` with a one-time password (returned, to be
/// printed once) that must be changed at first sign-in; `None` when users exist already.
/// With `fixed`, the password is that one and need not be changed (the demo only).
pub fn first_administrator(
    accounts: &dyn Accounts,
    fixed: Option<&str>,
) -> Result<Option<String>, ApiError> {
    if !accounts.users()?.is_empty() {
        return Ok(None);
    }
    let password = fixed.map_or_else(one_time_password, str::to_owned);
    accounts.put_user(&store::UserRow {
        name: "admin".into(),
        role: "administrator".into(),
        password_hash: hash_password(&password)?,
        must_change_password: fixed.is_none(),
        partitions: Vec::new(),
    })?;
    Ok(Some(password))
}

/// The viewer a stored user acts as.
pub fn viewer_of(m: Membership) -> Viewer {
    Viewer {
        role: if m.user.role == "administrator" {
            AccessRole::Administrator
        } else {
            AccessRole::Operator
        },
        user: m.user.name,
        groups: m.groups,
        partitions: m.partitions,
    }
}

struct Session {
    user: String,
    csrf: String,
    last_used: Instant,
}

/// The signed-in browsers, by session id.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session for `user`: (id, CSRF token).
    fn open(&self, user: &str) -> (String, String) {
        let (id, csrf) = (tls::random_hex(32), tls::random_hex(32));
        let mut sessions = self.lock();
        let now = Instant::now();
        sessions.retain(|_, s| now.duration_since(s.last_used) < SESSION_IDLE);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                user: user.to_owned(),
                csrf: csrf.clone(),
                last_used: now,
            },
        );
        (id, csrf)
    }

    /// The session's (user, CSRF token), its idle time restarted; none when unknown or
    /// expired.
    fn touch(&self, id: &str) -> Option<(String, String)> {
        let mut sessions = self.lock();
        let now = Instant::now();
        let session = sessions.get_mut(id)?;
        if now.duration_since(session.last_used) >= SESSION_IDLE {
            sessions.remove(id);
            return None;
        }
        session.last_used = now;
        Some((session.user.clone(), session.csrf.clone()))
    }

    fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Ends every session of `user` (deleted, or its password reset).
    pub fn close_user(&self, user: &str) {
        self.lock().retain(|_, s| s.user != user);
    }
}

/// Failed sign-ins per user name and per address, within a sliding window.
#[derive(Default)]
pub struct Failures(Mutex<HashMap<String, (u32, Instant)>>);

impl Failures {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keys(user: &str, addr: Option<IpAddr>) -> [(String, u32); 2] {
        [
            (format!("user:{user}"), MAX_FAILURES_PER_USER),
            (
                format!("addr:{}", addr.map(|a| a.to_string()).unwrap_or_default()),
                MAX_FAILURES_PER_ADDRESS,
            ),
        ]
    }

    /// Whether another attempt is allowed now.
    fn allowed(&self, user: &str, addr: Option<IpAddr>) -> bool {
        let failures = self.lock();
        let now = Instant::now();
        Self::keys(user, addr).iter().all(|(key, max)| {
            failures
                .get(key)
                .is_none_or(|(n, since)| now.duration_since(*since) >= FAILURE_WINDOW || n < max)
        })
    }

    fn record(&self, user: &str, addr: Option<IpAddr>) {
        let mut failures = self.lock();
        let now = Instant::now();
        make_room(&mut failures, now);
        for (key, _) in Self::keys(user, addr) {
            let entry = failures.entry(key).or_insert((0, now));
            if now.duration_since(entry.1) >= FAILURE_WINDOW {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    fn clear(&self, user: &str) {
        self.lock().remove(&format!("user:{user}"));
    }
}

/// The most user names and addresses whose failures are remembered: sign-in attempts come
/// from the network, so a flood of made-up names or addresses must not grow the map forever.
const MAX_TRACKED: usize = 100_000;

/// Keeps the failure map under [`MAX_TRACKED`]: first by forgetting what the window has
/// expired, then, under a flood inside one window, by forgetting the oldest half, the
/// entries that lock nobody out first, so that a flood cannot lift a lockout it did not earn.
fn make_room(failures: &mut HashMap<String, (u32, Instant)>, now: Instant) {
    if failures.len() < MAX_TRACKED {
        return;
    }
    failures.retain(|_, (_, since)| now.duration_since(*since) < FAILURE_WINDOW);
    if failures.len() < MAX_TRACKED {
        return;
    }
    let locks = |key: &str, n: u32| {
        let max = if key.starts_with("user:") {
            MAX_FAILURES_PER_USER
        } else {
            MAX_FAILURES_PER_ADDRESS
        };
        n >= max
    };
    let mut order: Vec<(bool, Instant, String)> = failures
        .iter()
        .map(|(key, (n, since))| (locks(key, *n), *since, key.clone()))
        .collect();
    order.sort_unstable();
    for (_, _, key) in order.into_iter().take(MAX_TRACKED / 2) {
        failures.remove(&key);
    }
}

/// How a request was authenticated, for the handlers that care (sign-out, the CSRF token).
#[derive(Clone, Debug)]
pub enum Credential {
    /// A browser session: its id and CSRF token.
    Session { id: String, csrf: String },
    /// An API token (the data folder's, or a user's).
    Token,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn unauthorized() -> ApiError {
    ApiError::new(
        Code::Unauthorized,
        "sign in at /signin, or send 'Authorization: Bearer <token>' with the token from the role's data folder (api-token) or one made for a user",
    )
}

/// Requests a user with a one-time password may still make: read who it is, choose its
/// password, sign out.
fn allowed_before_password_change(req: &Request) -> bool {
    let path = req.uri().path();
    path.ends_with("/session/password")
        || (path.ends_with("/session") && matches!(*req.method(), Method::GET | Method::DELETE))
}

/// Lets the request through with the [`Viewer`] it acts as (`Extension<Viewer>` in a
/// handler) and its [`Credential`]; refuses it otherwise.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let (headers, method) = (req.headers().clone(), req.method().clone());
    match who(&state, &headers, &method).await {
        Ok((viewer, credential, must_change)) => {
            if must_change && !allowed_before_password_change(&req) {
                return ApiError::new(
                    Code::PasswordChangeRequired,
                    "choose your own password first (POST /api/v1/session/password, or the sign-in page)",
                )
                .into_response();
            }
            req.extensions_mut().insert(viewer);
            req.extensions_mut().insert(credential);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

async fn who(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<(Viewer, Credential, bool), ApiError> {
    if let Some(given) = headers.get(header::AUTHORIZATION) {
        let given = given.as_bytes();
        if protocol::constant_time_eq(given, state.token.as_bytes()) {
            return Ok((
                Viewer::administrator(API_TOKEN_USER),
                Credential::Token,
                false,
            ));
        }
        let token = given
            .strip_prefix(b"Bearer ")
            .and_then(|t| std::str::from_utf8(t).ok())
            .filter(|t| t.len() <= 128)
            .ok_or_else(unauthorized)?;
        let digest = token_digest(token);
        let accounts = state.role.accounts.clone();
        let m = runtime::try_blocking(move || -> Result<Option<Membership>, store::StoreError> {
            match accounts.token_user(&digest)? {
                Some(user) => accounts.membership(&user),
                None => Ok(None),
            }
        })
        .await??
        .ok_or_else(unauthorized)?;
        return Ok((viewer_of(m), Credential::Token, false));
    }
    let id = cookie(headers, SESSION_COOKIE).ok_or_else(unauthorized)?;
    let (user, csrf) = state.sessions.touch(id).ok_or_else(unauthorized)?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let given = headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !protocol::constant_time_eq(given, csrf.as_bytes()) {
            return Err(ApiError::new(
                Code::CsrfTokenInvalid,
                "this change needs the session's CSRF token in the X-CSRF-Token header (reload the page)",
            ));
        }
    }
    let accounts = state.role.accounts.clone();
    let name = user.clone();
    let m = runtime::try_blocking(move || accounts.membership(&name))
        .await??
        .ok_or_else(|| {
            state.sessions.close_user(&user);
            unauthorized()
        })?;
    let must_change = m.user.must_change_password;
    Ok((
        viewer_of(m),
        Credential::Session {
            id: id.to_owned(),
            csrf,
        },
        must_change,
    ))
}

/// `POST /api/v1/session`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub user: String,
    pub password: String,
}

/// Who is signed in (`GET /api/v1/session`, and the answer to a sign-in).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionView {
    pub user: String,
    #[schema(value_type = String, example = "administrator")]
    pub role: AccessRole,
    pub groups: Vec<String>,
    pub partitions: Vec<String>,
    /// Set after signing in with a one-time password: everything else is refused until the
    /// user chooses its own.
    pub must_change_password: bool,
    /// The token a browser sends in `X-CSRF-Token` with every change; none for API tokens.
    pub csrf_token: Option<String>,
}

fn session_cookie(id: &str, secure: bool, max_age: u64) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("a cookie of hex digits")
}

/// Signs in: a session cookie and the CSRF token, or 401 naming neither the user nor the
/// password as the wrong one; 429 after too many failures for that user or address.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", security(()), request_body = SignIn, responses((status = 200, description = "Signed in: the session cookie is set; send csrf_token in X-CSRF-Token with every change", body = SessionView), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 429, description = "Too many failed sign-ins", body = ErrorBody)))]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(crate::body_refused)?;
    let SignIn { user, password } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            Code::InvalidBody,
            format!("the body must be a JSON object with user and password: {e}"),
        )
    })?;
    if user.len() > MAX_PASSWORD || password.len() > MAX_PASSWORD {
        return Err(ApiError::new(
            Code::InvalidBody,
            "user or password too long",
        ));
    }
    let addr = peer.map(|axum::Extension(ConnectInfo(a))| a.ip());
    if !state.failures.allowed(&user, addr) {
        return Err(ApiError::new(
            Code::TooManyAttempts,
            format!(
                "too many failed sign-ins for this user or address; try again in {} minutes",
                FAILURE_WINDOW.as_secs() / 60
            ),
        ));
    }
    let accounts = state.role.accounts.clone();
    let name = user.clone();
    let found = runtime::try_blocking(move || -> Result<_, store::StoreError> {
        let m = accounts.membership(&name)?;
        // The same work whether or not the user exists, so that timing tells nothing.
        let hash = m
            .as_ref()
            .map_or(DUMMY_HASH.as_str(), |m| m.user.password_hash.as_str());
        let ok = verify_password(&password, hash);
        Ok(m.filter(|_| ok))
    })
    .await??;
    let Some(m) = found else {
        state.failures.record(&user, addr);
        tracing::info!(user = %user.escape_debug(), ?addr, "a sign-in failed");
        return Err(ApiError::new(
            Code::Unauthorized,
            "wrong user name or password",
        ));
    };
    state.failures.clear(&user);
    let (id, csrf) = state.sessions.open(&m.user.name);
    tracing::info!(user = %m.user.name, "signed in");
    let must_change_password = m.user.must_change_password;
    let viewer = viewer_of(m);
    let view = SessionView {
        user: viewer.user,
        role: viewer.role,
        groups: viewer.groups,
        partitions: viewer.partitions,
        must_change_password,
        csrf_token: Some(csrf),
    };
    let cookie = session_cookie(&id, state.secure_cookies, SESSION_IDLE.as_secs());
    Ok(([(header::SET_COOKIE, cookie)], Json(view)).into_response())
}

/// An argon2 hash of a random password, verified against when the user does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&one_time_password()).unwrap_or_default());

/// `GET /api/v1/session`: who the request acts as.
#[utoipa::path(get, path = "/api/v1/session", tag = "session", responses((status = 200, description = "Who the request acts as", body = SessionView), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody)))]
pub(crate) async fn current(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    axum::Extension(credential): axum::Extension<Credential>,
) -> Result<Response, ApiError> {
    let accounts = state.role.accounts.clone();
    let name = viewer.user.clone();
    let must_change_password = runtime::try_blocking(move || accounts.user(&name))
        .await??
        .is_some_and(|u| u.must_change_password);
    let csrf_token = match credential {
        Credential::Session { csrf, .. } => Some(csrf),
        Credential::Token => None,
    };
    Ok(Json(SessionView {
        user: viewer.user,
        role: viewer.role,
        groups: viewer.groups,
        partitions: viewer.partitions,
        must_change_password,
        csrf_token,
    })
    .into_response())
}

/// `DELETE /api/v1/session`: signs out (the session ends on the server too).
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204, description = "Signed out"), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody)))]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    axum::Extension(credential): axum::Extension<Credential>,
) -> Response {
    if let Credential::Session { id, .. } = credential {
        state.sessions.close(&id);
    }
    (
        axum::http::StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            session_cookie("", state.secure_cookies, 0),
        )],
    )
        .into_response()
}

/// `POST /api/v1/session/password`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// `POST /api/v1/session/password`: the signed-in user chooses its password.
#[utoipa::path(post, path = "/api/v1/session/password", tag = "session", request_body = PasswordChange, responses((status = 204, description = "Changed"), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody)))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(crate::body_refused)?;
    let change: PasswordChange = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            Code::InvalidBody,
            format!("the body must be a JSON object with current and new: {e}"),
        )
    })?;
    validate_new_password("new", &change.new)?;
    if change.new == change.current {
        return Err(ApiError::field(
            Code::InvalidBody,
            "new",
            "choose a password other than the current one",
        ));
    }
    let accounts = state.role.accounts.clone();
    let name = viewer.user.clone();
    runtime::try_blocking(move || -> Result<(), ApiError> {
        let user = accounts.user(&name)?.ok_or_else(unauthorized)?;
        if !verify_password(&change.current, &user.password_hash) {
            return Err(ApiError::field(
                Code::InvalidBody,
                "current",
                "the current password is wrong",
            ));
        }
        accounts.set_password(&name, &hash_password(&change.new)?, false)?;
        Ok(())
    })
    .await??;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// Refuses an operator: the administrator's endpoints (settings, users, synchronization).
pub fn require_administrator(viewer: &Viewer) -> Result<(), ApiError> {
    if viewer.is_administrator() {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::Forbidden,
            format!(
                "'{}' is an operator; only an administrator may do this",
                viewer.user
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_made_up_names_is_bounded_and_keeps_the_lockouts_it_did_not_earn() {
        let failures = Failures::default();
        for _ in 0..MAX_FAILURES_PER_USER {
            failures.record("admin", None);
        }
        assert!(!failures.allowed("admin", None));
        let addr = Some(IpAddr::from([192, 0, 2, 1]));
        for i in 0..(MAX_TRACKED + 10) {
            failures.record(&format!("made-up-{i}"), addr);
        }
        let tracked = failures.lock().len();
        assert!(tracked <= MAX_TRACKED, "{tracked}");
        assert!(
            !failures.allowed("admin", None),
            "the flood lifted a lockout"
        );
        assert!(
            !failures.allowed("anyone", addr),
            "the flooding address is locked out"
        );
    }

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterz", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert!(!verify_password("anything", &DUMMY_HASH));
        assert_ne!(hash, hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn failures_block_a_user_after_the_limit_but_not_another() {
        let failures = Failures::default();
        let addr = Some(IpAddr::from([127, 0, 0, 1]));
        for _ in 0..MAX_FAILURES_PER_USER {
            assert!(failures.allowed("olga", addr));
            failures.record("olga", addr);
        }
        assert!(!failures.allowed("olga", addr));
        assert!(failures.allowed("oleg", addr));
        failures.clear("olga");
        assert!(failures.allowed("olga", addr));
    }

    #[test]
    fn a_session_is_found_by_its_id_until_closed() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.open("olga");
        assert_eq!(sessions.touch(&id), Some(("olga".into(), csrf)));
        assert_eq!(sessions.touch("nope"), None);
        sessions.close_user("olga");
        assert_eq!(sessions.touch(&id), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_and_strict() {
        let c = session_cookie("ab", true, 60);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(
            !session_cookie("ab", false, 60)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}
