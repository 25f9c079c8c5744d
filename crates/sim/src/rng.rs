//! The simulator's random numbers: SplitMix64, seeded, so that a site and its changes can
//! be repeated exactly.

/// SplitMix64: tiny, fast and good enough to spread names; no dependency needed.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A generator for item `index` of stream `salt`: independent of the order items are
    /// asked for, which is what lets cardholders be rebuilt one at a time.
    pub fn for_item(seed: u64, salt: u64, index: u64) -> Self {
        let mut mix = Rng(seed ^ salt.wrapping_mul(0xd6e8_feb8_6659_fd93));
        mix.0 ^= index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        mix.next();
        mix
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}
