//! The alarm live feed: each alarm change as it is committed, to whoever listens (the REST
//! API's server-sent events, filtered there by what each viewer may see). Bounded per
//! listener like the event feed: one that falls behind is told it lagged.

use std::sync::Arc;

use store::AlarmUpdate;
use tokio::sync::broadcast;

/// Alarm changes buffered per listener.
pub const ALARM_FEED_BUFFER: usize = 1024;

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct AlarmFeed {
    tx: broadcast::Sender<Arc<AlarmUpdate>>,
}

impl Default for AlarmFeed {
    fn default() -> Self {
        AlarmFeed {
            tx: broadcast::channel(ALARM_FEED_BUFFER).0,
        }
    }
}

impl AlarmFeed {
    /// A new listener, from the next change on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AlarmUpdate>> {
        self.tx.subscribe()
    }

    /// Offers a committed change to the listeners (none listening is fine).
    pub fn publish(&self, update: AlarmUpdate) {
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(Arc::new(update));
        }
    }
}
