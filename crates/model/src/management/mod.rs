//! Wire types of the management API and its push channel.
//!
//! SiPass publishes no schema for what lies beyond its HR API (devices, alarms, events,
//! commands, change notifications; `reference/sipass-api.md` §2, §3.3, §4, §5), so this is
//! ours. It follows SiPass's conventions so that a client written for the HR API feels at
//! home: PascalCase keys, numeric-string `Token`s, `{ErrorCode, Message}` errors and the
//! `{Records, TotalRecords, TotalDisplayRecords}` envelope for lists. The simulator serves
//! these types and the proxy reads them; one definition keeps the two from drifting apart.
//!
//! The API lives at [`BASE`] on the HR API's HTTPS listener and takes the same headers and
//! session token. The simulator's own test endpoints are not part of it: their types are in
//! the simulator (`sim::control`).
//!
//! | Module | What |
//! |---|---|
//! | [`objects`] | the kinds of object, as push messages and paths name them |
//! | [`devices`] | units, doorsets, banks, areas, inputs, outputs, alarm classes |
//! | [`alarms`] | alarm instances and acknowledging them |
//! | [`commands`] | manual overrides |
//! | [`events`] | the audit trail and its table of event types |
//! | [`push`] | the push channel's messages |

pub mod alarms;
pub mod commands;
pub mod devices;
pub mod events;
pub mod objects;
pub mod push;

use serde::{Deserialize, Serialize};

pub use alarms::*;
pub use commands::*;
pub use devices::*;
pub use events::*;
pub use objects::*;
pub use push::*;

/// The management API's base path (matched case-insensitively).
pub const BASE: &str = "/api/management/V1";

/// Path of the push channel (Server-Sent Events) under [`BASE`].
pub const NOTIFICATIONS: &str = "Notifications";

/// `GET Version`: the SiPass release the server is (or pretends to be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInfo {
    /// As SiPass writes it, e.g. "2.80".
    pub version: String,
}
