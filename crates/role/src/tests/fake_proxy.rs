//! An in-memory proxy: entities per kind, a revision counter, a change log that can be
//! forgotten, paged listings, live watches, and switches for the failures the tests need.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use model::{Digest, EntityKind};
use protocol::{kind_from_wire, kind_to_wire, pb};
use tokio::sync::watch;

use crate::proxy::{
    AckDelivery, ChangeStream, Dialer, Endpoint, EntryStream, Proxy, ProxyError, WatchItem,
};

/// A fake proxy; clones share one state.
#[derive(Clone)]
pub struct FakeProxy {
    state: Arc<Mutex<State>>,
    /// Bumped at every change, so that live watches wake.
    moved: Arc<watch::Sender<u64>>,
}

struct State {
    product_version: String,
    protocol_version: u32,
    cache_id: String,
    served: Vec<EntityKind>,
    revision: u64,
    /// `(loaded, total)` cardholders while still loading.
    loading: Option<(u64, u64)>,
    /// Like a 0.1.0 proxy: Hello does not say that it is loading.
    hides_loading: bool,
    entities: BTreeMap<EntityKind, BTreeMap<String, u64>>,
    /// Every change after `oldest`, in revision order.
    log: Vec<pb::Change>,
    oldest: u64,
    page_size: usize,
    /// Every List call: the kind and the page token.
    list_calls: Vec<(EntityKind, String)>,
    /// The next List call with this page token fails.
    fail_page: Option<String>,
    /// The next listing of the kind leaves this id out, as if a page had lost it.
    lose_from_listing: Option<(EntityKind, String)>,
    /// Watches deliver nothing while frozen: the role is away.
    frozen: bool,
    /// Watches opened before this generation fail: the proxy dropped them.
    watch_generation: u64,
    /// The event journal: its identity and every entry, sequence numbers from 1.
    journal_id: String,
    journal: Vec<pb::JournalEntry>,
    /// Entries per Events batch.
    events_batch: usize,
    /// Every acknowledgement: (role, journal, up to).
    acks: Vec<(String, String, u64)>,
    /// Every Events call: (after, journal, role).
    events_calls: Vec<(u64, String, String)>,
    /// Acknowledgements fail while set.
    failing_acks: bool,
    /// The alarms active in SiPass, and every alarm acknowledgement received:
    /// (SiPass alarm id, operator, comment).
    alarms: Vec<pb::Alarm>,
    alarm_acks: Vec<(String, String, String)>,
    /// Every command received, in order.
    commands: Vec<pb::CommandRequest>,
}

impl FakeProxy {
    /// A loaded proxy serving `served`, at this build's versions.
    pub fn new(served: &[EntityKind]) -> Self {
        let version = model::version::PeerVersions::this_role();
        FakeProxy {
            state: Arc::new(Mutex::new(State {
                product_version: version.product,
                protocol_version: version.protocol,
                cache_id: "cache-1".into(),
                served: served.to_vec(),
                revision: 0,
                loading: None,
                hides_loading: false,
                entities: BTreeMap::new(),
                log: Vec::new(),
                oldest: 0,
                page_size: 3,
                list_calls: Vec::new(),
                fail_page: None,
                lose_from_listing: None,
                frozen: false,
                watch_generation: 0,
                journal_id: "journal-1".into(),
                journal: Vec::new(),
                events_batch: 1000,
                acks: Vec::new(),
                events_calls: Vec::new(),
                failing_acks: false,
                alarms: Vec::new(),
                alarm_acks: Vec::new(),
                commands: Vec::new(),
            })),
            moved: Arc::new(watch::channel(0).0),
        }
    }

    /// Sets the alarms SiPass has active.
    pub fn set_active_alarms(&self, alarms: Vec<pb::Alarm>) {
        self.state().alarms = alarms;
    }

    /// Every alarm acknowledgement received.
    pub fn alarm_acks(&self) -> Vec<(String, String, String)> {
        self.state().alarm_acks.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self, state: &State) {
        self.moved.send_replace(state.revision);
    }

    /// Creates or changes an entity at a new revision, with a change in the log.
    pub fn upsert(&self, kind: EntityKind, id: &str) {
        self.record(kind, id, false);
    }

    /// Deletes an entity at a new revision, with a change in the log.
    pub fn delete(&self, kind: EntityKind, id: &str) {
        self.record(kind, id, true);
    }

    fn record(&self, kind: EntityKind, id: &str, deleted: bool) {
        let mut s = self.state();
        s.revision += 1;
        let revision = s.revision;
        let of_kind = s.entities.entry(kind).or_default();
        if deleted {
            of_kind.remove(id);
        } else {
            of_kind.insert(id.to_owned(), revision);
        }
        s.log.push(change(kind, id, revision, deleted));
        self.changed(&s);
    }

    /// Forgets the change log: a watch from before now is answered TooOld.
    pub fn forget_changes(&self) {
        let mut s = self.state();
        s.oldest = s.revision;
        s.log.clear();
    }

    /// Ends every open watch with an error, as a proxy restart would.
    pub fn drop_watches(&self) {
        let mut s = self.state();
        s.watch_generation += 1;
        self.changed(&s);
    }

    pub fn fail_page_once(&self, token: &str) {
        self.state().fail_page = Some(token.to_owned());
    }

    pub fn lose_from_next_listing(&self, kind: EntityKind, id: &str) {
        self.state().lose_from_listing = Some((kind, id.to_owned()));
    }

    /// While frozen, open watches deliver nothing (they still fail when dropped).
    pub fn freeze_watches(&self, frozen: bool) {
        let mut s = self.state();
        s.frozen = frozen;
        self.changed(&s);
    }

    pub fn set_versions(&self, product: &str, protocol: u32) {
        let mut s = self.state();
        s.product_version = product.to_owned();
        s.protocol_version = protocol;
    }

    pub fn set_loading(&self, progress: Option<(u64, u64)>) {
        self.state().loading = progress;
    }

    /// Behaves as a 0.1.0 proxy did: while loading, Hello says nothing of it and every
    /// other call is refused as not ready.
    pub fn hide_loading(&self) {
        self.state().hides_loading = true;
    }

    /// The page tokens of the List calls made for `kind`, in order.
    pub fn pages_fetched(&self, kind: EntityKind) -> Vec<String> {
        let s = self.state();
        s.list_calls
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, t)| t.clone())
            .collect()
    }

    pub fn list_calls(&self) -> usize {
        self.state().list_calls.len()
    }

    /// The token of the page after the one that ends with `last_id`.
    pub fn token_after(kind: EntityKind, last_id: &str) -> String {
        format!("{kind}|{last_id}")
    }

    /// The count and digest a faithful copy of `kind` has.
    pub fn digest(&self, kind: EntityKind) -> Digest {
        let s = self.state();
        let mut digest = Digest::default();
        for (id, revision) in s.entities.get(&kind).into_iter().flatten() {
            digest.add(id, *revision);
        }
        digest
    }

    /// Journals a SiPass event (its JSON) with the next sequence number; returns it.
    pub fn journal_event(&self, payload: &str) -> u64 {
        self.journal_entry(pb::JournalEntryType::Event, payload)
    }

    pub fn journal_entry(&self, entry_type: pb::JournalEntryType, payload: &str) -> u64 {
        let mut s = self.state();
        let sequence = s.journal.len() as u64 + 1;
        s.journal.push(pb::JournalEntry {
            sequence,
            r#type: entry_type as i32,
            payload: payload.as_bytes().to_vec(),
            journaled_at_ms: 1_700_000_000_000 + sequence as i64,
        });
        // Wakes open Events streams (watches find nothing new).
        self.changed(&s);
        sequence
    }

    /// The journal moved aside and started anew: another identity, sequences from 1.
    pub fn recreate_journal(&self, id: &str) {
        let mut s = self.state();
        s.journal_id = id.to_owned();
        s.journal.clear();
    }

    pub fn set_events_batch(&self, entries: usize) {
        self.state().events_batch = entries.max(1);
    }

    pub fn fail_acks(&self, failing: bool) {
        self.state().failing_acks = failing;
    }

    /// Every command received, in order.
    pub fn commands(&self) -> Vec<pb::CommandRequest> {
        self.state().commands.clone()
    }

    /// Every acknowledgement received: (role, journal, up to).
    pub fn acks(&self) -> Vec<(String, String, u64)> {
        self.state().acks.clone()
    }

    /// Every Events call: (after, journal, role).
    pub fn events_calls(&self) -> Vec<(u64, String, String)> {
        self.state().events_calls.clone()
    }

    fn unavailable_while_loading(s: &State) -> Result<(), ProxyError> {
        match s.loading {
            Some(_) => Err(ProxyError::NotReady("the proxy is still loading".into())),
            None => Ok(()),
        }
    }
}

fn change(kind: EntityKind, id: &str, revision: u64, deleted: bool) -> pb::Change {
    pb::Change {
        kind: kind_to_wire(kind) as i32,
        id: id.to_owned(),
        revision,
        deleted,
        name: if deleted {
            String::new()
        } else {
            id.to_owned()
        },
        payload: if deleted { Vec::new() } else { b"{}".to_vec() },
    }
}

impl Dialer for FakeProxy {
    type Proxy = FakeProxy;

    async fn dial(&self, _endpoint: &Endpoint) -> Result<FakeProxy, ProxyError> {
        Ok(self.clone())
    }
}

impl Proxy for FakeProxy {
    type Changes = FakeChanges;
    type Entries = FakeEntries;

    async fn hello(&self, _request: pb::HelloRequest) -> Result<pb::HelloReply, ProxyError> {
        let s = self.state();
        Ok(pb::HelloReply {
            product_version: s.product_version.clone(),
            protocol_version: s.protocol_version,
            sipass_version: "2.80".into(),
            revision: s.revision,
            cache_id: s.cache_id.clone(),
            kinds: s.served.iter().map(|k| kind_to_wire(*k) as i32).collect(),
            loading: s
                .loading
                .filter(|_| !s.hides_loading)
                .map(|(loaded, total)| pb::Loading {
                    cardholders_loaded: loaded,
                    cardholders_total: total,
                }),
            unavailable: Vec::new(),
        })
    }

    async fn list(
        &self,
        kind: EntityKind,
        _page_size: u32,
        page_token: String,
    ) -> Result<pb::ListReply, ProxyError> {
        let mut s = self.state();
        s.list_calls.push((kind, page_token.clone()));
        Self::unavailable_while_loading(&s)?;
        if s.fail_page.as_ref() == Some(&page_token) {
            s.fail_page = None;
            return Err(ProxyError::Unavailable("the connection broke".into()));
        }
        let after = match page_token.as_str() {
            "" => None,
            token => Some(
                token
                    .strip_prefix(&format!("{kind}|"))
                    .ok_or_else(|| ProxyError::BadPageToken(format!("not a token: {token}")))?
                    .to_owned(),
            ),
        };
        let lost = match &s.lose_from_listing {
            Some((k, _)) if *k == kind && after.is_none() => {
                s.lose_from_listing.take().map(|(_, id)| id)
            }
            _ => None,
        };
        let all = s.entities.get(&kind).cloned().unwrap_or_default();
        let page: Vec<(String, u64)> = all
            .iter()
            .filter(|(id, _)| after.as_ref().is_none_or(|a| *id > a))
            .take(s.page_size)
            .map(|(id, r)| (id.clone(), *r))
            .collect();
        let next_page_token = match page.last() {
            Some((last, _)) if page.len() == s.page_size => Self::token_after(kind, last),
            _ => String::new(),
        };
        let entities = page
            .into_iter()
            .filter(|(id, _)| Some(id) != lost.as_ref())
            .map(|(id, revision)| pb::Entity {
                kind: kind_to_wire(kind) as i32,
                name: id.clone(),
                id,
                revision,
                payload: b"{}".to_vec(),
            })
            .collect();
        Ok(pb::ListReply {
            entities,
            next_page_token,
            snapshot_revision: s.revision,
            total: all.len() as u64,
        })
    }

    async fn watch(
        &self,
        after_revision: u64,
        kinds: &[EntityKind],
        _cache_id: &str,
    ) -> Result<FakeChanges, ProxyError> {
        let s = self.state();
        Self::unavailable_while_loading(&s)?;
        let mut pending = VecDeque::new();
        if after_revision < s.oldest {
            pending.push_back(WatchItem::TooOld(format!(
                "revision {after_revision} is older than the change log ({})",
                s.oldest
            )));
        }
        Ok(FakeChanges {
            proxy: self.clone(),
            moved: self.moved.subscribe(),
            generation: s.watch_generation,
            after: after_revision,
            kinds: kinds.to_vec(),
            caught_up_at: None,
            pending,
        })
    }

    async fn summary(&self, kinds: &[EntityKind]) -> Result<pb::SummaryReply, ProxyError> {
        let revision = {
            let s = self.state();
            Self::unavailable_while_loading(&s)?;
            s.revision
        };
        let kinds = kinds
            .iter()
            .map(|kind| {
                let digest = self.digest(*kind);
                pb::KindSummary {
                    kind: kind_to_wire(*kind) as i32,
                    eligible: digest.count(),
                    digest: digest.value(),
                }
            })
            .collect();
        Ok(pb::SummaryReply { revision, kinds })
    }

    async fn events(
        &self,
        after: u64,
        journal_id: &str,
        role_id: &str,
    ) -> Result<FakeEntries, ProxyError> {
        let mut s = self.state();
        s.events_calls
            .push((after, journal_id.to_owned(), role_id.to_owned()));
        let after = if journal_id.is_empty() || journal_id == s.journal_id {
            after
        } else {
            0
        };
        Ok(FakeEntries {
            proxy: self.clone(),
            moved: self.moved.subscribe(),
            generation: s.watch_generation,
            after,
        })
    }

    async fn ack_events(
        &self,
        up_to: u64,
        journal_id: &str,
        role_id: &str,
    ) -> Result<u64, ProxyError> {
        let mut s = self.state();
        if s.failing_acks {
            return Err(ProxyError::Unavailable(
                "the acknowledgement was lost".into(),
            ));
        }
        s.acks
            .push((role_id.to_owned(), journal_id.to_owned(), up_to));
        Ok((s.journal.len() as u64).saturating_sub(up_to))
    }

    async fn active_alarms(&self) -> Result<Vec<pb::Alarm>, ProxyError> {
        Ok(self.state().alarms.clone())
    }

    async fn acknowledge_alarm(
        &self,
        sipass_id: &str,
        operator: &str,
        comment: &str,
    ) -> Result<AckDelivery, ProxyError> {
        let mut s = self.state();
        if s.failing_acks {
            return Err(ProxyError::Unavailable("the proxy is away".into()));
        }
        s.alarm_acks.push((
            sipass_id.to_owned(),
            operator.to_owned(),
            comment.to_owned(),
        ));
        Ok(AckDelivery::Delivered)
    }

    async fn command(&self, request: pb::CommandRequest) -> Result<pb::CommandReply, ProxyError> {
        let message = format!(
            "{} sent to {} {}",
            request.command, request.target_kind, request.target_token
        );
        self.state().commands.push(request);
        Ok(pb::CommandReply {
            result: "Succeeded".into(),
            message,
        })
    }
}

/// One Events stream on the fake: the journal after `after`, then live entries. It fails
/// when the proxy drops its streams (`drop_watches`).
pub struct FakeEntries {
    proxy: FakeProxy,
    moved: watch::Receiver<u64>,
    generation: u64,
    after: u64,
}

impl EntryStream for FakeEntries {
    async fn next(&mut self) -> Result<Option<pb::EventBatch>, ProxyError> {
        loop {
            self.moved.mark_unchanged();
            {
                let s = self.proxy.state();
                if s.watch_generation != self.generation {
                    return Err(ProxyError::Unavailable(
                        "the proxy dropped the stream".into(),
                    ));
                }
                let entries: Vec<pb::JournalEntry> = s
                    .journal
                    .iter()
                    .filter(|e| e.sequence > self.after)
                    .take(s.events_batch)
                    .cloned()
                    .collect();
                if let Some(last) = entries.last() {
                    self.after = last.sequence;
                    return Ok(Some(pb::EventBatch {
                        entries,
                        journal_id: s.journal_id.clone(),
                    }));
                }
            }
            if self.moved.changed().await.is_err() {
                return Ok(None);
            }
        }
    }
}

/// One watch on the fake: the log after `after`, then live changes.
pub struct FakeChanges {
    proxy: FakeProxy,
    moved: watch::Receiver<u64>,
    generation: u64,
    after: u64,
    kinds: Vec<EntityKind>,
    caught_up_at: Option<u64>,
    pending: VecDeque<WatchItem>,
}

impl FakeChanges {
    /// What the proxy has for this watch now, if anything.
    fn poll(&mut self) -> Result<Option<WatchItem>, ProxyError> {
        if let Some(item) = self.pending.pop_front() {
            return Ok(Some(item));
        }
        let s = self.proxy.state();
        if s.watch_generation != self.generation {
            return Err(ProxyError::Unavailable(
                "the proxy dropped the watch".into(),
            ));
        }
        if s.frozen {
            return Ok(None);
        }
        let batch: Vec<pb::Change> = s
            .log
            .iter()
            .filter(|c| c.revision > self.after)
            .filter(|c| kind_from_wire(c.kind).is_ok_and(|k| self.kinds.contains(&k)))
            .cloned()
            .collect();
        self.after = s.revision;
        if !batch.is_empty() {
            return Ok(Some(WatchItem::Changes {
                changes: batch,
                proxy_revision: s.revision,
            }));
        }
        if self.caught_up_at != Some(s.revision) {
            self.caught_up_at = Some(s.revision);
            return Ok(Some(WatchItem::CaughtUp(s.revision)));
        }
        Ok(None)
    }
}

impl ChangeStream for FakeChanges {
    async fn next(&mut self) -> Result<Option<WatchItem>, ProxyError> {
        loop {
            self.moved.mark_unchanged();
            if let Some(item) = self.poll()? {
                return Ok(Some(item));
            }
            if self.moved.changed().await.is_err() {
                return Ok(None);
            }
        }
    }
}
