//! Alarm instances as SiPass's alarm queue holds them, and acknowledging one.

use serde::{Deserialize, Serialize};

use super::objects::ObjectKind;

/// What happened to an alarm, or where it stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlarmState {
    #[default]
    Raised,
    Acknowledged,
    Cleared,
}

/// An alarm instance, as `GET Alarms` lists it. An alarm is active (listed) from when it
/// is raised until it is both acknowledged and cleared, as in SiPass's alarm queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alarm {
    /// Numeric string.
    pub alarm_id: String,
    pub alarm_class_token: String,
    pub alarm_class_name: String,
    pub priority: i32,
    /// The latest change: `Raised`, `Acknowledged` or `Cleared`.
    pub state: AlarmState,
    pub acknowledged: bool,
    pub cleared: bool,
    pub message: String,
    /// The object that raised it, when known.
    pub source_kind: Option<ObjectKind>,
    pub source_token: String,
    pub raised_at: String,
    pub operator: String,
    pub comment: String,
    pub acknowledged_at: String,
    pub cleared_at: String,
}

/// `POST Alarms/{id}/Acknowledge` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Acknowledge {
    pub operator: String,
    pub comment: String,
}
