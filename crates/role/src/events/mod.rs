//! The event recorder: reads the proxy's event journal from the position the plugin database
//! holds, stores each entry exactly once (the position in the same transaction, on disk
//! before the commit returns) and acknowledges to the proxy only what is committed. Killing
//! the role or the proxy at any moment loses and doubles nothing: a restart reads again
//! after the stored position, an entry delivered twice is skipped by its journal sequence,
//! and an acknowledgement lost on the way is sent again at the next session's start.
//!
//! It works within a session the connection established, beside the synchronizer; the
//! first of the two to end the session ends it for both.

pub(crate) mod convert;
mod feed;

use std::collections::HashSet;
use std::sync::Arc;

use protocol::pb;
use runtime::{Shutdown, StatusReporter};
use store::{Directory, EventPosition, PluginDatabase, StoredEvent};

use crate::alarms::AlarmSignals;

pub use convert::UNREADABLE;
pub use feed::{EventFeed, FEED_BUFFER};

use crate::config;
use crate::proxy::{EntryStream, Proxy};
use crate::session::{Session, SessionEnd};

/// Messages read ahead of the one being stored (each at most a few hundred KiB).
const READ_AHEAD: usize = 16;

/// Entries gathered into one commit at most.
const GATHER: usize = 20_000;

/// What the read-ahead task passes on: a batch, the end of the stream, or why it broke.
type Item = Result<Option<pb::EventBatch>, crate::proxy::ProxyError>;

/// Reads the stream into `tx` until it ends, breaks or nobody listens.
async fn read_ahead<S: EntryStream>(mut stream: S, tx: tokio::sync::mpsc::Sender<Item>) {
    loop {
        let item = stream.next().await;
        let last = !matches!(item, Ok(Some(_)));
        if tx.send(item).await.is_err() || last {
            return;
        }
    }
}

/// A batch read ahead, or why the session ends.
fn delivered(item: Option<Item>) -> Result<pb::EventBatch, SessionEnd> {
    match item {
        Some(Ok(Some(batch))) => Ok(batch),
        Some(Err(e)) => Err(SessionEnd::from_proxy("the proxy's event stream broke", e)),
        Some(Ok(None)) | None => Err(SessionEnd::Disconnected(
            "the proxy ended the event stream".into(),
        )),
    }
}

/// Stops the read-ahead task with the session.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Unknown event types logged per session, at most: each once, so that a flood of them is
/// counted in the database rather than in the log.
const MAX_LOGGED_UNKNOWN: usize = 100;

/// Records SiPass events into the plugin database, within a session.
pub(crate) struct EventRecorder {
    pub directory: Arc<dyn Directory>,
    pub plugin: Arc<dyn PluginDatabase>,
    pub reporter: StatusReporter,
    /// Events as they are stored, for the live feed.
    pub feed: EventFeed,
    /// Alarm changes as they are applied (the journal carries them with the events).
    pub alarms: AlarmSignals,
}

/// What storing a batch gives: the events stored and the alarm changes applied.
type StoreResult = Result<(Vec<StoredEvent>, Vec<store::AlarmUpdate>), store::StoreError>;

/// A batch being stored while the next one is converted. The task hands the batch back
/// with its result, so that freeing it (tens of thousands of strings) happens off the
/// storing thread, which everything else waits for.
struct Storing {
    task: tokio::task::JoinHandle<(StoreResult, Converted)>,
    position: EventPosition,
}

/// A converted batch, ready to store up to `position`.
struct Converted {
    converted: convert::Converted,
    webhook: bool,
    position: EventPosition,
}

/// What the recorder keeps within one session.
struct Reading {
    role_id: String,
    position: EventPosition,
    names: convert::Names,
    logged_unknown: HashSet<String>,
}

impl EventRecorder {
    /// Records until the session ends; says why it ended.
    pub async fn serve<P: Proxy>(&self, session: &Session<P>, shutdown: &Shutdown) -> SessionEnd {
        let end = match self.work(session, shutdown).await {
            Ok(()) => SessionEnd::Shutdown,
            Err(end) => end,
        };
        self.reporter.idle("waiting for a session with the proxy");
        end
    }

    async fn work<P: Proxy>(
        &self,
        session: &Session<P>,
        shutdown: &Shutdown,
    ) -> Result<(), SessionEnd> {
        let (role_id, position) = self
            .blocking(|p, _| Ok((p.role_id()?, p.event_position()?)))
            .await?;
        let mut reading = Reading {
            role_id,
            position,
            names: convert::Names::default(),
            logged_unknown: HashSet::new(),
        };
        // What the last session committed may not have reached the proxy.
        if reading.position.sequence > 0 {
            self.acknowledge(session, &reading.role_id, &reading.position)
                .await?;
        }
        let stream = session
            .proxy
            .events(
                reading.position.sequence,
                &reading.position.journal_id,
                &reading.role_id,
            )
            .await
            .map_err(|e| SessionEnd::from_proxy("reading the proxy's event journal failed", e))?;
        // Batches are read ahead while one is committed, and those waiting are stored
        // together: one commit (and one fsync) per backlog's worth, not per message. The
        // next batch is converted while the previous one is stored, on the second core.
        let (tx, mut rx) = tokio::sync::mpsc::channel(READ_AHEAD);
        let _reader = AbortOnDrop(tokio::spawn(read_ahead(stream, tx)));
        self.reporter.idle("recording events");
        let mut pending: Option<pb::EventBatch> = None;
        let mut storing: Option<Storing> = None;
        loop {
            let mut batch = match pending.take() {
                Some(batch) => batch,
                None => match storing.take() {
                    Some(mut s) => tokio::select! {
                        done = &mut s.task => {
                            self.stored(session, &reading.role_id, s.position, done).await?;
                            continue;
                        }
                        item = rx.recv() => {
                            storing = Some(s);
                            delivered(item)?
                        }
                        () = shutdown.wait() => {
                            self.finish(session, &reading.role_id, Some(s)).await?;
                            return Ok(());
                        }
                    },
                    None => tokio::select! {
                        item = rx.recv() => delivered(item)?,
                        () = shutdown.wait() => return Ok(()),
                    },
                },
            };
            let mut ended = None;
            while batch.entries.len() < GATHER {
                match rx.try_recv() {
                    Ok(Ok(Some(next))) if next.journal_id == batch.journal_id => {
                        batch.entries.extend(next.entries);
                    }
                    Ok(Ok(Some(next))) => {
                        pending = Some(next);
                        break;
                    }
                    Ok(other) => {
                        ended = Some(other);
                        break;
                    }
                    Err(_) => break,
                }
            }
            if let Some(converted) = self.convert(batch, &mut reading).await? {
                // One store at a time, in order: the previous one ends (and is
                // acknowledged) before this one starts.
                self.finish(session, &reading.role_id, storing.take())
                    .await?;
                storing = Some(self.store(converted));
            }
            if let Some(item) = ended {
                self.finish(session, &reading.role_id, storing.take())
                    .await?;
                delivered(Some(item))?;
            }
        }
    }

    /// Converts one batch (what follows the last entry handed to storage); `None` when it
    /// holds nothing new.
    async fn convert(
        &self,
        batch: pb::EventBatch,
        reading: &mut Reading,
    ) -> Result<Option<Converted>, SessionEnd> {
        self.follow_journal(&batch.journal_id, reading);
        let after = reading.position.sequence;
        let entries: Vec<pb::JournalEntry> = batch
            .entries
            .into_iter()
            .filter(|e| e.sequence > after)
            .collect();
        let Some(last) = entries.last().map(|e| e.sequence) else {
            return Ok(None);
        };
        self.reporter.busy("storing events");
        let position = EventPosition {
            journal_id: reading.position.journal_id.clone(),
            sequence: last,
        };
        let names = std::mem::take(&mut reading.names);
        let (converted, webhook, names) = self
            .blocking(move |_, directory| {
                let settings = config::read(directory)?;
                let switches =
                    convert::Switches::new(&settings.events_not_logged, &settings.events_ignored);
                let mut names = names;
                let converted = convert::convert(&entries, &switches, &mut names, directory)?;
                Ok((converted, !settings.alarm_webhook_url.is_empty(), names))
            })
            .await?;
        reading.names = names;
        // Handed to storage: the next batch is read after it. Only the acknowledgement
        // waits for the commit.
        reading.position.sequence = last;
        let mut converted = converted;
        self.log_unknown(std::mem::take(&mut converted.unknown_types), reading);
        Ok(Some(Converted {
            converted,
            webhook,
            position,
        }))
    }

    /// Starts storing a converted batch on a blocking thread.
    fn store(&self, c: Converted) -> Storing {
        let plugin = self.plugin.clone();
        let position = c.position.clone();
        let task = tokio::task::spawn_blocking(move || {
            // Alarm changes with the events and the position: exactly once, both.
            let result = plugin.store_journal(
                &c.converted.events,
                &c.converted.alarms,
                &c.converted.tally,
                &c.position,
                c.webhook,
            );
            (result, c)
        });
        Storing { task, position }
    }

    /// Waits for the store in flight, if any, and acknowledges it.
    async fn finish<P: Proxy>(
        &self,
        session: &Session<P>,
        role_id: &str,
        storing: Option<Storing>,
    ) -> Result<(), SessionEnd> {
        let Some(s) = storing else {
            return Ok(());
        };
        let done = s.task.await;
        self.stored(session, role_id, s.position, done).await
    }

    /// What follows a store: the live feeds, then the acknowledgement to the proxy.
    async fn stored<P: Proxy>(
        &self,
        session: &Session<P>,
        role_id: &str,
        position: EventPosition,
        done: Result<(StoreResult, Converted), tokio::task::JoinError>,
    ) -> Result<(), SessionEnd> {
        let (stored, alarms) = match done {
            Ok((result, batch)) => {
                drop(batch);
                result.map_err(SessionEnd::from)?
            }
            Err(e) => return Err(SessionEnd::Database(format!("storing events failed: {e}"))),
        };
        self.publish(stored);
        self.alarms.published(alarms);
        self.reporter.idle("recording events");
        self.acknowledge(session, role_id, &position).await
    }

    /// Takes the journal a batch belongs to. A journal other than the stored position's
    /// means the proxy's was recreated: the proxy serves the new one from its start, and
    /// the role says what that means instead of skipping entries silently.
    fn follow_journal(&self, journal_id: &str, reading: &mut Reading) {
        if journal_id.is_empty() || journal_id == reading.position.journal_id {
            return;
        }
        if !reading.position.journal_id.is_empty() {
            tracing::warn!(
                was = %reading.position.journal_id,
                now = %journal_id,
                stored_up_to = reading.position.sequence,
                "the proxy's event journal was recreated: reading the new one from its start; events the old one held beyond what was stored here are lost with it"
            );
        } else if reading.position.sequence > 0 {
            tracing::info!(
                journal = %journal_id,
                "the proxy now names its event journal; continuing after the stored position"
            );
            reading.position.journal_id = journal_id.to_owned();
            return;
        }
        reading.position = EventPosition {
            journal_id: journal_id.to_owned(),
            sequence: 0,
        };
    }

    /// Tells the proxy what is committed here.
    async fn acknowledge<P: Proxy>(
        &self,
        session: &Session<P>,
        role_id: &str,
        position: &EventPosition,
    ) -> Result<(), SessionEnd> {
        session
            .proxy
            .ack_events(position.sequence, &position.journal_id, role_id)
            .await
            .map_err(|e| SessionEnd::from_proxy("acknowledging stored events failed", e))?;
        Ok(())
    }

    fn log_unknown(&self, unknown: Vec<String>, reading: &mut Reading) {
        for t in unknown {
            if reading.logged_unknown.len() < MAX_LOGGED_UNKNOWN
                && reading.logged_unknown.insert(t.clone())
            {
                tracing::warn!(
                    event_type = %t.escape_debug(),
                    "a SiPass event type the mapping table does not know is stored as a custom event only (counted as unknown_type)"
                );
            }
        }
    }

    fn publish(&self, stored: Vec<StoredEvent>) {
        for event in stored {
            self.feed.publish(event);
        }
    }

    /// Runs plugin-database and Directory calls off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn PluginDatabase, &dyn Directory) -> Result<T, store::StoreError>
        + Send
        + 'static,
    ) -> Result<T, SessionEnd> {
        let plugin = self.plugin.clone();
        let directory = self.directory.clone();
        runtime::try_blocking(move || f(plugin.as_ref(), directory.as_ref()))
            .await
            .map_err(|p| SessionEnd::Database(p.to_string()))?
            .map_err(SessionEnd::from)
    }
}
