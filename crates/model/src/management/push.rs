//! The push channel's messages (Server-Sent Events) and how they are decoded.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::alarms::AlarmState;
use super::events::Event;
use super::objects::ObjectKind;

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

/// A push type name is not an object kind: an unknown one is a push decoding error.
impl FromStr for PushType {
    type Err = PushDecodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "entity" => Ok(PushType::Entity),
            "event" => Ok(PushType::Event),
            "alarm" => Ok(PushType::Alarm),
            "gap" => Ok(PushType::Gap),
            other => Err(PushDecodeError::UnknownType(other.to_owned())),
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
        let kind: PushType = event.parse()?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
