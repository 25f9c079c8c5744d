//! The public clients' own request bodies (respa's and Val0429's, fixtures in
//! `crates/sipass-client/tests/fixtures/requests`, each naming its source) are taken as
//! real SiPass takes them, and read back in the shapes real SiPass answers.

use model::SiPassVersion;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Sim, config};

/// The request body of fixture `name`.
fn body(name: &str) -> Value {
    let path = format!(
        "{}/../sipass-client/tests/fixtures/requests/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fixture: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(fixture["source"].as_str().is_some_and(|s| !s.is_empty()));
    fixture["body"].clone()
}

/// A simulator of a site at UTC+08:00 (where Val0429's SiPass was).
async fn taipei(version: SiPassVersion) -> Sim {
    let mut config = config();
    config.utc_offset = "+08:00".to_owned();
    config.version = version;
    Sim::with(config).await
}

async fn create(sim: &Sim, collection: &str, fixture: &str) -> Value {
    let (status, created) = sim.post(&sim.hr(collection), body(fixture)).await;
    assert_eq!(status, StatusCode::CREATED, "{fixture}: {created}");
    created
}

#[tokio::test]
async fn respas_pin_cardholder_is_created_and_read_back_in_sipass_shapes() {
    let sim = taipei(SiPassVersion::V2_80).await;
    let created = create(&sim, "Cardholders", "respa_create_cardholder_pin").await;
    let token = created["Token"]
        .as_str()
        .expect("a string Token")
        .to_owned();
    assert_ne!(token, "-1");
    let (status, c) = sim.get(&sim.hr(&format!("Cardholders/{token}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        c["StartDate"], "2020-03-02T10:00:00+00:00",
        "an offset sent is kept"
    );
    let credential = &c["Credentials"][0];
    assert_eq!(
        (
            &credential["CardNumber"],
            &credential["Pin"],
            &credential["PinMode"]
        ),
        (&json!("4821"), &json!("4821"), &json!(2))
    );
    assert_eq!(credential["ProfileId"], "3");
    let rule = &c["AccessRules"][0];
    assert_eq!(
        (&rule["RuleType"], &rule["RuleToken"]),
        (&json!(1), &json!("1"))
    );
    assert_eq!(rule["ArmingRightsId"], Value::Null);
    assert_eq!(c["EmployeeName"], "", "null binds to the default");
    assert_eq!(c["SmartCardProfileId"], "0");
    assert_eq!(
        c["PersonalDetails"]["ContactDetails"]["ManagerEmailAddress"],
        ""
    );
    assert_eq!(c["_links"], json!([]));
    assert_eq!(c["CardholderPortrait"], Value::Null);
    assert!(c["PrimaryWorkGroupAccessRule"].is_array());
    let fields: Vec<&str> = c["CustomFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FiledName"].as_str().unwrap())
        .collect();
    assert_eq!(fields, sim::present::SITE_CUSTOM_FIELDS);
    assert!(
        c["CustomFields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["FieldValue"].is_null())
    );

    // The portrait URL answers an image.
    let url = c["Potrait"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("api/V1/cardholders/images?imgId={token}&token=")),
        "{url}"
    );
    let image = sim
        .client
        .get(format!("https://{}/{url}", sim.running.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/jpeg");
    assert_eq!(&image.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);
    let wrong = sim
        .client
        .get(format!(
            "https://{}/api/V1/cardholders/images?imgId={token}&token=00",
            sim.running.addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn val0429s_card_cardholder_without_optional_keys_is_created_with_offsets_and_every_custom_field()
 {
    let sim = taipei(SiPassVersion::V2_70).await;
    let created = create(&sim, "Cardholders", "val0429_create_cardholder_card").await;
    let c = created;
    assert_eq!(c["StartDate"], "1997-06-14T00:00:00+08:00");
    assert_eq!(c["EndDate"], "2100-12-31T23:59:59+08:00");
    let credential = &c["Credentials"][0];
    assert_eq!(
        (&credential["ProfileId"], &credential["FacilityCode"]),
        (&json!("1"), &json!(469))
    );
    assert_eq!(credential["StartDate"], "1997-06-14T00:00:00+08:00");
    assert_eq!(c["Attributes"]["Void"], false, "{{}} takes the defaults");
    assert_eq!(c["Vehicle1"]["CarColor"], "");
    assert!(
        c["PersonalDetails"]["ContactDetails"]
            .get("ManagerEmailAddress")
            .is_none(),
        "not before 2.76"
    );
    let fields = c["CustomFields"].as_array().unwrap();
    let value = |name: &str| {
        fields
            .iter()
            .find(|f| f["FiledName"] == name)
            .map(|f| f["FieldValue"].clone())
    };
    assert_eq!(value("CustomTextBoxControl1__CF"), Some(json!("60227")));
    assert_eq!(
        value("CustomTextBoxControl2__CF"),
        Some(Value::Null),
        "defined, unset"
    );
    assert_eq!(
        value("CustomTextBoxControl5__CF_CF_CF_CF_CF"),
        Some(json!("台中 Office"))
    );
    assert_eq!(
        fields.len(),
        4 + 11,
        "the site's four, then the 11 of the 14 given that the site does not define"
    );

    // Listed, it has a portrait URL and links, in the list as SiPass answers it.
    let token = c["Token"].as_str().unwrap();
    let (_, page) = sim
        .get(&sim.hr(r#"Cardholders?filterExpression={"EmployeeNumber":"60227"}"#))
        .await;
    let record = &page["Records"][0];
    assert_eq!(record["Token"], token);
    assert!(
        record["Potrait"]
            .as_str()
            .unwrap()
            .contains(&format!("imgId={token}"))
    );
    assert_eq!(record["_links"], json!([]));
}

#[tokio::test]
async fn val0429s_camel_case_update_of_an_existing_cardholder_is_taken() {
    let sim = Sim::start().await;
    let (status, changed) = sim
        .put(
            &sim.hr("Cardholders/3"),
            body("val0429_update_cardholder_camel"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (_, c) = sim.get(&sim.hr("Cardholders/3")).await;
    assert_eq!(c["Token"], "3", "the path decides, not the body's token");
    assert_eq!(
        (&c["FirstName"], &c["LastName"]),
        (&json!("Rd Update"), &json!("morris1 Update"))
    );
    assert_eq!(c["PrimaryWorkgroupId"], 2_000_000_009_i64);
    let credential = &c["Credentials"][0];
    assert_eq!(
        (&credential["Pin"], &credential["ProfileId"]),
        (&json!("902502"), &json!("1"))
    );
    assert_eq!(credential["CardTechnologyCode"], 26);
    assert_eq!(
        c["AccessRules"][0]["ObjectName"],
        "NH220_04F_01_R1_04G001_IN"
    );
    assert_eq!(c["VisitorDetails"]["VisitedEmployeeId"], "0");
    assert_eq!(c["Status"], 61);
}

#[tokio::test]
async fn val0429s_access_level_with_numeric_tokens_is_created() {
    let sim = Sim::start().await;
    let created = create(&sim, "AccessLevels", "val0429_create_access_level_numeric").await;
    let token = created["Token"].as_str().unwrap();
    let (_, level) = sim.get(&sim.hr(&format!("AccessLevels/{token}"))).await;
    assert_eq!(level["Name"], "大門");
    assert_eq!(level["TimeScheduleToken"], "4");
    assert_eq!(level["AccessRule"][0]["ObjectToken"], "12");
    assert_eq!(level["AccessRule"][1]["ObjectToken"], "13");
    assert_eq!(level["AccessRule"][0]["StartDate"], Value::Null);
    assert_eq!(level["AccessRule"][0]["ControlModeId"], Value::Null);
    assert_eq!(level["_links"], json!([]));
}

#[tokio::test]
async fn val0429s_camel_case_access_group_and_workgroup_are_created() {
    let sim = Sim::start().await;
    let created = create(&sim, "AccessGroups", "val0429_create_access_group_camel").await;
    let token = created["Token"].as_str().unwrap();
    assert_ne!(token, "8", "a create gets a new token");
    let (_, group) = sim.get(&sim.hr(&format!("AccessGroups/{token}"))).await;
    assert_eq!(group["Name"], "0612GTUpdate");
    assert_eq!(
        group["AccessLevels"],
        json!([
            {"Token": "14", "Name": "0612Test9999", "_links": []},
            {"Token": "2", "Name": "後門1", "_links": []}
        ])
    );
    assert_eq!(group["_links"], json!([]));

    let created = create(&sim, "WorkGroups", "val0429_create_workgroup_camel").await;
    let token = created["Token"]
        .as_i64()
        .expect("a numeric workgroup token");
    let (_, group) = sim
        .get(&sim.hr(&format!("WorkGroups?workGroupID={token}")))
        .await;
    assert_eq!(group["PrimaryContactName"], "000");
    assert_eq!(group["PrimaryContactTitle"], "777777");
    assert_eq!(
        (&group["Void"], &group["Partition"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(group["AccessPolicyRules"][0]["RuleToken"], "12");
}

#[tokio::test]
async fn a_key_no_source_leaves_out_is_still_required_and_wrong_values_refused() {
    let sim = Sim::start().await;
    let mut missing = body("respa_create_cardholder_pin");
    missing.as_object_mut().unwrap().remove("PersonalDetails");
    let (status, answer) = sim.post(&sim.hr("Cardholders"), missing).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert!(
        answer["Message"]
            .as_str()
            .unwrap()
            .contains("PersonalDetails")
    );
    let mut wrong = body("val0429_create_access_level_numeric");
    wrong["timeScheduleToken"] = json!({"Token": 4});
    let (status, _) = sim.post(&sim.hr("AccessLevels"), wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reference_answers_have_the_recorded_shapes_and_the_release_decides_pin_mode_type() {
    let sim = Sim::start().await;
    assert!(
        sim.token
            .split(':')
            .next()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
        "{}",
        sim.token
    );
    let (_, points) = sim.get(&sim.hr("AccessPoints")).await;
    assert_eq!(
        (&points["TotalRecords"], &points["TotalDisplayRecords"]),
        (&json!(-1), &json!(-1))
    );
    let (_, groups) = sim.get(&sim.hr("WorkGroups")).await;
    let none = &groups["Records"][0];
    assert_eq!(
        (
            &none["Token"],
            &none["Name"],
            &none["Type"],
            &none["Partition"]
        ),
        (&json!(1), &json!("<None>"), &json!(0), &json!(true))
    );
    assert!(none.get("PrimaryContactName").is_some() && none.get("PrimaryContact").is_none());
    let (_, profiles) = sim.get(&sim.hr("CredentialProfiles")).await;
    assert!(profiles[0]["FacilityCode"].is_string() && profiles[0]["ValidityCode"].is_string());
    assert!(
        profiles[0]["PINModeValue"]["Type"].is_number(),
        "2.80 sends Type"
    );

    let old = taipei(SiPassVersion::V2_75).await;
    let (_, profiles) = old.get(&old.hr("CredentialProfiles")).await;
    assert_eq!(
        profiles[0]["PINModeValue"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["FullName", "Name"],
        "2.75 sends {{Name, FullName}}, as Val0429 saw"
    );
    let (_, c) = old.call(Method::GET, &old.hr("Cardholders/5"), None).await;
    assert!(c["StartDate"].as_str().unwrap().ends_with("+08:00"));
}
