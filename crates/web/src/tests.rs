//! The REST API answered by the real router over a real (temporary) Directory: every error
//! arrives as `{code, message, field?}` with its table status.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::*;

const TOKEN: &str = "test-token";

/// A role over a fresh Directory in a temporary folder (removed on drop).
struct TestRole {
    dir: std::path::PathBuf,
    router: Router,
}

impl TestRole {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sipass-web-{name}-{}-{}",
            std::process::id(),
            runtime::now_millis()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let role = Role::open(role::RoleConfig {
            data_dir: dir.clone(),
            proxy_ca_pem: String::new(),
            proxy_token: String::new(),
            client_name: "test".into(),
        })
        .unwrap();
        let router = router(Arc::new(role), TOKEN.into());
        TestRole { dir, router }
    }

    async fn call(&self, method: &str, uri: &str, body: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Asserts an error answer: its status, code and field.
fn assert_error(
    answer: &(StatusCode, serde_json::Value),
    status: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    let body: ErrorBody = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(body.code, code);
    assert_eq!(body.field.as_deref(), field);
    assert!(!body.message.is_empty());
}

#[tokio::test]
async fn a_wrong_token_is_401() {
    let role = TestRole::new("token");
    let request = Request::builder()
        .uri("/api/v1/sync/status")
        .header("authorization", "Bearer wrong")
        .body(Body::empty())
        .unwrap();
    let response = role.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bad_setting_is_400_naming_the_field_and_changes_nothing() {
    let role = TestRole::new("setting");
    let answer = role.call("PUT", "/api/v1/config", r#"{"port": 0}"#).await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_setting",
        Some("port"),
    );
    let (status, settings) = role.call("GET", "/api/v1/config", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["port"], protocol::DEFAULT_PORT);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400() {
    let role = TestRole::new("body");
    let answer = role.call("PUT", "/api/v1/config", "port=1").await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_body", None);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let role = TestRole::new("large");
    let large = format!(r#"{{"host": "{}"}}"#, "a".repeat(3 << 20));
    let answer = role.call("PUT", "/api/v1/config", &large).await;
    assert_error(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
    );
}

#[tokio::test]
async fn listing_needs_a_known_kind() {
    let role = TestRole::new("kind");
    let missing = role.call("GET", "/api/v1/entities", "").await;
    assert_error(
        &missing,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("kind"),
    );
    let unknown = role
        .call("GET", "/api/v1/entities?kind=spaceship", "")
        .await;
    assert_error(
        &unknown,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("kind"),
    );
    let (status, page) = role.call("GET", "/api/v1/entities?kind=door", "").await;
    assert_eq!(status, StatusCode::OK);
    let page: EntityPage = serde_json::from_value(page).unwrap();
    assert!(page.entities.is_empty() && page.next_after.is_none());
}

#[tokio::test]
async fn an_unknown_entity_or_endpoint_is_404_and_a_wrong_method_405() {
    let role = TestRole::new("notfound");
    let entity = role.call("GET", "/api/v1/entities/42", "").await;
    assert_error(&entity, StatusCode::NOT_FOUND, "not_found", None);
    let endpoint = role.call("GET", "/api/v1/nothing-here", "").await;
    assert_error(&endpoint, StatusCode::NOT_FOUND, "not_found", None);
    let method = role.call("DELETE", "/api/v1/config", "").await;
    assert_error(
        &method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    );
}

#[tokio::test]
async fn the_status_reads_back_as_the_report_type() {
    let role = TestRole::new("status");
    let (status, body) = role.call("GET", "/api/v1/sync/status", "").await;
    assert_eq!(status, StatusCode::OK);
    let report: role::report::SyncStatus = serde_json::from_value(body).unwrap();
    assert!(report.latest_run.is_none());
}

#[tokio::test]
async fn the_page_runs_only_its_own_script_and_never_parses_text_as_html() {
    let role = TestRole::new("page");
    for (path, content_type) in [
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/app.css", "text/css"),
        ("/api/v1/sync/status", "application/json"),
    ] {
        let request = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let response = role.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        assert!(header("content-type").starts_with(content_type), "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
    }
    let page = include_str!("assets/index.html");
    assert!(
        !page.contains("<script>") && !page.contains("<style>"),
        "inline code in the page"
    );
    let script = include_str!("assets/app.js");
    assert!(!script.contains("innerHTML") && !script.contains("insertAdjacentHTML"));
}
