//! Versions and the rule that decides whether a plugin role and a proxy may work together.
//!
//! The commercial plugin fails silently on an incompatible pair; here a refusal always names
//! both sides' versions and the rule that failed.

use std::fmt;
use std::str::FromStr;

/// This build's product version.
pub const PRODUCT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version of the bridge protocol on port 5645 that this build speaks. Bumped whenever a
/// change to `proto/` would make an older peer misunderstand a newer one.
pub const PROTOCOL_VERSION: u32 = 1;

/// A SiPass Integrated release the bridge knows how to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SiPassVersion {
    V2_65,
    V2_70,
    V2_75,
    V2_76,
    V2_80,
}

impl SiPassVersion {
    /// Every supported release, oldest first.
    pub const ALL: [SiPassVersion; 5] = [
        SiPassVersion::V2_65,
        SiPassVersion::V2_70,
        SiPassVersion::V2_75,
        SiPassVersion::V2_76,
        SiPassVersion::V2_80,
    ];

    /// The release as SiPass writes it, e.g. "2.76".
    pub fn as_str(self) -> &'static str {
        match self {
            SiPassVersion::V2_65 => "2.65",
            SiPassVersion::V2_70 => "2.70",
            SiPassVersion::V2_75 => "2.75",
            SiPassVersion::V2_76 => "2.76",
            SiPassVersion::V2_80 => "2.80",
        }
    }
}

impl fmt::Display for SiPassVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SiPass version string that is not a supported release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported SiPass version '{0}'; supported: 2.65, 2.70, 2.75, 2.76, 2.80")]
pub struct UnsupportedSiPassVersion(pub String);

impl FromStr for SiPassVersion {
    type Err = UnsupportedSiPassVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SiPassVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or_else(|| UnsupportedSiPassVersion(s.to_owned()))
    }
}

/// What one side of a connection says about itself in Hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerVersions {
    pub product: String,
    pub protocol: u32,
    /// The SiPass release behind the proxy; empty on the role's side.
    pub sipass: String,
}

impl PeerVersions {
    /// This build, as a role (which has no SiPass version of its own).
    pub fn this_role() -> Self {
        PeerVersions {
            product: PRODUCT_VERSION.to_owned(),
            protocol: PROTOCOL_VERSION,
            sipass: String::new(),
        }
    }
}

/// The outcome of the compatibility rule.
pub type Compatibility = Result<(), Incompatible>;

/// Why a role and a proxy may not work together: names both versions and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Incompatible {
    #[error(
        "incompatible versions: role {role_product} speaks bridge protocol {role_protocol}, proxy {proxy_product} speaks protocol {proxy_protocol}; rule 'same-protocol-version' requires both to speak the same protocol, so upgrade the older side"
    )]
    ProtocolVersion {
        role_product: String,
        role_protocol: u32,
        proxy_product: String,
        proxy_protocol: u32,
    },
    #[error(
        "incompatible versions: role {role_product} does not support SiPass {sipass} reported by proxy {proxy_product}; rule 'supported-sipass-version' requires one of 2.65, 2.70, 2.75, 2.76, 2.80"
    )]
    SiPassVersion {
        role_product: String,
        proxy_product: String,
        sipass: String,
    },
}

/// The compatibility rule, applied by both sides to the same pair so that they agree.
///
/// Product versions may differ as long as the protocol version is the same: that is what lets
/// a proxy be upgraded before its roles, unlike the commercial plugin's lock-step.
pub fn check(role: &PeerVersions, proxy: &PeerVersions) -> Compatibility {
    if role.protocol != proxy.protocol {
        return Err(Incompatible::ProtocolVersion {
            role_product: role.product.clone(),
            role_protocol: role.protocol,
            proxy_product: proxy.product.clone(),
            proxy_protocol: proxy.protocol,
        });
    }
    if proxy.sipass.parse::<SiPassVersion>().is_err() {
        return Err(Incompatible::SiPassVersion {
            role_product: role.product.clone(),
            proxy_product: proxy.product.clone(),
            sipass: proxy.sipass.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(protocol: u32, sipass: &str) -> PeerVersions {
        PeerVersions {
            product: "9.9.9".into(),
            protocol,
            sipass: sipass.into(),
        }
    }

    #[test]
    fn same_protocol_and_known_sipass_is_compatible() {
        assert_eq!(
            check(&PeerVersions::this_role(), &proxy(PROTOCOL_VERSION, "2.80")),
            Ok(())
        );
    }

    #[test]
    fn refusal_names_both_versions_and_the_rule() {
        let err = check(
            &PeerVersions::this_role(),
            &proxy(PROTOCOL_VERSION + 1, "2.80"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(PRODUCT_VERSION) && err.contains("9.9.9"),
            "{err}"
        );
        assert!(err.contains("same-protocol-version"), "{err}");
        let err = check(&PeerVersions::this_role(), &proxy(PROTOCOL_VERSION, "3.10"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("supported-sipass-version") && err.contains("3.10"),
            "{err}"
        );
    }
}
