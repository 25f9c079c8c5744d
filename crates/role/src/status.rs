//! What the role reports about itself: health with its reason, and synchronization progress.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use model::EntityKind;
use serde::{Deserialize, Serialize};

/// The role's health, each state distinct from the others and always with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// Starting up, not connected yet.
    Starting,
    /// Created with no proxy address (or an unusable one): waiting for the Properties page's
    /// Apply, dialing nowhere meanwhile.
    #[serde(rename = "not_configured")]
    NotConfigured,
    /// Connected, the copy verified equal to the proxy's.
    Online,
    /// A full synchronization is running.
    Synchronizing,
    /// Working but not as it should: disconnected and retrying, versions incompatible,
    /// digests not matching.
    Warning,
    /// Cannot work: a database is unavailable.
    Error,
    /// Stopped on purpose (for a restore or an upgrade): disconnected from the proxy, its
    /// workers stopped, until it is activated.
    Deactivated,
}

/// Health and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub state: HealthState,
    pub reason: Option<String>,
    /// While the role waits to try again (to connect, or for a loading proxy): how long
    /// from when the status was read. Kept apart from `reason` so that no one parses text.
    #[serde(default)]
    pub retry_in_ms: Option<u64>,
    /// On a PostgreSQL database shared by two roles: whether this one is the active one
    /// (holds the database's lease) or a standby, and who holds it. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
}

/// Per SiPass kind: what the proxy says is eligible, and whether the digests agree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Eligibility {
    pub eligible: u64,
    pub digest_match: Option<bool>,
}

/// Progress of a listing, per Directory kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// What the proxy said in Hello.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyInfo {
    pub address: String,
    pub product_version: String,
    pub sipass_version: String,
    pub connected: bool,
    /// What the proxy cannot serve against its SiPass, and why (a real SiPass has no
    /// management API or push channel of the bridge's). Empty when everything is served.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<UnavailableFeature>,
}

/// What the proxy said about its versions at the latest Hello, and the rule's verdict on
/// the pair: kept even when the pair is refused, so that the compatibility report can name
/// the proxy's versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyVersions {
    pub address: String,
    pub product_version: String,
    pub protocol_version: u32,
    pub sipass_version: String,
    /// Whether the rule accepted the pair.
    pub supported: bool,
    /// The rule's refusal, naming both versions and the rule; null when supported.
    pub refusal: Option<String>,
    /// When the proxy said it (RFC 3339).
    pub said_at: String,
}

/// A feature the proxy said is unavailable, with the Directory kinds it would have filled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnavailableFeature {
    pub feature: String,
    /// Directory kind names (e.g. "door"), empty for features that are not kinds.
    pub kinds: Vec<String>,
    pub reason: String,
}

impl UnavailableFeature {
    /// From the proxy's Hello; text is cut to size and made printable (it is shown in the
    /// Config Tool and the CLI), unknown kinds are left out.
    pub fn from_wire(u: &protocol::pb::Unavailable) -> Self {
        let mut kinds: Vec<String> = u
            .kinds
            .iter()
            .filter_map(|k| protocol::kind_from_wire(*k).ok())
            .flat_map(|k| model::DirectoryKind::from_sipass(k).iter())
            .map(|k| k.as_str().to_owned())
            .collect();
        kinds.dedup();
        UnavailableFeature {
            feature: protocol::printable(&u.feature, 64),
            kinds,
            reason: protocol::printable(&u.reason, 512),
        }
    }
}

/// The live state the role's workers write and the Config Tool reads.
pub struct StatusBoard {
    inner: Mutex<Inner>,
}

struct Inner {
    health: Health,
    /// When the role tries again, while it waits; `health.retry_in_ms` is derived from it.
    retry_at: Option<Instant>,
    eligibility: BTreeMap<EntityKind, Eligibility>,
    progress: BTreeMap<EntityKind, Progress>,
    proxy: ProxyInfo,
    transfer: Transfer,
    revisions: Revisions,
    lease: Option<String>,
    versions: Option<ProxyVersions>,
}

/// How far the Directory is behind the proxy's cache while following changes: the
/// real-time synchronization's lag, in revisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revisions {
    /// The revision the Directory holds every change up to (null before following).
    pub applied: Option<u64>,
    /// The proxy's latest revision, as it last said (null before it said).
    pub proxy: Option<u64>,
    /// Revisions the Directory is behind the proxy (null while either is unknown).
    pub behind: Option<u64>,
}

/// Entities received from the proxy since the role started: what a synchronization cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Received by listing (full synchronization).
    pub listed: u64,
    /// Received by watching (real-time synchronization).
    pub watched: u64,
}

impl StatusBoard {
    pub fn new() -> Self {
        StatusBoard {
            inner: Mutex::new(Inner {
                health: Health {
                    state: HealthState::Starting,
                    reason: Some("starting".into()),
                    retry_in_ms: None,
                    lease: None,
                },
                retry_at: None,
                eligibility: BTreeMap::new(),
                progress: BTreeMap::new(),
                proxy: ProxyInfo::default(),
                transfer: Transfer::default(),
                revisions: Revisions::default(),
                lease: None,
                versions: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the health; returns true when it changed, so callers log transitions only.
    pub fn set_health(&self, state: HealthState, reason: impl Into<Option<String>>) -> bool {
        self.set(state, reason.into(), None)
    }

    /// Sets the health of a role that tries again after `retry_in`; returns true when the
    /// state or the reason changed (not the delay), so callers log new reasons only.
    pub fn set_health_retrying(
        &self,
        state: HealthState,
        reason: String,
        retry_in: Duration,
    ) -> bool {
        self.set(state, Some(reason), Some(Instant::now() + retry_in))
    }

    fn set(&self, state: HealthState, reason: Option<String>, retry_at: Option<Instant>) -> bool {
        let health = Health {
            state,
            reason,
            retry_in_ms: None,
            lease: None,
        };
        let mut inner = self.lock();
        let changed = inner.health != health;
        inner.health = health;
        inner.retry_at = retry_at;
        changed
    }

    /// Says whether the role holds the database's lease, and why (see [`Health::lease`]).
    pub fn set_lease(&self, lease: Option<String>) {
        self.lock().lease = lease;
    }

    pub fn health(&self) -> Health {
        let inner = self.lock();
        let mut health = inner.health.clone();
        health.lease = inner.lease.clone();
        // Once the wait is over the role is trying again: no countdown stuck at zero.
        health.retry_in_ms = inner.retry_at.and_then(|at| {
            let left = at.saturating_duration_since(Instant::now());
            (!left.is_zero()).then(|| left.as_millis().max(1) as u64)
        });
        health
    }

    pub fn set_proxy(&self, proxy: ProxyInfo) {
        self.lock().proxy = proxy;
    }

    /// Records the versions of the latest Hello, accepted or refused.
    pub fn set_proxy_versions(&self, versions: ProxyVersions) {
        self.lock().versions = Some(versions);
    }

    /// The versions of the latest Hello; none before a proxy answered one.
    pub fn proxy_versions(&self) -> Option<ProxyVersions> {
        self.lock().versions.clone()
    }

    /// The proxy the connection dials now. Another address than the last one replaces what
    /// that proxy said in Hello, so that the status never names one proxy (with its
    /// versions) while the health says the role cannot reach another.
    pub fn aim_at(&self, address: String) {
        let mut inner = self.lock();
        if inner.proxy.address != address {
            inner.proxy = ProxyInfo {
                address,
                ..ProxyInfo::default()
            };
        }
    }

    pub fn set_connected(&self, connected: bool) {
        self.lock().proxy.connected = connected;
    }

    pub fn proxy(&self) -> ProxyInfo {
        self.lock().proxy.clone()
    }

    /// Sets the verdicts of one verification all at once, so that a reader never sees some
    /// kinds verified and the others not listed yet (and takes that for a verified role).
    pub fn set_eligibility(&self, verdicts: impl IntoIterator<Item = (EntityKind, Eligibility)>) {
        self.lock().eligibility.extend(verdicts);
    }

    /// Forgets a SiPass kind that is no longer synchronized.
    pub fn forget(&self, kind: EntityKind) {
        let mut inner = self.lock();
        inner.eligibility.remove(&kind);
        inner.progress.remove(&kind);
    }

    pub fn eligibility(&self) -> BTreeMap<EntityKind, Eligibility> {
        self.lock().eligibility.clone()
    }

    pub fn set_progress(&self, kind: EntityKind, progress: Progress) {
        self.lock().progress.insert(kind, progress);
    }

    /// Progress per SiPass kind of the latest listing.
    pub fn progress(&self) -> BTreeMap<EntityKind, Progress> {
        self.lock().progress.clone()
    }

    /// Counts entities received by listing and by watching.
    pub fn count_transfer(&self, listed: u64, watched: u64) {
        let mut inner = self.lock();
        inner.transfer.listed += listed;
        inner.transfer.watched += watched;
    }

    pub fn transfer(&self) -> Transfer {
        self.lock().transfer
    }

    /// Records where following changes stands: the Directory holds every change up to
    /// `applied`; the proxy is at `proxy` (0: it did not say; the last known value stays,
    /// raised to `applied`, since the proxy cannot be behind what it sent).
    pub fn note_revisions(&self, applied: u64, proxy: u64) {
        let mut inner = self.lock();
        let known = inner.revisions.proxy.unwrap_or(0);
        let proxy = if proxy == 0 { known } else { proxy }.max(applied);
        inner.revisions = Revisions {
            applied: Some(applied),
            proxy: Some(proxy),
            behind: Some(proxy - applied),
        };
    }

    /// Forgets the lag when the role stops following (disconnected, listing again).
    pub fn clear_revisions(&self) {
        self.lock().revisions = Revisions::default();
    }

    pub fn revisions(&self) -> Revisions {
        self.lock().revisions
    }
}

impl Default for StatusBoard {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_proxy_address_replaces_what_the_last_proxy_said() {
        let board = StatusBoard::new();
        board.set_proxy(ProxyInfo {
            address: "127.0.0.1:43043".into(),
            product_version: "0.1.0".into(),
            sipass_version: "2.80".into(),
            connected: true,
            unavailable: Vec::new(),
        });
        board.set_connected(false);
        board.aim_at("127.0.0.1:43043".into());
        assert_eq!(
            board.proxy().sipass_version,
            "2.80",
            "the same proxy keeps its versions"
        );
        board.aim_at("127.0.0.1:39375".into());
        let proxy = board.proxy();
        assert_eq!(proxy.address, "127.0.0.1:39375");
        assert!(proxy.product_version.is_empty() && proxy.sipass_version.is_empty());
        assert!(!proxy.connected);
    }

    #[test]
    fn the_lag_is_the_proxy_revision_minus_the_applied_one_and_never_negative() {
        let board = StatusBoard::new();
        assert_eq!(board.revisions(), Revisions::default());
        board.note_revisions(10, 25);
        assert_eq!(board.revisions().behind, Some(15));
        // A proxy that does not say keeps the last value it said.
        board.note_revisions(20, 0);
        assert_eq!(
            board.revisions(),
            Revisions {
                applied: Some(20),
                proxy: Some(25),
                behind: Some(5)
            }
        );
        // Nor can the proxy be behind what it sent.
        board.note_revisions(30, 0);
        assert_eq!(board.revisions().behind, Some(0));
        board.clear_revisions();
        assert_eq!(board.revisions(), Revisions::default());
    }
}
