//! The cardholder store, compact enough for a million cardholders.
//!
//! A generated cardholder is not stored at all: it is rebuilt from the seed and its token
//! whenever it is asked for (a few microseconds). Only cardholders created or changed
//! through an API are kept whole. Tokens are handed out densely and in increasing order,
//! so one slot per token ever issued, plus a Fenwick tree of live slots, turns
//! `startIndex` paging into an O(log n) rank lookup, even after deletions.

use model::sipass::Cardholder;

use crate::people::Generator;

/// The token of the first cardholder; SiPass hands out small numeric tokens.
pub const FIRST_TOKEN: u64 = 1;

/// What is known about one issued token.
enum Slot {
    Deleted,
    /// Exactly as the generator makes it.
    Generated,
    /// Created or changed since start.
    Stored(Box<Cardholder>),
}

/// Every cardholder, in token order.
pub struct Cardholders {
    generator: Generator,
    slots: Vec<Slot>,
    live: Fenwick,
}

impl Cardholders {
    /// `count` generated cardholders with tokens `FIRST_TOKEN..FIRST_TOKEN + count`.
    pub fn generated(generator: Generator, count: usize) -> Self {
        let mut slots = Vec::with_capacity(count);
        slots.resize_with(count, || Slot::Generated);
        Cardholders {
            generator,
            slots,
            live: Fenwick::all_ones(count),
        }
    }

    /// How many cardholders exist.
    pub fn len(&self) -> usize {
        self.live.total() as usize
    }

    /// The token the next created cardholder gets.
    pub fn next_token(&self) -> u64 {
        FIRST_TOKEN + self.slots.len() as u64
    }

    /// The cardholder with `token`, rebuilt when generated.
    pub fn get(&self, token: u64) -> Option<Cardholder> {
        match self.slots.get(index_of(token)?)? {
            Slot::Deleted => None,
            Slot::Generated => Some(self.generator.cardholder(token)),
            Slot::Stored(c) => Some((**c).clone()),
        }
    }

    /// True when a cardholder has `token`.
    pub fn exists(&self, token: u64) -> bool {
        index_of(token)
            .and_then(|i| self.slots.get(i))
            .is_some_and(|s| !matches!(s, Slot::Deleted))
    }

    /// First and last name, without building the whole cardholder: searching and sorting a
    /// million cardholders must not allocate a million of them.
    pub fn names(&self, token: u64) -> Option<(String, String)> {
        match self.slots.get(index_of(token)?)? {
            Slot::Deleted => None,
            Slot::Generated => {
                let (f, l) = self.generator.names(token);
                Some((f.to_owned(), l.to_owned()))
            }
            Slot::Stored(c) => Some((c.first_name.clone(), c.last_name.clone())),
        }
    }

    /// The tokens of the live cardholders at positions `start..end` (clamped), in order.
    pub fn page(&self, start: usize, end: usize) -> Vec<u64> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        let Some(first) = self.live.nth(start as u32) else {
            return Vec::new();
        };
        let mut tokens = Vec::with_capacity(end - start);
        for (i, slot) in self.slots.iter().enumerate().skip(first) {
            if tokens.len() == end - start {
                break;
            }
            if !matches!(slot, Slot::Deleted) {
                tokens.push(token_of(i));
            }
        }
        tokens
    }

    /// Every live token, in order (for searches and sorts).
    pub fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !matches!(s, Slot::Deleted))
            .map(|(i, _)| token_of(i))
    }

    /// The token of the live cardholder at position `rank`.
    pub fn token_at(&self, rank: usize) -> Option<u64> {
        self.live.nth(u32::try_from(rank).ok()?).map(token_of)
    }

    /// Adds a cardholder under the next token, which it returns.
    pub fn create(&mut self, mut cardholder: Cardholder) -> u64 {
        let token = self.next_token();
        cardholder.token = token.to_string();
        self.slots.push(Slot::Stored(Box::new(cardholder)));
        self.live.push(1);
        token
    }

    /// Replaces a cardholder; false when none has `token`.
    pub fn update(&mut self, token: u64, mut cardholder: Cardholder) -> bool {
        let Some(slot) = index_of(token).and_then(|i| self.slots.get_mut(i)) else {
            return false;
        };
        if matches!(slot, Slot::Deleted) {
            return false;
        }
        cardholder.token = token.to_string();
        *slot = Slot::Stored(Box::new(cardholder));
        true
    }

    /// Deletes a cardholder; false when none has `token`.
    pub fn delete(&mut self, token: u64) -> bool {
        let Some(i) = index_of(token).filter(|&i| i < self.slots.len()) else {
            return false;
        };
        if matches!(self.slots[i], Slot::Deleted) {
            return false;
        }
        self.slots[i] = Slot::Deleted;
        self.live.add(i, -1);
        true
    }
}

fn index_of(token: u64) -> Option<usize> {
    usize::try_from(token.checked_sub(FIRST_TOKEN)?).ok()
}

fn token_of(index: usize) -> u64 {
    FIRST_TOKEN + index as u64
}

/// A Fenwick (binary indexed) tree of 0/1 counts: prefix sums and "k-th live slot" in
/// O(log n), growable at the end.
struct Fenwick {
    /// 1-based: `tree[0]` is unused.
    tree: Vec<u32>,
}

impl Fenwick {
    fn all_ones(n: usize) -> Self {
        let mut tree = vec![0u32; n + 1];
        for (i, node) in tree.iter_mut().enumerate().skip(1) {
            // A node covers `lowbit(i)` slots, every one live.
            *node = (i & i.wrapping_neg()) as u32;
        }
        Fenwick { tree }
    }

    fn len(&self) -> usize {
        self.tree.len() - 1
    }

    fn prefix(&self, mut i: usize) -> u32 {
        let mut sum = 0;
        while i > 0 {
            sum += self.tree[i];
            i &= i - 1;
        }
        sum
    }

    fn total(&self) -> u32 {
        self.prefix(self.len())
    }

    /// Adds `delta` at 0-based `index`.
    fn add(&mut self, index: usize, delta: i32) {
        let mut i = index + 1;
        while i <= self.len() {
            self.tree[i] = self.tree[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// Appends a slot holding `value`.
    fn push(&mut self, value: u32) {
        let i = self.len() + 1;
        let covered_from = i - (i & i.wrapping_neg());
        let node = self.prefix(i - 1) - self.prefix(covered_from) + value;
        self.tree.push(node);
    }

    /// The 0-based index of the slot holding the `k`-th (0-based) one.
    fn nth(&self, k: u32) -> Option<usize> {
        if k >= self.total() {
            return None;
        }
        let mut pos = 0;
        let mut remaining = k + 1;
        let mut step = self.len().next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= self.len() && self.tree[next] < remaining {
                pos = next;
                remaining -= self.tree[next];
            }
            step >>= 1;
        }
        Some(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenwick_finds_the_kth_live_slot_after_deletes_and_pushes() {
        let mut f = Fenwick::all_ones(10);
        assert_eq!(f.nth(0), Some(0));
        assert_eq!(f.nth(9), Some(9));
        assert_eq!(f.nth(10), None);
        f.add(0, -1);
        f.add(5, -1);
        assert_eq!(f.total(), 8);
        assert_eq!(f.nth(0), Some(1));
        assert_eq!(f.nth(4), Some(6));
        for _ in 0..7 {
            f.push(1);
        }
        assert_eq!(f.total(), 15);
        assert_eq!(f.nth(14), Some(16));
        f.add(16, -1);
        assert_eq!(f.nth(14), None);
        assert_eq!(f.nth(13), Some(15));
    }
}
