//! The OpenAPI 3 document of the REST API (`GET /api/v1/openapi.json`), generated from the
//! handlers' own annotations and types so that it follows the code.

use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::accounts::{
    Credentials, GroupView, NewToken, PartitionView, TokenRequest, TokenView, UserChange, UserView,
};
use crate::auth::{PasswordChange, SessionView, SignIn};
use crate::error::ErrorBody;
use crate::events::{EventPage, EventSummary};
use crate::{DeepVerification, EntityMatches, EntityPage, EntityView};

/// The document: every endpoint of the Config Tool.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "SiPass Bridge Config Tool API",
        description = "The plugin role's REST API. Sign in (POST /api/v1/session) for a session cookie and send its csrf_token in X-CSRF-Token with every change, or send 'Authorization: Bearer <token>' with the role's api-token or a user's token. Every error is {code, message, field?}."
    ),
    paths(
        crate::health,
        crate::metrics_text,
        crate::sync_status,
        crate::sync_start,
        crate::sync_verify,
        crate::sync_runs,
        crate::config_show,
        crate::config_set,
        crate::entities_list,
        crate::entity_show,
        crate::browse::entity_kinds,
        crate::browse::event_types,
        crate::version::version,
        crate::events::list,
        crate::events::live,
        crate::events::summary,
        crate::alarms::list,
        crate::alarms::live,
        crate::alarms::show,
        crate::alarms::history,
        crate::alarms::acknowledge,
        crate::alarms::entities,
        crate::alarms::add_partition,
        crate::commands::offered,
        crate::commands::send,
        crate::commands::activity,
        crate::resources::db_status,
        crate::resources::db_update,
        crate::resources::db_backup,
        crate::resources::db_backups,
        crate::resources::db_restore,
        crate::resources::role_deactivate,
        crate::resources::role_activate,
        crate::auth::sign_in,
        crate::auth::current,
        crate::auth::sign_out,
        crate::auth::change_password,
        crate::accounts::users_list,
        crate::accounts::user_create,
        crate::accounts::user_update,
        crate::accounts::user_delete,
        crate::accounts::user_reset_password,
        crate::accounts::user_token,
        crate::accounts::tokens_list,
        crate::accounts::token_revoke,
        crate::accounts::groups_list,
        crate::accounts::group_create,
        crate::accounts::group_update,
        crate::accounts::group_delete,
        crate::accounts::partitions_list,
        crate::accounts::partition_create,
        crate::accounts::partition_delete,
        openapi_json,
    ),
    components(schemas(
        ErrorBody, SignIn, SessionView, PasswordChange, UserView, UserChange, Credentials,
        TokenRequest, NewToken, TokenView, GroupView, PartitionView, EntityView, EntityPage, EntityMatches,
        EventPage, EventSummary, DeepVerification, crate::RunView,
        crate::browse::KindList, crate::browse::KindCount, crate::browse::CustomEventList,
        crate::browse::CustomEvent
    )),
    modifiers(&Security),
    security(("bearer" = []), ("session" = []))
)]
pub struct ApiDoc;

/// The two ways to authenticate.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The session cookie set by POST /api/v1/session; changes also need X-CSRF-Token",
            ))),
        );
    }
}

/// The document as JSON.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serializes")
}

/// `GET /api/v1/openapi.json`: this document (no authentication: it holds no data).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "monitoring", security(()),
    responses((status = 200, description = "The OpenAPI 3 document", body = serde_json::Value)))]
pub(crate) async fn openapi_json() -> impl axum::response::IntoResponse {
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(document);
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}
