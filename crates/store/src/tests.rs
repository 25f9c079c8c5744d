use super::*;

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("directory.db")
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

#[test]
fn a_full_listing_replaces_the_copy_and_removes_what_is_gone() {
    let dir = Directory::open(&temp_db("full")).unwrap();
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
    let ids: Vec<_> = dir
        .entities("cardholder", "", 10)
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.revision))
        .collect();
    assert_eq!(ids, [("1".to_string(), 1), ("3".to_string(), 5)]);
    let p = dir.position("cardholder").unwrap().unwrap();
    assert!(p.complete && p.page_token.is_empty());

    let mut expected = Digest::default();
    expected.add("1", 1);
    expected.add("3", 5);
    assert_eq!(dir.digest("cardholder").unwrap(), expected);
}

#[test]
fn real_time_changes_apply_in_order_and_replays_are_harmless() {
    let dir = Directory::open(&temp_db("realtime")).unwrap();
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
    let held: Vec<_> = dir
        .entities("cardholder", "", 10)
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.revision))
        .collect();
    assert_eq!(held, [("1".to_string(), 5), ("3".to_string(), 7)]);
    assert_eq!(dir.watch_position().unwrap(), Some(watch(7)));
    let mut expected = Digest::default();
    expected.add("1", 5);
    expected.add("3", 7);
    assert_eq!(dir.digest("cardholder").unwrap(), expected);
}

#[test]
fn an_object_that_becomes_two_entities_counts_once_in_its_digest() {
    let dir = Directory::open(&temp_db("two")).unwrap();
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
}

#[test]
fn the_schema_is_versioned_and_survives_reopening() {
    let path = temp_db("schema");
    {
        let dir = Directory::open(&path).unwrap();
        dir.set_config(&[("host", "sipass.local".into())]).unwrap();
    }
    let dir = Directory::open(&path).unwrap();
    assert_eq!(dir.config("host").unwrap().as_deref(), Some("sipass.local"));
    let status = Directory::update(&path).unwrap();
    assert_eq!(status.current, status.latest);
}

#[test]
fn a_database_from_a_newer_release_is_refused() {
    let path = temp_db("newer");
    drop(Directory::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations VALUES (999, 'future', 'x', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let err = Directory::open(&path).err().unwrap();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 999, .. }),
        "{err}"
    );
}

#[test]
fn an_interrupted_run_is_recorded_as_such() {
    let dir = Directory::open(&temp_db("runs")).unwrap();
    let first = dir.start_run("first connection").unwrap();
    let second = dir.start_run("manual").unwrap();
    assert_ne!(first, second);
    dir.finish_run(second, model::RunOutcome::Succeeded, None)
        .unwrap();
    let latest = dir.latest_run().unwrap().unwrap();
    assert_eq!((latest.id, latest.outcome.as_str()), (second, "succeeded"));
}
