use super::*;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plugin-db-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("plugin.db")
}

fn event(seq: u64, kind: &str, entity: &str) -> NewEvent {
    NewEvent {
        journal_seq: seq,
        sipass_id: format!("{}", 1000 + seq),
        occurred_at: "2026-01-01T00:00:00+00:00".into(),
        occurred_ms: 1_000 * seq as i64,
        journaled_ms: 1_000 * seq as i64,
        sipass_type: "Battery Low".into(),
        native_events: vec!["Low battery".into(), "Battery Fail".into()],
        category: "Unit".into(),
        known_type: true,
        message: format!("event {seq}"),
        entities: vec![EventEntity {
            kind: kind.into(),
            id: entity.into(),
            name: format!("{kind} {entity}"),
        }],
        payload: "{}".into(),
    }
}

fn position(journal: &str, sequence: u64) -> EventPosition {
    EventPosition {
        journal_id: journal.into(),
        sequence,
    }
}

fn all(db: &SqlitePlugin) -> Vec<StoredEvent> {
    db.events(&EventFilter {
        limit: MAX_PAGE,
        ..EventFilter::default()
    })
    .unwrap()
}

#[test]
fn events_are_stored_once_with_their_position_and_survive_a_reopen() {
    let path = temp("once");
    let role_id;
    {
        let db = SqlitePlugin::open(&path).unwrap();
        role_id = db.role_id().unwrap();
        assert_eq!(db.event_position().unwrap(), EventPosition::default());
        let batch = [event(1, "access_control_unit", "7"), event(2, "door", "3")];
        let tally = vec![("ignored:Generic".to_owned(), 2)];
        let stored = db.store_events(&batch, &tally, &position("j1", 4)).unwrap();
        assert_eq!(stored.len(), 2);
        // The same batch again (a replay after a crash before the acknowledgement).
        assert!(
            db.store_events(&batch, &tally, &position("j1", 4))
                .unwrap()
                .is_empty()
        );
        // Overlapping entries of a later batch are skipped one by one.
        let next = [event(2, "door", "3"), event(5, "door", "3")];
        assert_eq!(
            db.store_events(&next, &vec![], &position("j1", 5))
                .unwrap()
                .len(),
            1
        );
    }
    let db = SqlitePlugin::open(&path).unwrap();
    assert_eq!(db.role_id().unwrap(), role_id, "the identity is stable");
    assert_eq!(db.event_position().unwrap(), position("j1", 5));
    let events = all(&db);
    let seqs: Vec<u64> = events.iter().map(|e| e.journal_seq).collect();
    assert_eq!(seqs, [1, 2, 5]);
    assert_eq!(events[0].native_events, ["Low battery", "Battery Fail"]);
    assert_eq!(events[0].entities[0].name, "access_control_unit 7");
    assert_eq!(events[0].sipass_id, "1001");
    assert_eq!(
        db.event_counters().unwrap(),
        [("ignored:Generic".to_owned(), 2)],
        "a replay is not counted twice"
    );
}

#[test]
fn a_new_journal_stores_its_sequences_again() {
    let db = SqlitePlugin::open(&temp("journals")).unwrap();
    db.store_events(&[event(1, "door", "1")], &vec![], &position("old", 1))
        .unwrap();
    let stored = db
        .store_events(&[event(1, "door", "1")], &vec![], &position("new", 1))
        .unwrap();
    assert_eq!(
        stored.len(),
        1,
        "sequence 1 of another journal is another entry"
    );
    assert_eq!(db.event_count().unwrap(), 2);
}

#[test]
fn listings_filter_by_time_type_and_entity_and_page() {
    let db = SqlitePlugin::open(&temp("filters")).unwrap();
    let mut batch: Vec<NewEvent> = (1..=10).map(|s| event(s, "door", "3")).collect();
    batch[4].sipass_type = "Door 100%_Open".into();
    batch[4].native_events.clear();
    batch[6].entities[0].id = "9".into();
    db.store_events(&batch, &vec![], &position("j", 10))
        .unwrap();
    let list = |f: EventFilter| -> Vec<u64> {
        db.events(&EventFilter { limit: 100, ..f })
            .unwrap()
            .iter()
            .map(|e| e.journal_seq)
            .collect()
    };
    let filter = EventFilter::default();
    assert_eq!(
        list(EventFilter {
            since_ms: Some(3_000),
            until_ms: Some(6_000),
            ..filter.clone()
        }),
        [3, 4, 5]
    );
    assert_eq!(
        list(EventFilter {
            event_type: Some("door 100%_open".into()),
            ..filter.clone()
        }),
        [5]
    );
    assert_eq!(
        list(EventFilter {
            event_type: Some("battery fail".into()),
            ..filter.clone()
        })
        .len(),
        9,
        "a native event name matches"
    );
    assert!(
        list(EventFilter {
            event_type: Some("Battery%".into()),
            ..filter.clone()
        })
        .is_empty(),
        "wildcards are literal"
    );
    assert_eq!(
        list(EventFilter {
            entity: Some("9".into()),
            ..filter.clone()
        }),
        [7]
    );
    let first = db
        .events(&EventFilter {
            limit: 4,
            ..filter.clone()
        })
        .unwrap();
    let next = list(EventFilter {
        after_id: first.last().unwrap().id,
        ..filter
    });
    assert_eq!(next, [5, 6, 7, 8, 9, 10]);
}

#[test]
fn a_damaged_file_is_refused_naming_it() {
    let path = temp("damaged");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = SqlitePlugin::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
    assert!(err.to_string().contains("plugin database"), "{err}");
}

#[test]
fn each_linked_entity_finds_its_events_and_a_twice_linked_one_is_indexed_once() {
    let db = SqlitePlugin::open(&temp("links")).unwrap();
    // Links written together in the index's order, whatever the events' order.
    let batch: Vec<NewEvent> = (1..=6)
        .map(|s| {
            let mut e = event(s, "door", &format!("door-{}", 7 - s));
            e.entities.push(EventEntity {
                kind: "unit".into(),
                id: "ctl-1".into(),
                name: "controller".into(),
            });
            e.entities.push(EventEntity {
                kind: "unit".into(),
                id: "ctl-1".into(),
                name: "controller (second kind)".into(),
            });
            e
        })
        .collect();
    db.store_events(&batch, &vec![], &position("j", 6)).unwrap();
    let of = |entity: &str| -> Vec<u64> {
        db.events(&EventFilter {
            limit: 100,
            entity: Some(entity.into()),
            ..EventFilter::default()
        })
        .unwrap()
        .iter()
        .map(|e| e.journal_seq)
        .collect()
    };
    assert_eq!(of("ctl-1"), [1, 2, 3, 4, 5, 6]);
    assert_eq!(of("door-6"), [1]);
    assert_eq!(of("door-1"), [6]);
    let index_rows: i64 = db
        .reader()
        .query_row("SELECT count(*) FROM event_entities", [], |r| r.get(0))
        .unwrap();
    assert_eq!(index_rows, 12, "one row per distinct entity of each event");
    assert_eq!(
        all(&db)[0].entities.len(),
        3,
        "the event keeps every link it was given"
    );
}

#[test]
fn dedup_sorted_keeps_one_of_each_in_order() {
    let mut items = [1, 1, 2, 3, 3, 3, 7];
    let kept = dedup_sorted(&mut items);
    assert_eq!(&items[..kept], [1, 2, 3, 7]);
    assert_eq!(dedup_sorted::<u8>(&mut []), 0);
}

#[test]
fn sqlite_passes_the_plugin_conformance_suite() {
    let dir = temp("conformance");
    let dir = dir.parent().unwrap().to_owned();
    let next = std::sync::atomic::AtomicU32::new(0);
    crate::plugin_conformance::test_suite(&|| {
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::sync::Arc::new(SqlitePlugin::open(&dir.join(format!("plugin-{n}.db"))).unwrap())
    });
}
