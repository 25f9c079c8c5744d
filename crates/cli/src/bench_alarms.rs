//! The bench's alarm figure: the time from an alarm raised in SiPass (the simulator) to the
//! alarm triggered in the role, p50 and p99.
//!
//! The simulator, the proxy and a role run as processes. The bench follows the role's alarm
//! live feed (`GET /api/v1/alarms/live`, which sends a change only once it is committed in
//! the plugin database) and raises alarms in the simulator one after the other, a few
//! milliseconds apart. Each sample runs from just before the raise request to the moment
//! the feed delivered the alarm's "triggered" change: SiPass's push channel, the proxy's
//! journal (committed to disk), the bridge protocol, and the role's commit (to disk) with
//! the journal position, all included. The simulator stamps alarms to the second only, so
//! its own time cannot be the start.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use harness::{Binary, SimClient};
use serde_json::{Value, json};

/// What the phase measured.
pub struct AlarmFigures {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub samples: usize,
}

/// Between two raises: the figure is a latency, not a rate.
const PACE: Duration = Duration::from_millis(10);
const DEADLINE: Duration = Duration::from_secs(600);
/// The alarm class raised ("Door Forced" in every generated site).
const CLASS: &str = "3";

/// When the feed delivered each alarm's trigger, by SiPass's alarm id.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

pub async fn alarm_latency(bin: &Binary, dir: &Path, samples: usize) -> Result<AlarmFigures> {
    let (sim_dir, proxy_dir, role_dir) = (dir.join("sim"), dir.join("proxy"), dir.join("role"));
    for d in [&sim_dir, &proxy_dir, &role_dir] {
        std::fs::create_dir_all(d)?;
    }
    let sim = bin.start_sim(&sim_dir, 100, &[])?;
    let port = harness::free_port()?;
    let _proxy = bin.start_proxy(&proxy_dir, &sim_dir, sim.addr(), Some(port), &[])?;
    harness::wait_proxy_loaded(&harness::proxy_address(&proxy_dir, port)?, DEADLINE).await?;
    let role = bin.start_role(&role_dir, &proxy_dir, port)?;
    let api = SimClient::login(sim.addr(), &sim_dir, "bench").await?;

    let arrivals: Arrivals = Arc::default();
    let feed = follow_feed(role.addr(), &role_dir, arrivals.clone()).await?;
    let _feed = AbortOnDrop(feed);

    // A first alarm, unmeasured: the role is connected and its feed delivers.
    let warm_up = raise(&api).await?;
    wait_for(&arrivals, &warm_up, DEADLINE).await?;

    let mut sent: Vec<(String, Instant)> = Vec::with_capacity(samples);
    for _ in 0..samples {
        let at = Instant::now();
        sent.push((raise(&api).await?, at));
        tokio::time::sleep(PACE).await;
    }
    if let Some((last, _)) = sent.last() {
        wait_for(&arrivals, last, Duration::from_secs(60)).await?;
    }
    // A moment for stragglers delivered out of order.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let arrived = arrivals.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut latencies: Vec<f64> = sent
        .iter()
        .filter_map(|(id, at)| {
            let seen = arrived.get(id)?;
            Some(seen.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    if latencies.len() < sent.len() {
        bail!(
            "{} of {} alarms raised never reached the role's live feed",
            sent.len() - latencies.len(),
            sent.len()
        );
    }
    latencies.sort_by(f64::total_cmp);
    Ok(AlarmFigures {
        p50_ms: round1(crate::bench::percentile(&latencies, 0.5)),
        p99_ms: round1(crate::bench::percentile(&latencies, 0.99)),
        samples: latencies.len(),
    })
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

async fn raise(api: &SimClient) -> Result<String> {
    let raised = api
        .ok(
            "POST",
            "/api/sim/V1/Alarms",
            Some(&json!({ "AlarmClassToken": CLASS, "Message": "bench" })),
        )
        .await?;
    raised["AlarmId"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the simulator's raise answer has no AlarmId: {raised}"))
}

async fn wait_for(arrivals: &Arrivals, id: &str, deadline: Duration) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < deadline {
        if arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("alarm {id} did not reach the role's live feed within {deadline:?}")
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Opens the role's alarm feed (retrying while the role starts) and records, in a task,
/// when each alarm's trigger arrives.
async fn follow_feed(
    role_url: &str,
    role_dir: &Path,
    arrivals: Arrivals,
) -> Result<tokio::task::JoinHandle<()>> {
    let token = std::fs::read_to_string(web::token_path(role_dir))?
        .trim()
        .to_owned();
    let url = format!("{}/api/v1/alarms/live", role_url.trim_end_matches('/'));
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut response = loop {
        match http.get(&url).bearer_auth(&token).send().await {
            Ok(r) if r.status().is_success() => break r,
            Ok(r) if started.elapsed() > DEADLINE => {
                bail!("the role's alarm feed answered {}", r.status())
            }
            Err(e) if started.elapsed() > DEADLINE => bail!("the role's alarm feed: {e}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    Ok(tokio::spawn(async move {
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            let now = Instant::now();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let message: String = buffer.drain(..end + 2).collect();
                if let Some(id) = triggered(&message) {
                    arrivals
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(id)
                        .or_insert(now);
                }
            }
        }
    }))
}

/// SiPass's alarm id of a server-sent `alarm` event whose change is a trigger.
fn triggered(message: &str) -> Option<String> {
    let data: String = message
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim_start)
        .collect();
    let value: Value = serde_json::from_str(&data).ok()?;
    (value["change"]["action"] == "triggered")
        .then(|| value["alarm"]["sipass_id"].as_str().map(str::to_owned))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_on_the_feed_is_told_apart_from_other_changes() {
        let trigger = "event: alarm\nid: 3\ndata: {\"alarm\":{\"sipass_id\":\"12\"},\"change\":{\"action\":\"triggered\"}}\n\n";
        assert_eq!(triggered(trigger).as_deref(), Some("12"));
        let ack = trigger.replace("triggered", "acknowledged");
        assert_eq!(triggered(&ack), None);
        assert_eq!(triggered(": keep-alive\n\n"), None);
    }
}
