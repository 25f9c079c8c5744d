//! The Directory as every engine offers it: what is read ([`DirectoryRead`]) and what is
//! written ([`Directory`]), in domain terms only, so that callers never depend on a schema.

use model::{Digest, RunOutcome};

use crate::StoreError;

/// A Directory entity as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRow {
    /// The Directory kind, e.g. "cardholder".
    pub kind: String,
    pub id: String,
    /// The SiPass kind it came from, e.g. "cardholder".
    pub source_kind: String,
    pub revision: u64,
    pub name: String,
    /// The SiPass attributes, as JSON.
    pub fields: String,
}

/// A SiPass object to store: one row per Directory kind it becomes, the first of which
/// stands for it in counts and digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntity {
    pub source_kind: String,
    pub id: String,
    pub revision: u64,
    pub name: String,
    /// The SiPass attributes, as JSON.
    pub fields: String,
    /// The Directory kinds it becomes; never empty.
    pub kinds: Vec<String>,
}

/// A change arriving in real time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChange {
    Upsert(SourceEntity),
    Delete {
        source_kind: String,
        id: String,
        revision: u64,
    },
}

/// Where real-time synchronization stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchPosition {
    pub cache_id: String,
    pub revision: u64,
}

/// Where the listing of one SiPass kind stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPosition {
    pub source_kind: String,
    /// The proxy cache the listing came from; another cache means listing again.
    pub cache_id: String,
    pub generation: i64,
    pub snapshot_revision: u64,
    /// Resumes the listing after the last committed page; empty once complete.
    pub page_token: String,
    pub done: u64,
    pub total: u64,
    pub complete: bool,
}

/// One synchronization, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub id: i64,
    pub trigger: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub outcome: RunOutcome,
    pub error: Option<String>,
}

/// Reading the Directory: all the Config Tool, the verification and a harness watching a
/// running role need. A read-only handle ([`crate::open_read_only`]) offers only this.
pub trait DirectoryRead: Send + Sync {
    /// A configuration value.
    fn config(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Where real-time synchronization stands.
    fn watch_position(&self) -> Result<Option<WatchPosition>, StoreError>;

    /// Where the listing of a SiPass kind stands.
    fn position(&self, source_kind: &str) -> Result<Option<SyncPosition>, StoreError>;

    /// How many entities of a Directory kind there are.
    fn count(&self, kind: &str) -> Result<u64, StoreError>;

    /// The count and digest over (id, revision) of what came from a SiPass kind, to compare
    /// with the proxy's Summary.
    fn digest(&self, source_kind: &str) -> Result<Digest, StoreError>;

    /// Up to `limit` entities of a kind whose ids sort after `after`.
    fn entities(&self, kind: &str, after: &str, limit: u32) -> Result<Vec<EntityRow>, StoreError>;

    /// Up to `limit` entities of a kind whose ids sort after `after` and whose name or id
    /// contains `text` (ASCII letters in any case): the Config Tool's entity search. Reads
    /// the kind in id order until `limit` are found.
    fn search(
        &self,
        kind: &str,
        text: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<EntityRow>, StoreError>;

    /// Every entity of a kind, ordered by id (tests and tools on small Directories; a
    /// large one is read a page at a time with [`DirectoryRead::entities`]).
    fn all_entities(&self, kind: &str) -> Result<Vec<EntityRow>, StoreError>;

    /// Every Directory entity with this id (a controller is two entities with one id).
    fn entity(&self, id: &str) -> Result<Vec<EntityRow>, StoreError>;

    /// The most recent synchronization.
    fn latest_run(&self) -> Result<Option<SyncRun>, StoreError>;

    /// The most recent `limit` synchronizations, newest first (the history).
    fn runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError>;
}

/// The Directory an engine keeps, read and written. Every write is one transaction, so a
/// role killed at any point leaves a Directory it can resume from.
///
/// Bulk loading goes through [`Directory::write_page`]: a page of SiPass objects (thousands)
/// and the listing's position after it, in one transaction. Callers hand over domain rows and
/// never see how they are laid out, so that an engine may change its schema (the
/// performance work will) without changing them.
pub trait Directory: DirectoryRead + crate::AlarmEntities {
    /// Sets configuration values, all or none.
    fn set_config(&self, values: &[(&str, String)]) -> Result<(), StoreError>;

    /// Writes one page of a listing and the position after it in one transaction, so that a
    /// restart resumes exactly after the last page that is in the database.
    fn write_page(&self, page: &[SourceEntity], position: &SyncPosition) -> Result<(), StoreError>;

    /// Ends the listing of a kind: removes what the listing did not see (it no longer exists
    /// in SiPass) and marks the position complete, in one transaction. Returns how many
    /// SiPass objects were removed.
    fn finish_listing(&self, position: &SyncPosition) -> Result<u64, StoreError>;

    /// Applies real-time changes and the watch position after them in one transaction. A
    /// change older than what the Directory holds is skipped, so replaying is harmless.
    /// Returns how many changes were applied.
    fn apply_changes(
        &self,
        changes: &[SourceChange],
        position: &WatchPosition,
    ) -> Result<u64, StoreError>;

    /// Records where real-time synchronization stands (after a full synchronization).
    fn set_watch_position(&self, position: &WatchPosition) -> Result<(), StoreError>;

    /// Removes every entity that came from a SiPass kind, and its position (for example
    /// when credential synchronization is switched off). Returns how many SiPass objects.
    fn remove_source_kind(&self, source_kind: &str) -> Result<u64, StoreError>;

    /// Records the start of a synchronization and returns its id. A run left "running" by a
    /// role that died is marked "interrupted" first.
    fn start_run(&self, trigger: &str) -> Result<i64, StoreError>;

    /// Records the end of a synchronization.
    fn finish_run(
        &self,
        id: i64,
        outcome: RunOutcome,
        error: Option<&str>,
    ) -> Result<(), StoreError>;
}
