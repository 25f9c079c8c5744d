//! The compatibility report the upgrade procedure starts from: this release's versions, the
//! proxy's and SiPass's as the latest Hello said them, and the rule's verdict. The commercial
//! plugin leaves an administrator to compare release notes and fails silently on a bad pair;
//! here the role says it, with the reason.

use model::version::{PRODUCT_VERSION, PROTOCOL_VERSION, SiPassVersion};
use serde::{Deserialize, Serialize};

use crate::status::{Health, HealthState, ProxyVersions, StatusBoard};

/// Whether this role and its proxy work together now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The pair is supported and connected.
    Supported,
    /// The rule refused the pair.
    Unsupported,
    /// No proxy answers now (none configured, none reachable, or the role deactivated), so
    /// nothing can be confirmed.
    Unreachable,
}

/// The report: `GET /api/v1/version` and `sipass-bridge version`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompatibilityReport {
    /// This release (the role's product version).
    pub product_version: String,
    /// The bridge protocol this release speaks on port 5645.
    pub protocol_version: u32,
    /// The SiPass releases this release supports.
    pub supported_sipass_versions: Vec<String>,
    /// What the proxy said at the latest Hello; null before any proxy answered.
    pub proxy: Option<ProxyVersions>,
    pub verdict: Verdict,
    /// Why, in words an administrator can act on.
    pub reason: String,
}

impl CompatibilityReport {
    /// The report from what the role's status holds now.
    pub fn from_status(status: &StatusBoard) -> Self {
        let connected = status.proxy().connected;
        report(status.proxy_versions(), connected, &status.health())
    }
}

/// The verdict: the rule's refusal wins; a pair accepted earlier but not connected now is
/// unreachable, with the role's health saying why.
fn report(proxy: Option<ProxyVersions>, connected: bool, health: &Health) -> CompatibilityReport {
    let why_not_connected = || {
        let state = match health.state {
            HealthState::NotConfigured => "not configured",
            HealthState::Deactivated => "deactivated",
            _ => "not connected",
        };
        match &health.reason {
            Some(reason) => format!("the role is {state}: {reason}"),
            None => format!("the role is {state}"),
        }
    };
    let (verdict, reason) = match &proxy {
        None => (
            Verdict::Unreachable,
            format!(
                "no proxy has answered yet, so its versions are unknown; {}",
                why_not_connected()
            ),
        ),
        Some(p) if !p.supported => (
            Verdict::Unsupported,
            p.refusal
                .clone()
                .unwrap_or_else(|| "the pair is refused".into()),
        ),
        Some(p) if !connected => (
            Verdict::Unreachable,
            format!(
                "the proxy at {} said version {} with SiPass {} (supported) at {}, but {}",
                p.address,
                p.product_version,
                p.sipass_version,
                p.said_at,
                why_not_connected()
            ),
        ),
        Some(p) => (
            Verdict::Supported,
            format!(
                "role {PRODUCT_VERSION} and proxy {} both speak bridge protocol {PROTOCOL_VERSION}, and SiPass {} is supported",
                p.product_version, p.sipass_version
            ),
        ),
    };
    CompatibilityReport {
        product_version: PRODUCT_VERSION.to_owned(),
        protocol_version: PROTOCOL_VERSION,
        supported_sipass_versions: SiPassVersion::ALL
            .iter()
            .map(|v| v.as_str().to_owned())
            .collect(),
        proxy,
        verdict,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(supported: bool) -> ProxyVersions {
        ProxyVersions {
            address: "proxy.test:5645".into(),
            product_version: "9.9.9".into(),
            protocol_version: PROTOCOL_VERSION,
            sipass_version: "2.80".into(),
            supported,
            refusal: (!supported).then(|| "rule 'same-protocol-version' failed".into()),
            said_at: "2026-12-02T00:00:00.000Z".into(),
        }
    }

    fn health(state: HealthState, reason: &str) -> Health {
        Health {
            state,
            reason: Some(reason.into()),
            retry_in_ms: None,
            lease: None,
        }
    }

    #[test]
    fn the_verdict_says_supported_unsupported_or_unreachable_with_the_reason() {
        let online = health(HealthState::Online, "verified");
        let r = report(Some(said(true)), true, &online);
        assert_eq!(r.verdict, Verdict::Supported);
        assert!(
            r.reason.contains("9.9.9") && r.reason.contains("2.80"),
            "{}",
            r.reason
        );
        assert!(r.supported_sipass_versions.contains(&"2.65".to_owned()));

        let r = report(Some(said(false)), false, &online);
        assert_eq!(r.verdict, Verdict::Unsupported);
        assert!(r.reason.contains("same-protocol-version"), "{}", r.reason);

        let down = health(HealthState::Warning, "connection refused");
        let r = report(Some(said(true)), false, &down);
        assert_eq!(r.verdict, Verdict::Unreachable);
        assert!(r.reason.contains("connection refused"), "{}", r.reason);

        let fresh = health(HealthState::NotConfigured, "no proxy address is set");
        let r = report(None, false, &fresh);
        assert_eq!(r.verdict, Verdict::Unreachable);
        assert!(r.reason.contains("not configured"), "{}", r.reason);
        assert!(r.proxy.is_none());
    }
}
