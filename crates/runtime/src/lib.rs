//! The shape every long-running part of SiPass Bridge shares.
//!
//! The role's synchronizer, the proxy's reconciliation, its push follower and its journal
//! housekeeping are all loops that run until the process stops. Each is a [`Worker`]: it
//! reports a [`WorkerStatus`] (state, progress, last error) that the status API shows, waits
//! between attempts with one [`Backoff`], and stops through one [`Shutdown`].

mod backoff;
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
