//! The role's connection settings (the Properties page), kept in the Directory and changed
//! only as a whole after every field has been validated.

use serde::{Deserialize, Serialize};
use store::{Directory, StoreError};

use crate::keys;

/// The settings as shown and as changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSettings {
    /// The proxy's host name or IP address; empty until configured.
    pub host: String,
    pub port: u16,
    /// Whether credentials are synchronized (all of a cardholder's credentials when on).
    pub sync_credentials: bool,
}

/// A change: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    pub host: Option<String>,
    pub port: Option<serde_json::Value>,
    pub sync_credentials: Option<serde_json::Value>,
}

/// A refused value, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidSetting {
    pub field: &'static str,
    pub message: String,
}

/// Why settings could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Invalid(#[from] InvalidSetting),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A host name (RFC 1123 labels) or an IP address.
pub fn validate_host(host: &str) -> Result<String, InvalidSetting> {
    let host = host.trim();
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid_name || host.parse::<std::net::IpAddr>().is_ok() {
        Ok(host.to_owned())
    } else {
        Err(InvalidSetting {
            field: "host",
            message: format!("'{host}' is neither a host name nor an IP address"),
        })
    }
}

/// A TCP port from 1 to 65535, given as a number or a string of digits.
pub fn validate_port(port: &serde_json::Value) -> Result<u16, InvalidSetting> {
    let invalid = || InvalidSetting {
        field: "port",
        message: format!("{port} is not a port number from 1 to 65535"),
    };
    let n = match port {
        serde_json::Value::Number(n) => n.as_u64().ok_or_else(invalid)?,
        serde_json::Value::String(s) => s.trim().parse::<u64>().map_err(|_| invalid())?,
        _ => return Err(invalid()),
    };
    match u16::try_from(n) {
        Ok(p) if p >= 1 => Ok(p),
        _ => Err(invalid()),
    }
}

fn validate_switch(value: &serde_json::Value) -> Result<bool, InvalidSetting> {
    match value {
        serde_json::Value::Bool(b) => Ok(*b),
        serde_json::Value::String(s) if matches!(s.as_str(), "true" | "on" | "yes") => Ok(true),
        serde_json::Value::String(s) if matches!(s.as_str(), "false" | "off" | "no") => Ok(false),
        other => Err(InvalidSetting {
            field: "sync_credentials",
            message: format!("{other} is not on or off (true or false)"),
        }),
    }
}

/// The settings in the Directory.
pub fn read(directory: &dyn Directory) -> Result<RoleSettings, StoreError> {
    Ok(RoleSettings {
        host: directory.config(keys::PROXY_HOST)?.unwrap_or_default(),
        port: directory
            .config(keys::PROXY_PORT)?
            .and_then(|p| p.parse().ok())
            .unwrap_or(protocol::DEFAULT_PORT),
        sync_credentials: directory
            .config(keys::SYNC_CREDENTIALS)?
            .is_none_or(|v| v == "true"),
    })
}

/// Validates every field of `change` first, then applies all of them at once; a bad value
/// changes nothing. Returns the settings now in force.
pub fn apply(
    directory: &dyn Directory,
    change: &SettingsChange,
) -> Result<RoleSettings, SettingsError> {
    let mut values = Vec::new();
    if let Some(host) = &change.host {
        values.push((keys::PROXY_HOST, validate_host(host)?));
    }
    if let Some(port) = &change.port {
        values.push((keys::PROXY_PORT, validate_port(port)?.to_string()));
    }
    if let Some(switch) = &change.sync_credentials {
        values.push((keys::SYNC_CREDENTIALS, validate_switch(switch)?.to_string()));
    }
    directory.set_config(&values)?;
    Ok(read(directory)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hosts_and_ports_are_checked() {
        assert_eq!(
            validate_host(" sipass-01.example.com ").unwrap(),
            "sipass-01.example.com"
        );
        assert_eq!(validate_host("10.0.0.7").unwrap(), "10.0.0.7");
        assert_eq!(validate_host("::1").unwrap(), "::1");
        for bad in ["", "bad host", "-x.example", "a..b", "x_y"] {
            assert_eq!(validate_host(bad).unwrap_err().field, "host", "{bad}");
        }
        assert_eq!(validate_port(&json!(5645)).unwrap(), 5645);
        assert_eq!(validate_port(&json!("65535")).unwrap(), 65535);
        for bad in [
            json!(0),
            json!(65536),
            json!(-1),
            json!("x"),
            json!(1.5),
            json!(null),
        ] {
            assert_eq!(validate_port(&bad).unwrap_err().field, "port", "{bad}");
        }
    }

    #[test]
    fn a_bad_value_changes_nothing() {
        let dir = std::env::temp_dir().join(format!("role-config-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let directory = store::open(&dir.join("directory.db")).unwrap();
        let good = SettingsChange {
            host: Some("proxy.local".into()),
            port: Some(json!(6000)),
            sync_credentials: None,
        };
        apply(&*directory, &good).unwrap();
        let bad = SettingsChange {
            host: Some("other.local".into()),
            port: Some(json!(70000)),
            sync_credentials: None,
        };
        let err = apply(&*directory, &bad).unwrap_err();
        assert!(err.to_string().starts_with("port:"), "{err}");
        let now = read(&*directory).unwrap();
        assert_eq!((now.host.as_str(), now.port), ("proxy.local", 6000));
    }
}
