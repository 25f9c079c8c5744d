//! The event recorder against the fake proxy: every journal entry stored exactly once, and
//! acknowledged only once committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use store::{
    AckOutcome, AlarmFilter, AlarmHistoryEntry, AlarmInstance, AlarmRead, AlarmUpdate, AlarmWrite,
    EventFilter, EventPosition, NewEvent, OutboxEntry, PluginDatabase, PluginRead, QueuedAck,
    SipassAlarmChange, StoreError, StoredEvent, Tally,
};

use super::fake_proxy::FakeProxy;
use super::{CARDHOLDER, Running};

/// A SiPass event as the simulator journals it.
fn event(id: u64, event_type: &str) -> String {
    serde_json::json!({
        "Id": id.to_string(), "Type": event_type, "OccurredAt": "2026-11-22T09:33:20+00:00",
        "EntityKind": "Doorset", "EntityToken": "4", "PointName": "Door 4",
        "Message": format!("{event_type} at Door 4"),
    })
    .to_string()
}

fn journal(proxy: &FakeProxy, n: u64) {
    for i in 1..=n {
        let t = if i % 2 == 0 {
            "Door Forced"
        } else {
            "Access Granted"
        };
        proxy.journal_event(&event(1000 + i, t));
    }
}

fn stored(role: &crate::Role) -> Vec<StoredEvent> {
    role.plugin
        .events(&EventFilter {
            limit: 10_000,
            ..EventFilter::default()
        })
        .expect("events read")
}

/// The journal sequences stored, in order.
fn sequences(role: &crate::Role) -> Vec<u64> {
    stored(role).iter().map(|e| e.journal_seq).collect()
}

/// A plugin database whose writes fail while `failing` is set, and that records which
/// positions it committed.
struct Flaky {
    inner: Arc<dyn PluginDatabase>,
    failing: Arc<AtomicBool>,
    committed: Arc<std::sync::Mutex<Vec<u64>>>,
}

impl PluginRead for Flaky {
    fn role_id(&self) -> Result<String, StoreError> {
        self.inner.role_id()
    }
    fn event_position(&self) -> Result<EventPosition, StoreError> {
        self.inner.event_position()
    }
    fn events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.events(filter)
    }
    fn event_count(&self) -> Result<u64, StoreError> {
        self.inner.event_count()
    }
    fn event_counters(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.event_counters()
    }
}

impl store::ActivityTrail for Flaky {
    fn record_activity(&self, activity: &store::Activity) -> Result<store::Activity, StoreError> {
        self.inner.record_activity(activity)
    }
    fn activities(
        &self,
        filter: &store::ActivityFilter,
    ) -> Result<Vec<store::Activity>, StoreError> {
        self.inner.activities(filter)
    }
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Open {
                database: "plugin database",
                path: "plugin.db".into(),
                reason: "the disk is full (test)".into(),
            });
        }
        Ok(())
    }
}

impl PluginDatabase for Flaky {
    fn store_events(
        &self,
        events: &[NewEvent],
        tally: &Tally,
        position: &EventPosition,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.check()?;
        let stored = self.inner.store_events(events, tally, position)?;
        self.committed.lock().unwrap().push(position.sequence);
        Ok(stored)
    }
}

impl AlarmRead for Flaky {
    fn alarms(&self, filter: &AlarmFilter) -> Result<Vec<AlarmInstance>, StoreError> {
        self.inner.alarms(filter)
    }
    fn alarm(&self, id: i64) -> Result<Option<AlarmInstance>, StoreError> {
        self.inner.alarm(id)
    }
    fn alarm_by_sipass_id(&self, sipass_id: &str) -> Result<Option<AlarmInstance>, StoreError> {
        self.inner.alarm_by_sipass_id(sipass_id)
    }
    fn alarm_history(&self, id: i64) -> Result<Vec<AlarmHistoryEntry>, StoreError> {
        self.inner.alarm_history(id)
    }
    fn active_alarm_count(&self) -> Result<u64, StoreError> {
        self.inner.active_alarm_count()
    }
    fn queued_acks(&self) -> Result<Vec<QueuedAck>, StoreError> {
        self.inner.queued_acks()
    }
    fn outbox(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner.outbox(limit)
    }
    fn outbox_len(&self) -> Result<u64, StoreError> {
        self.inner.outbox_len()
    }
}

/// The recorder writes through `store_journal`: that is where the disk fails.
impl AlarmWrite for Flaky {
    fn store_journal(
        &self,
        events: &[NewEvent],
        alarms: &[SipassAlarmChange],
        tally: &Tally,
        position: &EventPosition,
        webhook: bool,
    ) -> Result<(Vec<StoredEvent>, Vec<AlarmUpdate>), StoreError> {
        self.check()?;
        let stored = self
            .inner
            .store_journal(events, alarms, tally, position, webhook)?;
        self.committed.lock().unwrap().push(position.sequence);
        Ok(stored)
    }
    fn apply_sipass_alarms(
        &self,
        changes: &[SipassAlarmChange],
        webhook: bool,
    ) -> Result<Vec<AlarmUpdate>, StoreError> {
        self.inner.apply_sipass_alarms(changes, webhook)
    }
    fn acknowledge_here(
        &self,
        id: i64,
        user: &str,
        comment: &str,
        now_ms: i64,
        webhook: bool,
    ) -> Result<AckOutcome, StoreError> {
        self.inner
            .acknowledge_here(id, user, comment, now_ms, webhook)
    }
    fn ack_delivered(&self, queue_id: i64) -> Result<(), StoreError> {
        self.inner.ack_delivered(queue_id)
    }
    fn ack_failed(&self, queue_id: i64, error: &str) -> Result<(), StoreError> {
        self.inner.ack_failed(queue_id, error)
    }
    fn outbox_delivered(&self, sequence: i64) -> Result<(), StoreError> {
        self.inner.outbox_delivered(sequence)
    }
    fn trim_outbox(&self, keep: u64) -> Result<u64, StoreError> {
        self.inner.trim_outbox(keep)
    }
}

#[tokio::test]
async fn every_entry_is_stored_once_and_acknowledged_after_its_commit() {
    let proxy = FakeProxy::new(&[CARDHOLDER]);
    proxy.set_events_batch(7);
    journal(&proxy, 25);
    let failing = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (f, c) = (failing.clone(), committed.clone());
    let running = Running::start_with(&proxy, move |role| {
        role.plugin = Arc::new(Flaky {
            inner: role.plugin.clone(),
            failing: f,
            committed: c,
        });
    });
    running
        .eventually("25 events stored and acknowledged", |_| {
            proxy
                .acks()
                .iter()
                .any(|(_, _, up_to)| *up_to == 25)
                .then_some(())
        })
        .await;
    assert_eq!(sequences(&running.role), (1..=25).collect::<Vec<_>>());
    let events = stored(&running.role);
    assert_eq!(events[1].native_events, ["Door Forced Open"]);
    assert_eq!(events[0].sipass_id, "1001");
    assert_eq!(events[0].entities[0].kind, "door");
    // Each acknowledgement names a position committed before it, for this role's id.
    let role_id = running.role.plugin.role_id().unwrap();
    // Batches of 7 are stored as they come, or several in one commit when they wait.
    let commits = committed.lock().unwrap().clone();
    assert_eq!(commits.last(), Some(&25), "{commits:?}");
    assert!(
        commits.iter().all(|c| [7, 14, 21, 25].contains(c)),
        "{commits:?}"
    );
    for (role, journal, up_to) in proxy.acks() {
        assert_eq!(
            (role.as_str(), journal.as_str()),
            (role_id.as_str(), "journal-1")
        );
        assert!(
            commits.contains(&up_to),
            "acknowledged {up_to}, committed {commits:?}"
        );
    }

    // The plugin database fails: nothing more is acknowledged until it stores again.
    failing.store(true, Ordering::SeqCst);
    let acks_before = proxy.acks().len();
    journal(&proxy, 5);
    running
        .eventually("the failure reported", |role| {
            (role.status.health().state == crate::HealthState::Error).then_some(())
        })
        .await;
    assert!(
        proxy.acks()[acks_before..]
            .iter()
            .all(|(_, _, up_to)| *up_to <= 25),
        "{:?}",
        proxy.acks()
    );
    assert_eq!(running.role.plugin.event_count().unwrap(), 25);
    failing.store(false, Ordering::SeqCst);
    running
        .eventually("the rest stored and acknowledged", |_| {
            proxy
                .acks()
                .iter()
                .any(|(_, _, up_to)| *up_to == 30)
                .then_some(())
        })
        .await;
    assert_eq!(sequences(&running.role), (1..=30).collect::<Vec<_>>());
    running.stop().await;
}

#[tokio::test]
async fn a_lost_acknowledgement_is_sent_again_and_a_broken_stream_doubles_nothing() {
    let proxy = FakeProxy::new(&[CARDHOLDER]);
    proxy.fail_acks(true);
    journal(&proxy, 5);
    let running = Running::start(&proxy);
    running
        .eventually("5 events stored", |role| {
            (role.plugin.event_count().unwrap() == 5).then_some(())
        })
        .await;
    // The acknowledgement failed: the session ends, and the next one starts by sending it
    // again, before reading on after what is stored.
    running
        .eventually("the lost acknowledgement reported", |role| {
            let reason = role.status.health().reason.unwrap_or_default();
            reason
                .contains("acknowledging stored events failed")
                .then_some(())
        })
        .await;
    proxy.fail_acks(false);
    running
        .eventually(
            "the stored position acknowledged, then Events after it",
            |_| {
                let acked = proxy.acks().iter().any(|(_, _, up_to)| *up_to == 5);
                let asked = proxy.events_calls().iter().any(|(after, _, _)| *after == 5);
                (acked && asked).then_some(())
            },
        )
        .await;
    assert_eq!(running.role.plugin.event_count().unwrap(), 5);
    journal(&proxy, 3);
    proxy.drop_watches();
    journal(&proxy, 2);
    running
        .eventually("10 events stored", |role| {
            (role.plugin.event_count().unwrap() == 10).then_some(())
        })
        .await;
    assert_eq!(sequences(&running.role), (1..=10).collect::<Vec<_>>());
    running.stop().await;
}

#[tokio::test]
async fn a_recreated_journal_is_read_from_its_start() {
    let proxy = FakeProxy::new(&[CARDHOLDER]);
    journal(&proxy, 3);
    let running = Running::start(&proxy);
    running
        .eventually("3 events stored", |role| {
            (role.plugin.event_count().unwrap() == 3).then_some(())
        })
        .await;
    proxy.recreate_journal("journal-2");
    journal(&proxy, 2);
    proxy.drop_watches();
    running
        .eventually("the new journal's 2 events stored", |role| {
            (role.plugin.event_count().unwrap() == 5).then_some(())
        })
        .await;
    assert_eq!(
        running.role.plugin.event_position().unwrap(),
        EventPosition {
            journal_id: "journal-2".into(),
            sequence: 2
        }
    );
    assert!(
        proxy
            .events_calls()
            .iter()
            .any(|(after, journal, _)| *after == 3 && journal == "journal-1"),
        "the role asked after its position in the old journal; the proxy served the new one from 1"
    );
    assert_eq!(sequences(&running.role), [1, 2, 3, 1, 2]);
    running
        .eventually("the new journal acknowledged", |_| {
            proxy
                .acks()
                .iter()
                .any(|(_, journal, up_to)| journal == "journal-2" && *up_to == 2)
                .then_some(())
        })
        .await;
    running.stop().await;
}
