//! Tables of SiPass objects other than cardholders, keyed by numeric token.
//!
//! Handlers reach every table through [`AnyTable`], which speaks JSON, so one set of
//! routes serves twenty kinds; the simulator's own logic (commands, events) uses the typed
//! [`Table`] underneath.

use std::collections::BTreeMap;

use model::management::{
    AlarmClass, ApbArea, ApbCluster, Bank, Doorset, Input, IntrusionArea, Output, Unit,
};
use model::sipass::{
    AccessGroup, AccessLevel, CardTechnology, CredentialProfile, NamedToken, WorkGroup,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An object with a numeric token that a table can hold.
pub trait Record: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The shape bodies are bound against (`model::lenient`); `null` binds strictly (the
    /// management and test kinds are ours, not SiPass's).
    fn shape() -> Value {
        Value::Null
    }
    fn token(&self) -> u64;
    fn set_token(&mut self, token: u64);
    fn name(&self) -> &str;
}

macro_rules! string_token_record {
    ($($t:ty),*) => {$(
        impl Record for $t {
            fn token(&self) -> u64 {
                self.token.trim().parse().unwrap_or(0)
            }
            fn set_token(&mut self, token: u64) {
                self.token = token.to_string();
            }
            fn name(&self) -> &str {
                &self.name
            }
        }
    )*};
}

/// The HR API kinds bind as SiPass does.
macro_rules! hr_record {
    ($($t:ty),*) => {$(
        impl Record for $t {
            fn shape() -> Value {
                <$t as model::lenient::Shape>::shape()
            }
            fn token(&self) -> u64 {
                self.token.trim().parse().unwrap_or(0)
            }
            fn set_token(&mut self, token: u64) {
                self.token = token.to_string();
            }
            fn name(&self) -> &str {
                &self.name
            }
        }
    )*};
}

hr_record!(AccessLevel, AccessGroup, NamedToken, CredentialProfile);

string_token_record!(
    Unit,
    Doorset,
    Bank,
    ApbCluster,
    ApbArea,
    IntrusionArea,
    Input,
    Output,
    AlarmClass
);

impl Record for WorkGroup {
    fn shape() -> Value {
        <WorkGroup as model::lenient::Shape>::shape()
    }
    fn token(&self) -> u64 {
        u64::try_from(self.token).unwrap_or(0)
    }
    fn set_token(&mut self, token: u64) {
        self.token = i64::try_from(token).unwrap_or(i64::MAX);
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// Card technologies are keyed by their `TechnologyCode`.
impl Record for CardTechnology {
    fn shape() -> Value {
        <CardTechnology as model::lenient::Shape>::shape()
    }
    fn token(&self) -> u64 {
        u64::try_from(self.technology_code).unwrap_or(0)
    }
    fn set_token(&mut self, token: u64) {
        self.technology_code = i64::try_from(token).unwrap_or(i64::MAX);
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// Objects of one kind, in token order.
#[derive(Clone)]
pub struct Table<T> {
    rows: BTreeMap<u64, T>,
    next: u64,
}

impl<T: Record> Table<T> {
    /// An empty table whose first created object gets `first_token`.
    pub fn new(first_token: u64) -> Self {
        Table {
            rows: BTreeMap::new(),
            next: first_token,
        }
    }

    /// Adds `row` under its own token (generation), keeping `next` beyond it.
    pub fn insert(&mut self, row: T) {
        let token = row.token();
        self.next = self.next.max(token + 1);
        self.rows.insert(token, row);
    }

    /// Adds `row` under the next token, which it returns.
    pub fn create(&mut self, mut row: T) -> u64 {
        let token = self.next;
        self.next += 1;
        row.set_token(token);
        self.rows.insert(token, row);
        token
    }

    pub fn get(&self, token: u64) -> Option<&T> {
        self.rows.get(&token)
    }

    pub fn get_mut(&mut self, token: u64) -> Option<&mut T> {
        self.rows.get_mut(&token)
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.rows.values()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// A row picked from a random number: O(log n), no list needed.
    pub fn pick(&self, random: u64) -> Option<&T> {
        let (&first, _) = self.rows.first_key_value()?;
        let (&last, _) = self.rows.last_key_value()?;
        let wanted = first + random % (last - first + 1);
        self.rows.range(wanted..).next().map(|(_, v)| v)
    }
}

/// Why a JSON body could not become an object.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("not a valid {kind}: {reason}")]
    Invalid { kind: &'static str, reason: String },
    #[error("no {kind} with token '{token}'")]
    NotFound { kind: &'static str, token: String },
}

/// A table as the HTTP handlers see it: JSON in, JSON out.
pub trait AnyTable: Send + Sync {
    fn list(&self) -> Vec<Value>;
    fn get_json(&self, token: u64) -> Option<Value>;
    fn create_json(&mut self, body: Value) -> Result<u64, RowError>;
    fn update_json(&mut self, token: u64, body: Value) -> Result<(), RowError>;
    fn delete(&mut self, token: u64) -> bool;
    fn contains(&self, token: u64) -> bool;
}

impl<T: Record> AnyTable for Table<T> {
    fn list(&self) -> Vec<Value> {
        self.rows
            .values()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect()
    }

    fn get_json(&self, token: u64) -> Option<Value> {
        serde_json::to_value(self.rows.get(&token)?).ok()
    }

    fn create_json(&mut self, body: Value) -> Result<u64, RowError> {
        Ok(self.create(parse::<T>(body)?))
    }

    fn update_json(&mut self, token: u64, body: Value) -> Result<(), RowError> {
        let mut row = parse::<T>(body)?;
        let Some(slot) = self.rows.get_mut(&token) else {
            return Err(RowError::NotFound {
                kind: short_type_name::<T>(),
                token: token.to_string(),
            });
        };
        row.set_token(token);
        *slot = row;
        Ok(())
    }

    fn delete(&mut self, token: u64) -> bool {
        self.rows.remove(&token).is_some()
    }

    fn contains(&self, token: u64) -> bool {
        self.rows.contains_key(&token)
    }
}

/// A body as a row: HR API kinds bound leniently (nested workgroup contacts flattened
/// first), the others strictly.
fn parse<T: Record>(mut body: Value) -> Result<T, RowError> {
    if let Value::Object(fields) = &mut body {
        model::sipass::flatten_contacts(fields);
    }
    let shape = T::shape();
    let invalid = |reason: String| RowError::Invalid {
        kind: short_type_name::<T>(),
        reason,
    };
    let body = if shape.is_null() {
        body
    } else {
        model::lenient::prepare(body, &shape).map_err(invalid)?
    };
    serde_json::from_value(body).map_err(|e| RowError::Invalid {
        kind: short_type_name::<T>(),
        reason: e.to_string(),
    })
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}
