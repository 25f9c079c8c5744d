//! Reads SiPass into the cache.
//!
//! SiPass nests credentials inside cardholders; the loader splits them out into their own
//! kind so that a changed card does not resend its cardholder, and so that a role can leave
//! credentials out.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use model::EntityKind;
use model::sipass::{Cardholder, display_name};
use serde_json::{Map, Value};
use sipass_client::{HrClient, SiPassError};

use crate::cache::{Cache, CacheError, Change};

/// Cardholders asked for per HR API call.
const PAGE: usize = 1000;

/// How far a load has got, readable while it runs.
#[derive(Default)]
pub struct LoadProgress {
    pub loaded: AtomicU64,
    pub total: AtomicU64,
}

/// Why a pass over SiPass stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    SiPass(#[from] SiPassError),
    #[error(transparent)]
    Cache(#[from] CacheError),
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
    cache: &Arc<Cache>,
    progress: &LoadProgress,
) -> Result<LoadStats, LoadError> {
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
        let mut changes = Vec::with_capacity(count * 2);
        for record in page.records {
            let record = complete(client, record).await?;
            let (cardholder, credentials) = split_cardholder(record, client.hr_url())?;
            seen_cardholders.insert(cardholder.id.clone());
            changes.push(cardholder.into_change(EntityKind::Cardholder));
            for credential in credentials {
                seen_credentials.insert(credential.id.clone());
                changes.push(credential.into_change(EntityKind::Credential));
            }
        }
        stats.seen += count as u64;
        stats.changed += apply(cache, changes).await?;
        start += count;
        progress.loaded.store(start as u64, Ordering::Relaxed);
        if page.total >= 0 && start as i64 >= page.total {
            break;
        }
    }
    stats.deleted += delete_missing(cache, EntityKind::Cardholder, seen_cardholders).await?;
    stats.deleted += delete_missing(cache, EntityKind::Credential, seen_credentials).await?;
    Ok(stats)
}

/// Applies a batch off the async threads.
pub(crate) async fn apply(cache: &Arc<Cache>, changes: Vec<Change>) -> Result<u64, CacheError> {
    let cache = cache.clone();
    tokio::task::spawn_blocking(move || cache.apply(&changes))
        .await
        .unwrap_or_else(|e| {
            Err(CacheError::Unusable {
                path: Default::default(),
                reason: format!("a cache task failed: {e}"),
            })
        })
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

impl Item {
    fn into_change(self, kind: EntityKind) -> Change {
        Change::Upsert {
            kind,
            id: self.id,
            name: self.name,
            payload: self.payload,
        }
    }
}

/// Deletes what the cache holds of `kind` that this pass did not see in SiPass.
async fn delete_missing(
    cache: &Arc<Cache>,
    kind: EntityKind,
    seen: HashSet<String>,
) -> Result<u64, CacheError> {
    let gone: Vec<Change> = cache
        .ids(kind)?
        .into_iter()
        .filter(|id| !seen.contains(id))
        .map(|id| Change::Delete { kind, id })
        .collect();
    if gone.is_empty() {
        return Ok(0);
    }
    apply(cache, gone).await
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
