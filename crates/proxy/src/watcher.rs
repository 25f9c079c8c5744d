//! The Watch stream: the change log after a revision, then live changes.

use std::pin::Pin;
use std::sync::Arc;

use model::{EntityKind, Revision};
use protocol::kind_to_wire;
use protocol::pb::{self, watch_event::Event};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::Status;

use crate::cache::{LoggedChange, TooOld};
use crate::errors::cache_status;
use crate::shared::Shared;

/// Changes read from the log per batch: with the one-message channel, what an unread stream
/// holds (a read batch, a message waiting and one being sent) stays around a megabyte.
const BATCH: usize = 128;

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchEvent, Status>> + Send>>;

/// Streams every change after `after` of `kinds` (all when empty) until the role hangs up.
/// `permit` is the stream's place under the proxy's cap, held while it runs.
pub fn watch_stream(
    shared: Arc<Shared>,
    after: Revision,
    cache_id: String,
    kinds: Vec<EntityKind>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> WatchStream {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let _permit = permit;
        let _done = GiveBackMemory;
        if let Err(status) = feed(&shared, after, &cache_id, &kinds, &tx).await {
            let _ = tx.send(Err(status)).await;
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

type Sender = mpsc::Sender<Result<pb::WatchEvent, Status>>;

async fn feed(
    shared: &Arc<Shared>,
    mut after: Revision,
    cache_id: &str,
    kinds: &[EntityKind],
    tx: &Sender,
) -> Result<(), Status> {
    if !cache_id.is_empty() && cache_id != shared.cache.id() {
        let too_old = pb::TooOld {
            oldest_revision: shared.cache.revision(),
            reason: "the proxy's cache was rebuilt since the role's copy was made".into(),
        };
        let _ = send(tx, Event::TooOld(too_old)).await;
        return Ok(());
    }
    let mut latest = shared.cache.subscribe();
    let mut announced = None;
    loop {
        let cache = shared.cache.clone();
        let read = runtime::blocking(move || cache.changes_after(after, BATCH))
            .await
            .map_err(cache_status)?;
        let changes = match read {
            Ok(changes) => changes,
            Err(TooOld { oldest }) => {
                let too_old = pb::TooOld {
                    oldest_revision: oldest,
                    reason: format!(
                        "changes after revision {after} are no longer kept (the change log starts after {oldest})"
                    ),
                };
                let _ = send(tx, Event::TooOld(too_old)).await;
                return Ok(());
            }
        };
        if let Some(last) = changes.last() {
            after = last.revision;
            // Read after the changes: never below them, so the role's lag is never negative.
            let head_revision = shared.cache.revision().max(after);
            let batch: Vec<pb::Change> = changes
                .into_iter()
                .filter(|c| kinds.is_empty() || kinds.contains(&c.kind))
                .map(to_wire)
                .collect();
            for changes in protocol::split_within(batch, protocol::STREAM_BATCH_BYTES, |c| {
                c.payload.len() + c.id.len() + c.name.len()
            }) {
                let batch = pb::ChangeBatch {
                    changes,
                    head_revision,
                };
                if !send(tx, Event::Changes(batch)).await {
                    return Ok(());
                }
            }
            continue;
        }
        if announced != Some(after) {
            announced = Some(after);
            if !send(tx, Event::CaughtUp(pb::CaughtUp { revision: after })).await {
                return Ok(());
            }
        }
        tokio::select! {
            changed = latest.changed() => if changed.is_err() { return Ok(()) },
            () = tx.closed() => return Ok(()),
        }
    }
}

/// Dropped when a stream's feeder ends: what the stream's buffers used goes back to the
/// system, so memory returns to its baseline after a burst of streams.
pub(crate) struct GiveBackMemory;

impl Drop for GiveBackMemory {
    fn drop(&mut self) {
        runtime::memory::give_back_soon();
    }
}

/// False when the role has hung up.
async fn send(tx: &Sender, event: Event) -> bool {
    tx.send(Ok(pb::WatchEvent { event: Some(event) }))
        .await
        .is_ok()
}

fn to_wire(change: LoggedChange) -> pb::Change {
    let kind = kind_to_wire(change.kind) as i32;
    match change.entity {
        Some(e) => pb::Change {
            kind,
            id: change.id,
            revision: e.revision,
            deleted: false,
            name: e.name,
            payload: e.payload,
        },
        None => pb::Change {
            kind,
            id: change.id,
            revision: change.revision,
            deleted: true,
            name: String::new(),
            payload: Vec::new(),
        },
    }
}
