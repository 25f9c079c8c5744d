//! SiPass to Directory: which SiPass objects the bridge serves and as which kinds, what
//! each becomes in the Directory, and which of its fields travel (`reference/plugin.md`,
//! entity mapping).
//!
//! The proxy applies the SiPass side to what it reads, the role the Directory side to what
//! it writes; one home keeps the two from disagreeing. Pure functions of SiPass's JSON:
//!
//! - Only visitor workgroups are served: they are the ones that become cardholder groups.
//! - Credentials are split out of their cardholder into their own kind, so that a changed
//!   card does not resend its cardholder and a role can leave credentials out.
//! - Runtime state (lock, communication, tamper, power) is left out of device objects: it
//!   belongs to events, and would otherwise make every door movement a Directory change.
//! - A controller becomes two Directory entities, APB clusters and areas both become areas.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::management::ObjectKind;
use crate::sipass::{credential_id, display_name, workgroup_type};
use crate::tree::{self, Entries, Tree};
use crate::{DirectoryKind, EntityKind};

/// The SiPass object kinds the bridge serves besides cardholders (and the credentials split
/// out of them), with the kind each is served as.
pub const SERVED_OBJECTS: [(ObjectKind, EntityKind); 9] = [
    (ObjectKind::WorkGroup, EntityKind::Workgroup),
    (ObjectKind::Unit, EntityKind::Unit),
    (ObjectKind::Doorset, EntityKind::Doorset),
    (ObjectKind::Bank, EntityKind::Bank),
    (ObjectKind::ApbCluster, EntityKind::ApbCluster),
    (ObjectKind::ApbArea, EntityKind::ApbArea),
    (ObjectKind::IntrusionArea, EntityKind::IntrusionArea),
    (ObjectKind::Output, EntityKind::Output),
    (ObjectKind::AlarmClass, EntityKind::AlarmClass),
];

/// The kind a SiPass object kind is served as; `None` when the bridge does not serve it.
pub fn entity_kind(kind: ObjectKind) -> Option<EntityKind> {
    if kind == ObjectKind::Cardholder {
        return Some(EntityKind::Cardholder);
    }
    SERVED_OBJECTS
        .iter()
        .find(|(o, _)| *o == kind)
        .map(|(_, e)| *e)
}

impl DirectoryKind {
    /// The Directory kinds a SiPass kind becomes: one, or two for a controller (an access
    /// control unit and an intrusion detection unit). The first stands for it in counts.
    pub fn from_sipass(kind: EntityKind) -> &'static [DirectoryKind] {
        match kind {
            EntityKind::Cardholder => &[DirectoryKind::Cardholder],
            EntityKind::Credential => &[DirectoryKind::Credential],
            EntityKind::Workgroup => &[DirectoryKind::CardholderGroup],
            EntityKind::Unit => &[
                DirectoryKind::AccessControlUnit,
                DirectoryKind::IntrusionDetectionUnit,
            ],
            EntityKind::Doorset => &[DirectoryKind::Door],
            EntityKind::Bank => &[DirectoryKind::Elevator],
            EntityKind::ApbCluster | EntityKind::ApbArea => &[DirectoryKind::Area],
            EntityKind::IntrusionArea => &[DirectoryKind::IntrusionDetectionArea],
            EntityKind::Output => &[DirectoryKind::Output],
            EntityKind::AlarmClass => &[DirectoryKind::Alarm],
        }
    }
}

/// The names of the Directory kinds a SiPass kind becomes, as the Directory stores them.
pub fn directory_kind_names(kind: EntityKind) -> Vec<String> {
    DirectoryKind::from_sipass(kind)
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect()
}

/// A served object's synced fields in the Directory: its payload, SiPass's own attributes,
/// as JSON text (never refused: a stray byte must not stop a synchronization). Valid text,
/// the rule, is taken as it is, without a copy: a listing moves about a gigabyte of it.
pub fn directory_fields(payload: Vec<u8>) -> String {
    String::from_utf8(payload)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Fields of device objects that are runtime state, not configuration.
pub const RUNTIME_FIELDS: [&str; 7] = [
    "State",
    "CommState",
    "TamperState",
    "PowerState",
    "LastOverride",
    "Pulses",
    "_links",
];

/// One SiPass object as the bridge serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedObject {
    pub kind: EntityKind,
    /// SiPass's token; for a credential, [`credential_id`].
    pub id: String,
    /// The name it is shown by.
    pub name: String,
    /// The served fields, as JSON.
    pub payload: Vec<u8>,
    /// For a credential, its cardholder's token; empty otherwise.
    pub owner: String,
}

/// Why a cardholder record cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedCardholder {
    #[error("no Token")]
    NoToken,
    #[error("not a JSON object")]
    NotAnObject,
    #[error("Credentials is not an array")]
    CredentialsNotAnArray,
}

/// An object's token: SiPass sends tokens as strings, but some objects' (workgroups') as
/// numbers.
pub fn token_of(record: &Value) -> Option<String> {
    match record.get("Token")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// True when an object of `kind` is served: every object but non-visitor workgroups.
pub fn is_served(kind: EntityKind, object: &Map<String, Value>) -> bool {
    kind != EntityKind::Workgroup
        || object.get("Type").and_then(Value::as_i64) == Some(workgroup_type::VISITOR.into())
}

/// A device or configuration object as served, without its runtime state; `None` when it
/// is not served or has no token.
pub fn object(kind: EntityKind, record: Value) -> Option<ServedObject> {
    let id = token_of(&record)?;
    let Value::Object(mut object) = record else {
        return None;
    };
    if !is_served(kind, &object) {
        return None;
    }
    for field in RUNTIME_FIELDS {
        object.remove(field);
    }
    let name = object
        .get("Name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let payload = serde_json::to_vec(&object).ok()?;
    Some(ServedObject {
        kind,
        id,
        name,
        payload,
        owner: String::new(),
    })
}

/// A SiPass cardholder as served objects: the cardholder (without `Credentials`), then each
/// credential, which carries `CardholderToken` and belongs to the cardholder. A credential
/// without a card number is left out.
pub fn cardholder(record: Value) -> Result<Vec<ServedObject>, MalformedCardholder> {
    cardholder_tree(Tree::of(&record))
}

/// [`cardholder`] of a record read as a [`Tree`], as the first load reads its pages: the
/// same objects, with the same payload bytes, without building a `Value`.
pub fn cardholder_tree(record: Tree<'_>) -> Result<Vec<ServedObject>, MalformedCardholder> {
    let Tree::Object(mut object) = record else {
        return Err(MalformedCardholder::NoToken);
    };
    tree::canonicalise(&mut object);
    let token = match tree::get(&object, "Token") {
        Some(Tree::String(s)) if !s.is_empty() => s.to_string(),
        Some(Tree::Number(n)) => n.to_string(),
        _ => return Err(MalformedCardholder::NoToken),
    };
    tree::remove(&mut object, "_links");
    withhold_secrets(&mut object);
    // Images travel as the `Potrait` URL only: a real SiPass sends the portrait itself, as
    // base64, with every full cardholder (Val0429), tens of KiB each.
    for image in LEFT_OUT_IMAGES {
        remove_key(&mut object, image);
    }
    let credentials = match tree::remove(&mut object, "Credentials") {
        Some(Tree::Array(items)) => items,
        Some(Tree::Null) | None => Vec::new(),
        Some(_) => return Err(MalformedCardholder::CredentialsNotAnArray),
    };
    let name = display_name(text(&object, "FirstName"), text(&object, "LastName"));
    let payload = Tree::Object(object).to_json();
    let mut served = vec![ServedObject {
        kind: EntityKind::Cardholder,
        id: token.clone(),
        name,
        payload,
        owner: String::new(),
    }];
    served.extend(
        credentials
            .into_iter()
            .filter_map(|c| credential(c, &token)),
    );
    Ok(served)
}

/// Cardholder fields holding images (base64), left out of what is served.
pub const LEFT_OUT_IMAGES: [&str; 2] = ["CardholderPortrait", "CardholderSignature"];

/// One item of a cardholder's `Credentials`, served on its own; `None` without a card
/// number.
fn credential(credential: Tree<'_>, cardholder: &str) -> Option<ServedObject> {
    let Tree::Object(mut object) = credential else {
        return None;
    };
    tree::canonicalise(&mut object);
    let part = |key: &str| match tree::get(&object, key) {
        Some(Tree::String(s)) => s.to_string(),
        Some(Tree::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let card = part("CardNumber");
    if card.is_empty() {
        return None;
    }
    let id = credential_id(part("CardTechnologyCode"), part("FacilityCode"), &card);
    remove_key(&mut object, "Pin");
    let token = Tree::String(Cow::Owned(cardholder.to_owned()));
    match object.iter_mut().find(|(k, _)| k == "CardholderToken") {
        Some(entry) => entry.1 = token,
        None => object.push((Cow::Borrowed("CardholderToken"), token)),
    }
    let payload = Tree::Object(object).to_json();
    Some(ServedObject {
        kind: EntityKind::Credential,
        id,
        name: card,
        payload,
        owner: cardholder.to_owned(),
    })
}

/// Takes out what SiPass holds as a secret: the password of the cardholder's SiPass user
/// account (`PersonalDetails.UserDetails.Password`). Credentials lose their `Pin` in
/// [`credential`]. Neither is ever mirrored: the security platform has no use for them, and a
/// copy in the cache, on the wire and in the Directory would only be one more place to steal
/// them from (docs/security.md).
fn withhold_secrets(cardholder: &mut Entries<'_>) {
    let Some(Tree::Object(details)) = field_mut(cardholder, "PersonalDetails") else {
        return;
    };
    tree::canonicalise(details);
    if let Some(Tree::Object(user)) = field_mut(details, "UserDetails") {
        tree::canonicalise(user);
        remove_key(user, "Password");
    }
}

/// SiPass's keys are matched without regard to case, as its own JSON binding does (the
/// first in key order, as a `Value`'s map would find it: `object` is canonical).
fn field_mut<'t, 'a>(object: &'t mut Entries<'a>, key: &str) -> Option<&'t mut Tree<'a>> {
    object
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn remove_key(object: &mut Entries<'_>, key: &str) {
    object.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
}

fn text<'t>(object: &'t Entries<'_>, key: &str) -> &'t str {
    tree::get(object, key)
        .and_then(Tree::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("testdata/cardholder_records.rs");

    /// What a record was served as: each object as `kind|id|name|owner|payload`, or the
    /// error.
    fn served(result: Result<Vec<ServedObject>, MalformedCardholder>) -> Value {
        match result {
            Ok(served) => served
                .iter()
                .map(|s| {
                    let payload = String::from_utf8(s.payload.clone()).unwrap();
                    format!("{:?}|{}|{}|{}|{payload}", s.kind, s.id, s.name, s.owner)
                })
                .collect(),
            Err(e) => Value::String(format!("error: {e}")),
        }
    }

    /// `testdata/cardholder_served.jsonl` is what release 0.1's mapping (on `Value`s) served
    /// for each record: a cache keeps payloads and compares them, so the bytes must not
    /// change between releases, whether a record is read as a `Value` or as a page's tree.
    #[test]
    fn records_are_served_byte_for_byte_as_before_from_a_value_or_a_tree() {
        let expected: Vec<Value> = include_str!("testdata/cardholder_served.jsonl")
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(expected.len(), RECORDS.len());
        for (record, expected) in RECORDS.iter().zip(expected) {
            let value: Value = serde_json::from_str(record).unwrap();
            assert_eq!(served(cardholder(value)), expected, "{record}");
            let tree = Tree::parse(record.as_bytes()).unwrap();
            assert_eq!(served(cardholder_tree(tree)), expected, "{record}");
        }
    }

    fn json(payload: &[u8]) -> Value {
        serde_json::from_slice(payload).unwrap()
    }

    #[test]
    fn directory_fields_keep_valid_text_and_replace_a_stray_byte() {
        let text = r#"{"FirstName":"Zoë"}"#;
        assert_eq!(directory_fields(text.as_bytes().to_vec()), text);
        assert_eq!(
            directory_fields(b"{\"a\":\"\xff\"}".to_vec()),
            "{\"a\":\"\u{fffd}\"}"
        );
    }

    #[test]
    fn a_controller_becomes_two_units() {
        assert_eq!(DirectoryKind::from_sipass(EntityKind::Unit).len(), 2);
        assert_eq!(
            directory_kind_names(EntityKind::Unit),
            ["access-control-unit", "intrusion-detection-unit"]
        );
    }

    #[test]
    fn every_served_kind_becomes_a_directory_kind() {
        for (object_kind, kind) in SERVED_OBJECTS {
            assert_eq!(entity_kind(object_kind), Some(kind));
            assert!(!DirectoryKind::from_sipass(kind).is_empty());
        }
        assert_eq!(
            entity_kind(ObjectKind::Cardholder),
            Some(EntityKind::Cardholder)
        );
        assert_eq!(entity_kind(ObjectKind::Input), None);
    }

    #[test]
    fn portraits_are_served_as_their_url_only() {
        let record = serde_json::json!({"Token": "7", "FirstName": "Nizar",
            "Potrait": "api/V1/cardholders/images?imgId=7", "CardholderPortrait": "/9j/4AAQ",
            "cardholderSignature": "iVBOR"});
        let served = cardholder(record).unwrap();
        let payload = json(&served[0].payload);
        assert_eq!(payload["Potrait"], "api/V1/cardholders/images?imgId=7");
        assert!(payload.get("CardholderPortrait").is_none());
        assert!(payload.get("cardholderSignature").is_none());
    }

    #[test]
    fn credentials_are_split_out_and_belong_to_their_cardholder() {
        let record = serde_json::json!({
            "Token": "7", "FirstName": "Ada", "LastName": "Lovelace",
            "Credentials": [
                {"CardNumber": "1001", "FacilityCode": 100, "CardTechnologyCode": 10},
                {"CardNumber": "", "FacilityCode": 100, "CardTechnologyCode": 10}
            ],
            "_links": []
        });
        let served = cardholder(record).unwrap();
        let ids: Vec<_> = served.iter().map(|s| (s.kind, s.id.as_str())).collect();
        assert_eq!(
            ids,
            [
                (EntityKind::Cardholder, "7"),
                (EntityKind::Credential, "10:100:1001")
            ]
        );
        assert_eq!(served[0].name, "Ada Lovelace");
        assert!(json(&served[0].payload).get("Credentials").is_none());
        assert_eq!(served[1].owner, "7");
        assert_eq!(json(&served[1].payload)["CardholderToken"], "7");
    }

    #[test]
    fn only_visitor_workgroups_are_served_without_runtime_state() {
        let visitor = serde_json::json!({"Token": 2000000000, "Name": "<Visitor>", "Type": 3});
        let department = serde_json::json!({"Token": 2000000001, "Name": "R&D", "Type": 0});
        assert_eq!(
            object(EntityKind::Workgroup, visitor).map(|s| s.id),
            Some("2000000000".to_owned())
        );
        assert!(object(EntityKind::Workgroup, department).is_none());
        let door =
            serde_json::json!({"Token": "4", "Name": "Main door", "State": {"Lock": "Locked"}});
        let served = object(EntityKind::Doorset, door).unwrap();
        assert_eq!(served.name, "Main door");
        assert!(json(&served.payload).get("State").is_none());
    }

    #[test]
    fn pins_and_user_passwords_are_never_served() {
        let record = serde_json::json!({
            "Token": "7", "FirstName": "Ada", "LastName": "Lovelace",
            "PersonalDetails": {"userDetails": {"UserName": "ada", "password": "s3cret"}},
            "Credentials": [{"CardNumber": "1001", "FacilityCode": 100, "CardTechnologyCode": 10,
                             "Pin": "4711", "PinMode": 2}]
        });
        let served = cardholder(record).unwrap();
        let (cardholder, credential) = (json(&served[0].payload), json(&served[1].payload));
        assert_eq!(
            cardholder["PersonalDetails"]["userDetails"],
            serde_json::json!({"UserName": "ada"})
        );
        assert!(credential.get("Pin").is_none());
        assert_eq!(credential["PinMode"], 2, "the PIN's mode is not a secret");
        for payload in [&served[0].payload, &served[1].payload] {
            let text = String::from_utf8_lossy(payload);
            assert!(!text.contains("s3cret") && !text.contains("4711"), "{text}");
        }
    }

    #[test]
    fn a_cardholder_without_token_is_refused() {
        assert_eq!(
            cardholder(serde_json::json!({"FirstName": "x"})),
            Err(MalformedCardholder::NoToken)
        );
    }
}
