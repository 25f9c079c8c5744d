//! The behaviour every plugin database engine must have, through the traits only (events,
//! alarms, the acknowledgement queue, the webhook's outbox, the activity trail). Each
//! engine's tests call [`test_suite`] with a way to make an empty plugin database.

use std::sync::Arc;

use crate::activity::{Activity, ActivityFilter};
use crate::alarms::{AckOutcome, AlarmAction, ORIGIN_HERE, ORIGIN_SIPASS, SipassAlarmChange};
use crate::plugin::{EventEntity, EventFilter, EventPosition, NewEvent, PluginDatabase};

/// One named check of the suite.
type Check = (&'static str, fn(&dyn PluginDatabase));

/// Runs every check, each on a new empty plugin database from `fresh`.
pub fn test_suite(fresh: &dyn Fn() -> Arc<dyn PluginDatabase>) {
    let checks: &[Check] = &[
        ("events once", events_are_stored_once_with_their_position),
        ("filters", listings_filter_by_time_type_and_entity_and_page),
        ("alarms once", journal_alarm_changes_apply_once),
        (
            "acknowledgement queue",
            an_acknowledgement_here_is_queued_once,
        ),
        (
            "activity",
            activities_are_kept_newest_first_and_never_with_a_hole,
        ),
    ];
    for (name, check) in checks {
        eprintln!("plugin conformance: {name}");
        check(fresh().as_ref());
    }
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

fn events_are_stored_once_with_their_position(db: &dyn PluginDatabase) {
    assert!(!db.role_id().unwrap().is_empty());
    assert_eq!(db.event_position().unwrap(), EventPosition::default());
    let batch = [event(1, "access_control_unit", "7"), event(2, "door", "3")];
    let tally = vec![("ignored:Generic".to_owned(), 2)];
    assert_eq!(
        db.store_events(&batch, &tally, &position("j1", 4))
            .unwrap()
            .len(),
        2
    );
    assert!(
        db.store_events(&batch, &tally, &position("j1", 4))
            .unwrap()
            .is_empty(),
        "a replay stores nothing"
    );
    let next = [event(2, "door", "3"), event(5, "door", "3")];
    let stored = db.store_events(&next, &vec![], &position("j1", 5)).unwrap();
    assert_eq!(stored.len(), 1, "an overlapping entry is skipped");
    assert_eq!(db.event_position().unwrap(), position("j1", 5));
    let events = db
        .events(&EventFilter {
            limit: 100,
            ..EventFilter::default()
        })
        .unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.journal_seq).collect();
    assert_eq!(seqs, [1, 2, 5]);
    assert_eq!(events[0].native_events, ["Low battery", "Battery Fail"]);
    assert_eq!(events[0].entities[0].name, "access_control_unit 7");
    assert_eq!(events[2].id, stored[0].id);
    assert_eq!(
        db.event_counters().unwrap(),
        [("ignored:Generic".to_owned(), 2)],
        "a replay is not counted twice"
    );
    let other = db
        .store_events(&[event(1, "door", "1")], &vec![], &position("new", 1))
        .unwrap();
    assert_eq!(
        other.len(),
        1,
        "sequence 1 of another journal is another entry"
    );
    assert_eq!(db.event_count().unwrap(), 4);
}

fn listings_filter_by_time_type_and_entity_and_page(db: &dyn PluginDatabase) {
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
    let window = EventFilter {
        since_ms: Some(3_000),
        until_ms: Some(6_000),
        ..filter.clone()
    };
    assert_eq!(list(window), [3, 4, 5]);
    let by_type = |t: &str| {
        list(EventFilter {
            event_type: Some(t.into()),
            ..EventFilter::default()
        })
    };
    assert_eq!(by_type("door 100%_open"), [5]);
    assert_eq!(
        by_type("battery fail").len(),
        9,
        "a native event name matches"
    );
    assert!(by_type("Battery%").is_empty(), "wildcards are literal");
    let entity = EventFilter {
        entity: Some("9".into()),
        ..filter.clone()
    };
    assert_eq!(list(entity), [7]);
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

fn change(seq: u64, action: AlarmAction, id: &str, by: &str) -> SipassAlarmChange {
    SipassAlarmChange {
        journal_seq: seq,
        action,
        sipass_id: id.into(),
        class_id: "3".into(),
        class_name: "Door Forced".into(),
        priority: 10,
        message: "forced".into(),
        source_kind: "Doorset".into(),
        source_id: "5".into(),
        by: by.into(),
        comment: String::new(),
        at: "2026-11-30T10:00:00.000Z".into(),
        at_ms: 1_000 + seq as i64,
    }
}

fn actions(db: &dyn PluginDatabase, id: i64) -> Vec<(AlarmAction, String, String)> {
    db.alarm_history(id)
        .unwrap()
        .into_iter()
        .map(|h| (h.action, h.by, h.origin))
        .collect()
}

fn journal_alarm_changes_apply_once(db: &dyn PluginDatabase) {
    let batch = [
        change(1, AlarmAction::Triggered, "7", ""),
        change(2, AlarmAction::Triggered, "7", ""),
        change(3, AlarmAction::Acknowledged, "7", "olga"),
        change(4, AlarmAction::Acknowledged, "7", "oleg"),
    ];
    let (_, updates) = db
        .store_journal(&[], &batch, &Vec::new(), &position("j", 4), true)
        .unwrap();
    assert_eq!(updates.len(), 2, "one trigger, one acknowledgement");
    let alarm = db.alarm_by_sipass_id("7").unwrap().unwrap();
    // Each update carries the alarm as its change left it, as a reader then finds it.
    assert_eq!(updates[1].alarm, alarm);
    assert!(!updates[0].alarm.acknowledged && updates[0].alarm.active);
    assert!(alarm.acknowledged && alarm.active && !alarm.cleared);
    assert_eq!(alarm.acknowledged_by, "olga");
    let (_, again) = db
        .store_journal(&[], &batch, &Vec::new(), &position("j", 4), true)
        .unwrap();
    assert!(again.is_empty(), "a replay changes nothing");
    let clears = [
        change(5, AlarmAction::Cleared, "8", ""),
        change(6, AlarmAction::Cleared, "7", ""),
    ];
    let (_, more) = db
        .store_journal(&[], &clears, &Vec::new(), &position("j", 6), true)
        .unwrap();
    assert_eq!(more.len(), 3);
    for update in &more[1..] {
        assert_eq!(
            Some(&update.alarm),
            db.alarm(update.alarm.id).unwrap().as_ref()
        );
    }
    assert_eq!(db.active_alarm_count().unwrap(), 1);
    let eight = db.alarm_by_sipass_id("8").unwrap().unwrap();
    assert_eq!(
        actions(db, eight.id),
        [
            (AlarmAction::Triggered, String::new(), ORIGIN_SIPASS.into()),
            (AlarmAction::Cleared, String::new(), ORIGIN_SIPASS.into()),
        ]
    );
    let outbox = db.outbox(100).unwrap();
    let sequences: Vec<i64> = outbox.iter().map(|m| m.sequence).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5]);
    let body: serde_json::Value = serde_json::from_str(&outbox[4].body).unwrap();
    assert_eq!(body["sequence"], 5);
    assert_eq!(body["entry"]["action"], "cleared");
    db.outbox_delivered(3).unwrap();
    assert_eq!(db.outbox_len().unwrap(), 2);
    assert_eq!(db.trim_outbox(1).unwrap(), 1);
    let kept: Vec<i64> = db.outbox(100).unwrap().iter().map(|m| m.sequence).collect();
    assert_eq!(kept, [5]);
    let listed = db
        .alarms(&crate::AlarmFilter {
            active_only: true,
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sipass_id, "8");
}

fn an_acknowledgement_here_is_queued_once(db: &dyn PluginDatabase) {
    let triggered = db
        .apply_sipass_alarms(&[change(0, AlarmAction::Triggered, "9", "")], false)
        .unwrap();
    let id = db.alarm_by_sipass_id("9").unwrap().unwrap().id;
    assert_eq!(Some(&triggered[0].alarm), db.alarm(id).unwrap().as_ref());
    assert_eq!(
        db.acknowledge_here(404, "olga", "", 5, false).unwrap(),
        AckOutcome::NotFound
    );
    let AckOutcome::Recorded(update) = db.acknowledge_here(id, "olga", "sent", 5, false).unwrap()
    else {
        panic!("recorded")
    };
    assert!(update.alarm.ack_pending && update.alarm.acknowledged);
    assert_eq!(Some(&update.alarm), db.alarm(id).unwrap().as_ref());
    assert_eq!(update.sequence, 0, "no webhook, no outbox");
    assert!(matches!(
        db.acknowledge_here(id, "oleg", "again", 6, false).unwrap(),
        AckOutcome::AlreadyAcknowledged(_)
    ));
    let queued = db.queued_acks().unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].sipass_id.as_str(), queued[0].operator.as_str()),
        ("9", "olga")
    );
    db.ack_failed(queued[0].id, "the proxy is away").unwrap();
    assert_eq!(db.queued_acks().unwrap()[0].attempts, 1);
    db.ack_delivered(queued[0].id).unwrap();
    assert!(db.queued_acks().unwrap().is_empty());
    assert!(!db.alarm(id).unwrap().unwrap().ack_pending);
    assert_eq!(
        actions(db, id),
        [
            (AlarmAction::Triggered, String::new(), ORIGIN_SIPASS.into()),
            (AlarmAction::Acknowledged, "olga".into(), ORIGIN_HERE.into()),
        ]
    );
}

fn activity(entity: &str, at_ms: i64) -> Activity {
    Activity {
        id: 0,
        at_ms,
        at: model::time::rfc3339_millis(at_ms),
        entity_id: entity.into(),
        entity_kind: "door".into(),
        entity_name: "Main entrance".into(),
        activity: "unlock".into(),
        activity_label: "Unlock door".into(),
        application: "CLI".into(),
        application_version: "0.1.0".into(),
        machine: "role-host".into(),
        user: "api-token".into(),
        outcome: "succeeded".into(),
        message: "Unlock sent to doorset 3".into(),
    }
}

fn activities_are_kept_newest_first_and_never_with_a_hole(db: &dyn PluginDatabase) {
    let first = db.record_activity(&activity("3", 1_000)).unwrap();
    let second = db.record_activity(&activity("4", 2_000)).unwrap();
    assert!(second.id > first.id);
    let list = |f: ActivityFilter| db.activities(&ActivityFilter { limit: 10, ..f }).unwrap();
    assert_eq!(
        list(ActivityFilter::default()),
        vec![second.clone(), first.clone()]
    );
    let door3 = ActivityFilter {
        entity: Some("3".into()),
        ..Default::default()
    };
    assert_eq!(list(door3), vec![first.clone()]);
    let recent = ActivityFilter {
        since_ms: Some(1_500),
        ..Default::default()
    };
    assert_eq!(list(recent), vec![second.clone()]);
    let older = ActivityFilter {
        before_id: second.id,
        ..Default::default()
    };
    assert_eq!(list(older), vec![first]);
    let holed = Activity {
        user: String::new(),
        ..activity("3", 3_000)
    };
    assert!(
        db.record_activity(&holed).is_err(),
        "an empty user is refused"
    );
}
