//! The event mapping table: every SiPass event is stored as the custom event of its own
//! name, and also as the native events named here (none for some), so that native
//! event-to-actions keep working. The rows of `reference/plugin.md` §2.10 are kept as they
//! are; the others extend it to every type in [`EVENT_TYPES`] (docs/events.md has the whole
//! table and says which rows are ours).
//!
//! Which entities an event concerns does not depend on its type but on what it names:
//! [`linked_kinds`] gives the Directory kinds for the object, plus the cardholder and the
//! credential of an access event.

use crate::management::{EVENT_TYPES, ObjectKind};

/// SiPass event type → the native events it raises (besides its custom event).
pub const EVENT_MAPPING: &[(&str, &[&str])] = &[
    // Access: the reference's rows, and the other denials as Access Denied.
    ("Access Granted", &["Access Granted"]),
    ("Access To AP Area", &["Access Granted"]),
    ("Daily Code", &["Access Granted"]),
    ("Access Denied", &["Access Denied"]),
    ("Access Not Granted", &["Access Denied"]),
    ("Card Expired", &["Access Denied"]),
    ("Card At Disabled", &["Access Denied"]),
    ("Void Card", &["Access Denied"]),
    ("Invalid Facility Code", &["Access Denied"]),
    ("Invalid PIN", &["Access Denied"]),
    ("Bad Daily Code", &["Access Denied"]),
    ("Outside Time Schedule", &["Access Denied"]),
    ("Badge Collision", &["Access Denied"]),
    ("APB Error", &["Access Denied"]),
    ("Duress", &["Duress"]),
    // Doors.
    ("Door Closed", &["Door Closed"]),
    ("Door Forced", &["Door Forced Open"]),
    ("Door Held", &["Door Open Too Long"]),
    ("Door Unsecured", &["Door Opened"]),
    ("Door Locked", &["Door Locked"]),
    ("Door Unlocked", &["Door Unlocked"]),
    ("Door Blocked", &[]),
    ("Door Unblocked", &[]),
    ("Door Access Allowed", &["Door Manually Unlocked"]),
    ("Buzzer On", &[]),
    ("Buzzer Off", &[]),
    ("Door Returned To Schedule", &[]),
    // Readers.
    ("Reader Online", &["Device Online"]),
    ("Reader Offline", &["Device Offline"]),
    ("Reader Tamper", &["Tamper"]),
    // Units: the reference's rows (Battery Low raises two), and the rest.
    ("Communication Lost", &["Unit Lost"]),
    ("Communication Restored", &["Unit Connected"]),
    ("Unit Reset", &[]),
    ("Tamper Active", &["Tamper"]),
    ("Tamper Inactive", &[]),
    ("AC Power Failed", &["AC Fail"]),
    ("AC Power Restored", &["AC Restored"]),
    ("Battery Low", &["Low battery", "Battery Fail"]),
    ("Battery Failed", &["Battery Fail"]),
    // Inputs and outputs.
    ("Input Alarm", &["Input Alarm Activated"]),
    ("Input Normal", &["Input Alarm Restored"]),
    ("Input Tamper", &["Input Trouble"]),
    ("Input Sealed", &[]),
    ("Input Unsealed", &[]),
    ("Output On", &["Output Activated"]),
    ("Output Off", &["Output Deactivated"]),
    // Intrusion areas.
    ("Area Armed", &["Intrusion Area Armed"]),
    ("Area Disarmed", &["Intrusion Area Disarmed"]),
    ("Area Alarm", &["Intrusion Alarm Activated"]),
    ("Arming Failed", &[]),
    // APB, flags, generic.
    ("APB Area Count Reset", &["People Count Reset"]),
    ("Flag True", &[]),
    ("Flag False", &[]),
    ("Operator Logon", &[]),
    ("Database Archived", &[]),
];

/// The native events of a SiPass event type (case-insensitive); `None` for a type the table
/// does not know, which is stored as its custom event only.
pub fn native_events(sipass_type: &str) -> Option<&'static [&'static str]> {
    EVENT_MAPPING
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(sipass_type))
        .map(|(_, native)| *native)
}

/// The kinds an event's object is linked as: Directory kinds where the Directory has the
/// object (a controller is both units), SiPass's own for readers, inputs and outputs, which
/// it does not.
pub fn linked_kinds(kind: ObjectKind) -> &'static [&'static str] {
    match kind {
        ObjectKind::Doorset => &["door"],
        ObjectKind::Bank => &["elevator"],
        ObjectKind::ApbArea | ObjectKind::ApbCluster => &["area"],
        ObjectKind::IntrusionArea => &["intrusion-detection-area"],
        ObjectKind::Unit => &["access-control-unit", "intrusion-detection-unit"],
        ObjectKind::Cardholder => &["cardholder"],
        ObjectKind::AccessPoint => &["reader"],
        ObjectKind::Input => &["input"],
        ObjectKind::Output => &["output"],
        ObjectKind::AlarmClass => &["alarm"],
        _ => &["sipass-object"],
    }
}

/// Whether every SiPass event type the simulator emits has a row (a test keeps it so).
pub fn covers_every_event_type() -> bool {
    EVENT_TYPES.iter().all(|t| native_events(t.name).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_one_row_and_the_reference_rows_are_kept() {
        assert!(covers_every_event_type());
        assert_eq!(
            EVENT_MAPPING.len(),
            EVENT_TYPES.len(),
            "no row for a type we lack"
        );
        assert_eq!(
            native_events("battery low").unwrap(),
            ["Low battery", "Battery Fail"]
        );
        assert_eq!(native_events("Badge Collision").unwrap(), ["Access Denied"]);
        assert_eq!(native_events("Communication Lost").unwrap(), ["Unit Lost"]);
        assert_eq!(
            native_events("APB Area Count Reset").unwrap(),
            ["People Count Reset"]
        );
        assert!(native_events("Something New").is_none());
        for (name, native) in EVENT_MAPPING {
            assert!(native.iter().all(|n| !n.contains('|')), "{name}");
        }
    }
}
