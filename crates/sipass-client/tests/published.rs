//! The SiPass client reads every answer body the public clients published (fixtures in
//! `tests/fixtures/responses`, each naming its source), and what a real server may send
//! beyond them: keys in other cases, nulls, numbers as strings, no totals.

use std::time::Duration;

use model::lenient::bind;
use model::management::ObjectKind;
use model::mapping;
use model::sipass::{
    AccessGroup, AccessLevel, Cardholder, CredentialProfile, NamedToken, WorkGroup,
};
use serde_json::{Value, json};
use sipass_bridge_sipass_client::{SiPassError, read};

/// The published body of fixture `name`.
fn published(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/responses/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fixture: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        fixture["source"].as_str().is_some_and(|s| !s.is_empty()),
        "{path} names its source"
    );
    fixture["body"].clone()
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

#[test]
fn the_upper_case_login_token_is_read_as_sent_and_key_case_does_not_matter() {
    let token = read::login_token(&bytes(&published("val0429_login"))).unwrap();
    assert_eq!(
        token,
        "4697C6FB68DD4592E0FC49FFF9B684B56C98E8CA2AC4F94F85F9473BEA3A7C1D:siemens"
    );
    let lower = read::login_token(br#"{"token": "4697c6fb:siemens"}"#).unwrap();
    assert_eq!(lower, "4697c6fb:siemens");
    assert_eq!(read::login_token(br#"{"Token": null}"#).unwrap(), "");
}

#[test]
fn the_session_timeout_is_a_number_or_a_numeric_string() {
    assert_eq!(
        read::session_timeout(json!(360)).unwrap(),
        Duration::from_secs(360)
    );
    assert_eq!(
        read::session_timeout(json!("600")).unwrap(),
        Duration::from_secs(600)
    );
    assert!(read::session_timeout(json!("soon")).is_err());
}

#[test]
fn bare_arrays_envelopes_with_minus_one_and_without_totals_are_all_lists() {
    let (schedules, total) = read::list(published("val0429_time_schedules"), "schedules").unwrap();
    assert_eq!((schedules.len(), total), (4, -1));
    let always: NamedToken =
        bind(read::object(ObjectKind::TimeSchedule, schedules[3].clone())).unwrap();
    assert_eq!(
        (always.token.as_str(), always.name.as_str()),
        ("1", "總是（點撤防）")
    );

    let (readers, total) = read::list(published("val0429_access_points"), "readers").unwrap();
    assert_eq!((readers.len(), total), (2, -1));
    let (doors, total) = read::list(published("val0429_access_point_groups"), "doors").unwrap();
    assert_eq!((doors.len(), total), (2, -1), "no totals reads as unknown");
    let (groups, _) = read::list(published("val0429_access_groups"), "groups").unwrap();
    assert_eq!(groups[1]["Name"], "2樓");

    let (lower, total) = read::list(
        json!({"records": [{"token": 5, "name": "x"}], "totalRecords": "1"}),
        "a list",
    )
    .unwrap();
    assert_eq!((lower.len(), total), (1, 1));
    assert_eq!(
        read::object(ObjectKind::AccessPoint, lower[0].clone()),
        json!({"Token": "5", "Name": "x"})
    );
    assert!(matches!(
        read::list(json!("nothing"), "a list"),
        Err(SiPassError::Malformed { .. })
    ));
}

#[test]
fn access_levels_and_groups_with_nulls_and_links_are_read() {
    let level: AccessLevel = bind(read::object(
        ObjectKind::AccessLevel,
        published("val0429_access_level"),
    ))
    .unwrap();
    assert_eq!(level.time_schedule_token, "4");
    assert_eq!(level.access_rule.len(), 2);
    assert_eq!(level.access_rule[0].rule_type, 2);
    assert_eq!(level.access_rule[0].start_date, None);
    assert_eq!(level.access_rule[0].arming_rights_id, None);
    let group: AccessGroup = bind(read::object(
        ObjectKind::AccessGroup,
        published("val0429_access_group"),
    ))
    .unwrap();
    assert_eq!(group.access_levels[0].name, "大門");
}

#[test]
fn workgroups_with_flat_or_nested_contacts_and_numeric_tokens_are_read_and_served() {
    let (records, _) = read::list(published("val0429_workgroups"), "workgroups").unwrap();
    let none = read::object(ObjectKind::WorkGroup, records[0].clone());
    assert_eq!(mapping::token_of(&none).as_deref(), Some("1"));
    let none: WorkGroup = bind(none).unwrap();
    assert_eq!((none.token, none.r#type, none.partition), (1, 0, true));

    let one = read::object(ObjectKind::WorkGroup, published("val0429_workgroup"));
    let typed: WorkGroup = bind(one).unwrap();
    assert_eq!(typed.token, 2_000_000_001);
    assert_eq!(typed.access_policy_rules[0].rule_token, "6");
    assert_eq!(typed.card_range, "-");

    // An older shape of our own, nested, and a visitor workgroup with its type as text: the
    // contacts come out flat and the workgroup is served as a visitor group.
    let nested = json!({"token": "2000000000", "name": "<Visitor>", "type": "3",
        "primaryContact": {"name": "Reception", "phone": "100"}, "SecondaryContact": null});
    let read = read::object(ObjectKind::WorkGroup, nested);
    assert_eq!(read["PrimaryContactName"], "Reception");
    assert_eq!(read["PrimaryContactPhone"], "100");
    assert!(read.get("PrimaryContact").is_none());
    let served = mapping::object(model::EntityKind::Workgroup, read).expect("a visitor group");
    assert_eq!(
        (served.id.as_str(), served.name.as_str()),
        ("2000000000", "<Visitor>")
    );
}

#[test]
fn the_published_cardholder_list_and_cardholder_are_read() {
    let (records, total) = read::list(published("val0429_cardholder_list"), "cardholders").unwrap();
    assert_eq!(total, -1);
    let first = read::cardholder(records[0].clone());
    assert_eq!(first["Token"], "18");
    assert_eq!(first["Status"], 61);
    assert!(
        first["Potrait"]
            .as_str()
            .unwrap()
            .starts_with("api/V1/cardholders/images?imgId=18")
    );

    let full = read::cardholder(published("val0429_cardholder"));
    let typed: Cardholder = bind(full.clone()).unwrap();
    assert_eq!(
        (typed.token.as_str(), typed.first_name.as_str()),
        ("7", "Nizar")
    );
    assert_eq!(
        typed.end_date, "2018-02-01T04:36:59+08:00",
        "the offset is kept"
    );
    assert_eq!(typed.primary_workgroup_id, 2_000_000_000);
    assert_eq!(typed.smart_card_profile_id, "0");
    assert_eq!(typed.custom_fields.len(), 10);
    assert!(typed.custom_fields.iter().all(|f| f.field_value.is_none()));
    assert!(
        typed
            .cardholder_portrait
            .as_deref()
            .is_some_and(|p| p.starts_with("/9j/"))
    );
    assert!(typed.primary_work_group_access_rule.is_empty());
    assert_eq!(
        typed.visitor_details.visitor_custom_values["RestrictedUser"],
        "0"
    );

    let served = mapping::cardholder(full).unwrap();
    assert_eq!(served.len(), 1, "no credentials");
    assert_eq!(served[0].name, "Nizar Khan");
}

#[test]
fn a_cardholder_in_other_key_cases_and_scalar_types_is_served_the_same() {
    let odd = json!({
        "token": 7, "firstName": "Nizar", "LASTNAME": "Khan", "status": "63",
        "credentials": [{"cardNumber": 86081, "facilityCode": "469", "cardTechnologyCode": "10",
                         "startDate": "2018-01-01T00:00:00+08:00", "pin": null}],
        "personalDetails": null, "_embedded": null
    });
    let served = mapping::cardholder(read::cardholder(odd)).unwrap();
    assert_eq!(served[0].id, "7");
    assert_eq!(served[0].name, "Nizar Khan");
    assert_eq!(served[1].id, "10:469:86081");
    let credential: Value = serde_json::from_slice(&served[1].payload).unwrap();
    assert_eq!(credential["StartDate"], "2018-01-01T00:00:00+08:00");
}

#[test]
fn credential_profiles_with_string_codes_and_without_a_pin_mode_type_are_read() {
    let (profiles, total) =
        read::list(published("val0429_credential_profiles"), "profiles").unwrap();
    assert_eq!(total, -1);
    let profile: CredentialProfile = bind(read::object(
        ObjectKind::CredentialProfile,
        profiles[0].clone(),
    ))
    .unwrap();
    assert_eq!(profile.facility_code, "469");
    assert_eq!(profile.validity_code, "0");
    assert_eq!(profile.card_technology_code, 10);
    assert_eq!(profile.pin_mode_value.r#type, None);
    assert_eq!(profile.pin_mode_value.name, "CARD");
    assert_eq!(profile.pin_mode.len(), 2);
    assert!(!profile.pin_mode[1].is_used);
    let with_type: CredentialProfile =
        bind(json!({"FacilityCode": 469, "PINModeValue": {"Type": "2", "Name": "Pin"}})).unwrap();
    assert_eq!(
        (
            with_type.facility_code.as_str(),
            with_type.pin_mode_value.r#type
        ),
        ("469", Some(2))
    );
}

#[test]
fn error_bodies_are_read_in_any_key_case() {
    let e = read::error(
        400,
        br#"{"errorCode": "909", "message": "InputNotValid"}"#,
        "a call",
    );
    assert!(
        matches!(e, SiPassError::Refused { status: 400, code: 909, ref message, .. } if message == "InputNotValid")
    );
    let e = read::error(500, b"<html>IIS</html>", "a call");
    assert!(
        matches!(e, SiPassError::Refused { code: 0, ref message, .. } if message.contains("IIS"))
    );
}

mod page {
    use super::*;
    use sipass_bridge_sipass_client::CardholderPage;

    include!("fixtures/page/cardholder_page.rs");

    fn served(result: Result<Vec<mapping::ServedObject>, mapping::MalformedCardholder>) -> Value {
        match result {
            Ok(served) => served
                .iter()
                .map(|s| {
                    let payload = String::from_utf8(s.payload.clone()).unwrap();
                    format!("{:?}|{}|{}|{}|{payload}", s.kind, s.id, s.name, s.owner)
                })
                .collect(),
            Err(e) => Value::String(format!("error: {e}")),
        }
    }

    /// `fixtures/page/cardholder_page_served.jsonl` is what release 0.1 served for each
    /// record of that page (read into `Value`s, normalised, mapped). A page read in place
    /// must serve the same bytes: the cache compares payloads, and a byte of difference
    /// would be a change of every cardholder after an upgrade.
    #[test]
    fn a_page_read_in_place_serves_what_release_0_1_served() {
        let expected: Vec<Value> = include_str!("fixtures/page/cardholder_page_served.jsonl")
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let page = CardholderPage::from_body(PAGE.as_bytes().to_vec());
        let (records, total) = page.read().unwrap();
        assert_eq!(total, 4);
        assert_eq!(records.len(), expected.len());
        let (values, _) = read::list_bytes(PAGE.as_bytes(), "page").unwrap();
        for ((tree, value), expected) in records.into_iter().zip(values).zip(expected) {
            assert_eq!(served(mapping::cardholder_tree(tree)), expected);
            let value = read::cardholder(value);
            assert_eq!(served(mapping::cardholder(value)), expected);
        }
    }
}
