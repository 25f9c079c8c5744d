//! The role's connection settings (the Properties page), kept in the Directory and changed
//! only as a whole after every field has been validated.

use model::access::{Recipient, Viewer};
use model::commands::PulsePattern;
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
    /// The event categories whose events are not stored (counted instead), e.g. "Generic".
    #[serde(default)]
    pub events_not_logged: Vec<String>,
    /// SiPass event types that are never stored (counted instead), e.g. "Door Closed".
    #[serde(default)]
    pub events_ignored: Vec<String>,
    /// The partitions every SiPass entity (and so every event about one) belongs to: an
    /// operator sees the entities when it belongs to one of them (docs/config-tool.md).
    #[serde(default)]
    pub entity_partitions: Vec<String>,
    /// Who a new alarm entity notifies (users and user groups); applied when an alarm class
    /// becomes an alarm entity, never afterwards. Empty: nobody will be notified.
    #[serde(default)]
    pub alarm_recipients: Vec<Recipient>,
    /// The partitions every alarm entity belongs to. Authoritative: changing it reapplies
    /// it to every alarm entity, removing partitions added by hand.
    #[serde(default)]
    pub alarm_partitions: Vec<String>,
    /// Where each alarm change is posted as JSON (http or https); empty: no webhook.
    #[serde(default)]
    pub alarm_webhook_url: String,
    /// The output behaviour each SiPass pulse pattern is linked to, by pattern
    /// (fast-pulse, single-pulse, slow-pulse, toggle): a command may name the behaviour.
    #[serde(default)]
    pub output_behaviours: std::collections::BTreeMap<String, String>,
}

/// A change: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    pub host: Option<String>,
    pub port: Option<serde_json::Value>,
    pub sync_credentials: Option<serde_json::Value>,
    pub events_not_logged: Option<serde_json::Value>,
    pub events_ignored: Option<serde_json::Value>,
    pub entity_partitions: Option<serde_json::Value>,
    pub alarm_recipients: Option<serde_json::Value>,
    pub alarm_partitions: Option<serde_json::Value>,
    pub alarm_webhook_url: Option<String>,
    /// `{"toggle": "SiPass toggle output", ...}`: only the patterns given change.
    pub output_behaviours: Option<serde_json::Value>,
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

/// The event category names, as the switches name them.
pub const EVENT_CATEGORIES: [&str; 11] = [
    "Access",
    "Door",
    "Reader",
    "Unit",
    "Input",
    "IntrusionArea",
    "Apb",
    "Flag",
    "Alarm",
    "Operator",
    "Generic",
];

/// The most event types an ignore list holds, and the longest name in it.
const MAX_IGNORED: usize = 500;
const MAX_TYPE_NAME: usize = 100;

/// A list of strings, given as a JSON array or as one comma-separated string.
fn string_list(
    field: &'static str,
    value: &serde_json::Value,
) -> Result<Vec<String>, InvalidSetting> {
    let items: Vec<String> = match value {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| InvalidSetting {
                    field,
                    message: format!("{v} is not a name (a string)"),
                })
            })
            .collect::<Result<_, _>>()?,
        serde_json::Value::String(s) => s.split(',').map(str::to_owned).collect(),
        other => {
            return Err(InvalidSetting {
                field,
                message: format!("{other} is not a list of names"),
            });
        }
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

/// Category names, each one of [`EVENT_CATEGORIES`] (any case), without repeats.
pub fn validate_categories(value: &serde_json::Value) -> Result<Vec<String>, InvalidSetting> {
    let mut out: Vec<String> = Vec::new();
    for name in string_list("events_not_logged", value)? {
        let known = EVENT_CATEGORIES
            .iter()
            .find(|c| c.eq_ignore_ascii_case(&name))
            .ok_or_else(|| InvalidSetting {
                field: "events_not_logged",
                message: format!(
                    "'{}' is not an event category; the categories are {}",
                    name.escape_debug(),
                    EVENT_CATEGORIES.join(", ")
                ),
            })?;
        if !out.iter().any(|c| c == known) {
            out.push((*known).to_owned());
        }
    }
    Ok(out)
}

/// Event type names to ignore: printable, at most 100 characters each and 500 in all.
/// A name the mapping table does not know is accepted (SiPass may send types we lack).
pub fn validate_ignored(value: &serde_json::Value) -> Result<Vec<String>, InvalidSetting> {
    let invalid = |message: String| InvalidSetting {
        field: "events_ignored",
        message,
    };
    let mut out: Vec<String> = Vec::new();
    for name in string_list("events_ignored", value)? {
        if name.chars().count() > MAX_TYPE_NAME || name.chars().any(char::is_control) {
            return Err(invalid(format!(
                "'{}' is not an event type name (printable, at most {MAX_TYPE_NAME} characters)",
                name.chars()
                    .take(MAX_TYPE_NAME)
                    .collect::<String>()
                    .escape_debug()
            )));
        }
        if !out.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            out.push(name);
        }
    }
    if out.len() > MAX_IGNORED {
        return Err(invalid(format!(
            "{} event types listed; at most {MAX_IGNORED} can be ignored",
            out.len()
        )));
    }
    Ok(out)
}

/// The partition SiPass entities belong to until `entity_partitions` is set.
pub const DEFAULT_ENTITY_PARTITION: &str = "SiPass";

/// Partition names: at least one, printable, 1 to 64 characters each, without repeats.
pub fn validate_entity_partitions(
    value: &serde_json::Value,
) -> Result<Vec<String>, InvalidSetting> {
    let invalid = |message: String| InvalidSetting {
        field: "entity_partitions",
        message,
    };
    let mut out: Vec<String> = Vec::new();
    for name in string_list("entity_partitions", value)? {
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(invalid(format!(
                "'{}' is not a partition name (printable, 1 to 64 characters)",
                name.chars().take(64).collect::<String>().escape_debug()
            )));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    if out.is_empty() {
        return Err(invalid(
            "give at least one partition (e.g. SiPass); an entity in none would be seen by administrators only".into(),
        ));
    }
    Ok(out)
}

/// A stored list, or none when absent or unreadable.
fn stored_list(directory: &dyn Directory, key: &str) -> Result<Vec<String>, StoreError> {
    Ok(directory
        .config(key)?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
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
        events_not_logged: stored_list(directory, keys::EVENTS_NOT_LOGGED)?,
        events_ignored: stored_list(directory, keys::EVENTS_IGNORED)?,
        alarm_recipients: directory
            .config(keys::ALARM_RECIPIENTS)?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default(),
        alarm_partitions: stored_list(directory, keys::ALARM_PARTITIONS)?,
        alarm_webhook_url: directory
            .config(keys::ALARM_WEBHOOK_URL)?
            .unwrap_or_default(),
        output_behaviours: output_behaviours(directory)?
            .into_iter()
            .map(|(p, b)| (p.as_str().to_owned(), b))
            .collect(),
        entity_partitions: entity_partitions(directory)?,
    })
}

/// The partitions SiPass entities belong to.
pub fn entity_partitions(directory: &dyn Directory) -> Result<Vec<String>, StoreError> {
    let list = stored_list(directory, keys::ENTITY_PARTITIONS)?;
    Ok(if list.is_empty() {
        vec![DEFAULT_ENTITY_PARTITION.to_owned()]
    } else {
        list
    })
}

/// Whether `viewer` sees SiPass entities (and their events and commands): an administrator
/// always, an operator when it belongs to one of the entity partitions. The one place that
/// decides it, so that listings, commands and the activity trail cannot disagree.
pub fn sees_entities(directory: &dyn Directory, viewer: &Viewer) -> Result<bool, StoreError> {
    if viewer.is_administrator() {
        return Ok(true);
    }
    Ok(viewer.sees(&entity_partitions(directory)?))
}

/// The longest output behaviour name.
const MAX_BEHAVIOUR_NAME: usize = 100;

/// The Directory key of a pulse pattern's output behaviour.
pub fn behaviour_key(pattern: PulsePattern) -> String {
    format!("{}{}", keys::OUTPUT_BEHAVIOUR_PREFIX, pattern.as_str())
}

/// The output behaviour linked to each pulse pattern (the default when not set).
pub fn output_behaviours(
    directory: &dyn Directory,
) -> Result<Vec<(PulsePattern, String)>, StoreError> {
    PulsePattern::ALL
        .into_iter()
        .map(|p| {
            let stored = directory.config(&behaviour_key(p))?;
            Ok((
                p,
                stored.unwrap_or_else(|| p.default_behaviour().to_owned()),
            ))
        })
        .collect()
}

/// A change of output behaviours, given as `{pattern: behaviour}`: each pattern one of the
/// four, each name printable and at most 100 characters, and no behaviour linked to two
/// patterns once applied over `current` (a "Trigger output" names one behaviour, which must
/// say which pattern).
pub fn validate_behaviours(
    value: &serde_json::Value,
    current: &[(PulsePattern, String)],
) -> Result<Vec<(PulsePattern, String)>, InvalidSetting> {
    let invalid = |message: String| InvalidSetting {
        field: "output_behaviours",
        message,
    };
    let serde_json::Value::Object(map) = value else {
        return Err(invalid(format!(
            "{value} is not a mapping of pulse patterns to output behaviours, e.g. {{\"toggle\": \"SiPass toggle output\"}}"
        )));
    };
    let mut changed = Vec::new();
    for (pattern, behaviour) in map {
        let pattern: PulsePattern = pattern.parse().map_err(|_| {
            invalid(format!(
                "'{}' is not a pulse pattern; the patterns are fast-pulse, single-pulse, slow-pulse and toggle",
                pattern.escape_debug()
            ))
        })?;
        let name = behaviour.as_str().map(str::trim).unwrap_or_default();
        if name.is_empty()
            || name.chars().count() > MAX_BEHAVIOUR_NAME
            || name.chars().any(char::is_control)
        {
            return Err(invalid(format!(
                "{pattern}: {} is not an output behaviour name (printable text, 1 to {MAX_BEHAVIOUR_NAME} characters)",
                behaviour
                    .to_string()
                    .chars()
                    .take(MAX_BEHAVIOUR_NAME)
                    .collect::<String>()
                    .escape_debug()
            )));
        }
        changed.push((pattern, name.to_owned()));
    }
    let mut after: Vec<(PulsePattern, String)> = current.to_vec();
    for (pattern, name) in &changed {
        if let Some(slot) = after.iter_mut().find(|(p, _)| p == pattern) {
            slot.1 = name.clone();
        }
    }
    for (i, (pattern, name)) in after.iter().enumerate() {
        if let Some((other, _)) = after[i + 1..]
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
        {
            return Err(invalid(format!(
                "'{}' would be the output behaviour of both {pattern} and {other}; each pattern needs its own",
                name.escape_debug()
            )));
        }
    }
    Ok(changed)
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
    if let Some(list) = &change.events_not_logged {
        let list = validate_categories(list)?;
        values.push((keys::EVENTS_NOT_LOGGED, json_list(&list)));
    }
    if let Some(list) = &change.events_ignored {
        let list = validate_ignored(list)?;
        values.push((keys::EVENTS_IGNORED, json_list(&list)));
    }
    if let Some(list) = &change.entity_partitions {
        let list = validate_entity_partitions(list)?;
        values.push((keys::ENTITY_PARTITIONS, json_list(&list)));
    }
    if let Some(list) = &change.alarm_recipients {
        let list = validate_recipients(list)?;
        values.push((
            keys::ALARM_RECIPIENTS,
            serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()),
        ));
    }
    if let Some(url) = &change.alarm_webhook_url {
        values.push((keys::ALARM_WEBHOOK_URL, validate_webhook_url(url)?));
    }
    let partitions = match &change.alarm_partitions {
        Some(list) => Some(validate_partitions(list)?),
        None => None,
    };
    let mut behaviours = Vec::new();
    if let Some(value) = &change.output_behaviours {
        behaviours = validate_behaviours(value, &output_behaviours(directory)?)?;
    }
    // Everything is valid: only now is anything written.
    let behaviour_keys: Vec<String> = behaviours.iter().map(|(p, _)| behaviour_key(*p)).collect();
    let mut all: Vec<(&str, String)> = values;
    for ((_, name), key) in behaviours.into_iter().zip(&behaviour_keys) {
        all.push((key.as_str(), name));
    }
    directory.set_config(&all)?;
    if let Some(partitions) = partitions {
        let reapplied = directory.set_alarm_partitions(
            keys::ALARM_PARTITIONS,
            &json_list(&partitions),
            &partitions,
        )?;
        tracing::info!(
            alarm_entities = reapplied,
            "alarm partitions set and reapplied to every alarm entity (partitions added by hand are removed)"
        );
    }
    Ok(read(directory)?)
}

/// The most recipients and partitions a setting lists, and the longest name in it.
const MAX_ALARM_LIST: usize = 500;
const MAX_ALARM_NAME: usize = 100;

/// Recipients: a JSON array of `{"type": "user"|"group", "name": ...}` objects or of
/// "user:NAME" / "group:NAME" strings, or one comma-separated string of the latter. Empty is
/// allowed (nobody will be notified).
pub fn validate_recipients(value: &serde_json::Value) -> Result<Vec<Recipient>, InvalidSetting> {
    const FIELD: &str = "alarm_recipients";
    let invalid = |message: String| InvalidSetting {
        field: FIELD,
        message,
    };
    let items: Vec<serde_json::Value> = match value {
        serde_json::Value::Array(items) => items.clone(),
        serde_json::Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| serde_json::Value::String(s.to_owned()))
            .collect(),
        other => return Err(invalid(format!("{other} is not a list of recipients"))),
    };
    let mut out: Vec<Recipient> = Vec::new();
    for item in items {
        let recipient = match &item {
            serde_json::Value::String(s) => match s.trim().split_once(':') {
                Some(("user", name)) => Recipient::User(name.trim().to_owned()),
                Some(("group", name)) => Recipient::Group(name.trim().to_owned()),
                _ => {
                    return Err(invalid(format!(
                        "'{}' is not a recipient; write user:NAME or group:NAME",
                        s.escape_debug()
                    )));
                }
            },
            other => serde_json::from_value(other.clone()).map_err(|_| {
                invalid(format!(
                    "{other} is not a recipient; give {{\"type\": \"user\" or \"group\", \"name\": ...}}"
                ))
            })?,
        };
        let (Recipient::User(name) | Recipient::Group(name)) = &recipient;
        if name.is_empty()
            || name.chars().count() > MAX_ALARM_NAME
            || name.chars().any(char::is_control)
        {
            return Err(invalid(format!(
                "'{}' is not a user or group name (printable, 1 to {MAX_ALARM_NAME} characters)",
                name.chars()
                    .take(MAX_ALARM_NAME)
                    .collect::<String>()
                    .escape_debug()
            )));
        }
        if !out.contains(&recipient) {
            out.push(recipient);
        }
    }
    if out.len() > MAX_ALARM_LIST {
        return Err(invalid(format!(
            "{} recipients listed; at most {MAX_ALARM_LIST}",
            out.len()
        )));
    }
    Ok(out)
}

/// Partition names, without repeats.
pub fn validate_partitions(value: &serde_json::Value) -> Result<Vec<String>, InvalidSetting> {
    const FIELD: &str = "alarm_partitions";
    let mut out: Vec<String> = Vec::new();
    for name in string_list(FIELD, value)? {
        let name = crate::alarms::validate_partition(FIELD, &name)?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    if out.len() > MAX_ALARM_LIST {
        return Err(InvalidSetting {
            field: FIELD,
            message: format!("{} partitions listed; at most {MAX_ALARM_LIST}", out.len()),
        });
    }
    Ok(out)
}

/// A webhook address: empty (no webhook), or an http:// URL without spaces or control
/// characters, at most 2000 characters. https:// is refused: this build carries no public
/// CA roots to check a receiver's certificate with, and a webhook that silently never
/// delivers would be worse than a refusal.
pub fn validate_webhook_url(url: &str) -> Result<String, InvalidSetting> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(String::new());
    }
    if url.starts_with("https://") {
        return Err(InvalidSetting {
            field: "alarm_webhook_url",
            message: "https:// webhooks are not supported by this release (it carries no public CA roots); use an http:// receiver on a trusted network, e.g. a local relay".into(),
        });
    }
    let rest = url.strip_prefix("http://");
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let ok = url.len() <= 2000
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
        && host.is_some_and(|h| !h.is_empty());
    if ok {
        Ok(url.to_owned())
    } else {
        Err(InvalidSetting {
            field: "alarm_webhook_url",
            message: format!(
                "'{}' is not an http:// address (empty switches the webhook off)",
                url.chars().take(200).collect::<String>().escape_debug()
            ),
        })
    }
}

fn json_list(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
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
            ..SettingsChange::default()
        };
        apply(&*directory, &good).unwrap();
        let bad = SettingsChange {
            host: Some("other.local".into()),
            port: Some(json!(70000)),
            ..SettingsChange::default()
        };
        let err = apply(&*directory, &bad).unwrap_err();
        assert!(err.to_string().starts_with("port:"), "{err}");
        let now = read(&*directory).unwrap();
        assert_eq!((now.host.as_str(), now.port), ("proxy.local", 6000));
    }

    #[test]
    fn event_switches_are_checked_and_kept() {
        assert_eq!(
            validate_categories(&json!(["generic", "Door", "GENERIC"])).unwrap(),
            ["Generic", "Door"]
        );
        assert_eq!(
            validate_categories(&json!("Access, Unit")).unwrap(),
            ["Access", "Unit"]
        );
        let err = validate_categories(&json!(["Doors"])).unwrap_err();
        assert!(err.message.contains("Access, Door"), "{err}");
        assert!(validate_categories(&json!(7)).is_err());
        assert_eq!(
            validate_ignored(&json!(["Door Closed", "door closed", "New Type"])).unwrap(),
            ["Door Closed", "New Type"]
        );
        assert!(validate_ignored(&json!(["a\nb"])).is_err());
        assert!(validate_ignored(&json!(["x".repeat(101)])).is_err());
        let many: Vec<String> = (0..501).map(|i| format!("t{i}")).collect();
        assert!(validate_ignored(&json!(many)).is_err());
    }

    #[test]
    fn output_behaviours_are_checked_and_each_pattern_keeps_its_own() {
        let defaults: Vec<(PulsePattern, String)> = PulsePattern::ALL
            .iter()
            .map(|p| (*p, p.default_behaviour().to_owned()))
            .collect();
        let ok = validate_behaviours(&json!({"toggle": " Relay flip "}), &defaults).unwrap();
        assert_eq!(ok, [(PulsePattern::Toggle, "Relay flip".to_owned())]);
        let unknown = validate_behaviours(&json!({"wiggle": "x"}), &defaults).unwrap_err();
        assert_eq!(unknown.field, "output_behaviours");
        assert!(unknown.message.contains("'wiggle'"), "{unknown}");
        for bad in [
            json!({"toggle": ""}),
            json!({"toggle": 3}),
            json!({"toggle": "a\nb"}),
        ] {
            assert!(validate_behaviours(&bad, &defaults).is_err(), "{bad}");
        }
        let twice =
            validate_behaviours(&json!({"toggle": "SiPass fast pulse"}), &defaults).unwrap_err();
        assert!(
            twice.message.contains("fast-pulse") && twice.message.contains("toggle"),
            "{twice}"
        );
        // Swapping two in one change is fine.
        assert!(
            validate_behaviours(
                &json!({"toggle": "SiPass fast pulse", "fast-pulse": "SiPass toggle output"}),
                &defaults
            )
            .is_ok()
        );
        assert!(validate_behaviours(&json!(["toggle"]), &defaults).is_err());
    }
}
