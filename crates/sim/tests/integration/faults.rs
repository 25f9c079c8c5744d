//! Every fault, switched at run time through `/api/sim/V1/Faults`.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Sim, client_for, eventually};

#[tokio::test]
async fn faults_read_back_and_reject_nonsense() {
    let sim = Sim::start().await;
    let (status, f) = sim.get(&sim.simapi("Faults")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(f["ErrorRate"], 0.0);
    let f = sim.faults(json!({"LatencyMs": 5})).await;
    assert_eq!(f["LatencyMs"], 5);
    let f = sim.faults(json!({"RefuseLoginsLicence": true})).await;
    assert_eq!(
        (f["LatencyMs"].as_u64(), f["RefuseLoginsLicence"].as_bool()),
        (Some(5), Some(true)),
        "fields not named stay"
    );
    let (status, body) = sim
        .put(&sim.simapi("Faults"), json!({"ErrorRate": 2.0}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["ErrorCode"], 909);
    let (status, _) = sim
        .put(&sim.simapi("Faults"), json!({"LatencyMs": "slow"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn drop_connections_closes_push_streams_and_the_server_keeps_serving() {
    let sim = Sim::start().await;
    let mut push = sim.push(None).await;
    sim.faults(json!({"DropConnections": true})).await;
    assert!(push.ended().await, "the push stream was cut");
    // A new connection works (the old pooled one may be gone: use a fresh client).
    let fresh = client_for(&sim.running);
    let resp = fresh
        .get(sim.hr("Cardholders/1"))
        .header("clientUniqueId", "t")
        .header("language", "English")
        .header("Authorization", &sim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "sessions survive a dropped connection"
    );
    let (_, f) = sim.get(&sim.simapi("Faults")).await;
    assert_eq!(f["DropConnections"], false, "a one-shot");
}

#[tokio::test]
async fn stall_holds_answers_until_it_ends_but_not_the_controls() {
    let sim = Sim::start().await;
    let f = sim.faults(json!({"StallSeconds": 1})).await;
    assert_eq!(f["StallSeconds"], 1);
    let started = Instant::now();
    let control = sim.get(&sim.simapi("Faults")).await;
    assert_eq!(control.0, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "controls are never stalled"
    );
    let (status, _) = sim.get(&sim.hr("Cardholders/1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn latency_is_added_to_every_answer() {
    let sim = Sim::start().await;
    sim.faults(json!({"LatencyMs": 300})).await;
    let started = Instant::now();
    sim.get(&sim.mgmt("Version")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    sim.faults(json!({"LatencyMs": 0})).await;
    let started = Instant::now();
    sim.get(&sim.mgmt("Version")).await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn expire_sessions_makes_every_token_401() {
    let sim = Sim::start().await;
    let other = sim.login().await;
    sim.faults(json!({"ExpireSessions": true})).await;
    for token in [&sim.token, &other] {
        let (status, body) = sim
            .call_as(Some(token), Method::GET, &sim.hr("Cardholders"), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["ErrorCode"], 908);
    }
    let fresh = sim.login().await;
    assert!(!fresh.is_empty(), "logging in again works");
}

#[tokio::test]
async fn refused_logins_say_the_licence_is_missing() {
    let sim = Sim::start().await;
    sim.faults(json!({"RefuseLoginsLicence": true})).await;
    let (status, body) = sim
        .call_as(
            None,
            Method::POST,
            &sim.hr("Authentication"),
            Some(json!({"Username": "operator", "Password": "sipass"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["ErrorCode"], 912);
    let (status, _) = sim.get(&sim.hr("Cardholders/1")).await;
    assert_eq!(status, StatusCode::OK, "existing sessions go on");
    sim.faults(json!({"RefuseLoginsLicence": false})).await;
    assert!(!sim.login().await.is_empty());
}

#[tokio::test]
async fn error_rate_answers_that_fraction_with_500() {
    let sim = Sim::start().await;
    sim.faults(json!({"ErrorRate": 1.0})).await;
    for url in [sim.hr("Cardholders"), sim.mgmt("Units")] {
        let (status, body) = sim.get(&url).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["ErrorCode"], 903);
    }
    sim.faults(json!({"ErrorRate": 0.25})).await;
    let mut failures = 0;
    for _ in 0..40 {
        if sim.get(&sim.mgmt("Version")).await.0 == StatusCode::INTERNAL_SERVER_ERROR {
            failures += 1;
        }
    }
    assert_eq!(failures, 10);
    sim.faults(json!({"ErrorRate": 0.0})).await;
    assert_eq!(sim.get(&sim.mgmt("Version")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_dropped_push_message_is_a_gap_in_the_ids_but_stays_in_the_audit_trail() {
    let sim = Sim::start().await;
    let mut push = sim.push(Some(0)).await;
    sim.faults(json!({"DropPushSequence": 2})).await;
    for _ in 0..3 {
        let (status, _) = sim
            .post(&sim.simapi("Events"), json!({"Type": "Door Held"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let ids: Vec<u64> = push.take(2).await.iter().map(|f| f.id.unwrap()).collect();
    assert_eq!(ids, vec![1, 3]);
    let mut replay = sim.push(Some(0)).await;
    let ids: Vec<u64> = replay.take(2).await.iter().map(|f| f.id.unwrap()).collect();
    assert_eq!(ids, vec![1, 3], "not on replay either");
    let trail = eventually(|| async {
        let (_, page) = sim.get(&sim.mgmt("Events?after=1&limit=1")).await;
        page["Records"].as_array().cloned()
    })
    .await;
    assert_eq!(trail[0]["Sequence"], 2, "back-fill finds it");
}
