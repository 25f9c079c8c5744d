//! Config Tool accounts in the Directory: users, user groups, partitions and API tokens.
//! Kept apart from the synchronized entities; hashing and checking passwords is the Config
//! Tool's business, this only keeps what it is given.

use crate::StoreError;

/// A Config Tool user as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub name: String,
    /// `administrator` or `operator`.
    pub role: String,
    /// The argon2 PHC string of the password.
    pub password_hash: String,
    /// Set for a one-time password: the user is asked to choose its own.
    pub must_change_password: bool,
    /// The partitions the user belongs to directly (not through its groups).
    pub partitions: Vec<String>,
}

/// A user group: its members and the partitions they reach through it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupRow {
    pub name: String,
    pub members: Vec<String>,
    pub partitions: Vec<String>,
}

/// A user with its groups and every partition it reaches, directly or through a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub user: UserRow,
    pub groups: Vec<String>,
    pub partitions: Vec<String>,
}

/// An API token as kept: its SHA-256 (the token itself is never kept), its user and label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub digest: String,
    pub user: String,
    pub label: String,
}

/// Users, groups, partitions and API tokens. Names are unique per kind; a name that does not
/// exist in a reference (a member, a partition) is refused by the engine as `Sql`, so callers
/// check first to give a message naming it.
pub trait Accounts: Send + Sync {
    fn users(&self) -> Result<Vec<UserRow>, StoreError>;
    fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError>;
    /// The user with its groups and partitions, as a request acts.
    fn membership(&self, name: &str) -> Result<Option<Membership>, StoreError>;
    /// Creates or replaces a user (its direct partitions too).
    fn put_user(&self, user: &UserRow) -> Result<(), StoreError>;
    /// Removes a user with its memberships and tokens; false when there was none.
    fn delete_user(&self, name: &str) -> Result<bool, StoreError>;
    /// Sets a user's password hash; false when there is no such user.
    fn set_password(&self, name: &str, hash: &str, must_change: bool) -> Result<bool, StoreError>;
    /// How many administrators there are (the last one is never removed).
    fn administrators(&self) -> Result<u64, StoreError>;

    fn groups(&self) -> Result<Vec<GroupRow>, StoreError>;
    /// Creates or replaces a group with its members and partitions.
    fn put_group(&self, group: &GroupRow) -> Result<(), StoreError>;
    fn delete_group(&self, name: &str) -> Result<bool, StoreError>;

    fn partitions(&self) -> Result<Vec<String>, StoreError>;
    fn add_partition(&self, name: &str) -> Result<(), StoreError>;
    fn delete_partition(&self, name: &str) -> Result<bool, StoreError>;

    /// Keeps an API token's digest for a user.
    fn add_token(&self, digest: &str, user: &str, label: &str) -> Result<(), StoreError>;
    /// The user an API token's digest belongs to.
    fn token_user(&self, digest: &str) -> Result<Option<String>, StoreError>;
    /// Every API token, by user then label.
    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError>;
    /// Revokes the API token with this digest; false when there was none.
    fn delete_token(&self, digest: &str) -> Result<bool, StoreError>;
}
