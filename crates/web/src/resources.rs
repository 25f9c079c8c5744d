//! The Resources page's calls: the databases' status, update, backup and restore, and
//! deactivating and activating the role (docs/databases.md).
//!
//! Backup and restore name files on the role's machine (no upload: a backup of a large site
//! is gigabytes, and the role's disk is where it is written and read). A path from a request
//! is hostile: it must be absolute, of bounded length, and never inside the data folder
//! except its `backups` folder, so that no request can overwrite or read back the databases,
//! the API token or any other file the role keeps.

use std::path::{Component, Path, PathBuf};

use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use model::access::Viewer;
use role::maintenance::{MaintenanceError, Operation};
use serde::{Deserialize, Serialize};
use store::backup::{BackupError, Manifest, RestoreReport};
use store::migrate::{DatabaseStatus, UpdateReport};

use crate::{ApiError, AppState, Code, body_refused};

/// The folder of the data folder where backups may be written and read by name.
pub const BACKUPS: &str = "backups";

/// The longest path a request may give.
const MAX_PATH: usize = 1024;

/// `GET /api/v1/db/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DbStatus {
    pub databases: Vec<DatabaseStatus>,
    /// The backup, restore or update running now, with its progress.
    pub operation: Option<Operation>,
    /// Why the role is deactivated, while it is.
    pub deactivated: Option<String>,
}

/// `POST /api/v1/db/update`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DbUpdated {
    pub databases: Vec<UpdateReport>,
}

/// The body of `POST /api/v1/db/backup`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// Where to write it on the role's machine (absolute); by default a new file named
    /// after the time in the data folder's `backups` folder.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// The answer of `POST /api/v1/db/backup`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupWritten {
    pub file: PathBuf,
    pub manifest: Manifest,
}

/// The body of `POST /api/v1/db/restore`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// The backup file on the role's machine (absolute).
    pub file: PathBuf,
    /// Restore a backup of another role (this role takes its identity).
    #[serde(default)]
    pub accept_foreign: bool,
}

/// One file of the data folder's backups folder (`GET /api/v1/db/backups`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupFile {
    /// Its absolute path, as `POST /api/v1/db/restore` takes it.
    pub file: PathBuf,
    pub bytes: u64,
    /// When the file was last written (RFC 3339).
    pub modified: String,
    /// What it holds, when its manifest reads.
    pub manifest: Option<Manifest>,
    /// Why its manifest does not read (not a backup, damaged), otherwise absent.
    pub unreadable: Option<String>,
}

/// `GET /api/v1/db/backups`: the newest first, at most [`MAX_LISTED`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupList {
    /// The folder listed.
    pub folder: PathBuf,
    pub backups: Vec<BackupFile>,
    /// Files left out beyond [`MAX_LISTED`].
    pub more: usize,
}

/// The most backups listed: anyone can drop files in the folder, the page stays small.
pub const MAX_LISTED: usize = 100;

/// The body of `POST /api/v1/role/deactivate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeactivateRequest {
    /// Why, shown in the health (default: "deactivated by <user>").
    #[serde(default)]
    pub reason: Option<String>,
}

/// The answer of the activation calls: whether anything changed, and the health after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivationChanged {
    pub changed: bool,
    pub health: role::Health,
}

impl From<MaintenanceError> for ApiError {
    fn from(e: MaintenanceError) -> Self {
        match e {
            MaintenanceError::Busy(_) => ApiError::new(Code::Busy, e.to_string()),
            MaintenanceError::Refused(ref refused) if names_a_wrong_path(refused) => {
                ApiError::field(Code::BackupRefused, "file", e.to_string())
            }
            MaintenanceError::Refused(
                BackupError::Io { .. } | BackupError::Replace { .. } | BackupError::Update { .. },
            ) => ApiError::new(Code::BackupFailed, e.to_string()),
            MaintenanceError::Refused(BackupError::Store(store)) => store.into(),
            MaintenanceError::Refused(refused) => {
                ApiError::field(Code::BackupRefused, "file", refused.to_string())
            }
            MaintenanceError::Store(store) => store.into(),
            MaintenanceError::Internal(p) => p.into(),
            MaintenanceError::KeepState { .. } => ApiError::new(Code::BackupFailed, e.to_string()),
            MaintenanceError::Standby(_) => ApiError::new(Code::Conflict, e.to_string()),
        }
    }
}

/// Whether an I/O failure is the caller's path (no such file or folder, a folder where a
/// file was named, no permission to it), which another path fixes: refused (422, naming
/// the field) rather than reported as the role's storage failing (507).
fn names_a_wrong_path(refused: &BackupError) -> bool {
    use std::io::ErrorKind;
    let BackupError::Io { cause, .. } = refused else {
        return false;
    };
    matches!(
        cause.kind(),
        ErrorKind::NotFound
            | ErrorKind::IsADirectory
            | ErrorKind::NotADirectory
            | ErrorKind::PermissionDenied
    )
}

/// Backup, restore, update and activation are an administrator's: they replace or stop what
/// every user relies on, and name files on the role's machine.
fn require_administrator(viewer: &Viewer, what: &str) -> Result<(), ApiError> {
    if viewer.is_administrator() {
        return Ok(());
    }
    Err(ApiError::new(
        Code::Forbidden,
        format!(
            "only an administrator may {what}; {} is an operator",
            protocol::printable(&viewer.user, 100)
        ),
    ))
}

/// Reads a JSON body (an empty one is the default).
fn json_body<T: serde::de::DeserializeOwned + Default>(
    body: Result<axum::body::Bytes, BytesRejection>,
    what: &str,
) -> Result<T, ApiError> {
    let body = body.map_err(body_refused)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(Code::InvalidBody, format!("the body must be {what}: {e}")))
}

/// A file a request names: absolute, plain (no `..`), bounded, and outside the data folder
/// except in its backups folder.
fn requested_file(file: &Path, data: &Path) -> Result<PathBuf, ApiError> {
    let refuse = |why: String| ApiError::field(Code::InvalidBody, "file", why);
    let text = file.to_string_lossy();
    if text.len() > MAX_PATH || text.contains('\0') {
        return Err(refuse(format!(
            "the path must be at most {MAX_PATH} bytes, without NUL"
        )));
    }
    if !file.is_absolute() || file.components().any(|c| c == Component::ParentDir) {
        return Err(refuse(format!(
            "'{}' must be an absolute path on the role's machine, without '..'",
            text.escape_debug()
        )));
    }
    if file
        .file_name()
        .is_none_or(|n| n.to_string_lossy().starts_with('.'))
    {
        return Err(refuse(format!(
            "'{}' must name a file whose name does not start with '.'",
            text.escape_debug()
        )));
    }
    let data = std::fs::canonicalize(data).unwrap_or_else(|_| data.to_owned());
    let folder = file.parent().unwrap_or(Path::new("/"));
    let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_owned());
    if folder.starts_with(&data) && folder != data.join(BACKUPS) {
        return Err(refuse(format!(
            "'{}' is in the role's data folder; backups go in {} or outside the data folder",
            text.escape_debug(),
            data.join(BACKUPS).display()
        )));
    }
    Ok(folder.join(file.file_name().expect("checked above")))
}

#[utoipa::path(get, operation_id = "db_status", path = "/api/v1/db/status", tag = "databases", responses((status = 200, description = "Each database: file, schema version found and expected, size, rows per table; the operation running and whether the role is deactivated", body = serde_json::Value), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Administrators only", body = crate::ErrorBody)))]
pub(crate) async fn db_status(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, ApiError> {
    require_administrator(&viewer, "see the databases")?;
    let role = state.role.clone();
    let databases = runtime::try_blocking(move || role.database_status()).await??;
    Ok(Json(DbStatus {
        databases,
        operation: state.role.maintenance.current(),
        deactivated: state.role.activation.deactivated().await,
    })
    .into_response())
}

#[utoipa::path(get, operation_id = "db_backups", path = "/api/v1/db/backups", tag = "databases", responses((status = 200, description = "The backups in the data folder's backups folder, newest first, each with its manifest (or why it does not read)", body = serde_json::Value), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Administrators only", body = crate::ErrorBody)))]
pub(crate) async fn db_backups(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, ApiError> {
    require_administrator(&viewer, "see the backups")?;
    let folder = state.role.data_dir().join(BACKUPS);
    let list = runtime::try_blocking(move || list_backups(folder)).await?;
    Ok(Json(list).into_response())
}

/// The regular files of `folder` (none when it does not exist yet), newest first; only the
/// manifests of the first [`MAX_LISTED`] are read.
fn list_backups(folder: PathBuf) -> BackupList {
    let mut files: Vec<(std::time::SystemTime, PathBuf, u64)> = std::fs::read_dir(&folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|entry| {
            let meta = entry.metadata().ok().filter(|m| m.is_file())?;
            Some((meta.modified().ok()?, entry.path(), meta.len()))
        })
        .collect();
    files.sort_by_key(|file| std::cmp::Reverse(file.0));
    let more = files.len().saturating_sub(MAX_LISTED);
    let backups = files
        .into_iter()
        .take(MAX_LISTED)
        .map(|(modified, file, bytes)| {
            let millis = modified
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let (manifest, unreadable) = match store::backup::read_manifest_of(&file) {
                Ok(m) => (Some(m), None),
                Err(e) => (None, Some(e.to_string())),
            };
            BackupFile {
                file,
                bytes,
                modified: model::time::rfc3339_millis(millis),
                manifest,
                unreadable,
            }
        })
        .collect();
    BackupList {
        folder,
        backups,
        more,
    }
}

#[utoipa::path(post, operation_id = "db_update", path = "/api/v1/db/update", tag = "databases", responses((status = 200, description = "The migrations applied to each database (the role is deactivated around them)", body = serde_json::Value), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Administrators only", body = crate::ErrorBody), (status = 409, description = "Another backup, restore, update or activation is running", body = crate::ErrorBody), (status = 507, description = "A file could not be written or read (full disk, read-only folder); the message names it", body = crate::ErrorBody)))]
pub(crate) async fn db_update(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, ApiError> {
    require_administrator(&viewer, "update the databases")?;
    tracing::info!(user = %viewer.user, "database update requested");
    let databases = state.role.update_databases().await?;
    Ok(Json(DbUpdated { databases }).into_response())
}

#[utoipa::path(post, operation_id = "db_backup", path = "/api/v1/db/backup", tag = "databases", request_body(content = serde_json::Value, description = "`{\"file\": \"/absolute/path\"}`, or empty for the data folder's backups folder"), responses((status = 200, description = "The file written and its manifest", body = serde_json::Value), (status = 400, description = "A refused body or value; `field` names it", body = crate::ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Administrators only", body = crate::ErrorBody), (status = 409, description = "Another backup, restore, update or activation is running", body = crate::ErrorBody), (status = 507, description = "A file could not be written or read (full disk, read-only folder); the message names it", body = crate::ErrorBody)))]
pub(crate) async fn db_backup(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_administrator(&viewer, "back up the databases")?;
    let request: BackupRequest = json_body(body, "a JSON object with an optional file")?;
    let data = state.role.data_dir().to_owned();
    let file = match request.file {
        Some(file) => requested_file(&file, &data)?,
        None => {
            let folder = data.join(BACKUPS);
            std::fs::create_dir_all(&folder).map_err(|e| {
                ApiError::new(
                    Code::BackupFailed,
                    format!("cannot create {}: {e}", folder.display()),
                )
            })?;
            let stamp = model::time::rfc3339_millis(runtime::now_millis()).replace(':', "-");
            folder.join(format!("backup-{stamp}.sipass-backup"))
        }
    };
    tracing::info!(user = %viewer.user, file = %file.display(), "backup requested");
    let manifest = state.role.backup(file.clone()).await?;
    Ok(Json(BackupWritten { file, manifest }).into_response())
}

#[utoipa::path(post, operation_id = "db_restore", path = "/api/v1/db/restore", tag = "databases", request_body(content = serde_json::Value, description = "`{\"file\": \"/absolute/path\", \"accept_foreign\": false}`"), responses((status = 200, description = "The manifest restored and the updates applied after it", body = serde_json::Value), (status = 400, description = "A refused body or value; `field` names it", body = crate::ErrorBody), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Administrators only", body = crate::ErrorBody), (status = 409, description = "Another backup, restore, update or activation is running", body = crate::ErrorBody), (status = 422, description = "The backup file was refused (damaged, truncated, another role's, newer); nothing was replaced", body = crate::ErrorBody), (status = 507, description = "A file could not be written or read (full disk, read-only folder); the message names it", body = crate::ErrorBody)))]
pub(crate) async fn db_restore(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_administrator(&viewer, "restore the databases")?;
    let body = body.map_err(body_refused)?;
    let request: RestoreRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            Code::InvalidBody,
            format!("the body must be a JSON object with file and an optional accept_foreign: {e}"),
        )
    })?;
    let file = requested_file(&request.file, state.role.data_dir())?;
    tracing::info!(user = %viewer.user, file = %file.display(), "restore requested");
    let report: RestoreReport = state.role.restore(file, request.accept_foreign).await?;
    Ok(Json(report).into_response())
}

#[utoipa::path(post, operation_id = "role_deactivate", path = "/api/v1/role/deactivate", tag = "role", request_body(content = serde_json::Value, description = "`{\"reason\": \"...\"}` (optional), shown in the health"), responses((status = 200, description = "The health once deactivated", body = serde_json::Value), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Administrators only", body = crate::ErrorBody), (status = 409, description = "Another backup, restore, update or activation is running", body = crate::ErrorBody)))]
pub(crate) async fn role_deactivate(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_administrator(&viewer, "deactivate the role")?;
    let request: DeactivateRequest = json_body(body, "a JSON object with an optional reason")?;
    let reason = match request.reason {
        Some(r) => protocol::printable(r.trim(), 200),
        None => format!("by {}", viewer.user),
    };
    tracing::info!(user = %viewer.user, reason = %reason, "deactivation requested");
    let role = &state.role;
    let change = role.deactivate_when_idle(&reason).await?;
    Ok(Json(ActivationChanged {
        changed: change == role::activation::Change::Done,
        health: role.status.health(),
    })
    .into_response())
}

#[utoipa::path(post, operation_id = "role_activate", path = "/api/v1/role/activate", tag = "role", responses((status = 200, description = "The health once activated", body = serde_json::Value), (status = 401, description = "Not signed in, or a wrong token", body = crate::ErrorBody), (status = 403, description = "Administrators only", body = crate::ErrorBody), (status = 409, description = "Another backup, restore, update or activation is running", body = crate::ErrorBody)))]
pub(crate) async fn role_activate(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, ApiError> {
    require_administrator(&viewer, "activate the role")?;
    tracing::info!(user = %viewer.user, "activation requested");
    let role = &state.role;
    let change = role.activate_when_idle().await?;
    Ok(Json(ActivationChanged {
        changed: change == role::activation::Change::Done,
        health: role.status.health(),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use model::access::AccessRole;

    use super::*;

    #[test]
    fn only_an_administrator_backs_up_restores_updates_or_deactivates() {
        assert!(require_administrator(&Viewer::administrator("ann"), "restore").is_ok());
        let operator = Viewer {
            role: AccessRole::Operator,
            ..Viewer::administrator("olga\u{1b}[2J")
        };
        let refused = require_administrator(&operator, "restore the databases").unwrap_err();
        assert_eq!(refused.code, Code::Forbidden);
        assert!(
            refused
                .message
                .starts_with("only an administrator may restore the databases")
        );
        assert!(!refused.message.contains('\u{1b}'), "{}", refused.message);
    }

    #[test]
    fn a_requested_file_may_be_in_the_backups_folder_but_nowhere_else_in_the_data_folder() {
        let data = std::env::temp_dir().join(format!("web-paths-{}", std::process::id()));
        std::fs::create_dir_all(data.join(BACKUPS).join("deeper")).unwrap();
        let named = data.join(BACKUPS).join("named.backup");
        assert_eq!(
            requested_file(&named, &data).unwrap(),
            std::fs::canonicalize(data.join(BACKUPS))
                .unwrap()
                .join("named.backup")
        );
        for refused in [
            data.join("directory.db"),
            data.join(BACKUPS).join("deeper").join("x.backup"),
            data.join(BACKUPS).join(".x.backup.partial"),
        ] {
            let e = requested_file(&refused, &data).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("file"), "{}", refused.display());
        }
        let outside = std::env::temp_dir().join("elsewhere.backup");
        assert!(requested_file(&outside, &data).is_ok());
        let _ = std::fs::remove_dir_all(&data);
    }
}
