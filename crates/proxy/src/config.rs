//! How to run a proxy, and where it keeps its files in its data folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use model::SiPassVersion;
use sipass_client::SiPassConfig;

use crate::cache::Retention;

/// How to run a proxy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Holds the TLS authority and the bridge token; must exist.
    pub data_dir: PathBuf,
    pub sipass: SiPassConfig,
    /// The SiPass release behind this proxy, reported to roles in Hello.
    pub sipass_version: SiPassVersion,
    /// The shared token; read from (or created in) the data folder when not given.
    pub token: Option<String>,
    /// Names and addresses the proxy's certificate is valid for.
    pub tls_names: Vec<String>,
    /// A certificate and key given by the operator (PEM files, with the CA that roles must
    /// trust); by default the proxy's own CA issues one at each start.
    pub tls_files: Option<TlsFiles>,
    /// How often SiPass is read again to find changes.
    pub reload_every: Duration,
    /// How often when SiPass has no push channel (a real SiPass): reading again is then the
    /// only way changes are found, so it is done more often.
    pub reload_every_without_push: Duration,
    /// How long changes stay watchable.
    pub retention: Retention,
    /// The most unacknowledged events the journal keeps.
    pub journal_max: u64,
    /// How many connections port 5645 holds, and for how long.
    pub limits: crate::ListenerLimits,
}

/// The proxy's certificate chain, key and CA as files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: Option<PathBuf>,
}

/// Where the bridge token is kept in the data folder.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("proxy-token")
}

/// Where the proxy's cache is kept in the data folder.
pub fn cache_path(data_dir: &Path) -> PathBuf {
    data_dir.join("cache.db")
}

/// Where the proxy's event journal is kept in the data folder.
pub fn journal_path(data_dir: &Path) -> PathBuf {
    data_dir.join("journal.db")
}

/// Where the proxy's TLS authority is kept in the data folder.
pub fn tls_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}
