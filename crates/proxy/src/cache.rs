//! The proxy's copy of SiPass: every entity with the revision of its latest change.
//!
//! A change gets the next revision only when the entity really changed, so a reload or a
//! reconciliation pass that finds nothing new costs the roles nothing.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::RwLock;

use model::{Digest, EntityKind, Revision};

/// One cached SiPass object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedEntity {
    pub revision: Revision,
    pub name: String,
    /// The SiPass object as JSON.
    pub payload: Vec<u8>,
}

/// What a kind looks like right now: its size and digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindSummary {
    pub eligible: u64,
    pub digest: u64,
}

/// The cache, shared by the loader and the gRPC server.
pub struct Cache {
    id: String,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    revision: Revision,
    kinds: HashMap<EntityKind, KindState>,
}

#[derive(Default)]
struct KindState {
    entities: BTreeMap<String, CachedEntity>,
    digest: Digest,
}

impl Cache {
    /// An empty cache with a fresh identity: roles that synchronized from another cache must
    /// list again.
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Cache {
            id: format!("{nanos:x}-{:x}", std::process::id()),
            inner: RwLock::new(Inner::default()),
        }
    }

    /// Identifies this cache's history of revisions.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The latest revision.
    pub fn revision(&self) -> Revision {
        self.read().revision
    }

    /// Stores an entity; returns its new revision, or `None` when nothing changed.
    pub fn upsert(
        &self,
        kind: EntityKind,
        id: &str,
        name: &str,
        payload: Vec<u8>,
    ) -> Option<Revision> {
        let mut inner = self.write();
        let next = inner.revision + 1;
        let state = inner.kinds.entry(kind).or_default();
        match state.entities.get_mut(id) {
            Some(e) if e.payload == payload && e.name == name => return None,
            Some(e) => {
                state.digest.remove(id, e.revision);
                *e = CachedEntity {
                    revision: next,
                    name: name.to_owned(),
                    payload,
                };
            }
            None => {
                state.entities.insert(
                    id.to_owned(),
                    CachedEntity {
                        revision: next,
                        name: name.to_owned(),
                        payload,
                    },
                );
            }
        }
        state.digest.add(id, next);
        inner.revision = next;
        Some(next)
    }

    /// Removes an entity; returns the revision of the deletion, or `None` if it was absent.
    pub fn delete(&self, kind: EntityKind, id: &str) -> Option<Revision> {
        let mut inner = self.write();
        let next = inner.revision + 1;
        let state = inner.kinds.get_mut(&kind)?;
        let old = state.entities.remove(id)?;
        state.digest.remove(id, old.revision);
        inner.revision = next;
        Some(next)
    }

    /// The ids of one kind, for finding what SiPass no longer has.
    pub fn ids(&self, kind: EntityKind) -> Vec<String> {
        self.read()
            .kinds
            .get(&kind)
            .map(|s| s.entities.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Up to `limit` entities of `kind` whose ids sort after `after`, with the kind's count.
    pub fn page(
        &self,
        kind: EntityKind,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<(String, CachedEntity)>, u64) {
        let inner = self.read();
        let Some(state) = inner.kinds.get(&kind) else {
            return (Vec::new(), 0);
        };
        let lower = match after {
            Some(id) => Bound::Excluded(id),
            None => Bound::Unbounded,
        };
        let page = state
            .entities
            .range::<str, _>((lower, Bound::Unbounded))
            .take(limit)
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect();
        (page, state.entities.len() as u64)
    }

    /// Count and digest of one kind.
    pub fn summary(&self, kind: EntityKind) -> KindSummary {
        let inner = self.read();
        inner
            .kinds
            .get(&kind)
            .map(|s| KindSummary {
                eligible: s.entities.len() as u64,
                digest: s.digest.value(),
            })
            .unwrap_or_default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Cache {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_changes_take_a_revision() {
        let cache = Cache::new();
        assert_eq!(
            cache.upsert(EntityKind::Cardholder, "1", "A", b"{}".to_vec()),
            Some(1)
        );
        assert_eq!(
            cache.upsert(EntityKind::Cardholder, "1", "A", b"{}".to_vec()),
            None
        );
        assert_eq!(
            cache.upsert(EntityKind::Cardholder, "1", "B", b"{}".to_vec()),
            Some(2)
        );
        assert_eq!(cache.delete(EntityKind::Cardholder, "1"), Some(3));
        assert_eq!(cache.delete(EntityKind::Cardholder, "1"), None);
        assert_eq!(
            cache.summary(EntityKind::Cardholder),
            KindSummary::default()
        );
    }

    #[test]
    fn pages_continue_after_the_last_id() {
        let cache = Cache::new();
        for id in ["3", "1", "2"] {
            cache.upsert(EntityKind::Cardholder, id, id, Vec::new());
        }
        let (first, total) = cache.page(EntityKind::Cardholder, None, 2);
        assert_eq!(total, 3);
        assert_eq!(
            first.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
            ["1", "2"]
        );
        let (rest, _) = cache.page(EntityKind::Cardholder, Some("2"), 2);
        assert_eq!(rest.len(), 1);
    }
}
