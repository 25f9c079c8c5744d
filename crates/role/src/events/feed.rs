//! The live feed: each event as it is stored, to whoever listens (the REST API's
//! server-sent events). Each listener has a bounded buffer; one that falls behind by more
//! than [`FEED_BUFFER`] events is told it lagged and is dropped by its reader, so a slow
//! client never makes the role hold more memory.

use std::sync::Arc;

use store::StoredEvent;
use tokio::sync::broadcast;

/// Events buffered per listener.
pub const FEED_BUFFER: usize = 1024;

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct EventFeed {
    tx: broadcast::Sender<Arc<StoredEvent>>,
}

impl Default for EventFeed {
    fn default() -> Self {
        EventFeed {
            tx: broadcast::channel(FEED_BUFFER).0,
        }
    }
}

impl EventFeed {
    /// A new listener, from the next event on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.tx.subscribe()
    }

    /// Offers a stored event to the listeners (none listening is fine).
    pub fn publish(&self, event: StoredEvent) {
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(Arc::new(event));
        }
    }
}
