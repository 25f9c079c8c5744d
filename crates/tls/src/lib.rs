//! TLS for SiPass Bridge's servers: a certificate authority generated on first start (kept in
//! the data folder so that clients can trust it once), server certificates issued from it,
//! and an HTTPS accept loop for axum routers.
//!
//! The simulator uses it to pose as a SiPass server with its "SiPass Root CA"; the proxy
//! uses it for port 5645.

mod authority;
mod https;

pub use authority::{Authority, ServerIdentity, default_server_names};
pub use https::{serve, serve_https};

use std::path::PathBuf;

/// What can go wrong setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}; check that the data folder is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable PEM {what}: {reason}")]
    BadPem {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Installs the process-wide rustls crypto provider (ring) once. Safe to call many times.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
