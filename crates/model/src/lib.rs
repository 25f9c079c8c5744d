//! Domain types shared by every part of SiPass Bridge.
//!
//! Nothing here knows about a database, a socket or a clock: these are the words the
//! simulator, the proxy and the plugin role use to talk about the same things.

pub mod access;
pub mod commands;
pub mod digest;
pub mod event_mapping;
pub mod kind;
pub mod lenient;
pub mod management;
pub mod mapping;
pub mod normal_read;
pub mod run;
pub mod sipass;
pub mod time;
pub mod tree;
pub mod version;

pub use digest::Digest;
pub use kind::{DirectoryKind, EntityKind, UnknownKind};
pub use run::RunOutcome;
pub use version::{Compatibility, Incompatible, PeerVersions, SiPassVersion};

/// A position in the proxy's change history. Every change to the proxy's cache gets the next
/// revision, so "everything after revision N" is a well-defined question.
pub type Revision = u64;
