//! The push channel's memory: every message gets the next global sequence number and is
//! kept in a bounded ring, so that a client can resume with `after=<seq>` and learn
//! explicitly (a `gap` message) when what it missed is no longer retained.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use model::management::{Gap, PushType};
use tokio::sync::watch;

/// One push message, its data already serialized (one line of JSON): it is written to every
/// subscriber as is, and `GET Events` copies it into its answer without parsing it again.
pub struct Message {
    pub seq: u64,
    pub kind: PushType,
    pub json: Box<str>,
}

/// What a subscriber reads after its cursor.
pub struct Batch {
    /// Set when messages after the cursor are no longer retained.
    pub gap: Option<Gap>,
    pub messages: Vec<Arc<Message>>,
}

pub struct Hub {
    inner: Mutex<Inner>,
    last: watch::Sender<u64>,
    capacity: usize,
}

struct Inner {
    ring: VecDeque<Arc<Message>>,
    /// Sequence of `ring[0]` (or of the next message when the ring is empty).
    first: u64,
    /// Sequence numbers that are never sent (fault `DropPushSequence`).
    dropped: HashSet<u64>,
}

impl Hub {
    /// A hub retaining the last `capacity` messages (at least one).
    pub fn new(capacity: usize) -> Self {
        Hub {
            inner: Mutex::new(Inner {
                ring: VecDeque::new(),
                first: 1,
                dropped: HashSet::new(),
            }),
            last: watch::channel(0).0,
            capacity: capacity.max(1),
        }
    }

    /// Publishes a message of `kind` whose JSON `make` builds from its sequence number, and
    /// returns that number. Callers publish while holding the site's write lock, so the
    /// order of messages is the order of changes.
    pub fn publish(&self, kind: PushType, make: impl FnOnce(u64) -> String) -> u64 {
        let mut inner = self.lock();
        let seq = inner.first + inner.ring.len() as u64;
        let json = make(seq).into_boxed_str();
        inner.ring.push_back(Arc::new(Message { seq, kind, json }));
        while inner.ring.len() > self.capacity {
            inner.ring.pop_front();
            inner.first += 1;
        }
        drop(inner);
        self.last.send_replace(seq);
        seq
    }

    /// Numbers the messages to come after `base` when none was published yet (a hub in
    /// use keeps its numbers: they are dense).
    pub fn start_after(&self, base: u64) {
        let mut inner = self.lock();
        if inner.ring.is_empty() && inner.first <= base {
            inner.first = base + 1;
            drop(inner);
            self.last.send_replace(base);
        }
    }

    /// The last sequence number handed out (0 before the first).
    pub fn last_sequence(&self) -> u64 {
        *self.last.borrow()
    }

    /// Wakes when a message is published.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.last.subscribe()
    }

    /// Up to `max` retained messages with a sequence above `after`, without the dropped
    /// ones, preceded by a gap when some after `after` are no longer retained.
    pub fn read_after(&self, after: u64, max: usize) -> Batch {
        let inner = self.lock();
        let gap = (after + 1 < inner.first).then(|| Gap {
            from: after + 1,
            to: inner.first - 1,
        });
        let start = after.saturating_sub(inner.first - 1) as usize;
        let messages = inner
            .ring
            .iter()
            .skip(start)
            .filter(|m| !inner.dropped.contains(&m.seq))
            .take(max)
            .cloned()
            .collect();
        Batch { gap, messages }
    }

    /// Up to `limit` retained events with a sequence above `after` (dropped ones included:
    /// the audit trail has them even when the push channel lost them).
    pub fn events_after(&self, after: u64, limit: usize) -> Vec<Arc<Message>> {
        let inner = self.lock();
        let start = after.saturating_sub(inner.first.saturating_sub(1)) as usize;
        inner
            .ring
            .iter()
            .skip(start)
            .filter(|m| m.kind == PushType::Event)
            .take(limit)
            .cloned()
            .collect()
    }

    /// The oldest sequence number still retained.
    pub fn first_retained(&self) -> u64 {
        self.lock().first
    }

    /// Never send message `seq` (fault `DropPushSequence`).
    pub fn drop_sequence(&self, seq: u64) {
        self.lock().dropped.insert(seq);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change to `Inner` is complete before the guard drops; a poisoned lock is
        // still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_numbers_after_its_base_and_a_used_one_keeps_its_numbers() {
        let hub = Hub::new(3);
        hub.start_after(1_000);
        assert_eq!(hub.last_sequence(), 1_000);
        let seq = hub.publish(PushType::Entity, |s| format!("{{\"Sequence\":{s}}}"));
        assert_eq!(seq, 1_001);
        hub.start_after(5);
        let seq = hub.publish(PushType::Entity, |s| format!("{{\"Sequence\":{s}}}"));
        assert_eq!(seq, 1_002, "numbers never go back");
        let seqs: Vec<u64> = hub
            .read_after(0, 10)
            .messages
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(seqs, vec![1_001, 1_002]);
    }

    #[test]
    fn sequences_are_dense_and_old_ones_become_a_gap() {
        let hub = Hub::new(3);
        for _ in 0..5 {
            hub.publish(PushType::Entity, |s| format!("{{\"Sequence\":{s}}}"));
        }
        assert_eq!(hub.last_sequence(), 5);
        let batch = hub.read_after(0, 10);
        assert_eq!(batch.gap, Some(Gap { from: 1, to: 2 }));
        let seqs: Vec<u64> = batch.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![3, 4, 5]);
        assert!(hub.read_after(2, 10).gap.is_none());
        assert_eq!(hub.read_after(4, 10).messages.len(), 1);
        hub.drop_sequence(4);
        let seqs: Vec<u64> = hub
            .read_after(2, 10)
            .messages
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(seqs, vec![3, 5]);
    }
}
