//! SiPass objects to Directory entities (`reference/plugin.md`, entity mapping).

use model::{DirectoryKind, EntityKind};
use protocol::pb;
use store::{SourceChange, SourceEntity};

/// The Directory kinds a SiPass kind becomes: one, or two for a controller (an access
/// control unit and an intrusion detection unit). The first stands for it in counts.
fn directory_kinds(kind: EntityKind) -> Vec<String> {
    DirectoryKind::from_sipass(kind)
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect()
}

/// A listed SiPass object, ready for the Directory. Synced fields are SiPass's attributes.
pub fn from_listing(kind: EntityKind, entity: pb::Entity) -> SourceEntity {
    SourceEntity {
        source_kind: kind.as_str().to_owned(),
        id: entity.id,
        revision: entity.revision,
        name: entity.name,
        fields: String::from_utf8_lossy(&entity.payload).into_owned(),
        kinds: directory_kinds(kind),
    }
}

/// A watched change, ready for the Directory.
pub fn from_change(kind: EntityKind, change: pb::Change) -> SourceChange {
    if change.deleted {
        return SourceChange::Delete {
            source_kind: kind.as_str().to_owned(),
            id: change.id,
            revision: change.revision,
        };
    }
    SourceChange::Upsert(SourceEntity {
        source_kind: kind.as_str().to_owned(),
        id: change.id,
        revision: change.revision,
        name: change.name,
        fields: String::from_utf8_lossy(&change.payload).into_owned(),
        kinds: directory_kinds(kind),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_controller_becomes_two_units_with_one_id() {
        let entity = from_listing(
            EntityKind::Unit,
            pb::Entity {
                kind: pb::EntityKind::Unit as i32,
                id: "5".into(),
                revision: 9,
                name: "ACC 5".into(),
                payload: b"{}".to_vec(),
            },
        );
        assert_eq!(
            entity.kinds,
            ["access-control-unit", "intrusion-detection-unit"]
        );
        assert_eq!((entity.id.as_str(), entity.revision), ("5", 9));
    }

    #[test]
    fn a_deleted_change_becomes_a_deletion_at_its_revision() {
        let change = pb::Change {
            kind: pb::EntityKind::Cardholder as i32,
            id: "7".into(),
            revision: 12,
            deleted: true,
            ..Default::default()
        };
        assert_eq!(
            from_change(EntityKind::Cardholder, change),
            SourceChange::Delete {
                source_kind: "cardholder".into(),
                id: "7".into(),
                revision: 12
            }
        );
    }
}
