//! The state every part of a running proxy shares: the cache, the journal, the SiPass
//! client, the loading progress and the workers' statuses.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use model::management::ObjectKind;
use model::mapping::SERVED_OBJECTS;
use model::version::{PRODUCT_VERSION, PROTOCOL_VERSION, PeerVersions};
use model::{EntityKind, SiPassVersion};
use protocol::pb;
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
    /// Wakes those who wait for `loaded` to turn true (the health service).
    pub loaded_now: tokio::sync::Notify,
    /// Every long-running loop of the proxy with its status, for the status API.
    pub workers: runtime::Workers,
    /// The connections open on port 5645, by stage.
    pub connections: crate::listener::Connections,
    /// The Watch and Events streams open at once.
    pub streams: StreamCaps,
    pub(crate) sipass_version: SiPassVersion,
    /// True once SiPass answered that it has no push channel (a real SiPass): changes are
    /// then found by reconciliation alone, every `reload_without_push`.
    pub push_missing: AtomicBool,
    /// How often SiPass is read again when it has no push channel.
    pub reload_without_push: Duration,
}

impl Shared {
    /// The kinds served from the management API (ours), which a real SiPass does not have.
    fn management_kinds() -> Vec<EntityKind> {
        SERVED_OBJECTS
            .iter()
            .filter(|(o, _)| !o.served_by_hr_api() && *o != ObjectKind::Cardholder)
            .map(|(_, k)| *k)
            .collect()
    }

    /// What this proxy cannot serve, and why, as it tells roles in Hello: nothing against
    /// the simulator; devices, events, alarms and commands against a SiPass without our
    /// management API and push channel (a real one).
    pub fn unavailable(&self) -> Vec<pb::Unavailable> {
        let mut out = Vec::new();
        let unavailable = |feature: &str, kinds: &[EntityKind], reason: String| pb::Unavailable {
            feature: feature.to_owned(),
            kinds: kinds
                .iter()
                .map(|k| protocol::kind_to_wire(*k) as i32)
                .collect(),
            reason,
        };
        if self.progress.management_missing.load(Ordering::Relaxed) {
            let why = "SiPass has no management API of the bridge's (it answered 404); a real \
                SiPass publishes devices, events and alarms only through its Management \
                Station API, which the bridge does not speak yet";
            out.push(unavailable(
                "devices",
                &Self::management_kinds(),
                format!(
                    "{why}: units, doors, elevators, areas, outputs and alarm classes are not synchronized"
                ),
            ));
            out.push(unavailable(
                "commands",
                &[],
                format!("{why}: manual overrides cannot be sent"),
            ));
        }
        if self.push_missing.load(Ordering::Relaxed) {
            out.push(unavailable(
                "push channel",
                &[],
                format!(
                    "SiPass has no push channel (it answered 404): changes are found by reading SiPass's HR API again every {} s",
                    self.reload_without_push.as_secs()
                ),
            ));
            out.push(unavailable(
                "events",
                &[],
                "SiPass has no push channel and its HR API has no audit trail: access and device events are not received".to_owned(),
            ));
            out.push(unavailable(
                "alarms",
                &[],
                "SiPass has no push channel and its HR API has no alarms: alarms are not received or acknowledged".to_owned(),
            ));
        }
        out
    }

    /// The kinds served now: every kind but those [`Shared::unavailable`] names.
    pub fn available_kinds(&self) -> Vec<EntityKind> {
        let missing: Vec<EntityKind> = if self.progress.management_missing.load(Ordering::Relaxed) {
            Self::management_kinds()
        } else {
            Vec::new()
        };
        EntityKind::ALL
            .into_iter()
            .filter(|k| !missing.contains(k))
            .collect()
    }

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
