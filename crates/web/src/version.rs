//! `GET /api/v1/version`: the compatibility report (this release, the bridge protocol, the
//! proxy's and SiPass's versions and whether the pair is supported), for the Synchronization
//! page and `sipass-bridge version --check`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use role::compatibility::CompatibilityReport;

use crate::AppState;
use crate::error::ErrorBody;

#[utoipa::path(get, path = "/api/v1/version", tag = "monitoring", responses((status = 200, description = "This release's product and protocol versions, the SiPass versions it supports, the proxy's and SiPass's versions from the latest Hello, and the verdict (supported, unsupported or unreachable) with its reason", body = serde_json::Value), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody)))]
pub(crate) async fn version(State(state): State<AppState>) -> Response {
    Json(CompatibilityReport::from_status(&state.role.status)).into_response()
}
