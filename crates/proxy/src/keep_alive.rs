//! Keeps the HR API session alive between loads: SiPass's expiry slides with every call,
//! so a call at a third of the timeout keeps the proxy logged in while nothing else is read.

use std::sync::Arc;
use std::time::Duration;

use runtime::{Worker, WorkerContext};
use sipass_client::HrClient;

/// The pause between keep-alives when SiPass does not say how long a session lives.
const UNKNOWN_TIMEOUT_EVERY: Duration = Duration::from_secs(120);

/// The shortest pause between keep-alives, whatever SiPass says.
const SHORTEST_PAUSE: Duration = Duration::from_secs(5);

/// Calls SiPass's keep-alive at a third of its session timeout until shutdown.
pub(crate) struct SessionKeepAlive {
    pub client: Arc<HrClient>,
}

impl Worker for SessionKeepAlive {
    fn name(&self) -> String {
        "sipass-session".into()
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), String> {
        let every = self
            .client
            .session_timeout()
            .await
            .map_or(UNKNOWN_TIMEOUT_EVERY, |t| (t / 3).max(SHORTEST_PAUSE));
        ctx.status.idle("keeping the SiPass session alive");
        while !ctx.shutdown.sleep_async(every).await {
            match self.client.keep_alive().await {
                Ok(()) => ctx.status.idle("keeping the SiPass session alive"),
                Err(e) => {
                    tracing::debug!("SiPass keep-alive failed: {e}; the next call logs in again");
                    ctx.status
                        .retrying(format!("SiPass keep-alive failed: {e}"));
                }
            }
        }
        Ok(())
    }
}
