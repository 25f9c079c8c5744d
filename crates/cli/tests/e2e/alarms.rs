//! Alarms end to end, with the simulator, the proxy and the role as real processes, driven
//! through the CLI: alarms active in SiPass at connection are triggered once (also across a
//! role restart), one acknowledged in SiPass is acknowledged here, one acknowledged here
//! while the proxy is down reaches SiPass exactly once after it returns, and changing the
//! alarm partitions removes a partition added by hand from every alarm.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use store::{AlarmAction, AlarmInstance};
use web::alarms::{AlarmEntityList, AlarmHistory, AlarmPage};

use crate::support::{
    SipassApi, System, TempDir, eventually, free_port, metric_value, run, s, start_proxy,
    start_role, start_sim, terminate,
};

const DEADLINE: Duration = Duration::from_secs(60);

/// The alarm class "Door Forced" of every generated site.
const DOOR_FORCED: &str = "3";

/// `sipass-bridge ARGS --json --data ROLE_DIR`, its output read as JSON `T`.
fn cli<T: serde::de::DeserializeOwned>(role_dir: &Path, args: &[&str]) -> T {
    let mut all = args.to_vec();
    all.extend(["--json", "--data", s(role_dir)]);
    let (ok, out, err) = run(&all, &[]);
    assert!(ok, "sipass-bridge {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed {out}: {e}"))
}

fn alarms(role_dir: &Path) -> AlarmPage {
    cli(role_dir, &["alarms", "list"])
}

/// Our alarm with SiPass's id `sipass_id`, if the role has it; fails on a doubled one.
fn alarm(role_dir: &Path, sipass_id: &str) -> Option<AlarmInstance> {
    let mut matching: Vec<AlarmInstance> = alarms(role_dir)
        .alarms
        .into_iter()
        .map(|a| a.alarm)
        .filter(|a| a.sipass_id == sipass_id)
        .collect();
    assert!(matching.len() <= 1, "alarm {sipass_id} triggered twice");
    matching.pop()
}

fn our_id(role_dir: &Path, sipass_id: &str) -> i64 {
    eventually(DEADLINE, &format!("alarm {sipass_id} triggered"), || {
        alarm(role_dir, sipass_id)
    })
    .id
}

fn history(role_dir: &Path, id: i64) -> Vec<(AlarmAction, String, String, String)> {
    let answer: AlarmHistory = cli(role_dir, &["alarms", "history", &id.to_string()]);
    answer
        .history
        .into_iter()
        .map(|h| (h.action, h.by, h.comment, h.origin))
        .collect()
}

fn raise(api: &SipassApi, class: &str) -> String {
    let raised = api.ok(
        "POST",
        "/api/sim/V1/Alarms",
        Some(json!({ "AlarmClassToken": class, "Message": "raised by the test" })),
    );
    raised["AlarmId"].as_str().expect("an alarm id").to_owned()
}

fn in_sipass(api: &SipassApi, id: &str) -> Value {
    api.ok("GET", &format!("/api/management/V1/Alarms/{id}"), None)
}

fn ack_requests(api: &SipassApi, id: &str) -> u64 {
    api.ok(
        "GET",
        &format!("/api/sim/V1/Alarms/{id}/Acknowledgements"),
        None,
    )["Requests"]
        .as_u64()
        .expect("a count")
}

fn alarms_active(role_url: &str) -> Option<f64> {
    let (_, text) =
        harness::blocking::get_text(&format!("{}/metrics", role_url.trim_end_matches('/'))).ok()?;
    metric_value(&text, "sipass_bridge_role_alarms_active", "")
}

#[test]
fn alarms_are_triggered_once_and_acknowledged_both_ways_even_while_the_proxy_is_down() {
    let dir = TempDir::new("alarms");
    let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
    let (_sim, url) = start_sim(&sim_dir, 20);
    let api = SipassApi::login(&url, &sim_dir);
    // Raised before the proxy runs: only SiPass's list of active alarms tells the role.
    let early = raise(&api, DOOR_FORCED);
    let port = free_port();
    let (mut proxy, _) = start_proxy(&proxy_dir, &sim_dir, &url, Some(port), &[]);
    let (mut role, _) = start_role(&role_dir, &proxy_dir, port);

    let early_id = our_id(&role_dir, &early);
    assert_eq!(
        history(&role_dir, early_id),
        [(
            AlarmAction::Triggered,
            String::new(),
            String::new(),
            "sipass".into()
        )]
    );

    // Raised while connected: triggered at once; acknowledged in SiPass, acknowledged here.
    let live = raise(&api, DOOR_FORCED);
    let live_id = our_id(&role_dir, &live);
    api.ok(
        "POST",
        &format!("/api/management/V1/Alarms/{live}/Acknowledge"),
        Some(json!({ "Operator": "sipass-op", "Comment": "seen in SiPass" })),
    );
    eventually(DEADLINE, "the SiPass acknowledgement here", || {
        let a = alarm(&role_dir, &live)?;
        a.acknowledged.then_some(())
    });
    assert_eq!(
        history(&role_dir, live_id),
        [
            (
                AlarmAction::Triggered,
                String::new(),
                String::new(),
                "sipass".into()
            ),
            (
                AlarmAction::Acknowledged,
                "sipass-op".into(),
                "seen in SiPass".into(),
                "sipass".into()
            ),
        ]
    );

    // The proxy down: acknowledged here, recorded at once and queued.
    proxy.kill().unwrap(); // SIGKILL
    let (ok, out, err) = run(
        &[
            "alarms",
            "ack",
            &early_id.to_string(),
            "--comment",
            "guard sent",
            "--data",
            s(&role_dir),
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(out.contains("queued for SiPass"), "{out}");
    let queued = alarm(&role_dir, &early).unwrap();
    assert!(queued.acknowledged && queued.ack_pending, "{queued:?}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        ack_requests(&api, &early),
        0,
        "nothing reaches SiPass without the proxy"
    );
    assert_eq!(in_sipass(&api, &early)["Acknowledged"], false);

    // The proxy back: delivered exactly once.
    let (_proxy, _) = start_proxy(&proxy_dir, &sim_dir, &url, Some(port), &[]);
    eventually(DEADLINE, "the acknowledgement in SiPass", || {
        (in_sipass(&api, &early)["Acknowledged"] == true).then_some(())
    });
    let sipass = in_sipass(&api, &early);
    assert_eq!(sipass["Operator"], "api-token");
    assert_eq!(sipass["Comment"], "guard sent");
    eventually(DEADLINE, "the queue emptied", || {
        let a = alarm(&role_dir, &early)?;
        (!a.ack_pending).then_some(())
    });
    // Acknowledging again here changes nothing and sends nothing.
    let (ok, out, err) = run(
        &[
            "alarms",
            "ack",
            &early_id.to_string(),
            "--data",
            s(&role_dir),
        ],
        &[],
    );
    assert!(ok && out.contains("acknowledged already"), "{out}{err}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ack_requests(&api, &early), 1, "sent to SiPass exactly once");
    let acknowledged_here = [
        (
            AlarmAction::Triggered,
            String::new(),
            String::new(),
            "sipass".into(),
        ),
        (
            AlarmAction::Acknowledged,
            "api-token".into(),
            "guard sent".into(),
            "here".into(),
        ),
    ];
    assert_eq!(history(&role_dir, early_id), acknowledged_here);

    // With the proxy there, acknowledging here reaches SiPass before the answer.
    let third = raise(&api, DOOR_FORCED);
    let third_id = our_id(&role_dir, &third);
    let (ok, out, err) = run(
        &[
            "alarms",
            "ack",
            &third_id.to_string(),
            "--data",
            s(&role_dir),
        ],
        &[],
    );
    assert!(ok && out.contains("and in SiPass"), "{out}{err}");
    assert_eq!(ack_requests(&api, &third), 1);

    // A role restart triggers nothing again.
    terminate(&mut role);
    let (_role, role_url) = start_role(&role_dir, &proxy_dir, port);
    eventually(DEADLINE, "alarms_active on /metrics", || {
        (alarms_active(&role_url)? == 3.0).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let all = alarms(&role_dir).alarms;
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(history(&role_dir, early_id), acknowledged_here);

    // Cleared in SiPass: acknowledged and cleared, no longer active.
    api.ok("POST", &format!("/api/sim/V1/Alarms/{live}/Clear"), None);
    eventually(DEADLINE, "the alarm cleared here", || {
        let active: AlarmPage = cli(&role_dir, &["alarms", "list", "--active"]);
        let ids: Vec<&str> = active
            .alarms
            .iter()
            .map(|a| a.alarm.sipass_id.as_str())
            .collect();
        (ids == [third.as_str(), early.as_str()]).then_some(())
    });
    eventually(DEADLINE, "alarms_active down to 2", || {
        (alarms_active(&role_url)? == 2.0).then_some(())
    });
    assert_eq!(
        history(&role_dir, live_id).last().map(|h| h.0),
        Some(AlarmAction::Cleared)
    );
}

#[test]
fn changing_alarm_partitions_removes_a_hand_added_partition_from_every_alarm() {
    let system = System::start("alarm-partitions", 10);
    let role_dir = system.role_dir();
    let set = |flag: &str, value: &str| {
        let (ok, out, err) = run(&["config", "set", flag, value, "--data", s(&role_dir)], &[]);
        assert!(ok, "config set {flag} {value}: {out}{err}");
        out
    };
    set("--alarm-partitions", "north");
    // Every alarm class of the site becomes an alarm entity, in the partition set.
    let entities = eventually(DEADLINE, "eight alarm entities", || {
        let list: AlarmEntityList = cli(&role_dir, &["alarms", "entities"]);
        (list.entities.len() == 8).then_some(list)
    });
    for view in &entities.entities {
        assert_eq!(view.entity.partitions, ["north"], "{view:?}");
        // No recipients configured: allowed, and said.
        assert!(view.entity.recipients.is_empty());
        assert!(
            view.notice
                .as_deref()
                .unwrap()
                .contains("nobody will be notified")
        );
    }
    let (ok, out, _) = run(&["config", "show", "--data", s(&role_dir)], &[]);
    assert!(ok && out.contains("nobody will be notified"), "{out}");

    // Partitions added by hand to two alarm entities.
    for (entity, partition) in [(DOOR_FORCED, "south"), ("5", "east")] {
        let (ok, out, err) = run(
            &[
                "alarms",
                "add-partition",
                entity,
                partition,
                "--data",
                s(&role_dir),
            ],
            &[],
        );
        assert!(ok, "{out}{err}");
    }
    let list: AlarmEntityList = cli(&role_dir, &["alarms", "entities"]);
    let of = |list: &AlarmEntityList, id: &str| {
        list.entities
            .iter()
            .find(|e| e.entity.id == id)
            .map(|e| e.entity.partitions.clone())
            .unwrap()
    };
    assert_eq!(of(&list, DOOR_FORCED), ["north", "south"]);
    assert_eq!(of(&list, "5"), ["north", "east"]);

    // The setting changed: reapplied to every alarm, the hand-added partitions gone.
    set("--alarm-partitions", "north,west");
    let list: AlarmEntityList = cli(&role_dir, &["alarms", "entities"]);
    assert_eq!(list.entities.len(), 8);
    for view in &list.entities {
        assert_eq!(view.entity.partitions, ["north", "west"], "{view:?}");
    }

    // A bad value is refused naming the field, and changes nothing.
    let (ok, _, err) = run(
        &[
            "config",
            "set",
            "--alarm-recipients",
            "someone",
            "--data",
            s(&role_dir),
        ],
        &[],
    );
    assert!(!ok && err.contains("alarm_recipients"), "{err}");
}
