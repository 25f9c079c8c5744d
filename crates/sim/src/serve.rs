//! The HTTPS accept loop. Unlike `tls::serve_https` it knows every open connection, so the
//! `DropConnections` fault can close them all at once, push streams included.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

/// How long open connections get to finish once shutdown starts.
const DRAIN: Duration = Duration::from_secs(5);

/// The id of the connection a request came on (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnId(pub u64);

/// The open connections, each with a switch that closes it.
#[derive(Default)]
pub struct Connections {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Arc<Notify>>>,
}

impl Connections {
    fn open(&self) -> (u64, Arc<Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let close = Arc::new(Notify::new());
        self.lock().insert(id, close.clone());
        (id, close)
    }

    fn closed(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Closes every open connection but `except`.
    pub fn drop_all_except(&self, except: Option<u64>) {
        for (id, close) in self.lock().iter() {
            if Some(*id) != except {
                // `notify_one` keeps a permit if the connection is not waiting yet.
                close.notify_one();
            }
        }
    }

    /// Closes one connection.
    pub fn drop_one(&self, id: u64) {
        if let Some(close) = self.lock().get(&id) {
            close.notify_one();
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Notify>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Serves `router` over TLS on `listener` until `shutdown` completes, then lets open
/// requests finish (for a few seconds at most).
pub async fn serve_https(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: axum::Router,
    connections: Arc<Connections>,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let (id, close) = connections.open();
        let tagged = tower::ServiceExt::map_request(
            router.clone(),
            move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnId(id));
                req
            },
        );
        let service = TowerToHyperService::new(tagged);
        let watcher = graceful.watcher();
        let connections = connections.clone();
        tokio::spawn(async move {
            let served = async {
                let tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(err) => {
                        tracing::debug!(%peer, "TLS handshake failed: {err}");
                        return;
                    }
                };
                let builder = Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                if let Err(err) = watcher.watch(conn.into_owned()).await {
                    tracing::debug!(%peer, "connection ended: {err}");
                }
            };
            tokio::select! {
                () = served => {}
                () = close.notified() => tracing::debug!(%peer, "connection dropped (fault)"),
            }
            connections.closed(id);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}
