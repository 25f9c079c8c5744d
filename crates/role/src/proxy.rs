//! The proxy as the role sees it: the few calls synchronization needs, behind a trait so that
//! the workers run against the real proxy over gRPC or an in-memory fake in tests.

mod grpc;

use std::future::Future;

use model::EntityKind;
use protocol::pb;

pub use grpc::GrpcDialer;

/// Where the proxy is, as configured in the Directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Why a call to the proxy failed, sorted by what the role does about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The proxy refused Hello: the versions do not go together. The message names both.
    #[error("{0}")]
    Incompatible(String),
    /// The proxy refused a page token (from before a proxy upgrade): list from the start.
    #[error("{0}")]
    BadPageToken(String),
    /// The proxy answered Hello but refuses to serve yet: how a proxy from before Hello
    /// reported its loading progress (0.1.0) says that it is still reading SiPass.
    #[error("{0}")]
    NotReady(String),
    /// Anything else: the role reconnects after a wait. The message says where and what to do.
    #[error("{0}")]
    Unavailable(String),
}

/// One item of a watch.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchItem {
    /// Changes in revision order, with the proxy's latest revision when they were read
    /// (0 when the proxy does not say).
    Changes {
        changes: Vec<pb::Change>,
        proxy_revision: u64,
    },
    /// Every change up to this revision has been sent.
    CaughtUp(u64),
    /// The proxy no longer holds the revision asked for: list again. The stream ends.
    TooOld(String),
}

/// The changes of one watch, as they come.
pub trait ChangeStream: Send + 'static {
    /// The next item; `Ok(None)` when the proxy ended the stream.
    fn next(&mut self) -> impl Future<Output = Result<Option<WatchItem>, ProxyError>> + Send;
}

/// The batches of one Events stream, as they come.
pub trait EntryStream: Send + 'static {
    /// The next batch; `Ok(None)` when the proxy ended the stream.
    fn next(&mut self) -> impl Future<Output = Result<Option<pb::EventBatch>, ProxyError>> + Send;
}

/// A connected proxy: the calls the role's workers make. Cheap to clone (one per call in
/// flight).
pub trait Proxy: Clone + Send + Sync + 'static {
    type Changes: ChangeStream;
    type Entries: EntryStream;

    /// Says Hello with the role's versions; the proxy's answer.
    fn hello(
        &self,
        request: pb::HelloRequest,
    ) -> impl Future<Output = Result<pb::HelloReply, ProxyError>> + Send;

    /// One page of a listing of `kind`: the first when `page_token` is empty.
    fn list(
        &self,
        kind: EntityKind,
        page_size: u32,
        page_token: String,
    ) -> impl Future<Output = Result<pb::ListReply, ProxyError>> + Send;

    /// Every change of `kinds` after `after_revision` of the cache `cache_id`.
    fn watch(
        &self,
        after_revision: u64,
        kinds: &[EntityKind],
        cache_id: &str,
    ) -> impl Future<Output = Result<Self::Changes, ProxyError>> + Send;

    /// Counts and digests of `kinds` at the proxy's current revision.
    fn summary(
        &self,
        kinds: &[EntityKind],
    ) -> impl Future<Output = Result<pb::SummaryReply, ProxyError>> + Send;

    /// The event journal after `after` of the journal `journal_id` (from its start when the
    /// proxy's journal is another), for the role `role_id`.
    fn events(
        &self,
        after: u64,
        journal_id: &str,
        role_id: &str,
    ) -> impl Future<Output = Result<Self::Entries, ProxyError>> + Send;

    /// The role `role_id` has stored every entry of `journal_id` up to `up_to`. Returns how
    /// many entries the proxy still keeps.
    fn ack_events(
        &self,
        up_to: u64,
        journal_id: &str,
        role_id: &str,
    ) -> impl Future<Output = Result<u64, ProxyError>> + Send;

    /// The alarms active in SiPass now.
    fn active_alarms(&self) -> impl Future<Output = Result<Vec<pb::Alarm>, ProxyError>> + Send;

    /// Acknowledges SiPass's alarm `sipass_id` as `operator`, with `comment`.
    fn acknowledge_alarm(
        &self,
        sipass_id: &str,
        operator: &str,
        comment: &str,
    ) -> impl Future<Output = Result<AckDelivery, ProxyError>> + Send;

    /// Sends a manual-override command to SiPass; SiPass's result (a refusal by SiPass, e.g.
    /// a unit offline, is a result, not an error).
    fn command(
        &self,
        request: pb::CommandRequest,
    ) -> impl Future<Output = Result<pb::CommandReply, ProxyError>> + Send;
}

/// What became of an acknowledgement sent to SiPass through the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckDelivery {
    /// SiPass took it (or had it already: its acknowledgement is idempotent).
    Delivered,
    /// SiPass refused it for good (it does not know the alarm): sending again cannot help.
    Refused(String),
}

/// Opens a link to the proxy at an endpoint.
pub trait Dialer: Send + Sync + 'static {
    type Proxy: Proxy;

    fn dial(
        &self,
        endpoint: &Endpoint,
    ) -> impl Future<Output = Result<Self::Proxy, ProxyError>> + Send;
}
