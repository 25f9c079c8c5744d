//! The management API: devices, commands, alarms and the audit trail.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Sim;

fn records(list: &Value) -> Vec<Value> {
    list["Records"]
        .as_array()
        .expect("a Records envelope")
        .clone()
}

#[tokio::test]
async fn every_device_kind_is_listed_and_readable_one_by_one() {
    let sim = Sim::start().await;
    for kind in [
        "Units",
        "Doorsets",
        "Banks",
        "ApbClusters",
        "ApbAreas",
        "IntrusionAreas",
        "Inputs",
        "Outputs",
        "AlarmClasses",
    ] {
        let (status, list) = sim.get(&sim.mgmt(kind)).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        let items = records(&list);
        assert!(!items.is_empty(), "{kind}");
        assert_eq!(list["TotalRecords"], items.len());
        let token = items[0]["Token"].as_str().expect("numeric-string tokens");
        assert!(token.parse::<u64>().is_ok());
        let (status, one) = sim
            .get(&sim.mgmt(&format!("{}/{token}", kind.to_lowercase())))
            .await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        assert_eq!(one, items[0]);
        let (status, body) = sim.get(&sim.mgmt(&format!("{kind}/98765"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{kind}");
        assert_eq!(body["ErrorCode"], 909);
    }
}

#[tokio::test]
async fn devices_come_in_realistic_proportions_with_their_parts() {
    let sim = Sim::start().await;
    let units = records(&sim.get(&sim.mgmt("Units")).await.1);
    let doors = records(&sim.get(&sim.mgmt("Doorsets")).await.1);
    assert_eq!(doors.len(), 8, "250 cardholders: the minimum of 8 doorsets");
    assert_eq!(units.len(), 1, "one unit per 8 doorsets");
    let unit = &units[0];
    assert!(unit["TimeZone"].as_str().unwrap().contains('/'));
    assert!(!unit["Peripherals"].as_array().unwrap().is_empty());
    assert_eq!(unit["CommState"], "Online");
    assert_eq!(unit["PowerState"], "Normal");
    let door = &doors[0];
    assert_eq!(door["UnitToken"], unit["Token"]);
    assert!(
        door["SideA"]["AccessPointName"]
            .as_str()
            .unwrap()
            .ends_with("_IN")
    );
    assert!(door["Lock"]["Token"].is_string());
    assert_eq!(door["State"]["Lock"], "Locked");
    let reader = door["SideA"]["AccessPointToken"].as_str().unwrap();
    let (status, _) = sim.get(&sim.hr(&format!("AccessPoints/{reader}"))).await;
    assert_eq!(status, StatusCode::OK, "side A is an HR API access point");
    let banks = records(&sim.get(&sim.mgmt("Banks")).await.1);
    assert!(!banks[0]["Floors"].as_array().unwrap().is_empty());
    let classes = records(&sim.get(&sim.mgmt("AlarmClasses")).await.1);
    assert!(classes.iter().all(|c| c["Priority"].is_i64()));
}

async fn command(sim: &Sim, kind: &str, token: &str, command: &str) -> (StatusCode, Value) {
    sim.post(
        &sim.mgmt("Commands"),
        json!({"TargetKind": kind, "TargetToken": token, "Command": command}),
    )
    .await
}

async fn events_after(sim: &Sim, after: u64) -> Vec<Value> {
    let (status, list) = sim.get(&sim.mgmt(&format!("Events?after={after}"))).await;
    assert_eq!(status, StatusCode::OK);
    records(&list)
}

#[tokio::test]
async fn door_commands_change_state_and_emit_events() {
    let sim = Sim::start().await;
    let door = |s: Value| s;
    for (cmd, field, value, event) in [
        ("Unlock", "Lock", json!("Unlocked"), "Door Unlocked"),
        ("Lock", "Lock", json!("Locked"), "Door Locked"),
        ("Block", "Blocked", json!(true), "Door Blocked"),
        ("Unblock", "Blocked", json!(false), "Door Unblocked"),
        ("BuzzerOn", "Buzzer", json!(true), "Buzzer On"),
        ("BuzzerOff", "Buzzer", json!(false), "Buzzer Off"),
        (
            "ReturnToSchedule",
            "Control",
            json!("Schedule"),
            "Door Returned To Schedule",
        ),
        (
            "AllowAccess",
            "Lock",
            json!("Locked"),
            "Door Access Allowed",
        ),
    ] {
        let before = sim.running.site.hub().last_sequence();
        let (status, result) = command(&sim, "Doorset", "2", cmd).await;
        assert_eq!(status, StatusCode::OK, "{cmd}");
        assert_eq!(result["Result"], "Succeeded", "{cmd}");
        let (_, d) = sim.get(&sim.mgmt("Doorsets/2")).await;
        assert_eq!(door(d)["State"][field], value, "{cmd}");
        let events = events_after(&sim, before).await;
        assert_eq!(events.len(), 1, "{cmd}");
        assert_eq!(events[0]["Type"], event);
        assert_eq!(events[0]["EntityKind"], "Doorset");
        assert_eq!(events[0]["EntityToken"], "2");
        assert_eq!(events[0]["PointName"], "Door 0002");
        assert_eq!(events[0]["UnitNo"], 1);
    }
}

#[tokio::test]
async fn area_and_output_commands_and_refusals() {
    let sim = Sim::start().await;
    let (_, r) = command(&sim, "IntrusionArea", "1", "Arm").await;
    assert_eq!(r["Result"], "Succeeded");
    assert_eq!(
        sim.get(&sim.mgmt("IntrusionAreas/1")).await.1["State"],
        "Armed"
    );
    command(&sim, "IntrusionArea", "1", "Disarm").await;
    assert_eq!(
        sim.get(&sim.mgmt("IntrusionAreas/1")).await.1["State"],
        "Disarmed"
    );

    command(&sim, "Output", "1", "Toggle").await;
    assert_eq!(sim.get(&sim.mgmt("Outputs/1")).await.1["State"], "On");
    for pulse in ["FastPulse", "SinglePulse", "SlowPulse"] {
        let before = sim.running.site.hub().last_sequence();
        let (_, r) = command(&sim, "Output", "1", pulse).await;
        assert_eq!(r["Result"], "Succeeded");
        let types: Vec<Value> = events_after(&sim, before)
            .await
            .iter()
            .map(|e| e["Type"].clone())
            .collect();
        assert_eq!(
            types,
            vec![json!("Output On"), json!("Output Off")],
            "{pulse}"
        );
    }

    let (status, r) = command(&sim, "Doorset", "1", "Arm").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["Result"], "NotSupported");
    let (status, _) = command(&sim, "Doorset", "999", "Lock").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = command(&sim, "Doorset", "1", "Explode").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["ErrorCode"], 909);

    // A unit that lost communication takes no commands.
    let (_, mut unit) = sim.get(&sim.mgmt("Units/1")).await;
    unit["CommState"] = json!("Lost");
    let (status, _) = sim.put(&sim.simapi("Units/1"), unit).await;
    assert_eq!(status, StatusCode::OK);
    let (_, r) = command(&sim, "Doorset", "1", "Unlock").await;
    assert_eq!(r["Result"], "UnitOffline");
    assert_eq!(
        sim.get(&sim.mgmt("Doorsets/1")).await.1["State"]["Lock"],
        "Locked"
    );
}

#[tokio::test]
async fn alarms_are_raised_acknowledged_once_and_cleared() {
    let sim = Sim::start().await;
    let (status, alarm) = sim
        .post(&sim.simapi("Alarms"), json!({"AlarmClassToken": "3", "Message": "Door 1 forced", "SourceKind": "Doorset", "SourceToken": "1"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = alarm["AlarmId"].as_str().unwrap().to_owned();
    assert_eq!(alarm["AlarmClassName"], "Door Forced");
    assert_eq!(alarm["Priority"], 10);
    let active = records(&sim.get(&sim.mgmt("Alarms")).await.1);
    assert_eq!(active.len(), 1);

    let ack = json!({"Operator": "alice", "Comment": "on it"});
    let before = sim.running.site.hub().last_sequence();
    let (status, first) = sim
        .post(&sim.mgmt(&format!("Alarms/{id}/Acknowledge")), ack.clone())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["State"], "Acknowledged");
    assert_eq!(first["Operator"], "alice");
    let after_first = sim.running.site.hub().last_sequence();
    assert_eq!(after_first, before + 1, "one alarm push message");
    let (status, second) = sim
        .post(
            &sim.mgmt(&format!("Alarms/{id}/Acknowledge")),
            json!({"Operator": "bob", "Comment": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "acknowledging twice is fine");
    assert_eq!(second, first, "and changes nothing");
    assert_eq!(sim.running.site.hub().last_sequence(), after_first);

    assert_eq!(
        records(&sim.get(&sim.mgmt("Alarms")).await.1).len(),
        1,
        "active until cleared"
    );
    let (status, cleared) = sim
        .post(&sim.simapi(&format!("Alarms/{id}/Clear")), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cleared["Cleared"], true);
    assert!(records(&sim.get(&sim.mgmt("Alarms")).await.1).is_empty());
    let (status, _) = sim.get(&sim.mgmt(&format!("Alarms/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "a finished alarm can still be read");

    let (status, _) = sim.post(&sim.mgmt("Alarms/777/Acknowledge"), ack).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = sim
        .post(&sim.simapi("Alarms"), json!({"AlarmClassToken": "99"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn injected_events_are_filled_in_and_paged_by_sequence() {
    let sim = Sim::start().await;
    let (status, e) = sim
        .post(
            &sim.simapi("Events"),
            json!({"Type": "Access Granted", "EntityToken": "3", "CardholderToken": "5"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, holder) = sim.get(&sim.hr("Cardholders/5")).await;
    assert_eq!(e["CardholderToken"], "5");
    assert_eq!(e["FirstName"], holder["FirstName"]);
    assert_eq!(e["CardNo"], holder["Credentials"][0]["CardNumber"]);
    assert_eq!(e["CardFacility"], 100);
    assert_eq!(e["EmpId"], "E0000005");
    assert_eq!(e["Category"], "Access");
    assert_eq!(e["Server"], "SIPASS-SIM");
    assert!(e["OccurredAt"].as_str().unwrap().ends_with("+00:00"));

    let (_, apb) = sim
        .post(&sim.simapi("Events"), json!({"Type": "Access To AP Area"}))
        .await;
    assert!(!apb["NewArea"].as_str().unwrap().is_empty());
    assert!(!apb["OldArea"].as_str().unwrap().is_empty());
    for t in [
        "Communication Lost",
        "Input Alarm",
        "Area Armed",
        "Reader Tamper",
    ] {
        let (status, e) = sim.post(&sim.simapi("Events"), json!({"Type": t})).await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        assert_eq!(e["Type"], t);
        assert!(!e["EntityToken"].as_str().unwrap().is_empty());
    }
    let (status, _) = sim
        .post(&sim.simapi("Events"), json!({"Type": "Nonsense"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = sim
        .post(
            &sim.simapi("Events"),
            json!({"Type": "Door Forced", "EntityToken": "999"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let all = events_after(&sim, 0).await;
    assert_eq!(all.len(), 6);
    let seqs: Vec<u64> = all
        .iter()
        .map(|e| e["Sequence"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let (_, page) = sim
        .get(&sim.mgmt(&format!("Events?after={}&limit=2", seqs[1])))
        .await;
    let page: Vec<u64> = records(&page)
        .iter()
        .map(|e| e["Sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(page, seqs[2..4].to_vec());
    let (status, _) = sim.get(&sim.mgmt("Events?after=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
