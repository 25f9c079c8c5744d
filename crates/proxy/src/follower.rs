//! Follows SiPass's push channel: entity changes refresh the cache, events and alarm changes
//! go to the journal. A gap in the sequence numbers (a missed message) triggers an immediate
//! reconciliation and a back-fill of the missed events from the audit trail.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use model::management::{Event, Push, PushType};
use runtime::{Backoff, Shutdown, Worker, WorkerContext};
use sipass_client::SiPassError;
use sipass_client::push::PushMessage;

use crate::journal::{EntryType, NewEntry};
use crate::loader;
use crate::shared::Shared;

/// How long a batch already under way waits for more messages before it is journaled.
const GROUP_COMMIT: Duration = Duration::from_millis(2);

/// The longest the journal's push sequence lags behind entity changes handled (at most
/// this much of the push channel is read again after a restart).
const RECORD_EVERY: Duration = Duration::from_secs(1);

/// Messages handled per journal transaction at most.
const BATCH: usize = 4096;

/// The first wait before connecting again.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait before connecting again.
const LONGEST_RETRY: Duration = Duration::from_secs(30);
/// A connection that lasted this long counts as good even if SiPass had nothing to send:
/// it is no reconnection loop, so the next failure is a new incident, not the same one.
const STAYED_UP: Duration = LONGEST_RETRY;

/// What the follower says while connected.
const FOLLOWING: &str = "following the SiPass push channel";

/// Follows the push channel until shutdown, reconnecting with backoff.
pub(crate) struct Follower {
    shared: Arc<Shared>,
}

impl Follower {
    pub fn new(shared: Arc<Shared>) -> Self {
        Follower { shared }
    }
}

impl Worker for Follower {
    fn name(&self) -> String {
        "push-follower".into()
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), String> {
        let mut reconnect = Reconnect::new();
        loop {
            let mut attempt = Attempt::default();
            match session(&self.shared, &ctx, &mut attempt).await {
                Ok(()) => return Ok(()),
                Err(FollowError::NoPushChannel) => {
                    self.shared.push_missing.store(true, Ordering::Relaxed);
                    let every = self.shared.reload_without_push.as_secs();
                    tracing::warn!(
                        "SiPass has no push channel (a real SiPass has none); changes are found by reading SiPass again every {every} s, and no events or alarms are journaled"
                    );
                    // The reconciler may be waiting out the longer interval: wake it.
                    self.shared.reconcile.notify_one();
                    ctx.status.idle(format!(
                        "SiPass has no push channel; reading SiPass again every {every} s finds changes; no events or alarms"
                    ));
                    ctx.shutdown.wait().await;
                    return Ok(());
                }
                Err(e) => {
                    let wait = reconnect.wait_after(&attempt, Instant::now());
                    tracing::warn!(
                        "the SiPass push channel failed: {e}; reconnecting in {:.1}s",
                        wait.as_secs_f32()
                    );
                    ctx.status
                        .retrying(format!("the SiPass push channel failed: {e}"));
                    if ctx.shutdown.sleep_async(wait).await {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// What one connection to the push channel achieved.
#[derive(Debug, Default)]
struct Attempt {
    /// When the channel was opened; `None` when it could not be.
    connected_at: Option<Instant>,
    /// Whether a batch of messages was handled through it.
    delivered: bool,
}

impl Attempt {
    /// A connection that delivered or stayed up: SiPass and the journal work.
    fn worked(&self, ended_at: Instant) -> bool {
        self.delivered
            || self
                .connected_at
                .is_some_and(|at| ended_at.saturating_duration_since(at) >= STAYED_UP)
    }
}

/// The waits between connections: growing while they fail, back to the first step after
/// one that worked, so that a proxy whose channel dropped a few times over days does not
/// wait the longest every time.
struct Reconnect {
    backoff: Backoff,
}

impl Reconnect {
    fn new() -> Self {
        Reconnect {
            backoff: Backoff::new(FIRST_RETRY, LONGEST_RETRY),
        }
    }

    /// The wait before connecting again after `attempt` ended at `ended_at`.
    fn wait_after(&mut self, attempt: &Attempt, ended_at: Instant) -> Duration {
        if attempt.worked(ended_at) {
            self.backoff.reset();
        }
        self.backoff.next_delay()
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
}

/// One connection to the push channel, resuming after what the journal has reached; notes
/// in `attempt` how far it got.
async fn session(
    shared: &Arc<Shared>,
    ctx: &WorkerContext,
    attempt: &mut Attempt,
) -> Result<(), FollowError> {
    ctx.status.busy("connecting to the SiPass push channel");
    let journal = shared.journal.clone();
    let mut reached = runtime::blocking(move || journal.push_sequence()).await?;
    let mut messages = match shared.client.subscribe(reached).await {
        Ok(rx) => rx,
        Err(SiPassError::Refused { status: 404, .. }) => return Err(FollowError::NoPushChannel),
        Err(e) => return Err(e.into()),
    };
    attempt.connected_at = Some(Instant::now());
    tracing::info!(after = reached, "following the SiPass push channel");
    ctx.status.idle(FOLLOWING);
    let mut recorded = Instant::now();
    loop {
        let Some(batch) = next_batch(&mut messages, &ctx.shutdown).await? else {
            return Ok(());
        };
        reached = handle(shared, batch, reached, &mut recorded).await?;
        attempt.delivered = true;
    }
}

type Messages = tokio::sync::mpsc::Receiver<Result<PushMessage, SiPassError>>;

/// Waits for the next message and takes those that follow it closely; `None` at shutdown.
async fn next_batch(
    messages: &mut Messages,
    shutdown: &Shutdown,
) -> Result<Option<Vec<PushMessage>>, FollowError> {
    let first = tokio::select! {
        m = messages.recv() => m,
        () = shutdown.wait() => return Ok(None),
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
    Ok(Some(batch))
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

/// Handles a batch of push messages in order; returns the sequence reached. `recorded` is
/// when the journal last recorded the push sequence.
async fn handle(
    shared: &Arc<Shared>,
    batch: Vec<PushMessage>,
    mut reached: u64,
    recorded: &mut Instant,
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
            if reached == 0 && !shared.loaded.load(Ordering::Acquire) {
                // The first messages this proxy ever follows, during its first load: what
                // came before them is SiPass's past, which that load is reading whole.
                // Reconciling as well would read SiPass twice over.
                tracing::info!(
                    first = seq,
                    "following the SiPass push channel from its start"
                );
            } else {
                tracing::warn!(
                    from = reached + 1,
                    to = before - 1,
                    "missed push messages; reconciling with SiPass"
                );
                shared.reconcile.notify_one();
            }
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
    let started = Instant::now();
    let (events, objects) = (entries.len(), refreshes.len());
    // A batch of entity changes alone is not worth a flush of the journal: its objects are
    // safe in the cache, and a restart that replays it only reads them again. So the push
    // sequence is recorded with the next events, or after `RECORD_EVERY` at the latest (a
    // commit with nothing in it took 100-600 ms at times, while renames queued behind it).
    if !entries.is_empty() || recorded.elapsed() >= RECORD_EVERY {
        commit(shared, entries, journaled_upto).await?;
        *recorded = Instant::now();
    }
    let mut times = BatchTimes {
        journal: started.elapsed(),
        ..BatchTimes::default()
    };
    if !refreshes.is_empty() {
        let objects = refreshes
            .into_iter()
            .map(|(_, kind, token)| (kind, token))
            .collect();
        times.refresh = loader::refresh(&shared.client, &shared.cache, objects).await?;
        if recorded.elapsed() >= RECORD_EVERY {
            let committing = Instant::now();
            commit(shared, Vec::new(), reached).await?;
            *recorded = Instant::now();
            times.journal += committing.elapsed();
        }
    }
    times.warn_if_slow(started.elapsed(), events, objects);
    Ok(reached)
}

/// A batch that takes this long delays every change and event behind it: it is logged.
const SLOW_BATCH: Duration = Duration::from_millis(100);

/// Where a batch of push messages spent its time.
#[derive(Default)]
struct BatchTimes {
    /// Journal commits (each flushed to disk).
    journal: Duration,
    /// Reading changed objects from SiPass and writing them to the cache.
    refresh: loader::RefreshTimes,
}

impl BatchTimes {
    fn warn_if_slow(&self, took: Duration, events: usize, objects: usize) {
        if took < SLOW_BATCH {
            return;
        }
        tracing::warn!(
            took_ms = took.as_millis() as u64,
            journal_ms = self.journal.as_millis() as u64,
            sipass_read_ms = self.refresh.read.as_millis() as u64,
            cache_write_ms = self.refresh.write.as_millis() as u64,
            events,
            objects,
            "a batch of push messages was slow: changes and events behind it waited"
        );
    }
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
    runtime::blocking(move || journal.append(&entries, reached)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> Attempt {
        Attempt::default()
    }

    #[test]
    fn after_failures_a_connection_that_delivered_brings_the_wait_back_to_the_first_step() {
        let mut reconnect = Reconnect::new();
        let now = Instant::now();
        let waits: Vec<Duration> = (0..6)
            .map(|_| reconnect.wait_after(&failed(), now))
            .collect();
        assert!(
            waits[5] >= LONGEST_RETRY / 2,
            "six failures in a row wait near the longest: {waits:?}"
        );
        let delivered = Attempt {
            connected_at: Some(now),
            delivered: true,
        };
        let wait = reconnect.wait_after(&delivered, now);
        assert!(wait <= FIRST_RETRY, "{wait:?} after a good connection");
        let wait = reconnect.wait_after(&failed(), now);
        assert!(
            wait <= FIRST_RETRY * 2,
            "{wait:?}: the next failure starts the growth again"
        );
    }

    #[test]
    fn a_connection_that_stayed_up_resets_the_wait_and_a_short_silent_one_does_not() {
        let mut reconnect = Reconnect::new();
        let opened = Instant::now();
        for _ in 0..6 {
            reconnect.wait_after(&failed(), opened);
        }
        let silent = Attempt {
            connected_at: Some(opened),
            delivered: false,
        };
        let wait = reconnect.wait_after(&silent, opened + Duration::from_secs(1));
        assert!(
            wait >= LONGEST_RETRY / 2,
            "{wait:?}: a connection that dropped at once is no success"
        );
        let wait = reconnect.wait_after(&silent, opened + STAYED_UP);
        assert!(
            wait <= FIRST_RETRY,
            "{wait:?} after a connection that stayed up"
        );
    }
}
