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
    role: Arc<Role>,
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
            database_url: None,
            proxy_ca_pem: String::new(),
            proxy_token: String::new(),
            client_name: "test".into(),
        })
        .unwrap();
        let role = Arc::new(role);
        let router = router(role.clone(), TOKEN.into());
        TestRole { dir, router, role }
    }

    async fn call(&self, method: &str, uri: &str, body: &str) -> (StatusCode, serde_json::Value) {
        self.call_as(TOKEN, method, uri, body).await
    }

    /// A call with `token` (a user's API token).
    async fn call_as(
        &self,
        token: &str,
        method: &str,
        uri: &str,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
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
async fn a_refused_name_names_the_body_field_the_users_page_shows_it_beside() {
    let role = TestRole::new("name-field");
    for (endpoint, body) in [
        (
            "/api/v1/users",
            r#"{"name": "a\u0000b", "role": "operator"}"#,
        ),
        (
            "/api/v1/groups",
            r#"{"name": " ", "members": [], "partitions": []}"#,
        ),
        ("/api/v1/partitions", r#"{"name": ""}"#),
    ] {
        let answer = role.call("POST", endpoint, body).await;
        assert_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("name"),
        );
    }
}

#[tokio::test]
async fn a_partition_a_setting_names_is_not_deleted() {
    let role = TestRole::new("partition-in-use");
    for name in ["North", "South"] {
        let body = serde_json::json!({ "name": name }).to_string();
        let (status, _) = role.call("POST", "/api/v1/partitions", &body).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, _) = role
        .call(
            "PUT",
            "/api/v1/config",
            r#"{"alarm_partitions": ["South"]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let answer = role.call("DELETE", "/api/v1/partitions/SiPass", "").await;
    assert_error(&answer, StatusCode::CONFLICT, "conflict", Some("name"));
    let message = answer.1["message"].as_str().unwrap();
    assert!(message.contains("--entity-partitions"), "{message}");
    let answer = role.call("DELETE", "/api/v1/partitions/South", "").await;
    assert_error(&answer, StatusCode::CONFLICT, "conflict", Some("name"));
    assert!(
        answer.1["message"]
            .as_str()
            .unwrap()
            .contains("--alarm-partitions")
    );
    let (_, partitions) = role.call("GET", "/api/v1/partitions", "").await;
    assert_eq!(partitions.as_array().unwrap().len(), 3, "{partitions}");

    let (status, _) = role.call("DELETE", "/api/v1/partitions/North", "").await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "a partition no setting names goes"
    );
    let (status, _) = role
        .call(
            "PUT",
            "/api/v1/config",
            r#"{"entity_partitions": ["South"]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = role.call("DELETE", "/api/v1/partitions/SiPass", "").await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "once the setting names another"
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400() {
    let role = TestRole::new("body");
    let answer = role.call("PUT", "/api/v1/config", "port=1").await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_body", None);
    // An unknown setting is named with the ones there are, not only the first three.
    let answer = role
        .call("PUT", "/api/v1/config", r#"{"webhook": "x"}"#)
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_body", None);
    let message = answer.1["message"].as_str().unwrap();
    assert!(
        message.contains("`webhook`") && message.contains("alarm_webhook_url"),
        "{message}"
    );
    assert!(!message.contains("and/or"), "{message}");
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
async fn an_unknown_page_is_a_404_page_that_leads_back_and_repeats_nothing() {
    let role = TestRole::new("no-page");
    let request = Request::builder()
        .uri("/synchronisation%3Cscript%3E")
        .body(Body::empty())
        .unwrap();
    let response = role.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a page a browser shows"
    );
    assert!(
        response
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8_lossy(&bytes);
    assert!(html.contains(r#"<a href="/synchronization">"#), "{html}");
    assert!(
        !html.contains("script"),
        "the address is not repeated: {html}"
    );
    // The API keeps its JSON answer.
    let endpoint = role.call("GET", "/api/v1/nothing-here", "").await;
    assert_error(&endpoint, StatusCode::NOT_FOUND, "not_found", None);
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
        ("/synchronization", "text/html"),
        ("/signin", "text/html"),
        ("/app.js", "text/javascript"),
        ("/pages/users.js", "text/javascript"),
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
    let scripts = pages::PAGES
        .iter()
        .map(|p| p.id)
        .chain(["signin"])
        .map(|id| format!("/pages/{id}.js"))
        .chain(["/app.js".to_owned()]);
    for path in scripts {
        let request = Request::builder().uri(&path).body(Body::empty()).unwrap();
        let response = role.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let script = String::from_utf8(bytes.to_vec()).unwrap();
        for parser in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!script.contains(parser), "{path} uses {parser}");
        }
    }
}

fn new_event(seq: u64, event_type: &str, entity: &str) -> store::NewEvent {
    store::NewEvent {
        journal_seq: seq,
        sipass_id: (500 + seq).to_string(),
        occurred_at: model::time::rfc3339_millis(1_795_340_000_000 + seq as i64 * 1000),
        occurred_ms: 1_795_340_000_000 + seq as i64 * 1000,
        journaled_ms: 0,
        sipass_type: event_type.into(),
        native_events: vec![],
        category: "Door".into(),
        known_type: true,
        message: "=cmd|' /C calc'!A0\nforged".into(),
        entities: vec![store::EventEntity {
            kind: "door".into(),
            id: entity.into(),
            name: "Door".into(),
        }],
        payload: "{}".into(),
    }
}

#[tokio::test]
async fn events_are_listed_filtered_and_paged_and_bad_filters_name_the_field() {
    let test = TestRole::new("events");
    let batch: Vec<store::NewEvent> = (1..=5)
        .map(|s| {
            new_event(
                s,
                if s == 3 { "Door Forced" } else { "Door Closed" },
                if s == 4 { "9" } else { "1" },
            )
        })
        .collect();
    let position = store::EventPosition {
        journal_id: "j".into(),
        sequence: 5,
    };
    test.role
        .plugin
        .store_events(&batch, &vec![], &position)
        .unwrap();
    let seqs = |body: &serde_json::Value| -> Vec<u64> {
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["journal_seq"].as_u64().unwrap())
            .collect()
    };
    let (status, body) = test
        .call("GET", "/api/v1/events?type=door%20forced", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(seqs(&body), [3]);
    assert_eq!(body["events"][0]["sipass_id"], "503");
    let (_, body) = test.call("GET", "/api/v1/events?entity=9", "").await;
    assert_eq!(seqs(&body), [4]);
    let (_, body) = test
        .call(
            "GET",
            "/api/v1/events?since=2026-11-22T09:33:22Z&until=1795340004000",
            "",
        )
        .await;
    assert_eq!(seqs(&body), [2, 3]);
    let (_, body) = test.call("GET", "/api/v1/events?limit=2", "").await;
    assert_eq!(seqs(&body), [1, 2]);
    let after = body["next_after"].as_i64().unwrap();
    let (_, body) = test
        .call("GET", &format!("/api/v1/events?limit=2&after={after}"), "")
        .await;
    assert_eq!(seqs(&body), [3, 4]);
    let (status, body) = test.call("GET", "/api/v1/events?since=yesterday", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (body["code"].as_str(), body["field"].as_str()),
        (Some("invalid_query"), Some("since"))
    );
    let (status, body) = test.call("GET", "/api/v1/events?limit=-1", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (body["code"].as_str(), body["field"].as_str()),
        (Some("invalid_query"), Some("limit")),
        "a malformed number names its parameter: {body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("query parameter limit: "),
        "{body}"
    );
    // A page of nothing is a mistake said as one, not read as a page of one.
    for path in [
        "/api/v1/events?limit=0",
        "/api/v1/activity?limit=0",
        "/api/v1/alarms?limit=0",
        "/api/v1/entities?kind=door&limit=0",
        "/api/v1/sync/runs?limit=0",
    ] {
        let (status, body) = test.call("GET", path, "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["field"], "limit", "{path}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("0 lists nothing")
        );
    }
    let (status, _) = test.call("GET", "/api/v1/events?limit=20000", "").await;
    assert_eq!(status, StatusCode::OK, "a larger page is cut to the most");
    let tally = vec![("ignored:Door Closed".to_owned(), 3)];
    let next = store::EventPosition {
        journal_id: "j".into(),
        sequence: 8,
    };
    test.role.plugin.store_events(&[], &tally, &next).unwrap();
    let (status, body) = test.call("GET", "/api/v1/events/summary", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stored"], 5);
    assert_eq!(body["position"]["sequence"], 8);
    assert_eq!(body["counters"]["ignored:Door Closed"], 3);
}

/// Reads the live feed's body until `want` appears or the stream ends; the text read.
async fn read_live(body: Body, want: &str) -> String {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut text = String::new();
    // Beyond a live feed's recheck, for the tests of what a recheck ends.
    let deadline = events::RECHECK * 2;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(deadline, body.frame()).await {
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
            if text.contains(want) {
                break;
            }
        }
    }
    text
}

#[tokio::test]
async fn the_live_feed_sends_stored_events_and_drops_a_client_that_lags() {
    let test = TestRole::new("live");
    let request = || {
        Request::builder()
            .uri("/api/v1/events/live")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap()
    };
    let response = test.router.clone().oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = response.into_body();
    let stored = test
        .role
        .plugin
        .store_events(
            &[new_event(1, "Door Closed", "1")],
            &vec![],
            &store::EventPosition {
                journal_id: "j".into(),
                sequence: 1,
            },
        )
        .unwrap();
    test.role.feed.publish(stored[0].clone());
    let text = read_live(body, "\n\n").await;
    assert!(text.starts_with("event: stored\n"), "{text}");
    assert!(text.contains("\"sipass_type\":\"Door Closed\""), "{text}");
    assert_eq!(
        text.matches('\n').count(),
        4,
        "a newline in SiPass's text stays escaped: {text}"
    );

    // A client that does not read while more than the buffer is published is dropped.
    let response = test.router.clone().oneshot(request()).await.unwrap();
    let body = response.into_body();
    for _ in 0..role::events::FEED_BUFFER + 10 {
        test.role.feed.publish(stored[0].clone());
    }
    let text = read_live(body, "event: lagged").await;
    assert!(text.contains("event: lagged"), "{text}");
}

#[tokio::test]
async fn backup_paths_must_be_absolute_plain_and_outside_the_data_folder() {
    let role = TestRole::new("backup-paths");
    let inside = role.dir.join("api-token");
    for file in [
        "relative.backup".to_owned(),
        "/tmp/../etc/x.backup".to_owned(),
        inside.display().to_string(),
        role.dir.join(".hidden").display().to_string(),
        format!("/tmp/{}", "x".repeat(2000)),
    ] {
        let body = serde_json::json!({ "file": file }).to_string();
        for endpoint in ["/api/v1/db/backup", "/api/v1/db/restore"] {
            let answer = role.call("POST", endpoint, &body).await;
            assert_error(
                &answer,
                StatusCode::BAD_REQUEST,
                "invalid_body",
                Some("file"),
            );
        }
    }
    let answer = role
        .call("POST", "/api/v1/db/backup", "{\"path\": 1}")
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_body", None);
}

#[tokio::test]
async fn a_path_with_no_backup_or_no_folder_is_refused_with_422_not_507() {
    let role = TestRole::new("backup-wrong-path");
    let missing = std::env::temp_dir().join("sipass-bridge-no-such-backup-7f3a.backup");
    let no_folder = std::env::temp_dir()
        .join("sipass-bridge-no-such-folder-7f3a")
        .join("x.backup");
    let folder = std::env::temp_dir();
    for (endpoint, file, says) in [
        ("/api/v1/db/restore", &missing, "No such file"),
        ("/api/v1/db/restore", &folder, "directory"),
        ("/api/v1/db/backup", &no_folder, "no such folder"),
    ] {
        let body = serde_json::json!({ "file": file }).to_string();
        let answer = role.call("POST", endpoint, &body).await;
        assert_error(
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "backup_refused",
            Some("file"),
        );
        let message = answer.1["message"].as_str().unwrap();
        assert!(message.contains(says), "{endpoint}: {message}");
    }
    assert!(
        role.role.activation.deactivated().await.is_none(),
        "a wrong path costs no downtime"
    );
}

#[tokio::test]
async fn a_backup_written_by_the_api_restores_and_a_damaged_one_is_refused_with_422() {
    let role = TestRole::new("backup-restore");
    let (status, written) = role.call("POST", "/api/v1/db/backup", "").await;
    assert_eq!(status, StatusCode::OK, "{written}");
    let file = written["file"].as_str().unwrap().to_owned();
    assert!(
        file.starts_with(&role.dir.join("backups").display().to_string()),
        "{file}"
    );
    assert_eq!(written["manifest"]["parts"].as_array().unwrap().len(), 2);

    let damaged = role.dir.join("backups").join("damaged.backup");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    let body = serde_json::json!({ "file": damaged }).to_string();
    let answer = role.call("POST", "/api/v1/db/restore", &body).await;
    assert_error(
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "backup_refused",
        Some("file"),
    );
    assert!(
        answer.1["message"].as_str().unwrap().contains("damaged"),
        "{}",
        answer.1
    );
    assert!(
        role.role.activation.deactivated().await.is_none(),
        "a refused file costs no downtime"
    );
    let body = serde_json::json!({ "file": file }).to_string();
    let (status, restored) = role.call("POST", "/api/v1/db/restore", &body).await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["manifest"], written["manifest"]);

    // The Resources page lists the backups folder, each file with what it holds.
    std::fs::write(
        role.dir.join("backups").join("notes.txt"),
        "<b>not a backup</b>",
    )
    .unwrap();
    let (status, list) = role.call("GET", "/api/v1/db/backups", "").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let backups = list["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 3, "{list}");
    assert_eq!(
        backups[0]["file"].as_str().unwrap(),
        role.dir
            .join("backups")
            .join("notes.txt")
            .display()
            .to_string()
    );
    assert!(
        backups[0]["manifest"].is_null() && backups[0]["unreadable"].is_string(),
        "{list}"
    );
    let good = backups.iter().find(|b| b["file"] == file.as_str()).unwrap();
    assert_eq!(good["manifest"], written["manifest"]);
    assert!(good["unreadable"].is_null(), "{list}");
    assert_eq!(list["more"], 0);
}

#[tokio::test]
async fn a_deactivated_role_says_so_in_its_health_and_the_database_status() {
    let role = TestRole::new("deactivate");
    let (status, answer) = role
        .call(
            "POST",
            "/api/v1/role/deactivate",
            "{\"reason\": \"upgrade\"}",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changed"], true);
    assert_eq!(answer["health"]["state"], "deactivated");
    let (status, health) = role.call("GET", "/health", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health["reason"], "deactivated: upgrade");
    let (status, db) = role.call("GET", "/api/v1/db/status", "").await;
    assert_eq!(status, StatusCode::OK, "{db}");
    assert_eq!(db["deactivated"], "upgrade");
    assert_eq!(db["databases"].as_array().unwrap().len(), 2);
    let (_, again) = role.call("POST", "/api/v1/role/deactivate", "").await;
    assert_eq!(again["changed"], false);
}

#[tokio::test]
async fn the_resources_script_is_served_referenced_by_the_page_and_never_parses_html() {
    let role = TestRole::new("resources-script");
    let request = Request::builder()
        .uri("/pages/resources.js")
        .body(Body::empty())
        .unwrap();
    let response = role.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/javascript"),
        "{content_type}"
    );
    let script = include_str!("assets/pages/resources.js");
    assert!(!script.contains("innerHTML") && !script.contains("insertAdjacentHTML"));
    for endpoint in [
        "/db/status",
        "/db/update",
        "/db/backup",
        "/db/restore",
        "/role/deactivate",
        "/role/activate",
    ] {
        assert!(script.contains(&format!("\"{endpoint}\"")), "{endpoint}");
    }
}

/// The OpenAPI document, checked by openapi-spec-validator (scripts/test installs it) and
/// against the router: every path it names is served, with the methods it names.
#[tokio::test]
async fn the_openapi_document_is_valid_and_names_only_served_endpoints() {
    let test = TestRole::new("openapi");
    let request = Request::builder()
        .uri("/api/v1/openapi.json")
        .body(Body::empty())
        .unwrap();
    let response = test.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let document: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));

    let path = test.dir.join("openapi.json");
    std::fs::write(&path, &bytes).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, json\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\nprint('valid')",
        ])
        .arg(&path)
        .output()
        .expect("python3 (scripts/test installs it with openapi-spec-validator)");
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{:?}", paths.keys());
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let uri = path.replace("{id}", "x").replace("{name}", "nobody");
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap();
            // Only a 404's body is read: the live feed's never ends.
            let response = test.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let unknown = status == StatusCode::METHOD_NOT_ALLOWED
                || status == StatusCode::NOT_FOUND && {
                    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                        .await
                        .unwrap();
                    String::from_utf8_lossy(&bytes).contains("no such API endpoint")
                };
            assert!(!unknown, "{method} {path} is documented but not served");
        }
    }
}

/// A browser's session: sign-in, the CSRF token on changes, operators refused the
/// administrator's endpoints and kept out of the entity partitions.
#[tokio::test]
async fn sessions_need_the_csrf_token_and_operators_see_only_their_partitions() {
    let test = TestRole::new("session");
    let password = auth::first_administrator(&*test.role.accounts, None)
        .unwrap()
        .unwrap();
    let sign_in = |user: &str, password: &str| {
        Request::builder()
            .method("POST")
            .uri("/api/v1/session")
            .body(Body::from(
                serde_json::json!({"user": user, "password": password}).to_string(),
            ))
            .unwrap()
    };
    let response = test
        .router
        .clone()
        .oneshot(sign_in("admin", "wrong-password"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = test
        .router
        .clone()
        .oneshot(sign_in("admin", &password))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let session = cookie.split(';').next().unwrap().to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let view: auth::SessionView = serde_json::from_slice(&bytes).unwrap();
    assert!(view.must_change_password);
    let csrf = view.csrf_token.unwrap();

    let call = |method: &str, uri: &str, csrf: Option<&str>, body: &str| {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("cookie", &session);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        test.router
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
    };
    let status =
        |r: Result<axum::response::Response, std::convert::Infallible>| r.unwrap().status();
    // A one-time password allows nothing but choosing one's own.
    assert_eq!(
        status(call("GET", "/api/v1/users", None, "").await),
        StatusCode::FORBIDDEN
    );
    let change =
        r#"{"current": "CURRENT", "new": "a-new-password-1"}"#.replace("CURRENT", &password);
    assert_eq!(
        status(call("POST", "/api/v1/session/password", None, &change).await),
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    assert_eq!(
        status(call("POST", "/api/v1/session/password", Some("forged"), &change).await),
        StatusCode::FORBIDDEN,
        "a wrong CSRF token"
    );
    assert_eq!(
        status(call("POST", "/api/v1/session/password", Some(&csrf), &change).await),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(call("GET", "/api/v1/users", None, "").await),
        StatusCode::OK
    );

    // An operator of partition North, with a token: no entities, no settings.
    let (code, _) = test
        .call("POST", "/api/v1/partitions", r#"{"name": "North"}"#)
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, _) = test
        .call(
            "POST",
            "/api/v1/users",
            r#"{"name": "olga", "role": "operator", "partitions": ["North"], "password": "olga-password-1"}"#,
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let (_, token) = test
        .call("POST", "/api/v1/users/olga/tokens", r#"{"label": "test"}"#)
        .await;
    let token = token["token"].as_str().unwrap().to_owned();
    let as_olga = |method: &str, uri: &str| {
        test.router.clone().oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
    };
    assert_eq!(
        status(as_olga("GET", "/api/v1/config").await),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(as_olga("POST", "/api/v1/sync/start").await),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(as_olga("GET", "/api/v1/users").await),
        StatusCode::FORBIDDEN
    );
    let response = as_olga("GET", "/api/v1/session").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The last administrator cannot be removed.
    let (code, body) = test.call("DELETE", "/api/v1/users/admin", "").await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
}

fn sipass_alarm(id: &str) -> store::SipassAlarmChange {
    store::SipassAlarmChange {
        journal_seq: 0,
        action: store::AlarmAction::Triggered,
        sipass_id: id.into(),
        class_id: "3".into(),
        class_name: "Door Forced".into(),
        priority: 10,
        message: "forced\nopen".into(),
        source_kind: String::new(),
        source_id: String::new(),
        by: String::new(),
        comment: String::new(),
        at: "2026-11-30T10:00:00+00:00".into(),
        at_ms: 1,
    }
}

#[tokio::test]
async fn alarms_are_listed_acknowledged_once_with_history_and_bad_input_names_the_field() {
    let test = TestRole::new("alarms");
    test.role
        .plugin
        .apply_sipass_alarms(&[sipass_alarm("41"), sipass_alarm("42")], false)
        .unwrap();
    let (status, page) = test.call("GET", "/api/v1/alarms?active=true", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let page: alarms::AlarmPage = serde_json::from_value(page).unwrap();
    let ids: Vec<&str> = page
        .alarms
        .iter()
        .map(|a| a.alarm.sipass_id.as_str())
        .collect();
    assert_eq!(ids, ["42", "41"], "newest first");
    let id = page.alarms[1].alarm.id;

    assert_error(
        &test.call("GET", "/api/v1/alarms/abc", "").await,
        StatusCode::NOT_FOUND,
        "not_found",
        Some("id"),
    );
    assert_error(
        &test.call("GET", "/api/v1/alarms/999/history", "").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let ack = format!("/api/v1/alarms/{id}/acknowledge");
    assert_error(
        &test
            .call("POST", &ack, r#"{"comment": "x", "by": "me"}"#)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
        None,
    );
    assert_error(
        &test
            .call("POST", &ack, r#"{"comment": "bad\u001b[2J"}"#)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
        Some("comment"),
    );

    // The live feed sees the acknowledgement once it is committed.
    let request = Request::builder()
        .uri("/api/v1/alarms/live")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let live = test.router.clone().oneshot(request).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let (status, first) = test
        .call("POST", &ack, r#"{"comment": "guard sent"}"#)
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["already_acknowledged"], false);
    assert_eq!(first["alarm"]["acknowledged_by"], API_TOKEN_USER);
    assert_eq!(first["alarm"]["ack_pending"], true);
    let text = read_live(live.into_body(), "\n\n").await;
    assert!(text.starts_with("event: alarm\n"), "{text}");
    assert!(text.contains("\"action\":\"acknowledged\""), "{text}");
    assert!(text.contains("\"comment\":\"guard sent\""), "{text}");

    let (_, again) = test.call("POST", &ack, "").await;
    assert_eq!(again["already_acknowledged"], true);
    let (status, history) = test
        .call("GET", &format!("/api/v1/alarms/{id}/history"), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let history: alarms::AlarmHistory = serde_json::from_value(history).unwrap();
    let actions: Vec<(&str, &str)> = history
        .history
        .iter()
        .map(|h| (h.action.as_str(), h.by.as_str()))
        .collect();
    assert_eq!(
        actions,
        [("triggered", ""), ("acknowledged", API_TOKEN_USER)]
    );
    assert_eq!(test.role.plugin.queued_acks().unwrap().len(), 1);

    // Alarm entities, and a partition for one that does not exist.
    let (status, entities) = test.call("GET", "/api/v1/alarm-entities", "").await;
    assert_eq!(
        (status, entities["entities"].clone()),
        (StatusCode::OK, serde_json::json!([]))
    );
    assert_error(
        &test
            .call(
                "POST",
                "/api/v1/alarm-entities/9/partitions",
                r#"{"partition": "north"}"#,
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    assert_error(
        &test
            .call(
                "POST",
                "/api/v1/alarm-entities/9/partitions",
                r#"{"partition": ""}"#,
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
        Some("partition"),
    );

    // The gauges.
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let response = test.router.clone().oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("sipass_bridge_role_alarms_active 2\n"),
        "{text}"
    );
    assert!(
        text.contains("sipass_bridge_role_alarm_acks_queued 1\n"),
        "{text}"
    );
}

/// Puts SiPass entities in the Directory as the synchronizer would: `(source kind, id,
/// name, Directory kinds)`.
fn put_entities(role: &Role, entities: &[(&str, &str, &str, &str)]) {
    let changes: Vec<store::SourceChange> = entities
        .iter()
        .map(|(source_kind, id, name, kind)| {
            store::SourceChange::Upsert(store::SourceEntity {
                source_kind: (*source_kind).into(),
                id: (*id).into(),
                revision: 1,
                name: (*name).into(),
                fields: "{}".into(),
                kinds: vec![(*kind).into()],
            })
        })
        .collect();
    let position = store::WatchPosition {
        cache_id: "c".into(),
        revision: 1,
    };
    role.directory.apply_changes(&changes, &position).unwrap();
}

/// An operator of partition North and its API token.
async fn operator_in_north(test: &TestRole) -> String {
    for partition in ["North", "South"] {
        let (code, body) = test
            .call(
                "POST",
                "/api/v1/partitions",
                &format!(r#"{{"name": "{partition}"}}"#),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }
    let (code, body) = test
        .call(
            "POST",
            "/api/v1/users",
            r#"{"name": "olga", "role": "operator", "partitions": ["North"], "password": "olga-password-1"}"#,
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (_, token) = test
        .call("POST", "/api/v1/users/olga/tokens", r#"{"label": "test"}"#)
        .await;
    token["token"].as_str().unwrap().to_owned()
}

/// An operator of North sees and acknowledges North's alarms only: another partition's
/// alarm is 404 everywhere (list, show, history, acknowledge) and never on its live feed.
#[tokio::test]
async fn an_operator_sees_and_acknowledges_only_the_alarms_of_its_partitions() {
    let test = TestRole::new("operator-alarms");
    let olga = operator_in_north(&test).await;
    // Alarm class 3 appears while alarms go to North, class 4 while they go to South.
    put_entities(&test.role, &[("alarm-class", "3", "Door Forced", "alarm")]);
    test.role
        .directory
        .ensure_alarm_entities(&[], &["North".into()], 1)
        .unwrap();
    put_entities(&test.role, &[("alarm-class", "4", "Tamper", "alarm")]);
    test.role
        .directory
        .ensure_alarm_entities(&[], &["South".into()], 2)
        .unwrap();
    let mut south = sipass_alarm("52");
    south.class_id = "4".into();
    test.role
        .plugin
        .apply_sipass_alarms(&[sipass_alarm("51"), south], false)
        .unwrap();
    let (_, all) = test.call("GET", "/api/v1/alarms", "").await;
    let id_of = |sipass: &str| {
        all["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["sipass_id"] == sipass)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (north_id, south_id) = (id_of("51"), id_of("52"));

    let (status, page) = test.call_as(&olga, "GET", "/api/v1/alarms", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let seen: Vec<i64> = page["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, [north_id], "{page}");
    for (method, path) in [
        ("GET", format!("/api/v1/alarms/{south_id}")),
        ("GET", format!("/api/v1/alarms/{south_id}/history")),
        ("POST", format!("/api/v1/alarms/{south_id}/acknowledge")),
    ] {
        assert_error(
            &test.call_as(&olga, method, &path, "").await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        );
    }
    let (_, south) = test
        .call("GET", &format!("/api/v1/alarms/{south_id}"), "")
        .await;
    assert_eq!(
        south["acknowledged"], false,
        "a refused ack changes nothing"
    );
    let (status, history) = test
        .call_as(
            &olga,
            "GET",
            &format!("/api/v1/alarms/{north_id}/history"),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");

    // The live feed: South's acknowledgement never reaches olga, North's does.
    let request = Request::builder()
        .uri("/api/v1/alarms/live")
        .header("authorization", format!("Bearer {olga}"))
        .body(Body::empty())
        .unwrap();
    let live = test.router.clone().oneshot(request).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let (status, _) = test
        .call(
            "POST",
            &format!("/api/v1/alarms/{south_id}/acknowledge"),
            r#"{"comment": "south secret"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = test
        .call_as(
            &olga,
            "POST",
            &format!("/api/v1/alarms/{north_id}/acknowledge"),
            r#"{"comment": "north checked"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alarm"]["acknowledged_by"], "olga");
    let text = read_live(live.into_body(), "\n\n").await;
    assert!(text.contains("north checked"), "{text}");
    assert!(!text.contains("south secret"), "{text}");
}

/// Events, the activity trail and commands are about SiPass entities: an operator outside
/// the entity partitions gets none of them (empty lists, 403 for the live feed, 404 for an
/// entity's commands, nothing recorded), and all of them once its partition holds them.
#[tokio::test]
async fn an_operator_outside_the_entity_partitions_gets_no_events_activity_or_commands() {
    let test = TestRole::new("operator-entities");
    let olga = operator_in_north(&test).await;
    put_entities(&test.role, &[("doorset", "3", "Main door", "door")]);
    test.role
        .plugin
        .store_events(
            &[new_event(1, "Door Closed", "3")],
            &vec![],
            &store::EventPosition {
                journal_id: "j".into(),
                sequence: 1,
            },
        )
        .unwrap();
    // An administrator's command, refused as not connected, is in the trail.
    let (status, _) = test
        .call(
            "POST",
            "/api/v1/entities/3/commands",
            r#"{"action": "unlock"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let count = |body: &serde_json::Value, list: &str| body[list].as_array().unwrap().len();

    let (_, events) = test.call_as(&olga, "GET", "/api/v1/events", "").await;
    assert_eq!(count(&events, "events"), 0, "{events}");
    assert_error(
        &test.call_as(&olga, "GET", "/api/v1/events/live", "").await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    let (_, activity) = test.call_as(&olga, "GET", "/api/v1/activity", "").await;
    assert_eq!(count(&activity, "activities"), 0, "{activity}");
    assert_error(
        &test
            .call_as(&olga, "GET", "/api/v1/entities/3/commands", "")
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    assert_error(
        &test
            .call_as(
                &olga,
                "POST",
                "/api/v1/entities/3/commands",
                r#"{"action": "unlock"}"#,
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (_, activity) = test.call("GET", "/api/v1/activity", "").await;
    assert_eq!(
        count(&activity, "activities"),
        1,
        "olga's refusal is not recorded"
    );

    // North holds the SiPass entities now: olga sees and commands them.
    let (status, body) = test
        .call(
            "PUT",
            "/api/v1/config",
            r#"{"entity_partitions": ["North"]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, events) = test.call_as(&olga, "GET", "/api/v1/events", "").await;
    assert_eq!(count(&events, "events"), 1, "{events}");
    let (status, offered) = test
        .call_as(&olga, "GET", "/api/v1/entities/3/commands", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{offered}");
    let (status, _) = test
        .call_as(
            &olga,
            "POST",
            "/api/v1/entities/3/commands",
            r#"{"action": "unlock"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (_, activity) = test.call_as(&olga, "GET", "/api/v1/activity", "").await;
    assert_eq!(count(&activity, "activities"), 2, "{activity}");
    assert_eq!(activity["activities"][0]["user"], "olga");
}

/// API tokens are listed without the tokens themselves and revoked by id: the next request
/// made with a revoked token is 401; an operator may do neither.
#[tokio::test]
async fn an_api_token_is_listed_by_id_and_revoked_at_once() {
    let test = TestRole::new("tokens");
    let olga = operator_in_north(&test).await;
    let (status, created) = test
        .call(
            "POST",
            "/api/v1/users/olga/tokens",
            r#"{"label": "backup"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (id, token) = (
        created["id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    );
    let (status, listed) = test.call("GET", "/api/v1/tokens?user=olga", "").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let labels: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["backup", "test"]);
    assert!(!listed.to_string().contains(&token), "never the token");
    let (_, nobody) = test.call("GET", "/api/v1/tokens?user=oleg", "").await;
    assert_eq!(nobody, serde_json::json!([]));
    assert_error(
        &test.call_as(&olga, "GET", "/api/v1/tokens", "").await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    assert_error(
        &test
            .call_as(&olga, "DELETE", &format!("/api/v1/tokens/{id}"), "")
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );

    let (status, _) = test.call_as(&token, "GET", "/api/v1/session", "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = test
        .call("DELETE", &format!("/api/v1/tokens/{id}"), "")
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_error(
        &test.call_as(&token, "GET", "/api/v1/session", "").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );
    let (status, _) = test.call_as(&olga, "GET", "/api/v1/session", "").await;
    assert_eq!(status, StatusCode::OK, "olga's other token still works");
    for missing in [id.as_str(), "not-an-id", "0123456789abcdef"] {
        assert_error(
            &test
                .call("DELETE", &format!("/api/v1/tokens/{missing}"), "")
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        );
    }
}

/// A live feed follows its user's access: once the entity partitions no longer include the
/// operator's, its events feed ends with `revoked` within a recheck.
#[tokio::test]
async fn an_operator_s_live_feed_ends_when_it_may_no_longer_see_events() {
    let test = TestRole::new("operator-live");
    let olga = operator_in_north(&test).await;
    let (status, body) = test
        .call(
            "PUT",
            "/api/v1/config",
            r#"{"entity_partitions": ["North"]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let request = Request::builder()
        .uri("/api/v1/events/live")
        .header("authorization", format!("Bearer {olga}"))
        .body(Body::empty())
        .unwrap();
    let live = test.router.clone().oneshot(request).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let (status, body) = test
        .call(
            "PUT",
            "/api/v1/config",
            r#"{"entity_partitions": ["South"]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let started = std::time::Instant::now();
    let text = read_live(live.into_body(), "event: revoked").await;
    assert!(text.contains("event: revoked"), "{text}");
    assert!(started.elapsed() <= events::RECHECK * 2);
}

#[tokio::test]
async fn entities_are_searched_on_the_server_and_the_browser_lists_kinds_and_custom_events() {
    let test = TestRole::new("browse");
    let names = ["Ana Lopez", "Bruno <b>Diaz</b>", "ANABEL Smith", "Carl"];
    let page: Vec<store::SourceEntity> = names
        .iter()
        .enumerate()
        .map(|(i, name)| store::SourceEntity {
            source_kind: "cardholder".into(),
            id: format!("{:02}", i + 1),
            revision: 1,
            name: (*name).into(),
            fields: r#"{"FirstName":"x"}"#.into(),
            kinds: vec!["cardholder".into()],
        })
        .collect();
    let position = store::SyncPosition {
        source_kind: "cardholder".into(),
        cache_id: "c1".into(),
        generation: 1,
        snapshot_revision: 1,
        page_token: String::new(),
        done: 4,
        total: 4,
        complete: false,
    };
    test.role.directory.write_page(&page, &position).unwrap();

    let found = |page: serde_json::Value| -> Vec<String> {
        let page: EntityPage = serde_json::from_value(page).unwrap();
        page.entities.into_iter().map(|e| e.name).collect()
    };
    let (status, page) = test
        .call("GET", "/api/v1/entities?kind=cardholder&q=ana", "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found(page), ["Ana Lopez", "ANABEL Smith"]);
    // A page at a time: the next one starts after the last id.
    let (_, page) = test
        .call("GET", "/api/v1/entities?kind=cardholder&q=ana&limit=1", "")
        .await;
    assert_eq!(page["next_after"], "01");
    let (_, page) = test
        .call("GET", "/api/v1/entities?kind=cardholder&q=%3Cb%3E", "")
        .await;
    assert_eq!(found(page), ["Bruno <b>Diaz</b>"]);
    let long = "a".repeat(101);
    let refused = test
        .call(
            "GET",
            &format!("/api/v1/entities?kind=cardholder&q={long}"),
            "",
        )
        .await;
    assert_error(
        &refused,
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("q"),
    );

    let (status, kinds) = test.call("GET", "/api/v1/entity-kinds", "").await;
    assert_eq!(status, StatusCode::OK);
    let kinds = kinds["kinds"].as_array().unwrap();
    assert_eq!(kinds.len(), model::DirectoryKind::ALL.len());
    assert_eq!(
        kinds[0],
        serde_json::json!({"kind": "cardholder", "count": 4})
    );

    let (status, events) = test.call("GET", "/api/v1/event-types", "").await;
    assert_eq!(status, StatusCode::OK);
    let granted = events["custom_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "Access Granted")
        .cloned()
        .unwrap();
    assert_eq!(
        granted["native_events"],
        serde_json::json!(["Access Granted"])
    );
}
