//! Reads SiPass into the cache: every kind at start and at each reconciliation pass, and
//! single objects when the push channel says they changed.
//!
//! What is served, and in which shape (credentials split out of cardholders, only visitor
//! workgroups, no runtime state), is `model::mapping`; the loader reads, pages and stores.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use model::management::ObjectKind;
use model::mapping::{self, SERVED_OBJECTS, ServedObject, entity_kind, token_of};
use model::sipass::Cardholder;
use model::tree::Tree;
use model::{EntityKind, Revision};
use serde_json::Value;
use sipass_client::{HrClient, SiPassError};

use crate::cache::{Applied, Cache, CacheError, Change, ReadAt, Revisions};

mod reading;
use reading::PagesUnderWay;

/// Cardholders asked for per HR API call (several are under way at once in a pass).
const PAGE: usize = 1000;

/// How far a load has got, readable while it runs.
#[derive(Default)]
pub struct LoadProgress {
    pub loaded: AtomicU64,
    pub total: AtomicU64,
    /// False once SiPass answered that it has no management API (a real SiPass without
    /// one): devices, events and alarms are then not available.
    pub management_missing: AtomicBool,
}

/// Why a pass over SiPass stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    SiPass(#[from] SiPassError),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// What one pass changed in the cache.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoadStats {
    pub seen: u64,
    pub changed: u64,
    pub deleted: u64,
}

impl std::ops::AddAssign for LoadStats {
    fn add_assign(&mut self, other: Self) {
        self.seen += other.seen;
        self.changed += other.changed;
        self.deleted += other.deleted;
    }
}

/// Reads every served kind from SiPass, stores what changed and deletes what SiPass no
/// longer has.
pub async fn load_all(
    client: &HrClient,
    cache: &Arc<Cache>,
    progress: &LoadProgress,
) -> Result<LoadStats, LoadError> {
    let mut stats = LoadStats::default();
    for (object_kind, kind) in SERVED_OBJECTS {
        match load_objects(client, cache, object_kind, kind).await {
            Ok(s) => stats += s,
            Err(LoadError::SiPass(SiPassError::Refused { status: 404, .. })) => {
                if !progress.management_missing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "SiPass has no {} list (404); {} entities are not synchronized",
                        object_kind.collection(),
                        kind
                    );
                }
            }
            Err(e) => return Err(e),
        }
    }
    stats += load_cardholders(client, cache, progress).await?;
    Ok(stats)
}

/// Pages read and waiting to be stored, beyond the ones under way
/// ([`reading::PAGES_UNDER_WAY`]): a page that is slow to come does not stall the writer.
const PAGES_AHEAD: usize = 2;

/// Reads every cardholder (and its credentials).
async fn load_cardholders(
    client: &HrClient,
    cache: &Arc<Cache>,
    progress: &LoadProgress,
) -> Result<LoadStats, LoadError> {
    let fields: Vec<&str> = Cardholder::FIELDS
        .iter()
        .copied()
        .filter(|f| *f != "Token")
        .collect();
    let pass_started = cache.revision();
    let (pages, read) = tokio::sync::mpsc::channel(PAGES_AHEAD);
    let ((), stored) = tokio::join!(
        read_pages(client, cache, &fields, pages),
        store_pages(cache, progress, read)
    );
    let Stored {
        mut stats,
        seen_cardholders,
        seen_credentials,
    } = stored?;
    // Paging by position can skip a cardholder when another is deleted during the pass, so
    // an unseen cardholder is deleted only once SiPass confirms it is gone.
    let mut gone = Vec::new();
    for id in unseen(cache, EntityKind::Cardholder, &seen_cardholders).await? {
        if client.object(ObjectKind::Cardholder, &id).await?.is_none() {
            gone.push(id);
        } else {
            tracing::debug!(cardholder = %id, "skipped by paging during the pass; kept");
        }
    }
    let mut deletions: Vec<Change> = gone
        .iter()
        .map(|id| Change::Delete {
            kind: EntityKind::Cardholder,
            id: id.clone(),
        })
        .collect();
    for id in unseen(cache, EntityKind::Credential, &seen_credentials).await? {
        deletions.push(Change::Delete {
            kind: EntityKind::Credential,
            id,
        });
    }
    stats.deleted += apply_read_at(cache, deletions, ReadAt::at(pass_started))
        .await?
        .changed;
    Ok(stats)
}

/// A page as read, with the cache's revision when its read began.
type ReadPage = (Revision, Result<CardholderPage, SiPassError>);

/// Reads pages into `pages`, several under way at once and handed on in position order,
/// until SiPass has no more or the storing side stops taking them (an error there).
async fn read_pages(
    client: &HrClient,
    cache: &Cache,
    fields: &[&str],
    pages: tokio::sync::mpsc::Sender<ReadPage>,
) {
    let mut under_way = PagesUnderWay::new(client, cache, fields);
    let mut paging = reading::Paging::default();
    loop {
        while under_way.len() < reading::PAGES_UNDER_WAY
            && let Some(start) = paging.next_to_ask()
        {
            under_way.ask(start);
        }
        let Some((start, read_at, page)) = under_way.next().await else {
            return;
        };
        let more = match &page {
            Ok(page) => {
                let took = paging.took(start, page.count, page.total);
                if took.forget {
                    under_way.forget();
                }
                took.more
            }
            Err(_) => false,
        };
        if pages.send((read_at, page)).await.is_err() || !more {
            return;
        }
    }
}

/// What storing a pass's pages found.
struct Stored {
    stats: LoadStats,
    seen_cardholders: HashSet<String>,
    seen_credentials: HashSet<String>,
}

/// Stores pages as they come. Each page leaves alone what changed after its read began,
/// except what this pass itself stored from earlier pages in the meantime.
async fn store_pages(
    cache: &Arc<Cache>,
    progress: &LoadProgress,
    mut pages: tokio::sync::mpsc::Receiver<ReadPage>,
) -> Result<Stored, LoadError> {
    let mut stored = Stored {
        stats: LoadStats::default(),
        seen_cardholders: HashSet::new(),
        seen_credentials: HashSet::new(),
    };
    // This pass's applies that a page still being read may have seen happen.
    let mut own: Vec<Revisions> = Vec::new();
    let mut loaded = 0;
    while let Some((read_at, page)) = pages.recv().await {
        let page = page?;
        progress
            .total
            .store(u64::try_from(page.total).unwrap_or(0), Ordering::Relaxed);
        if page.count == 0 {
            break;
        }
        note_seen(
            &page.changes,
            &mut stored.seen_cardholders,
            &mut stored.seen_credentials,
        );
        stored.stats.seen += page.count as u64;
        own.retain(|applied| applied.up_to > read_at);
        let read_at = ReadAt {
            revision: read_at,
            own: own.clone(),
        };
        let applied = apply_read_at(cache, page.changes, read_at).await?;
        own.push(applied.revisions);
        stored.stats.changed += applied.changed;
        loaded += page.count as u64;
        progress.loaded.store(loaded, Ordering::Relaxed);
    }
    Ok(stored)
}

/// One page of cardholders as cache changes.
struct CardholderPage {
    /// Records SiPass returned (a bad one is skipped but still counts for paging).
    count: usize,
    /// SiPass's total, or negative when it does not say.
    total: i64,
    changes: Vec<Change>,
}

/// One HR API page of cardholders (`PAGE` from `start`) as cache changes. A bad record is
/// skipped with a warning (and kept as it was in the cache, since unseen cardholders are
/// confirmed before they are deleted).
async fn page_changes(
    client: &HrClient,
    start: usize,
    fields: &[&str],
) -> Result<CardholderPage, SiPassError> {
    let page = client.cardholder_page(start, start + PAGE, fields).await?;
    // Reading and mapping a thousand records is CPU work: on a blocking thread, so that the
    // pages under way are read on both cores, beside the previous page's write.
    let url = client.hr_url().to_owned();
    let (total, records) = runtime::blocking(move || {
        let (records, total) = page.read()?;
        let mapped: Vec<Mapped> = records
            .into_iter()
            .map(|record| Mapped::of(record, &url))
            .collect();
        Ok::<_, SiPassError>((total, mapped))
    })
    .await?;
    let mut changes = Vec::with_capacity(records.len() * 2);
    let count = records.len();
    for record in records {
        match record {
            Mapped::Changes(c) => changes.extend(c),
            // A server that ignores `fields` may answer summaries: read each whole.
            Mapped::Incomplete(record) => {
                let record = complete(client, record).await?;
                changes.extend(skipping_bad(cardholder_changes(record, client.hr_url())));
            }
        }
    }
    Ok(CardholderPage {
        count,
        total,
        changes,
    })
}

/// A page's record, mapped where it could be.
enum Mapped {
    Changes(Vec<Change>),
    /// Without its credentials or last name: to be read whole first.
    Incomplete(Value),
}

impl Mapped {
    fn of(record: Tree<'_>, url: &str) -> Mapped {
        let complete = match &record {
            Tree::Object(entries) => ["Credentials", "LastName"]
                .iter()
                .all(|key| model::tree::get(entries, key).is_some()),
            _ => false,
        };
        match complete {
            true => Mapped::Changes(skipping_bad(served_changes(
                mapping::cardholder_tree(record),
                url,
            ))),
            false => Mapped::Incomplete(record.into()),
        }
    }
}

/// The changes of a cardholder, or none (with a warning) when it cannot be served.
fn skipping_bad(changes: Result<Vec<Change>, SiPassError>) -> Vec<Change> {
    changes.unwrap_or_else(|e| {
        tracing::warn!("skipped a cardholder: {e}");
        Vec::new()
    })
}

/// Notes which cardholders and credentials a page holds.
fn note_seen(
    changes: &[Change],
    seen_cardholders: &mut HashSet<String>,
    seen_credentials: &mut HashSet<String>,
) {
    for change in changes {
        if let Change::Upsert { kind, id, .. } = change {
            match kind {
                EntityKind::Cardholder => seen_cardholders.insert(id.clone()),
                _ => seen_credentials.insert(id.clone()),
            };
        }
    }
}

/// Reads every object of one kind.
async fn load_objects(
    client: &HrClient,
    cache: &Arc<Cache>,
    object_kind: ObjectKind,
    kind: EntityKind,
) -> Result<LoadStats, LoadError> {
    let read_at = ReadAt::at(cache.revision());
    let records = client.objects(object_kind).await?;
    let mut seen = HashSet::new();
    let mut changes = Vec::with_capacity(records.len());
    for record in records {
        if let Some(change) = object_change(kind, record) {
            if let Change::Upsert { id, .. } = &change {
                seen.insert(id.clone());
            }
            changes.push(change);
        }
    }
    let mut stats = LoadStats {
        seen: seen.len() as u64,
        ..LoadStats::default()
    };
    stats.changed += apply_read_at(cache, changes, read_at.clone())
        .await?
        .changed;
    let deletions = unseen(cache, kind, &seen)
        .await?
        .into_iter()
        .map(|id| Change::Delete { kind, id })
        .collect();
    stats.deleted += apply_read_at(cache, deletions, read_at).await?.changed;
    Ok(stats)
}

/// Objects fetched at once when the push channel announces many changes.
const REFRESH_CONCURRENCY: usize = 16;

/// How long a refresh took: reading SiPass, then writing the cache.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefreshTimes {
    pub read: Duration,
    pub write: Duration,
}

/// Brings objects up to date after the push channel said they changed: reads each from
/// SiPass (several at once), or deletes it (and, for a cardholder, its credentials) when
/// SiPass no longer has it, then stores everything in one cache transaction. An object
/// announced twice is read once. Returns how long the reading and the writing took.
pub async fn refresh(
    client: &Arc<HrClient>,
    cache: &Arc<Cache>,
    objects: Vec<(ObjectKind, String)>,
) -> Result<RefreshTimes, LoadError> {
    let started = std::time::Instant::now();
    let mut seen = HashSet::new();
    let mut pending = objects
        .into_iter()
        .filter(|o| entity_kind(o.0).is_some() && seen.insert(o.clone()));
    let mut running = tokio::task::JoinSet::new();
    let mut changes = Vec::new();
    loop {
        while running.len() < REFRESH_CONCURRENCY {
            let Some((kind, token)) = pending.next() else {
                break;
            };
            let (client, cache) = (client.clone(), cache.clone());
            running.spawn(async move { changes_for(&client, &cache, kind, &token).await });
        }
        match running.join_next().await {
            Some(Ok(Err(LoadError::SiPass(SiPassError::Malformed { what, reason })))) => {
                tracing::warn!("skipped {what}: {reason}");
            }
            Some(Ok(result)) => changes.extend(result?),
            Some(Err(e)) => return Err(LoadError::Cache(CacheError::Task(e.to_string()))),
            None => break,
        }
    }
    let read = started.elapsed();
    apply(cache, without_superseded_deletes(changes)).await?;
    Ok(RefreshTimes {
        read,
        write: started.elapsed() - read,
    })
}

/// Drops a delete when the same batch also stores that entity: a card moved from one
/// cardholder to another is deleted by the first's refresh and stored by the second's, and
/// the refreshes finish in any order.
fn without_superseded_deletes(changes: Vec<Change>) -> Vec<Change> {
    let stored: HashSet<(EntityKind, String)> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert { kind, id, .. } => Some((*kind, id.clone())),
            Change::Delete { .. } => None,
        })
        .collect();
    changes
        .into_iter()
        .filter(|c| match c {
            Change::Delete { kind, id } => !stored.contains(&(*kind, id.clone())),
            Change::Upsert { .. } => true,
        })
        .collect()
}

/// The cache changes that bring one object up to date.
async fn changes_for(
    client: &HrClient,
    cache: &Arc<Cache>,
    object_kind: ObjectKind,
    token: &str,
) -> Result<Vec<Change>, LoadError> {
    let Some(kind) = entity_kind(object_kind) else {
        return Ok(Vec::new());
    };
    let gone = || {
        vec![Change::Delete {
            kind,
            id: token.to_owned(),
        }]
    };
    let mut changes = match client.object(object_kind, token).await? {
        None => gone(),
        Some(record) if kind == EntityKind::Cardholder => {
            cardholder_changes(complete(client, record).await?, client.hr_url())?
        }
        // `None`: no longer eligible (e.g. a workgroup that stopped being a visitor one).
        Some(record) => object_change(kind, record).map_or_else(gone, |c| vec![c]),
    };
    if kind == EntityKind::Cardholder {
        changes.extend(dropped_credentials(cache, token, &changes).await?);
    }
    Ok(changes)
}

/// Deletions for the credentials the cache holds for a cardholder that `changes` no longer
/// has.
async fn dropped_credentials(
    cache: &Arc<Cache>,
    cardholder: &str,
    changes: &[Change],
) -> Result<Vec<Change>, CacheError> {
    let kept: HashSet<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert {
                kind: EntityKind::Credential,
                id,
                ..
            } => Some(id.clone()),
            _ => None,
        })
        .collect();
    let (cache, owner) = (cache.clone(), cardholder.to_owned());
    let held = blocking(&cache, move |c| c.owned_by(EntityKind::Credential, &owner)).await?;
    Ok(held
        .into_iter()
        .filter(|id| !kept.contains(id))
        .map(|id| Change::Delete {
            kind: EntityKind::Credential,
            id,
        })
        .collect())
}

/// Applies a batch off the async threads.
pub(crate) async fn apply(cache: &Arc<Cache>, changes: Vec<Change>) -> Result<u64, CacheError> {
    if changes.is_empty() {
        return Ok(0);
    }
    blocking(cache, move |c| c.apply(&changes)).await
}

/// A list record may lack fields the projection asked for (a SiPass release that does not
/// project nested objects); then the full cardholder is read by its token.
async fn complete(client: &HrClient, record: Value) -> Result<Value, SiPassError> {
    if is_complete(&record) {
        return Ok(record);
    }
    let token = token_of(&record).ok_or_else(|| SiPassError::Malformed {
        what: "the cardholder list".into(),
        reason: "a record has no Token".into(),
    })?;
    client.cardholder(&token).await
}

/// True when a cardholder record holds what is served (a list answer may hold less).
fn is_complete(record: &Value) -> bool {
    record.get("Credentials").is_some() && record.get("LastName").is_some()
}

/// The ids the cache holds of `kind` that this pass did not see in SiPass.
async fn unseen(
    cache: &Arc<Cache>,
    kind: EntityKind,
    seen: &HashSet<String>,
) -> Result<Vec<String>, CacheError> {
    let all = blocking(cache, move |c| c.ids(kind)).await?;
    Ok(all.into_iter().filter(|id| !seen.contains(id)).collect())
}

/// Applies what a pass read at `read_at`, leaving newer changes alone.
async fn apply_read_at(
    cache: &Arc<Cache>,
    changes: Vec<Change>,
    read_at: ReadAt,
) -> Result<Applied, CacheError> {
    blocking(cache, move |c| {
        c.apply_unless_newer(&changes, Some(read_at))
    })
    .await
}

/// Runs a cache call off the async threads.
async fn blocking<T: Send + 'static>(
    cache: &Arc<Cache>,
    f: impl FnOnce(&Cache) -> Result<T, CacheError> + Send + 'static,
) -> Result<T, CacheError> {
    let cache = cache.clone();
    runtime::try_blocking(move || f(&cache))
        .await
        .map_err(|p| CacheError::Task(p.to_string()))?
}

/// A served object as a cache change.
fn upsert(object: ServedObject) -> Change {
    Change::Upsert {
        kind: object.kind,
        id: object.id,
        name: object.name,
        payload: object.payload,
        owner: object.owner,
    }
}

/// A device or configuration object as a cache change; `None` when it is not served or
/// has no token.
fn object_change(kind: EntityKind, record: Value) -> Option<Change> {
    mapping::object(kind, record).map(upsert)
}

/// A SiPass cardholder as cache changes: the cardholder, then its credentials.
fn cardholder_changes(record: Value, url: &str) -> Result<Vec<Change>, SiPassError> {
    served_changes(mapping::cardholder(record), url)
}

fn served_changes(
    served: Result<Vec<ServedObject>, mapping::MalformedCardholder>,
    url: &str,
) -> Result<Vec<Change>, SiPassError> {
    let served = served.map_err(|e| SiPassError::Malformed {
        what: format!("a cardholder from {url}"),
        reason: e.to_string(),
    })?;
    Ok(served.into_iter().map(upsert).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(changes: &[Change]) -> Vec<(EntityKind, &str)> {
        changes
            .iter()
            .map(|c| match c {
                Change::Upsert { kind, id, .. } | Change::Delete { kind, id } => {
                    (*kind, id.as_str())
                }
            })
            .collect()
    }

    #[test]
    fn credentials_are_split_out_and_belong_to_their_cardholder() {
        let record = serde_json::json!({
            "Token": "7", "FirstName": "Ada", "LastName": "Lovelace",
            "Credentials": [
                {"CardNumber": "1001", "FacilityCode": 100, "CardTechnologyCode": 10},
                {"CardNumber": "1002", "FacilityCode": 100, "CardTechnologyCode": 10}
            ],
            "_links": []
        });
        let changes = cardholder_changes(record, "test").unwrap();
        assert_eq!(
            ids(&changes),
            [
                (EntityKind::Cardholder, "7"),
                (EntityKind::Credential, "10:100:1001"),
                (EntityKind::Credential, "10:100:1002")
            ]
        );
        let Change::Upsert { name, payload, .. } = &changes[0] else {
            panic!()
        };
        assert_eq!(name, "Ada Lovelace");
        assert!(
            serde_json::from_slice::<Value>(payload)
                .unwrap()
                .get("Credentials")
                .is_none()
        );
        let Change::Upsert { owner, payload, .. } = &changes[1] else {
            panic!()
        };
        assert_eq!(owner, "7");
        assert_eq!(
            serde_json::from_slice::<Value>(payload).unwrap()["CardholderToken"],
            "7"
        );
    }

    #[test]
    fn only_visitor_workgroups_are_served_and_runtime_state_is_left_out() {
        let visitor = serde_json::json!({"Token": 2000000000, "Name": "<Visitor>", "Type": 3});
        let department = serde_json::json!({"Token": 2000000001, "Name": "R&D", "Type": 0});
        assert!(object_change(EntityKind::Workgroup, visitor).is_some());
        assert!(object_change(EntityKind::Workgroup, department).is_none());
        let door =
            serde_json::json!({"Token": "4", "Name": "Main door", "State": {"Lock": "Locked"}});
        let Some(Change::Upsert { payload, .. }) = object_change(EntityKind::Doorset, door) else {
            panic!()
        };
        assert!(
            serde_json::from_slice::<Value>(&payload)
                .unwrap()
                .get("State")
                .is_none()
        );
    }

    #[test]
    fn a_card_moved_between_cardholders_in_one_batch_is_kept() {
        let card = |owner: &str| Change::Upsert {
            kind: EntityKind::Credential,
            id: "10:100:1".into(),
            name: "1".into(),
            payload: Vec::new(),
            owner: owner.into(),
        };
        let delete = Change::Delete {
            kind: EntityKind::Credential,
            id: "10:100:1".into(),
        };
        for batch in [
            vec![card("B"), delete.clone()],
            vec![delete.clone(), card("B")],
        ] {
            assert_eq!(without_superseded_deletes(batch), vec![card("B")]);
        }
    }

    #[test]
    fn a_record_without_token_is_refused() {
        assert!(cardholder_changes(serde_json::json!({"FirstName": "x"}), "test").is_err());
    }
}
