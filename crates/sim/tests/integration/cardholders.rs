//! Cardholders over the HR API: paging edges, projection, search, sort, filter, create,
//! update, delete, and SiPass's quirks on bad input.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Sim, config, new_cardholder};

fn tokens(page: &Value) -> Vec<u64> {
    page["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Token"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn paging_is_end_exclusive_and_clamped() {
    let sim = Sim::start().await;
    let (_, page) = sim.get(&sim.hr("Cardholders")).await;
    assert_eq!(page["TotalRecords"], 250);
    assert_eq!(page["TotalDisplayRecords"], 250);
    assert_eq!(
        tokens(&page),
        (1..=100).collect::<Vec<_>>(),
        "default page 0..100"
    );

    let (_, page) = sim
        .get(&sim.hr("Cardholders?startIndex=10&endIndex=13"))
        .await;
    assert_eq!(tokens(&page), vec![11, 12, 13]);
    let (_, page) = sim
        .get(&sim.hr("Cardholders?startIndex=240&endIndex=1000"))
        .await;
    assert_eq!(tokens(&page), (241..=250).collect::<Vec<_>>());
    for q in [
        "startIndex=250&endIndex=300",
        "startIndex=5&endIndex=5",
        "startIndex=9&endIndex=3",
    ] {
        let (status, page) = sim.get(&sim.hr(&format!("Cardholders?{q}"))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(tokens(&page).is_empty(), "{q}");
        assert_eq!(page["TotalRecords"], 250, "{q}");
    }
    let (status, body) = sim.get(&sim.hr("Cardholders?startIndex=abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["ErrorCode"], 909);
}

#[tokio::test]
async fn a_page_is_at_most_ten_thousand() {
    let mut config = config();
    config.site.cardholders = 12_000;
    let sim = Sim::with(config).await;
    let (_, page) = sim
        .get(&sim.hr("Cardholders?startIndex=0&endIndex=12000&fields=Token"))
        .await;
    assert_eq!(tokens(&page).len(), 10_000);
    let (_, page) = sim
        .get(&sim.hr("Cardholders?startIndex=11990&endIndex=12000"))
        .await;
    assert_eq!(tokens(&page), (11_991..=12_000).collect::<Vec<_>>());
}

#[tokio::test]
async fn fields_project_and_token_is_always_there() {
    let sim = Sim::start().await;
    let (_, page) = sim
        .get(&sim.hr("Cardholders?endIndex=1&fields=firstname,Credentials"))
        .await;
    let record = page["Records"][0].as_object().unwrap();
    let mut keys: Vec<&str> = record.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["Credentials", "FirstName", "Token", "_links"]);
    let (_, page) = sim.get(&sim.hr("Cardholders?endIndex=1")).await;
    let record = page["Records"][0].as_object().unwrap();
    for key in ["Token", "FirstName", "LastName", "Status", "Potrait"] {
        assert!(record.contains_key(key), "{key}");
    }
    assert!(!record.contains_key("Credentials"));
}

#[tokio::test]
async fn one_cardholder_has_the_full_field_set() {
    let sim = Sim::start().await;
    let (status, c) = sim.get(&sim.hr("Cardholders/7")).await;
    assert_eq!(status, StatusCode::OK);
    for field in model::sipass::Cardholder::FIELDS {
        assert!(c.get(field).is_some(), "{field}");
    }
    assert_eq!(c["Token"], "7");
    assert_eq!(c["Status"], 62, "2.80 says 62 for valid");
    let (status, _) = sim.get(&sim.hr("Cardholders/999999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = sim.get(&sim.hr("Cardholders/abc")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_site_has_visitors_and_one_or_two_credentials_each() {
    let sim = Sim::start().await;
    let (_, page) = sim
        .get(&sim.hr("Cardholders?endIndex=250&fields=Credentials,Attributes,PrimaryWorkgroupId"))
        .await;
    let records = page["Records"].as_array().unwrap();
    let visitors: Vec<&Value> = records
        .iter()
        .filter(|r| r["Attributes"]["Visitor"] == true)
        .collect();
    assert!(!visitors.is_empty());
    assert!(
        visitors
            .iter()
            .all(|v| v["PrimaryWorkgroupId"] == 2_000_000_000i64)
    );
    let counts: Vec<usize> = records
        .iter()
        .map(|r| r["Credentials"].as_array().unwrap().len())
        .collect();
    assert!(counts.iter().all(|&n| n == 1 || n == 2));
    let two = counts.iter().filter(|&&n| n == 2).count();
    assert!(
        two > 0 && two < counts.len() / 4,
        "some, not most, have two: {two}"
    );
}

#[tokio::test]
async fn paths_are_case_insensitive_and_take_a_trailing_slash() {
    let sim = Sim::start().await;
    let base = sim.running.hr_url().replace("/api/V1/hr", "");
    for path in ["/API/v1/HR/cardholders/3", "/api/v1/hr/CARDHOLDERS/3/"] {
        let (status, c) = sim.get(&format!("{base}{path}")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(c["Token"], "3");
    }
    let (status, body) = sim.get(&format!("{base}/api/v1/hr/nothing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["ErrorCode"], 909);
}

#[tokio::test]
async fn search_sort_and_filter_narrow_and_order_the_list() {
    let sim = Sim::start().await;
    let (_, first) = sim.get(&sim.hr("Cardholders/1")).await;
    let last_name = first["LastName"].as_str().unwrap().to_owned();

    let url = format!(
        "Cardholders?searchString={}&endIndex=1000",
        last_name.to_uppercase()
    );
    let (_, page) = sim.get(&sim.hr(&url)).await;
    let total = page["TotalRecords"].as_i64().unwrap();
    assert!(total > 0 && total < 250);
    for r in page["Records"].as_array().unwrap() {
        assert!(
            format!("{} {}", r["FirstName"], r["LastName"])
                .to_lowercase()
                .contains(&last_name.to_lowercase())
        );
    }
    let (_, page) = sim.get(&sim.hr("Cardholders?searchString=E0000042")).await;
    assert_eq!(tokens(&page), vec![42]);

    let sort = |order: u8| {
        format!(
            "Cardholders?endIndex=250&sortingOrder={{\"FieldName\":\"LastName\",\"Value\":\"\",\"SortingOrder\":{order}}}"
        )
    };
    let (_, asc) = sim.get(&sim.hr(&sort(0))).await;
    let names: Vec<String> = asc["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["LastName"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]));
    let (_, desc) = sim.get(&sim.hr(&sort(1))).await;
    assert_eq!(
        desc["Records"][0]["LastName"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        names[249]
    );

    let (_, page) = sim
        .get(&sim.hr("Cardholders?filterExpression={\"EmployeeNumber\":\"E0000005\"}"))
        .await;
    assert_eq!(tokens(&page), vec![5]);
    let (_, page) = sim
        .get(&sim.hr("Cardholders?filterExpression={'Identifier': ''}"))
        .await;
    assert_eq!(
        page["TotalRecords"], 250,
        "an empty value constrains nothing"
    );
    let (_, page) = sim
        .get(&sim.hr("Cardholders?filterExpression={'Identifier': '1000009'}"))
        .await;
    assert_eq!(tokens(&page), vec![9], "Identifier matches a card number");

    for bad in [
        "sortingOrder={nope",
        "filterExpression=[1]",
        "filterExpression={x",
    ] {
        let (status, body) = sim.get(&sim.hr(&format!("Cardholders?{bad}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["ErrorCode"], 909);
    }
}

#[tokio::test]
async fn create_update_and_delete_work_like_sipass() {
    let sim = Sim::start().await;
    let (status, created) = sim
        .post(&sim.hr("Cardholders"), new_cardholder("Jane", "Doe"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["Token"], "251", "a new token, never the -1 sent");
    let (_, page) = sim
        .get(&sim.hr("Cardholders?startIndex=250&endIndex=251"))
        .await;
    assert_eq!(page["TotalRecords"], 251);
    assert_eq!(page["Records"][0]["FirstName"], "Jane");

    let mut changed = new_cardholder("Jane", "Smith");
    changed["Token"] = json!("251");
    let (status, updated) = sim.put(&sim.hr("Cardholders/251"), changed.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["LastName"], "Smith");
    let (_, got) = sim.get(&sim.hr("Cardholders/251")).await;
    assert_eq!(got["LastName"], "Smith");
    let (status, _) = sim.put(&sim.hr("Cardholders/9999"), changed).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = sim.delete(&sim.hr("Cardholders/10")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = sim.get(&sim.hr("Cardholders/10")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = sim.delete(&sim.hr("Cardholders/10")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = sim
        .get(&sim.hr("Cardholders?startIndex=8&endIndex=11"))
        .await;
    assert_eq!(
        tokens(&page),
        vec![9, 11, 12],
        "paging skips the deleted one"
    );
    assert_eq!(page["TotalRecords"], 250);
}

#[tokio::test]
async fn bad_cardholder_bodies_change_nothing() {
    let sim = Sim::start().await;
    let mut missing = new_cardholder("No", "Vehicle");
    missing.as_object_mut().unwrap().remove("Vehicle2");
    let (status, body) = sim.post(&sim.hr("Cardholders"), missing).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "SiPass answers 500"
    );
    assert!(body["Message"].as_str().unwrap().contains("Vehicle2"));

    let mut wrong = new_cardholder("Wrong", "Type");
    wrong["Status"] = json!("valid");
    let (status, body) = sim.post(&sim.hr("Cardholders"), wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["ErrorCode"], 909);

    let resp = sim
        .request(reqwest::Method::POST, &sim.hr("Cardholders"))
        .header("content-type", "application/json")
        .body("{\"FirstName\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let mut huge = new_cardholder("Huge", "Body");
    huge["GeneralInformation"] = json!("x".repeat(2 << 20));
    let (status, _) = sim.post(&sim.hr("Cardholders"), huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let mut partial = new_cardholder("Partial", "Update");
    partial.as_object_mut().unwrap().remove("Credentials");
    let (status, _) = sim.put(&sim.hr("Cardholders/3"), partial).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    let (_, page) = sim.get(&sim.hr("Cardholders")).await;
    assert_eq!(page["TotalRecords"], 250, "nothing was created");
    let (_, three) = sim.get(&sim.hr("Cardholders/3")).await;
    assert_ne!(three["FirstName"], "Partial", "nothing was changed");
}

/// The proxy reads a page in one pass, normalising as it reads (`model::normal_read`): on
/// the simulator's own pages, of every release it presents, that gives record for record
/// what reading the page into a tree and normalising each record gives.
#[tokio::test]
async fn a_page_read_in_one_pass_is_what_normalising_each_record_gives() {
    use model::lenient::{Shape, normalise_tree};
    use model::normal_read::{self, ReadShape};
    use model::tree::Tree;

    let shape = model::sipass::Cardholder::shape();
    let read_shape = ReadShape::of(&shape);
    for version in model::SiPassVersion::ALL {
        let mut config = config();
        config.site.cardholders = 120;
        config.version = version;
        let sim = Sim::with(config).await;
        let text = sim
            .client
            .get(sim.hr("Cardholders?startIndex=0&endIndex=120"))
            .header("Authorization", &sim.token)
            .header("clientUniqueId", "integration-test")
            .header("language", "English")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let Tree::Object(read) = normal_read::list(&text, &read_shape).unwrap() else {
            panic!("an envelope");
        };
        let Tree::Object(parsed) = Tree::parse(&text).unwrap() else {
            panic!("an envelope");
        };
        let read = records_of(read);
        let parsed = records_of(parsed);
        assert_eq!(read.len(), 120, "{version:?}");
        for (one_pass, tree) in read.iter().zip(parsed) {
            let normalised = normalise_tree(tree, &shape).unwrap();
            assert_eq!(one_pass.to_json(), normalised.to_json(), "{version:?}");
        }
    }
}

/// The records of a page's envelope.
fn records_of(entries: model::tree::Entries<'_>) -> Vec<model::tree::Tree<'_>> {
    match entries.into_iter().find(|(k, _)| k == "Records") {
        Some((_, model::tree::Tree::Array(records))) => records,
        _ => panic!("no records"),
    }
}
