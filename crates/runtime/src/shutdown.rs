//! One way to stop: the process's Ctrl-C, a test's end, a role being deactivated.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// A stop signal shared by every worker of a process (after mini-redis's `shutdown.rs`).
///
/// Cloning gives another handle on the same signal. Async workers `wait()` on it inside
/// `select!`; worker threads sleep with [`Shutdown::sleep`], which wakes at once when the
/// signal is triggered.
#[derive(Clone)]
pub struct Shutdown {
    state: Arc<State>,
}

struct State {
    triggered: Mutex<bool>,
    wake_threads: Condvar,
    wake_tasks: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Shutdown {
            state: Arc::new(State {
                triggered: Mutex::new(false),
                wake_threads: Condvar::new(),
                wake_tasks: watch::channel(false).0,
            }),
        }
    }

    /// Tells every holder to stop. Idempotent.
    pub fn trigger(&self) {
        let mut triggered = lock(&self.state.triggered);
        *triggered = true;
        self.state.wake_threads.notify_all();
        self.state.wake_tasks.send_replace(true);
    }

    /// Whether the signal was given.
    pub fn is_triggered(&self) -> bool {
        *lock(&self.state.triggered)
    }

    /// Resolves once the signal is given (at once when it already was).
    pub async fn wait(&self) {
        let mut rx = self.state.wake_tasks.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }

    /// Sleeps for `duration` or until the signal, whichever comes first; true when stopped.
    /// For worker threads.
    pub fn sleep(&self, duration: Duration) -> bool {
        let triggered = lock(&self.state.triggered);
        let (triggered, _) = self
            .state
            .wake_threads
            .wait_timeout_while(triggered, duration, |stopped| !*stopped)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *triggered
    }

    /// Sleeps for `duration` or until the signal, whichever comes first; true when stopped.
    /// For async workers.
    pub async fn sleep_async(&self, duration: Duration) -> bool {
        tokio::select! {
            _ = self.wait() => true,
            _ = tokio::time::sleep(duration) => self.is_triggered(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn waiters_wake_when_triggered_and_later_waiters_do_not_block() {
        let shutdown = Shutdown::new();
        let waiter = tokio::spawn({
            let s = shutdown.clone();
            async move { s.wait().await }
        });
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("a waiter woke")
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), shutdown.wait())
            .await
            .expect("waiting after the trigger returns at once");
        assert!(shutdown.sleep_async(Duration::from_secs(60)).await);
    }

    #[test]
    fn a_sleeping_thread_wakes_at_the_trigger() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.sleep(Duration::from_millis(1)));
        let started = Instant::now();
        let sleeper = std::thread::spawn({
            let s = shutdown.clone();
            move || s.sleep(Duration::from_secs(60))
        });
        std::thread::sleep(Duration::from_millis(20));
        shutdown.trigger();
        assert!(sleeper.join().unwrap());
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}
