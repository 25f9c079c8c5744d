//! The commands a person can send to a synchronized entity, by Directory kind: SiPass's
//! manual overrides (`reference/plugin.md` items 13 to 15) under the names the CLI, the REST
//! API and the activity trail use. One table, so that what an entity is offered and what it
//! is refused can never disagree.

use std::fmt;
use std::str::FromStr;

use crate::DirectoryKind;
use crate::management::{CommandTarget, ManualOverride};

/// Every command, in the order they are offered.
pub const ALL: [ManualOverride; 14] = [
    ManualOverride::AllowAccess,
    ManualOverride::Block,
    ManualOverride::Unblock,
    ManualOverride::Lock,
    ManualOverride::Unlock,
    ManualOverride::BuzzerOn,
    ManualOverride::BuzzerOff,
    ManualOverride::ReturnToSchedule,
    ManualOverride::Arm,
    ManualOverride::Disarm,
    ManualOverride::FastPulse,
    ManualOverride::SinglePulse,
    ManualOverride::SlowPulse,
    ManualOverride::Toggle,
];

/// The stable name of a command (`allow-access`), used in URLs, JSON and the CLI.
pub fn name(command: ManualOverride) -> &'static str {
    row(command).0
}

/// The activity's name as a person reads it in the activity trail ("Allow access").
pub fn label(command: ManualOverride) -> &'static str {
    row(command).1
}

fn row(command: ManualOverride) -> (&'static str, &'static str) {
    use ManualOverride::*;
    match command {
        AllowAccess => ("allow-access", "Allow access"),
        Block => ("block", "Block door"),
        Unblock => ("unblock", "Unblock door"),
        Lock => ("lock", "Lock door"),
        Unlock => ("unlock", "Unlock door"),
        BuzzerOn => ("buzzer-on", "Reader buzzer on"),
        BuzzerOff => ("buzzer-off", "Reader buzzer off"),
        ReturnToSchedule => ("return-to-schedule", "Return to time-schedule control"),
        Arm => ("arm", "Arm intrusion area"),
        Disarm => ("disarm", "Disarm intrusion area"),
        FastPulse => ("fast-pulse", "Fast pulse output"),
        SinglePulse => ("single-pulse", "Single pulse output"),
        SlowPulse => ("slow-pulse", "Slow pulse output"),
        Toggle => ("toggle", "Toggle output"),
    }
}

/// The SiPass object a Directory kind's commands go to; `None` when it takes none.
pub fn target_of(kind: DirectoryKind) -> Option<CommandTarget> {
    match kind {
        DirectoryKind::Door => Some(CommandTarget::Doorset),
        DirectoryKind::IntrusionDetectionArea => Some(CommandTarget::IntrusionArea),
        DirectoryKind::Output => Some(CommandTarget::Output),
        _ => None,
    }
}

/// The commands an entity of `kind` supports (none for most kinds).
pub fn supported(kind: DirectoryKind) -> Vec<ManualOverride> {
    match target_of(kind) {
        Some(target) => ALL.into_iter().filter(|c| c.target() == target).collect(),
        None => Vec::new(),
    }
}

/// A command name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown command '{given}'; the commands are: {}", names(&ALL))]
pub struct UnknownCommand {
    pub given: String,
}

/// Commands' names, comma-separated, for messages.
pub fn names(commands: &[ManualOverride]) -> String {
    let names: Vec<&str> = commands.iter().map(|c| name(*c)).collect();
    names.join(", ")
}

/// A command by its name; also takes SiPass's own (`AllowAccess`), underscores and spaces,
/// in any case, as people type them.
pub fn parse(given: &str) -> Result<ManualOverride, UnknownCommand> {
    let wanted: String = given
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    ALL.into_iter()
        .find(|c| name(*c).replace('-', "") == wanted)
        .ok_or_else(|| UnknownCommand {
            given: given.to_owned(),
        })
}

/// The four pulse patterns a SiPass output can be driven with, each linked in the role's
/// Properties to an output behaviour of the platform (`reference/plugin.md` item 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PulsePattern {
    FastPulse,
    SinglePulse,
    SlowPulse,
    Toggle,
}

impl PulsePattern {
    pub const ALL: [PulsePattern; 4] = [
        PulsePattern::FastPulse,
        PulsePattern::SinglePulse,
        PulsePattern::SlowPulse,
        PulsePattern::Toggle,
    ];

    /// The output command that drives this pattern.
    pub fn command(self) -> ManualOverride {
        match self {
            PulsePattern::FastPulse => ManualOverride::FastPulse,
            PulsePattern::SinglePulse => ManualOverride::SinglePulse,
            PulsePattern::SlowPulse => ManualOverride::SlowPulse,
            PulsePattern::Toggle => ManualOverride::Toggle,
        }
    }

    /// The pattern an output command drives; `None` for a command that is not an output's.
    pub fn of(command: ManualOverride) -> Option<PulsePattern> {
        PulsePattern::ALL
            .into_iter()
            .find(|p| p.command() == command)
    }

    /// The stable name, as in the configuration keys (`outputs.behaviour.fast-pulse`).
    pub fn as_str(self) -> &'static str {
        name(self.command())
    }

    /// The output behaviour a new role links this pattern to.
    pub fn default_behaviour(self) -> &'static str {
        match self {
            PulsePattern::FastPulse => "SiPass fast pulse",
            PulsePattern::SinglePulse => "SiPass single pulse",
            PulsePattern::SlowPulse => "SiPass slow pulse",
            PulsePattern::Toggle => "SiPass toggle output",
        }
    }
}

impl fmt::Display for PulsePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PulsePattern {
    type Err = UnknownCommand;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
            .ok()
            .and_then(PulsePattern::of)
            .ok_or_else(|| UnknownCommand {
                given: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_distinct_name_that_parses_back() {
        let names: std::collections::BTreeSet<_> = ALL.iter().map(|c| name(*c)).collect();
        assert_eq!(names.len(), ALL.len());
        for command in ALL {
            assert_eq!(parse(name(command)), Ok(command));
        }
        assert_eq!(parse("AllowAccess"), Ok(ManualOverride::AllowAccess));
        assert_eq!(parse("Buzzer On"), Ok(ManualOverride::BuzzerOn));
        let err = parse("explode").unwrap_err();
        assert!(err.to_string().contains("'explode'"), "{err}");
        assert!(err.to_string().contains("allow-access"), "{err}");
    }

    #[test]
    fn doors_areas_and_outputs_each_take_their_own_commands() {
        assert_eq!(supported(DirectoryKind::Door).len(), 8);
        assert_eq!(
            supported(DirectoryKind::IntrusionDetectionArea),
            [ManualOverride::Arm, ManualOverride::Disarm]
        );
        assert_eq!(supported(DirectoryKind::Output).len(), 4);
        assert!(supported(DirectoryKind::Cardholder).is_empty());
        let every: usize = [
            DirectoryKind::Door,
            DirectoryKind::IntrusionDetectionArea,
            DirectoryKind::Output,
        ]
        .iter()
        .map(|k| supported(*k).len())
        .sum();
        assert_eq!(every, ALL.len(), "every command belongs to one kind");
    }

    #[test]
    fn each_pulse_pattern_is_an_output_command() {
        for pattern in PulsePattern::ALL {
            assert_eq!(PulsePattern::of(pattern.command()), Some(pattern));
            assert_eq!(pattern.as_str().parse::<PulsePattern>(), Ok(pattern));
        }
        assert!("arm".parse::<PulsePattern>().is_err());
    }
}
