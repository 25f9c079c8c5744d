//! Listed and watched SiPass objects as Directory entities. Which Directory kinds a SiPass
//! kind becomes, and which fields travel, is `model::mapping`; this adapts the protocol's
//! messages to the store's.

use model::EntityKind;
use model::mapping::{directory_fields, directory_kind_names};
use protocol::pb;
use store::{SourceChange, SourceEntity};

/// A listed SiPass object, ready for the Directory.
pub fn from_listing(kind: EntityKind, entity: pb::Entity) -> SourceEntity {
    source_entity(
        kind,
        entity.id,
        entity.revision,
        entity.name,
        entity.payload,
    )
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
    SourceChange::Upsert(source_entity(
        kind,
        change.id,
        change.revision,
        change.name,
        change.payload,
    ))
}

fn source_entity(
    kind: EntityKind,
    id: String,
    revision: u64,
    name: String,
    payload: Vec<u8>,
) -> SourceEntity {
    SourceEntity {
        source_kind: kind.as_str().to_owned(),
        id,
        revision,
        name,
        fields: directory_fields(payload),
        kinds: directory_kind_names(kind),
    }
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
