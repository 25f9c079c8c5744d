//! Devices and their run-time state: units, doorsets, banks, APB clusters and areas,
//! intrusion areas, inputs, outputs and alarm classes.

use serde::{Deserialize, Serialize};

use crate::sipass::NamedToken;

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
    /// How many momentary unlocks (Allow access) the door has made: the command leaves no
    /// other trace, since the door relocks at once.
    #[serde(default)]
    pub access_allowed: u64,
    /// The latest manual override the door carried out.
    #[serde(default)]
    pub last_override: Option<super::ManualOverride>,
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
    pub lock: NamedToken,
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
    /// The latest manual override the area carried out (run-time state, not served).
    #[serde(default)]
    pub last_override: Option<super::ManualOverride>,
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
    /// How many pulses the output has made: a pulse ends where it began, so only this
    /// counter shows it happened (run-time state, not served).
    #[serde(default)]
    pub pulses: u64,
    /// The latest manual override the output carried out (run-time state, not served).
    #[serde(default)]
    pub last_override: Option<super::ManualOverride>,
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
