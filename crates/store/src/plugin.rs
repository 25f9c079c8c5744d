//! The plugin database as every engine offers it: the SiPass events the role stored, where
//! reading the proxy's journal stands, and the counters that say what was not stored and why.
//! Domain terms only, like the Directory's traits, so that callers never depend on a schema.

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Where reading the proxy's event journal stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPosition {
    /// The journal's identity as the proxy gave it; empty before the first entry (or from a
    /// proxy that does not say it).
    pub journal_id: String,
    /// The last journal sequence stored (or counted as ignored).
    pub sequence: u64,
}

/// An entity an event concerns, with its name at the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEntity {
    /// The Directory kind, e.g. "door", "cardholder".
    pub kind: String,
    /// SiPass's token (a credential: "<technology>:<facility>:<card number>").
    pub id: String,
    /// Its name in the Directory when the event was stored; SiPass's text when the
    /// Directory did not have it.
    pub name: String,
}

/// An event to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub journal_seq: u64,
    /// SiPass's own event id.
    pub sipass_id: String,
    /// When it happened, as SiPass wrote it.
    pub occurred_at: String,
    /// The same, in Unix milliseconds (the journal's time when SiPass's is unreadable).
    pub occurred_ms: i64,
    pub journaled_ms: i64,
    /// The custom event: SiPass's type name.
    pub sipass_type: String,
    /// The native events the mapping table names for it (may be none).
    pub native_events: Vec<String>,
    pub category: String,
    /// False for a type the mapping table does not know (stored as a custom event only).
    pub known_type: bool,
    pub message: String,
    pub entities: Vec<EventEntity>,
    /// The SiPass event as received (JSON).
    pub payload: String,
}

/// A stored event, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Ours: increasing in the order events were stored.
    pub id: i64,
    pub journal_seq: u64,
    /// SiPass's own event id.
    pub sipass_id: String,
    pub occurred_at: String,
    pub occurred_ms: i64,
    pub sipass_type: String,
    pub native_events: Vec<String>,
    pub category: String,
    pub known_type: bool,
    pub message: String,
    pub entities: Vec<EventEntity>,
}

/// Which stored events to list. Every bound is optional; `after_id` pages through them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Occurred at or after (Unix ms).
    pub since_ms: Option<i64>,
    /// Occurred before (Unix ms).
    pub until_ms: Option<i64>,
    /// SiPass's type name or a native event name (case-insensitive).
    pub event_type: Option<String>,
    /// An entity's id (SiPass token) that the event concerns.
    pub entity: Option<String>,
    /// Only events with our id above this (the last id of the previous page).
    pub after_id: i64,
    pub limit: u32,
}

/// What became of journal entries that were not stored as events, or were stored as an
/// unknown type: counter name and how many, added to the database's counters in the same
/// transaction as the events.
pub type Tally = Vec<(String, u64)>;

/// Reading the plugin database.
pub trait PluginRead: crate::AlarmRead {
    /// The role's stable identity, created with the database.
    fn role_id(&self) -> Result<String, StoreError>;

    /// Where reading the journal stands (the default before the first entry).
    fn event_position(&self) -> Result<EventPosition, StoreError>;

    /// Stored events matching `filter`, oldest first (by our id).
    fn events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError>;

    /// How many events are stored.
    fn event_count(&self) -> Result<u64, StoreError>;

    /// Every counter, by name.
    fn event_counters(&self) -> Result<Vec<(String, u64)>, StoreError>;
}

/// The plugin database, read and written. Every write is one transaction.
pub trait PluginDatabase: PluginRead + crate::AlarmWrite + crate::ActivityTrail {
    /// Stores `events` (those the database has already, by journal id and sequence, are
    /// skipped), adds `tally` to the counters and records `position`, in one transaction
    /// that is durable on disk when this returns. Entries at or before the stored position
    /// of the same journal are skipped with their tally, so that a replay changes nothing.
    /// Returns the events stored now, with their ids.
    fn store_events(
        &self,
        events: &[NewEvent],
        tally: &Tally,
        position: &EventPosition,
    ) -> Result<Vec<StoredEvent>, StoreError>;
}
