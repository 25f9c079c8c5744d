use super::*;

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("directory.db")
}

fn row(id: &str, revision: u64) -> EntityRow {
    EntityRow {
        kind: "cardholder".into(),
        id: id.into(),
        source_kind: "cardholder".into(),
        revision,
        name: format!("Person {id}"),
        fields: "{}".into(),
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
    dir.finish_run(second, "succeeded", None).unwrap();
    let latest = dir.latest_run().unwrap().unwrap();
    assert_eq!((latest.id, latest.outcome.as_str()), (second, "succeeded"));
}
