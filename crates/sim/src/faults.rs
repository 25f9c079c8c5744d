//! Misbehaving on demand: the live state of the fault switches of `PUT /api/sim/V1/Faults`.
//! The middleware that applies them to the HR and management APIs is `http::apply_faults`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::control::{Faults, FaultsUpdate};
use crate::hub::Hub;
use crate::serve::Connections;
use crate::session::Sessions;

/// How long the connection that asked for `DropConnections` keeps going, so that its
/// answer reaches the client before it is closed too.
const OWN_CONNECTION_GRACE: Duration = Duration::from_millis(250);

/// The live fault settings.
pub struct LiveFaults {
    inner: Mutex<Inner>,
    pub connections: Arc<Connections>,
}

#[derive(Default)]
struct Inner {
    stall_until: Option<Instant>,
    latency: Duration,
    refuse_logins_licence: bool,
    error_rate: f64,
    /// Accumulates `error_rate` per answer; an answer fails each time it reaches 1, so the
    /// failing fraction is exact and a test can rely on it.
    error_budget: f64,
    drop_push_sequence: u64,
}

/// A fault setting that makes no sense.
#[derive(Debug, thiserror::Error)]
#[error("ErrorRate must be between 0.0 and 1.0, not {0}")]
pub struct BadFaults(f64);

impl LiveFaults {
    pub fn new(connections: Arc<Connections>) -> Self {
        LiveFaults {
            inner: Mutex::new(Inner::default()),
            connections,
        }
    }

    /// The settings as `GET Faults` reports them.
    pub fn settings(&self) -> Faults {
        let inner = self.lock();
        Faults {
            drop_connections: false,
            stall_seconds: inner
                .stall_until
                .map(|t| {
                    t.saturating_duration_since(Instant::now())
                        .as_secs_f64()
                        .ceil() as u64
                })
                .unwrap_or(0),
            latency_ms: inner.latency.as_millis() as u64,
            expire_sessions: false,
            refuse_logins_licence: inner.refuse_logins_licence,
            error_rate: inner.error_rate,
            drop_push_sequence: inner.drop_push_sequence,
        }
    }

    /// Applies the fields `update` names. One-shot switches (`DropConnections`,
    /// `ExpireSessions`) act at once; `own` is the connection that asked, closed last.
    pub fn apply(
        &self,
        update: &FaultsUpdate,
        hub: &Hub,
        sessions: &Sessions,
        own: Option<u64>,
    ) -> Result<(), BadFaults> {
        if let Some(rate) = update.error_rate
            && !(0.0..=1.0).contains(&rate)
        {
            return Err(BadFaults(rate));
        }
        {
            let mut inner = self.lock();
            if let Some(secs) = update.stall_seconds {
                inner.stall_until = (secs > 0).then(|| Instant::now() + Duration::from_secs(secs));
            }
            if let Some(ms) = update.latency_ms {
                inner.latency = Duration::from_millis(ms);
            }
            if let Some(refuse) = update.refuse_logins_licence {
                inner.refuse_logins_licence = refuse;
            }
            if let Some(rate) = update.error_rate {
                inner.error_rate = rate;
                inner.error_budget = 0.0;
            }
            if let Some(seq) = update.drop_push_sequence {
                inner.drop_push_sequence = seq;
                if seq > 0 {
                    hub.drop_sequence(seq);
                }
            }
        }
        if update.expire_sessions == Some(true) {
            sessions.expire_all();
        }
        if update.drop_connections == Some(true) {
            self.connections.drop_all_except(own);
            if let Some(own) = own {
                let connections = self.connections.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(OWN_CONNECTION_GRACE).await;
                    connections.drop_one(own);
                });
            }
        }
        Ok(())
    }

    /// True when logins are to be refused with error 912.
    pub fn refuse_logins(&self) -> bool {
        self.lock().refuse_logins_licence
    }

    /// What to do to the next answer: wait this long, and fail or not.
    pub fn next_answer(&self) -> (Option<Instant>, Duration, bool) {
        let mut inner = self.lock();
        let stall = inner.stall_until.filter(|t| *t > Instant::now());
        inner.error_budget += inner.error_rate;
        let fail = inner.error_budget >= 1.0 - 1e-9;
        if fail {
            inner.error_budget -= 1.0;
        }
        (stall, inner.latency, fail)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
