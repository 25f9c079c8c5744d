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
    /// Every long-running loop of the proxy with its status, for the status API.
    pub workers: runtime::Workers,
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
                    "{why}: units, doors, elevators, areas and alarm classes are not synchronized"
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
