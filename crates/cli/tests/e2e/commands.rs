//! Commands end to end: every command type sent with the CLI to a role, through a proxy, to
//! the simulator, whose device state is read back; each recorded in the activity trail with
//! every field; an unsupported command refused naming the entity and the command; and a
//! command while the proxy is down refused at once as not connected, and recorded.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{SipassApi, System, eventually, run, s, sync_status, verified};

const DEADLINE: Duration = Duration::from_secs(120);

/// `sipass-bridge command ... --json` against the role in `data`: its answer, or stderr.
fn command(data: &str, args: &[&str]) -> Result<Value, String> {
    let mut all = vec!["command", "--json", "--data", data];
    all.extend_from_slice(args);
    let (ok, out, err) = run(&all, &[]);
    if ok {
        Ok(serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")))
    } else {
        Err(err)
    }
}

/// A device as the simulator's management API has it now.
fn device(api: &SipassApi, collection: &str, token: &str) -> Value {
    api.ok(
        "GET",
        &format!("/api/management/V1/{collection}/{token}"),
        None,
    )
}

/// The first record of a management collection that `pick` accepts: (token, name).
fn first(api: &SipassApi, collection: &str, pick: impl Fn(&Value) -> bool) -> (String, String) {
    let list = api.ok("GET", &format!("/api/management/V1/{collection}"), None);
    let record = list["Records"]
        .as_array()
        .and_then(|r| r.iter().find(|d| pick(d)))
        .unwrap_or_else(|| panic!("the simulator has {collection}: {list}"));
    (
        record["Token"].as_str().unwrap().to_owned(),
        record["Name"].as_str().unwrap().to_owned(),
    )
}

/// Sends `action` to the entity and checks SiPass's result and the device read back.
fn check(
    data: &str,
    api: &SipassApi,
    (collection, token, kind): (&str, &str, &str),
    action: &str,
    wire: &str,
    expect: impl Fn(&Value) -> bool,
) {
    let answer = command(data, &[token, action, "--kind", kind])
        .unwrap_or_else(|e| panic!("{action} on {kind} {token} failed: {e}"));
    assert_eq!(answer["result"], "Succeeded", "{answer}");
    assert_eq!(answer["activity"]["outcome"], "succeeded", "{answer}");
    let now = device(api, collection, token);
    let state_override = now["State"]["LastOverride"].clone();
    let last = if state_override.is_null() {
        now["LastOverride"].clone()
    } else {
        state_override
    };
    assert_eq!(last, wire, "{action}: {now}");
    assert!(
        expect(&now),
        "{action} did not change the device as expected: {now}"
    );
}

#[test]
fn every_command_changes_the_simulated_device_and_lands_in_the_activity_trail() {
    let mut system = System::start("commands", 20);
    let role_dir = system.role_dir();
    let data = s(&role_dir).to_owned();
    eventually(DEADLINE, "a verified synchronization", || {
        sync_status(&role_dir).filter(verified)
    });
    let api = SipassApi::login(&system.sim_url, &system.dir.0.join("sim"));
    let (door, door_name) = first(&api, "Doorsets", |_| true);
    let (area, _) = first(&api, "IntrusionAreas", |_| true);
    let (output, _) = first(&api, "Outputs", |o| {
        o["Name"].as_str().is_some_and(|n| n.contains("Aux Out"))
    });
    let d = ("Doorsets", door.as_str(), "door");
    let counter = |v: &Value, field: &str| v["State"][field].as_u64().unwrap_or(0);
    let allowed_before = counter(&device(&api, "Doorsets", &door), "AccessAllowed");

    check(&data, &api, d, "allow-access", "AllowAccess", |v| {
        counter(v, "AccessAllowed") == allowed_before + 1
    });
    check(&data, &api, d, "block", "Block", |v| {
        v["State"]["Blocked"] == true
    });
    check(&data, &api, d, "unblock", "Unblock", |v| {
        v["State"]["Blocked"] == false
    });
    check(&data, &api, d, "lock", "Lock", |v| {
        v["State"]["Lock"] == "Locked" && v["State"]["Control"] == "Override"
    });
    check(&data, &api, d, "unlock", "Unlock", |v| {
        v["State"]["Lock"] == "Unlocked"
    });
    check(&data, &api, d, "buzzer-on", "BuzzerOn", |v| {
        v["State"]["Buzzer"] == true
    });
    check(&data, &api, d, "buzzer-off", "BuzzerOff", |v| {
        v["State"]["Buzzer"] == false
    });
    check(
        &data,
        &api,
        d,
        "return-to-schedule",
        "ReturnToSchedule",
        |v| v["State"]["Control"] == "Schedule",
    );
    // By its exact name rather than its token.
    let by_name = command(&data, &[&door_name, "unlock"]).expect("a door by its name");
    assert_eq!(by_name["activity"]["entity_id"], door.as_str(), "{by_name}");

    let a = ("IntrusionAreas", area.as_str(), "intrusion-detection-area");
    check(&data, &api, a, "arm", "Arm", |v| v["State"] == "Armed");
    check(&data, &api, a, "disarm", "Disarm", |v| {
        v["State"] == "Disarmed"
    });

    let o = ("Outputs", output.as_str(), "output");
    let pulses = |v: &Value| v["Pulses"].as_u64().unwrap_or(0);
    for (action, wire) in [
        ("fast-pulse", "FastPulse"),
        ("single-pulse", "SinglePulse"),
        ("slow-pulse", "SlowPulse"),
    ] {
        let before = pulses(&device(&api, "Outputs", &output));
        check(&data, &api, o, action, wire, |v| pulses(v) == before + 1);
    }
    let state = |v: &Value| v["State"].as_str().unwrap_or_default().to_owned();
    let before = state(&device(&api, "Outputs", &output));
    check(&data, &api, o, "toggle", "Toggle", |v| state(v) != before);
    // Toggle linked to an output behaviour of the site's own name, sent by that name.
    let (ok, _, err) = run(
        &[
            "config",
            "set",
            "--data",
            &data,
            "--output-behaviour",
            "toggle=Relay flip",
        ],
        &[],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(
        &[
            "config",
            "set",
            "--data",
            &data,
            "--output-behaviour",
            "wiggle=x",
        ],
        &[],
    );
    assert!(
        !ok && err.contains("output_behaviours") && err.contains("wiggle"),
        "{err}"
    );
    let before = state(&device(&api, "Outputs", &output));
    let flipped = command(&data, &[&output, "Relay flip", "--kind", "output"]).expect("toggled");
    assert!(
        flipped["activity"]["activity_label"]
            .as_str()
            .is_some_and(|l| l.contains("Relay flip")),
        "{flipped}"
    );
    assert_ne!(state(&device(&api, "Outputs", &output)), before);

    // A door is not armed: refused, naming the door and the command, and what it takes.
    let refused = command(&data, &[&door, "arm", "--kind", "door"]).unwrap_err();
    assert!(
        refused.contains(&format!("door '{door_name}'"))
            && refused.contains("'arm'")
            && refused.contains("allow-access"),
        "{refused}"
    );

    // A hostile name from SiPass is shown escaped on the terminal, in the answer and the trail.
    let doors = api.ok("GET", "/api/management/V1/Doorsets", None);
    let mut hostile = doors["Records"][1].clone();
    let hostile_token = hostile["Token"].as_str().unwrap().to_owned();
    hostile["Name"] = serde_json::json!("\u{1b}[31mEvil\nforged: line");
    api.ok(
        "PUT",
        &format!("/api/sim/V1/Doorsets/{hostile_token}"),
        Some(hostile),
    );
    eventually(DEADLINE, "the hostile name in the Directory", || {
        let (ok, out, _) = run(
            &[
                "entities",
                "show",
                &hostile_token,
                "--json",
                "--data",
                &data,
            ],
            &[],
        );
        (ok && out.contains("forged")).then_some(())
    });
    let (ok, shown, err) = run(
        &[
            "command",
            &hostile_token,
            "block",
            "--kind",
            "door",
            "--data",
            &data,
        ],
        &[],
    );
    assert!(ok, "{err}");
    let (ok, trail, err) = run(&["activity", "--limit", "1", "--data", &data], &[]);
    assert!(ok, "{err}");
    for text in [&shown, &trail] {
        assert!(text.contains("Evil") && !text.contains('\u{1b}'), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("forged")), "{text}");
    }

    // The trail: every command, every field filled.
    let (ok, out, err) = run(
        &["activity", "--json", "--limit", "100", "--data", &data],
        &[],
    );
    assert!(ok, "{err}");
    let page: Value = serde_json::from_str(&out).unwrap();
    let activities = page["activities"].as_array().unwrap();
    assert_eq!(activities.len(), 18, "{out}");
    for a in activities {
        for field in [
            "at",
            "entity_id",
            "entity_kind",
            "entity_name",
            "activity",
            "activity_label",
            "application",
            "application_version",
            "machine",
            "user",
            "outcome",
            "message",
        ] {
            assert!(
                a[field].as_str().is_some_and(|v| !v.trim().is_empty()),
                "{field} is empty in {a}"
            );
        }
        assert_eq!(a["application"], "CLI", "{a}");
        assert_eq!(a["user"], "api-token", "{a}");
        assert_eq!(
            a["application_version"],
            model::version::PRODUCT_VERSION,
            "{a}"
        );
    }
    let kinds: std::collections::BTreeSet<&str> = activities
        .iter()
        .filter_map(|a| a["activity"].as_str())
        .collect();
    assert_eq!(
        kinds.len(),
        14,
        "every command type is in the trail: {kinds:?}"
    );
    assert_eq!(
        activities[0]["entity_id"],
        hostile_token.as_str(),
        "newest first"
    );
    assert_eq!(activities[1]["outcome"], "not-supported");

    // The proxy down: refused at once, as not connected, and recorded.
    // SIGKILL: a proxy that is gone, as after a crash or a network cut.
    system.proxy.kill().expect("the proxy is killed");
    eventually(DEADLINE, "the role to notice the proxy is gone", || {
        sync_status(&role_dir).filter(|st| !st.proxy.connected)
    });
    let started = Instant::now();
    let down = command(&data, &[&door, "unlock", "--kind", "door"]).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered at once"
    );
    assert!(down.contains("not connected"), "{down}");
    let (ok, out, err) = run(
        &[
            "activity", "--json", "--entity", &door, "--limit", "1", "--data", &data,
        ],
        &[],
    );
    assert!(ok, "{err}");
    let latest: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(latest["activities"][0]["outcome"], "not-connected", "{out}");
    assert_eq!(
        latest["activities"][0]["entity_name"],
        door_name.as_str(),
        "{out}"
    );
}
