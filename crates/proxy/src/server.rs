//! The bridge protocol's server side on port 5645.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use model::version::{self, PROTOCOL_VERSION, PeerVersions};
use model::{EntityKind, Revision};
use protocol::pb::{self, bridge_server::Bridge};
use protocol::{kind_from_wire, kind_to_wire};
use tonic::{Request, Response, Status};

use crate::Shared;
use crate::cache::CacheError;
use crate::watcher::watch_stream;

/// A cache failure as the role sees it.
pub(crate) fn cache_status(e: CacheError) -> Status {
    tracing::error!("{e}");
    Status::unavailable(format!("the proxy cannot read its cache: {e}"))
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
        if self.shared.loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        let progress = &self.shared.progress;
        Err(Status::unavailable(format!(
            "the proxy is still loading SiPass ({} of {} cardholders); retry shortly",
            progress.loaded.load(Ordering::Relaxed),
            progress.total.load(Ordering::Relaxed)
        )))
    }
}

#[tonic::async_trait]
impl Bridge for BridgeService {
    type WatchStream = crate::watcher::WatchStream;

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        self.require_loaded()?;
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
        if let Err(refusal) = version::check(&role, &ours) {
            tracing::warn!(client = %hello.client_name, "refused a role: {refusal}");
            return Err(Status::failed_precondition(refusal.to_string()));
        }
        tracing::info!(client = %hello.client_name, role_version = %hello.product_version, "role connected");
        Ok(Response::new(pb::HelloReply {
            product_version: ours.product,
            protocol_version: PROTOCOL_VERSION,
            sipass_version: ours.sipass,
            revision: self.shared.cache.revision(),
            cache_id: self.shared.cache.id().to_owned(),
            kinds: served_kinds().map(|k| kind_to_wire(k) as i32).collect(),
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
            tokio::task::spawn_blocking(move || cache.page(kind, after.as_deref(), limit))
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .map_err(cache_status)?;
        let next_page_token = match page.last() {
            Some((last, _)) if page.len() == limit => PageToken::encode(kind, snapshot, last),
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
        let revision = self.shared.cache.revision();
        let kinds = kinds
            .into_iter()
            .map(|kind| {
                let s = self.shared.cache.summary(kind);
                pb::KindSummary {
                    kind: kind_to_wire(kind) as i32,
                    eligible: s.eligible,
                    digest: s.digest,
                }
            })
            .collect();
        Ok(Response::new(pb::SummaryReply { revision, kinds }))
    }
}

/// The kinds this proxy loads from SiPass today.
pub(crate) fn served_kinds() -> impl Iterator<Item = EntityKind> {
    [EntityKind::Cardholder, EntityKind::Credential].into_iter()
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
