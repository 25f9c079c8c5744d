//! The plugin role: connects to the proxy, keeps the Directory equal to SiPass, and reports
//! its health.
//!
//! It runs as workers (`runtime::Worker`): the `connection` establishes a session with the
//! proxy (Hello, the version rule, a proxy still loading, backoff with jitter) and hands it
//! to the workers that need one: the `synchronizer` (list, watch, verify, run history) and
//! the `events` recorder (the proxy's event journal into the plugin database). Both reach the proxy through the `proxy::Proxy` trait: gRPC in production,
//! an in-memory fake in the unit tests.

pub mod activation;
pub mod alarms;
pub mod commands;
pub mod compatibility;
pub mod config;
mod connection;
pub mod events;
pub mod lease;
pub mod maintenance;
mod mapping;
mod proxy;
pub mod report;
mod session;
pub mod status;
mod synchronizer;
#[cfg(test)]
mod tests;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use store::{Directory, PluginDatabase, StoreError};
use tokio::sync::Notify;

use crate::alarms::{AlarmManager, AlarmSignals};
use crate::commands::CommandDesk;
use crate::connection::{Connection, Waits};
use crate::events::{EventFeed, EventRecorder};
use crate::proxy::{Dialer, GrpcDialer};
use crate::synchronizer::{Pace, Synchronizer};

pub use status::{Health, HealthState, StatusBoard};

/// Configuration keys in the Directory.
pub mod keys {
    pub const PROXY_HOST: &str = "proxy.host";
    pub const PROXY_PORT: &str = "proxy.port";
    pub const SYNC_CREDENTIALS: &str = "sync.credentials";
    /// The event categories not logged (JSON array of names); every one is logged by default.
    pub const EVENTS_NOT_LOGGED: &str = "events.not_logged";
    /// SiPass event types never stored (JSON array of names).
    pub const EVENTS_IGNORED: &str = "events.ignored";
    /// The partitions every SiPass entity belongs to (JSON array of names); "SiPass" when unset.
    pub const ENTITY_PARTITIONS: &str = "entities.partitions";
    /// The default recipients of a new alarm entity (JSON array of recipients).
    pub const ALARM_RECIPIENTS: &str = "alarms.recipients";
    /// The partitions of every alarm entity (JSON array of names).
    pub const ALARM_PARTITIONS: &str = "alarms.partitions";
    /// Where alarm changes are posted; empty or absent: nowhere.
    pub const ALARM_WEBHOOK_URL: &str = "alarms.webhook_url";
    /// The output behaviour linked to a pulse pattern: this prefix and the pattern's name
    /// (`outputs.behaviour.toggle`).
    pub const OUTPUT_BEHAVIOUR_PREFIX: &str = "outputs.behaviour.";
}

/// What the role needs before it can open its database.
#[derive(Clone)]
pub struct RoleConfig {
    /// Holds the Directory database (SQLite), the API token and the role's state; must exist.
    pub data_dir: PathBuf,
    /// A PostgreSQL database holding the Directory and the plugin database instead of the
    /// data folder's SQLite files (`postgres://...`).
    pub database_url: Option<String>,
    /// PEM of the proxy's CA.
    pub proxy_ca_pem: String,
    /// The shared bridge token.
    pub proxy_token: String,
    /// How the role names itself to the proxy.
    pub client_name: String,
}

/// Why the role cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error(
        "data folder '{0}' does not exist; create it (mkdir -p -m 700 {0}) or point --data at the role's folder"
    )]
    NoDataFolder(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the Directory database is in a data folder.
pub fn directory_path(data_dir: &Path) -> PathBuf {
    data_dir.join("directory.db")
}

/// Where the plugin database (events) is in a data folder, beside the Directory.
pub fn plugin_path(data_dir: &Path) -> PathBuf {
    data_dir.join(store::sqlite::PLUGIN.file)
}

/// The plugin role: its Directory, its plugin database, its status, its workers and their
/// controls.
pub struct Role {
    pub directory: Arc<dyn Directory>,
    pub plugin: Arc<dyn PluginDatabase>,
    /// The Config Tool's users, groups and partitions (in the Directory's file).
    pub accounts: Arc<dyn store::Accounts>,
    pub status: Arc<StatusBoard>,
    /// Events as they are stored (the live feed).
    pub feed: EventFeed,
    /// Alarm changes as they are written (the live feed), and the alarm workers' wake-ups.
    pub alarm_signals: AlarmSignals,
    /// The role's workers, for the status API.
    pub workers: runtime::Workers,
    /// Where commands to SiPass are sent from (the activity trail records each).
    pub commands: CommandDesk,
    /// Whether the workers run: deactivated for a restore or an upgrade.
    pub activation: Arc<activation::Activation>,
    /// One backup, restore or update at a time, and how far it is.
    pub maintenance: maintenance::Maintenance,
    /// On PostgreSQL: the database's lease, which the active one of the roles sharing it
    /// holds.
    lease: Option<Arc<store::postgres::lease::Lease>>,
    config: RoleConfig,
    manual_sync: Arc<Notify>,
    /// Wakes a connection waiting to try again (not configured, or backing off).
    reconnect: Arc<Notify>,
}

impl Role {
    /// Opens the Directory and the plugin database, in the data folder or in the PostgreSQL
    /// database of `database_url` (creating them when new); either one damaged or on
    /// another schema is refused, naming the file or the database.
    pub fn open(config: RoleConfig) -> Result<Self, RoleError> {
        if !config.data_dir.is_dir() {
            return Err(RoleError::NoDataFolder(config.data_dir.clone()));
        }
        let (directory, plugin, accounts) = match &config.database_url {
            Some(url) => (
                store::open_postgres(url)?,
                store::open_postgres_plugin(url)?,
                store::open_postgres_accounts(url)?,
            ),
            None => (
                store::open(&directory_path(&config.data_dir))?,
                store::open_plugin(&plugin_path(&config.data_dir))?,
                store::open_accounts(&directory_path(&config.data_dir))?,
            ),
        };
        let lease = config.database_url.as_ref().map(|url| {
            let name = format!(
                "sipass-bridge role {} pid {}",
                config.client_name,
                std::process::id()
            );
            Arc::new(store::postgres::lease::Lease::new(url, &name))
        });
        let status = Arc::new(StatusBoard::new());
        let commands = CommandDesk::new(
            directory.clone(),
            plugin.clone(),
            config.client_name.clone(),
            status.clone(),
        );
        Ok(Role {
            commands,
            directory,
            plugin,
            accounts,
            status,
            feed: EventFeed::default(),
            alarm_signals: AlarmSignals::default(),
            workers: runtime::Workers::new(),
            activation: Arc::default(),
            maintenance: maintenance::Maintenance::default(),
            lease,
            config,
            manual_sync: Arc::new(Notify::new()),
            reconnect: Arc::new(Notify::new()),
        })
    }

    /// Sets the proxy's address in the Directory's configuration; returns the different
    /// address it replaces (set in the Config Tool or with `config set`), if one was stored,
    /// so that the caller can say so. Without a port, the stored one (or 5645) is kept.
    pub fn set_proxy_address(
        &self,
        host: &str,
        port: Option<u16>,
    ) -> Result<Option<String>, StoreError> {
        let stored = config::read(self.directory.as_ref())?;
        let port = port.unwrap_or(stored.port);
        self.directory.set_config(&[
            (keys::PROXY_HOST, host.to_owned()),
            (keys::PROXY_PORT, port.to_string()),
        ])?;
        let replaced = !stored.host.is_empty() && (stored.host != host || stored.port != port);
        Ok(replaced.then(|| format!("{}:{}", stored.host, stored.port)))
    }

    /// Asks for a full synchronization now (the Config Tool's "Start synchronization").
    pub fn start_full_sync(&self) {
        self.manual_sync.notify_one();
    }

    /// Settings were applied (the Properties page's Apply): a connection waiting for an
    /// address, or backing off from the old one, tries at once; a connected one notices a
    /// changed address by itself. The first connection starts the full synchronization.
    pub fn settings_applied(&self) {
        // A permit, not a wake-up of current waiters only: an Apply landing just before the
        // connection starts waiting still ends that wait (at worst, one wait is skipped).
        self.reconnect.notify_one();
    }

    /// Starts the role's workers (the connection to the proxy, and within each session the
    /// synchronizer); they run until `shutdown` is triggered. The handle ends with them.
    pub fn spawn(&self, shutdown: runtime::Shutdown) -> tokio::task::JoinHandle<()> {
        let dialer = GrpcDialer {
            ca_pem: self.config.proxy_ca_pem.clone(),
            token: self.config.proxy_token.clone(),
        };
        self.spawn_with(dialer, Waits::default(), Pace::default(), &shutdown)
    }

    /// Starts the workers against the proxy `dialer` reaches, waiting as `waits` and `pace`
    /// say: the gRPC proxy in production, a fake one in tests. They can be stopped and
    /// started again ([`Role::activation`]); the handle ends once `shutdown` stopped them.
    fn spawn_with<D: Dialer + Clone>(
        &self,
        dialer: D,
        waits: Waits,
        pace: Pace,
        shutdown: &runtime::Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        let directory = self.directory.clone();
        let plugin = self.plugin.clone();
        let status = self.status.clone();
        let manual_sync = self.manual_sync.clone();
        let reconnect = self.reconnect.clone();
        let workers = self.workers.clone();
        let feed = self.feed.clone();
        let signals = self.alarm_signals.clone();
        let commands = self.commands.clone();
        let client_name = self.config.client_name.clone();
        // Everything that reads the proxy or writes the databases, started again at each
        // activation; the handle ends when all of it has stopped.
        let starter: activation::Starter = Arc::new(move |own: &runtime::Shutdown| {
            let synchronizer = Synchronizer {
                directory: directory.clone(),
                status: status.clone(),
                manual_sync: manual_sync.clone(),
                reporter: workers.reporter("synchronizer"),
                pace,
            };
            let events = EventRecorder {
                directory: directory.clone(),
                plugin: plugin.clone(),
                reporter: workers.reporter("events"),
                feed: feed.clone(),
                alarms: signals.clone(),
            };
            let alarms = AlarmManager {
                directory: directory.clone(),
                plugin: plugin.clone(),
                reporter: workers.reporter("alarms"),
                signals: signals.clone(),
            };
            let webhook = workers.spawn(
                alarms::webhook::Webhook {
                    directory: directory.clone(),
                    plugin: plugin.clone(),
                    signals: signals.clone(),
                    max_waiting: alarms::webhook::MAX_WAITING,
                },
                own,
            );
            let connection = Connection {
                dialer: dialer.clone(),
                directory: directory.clone(),
                status: status.clone(),
                client_name: client_name.clone(),
                waits,
                synchronizer,
                events,
                alarms,
                commands: commands.line(),
                reconnect: reconnect.clone(),
            };
            let connection = workers.spawn(connection, own);
            tokio::spawn(async move {
                let _ = connection.await;
                let _ = webhook.await;
            })
        });
        let kept = match activation::kept_deactivation(&self.config.data_dir) {
            Ok(kept) => kept,
            Err(e) => {
                // Unreadable: better stay deactivated than resume against the administrator.
                let file = self.config.data_dir.join(activation::DEACTIVATED_FILE);
                tracing::warn!(
                    "could not read {}: {e}; the role stays deactivated",
                    file.display()
                );
                Some(format!("{} could not be read ({e})", file.display()))
            }
        };
        let kept = kept.map(|reason| {
            format!(
                "{reason} (kept across the restart; activate it from Resources or with `sipass-bridge role-state activate`)"
            )
        });
        // A role sharing its database starts as a standby until it holds the lease.
        let kept = match (&self.lease, kept) {
            (Some(_), None) => Some(lease::waiting()),
            (_, kept) => kept,
        };
        let handle = self.activation.start(
            starter,
            shutdown.clone(),
            kept.map(|reason| (reason, self.status.as_ref())),
        );
        if let Some(held) = &self.lease {
            tokio::spawn(lease::keep(
                held.clone(),
                self.activation.clone(),
                self.status.clone(),
                shutdown.clone(),
            ));
        }
        handle
    }

    /// On a shared PostgreSQL database, who holds the lease when it is not this role; `None`
    /// when this role may be active (it holds it, or shares nothing).
    pub fn lease_elsewhere(&self) -> Result<Option<String>, StoreError> {
        let Some(lease) = &self.lease else {
            return Ok(None);
        };
        Ok(match lease.hold()? {
            store::postgres::lease::LeaseState::Held => None,
            store::postgres::lease::LeaseState::Elsewhere { holder } => Some(holder),
        })
    }
}
