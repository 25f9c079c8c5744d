//! The simulated site: SiPass's objects, held in memory.

use std::sync::RwLock;

use model::SiPassVersion;
use model::sipass::Cardholder;

use crate::generate::{self, SiteSpec};

/// Everything the simulated SiPass server knows. Shared by the HTTP handlers.
pub struct Site {
    version: SiPassVersion,
    inner: RwLock<Inner>,
}

struct Inner {
    /// Sorted by numeric token: tokens are handed out in increasing order, so creating
    /// appends, and `startIndex` paging is a slice.
    cardholders: Vec<Cardholder>,
    next_token: u64,
}

impl Site {
    /// Generates the site described by `spec`, deterministically.
    pub fn generate(spec: &SiteSpec, version: SiPassVersion) -> Self {
        let cardholders = generate::cardholders(spec, version);
        let next_token = cardholders.len() as u64 + generate::FIRST_CARDHOLDER_TOKEN;
        Site {
            version,
            inner: RwLock::new(Inner {
                cardholders,
                next_token,
            }),
        }
    }

    /// The SiPass release this site pretends to be.
    pub fn version(&self) -> SiPassVersion {
        self.version
    }

    /// How many cardholders exist.
    pub fn cardholder_count(&self) -> usize {
        self.read().cardholders.len()
    }

    /// Calls `f` on the cardholders at positions `start..end` (clamped), and returns the
    /// total count, all under one consistent view.
    pub fn with_cardholder_page<R>(
        &self,
        start: usize,
        end: usize,
        f: impl FnOnce(&[Cardholder]) -> R,
    ) -> (R, usize) {
        let inner = self.read();
        let total = inner.cardholders.len();
        let (start, end) = (start.min(total), end.min(total));
        (f(&inner.cardholders[start..end.max(start)]), total)
    }

    /// One cardholder by token.
    pub fn cardholder(&self, token: &str) -> Option<Cardholder> {
        let inner = self.read();
        position(&inner.cardholders, token).map(|i| inner.cardholders[i].clone())
    }

    /// Adds a cardholder, giving it the next token, which it returns.
    pub fn create_cardholder(&self, mut cardholder: Cardholder) -> String {
        let mut inner = self.write();
        let token = inner.next_token.to_string();
        inner.next_token += 1;
        cardholder.token = token.clone();
        inner.cardholders.push(cardholder);
        token
    }

    /// Replaces a cardholder; false when no cardholder has that token.
    pub fn update_cardholder(&self, token: &str, mut cardholder: Cardholder) -> bool {
        let mut inner = self.write();
        match position(&inner.cardholders, token) {
            Some(i) => {
                cardholder.token = token.to_owned();
                inner.cardholders[i] = cardholder;
                true
            }
            None => false,
        }
    }

    /// Deletes a cardholder; false when no cardholder has that token.
    pub fn delete_cardholder(&self, token: &str) -> bool {
        let mut inner = self.write();
        match position(&inner.cardholders, token) {
            Some(i) => {
                inner.cardholders.remove(i);
                true
            }
            None => false,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied change (every write is
        // a single Vec operation), so a poisoned lock is still consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Binary search by numeric token; a token that is not a number matches nothing.
fn position(cardholders: &[Cardholder], token: &str) -> Option<usize> {
    let wanted: u64 = token.trim().parse().ok()?;
    cardholders
        .binary_search_by_key(&wanted, |c| c.token.parse::<u64>().unwrap_or(u64::MAX))
        .ok()
}
