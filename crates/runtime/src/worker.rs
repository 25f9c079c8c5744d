//! Workers: long-running loops that say what they are doing (after garage's
//! `util/background/worker.rs`).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::Shutdown;

/// Where a worker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Spawned, not yet at work.
    Starting,
    /// Doing work now.
    Busy,
    /// Waiting for work (a change, a timer).
    Idle,
    /// The last attempt failed; waiting before the next one.
    Retrying,
    /// Ended after the shutdown signal.
    Stopped,
    /// Ended on an error it cannot recover from (`last_error` says which).
    Failed,
}

/// Work done out of work known, when a worker can tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// What the status API reports about one worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub name: String,
    pub state: WorkerState,
    /// What it is doing, in a few words ("listing cardholder", "following the push channel").
    pub activity: Option<String>,
    pub progress: Option<Progress>,
    /// The latest error, kept after recovery so that an operator can see what happened.
    pub last_error: Option<String>,
    /// When `last_error` happened, milliseconds since the Unix epoch.
    pub last_error_at: Option<i64>,
    /// Errors since the worker started.
    pub errors: u64,
}

impl WorkerStatus {
    fn new(name: &str) -> Self {
        WorkerStatus {
            name: name.to_owned(),
            state: WorkerState::Starting,
            activity: None,
            progress: None,
            last_error: None,
            last_error_at: None,
            errors: 0,
        }
    }
}

/// The handle a worker writes its status through. Cheap to clone.
#[derive(Clone)]
pub struct StatusReporter {
    status: Arc<Mutex<WorkerStatus>>,
}

impl StatusReporter {
    /// A reporter not registered anywhere: for unit tests of a worker.
    pub fn detached(name: &str) -> Self {
        StatusReporter {
            status: Arc::new(Mutex::new(WorkerStatus::new(name))),
        }
    }

    fn update(&self, f: impl FnOnce(&mut WorkerStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Busy with `activity`.
    pub fn busy(&self, activity: impl Into<String>) {
        let activity = activity.into();
        self.update(|s| {
            s.state = WorkerState::Busy;
            s.activity = Some(activity);
        });
    }

    /// Waiting for work.
    pub fn idle(&self, activity: impl Into<String>) {
        let activity = activity.into();
        self.update(|s| {
            s.state = WorkerState::Idle;
            s.activity = Some(activity);
            s.progress = None;
        });
    }

    /// An attempt failed with `error`; the worker waits and tries again.
    pub fn retrying(&self, error: impl Into<String>) {
        let error = error.into();
        self.update(|s| {
            s.state = WorkerState::Retrying;
            s.last_error = Some(error);
            s.last_error_at = Some(crate::now_millis());
            s.errors += 1;
        });
    }

    /// Records an error the worker goes on after, without changing its state.
    pub fn error(&self, error: impl Into<String>) {
        let error = error.into();
        self.update(|s| {
            s.last_error = Some(error);
            s.last_error_at = Some(crate::now_millis());
            s.errors += 1;
        });
    }

    /// Progress of the current work; `None` when it has none.
    pub fn progress(&self, progress: Option<Progress>) {
        self.update(|s| s.progress = progress);
    }

    /// Marks a part that a worker runs inside itself (not spawned on its own) as ended with
    /// that worker.
    pub fn stopped(&self) {
        self.update(|s| s.state = WorkerState::Stopped);
    }

    /// The status as it is now.
    pub fn snapshot(&self) -> WorkerStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn finish(&self, result: Result<(), String>) {
        self.update(|s| match result {
            Ok(()) => s.state = WorkerState::Stopped,
            Err(e) => {
                s.state = WorkerState::Failed;
                s.last_error = Some(e);
                s.last_error_at = Some(crate::now_millis());
                s.errors += 1;
            }
        });
    }
}

/// What a worker receives when it starts.
#[derive(Clone)]
pub struct WorkerContext {
    pub shutdown: Shutdown,
    pub status: StatusReporter,
}

/// A long-running async loop. `run` returns `Ok` once it stopped on the shutdown signal and
/// `Err` with a message on an error it cannot recover from; transient errors are reported
/// with [`StatusReporter::retrying`] and retried inside `run`.
pub trait Worker: Send + 'static {
    /// The name the status API shows, unique within a process.
    fn name(&self) -> String;
    fn run(self, ctx: WorkerContext) -> impl Future<Output = Result<(), String>> + Send;
}

/// A long-running loop on its own thread (work that blocks, such as database housekeeping).
/// It sleeps with [`Shutdown::sleep`] so that it stops at once.
pub trait BlockingWorker: Send + 'static {
    fn name(&self) -> String;
    fn run(self, ctx: WorkerContext) -> Result<(), String>;
}

/// The workers of a process, for the status API. Cheap to clone.
#[derive(Clone, Default)]
pub struct Workers {
    registry: Arc<Mutex<BTreeMap<String, StatusReporter>>>,
}

impl Workers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a status under `name` (replacing an ended worker of the same name).
    pub fn reporter(&self, name: &str) -> StatusReporter {
        let reporter = StatusReporter::detached(name);
        self.registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), reporter.clone());
        reporter
    }

    /// Spawns an async worker on the current Tokio runtime.
    pub fn spawn<W: Worker>(&self, worker: W, shutdown: &Shutdown) -> tokio::task::JoinHandle<()> {
        let status = self.reporter(&worker.name());
        let ctx = WorkerContext {
            shutdown: shutdown.clone(),
            status: status.clone(),
        };
        tokio::spawn(async move {
            // Run on a task of its own, so that a panic ends the worker with a status that
            // says so instead of leaving it "busy" forever.
            let result = match tokio::spawn(worker.run(ctx)).await {
                Ok(result) => result,
                Err(e) if e.is_panic() => Err(format!(
                    "stopped by an internal error: {}",
                    crate::panic_message(&*e.into_panic())
                )),
                Err(e) => Err(format!("cancelled: {e}")),
            };
            status.finish(result);
        })
    }

    /// Spawns a blocking worker on a thread of its own, named after it.
    pub fn spawn_thread<W: BlockingWorker>(
        &self,
        worker: W,
        shutdown: &Shutdown,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let name = worker.name();
        let status = self.reporter(&name);
        let ctx = WorkerContext {
            shutdown: shutdown.clone(),
            status: status.clone(),
        };
        std::thread::Builder::new().name(name).spawn(move || {
            let run = std::panic::AssertUnwindSafe(move || worker.run(ctx));
            let result = std::panic::catch_unwind(run).unwrap_or_else(|payload| {
                Err(format!(
                    "stopped by an internal error: {}",
                    crate::panic_message(&*payload)
                ))
            });
            status.finish(result);
        })
    }

    /// Every worker's status, by name.
    pub fn statuses(&self) -> Vec<WorkerStatus> {
        self.registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(StatusReporter::snapshot)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Counter;

    impl Worker for Counter {
        fn name(&self) -> String {
            "counter".into()
        }
        async fn run(self, ctx: WorkerContext) -> Result<(), String> {
            let mut done = 0;
            loop {
                ctx.status.busy("counting");
                done += 1;
                ctx.status.progress(Some(Progress { done, total: 0 }));
                if done == 2 {
                    ctx.status.retrying("two is unlucky");
                }
                if ctx.shutdown.sleep_async(Duration::from_millis(5)).await {
                    return Ok(());
                }
            }
        }
    }

    struct Fails;

    impl BlockingWorker for Fails {
        fn name(&self) -> String {
            "fails".into()
        }
        fn run(self, _ctx: WorkerContext) -> Result<(), String> {
            Err("the disk is gone".into())
        }
    }

    struct Panics;

    impl Worker for Panics {
        fn name(&self) -> String {
            "panics".into()
        }
        async fn run(self, _ctx: WorkerContext) -> Result<(), String> {
            let stored: Vec<u32> = Vec::new();
            let first = stored.first().copied();
            Err(format!(
                "never reached: {}",
                first.expect("a value that was never stored")
            ))
        }
    }

    struct PanicsOnAThread;

    impl BlockingWorker for PanicsOnAThread {
        fn name(&self) -> String {
            "panics-on-a-thread".into()
        }
        fn run(self, _ctx: WorkerContext) -> Result<(), String> {
            panic!("the housekeeping went wrong");
        }
    }

    #[tokio::test]
    async fn a_worker_that_panics_is_reported_failed_with_the_panic() {
        let workers = Workers::new();
        let shutdown = Shutdown::new();
        workers.spawn(Panics, &shutdown).await.unwrap();
        workers
            .spawn_thread(PanicsOnAThread, &shutdown)
            .unwrap()
            .join()
            .unwrap();
        let statuses = workers.statuses();
        for status in &statuses {
            assert_eq!(status.state, WorkerState::Failed, "{status:?}");
        }
        assert!(
            statuses[0]
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("a value that was never stored")),
            "{statuses:?}"
        );
        assert!(
            statuses[1]
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("the housekeeping went wrong")),
            "{statuses:?}"
        );
        let panicked = crate::try_blocking(|| -> u32 { panic!("a bad row") }).await;
        assert_eq!(panicked, Err(crate::Panicked("a bad row".into())));
    }

    #[tokio::test]
    async fn statuses_follow_the_workers_to_their_end() {
        let workers = Workers::new();
        let shutdown = Shutdown::new();
        let counter = workers.spawn(Counter, &shutdown);
        workers
            .spawn_thread(Fails, &shutdown)
            .unwrap()
            .join()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while workers.statuses()[0].progress.map_or(0, |p| p.done) < 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "the counter never counted"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        shutdown.trigger();
        counter.await.unwrap();
        let statuses = workers.statuses();
        let names: Vec<&str> = statuses.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["counter", "fails"]);
        assert_eq!(statuses[0].state, WorkerState::Stopped);
        assert_eq!(statuses[0].last_error.as_deref(), Some("two is unlucky"));
        assert_eq!(statuses[0].errors, 1);
        assert_eq!(statuses[1].state, WorkerState::Failed);
        assert_eq!(statuses[1].last_error.as_deref(), Some("the disk is gone"));
    }
}
