//! Two roles on one PostgreSQL database: the one holding the database's lease is active, the
//! other a standby, deactivated, its workers stopped, so that only one ever writes. The
//! standby looks every second and activates as soon as the lease is free (the active role
//! stopped, was killed, or lost its database): it resumes synchronization and the event
//! stream from the positions the shared database holds.
//!
//! An active role that loses the lease (its connection to PostgreSQL failed) deactivates at
//! once, before another may take over. A deactivation by an administrator, a restore or an
//! update is left alone: the lease only ever undoes its own.

use std::sync::Arc;
use std::time::Duration;

use store::postgres::lease::{Lease, LeaseState};

use crate::activation::Activation;
use crate::status::StatusBoard;

/// How often the lease is looked at: a standby takes over within about this after the
/// active role's connection ends.
pub const EVERY: Duration = Duration::from_secs(1);

/// Every deactivation the lease makes starts with this, and it undoes only those.
pub const STANDBY: &str = "standby: ";

/// The reason a role starts with, until it holds the lease or sees who does.
pub fn waiting() -> String {
    format!("{STANDBY}waiting for the database's lease")
}

/// Keeps the role active while it holds the lease and a standby while another does, until
/// `shutdown`.
pub(crate) async fn keep(
    lease: Arc<Lease>,
    activation: Arc<Activation>,
    status: Arc<StatusBoard>,
    shutdown: runtime::Shutdown,
) {
    let mut last: Option<Result<LeaseState, String>> = None;
    while !shutdown.is_triggered() {
        let looked = lease.clone();
        let now = match tokio::task::spawn_blocking(move || looked.hold()).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(format!("the lease check stopped: {e}")),
        };
        if last.as_ref() != Some(&now) {
            follow(&now, &activation, &status).await;
            last = Some(now);
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.wait() => {}
        }
    }
}

/// Acts on a change of what the lease says.
async fn follow(now: &Result<LeaseState, String>, activation: &Activation, status: &StatusBoard) {
    match now {
        Ok(LeaseState::Held) => {
            status.set_lease(Some(
                "active: this role holds the database's lease".to_owned(),
            ));
            let ours = activation
                .deactivated()
                .await
                .is_some_and(|reason| reason.starts_with(STANDBY));
            if ours {
                tracing::info!("this role holds the database's lease: activating");
                activation.activate(status).await;
            }
        }
        Ok(LeaseState::Elsewhere { holder }) => {
            let who = if holder.is_empty() {
                "another role".to_owned()
            } else {
                format!("the role {holder}")
            };
            let reason = format!("{STANDBY}{who} holds the database's lease");
            status.set_lease(Some(reason.clone()));
            stand_by(activation, status, &reason).await;
        }
        Err(e) => {
            let reason = format!("{STANDBY}the database's lease cannot be checked ({e})");
            status.set_lease(Some(reason.clone()));
            tracing::warn!("{reason}");
            stand_by(activation, status, &reason).await;
        }
    }
}

/// Deactivates the role for `reason` unless it is deactivated already (by the lease, whose
/// reason is brought up to date, or by an administrator, which stays as it is).
async fn stand_by(activation: &Activation, status: &StatusBoard, reason: &str) {
    match activation.deactivated().await {
        None => {
            activation.deactivate(status, reason).await;
        }
        Some(current) if current.starts_with(STANDBY) => {
            activation.set_reason(status, reason).await;
        }
        Some(_) => {}
    }
}
