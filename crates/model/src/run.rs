//! How a synchronization run ended.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The outcome of one synchronization run, as the history keeps it and every report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    /// Still going (or its role died; the next run marks it interrupted).
    Running,
    /// Every kind listed and the copy swapped in.
    Succeeded,
    /// Stopped for a reason retrying cannot fix (incompatible versions, no configuration).
    Failed,
    /// Stopped by a disconnection, a database error or a shutdown; the next run resumes it.
    Interrupted,
}

impl RunOutcome {
    pub const ALL: [RunOutcome; 4] = [
        RunOutcome::Running,
        RunOutcome::Succeeded,
        RunOutcome::Failed,
        RunOutcome::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored outcome that is none of [`RunOutcome`]'s names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown synchronization outcome '{0}' (expected running, succeeded, failed or interrupted)"
)]
pub struct UnknownOutcome(pub String);

impl FromStr for RunOutcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for outcome in RunOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<RunOutcome>(), Ok(outcome));
            assert_eq!(
                serde_json::to_value(outcome).unwrap(),
                serde_json::Value::from(outcome.as_str())
            );
        }
        assert!("done".parse::<RunOutcome>().is_err());
    }
}
