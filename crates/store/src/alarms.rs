//! Alarms as every engine keeps them: in the plugin database the alarm instances SiPass
//! raised, their history, the acknowledgements waiting for SiPass and the webhook's outbox
//! ([`AlarmRead`], [`AlarmWrite`]); in the Directory the alarm entities, one per SiPass alarm
//! class, with their recipients and partitions ([`AlarmEntities`]). Domain terms only.

use model::access::Recipient;
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::plugin::{EventPosition, NewEvent, StoredEvent, Tally};

/// What happened to an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmAction {
    Triggered,
    Acknowledged,
    Cleared,
}

impl AlarmAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmAction::Triggered => "triggered",
            AlarmAction::Acknowledged => "acknowledged",
            AlarmAction::Cleared => "cleared",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "triggered" => Some(AlarmAction::Triggered),
            "acknowledged" => Some(AlarmAction::Acknowledged),
            "cleared" => Some(AlarmAction::Cleared),
            _ => None,
        }
    }
}

/// Where an alarm change was made.
pub const ORIGIN_SIPASS: &str = "sipass";
pub const ORIGIN_HERE: &str = "here";

/// A change SiPass reported (from the journal, or from its list of active alarms), applied
/// idempotently: an alarm is triggered once per SiPass alarm id, acknowledged once, cleared
/// once. A change for an alarm not seen yet triggers it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipassAlarmChange {
    /// The journal entry it came from; 0 when from SiPass's list of active alarms.
    pub journal_seq: u64,
    pub action: AlarmAction,
    pub sipass_id: String,
    /// The alarm class (alarm entity) token.
    pub class_id: String,
    /// The class's name (the Directory's; SiPass's when the Directory lacks it).
    pub class_name: String,
    pub priority: i32,
    pub message: String,
    pub source_kind: String,
    pub source_id: String,
    /// The SiPass operator who made the change (empty for a trigger).
    pub by: String,
    pub comment: String,
    /// When it happened, as SiPass wrote it, and in Unix ms.
    pub at: String,
    pub at_ms: i64,
}

/// An alarm instance, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmInstance {
    /// Ours.
    pub id: i64,
    /// SiPass's alarm id.
    pub sipass_id: String,
    /// The alarm entity (SiPass's alarm class token) and its name.
    pub class_id: String,
    pub class_name: String,
    pub priority: i32,
    pub message: String,
    pub source_kind: String,
    pub source_id: String,
    pub triggered_at: String,
    pub triggered_ms: i64,
    /// When the role triggered it (Unix ms).
    pub recorded_ms: i64,
    pub acknowledged: bool,
    pub acknowledged_by: String,
    pub acknowledged_at: String,
    pub ack_comment: String,
    pub cleared: bool,
    pub cleared_at: String,
    /// Until both acknowledged and cleared, as in SiPass's alarm queue.
    pub active: bool,
    /// Acknowledged here, not yet confirmed by SiPass (waiting in the queue).
    pub ack_pending: bool,
}

/// One line of an alarm's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmHistoryEntry {
    pub id: i64,
    pub alarm_id: i64,
    pub action: AlarmAction,
    /// The user (here) or SiPass operator who did it; empty when SiPass did it by itself.
    pub by: String,
    pub comment: String,
    pub at: String,
    pub at_ms: i64,
    /// "sipass" or "here".
    pub origin: String,
    /// The journal entry it came from; 0 when not from the journal.
    pub journal_seq: u64,
}

/// An alarm change just written, for the live feed and the webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmUpdate {
    pub alarm: AlarmInstance,
    pub entry: AlarmHistoryEntry,
    /// The webhook's sequence number for it; 0 when no webhook is set.
    pub sequence: i64,
}

/// An acknowledgement made here, waiting for SiPass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedAck {
    pub id: i64,
    pub alarm_id: i64,
    pub sipass_id: String,
    pub operator: String,
    pub comment: String,
    pub queued_ms: i64,
    pub attempts: u32,
    pub last_error: String,
}

/// A webhook message waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub sequence: i64,
    /// The JSON body, sequence included.
    pub body: String,
}

/// What acknowledging here did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// Recorded and queued for SiPass.
    Recorded(AlarmUpdate),
    /// It was acknowledged already (here or in SiPass): nothing changed.
    AlreadyAcknowledged(AlarmInstance),
    /// No alarm has that id.
    NotFound,
}

/// Which alarms to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmFilter {
    /// Only active alarms.
    pub active_only: bool,
    /// Only alarms with our id below this (the last id of the previous page); 0: from the newest.
    pub before_id: i64,
    pub limit: u32,
}

/// Reading alarms from the plugin database.
pub trait AlarmRead: Send + Sync {
    /// Alarms matching `filter`, newest first.
    fn alarms(&self, filter: &AlarmFilter) -> Result<Vec<AlarmInstance>, StoreError>;

    /// One alarm by our id.
    fn alarm(&self, id: i64) -> Result<Option<AlarmInstance>, StoreError>;

    /// One alarm by SiPass's alarm id.
    fn alarm_by_sipass_id(&self, sipass_id: &str) -> Result<Option<AlarmInstance>, StoreError>;

    /// An alarm's history, oldest first.
    fn alarm_history(&self, id: i64) -> Result<Vec<AlarmHistoryEntry>, StoreError>;

    /// How many alarms are active.
    fn active_alarm_count(&self) -> Result<u64, StoreError>;

    /// The acknowledgements waiting for SiPass, oldest first.
    fn queued_acks(&self) -> Result<Vec<QueuedAck>, StoreError>;

    /// Webhook messages waiting, oldest first, at most `limit`.
    fn outbox(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError>;

    /// How many webhook messages wait.
    fn outbox_len(&self) -> Result<u64, StoreError>;
}

/// Writing alarms to the plugin database. Every write is one durable transaction.
pub trait AlarmWrite: AlarmRead {
    /// Stores a batch of the journal, events and alarm changes together, with `tally` and
    /// `position`, in one transaction (see `PluginDatabase::store_events`): a replay of what
    /// is stored already changes nothing. `webhook`: also queue each alarm change for the
    /// webhook. Returns the events stored and the alarm changes applied now.
    fn store_journal(
        &self,
        events: &[NewEvent],
        alarms: &[SipassAlarmChange],
        tally: &Tally,
        position: &EventPosition,
        webhook: bool,
    ) -> Result<(Vec<StoredEvent>, Vec<AlarmUpdate>), StoreError>;

    /// Applies what SiPass's list of active alarms says (at connection): each unknown alarm
    /// is triggered, and acknowledged or cleared as SiPass has it; what is known already
    /// changes nothing. Returns the changes applied.
    fn apply_sipass_alarms(
        &self,
        changes: &[SipassAlarmChange],
        webhook: bool,
    ) -> Result<Vec<AlarmUpdate>, StoreError>;

    /// Acknowledges alarm `id` here by `user`: recorded in its history and queued for SiPass
    /// in one transaction. Idempotent: an acknowledged alarm is left as it is.
    fn acknowledge_here(
        &self,
        id: i64,
        user: &str,
        comment: &str,
        now_ms: i64,
        webhook: bool,
    ) -> Result<AckOutcome, StoreError>;

    /// SiPass confirmed a queued acknowledgement: it leaves the queue.
    fn ack_delivered(&self, queue_id: i64) -> Result<(), StoreError>;

    /// A queued acknowledgement could not be delivered: counted, with why, and kept.
    fn ack_failed(&self, queue_id: i64, error: &str) -> Result<(), StoreError>;

    /// The webhook took every message up to `sequence`.
    fn outbox_delivered(&self, sequence: i64) -> Result<(), StoreError>;

    /// Forgets the oldest webhook messages beyond the newest `keep` (a receiver away for
    /// long must not fill the disk); returns how many were forgotten.
    fn trim_outbox(&self, keep: u64) -> Result<u64, StoreError>;
}

/// An alarm entity: a SiPass alarm class, with who its alarms notify and where they belong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmEntity {
    /// SiPass's alarm class token (the Directory entity of kind "alarm").
    pub id: String,
    pub name: String,
    /// Who its alarms notify; set when the entity was created, from the default then.
    pub recipients: Vec<Recipient>,
    pub partitions: Vec<String>,
    pub created_ms: i64,
}

/// The alarm entities in the Directory.
pub trait AlarmEntities: Send + Sync {
    /// Creates an alarm entity for every alarm class of the Directory that has none, with
    /// `recipients` and `partitions`. Returns how many were created.
    fn ensure_alarm_entities(
        &self,
        recipients: &[Recipient],
        partitions: &[String],
        now_ms: i64,
    ) -> Result<u64, StoreError>;

    /// Every alarm entity whose alarm class is in the Directory, by id.
    fn alarm_entities(&self) -> Result<Vec<AlarmEntity>, StoreError>;

    /// Stores the configuration value `key` = `value` and gives every alarm entity exactly
    /// `partitions` (removing any added by hand), in one transaction. Returns how many
    /// alarm entities there are.
    fn set_alarm_partitions(
        &self,
        key: &str,
        value: &str,
        partitions: &[String],
    ) -> Result<u64, StoreError>;

    /// Adds `partition` to one alarm entity by hand. False when there is no such entity.
    fn add_alarm_partition(&self, id: &str, partition: &str) -> Result<bool, StoreError>;
}
