//! A session with the proxy: what the connection establishes and hands to the workers that
//! need the proxy, and why one ends.

use model::EntityKind;
use store::{Directory, StoreError};

use crate::keys;
use crate::proxy::{Endpoint, ProxyError};

/// An established session: Hello said, versions compatible, the proxy loaded.
pub(crate) struct Session<P> {
    pub proxy: P,
    pub endpoint: Endpoint,
    /// The proxy cache the session reads; a copy from another cache is listed again.
    pub cache_id: String,
    /// The kinds the proxy serves.
    pub served: Vec<EntityKind>,
    /// The kinds this session synchronizes: served and wanted by the configuration.
    pub kinds: Vec<EntityKind>,
}

/// Why a session ended, or never started: the connection decides from it how long to wait.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    Shutdown,
    /// The configuration changed (proxy address, credential synchronization): start over.
    Reconfigured,
    NotConfigured(String),
    Disconnected(String),
    Incompatible(String),
    Database(String),
}

impl From<StoreError> for SessionEnd {
    fn from(e: StoreError) -> Self {
        SessionEnd::Database(e.to_string())
    }
}

impl From<ProxyError> for SessionEnd {
    /// A failed call whose message says on its own what failed.
    fn from(e: ProxyError) -> Self {
        match e {
            ProxyError::Incompatible(reason) => SessionEnd::Incompatible(reason),
            other => SessionEnd::Disconnected(other.to_string()),
        }
    }
}

impl SessionEnd {
    /// A failed call, with `context` saying which (e.g. "listing cardholders failed").
    pub fn from_proxy(context: &str, e: ProxyError) -> Self {
        match e {
            ProxyError::Incompatible(reason) => SessionEnd::Incompatible(reason),
            ProxyError::BadPageToken(reason)
            | ProxyError::NotReady(reason)
            | ProxyError::Unavailable(reason) => {
                SessionEnd::Disconnected(format!("{context}: {reason}"))
            }
        }
    }
}

/// The proxy's address as configured in the Directory.
pub(crate) fn configured_endpoint(directory: &dyn Directory) -> Result<Endpoint, SessionEnd> {
    let host = directory.config(keys::PROXY_HOST)?.unwrap_or_default();
    if host.is_empty() {
        return Err(SessionEnd::NotConfigured(
            "not configured: no proxy address is set; enter the proxy's host and port on the Properties page and click Apply (or run `sipass-bridge config set --host <name or IP>`)"
                .into(),
        ));
    }
    let port = match directory.config(keys::PROXY_PORT)? {
        Some(p) => p.parse().map_err(|_| {
            SessionEnd::NotConfigured(format!(
                "not configured: the stored proxy port '{p}' is not a number from 1 to 65535; set it on the Properties page"
            ))
        })?,
        None => protocol::DEFAULT_PORT,
    };
    Ok(Endpoint { host, port })
}

/// The served SiPass kinds this role synchronizes, per its configuration (credentials are
/// synchronized unless switched off).
pub(crate) fn wanted_kinds(
    directory: &dyn Directory,
    served: &[EntityKind],
) -> Result<Vec<EntityKind>, SessionEnd> {
    let credentials = directory
        .config(keys::SYNC_CREDENTIALS)?
        .is_none_or(|v| v == "true");
    Ok(EntityKind::ALL
        .into_iter()
        .filter(|k| served.contains(k))
        .filter(|k| *k != EntityKind::Credential || credentials)
        .collect())
}

impl<P> Session<P> {
    /// True when the configuration no longer matches what this session works with.
    pub fn reconfigured(&self, directory: &dyn Directory) -> Result<bool, SessionEnd> {
        Ok(wanted_kinds(directory, &self.served)? != self.kinds
            || configured_endpoint(directory)? != self.endpoint)
    }
}
