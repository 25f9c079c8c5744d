//! Follows SiPass's push channel: entity changes refresh the cache, events and alarm changes
//! go to the journal. A gap in the sequence numbers (a missed message) triggers an immediate
//! reconciliation and a back-fill of the missed events from the audit trail.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use model::management::{Event, Push, PushType};
use sipass_client::SiPassError;
use sipass_client::push::PushMessage;
use tokio::sync::watch;

use crate::Shared;
use crate::journal::{EntryType, NewEntry};
use crate::loader;

/// How long a batch already under way waits for more messages before it is journaled.
const GROUP_COMMIT: std::time::Duration = std::time::Duration::from_millis(2);

/// Messages handled per journal transaction at most.
const BATCH: usize = 4096;

/// Runs until shutdown, reconnecting with backoff.
pub async fn follow(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match session(&shared, &mut shutdown).await {
            Ok(()) => return,
            Err(FollowError::NoPushChannel) => {
                tracing::warn!(
                    "SiPass has no push channel; changes are found by reconciliation only, and no events or alarms are journaled"
                );
                return;
            }
            Err(e) => tracing::warn!(
                "the SiPass push channel failed: {e}; reconnecting in {}s",
                backoff.as_secs()
            ),
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error("SiPass has no push channel")]
    NoPushChannel,
    #[error(transparent)]
    SiPass(#[from] SiPassError),
    #[error(transparent)]
    Load(#[from] loader::LoadError),
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error("a background task failed: {0}")]
    Task(String),
}

/// One connection to the push channel, resuming after what the journal has reached.
async fn session(
    shared: &Arc<Shared>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), FollowError> {
    let journal = shared.journal.clone();
    let mut reached = blocking(move || journal.push_sequence()).await??;
    let mut messages = match shared.client.subscribe(reached).await {
        Ok(rx) => rx,
        Err(SiPassError::Refused { status: 404, .. }) => return Err(FollowError::NoPushChannel),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(after = reached, "following the SiPass push channel");
    loop {
        let first = tokio::select! {
            m = messages.recv() => m,
            _ = shutdown.changed() => return Ok(()),
        };
        let Some(first) = first else {
            return Err(SiPassError::Unreachable {
                url: "the push channel".into(),
                reason: "SiPass closed it".into(),
            }
            .into());
        };
        let mut batch = Vec::new();
        keep_wellformed(first, &mut batch)?;
        // Group commit: under load, messages arriving within a couple of milliseconds share
        // one journal transaction (one disk flush) instead of each paying for their own.
        let window = tokio::time::Instant::now() + GROUP_COMMIT;
        while batch.len() < BATCH {
            match messages.try_recv() {
                Ok(m) => keep_wellformed(m, &mut batch)?,
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) if batch.len() > 1 => {
                    match tokio::time::timeout_at(window, messages.recv()).await {
                        Ok(Some(m)) => keep_wellformed(m, &mut batch)?,
                        _ => break,
                    }
                }
                Err(_) => break,
            }
        }
        reached = handle(shared, batch, reached).await?;
    }
}

/// Adds a decoded message to the batch. A message that cannot be decoded is skipped with a
/// warning: its sequence number then shows as a gap, which reconciliation and back-fill
/// repair, instead of the same bad message stopping the channel at every reconnection.
fn keep_wellformed(
    message: Result<PushMessage, SiPassError>,
    batch: &mut Vec<PushMessage>,
) -> Result<(), FollowError> {
    match message {
        Ok(m) => batch.push(m),
        Err(SiPassError::Malformed { reason, .. }) => {
            tracing::warn!("skipped a push message SiPass sent malformed: {reason}");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Handles a batch of push messages in order; returns the sequence reached.
async fn handle(
    shared: &Arc<Shared>,
    batch: Vec<PushMessage>,
    mut reached: u64,
) -> Result<u64, FollowError> {
    let mut entries = Vec::new();
    let mut refreshes: Vec<(u64, model::management::ObjectKind, String)> = Vec::new();
    for message in batch {
        let seq = message.sequence;
        let is_gap = message.kind == PushType::Gap;
        if seq <= reached {
            continue; // a replay of what the journal has
        }
        if seq > reached + 1 || is_gap {
            // Messages after `reached` were missed (a gap message covers up to its own
            // sequence): journal what the audit trail still has, then reconcile entities.
            // The recorded push sequence never passes an entity message not yet refreshed.
            let pending = refreshes.first().map_or(u64::MAX, |(s, ..)| *s - 1);
            commit(shared, std::mem::take(&mut entries), reached.min(pending)).await?;
            let before = if is_gap { seq + 1 } else { seq };
            backfill(shared, reached, before, pending).await?;
            tracing::warn!(
                from = reached + 1,
                to = before - 1,
                "missed push messages; reconciling with SiPass"
            );
            shared.reconcile.notify_one();
        }
        match message.kind {
            // Events and alarm changes are journaled as SiPass sent them, never decoded:
            // nothing is lost in a round trip through our types, and no time either.
            PushType::Event => entries.push(raw_entry(seq, EntryType::Event, message.data)),
            PushType::Alarm => entries.push(raw_entry(seq, EntryType::Alarm, message.data)),
            PushType::Entity => match message.decode() {
                Ok(Push::Entity(change)) => refreshes.push((seq, change.kind, change.token)),
                Ok(_) | Err(_) => {
                    // Its object will be found by the reconciliation this triggers.
                    tracing::warn!(sequence = seq, "skipped a malformed entity push message");
                    shared.reconcile.notify_one();
                }
            },
            PushType::Gap => {}
        }
        reached = seq;
    }
    // The push sequence is recorded past an entity message only once the entity has been
    // refreshed, so that a crash in between replays it instead of losing it.
    let journaled_upto = refreshes.first().map_or(reached, |(seq, ..)| *seq - 1);
    commit(shared, entries, journaled_upto).await?;
    if !refreshes.is_empty() {
        let objects = refreshes
            .into_iter()
            .map(|(_, kind, token)| (kind, token))
            .collect();
        loader::refresh(&shared.client, &shared.cache, objects).await?;
        commit(shared, Vec::new(), reached).await?;
    }
    Ok(reached)
}

fn raw_entry(seq: u64, entry_type: EntryType, data: String) -> NewEntry {
    NewEntry {
        source_seq: seq,
        entry_type,
        payload: data.into_bytes(),
    }
}

fn entry<T: serde::Serialize>(seq: u64, entry_type: EntryType, message: &T) -> NewEntry {
    NewEntry {
        source_seq: seq,
        entry_type,
        payload: serde_json::to_vec(message).unwrap_or_default(),
    }
}

/// Journals the events SiPass still has between two sequence numbers (exclusive), recording
/// the push sequence reached no further than `cap`.
async fn backfill(
    shared: &Arc<Shared>,
    after: u64,
    before: u64,
    cap: u64,
) -> Result<(), FollowError> {
    if shared.progress.management_missing.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut from = after;
    loop {
        let events: Vec<Event> = shared.client.events_after(from, 1000).await?;
        let wanted: Vec<NewEntry> = events
            .iter()
            .filter(|e| e.sequence > from && e.sequence < before)
            .map(|e| entry(e.sequence, EntryType::Event, e))
            .collect();
        let last = events.last().map(|e| e.sequence);
        let found = wanted.len();
        if let Some(reached) = wanted.last().map(|e| e.source_seq) {
            commit(shared, wanted, reached.min(cap)).await?;
        }
        match last {
            Some(last) if last < before && found > 0 => from = last,
            _ => break,
        }
    }
    Ok(())
}

async fn commit(
    shared: &Arc<Shared>,
    entries: Vec<NewEntry>,
    reached: u64,
) -> Result<(), FollowError> {
    let journal = shared.journal.clone();
    blocking(move || journal.append(&entries, reached)).await??;
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, FollowError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| FollowError::Task(e.to_string()))
}
