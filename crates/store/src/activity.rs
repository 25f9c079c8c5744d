//! The activity trail in the plugin database: every command sent to SiPass from here, who
//! sent it and how it ended (`reference/plugin.md` item 17, the activity trails report).

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// One command as the trail records it. Every field is filled: the database refuses a row
/// with an empty one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Ours, increasing in the order they were recorded (0 before it is recorded).
    pub id: i64,
    /// When the command was sent (Unix ms), and the same in RFC 3339.
    pub at_ms: i64,
    pub at: String,
    /// The source entity: its SiPass token, Directory kind and name at the time.
    pub entity_id: String,
    pub entity_kind: String,
    pub entity_name: String,
    /// The command's stable name (e.g. `allow-access`) and label (`Allow access`).
    pub activity: String,
    pub activity_label: String,
    /// What sent it: CLI, Config Tool, REST API.
    pub application: String,
    /// This product's version.
    pub application_version: String,
    /// The role's host name.
    pub machine: String,
    pub user: String,
    /// How it ended: `succeeded`, `not-supported`, `unit-offline`, `not-connected`, `failed`.
    pub outcome: String,
    /// SiPass's message, or the error.
    pub message: String,
}

/// Which activities to list, newest first. Every bound is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    /// Only for this entity (SiPass token).
    pub entity: Option<String>,
    /// At or after (Unix ms).
    pub since_ms: Option<i64>,
    /// Only ids below this (the last id of the previous page); 0 for the newest.
    pub before_id: i64,
    pub limit: u32,
}

/// The most activities one listing returns.
pub const MAX_ACTIVITY_PAGE: u32 = 1_000;

/// The activity trail, read and written.
pub trait ActivityTrail: Send + Sync {
    /// Records one command durably; returns it with its id. A row with an empty field is
    /// refused.
    fn record_activity(&self, activity: &Activity) -> Result<Activity, StoreError>;

    /// Recorded activities matching `filter`, newest first, at most one more than
    /// [`MAX_ACTIVITY_PAGE`] (the one more tells a caller that another page follows).
    fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>, StoreError>;
}
