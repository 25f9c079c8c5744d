//! Deactivating and activating the role (SPEC §3 Health): deactivated, it is disconnected
//! from the proxy, its workers are stopped and its databases idle, so that a restore or a
//! database update can replace them underneath; activated again, it reconnects and resumes
//! synchronization and events from the positions its databases hold.
//!
//! The workers run under a shutdown of their own, triggered by a deactivation or by the
//! process's shutdown, whichever comes first.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use runtime::Shutdown;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::status::{HealthState, StatusBoard};

/// The file in the data folder that keeps a deactivation across restarts: a role deactivated
/// for an upgrade must not resume on its own when its service is started again.
pub const DEACTIVATED_FILE: &str = "role-deactivated";

/// The longest reason kept in [`DEACTIVATED_FILE`]; the file is ours but lives in a folder
/// others can write to, so what is read back is bounded and made printable.
const REASON_LIMIT: usize = 200;

/// Why the role in `data_dir` was left deactivated, if it was.
pub fn kept_deactivation(data_dir: &Path) -> io::Result<Option<String>> {
    match std::fs::read(data_dir.join(DEACTIVATED_FILE)) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4 * REASON_LIMIT)]);
            let reason = protocol::printable(text.trim(), REASON_LIMIT);
            Ok(Some(if reason.is_empty() {
                "before the role stopped".to_owned()
            } else {
                reason
            }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Keeps (`Some`) or forgets (`None`) the deactivation of the role in `data_dir`; the file
/// is replaced whole, so a crash leaves the old state or the new one.
pub fn keep_deactivation(data_dir: &Path, reason: Option<&str>) -> io::Result<PathBuf> {
    let path = data_dir.join(DEACTIVATED_FILE);
    match reason {
        Some(reason) => {
            let partial = data_dir.join(format!("{DEACTIVATED_FILE}.partial"));
            std::fs::write(&partial, reason.as_bytes())?;
            std::fs::rename(&partial, &path)?;
        }
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        },
    }
    Ok(path)
}

/// Starts the role's workers under a given shutdown.
pub(crate) type Starter = Arc<dyn Fn(&Shutdown) -> JoinHandle<()> + Send + Sync>;

/// Whether the role's workers run, and how to start them again.
#[derive(Default)]
pub struct Activation {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    starter: Option<Starter>,
    /// The workers running now, with their own shutdown.
    running: Option<(Shutdown, JoinHandle<()>)>,
    /// Why the role is deactivated, while it is.
    deactivated: Option<String>,
}

/// What `deactivate` or `activate` changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Done,
    /// It already was.
    Already,
}

impl Activation {
    /// Starts the workers with `starter` (unless the role was left `deactivated`, then it
    /// waits for an activation) and returns a handle that ends once the process's
    /// `shutdown` has stopped whichever workers run then.
    pub(crate) fn start(
        self: &Arc<Self>,
        starter: Starter,
        shutdown: Shutdown,
        deactivated: Option<(String, &StatusBoard)>,
    ) -> JoinHandle<()> {
        {
            let mut state = self.state.try_lock().expect("the role starts once");
            match deactivated {
                Some((reason, status)) => {
                    status.set_health(HealthState::Deactivated, format!("deactivated: {reason}"));
                    tracing::info!("role left deactivated before it stopped: {reason}");
                    state.deactivated = Some(reason);
                }
                None => {
                    let own = Shutdown::new();
                    let handle = starter(&own);
                    state.running = Some((own, handle));
                }
            }
            state.starter = Some(starter);
        }
        let this = self.clone();
        tokio::spawn(async move {
            shutdown.wait().await;
            let mut state = this.state.lock().await;
            // No activation after the process's shutdown.
            state.starter = None;
            if let Some((own, handle)) = state.running.take() {
                own.trigger();
                let _ = handle.await;
            }
        })
    }

    /// Stops the workers (the session with the proxy ends, nothing more is written) and
    /// says so in the health, with `reason`. Returns once they have stopped.
    pub async fn deactivate(&self, status: &StatusBoard, reason: &str) -> Change {
        let mut state = self.state.lock().await;
        if state.deactivated.is_some() {
            return Change::Already;
        }
        if let Some((own, handle)) = state.running.take() {
            own.trigger();
            let _ = handle.await;
        }
        state.deactivated = Some(reason.to_owned());
        status.set_connected(false);
        status.set_health(HealthState::Deactivated, format!("deactivated: {reason}"));
        tracing::info!("role deactivated: {reason}");
        Change::Done
    }

    /// Starts the workers again: they reconnect and resume from what the databases hold.
    pub async fn activate(&self, status: &StatusBoard) -> Change {
        let mut state = self.state.lock().await;
        if state.deactivated.is_none() {
            return Change::Already;
        }
        let Some(starter) = state.starter.clone() else {
            // The process is shutting down.
            return Change::Already;
        };
        state.deactivated = None;
        status.set_health(
            HealthState::Starting,
            "activated: connecting to the proxy".to_owned(),
        );
        let own = Shutdown::new();
        let handle = starter(&own);
        state.running = Some((own, handle));
        tracing::info!("role activated");
        Change::Done
    }

    /// Replaces the reason of a deactivation (a standby learning who holds the lease now);
    /// an active role is left as it is.
    pub async fn set_reason(&self, status: &StatusBoard, reason: &str) {
        let mut state = self.state.lock().await;
        if state.deactivated.is_some() {
            state.deactivated = Some(reason.to_owned());
            status.set_health(HealthState::Deactivated, format!("deactivated: {reason}"));
        }
    }

    /// Why the role is deactivated, if it is.
    pub async fn deactivated(&self) -> Option<String> {
        self.state.lock().await.deactivated.clone()
    }
}
