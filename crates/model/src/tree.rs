//! A JSON tree that borrows its text from the bytes it was read from, and writes itself
//! exactly as `serde_json::Value` would.
//!
//! A first load reads a million cardholders of about 2 kB. As `Value`s, each one was a
//! hundred small allocations (every key and string, every map node) built and freed again,
//! most of the proxy's time. A [`Tree`] keeps strings that hold no escape as slices of the
//! page and objects as plain vectors, so reading a record allocates a few vectors.
//!
//! It has `Value`'s meaning: an object with a key twice keeps the last, and writing sorts
//! keys as `Value`'s map does, so a payload written from a tree has the same bytes as one
//! written from the `Value` of the same text (the proxy cache compares payloads to find
//! changes: different bytes for the same object would be a change of every object).
//!
//! A borrowed string never needs escaping (JSON text that needs none is the only text the
//! reader lends, and [`Tree::of`] copies the others), so it is written as it was read.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// A JSON value whose strings may borrow from the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree<'a> {
    Null,
    Bool(bool),
    Number(Number),
    /// Borrowed text needs no escaping in JSON.
    String(Cow<'a, str>),
    Array(Vec<Tree<'a>>),
    /// Entries in the order read, duplicates included (the last one counts).
    Object(Vec<(Cow<'a, str>, Tree<'a>)>),
}

/// An object's entries.
pub type Entries<'a> = Vec<(Cow<'a, str>, Tree<'a>)>;

impl<'a> Tree<'a> {
    /// Reads `text`, borrowing every string that holds no escape.
    pub fn parse(text: &'a [u8]) -> Result<Tree<'a>, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// A tree of `value`'s contents, borrowing its strings.
    pub fn of(value: &'a Value) -> Tree<'a> {
        match value {
            Value::Null => Tree::Null,
            Value::Bool(b) => Tree::Bool(*b),
            Value::Number(n) => Tree::Number(n.clone()),
            Value::String(s) => Tree::String(lend(s)),
            Value::Array(items) => Tree::Array(items.iter().map(Tree::of).collect()),
            Value::Object(map) => {
                Tree::Object(map.iter().map(|(k, v)| (lend(k), Tree::of(v))).collect())
            }
        }
    }

    /// The JSON text, byte for byte what `serde_json::to_vec` writes for the same `Value`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Tree::Null => out.extend_from_slice(b"null"),
            Tree::Bool(true) => out.extend_from_slice(b"true"),
            Tree::Bool(false) => out.extend_from_slice(b"false"),
            Tree::Number(n) => write_with_serde(out, n),
            Tree::String(s) => write_str(out, s),
            Tree::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Tree::Object(entries) => write_object(entries, out),
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Tree::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<Tree<'_>> for Value {
    fn from(tree: Tree<'_>) -> Value {
        match tree {
            Tree::Null => Value::Null,
            Tree::Bool(b) => Value::Bool(b),
            Tree::Number(n) => Value::Number(n),
            Tree::String(s) => Value::String(s.into_owned()),
            Tree::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            Tree::Object(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.into_owned(), v.into());
                }
                Value::Object(map)
            }
        }
    }
}

/// Puts an object's entries in `Value`'s order: keys sorted byte-wise, one entry per key
/// (the last one read). Objects read from SiPass are not in that order; this is done once
/// for each object the mapping edits, and on the fly when writing.
pub fn canonicalise(entries: &mut Entries<'_>) {
    if is_canonical(entries) {
        return;
    }
    // Stable: among equal keys, the last read stays last, and is the one kept.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if is_canonical(entries) {
        return;
    }
    let mut kept: Entries<'_> = Vec::with_capacity(entries.len());
    for entry in entries.drain(..) {
        match kept.last_mut() {
            Some(last) if last.0 == entry.0 => *last = entry,
            _ => kept.push(entry),
        }
    }
    *entries = kept;
}

fn is_canonical(entries: &Entries<'_>) -> bool {
    entries.windows(2).all(|w| w[0].0 < w[1].0)
}

/// The value of exactly `key` (the last one, as `Value` keeps).
pub fn get<'t, 'a>(entries: &'t Entries<'a>, key: &str) -> Option<&'t Tree<'a>> {
    entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Takes out every entry of exactly `key`, giving the value that counted.
pub fn remove<'a>(entries: &mut Entries<'a>, key: &str) -> Option<Tree<'a>> {
    let mut found = None;
    entries.retain_mut(|(k, v)| {
        if k != key {
            return true;
        }
        found = Some(std::mem::replace(v, Tree::Null));
        false
    });
    found
}

/// Text borrowed when it needs no escaping, copied otherwise (see the module's note).
fn lend(text: &str) -> Cow<'_, str> {
    if text.bytes().any(needs_escape) {
        Cow::Owned(text.to_owned())
    } else {
        Cow::Borrowed(text)
    }
}

/// What `serde_json` escapes in a string.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

#[expect(
    clippy::ptr_arg,
    reason = "whether the text is borrowed is what says it needs no escaping"
)]
fn write_str(out: &mut Vec<u8>, text: &Cow<'_, str>) {
    match text {
        Cow::Borrowed(text) => {
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
        }
        Cow::Owned(text) => write_with_serde(out, text.as_str()),
    }
}

/// A number or an escaped string, written by `serde_json` itself.
fn write_with_serde<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a number or a string into memory cannot fail.
    let _ = serde_json::to_writer(out, value);
}

/// Writes an object in `Value`'s order without reordering the tree itself.
fn write_object(entries: &Entries<'_>, out: &mut Vec<u8>) {
    let mut write_entry = |i: usize, (k, v): &(Cow<'_, str>, Tree<'_>)| {
        out.push(if i == 0 { b'{' } else { b',' });
        write_str(out, k);
        out.push(b':');
        v.write(out);
    };
    if is_canonical(entries) {
        entries
            .iter()
            .enumerate()
            .for_each(|(i, e)| write_entry(i, e));
    } else {
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| entries[a].0.cmp(&entries[b].0));
        // The last of equal keys counts: skip an entry when the next one has the same key.
        let kept = order.iter().enumerate().filter(|&(i, &at)| {
            order
                .get(i + 1)
                .is_none_or(|&next| entries[next].0 != entries[at].0)
        });
        kept.enumerate()
            .for_each(|(i, (_, &at))| write_entry(i, &entries[at]));
    }
    if entries.is_empty() {
        out.push(b'{');
    }
    out.push(b'}');
}

impl<'de> Deserialize<'de> for Tree<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

pub(crate) struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
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

    fn visit_bool<E>(self, b: bool) -> Result<Tree<'de>, E> {
        Ok(Tree::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Tree<'de>, E> {
        Ok(Tree::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Tree<'de>, E> {
        Ok(Tree::Number(n.into()))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Tree<'de>, E> {
        // As `Value` reads it: a number JSON cannot hold becomes null.
        Ok(Number::from_f64(f).map_or(Tree::Null, Tree::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Tree<'de>, E> {
        Ok(Tree::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Tree<'de>, E> {
        Ok(Tree::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Tree<'de>, E> {
        Ok(Tree::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree<'de>, A::Error> {
        // serde_json gives no size hint: room for a typical list, to spare most regrowth.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(8));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            entries.push((key, map.next_value()?));
        }
        Ok(Tree::Object(entries))
    }
}

/// Reads a key, borrowing it when it holds no escape (serde's own `Cow<str>` always copies).
pub(crate) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts whose trees must write what their `Value`s write: escapes, unicode, numbers
    /// of every kind, duplicate keys, nesting, unsorted keys.
    const TEXTS: [&str; 9] = [
        r#"{"b":1,"a":[1,2.5,-3,1e3,18446744073709551615,-9223372036854775808],"c":null}"#,
        r#"{"k":"line\nbreak \"quoted\" \\ \u00e9 \ud83d\ude00 \/ tab\t","é":"ü"}"#,
        r#"{"dup":1,"x":{"z":true,"y":false},"dup":2,"Dup":3,"dup":{"last":"wins"}}"#,
        r#"[{"b":{"d":[],"c":{}},"a":""}, null, "s", 0.1, 1.0, -0.0]"#,
        r#""just a string""#,
        r#"  {"spaces" : [ 1 , 2 ] , "tabs":	"x" }  "#,
        r#"{"\u0041":"escaped key","A":"plain key"}"#,
        r#"{"big":1.7976931348623157e308,"small":5e-324,"int_as_float":4.0}"#,
        r#"{}"#,
    ];

    #[test]
    fn a_tree_writes_the_bytes_its_value_writes() {
        for text in TEXTS {
            let value: Value = serde_json::from_str(text).unwrap();
            let tree = Tree::parse(text.as_bytes()).unwrap();
            assert_eq!(
                String::from_utf8(tree.to_json()).unwrap(),
                serde_json::to_string(&value).unwrap(),
                "{text}"
            );
            assert_eq!(Value::from(tree.clone()), value, "{text}");
            assert_eq!(
                String::from_utf8(Tree::of(&value).to_json()).unwrap(),
                serde_json::to_string(&value).unwrap()
            );
        }
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = br#"{"plain":"text","esc\"aped":"a\nb"}"#;
        let Tree::Object(entries) = Tree::parse(text).unwrap() else {
            panic!()
        };
        assert!(matches!(entries[0].0, Cow::Borrowed("plain")));
        assert!(matches!(entries[0].1, Tree::String(Cow::Borrowed("text"))));
        assert!(matches!(entries[1].0, Cow::Owned(_)));
        assert!(matches!(entries[1].1, Tree::String(Cow::Owned(_))));
    }

    #[test]
    fn what_value_refuses_a_tree_refuses() {
        for text in [
            "",
            "{",
            r#"{"a":1,}"#,
            "[1 2]",
            "{\"a\":\"\u{1}\"}",
            "nul",
            "1 2",
        ] {
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text:?}");
            assert!(Tree::parse(text.as_bytes()).is_err(), "{text:?}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert!(
            Tree::parse(deep.as_bytes()).is_err(),
            "the same depth limit"
        );
    }

    #[test]
    fn canonical_entries_keep_the_last_of_each_key_in_order() {
        let Tree::Object(mut entries) = Tree::parse(br#"{"b":1,"a":2,"b":3,"C":4,"a":5}"#).unwrap()
        else {
            panic!()
        };
        canonicalise(&mut entries);
        let keys: Vec<(&str, String)> = entries
            .iter()
            .map(|(k, v)| (k.as_ref(), String::from_utf8(v.to_json()).unwrap()))
            .collect();
        assert_eq!(
            keys,
            [("C", "4".into()), ("a", "5".into()), ("b", "3".into())]
        );
        assert_eq!(get(&entries, "a"), Some(&Tree::Number(5.into())));
        assert_eq!(remove(&mut entries, "b"), Some(Tree::Number(3.into())));
        assert_eq!(entries.len(), 2);
    }
}
