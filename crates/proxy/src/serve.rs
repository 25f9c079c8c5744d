//! The gRPC server set-up: the bridge protocol over TLS on the proxy's listener, behind the
//! shared token, with the protocol's message limits and HTTP/2 limits. A worker, so that it
//! stops with the others and a server that could not start shows as failed.

use std::sync::Arc;
use std::time::Duration;

use protocol::pb::bridge_server::BridgeServer;
use runtime::{Worker, WorkerContext};
use tonic::transport::Server;

use crate::listener::{self, Connections, ListenerLimits};
use crate::server::BridgeService;
use crate::shared::Shared;

/// How often an idle connection is pinged, so that dead roles are noticed.
const KEEPALIVE: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered before the connection is closed.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests in flight on one connection: a role uses a handful.
const MAX_STREAMS_PER_CONNECTION: u32 = 64;
/// Request headers are a token and a few names: 16 KiB is plenty.
const MAX_HEADER_BYTES: u32 = 16 * 1024;
/// Streams a client may open and reset before its connection is closed (the HTTP/2
/// "rapid reset" attack).
const MAX_PENDING_RESETS: usize = 32;

/// Serves the bridge protocol until shutdown.
pub(crate) struct GrpcServer {
    pub listener: tokio::net::TcpListener,
    pub identity: tls::ServerIdentity,
    pub token: String,
    pub shared: Arc<Shared>,
    pub limits: ListenerLimits,
    pub connections: Connections,
}

impl GrpcServer {
    /// The proxy's certificate, offering HTTP/2 only.
    fn tls_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        let config = self
            .identity
            .rustls_config()
            .map_err(|e| format!("cannot set up TLS for the bridge protocol: {e}"))?;
        let mut config = Arc::unwrap_or_clone(config);
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }
}

impl Worker for GrpcServer {
    fn name(&self) -> String {
        "bridge-server".into()
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), String> {
        let addr = self.listener.local_addr().ok();
        let tls = self.tls_config().inspect_err(|e| tracing::error!("{e}"))?;
        let service = BridgeServer::new(BridgeService::new(self.shared.clone()))
            .max_decoding_message_size(protocol::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(protocol::MAX_MESSAGE_BYTES);
        let intercepted = tonic::service::interceptor::InterceptedService::new(
            service,
            protocol::RequireToken::new(&self.token),
        );
        let (health, health_service) = tonic_health::server::health_reporter();
        tokio::spawn(report_health(
            health,
            self.shared.clone(),
            ctx.shutdown.clone(),
        ));
        let incoming = listener::incoming(self.listener, tls, self.limits, self.connections);
        ctx.status.idle(match addr {
            Some(addr) => format!("serving roles on {addr}"),
            None => "serving roles".to_owned(),
        });
        let stop = ctx.shutdown.clone();
        let serve = Server::builder()
            .http2_keepalive_interval(Some(KEEPALIVE))
            .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
            .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
            .http2_max_header_list_size(Some(MAX_HEADER_BYTES))
            .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_RESETS))
            .add_service(intercepted)
            // Without the token, as health checkers (grpc_health_probe, Kubernetes) call it.
            .add_service(health_service)
            .serve_with_incoming_shutdown(incoming, async move { stop.wait().await });
        // A graceful stop waits for every open call, and a role's Watch and Events streams
        // never end by themselves: after a short grace the server is dropped, which closes
        // them (the role resumes where it was from its own position).
        let grace = async {
            ctx.shutdown.wait().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            served = serve => served.map_err(|e| {
                tracing::error!(?addr, "the bridge protocol server stopped: {e}");
                format!("the bridge protocol server stopped: {e}")
            }),
            () = grace => {
                tracing::info!("closed the streams still open {} s after the stop", SHUTDOWN_GRACE.as_secs());
                Ok(())
            }
        }
    }
}

/// How long a stop waits for open calls before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Keeps the standard gRPC health service (`grpc.health.v1.Health`, without the token) in
/// step with the proxy: SERVING, for the whole server ("") and for the bridge service, once
/// SiPass has been read completely and List and Summary answer; NOT_SERVING while loading
/// and once shutdown starts.
async fn report_health(
    health: tonic_health::server::HealthReporter,
    shared: Arc<Shared>,
    shutdown: runtime::Shutdown,
) {
    use tonic::server::NamedService;
    use tonic_health::ServingStatus;
    let bridge = <BridgeServer<BridgeService> as NamedService>::NAME;
    let mut reported = None;
    loop {
        // Registered before `loaded` is read, so that a load finishing in between still wakes
        // it: the health service turns SERVING the moment List and Summary do.
        let loaded_now = shared.loaded_now.notified();
        tokio::pin!(loaded_now);
        loaded_now.as_mut().enable();
        let status = if shared.loaded.load(std::sync::atomic::Ordering::Acquire) {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if reported != Some(status) {
            health.set_service_status("", status).await;
            health.set_service_status(bridge, status).await;
            reported = Some(status);
        }
        let stopped = tokio::select! {
            () = &mut loaded_now => false,
            stopped = shutdown.sleep_async(Duration::from_secs(5)) => stopped,
        };
        if stopped {
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            health
                .set_service_status(bridge, ServingStatus::NotServing)
                .await;
            return;
        }
    }
}
