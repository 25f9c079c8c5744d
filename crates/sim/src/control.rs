//! Wire types of the simulator's own test and demo endpoints under [`SIM_BASE`]: change
//! any object, inject events, raise alarms, switch faults.
//!
//! Real SiPass has none of this, so these types belong to the simulator, not to the
//! domain model; tests and the bench use them to drive a simulated site. The endpoints
//! live on the HR API's HTTPS listener and take the same headers and session token.

use model::management::ObjectKind;
use serde::{Deserialize, Serialize};

/// The simulator's own test and demo endpoints (matched case-insensitively).
pub const SIM_BASE: &str = "/api/sim/V1";

/// `POST /api/sim/V1/<Kind>` and `PUT .../{token}` answer: the object's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Created {
    pub token: String,
}

/// `POST /api/sim/V1/Events` body: what to inject. Anything left out is filled in from the
/// site (a cardholder for access events, the object's names and numbers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InjectEvent {
    /// A `model::management::EVENT_TYPES` name.
    pub r#type: String,
    /// The object the event concerns; a random one of the right kind when empty.
    pub entity_token: String,
    /// For access events: the cardholder; a random one when empty.
    pub cardholder_token: String,
    pub message: String,
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
