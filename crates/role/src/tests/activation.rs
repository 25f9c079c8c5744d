//! Deactivating and activating the role: the workers stop and nothing is read from the
//! proxy meanwhile; activated, the role resumes where its databases stand (no new listing).

use std::time::Duration;

use super::fake_proxy::FakeProxy;
use super::{CARDHOLDER, Running, WORKGROUP, proxy_with};
use crate::HealthState;
use crate::activation::Change;

fn event(id: u64) -> String {
    serde_json::json!({
        "Id": id.to_string(), "Type": "Access Granted", "OccurredAt": "2026-11-22T09:33:20+00:00",
        "EntityKind": "Doorset", "EntityToken": "4", "PointName": "Door 4",
        "Message": "Access Granted at Door 4",
    })
    .to_string()
}

async fn events_stored(running: &Running, n: u64) {
    running
        .eventually("the events stored", |role| {
            (role.plugin.event_count().ok()? == n).then_some(())
        })
        .await;
}

#[tokio::test]
async fn a_deactivated_role_stops_its_workers_and_resumes_where_it_stood_when_activated() {
    let proxy: FakeProxy = proxy_with(5);
    let running = Running::start(&proxy);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    proxy.journal_event(&event(1));
    events_stored(&running, 1).await;
    let listings = proxy.list_calls();
    let role = &running.role;

    assert_eq!(
        role.activation
            .deactivate(&role.status, "restoring a backup")
            .await,
        Change::Done
    );
    let health = role.status.health();
    assert_eq!(health.state, HealthState::Deactivated);
    assert_eq!(
        health.reason.as_deref(),
        Some("deactivated: restoring a backup")
    );
    assert!(!role.status.proxy().connected);
    let statuses = role.workers.statuses();
    assert!(
        statuses
            .iter()
            .all(|s| s.state == runtime::WorkerState::Stopped),
        "{statuses:?}"
    );
    assert_eq!(
        role.activation.deactivate(&role.status, "again").await,
        Change::Already
    );

    // Meanwhile SiPass changes and events happen: the deactivated role takes none of them.
    proxy.upsert(CARDHOLDER, "c99");
    proxy.journal_event(&event(2));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(running.count(CARDHOLDER), 5);
    assert_eq!(role.plugin.event_count().unwrap(), 1);
    assert_eq!(role.status.health().state, HealthState::Deactivated);

    assert_eq!(role.activation.activate(&role.status).await, Change::Done);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    events_stored(&running, 2).await;
    assert_eq!(running.count(CARDHOLDER), 6);
    assert_eq!(
        proxy.list_calls(),
        listings,
        "resumed by watching, not by listing again"
    );
    assert_eq!(
        role.activation.activate(&role.status).await,
        Change::Already
    );
    running.stop().await;
}

#[tokio::test]
async fn activation_on_request_waits_for_no_operation_and_one_operation_runs_at_a_time() {
    let proxy: FakeProxy = proxy_with(2);
    let running = Running::start(&proxy);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    let role = &running.role;
    {
        let _restore = role.maintenance.begin("restore").unwrap();
        let busy = role.deactivate_when_idle("x").await.unwrap_err();
        assert_eq!(
            busy.to_string(),
            "a restore is already running; wait for it to end"
        );
        let busy = role.activate_when_idle().await.unwrap_err();
        assert!(busy.to_string().starts_with("a restore"), "{busy}");
        assert_eq!(
            role.maintenance.begin("update").err().unwrap().to_string(),
            "a restore is already running; wait for it to end"
        );
        assert_eq!(role.maintenance.current().unwrap().kind, "restore");
    }
    assert!(role.maintenance.current().is_none());
    assert_eq!(role.deactivate_when_idle("x").await.unwrap(), Change::Done);
    assert_eq!(role.activate_when_idle().await.unwrap(), Change::Done);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    running.stop().await;
}

#[tokio::test]
async fn a_deactivation_on_request_is_kept_across_a_restart_until_activated() {
    let proxy: FakeProxy = proxy_with(3);
    // The role deactivated on request before it stopped...
    let running = Running::start(&proxy);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    let role = &running.role;
    assert_eq!(
        role.deactivate_when_idle("upgrading to 0.3").await.unwrap(),
        Change::Done
    );
    let kept = crate::activation::kept_deactivation(role.data_dir()).unwrap();
    assert_eq!(kept.as_deref(), Some("upgrading to 0.3"));
    let folder = running.folder.clone();
    let kept_file = folder.join(crate::activation::DEACTIVATED_FILE);
    let copy = std::fs::read(&kept_file).unwrap();
    running.stop().await;

    // ...starts deactivated, saying why and how to resume, and reads nothing from the proxy.
    let listings = proxy.list_calls();
    let running = Running::start_with(&proxy, |role| {
        std::fs::write(
            role.data_dir().join(crate::activation::DEACTIVATED_FILE),
            &copy,
        )
        .unwrap()
    });
    let role = &running.role;
    let health = role.status.health();
    assert_eq!(health.state, HealthState::Deactivated, "{health:?}");
    let reason = health.reason.unwrap_or_default();
    assert!(
        reason.starts_with("deactivated: upgrading to 0.3 (kept across the restart")
            && reason.contains("sipass-bridge role-state activate"),
        "{reason}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(proxy.list_calls(), listings);
    assert!(!role.status.proxy().connected);

    // Activated on request, the kept state is forgotten and the role works again.
    assert_eq!(role.activate_when_idle().await.unwrap(), Change::Done);
    assert_eq!(
        crate::activation::kept_deactivation(role.data_dir()).unwrap(),
        None
    );
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    running.stop().await;
}

#[test]
fn a_kept_reason_is_bounded_and_printable() {
    let folder = std::env::temp_dir().join(format!("sipass-bridge-kept-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let hostile = format!("\u{1b}[31mred\n{}", "x".repeat(10_000));
    std::fs::write(folder.join(crate::activation::DEACTIVATED_FILE), hostile).unwrap();
    let reason = crate::activation::kept_deactivation(&folder)
        .unwrap()
        .unwrap();
    assert!(reason.chars().count() < 240, "{}", reason.len());
    assert!(!reason.chars().any(char::is_control), "{reason:?}");
    crate::activation::keep_deactivation(&folder, None).unwrap();
    crate::activation::keep_deactivation(&folder, None).unwrap();
    assert_eq!(crate::activation::kept_deactivation(&folder).unwrap(), None);
    let _ = std::fs::remove_dir_all(&folder);
}
