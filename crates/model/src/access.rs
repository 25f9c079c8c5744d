//! Who is asking, in the Config Tool's words: a user with a role, the user groups it belongs
//! to and the partitions it may see. The alarm manager, the event listings and the commands
//! take a [`Viewer`] so that access is decided where the data is read, not only in a page.

use serde::{Deserialize, Serialize};

/// What a Config Tool user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRole {
    /// Sees and changes everything.
    Administrator,
    /// Sees and acts on only the alarms, events and entities of its partitions.
    Operator,
}

/// Someone an alarm notifies: a user or a user group, by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Recipient {
    User(String),
    Group(String),
}

/// The user behind a request, with what it may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// The user's name, as recorded in the activity trail and an alarm's history.
    pub user: String,
    pub role: AccessRole,
    /// The user groups the user belongs to.
    pub groups: Vec<String>,
    /// The partitions the user belongs to, directly or through its groups.
    pub partitions: Vec<String>,
}

impl Viewer {
    /// An administrator, who sees everything (the CLI's API token, the demo).
    pub fn administrator(user: impl Into<String>) -> Self {
        Viewer {
            user: user.into(),
            role: AccessRole::Administrator,
            groups: Vec::new(),
            partitions: Vec::new(),
        }
    }

    pub fn is_administrator(&self) -> bool {
        self.role == AccessRole::Administrator
    }

    /// Whether something kept in `partitions` is visible to this user: an administrator
    /// sees everything, an operator what shares at least one partition with it.
    pub fn sees(&self, partitions: &[String]) -> bool {
        self.is_administrator() || partitions.iter().any(|p| self.partitions.contains(p))
    }

    /// Whether an alarm with these recipients notifies this user, by name or through one of
    /// its groups.
    pub fn is_recipient(&self, recipients: &[Recipient]) -> bool {
        recipients.iter().any(|r| match r {
            Recipient::User(name) => *name == self.user,
            Recipient::Group(name) => self.groups.contains(name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operator(partitions: &[&str]) -> Viewer {
        Viewer {
            user: "olga".into(),
            role: AccessRole::Operator,
            groups: vec!["night shift".into()],
            partitions: partitions.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn an_operator_sees_only_what_shares_a_partition() {
        let olga = operator(&["north"]);
        assert!(olga.sees(&["north".into(), "south".into()]));
        assert!(!olga.sees(&["south".into()]));
        assert!(!olga.sees(&[]));
        assert!(Viewer::administrator("admin").sees(&[]));
    }

    #[test]
    fn a_recipient_is_named_or_in_a_named_group() {
        let olga = operator(&[]);
        assert!(olga.is_recipient(&[Recipient::User("olga".into())]));
        assert!(olga.is_recipient(&[Recipient::Group("night shift".into())]));
        assert!(!olga.is_recipient(&[Recipient::User("oleg".into())]));
        assert!(!olga.is_recipient(&[]));
    }
}
