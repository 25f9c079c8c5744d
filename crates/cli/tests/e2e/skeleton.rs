//! Cardholders travel from the simulator through the proxy into the role's Directory.

use std::time::Duration;

use model::RunOutcome;
use role::HealthState;

use crate::support::{
    SipassApi, System, bin, cardholders_in_directory, cardholders_in_sipass, eventually,
    metric_value, promtool_check, run, s, sync_status, terminate,
};

#[test]
fn a_thousand_cardholders_reach_the_directory_exactly() {
    let mut system = System::start("skeleton", 1000);
    let role_dir = system.role_dir();
    let status = eventually(Duration::from_secs(90), "1000 verified cardholders", || {
        let status = sync_status(&role_dir)?;
        let kind = status.kinds.get("cardholder")?;
        (kind.synchronized == 1000 && kind.digest_match == Some(true)).then_some(status)
    });
    assert_eq!(status.kinds["cardholder"].eligible, Some(1000));
    let credentials = &status.kinds["credential"];
    assert_eq!(Some(credentials.synchronized), credentials.eligible);
    assert_eq!(status.health.state, HealthState::Online);
    assert_eq!(
        status.latest_run.map(|run| run.outcome),
        Some(RunOutcome::Succeeded)
    );

    // Read straight from the simulator's HR API by a plain HTTPS client, not our own.
    let api = SipassApi::login(&system.sim_url, &system.dir.0.join("sim"));
    let in_sipass = cardholders_in_sipass(&api);
    assert_eq!(in_sipass.len(), 1000);
    assert_eq!(cardholders_in_directory(&role_dir), in_sipass);

    // A name from SiPass is text, never terminal control: the CLI escapes it.
    let mut hostile = api.ok("GET", "/api/V1/hr/Cardholders/1", None);
    hostile["FirstName"] = serde_json::json!("\u{1b}]0;pwned\u{7}\u{1b}[31mEvil");
    hostile["LastName"] = serde_json::json!("Name\nforged: line");
    api.ok("PUT", "/api/V1/hr/Cardholders/1", Some(hostile));
    eventually(
        Duration::from_secs(30),
        "the hostile name in the Directory",
        || {
            cardholders_in_directory(&role_dir)
                .iter()
                .any(|(id, name)| id == "1" && name.contains("forged"))
                .then_some(())
        },
    );
    let (ok, listed, _) = run(
        &[
            "entities",
            "list",
            "--kind",
            "cardholder",
            "--data",
            s(&role_dir),
        ],
        &[],
    );
    assert!(ok);
    assert!(!listed.contains(['\u{1b}', '\u{7}']), "{listed:?}");
    assert!(
        !listed.lines().any(|l| l.starts_with("forged")),
        "a name forged a line: {listed:?}"
    );
    assert!(listed.contains("\\u{1b}]0;pwned"), "{listed:?}");

    // For monitoring scripts: 0 while online and equal, 2 with the reason once the proxy
    // is gone, 1 when there is no role to ask.
    let check = |data: &std::path::Path| {
        let out = bin()
            .run(&["sync", "status", "--check", "--data", s(data)], &[])
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };
    assert_eq!(check(&role_dir).0, Some(0), "{}", check(&role_dir).1);
    let (ok, deep, stderr) = run(&["sync", "verify", "--deep", "--data", s(&role_dir)], &[]);
    assert!(ok, "{stderr}");
    assert!(
        deep.lines().any(|l| l.starts_with("cardholder")
            && l.contains(" 1000 ")
            && l.ends_with("consistent")),
        "{deep}"
    );

    // Health and metrics without the token, for monitoring; the metrics pass Prometheus's
    // own checker and say what `sync status` says.
    let (code, health) =
        harness::blocking::get_text(&format!("{}/health", system.role_url.trim_end_matches('/')))
            .unwrap();
    assert_eq!(code, 200, "{health}");
    assert!(health.contains("\"state\":\"online\""), "{health}");
    let (code, metrics) = harness::blocking::get_text(&format!(
        "{}/metrics",
        system.role_url.trim_end_matches('/')
    ))
    .unwrap();
    assert_eq!(code, 200, "{metrics}");
    promtool_check(&metrics);
    let status = sync_status(&role_dir).unwrap();
    for (kind, k) in &status.kinds {
        let labels = format!("kind=\"{kind}\"");
        assert_eq!(
            metric_value(
                &metrics,
                "sipass_bridge_role_entities_synchronized",
                &labels
            ),
            Some(k.synchronized as f64),
            "{kind}"
        );
        assert_eq!(
            metric_value(&metrics, "sipass_bridge_role_entities_eligible", &labels),
            k.eligible.map(|n| n as f64),
            "{kind}"
        );
    }
    assert_eq!(
        metric_value(&metrics, "sipass_bridge_role_health", "state=\"online\""),
        Some(1.0)
    );
    // Following changes: the lag in revisions is there and adds up.
    let lag = |name: &str| metric_value(&metrics, name, "").unwrap_or_else(|| panic!("{name}"));
    assert_eq!(
        lag("sipass_bridge_role_sync_applied_revision")
            + lag("sipass_bridge_role_sync_lag_revisions"),
        lag("sipass_bridge_role_sync_proxy_revision"),
        "{metrics}"
    );
    assert!(status.revisions.behind.is_some(), "{status:?}");

    // A clean stop: each process exits successfully on SIGTERM.
    assert!(
        terminate(&mut system.proxy).success(),
        "proxy: {}",
        system.proxy.stderr()
    );
    let stderr = eventually(Duration::from_secs(30), "--check to fail", || {
        let (code, stderr) = check(&role_dir);
        (code == Some(2)).then_some(stderr)
    });
    assert!(
        stderr.starts_with("unhealthy: the role is warning"),
        "{stderr}"
    );
    assert!(
        terminate(&mut system.role).success(),
        "role: {}",
        system.role.stderr()
    );
    assert_eq!(check(&role_dir).0, Some(1));
    assert!(
        terminate(&mut system.sim).success(),
        "sim: {}",
        system.sim.stderr()
    );
    let _ = (&system.proxy_addr, &system.role_url);

    // What the processes wrote (databases, tokens, keys, certificates) is theirs alone.
    for part in ["sim", "proxy", "role"] {
        let loose = loose_permissions(&system.dir.0.join(part));
        assert!(loose.is_empty(), "{part}: readable by others: {loose:?}");
    }
}

/// Files and folders below `dir` (not `dir` itself, which the test made) that anyone but
/// their owner may read, write or enter, with their modes.
fn loose_permissions(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut loose = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                loose.push((path.clone(), mode));
            }
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    assert!(
        dir.read_dir().unwrap().next().is_some(),
        "nothing was written in {dir:?}"
    );
    loose
}
