//! The kinds of object SiPass holds, as push messages and paths name them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Every kind of object the simulator holds, with the name used in push messages
/// (`Kind`) and the collection name used in paths (`Doorsets`, `WorkGroups`).
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
}
