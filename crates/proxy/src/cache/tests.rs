use super::*;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("proxy-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("cache.db")
}

fn upsert(id: &str, name: &str) -> Change {
    Change::Upsert {
        kind: EntityKind::Cardholder,
        id: id.into(),
        name: name.into(),
        payload: format!("{{\"n\":\"{name}\"}}").into_bytes(),
        owner: String::new(),
    }
}

fn delete(id: &str) -> Change {
    Change::Delete {
        kind: EntityKind::Cardholder,
        id: id.into(),
    }
}

#[test]
fn only_real_changes_take_a_revision() {
    let cache = Cache::open(&temp("real")).unwrap();
    let start = cache.revision();
    assert_eq!(
        cache.apply(&[upsert("1", "A"), upsert("2", "B")]).unwrap(),
        2
    );
    assert_eq!(cache.revision(), start + 2);
    assert_eq!(cache.apply(&[upsert("1", "A"), delete("9")]).unwrap(), 0);
    assert_eq!(cache.revision(), start + 2);
    assert_eq!(cache.apply(&[upsert("1", "A2")]).unwrap(), 1);
    assert_eq!(
        cache
            .get(EntityKind::Cardholder, "1")
            .unwrap()
            .unwrap()
            .revision,
        start + 3
    );
}

#[test]
fn the_summary_is_the_digest_of_what_is_held() {
    let cache = Cache::open(&temp("summary")).unwrap();
    cache
        .apply(&[upsert("1", "A"), upsert("2", "B"), upsert("3", "C")])
        .unwrap();
    cache.apply(&[upsert("2", "B2"), delete("3")]).unwrap();
    let mut expected = Digest::default();
    let (page, total) = cache.page(EntityKind::Cardholder, None, 10).unwrap();
    for (id, e) in &page {
        expected.add(id, e.revision);
    }
    assert_eq!(total, 2);
    assert_eq!(
        cache.summary(EntityKind::Cardholder),
        KindSummary {
            eligible: 2,
            digest: expected.value()
        }
    );
}

#[test]
fn a_restart_keeps_entities_revisions_identity_and_summary() {
    let path = temp("restart");
    let (id, revision, summary) = {
        let cache = Cache::open(&path).unwrap();
        cache.apply(&[upsert("1", "A"), upsert("2", "B")]).unwrap();
        (
            cache.id().to_owned(),
            cache.revision(),
            cache.summary(EntityKind::Cardholder),
        )
    };
    let cache = Cache::open(&path).unwrap();
    assert_eq!(cache.id(), id);
    assert_eq!(cache.revision(), revision);
    assert_eq!(cache.summary(EntityKind::Cardholder), summary);
    cache.apply(&[upsert("3", "C")]).unwrap();
    assert_eq!(cache.revision(), revision + 1, "no revision is reused");
}

#[test]
fn watching_replays_each_changed_entity_once_in_order() {
    let cache = Cache::open(&temp("watch")).unwrap();
    cache.mark_complete().unwrap();
    let start = cache.revision();
    cache.apply(&[upsert("1", "A"), upsert("2", "B")]).unwrap();
    cache.apply(&[upsert("1", "A2")]).unwrap();
    cache.apply(&[delete("2")]).unwrap();
    let changes = cache.changes_after(start, 100).unwrap().unwrap();
    let seen: Vec<_> = changes
        .iter()
        .map(|c| (c.id.as_str(), c.entity.as_ref().map(|e| e.name.as_str())))
        .collect();
    assert_eq!(seen, [("1", Some("A2")), ("2", None)]);
    assert!(changes.windows(2).all(|w| w[0].revision < w[1].revision));
    assert!(
        cache
            .changes_after(cache.revision(), 100)
            .unwrap()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_first_load_logs_no_changes_and_watches_start_where_it_completed() {
    let path = temp("first-load");
    let cache = Cache::open(&path).unwrap();
    let start = cache.revision();
    cache.apply(&[upsert("1", "A"), upsert("2", "B")]).unwrap();
    assert_eq!(table_rows(&path, "changes"), 0, "nobody can watch yet");
    cache.mark_complete().unwrap();
    let loaded = cache.revision();
    assert_eq!(loaded, start + 2);
    assert_eq!(
        cache.changes_after(start, 100).unwrap(),
        Err(TooOld { oldest: loaded }),
        "a watch from before the load must list instead"
    );
    cache.apply(&[upsert("1", "A2")]).unwrap();
    drop(cache);
    // Completion and the floor outlive a restart; changes are logged from then on.
    let cache = Cache::open(&path).unwrap();
    assert!(cache.is_complete().unwrap());
    let changes = cache.changes_after(loaded, 100).unwrap().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].id, "1");
    cache.mark_complete().unwrap();
    assert_eq!(cache.changes_after(loaded, 100).unwrap().unwrap().len(), 1);
}

#[test]
fn pruned_history_is_too_old_to_watch() {
    let cache = Cache::open(&temp("prune")).unwrap();
    cache.mark_complete().unwrap();
    let start = cache.revision();
    for i in 0..10 {
        cache.apply(&[upsert(&i.to_string(), "x")]).unwrap();
    }
    let pruned = cache
        .prune(Retention {
            max_age: Duration::from_secs(3600),
            max_changes: 4,
        })
        .unwrap();
    assert_eq!(pruned, 6);
    assert_eq!(
        cache.changes_after(start, 100).unwrap(),
        Err(TooOld { oldest: start + 6 })
    );
    assert_eq!(
        cache.changes_after(start + 6, 100).unwrap().unwrap().len(),
        4
    );
}

#[test]
fn a_corrupt_cache_is_moved_aside_and_rebuilt_without_going_back() {
    let path = temp("corrupt");
    let (old_id, old_revision) = {
        let cache = Cache::open(&path).unwrap();
        cache.apply(&[upsert("1", "A")]).unwrap();
        (cache.id().to_owned(), cache.revision())
    };
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    std::fs::write(&path, b"this is not a database").unwrap();
    let cache = Cache::open(&path).unwrap();
    assert_ne!(cache.id(), old_id, "roles must list again");
    assert!(
        cache.revision() > old_revision,
        "revisions never go backwards"
    );
    assert_eq!(cache.summary(EntityKind::Cardholder).eligible, 0);
}

fn name_of(cache: &Cache, id: &str) -> String {
    cache.get(EntityKind::Cardholder, id).unwrap().unwrap().name
}

#[test]
fn a_pass_keeps_newer_changes_but_not_against_its_own_earlier_page() {
    let cache = Cache::open(&temp("read-at")).unwrap();
    cache.apply(&[upsert("1", "A"), upsert("2", "B")]).unwrap();
    // Page 1 read, then page 2's read begins before page 1 is stored.
    let page1_read = ReadAt::at(cache.revision());
    let page2_read_at = cache.revision();
    let page1 = cache
        .apply_unless_newer(&[upsert("1", "A from page 1")], Some(page1_read))
        .unwrap();
    assert_eq!(page1.changed, 1);
    // A push-driven refresh of 2 lands after both reads.
    cache.apply(&[upsert("2", "B from a push")]).unwrap();
    let page2_read = ReadAt {
        revision: page2_read_at,
        own: vec![page1.revisions],
    };
    // Cardholder 1 moved to page 2 (paging by position): its page-1 copy is not newer than
    // page 2's read. Cardholder 2's push is, and stays.
    let page2 = cache
        .apply_unless_newer(
            &[upsert("1", "A from page 2"), upsert("2", "B from page 2")],
            Some(page2_read),
        )
        .unwrap();
    assert_eq!(page2.changed, 1);
    assert_eq!(name_of(&cache, "1"), "A from page 2");
    assert_eq!(name_of(&cache, "2"), "B from a push");
}

/// A copy of the cache the 0.1.0 release wrote, in a folder of its own.
fn fixture(name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/0.1.0/cache.db");
    let to = temp(name);
    std::fs::copy(from, &to).unwrap();
    to
}

fn table_rows(path: &Path, table: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Every row of a table (the named columns), each as the debug form of its values, sorted.
fn contents(path: &Path, table: &str, columns: &str) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(&format!("SELECT {columns} FROM {table}"))
        .unwrap();
    let n = stmt.column_count();
    let mut rows: Vec<String> = stmt
        .query_map([], |r| {
            (0..n)
                .map(|i| {
                    r.get::<_, rusqlite::types::Value>(i)
                        .map(|v| format!("{v:?}"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|values| values.join("|"))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    rows
}

#[test]
fn the_release_0_1_0_cache_is_refused_until_updated_then_keeps_identity_revisions_and_rows() {
    let path = fixture("release");
    let status = store::sqlite::migrate::describe(&path, &SCHEMA).unwrap();
    assert_eq!((status.schema.found, status.schema.expected), (1, 2));
    let refused = Cache::open(&path).err().unwrap();
    assert!(
        matches!(
            refused,
            CacheError::Schema(StoreError::NeedsUpdate {
                found: 1,
                expected: 2,
                ..
            })
        ),
        "{refused}"
    );
    assert!(path.exists(), "an older cache is kept, not moved aside");
    let report = store::sqlite::migrate::update(&path, &SCHEMA, &mut |_| {}).unwrap();
    assert_eq!(report.applied, ["2 cache_entities_rowid"]);
    let cache = Cache::open(&path).unwrap();
    assert_eq!(cache.id(), "000661881de4295f00001a78");
    assert_eq!(cache.revision(), 1_796_087_105_202_636);
    assert!(cache.is_complete().unwrap());
    assert_eq!(cache.ids(EntityKind::Cardholder).unwrap().len(), 40);
    let summary = cache.summary(EntityKind::Cardholder);
    assert_eq!(summary.eligible, 40);
    drop(cache);
    assert_eq!(table_rows(&path, "entities"), 109);
    assert_eq!(table_rows(&path, "changes"), 109);
    assert_eq!(
        table_rows(&path, "schema_migrations"),
        2,
        "versions recorded"
    );
    let original = fixture("release-again");
    for (table, columns) in [
        ("entities", "kind, id, revision, name, payload, owner"),
        ("changes", "*"),
        ("meta", "*"),
        ("kind_stats", "*"),
    ] {
        assert_eq!(
            contents(&path, table, columns),
            contents(&original, table, columns),
            "{table}"
        );
    }
    let reopened = Cache::open(&path).unwrap();
    assert_eq!(reopened.id(), "000661881de4295f00001a78");
}

#[test]
fn a_cache_from_a_newer_release_is_refused_and_kept() {
    let path = temp("newer");
    let id = Cache::open(&path).unwrap().id().to_owned();
    static NEXT: &[store::migrate::Migration] = &[
        MIGRATIONS[0],
        MIGRATIONS[1],
        store::migrate::Migration {
            version: 3,
            name: "next",
            sql: "CREATE TABLE next (x);",
        },
    ];
    let next = store::migrate::Schema {
        migrations: NEXT,
        ..SCHEMA
    };
    store::sqlite::migrate::update(&path, &next, &mut |_| {}).unwrap();
    let err = Cache::open(&path).err().unwrap();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            CacheError::Schema(StoreError::NewerSchema {
                found: 3,
                expected: 2,
                ..
            })
        ),
        "{text}"
    );
    // Not moved aside: rebuilding would cost every role a full synchronization.
    drop(Connection::open(&path).unwrap());
    store::sqlite::migrate::update(&path, &next, &mut |_| {}).unwrap();
    let status = store::sqlite::migrate::describe(&path, &next).unwrap();
    assert_eq!(status.schema.found, 3);
    let meta: String = Connection::open(&path)
        .unwrap()
        .query_row("SELECT value FROM meta WHERE key = 'cache_id'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(meta, id);
}
