//! Reading what a SiPass server sends, liberally: real servers differ from release to
//! release and from what the public clients recorded (`reference/sipass-api.md`), so
//! answers are bound as SiPass's own ASP.NET binding would (`model::lenient`): keys in any
//! case, `null` anywhere, unknown fields, numbers as strings and strings as numbers. Lists
//! come in the `Records` envelope or as bare arrays, with totals, with `-1`, or without.

use std::sync::LazyLock;
use std::time::Duration;

use model::lenient::{self, Shape};
use model::management::ObjectKind;
use model::normal_read;
use model::sipass::{
    AccessGroup, AccessLevel, CardTechnology, Cardholder, CredentialProfile, Envelope, ErrorBody,
    LoginToken, NamedToken, WorkGroup, flatten_contacts,
};
use model::tree::{self, Tree};
use serde_json::Value;

use crate::SiPassError;

fn malformed(what: &str, reason: impl std::fmt::Display) -> SiPassError {
    SiPassError::Malformed {
        what: what.to_owned(),
        reason: reason.to_string(),
    }
}

fn json(bytes: &[u8], what: &str) -> Result<Value, SiPassError> {
    serde_json::from_slice(bytes).map_err(|e| malformed(what, e))
}

/// The token of a login answer (`{"Token": ...}`, any key case); empty when refused.
pub fn login_token(bytes: &[u8]) -> Result<String, SiPassError> {
    let token: LoginToken =
        lenient::bind(json(bytes, "login")?).map_err(|e| malformed("login", e))?;
    Ok(token.token.trim().to_owned())
}

/// The session timeout: a bare integer of seconds, or the same as a string.
pub fn session_timeout(body: Value) -> Result<Duration, SiPassError> {
    let what = "session timeout";
    let secs = match body {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    secs.map(Duration::from_secs)
        .ok_or_else(|| malformed(what, "not a number of seconds"))
}

/// A list answer: its records and the total SiPass reports (`-1` when it reports none).
/// Takes the `Records` envelope (keys in any case) or a bare array.
pub fn list(body: Value, what: &str) -> Result<(Vec<Value>, i64), SiPassError> {
    let (records, total) = envelope(Tree::of(&body), what)?;
    Ok((records.into_iter().map(Value::from).collect(), total))
}

/// A list answer from its bytes.
pub fn list_bytes(bytes: &[u8], what: &str) -> Result<(Vec<Value>, i64), SiPassError> {
    list(json(bytes, what)?, what)
}

/// The records of a list answer and its total, read as trees.
fn envelope<'a>(body: Tree<'a>, what: &str) -> Result<(Vec<Tree<'a>>, i64), SiPassError> {
    match body {
        Tree::Array(items) => Ok((items, -1)),
        Tree::Object(mut envelope) => {
            // The records are taken out as they are (binding them would copy every one);
            // the rest of the envelope, the totals, is bound leniently.
            tree::canonicalise(&mut envelope);
            let key = envelope
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Records"))
                .map(|(k, _)| k.to_string());
            let records = match key.and_then(|k| tree::remove(&mut envelope, &k)) {
                Some(Tree::Array(records)) => records,
                Some(Tree::Null) | None => Vec::new(),
                Some(_) => return Err(malformed(what, "Records must be a JSON list")),
            };
            let totals: Envelope<Value> = lenient::bind(Value::from(Tree::Object(envelope)))
                .map_err(|e| malformed(what, e))?;
            Ok((records, totals.total_records))
        }
        _ => Err(malformed(what, "neither a list nor a Records envelope")),
    }
}

/// The cardholders of a list page in SiPass's spelling, as [`cardholder`] gives them, but
/// read in place: a record's strings stay slices of the page.
pub fn cardholder_list<'a>(
    bytes: &'a [u8],
    what: &str,
) -> Result<(Vec<Tree<'a>>, i64), SiPassError> {
    // Read and normalised in one pass (`model::normal_read`): reading the page into a tree
    // and then rebuilding each record was most of a first load's CPU time.
    let body = normal_read::list(bytes, &SHAPES.cardholder_read).map_err(|e| malformed(what, e))?;
    envelope(body, what)
}

/// A cardholder (whole or projected) with SiPass's key spelling and value types, so that
/// what reads it further finds `Token`, `FirstName` and `Credentials` whatever the server
/// sent. Fields it does not send stay absent; nulls are dropped.
pub fn cardholder(record: Value) -> Value {
    canonical(record, &SHAPES.cardholder)
}

/// The shapes records are read against, built once: building one is a serialisation of
/// the type's default, which cost as much as reading the record itself.
struct Shapes {
    cardholder: Value,
    cardholder_read: normal_read::ReadShape,
    work_group: Value,
    access_level: Value,
    access_group: Value,
    credential_profile: Value,
    card_technology: Value,
    named_token: Value,
}

static SHAPES: LazyLock<Shapes> = LazyLock::new(|| Shapes {
    cardholder: Cardholder::shape(),
    cardholder_read: normal_read::ReadShape::of(&Cardholder::shape()),
    work_group: WorkGroup::shape(),
    access_level: AccessLevel::shape(),
    access_group: AccessGroup::shape(),
    credential_profile: CredentialProfile::shape(),
    card_technology: CardTechnology::shape(),
    named_token: NamedToken::shape(),
});

/// An object of an HR API kind in SiPass's spelling (workgroup contacts flat); objects of
/// other kinds as they came.
pub fn object(kind: ObjectKind, record: Value) -> Value {
    let shapes = &*SHAPES;
    let shape = match kind {
        ObjectKind::Cardholder => &shapes.cardholder,
        ObjectKind::WorkGroup => &shapes.work_group,
        ObjectKind::AccessLevel => &shapes.access_level,
        ObjectKind::AccessGroup => &shapes.access_group,
        ObjectKind::CredentialProfile => &shapes.credential_profile,
        ObjectKind::CardTechnology => &shapes.card_technology,
        ObjectKind::AccessPoint
        | ObjectKind::AccessPointGroup
        | ObjectKind::FloorPoint
        | ObjectKind::FloorPointGroup
        | ObjectKind::TimeSchedule => &shapes.named_token,
        _ => return record,
    };
    let mut record = record;
    if kind == ObjectKind::WorkGroup
        && let Value::Object(fields) = &mut record
    {
        flatten_contacts(fields);
    }
    canonical(record, shape)
}

/// `record` normalised against `shape`; a value that is not the object the shape wants is
/// left as it is for the caller to refuse.
fn canonical(record: Value, shape: &Value) -> Value {
    match record {
        Value::Object(_) => lenient::normalise(record, shape).unwrap_or(Value::Null),
        other => other,
    }
}

/// The refusal in an error answer: SiPass's `{ErrorCode, Message}` in any key case, or the
/// start of whatever else it sent.
pub fn error(status: u16, bytes: &[u8], what: &str) -> SiPassError {
    let parsed = serde_json::from_slice::<Value>(bytes)
        .ok()
        .filter(Value::is_object)
        .and_then(|v| lenient::bind::<ErrorBody>(v).ok())
        .filter(|e| e.error_code != 0 || !e.message.is_empty());
    let (code, message) = match parsed {
        Some(e) => (e.error_code, e.message),
        None => (
            0,
            String::from_utf8_lossy(bytes).chars().take(200).collect(),
        ),
    };
    SiPassError::Refused {
        what: what.to_owned(),
        status,
        code,
        message,
    }
}
