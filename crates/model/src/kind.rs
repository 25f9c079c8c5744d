//! The kinds of things that travel from SiPass to the Directory.

use std::fmt;
use std::str::FromStr;

/// A kind of SiPass object as the proxy caches and serves it on port 5645.
///
/// Credentials are their own kind even though SiPass nests them inside cardholders: the
/// plugin role can then switch credential synchronization on or off by listing that kind or
/// not, and a changed card does not resend its whole cardholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    Cardholder,
    Credential,
    Workgroup,
    Unit,
    Doorset,
    Bank,
    ApbCluster,
    ApbArea,
    IntrusionArea,
    /// An output point (door lock relay or auxiliary output): what output commands drive.
    Output,
    AlarmClass,
}

impl EntityKind {
    /// Every kind, in the order a full synchronization takes them (groups before members).
    pub const ALL: [EntityKind; 11] = [
        EntityKind::Unit,
        EntityKind::AlarmClass,
        EntityKind::Workgroup,
        EntityKind::Doorset,
        EntityKind::Bank,
        EntityKind::ApbCluster,
        EntityKind::ApbArea,
        EntityKind::IntrusionArea,
        EntityKind::Output,
        EntityKind::Cardholder,
        EntityKind::Credential,
    ];

    /// The stable lower-case name used in URLs, JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Cardholder => "cardholder",
            EntityKind::Credential => "credential",
            EntityKind::Workgroup => "workgroup",
            EntityKind::Unit => "unit",
            EntityKind::Doorset => "doorset",
            EntityKind::Bank => "bank",
            EntityKind::ApbCluster => "apb-cluster",
            EntityKind::ApbArea => "apb-area",
            EntityKind::IntrusionArea => "intrusion-area",
            EntityKind::Output => "output",
            EntityKind::AlarmClass => "alarm-class",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entity kind '{0}'; expected one of: {1}")]
pub struct UnknownKind(pub String, pub &'static str);

impl FromStr for EntityKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                UnknownKind(
                    s.to_owned(),
                    "cardholder, credential, workgroup, unit, doorset, bank, apb-cluster, apb-area, intrusion-area, output, alarm-class",
                )
            })
    }
}

/// A kind of entity in the Directory, named as the security platform names it.
///
/// The mapping from SiPass is not one to one: a controller becomes both an access control
/// unit and an intrusion detection unit, and APB clusters and APB areas both become areas
/// (see [`crate::mapping`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DirectoryKind {
    Cardholder,
    Credential,
    CardholderGroup,
    Door,
    Elevator,
    Area,
    IntrusionDetectionArea,
    AccessControlUnit,
    IntrusionDetectionUnit,
    Output,
    Alarm,
}

impl DirectoryKind {
    /// Every Directory kind.
    pub const ALL: [DirectoryKind; 11] = [
        DirectoryKind::Cardholder,
        DirectoryKind::Credential,
        DirectoryKind::CardholderGroup,
        DirectoryKind::Door,
        DirectoryKind::Elevator,
        DirectoryKind::Area,
        DirectoryKind::IntrusionDetectionArea,
        DirectoryKind::AccessControlUnit,
        DirectoryKind::IntrusionDetectionUnit,
        DirectoryKind::Output,
        DirectoryKind::Alarm,
    ];

    /// The kind a stored name stands for (see [`DirectoryKind::as_str`]).
    pub fn from_name(name: &str) -> Option<DirectoryKind> {
        DirectoryKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The stable lower-case name used in URLs, JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DirectoryKind::Cardholder => "cardholder",
            DirectoryKind::Credential => "credential",
            DirectoryKind::CardholderGroup => "cardholder-group",
            DirectoryKind::Door => "door",
            DirectoryKind::Elevator => "elevator",
            DirectoryKind::Area => "area",
            DirectoryKind::IntrusionDetectionArea => "intrusion-detection-area",
            DirectoryKind::AccessControlUnit => "access-control-unit",
            DirectoryKind::IntrusionDetectionUnit => "intrusion-detection-unit",
            DirectoryKind::Output => "output",
            DirectoryKind::Alarm => "alarm",
        }
    }
}

impl fmt::Display for DirectoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directory_kind_round_trips_through_its_name() {
        for kind in DirectoryKind::ALL {
            assert_eq!(DirectoryKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(DirectoryKind::from_name("Cardholder"), None);
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in EntityKind::ALL {
            assert_eq!(kind.as_str().parse::<EntityKind>(), Ok(kind));
        }
        assert_eq!(
            "CardHolder".parse::<EntityKind>(),
            Ok(EntityKind::Cardholder)
        );
        let err = "door".parse::<EntityKind>().unwrap_err();
        assert!(err.to_string().contains("unknown entity kind 'door'"));
    }
}
