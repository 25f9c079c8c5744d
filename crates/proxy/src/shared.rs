//! The state every part of a running proxy shares: the cache, the journal, the SiPass
//! client, the loading progress and the workers' statuses.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use model::SiPassVersion;
use model::version::{PRODUCT_VERSION, PROTOCOL_VERSION, PeerVersions};
use sipass_client::HrClient;

use crate::cache::Cache;
use crate::journal::Journal;
use crate::loader::LoadProgress;

/// State shared by the workers and the gRPC service.
pub struct Shared {
    pub cache: Arc<Cache>,
    pub journal: Arc<Journal>,
    pub client: Arc<HrClient>,
    /// Wakes the reconciliation worker for a pass now (after a missed push message).
    pub reconcile: tokio::sync::Notify,
    pub progress: LoadProgress,
    /// True once SiPass has been read completely at least once.
    pub loaded: AtomicBool,
    /// Every long-running loop of the proxy with its status, for the status API.
    pub workers: runtime::Workers,
    /// The connections open on port 5645, by stage.
    pub connections: crate::listener::Connections,
    /// The Watch and Events streams open at once.
    pub streams: StreamCaps,
    pub(crate) sipass_version: SiPassVersion,
}

impl Shared {
    /// What this proxy tells a role in Hello.
    pub(crate) fn versions(&self) -> PeerVersions {
        PeerVersions {
            product: PRODUCT_VERSION.to_owned(),
            protocol: PROTOCOL_VERSION,
            sipass: self.sipass_version.to_string(),
        }
    }
}

/// How many Watch and Events streams may be open at once. Each role holds one of each, so a
/// few roles and tools fit easily, while a token holder cannot open hundreds, each holding
/// buffers and a database reader.
pub struct StreamCaps {
    pub watch: Arc<tokio::sync::Semaphore>,
    pub events: Arc<tokio::sync::Semaphore>,
    pub max: usize,
}

impl StreamCaps {
    /// The cap when the operator does not set one.
    pub const DEFAULT: usize = 64;

    pub fn new(max: usize) -> Self {
        StreamCaps {
            watch: Arc::new(tokio::sync::Semaphore::new(max)),
            events: Arc::new(tokio::sync::Semaphore::new(max)),
            max,
        }
    }

    /// A place for one more stream of `call`, or RESOURCE_EXHAUSTED naming the cap.
    pub(crate) fn admit(
        &self,
        call: &str,
        places: &Arc<tokio::sync::Semaphore>,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, tonic::Status> {
        places.clone().try_acquire_owned().map_err(|_| {
            tonic::Status::resource_exhausted(format!(
                "the proxy already serves {} {call} streams, its limit; close the streams you do not read (each role needs one)",
                self.max
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_beyond_the_cap_are_refused_naming_it_until_one_ends() {
        let caps = StreamCaps::new(2);
        let first = caps.admit("Watch", &caps.watch).unwrap();
        let _second = caps.admit("Watch", &caps.watch).unwrap();
        let refused = caps.admit("Watch", &caps.watch).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("2 Watch streams"), "{refused}");
        assert!(
            caps.admit("Events", &caps.events).is_ok(),
            "each call has its own cap"
        );
        drop(first);
        assert!(caps.admit("Watch", &caps.watch).is_ok());
    }
}
