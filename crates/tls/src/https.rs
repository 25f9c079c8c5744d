//! Serving an axum router over HTTP/1.1, plain or over TLS, with graceful shutdown (the
//! Config Tool).
//!
//! Its own accept loop rather than `axum::serve`, for the limits a listener needs: request
//! headers must arrive within [`HEADER_TIMEOUT`] (a connection that sends nothing, or sends
//! its headers a byte a minute, is closed), and at most [`MAX_CONNECTIONS`] are open at once.
//! Browsers speak HTTP/1.1 to a plain-HTTP server, so HTTP/2 is not offered.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long a client has to send a request's headers, also when it is idle between requests.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once; beyond that a new one is closed at once.
pub const MAX_CONNECTIONS: usize = 256;
/// How long open requests get to finish once shutdown starts.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` over plain HTTP on `listener` until `shutdown` completes. For loopback
/// and trusted networks only, like the Config Tool behind a reverse proxy.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_within(listener, router, None, shutdown, HEADER_TIMEOUT).await
}

/// [`serve`] over HTTPS with `config` (HTTP/1.1): the TLS handshake, too, must finish
/// within [`HEADER_TIMEOUT`].
pub async fn serve_tls(
    listener: TcpListener,
    router: axum::Router,
    config: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut config = (*config).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    serve_within(listener, router, Some(acceptor), shutdown, HEADER_TIMEOUT).await
}

/// [`serve`], with request headers due within `header_timeout`. Every request carries the
/// peer's address (`ConnectInfo<SocketAddr>`), e.g. to limit failed sign-ins per address.
async fn serve_within(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_timeout: Duration,
) {
    let graceful = GracefulShutdown::new();
    let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    tracing::warn!("the HTTP listener cannot accept connections: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(place) = places.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "refused a connection: {MAX_CONNECTIONS} are open");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            tower::ServiceExt::oneshot(router.clone(), req)
        });
        let builder = {
            let mut b = hyper::server::conn::http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            b
        };
        match &tls {
            None => {
                let watched = graceful.watch(builder.serve_connection(TokioIo::new(tcp), service));
                tokio::spawn(async move {
                    if let Err(err) = watched.await {
                        tracing::debug!(%peer, "HTTP connection ended: {err}");
                    }
                    drop(place);
                });
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(tcp);
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    match tokio::time::timeout(header_timeout, handshake).await {
                        Ok(Ok(stream)) => {
                            let conn = builder.serve_connection(TokioIo::new(stream), service);
                            if let Err(err) = watcher.watch(conn).await {
                                tracing::debug!(%peer, "HTTPS connection ended: {err}");
                            }
                        }
                        Ok(Err(err)) => tracing::debug!(%peer, "TLS handshake failed: {err}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake took too long"),
                    }
                    drop(place);
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const TEST_TIMEOUT: Duration = Duration::from_millis(500);

    async fn server() -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stop_on = async move {
            let _ = stopped.await;
        };
        tokio::spawn(serve_within(listener, router, None, stop_on, TEST_TIMEOUT));
        (addr, stop)
    }

    #[tokio::test]
    async fn answers_requests() {
        let (addr, _stop) = server().await;
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");
    }

    #[tokio::test]
    async fn closes_a_connection_that_sends_no_headers() {
        let (addr, _stop) = server().await;
        for opening in [&b""[..], b"GET / HTTP/1.1\r\nhost"] {
            let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tcp.write_all(opening).await.unwrap();
            let started = Instant::now();
            let mut rest = Vec::new();
            let read = tokio::time::timeout(TEST_TIMEOUT * 4, tcp.read_to_end(&mut rest)).await;
            assert!(
                read.is_ok(),
                "still open after {:?} with {opening:?} sent",
                started.elapsed()
            );
        }
    }
}
