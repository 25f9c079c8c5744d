//! Wire types of the simulator's management API, push channel and test endpoints.
//!
//! SiPass publishes no schema for what lies beyond its HR API (devices, alarms, events,
//! commands, change notifications; `reference/sipass-api.md` §2, §3.3, §4, §5), so this is
//! ours. It follows SiPass's conventions so that a client written for the HR API feels at
//! home: PascalCase keys, numeric-string `Token`s, `{ErrorCode, Message}` errors and the
//! `{Records, TotalRecords, TotalDisplayRecords}` envelope for lists. The simulator serves
//! these types and the proxy reads them; one definition keeps the two from drifting apart.
//!
//! | Base | What |
//! |---|---|
//! | [`BASE`] `/api/management/V1` | devices, alarms, commands, events, the push channel |
//! | [`SIM_BASE`] `/api/sim/V1` | test and demo controls: change any entity, inject events, raise alarms, faults |
//!
//! Both live on the HR API's HTTPS listener and take the same headers and session token.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The management API's base path (matched case-insensitively).
pub const BASE: &str = "/api/management/V1";

/// The simulator's own test and demo endpoints (matched case-insensitively).
pub const SIM_BASE: &str = "/api/sim/V1";

/// Path of the push channel (Server-Sent Events) under [`BASE`].
pub const NOTIFICATIONS: &str = "Notifications";

/// `GET Version`: the SiPass release the server is (or pretends to be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInfo {
    /// As SiPass writes it, e.g. "2.80".
    pub version: String,
}

/// Every kind of object the simulator holds, with the name used in push messages
/// (`Kind`) and the collection name used in paths (`/api/sim/V1/<collection>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ObjectKind {
    Cardholder,
    WorkGroup,
    AccessLevel,
    AccessGroup,
    AccessPoint,
    AccessPointGroup,
    FloorPoint,
    FloorPointGroup,
    TimeSchedule,
    CardTechnology,
    CredentialProfile,
    Unit,
    Doorset,
    Bank,
    ApbCluster,
    ApbArea,
    IntrusionArea,
    Input,
    Output,
    AlarmClass,
}

impl ObjectKind {
    /// Every kind.
    pub const ALL: [ObjectKind; 20] = [
        ObjectKind::Cardholder,
        ObjectKind::WorkGroup,
        ObjectKind::AccessLevel,
        ObjectKind::AccessGroup,
        ObjectKind::AccessPoint,
        ObjectKind::AccessPointGroup,
        ObjectKind::FloorPoint,
        ObjectKind::FloorPointGroup,
        ObjectKind::TimeSchedule,
        ObjectKind::CardTechnology,
        ObjectKind::CredentialProfile,
        ObjectKind::Unit,
        ObjectKind::Doorset,
        ObjectKind::Bank,
        ObjectKind::ApbCluster,
        ObjectKind::ApbArea,
        ObjectKind::IntrusionArea,
        ObjectKind::Input,
        ObjectKind::Output,
        ObjectKind::AlarmClass,
    ];

    /// The kind as push messages name it, e.g. "WorkGroup".
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Cardholder => "Cardholder",
            ObjectKind::WorkGroup => "WorkGroup",
            ObjectKind::AccessLevel => "AccessLevel",
            ObjectKind::AccessGroup => "AccessGroup",
            ObjectKind::AccessPoint => "AccessPoint",
            ObjectKind::AccessPointGroup => "AccessPointGroup",
            ObjectKind::FloorPoint => "FloorPoint",
            ObjectKind::FloorPointGroup => "FloorPointGroup",
            ObjectKind::TimeSchedule => "TimeSchedule",
            ObjectKind::CardTechnology => "CardTechnology",
            ObjectKind::CredentialProfile => "CredentialProfile",
            ObjectKind::Unit => "Unit",
            ObjectKind::Doorset => "Doorset",
            ObjectKind::Bank => "Bank",
            ObjectKind::ApbCluster => "ApbCluster",
            ObjectKind::ApbArea => "ApbArea",
            ObjectKind::IntrusionArea => "IntrusionArea",
            ObjectKind::Input => "Input",
            ObjectKind::Output => "Output",
            ObjectKind::AlarmClass => "AlarmClass",
        }
    }

    /// The collection name used in paths, e.g. "WorkGroups", "CardTechnologies".
    pub fn collection(self) -> &'static str {
        match self {
            ObjectKind::Cardholder => "Cardholders",
            ObjectKind::WorkGroup => "WorkGroups",
            ObjectKind::AccessLevel => "AccessLevels",
            ObjectKind::AccessGroup => "AccessGroups",
            ObjectKind::AccessPoint => "AccessPoints",
            ObjectKind::AccessPointGroup => "AccessPointGroups",
            ObjectKind::FloorPoint => "FloorPoints",
            ObjectKind::FloorPointGroup => "FloorPointGroups",
            ObjectKind::TimeSchedule => "TimeSchedules",
            ObjectKind::CardTechnology => "CardTechnologies",
            ObjectKind::CredentialProfile => "CredentialProfiles",
            ObjectKind::Unit => "Units",
            ObjectKind::Doorset => "Doorsets",
            ObjectKind::Bank => "Banks",
            ObjectKind::ApbCluster => "ApbClusters",
            ObjectKind::ApbArea => "ApbAreas",
            ObjectKind::IntrusionArea => "IntrusionAreas",
            ObjectKind::Input => "Inputs",
            ObjectKind::Output => "Outputs",
            ObjectKind::AlarmClass => "AlarmClasses",
        }
    }

    /// The kind whose collection name is `name` (case-insensitive), e.g. "doorsets".
    pub fn from_collection(name: &str) -> Option<ObjectKind> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.collection().eq_ignore_ascii_case(name))
    }
}

/// The kinds SiPass's HR API lists under `/api/V1/hr/<collection>` (besides cardholders,
/// which it pages); the others come from the management API. The simulator routes by it and
/// the client chooses its API by it, so the two cannot disagree.
pub const HR_LISTS: [ObjectKind; 10] = [
    ObjectKind::WorkGroup,
    ObjectKind::AccessLevel,
    ObjectKind::AccessGroup,
    ObjectKind::AccessPoint,
    ObjectKind::AccessPointGroup,
    ObjectKind::FloorPoint,
    ObjectKind::FloorPointGroup,
    ObjectKind::TimeSchedule,
    ObjectKind::CardTechnology,
    ObjectKind::CredentialProfile,
];

impl ObjectKind {
    /// True when the HR API serves this kind.
    pub fn served_by_hr_api(self) -> bool {
        self == ObjectKind::Cardholder || HR_LISTS.contains(&self)
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`ObjectKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown object kind '{0}'")]
pub struct UnknownObjectKind(pub String);

impl FromStr for ObjectKind {
    type Err = UnknownObjectKind;

    /// Accepts the kind ("Doorset") or its collection ("Doorsets"), case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s) || k.collection().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownObjectKind(s.to_owned()))
    }
}

// ---------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------

/// A reference to another object: its token and name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectRef {
    pub token: String,
    pub name: String,
}

/// Whether a unit talks to the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommState {
    #[default]
    Online,
    Lost,
}

/// A unit's or reader's tamper switch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TamperState {
    #[default]
    Normal,
    Active,
}

/// A unit's power supply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PowerState {
    #[default]
    Normal,
    AcFailed,
    BatteryLow,
    BatteryFailed,
}

/// A peripheral of a unit (reader interface, I/O module, elevator interface).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Peripheral {
    /// Position on the unit's field-level network (SiPass `fln_no`).
    pub address: i64,
    /// E.g. "DRI" (door reader interface), "IOM" (input/output module), "ELV" (elevator).
    pub model: String,
    pub name: String,
}

/// A unit (controller, "ACC"). The plugin maps each to an access control unit and an
/// intrusion detection unit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Unit {
    pub token: String,
    pub name: String,
    /// The unit number that events carry as `UnitNo`.
    pub unit_no: i64,
    /// IANA name, e.g. "Europe/Zurich".
    pub time_zone: String,
    pub peripherals: Vec<Peripheral>,
    pub comm_state: CommState,
    pub tamper_state: TamperState,
    pub power_state: PowerState,
}

/// One side's reader of a doorset: an HR API access point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Reader {
    pub access_point_token: String,
    pub access_point_name: String,
}

/// Whether a door's lock is locked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockState {
    #[default]
    Locked,
    Unlocked,
}

/// What the door leaf is doing (frame contact).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DoorPosition {
    #[default]
    Closed,
    Open,
    Forced,
    Held,
}

/// Who decides the lock: the time schedule, or a manual override.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlMode {
    #[default]
    Schedule,
    Override,
}

/// A doorset's run-time state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DoorsetState {
    pub lock: LockState,
    pub position: DoorPosition,
    /// Blocked doors refuse every card.
    pub blocked: bool,
    pub buzzer: bool,
    pub control: ControlMode,
}

/// A doorset (door) with its side A/B readers and lock output. The plugin maps it to a door.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Doorset {
    pub token: String,
    pub name: String,
    pub unit_token: String,
    /// The point number that events carry as `PointNo`.
    pub point_no: i64,
    pub side_a: Option<Reader>,
    pub side_b: Option<Reader>,
    /// The output that drives the lock.
    pub lock: ObjectRef,
    pub state: DoorsetState,
}

/// A floor of a bank: an HR API floor point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Floor {
    pub floor_point_token: String,
    pub name: String,
    pub number: i64,
}

/// A bank of elevators with its floors. The plugin maps it to an elevator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bank {
    pub token: String,
    pub name: String,
    pub unit_token: String,
    pub floors: Vec<Floor>,
}

/// An anti-passback cluster: a set of APB areas that share passback rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApbCluster {
    pub token: String,
    pub name: String,
    /// Tokens of its areas.
    pub area_tokens: Vec<String>,
}

/// An anti-passback area with its people count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApbArea {
    pub token: String,
    pub name: String,
    pub cluster_token: String,
    pub count: i64,
}

/// An intrusion area's arming state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AreaState {
    #[default]
    Disarmed,
    Armed,
    Alarm,
    ArmingFailed,
}

/// An intrusion area. The plugin maps it to an intrusion detection area.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IntrusionArea {
    pub token: String,
    pub name: String,
    pub description: String,
    pub unit_token: String,
    pub state: AreaState,
}

/// An input point's state (reference §5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputState {
    #[default]
    Normal,
    Alarm,
    Tamper,
    Disabled,
}

/// An input point (door contact, REX button, auxiliary sensor).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    pub token: String,
    pub name: String,
    pub unit_token: String,
    pub point_no: i64,
    pub state: InputState,
    /// The alarm class an alarm of this input raises; empty when none.
    pub alarm_class_token: String,
}

/// An output point's state (reference §5: 69 Locked/secure, 70 Unlocked/unsecure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutputState {
    #[default]
    Off,
    On,
}

/// An output point (door lock or auxiliary relay).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub token: String,
    pub name: String,
    pub unit_token: String,
    pub point_no: i64,
    pub state: OutputState,
    pub alarm_class_token: String,
}

/// An alarm class with its priority. The plugin maps each to an alarm.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlarmClass {
    pub token: String,
    pub name: String,
    /// 1 (highest) to 100.
    pub priority: i32,
}

// ---------------------------------------------------------------------------------------
// Alarms
// ---------------------------------------------------------------------------------------

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

/// `POST /api/sim/V1/Alarms` body: raise an alarm of a class, optionally naming its source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaiseAlarm {
    pub alarm_class_token: String,
    pub message: String,
    pub source_kind: Option<ObjectKind>,
    pub source_token: String,
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

/// What a manual-override command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandTarget {
    Doorset,
    IntrusionArea,
    Output,
}

/// The manual-override commands of reference §5 / plugin guide §13–15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ManualOverride {
    // Doors.
    AllowAccess,
    Block,
    Unblock,
    Lock,
    Unlock,
    BuzzerOn,
    BuzzerOff,
    ReturnToSchedule,
    // Intrusion areas.
    Arm,
    Disarm,
    // Outputs.
    FastPulse,
    SinglePulse,
    SlowPulse,
    Toggle,
}

impl ManualOverride {
    /// The kind of object the command applies to.
    pub fn target(self) -> CommandTarget {
        use ManualOverride::*;
        match self {
            AllowAccess | Block | Unblock | Lock | Unlock | BuzzerOn | BuzzerOff
            | ReturnToSchedule => CommandTarget::Doorset,
            Arm | Disarm => CommandTarget::IntrusionArea,
            FastPulse | SinglePulse | SlowPulse | Toggle => CommandTarget::Output,
        }
    }
}

/// `POST Commands` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommandRequest {
    pub target_kind: CommandTarget,
    pub target_token: String,
    pub command: ManualOverride,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandOutcome {
    Succeeded,
    /// The command does not apply to that kind of target (e.g. Arm on a doorset).
    NotSupported,
    /// The target's unit is offline (communication lost).
    UnitOffline,
}

/// `POST Commands` answer (HTTP 200 whatever the outcome; 404 for an unknown target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommandResult {
    pub result: CommandOutcome,
    pub message: String,
}

// ---------------------------------------------------------------------------------------
// Events (audit trail)
// ---------------------------------------------------------------------------------------

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

/// `POST /api/sim/V1/Events` body: what to inject. Anything left out is filled in from the
/// site (a cardholder for access events, the object's names and numbers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InjectEvent {
    /// An [`EVENT_TYPES`] name.
    pub r#type: String,
    /// The object the event concerns; a random one of the right kind when empty.
    pub entity_token: String,
    /// For access events: the cardholder; a random one when empty.
    pub cardholder_token: String,
    pub message: String,
}

// ---------------------------------------------------------------------------------------
// Push channel
// ---------------------------------------------------------------------------------------

/// The SSE `event:` names of the push channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushType {
    Entity,
    Event,
    Alarm,
    Gap,
}

impl PushType {
    pub fn as_str(self) -> &'static str {
        match self {
            PushType::Entity => "entity",
            PushType::Event => "event",
            PushType::Alarm => "alarm",
            PushType::Gap => "gap",
        }
    }
}

impl FromStr for PushType {
    type Err = UnknownObjectKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "entity" => Ok(PushType::Entity),
            "event" => Ok(PushType::Event),
            "alarm" => Ok(PushType::Alarm),
            "gap" => Ok(PushType::Gap),
            other => Err(UnknownObjectKind(other.to_owned())),
        }
    }
}

/// What happened to an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Created,
    Updated,
    Deleted,
}

/// `entity` push message: an object was created, updated or deleted (by the HR API, the
/// management API, the test endpoints or the change generator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntityChange {
    pub sequence: u64,
    pub kind: ObjectKind,
    pub token: String,
    pub change: Change,
}

/// `alarm` push message: an alarm was raised, acknowledged or cleared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AlarmChange {
    pub sequence: u64,
    pub alarm_id: String,
    pub alarm_class_token: String,
    pub priority: i32,
    /// What just happened.
    pub state: AlarmState,
    pub operator: String,
    pub comment: String,
    /// When it happened (ISO-8601).
    pub at: String,
    pub message: String,
    pub source_kind: Option<ObjectKind>,
    pub source_token: String,
}

/// `gap` push message: the messages `From..=To` are no longer retained, so a client that
/// asked to resume before them must reload. Its SSE `id:` is `To`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Gap {
    pub from: u64,
    pub to: u64,
}

/// One decoded push message.
// Messages are decoded one at a time and handled at once, so the size of the event
// variant costs nothing worth a Box in every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    Entity(EntityChange),
    Event(Event),
    Alarm(AlarmChange),
    Gap(Gap),
}

impl Push {
    /// Decodes the `data:` of an SSE message whose `event:` was `event`.
    pub fn decode(event: &str, data: &str) -> Result<Push, PushDecodeError> {
        let kind: PushType = event
            .parse()
            .map_err(|_| PushDecodeError::UnknownType(event.to_owned()))?;
        let bad = |e: serde_json::Error| PushDecodeError::BadData(kind.as_str(), e.to_string());
        Ok(match kind {
            PushType::Entity => Push::Entity(serde_json::from_str(data).map_err(bad)?),
            PushType::Event => Push::Event(serde_json::from_str(data).map_err(bad)?),
            PushType::Alarm => Push::Alarm(serde_json::from_str(data).map_err(bad)?),
            PushType::Gap => Push::Gap(serde_json::from_str(data).map_err(bad)?),
        })
    }

    /// The message's SSE `event:` name.
    pub fn push_type(&self) -> PushType {
        match self {
            Push::Entity(_) => PushType::Entity,
            Push::Event(_) => PushType::Event,
            Push::Alarm(_) => PushType::Alarm,
            Push::Gap(_) => PushType::Gap,
        }
    }

    /// The message's sequence number (for a gap: its `To`).
    pub fn sequence(&self) -> u64 {
        match self {
            Push::Entity(m) => m.sequence,
            Push::Event(m) => m.sequence,
            Push::Alarm(m) => m.sequence,
            Push::Gap(m) => m.to,
        }
    }
}

/// A push message that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushDecodeError {
    #[error("unknown push message type '{0}'")]
    UnknownType(String),
    #[error("malformed '{0}' push message: {1}")]
    BadData(&'static str, String),
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

/// The simulator's fault switches: `GET /api/sim/V1/Faults` returns them, `PUT` changes the
/// fields it names and leaves the others as they are. Faults apply to the HR and management
/// APIs, never to `/api/sim/V1` itself, so a test can always switch them off again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Faults {
    /// One-shot: close every open connection now (push streams included). Reads back false.
    pub drop_connections: bool,
    /// Hold every request for this many seconds from now before answering. Reads back the
    /// seconds still to go.
    pub stall_seconds: u64,
    /// Added to every answer.
    pub latency_ms: u64,
    /// One-shot: forget every session now, so the next call gets 401. Reads back false.
    pub expire_sessions: bool,
    /// Refuse logins with error 912 (HR API licence not available), HTTP 403.
    pub refuse_logins_licence: bool,
    /// Fraction (0.0 to 1.0) of answers replaced by HTTP 500.
    pub error_rate: f64,
    /// The push sequence number that is never sent (live or on replay); 0 for none.
    pub drop_push_sequence: u64,
}

/// `PUT /api/sim/V1/Faults` body: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FaultsUpdate {
    pub drop_connections: Option<bool>,
    pub stall_seconds: Option<u64>,
    pub latency_ms: Option<u64>,
    pub expire_sessions: Option<bool>,
    pub refuse_logins_licence: Option<bool>,
    pub error_rate: Option<f64>,
    pub drop_push_sequence: Option<u64>,
}

/// `POST /api/sim/V1/<Kind>` and `PUT .../{token}` answer: the object's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Created {
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_by_name_and_collection() {
        for kind in ObjectKind::ALL {
            assert_eq!(kind.as_str().parse::<ObjectKind>(), Ok(kind));
            assert_eq!(
                kind.collection().to_lowercase().parse::<ObjectKind>(),
                Ok(kind)
            );
            assert_eq!(ObjectKind::from_collection(kind.collection()), Some(kind));
        }
    }

    #[test]
    fn push_messages_round_trip() {
        let data = r#"{"Sequence":7,"Kind":"WorkGroup","Token":"2000000001","Change":"Updated"}"#;
        let push = Push::decode("entity", data).unwrap();
        assert_eq!(push.sequence(), 7);
        assert_eq!(
            push,
            Push::Entity(EntityChange {
                sequence: 7,
                kind: ObjectKind::WorkGroup,
                token: "2000000001".into(),
                change: Change::Updated,
            })
        );
        assert!(Push::decode("nope", "{}").is_err());
        assert_eq!(
            Push::decode("gap", r#"{"From":1,"To":4}"#)
                .unwrap()
                .sequence(),
            4
        );
    }

    #[test]
    fn every_command_has_a_target() {
        assert_eq!(ManualOverride::Arm.target(), CommandTarget::IntrusionArea);
        assert_eq!(ManualOverride::Toggle.target(), CommandTarget::Output);
        assert_eq!(ManualOverride::BuzzerOn.target(), CommandTarget::Doorset);
    }

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
