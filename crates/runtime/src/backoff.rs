//! Waiting between attempts: exponential, capped, with jitter, reset by a success.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// Exponential backoff with "equal jitter": the n-th wait is drawn from
/// `[d/2, d]` where `d = min(max, first * 2^n)`.
///
/// The jitter keeps many roles that lost the same proxy from reconnecting in lockstep. A
/// worker calls [`Backoff::reset`] once an attempt has worked (a session established, a
/// stream that delivered), so that the next failure waits `first` again and not the cap.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    attempt: u32,
    seed: RandomState,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max: max.max(first),
            attempt: 0,
            seed: RandomState::new(),
        }
    }

    /// The wait before the next attempt; each call doubles the ceiling up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .first
            .saturating_mul(1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let spread = (ceiling - half).as_nanos() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            self.seed
                .hash_one((self.attempt, std::time::Instant::now()))
                % (spread + 1)
        };
        half + Duration::from_nanos(jitter)
    }

    /// How many waits since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_with_jitter_and_a_reset_starts_over() {
        let first = Duration::from_millis(100);
        let max = Duration::from_secs(30);
        let mut backoff = Backoff::new(first, max);
        let mut ceiling = first;
        for _ in 0..20 {
            let d = backoff.next_delay();
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{d:?} outside [{:?}, {ceiling:?}]",
                ceiling / 2
            );
            ceiling = (ceiling * 2).min(max);
        }
        assert!(backoff.next_delay() >= max / 2);
        backoff.reset();
        assert!(backoff.next_delay() <= first);
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let mut backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(10));
        let waits: std::collections::BTreeSet<Duration> =
            (0..16).map(|_| backoff.next_delay()).collect();
        assert!(waits.len() > 1, "16 waits all equal: {waits:?}");
    }
}
