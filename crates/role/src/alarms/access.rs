//! Alarms as a user sees them: decided with the [`Viewer`] where they are read. An alarm
//! belongs to the partitions of its alarm entity and notifies that entity's recipients; an
//! administrator sees every alarm, an operator those sharing one of its partitions, and a
//! recipient those that notify it ("for you").

use std::collections::HashMap;

use model::access::{Recipient, Viewer};
use serde::{Deserialize, Serialize};
use store::{
    AckOutcome, AlarmEntity, AlarmFilter, AlarmHistoryEntry, AlarmInstance, AlarmUpdate, StoreError,
};

use crate::{Role, config};

/// The longest acknowledgement comment, and the longest partition name.
pub const MAX_COMMENT: usize = 1000;
/// The most alarms one listing reads to fill a page for a user who sees few of them.
pub const MAX_SCANNED: usize = 20_000;
const MAX_PARTITION: usize = 100;

/// An alarm instance with where it belongs and whom it notifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmView {
    #[serde(flatten)]
    pub alarm: AlarmInstance,
    pub partitions: Vec<String>,
    pub recipients: Vec<Recipient>,
    /// This alarm notifies the user asking (one of its recipients, by name or group).
    pub for_you: bool,
}

/// An alarm entity, with a notice when its alarms notify nobody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmEntityView {
    #[serde(flatten)]
    pub entity: AlarmEntity,
    pub notice: Option<String>,
}

/// The answer to acknowledging here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckAnswer {
    pub alarm: AlarmView,
    /// It was acknowledged before (here or in SiPass): nothing changed.
    pub already_acknowledged: bool,
}

/// Why an alarm request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AlarmError {
    /// No such alarm, or one the user may not see (not told apart, so as not to leak it).
    #[error("{0}")]
    NotFound(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Only an administrator may do this.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an alarm entity gives an alarm: its partitions and recipients (none when its class
/// is not in the Directory).
fn view(
    alarm: AlarmInstance,
    entities: &HashMap<String, AlarmEntity>,
    viewer: &Viewer,
) -> AlarmView {
    let (partitions, recipients) = entities
        .get(&alarm.class_id)
        .map(|e| (e.partitions.clone(), e.recipients.clone()))
        .unwrap_or_default();
    let for_you = viewer.is_recipient(&recipients);
    AlarmView {
        alarm,
        partitions,
        recipients,
        for_you,
    }
}

fn visible(view: &AlarmView, viewer: &Viewer) -> bool {
    view.for_you || viewer.sees(&view.partitions)
}

/// "nobody will be notified" for an empty recipient list.
pub fn recipients_notice(recipients: &[Recipient]) -> Option<String> {
    recipients.is_empty().then(|| {
        "no recipients: nobody will be notified of this alarm (set alarm_recipients before the alarm class appears, or add recipients to it)".to_owned()
    })
}

fn not_found(id: i64) -> AlarmError {
    AlarmError::NotFound(format!(
        "no alarm with id {id} (see `sipass-bridge alarms list`)"
    ))
}

/// A comment as kept: trimmed, printable, bounded; refused otherwise, naming the field.
pub fn validate_comment(comment: &str) -> Result<String, AlarmError> {
    let comment = comment.trim();
    if comment.chars().count() > MAX_COMMENT {
        return Err(AlarmError::Invalid {
            field: "comment",
            message: format!("a comment has at most {MAX_COMMENT} characters"),
        });
    }
    if comment.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AlarmError::Invalid {
            field: "comment",
            message: "a comment may not hold control characters (other than line breaks)".into(),
        });
    }
    Ok(comment.to_owned())
}

/// A partition name: printable, 1 to 100 characters.
pub fn validate_partition(
    field: &'static str,
    name: &str,
) -> Result<String, config::InvalidSetting> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_PARTITION || name.chars().any(char::is_control)
    {
        return Err(config::InvalidSetting {
            field,
            message: format!(
                "'{}' is not a partition name (printable, 1 to {MAX_PARTITION} characters)",
                name.chars()
                    .take(MAX_PARTITION)
                    .collect::<String>()
                    .escape_debug()
            ),
        });
    }
    Ok(name.to_owned())
}

impl Role {
    fn alarm_entity_map(&self) -> Result<HashMap<String, AlarmEntity>, StoreError> {
        Ok(self
            .directory
            .alarm_entities()?
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect())
    }

    /// The alarms `viewer` may see, newest first: up to `limit`, below our id `before`
    /// (0: from the newest); and where the next page starts when there may be more. An
    /// operator's alarms may be sparse among all: at most [`MAX_SCANNED`] are read per call,
    /// so a page may come back short with a place to go on from.
    pub fn alarms(
        &self,
        viewer: &Viewer,
        active_only: bool,
        before: i64,
        limit: u32,
    ) -> Result<(Vec<AlarmView>, Option<i64>), AlarmError> {
        const PAGE: u32 = 1000;
        let entities = self.alarm_entity_map()?;
        let limit = limit.clamp(1, PAGE);
        let mut out = Vec::new();
        let mut before = before;
        let mut scanned = 0;
        loop {
            let page = self.plugin.alarms(&AlarmFilter {
                active_only,
                before_id: before,
                limit: PAGE,
            })?;
            let full = page.len() as u32 == PAGE;
            for alarm in page {
                before = alarm.id;
                scanned += 1;
                let v = view(alarm, &entities, viewer);
                if visible(&v, viewer) {
                    out.push(v);
                    if out.len() as u32 == limit {
                        return Ok((out, Some(before)));
                    }
                }
            }
            if !full {
                return Ok((out, None));
            }
            if scanned >= MAX_SCANNED {
                return Ok((out, Some(before)));
            }
        }
    }

    /// One alarm, if `viewer` may see it.
    pub fn alarm(&self, viewer: &Viewer, id: i64) -> Result<AlarmView, AlarmError> {
        let alarm = self.plugin.alarm(id)?.ok_or_else(|| not_found(id))?;
        let v = view(alarm, &self.alarm_entity_map()?, viewer);
        if visible(&v, viewer) {
            Ok(v)
        } else {
            Err(not_found(id))
        }
    }

    /// An alarm's history, oldest first, if `viewer` may see the alarm.
    pub fn alarm_history(
        &self,
        viewer: &Viewer,
        id: i64,
    ) -> Result<Vec<AlarmHistoryEntry>, AlarmError> {
        self.alarm(viewer, id)?;
        Ok(self.plugin.alarm_history(id)?)
    }

    /// Acknowledges an alarm here as `viewer`: recorded at once in its history and queued
    /// for SiPass (sent now when the proxy is there, after it returns otherwise).
    /// Idempotent: an alarm acknowledged already is left as it is.
    pub fn acknowledge_alarm(
        &self,
        viewer: &Viewer,
        id: i64,
        comment: &str,
    ) -> Result<AckAnswer, AlarmError> {
        let comment = validate_comment(comment)?;
        self.alarm(viewer, id)?;
        let webhook = !config::read(self.directory.as_ref())?
            .alarm_webhook_url
            .is_empty();
        let outcome = self.plugin.acknowledge_here(
            id,
            &viewer.user,
            &comment,
            runtime::now_millis(),
            webhook,
        )?;
        let already_acknowledged = match outcome {
            AckOutcome::NotFound => return Err(not_found(id)),
            AckOutcome::AlreadyAcknowledged(_) => true,
            AckOutcome::Recorded(update) => {
                self.alarm_signals.published(vec![update]);
                self.alarm_signals.acks.notify_one();
                false
            }
        };
        Ok(AckAnswer {
            alarm: self.alarm(viewer, id)?,
            already_acknowledged,
        })
    }

    /// The alarm entities: all of them for an administrator, those sharing a partition for
    /// an operator.
    pub fn alarm_entities(&self, viewer: &Viewer) -> Result<Vec<AlarmEntityView>, AlarmError> {
        Ok(self
            .directory
            .alarm_entities()?
            .into_iter()
            .filter(|e| viewer.sees(&e.partitions) || viewer.is_recipient(&e.recipients))
            .map(|entity| AlarmEntityView {
                notice: recipients_notice(&entity.recipients),
                entity,
            })
            .collect())
    }

    /// Adds a partition to one alarm entity by hand (an administrator's). The next change
    /// of the alarm_partitions setting removes it again: that setting is authoritative.
    pub fn add_alarm_partition(
        &self,
        viewer: &Viewer,
        id: &str,
        partition: &str,
    ) -> Result<AlarmEntityView, AlarmError> {
        if !viewer.is_administrator() {
            return Err(AlarmError::Forbidden(
                "only an administrator may change an alarm's partitions".into(),
            ));
        }
        let partition =
            validate_partition("partition", partition).map_err(|e| AlarmError::Invalid {
                field: e.field,
                message: e.message,
            })?;
        let missing = || {
            AlarmError::NotFound(format!(
                "no alarm entity with id '{}' (see `sipass-bridge alarms entities`)",
                id.escape_debug()
            ))
        };
        if !self.directory.add_alarm_partition(id, &partition)? {
            return Err(missing());
        }
        self.alarm_entities(viewer)?
            .into_iter()
            .find(|e| e.entity.id == id)
            .ok_or_else(missing)
    }

    /// An alarm change as `viewer` may see it on the live feed; `None` when it may not.
    pub fn alarm_update_for(
        &self,
        viewer: &Viewer,
        update: &AlarmUpdate,
    ) -> Result<Option<(AlarmView, AlarmHistoryEntry)>, StoreError> {
        let v = view(update.alarm.clone(), &self.alarm_entity_map()?, viewer);
        Ok(visible(&v, viewer).then(|| (v, update.entry.clone())))
    }
}
