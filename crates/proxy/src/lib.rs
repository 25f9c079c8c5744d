//! The proxy service that runs beside SiPass.
//!
//! It logs in to SiPass's HR API, loads every cardholder and credential into its cache (each
//! change stamped with the next revision), follows SiPass's push channel, reloads
//! periodically so that changes are found, journals events durably, and serves the bridge
//! protocol on port 5645 over TLS with a shared token.
//!
//! Where each part lives (dependencies point down this list, never up):
//! - [`start`](start()) (`start.rs`): the entry point, which opens the files, logs in and
//!   starts the workers; `config.rs`: how to run a proxy and where its files are.
//! - `serve.rs`: the gRPC server set-up (TLS, token, message limits); `server.rs` answers
//!   the calls, `watcher.rs` and `events.rs` stream the change log and the journal.
//! - The workers, each a [`runtime::Worker`] in [`Shared::workers`]: `reconcile.rs` (reads
//!   SiPass again and again), `follower.rs` (the push channel), `keep_alive.rs` (the HR API
//!   session) and the journal's housekeeping thread (`journal.rs`).
//! - `shared.rs`: the state they all share; `cache.rs`, `journal.rs` and `loader.rs` below it.

mod cache;
mod config;
mod errors;
mod events;
mod follower;
mod journal;
mod keep_alive;
mod listener;
mod loader;
pub mod metrics;
mod reconcile;
mod serve;
mod server;
mod shared;
mod start;
mod watcher;

pub use cache::{Cache, CacheError, CachedEntity, Change, KindSummary, Retention};
pub use config::{ProxyConfig, TlsFiles, cache_path, journal_path, tls_dir, token_path};
pub use journal::{CommittedJournal, Housekeeper, Journal, JournalError};
pub use listener::{Connections, ListenerCounts, ListenerLimits};
pub use loader::{LoadError, LoadProgress, LoadStats};
pub use shared::Shared;
pub use start::{ProxyError, RunningProxy, start};
/// The proxy's databases as the migration runner knows them (`db status|update`).
pub use {cache::SCHEMA as CACHE_SCHEMA, journal::SCHEMA as JOURNAL_SCHEMA};
