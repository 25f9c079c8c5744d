//! Alarms on PostgreSQL: instances, history, the acknowledgement queue and the webhook's
//! outbox in the plugin database; alarm entities in the Directory. As the SQLite engine.

use model::access::Recipient;
use postgres::types::ToSql;
use postgres::{GenericClient, Row, Transaction};

use super::PgDirectory;
use super::plugin::{PgPlugin, PgPluginReader, serialise, write_events};
use crate::StoreError;
use crate::alarms::{
    AckOutcome, AlarmAction, AlarmEntities, AlarmEntity, AlarmFilter, AlarmHistoryEntry,
    AlarmInstance, AlarmRead, AlarmUpdate, AlarmWrite, ORIGIN_HERE, ORIGIN_SIPASS, OutboxEntry,
    QueuedAck, SipassAlarmChange,
};
use crate::plugin::{EventPosition, NewEvent, StoredEvent, Tally};
use crate::sqlite::alarms::MAX_ALARM_PAGE;

const ALARM_COLUMNS: &str = "a.id, a.sipass_id, a.class_id, a.class_name, a.priority, a.message,
    a.source_kind, a.source_id, a.triggered_at, a.triggered_ms, a.recorded_ms, a.acknowledged,
    a.acknowledged_by, a.acknowledged_at, a.ack_comment, a.cleared, a.cleared_at, a.active,
    EXISTS (SELECT 1 FROM alarm_ack_queue q WHERE q.alarm_id = a.id)";

fn alarm_row(r: &Row) -> AlarmInstance {
    AlarmInstance {
        id: r.get(0),
        sipass_id: r.get(1),
        class_id: r.get(2),
        class_name: r.get(3),
        priority: r.get(4),
        message: r.get(5),
        source_kind: r.get(6),
        source_id: r.get(7),
        triggered_at: r.get(8),
        triggered_ms: r.get(9),
        recorded_ms: r.get(10),
        acknowledged: r.get(11),
        acknowledged_by: r.get(12),
        acknowledged_at: r.get(13),
        ack_comment: r.get(14),
        cleared: r.get(15),
        cleared_at: r.get(16),
        active: r.get(17),
        ack_pending: r.get(18),
    }
}

fn history_row(r: &Row) -> AlarmHistoryEntry {
    AlarmHistoryEntry {
        id: r.get(0),
        alarm_id: r.get(1),
        action: AlarmAction::parse(r.get(2)).unwrap_or(AlarmAction::Triggered),
        by: r.get(3),
        comment: r.get(4),
        at: r.get(5),
        at_ms: r.get(6),
        origin: r.get(7),
        journal_seq: r.get::<_, i64>(8) as u64,
    }
}

fn list_alarms(
    c: &mut impl GenericClient,
    filter: &AlarmFilter,
) -> Result<Vec<AlarmInstance>, StoreError> {
    let rows = c.query(
        &format!(
            "SELECT {ALARM_COLUMNS} FROM alarms a
             WHERE (NOT $1 OR a.active) AND ($2::int8 = 0 OR a.id < $2)
             ORDER BY a.id DESC LIMIT $3"
        ),
        &[
            &filter.active_only,
            &filter.before_id,
            &i64::from(filter.limit.clamp(1, MAX_ALARM_PAGE)),
        ],
    )?;
    Ok(rows.iter().map(alarm_row).collect())
}

fn one_alarm(
    c: &mut impl GenericClient,
    column: &str,
    value: &(dyn ToSql + Sync),
) -> Result<Option<AlarmInstance>, StoreError> {
    let sql = format!("SELECT {ALARM_COLUMNS} FROM alarms a WHERE a.{column} = $1");
    Ok(c.query_opt(&sql, &[value])?.as_ref().map(alarm_row))
}

/// One alarm known to exist (just written in this transaction).
fn written_alarm(c: &mut impl GenericClient, id: i64) -> Result<AlarmInstance, StoreError> {
    one_alarm(c, "id", &id)?.ok_or_else(|| StoreError::Unreadable {
        database: "plugin database",
        detail: format!("alarm {id} vanished in its own transaction"),
    })
}

fn history(c: &mut impl GenericClient, id: i64) -> Result<Vec<AlarmHistoryEntry>, StoreError> {
    let rows = c.query(
        "SELECT id, alarm_id, action, by_user, comment, at, at_ms, origin, journal_seq
         FROM alarm_history WHERE alarm_id = $1 ORDER BY id",
        &[&id],
    )?;
    Ok(rows.iter().map(history_row).collect())
}

fn count(c: &mut impl GenericClient, sql: &str) -> Result<u64, StoreError> {
    let n: i64 = c.query_one(sql, &[])?.get(0);
    Ok(n as u64)
}

fn queued(c: &mut impl GenericClient) -> Result<Vec<QueuedAck>, StoreError> {
    let rows = c.query(
        "SELECT id, alarm_id, sipass_id, operator, comment, queued_ms, attempts, last_error
         FROM alarm_ack_queue ORDER BY id",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| QueuedAck {
            id: r.get(0),
            alarm_id: r.get(1),
            sipass_id: r.get(2),
            operator: r.get(3),
            comment: r.get(4),
            queued_ms: r.get(5),
            attempts: r.get::<_, i64>(6).clamp(0, u32::MAX as i64) as u32,
            last_error: r.get(7),
        })
        .collect())
}

fn outbox(c: &mut impl GenericClient, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
    let rows = c.query(
        "SELECT sequence, body FROM alarm_outbox ORDER BY sequence LIMIT $1",
        &[&i64::from(limit.max(1))],
    )?;
    Ok(rows
        .iter()
        .map(|r| OutboxEntry {
            sequence: r.get(0),
            body: r.get(1),
        })
        .collect())
}

macro_rules! alarm_read {
    ($type:ty) => {
        impl AlarmRead for $type {
            fn alarms(&self, filter: &AlarmFilter) -> Result<Vec<AlarmInstance>, StoreError> {
                self.reader().run(|c| list_alarms(c, filter))
            }
            fn alarm(&self, id: i64) -> Result<Option<AlarmInstance>, StoreError> {
                self.reader().run(|c| one_alarm(c, "id", &id))
            }
            fn alarm_by_sipass_id(
                &self,
                sipass_id: &str,
            ) -> Result<Option<AlarmInstance>, StoreError> {
                self.reader().run(|c| one_alarm(c, "sipass_id", &sipass_id))
            }
            fn alarm_history(&self, id: i64) -> Result<Vec<AlarmHistoryEntry>, StoreError> {
                self.reader().run(|c| history(c, id))
            }
            fn active_alarm_count(&self) -> Result<u64, StoreError> {
                self.reader()
                    .run(|c| count(c, "SELECT COUNT(*) FROM alarms WHERE active"))
            }
            fn queued_acks(&self) -> Result<Vec<QueuedAck>, StoreError> {
                self.reader().run(|c| queued(c))
            }
            fn outbox(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
                self.reader().run(|c| outbox(c, limit))
            }
            fn outbox_len(&self) -> Result<u64, StoreError> {
                self.reader()
                    .run(|c| count(c, "SELECT COUNT(*) FROM alarm_outbox"))
            }
        }
    };
}

alarm_read!(PgPlugin);
alarm_read!(PgPluginReader);

/// Applies one change SiPass reported, idempotently (see the SQLite engine).
fn apply_sipass(
    tx: &mut Transaction<'_>,
    change: &SipassAlarmChange,
    webhook: bool,
    out: &mut Vec<AlarmUpdate>,
) -> Result<(), StoreError> {
    let alarm = match one_alarm(tx, "sipass_id", &change.sipass_id)? {
        Some(alarm) => alarm,
        None => {
            let id: i64 = tx
                .query_one(
                    "INSERT INTO alarms (sipass_id, class_id, class_name, priority, message,
                        source_kind, source_id, triggered_at, triggered_ms, recorded_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                    &[
                        &change.sipass_id,
                        &change.class_id,
                        &change.class_name,
                        &change.priority,
                        &change.message,
                        &change.source_kind,
                        &change.source_id,
                        &change.at,
                        &change.at_ms,
                        &runtime::now_millis(),
                    ],
                )?
                .get(0);
            // A change other than a trigger for an alarm not seen yet: triggered now, then
            // changed.
            let by = match change.action {
                AlarmAction::Triggered => change.by.as_str(),
                _ => "",
            };
            let entry = entry_of(id, AlarmAction::Triggered, by, "", change);
            out.push(write_history(tx, entry, webhook)?);
            if change.action == AlarmAction::Triggered {
                return Ok(());
            }
            written_alarm(tx, id)?
        }
    };
    let changed = match change.action {
        AlarmAction::Triggered => 0,
        AlarmAction::Acknowledged if !alarm.acknowledged => tx.execute(
            "UPDATE alarms SET acknowledged = TRUE, acknowledged_by = $2, acknowledged_at = $3,
                ack_comment = $4, active = NOT cleared WHERE id = $1",
            &[&alarm.id, &change.by, &change.at, &change.comment],
        )?,
        AlarmAction::Cleared if !alarm.cleared => tx.execute(
            "UPDATE alarms SET cleared = TRUE, cleared_at = $2, active = NOT acknowledged
             WHERE id = $1",
            &[&alarm.id, &change.at],
        )?,
        _ => 0,
    };
    if changed > 0 {
        let entry = entry_of(alarm.id, change.action, &change.by, &change.comment, change);
        out.push(write_history(tx, entry, webhook)?);
    }
    Ok(())
}

fn entry_of(
    alarm_id: i64,
    action: AlarmAction,
    by: &str,
    comment: &str,
    change: &SipassAlarmChange,
) -> AlarmHistoryEntry {
    AlarmHistoryEntry {
        id: 0,
        alarm_id,
        action,
        by: by.to_owned(),
        comment: comment.to_owned(),
        at: change.at.clone(),
        at_ms: change.at_ms,
        origin: ORIGIN_SIPASS.to_owned(),
        journal_seq: change.journal_seq,
    }
}

fn write_history(
    tx: &mut Transaction<'_>,
    mut entry: AlarmHistoryEntry,
    webhook: bool,
) -> Result<AlarmUpdate, StoreError> {
    entry.id = tx
        .query_one(
            "INSERT INTO alarm_history (alarm_id, action, by_user, comment, at, at_ms, origin,
                journal_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &entry.alarm_id,
                &entry.action.as_str(),
                &entry.by,
                &entry.comment,
                &entry.at,
                &entry.at_ms,
                &entry.origin,
                &(entry.journal_seq as i64),
            ],
        )?
        .get(0);
    let alarm = written_alarm(tx, entry.alarm_id)?;
    let mut update = AlarmUpdate {
        alarm,
        entry,
        sequence: 0,
    };
    if webhook {
        // The sequence is the row's own: taken first, then written into the body.
        update.sequence = tx
            .query_one(
                "INSERT INTO alarm_outbox (body, created_ms) VALUES ('', $1) RETURNING sequence",
                &[&runtime::now_millis()],
            )?
            .get(0);
        tx.execute(
            "UPDATE alarm_outbox SET body = $2 WHERE sequence = $1",
            &[&update.sequence, &json(&update)],
        )?;
    }
    Ok(update)
}

impl AlarmWrite for PgPlugin {
    fn store_journal(
        &self,
        events: &[NewEvent],
        alarms: &[SipassAlarmChange],
        tally: &Tally,
        position: &EventPosition,
        webhook: bool,
    ) -> Result<(Vec<StoredEvent>, Vec<AlarmUpdate>), StoreError> {
        self.writer().transaction(|tx| {
            let Some(stored) = write_events(tx, events, tally, position)? else {
                return Ok((Vec::new(), Vec::new()));
            };
            let mut updates = Vec::new();
            for change in alarms {
                apply_sipass(tx, change, webhook, &mut updates)?;
            }
            Ok((stored, updates))
        })
    }

    fn apply_sipass_alarms(
        &self,
        changes: &[SipassAlarmChange],
        webhook: bool,
    ) -> Result<Vec<AlarmUpdate>, StoreError> {
        self.writer().transaction(|tx| {
            serialise(tx)?;
            let mut updates = Vec::new();
            for change in changes {
                apply_sipass(tx, change, webhook, &mut updates)?;
            }
            Ok(updates)
        })
    }

    fn acknowledge_here(
        &self,
        id: i64,
        user: &str,
        comment: &str,
        now_ms: i64,
        webhook: bool,
    ) -> Result<AckOutcome, StoreError> {
        self.writer()
            .transaction(|tx| acknowledge(tx, id, user, comment, now_ms, webhook))
    }

    fn ack_delivered(&self, queue_id: i64) -> Result<(), StoreError> {
        self.writer().run(|c| {
            c.execute("DELETE FROM alarm_ack_queue WHERE id = $1", &[&queue_id])?;
            Ok(())
        })
    }

    fn ack_failed(&self, queue_id: i64, error: &str) -> Result<(), StoreError> {
        self.writer().run(|c| {
            c.execute(
                "UPDATE alarm_ack_queue SET attempts = attempts + 1, last_error = $2
                 WHERE id = $1",
                &[&queue_id, &error],
            )?;
            Ok(())
        })
    }

    fn outbox_delivered(&self, sequence: i64) -> Result<(), StoreError> {
        self.writer().run(|c| {
            c.execute(
                "DELETE FROM alarm_outbox WHERE sequence <= $1",
                &[&sequence],
            )?;
            Ok(())
        })
    }

    fn trim_outbox(&self, keep: u64) -> Result<u64, StoreError> {
        self.writer().run(|c| {
            Ok(c.execute(
                "DELETE FROM alarm_outbox WHERE sequence <= (SELECT sequence FROM alarm_outbox
                    ORDER BY sequence DESC LIMIT 1 OFFSET $1)",
                &[&(keep.min(i64::MAX as u64) as i64)],
            )?)
        })
    }
}

fn acknowledge(
    tx: &mut Transaction<'_>,
    id: i64,
    user: &str,
    comment: &str,
    now_ms: i64,
    webhook: bool,
) -> Result<AckOutcome, StoreError> {
    let Some(alarm) = tx
        .query_opt(
            &format!("SELECT {ALARM_COLUMNS} FROM alarms a WHERE a.id = $1 FOR UPDATE OF a"),
            &[&id],
        )?
        .as_ref()
        .map(alarm_row)
    else {
        return Ok(AckOutcome::NotFound);
    };
    if alarm.acknowledged {
        return Ok(AckOutcome::AlreadyAcknowledged(alarm));
    }
    let at = model::time::rfc3339_millis(now_ms);
    tx.execute(
        "UPDATE alarms SET acknowledged = TRUE, acknowledged_by = $2, acknowledged_at = $3,
            ack_comment = $4, active = NOT cleared WHERE id = $1",
        &[&id, &user, &at, &comment],
    )?;
    tx.execute(
        "INSERT INTO alarm_ack_queue (alarm_id, sipass_id, operator, comment, queued_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[&id, &alarm.sipass_id, &user, &comment, &now_ms],
    )?;
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
    Ok(AckOutcome::Recorded(write_history(tx, entry, webhook)?))
}

// ----- the Directory's alarm entities ------------------------------------------------------

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

impl AlarmEntities for PgDirectory {
    fn ensure_alarm_entities(
        &self,
        recipients: &[Recipient],
        partitions: &[String],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let (recipients, partitions) = (json(&recipients), json(&partitions));
        self.writer.run(|c| {
            Ok(c.execute(
                "INSERT INTO alarm_entities (id, recipients, partitions, created_ms)
                 SELECT DISTINCT e.id, $1, $2, $3::int8 FROM entities e
                 WHERE e.kind = 'alarm'
                 ON CONFLICT (id) DO NOTHING",
                &[&recipients, &partitions, &now_ms],
            )?)
        })
    }

    fn alarm_entities(&self) -> Result<Vec<AlarmEntity>, StoreError> {
        self.reader.run(|c| {
            let rows = c.query(
                "SELECT x.id, MIN(e.name), x.recipients, x.partitions, x.created_ms
                 FROM alarm_entities x JOIN entities e ON e.id = x.id AND e.kind = 'alarm'
                 GROUP BY x.id ORDER BY x.id",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| AlarmEntity {
                    id: r.get(0),
                    name: r.get(1),
                    recipients: serde_json::from_str(r.get::<_, &str>(2)).unwrap_or_default(),
                    partitions: serde_json::from_str(r.get::<_, &str>(3)).unwrap_or_default(),
                    created_ms: r.get(4),
                })
                .collect())
        })
    }

    fn set_alarm_partitions(
        &self,
        key: &str,
        value: &str,
        partitions: &[String],
    ) -> Result<u64, StoreError> {
        let partitions = json(&partitions);
        self.writer.transaction(|tx| {
            tx.execute(
                "INSERT INTO config (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )?;
            Ok(tx.execute("UPDATE alarm_entities SET partitions = $1", &[&partitions])?)
        })
    }

    fn add_alarm_partition(&self, id: &str, partition: &str) -> Result<bool, StoreError> {
        self.writer.transaction(|tx| {
            let Some(row) = tx.query_opt(
                "SELECT partitions FROM alarm_entities WHERE id = $1 FOR UPDATE",
                &[&id],
            )?
            else {
                return Ok(false);
            };
            let mut partitions: Vec<String> =
                serde_json::from_str(row.get::<_, &str>(0)).unwrap_or_default();
            if !partitions.iter().any(|p| p == partition) {
                partitions.push(partition.to_owned());
                tx.execute(
                    "UPDATE alarm_entities SET partitions = $2 WHERE id = $1",
                    &[&id, &json(&partitions)],
                )?;
            }
            Ok(true)
        })
    }
}
