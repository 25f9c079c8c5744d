//! The bridge protocol's calls on port 5645: how the proxy answers each request of a role
//! (`serve.rs` sets the server up; `watcher.rs` and `events.rs` feed the two streams).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use model::version::{self, PROTOCOL_VERSION, PeerVersions};
use model::{EntityKind, Revision};
use protocol::pb::{self, bridge_server::Bridge};
use protocol::{kind_from_wire, kind_to_wire};
use tonic::{Request, Response, Status};

use crate::errors::cache_status;
use crate::shared::Shared;
use crate::watcher::watch_stream;

/// An enum sent by name, e.g. "Doorset" or "Unlock".
fn parse_wire_enum<T: serde::de::DeserializeOwned>(field: &str, value: &str) -> Result<T, Status> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| Status::invalid_argument(format!("unknown {field} '{value}'")))
}

/// A SiPass failure as the role sees it: SiPass's own reason, and whether to retry.
fn sipass_status(e: sipass_client::SiPassError) -> Status {
    match &e {
        sipass_client::SiPassError::Refused { status: 404, .. } => Status::not_found(e.to_string()),
        sipass_client::SiPassError::Refused { status, .. } if *status < 500 => {
            Status::failed_precondition(e.to_string())
        }
        _ => Status::unavailable(e.to_string()),
    }
}

/// Entities per List page when the role does not say.
const DEFAULT_PAGE: usize = 1000;
/// The most entities one List page carries.
const MAX_PAGE: usize = 10_000;

/// Implements the `Bridge` service over the shared cache.
pub struct BridgeService {
    shared: Arc<Shared>,
}

impl BridgeService {
    pub fn new(shared: Arc<Shared>) -> Self {
        BridgeService { shared }
    }

    /// List and Summary need a complete cache: a role must never take a half-loaded cache
    /// for the whole of SiPass.
    fn require_loaded(&self) -> Result<(), Status> {
        match self.loading() {
            None => Ok(()),
            Some(loading) => Err(Status::unavailable(format!(
                "the proxy is still loading SiPass ({} of {} cardholders); retry shortly",
                loading.cardholders_loaded, loading.cardholders_total
            ))),
        }
    }

    /// How far the first reading of SiPass has got, while it runs: what Hello tells a role
    /// so that it waits without reading error messages.
    fn loading(&self) -> Option<pb::Loading> {
        if self.shared.loaded.load(Ordering::Acquire) {
            return None;
        }
        let progress = &self.shared.progress;
        Some(pb::Loading {
            cardholders_loaded: progress.loaded.load(Ordering::Relaxed),
            cardholders_total: progress.total.load(Ordering::Relaxed),
        })
    }
}

#[tonic::async_trait]
impl Bridge for BridgeService {
    type WatchStream = crate::watcher::WatchStream;
    type EventsStream = crate::events::EventStream;

    async fn events(
        &self,
        request: Request<pb::EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let after = request.into_inner().after_sequence;
        let streams = &self.shared.streams;
        let permit = streams.admit("Events", &streams.events)?;
        Ok(Response::new(crate::events::event_stream(
            self.shared.clone(),
            after,
            permit,
        )))
    }

    async fn ack_events(
        &self,
        request: Request<pb::AckEventsRequest>,
    ) -> Result<Response<pb::AckEventsReply>, Status> {
        let up_to = request.into_inner().up_to_sequence;
        let journal = self.shared.journal.clone();
        let kept = runtime::try_blocking(move || journal.acknowledge(up_to))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| {
                Status::unavailable(format!("the proxy cannot update its journal: {e}"))
            })?;
        Ok(Response::new(pb::AckEventsReply { kept }))
    }

    async fn alarms(
        &self,
        _request: Request<pb::AlarmsRequest>,
    ) -> Result<Response<pb::AlarmsReply>, Status> {
        let alarms = self
            .shared
            .client
            .active_alarms()
            .await
            .map_err(sipass_status)?;
        let alarms = alarms
            .into_iter()
            .map(|a| pb::Alarm {
                payload: serde_json::to_vec(&a).unwrap_or_default(),
                alarm_id: a.alarm_id,
                alarm_class_token: a.alarm_class_token,
                alarm_class_name: a.alarm_class_name,
                priority: a.priority,
                acknowledged: a.acknowledged,
                cleared: a.cleared,
                message: a.message,
                raised_at: a.raised_at,
            })
            .collect();
        Ok(Response::new(pb::AlarmsReply { alarms }))
    }

    async fn acknowledge_alarm(
        &self,
        request: Request<pb::AcknowledgeAlarmRequest>,
    ) -> Result<Response<pb::AcknowledgeAlarmReply>, Status> {
        let ack = request.into_inner();
        if ack.alarm_id.is_empty() {
            return Err(Status::invalid_argument("alarm_id is required"));
        }
        self.shared
            .client
            .acknowledge(&ack.alarm_id, &ack.operator, &ack.comment)
            .await
            .map_err(sipass_status)?;
        Ok(Response::new(pb::AcknowledgeAlarmReply {}))
    }

    async fn command(
        &self,
        request: Request<pb::CommandRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let command = request.into_inner();
        let request = model::management::CommandRequest {
            target_kind: parse_wire_enum("target kind", &command.target_kind)?,
            target_token: command.target_token,
            command: parse_wire_enum("command", &command.command)?,
        };
        if request.command.target() != request.target_kind {
            return Err(Status::invalid_argument(format!(
                "{} does not apply to a {}",
                command.command, command.target_kind
            )));
        }
        let result = self
            .shared
            .client
            .command(&request)
            .await
            .map_err(sipass_status)?;
        let outcome = serde_json::to_value(result.result)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Ok(Response::new(pb::CommandReply {
            result: outcome,
            message: result.message,
        }))
    }

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        self.require_loaded()?;
        let streams = &self.shared.streams;
        let permit = streams.admit("Watch", &streams.watch)?;
        let request = request.into_inner();
        let kinds = request
            .kinds
            .iter()
            .map(|k| kind_from_wire(*k))
            .collect::<Result<Vec<EntityKind>, _>>()?;
        Ok(Response::new(watch_stream(
            self.shared.clone(),
            request.after_revision,
            request.cache_id,
            kinds,
            permit,
        )))
    }

    async fn hello(
        &self,
        request: Request<pb::HelloRequest>,
    ) -> Result<Response<pb::HelloReply>, Status> {
        let hello = request.into_inner();
        let role = PeerVersions {
            product: hello.product_version.clone(),
            protocol: hello.protocol_version,
            sipass: String::new(),
        };
        let ours = self.shared.versions();
        let client = protocol::printable(&hello.client_name, 64);
        let role_version = protocol::printable(&hello.product_version, 32);
        if let Err(refusal) = version::check(&role, &ours) {
            tracing::warn!(
                %client,
                "refused a role: {}",
                protocol::printable(&refusal.to_string(), 512)
            );
            return Err(Status::failed_precondition(refusal.to_string()));
        }
        let loading = self.loading();
        // A waiting role says Hello again every few seconds until the proxy is loaded.
        if loading.is_none() {
            tracing::info!(%client, %role_version, "role connected");
        } else {
            tracing::debug!(%client, %role_version, "role waits for the proxy to load");
        }
        Ok(Response::new(pb::HelloReply {
            product_version: ours.product,
            protocol_version: PROTOCOL_VERSION,
            sipass_version: ours.sipass,
            revision: self.shared.cache.revision(),
            cache_id: self.shared.cache.id().to_owned(),
            kinds: self
                .shared
                .available_kinds()
                .into_iter()
                .map(|k| kind_to_wire(k) as i32)
                .collect(),
            loading,
            unavailable: self.shared.unavailable(),
        }))
    }

    async fn list(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListReply>, Status> {
        self.require_loaded()?;
        let request = request.into_inner();
        let kind = kind_from_wire(request.kind)?;
        let (snapshot, after) = match request.page_token.as_str() {
            "" => (self.shared.cache.revision(), None),
            token => {
                let (token_kind, snapshot, after) = PageToken::decode(token)?;
                if token_kind != kind {
                    return Err(Status::invalid_argument(
                        "the page token belongs to a listing of another kind",
                    ));
                }
                (snapshot, Some(after))
            }
        };
        let limit = match request.page_size as usize {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let cache = self.shared.cache.clone();
        let (page, total) =
            runtime::try_blocking(move || cache.page(kind, after.as_deref(), limit))
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .map_err(cache_status)?;
        // A page is also cut at a byte budget, so that large objects never make a message
        // the role cannot take.
        let full = page.len() == limit;
        let mut page = page;
        let mut bytes = 0;
        let fits = page
            .iter()
            .take_while(|(id, e)| {
                bytes += e.payload.len() + id.len() + e.name.len();
                bytes <= protocol::BATCH_BYTES
            })
            .count()
            .max(1);
        let cut = fits < page.len();
        page.truncate(fits);
        let next_page_token = match page.last() {
            Some((last, _)) if full || cut => PageToken::encode(kind, snapshot, last),
            _ => String::new(),
        };
        let entities = page
            .into_iter()
            .map(|(id, e)| pb::Entity {
                kind: kind_to_wire(kind) as i32,
                id,
                revision: e.revision,
                name: e.name,
                payload: e.payload,
            })
            .collect();
        Ok(Response::new(pb::ListReply {
            entities,
            next_page_token,
            snapshot_revision: snapshot,
            total,
        }))
    }

    async fn summary(
        &self,
        request: Request<pb::SummaryRequest>,
    ) -> Result<Response<pb::SummaryReply>, Status> {
        self.require_loaded()?;
        let request = request.into_inner();
        let kinds: Vec<EntityKind> = if request.kinds.is_empty() {
            served_kinds().collect()
        } else {
            request
                .kinds
                .iter()
                .map(|k| kind_from_wire(*k))
                .collect::<Result<_, _>>()?
        };
        let cache = self.shared.cache.clone();
        let wanted = kinds.clone();
        let (revision, summaries) = runtime::try_blocking(move || cache.summaries(&wanted))
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let kinds = kinds
            .into_iter()
            .zip(summaries)
            .map(|(kind, s)| pb::KindSummary {
                kind: kind_to_wire(kind) as i32,
                eligible: s.eligible,
                digest: s.digest,
            })
            .collect();
        Ok(Response::new(pb::SummaryReply { revision, kinds }))
    }
}

/// The kinds this proxy serves.
pub(crate) fn served_kinds() -> impl Iterator<Item = EntityKind> {
    EntityKind::ALL.into_iter()
}

/// `v1|<kind>|<snapshot revision>|<last id>`: opaque to roles, stable across proxy restarts.
struct PageToken;

impl PageToken {
    fn encode(kind: EntityKind, snapshot: Revision, last_id: &str) -> String {
        format!("v1|{kind}|{snapshot}|{last_id}")
    }

    fn decode(token: &str) -> Result<(EntityKind, Revision, String), Status> {
        let bad = || Status::invalid_argument("malformed page token; start the listing again");
        let mut parts = token.splitn(4, '|');
        if parts.next() != Some("v1") {
            return Err(bad());
        }
        let kind = parts.next().and_then(|k| k.parse().ok()).ok_or_else(bad)?;
        let snapshot = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
        let last = parts.next().ok_or_else(bad)?;
        Ok((kind, snapshot, last.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let token = PageToken::encode(EntityKind::Credential, 42, "10:100:7|x");
        let (kind, snapshot, last) = PageToken::decode(&token).unwrap();
        assert_eq!(
            (kind, snapshot, last.as_str()),
            (EntityKind::Credential, 42, "10:100:7|x")
        );
        for garbage in [
            "",
            "v2|cardholder|1|x",
            "v1|door|1|x",
            "v1|cardholder|x|y",
            "v1|cardholder|1",
        ] {
            assert!(PageToken::decode(garbage).is_err(), "{garbage}");
        }
    }
}
