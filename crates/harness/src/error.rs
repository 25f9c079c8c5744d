use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong while driving the system from outside; each says which part and what.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error(
        "{name} stopped or did not print \"listening on\" within {timeout:?}; its standard error:\n{stderr}"
    )]
    NotListening {
        name: &'static str,
        timeout: Duration,
        stderr: String,
    },
    #[error("{name} did not exit within {timeout:?}")]
    NoExit {
        name: &'static str,
        timeout: Duration,
    },
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout { what: String, timeout: Duration },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{request} answered {status}: {body}")]
    Status {
        request: String,
        status: u16,
        body: String,
    },
    #[error("unexpected answer from {what}: {detail}")]
    Answer { what: String, detail: String },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot connect to the proxy: {0}")]
    Connect(String),
}

/// Reads a file to a string, naming it on failure.
pub(crate) fn read(path: &std::path::Path) -> Result<String, HarnessError> {
    std::fs::read_to_string(path).map_err(|source| HarnessError::Read {
        path: path.to_owned(),
        source,
    })
}
