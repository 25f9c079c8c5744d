//! The proxy over the bridge protocol: gRPC with TLS and the shared token.

use model::EntityKind;
use protocol::pb::{self, watch_event::Event};
use protocol::{BridgeClient, ProxyAddress, kind_to_wire};

use super::{
    AckDelivery, ChangeStream, Dialer, Endpoint, EntryStream, Proxy, ProxyError, WatchItem,
};

/// Dials the proxy over TLS, trusting only its CA, with the shared token on every call.
#[derive(Clone)]
pub struct GrpcDialer {
    /// PEM of the proxy's CA.
    pub ca_pem: String,
    pub token: String,
}

impl Dialer for GrpcDialer {
    type Proxy = GrpcProxy;

    async fn dial(&self, endpoint: &Endpoint) -> Result<GrpcProxy, ProxyError> {
        let address = ProxyAddress {
            host: endpoint.host.clone(),
            port: endpoint.port,
            ca_pem: self.ca_pem.clone(),
            token: self.token.clone(),
        };
        let client = protocol::connect(&address)
            .await
            .map_err(|e| ProxyError::Unavailable(e.to_string()))?;
        Ok(GrpcProxy {
            client,
            endpoint: endpoint.clone(),
        })
    }
}

/// A connected proxy.
#[derive(Clone)]
pub struct GrpcProxy {
    client: BridgeClient,
    endpoint: Endpoint,
}

fn wire_kinds(kinds: &[EntityKind]) -> Vec<i32> {
    kinds.iter().map(|k| kind_to_wire(*k) as i32).collect()
}

fn unavailable(status: tonic::Status) -> ProxyError {
    ProxyError::Unavailable(status.message().to_owned())
}

impl Proxy for GrpcProxy {
    type Changes = GrpcChanges;
    type Entries = GrpcEntries;

    async fn hello(&self, request: pb::HelloRequest) -> Result<pb::HelloReply, ProxyError> {
        let mut client = self.client.clone();
        match client.hello(request).await {
            Ok(reply) => Ok(reply.into_inner()),
            Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                Err(ProxyError::Incompatible(s.message().to_owned()))
            }
            Err(s) => Err(ProxyError::Unavailable(describe(&self.endpoint, &s))),
        }
    }

    async fn list(
        &self,
        kind: EntityKind,
        page_size: u32,
        page_token: String,
    ) -> Result<pb::ListReply, ProxyError> {
        let mut client = self.client.clone();
        let request = pb::ListRequest {
            kind: kind_to_wire(kind) as i32,
            page_size,
            page_token,
        };
        match client.list(request).await {
            Ok(reply) => Ok(reply.into_inner()),
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                Err(ProxyError::BadPageToken(s.message().to_owned()))
            }
            Err(s) => Err(unavailable(s)),
        }
    }

    async fn watch(
        &self,
        after_revision: u64,
        kinds: &[EntityKind],
        cache_id: &str,
    ) -> Result<GrpcChanges, ProxyError> {
        let mut client = self.client.clone();
        let request = pb::WatchRequest {
            after_revision,
            kinds: wire_kinds(kinds),
            cache_id: cache_id.to_owned(),
        };
        let stream = client.watch(request).await.map_err(unavailable)?;
        Ok(GrpcChanges {
            stream: stream.into_inner(),
        })
    }

    async fn summary(&self, kinds: &[EntityKind]) -> Result<pb::SummaryReply, ProxyError> {
        let mut client = self.client.clone();
        let request = pb::SummaryRequest {
            kinds: wire_kinds(kinds),
        };
        match client.summary(request).await {
            Ok(reply) => Ok(reply.into_inner()),
            Err(s) if s.code() == tonic::Code::Unavailable => {
                Err(ProxyError::NotReady(s.message().to_owned()))
            }
            Err(s) => Err(unavailable(s)),
        }
    }

    async fn events(
        &self,
        after: u64,
        journal_id: &str,
        role_id: &str,
    ) -> Result<GrpcEntries, ProxyError> {
        let mut client = self.client.clone();
        let request = pb::EventsRequest {
            after_sequence: after,
            journal_id: journal_id.to_owned(),
            role_id: role_id.to_owned(),
        };
        let stream = client.events(request).await.map_err(unavailable)?;
        Ok(GrpcEntries {
            stream: stream.into_inner(),
        })
    }

    async fn ack_events(
        &self,
        up_to: u64,
        journal_id: &str,
        role_id: &str,
    ) -> Result<u64, ProxyError> {
        let mut client = self.client.clone();
        let request = pb::AckEventsRequest {
            up_to_sequence: up_to,
            journal_id: journal_id.to_owned(),
            role_id: role_id.to_owned(),
        };
        match client.ack_events(request).await {
            Ok(reply) => Ok(reply.into_inner().kept),
            Err(s) => Err(unavailable(s)),
        }
    }

    async fn active_alarms(&self) -> Result<Vec<pb::Alarm>, ProxyError> {
        let mut client = self.client.clone();
        let reply = client
            .alarms(pb::AlarmsRequest {})
            .await
            .map_err(unavailable)?;
        Ok(reply.into_inner().alarms)
    }

    async fn acknowledge_alarm(
        &self,
        sipass_id: &str,
        operator: &str,
        comment: &str,
    ) -> Result<AckDelivery, ProxyError> {
        let mut client = self.client.clone();
        let request = pb::AcknowledgeAlarmRequest {
            alarm_id: sipass_id.to_owned(),
            operator: operator.to_owned(),
            comment: comment.to_owned(),
        };
        match client.acknowledge_alarm(request).await {
            Ok(_) => Ok(AckDelivery::Delivered),
            // SiPass answered, and will answer the same again.
            Err(s)
                if matches!(
                    s.code(),
                    tonic::Code::NotFound
                        | tonic::Code::InvalidArgument
                        | tonic::Code::FailedPrecondition
                ) =>
            {
                Ok(AckDelivery::Refused(s.message().to_owned()))
            }
            Err(s) => Err(unavailable(s)),
        }
    }

    async fn command(&self, request: pb::CommandRequest) -> Result<pb::CommandReply, ProxyError> {
        let mut client = self.client.clone();
        match client.command(request).await {
            Ok(reply) => Ok(reply.into_inner()),
            Err(s) => Err(ProxyError::Unavailable(format!(
                "the proxy at {} did not carry out the command: {}",
                self.endpoint,
                s.message()
            ))),
        }
    }
}

/// An Events stream.
pub struct GrpcEntries {
    stream: tonic::Streaming<pb::EventBatch>,
}

impl EntryStream for GrpcEntries {
    async fn next(&mut self) -> Result<Option<pb::EventBatch>, ProxyError> {
        self.stream.message().await.map_err(unavailable)
    }
}

/// A Watch stream.
pub struct GrpcChanges {
    stream: tonic::Streaming<pb::WatchEvent>,
}

impl ChangeStream for GrpcChanges {
    async fn next(&mut self) -> Result<Option<WatchItem>, ProxyError> {
        loop {
            let Some(message) = self.stream.message().await.map_err(unavailable)? else {
                return Ok(None);
            };
            // An event this role does not know (from a newer proxy) is skipped.
            match message.event {
                Some(Event::Changes(batch)) => {
                    return Ok(Some(WatchItem::Changes {
                        changes: batch.changes,
                        proxy_revision: batch.head_revision,
                    }));
                }
                Some(Event::CaughtUp(up)) => return Ok(Some(WatchItem::CaughtUp(up.revision))),
                Some(Event::TooOld(too_old)) => {
                    return Ok(Some(WatchItem::TooOld(too_old.reason)));
                }
                None => {}
            }
        }
    }
}

/// A failed Hello, in words that say where and what to do.
fn describe(endpoint: &Endpoint, status: &tonic::Status) -> String {
    match status.code() {
        tonic::Code::Unauthenticated => format!(
            "the proxy at {endpoint} refused the bridge token; give the role the proxy's token ({})",
            status.message()
        ),
        _ => format!(
            "the proxy at {endpoint} did not answer: {}",
            status.message()
        ),
    }
}
