//! Serving an axum router over plain HTTP with graceful shutdown (the Config Tool).

use std::future::Future;

use tokio::net::TcpListener;

/// Serves `router` over plain HTTP on `listener` until `shutdown` completes. For loopback
/// and trusted networks only, like the Config Tool behind a reverse proxy.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    if let Err(err) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::warn!("HTTP server stopped: {err}");
    }
}
