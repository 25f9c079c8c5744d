//! Against the HR API alone (`sim --hr-only`, as a real SiPass): cardholders, credentials
//! and workgroups synchronize by polling, and the role says which kinds and features are
//! unavailable and why instead of showing them as zero.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    SipassApi, TempDir, cardholders_in_directory, cardholders_in_sipass, eventually, role_status,
    run, s, start_proxy, start_role, start_sim_with,
};

const DEADLINE: Duration = Duration::from_secs(120);

#[test]
fn the_hr_api_alone_synchronizes_by_polling_and_reports_what_is_missing() {
    let dir = TempDir::new("hr-only");
    let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
    let (_sim, url) = start_sim_with(&sim_dir, 300, &["--hr-only"]);
    let api = SipassApi::login(&url, &sim_dir);
    let metrics = format!("127.0.0.1:{}", crate::support::free_port());
    let (proxy, _) = start_proxy(
        &proxy_dir,
        &sim_dir,
        &url,
        None,
        &[
            "--reload-every-without-push",
            "2",
            "--metrics-listen",
            &metrics,
        ],
    );
    let (_role, role_url) = start_role(&role_dir, &proxy_dir, proxy.port().unwrap());

    let status = eventually(DEADLINE, "the cardholders to be synchronized", || {
        role_status(&role_url, &role_dir).filter(|st| {
            st.kinds
                .get("cardholder")
                .is_some_and(|k| k.synchronized == 300)
                && st.latest_run.as_ref().is_some_and(|r| r.error.is_none())
                && st
                    .health
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("synchronized and verified"))
        })
    });
    assert!(status.kinds["credential"].synchronized >= 300);
    assert!(
        status.kinds.contains_key("cardholder-group"),
        "{:?}",
        status.kinds.keys()
    );
    for device in ["door", "elevator", "area", "access-control-unit", "alarm"] {
        assert!(
            !status.kinds.contains_key(device),
            "{device} is unavailable, not zero: {:?}",
            status.kinds.keys()
        );
    }
    assert!(
        status
            .health
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("not available against this SiPass: devices")),
        "{:?}",
        status.health
    );
    let features: Vec<&str> = status
        .proxy
        .unavailable
        .iter()
        .map(|u| u.feature.as_str())
        .collect();
    assert_eq!(
        features,
        ["devices", "commands", "push channel", "events", "alarms"]
    );
    let devices = &status.proxy.unavailable[0];
    assert!(devices.kinds.iter().any(|k| k == "door"), "{devices:?}");
    assert!(
        devices.reason.contains("management API"),
        "{}",
        devices.reason
    );
    assert!(status.proxy.unavailable[2].reason.contains("every 2 s"));

    // Without a push channel, a change is found by reading SiPass again.
    let mut c = api.ok("GET", "/api/V1/hr/Cardholders/5", None);
    c["LastName"] = json!("Polled");
    api.ok("PUT", "/api/V1/hr/Cardholders/5", Some(c));
    eventually(DEADLINE, "the change to be found by polling", || {
        let sipass = cardholders_in_sipass(&api);
        (sipass.iter().any(|(_, n)| n.ends_with("Polled"))
            && cardholders_in_directory(&role_dir) == sipass)
            .then_some(())
    });

    // So do the proxy's metrics: named, not zero.
    let (_, text) = harness::blocking::get_text(&format!("http://{metrics}/metrics")).unwrap();
    assert!(
        text.contains(r#"sipass_feature_unavailable{feature="push channel"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains(r#"entities_eligible{kind="doorset"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"entities_eligible{kind="cardholder"}"#),
        "{text}"
    );

    // The CLI says it plainly too.
    let (ok, out, err) = run(&["sync", "status", "--data", s(&role_dir)], &[]);
    assert!(ok, "{err}");
    assert!(out.contains("Unavailable: push channel:"), "{out}");
    assert!(out.contains("Unavailable: devices ("), "{out}");
}
