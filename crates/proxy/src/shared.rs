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
