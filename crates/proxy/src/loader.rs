//! Reads SiPass into the cache.
//!
//! SiPass nests credentials inside cardholders; the loader splits them out into their own
//! kind so that a changed card does not resend its cardholder, and so that a role can leave
//! credentials out.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use model::EntityKind;
use model::sipass::{Cardholder, display_name};
use serde_json::{Map, Value};
use sipass_client::{HrClient, SiPassError};

use crate::cache::Cache;

/// Cardholders asked for per HR API call.
const PAGE: usize = 1000;

/// How far a load has got, readable while it runs.
#[derive(Default)]
pub struct LoadProgress {
    pub loaded: AtomicU64,
    pub total: AtomicU64,
}

/// What one pass changed in the cache.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoadStats {
    pub seen: u64,
    pub changed: u64,
    pub deleted: u64,
}

/// Reads every cardholder (and its credentials) from SiPass, stores what changed and deletes
/// what SiPass no longer has.
pub async fn load_cardholders(
    client: &HrClient,
    cache: &Cache,
    progress: &LoadProgress,
) -> Result<LoadStats, SiPassError> {
    let fields: Vec<&str> = Cardholder::FIELDS
        .iter()
        .copied()
        .filter(|f| *f != "Token")
        .collect();
    let mut stats = LoadStats::default();
    let mut seen_cardholders = HashSet::new();
    let mut seen_credentials = HashSet::new();
    let mut start = 0;
    loop {
        let page = client.cardholder_page(start, start + PAGE, &fields).await?;
        progress
            .total
            .store(u64::try_from(page.total).unwrap_or(0), Ordering::Relaxed);
        if page.records.is_empty() {
            break;
        }
        let count = page.records.len();
        for record in page.records {
            let record = complete(client, record).await?;
            let (cardholder, credentials) = split_cardholder(record, client.hr_url())?;
            stats.changed += store(cache, EntityKind::Cardholder, &cardholder) as u64;
            seen_cardholders.insert(cardholder.id);
            for credential in credentials {
                stats.changed += store(cache, EntityKind::Credential, &credential) as u64;
                seen_credentials.insert(credential.id);
            }
            stats.seen += 1;
        }
        start += count;
        progress.loaded.store(start as u64, Ordering::Relaxed);
        if page.total >= 0 && start as i64 >= page.total {
            break;
        }
    }
    stats.deleted += delete_missing(cache, EntityKind::Cardholder, &seen_cardholders);
    stats.deleted += delete_missing(cache, EntityKind::Credential, &seen_credentials);
    Ok(stats)
}

/// A list record may lack fields the projection asked for (a SiPass release that does not
/// project nested objects); then the full cardholder is read by its token.
async fn complete(client: &HrClient, record: Value) -> Result<Value, SiPassError> {
    if record.get("Credentials").is_some() && record.get("LastName").is_some() {
        return Ok(record);
    }
    let token = token_of(&record).ok_or_else(|| SiPassError::Malformed {
        what: "the cardholder list".into(),
        reason: "a record has no Token".into(),
    })?;
    client.cardholder(&token).await
}

/// An entity ready for the cache.
struct Item {
    id: String,
    name: String,
    payload: Vec<u8>,
}

fn store(cache: &Cache, kind: EntityKind, item: &Item) -> bool {
    cache
        .upsert(kind, &item.id, &item.name, item.payload.clone())
        .is_some()
}

fn delete_missing(cache: &Cache, kind: EntityKind, seen: &HashSet<String>) -> u64 {
    cache
        .ids(kind)
        .into_iter()
        .filter(|id| !seen.contains(id))
        .filter(|id| cache.delete(kind, id).is_some())
        .count() as u64
}

/// SiPass sends tokens as strings, but some objects (workgroups) as numbers.
fn token_of(record: &Value) -> Option<String> {
    match record.get("Token")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text<'a>(object: &'a Map<String, Value>, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Splits a SiPass cardholder into the cardholder (without `Credentials`) and its credentials,
/// each carrying `CardholderToken`.
fn split_cardholder(record: Value, url: &str) -> Result<(Item, Vec<Item>), SiPassError> {
    let malformed = |reason: &str| SiPassError::Malformed {
        what: format!("a cardholder from {url}"),
        reason: reason.to_owned(),
    };
    let token = token_of(&record).ok_or_else(|| malformed("no Token"))?;
    let Value::Object(mut object) = record else {
        return Err(malformed("not a JSON object"));
    };
    object.remove("_links");
    let credentials = match object.remove("Credentials") {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(_) => return Err(malformed("Credentials is not an array")),
    };
    let name = display_name(text(&object, "FirstName"), text(&object, "LastName"));
    let credentials = credentials
        .into_iter()
        .filter_map(|c| credential_item(c, &token))
        .collect();
    let payload = serde_json::to_vec(&object).map_err(|e| malformed(&e.to_string()))?;
    Ok((
        Item {
            id: token,
            name,
            payload,
        },
        credentials,
    ))
}

/// A credential's id is what SiPass keeps unique: technology, facility code and card number.
fn credential_item(credential: Value, cardholder: &str) -> Option<Item> {
    let Value::Object(mut object) = credential else {
        return None;
    };
    let part = |key: &str| match object.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let card = part("CardNumber");
    if card.is_empty() {
        return None;
    }
    let id = format!(
        "{}:{}:{card}",
        part("CardTechnologyCode"),
        part("FacilityCode")
    );
    object.insert("CardholderToken".into(), Value::String(cardholder.into()));
    let payload = serde_json::to_vec(&object).ok()?;
    Some(Item {
        id,
        name: card,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_split_out_with_their_cardholder() {
        let record = serde_json::json!({
            "Token": "7", "FirstName": "Ada", "LastName": "Lovelace",
            "Credentials": [
                {"CardNumber": "1001", "FacilityCode": 100, "CardTechnologyCode": 10},
                {"CardNumber": "1002", "FacilityCode": 100, "CardTechnologyCode": 10}
            ],
            "_links": []
        });
        let (cardholder, credentials) = split_cardholder(record, "test").unwrap();
        assert_eq!(cardholder.id, "7");
        assert_eq!(cardholder.name, "Ada Lovelace");
        let payload: Value = serde_json::from_slice(&cardholder.payload).unwrap();
        assert!(payload.get("Credentials").is_none());
        assert_eq!(
            credentials
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>(),
            ["10:100:1001", "10:100:1002"]
        );
        let first: Value = serde_json::from_slice(&credentials[0].payload).unwrap();
        assert_eq!(first["CardholderToken"], "7");
    }

    #[test]
    fn a_record_without_token_is_refused() {
        assert!(split_cardholder(serde_json::json!({"FirstName": "x"}), "test").is_err());
    }
}
