//! The shape every long-running part of SiPass Bridge shares.
//!
//! The role's synchronizer, the proxy's reconciliation, its push follower and its journal
//! housekeeping are all loops that run until the process stops. Each is a [`Worker`]: it
//! reports a [`WorkerStatus`] (state, progress, last error) that the status API shows, waits
//! between attempts with one [`Backoff`], and stops through one [`Shutdown`].

mod backoff;
pub mod memory;
mod shutdown;
mod worker;

pub use backoff::Backoff;
pub use shutdown::Shutdown;
pub use worker::{
    BlockingWorker, Progress, StatusReporter, Worker, WorkerContext, WorkerState, WorkerStatus,
    Workers,
};

/// Milliseconds since the Unix epoch: the one wall clock every database timestamp uses.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A blocking call that panicked: a bug, reported as an error so that the caller can fail
/// the one request or retry the one step instead of losing the whole worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked(pub String);

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an internal task failed: {}", self.0)
    }
}

impl std::error::Error for Panicked {}

/// The text of a panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Runs blocking work (a database call) off the async executor; a panic in it comes back
/// as [`Panicked`].
pub async fn try_blocking<T, F>(f: F) -> Result<T, Panicked>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => Err(Panicked(panic_message(&*e.into_panic()))),
        Err(e) => Err(Panicked(format!(
            "cancelled while the runtime shuts down: {e}"
        ))),
    }
}

/// Runs blocking work (a database call) off the async executor and returns its result.
///
/// A panic in `f` is a bug, not an input error: it is carried on to the caller unchanged
/// rather than turned into an error value every caller would have to invent a meaning for.
pub async fn blocking<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels a blocking task; nothing can use the value.
        Err(e) => panic!("blocking task cancelled while the runtime shuts down: {e}"),
    }
}
