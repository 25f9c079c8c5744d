//! Workgroups, access levels and groups, readers, floors, schedules, card technologies,
//! credential profiles, and the version profiles.

use model::SiPassVersion;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Sim, config};

fn records(list: &Value) -> &Vec<Value> {
    list["Records"].as_array().expect("a Records envelope")
}

#[tokio::test]
async fn workgroups_have_the_builtin_ones_and_numeric_tokens() {
    let sim = Sim::start().await;
    let (status, list) = sim.get(&sim.hr("WorkGroups")).await;
    assert_eq!(status, StatusCode::OK);
    let groups = records(&list);
    assert_eq!(list["TotalRecords"], groups.len());
    let find = |t: i64| groups.iter().find(|g| g["Token"] == t).cloned();
    assert_eq!(find(1).unwrap()["Name"], "<None>");
    let visitor = find(2_000_000_000).unwrap();
    assert_eq!(
        (visitor["Name"].as_str(), visitor["Type"].as_i64()),
        (Some("<Visitor>"), Some(3))
    );
    assert!(groups.iter().all(|g| g["Token"].is_number()));
    assert!(groups.iter().any(|g| g["Token"] == 2_000_000_001i64));

    let (status, one) = sim.get(&sim.hr("WorkGroups?workGroupID=2000000000")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["Name"], "<Visitor>");
    let (status, _) = sim.get(&sim.hr("WorkGroups?workGroupID=42")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn workgroups_access_levels_and_groups_can_be_created_changed_and_deleted() {
    let sim = Sim::start().await;
    let (_, list) = sim.get(&sim.hr("WorkGroups")).await;
    let mut group = records(&list)[2].clone();
    group["Token"] = json!(-1);
    group["Name"] = json!("Night shift");
    let (status, created) = sim.post(&sim.hr("WorkGroups"), group.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let token = created["Token"].as_i64().expect("a numeric token");
    assert!(token > 2_000_000_000);
    group["Name"] = json!("Day shift");
    let (status, changed) = sim
        .put(&sim.hr(&format!("WorkGroups/{token}")), group)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed["Name"], "Day shift");
    let (status, _) = sim.delete(&sim.hr(&format!("WorkGroups/{token}"))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = sim.get(&sim.hr(&format!("WorkGroups/{token}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for kind in ["AccessLevels", "AccessGroups"] {
        let (_, list) = sim.get(&sim.hr(kind)).await;
        let mut one = records(&list)[0].clone();
        one["Token"] = json!("-1");
        one["Name"] = json!(format!("New {kind}"));
        let (status, created) = sim.post(&sim.hr(kind), one.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{kind}");
        let token = created["Token"].as_str().unwrap().to_owned();
        let (_, got) = sim.get(&sim.hr(&format!("{kind}/{token}"))).await;
        assert_eq!(got["Name"], format!("New {kind}"));
        let (status, body) = sim
            .put(
                &sim.hr(&format!("{kind}/{token}")),
                json!({"Name": ["a list"]}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{kind}: {body}");
        let (_, got) = sim.get(&sim.hr(&format!("{kind}/{token}"))).await;
        assert_eq!(
            got["Name"],
            format!("New {kind}"),
            "a bad update changes nothing"
        );
        let (status, _) = sim.put(&sim.hr(&format!("{kind}/424242")), one).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn reference_lists_have_sipass_shapes() {
    let sim = Sim::start().await;
    for kind in [
        "AccessLevels",
        "AccessGroups",
        "AccessPoints",
        "AccessPointGroups",
        "FloorPoints",
        "FloorPointGroups",
    ] {
        let (status, list) = sim.get(&sim.hr(kind)).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        let items = records(&list);
        assert!(!items.is_empty(), "{kind}");
        assert!(
            items
                .iter()
                .all(|r| r["Token"].is_string() && r["Name"].is_string()),
            "{kind}"
        );
        let token = items[0]["Token"].as_str().unwrap();
        let (status, one) = sim.get(&sim.hr(&format!("{kind}/{token}"))).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        assert_eq!(one, items[0]);
    }
    let (_, points) = sim.get(&sim.hr("AccessPoints")).await;
    assert!(
        records(&points)[0]["Name"]
            .as_str()
            .unwrap()
            .ends_with("_IN")
    );

    let (_, schedules) = sim.get(&sim.hr("TimeSchedules")).await;
    let schedules = schedules.as_array().expect("a bare array");
    assert_eq!(schedules[0], json!({"Token": "1", "Name": "Always"}));
    let (_, techs) = sim.get(&sim.hr("CardTechnologies")).await;
    let techs = techs.as_array().expect("a bare array");
    assert!(techs.iter().any(|t| t["TechnologyCode"] == 10));
    assert!(techs[0].get("FacilityCodeDigits").is_some());
    let (_, profiles) = sim.get(&sim.hr("CredentialProfiles")).await;
    let profiles = profiles.as_array().expect("a bare array");
    for key in [
        "PINDigits",
        "CardNumberDigits",
        "IsBase",
        "PinMode",
        "PINModeValue",
        "FacilityCode",
    ] {
        assert!(profiles[0].get(key).is_some(), "{key}");
    }
}

#[tokio::test]
async fn each_version_profile_reports_itself_and_its_status_codes() {
    for (version, valid) in [
        (SiPassVersion::V2_65, 61),
        (SiPassVersion::V2_70, 61),
        (SiPassVersion::V2_75, 61),
        (SiPassVersion::V2_76, 62),
        (SiPassVersion::V2_80, 62),
    ] {
        let mut config = config();
        config.version = version;
        config.site.cardholders = 3;
        let sim = Sim::with(config).await;
        let (_, v) = sim.get(&sim.mgmt("Version")).await;
        assert_eq!(v, json!({"Version": version.as_str()}));
        let (_, c) = sim.get(&sim.hr("Cardholders/1")).await;
        assert_eq!(c["Status"], valid, "{version}");
        assert_eq!(sim::status_codes(version).valid, valid);
    }
}

async fn snapshot(sim: &Sim) -> (Value, Value) {
    let url = sim.hr("Cardholders?endIndex=50&fields=FirstName,LastName,Credentials");
    (
        sim.get(&url).await.1["Records"].clone(),
        sim.get(&sim.mgmt("Doorsets")).await.1,
    )
}

#[tokio::test]
async fn the_same_seed_gives_the_same_site_over_the_wire() {
    let mut c = config();
    c.site.seed = 42;
    let a = snapshot(&Sim::with(c.clone()).await).await;
    let b = snapshot(&Sim::with(c.clone()).await).await;
    c.site.seed = 43;
    let other = snapshot(&Sim::with(c).await).await;
    assert_eq!(a, b);
    assert_ne!(a.0, other.0);
}
