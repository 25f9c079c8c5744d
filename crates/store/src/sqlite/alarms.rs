//! Alarms in SQLite: alarm instances, history, the acknowledgement queue and the webhook's
//! outbox in the plugin database; alarm entities in the Directory.

use model::access::Recipient;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::plugin::{SqlitePlugin, SqlitePluginReader, write_events};
use super::{SqliteDirectory, lock};
use crate::StoreError;
use crate::alarms::{
    AckOutcome, AlarmAction, AlarmEntities, AlarmEntity, AlarmFilter, AlarmHistoryEntry,
    AlarmInstance, AlarmRead, AlarmUpdate, AlarmWrite, ORIGIN_HERE, ORIGIN_SIPASS, OutboxEntry,
    QueuedAck, SipassAlarmChange,
};
use crate::plugin::{EventPosition, NewEvent, StoredEvent, Tally};

/// The most alarms one listing returns.
pub const MAX_ALARM_PAGE: u32 = 10_000;

const ALARM_COLUMNS: &str = "a.id, a.sipass_id, a.class_id, a.class_name, a.priority, a.message,
    a.source_kind, a.source_id, a.triggered_at, a.triggered_ms, a.recorded_ms, a.acknowledged,
    a.acknowledged_by, a.acknowledged_at, a.ack_comment, a.cleared, a.cleared_at, a.active,
    EXISTS (SELECT 1 FROM alarm_ack_queue q WHERE q.alarm_id = a.id)";

fn alarm_row(r: &Row<'_>) -> rusqlite::Result<AlarmInstance> {
    Ok(AlarmInstance {
        id: r.get(0)?,
        sipass_id: r.get(1)?,
        class_id: r.get(2)?,
        class_name: r.get(3)?,
        priority: r.get(4)?,
        message: r.get(5)?,
        source_kind: r.get(6)?,
        source_id: r.get(7)?,
        triggered_at: r.get(8)?,
        triggered_ms: r.get(9)?,
        recorded_ms: r.get(10)?,
        acknowledged: r.get(11)?,
        acknowledged_by: r.get(12)?,
        acknowledged_at: r.get(13)?,
        ack_comment: r.get(14)?,
        cleared: r.get(15)?,
        cleared_at: r.get(16)?,
        active: r.get(17)?,
        ack_pending: r.get(18)?,
    })
}

fn history_row(r: &Row<'_>) -> rusqlite::Result<AlarmHistoryEntry> {
    let action: String = r.get(2)?;
    Ok(AlarmHistoryEntry {
        id: r.get(0)?,
        alarm_id: r.get(1)?,
        action: AlarmAction::parse(&action).unwrap_or(AlarmAction::Triggered),
        by: r.get(3)?,
        comment: r.get(4)?,
        at: r.get(5)?,
        at_ms: r.get(6)?,
        origin: r.get(7)?,
        journal_seq: r.get::<_, i64>(8)? as u64,
    })
}

fn list_alarms(conn: &Connection, filter: &AlarmFilter) -> Result<Vec<AlarmInstance>, StoreError> {
    let sql = format!(
        "SELECT {ALARM_COLUMNS} FROM alarms a
         WHERE (?1 = 0 OR a.active = 1) AND (?2 = 0 OR a.id < ?2)
         ORDER BY a.id DESC LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(
            params![
                filter.active_only,
                filter.before_id,
                i64::from(filter.limit.clamp(1, MAX_ALARM_PAGE))
            ],
            alarm_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn one_alarm(
    conn: &Connection,
    column: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<AlarmInstance>, StoreError> {
    let sql = format!("SELECT {ALARM_COLUMNS} FROM alarms a WHERE a.{column} = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([value], alarm_row)
        .optional()?)
}

fn history(conn: &Connection, id: i64) -> Result<Vec<AlarmHistoryEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, alarm_id, action, by_user, comment, at, at_ms, origin, journal_seq
         FROM alarm_history WHERE alarm_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([id], history_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn active_count(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM alarms WHERE active = 1")?
        .query_row([], |r| r.get(0))?;
    Ok(n as u64)
}

fn queued(conn: &Connection) -> Result<Vec<QueuedAck>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, alarm_id, sipass_id, operator, comment, queued_ms, attempts, last_error
         FROM alarm_ack_queue ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(QueuedAck {
                id: r.get(0)?,
                alarm_id: r.get(1)?,
                sipass_id: r.get(2)?,
                operator: r.get(3)?,
                comment: r.get(4)?,
                queued_ms: r.get(5)?,
                attempts: r.get::<_, i64>(6)?.clamp(0, u32::MAX as i64) as u32,
                last_error: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn outbox(conn: &Connection, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT sequence, body FROM alarm_outbox ORDER BY sequence LIMIT ?1")?;
    let rows = stmt
        .query_map([i64::from(limit.max(1))], |r| {
            Ok(OutboxEntry {
                sequence: r.get(0)?,
                body: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

macro_rules! alarm_read {
    ($type:ty) => {
        impl AlarmRead for $type {
            fn alarms(&self, filter: &AlarmFilter) -> Result<Vec<AlarmInstance>, StoreError> {
                list_alarms(&self.reader(), filter)
            }
            fn alarm(&self, id: i64) -> Result<Option<AlarmInstance>, StoreError> {
                one_alarm(&self.reader(), "id", &id)
            }
            fn alarm_by_sipass_id(
                &self,
                sipass_id: &str,
            ) -> Result<Option<AlarmInstance>, StoreError> {
                one_alarm(&self.reader(), "sipass_id", &sipass_id)
            }
            fn alarm_history(&self, id: i64) -> Result<Vec<AlarmHistoryEntry>, StoreError> {
                history(&self.reader(), id)
            }
            fn active_alarm_count(&self) -> Result<u64, StoreError> {
                active_count(&self.reader())
            }
            fn queued_acks(&self) -> Result<Vec<QueuedAck>, StoreError> {
                queued(&self.reader())
            }
            fn outbox(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
                outbox(&self.reader(), limit)
            }
            fn outbox_len(&self) -> Result<u64, StoreError> {
                let n: i64 = self
                    .reader()
                    .prepare_cached("SELECT count(*) FROM alarm_outbox")?
                    .query_row([], |r| r.get(0))?;
                Ok(n as u64)
            }
        }
    };
}

alarm_read!(SqlitePlugin);
alarm_read!(SqlitePluginReader);

/// Applies one change SiPass reported; `None` when it changes nothing (seen already).
fn apply_sipass(
    tx: &Transaction<'_>,
    change: &SipassAlarmChange,
    webhook: bool,
    out: &mut Vec<AlarmUpdate>,
) -> Result<(), StoreError> {
    let existing = one_alarm(tx, "sipass_id", &change.sipass_id)?;
    let mut alarm = match existing {
        Some(alarm) => alarm,
        None => {
            let alarm = insert_alarm(tx, change)?;
            // A change other than a trigger for an alarm not seen yet: SiPass raised it
            // before the role could see it; triggered now, then changed.
            let by = match change.action {
                AlarmAction::Triggered => change.by.as_str(),
                _ => "",
            };
            record(
                tx,
                alarm.clone(),
                AlarmAction::Triggered,
                by,
                "",
                change,
                ORIGIN_SIPASS,
                webhook,
                out,
            )?;
            if change.action == AlarmAction::Triggered {
                return Ok(());
            }
            alarm
        }
    };
    // The alarm as the change leaves it is known here: it is not read back (an alarm
    // change was four statements, one of them a subquery, for each of thousands a second).
    let changed = match change.action {
        AlarmAction::Triggered => 0,
        AlarmAction::Acknowledged if !alarm.acknowledged => {
            let n = tx
                .prepare_cached(
                    "UPDATE alarms SET acknowledged = 1, acknowledged_by = ?2, acknowledged_at = ?3,
                        ack_comment = ?4, active = NOT cleared WHERE id = ?1",
                )?
                .execute(params![alarm.id, change.by, change.at, change.comment])?;
            alarm.acknowledged = true;
            alarm.acknowledged_by = change.by.clone();
            alarm.acknowledged_at = change.at.clone();
            alarm.ack_comment = change.comment.clone();
            alarm.active = !alarm.cleared;
            n
        }
        AlarmAction::Cleared if !alarm.cleared => {
            let n = tx
                .prepare_cached(
                    "UPDATE alarms SET cleared = 1, cleared_at = ?2, active = NOT acknowledged
                     WHERE id = ?1",
                )?
                .execute(params![alarm.id, change.at])?;
            alarm.cleared = true;
            alarm.cleared_at = change.at.clone();
            alarm.active = !alarm.acknowledged;
            n
        }
        _ => 0,
    };
    if changed > 0 {
        record(
            tx,
            alarm,
            change.action,
            &change.by,
            &change.comment,
            change,
            ORIGIN_SIPASS,
            webhook,
            out,
        )?;
    }
    Ok(())
}

/// Inserts the alarm a SiPass change names, not seen before; the instance as stored.
fn insert_alarm(
    tx: &Transaction<'_>,
    change: &SipassAlarmChange,
) -> Result<AlarmInstance, StoreError> {
    let recorded_ms = runtime::now_millis();
    tx.prepare_cached(
        "INSERT INTO alarms (sipass_id, class_id, class_name, priority, message,
            source_kind, source_id, triggered_at, triggered_ms, recorded_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        change.sipass_id,
        change.class_id,
        change.class_name,
        change.priority,
        change.message,
        change.source_kind,
        change.source_id,
        change.at,
        change.at_ms,
        recorded_ms,
    ])?;
    // The columns' defaults (0002_plugin_alarms.sql): neither acknowledged nor cleared,
    // active, nothing queued.
    Ok(AlarmInstance {
        id: tx.last_insert_rowid(),
        sipass_id: change.sipass_id.clone(),
        class_id: change.class_id.clone(),
        class_name: change.class_name.clone(),
        priority: change.priority,
        message: change.message.clone(),
        source_kind: change.source_kind.clone(),
        source_id: change.source_id.clone(),
        triggered_at: change.at.clone(),
        triggered_ms: change.at_ms,
        recorded_ms,
        acknowledged: false,
        acknowledged_by: String::new(),
        acknowledged_at: String::new(),
        ack_comment: String::new(),
        cleared: false,
        cleared_at: String::new(),
        active: true,
        ack_pending: false,
    })
}

/// Writes a history line (and the webhook's message) for a change just made.
#[allow(clippy::too_many_arguments)]
fn record(
    tx: &Transaction<'_>,
    alarm: AlarmInstance,
    action: AlarmAction,
    by: &str,
    comment: &str,
    change: &SipassAlarmChange,
    origin: &str,
    webhook: bool,
    out: &mut Vec<AlarmUpdate>,
) -> Result<(), StoreError> {
    let entry = AlarmHistoryEntry {
        id: 0,
        alarm_id: alarm.id,
        action,
        by: by.to_owned(),
        comment: comment.to_owned(),
        at: change.at.clone(),
        at_ms: change.at_ms,
        origin: origin.to_owned(),
        journal_seq: change.journal_seq,
    };
    out.push(write_history(tx, entry, alarm, webhook)?);
    Ok(())
}

/// Writes a history entry of `alarm` (as the change left it) and, for the webhook, its
/// outbox message.
fn write_history(
    tx: &Transaction<'_>,
    mut entry: AlarmHistoryEntry,
    alarm: AlarmInstance,
    webhook: bool,
) -> Result<AlarmUpdate, StoreError> {
    tx.prepare_cached(
        "INSERT INTO alarm_history (alarm_id, action, by_user, comment, at, at_ms, origin,
            journal_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        entry.alarm_id,
        entry.action.as_str(),
        entry.by,
        entry.comment,
        entry.at,
        entry.at_ms,
        entry.origin,
        entry.journal_seq as i64,
    ])?;
    entry.id = tx.last_insert_rowid();
    let mut update = AlarmUpdate {
        alarm,
        entry,
        sequence: 0,
    };
    if webhook {
        // The sequence is the row's own: taken first, then written into the body.
        tx.prepare_cached("INSERT INTO alarm_outbox (body, created_ms) VALUES ('', ?1)")?
            .execute([runtime::now_millis()])?;
        update.sequence = tx.last_insert_rowid();
        let body = json(&update);
        tx.prepare_cached("UPDATE alarm_outbox SET body = ?2 WHERE sequence = ?1")?
            .execute(params![update.sequence, body])?;
    }
    Ok(update)
}

impl AlarmWrite for SqlitePlugin {
    fn store_journal(
        &self,
        events: &[NewEvent],
        alarms: &[SipassAlarmChange],
        tally: &Tally,
        position: &EventPosition,
        webhook: bool,
    ) -> Result<(Vec<StoredEvent>, Vec<AlarmUpdate>), StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some(stored) = write_events(&tx, events, tally, position)? else {
            return Ok((Vec::new(), Vec::new()));
        };
        let mut updates = Vec::new();
        for change in alarms {
            apply_sipass(&tx, change, webhook, &mut updates)?;
        }
        tx.commit()?;
        Ok((stored, updates))
    }

    fn apply_sipass_alarms(
        &self,
        changes: &[SipassAlarmChange],
        webhook: bool,
    ) -> Result<Vec<AlarmUpdate>, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut updates = Vec::new();
        for change in changes {
            apply_sipass(&tx, change, webhook, &mut updates)?;
        }
        tx.commit()?;
        Ok(updates)
    }

    fn acknowledge_here(
        &self,
        id: i64,
        user: &str,
        comment: &str,
        now_ms: i64,
        webhook: bool,
    ) -> Result<AckOutcome, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some(mut alarm) = one_alarm(&tx, "id", &id)? else {
            return Ok(AckOutcome::NotFound);
        };
        if alarm.acknowledged {
            return Ok(AckOutcome::AlreadyAcknowledged(alarm));
        }
        let at = model::time::rfc3339_millis(now_ms);
        tx.prepare_cached(
            "UPDATE alarms SET acknowledged = 1, acknowledged_by = ?2, acknowledged_at = ?3,
                ack_comment = ?4, active = NOT cleared WHERE id = ?1",
        )?
        .execute(params![id, user, at, comment])?;
        tx.prepare_cached(
            "INSERT INTO alarm_ack_queue (alarm_id, sipass_id, operator, comment, queued_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![id, alarm.sipass_id, user, comment, now_ms])?;
        let entry = AlarmHistoryEntry {
            id: 0,
            alarm_id: id,
            action: AlarmAction::Acknowledged,
            by: user.to_owned(),
            comment: comment.to_owned(),
            at,
            at_ms: now_ms,
            origin: ORIGIN_HERE.to_owned(),
            journal_seq: 0,
        };
        alarm.acknowledged = true;
        alarm.acknowledged_by = user.to_owned();
        alarm.acknowledged_at = entry.at.clone();
        alarm.ack_comment = comment.to_owned();
        alarm.active = !alarm.cleared;
        alarm.ack_pending = true;
        let update = write_history(&tx, entry, alarm, webhook)?;
        tx.commit()?;
        Ok(AckOutcome::Recorded(update))
    }

    fn ack_delivered(&self, queue_id: i64) -> Result<(), StoreError> {
        self.writer()
            .prepare_cached("DELETE FROM alarm_ack_queue WHERE id = ?1")?
            .execute([queue_id])?;
        Ok(())
    }

    fn ack_failed(&self, queue_id: i64, error: &str) -> Result<(), StoreError> {
        self.writer()
            .prepare_cached(
                "UPDATE alarm_ack_queue SET attempts = attempts + 1, last_error = ?2
                 WHERE id = ?1",
            )?
            .execute(params![queue_id, error])?;
        Ok(())
    }

    fn outbox_delivered(&self, sequence: i64) -> Result<(), StoreError> {
        self.writer()
            .prepare_cached("DELETE FROM alarm_outbox WHERE sequence <= ?1")?
            .execute([sequence])?;
        Ok(())
    }

    fn trim_outbox(&self, keep: u64) -> Result<u64, StoreError> {
        let removed = self
            .writer()
            .prepare_cached(
                "DELETE FROM alarm_outbox WHERE sequence <= (SELECT sequence FROM alarm_outbox
                    ORDER BY sequence DESC LIMIT 1 OFFSET ?1)",
            )?
            .execute([keep.min(i64::MAX as u64) as i64])?;
        Ok(removed as u64)
    }
}

// ----- the Directory's alarm entities ------------------------------------------------------

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

impl AlarmEntities for SqliteDirectory {
    fn ensure_alarm_entities(
        &self,
        recipients: &[Recipient],
        partitions: &[String],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let conn = self.write();
        let created = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO alarm_entities (id, recipients, partitions, created_ms)
                 SELECT DISTINCT e.id, ?1, ?2, ?3 FROM entities e
                 WHERE e.kind = 'alarm'
                   AND NOT EXISTS (SELECT 1 FROM alarm_entities x WHERE x.id = e.id)",
            )?
            .execute(params![json(&recipients), json(&partitions), now_ms])?;
        Ok(created as u64)
    }

    fn alarm_entities(&self) -> Result<Vec<AlarmEntity>, StoreError> {
        let conn = lock(&self.reader.conn);
        let mut stmt = conn.prepare_cached(
            "SELECT x.id, MIN(e.name), x.recipients, x.partitions, x.created_ms
             FROM alarm_entities x JOIN entities e ON e.id = x.id AND e.kind = 'alarm'
             GROUP BY x.id ORDER BY x.id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AlarmEntity {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    recipients: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
                    partitions: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                    created_ms: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn set_alarm_partitions(
        &self,
        key: &str,
        value: &str,
        partitions: &[String],
    ) -> Result<u64, StoreError> {
        let mut conn = self.write();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO config (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        let n = tx.execute(
            "UPDATE alarm_entities SET partitions = ?1",
            [json(&partitions)],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    fn add_alarm_partition(&self, id: &str, partition: &str) -> Result<bool, StoreError> {
        let mut conn = self.write();
        let tx = conn.transaction()?;
        let held: Option<String> = tx
            .query_row(
                "SELECT partitions FROM alarm_entities WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(held) = held else {
            return Ok(false);
        };
        let mut partitions: Vec<String> = serde_json::from_str(&held).unwrap_or_default();
        if !partitions.iter().any(|p| p == partition) {
            partitions.push(partition.to_owned());
            tx.execute(
                "UPDATE alarm_entities SET partitions = ?2 WHERE id = ?1",
                params![id, json(&partitions)],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::{AlarmEntities, Directory, DirectoryRead, PluginRead, SourceEntity, SyncPosition};

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("alarms-db-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
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

    fn position(sequence: u64) -> EventPosition {
        EventPosition {
            journal_id: "j".into(),
            sequence,
        }
    }

    fn actions(db: &SqlitePlugin, id: i64) -> Vec<(AlarmAction, String, String)> {
        db.alarm_history(id)
            .unwrap()
            .into_iter()
            .map(|h| (h.action, h.by, h.origin))
            .collect()
    }

    #[test]
    fn journal_changes_apply_once_with_the_position_and_a_replay_changes_nothing() {
        let db = SqlitePlugin::open(&temp("once").join("plugin.db")).unwrap();
        let batch = [
            change(1, AlarmAction::Triggered, "7", ""),
            change(2, AlarmAction::Triggered, "7", ""),
            change(3, AlarmAction::Acknowledged, "7", "olga"),
            change(4, AlarmAction::Acknowledged, "7", "oleg"),
        ];
        let (_, updates) = db
            .store_journal(&[], &batch, &Vec::new(), &position(4), true)
            .unwrap();
        assert_eq!(updates.len(), 2, "one trigger, one acknowledgement");
        assert_eq!(db.event_position().unwrap(), position(4));
        let alarm = db.alarm_by_sipass_id("7").unwrap().unwrap();
        assert!(alarm.acknowledged && alarm.active && !alarm.cleared);
        assert_eq!(alarm.acknowledged_by, "olga");
        // The same batch again (a role restarted before acknowledging it to the proxy).
        let (_, again) = db
            .store_journal(&[], &batch, &Vec::new(), &position(4), true)
            .unwrap();
        assert!(again.is_empty());
        // A clear of an alarm never seen: triggered, then cleared; acknowledged and
        // cleared is no longer active.
        let (_, more) = db
            .store_journal(
                &[],
                &[
                    change(5, AlarmAction::Cleared, "8", ""),
                    change(6, AlarmAction::Cleared, "7", ""),
                ],
                &Vec::new(),
                &position(6),
                true,
            )
            .unwrap();
        assert_eq!(more.len(), 3);
        assert_eq!(db.active_alarm_count().unwrap(), 1);
        let eight = db.alarm_by_sipass_id("8").unwrap().unwrap();
        assert_eq!(
            actions(&db, eight.id),
            [
                (AlarmAction::Triggered, String::new(), ORIGIN_SIPASS.into()),
                (AlarmAction::Cleared, String::new(), ORIGIN_SIPASS.into()),
            ]
        );
        // Every change is in the webhook's outbox, numbered in order, the number in the body.
        let outbox = db.outbox(100).unwrap();
        let sequences: Vec<i64> = outbox.iter().map(|m| m.sequence).collect();
        assert_eq!(sequences, [1, 2, 3, 4, 5]);
        let body: serde_json::Value = serde_json::from_str(&outbox[4].body).unwrap();
        assert_eq!(body["sequence"], 5);
        assert_eq!(body["entry"]["action"], "cleared");
        db.outbox_delivered(3).unwrap();
        assert_eq!(db.outbox(100).unwrap()[0].sequence, 4);
        assert_eq!(db.outbox_len().unwrap(), 2);
        // A receiver away for long: only the newest messages are kept, their numbers intact.
        assert_eq!(db.trim_outbox(5).unwrap(), 0);
        assert_eq!(db.trim_outbox(1).unwrap(), 1);
        let kept: Vec<i64> = db.outbox(100).unwrap().iter().map(|m| m.sequence).collect();
        assert_eq!(kept, [5]);
        assert_eq!(db.trim_outbox(0).unwrap(), 1);
        assert_eq!(db.outbox_len().unwrap(), 0);
        assert_eq!(db.trim_outbox(0).unwrap(), 0);
    }

    #[test]
    fn an_acknowledgement_here_is_queued_once_and_leaves_the_queue_when_delivered() {
        let db = SqlitePlugin::open(&temp("ack").join("plugin.db")).unwrap();
        db.apply_sipass_alarms(&[change(0, AlarmAction::Triggered, "9", "")], false)
            .unwrap();
        let id = db.alarm_by_sipass_id("9").unwrap().unwrap().id;
        assert_eq!(
            db.acknowledge_here(404, "olga", "", 5, false).unwrap(),
            AckOutcome::NotFound
        );
        let AckOutcome::Recorded(update) =
            db.acknowledge_here(id, "olga", "sent", 5, false).unwrap()
        else {
            panic!("recorded")
        };
        assert!(update.alarm.ack_pending && update.alarm.acknowledged);
        assert_eq!(update.sequence, 0, "no webhook, no outbox");
        assert!(db.outbox(10).unwrap().is_empty());
        assert!(matches!(
            db.acknowledge_here(id, "oleg", "again", 6, false).unwrap(),
            AckOutcome::AlreadyAcknowledged(_)
        ));
        // SiPass's own acknowledgement of it, coming back through the journal: no new line.
        db.store_journal(
            &[],
            &[change(1, AlarmAction::Acknowledged, "9", "olga")],
            &Vec::new(),
            &position(1),
            false,
        )
        .unwrap();
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
            actions(&db, id),
            [
                (AlarmAction::Triggered, String::new(), ORIGIN_SIPASS.into()),
                (AlarmAction::Acknowledged, "olga".into(), ORIGIN_HERE.into()),
            ]
        );
        // A reader beside the writer sees the same.
        drop(db);
        let reader = SqlitePluginReader::open(&temp_path("ack")).unwrap();
        assert_eq!(reader.alarm_history(id).unwrap().len(), 2);
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("alarms-db-{name}-{}", std::process::id()))
            .join("plugin.db")
    }

    fn alarm_class(id: &str) -> SourceEntity {
        SourceEntity {
            source_kind: "alarm-class".into(),
            id: id.into(),
            revision: 1,
            name: format!("class {id}"),
            fields: "{}".into(),
            kinds: vec!["alarm".into()],
        }
    }

    #[test]
    fn alarm_entities_take_the_defaults_once_and_the_partition_setting_is_authoritative() {
        let path = temp("entities").join("directory.db");
        let dir = SqliteDirectory::open(&path).unwrap();
        let listing = SyncPosition {
            source_kind: "alarm-class".into(),
            cache_id: "c".into(),
            generation: 1,
            snapshot_revision: 1,
            page_token: String::new(),
            done: 1,
            total: 2,
            complete: false,
        };
        dir.write_page(&[alarm_class("1")], &listing).unwrap();
        let olga = vec![Recipient::User("olga".into())];
        assert_eq!(
            dir.ensure_alarm_entities(&olga, &["north".into()], 1)
                .unwrap(),
            1
        );
        dir.write_page(&[alarm_class("2")], &listing).unwrap();
        // New defaults apply to the new alarm class only.
        assert_eq!(
            dir.ensure_alarm_entities(&[], &["south".into()], 2)
                .unwrap(),
            1
        );
        let entities = dir.alarm_entities().unwrap();
        assert_eq!(entities[0].recipients, olga);
        assert_eq!(entities[0].partitions, ["north"]);
        assert!(entities[1].recipients.is_empty());
        assert_eq!(entities[1].name, "class 2");

        assert!(dir.add_alarm_partition("1", "east").unwrap());
        assert!(!dir.add_alarm_partition("404", "east").unwrap());
        assert_eq!(
            dir.alarm_entities().unwrap()[0].partitions,
            ["north", "east"]
        );
        let n = dir
            .set_alarm_partitions("alarms.partitions", "[\"west\"]", &["west".into()])
            .unwrap();
        assert_eq!(n, 2);
        for e in dir.alarm_entities().unwrap() {
            assert_eq!(e.partitions, ["west"], "{e:?}");
        }
        assert_eq!(
            dir.config("alarms.partitions").unwrap().as_deref(),
            Some("[\"west\"]")
        );
        // Recipients stay as they were created.
        assert_eq!(dir.alarm_entities().unwrap()[0].recipients, olga);
    }

    #[test]
    fn the_0_2_0_dev_plugin_database_is_updated_keeping_its_events() {
        let from =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/0.2.0-dev/plugin.db");
        let to = temp("fixture").join("plugin.db");
        std::fs::copy(from, &to).unwrap();
        let before: i64 = Connection::open(&to)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert!(
            SqlitePlugin::open(&to).is_err(),
            "an older schema is refused"
        );
        super::super::migrate::update(&to, &super::super::PLUGIN, &mut |_| {}).unwrap();
        let db = SqlitePlugin::open(&to).unwrap();
        assert_eq!(db.event_count().unwrap() as i64, before);
        assert!(before > 0);
        assert_eq!(db.active_alarm_count().unwrap(), 0);
    }

    #[test]
    fn the_0_2_0_dev_directory_is_updated_and_its_alarm_classes_become_alarm_entities() {
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/0.2.0-dev/directory.db");
        let to = temp("fixture-directory").join("directory.db");
        std::fs::copy(from, &to).unwrap();
        assert!(
            SqliteDirectory::open(&to).is_err(),
            "an older schema is refused"
        );
        super::super::migrate::update(&to, &super::super::DIRECTORY, &mut |_| {}).unwrap();
        let dir = SqliteDirectory::open(&to).unwrap();
        let classes = dir.count("alarm").unwrap();
        assert!(classes > 0);
        assert!(dir.alarm_entities().unwrap().is_empty());
        assert_eq!(dir.ensure_alarm_entities(&[], &[], 1).unwrap(), classes);
        assert_eq!(dir.alarm_entities().unwrap().len() as u64, classes);
    }
}
