//! The Events stream: the journal from a sequence number, then live entries.

use std::pin::Pin;
use std::sync::Arc;

use protocol::pb;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::Status;

use crate::shared::Shared;

/// Entries read from the journal at a time. Each read is a hop to a blocking thread, which
/// on a busy two-core machine waits for a core: 8,192 a read (it was 1,024) means fewer
/// hops for a role catching up on a backlog (a small gain in the bench's phase 4b). Sent in
/// messages of at most `STREAM_BATCH_BYTES`.
const BATCH: usize = 8192;
/// Reads ready ahead of the one being sent: what an unread stream holds stays a few MiB.
const READY: usize = 2;

pub type EventStream = Pin<Box<dyn Stream<Item = Result<pb::EventBatch, Status>> + Send>>;

/// Streams journal entries after `after` until the role hangs up.
/// `permit` is the stream's place under the proxy's cap, held while it runs.
pub fn event_stream(
    shared: Arc<Shared>,
    after: u64,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> EventStream {
    let (tx, rx) = mpsc::channel(READY);
    tokio::spawn(async move {
        let _permit = permit;
        let _done = crate::watcher::GiveBackMemory;
        if let Err(status) = feed(&shared, after, &tx).await {
            let _ = tx.send(Err(status)).await;
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

async fn feed(
    shared: &Arc<Shared>,
    mut after: u64,
    tx: &mpsc::Sender<Result<pb::EventBatch, Status>>,
) -> Result<(), Status> {
    let mut latest = shared.journal.subscribe();
    let journal_id = shared.journal.id().to_owned();
    loop {
        let journal = shared.journal.clone();
        let entries = runtime::blocking(move || journal.read_after(after, BATCH))
            .await
            .map_err(|e| Status::unavailable(format!("the proxy cannot read its journal: {e}")))?;
        if let Some(last) = entries.last() {
            after = last.seq;
            let entries: Vec<pb::JournalEntry> = entries
                .into_iter()
                .map(|e| pb::JournalEntry {
                    sequence: e.seq,
                    r#type: e.entry_type,
                    payload: e.payload,
                    journaled_at_ms: e.at_ms,
                })
                .collect();
            for entries in
                protocol::split_within(entries, protocol::STREAM_BATCH_BYTES, |e| e.payload.len())
            {
                let batch = pb::EventBatch {
                    entries,
                    journal_id: journal_id.clone(),
                };
                if tx.send(Ok(batch)).await.is_err() {
                    return Ok(());
                }
            }
            continue;
        }
        tokio::select! {
            changed = latest.changed() => if changed.is_err() { return Ok(()) },
            () = tx.closed() => return Ok(()),
        }
    }
}
