//! Each role's acknowledgements: the journal forgets an entry only once every role it knows
//! has acknowledged it, so that one role storing events never makes the proxy forget what
//! another has not stored yet.
//!
//! A role is known by the stable id it sends with Events and AckEvents (a role from before
//! ids sends none and is the role ""). It becomes known when it opens the Events stream, at
//! the position it asked for, and is forgotten when it has not been heard from for
//! [`FORGET_AFTER_MS`] (a role removed for good), or when [`MAX_ROLES`] others are more
//! recent. Whatever happens, the journal's bound (`--journal-max`) still caps what is kept.
//! Everything here is mirrored in the journal's `meta` table as `role_acked:<id>` and
//! `role_seen:<id>`, so that it survives a restart without a schema change.

use std::collections::HashMap;

/// A role not heard from for this long (7 days) no longer holds entries back.
pub const FORGET_AFTER_MS: i64 = 7 * 24 * 3600 * 1000;

/// The most roles remembered; a new one beyond it replaces the least recently seen.
pub const MAX_ROLES: usize = 32;

/// The longest role id accepted.
pub const MAX_ID_LEN: usize = 64;

pub const ACKED_PREFIX: &str = "role_acked:";
pub const SEEN_PREFIX: &str = "role_seen:";

/// Why a role id is refused.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.len() > MAX_ID_LEN {
        return Err(format!(
            "role_id is {} bytes long; at most {MAX_ID_LEN} are accepted",
            id.len()
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "role_id holds {c:?}; only letters, digits, '-' and '_' are accepted"
        ));
    }
    Ok(())
}

/// What the journal knows of one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleAck {
    /// Every entry up to this sequence is stored by the role.
    pub acked: u64,
    /// When the role was last heard from (Unix ms).
    pub seen_ms: i64,
}

/// The roles the journal knows.
#[derive(Debug, Default)]
pub struct Roles {
    roles: HashMap<String, RoleAck>,
}

/// A change to mirror in `meta`: a role to write, or one to remove.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Set(String, RoleAck),
    Forget(String),
}

impl Roles {
    /// The roles recorded in `meta` rows (key, value).
    pub fn from_meta(rows: impl IntoIterator<Item = (String, u64)>) -> Self {
        let mut acked = HashMap::new();
        let mut seen = HashMap::new();
        for (key, value) in rows {
            if let Some(id) = key.strip_prefix(ACKED_PREFIX) {
                acked.insert(id.to_owned(), value);
            } else if let Some(id) = key.strip_prefix(SEEN_PREFIX) {
                seen.insert(id.to_owned(), value as i64);
            }
        }
        let roles = acked
            .into_iter()
            .map(|(id, acked)| {
                let seen_ms = seen.get(&id).copied().unwrap_or(0);
                (id, RoleAck { acked, seen_ms })
            })
            .collect();
        Roles { roles }
    }

    #[cfg(test)]
    pub fn get(&self, id: &str) -> Option<RoleAck> {
        self.roles.get(id).copied()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.roles.len()
    }

    /// A role opening the Events stream after `after`: known from now on at that position
    /// (never below `forgotten`, never above `last`), or seen again.
    pub fn register(
        &mut self,
        id: &str,
        after: u64,
        forgotten: u64,
        last: u64,
        now_ms: i64,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let ack = match self.roles.get(id) {
            Some(known) => RoleAck {
                acked: known.acked,
                seen_ms: now_ms,
            },
            None => {
                if self.roles.len() >= MAX_ROLES {
                    changes.extend(self.forget_least_recent());
                }
                RoleAck {
                    acked: after.min(last).max(forgotten),
                    seen_ms: now_ms,
                }
            }
        };
        self.roles.insert(id.to_owned(), ack);
        changes.push(Change::Set(id.to_owned(), ack));
        changes
    }

    /// A role acknowledging up to `up_to` (clamped to `last`; a position only moves forward).
    pub fn acknowledge(&mut self, id: &str, up_to: u64, last: u64, now_ms: i64) -> Vec<Change> {
        let mut changes = Vec::new();
        if !self.roles.contains_key(id) && self.roles.len() >= MAX_ROLES {
            changes.extend(self.forget_least_recent());
        }
        let ack = self.roles.entry(id.to_owned()).or_insert(RoleAck {
            acked: 0,
            seen_ms: now_ms,
        });
        ack.acked = ack.acked.max(up_to.min(last));
        ack.seen_ms = now_ms;
        changes.push(Change::Set(id.to_owned(), *ack));
        changes
    }

    /// Forgets the roles not heard from for [`FORGET_AFTER_MS`]; never the one `keep`.
    pub fn forget_silent(&mut self, keep: &str, now_ms: i64) -> Vec<Change> {
        let silent: Vec<String> = self
            .roles
            .iter()
            .filter(|(id, ack)| {
                id.as_str() != keep && now_ms.saturating_sub(ack.seen_ms) > FORGET_AFTER_MS
            })
            .map(|(id, _)| id.clone())
            .collect();
        silent
            .into_iter()
            .map(|id| {
                tracing::warn!(
                    role = %id,
                    "a role not heard from for 7 days no longer holds the event journal's entries back"
                );
                self.roles.remove(&id);
                Change::Forget(id)
            })
            .collect()
    }

    fn forget_least_recent(&mut self) -> Option<Change> {
        let (id, _) = self
            .roles
            .iter()
            .min_by_key(|(_, ack)| ack.seen_ms)
            .map(|(id, ack)| (id.clone(), *ack))?;
        tracing::warn!(
            role = %id,
            "more than {MAX_ROLES} roles read the event journal: the least recently seen no longer holds entries back"
        );
        self.roles.remove(&id);
        Some(Change::Forget(id))
    }

    /// What every known role has acknowledged; `None` when no role is known.
    pub fn all_acked(&self) -> Option<u64> {
        self.roles.values().map(|a| a.acked).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_forgotten_only_once_every_role_has_acknowledged_it() {
        let mut roles = Roles::default();
        roles.register("a", 0, 0, 100, 1);
        roles.register("b", 40, 0, 100, 1);
        roles.acknowledge("a", 90, 100, 2);
        assert_eq!(roles.all_acked(), Some(40), "b has stored up to 40 only");
        roles.acknowledge("b", u64::MAX, 100, 2);
        assert_eq!(roles.all_acked(), Some(90), "clamped to the journal's end");
        roles.acknowledge("a", 10, 100, 3);
        assert_eq!(roles.get("a").unwrap().acked, 90, "never backwards");
    }

    #[test]
    fn a_silent_role_is_forgotten_after_a_week_and_the_oldest_beyond_the_cap() {
        let mut roles = Roles::default();
        roles.register("gone", 5, 0, 100, 0);
        roles.register("here", 50, 0, 100, FORGET_AFTER_MS);
        assert_eq!(roles.all_acked(), Some(5));
        let changes = roles.forget_silent("here", FORGET_AFTER_MS + 1);
        assert_eq!(changes, [Change::Forget("gone".into())]);
        assert_eq!(roles.all_acked(), Some(50));
        for i in 0..MAX_ROLES + 3 {
            roles.register(&format!("r{i}"), 60, 0, 100, FORGET_AFTER_MS + 2 + i as i64);
        }
        assert_eq!(roles.len(), MAX_ROLES);
        assert!(
            roles.get("here").is_none(),
            "the least recently seen went first"
        );
    }

    #[test]
    fn roles_come_back_from_meta_and_bad_ids_are_refused() {
        let roles = Roles::from_meta([
            ("role_acked:x".to_owned(), 7),
            ("role_seen:x".to_owned(), 9),
            ("forgotten".to_owned(), 3),
        ]);
        assert_eq!(
            roles.get("x"),
            Some(RoleAck {
                acked: 7,
                seen_ms: 9
            })
        );
        assert!(check_id("0123abcd-_").is_ok());
        assert!(check_id("a\nb").unwrap_err().contains("'\\n'"));
        assert!(check_id(&"x".repeat(65)).is_err());
    }
}
