//! SiPass's alarm changes as the alarm manager applies them: from the journal (the `alarm`
//! push message the proxy journaled as SiPass sent it) and from SiPass's list of active
//! alarms. Both are hostile text: read loosely, bounded, and refused when they do not name
//! an alarm.

use protocol::pb;
use serde_json::{Map, Value};
use store::{AlarmAction, SipassAlarmChange};

/// The longest id, name or operator kept, and the longest message or comment.
const MAX_NAME: usize = 200;
const MAX_TEXT: usize = 2000;

pub(crate) use crate::events::convert::bounded;

/// A field as text: strings as they are, numbers written out, anything else empty.
fn text(o: &Map<String, Value>, key: &str, max: usize) -> String {
    match o.get(key) {
        Some(Value::String(s)) => bounded(s.trim(), max),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn priority(o: &Map<String, Value>) -> i32 {
    o.get("Priority").and_then(Value::as_i64).map_or(0, |p| {
        p.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    })
}

fn object(payload: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice(payload) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err("it is not a JSON object".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A journaled alarm change (SiPass's `AlarmChange`: `AlarmId`, `AlarmClassToken`, `State`
/// Raised, Acknowledged or Cleared, `Operator`, `Comment`, `At`...). The class name is left
/// empty for the caller to fill from the Directory.
pub fn journal_change(entry: &pb::JournalEntry) -> Result<SipassAlarmChange, String> {
    let o = object(&entry.payload)?;
    let sipass_id = text(&o, "AlarmId", MAX_NAME);
    if sipass_id.is_empty() {
        return Err("it names no alarm (AlarmId)".into());
    }
    let action = match text(&o, "State", MAX_NAME).as_str() {
        "Raised" => AlarmAction::Triggered,
        "Acknowledged" => AlarmAction::Acknowledged,
        "Cleared" => AlarmAction::Cleared,
        other => return Err(format!("'{}' is not an alarm state", other.escape_debug())),
    };
    let at = text(&o, "At", MAX_NAME);
    Ok(SipassAlarmChange {
        journal_seq: entry.sequence,
        action,
        at_ms: model::time::parse_rfc3339_millis(&at).unwrap_or(entry.journaled_at_ms),
        at,
        sipass_id,
        class_id: text(&o, "AlarmClassToken", MAX_NAME),
        class_name: String::new(),
        priority: priority(&o),
        message: text(&o, "Message", MAX_TEXT),
        source_kind: text(&o, "SourceKind", MAX_NAME),
        source_id: text(&o, "SourceToken", MAX_NAME),
        by: text(&o, "Operator", MAX_NAME),
        comment: text(&o, "Comment", MAX_TEXT),
    })
}

/// An alarm SiPass lists as active, as the changes that bring an alarm here to the same
/// state: triggered, then acknowledged and cleared when SiPass has it so. `None` when it
/// names no alarm.
pub fn active_alarm(alarm: &pb::Alarm, now_ms: i64) -> Option<Vec<SipassAlarmChange>> {
    let sipass_id = bounded(alarm.alarm_id.trim(), MAX_NAME);
    if sipass_id.is_empty() {
        return None;
    }
    let o = object(&alarm.payload).unwrap_or_default();
    let raised_at = bounded(alarm.raised_at.trim(), MAX_NAME);
    let base = SipassAlarmChange {
        journal_seq: 0,
        action: AlarmAction::Triggered,
        at_ms: model::time::parse_rfc3339_millis(&raised_at).unwrap_or(now_ms),
        at: raised_at,
        sipass_id,
        class_id: bounded(alarm.alarm_class_token.trim(), MAX_NAME),
        class_name: bounded(alarm.alarm_class_name.trim(), MAX_NAME),
        priority: alarm.priority,
        message: bounded(&alarm.message, MAX_TEXT),
        source_kind: text(&o, "SourceKind", MAX_NAME),
        source_id: text(&o, "SourceToken", MAX_NAME),
        by: String::new(),
        comment: String::new(),
    };
    let mut changes = vec![base.clone()];
    if alarm.acknowledged {
        let at = text(&o, "AcknowledgedAt", MAX_NAME);
        changes.push(SipassAlarmChange {
            action: AlarmAction::Acknowledged,
            at_ms: model::time::parse_rfc3339_millis(&at).unwrap_or(now_ms),
            at,
            by: text(&o, "Operator", MAX_NAME),
            comment: text(&o, "Comment", MAX_TEXT),
            ..base.clone()
        });
    }
    if alarm.cleared {
        let at = text(&o, "ClearedAt", MAX_NAME);
        changes.push(SipassAlarmChange {
            action: AlarmAction::Cleared,
            at_ms: model::time::parse_rfc3339_millis(&at).unwrap_or(now_ms),
            at,
            ..base
        });
    }
    Some(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(payload: Value) -> pb::JournalEntry {
        pb::JournalEntry {
            sequence: 7,
            r#type: pb::JournalEntryType::Alarm as i32,
            payload: payload.to_string().into_bytes(),
            journaled_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn journaled_changes_are_read_and_bad_ones_refused_by_name() {
        let change = journal_change(&entry(json!({
            "AlarmId": "12", "AlarmClassToken": "3", "Priority": 40, "State": "Acknowledged",
            "Operator": "olga", "Comment": "on my way", "At": "2026-11-30T10:00:00.000Z",
            "Message": "Door forced", "SourceKind": "Doorset", "SourceToken": "5"
        })))
        .unwrap();
        assert_eq!(change.action, AlarmAction::Acknowledged);
        assert_eq!(
            (change.sipass_id.as_str(), change.class_id.as_str()),
            ("12", "3")
        );
        assert_eq!(
            (change.by.as_str(), change.comment.as_str()),
            ("olga", "on my way")
        );
        assert_eq!(change.journal_seq, 7);
        assert_eq!(change.at_ms, 1_796_032_800_000);
        // An unreadable time falls back on the journal's.
        let raised = journal_change(&entry(json!({"AlarmId": 4, "State": "Raised"}))).unwrap();
        assert_eq!(
            (raised.sipass_id.as_str(), raised.at_ms),
            ("4", 1_700_000_000_000)
        );
        let no_id = journal_change(&entry(json!({"State": "Raised"}))).unwrap_err();
        assert!(no_id.contains("AlarmId"), "{no_id}");
        let bad_state = journal_change(&entry(json!({"AlarmId": "1", "State": "Gone"})));
        assert!(bad_state.unwrap_err().contains("'Gone'"));
        assert!(journal_change(&entry(json!([1]))).is_err());
    }

    #[test]
    fn an_active_alarm_becomes_the_changes_that_reach_its_state() {
        let alarm = pb::Alarm {
            alarm_id: "9".into(),
            alarm_class_token: "2".into(),
            alarm_class_name: "Door Forced".into(),
            acknowledged: true,
            payload: json!({"Operator": "sipass-op", "Comment": "seen"})
                .to_string()
                .into_bytes(),
            ..pb::Alarm::default()
        };
        let changes = active_alarm(&alarm, 5).unwrap();
        let actions: Vec<AlarmAction> = changes.iter().map(|c| c.action).collect();
        assert_eq!(actions, [AlarmAction::Triggered, AlarmAction::Acknowledged]);
        assert_eq!(changes[1].by, "sipass-op");
        assert!(changes.iter().all(|c| c.journal_seq == 0 && c.at_ms == 5));
        assert!(active_alarm(&pb::Alarm::default(), 5).is_none());
    }
}
