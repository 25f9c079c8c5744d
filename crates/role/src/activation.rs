//! Deactivating and activating the role (SPEC §3 Health): deactivated, it is disconnected
//! from the proxy, its workers are stopped and its databases idle, so that a restore or a
//! database update can replace them underneath; activated again, it reconnects and resumes
//! synchronization and events from the positions its databases hold.
//!
//! The workers run under a shutdown of their own, triggered by a deactivation or by the
//! process's shutdown, whichever comes first.

use std::sync::Arc;

use runtime::Shutdown;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::status::{HealthState, StatusBoard};

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
    /// Starts the workers with `starter` and returns a handle that ends once the process's
    /// `shutdown` has stopped whichever workers run then.
    pub(crate) fn start(self: &Arc<Self>, starter: Starter, shutdown: Shutdown) -> JoinHandle<()> {
        let own = Shutdown::new();
        let handle = starter(&own);
        {
            let mut state = self.state.try_lock().expect("the role starts once");
            state.starter = Some(starter);
            state.running = Some((own, handle));
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

    /// Why the role is deactivated, if it is.
    pub async fn deactivated(&self) -> Option<String> {
        self.state.lock().await.deactivated.clone()
    }
}
