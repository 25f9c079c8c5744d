//! Deep verification: each SiPass kind's count and digest recomputed from the Directory's rows
//! themselves, and compared with the count and digest the Directory keeps.
//!
//! Everyday verification compares the kept digest with the proxy's, which is cheap but trusts
//! the Directory's own bookkeeping: a damaged or hand-edited Directory can keep a digest that
//! its rows no longer add up to. Reading every row finds that.

use serde::{Deserialize, Serialize};

use model::digest::Digest;
use model::{DirectoryKind, EntityKind};
use store::{DirectoryRead, StoreError};

/// Rows read per page while recomputing.
const PAGE: u32 = 5_000;

/// One SiPass kind, recomputed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeepVerdict {
    /// The SiPass kind, e.g. "cardholder".
    pub kind: String,
    /// What the Directory keeps.
    pub kept_count: u64,
    pub kept_digest: u64,
    /// What its rows add up to.
    pub rows_count: u64,
    pub rows_digest: u64,
    /// True when both agree.
    pub consistent: bool,
}

/// Recomputes every SiPass kind's count and digest from the rows of `directory`.
pub fn verify_deep(directory: &dyn DirectoryRead) -> Result<Vec<DeepVerdict>, StoreError> {
    EntityKind::ALL
        .into_iter()
        .map(|kind| verify_kind(directory, kind))
        .collect()
}

/// One kind: its entities are counted once, in the first Directory kind they become (the
/// one that stands for them in counts and digests).
fn verify_kind(directory: &dyn DirectoryRead, kind: EntityKind) -> Result<DeepVerdict, StoreError> {
    let source_kind = kind.as_str();
    let kept = directory.digest(source_kind)?;
    let mut rows = Digest::default();
    if let Some(first) = DirectoryKind::from_sipass(kind).first() {
        let mut after = String::new();
        loop {
            let page = directory.entities(first.as_str(), &after, PAGE)?;
            for row in page.iter().filter(|r| r.source_kind == source_kind) {
                rows.add(&row.id, row.revision);
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = last.id.clone(),
                _ => break,
            }
        }
    }
    Ok(DeepVerdict {
        kind: source_kind.to_owned(),
        kept_count: kept.count(),
        kept_digest: kept.value(),
        rows_count: rows.count(),
        rows_digest: rows.value(),
        consistent: kept == rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{SourceEntity, SyncPosition};

    fn cardholder(id: &str, revision: u64) -> SourceEntity {
        SourceEntity {
            source_kind: "cardholder".into(),
            id: id.into(),
            revision,
            name: format!("Card Holder {id}"),
            fields: "{}".into(),
            kinds: vec!["cardholder".into()],
        }
    }

    #[test]
    fn rows_that_no_longer_add_up_to_the_kept_digest_are_found() {
        let dir = std::env::temp_dir().join(format!("verify-deep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("directory.db");
        let directory = store::open(&path).unwrap();
        let page: Vec<SourceEntity> = (1..=12).map(|i| cardholder(&i.to_string(), 7)).collect();
        let position = SyncPosition {
            source_kind: "cardholder".into(),
            cache_id: "cache".into(),
            generation: 1,
            snapshot_revision: 7,
            page_token: String::new(),
            done: 12,
            total: 12,
            complete: true,
        };
        directory.write_page(&page, &position).unwrap();
        let verdicts = verify_deep(&*directory).unwrap();
        let cardholders = verdicts.iter().find(|v| v.kind == "cardholder").unwrap();
        assert!(cardholders.consistent, "{cardholders:?}");
        assert_eq!(cardholders.rows_count, 12);
        assert!(verdicts.iter().all(|v| v.consistent), "{verdicts:?}");

        // A row changed behind the Directory's back: the kept digest no longer says so.
        drop(directory);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let changed = conn
            .execute(
                "UPDATE entities SET revision = revision + 1 WHERE id = '5'",
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
        drop(conn);
        let directory = store::open(&path).unwrap();
        let verdicts = verify_deep(&*directory).unwrap();
        let cardholders = verdicts.iter().find(|v| v.kind == "cardholder").unwrap();
        assert!(!cardholders.consistent, "{cardholders:?}");
        assert_eq!(cardholders.kept_count, cardholders.rows_count);
    }
}
