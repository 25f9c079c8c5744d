//! The HR API session lifecycle.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Sim, config};

#[tokio::test]
async fn login_gives_a_sipass_token_and_bad_credentials_an_empty_one() {
    let sim = Sim::start().await;
    let (hex, user) = sim.token.split_once(':').expect("<hex>:<user>");
    assert_eq!(hex.len(), 64);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(user, "operator");

    let (status, body) = sim
        .call_as(
            None,
            Method::POST,
            &sim.hr("Authentication"),
            Some(json!({"Username": "operator", "Password": "wrong"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["Token"], "");

    let (status, body) = sim
        .call_as(
            None,
            Method::POST,
            &sim.hr("Authentication"),
            Some(json!({"User": 1})),
        )
        .await;
    assert_eq!(
        (status, &body["Token"]),
        (StatusCode::OK, &json!("")),
        "bound as ASP.NET binds: no user name, so refused credentials"
    );

    let (status, body) = sim
        .call_as(
            None,
            Method::POST,
            &sim.hr("Authentication"),
            Some(json!(["operator", "sipass"])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["ErrorCode"], 909);
}

#[tokio::test]
async fn every_call_needs_the_client_headers_and_a_session() {
    let sim = Sim::start().await;
    let resp = sim
        .client
        .get(sim.hr("Cardholders"))
        .header("Authorization", &sim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    for url in [
        sim.hr("Cardholders"),
        sim.mgmt("Units"),
        sim.simapi("Faults"),
    ] {
        let (status, body) = sim.call_as(None, Method::GET, &url, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
        assert_eq!(body["ErrorCode"], 908);
        let (status, _) = sim
            .call_as(Some("nope:operator"), Method::GET, &url, None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
    }
    let (status, _) = sim.get(&sim.hr("Cardholders")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn session_timeout_is_reported_in_both_spellings() {
    let sim = Sim::start().await;
    for path in [
        "authentication/sessiontimeout",
        "Authentication?sessiontimeout",
    ] {
        let (status, body) = sim.get(&sim.hr(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, json!(360), "{path}");
    }
}

#[tokio::test]
async fn sessions_slide_then_expire_with_401() {
    let mut config = config();
    config.session_timeout = Duration::from_millis(800);
    let sim = Sim::with(config).await;
    // Calls closer together than the timeout keep the session alive well past it.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(350)).await;
        let (status, _) = sim.get(&sim.hr("Authentication")).await;
        assert_eq!(status, StatusCode::OK, "keep-alive slides the expiry");
    }
    // Left alone, it expires, and stays expired. Polling would slide the expiry, so this
    // one wait is for time itself to pass.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (status, _) = sim.get(&sim.hr("Cardholders")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = sim.get(&sim.hr("Authentication")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let fresh = sim.login().await;
    let (status, _) = sim
        .call_as(Some(&fresh), Method::GET, &sim.hr("Cardholders"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let sim = Sim::start().await;
    let (status, _) = sim.delete(&sim.hr("Authentication")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = sim.get(&sim.hr("Cardholders")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
