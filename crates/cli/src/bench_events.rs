//! The bench's figure for the role's side of events: SiPass events stored by the role per
//! second, sustained, from the proxy's journal to committed rows of the plugin database.
//!
//! A simulator emits events of every type at a high rate for a while with only the proxy
//! running, so that the journal holds a backlog; the simulator is then stopped (the journal
//! no longer moves) and a role is started. The figure is the rows committed between the
//! first and the last look at the plugin database while the role works the backlog off,
//! divided by the time between those looks: journal reading, mapping, Directory names,
//! storing with `synchronous=FULL` and acknowledging, all included.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use harness::Binary;

/// What the phase measured.
pub struct StoredFigures {
    /// SiPass events committed by the role per second.
    pub events_per_sec: f64,
    /// The journal entries the role read (events and alarm changes).
    pub backlog: u64,
    /// Of those, the events stored.
    pub stored: u64,
    /// The role's plugin database, for the raw limit of the same rows.
    pub plugin_db: std::path::PathBuf,
    /// Events already stored at the first look, where the rate starts.
    pub first_count: u64,
    /// CPU seconds the role used between the first and the last look (all its threads):
    /// the role's cost per event, which a neighbour's load moves far less than the rate.
    pub role_cpu_secs: Option<f64>,
}

/// How often the plugin database is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(50);
const DEADLINE: Duration = Duration::from_secs(1800);

pub async fn stored_events(
    bin: &Binary,
    dir: &Path,
    rate: u64,
    fill_secs: u64,
) -> Result<StoredFigures> {
    let (sim_dir, proxy_dir, role_dir) = (dir.join("sim"), dir.join("proxy"), dir.join("role"));
    for d in [&sim_dir, &proxy_dir, &role_dir] {
        std::fs::create_dir_all(d)?;
    }
    let rate_arg = rate.to_string();
    let mut sim = bin.start_sim(&sim_dir, 1000, &["--events-per-sec", &rate_arg])?;
    let port = harness::free_port()?;
    let _proxy = bin.start_proxy(&proxy_dir, &sim_dir, sim.addr(), Some(port), &[])?;
    harness::wait_proxy_loaded(&harness::proxy_address(&proxy_dir, port)?, DEADLINE).await?;
    tokio::time::sleep(Duration::from_secs(fill_secs)).await;
    sim.kill()?;
    let backlog = settled_journal(&proxy::journal_path(&proxy_dir)).await?;

    let role = bin.start_role(&role_dir, &proxy_dir, port)?;
    let plugin_path = role::plugin_path(&role_dir);
    let started = Instant::now();
    // Rows are counted only at the first and the last look: `COUNT(*)` walks the whole table,
    // and doing it every 50 ms would take the role's CPU on a two-core machine. In between,
    // the journal position (one row) says how far the role has got.
    let mut first: Option<(Instant, u64, Option<f64>)> = None;
    let mut plugin = None;
    loop {
        if started.elapsed() > DEADLINE {
            bail!("the role did not store the journal's {backlog} entries within {DEADLINE:?}");
        }
        tokio::time::sleep(LOOK_EVERY).await;
        if plugin.is_none() {
            plugin = store::open_plugin_read_only(&plugin_path).ok();
        }
        let Some(plugin) = &plugin else { continue };
        let Ok(position) = plugin.event_position() else {
            continue;
        };
        if position.sequence == 0 {
            continue;
        }
        let (t0, c0, cpu0) = match first {
            Some(first) => first,
            None => {
                let Ok(count) = plugin.event_count() else {
                    continue;
                };
                *first.insert((Instant::now(), count, crate::bench::cpu_secs(role.id())))
            }
        };
        if position.sequence >= backlog {
            let secs = t0.elapsed().as_secs_f64();
            let cpu = crate::bench::cpu_secs(role.id());
            let count = plugin.event_count()?;
            return Ok(StoredFigures {
                events_per_sec: (count - c0) as f64 / secs.max(f64::EPSILON),
                backlog,
                stored: count,
                plugin_db: plugin_path.clone(),
                first_count: c0,
                role_cpu_secs: cpu0.zip(cpu).map(|(a, b)| b - a),
            });
        }
    }
}

/// The journal's last sequence once it has stopped moving (the simulator is gone and the
/// proxy has journaled what it received).
async fn settled_journal(path: &Path) -> Result<u64> {
    let journal = proxy::CommittedJournal::open(path)?;
    let mut last = journal.last()?;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = journal.last()?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
}
