//! Every way a REST API call can fail, from one table: each [`Code`] has a stable name that
//! scripts can match on and the HTTP status it is answered with. The body is always
//! [`ErrorBody`] (`{code, message, field?}`), so a client needs one decoder for every error.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use store::StoreError;

/// The error codes, with their HTTP status (see [`Code::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 401: not signed in, no API token, or the wrong one.
    Unauthorized,
    /// 403: the user may not do this (an operator changing what only an administrator may).
    Forbidden,
    /// 404: no such endpoint, or no entity with that id in the Directory.
    NotFound,
    /// 405: the endpoint exists, the method does not.
    MethodNotAllowed,
    /// 400: the request body is not the JSON the endpoint takes.
    InvalidBody,
    /// 400: a query parameter is missing or malformed.
    InvalidQuery,
    /// 400: a setting's value was refused; nothing changed.
    InvalidSetting,
    /// 413: the request body is larger than the API accepts.
    PayloadTooLarge,
    /// 503: the Directory database cannot be reached or used right now.
    DatabaseUnavailable,
    /// 503: the Directory database is on an older schema; `db update` fixes it.
    DatabaseNeedsUpdate,
    /// 503: the Directory database was written by a newer release.
    DatabaseTooNew,
    /// 500: the Directory's recorded migrations differ from this release's.
    DatabaseModified,
    /// 503: the server serves as many clients of this kind as it will (the live feed).
    Busy,
    /// 400: the action is neither a command nor an output behaviour.
    UnknownCommand,
    /// 422: the entity does not take that command; the message names both.
    CommandNotSupported,
    /// 409: the id names several entities that take the command; give the kind.
    AmbiguousEntity,
    /// 503: the role has no session with the proxy; the command was not sent.
    NotConnected,
    /// 502: the proxy or SiPass failed to carry out the command, or did not answer.
    CommandFailed,
    /// 500: a bug; the message says where.
    Internal,
    /// 422: a backup file was refused (damaged, truncated, another role's, newer); nothing
    /// was replaced.
    BackupRefused,
    /// 507: a backup, restore or update could not write or read a file (full disk, read-only
    /// folder); the message names the path and the cause, nothing half-written remains.
    BackupFailed,
    /// 403: a browser's change without the session's CSRF token (`X-CSRF-Token`).
    CsrfTokenInvalid,
    /// 403: the user signed in with a one-time password and must choose its own first.
    PasswordChangeRequired,
    /// 409: a user, group or partition of that name exists already, or the change would
    /// leave no administrator.
    Conflict,
    /// 429: too many failed sign-ins for that user or address; wait and try again.
    TooManyAttempts,
}

impl Code {
    /// Every code, for the table's own tests and documentation.
    pub const ALL: [Code; 25] = [
        Code::Unauthorized,
        Code::Forbidden,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::InvalidBody,
        Code::InvalidQuery,
        Code::InvalidSetting,
        Code::PayloadTooLarge,
        Code::DatabaseUnavailable,
        Code::DatabaseNeedsUpdate,
        Code::DatabaseTooNew,
        Code::DatabaseModified,
        Code::Busy,
        Code::UnknownCommand,
        Code::CommandNotSupported,
        Code::AmbiguousEntity,
        Code::NotConnected,
        Code::CommandFailed,
        Code::Internal,
        Code::BackupRefused,
        Code::BackupFailed,
        Code::CsrfTokenInvalid,
        Code::PasswordChangeRequired,
        Code::Conflict,
        Code::TooManyAttempts,
    ];

    /// The stable name clients match on; never changed once released.
    pub fn name(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status the code is answered with.
    pub fn status(self) -> StatusCode {
        self.row().1
    }

    /// The table: one row per code.
    fn row(self) -> (&'static str, StatusCode) {
        match self {
            Code::Unauthorized => ("unauthorized", StatusCode::UNAUTHORIZED),
            Code::Forbidden => ("forbidden", StatusCode::FORBIDDEN),
            Code::NotFound => ("not_found", StatusCode::NOT_FOUND),
            Code::MethodNotAllowed => ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
            Code::InvalidBody => ("invalid_body", StatusCode::BAD_REQUEST),
            Code::InvalidQuery => ("invalid_query", StatusCode::BAD_REQUEST),
            Code::InvalidSetting => ("invalid_setting", StatusCode::BAD_REQUEST),
            Code::PayloadTooLarge => ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            Code::DatabaseUnavailable => ("database_unavailable", StatusCode::SERVICE_UNAVAILABLE),
            Code::DatabaseNeedsUpdate => ("database_needs_update", StatusCode::SERVICE_UNAVAILABLE),
            Code::DatabaseTooNew => ("database_too_new", StatusCode::SERVICE_UNAVAILABLE),
            Code::DatabaseModified => ("database_modified", StatusCode::INTERNAL_SERVER_ERROR),
            Code::Busy => ("busy", StatusCode::SERVICE_UNAVAILABLE),
            Code::UnknownCommand => ("unknown_command", StatusCode::BAD_REQUEST),
            Code::CommandNotSupported => {
                ("command_not_supported", StatusCode::UNPROCESSABLE_ENTITY)
            }
            Code::AmbiguousEntity => ("ambiguous_entity", StatusCode::CONFLICT),
            Code::NotConnected => ("not_connected", StatusCode::SERVICE_UNAVAILABLE),
            Code::CommandFailed => ("command_failed", StatusCode::BAD_GATEWAY),
            Code::Internal => ("internal", StatusCode::INTERNAL_SERVER_ERROR),
            Code::BackupRefused => ("backup_refused", StatusCode::UNPROCESSABLE_ENTITY),
            Code::BackupFailed => ("backup_failed", StatusCode::INSUFFICIENT_STORAGE),
            Code::CsrfTokenInvalid => ("csrf_token_invalid", StatusCode::FORBIDDEN),
            Code::PasswordChangeRequired => ("password_change_required", StatusCode::FORBIDDEN),
            Code::Conflict => ("conflict", StatusCode::CONFLICT),
            Code::TooManyAttempts => ("too_many_attempts", StatusCode::TOO_MANY_REQUESTS),
        }
    }
}

/// A failed API call: its code, a message a person can act on, and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    /// The request field (body key or query parameter) a refused value was given for.
    pub field: Option<String>,
}

/// The JSON body of every error answer; the CLI decodes it to show `message` and `field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A refused value of `field`.
    pub fn field(code: Code, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.into()),
            ..ApiError::new(code, message)
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.name().to_owned(),
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.code.status(), Json(self.body())).into_response()
    }
}

/// A handler's blocking call that panicked: a bug, answered 500 rather than a dropped
/// connection.
impl From<runtime::Panicked> for ApiError {
    fn from(e: runtime::Panicked) -> Self {
        ApiError::new(Code::Internal, e.to_string())
    }
}

/// A store error says whether the database is unusable for now (503) or was changed
/// behind this release's back (500); input errors never reach the store.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            _ if e.is_transient() => Code::DatabaseUnavailable,
            // A constraint, a malformed row or a bug: retrying will not help.
            StoreError::Open { .. }
            | StoreError::InUse { .. }
            | StoreError::Sql(_)
            | StoreError::Postgres(_) => Code::Internal,
            StoreError::NeedsUpdate { .. } => Code::DatabaseNeedsUpdate,
            StoreError::NotSupported(_) => Code::BackupRefused,
            StoreError::NewerSchema { .. } => Code::DatabaseTooNew,
            StoreError::ChecksumMismatch { .. }
            | StoreError::Unrecognised { .. }
            | StoreError::Unreadable { .. }
            | StoreError::Damaged { .. } => Code::DatabaseModified,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<role::config::SettingsError> for ApiError {
    fn from(e: role::config::SettingsError) -> Self {
        match e {
            role::config::SettingsError::Invalid(invalid) => {
                ApiError::field(Code::InvalidSetting, invalid.field, invalid.to_string())
            }
            role::config::SettingsError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_name_and_an_error_status() {
        let names: std::collections::BTreeSet<_> = Code::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Code::ALL.len());
        for code in Code::ALL {
            let status = code.status();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code:?}"
            );
        }
    }

    #[test]
    fn a_refused_setting_is_a_400_naming_its_field() {
        let invalid = role::config::InvalidSetting {
            field: "port",
            message: "0 is not a port number from 1 to 65535".into(),
        };
        let error = ApiError::from(role::config::SettingsError::Invalid(invalid));
        assert_eq!(error.code.status(), StatusCode::BAD_REQUEST);
        let body = serde_json::to_value(error.body()).unwrap();
        assert_eq!(body["code"], "invalid_setting");
        assert_eq!(body["field"], "port");
        assert!(body["message"].as_str().unwrap().starts_with("port: "));
    }

    #[test]
    fn store_errors_are_unavailable_or_internal_by_cause() {
        let path = std::path::PathBuf::from("role/directory.db");
        let needs = StoreError::NeedsUpdate {
            database: "Directory",
            path: path.clone(),
            found: 1,
            expected: 2,
        };
        assert_eq!(ApiError::from(needs).code, Code::DatabaseNeedsUpdate);
        let modified = StoreError::ChecksumMismatch {
            database: "Directory",
            path,
            version: 1,
            name: "init".into(),
        };
        assert_eq!(
            ApiError::from(modified).code.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn a_body_without_field_omits_it() {
        let body = serde_json::to_value(ApiError::new(Code::NotFound, "no").body()).unwrap();
        assert!(body.get("field").is_none(), "{body}");
    }
}
