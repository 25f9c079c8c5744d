//! The alarm manager against the in-memory proxy: SiPass's active alarms triggered once,
//! journaled changes applied once, acknowledgements made here queued while the proxy is
//! away and delivered once when it is back.

use std::time::Duration;

use model::access::Viewer;
use protocol::pb;
use serde_json::json;
use store::{AlarmAction, AlarmFilter, AlarmInstance};

use super::fake_proxy::FakeProxy;
use super::{CARDHOLDER, Running};

fn active(id: &str, acknowledged: bool) -> pb::Alarm {
    pb::Alarm {
        alarm_id: id.into(),
        alarm_class_token: "2".into(),
        alarm_class_name: "Door Forced".into(),
        priority: 50,
        acknowledged,
        raised_at: "2026-11-30T10:00:00.000Z".into(),
        payload: json!({"Operator": "sipass-op", "Comment": "seen there"})
            .to_string()
            .into_bytes(),
        ..pb::Alarm::default()
    }
}

fn all(running: &Running) -> Vec<AlarmInstance> {
    running
        .role
        .plugin
        .alarms(&AlarmFilter {
            limit: 100,
            ..AlarmFilter::default()
        })
        .expect("alarms read")
}

fn by_sipass_id(running: &Running, id: &str) -> Option<AlarmInstance> {
    running
        .role
        .plugin
        .alarm_by_sipass_id(id)
        .expect("an alarm reads")
}

fn actions(running: &Running, id: i64) -> Vec<(AlarmAction, String, String)> {
    running
        .role
        .plugin
        .alarm_history(id)
        .expect("history reads")
        .into_iter()
        .map(|h| (h.action, h.by, h.origin))
        .collect()
}

fn change(id: &str, state: &str, operator: &str) -> String {
    json!({"AlarmId": id, "AlarmClassToken": "2", "Priority": 50, "State": state,
           "Operator": operator, "Comment": "", "At": "2026-11-30T10:00:01.000Z"})
    .to_string()
}

#[tokio::test]
async fn active_alarms_trigger_once_and_sipass_acknowledgements_arrive() {
    let proxy = FakeProxy::new(&[CARDHOLDER]);
    proxy.set_active_alarms(vec![active("1", false), active("2", true)]);
    let running = Running::start(&proxy);
    running
        .eventually("both active alarms triggered", |_| {
            (all(&running).len() == 2).then_some(())
        })
        .await;
    let second = by_sipass_id(&running, "2").unwrap();
    assert!(second.acknowledged && second.active, "{second:?}");
    assert_eq!(second.acknowledged_by, "sipass-op");

    // The journal brings the raise of alarm 1 again, then its acknowledgement in SiPass.
    proxy.journal_entry(pb::JournalEntryType::Alarm, &change("1", "Raised", ""));
    let last = proxy.journal_entry(
        pb::JournalEntryType::Alarm,
        &change("1", "Acknowledged", "olga"),
    );
    running
        .eventually("the journal read", |role| {
            (role.plugin.event_position().unwrap().sequence == last).then_some(())
        })
        .await;
    let first = by_sipass_id(&running, "1").unwrap();
    assert!(first.acknowledged, "{first:?}");
    assert_eq!(all(&running).len(), 2, "nothing triggered twice");
    assert_eq!(
        actions(&running, first.id),
        [
            (AlarmAction::Triggered, String::new(), "sipass".into()),
            (AlarmAction::Acknowledged, "olga".into(), "sipass".into()),
        ]
    );
    running.stop().await;
}

#[tokio::test]
async fn an_acknowledgement_made_while_the_proxy_is_away_is_delivered_once_when_it_returns() {
    let proxy = FakeProxy::new(&[CARDHOLDER]);
    proxy.set_active_alarms(vec![active("3", false)]);
    let running = Running::start(&proxy);
    let alarm = running
        .eventually("the alarm triggered", |_| by_sipass_id(&running, "3"))
        .await;
    proxy.fail_acks(true);
    let viewer = Viewer::administrator("tester");
    let answer = running
        .role
        .acknowledge_alarm(&viewer, alarm.id, "  on my way ")
        .expect("acknowledged here");
    assert!(!answer.already_acknowledged);
    assert!(answer.alarm.alarm.acknowledged && answer.alarm.alarm.ack_pending);
    assert_eq!(answer.alarm.alarm.ack_comment, "on my way");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(proxy.alarm_acks().is_empty(), "nothing reached SiPass yet");
    assert_eq!(running.role.plugin.queued_acks().unwrap().len(), 1);

    proxy.fail_acks(false);
    running
        .eventually("the acknowledgement delivered", |role| {
            role.plugin.queued_acks().unwrap().is_empty().then_some(())
        })
        .await;
    // Again here: nothing new is queued or sent.
    let again = running
        .role
        .acknowledge_alarm(&viewer, alarm.id, "twice")
        .expect("idempotent");
    assert!(again.already_acknowledged);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        proxy.alarm_acks(),
        [("3".to_owned(), "tester".to_owned(), "on my way".to_owned())]
    );
    assert_eq!(
        actions(&running, alarm.id),
        [
            (AlarmAction::Triggered, String::new(), "sipass".into()),
            (AlarmAction::Acknowledged, "tester".into(), "here".into()),
        ]
    );
    let refused = running
        .role
        .acknowledge_alarm(&viewer, alarm.id, "bad\u{1b}[2J");
    assert!(refused.unwrap_err().to_string().starts_with("comment:"));
    running.stop().await;
}

/// An operator sees the alarms of its partitions and those that notify it; only an
/// administrator adds a partition by hand.
#[tokio::test]
async fn an_operator_sees_only_alarms_of_its_partitions_or_for_it() {
    let proxy = FakeProxy::new(&[CARDHOLDER]);
    proxy.set_active_alarms(vec![active("1", false)]);
    let running = Running::start(&proxy);
    let alarm = running
        .eventually("the alarm triggered", |_| by_sipass_id(&running, "1"))
        .await;
    let directory = running.role.directory.clone();
    // The alarm class as the synchronizer would have written it, made an alarm entity
    // with the defaults of now.
    directory
        .write_page(
            &[store::SourceEntity {
                source_kind: "alarm-class".into(),
                id: "2".into(),
                revision: 1,
                name: "Door Forced".into(),
                fields: "{}".into(),
                kinds: vec!["alarm".into()],
            }],
            &store::SyncPosition {
                source_kind: "alarm-class".into(),
                cache_id: "c".into(),
                generation: 1,
                snapshot_revision: 1,
                page_token: String::new(),
                done: 1,
                total: 1,
                complete: false,
            },
        )
        .unwrap();
    crate::config::apply(
        directory.as_ref(),
        &crate::config::SettingsChange {
            alarm_recipients: Some(json!("group:night shift")),
            alarm_partitions: Some(json!(["north"])),
            ..Default::default()
        },
    )
    .unwrap();
    running
        .eventually("the alarm entity", |role| {
            (role.directory.alarm_entities().unwrap().len() == 1).then_some(())
        })
        .await;
    let operator = |partitions: &[&str], groups: &[&str]| Viewer {
        user: "olga".into(),
        role: model::access::AccessRole::Operator,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        partitions: partitions.iter().map(|p| p.to_string()).collect(),
    };
    let north = operator(&["north"], &[]);
    let south = operator(&["south"], &[]);
    let night = operator(&["south"], &["night shift"]);
    let seen = |viewer: &Viewer| running.role.alarms(viewer, false, 0, 10).unwrap().0;
    assert_eq!(seen(&north).len(), 1);
    assert!(!seen(&north)[0].for_you);
    assert!(seen(&south).is_empty());
    assert!(running.role.alarm(&south, alarm.id).is_err());
    assert!(
        running
            .role
            .acknowledge_alarm(&south, alarm.id, "")
            .is_err(),
        "an alarm it cannot see, it cannot acknowledge"
    );
    let for_night = seen(&night);
    assert_eq!(for_night.len(), 1);
    assert!(for_night[0].for_you);
    assert!(matches!(
        running.role.add_alarm_partition(&north, "2", "east"),
        Err(crate::alarms::AlarmError::Forbidden(_))
    ));
    let admin = Viewer::administrator("admin");
    let added = running
        .role
        .add_alarm_partition(&admin, "2", "east")
        .unwrap();
    assert_eq!(added.entity.partitions, ["north", "east"]);
    assert_eq!(seen(&operator(&["east"], &[])).len(), 1);
    running.stop().await;
}
