//! SiPass objects to Directory entities (`reference/plugin.md`, entity mapping).

use model::{DirectoryKind, EntityKind};
use protocol::pb;
use store::EntityRow;

/// The Directory rows one SiPass object becomes: one, or two for a controller (an access
/// control unit and an intrusion detection unit). Synced fields are SiPass's attributes.
pub fn to_rows(kind: EntityKind, entity: pb::Entity) -> Vec<EntityRow> {
    let fields = String::from_utf8_lossy(&entity.payload).into_owned();
    DirectoryKind::from_sipass(kind)
        .iter()
        .map(|dk| EntityRow {
            kind: dk.as_str().to_owned(),
            id: entity.id.clone(),
            source_kind: kind.as_str().to_owned(),
            revision: entity.revision,
            name: entity.name.clone(),
            fields: fields.clone(),
        })
        .collect()
}

/// The Directory kind whose rows stand for a SiPass kind in counts and digests.
pub fn primary(kind: EntityKind) -> DirectoryKind {
    DirectoryKind::from_sipass(kind)[0]
}

/// How many Directory rows one SiPass object of this kind becomes.
pub fn rows_per_entity(kind: EntityKind) -> usize {
    DirectoryKind::from_sipass(kind).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_controller_becomes_two_units_with_one_id() {
        let rows = to_rows(
            EntityKind::Unit,
            pb::Entity {
                kind: pb::EntityKind::Unit as i32,
                id: "5".into(),
                revision: 9,
                name: "ACC 5".into(),
                payload: b"{}".to_vec(),
            },
        );
        let kinds: Vec<_> = rows.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["access-control-unit", "intrusion-detection-unit"]);
        assert!(rows.iter().all(|r| r.id == "5" && r.revision == 9));
    }
}
