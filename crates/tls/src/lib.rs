//! TLS for SiPass Bridge's servers: a certificate authority generated on first start (kept in
//! the data folder so that clients can trust it once), server certificates issued from it,
//! and a graceful HTTP server for axum routers. The simulator and the proxy run their own TLS
//! accept loops (they need to know, and cap, every open connection).
//!
//! The simulator uses it to pose as a SiPass server with its "SiPass Root CA"; the proxy
//! uses it for port 5645.

mod authority;
mod https;

pub use authority::{Authority, ServerIdentity, default_server_names, host_name};
pub use https::{serve, serve_tls};
/// The TLS library, for the configurations [`serve_tls`] takes.
pub use rustls;

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

/// `bytes` random bytes from the operating system, as lower-case hex: for secrets such as
/// the bridge token and session tokens.
pub fn random_hex(bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("the operating system's random number generator failed");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a secret kept in a file (trimmed), or, when the file is missing or empty, writes a
/// fresh random secret there, readable by its owner only.
pub fn load_or_create_secret(path: &std::path::Path) -> Result<String, TlsError> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Err(source) if source.kind() != std::io::ErrorKind::NotFound => Err(TlsError::Read {
            path: path.to_owned(),
            source,
        }),
        _ => {
            let secret = random_hex(32);
            authority::write_private(path, &format!("{secret}\n"))?;
            Ok(secret)
        }
    }
}
