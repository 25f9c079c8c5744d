//! JSON bound the way SiPass's HR API (an ASP.NET Web API, Json.NET) binds it.
//!
//! Both public clients that ran against real SiPass servers send bodies only that binding
//! accepts (`reference/sipass-api.md` §1.3): camelCase keys, `null` for strings and numbers,
//! numbers where SiPass has strings (`"TimeScheduleToken": 4`) and the reverse, nested
//! objects left out. Strict serde refuses all of these, so JSON is first normalised against
//! the *shape* of the type it is bound to, then deserialised:
//!
//! - keys are matched case-insensitively and renamed to the type's own spelling;
//! - `null` is dropped, so the field takes its default (every bound type is
//!   `#[serde(default)]`);
//! - a number or boolean bound to a string becomes its text; a numeric string bound to a
//!   number becomes that number, an empty one the default; `"true"`/`"false"` and 0/1 bind
//!   to booleans;
//! - anything else is left alone, so a genuinely wrong value (a word where a number
//!   belongs, an array where an object belongs) is still refused by the typed
//!   deserialisation that follows.
//!
//! The simulator binds request bodies with it, the SiPass client the answers it reads: one
//! set of rules, so what one accepts the other reads.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

use crate::tree::{self, Entries, Tree};

/// A type's JSON shape: its serialised default, with one example element in each array of
/// objects and a typed example in each optional scalar. An empty object or array, or
/// `null`, means "anything": the value is passed through unchanged.
pub trait Shape {
    fn shape() -> Value;
}

/// Binds `value` to `T` as SiPass would: normalised against `T`'s shape, then deserialised.
pub fn bind<T: DeserializeOwned + Shape>(value: Value) -> Result<T, serde_json::Error> {
    let normal = prepare(value, &T::shape()).map_err(serde::de::Error::custom)?;
    serde_json::from_value(normal)
}

/// `value` normalised against `shape`, ready for typed deserialisation; an error naming
/// the place where a list stands for an object.
pub fn prepare(value: Value, shape: &Value) -> Result<Value, String> {
    if let Some(at) = misplaced_list(&value, shape, "") {
        return Err(format!(
            "{} must be a JSON object, not a list",
            if at.is_empty() { "the body" } else { &at }
        ));
    }
    Ok(normalise(value, shape).unwrap_or(Value::Object(Map::new())))
}

/// Where a list stands for an object. Serde would read a list as a struct's fields in
/// order; Json.NET refuses it, and so must we. Returns the path of the first one.
fn misplaced_list(value: &Value, shape: &Value, at: &str) -> Option<String> {
    match (value, shape) {
        (Value::Array(_), Value::Object(fields)) if !fields.is_empty() => Some(at.to_owned()),
        (Value::Object(object), Value::Object(fields)) => object.iter().find_map(|(k, v)| {
            let field = fields
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(k))
                .map(|(_, s)| s)?;
            misplaced_list(
                v,
                field,
                &format!("{at}{}{k}", if at.is_empty() { "" } else { "." }),
            )
        }),
        (Value::Array(items), Value::Array(example)) if !example.is_empty() => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| misplaced_list(v, &example[0], &format!("{at}[{i}]"))),
        _ => None,
    }
}

/// `value` normalised against `shape` (see the module documentation); `None` for `null`,
/// which the caller leaves out so that the field takes its default.
///
/// What SiPass sends is nearly always normal already (its own spelling and types): that is
/// checked first, without allocating, and such a value is returned as it is. Rebuilding
/// every object was most of the proxy's CPU time in a first load.
pub fn normalise(value: Value, shape: &Value) -> Option<Value> {
    if is_normal(&value, shape) {
        return Some(value);
    }
    rebuild(Tree::of(&value), shape).map(Value::from)
}

/// [`normalise`] of a [`Tree`] read from a page: the same rules, without building `Value`s
/// (SiPass sends `null`s, so nearly every cardholder is rebuilt).
pub fn normalise_tree<'a>(value: Tree<'a>, shape: &Value) -> Option<Tree<'a>> {
    if is_normal(&value, shape) {
        return Some(value);
    }
    rebuild(value, shape)
}

/// Whether [`rebuild`] would return `value` unchanged: no `null` (it would be dropped), no
/// key in another spelling than the field's, no scalar of another type than its field's.
/// Mirrors `rebuild`'s rules case by case. Generic so that a borrowed [`Tree`] read from a
/// page is judged by the same rules as a `Value`.
pub fn is_normal<V: View>(value: &V, shape: &Value) -> bool {
    match (value.node(), shape) {
        (Node::Null, _) => false,
        (Node::Object, Value::Object(fields)) if !fields.is_empty() => {
            value.all_entries(&mut |key, value| match fields.get(key) {
                Some(field_shape) => is_normal(value, field_shape),
                // An unknown key is kept as it is, unless it is a field in another spelling.
                None => {
                    !fields.keys().any(|k| k.eq_ignore_ascii_case(key))
                        && is_normal(value, &Value::Null)
                }
            })
        }
        (Node::Array, Value::Array(example)) if !example.is_empty() => {
            value.all_items(&mut |item| is_normal(item, &example[0]))
        }
        (node, Value::String(_)) => !matches!(node, Node::Number(_) | Node::Bool),
        (Node::String, Value::Number(_)) => false,
        (Node::Number(n), Value::Number(example)) => example.is_f64() || !n.is_f64(),
        (Node::String | Node::Number(_), Value::Bool(_)) => false,
        _ => true,
    }
}

/// What [`is_normal`] looks at in a JSON value.
pub enum Node<'v> {
    Null,
    Bool,
    Number(&'v Number),
    String,
    Array,
    Object,
}

/// A JSON value [`is_normal`] can judge: `Value`, or a [`Tree`] read from a page.
pub trait View: Sized {
    fn node(&self) -> Node<'_>;
    /// True when `f` holds for every item (true when not an array).
    fn all_items(&self, f: &mut dyn FnMut(&Self) -> bool) -> bool;
    /// True when `f` holds for every entry (true when not an object).
    fn all_entries(&self, f: &mut dyn FnMut(&str, &Self) -> bool) -> bool;
}

impl View for Value {
    fn node(&self) -> Node<'_> {
        match self {
            Value::Null => Node::Null,
            Value::Bool(_) => Node::Bool,
            Value::Number(n) => Node::Number(n),
            Value::String(_) => Node::String,
            Value::Array(_) => Node::Array,
            Value::Object(_) => Node::Object,
        }
    }

    fn all_items(&self, f: &mut dyn FnMut(&Self) -> bool) -> bool {
        self.as_array().is_none_or(|items| items.iter().all(f))
    }

    fn all_entries(&self, f: &mut dyn FnMut(&str, &Self) -> bool) -> bool {
        self.as_object()
            .is_none_or(|object| object.iter().all(|(k, v)| f(k, v)))
    }
}

impl View for Tree<'_> {
    fn node(&self) -> Node<'_> {
        match self {
            Tree::Null => Node::Null,
            Tree::Bool(_) => Node::Bool,
            Tree::Number(n) => Node::Number(n),
            Tree::String(_) => Node::String,
            Tree::Array(_) => Node::Array,
            Tree::Object(_) => Node::Object,
        }
    }

    fn all_items(&self, f: &mut dyn FnMut(&Self) -> bool) -> bool {
        match self {
            Tree::Array(items) => items.iter().all(f),
            _ => true,
        }
    }

    /// Every entry, duplicates included: stricter than the `Value` of the same text, which
    /// keeps only the last, so what passes here passes there.
    fn all_entries(&self, f: &mut dyn FnMut(&str, &Self) -> bool) -> bool {
        match self {
            Tree::Object(entries) => entries.iter().all(|(k, v)| f(k, v)),
            _ => true,
        }
    }
}

/// `value` normalised against `shape` by building it again.
fn rebuild<'a>(value: Tree<'a>, shape: &Value) -> Option<Tree<'a>> {
    match (value, shape) {
        (Tree::Null, _) => None,
        (Tree::Object(mut object), Value::Object(fields)) if !fields.is_empty() => {
            // In a `Value`'s order: which of two spellings wins depends on it.
            tree::canonicalise(&mut object);
            Some(Tree::Object(normalise_object(object, fields)))
        }
        (Tree::Array(items), Value::Array(example)) if !example.is_empty() => Some(Tree::Array(
            items
                .into_iter()
                .filter_map(|item| rebuild(item, &example[0]))
                .collect(),
        )),
        (value, Value::String(_)) => Some(as_text(value)),
        (value, Value::Number(example)) => as_number(value, example.is_f64()),
        (value, Value::Bool(_)) => Some(as_bool(value)),
        (value, _) => Some(value),
    }
}

/// Renames the keys of `object` to `fields`' spelling (case-insensitively) and normalises
/// each value; unknown keys are kept as they are (serde ignores them). As in a map, a later
/// value of a name replaces an earlier one, and a later `null` removes it. `object` is in a
/// `Value`'s order (canonical).
fn normalise_object<'a>(mut object: Entries<'a>, fields: &Map<String, Value>) -> Entries<'a> {
    // While every name is its field's own spelling or no field's (what SiPass sends), values
    // are normalised in place, and one that normalises to nothing (a null) leaves; a
    // normalised value is never null. A name in another spelling needs the map's rules:
    // rebuilding what was done in place again gives it back unchanged.
    for (key, value) in &mut object {
        let shape = match fields.get(key.as_ref()) {
            Some(shape) => shape,
            None if fields.keys().any(|k| k.eq_ignore_ascii_case(key)) => {
                return normalise_renaming(object, fields);
            }
            None => &Value::Null,
        };
        *value = rebuild(std::mem::replace(value, Tree::Null), shape).unwrap_or(Tree::Null);
    }
    object.retain(|(_, value)| !matches!(value, Tree::Null));
    object
}

/// [`normalise_object`] of an object with keys in another spelling than their field's.
pub(crate) fn normalise_renaming<'a>(
    object: Entries<'a>,
    fields: &Map<String, Value>,
) -> Entries<'a> {
    let mut out: Entries<'a> = Vec::with_capacity(object.len());
    for (key, value) in object {
        let (name, field_shape) = match fields.get(key.as_ref()) {
            Some(s) => (key, s),
            None => match fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                Some((k, s)) => (Cow::Owned(k.clone()), s),
                None => (key, &Value::Null),
            },
        };
        // Not `normalise_tree`: its check would walk each subtree again at every level, and
        // rebuilding a normal value gives it back unchanged (tested below).
        match rebuild(value, field_shape) {
            Some(v) => out.push((name, v)),
            None => out.retain(|(k, _)| *k != name),
        }
    }
    out
}

pub(crate) fn as_text(value: Tree<'_>) -> Tree<'_> {
    match value {
        Tree::Number(n) => Tree::String(Cow::Owned(n.to_string())),
        Tree::Bool(b) => Tree::String(Cow::Owned(b.to_string())),
        other => other,
    }
}

/// A number for a numeric field; an empty string gives the default (`None`), a word is
/// left as it is to be refused.
pub(crate) fn as_number(value: Tree<'_>, float: bool) -> Option<Tree<'_>> {
    match value {
        Tree::String(s) => {
            let text = s.trim();
            if text.is_empty() {
                return None;
            }
            if let Ok(i) = text.parse::<i64>() {
                return Some(Tree::Number(i.into()));
            }
            match text.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Some(Tree::Number(n)),
                None => Some(Tree::String(s)),
            }
        }
        // Json.NET binds 4.0 to an integer; serde does not.
        Tree::Number(n) if !float && n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Some(Tree::Number((f as i64).into()))
            }
            _ => Some(Tree::Number(n)),
        },
        other => Some(other),
    }
}

pub(crate) fn as_bool(value: Tree<'_>) -> Tree<'_> {
    match value {
        Tree::String(s) if s.trim().eq_ignore_ascii_case("true") => Tree::Bool(true),
        Tree::String(s) if s.trim().eq_ignore_ascii_case("false") => Tree::Bool(false),
        Tree::Number(n) if n.as_i64() == Some(0) => Tree::Bool(false),
        Tree::Number(n) if n.as_i64() == Some(1) => Tree::Bool(true),
        other => other,
    }
}

/// The value of `key` in `object`, matched case-insensitively (exact spelling first).
pub fn get<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", default)]
    struct Rule {
        rule_token: String,
        rule_type: i32,
        is_favourite: bool,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", default)]
    struct Level {
        token: String,
        name: String,
        access_rule: Vec<Rule>,
    }

    impl Shape for Level {
        fn shape() -> Value {
            json!({"Token": "", "Name": "", "AccessRule": [
                {"RuleToken": "", "RuleType": 0, "IsFavourite": false}
            ]})
        }
    }

    /// A page's tree is normalised exactly as its `Value` would be: nulls, other
    /// spellings, swapped scalars, and keys given twice (the later wins, a later null
    /// removes).
    #[test]
    fn a_tree_normalises_to_what_its_value_normalises_to() {
        let shape = Level::shape();
        for text in [
            r#"{"token": -1, "NAME": null, "accessRule": [{"ruleToken": 12, "ruleType": "2", "isFavourite": "True"}, null]}"#,
            r#"{"Token": "1", "Name": "Lobby", "AccessRule": [{"RuleToken": "5", "RuleType": 4.0, "IsFavourite": 1}]}"#,
            r#"{"Name": "a", "name": "b", "NAME": null, "Token": "x", "token": "y", "Extra": {"n": null}}"#,
            r#"{"Name": "a", "Name": null, "AccessRule": null, "Other": null, "RuleType": " 7 "}"#,
            r#"{"AccessRule": [{"RuleType": "", "IsFavourite": "no"}, {"RuleType": "4.5", "ruletoken": true}]}"#,
            r#"{"Token": "é
", "Name": 1e400, "AccessRule": {"not": "a list"}}"#,
        ] {
            let Ok(value) = serde_json::from_str::<Value>(text) else {
                assert!(Tree::parse(text.as_bytes()).is_err());
                continue;
            };
            let from_value = normalise(value, &shape);
            let from_tree = normalise_tree(Tree::parse(text.as_bytes()).unwrap(), &shape);
            assert_eq!(
                from_tree.map(|t| String::from_utf8(t.to_json()).unwrap()),
                from_value
                    .as_ref()
                    .map(|v| serde_json::to_string(v).unwrap()),
                "{text}"
            );
        }
    }

    #[test]
    fn camel_case_nulls_and_swapped_scalars_bind() {
        let level: Level = bind(json!({
            "token": -1, "NAME": null,
            "accessRule": [{"ruleToken": 12, "ruleType": "2", "isFavourite": "True"}, null]
        }))
        .unwrap();
        assert_eq!(
            level,
            Level {
                token: "-1".into(),
                name: String::new(),
                access_rule: vec![Rule {
                    rule_token: "12".into(),
                    rule_type: 2,
                    is_favourite: true
                }],
            }
        );
    }

    #[test]
    fn a_missing_property_takes_its_default_and_unknown_ones_are_ignored() {
        let level: Level = bind(json!({"Name": "Lobby", "_links": [], "Extra": {"a": 1}})).unwrap();
        assert_eq!(level.name, "Lobby");
        assert!(level.access_rule.is_empty());
    }

    #[test]
    fn a_genuinely_wrong_value_is_still_refused() {
        assert!(bind::<Level>(json!({"AccessRule": [{"RuleType": "two"}]})).is_err());
        assert!(bind::<Level>(json!({"AccessRule": {"RuleType": 2}})).is_err());
        assert!(bind::<Level>(json!({"Name": {"first": "x"}})).is_err());
        let err = bind::<Level>(json!({"AccessRule": [["12", 2, false]]})).unwrap_err();
        assert!(err.to_string().contains("AccessRule[0]"), "{err}");
        assert!(bind::<Level>(json!(["1", "Lobby", []])).is_err());
    }

    #[test]
    fn an_empty_numeric_string_is_the_default_and_integral_floats_are_integers() {
        let level: Level =
            bind(json!({"AccessRule": [{"RuleType": ""}, {"RuleType": 3.0}]})).unwrap();
        assert_eq!(level.access_rule[0].rule_type, 0);
        assert_eq!(level.access_rule[1].rule_type, 3);
    }

    #[test]
    fn a_value_found_normal_is_what_rebuilding_it_gives() {
        let shape = Level::shape();
        let values = [
            json!({"Token": "1", "Name": "Lobby", "AccessRule": [{"RuleToken": "2", "RuleType": 1, "IsFavourite": true}]}),
            json!({"Token": "1", "Extra": {"a": null}, "_links": [null]}),
            json!({"Token": "1", "Extra": null}),
            json!({"token": "1"}),
            json!({"Token": "1", "token": "2"}),
            json!({"Token": 1}),
            json!({"Token": true}),
            json!({"Token": {"x": 1}}),
            json!({"AccessRule": [null]}),
            json!({"AccessRule": [{"RuleType": "2"}]}),
            json!({"AccessRule": [{"RuleType": 2.0}]}),
            json!({"AccessRule": [{"RuleType": 2.5}]}),
            json!({"AccessRule": [{"RuleType": true}]}),
            json!({"AccessRule": [{"IsFavourite": "true"}]}),
            json!({"AccessRule": [{"IsFavourite": 1}]}),
            json!({"AccessRule": [{"IsFavourite": 7}]}),
            json!({"AccessRule": [{"IsFavourite": [1]}]}),
            json!({"AccessRule": {"RuleType": 2}}),
            json!({"Name": ["a"]}),
            json!([1, 2]),
            json!("text"),
        ];
        for value in values {
            let normal = is_normal(&value, &shape);
            let rebuilt = rebuild(Tree::of(&value), &shape).map(Value::from);
            assert_eq!(normalise(value.clone(), &shape), rebuilt, "{value}");
            if normal {
                assert_eq!(rebuilt, Some(value.clone()), "found normal: {value}");
            }
        }
        assert!(is_normal(&json!({"Token": "1", "Name": "Lobby"}), &shape));
        assert!(!is_normal(&json!({"token": "1"}), &shape));
    }
}
