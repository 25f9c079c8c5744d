//! The gRPC server set-up: the bridge protocol over TLS on the proxy's listener, behind the
//! shared token, with the protocol's message limits. A worker, so that it stops with the
//! others and a server that could not start shows as failed.

use std::sync::Arc;
use std::time::Duration;

use protocol::pb::bridge_server::BridgeServer;
use runtime::{Worker, WorkerContext};
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::server::BridgeService;
use crate::shared::Shared;

/// How often an idle connection is pinged, so that dead roles are noticed.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// Serves the bridge protocol until shutdown.
pub(crate) struct GrpcServer {
    pub listener: tokio::net::TcpListener,
    pub identity: tls::ServerIdentity,
    pub token: String,
    pub shared: Arc<Shared>,
}

impl Worker for GrpcServer {
    fn name(&self) -> String {
        "bridge-server".into()
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), String> {
        let addr = self.listener.local_addr().ok();
        let service = BridgeServer::new(BridgeService::new(self.shared))
            .max_decoding_message_size(protocol::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(protocol::MAX_MESSAGE_BYTES);
        let intercepted = tonic::service::interceptor::InterceptedService::new(
            service,
            protocol::RequireToken::new(&self.token),
        );
        let tls = ServerTlsConfig::new().identity(Identity::from_pem(
            self.identity.cert_pem,
            self.identity.key_pem,
        ));
        let builder = Server::builder().tls_config(tls).map_err(|e| {
            let error = format!("cannot set up TLS for the bridge protocol: {e}");
            tracing::error!("{error}");
            error
        })?;
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(self.listener);
        ctx.status.idle(match addr {
            Some(addr) => format!("serving roles on {addr}"),
            None => "serving roles".to_owned(),
        });
        let stop = ctx.shutdown.clone();
        let mut builder = builder.http2_keepalive_interval(Some(KEEPALIVE));
        builder
            .add_service(intercepted)
            .serve_with_incoming_shutdown(incoming, async move { stop.wait().await })
            .await
            .map_err(|e| {
                tracing::error!(?addr, "the bridge protocol server stopped: {e}");
                format!("the bridge protocol server stopped: {e}")
            })
    }
}
