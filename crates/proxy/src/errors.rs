//! How the proxy's own failures reach a role as gRPC statuses, for every service that reads
//! the cache (the calls in `server.rs` and the Watch stream in `watcher.rs`).

use tonic::Status;

use crate::cache::CacheError;

/// A cache failure as the role sees it: retryable, since the file may come back.
pub(crate) fn cache_status(e: CacheError) -> Status {
    tracing::error!("{e}");
    Status::unavailable(format!("the proxy cannot read its cache: {e}"))
}
