//! Events put back into the plugin database from an export (CSV), whatever the engine:
//! without duplicates, and without moving where reading the proxy's journal stands.

use std::collections::HashSet;

use crate::{NewEvent, StoreError};

/// The journal identity imported events are stored under: they did not come from the
/// proxy's journal this time, and the position in that journal must not move.
pub const IMPORT_JOURNAL: &str = "import";

/// Importing events into the plugin database.
pub trait EventImport {
    /// SiPass's event ids of every stored event: an event whose id is here is skipped.
    fn stored_sipass_ids(&self) -> Result<HashSet<String>, StoreError>;

    /// Stores `events` in one transaction under [`IMPORT_JOURNAL`] (their journal sequence
    /// kept), leaving the journal position and the counters alone. Returns, per event,
    /// whether it was stored (false: an imported event already holds that sequence).
    fn import_events(&self, events: &[NewEvent]) -> Result<Vec<bool>, StoreError>;
}
