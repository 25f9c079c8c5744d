//! Synchronization at scale, with the plug pulled: 100,000 cardholders with credentials,
//! changes during and after, the proxy or the role killed halfway.
//!
//! These run against the release binary when `SIPASS_BRIDGE_BIN` points at it (scripts/test
//! does that); with a debug binary they still pass, only slower.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    SipassApi, TempDir, cardholders_in_directory, cardholders_in_sipass, eventually, free_port,
    role_status, start_proxy, start_role, start_sim, total_eligible, verified,
};

const LARGE: usize = 100_000;
/// How long a large synchronization may take on a slow two-core machine.
const LARGE_DEADLINE: Duration = Duration::from_secs(600);

/// Waits until the listing of cardholders is under way (some done, not all).
fn wait_halfway(role_url: &str, role_dir: &Path) {
    eventually(
        LARGE_DEADLINE,
        "the cardholder listing to be under way",
        || {
            let status = role_status(role_url, role_dir)?;
            let p = harness::cardholder_progress(&status)?;
            (p.done >= p.total / 5 && p.done < p.total).then_some(())
        },
    );
}

fn rename(api: &SipassApi, token: &str, last: &str) {
    let mut c = api.ok("GET", &format!("/api/V1/hr/Cardholders/{token}"), None);
    c["LastName"] = json!(last);
    api.ok("PUT", &format!("/api/V1/hr/Cardholders/{token}"), Some(c));
}

fn create(api: &SipassApi, first: &str) -> String {
    let mut c = api.ok("GET", "/api/V1/hr/Cardholders/1", None);
    c["Token"] = json!("-1");
    c["FirstName"] = json!(first);
    c["Credentials"] = json!([]);
    api.ok("POST", "/api/V1/hr/Cardholders", Some(c))["Token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_hundred_thousand_cardholders_are_synchronized_verified_and_kept_current() {
    let dir = TempDir::new("large");
    let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
    let (_sim, url) = start_sim(&sim_dir, LARGE);
    let port = free_port();
    let (_proxy, _) = start_proxy(&proxy_dir, &sim_dir, &url, Some(port), &[]);
    let (_role, role_url) = start_role(&role_dir, &proxy_dir, port);
    let api = SipassApi::login(&url, &sim_dir);

    // Changes while the full synchronization runs...
    wait_halfway(&role_url, &role_dir);
    rename(&api, "10", "DuringSync");
    rename(&api, &(LARGE - 10).to_string(), "DuringSyncLate");
    api.ok("DELETE", "/api/V1/hr/Cardholders/20", None);
    let during = create(&api, "Created-during");

    let status = eventually(
        LARGE_DEADLINE,
        "the first synchronization to be verified",
        || role_status(&role_url, &role_dir).filter(verified),
    );
    assert!(status.kinds["cardholder"].synchronized >= LARGE as u64 - 1);
    assert!(status.kinds["credential"].synchronized >= LARGE as u64);

    // ...and after it.
    rename(&api, "30", "AfterSync");
    api.ok("DELETE", "/api/V1/hr/Cardholders/40", None);
    let after = create(&api, "Created-after");

    let expected = cardholders_in_sipass(&api);
    assert!(
        expected
            .iter()
            .any(|(id, name)| *id == during && name.starts_with("Created-during"))
    );
    assert!(expected.iter().any(|(id, _)| *id == after));
    eventually(
        Duration::from_secs(60),
        "every change in the Directory",
        || (cardholders_in_directory(&role_dir) == expected).then_some(()),
    );
    eventually(Duration::from_secs(60), "verified again", || {
        role_status(&role_url, &role_dir).filter(verified)
    });
}

#[test]
fn a_proxy_killed_halfway_through_a_full_synchronization_costs_under_ten_percent_extra() {
    let dir = TempDir::new("proxykill");
    let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
    let (_sim, url) = start_sim(&sim_dir, LARGE);
    let port = free_port();
    let (mut proxy, _) = start_proxy(&proxy_dir, &sim_dir, &url, Some(port), &[]);
    let (_role, role_url) = start_role(&role_dir, &proxy_dir, port);

    wait_halfway(&role_url, &role_dir);
    proxy.kill().unwrap(); // SIGKILL
    let (_proxy, _) = start_proxy(&proxy_dir, &sim_dir, &url, Some(port), &[]);

    let status = eventually(
        LARGE_DEADLINE,
        "the resumed synchronization to be verified",
        || role_status(&role_url, &role_dir).filter(verified),
    );
    let clean = total_eligible(&status);
    let transferred = status.transfer.listed + status.transfer.watched;
    assert!(
        transferred * 100 < clean * 110,
        "transferred {transferred} entities for a clean synchronization of {clean}"
    );
}

#[test]
fn a_role_killed_halfway_resumes_where_it_stopped_and_ends_verified() {
    let dir = TempDir::new("rolekill");
    let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
    let (_sim, url) = start_sim(&sim_dir, LARGE);
    let port = free_port();
    let (_proxy, _) = start_proxy(&proxy_dir, &sim_dir, &url, Some(port), &[]);
    let (mut role, role_url) = start_role(&role_dir, &proxy_dir, port);

    wait_halfway(&role_url, &role_dir);
    role.kill().unwrap(); // SIGKILL
    let (_role, role_url) = start_role(&role_dir, &proxy_dir, port);

    let status = eventually(
        LARGE_DEADLINE,
        "the resumed synchronization to be verified",
        || role_status(&role_url, &role_dir).filter(verified),
    );
    assert_eq!(status.latest_run.as_ref().unwrap().trigger, "resumed");
    let listed = status.transfer.listed;
    assert!(
        listed < total_eligible(&status),
        "the restarted role listed {listed}: it started over"
    );
    let api = SipassApi::login(&url, &sim_dir);
    assert_eq!(
        cardholders_in_directory(&role_dir),
        cardholders_in_sipass(&api)
    );
}

#[test]
fn deletions_and_the_credential_switch_reach_the_directory() {
    let dir = TempDir::new("credswitch");
    let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
    let (_sim, url) = start_sim(&sim_dir, 500);
    let port = free_port();
    let (_proxy, _) = start_proxy(&proxy_dir, &sim_dir, &url, Some(port), &[]);
    let (_role, role_url) = start_role(&role_dir, &proxy_dir, port);
    let api = SipassApi::login(&url, &sim_dir);
    let status = eventually(Duration::from_secs(120), "verified", || {
        role_status(&role_url, &role_dir).filter(verified)
    });
    let credentials = status.kinds["credential"].eligible.unwrap();
    assert!(
        credentials >= 500,
        "every credential, not only the first: {credentials}"
    );

    // A cardholder deleted in SiPass disappears, with its credentials.
    let card = api.ok("GET", "/api/V1/hr/Cardholders/7", None)["Credentials"][0]["CardNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    api.ok("DELETE", "/api/V1/hr/Cardholders/7", None);
    let data = crate::support::s(&role_dir).to_owned();
    eventually(Duration::from_secs(30), "cardholder 7 gone", || {
        // Other kinds (a door, a unit) may have the token 7 too.
        let (_, out, _) =
            crate::support::run(&["entities", "show", "7", "--json", "--data", &data], &[]);
        let found: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        let kinds = found["entities"].as_array().cloned().unwrap_or_default();
        kinds
            .iter()
            .all(|e| e["kind"] != "cardholder")
            .then_some(())
    });
    let (_, out, _) = crate::support::run(
        &[
            "entities",
            "list",
            "--kind",
            "credential",
            "--limit",
            "10000",
            "--json",
            "--data",
            &data,
        ],
        &[],
    );
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert!(
        listed["entities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["id"].as_str().unwrap().ends_with(&format!(":{card}")))
    );

    // Off: no credentials. On: all of them.
    let (ok, _, err) = crate::support::run(
        &[
            "config",
            "set",
            "--sync-credentials",
            "off",
            "--data",
            &data,
        ],
        &[],
    );
    assert!(ok, "{err}");
    eventually(Duration::from_secs(30), "no credentials", || {
        let status = role_status(&role_url, &role_dir)?;
        (!status.kinds.contains_key("credential") && verified(&status)).then_some(())
    });
    let (_, out, _) = crate::support::run(
        &[
            "entities",
            "list",
            "--kind",
            "credential",
            "--json",
            "--data",
            &data,
        ],
        &[],
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["entities"],
        json!([])
    );
    let (ok, _, err) = crate::support::run(
        &["config", "set", "--sync-credentials", "on", "--data", &data],
        &[],
    );
    assert!(ok, "{err}");
    let status = eventually(Duration::from_secs(60), "credentials back", || {
        let status = role_status(&role_url, &role_dir)?;
        let credentials = status.kinds.get("credential")?;
        (credentials.synchronized > 0 && verified(&status)).then_some(status)
    });
    let credentials = &status.kinds["credential"];
    assert_eq!(Some(credentials.synchronized), credentials.eligible);

    // A bad setting names the field and changes nothing.
    let (ok, _, err) = crate::support::run(
        &[
            "config",
            "set",
            "--port",
            "0",
            "--host",
            "ok.example",
            "--data",
            &data,
        ],
        &[],
    );
    assert!(!ok && err.contains("port:"), "{err}");
    let (_, out, _) = crate::support::run(&["config", "show", "--json", "--data", &data], &[]);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["host"],
        "127.0.0.1"
    );
}
