//! The plugin role: connects to the proxy, keeps the Directory equal to SiPass, and reports
//! its health.

pub mod config;
mod mapping;
pub mod report;
pub mod status;
mod sync;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use store::{Directory, StoreError};
use tokio::sync::{Notify, watch};

pub use status::{Health, HealthState, StatusBoard};

/// Configuration keys in the Directory.
pub mod keys {
    pub const PROXY_HOST: &str = "proxy.host";
    pub const PROXY_PORT: &str = "proxy.port";
    pub const SYNC_CREDENTIALS: &str = "sync.credentials";
}

/// What the role needs before it can open its database.
#[derive(Clone)]
pub struct RoleConfig {
    /// Holds the Directory database; must exist.
    pub data_dir: PathBuf,
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
        "data folder '{0}' does not exist; create it (mkdir -p {0}) or point --data at the role's folder"
    )]
    NoDataFolder(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the Directory database is in a data folder.
pub fn directory_path(data_dir: &Path) -> PathBuf {
    data_dir.join("directory.db")
}

/// The plugin role: its Directory, its status, and the synchronization engine's controls.
pub struct Role {
    pub directory: Arc<dyn Directory>,
    pub status: Arc<StatusBoard>,
    config: RoleConfig,
    manual_sync: Arc<Notify>,
}

impl Role {
    /// Opens the Directory in the data folder (creating it when new).
    pub fn open(config: RoleConfig) -> Result<Self, RoleError> {
        if !config.data_dir.is_dir() {
            return Err(RoleError::NoDataFolder(config.data_dir.clone()));
        }
        let directory = store::open(&directory_path(&config.data_dir))?;
        Ok(Role {
            directory,
            status: Arc::new(StatusBoard::new()),
            config,
            manual_sync: Arc::new(Notify::new()),
        })
    }

    /// Sets the proxy's address in the Directory's configuration.
    pub fn set_proxy_address(&self, host: &str, port: u16) -> Result<(), StoreError> {
        self.directory.set_config(&[
            (keys::PROXY_HOST, host.to_owned()),
            (keys::PROXY_PORT, port.to_string()),
        ])
    }

    /// Asks for a full synchronization now (the Config Tool's "Start synchronization").
    pub fn start_full_sync(&self) {
        self.manual_sync.notify_one();
    }

    /// Runs the synchronization engine until `shutdown` turns true.
    pub fn spawn(&self, shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let engine = sync::Engine {
            directory: self.directory.clone(),
            status: self.status.clone(),
            config: self.config.clone(),
            manual_sync: self.manual_sync.clone(),
        };
        tokio::spawn(engine.run(shutdown))
    }
}
