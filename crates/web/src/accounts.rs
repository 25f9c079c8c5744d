//! Users, user groups and partitions (`/api/v1/users`, `/groups`, `/partitions`): for
//! administrators only. A user reaches the partitions given to it and those of its groups;
//! an operator sees only what lies in one of them (see [`model::access::Viewer::sees`]).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::access::{AccessRole, Viewer};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use store::{Accounts, GroupRow, UserRow};

use crate::AppState;
use crate::auth::{
    hash_password, one_time_password, require_administrator, token_digest, validate_new_password,
};
use crate::error::{ApiError, Code, ErrorBody};

/// The longest user, group or partition name.
pub const MAX_NAME: usize = 64;

/// A user as the API shows it (never its password hash).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    pub name: String,
    #[schema(value_type = String, example = "operator")]
    pub role: AccessRole,
    /// Partitions given to the user directly.
    pub partitions: Vec<String>,
    /// The groups it belongs to.
    pub groups: Vec<String>,
    pub must_change_password: bool,
}

/// `POST /users` and `PUT /users/{name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// Only when creating.
    #[serde(default)]
    pub name: Option<String>,
    #[schema(value_type = String, example = "operator")]
    pub role: AccessRole,
    #[serde(default)]
    pub partitions: Vec<String>,
    /// Only when creating; none makes a one-time password, shown once.
    #[serde(default)]
    pub password: Option<String>,
}

/// The answer to creating a user or resetting its password: the one-time password, shown
/// once, which the user must change at its first sign-in.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    pub user: String,
    pub one_time_password: Option<String>,
}

/// `POST /users/{name}/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub label: String,
}

/// A new API token, shown once (only its digest is kept).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// What revokes it (`DELETE /api/v1/tokens/{id}`).
    pub id: String,
    pub user: String,
    pub label: String,
    pub token: String,
}

/// An API token as listed: an id to revoke it by, its user and label (never the token).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenView {
    /// The first 16 hex digits of the token's SHA-256: names it without revealing it.
    pub id: String,
    pub user: String,
    pub label: String,
}

/// How many hex digits of a token's digest make its id.
const TOKEN_ID_DIGITS: usize = 16;

/// A token's id: the start of its digest.
pub fn token_id(digest: &str) -> String {
    digest.chars().take(TOKEN_ID_DIGITS).collect()
}

/// A group as given and shown.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupView {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub partitions: Vec<String>,
}

/// `POST /partitions`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionView {
    pub name: String,
}

fn json_body<T: DeserializeOwned>(
    body: Result<axum::body::Bytes, BytesRejection>,
    what: &str,
) -> Result<T, ApiError> {
    let body = body.map_err(crate::body_refused)?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(Code::InvalidBody, format!("the body must be {what}: {e}")))
}

/// A name: trimmed, 1 to [`MAX_NAME`] printable characters. `field` is the body's key that
/// held it (`name`, `label`), for the page to show the refusal beside that field; `noun`
/// says what the name is of.
pub fn validate_name(noun: &str, field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::field(
            Code::InvalidBody,
            field,
            format!("a {noun} name has 1 to {MAX_NAME} printable characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Every name in `given` is one of `known`, without repeats.
fn existing(field: &str, given: &[String], known: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out = BTreeSet::new();
    for name in given {
        if !known.contains(name) {
            return Err(ApiError::field(
                Code::InvalidBody,
                field,
                format!(
                    "there is no {} named '{}'; create it first",
                    field.trim_end_matches('s'),
                    name.escape_debug()
                ),
            ));
        }
        out.insert(name.clone());
    }
    Ok(out.into_iter().collect())
}

/// A partition that a setting names (the SiPass entities', every alarm's) stays: deleting it
/// would take every operator out of it at once while the setting still names it, and it
/// could not be given to anyone again until it is created anew.
fn partition_unused(directory: &dyn store::Directory, name: &str) -> Result<(), ApiError> {
    let settings = role::config::read(directory)?;
    let (what, flag) = if settings.entity_partitions.iter().any(|p| p == name) {
        (
            "the SiPass entities and their events",
            "--entity-partitions",
        )
    } else if settings.alarm_partitions.iter().any(|p| p == name) {
        ("every alarm", "--alarm-partitions")
    } else {
        return Ok(());
    };
    Err(ApiError::field(
        Code::Conflict,
        "name",
        format!(
            "the partition '{}' holds {what} (Properties; `sipass-bridge config show`): name other partitions there first (`sipass-bridge config set {flag} ...`), then delete it",
            name.escape_debug()
        ),
    ))
}

fn role_name(role: AccessRole) -> &'static str {
    match role {
        AccessRole::Administrator => "administrator",
        AccessRole::Operator => "operator",
    }
}

fn not_found(what: &str, name: &str) -> ApiError {
    ApiError::new(
        Code::NotFound,
        format!("there is no {what} named '{}'", name.escape_debug()),
    )
}

/// Runs `f` on the accounts off the async threads, for an administrator only.
async fn admin<T: Send + 'static>(
    state: &AppState,
    viewer: &Viewer,
    f: impl FnOnce(&dyn Accounts) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    require_administrator(viewer)?;
    let accounts = state.role.accounts.clone();
    runtime::try_blocking(move || f(&*accounts)).await?
}

fn user_views(accounts: &dyn Accounts) -> Result<Vec<UserView>, ApiError> {
    let groups = accounts.groups()?;
    Ok(accounts
        .users()?
        .into_iter()
        .map(|u| UserView {
            groups: groups
                .iter()
                .filter(|g| g.members.contains(&u.name))
                .map(|g| g.name.clone())
                .collect(),
            role: if u.role == "administrator" {
                AccessRole::Administrator
            } else {
                AccessRole::Operator
            },
            name: u.name,
            partitions: u.partitions,
            must_change_password: u.must_change_password,
        })
        .collect())
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, description = "Every user", body = Vec<UserView>), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody)))]
pub(crate) async fn users_list(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
) -> Result<Response, ApiError> {
    let users = admin(&state, &viewer, user_views).await?;
    Ok(Json(users).into_response())
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserChange, responses((status = 201, description = "Created, with its one-time password when none was given", body = Credentials), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 409, description = "It exists already, or it would leave no administrator", body = ErrorBody)))]
pub(crate) async fn user_create(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let change: UserChange = json_body(body, "a JSON object with name, role and partitions")?;
    let name = validate_name("user", "name", change.name.as_deref().unwrap_or_default())?;
    if let Some(p) = &change.password {
        validate_new_password("password", p)?;
    }
    let created = admin(&state, &viewer, move |accounts| {
        if accounts.user(&name)?.is_some() {
            return Err(ApiError::field(
                Code::Conflict,
                "name",
                format!("a user named '{}' exists already", name.escape_debug()),
            ));
        }
        let partitions = existing("partitions", &change.partitions, &accounts.partitions()?)?;
        let one_time = change.password.is_none().then(one_time_password);
        let password = change
            .password
            .as_deref()
            .or(one_time.as_deref())
            .unwrap_or_default();
        accounts.put_user(&UserRow {
            name: name.clone(),
            role: role_name(change.role).into(),
            password_hash: hash_password(password)?,
            must_change_password: one_time.is_some(),
            partitions,
        })?;
        Ok(Credentials {
            user: name,
            one_time_password: one_time,
        })
    })
    .await?;
    tracing::info!(by = %viewer.user, user = %created.user, "user created");
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(put, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path, description = "The name")), request_body = UserChange, responses((status = 204, description = "Changed"), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 404, description = "No such thing", body = ErrorBody), (status = 409, description = "It exists already, or it would leave no administrator", body = ErrorBody)))]
pub(crate) async fn user_update(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    UrlPath(name): UrlPath<String>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let change: UserChange = json_body(body, "a JSON object with role and partitions")?;
    if change.password.is_some() || change.name.as_ref().is_some_and(|n| *n != name) {
        return Err(ApiError::new(
            Code::InvalidBody,
            "a user's name and password are not changed here (reset the password with POST /users/{name}/password)",
        ));
    }
    admin(&state, &viewer, move |accounts| {
        let mut user = accounts
            .user(&name)?
            .ok_or_else(|| not_found("user", &name))?;
        let role = role_name(change.role);
        if user.role == "administrator" && role != user.role && accounts.administrators()? <= 1 {
            return Err(ApiError::field(
                Code::Conflict,
                "role",
                "this is the last administrator; make another one first",
            ));
        }
        user.partitions = existing("partitions", &change.partitions, &accounts.partitions()?)?;
        user.role = role.into();
        accounts.put_user(&user)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(delete, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path, description = "The name")), responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 404, description = "No such thing", body = ErrorBody), (status = 409, description = "It exists already, or it would leave no administrator", body = ErrorBody)))]
pub(crate) async fn user_delete(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ApiError> {
    if name == viewer.user {
        return Err(ApiError::new(
            Code::Conflict,
            "you cannot delete yourself; another administrator can",
        ));
    }
    let gone = name.clone();
    admin(&state, &viewer, move |accounts| {
        let user = accounts
            .user(&name)?
            .ok_or_else(|| not_found("user", &name))?;
        if user.role == "administrator" && accounts.administrators()? <= 1 {
            return Err(ApiError::new(
                Code::Conflict,
                "this is the last administrator; make another one first",
            ));
        }
        accounts.delete_user(&name)?;
        Ok(())
    })
    .await?;
    state.sessions.close_user(&gone);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new one-time password for the user, who must change it at its next sign-in; its
/// sessions end.
#[utoipa::path(post, path = "/api/v1/users/{name}/password", tag = "users", params(("name" = String, Path, description = "The name")), responses((status = 200, description = "A new one-time password", body = Credentials), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 404, description = "No such thing", body = ErrorBody)))]
pub(crate) async fn user_reset_password(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ApiError> {
    let user = name.clone();
    let credentials = admin(&state, &viewer, move |accounts| {
        let password = one_time_password();
        if !accounts.set_password(&name, &hash_password(&password)?, true)? {
            return Err(not_found("user", &name));
        }
        Ok(Credentials {
            user: name,
            one_time_password: Some(password),
        })
    })
    .await?;
    state.sessions.close_user(&user);
    Ok(Json(credentials).into_response())
}

/// A new API token for the user (the CLI, scripts), shown once.
#[utoipa::path(post, path = "/api/v1/users/{name}/tokens", tag = "users", params(("name" = String, Path, description = "The name")), request_body = TokenRequest, responses((status = 201, description = "The token, shown once", body = NewToken), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 404, description = "No such thing", body = ErrorBody)))]
pub(crate) async fn user_token(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    UrlPath(name): UrlPath<String>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: TokenRequest = json_body(body, "a JSON object with label")?;
    let label = validate_name("label", "label", &request.label)?;
    let token = admin(&state, &viewer, move |accounts| {
        accounts
            .user(&name)?
            .ok_or_else(|| not_found("user", &name))?;
        let token = tls::random_hex(32);
        let digest = token_digest(&token);
        accounts.add_token(&digest, &name, &label)?;
        Ok(NewToken {
            id: token_id(&digest),
            user: name,
            label,
            token,
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(token)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct TokensQuery {
    user: Option<String>,
}

/// The API tokens (all, or one user's), to see which exist and revoke one.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "users", params(("user" = Option<String>, Query, description = "Only this user's tokens")), responses((status = 200, description = "The API tokens, by user then label (never the tokens themselves)", body = Vec<TokenView>), (status = 400, description = "A malformed query", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody)))]
pub(crate) async fn tokens_list(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    query: Result<axum::extract::Query<TokensQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let axum::extract::Query(query) = query.map_err(crate::query_refused)?;
    let tokens = admin(&state, &viewer, move |accounts| {
        Ok(accounts
            .tokens()?
            .into_iter()
            .filter(|t| query.user.as_ref().is_none_or(|u| *u == t.user))
            .map(|t| TokenView {
                id: token_id(&t.digest),
                user: t.user,
                label: t.label,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(tokens).into_response())
}

/// Revokes an API token: the next request made with it is 401.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "users", params(("id" = String, Path, description = "The token's id, as GET /api/v1/tokens lists it")), responses((status = 204, description = "Revoked"), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 404, description = "No such thing", body = ErrorBody)))]
pub(crate) async fn token_revoke(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let missing = |id: &str| {
        ApiError::new(
            Code::NotFound,
            format!(
                "there is no API token with id '{}'; `sipass-bridge users tokens list` lists them",
                id.chars().take(40).collect::<String>().escape_debug()
            ),
        )
    };
    if id.len() != TOKEN_ID_DIGITS || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(missing(&id));
    }
    let revoked = admin(&state, &viewer, move |accounts| {
        let id = id.to_ascii_lowercase();
        let token = accounts
            .tokens()?
            .into_iter()
            .find(|t| token_id(&t.digest) == id)
            .ok_or_else(|| missing(&id))?;
        accounts.delete_token(&token.digest)?;
        Ok(token)
    })
    .await?;
    tracing::info!(by = %viewer.user, user = %revoked.user, label = %revoked.label, "API token revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(get, path = "/api/v1/groups", tag = "users", responses((status = 200, description = "Every user group", body = Vec<GroupView>), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody)))]
pub(crate) async fn groups_list(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
) -> Result<Response, ApiError> {
    let groups = admin(&state, &viewer, |accounts| Ok(accounts.groups()?)).await?;
    let groups: Vec<GroupView> = groups
        .into_iter()
        .map(|g| GroupView {
            name: g.name,
            members: g.members,
            partitions: g.partitions,
        })
        .collect();
    Ok(Json(groups).into_response())
}

/// Creates (`POST /groups`) or replaces (`PUT /groups/{name}`) a group.
async fn put_group(
    state: AppState,
    viewer: Viewer,
    name: String,
    group: GroupView,
    create: bool,
) -> Result<(), ApiError> {
    let name = validate_name("group", "name", &name)?;
    admin(&state, &viewer, move |accounts| {
        let exists = accounts.groups()?.iter().any(|g| g.name == name);
        if create && exists {
            return Err(ApiError::field(
                Code::Conflict,
                "name",
                format!("a group named '{}' exists already", name.escape_debug()),
            ));
        }
        if !create && !exists {
            return Err(not_found("group", &name));
        }
        let users: Vec<String> = accounts.users()?.into_iter().map(|u| u.name).collect();
        accounts.put_group(&GroupRow {
            members: existing("members", &group.members, &users)?,
            partitions: existing("partitions", &group.partitions, &accounts.partitions()?)?,
            name,
        })?;
        Ok(())
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/groups", tag = "users", request_body = GroupView, responses((status = 201, description = "Created"), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 409, description = "It exists already, or it would leave no administrator", body = ErrorBody)))]
pub(crate) async fn group_create(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let group: GroupView = json_body(body, "a JSON object with name, members and partitions")?;
    put_group(state, viewer, group.name.clone(), group, true).await?;
    Ok(StatusCode::CREATED.into_response())
}

#[utoipa::path(put, path = "/api/v1/groups/{name}", tag = "users", params(("name" = String, Path, description = "The name")), request_body = GroupView, responses((status = 204, description = "Changed"), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 404, description = "No such thing", body = ErrorBody)))]
pub(crate) async fn group_update(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    UrlPath(name): UrlPath<String>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let group: GroupView = json_body(body, "a JSON object with members and partitions")?;
    put_group(state, viewer, name, group, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(delete, path = "/api/v1/groups/{name}", tag = "users", params(("name" = String, Path, description = "The name")), responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 404, description = "No such thing", body = ErrorBody)))]
pub(crate) async fn group_delete(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ApiError> {
    admin(&state, &viewer, move |accounts| {
        if accounts.delete_group(&name)? {
            Ok(())
        } else {
            Err(not_found("group", &name))
        }
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(get, path = "/api/v1/partitions", tag = "users", responses((status = 200, description = "Every partition", body = Vec<PartitionView>), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody)))]
pub(crate) async fn partitions_list(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
) -> Result<Response, ApiError> {
    let partitions = admin(&state, &viewer, |accounts| Ok(accounts.partitions()?)).await?;
    let partitions: Vec<PartitionView> = partitions
        .into_iter()
        .map(|name| PartitionView { name })
        .collect();
    Ok(Json(partitions).into_response())
}

#[utoipa::path(post, path = "/api/v1/partitions", tag = "users", request_body = PartitionView, responses((status = 201, description = "Created"), (status = 400, description = "A refused body or value; `field` names it", body = ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 409, description = "It exists already, or it would leave no administrator", body = ErrorBody)))]
pub(crate) async fn partition_create(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let partition: PartitionView = json_body(body, "a JSON object with name")?;
    let name = validate_name("partition", "name", &partition.name)?;
    admin(&state, &viewer, move |accounts| {
        if accounts.partitions()?.contains(&name) {
            return Err(ApiError::field(
                Code::Conflict,
                "name",
                format!("a partition named '{}' exists already", name.escape_debug()),
            ));
        }
        accounts.add_partition(&name)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::CREATED.into_response())
}

#[utoipa::path(delete, path = "/api/v1/partitions/{name}", tag = "users", params(("name" = String, Path, description = "The name")), responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 403, description = "An operator, a missing CSRF token, or a password to change first", body = ErrorBody), (status = 404, description = "No such thing", body = ErrorBody), (status = 409, description = "A setting names it (entity or alarm partitions)", body = ErrorBody)))]
pub(crate) async fn partition_delete(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ApiError> {
    require_administrator(&viewer)?;
    let directory = state.role.directory.clone();
    let checked = name.clone();
    runtime::try_blocking(move || partition_unused(&*directory, &checked)).await??;
    admin(&state, &viewer, move |accounts| {
        if accounts.delete_partition(&name)? {
            Ok(())
        } else {
            Err(not_found("partition", &name))
        }
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
