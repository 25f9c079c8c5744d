//! Manual-override commands on doors, intrusion areas and outputs.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_target() {
        assert_eq!(ManualOverride::Arm.target(), CommandTarget::IntrusionArea);
        assert_eq!(ManualOverride::Toggle.target(), CommandTarget::Output);
        assert_eq!(ManualOverride::BuzzerOn.target(), CommandTarget::Doorset);
    }
}
