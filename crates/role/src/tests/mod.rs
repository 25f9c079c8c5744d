//! Unit tests of the role's workers against an in-memory proxy and a real Directory in a
//! temporary folder.

mod activation;
mod alarms;
mod commands;
mod events;
mod fake_proxy;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use model::{DirectoryKind, EntityKind, RunOutcome};

use crate::connection::Waits;
use crate::synchronizer::Pace;
use crate::{HealthState, Role, RoleConfig};
use fake_proxy::FakeProxy;

const CARDHOLDER: EntityKind = EntityKind::Cardholder;
const WORKGROUP: EntityKind = EntityKind::Workgroup;

/// A role on a fresh Directory, its workers running against `proxy` with short waits.
struct Running {
    role: Role,
    shutdown: runtime::Shutdown,
    workers: tokio::task::JoinHandle<()>,
    folder: PathBuf,
}

impl Running {
    fn start(proxy: &FakeProxy) -> Self {
        Self::start_with(proxy, |_| {})
    }

    /// Like [`Running::start`], with the role changed by `adjust` before its workers start.
    fn start_with(proxy: &FakeProxy, adjust: impl FnOnce(&mut Role)) -> Self {
        Self::start_waiting(proxy, adjust, Duration::from_millis(10))
    }

    /// Like [`Running::start_with`], looking at a configuration without a proxy address
    /// again only every `not_configured`.
    fn start_waiting(
        proxy: &FakeProxy,
        adjust: impl FnOnce(&mut Role),
        not_configured: Duration,
    ) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let folder = std::env::temp_dir().join(format!(
            "sipass-bridge-role-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&folder).expect("a temporary folder");
        let mut role = Role::open(RoleConfig {
            data_dir: folder.clone(),
            database_url: None,
            proxy_ca_pem: String::new(),
            proxy_token: String::new(),
            client_name: "test".into(),
        })
        .expect("the Directory opens");
        role.set_proxy_address("proxy.test", Some(5645))
            .expect("the address is stored");
        adjust(&mut role);
        let waits = Waits {
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            not_configured,
            database: Duration::from_millis(10),
            loading: Duration::from_millis(20),
        };
        let pace = Pace {
            check_every: Duration::from_millis(20),
            repair_pause: Duration::from_millis(200),
            group_every: Duration::from_millis(5),
        };
        let shutdown = runtime::Shutdown::new();
        let workers = role.spawn_with(proxy.clone(), waits, pace, &shutdown);
        Running {
            role,
            shutdown,
            workers,
            folder,
        }
    }

    /// Polls `check` until it gives a value, failing the test after a deadline.
    async fn eventually<T>(&self, what: &str, mut check: impl FnMut(&Role) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(value) = check(&self.role) {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting for {what}; health: {:?}",
                self.role.status.health()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until the copy of `kinds` is verified equal to the proxy's.
    async fn verified(&self, proxy: &FakeProxy, kinds: &[EntityKind]) {
        self.eventually("a verified copy", |role| {
            let online = role.status.health().state == HealthState::Online;
            let equal = kinds.iter().all(|k| {
                role.directory
                    .digest(k.as_str())
                    .is_ok_and(|d| d == proxy.digest(*k))
            });
            (online && equal).then_some(())
        })
        .await;
    }

    fn count(&self, kind: EntityKind) -> u64 {
        let name = DirectoryKind::from_sipass(kind)[0].as_str();
        self.role.directory.count(name).expect("a count")
    }

    fn latest_run(&self) -> store::SyncRun {
        self.role
            .directory
            .latest_run()
            .expect("the history reads")
            .expect("a run")
    }

    async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.workers)
            .await
            .expect("the workers stop")
            .expect("the workers did not panic");
        let statuses = self.role.workers.statuses();
        assert!(
            statuses
                .iter()
                .any(|s| s.name == "connection" && s.state == runtime::WorkerState::Stopped),
            "{statuses:?}"
        );
        drop(self.role);
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// A proxy with `n` cardholders ("c00".."c{n-1}") and two workgroups.
fn proxy_with(n: usize) -> FakeProxy {
    let proxy = FakeProxy::new(&[CARDHOLDER, WORKGROUP]);
    for i in 0..n {
        proxy.upsert(CARDHOLDER, &format!("c{i:02}"));
    }
    proxy.upsert(WORKGROUP, "w1");
    proxy.upsert(WORKGROUP, "w2");
    proxy
}

#[tokio::test]
async fn an_interrupted_listing_resumes_after_its_last_committed_page() {
    let proxy = proxy_with(10);
    // Pages of 3: c00-c02, c03-c05, c06-c08, c09. The third page fails once.
    let third = FakeProxy::token_after(CARDHOLDER, "c05");
    proxy.fail_page_once(&third);
    let running = Running::start(&proxy);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;

    // The failed page is fetched again; every other page once, none from the start again.
    let pages = proxy.pages_fetched(CARDHOLDER);
    let second = FakeProxy::token_after(CARDHOLDER, "c02");
    let fourth = FakeProxy::token_after(CARDHOLDER, "c08");
    assert_eq!(
        pages,
        [String::new(), second, third.clone(), third, fourth],
        "pages fetched"
    );
    assert_eq!(running.count(CARDHOLDER), 10);
    let run = running.latest_run();
    assert_eq!(
        (run.trigger.as_str(), run.outcome),
        ("resumed", RunOutcome::Succeeded)
    );
    running.stop().await;
}

#[tokio::test]
async fn a_watch_answered_too_old_makes_the_role_list_again_and_replace_its_copy() {
    let proxy = proxy_with(5);
    let running = Running::start(&proxy);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    let listings = proxy.pages_fetched(CARDHOLDER).len();

    // While the role is away, a cardholder is deleted and another added, and the proxy
    // forgets its change log: only a new listing can tell the role.
    proxy.freeze_watches(true);
    proxy.delete(CARDHOLDER, "c01");
    proxy.upsert(CARDHOLDER, "c99");
    proxy.forget_changes();
    proxy.drop_watches();
    proxy.freeze_watches(false);

    running
        .eventually("a listing after TooOld", |role| {
            let run = role.directory.latest_run().ok()??;
            (run.trigger == "proxy change log too old" && run.outcome == RunOutcome::Succeeded)
                .then_some(())
        })
        .await;
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    assert!(proxy.pages_fetched(CARDHOLDER).len() > listings);
    let ids: Vec<String> = running
        .role
        .directory
        .entities(DirectoryKind::from_sipass(CARDHOLDER)[0].as_str(), "", 100)
        .expect("entities read")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(!ids.contains(&"c01".to_owned()), "{ids:?}");
    assert!(ids.contains(&"c99".to_owned()), "{ids:?}");
    assert_eq!(ids.len(), 5);
    running.stop().await;
}

#[tokio::test]
async fn a_digest_mismatch_after_a_listing_lists_the_kind_again_until_verified() {
    let proxy = proxy_with(7);
    proxy.lose_from_next_listing(CARDHOLDER, "c01");
    let running = Running::start(&proxy);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;

    let run = running.latest_run();
    assert_eq!(
        (run.trigger.as_str(), run.outcome),
        ("digest mismatch", RunOutcome::Succeeded)
    );
    assert_eq!(running.count(CARDHOLDER), 7);
    let eligibility = running.role.status.eligibility();
    assert_eq!(eligibility[&CARDHOLDER].digest_match, Some(true));
    running.stop().await;
}

#[tokio::test]
async fn no_verdict_is_reported_while_the_proxy_is_not_connected() {
    let proxy = proxy_with(4);
    let running = Running::start(&proxy);
    running.verified(&proxy, &[CARDHOLDER]).await;
    let verdict = |role: &Role| role.sync_status().unwrap().kinds["cardholder"].digest_match;
    assert_eq!(verdict(&running.role), Some(true));
    // Disconnected (or deactivated), "equal" would vouch for a copy SiPass may have left.
    running.role.status.set_connected(false);
    let status = running.role.sync_status().unwrap();
    assert!(
        status.kinds.values().all(|k| k.digest_match.is_none()),
        "{:?}",
        status.kinds
    );
    running.role.status.set_connected(true);
    assert_eq!(verdict(&running.role), Some(true));
    running.stop().await;
}

#[tokio::test]
async fn an_incompatible_proxy_is_refused_naming_both_versions_and_nothing_is_written() {
    let proxy = proxy_with(3);
    let ours = model::version::PeerVersions::this_role();
    proxy.set_versions("9.9.9", ours.protocol + 1);
    let running = Running::start(&proxy);

    let health = running
        .eventually("a warning", |role| {
            let health = role.status.health();
            (health.state == HealthState::Warning && health.retry_in_ms.is_some()).then_some(health)
        })
        .await;
    let reason = health.reason.clone().unwrap_or_default();
    assert!(reason.contains("9.9.9"), "{reason}");
    assert!(reason.contains(&ours.product), "{reason}");
    assert!(health.retry_in_ms.is_some(), "{health:?}");
    assert_eq!(proxy.list_calls(), 0);
    assert!(running.role.directory.latest_run().unwrap().is_none());
    assert!(running.role.directory.watch_position().unwrap().is_none());
    assert_eq!(running.count(CARDHOLDER), 0);
    // The compatibility report names the proxy's versions and the rule's refusal.
    let report = crate::compatibility::CompatibilityReport::from_status(&running.role.status);
    assert_eq!(report.verdict, crate::compatibility::Verdict::Unsupported);
    let said = report.proxy.expect("the proxy's versions are kept");
    assert_eq!(
        (said.product_version.as_str(), said.protocol_version),
        ("9.9.9", ours.protocol + 1)
    );
    assert!(
        report.reason.contains("same-protocol-version"),
        "{}",
        report.reason
    );
    running.stop().await;
}

#[tokio::test]
async fn an_older_proxy_that_only_refuses_while_loading_is_waited_for_without_failed_runs() {
    let proxy = proxy_with(4);
    proxy.hide_loading();
    proxy.set_loading(Some((2, 4)));
    let running = Running::start(&proxy);

    let health = running
        .eventually("a not-ready warning", |role| {
            let health = role.status.health();
            (health.state == HealthState::Warning && health.retry_in_ms.is_some()).then_some(health)
        })
        .await;
    let reason = health.reason.clone().unwrap_or_default();
    assert!(reason.contains("not ready to serve yet"), "{reason}");
    assert_eq!(proxy.list_calls(), 0);
    assert!(running.role.directory.latest_run().unwrap().is_none());

    proxy.set_loading(None);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    assert_eq!(running.count(CARDHOLDER), 4);
    let run = running.latest_run();
    assert_eq!(
        (run.trigger.as_str(), run.outcome),
        ("first connection", RunOutcome::Succeeded)
    );
    running.stop().await;
}

#[tokio::test]
async fn the_role_waits_for_a_proxy_still_loading_and_synchronizes_once_loaded() {
    let proxy = proxy_with(4);
    proxy.set_loading(Some((2, 4)));
    let running = Running::start(&proxy);

    let health = running
        .eventually("a loading warning", |role| {
            let health = role.status.health();
            (health.state == HealthState::Warning && health.retry_in_ms.is_some()).then_some(health)
        })
        .await;
    let reason = health.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("still loading SiPass (2 of 4 cardholders)"),
        "{reason}"
    );
    assert!(health.retry_in_ms.is_some(), "{health:?}");
    let connection = running
        .role
        .workers
        .statuses()
        .into_iter()
        .find(|s| s.name == "connection")
        .expect("a connection worker");
    assert_eq!(connection.state, runtime::WorkerState::Idle);
    assert_eq!(proxy.list_calls(), 0);

    proxy.set_loading(None);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    assert_eq!(running.count(CARDHOLDER), 4);
    let run = running.latest_run();
    assert_eq!(
        (run.trigger.as_str(), run.outcome),
        ("first connection", RunOutcome::Succeeded)
    );
    running.stop().await;
}

#[tokio::test]
async fn the_lag_behind_the_proxy_is_known_while_following_and_forgotten_when_the_watch_ends() {
    let proxy = proxy_with(3);
    let running = Running::start(&proxy);
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    // Five entities, one revision each: in step at revision 5.
    let in_step = |applied: u64| crate::status::Revisions {
        applied: Some(applied),
        proxy: Some(applied),
        behind: Some(0),
    };
    running
        .eventually("in step at revision 5", |role| {
            (role.status.revisions() == in_step(5)).then_some(())
        })
        .await;

    proxy.upsert(CARDHOLDER, "c10");
    proxy.upsert(CARDHOLDER, "c11");
    running
        .eventually("in step at revision 7", |role| {
            (role.status.revisions() == in_step(7)).then_some(())
        })
        .await;

    // A dropped watch: the role is not following until it watches again.
    proxy.freeze_watches(true);
    proxy.drop_watches();
    running
        .eventually("the lag forgotten", |role| {
            (role.status.revisions().applied.is_none()).then_some(())
        })
        .await;
    running.stop().await;
}

#[test]
fn a_proxy_address_given_at_start_names_the_different_one_it_replaces() {
    let folder =
        std::env::temp_dir().join(format!("sipass-bridge-role-address-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a temporary folder");
    let role = Role::open(RoleConfig {
        data_dir: folder.clone(),
        database_url: None,
        proxy_ca_pem: String::new(),
        proxy_token: String::new(),
        client_name: "test".into(),
    })
    .expect("the Directory opens");
    assert_eq!(role.set_proxy_address("file-host", None).unwrap(), None);
    assert_eq!(role.set_proxy_address("file-host", None).unwrap(), None);
    // Set in the Config Tool, then the file's value again at the next start.
    role.set_proxy_address("tool-host", Some(6000)).unwrap();
    assert_eq!(
        role.set_proxy_address("file-host", None).unwrap(),
        Some("tool-host:6000".to_owned())
    );
    let stored = crate::config::read(role.directory.as_ref()).unwrap();
    assert_eq!((stored.host.as_str(), stored.port), ("file-host", 6000));
    drop(role);
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test]
async fn a_role_created_with_no_configuration_waits_not_configured_and_apply_starts_the_synchronization()
 {
    let proxy = proxy_with(4);
    // The role looks at its settings again only after an hour: Apply must wake it.
    let running = Running::start_waiting(
        &proxy,
        |role| {
            role.directory
                .set_config(&[(crate::keys::PROXY_HOST, String::new())])
                .expect("the address is cleared");
        },
        Duration::from_secs(3600),
    );
    let health = running
        .eventually("the not-configured state", |role| {
            let health = role.status.health();
            (health.state == HealthState::NotConfigured).then_some(health)
        })
        .await;
    let reason = health.reason.unwrap_or_default();
    assert!(reason.contains("Properties"), "{reason}");
    assert_eq!(health.retry_in_ms, None, "nothing is being retried");
    assert_eq!(
        proxy.list_calls(),
        0,
        "a role with no address dials nowhere"
    );
    assert!(running.role.directory.latest_run().expect("runs").is_none());

    let change = crate::config::SettingsChange {
        host: Some("proxy.test".into()),
        ..Default::default()
    };
    crate::config::apply(running.role.directory.as_ref(), &change).expect("applied");
    running.role.settings_applied();
    running.verified(&proxy, &[CARDHOLDER, WORKGROUP]).await;
    assert_eq!(running.count(CARDHOLDER), 4);
    running.stop().await;
}
