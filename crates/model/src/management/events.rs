//! The audit trail: event categories, the table of event types and the events themselves.

use serde::{Deserialize, Serialize};

use super::objects::ObjectKind;

/// Event categories, after the audit trail's `category` column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventCategory {
    Access,
    Door,
    Reader,
    Unit,
    Input,
    IntrusionArea,
    Apb,
    Flag,
    Alarm,
    Operator,
    #[default]
    Generic,
}

/// The SiPass event type names the simulator emits (`Type` of an [`Event`]), with their
/// category, the audit trail's `state_id` and the kind of object the event concerns. Covers
/// every row of the plugin's mapping table (`reference/plugin.md` §2.10) and the unit,
/// door, reader, input and area events of `reference/sipass-api.md` §4.
pub const EVENT_TYPES: &[EventType] = &[
    // Access granted.
    EventType::new(
        "Access Granted",
        EventCategory::Access,
        1,
        ObjectKind::Doorset,
    ),
    EventType::new(
        "Access To AP Area",
        EventCategory::Access,
        2,
        ObjectKind::ApbArea,
    ),
    EventType::new("Daily Code", EventCategory::Access, 3, ObjectKind::Doorset),
    // Access denied.
    EventType::new(
        "Access Denied",
        EventCategory::Access,
        10,
        ObjectKind::Doorset,
    ),
    EventType::new(
        "Access Not Granted",
        EventCategory::Access,
        11,
        ObjectKind::Doorset,
    ),
    EventType::new(
        "Card Expired",
        EventCategory::Access,
        12,
        ObjectKind::Doorset,
    ),
    EventType::new(
        "Card At Disabled",
        EventCategory::Access,
        13,
        ObjectKind::Doorset,
    ),
    EventType::new("Void Card", EventCategory::Access, 14, ObjectKind::Doorset),
    EventType::new(
        "Invalid Facility Code",
        EventCategory::Access,
        15,
        ObjectKind::Doorset,
    ),
    EventType::new(
        "Invalid PIN",
        EventCategory::Access,
        16,
        ObjectKind::Doorset,
    ),
    EventType::new(
        "Bad Daily Code",
        EventCategory::Access,
        17,
        ObjectKind::Doorset,
    ),
    EventType::new(
        "Outside Time Schedule",
        EventCategory::Access,
        18,
        ObjectKind::Doorset,
    ),
    EventType::new(
        "Badge Collision",
        EventCategory::Access,
        19,
        ObjectKind::Doorset,
    ),
    EventType::new("APB Error", EventCategory::Apb, 20, ObjectKind::ApbArea),
    EventType::new("Duress", EventCategory::Access, 21, ObjectKind::Doorset),
    // Door.
    EventType::new("Door Closed", EventCategory::Door, 48, ObjectKind::Doorset),
    EventType::new("Door Forced", EventCategory::Door, 49, ObjectKind::Doorset),
    EventType::new("Door Held", EventCategory::Door, 50, ObjectKind::Doorset),
    EventType::new(
        "Door Unsecured",
        EventCategory::Door,
        51,
        ObjectKind::Doorset,
    ),
    EventType::new("Door Locked", EventCategory::Door, 69, ObjectKind::Doorset),
    EventType::new(
        "Door Unlocked",
        EventCategory::Door,
        70,
        ObjectKind::Doorset,
    ),
    EventType::new("Door Blocked", EventCategory::Door, 32, ObjectKind::Doorset),
    EventType::new(
        "Door Unblocked",
        EventCategory::Door,
        109,
        ObjectKind::Doorset,
    ),
    EventType::new(
        "Door Access Allowed",
        EventCategory::Door,
        52,
        ObjectKind::Doorset,
    ),
    EventType::new("Buzzer On", EventCategory::Door, 53, ObjectKind::Doorset),
    EventType::new("Buzzer Off", EventCategory::Door, 54, ObjectKind::Doorset),
    EventType::new(
        "Door Returned To Schedule",
        EventCategory::Door,
        55,
        ObjectKind::Doorset,
    ),
    // Reader.
    EventType::new(
        "Reader Online",
        EventCategory::Reader,
        56,
        ObjectKind::AccessPoint,
    ),
    EventType::new(
        "Reader Offline",
        EventCategory::Reader,
        57,
        ObjectKind::AccessPoint,
    ),
    EventType::new(
        "Reader Tamper",
        EventCategory::Reader,
        58,
        ObjectKind::AccessPoint,
    ),
    // Unit.
    EventType::new(
        "Communication Lost",
        EventCategory::Unit,
        71,
        ObjectKind::Unit,
    ),
    EventType::new(
        "Communication Restored",
        EventCategory::Unit,
        72,
        ObjectKind::Unit,
    ),
    EventType::new("Unit Reset", EventCategory::Unit, 73, ObjectKind::Unit),
    EventType::new("Tamper Active", EventCategory::Unit, 74, ObjectKind::Unit),
    EventType::new("Tamper Inactive", EventCategory::Unit, 75, ObjectKind::Unit),
    EventType::new("AC Power Failed", EventCategory::Unit, 76, ObjectKind::Unit),
    EventType::new(
        "AC Power Restored",
        EventCategory::Unit,
        77,
        ObjectKind::Unit,
    ),
    EventType::new("Battery Low", EventCategory::Unit, 78, ObjectKind::Unit),
    EventType::new("Battery Failed", EventCategory::Unit, 79, ObjectKind::Unit),
    // Inputs.
    EventType::new("Input Alarm", EventCategory::Input, 107, ObjectKind::Input),
    EventType::new("Input Normal", EventCategory::Input, 46, ObjectKind::Input),
    EventType::new("Input Tamper", EventCategory::Input, 58, ObjectKind::Input),
    EventType::new("Input Sealed", EventCategory::Input, 118, ObjectKind::Input),
    EventType::new(
        "Input Unsealed",
        EventCategory::Input,
        117,
        ObjectKind::Input,
    ),
    // Outputs.
    EventType::new("Output On", EventCategory::Input, 112, ObjectKind::Output),
    EventType::new("Output Off", EventCategory::Input, 113, ObjectKind::Output),
    // Intrusion areas.
    EventType::new(
        "Area Armed",
        EventCategory::IntrusionArea,
        83,
        ObjectKind::IntrusionArea,
    ),
    EventType::new(
        "Area Disarmed",
        EventCategory::IntrusionArea,
        84,
        ObjectKind::IntrusionArea,
    ),
    EventType::new(
        "Area Alarm",
        EventCategory::IntrusionArea,
        85,
        ObjectKind::IntrusionArea,
    ),
    EventType::new(
        "Arming Failed",
        EventCategory::IntrusionArea,
        87,
        ObjectKind::IntrusionArea,
    ),
    // APB and flags.
    EventType::new(
        "APB Area Count Reset",
        EventCategory::Apb,
        90,
        ObjectKind::ApbArea,
    ),
    EventType::new("Flag True", EventCategory::Flag, 91, ObjectKind::Unit),
    EventType::new("Flag False", EventCategory::Flag, 92, ObjectKind::Unit),
    // Generic.
    EventType::new(
        "Operator Logon",
        EventCategory::Operator,
        95,
        ObjectKind::Unit,
    ),
    EventType::new(
        "Database Archived",
        EventCategory::Generic,
        96,
        ObjectKind::Unit,
    ),
];

/// One row of [`EVENT_TYPES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    pub name: &'static str,
    pub category: EventCategory,
    pub state_id: i32,
    /// The kind of object such an event concerns (`EntityKind` of the event).
    pub concerns: ObjectKind,
}

impl EventType {
    pub const fn new(
        name: &'static str,
        category: EventCategory,
        state_id: i32,
        concerns: ObjectKind,
    ) -> Self {
        EventType {
            name,
            category,
            state_id,
            concerns,
        }
    }

    /// The row named `name` (case-insensitive).
    pub fn find(name: &str) -> Option<EventType> {
        EVENT_TYPES
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .copied()
    }

    /// True for access events, which carry a cardholder and a card.
    pub fn is_access(self) -> bool {
        self.category == EventCategory::Access
            || (self.category == EventCategory::Apb && self.name == "APB Error")
    }
}

/// An audit-trail event, shaped after SiPass's `AuditTrail_YYYYMMDD` rows (reference §3.3)
/// plus the tokens of what it concerns. Served by `GET Events` and pushed as `event`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Event {
    /// The push sequence number (global across every push message type).
    pub sequence: u64,
    /// SiPass's `at_id`: unique, numeric string.
    pub id: String,
    /// ISO-8601, no fractions, UTC offset included.
    pub occurred_at: String,
    pub recorded_at: String,
    pub server: String,
    pub unit_no: i64,
    pub point_no: i64,
    pub point_name: String,
    pub device_no: i64,
    /// The event type name, e.g. "Access Granted" (see [`EVENT_TYPES`]).
    pub r#type: String,
    pub category: EventCategory,
    pub state_id: i32,
    pub message: String,
    pub card_no: String,
    pub card_facility: i64,
    pub card_tech: i64,
    pub emp_id: String,
    pub first_name: String,
    pub last_name: String,
    pub workgroup: String,
    pub old_area: String,
    pub new_area: String,
    /// The kind of the object the event concerns (door, unit, input, ...).
    pub entity_kind: Option<ObjectKind>,
    /// That object's token.
    pub entity_token: String,
    /// For access events: the cardholder's token (empty when the card is unknown).
    pub cardholder_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_are_unique() {
        for (i, a) in EVENT_TYPES.iter().enumerate() {
            assert!(
                EVENT_TYPES[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
            assert_eq!(EventType::find(&a.name.to_uppercase()), Some(*a));
        }
    }
}
