//! Journal entries as plugin-database events: the SiPass event read (hostile text bounded),
//! its native events from the mapping table, the entities it concerns with their names from
//! the Directory, and what the logging switches and the ignore list decide. Nothing is
//! dropped without a counter saying so.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use model::event_mapping::{linked_kinds, native_events};
use model::management::{EventType, ObjectKind};
use model::sipass::credential_id;
use protocol::pb;
use store::{DirectoryRead, EventEntity, NewEvent, SipassAlarmChange, StoreError, Tally};

/// The longest SiPass type name, message, id and name kept; the largest payload kept.
const MAX_NAME: usize = 200;
const MAX_MESSAGE: usize = 2000;
const MAX_PAYLOAD: usize = 64 * 1024;

/// What an event whose payload cannot be read is stored as.
pub const UNREADABLE: &str = "Unreadable SiPass event";

/// The logging switches and the ignore list, as the configuration says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Switches {
    /// Categories not logged.
    pub not_logged: HashSet<String>,
    /// Event types ignored, lower-cased.
    pub ignored: HashSet<String>,
}

impl Switches {
    pub fn new(not_logged: &[String], ignored: &[String]) -> Self {
        Switches {
            not_logged: not_logged.iter().cloned().collect(),
            ignored: ignored.iter().map(|t| t.to_lowercase()).collect(),
        }
    }
}

/// Directory names, looked up once per entity for a short while: names "at the time" may
/// lag a rename by that long, and a burst of events at one door reads the Directory once.
pub struct Names {
    cache: HashMap<(&'static str, String), Option<String>>,
    since: Instant,
}

/// How long a looked-up name is reused, and the most names kept.
const NAMES_FOR: Duration = Duration::from_secs(2);
const MAX_NAMES: usize = 100_000;

impl Default for Names {
    fn default() -> Self {
        Names {
            cache: HashMap::new(),
            since: Instant::now(),
        }
    }
}

impl Names {
    /// The Directory's name of the entity `id` of `kind`, if the Directory has it.
    fn get(
        &mut self,
        directory: &dyn DirectoryRead,
        kind: &'static str,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        if self.since.elapsed() > NAMES_FOR || self.cache.len() >= MAX_NAMES {
            self.cache.clear();
            self.since = Instant::now();
        }
        if let Some(name) = self.cache.get(&(kind, id.to_owned())) {
            return Ok(name.clone());
        }
        let name = directory
            .entity(id)?
            .into_iter()
            .find(|row| row.kind == kind)
            .map(|row| row.name);
        self.cache.insert((kind, id.to_owned()), name.clone());
        Ok(name)
    }
}

/// What a batch of entries becomes.
#[derive(Debug, Default)]
pub struct Converted {
    pub events: Vec<NewEvent>,
    /// Alarm changes, for the alarm manager's tables in the same transaction.
    pub alarms: Vec<SipassAlarmChange>,
    pub tally: Tally,
    /// Unknown SiPass event types met, for the log.
    pub unknown_types: Vec<String>,
}

/// Converts journal entries. Only a Directory failure fails it (the batch is retried).
pub fn convert(
    entries: &[pb::JournalEntry],
    switches: &Switches,
    names: &mut Names,
    directory: &dyn DirectoryRead,
) -> Result<Converted, StoreError> {
    let mut out = Converted::default();
    let mut tally: HashMap<String, u64> = HashMap::new();
    for entry in entries {
        match pb::JournalEntryType::try_from(entry.r#type) {
            Ok(pb::JournalEntryType::Event) => {}
            Ok(pb::JournalEntryType::Alarm) => {
                match crate::alarms::journal_change(entry) {
                    Ok(mut change) => {
                        change.class_name = names
                            .get(directory, "alarm", &change.class_id)?
                            .map(|n| crate::alarms::bounded(&n, MAX_NAME))
                            .unwrap_or_else(|| change.class_id.clone());
                        *tally.entry("alarm_changes".into()).or_default() += 1;
                        out.alarms.push(change);
                    }
                    Err(e) => {
                        tracing::warn!(
                            sequence = entry.sequence,
                            error = %e.escape_debug(),
                            "a journaled alarm change cannot be read; counted as unreadable_alarm_changes"
                        );
                        *tally.entry("unreadable_alarm_changes".into()).or_default() += 1;
                    }
                }
                continue;
            }
            _ => {
                *tally.entry("unknown_entry_types".into()).or_default() += 1;
                continue;
            }
        }
        let event = match Loose::read(&entry.payload) {
            Ok(event) => event,
            Err(e) => {
                *tally.entry("unreadable".into()).or_default() += 1;
                out.events.push(unreadable(entry, &e.to_string()));
                continue;
            }
        };
        let sipass_type = bounded(event.r#type.trim(), MAX_NAME);
        let known = EventType::find(&sipass_type);
        let category = match known {
            Some(t) => format!("{:?}", t.category),
            None if event.category.is_empty() => "Generic".to_owned(),
            None => bounded(&event.category, MAX_NAME),
        };
        if switches.not_logged.contains(&category) {
            *tally.entry(format!("not_logged:{category}")).or_default() += 1;
            continue;
        }
        if switches.ignored.contains(&sipass_type.to_lowercase()) {
            *tally.entry(format!("ignored:{sipass_type}")).or_default() += 1;
            continue;
        }
        let native = native_events(&sipass_type);
        if native.is_none() {
            *tally
                .entry(format!("unknown_type:{sipass_type}"))
                .or_default() += 1;
            out.unknown_types.push(sipass_type.clone());
        }
        let entities = entities(&event, names, directory)?;
        out.events.push(NewEvent {
            journal_seq: entry.sequence,
            sipass_id: bounded(&event.id, MAX_NAME),
            occurred_at: bounded(&event.occurred_at, MAX_NAME),
            occurred_ms: model::time::parse_rfc3339_millis(&event.occurred_at)
                .unwrap_or(entry.journaled_at_ms),
            journaled_ms: entry.journaled_at_ms,
            sipass_type: if sipass_type.is_empty() {
                "(no type)".into()
            } else {
                sipass_type
            },
            native_events: native
                .unwrap_or_default()
                .iter()
                .map(|n| (*n).to_owned())
                .collect(),
            category,
            known_type: native.is_some(),
            message: bounded(&event.message, MAX_MESSAGE),
            entities,
            payload: payload_text(&entry.payload),
        });
    }
    let mut tally: Tally = tally.into_iter().collect();
    tally.sort();
    out.tally = tally;
    Ok(out)
}

/// The entities an event concerns: its object (under every Directory kind it becomes),
/// and for an access event the cardholder and the credential, each with its Directory name
/// (SiPass's text when the Directory does not have it).
fn entities(
    event: &Loose,
    names: &mut Names,
    directory: &dyn DirectoryRead,
) -> Result<Vec<EventEntity>, StoreError> {
    let mut out = Vec::new();
    let mut link = |kind: &'static str, id: &str, fallback: &str| -> Result<(), StoreError> {
        let id = bounded(id.trim(), MAX_NAME);
        if id.is_empty() {
            return Ok(());
        }
        let name = names
            .get(directory, kind, &id)?
            .unwrap_or_else(|| bounded(fallback, MAX_NAME));
        out.push(EventEntity {
            kind: kind.to_owned(),
            id,
            name,
        });
        Ok(())
    };
    if let Some(kind) = event.entity_kind {
        for k in linked_kinds(kind) {
            link(k, &event.entity_token, &event.point_name)?;
        }
    }
    let person = format!("{} {}", event.first_name, event.last_name);
    link("cardholder", &event.cardholder_token, person.trim())?;
    if !event.card_no.trim().is_empty() {
        let id = credential_id(&event.card_tech, &event.card_facility, event.card_no.trim());
        link("credential", &id, &id)?;
    }
    Ok(out)
}

/// The fields of a SiPass event the role uses, read leniently: a field of another type than
/// expected, or a value this release does not know (a new category, a new object kind),
/// must not make the whole event unreadable.
#[derive(Debug, Default)]
struct Loose {
    id: String,
    occurred_at: String,
    r#type: String,
    category: String,
    message: String,
    point_name: String,
    entity_kind: Option<ObjectKind>,
    entity_token: String,
    cardholder_token: String,
    first_name: String,
    last_name: String,
    card_no: String,
    card_facility: String,
    card_tech: String,
}

impl Loose {
    /// Reads the fields in one pass over the payload, without building a JSON tree: this
    /// runs for every event, tens of thousands a second.
    fn read(payload: &[u8]) -> Result<Self, String> {
        let mut de = serde_json::Deserializer::from_slice(payload);
        let loose = serde::Deserializer::deserialize_any(&mut de, LooseVisitor)
            .map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        Ok(loose)
    }
}

/// Reads a SiPass event object field by field; fields the role does not use are skipped.
/// Anything but an object is refused with serde's "invalid type" error, naming what it is.
struct LooseVisitor;

impl<'de> serde::de::Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        let mut loose = Loose::default();
        while let Some(FieldName(key)) = map.next_key()? {
            let field = match key {
                "Id" => &mut loose.id,
                "OccurredAt" => &mut loose.occurred_at,
                "Type" => &mut loose.r#type,
                "Category" => &mut loose.category,
                "Message" => &mut loose.message,
                "PointName" => &mut loose.point_name,
                "EntityToken" => &mut loose.entity_token,
                "CardholderToken" => &mut loose.cardholder_token,
                "FirstName" => &mut loose.first_name,
                "LastName" => &mut loose.last_name,
                "CardNo" => &mut loose.card_no,
                "CardFacility" => &mut loose.card_facility,
                "CardTech" => &mut loose.card_tech,
                "EntityKind" => {
                    let LenientText(kind) = map.next_value()?;
                    let kind: serde::de::value::StrDeserializer<serde::de::value::Error> =
                        serde::de::IntoDeserializer::into_deserializer(kind.as_str());
                    loose.entity_kind = serde::Deserialize::deserialize(kind).ok();
                    continue;
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    continue;
                }
            };
            *field = map.next_value::<LenientText>()?.0;
        }
        Ok(loose)
    }
}

/// A key of the event object, as one of the names the role reads or "" for any other, so
/// that keys are compared without being copied.
struct FieldName(&'static str);

/// The keys [`LooseVisitor`] reads.
const EVENT_FIELDS: [&str; 14] = [
    "Id",
    "OccurredAt",
    "Type",
    "Category",
    "Message",
    "PointName",
    "EntityToken",
    "CardholderToken",
    "FirstName",
    "LastName",
    "CardNo",
    "CardFacility",
    "CardTech",
    "EntityKind",
];

impl<'de> serde::Deserialize<'de> for FieldName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = FieldName;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E>(self, key: &str) -> Result<FieldName, E> {
                Ok(FieldName(
                    EVENT_FIELDS
                        .iter()
                        .find(|f| **f == key)
                        .copied()
                        .unwrap_or(""),
                ))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A field read as text whatever SiPass sent: a string as it is, a number as JSON writes
/// it, anything else (null, true, an object, a list) as empty.
struct LenientText(String);

impl<'de> serde::Deserialize<'de> for LenientText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientTextVisitor).map(LenientText)
    }
}

struct LenientTextVisitor;

impl<'de> serde::de::Visitor<'de> for LenientTextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E>(self, v: f64) -> Result<String, E> {
        Ok(serde_json::Number::from_f64(v).map_or_else(String::new, |n| n.to_string()))
    }

    fn visit_bool<E>(self, _: bool) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_unit<E>(self) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_none<E>(self) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(String::new())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(String::new())
    }
}

/// An entry whose payload is not a SiPass event: stored as a custom event saying so, with
/// the payload as text, so that it is kept and seen instead of lost.
fn unreadable(entry: &pb::JournalEntry, error: &str) -> NewEvent {
    NewEvent {
        journal_seq: entry.sequence,
        sipass_id: String::new(),
        occurred_at: model::time::rfc3339_millis(entry.journaled_at_ms),
        occurred_ms: entry.journaled_at_ms,
        journaled_ms: entry.journaled_at_ms,
        sipass_type: UNREADABLE.into(),
        native_events: Vec::new(),
        category: "Generic".into(),
        known_type: false,
        message: bounded(
            &format!("the proxy journaled an event that is not SiPass JSON: {error}"),
            MAX_MESSAGE,
        ),
        entities: Vec::new(),
        payload: payload_text(&entry.payload),
    }
}

/// Text cut to `max` bytes at a character boundary.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn payload_text(payload: &[u8]) -> String {
    bounded(&String::from_utf8_lossy(payload), MAX_PAYLOAD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct NoDirectory;

    impl DirectoryRead for NoDirectory {
        fn config(&self, _: &str) -> Result<Option<String>, StoreError> {
            Ok(None)
        }
        fn watch_position(&self) -> Result<Option<store::WatchPosition>, StoreError> {
            Ok(None)
        }
        fn position(&self, _: &str) -> Result<Option<store::SyncPosition>, StoreError> {
            Ok(None)
        }
        fn count(&self, _: &str) -> Result<u64, StoreError> {
            Ok(0)
        }
        fn digest(&self, _: &str) -> Result<model::Digest, StoreError> {
            Ok(model::Digest::default())
        }
        fn entities(&self, _: &str, _: &str, _: u32) -> Result<Vec<store::EntityRow>, StoreError> {
            Ok(Vec::new())
        }
        fn search(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: u32,
        ) -> Result<Vec<store::EntityRow>, StoreError> {
            Ok(Vec::new())
        }
        fn all_entities(&self, _: &str) -> Result<Vec<store::EntityRow>, StoreError> {
            Ok(Vec::new())
        }
        fn entity(&self, id: &str) -> Result<Vec<store::EntityRow>, StoreError> {
            Ok(match id {
                "3" => vec![store::EntityRow {
                    kind: "door".into(),
                    id: "3".into(),
                    source_kind: "doorset".into(),
                    revision: 1,
                    name: "Main entrance".into(),
                    fields: "{}".into(),
                }],
                _ => Vec::new(),
            })
        }
        fn runs(&self, _: u32) -> Result<Vec<store::SyncRun>, StoreError> {
            Ok(Vec::new())
        }
        fn latest_run(&self) -> Result<Option<store::SyncRun>, StoreError> {
            Ok(None)
        }
    }

    fn entry(sequence: u64, payload: serde_json::Value) -> pb::JournalEntry {
        pb::JournalEntry {
            sequence,
            r#type: pb::JournalEntryType::Event as i32,
            payload: payload.to_string().into_bytes(),
            journaled_at_ms: 5,
        }
    }

    /// What the one-pass reader must agree with: the fields read from a JSON tree.
    fn read_through_a_tree(payload: &[u8]) -> Option<Vec<String>> {
        let serde_json::Value::Object(o) = serde_json::from_slice(payload).ok()? else {
            return None;
        };
        let text = |key: &str| match o.get(key) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let mut fields: Vec<String> = EVENT_FIELDS[..13].iter().map(|k| text(k)).collect();
        let kind: Option<ObjectKind> = o
            .get("EntityKind")
            .and_then(|k| serde_json::from_value(k.clone()).ok());
        fields.push(format!("{kind:?}"));
        Some(fields)
    }

    fn fields_of(l: &Loose) -> Vec<String> {
        [
            &l.id,
            &l.occurred_at,
            &l.r#type,
            &l.category,
            &l.message,
            &l.point_name,
            &l.entity_token,
            &l.cardholder_token,
            &l.first_name,
            &l.last_name,
            &l.card_no,
            &l.card_facility,
            &l.card_tech,
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("{:?}", l.entity_kind)])
        .collect()
    }

    #[test]
    fn the_one_pass_reader_reads_hostile_events_as_a_json_tree_would() {
        let payloads: [&[u8]; 14] = [
            br#"{"Id":"77","Type":"Door Forced","EntityKind":"Doorset","EntityToken":"3"}"#,
            br#"{"Id":77,"CardFacility":9.5,"CardNo":-12,"CardTech":1e3,"Type":null}"#,
            br#"{"Id":{"nested":[1,2,{"x":"y"}]},"Type":["a"],"Category":true,"Message":"ok"}"#,
            br#"{"EntityKind":"NoSuchKind","EntityToken":"4"}"#,
            br#"{"EntityKind":5}"#,
            br#"{"EntityKind":{"Doorset":1}}"#,
            br#"{"Id":"1","Id":"2"}"#,
            br#"{"I\u0064":"escaped key","Message":"line\nbreak \"quoted\" \u00e9"}"#,
            br#"{"Unknown":{"deep":{"deeper":[null,true,false,1.25]}},"Id":"9"}"#,
            br#"{}"#,
            br#"[1,2]"#,
            br#""a string""#,
            br#"{"Id":"1"} trailing"#,
            br#"{"Id":"1""#,
        ];
        for payload in payloads {
            let shown = String::from_utf8_lossy(payload);
            match (Loose::read(payload), read_through_a_tree(payload)) {
                (Ok(loose), Some(tree)) => assert_eq!(fields_of(&loose), tree, "{shown}"),
                (Err(_), None) => {}
                (one_pass, tree) => panic!("{shown}: one pass {one_pass:?}, tree {tree:?}"),
            }
        }
        let escaped = Loose::read(br#"{"I\u0064":"escaped key"}"#).unwrap();
        assert_eq!(escaped.id, "escaped key");
    }

    #[test]
    fn an_access_event_is_linked_with_directory_names_and_mapped() {
        let e = entry(
            1,
            json!({"Id": "77", "Type": "Badge Collision", "Category": "Access",
                   "OccurredAt": "2026-11-22T10:33:20+01:00", "EntityKind": "Doorset",
                   "EntityToken": "3", "PointName": "Door 3", "CardholderToken": "12",
                   "FirstName": "Ann", "LastName": "Lee", "CardNo": "555", "CardFacility": 9,
                   "CardTech": 2}),
        );
        let out = convert(
            &[e],
            &Switches::default(),
            &mut Names::default(),
            &NoDirectory,
        )
        .unwrap();
        let stored = &out.events[0];
        assert_eq!(stored.native_events, ["Access Denied"]);
        assert_eq!(
            (stored.sipass_id.as_str(), stored.occurred_ms),
            ("77", 1_795_340_000_000)
        );
        let links: Vec<(&str, &str, &str)> = stored
            .entities
            .iter()
            .map(|e| (e.kind.as_str(), e.id.as_str(), e.name.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                ("door", "3", "Main entrance"),
                ("cardholder", "12", "Ann Lee"),
                ("credential", "2:9:555", "2:9:555")
            ]
        );
        assert!(out.tally.is_empty());
    }

    #[test]
    fn switches_ignore_lists_and_unknown_types_are_counted_never_dropped_silently() {
        let entries = [
            entry(
                1,
                json!({"Type": "Operator Logon", "EntityKind": "Unit", "EntityToken": "1"}),
            ),
            entry(
                2,
                json!({"Type": "door closed", "EntityKind": "Doorset", "EntityToken": "3"}),
            ),
            entry(3, json!({"Type": "Brand New Thing", "Category": "Door"})),
            pb::JournalEntry {
                payload: b"not json".to_vec(),
                ..entry(4, json!({}))
            },
            pb::JournalEntry {
                r#type: pb::JournalEntryType::Alarm as i32,
                ..entry(5, json!({}))
            },
        ];
        let switches = Switches::new(&["Operator".into()], &["Door Closed".into()]);
        let out = convert(&entries, &switches, &mut Names::default(), &NoDirectory).unwrap();
        let stored: Vec<(u64, &str, bool)> = out
            .events
            .iter()
            .map(|e| (e.journal_seq, e.sipass_type.as_str(), e.known_type))
            .collect();
        assert_eq!(
            stored,
            [(3, "Brand New Thing", false), (4, UNREADABLE, false)]
        );
        assert_eq!(out.events[0].category, "Door");
        assert_eq!(out.events[1].payload, "not json");
        assert_eq!(
            out.tally,
            [
                ("ignored:door closed".to_owned(), 1),
                ("not_logged:Operator".to_owned(), 1),
                ("unknown_type:Brand New Thing".to_owned(), 1),
                ("unreadable".to_owned(), 1),
                ("unreadable_alarm_changes".to_owned(), 1),
            ]
        );
        assert_eq!(out.unknown_types, ["Brand New Thing"]);
    }

    #[test]
    fn hostile_text_is_bounded() {
        let long = "é".repeat(5000);
        let e = entry(1, json!({"Type": long, "Message": long, "Id": long}));
        let out = convert(
            &[e],
            &Switches::default(),
            &mut Names::default(),
            &NoDirectory,
        )
        .unwrap();
        let stored = &out.events[0];
        assert!(stored.sipass_type.len() <= MAX_NAME && stored.sipass_id.len() <= MAX_NAME);
        assert!(stored.message.len() <= MAX_MESSAGE);
        assert!(stored.sipass_type.chars().all(|c| c == 'é'));
    }
}
