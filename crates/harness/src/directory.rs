//! Reading a role's Directory through `store`, as the role itself does: no SQL here.
//!
//! Everything opens the database through [`open`]: read-only, never migrating nor locking,
//! so that it reads beside a running role.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use crate::Result;

/// The kind (SiPass's and the Directory's) of the cardholders read here.
const CARDHOLDER: &str = "cardholder";
/// Rows per read when walking a whole kind.
const PAGE: u32 = 5_000;

/// Opens the Directory in a role's data folder, alongside a running role (SQLite in WAL
/// mode lets a reader in while the role writes).
pub fn open(role_dir: &Path) -> Result<Arc<dyn store::DirectoryRead>> {
    Ok(store::open_read_only(&role::directory_path(role_dir))?)
}

/// Opens the Directory of a role on PostgreSQL (`--database-url`), read-only beside it.
pub fn open_postgres(url: &str) -> Result<Arc<dyn store::DirectoryRead>> {
    Ok(store::open_postgres_read_only(url)?)
}

/// Every cardholder in the Directory in a role's data folder as (id, name).
pub fn cardholders(role_dir: &Path) -> Result<BTreeSet<(String, String)>> {
    cardholders_in(open(role_dir)?.as_ref())
}

/// Every cardholder in `directory` as (id, name), read a page at a time.
pub fn cardholders_in(directory: &dyn store::DirectoryRead) -> Result<BTreeSet<(String, String)>> {
    let mut all = BTreeSet::new();
    let mut after = String::new();
    loop {
        let page = directory.entities(CARDHOLDER, &after, PAGE)?;
        let Some(last) = page.last() else {
            return Ok(all);
        };
        after = last.id.clone();
        all.extend(page.into_iter().map(|row| (row.id, row.name)));
    }
}

/// The name of the cardholder with this id, if the Directory has it.
pub fn cardholder_name(directory: &dyn store::DirectoryRead, id: &str) -> Result<Option<String>> {
    let rows = directory.entity(id)?;
    Ok(rows
        .into_iter()
        .find(|row| row.kind == CARDHOLDER && row.source_kind == CARDHOLDER)
        .map(|row| row.name))
}
