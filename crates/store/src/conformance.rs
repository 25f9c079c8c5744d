//! The behaviour every Directory engine must have, checked through the traits only. Each
//! engine's tests call [`test_suite`] once with a way to make an empty Directory (the
//! pattern of garage's `db/test.rs`).

use std::sync::Arc;

use model::{Digest, RunOutcome};

use crate::{Directory, SourceChange, SourceEntity, SyncPosition, WatchPosition};

/// One named check of the suite.
type Check = (&'static str, fn(&dyn Directory));

/// Runs every check, each on a new empty Directory from `fresh`.
pub fn test_suite(fresh: &dyn Fn() -> Arc<dyn Directory>) {
    let checks: &[Check] = &[
        (
            "full listing",
            a_full_listing_replaces_the_copy_and_removes_what_is_gone,
        ),
        (
            "real time",
            real_time_changes_apply_in_order_and_replays_are_harmless,
        ),
        (
            "two entities",
            an_object_that_becomes_two_entities_counts_once_in_its_digest,
        ),
        (
            "configuration",
            configuration_is_set_all_at_once_and_read_back,
        ),
        ("runs", an_interrupted_run_is_recorded_as_such),
        ("reads", every_entity_of_a_kind_and_one_by_id_are_read_back),
        (
            "search",
            a_search_finds_names_and_ids_in_any_case_a_page_at_a_time,
        ),
    ];
    for (name, check) in checks {
        eprintln!("conformance: {name}");
        check(fresh().as_ref());
    }
}

fn row(id: &str, revision: u64) -> SourceEntity {
    SourceEntity {
        source_kind: "cardholder".into(),
        id: id.into(),
        revision,
        name: format!("Person {id}"),
        fields: "{}".into(),
        kinds: vec!["cardholder".into()],
    }
}

fn watch(revision: u64) -> WatchPosition {
    WatchPosition {
        cache_id: "c1".into(),
        revision,
    }
}

fn position(generation: i64, token: &str) -> SyncPosition {
    SyncPosition {
        source_kind: "cardholder".into(),
        cache_id: "c1".into(),
        generation,
        snapshot_revision: 10,
        page_token: token.into(),
        done: 0,
        total: 3,
        complete: false,
    }
}

fn ids_and_revisions(dir: &dyn Directory, kind: &str) -> Vec<(String, u64)> {
    dir.entities(kind, "", 10)
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.revision))
        .collect()
}

fn a_full_listing_replaces_the_copy_and_removes_what_is_gone(dir: &dyn Directory) {
    dir.write_page(&[row("1", 1), row("2", 2), row("3", 3)], &position(1, ""))
        .unwrap();
    dir.finish_listing(&position(1, "")).unwrap();
    assert_eq!(dir.count("cardholder").unwrap(), 3);

    dir.write_page(&[row("1", 1), row("3", 5)], &position(2, "p1"))
        .unwrap();
    assert_eq!(
        dir.count("cardholder").unwrap(),
        3,
        "nothing removed before the end"
    );
    assert_eq!(
        dir.position("cardholder").unwrap().unwrap().page_token,
        "p1"
    );
    assert_eq!(dir.finish_listing(&position(2, "p1")).unwrap(), 1);
    assert_eq!(
        ids_and_revisions(dir, "cardholder"),
        [("1".to_string(), 1), ("3".to_string(), 5)]
    );
    let p = dir.position("cardholder").unwrap().unwrap();
    assert!(p.complete && p.page_token.is_empty());

    let mut expected = Digest::default();
    expected.add("1", 1);
    expected.add("3", 5);
    assert_eq!(dir.digest("cardholder").unwrap(), expected);
}

fn real_time_changes_apply_in_order_and_replays_are_harmless(dir: &dyn Directory) {
    dir.write_page(&[row("1", 1), row("2", 2)], &position(1, ""))
        .unwrap();
    dir.finish_listing(&position(1, "")).unwrap();
    let changes = [
        SourceChange::Upsert(row("1", 5)),
        SourceChange::Delete {
            source_kind: "cardholder".into(),
            id: "2".into(),
            revision: 6,
        },
        SourceChange::Upsert(row("3", 7)),
    ];
    assert_eq!(dir.apply_changes(&changes, &watch(7)).unwrap(), 3);
    assert_eq!(
        dir.apply_changes(&changes, &watch(7)).unwrap(),
        0,
        "a replay changes nothing"
    );
    assert_eq!(
        dir.apply_changes(&[SourceChange::Upsert(row("1", 4))], &watch(7))
            .unwrap(),
        0,
        "older is skipped"
    );
    assert_eq!(
        ids_and_revisions(dir, "cardholder"),
        [("1".to_string(), 5), ("3".to_string(), 7)]
    );
    assert_eq!(dir.watch_position().unwrap(), Some(watch(7)));
    let mut expected = Digest::default();
    expected.add("1", 5);
    expected.add("3", 7);
    assert_eq!(dir.digest("cardholder").unwrap(), expected);
    dir.set_watch_position(&watch(9)).unwrap();
    assert_eq!(dir.watch_position().unwrap(), Some(watch(9)));
}

fn an_object_that_becomes_two_entities_counts_once_in_its_digest(dir: &dyn Directory) {
    let unit = SourceEntity {
        source_kind: "unit".into(),
        id: "5".into(),
        revision: 3,
        name: "ACC 5".into(),
        fields: "{}".into(),
        kinds: vec![
            "access-control-unit".into(),
            "intrusion-detection-unit".into(),
        ],
    };
    let pos = SyncPosition {
        source_kind: "unit".into(),
        ..position(1, "")
    };
    dir.write_page(&[unit], &pos).unwrap();
    dir.finish_listing(&pos).unwrap();
    assert_eq!(dir.count("access-control-unit").unwrap(), 1);
    assert_eq!(dir.count("intrusion-detection-unit").unwrap(), 1);
    assert_eq!(dir.digest("unit").unwrap().count(), 1);
    assert_eq!(dir.entity("5").unwrap().len(), 2);
    assert_eq!(dir.remove_source_kind("unit").unwrap(), 1);
    assert_eq!(dir.digest("unit").unwrap().count(), 0);
    assert_eq!(dir.position("unit").unwrap(), None);
}

fn configuration_is_set_all_at_once_and_read_back(dir: &dyn Directory) {
    assert_eq!(dir.config("host").unwrap(), None);
    dir.set_config(&[("host", "sipass.local".into()), ("port", "5645".into())])
        .unwrap();
    dir.set_config(&[("port", "5646".into())]).unwrap();
    assert_eq!(dir.config("host").unwrap().as_deref(), Some("sipass.local"));
    assert_eq!(dir.config("port").unwrap().as_deref(), Some("5646"));
}

fn an_interrupted_run_is_recorded_as_such(dir: &dyn Directory) {
    assert_eq!(dir.latest_run().unwrap(), None);
    let first = dir.start_run("first connection").unwrap();
    let second = dir.start_run("manual").unwrap();
    assert_ne!(first, second);
    dir.finish_run(second, RunOutcome::Succeeded, None).unwrap();
    let latest = dir.latest_run().unwrap().unwrap();
    assert_eq!((latest.id, latest.outcome.as_str()), (second, "succeeded"));
    assert!(latest.ended_at.is_some());
}

fn every_entity_of_a_kind_and_one_by_id_are_read_back(dir: &dyn Directory) {
    let page: Vec<_> = (1..=5).map(|i| row(&format!("{i:02}"), i)).collect();
    dir.write_page(&page, &position(1, "")).unwrap();
    let all: Vec<_> = dir
        .all_entities("cardholder")
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0], ("01".to_string(), "Person 01".to_string()));
    let after: Vec<_> = dir
        .entities("cardholder", "03", 1)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(after, ["04"]);
    let one = dir.entity("02").unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].kind.as_str(), one[0].revision), ("cardholder", 2));
    assert!(dir.entity("99").unwrap().is_empty());
    assert!(dir.all_entities("door").unwrap().is_empty());
}

fn a_search_finds_names_and_ids_in_any_case_a_page_at_a_time(dir: &dyn Directory) {
    let mut page: Vec<_> = (1..=12).map(|i| row(&format!("{i:02}"), 1)).collect();
    page[2].name = "Ana 100% Lopez".into();
    dir.write_page(&page, &position(1, "")).unwrap();
    let ids = |rows: Vec<crate::EntityRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    // By name, in any case, or by id.
    assert_eq!(
        ids(dir.search("cardholder", "PERSON 1", "", 10).unwrap()),
        ["10", "11", "12"]
    );
    assert_eq!(
        ids(dir.search("cardholder", "1", "10", 10).unwrap()),
        ["11", "12"]
    );
    assert_eq!(
        ids(dir.search("cardholder", "1", "", 2).unwrap()),
        ["01", "03"]
    );
    // Wildcards of SQL are text like any other.
    assert_eq!(
        ids(dir.search("cardholder", "100%", "", 10).unwrap()),
        ["03"]
    );
    assert!(dir.search("cardholder", "%", "", 10).unwrap().len() == 1);
    assert!(dir.search("door", "person", "", 10).unwrap().is_empty());
}
