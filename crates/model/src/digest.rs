//! An order-independent digest over (id, revision) pairs.
//!
//! The proxy and the plugin role each compute it over their copy of one kind; equal digests
//! and equal counts prove the copies hold the same entities at the same revisions, without
//! sending the entities. Being a sum, it is updated in O(1) per change and needs no sorting.

/// Running digest of a set of (id, revision) pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest {
    sum: u64,
    count: u64,
}

impl Digest {
    /// Adds one entity to the set.
    pub fn add(&mut self, id: &str, revision: u64) {
        self.sum = self.sum.wrapping_add(pair_hash(id, revision));
        self.count += 1;
    }

    /// Removes one entity that was added before.
    pub fn remove(&mut self, id: &str, revision: u64) {
        self.sum = self.sum.wrapping_sub(pair_hash(id, revision));
        self.count = self.count.saturating_sub(1);
    }

    /// A digest read back from storage.
    pub fn from_parts(value: u64, count: u64) -> Self {
        Digest { sum: value, count }
    }

    /// The digest value, as sent on the wire.
    pub fn value(&self) -> u64 {
        self.sum
    }

    /// How many entities were added.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// FNV-1a over the id and revision, then a SplitMix64 finaliser so that sums of nearby
/// values do not cancel out.
fn pair_hash(id: &str, revision: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id
        .as_bytes()
        .iter()
        .chain(&[0xff])
        .chain(&revision.to_le_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter_but_revisions_do() {
        let mut a = Digest::default();
        a.add("1", 5);
        a.add("2", 7);
        let mut b = Digest::default();
        b.add("2", 7);
        b.add("1", 5);
        assert_eq!(a, b);
        let mut c = Digest::default();
        c.add("1", 5);
        c.add("2", 8);
        assert_ne!(a.value(), c.value());
    }

    #[test]
    fn remove_undoes_add() {
        let mut a = Digest::default();
        a.add("1", 5);
        let before = a;
        a.add("9", 1);
        a.remove("9", 1);
        assert_eq!(a, before);
    }
}
