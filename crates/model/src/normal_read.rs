//! Reading JSON straight into its normal form: [`lenient::normalise_tree`] applied while
//! the text is read, in one pass.
//!
//! A first load reads a million cardholders. Reading each page into a [`Tree`] and then
//! rebuilding every record against its shape walked every value twice and moved every
//! entry once more; here the shape drives the reader, so each value is read and normalised
//! at once. The result is what `normalise_tree(Tree::parse(text)?, shape)` gives, but for
//! the order of an object's entries (here always `Value`'s, sorted; there as read when the
//! record was normal already), which nothing reads: writing sorts, and so does every edit.
//! The tests below hold the two equal on hostile texts.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::lenient::{as_bool, as_number, as_text, normalise_renaming};
use crate::tree::{self, Entries, KeySeed, Tree, TreeVisitor};

/// The records of a list answer (a bare array, or the `Records` of an envelope, its key in
/// any case) read with each object normalised against `shape`; the rest as it is. Records
/// that are not objects stay as they are, for the caller to refuse.
pub fn list<'a>(text: &'a [u8], shape: &ReadShape) -> Result<Tree<'a>, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_slice(text);
    let list = ListSeed { shape: &shape.0 }.deserialize(&mut reader)?;
    reader.end()?;
    Ok(list)
}

/// `text` read and normalised against `shape`; `Tree::Null` for `null`.
pub fn value<'a>(text: &'a [u8], shape: &ReadShape) -> Result<Tree<'a>, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_slice(text);
    let value = Normalising { shape: &shape.0 }.deserialize(&mut reader)?;
    reader.end()?;
    Ok(value)
}

/// A shape (`lenient::Shape`) made ready for reading: each object's fields found by
/// hashing rather than by walking the map, and placed in `Value`'s order by their rank
/// rather than sorted (a cardholder has some sixty fields).
pub struct ReadShape(Node);

impl ReadShape {
    pub fn of(shape: &Value) -> ReadShape {
        ReadShape(Node::of(shape))
    }
}

/// What a value is read as.
enum Node {
    /// As it is (no shape, or an empty one).
    Any,
    Text,
    Number {
        float: bool,
    },
    Bool,
    Object(Fields),
    /// A list of values of the example's shape.
    List(Box<Node>),
}

/// An object's fields.
struct Fields {
    /// Each field's rank in `Value`'s order (the map's, sorted byte-wise).
    rank: HashMap<String, usize, BuildHasherDefault<FieldNameHasher>>,
    /// Each field's shape, by rank.
    shapes: Vec<Node>,
    /// The shape as given, for an object with keys in other spellings (rare), which is
    /// renamed by `lenient`'s own rules.
    given: Map<String, Value>,
}

/// FNV-1a over a field name. SipHash, the standard map's, took 5 % of a first load here;
/// its resistance to chosen keys is not needed: the map holds the shape's fields only and
/// never takes a key from SiPass, so a hostile key costs one lookup like any other.
#[derive(Default)]
struct FieldNameHasher(u64);

impl Hasher for FieldNameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Node {
    fn of(shape: &Value) -> Node {
        match shape {
            Value::Object(fields) if !fields.is_empty() => Node::Object(Fields {
                rank: fields
                    .keys()
                    .enumerate()
                    .map(|(i, k)| (k.clone(), i))
                    .collect(),
                shapes: fields.values().map(Node::of).collect(),
                given: fields.clone(),
            }),
            Value::Array(example) if !example.is_empty() => {
                Node::List(Box::new(Node::of(&example[0])))
            }
            Value::String(_) => Node::Text,
            Value::Number(example) => Node::Number {
                float: example.is_f64(),
            },
            Value::Bool(_) => Node::Bool,
            _ => Node::Any,
        }
    }
}

/// A visitor's scalars read as [`TreeVisitor`] reads them.
macro_rules! scalars_as_they_are {
    () => {
        fn visit_unit<E: de::Error>(self) -> Result<Tree<'de>, E> {
            TreeVisitor.visit_unit()
        }

        fn visit_bool<E: de::Error>(self, b: bool) -> Result<Tree<'de>, E> {
            TreeVisitor.visit_bool(b)
        }

        fn visit_i64<E: de::Error>(self, n: i64) -> Result<Tree<'de>, E> {
            TreeVisitor.visit_i64(n)
        }

        fn visit_u64<E: de::Error>(self, n: u64) -> Result<Tree<'de>, E> {
            TreeVisitor.visit_u64(n)
        }

        fn visit_f64<E: de::Error>(self, f: f64) -> Result<Tree<'de>, E> {
            TreeVisitor.visit_f64(f)
        }

        fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Tree<'de>, E> {
            TreeVisitor.visit_borrowed_str(s)
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Tree<'de>, E> {
            TreeVisitor.visit_str(s)
        }

        fn visit_string<E: de::Error>(self, s: String) -> Result<Tree<'de>, E> {
            TreeVisitor.visit_string(s)
        }
    };
}

/// The top of a list answer: an array of records, or an envelope holding one.
struct ListSeed<'s> {
    shape: &'s Node,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Tree<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Tree<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Tree<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list or a Records envelope")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Tree<'de>, A::Error> {
        records(seq, self.shape)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree<'de>, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            // Every spelling of `Records` is read as records: which one counts is decided
            // afterwards, on the envelope, as for any tree.
            let value = if key.eq_ignore_ascii_case("Records") {
                map.next_value_seed(RecordsSeed { shape: self.shape })?
            } else {
                map.next_value()?
            };
            entries.push((key, value));
        }
        Ok(Tree::Object(entries))
    }

    scalars_as_they_are!();
}

/// The value of an envelope's `Records`: records when it is a list, else as it is (for the
/// envelope's reader to refuse).
struct RecordsSeed<'s> {
    shape: &'s Node,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = Tree<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Tree<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = Tree<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Tree<'de>, A::Error> {
        records(seq, self.shape)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Tree<'de>, A::Error> {
        TreeVisitor.visit_map(map)
    }

    scalars_as_they_are!();
}

/// A list of records, each read with [`Normalising`]: against a record's (object) shape,
/// an object is normalised and anything else kept as it is.
fn records<'de, A: SeqAccess<'de>>(mut seq: A, shape: &Node) -> Result<Tree<'de>, A::Error> {
    let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(64));
    while let Some(item) = seq.next_element_seed(Normalising { shape })? {
        items.push(item);
    }
    Ok(Tree::Array(items))
}

/// Reads one value normalised against its shape: `lenient::rebuild`'s rules, case by case,
/// applied as the value is read. `Tree::Null` stands for "left out".
struct Normalising<'s> {
    shape: &'s Node,
}

impl Normalising<'_> {
    /// A scalar bound to its field's type.
    fn scalar<'de>(&self, value: Tree<'de>) -> Tree<'de> {
        match self.shape {
            Node::Text => as_text(value),
            Node::Number { float } => as_number(value, *float).unwrap_or(Tree::Null),
            Node::Bool => as_bool(value),
            _ => value,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Normalising<'_> {
    type Value = Tree<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Tree<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Normalising<'_> {
    type Value = Tree<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Tree<'de>, E> {
        Ok(Tree::Null)
    }

    fn visit_none<E>(self) -> Result<Tree<'de>, E> {
        Ok(Tree::Null)
    }

    // Scalars read as `TreeVisitor` reads them, then bound to the field's type (a number
    // JSON cannot hold is null, and null is left out).
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Tree<'de>, E> {
        Ok(self.scalar(TreeVisitor.visit_bool(b)?))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Tree<'de>, E> {
        Ok(self.scalar(TreeVisitor.visit_i64(n)?))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Tree<'de>, E> {
        Ok(self.scalar(TreeVisitor.visit_u64(n)?))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Tree<'de>, E> {
        Ok(self.scalar(TreeVisitor.visit_f64(f)?))
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Tree<'de>, E> {
        Ok(self.scalar(TreeVisitor.visit_borrowed_str(s)?))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Tree<'de>, E> {
        Ok(self.scalar(TreeVisitor.visit_str(s)?))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Tree<'de>, E> {
        Ok(self.scalar(TreeVisitor.visit_string(s)?))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree<'de>, A::Error> {
        let Node::List(example) = self.shape else {
            // A list where the shape has none is kept as it is (for the binding to refuse).
            return TreeVisitor.visit_seq(seq);
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(8));
        while let Some(item) = seq.next_element_seed(Normalising { shape: example })? {
            if !matches!(item, Tree::Null) {
                items.push(item);
            }
        }
        Ok(Tree::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree<'de>, A::Error> {
        let Node::Object(fields) = self.shape else {
            return TreeVisitor.visit_map(map);
        };
        // Each field in the place of its rank: a later value of a key replaces an earlier
        // one, a later null removes it (as in a map), and the fields come out in order.
        let mut placed: Vec<Option<(Cow<'de, str>, Tree<'de>)>> = Vec::new();
        placed.resize_with(fields.shapes.len(), || None);
        let mut others: Entries<'de> = Vec::new();
        let mut renaming = false;
        let mut count = 0;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            count += 1;
            match fields.rank.get(key.as_ref()) {
                Some(&rank) => {
                    let value = map.next_value_seed(Normalising {
                        shape: &fields.shapes[rank],
                    })?;
                    placed[rank] = Some((key, value));
                }
                None => {
                    // A field in another spelling is renamed below, by the map's rules.
                    renaming |= fields.given.keys().any(|k| k.eq_ignore_ascii_case(&key));
                    let value = map.next_value_seed(Normalising { shape: &Node::Any })?;
                    others.push((key, value));
                }
            }
        }
        let mut entries: Entries<'de> = Vec::with_capacity(count);
        let fields_read = placed.into_iter().flatten();
        if others.is_empty() {
            entries.extend(fields_read.filter(|(_, value)| !matches!(value, Tree::Null)));
            return Ok(Tree::Object(entries));
        }
        // Keys that are no field's own spelling: as `normalise_object`, in `Value`'s order,
        // then the nulls leave. Renaming rebuilds every value, and rebuilding a normalised
        // one gives it back unchanged.
        entries.extend(fields_read);
        entries.append(&mut others);
        tree::canonicalise(&mut entries);
        if renaming {
            return Ok(Tree::Object(normalise_renaming(entries, &fields.given)));
        }
        entries.retain(|(_, value)| !matches!(value, Tree::Null));
        Ok(Tree::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::lenient::normalise_tree;

    fn shape() -> Value {
        json!({"Token": "", "Name": "", "Count": 0, "Ratio": 0.5, "Active": false,
               "Rule": {"Kind": 0, "Label": ""},
               "AccessRule": [{"RuleToken": "", "RuleType": 0, "IsFavourite": false}],
               "Anything": {}, "List": []})
    }

    /// Hostile records: nulls at every depth, other spellings, keys twice, swapped
    /// scalars, escapes, lists for objects and objects for lists, numbers JSON cannot hold.
    const RECORDS: [&str; 14] = [
        r#"{"Token": "1", "Name": "Lobby", "Count": 3, "Active": true}"#,
        r#"{"token": -1, "NAME": null, "accessRule": [{"ruleToken": 12, "ruleType": "2", "isFavourite": "True"}, null]}"#,
        r#"{"Name": "a", "name": "b", "NAME": null, "Token": "x", "token": "y", "Extra": {"n": null}}"#,
        r#"{"Name": "a", "Name": null, "AccessRule": null, "Other": null, "Count": " 7 "}"#,
        r#"{"AccessRule": [{"RuleType": "", "IsFavourite": "no"}, {"RuleType": "4.5", "ruletoken": true}]}"#,
        r#"{"Token": "\u00e9\n\"q\"", "Name": 1.5e300, "AccessRule": {"not": "a list"}}"#,
        r#"{"Rule": {"Kind": "4", "kind": 5, "Label": 7, "Extra": [null, {"a": null}]}, "Rule": null}"#,
        r#"{"Rule": [1, 2], "Count": 4.0, "Ratio": "2", "Active": 0, "Anything": {"x": null}}"#,
        r#"{"List": [null, {"a": null}], "Count": 2.5, "Active": "FALSE ", "Token": false}"#,
        r#"{"Count": "word", "Ratio": 1, "Active": 7, "Token": {"x": 1}, "Name": [1]}"#,
        r#"{"Rule": {"Kind": null, "Label": null}, "AccessRule": [[1, 2], "x", 3]}"#,
        r#"{"Token": "a", "Token": "b", "Token": null, "token": "c"}"#,
        r#"{"\u0054oken": "escaped key", "Name": "\ud83d\ude00", "Count": -9223372036854775808}"#,
        r#"{}"#,
    ];

    fn via_tree(text: &str, shape: &Value) -> String {
        let tree = normalise_tree(Tree::parse(text.as_bytes()).unwrap(), shape);
        String::from_utf8(tree.unwrap_or(Tree::Null).to_json()).unwrap()
    }

    #[test]
    fn a_record_reads_to_what_normalising_its_tree_gives() {
        let shape = shape();
        for text in RECORDS {
            let read = value(text.as_bytes(), &ReadShape::of(&shape)).unwrap();
            assert_eq!(
                String::from_utf8(read.to_json()).unwrap(),
                via_tree(text, &shape),
                "{text}"
            );
        }
    }

    #[test]
    fn a_list_reads_to_what_normalising_each_record_gives() {
        let shape = shape();
        let records = RECORDS.join(", ");
        for text in [
            format!("[{records}, null, 3, \"s\", [1]]"),
            format!(r#"{{"TotalRecords": 14, "Records": [{records}]}}"#),
            format!(r#"{{"records": [{records}], "totalRecords": "14", "x": {{"Token": null}}}}"#),
            r#"{"Records": null, "TotalRecords": -1}"#.to_owned(),
            r#"{"Records": {"Token": 1}}"#.to_owned(),
        ] {
            let read = list(text.as_bytes(), &ReadShape::of(&shape)).unwrap();
            let expected = match Tree::parse(text.as_bytes()).unwrap() {
                Tree::Array(items) => {
                    Tree::Array(items.into_iter().map(|r| normal(r, &shape)).collect())
                }
                Tree::Object(entries) => Tree::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| match (k.eq_ignore_ascii_case("Records"), v) {
                            (true, Tree::Array(items)) => (
                                k,
                                Tree::Array(items.into_iter().map(|r| normal(r, &shape)).collect()),
                            ),
                            (_, v) => (k, v),
                        })
                        .collect(),
                ),
                other => other,
            };
            assert_eq!(read.to_json(), expected.to_json(), "{text}");
        }
    }

    fn normal<'a>(record: Tree<'a>, shape: &Value) -> Tree<'a> {
        match record {
            Tree::Object(_) => normalise_tree(record, shape).unwrap_or(Tree::Null),
            other => other,
        }
    }

    #[test]
    fn what_the_tree_refuses_the_reader_refuses() {
        for text in [
            r#"{"Token": "1""#,
            r#"[{"Token": "1"}] x"#,
            "{\"Name\": \"\u{0}\"}",
            "",
        ] {
            assert!(Tree::parse(text.as_bytes()).is_err(), "{text}");
            assert!(
                list(text.as_bytes(), &ReadShape::of(&shape())).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn scalars_keep_their_meaning() {
        let read = value(
            br#"{"Count": "12", "Ratio": 3, "Active": "true", "Token": 7}"#,
            &ReadShape::of(&shape()),
        )
        .unwrap();
        assert_eq!(
            Value::from(read),
            json!({"Count": 12, "Ratio": 3, "Active": true, "Token": "7"})
        );
    }
}
