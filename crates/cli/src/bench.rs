//! `sipass-bridge bench`: measures the figures of SPEC §5 on this machine, with the
//! simulator, the proxy and the role as separate processes (so that the role's memory is its
//! own), and prints a JSON report and a short table. Never a pass/fail test.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use harness::{Binary, Process, RoleApi, SimClient};
use role::report::SyncStatus;
use serde_json::{Value, json};

mod plot;
mod raw_limit;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Cardholders in the generated site.
    #[arg(long, default_value_t = 1_000_000)]
    cardholders: usize,
    /// Real-time phase: changes per second.
    #[arg(long, default_value_t = 1000)]
    changes_per_sec: u64,
    /// Real-time phase: seconds.
    #[arg(long, default_value_t = 30)]
    realtime_secs: u64,
    /// Events phase: events per second the simulator emits.
    #[arg(long, default_value_t = 60_000)]
    events_per_sec: u64,
    /// Events phase: seconds.
    #[arg(long, default_value_t = 20)]
    events_secs: u64,
    /// Folder for the runs' data (a temporary one when not given; removed at the end).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Write the JSON report here as well.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run only the events phases (4 and 4b), e.g. while working on the event path.
    #[arg(long)]
    events_only: bool,
    /// Events phase (4b): seconds of events journaled before a role starts storing them.
    #[arg(long, default_value_t = 10)]
    stored_fill_secs: u64,
    /// Alarm phase (5b): alarms raised in the simulator, each timed to its trigger in the role.
    #[arg(long, default_value_t = 500)]
    alarm_samples: usize,
    /// Run only the alarm phase (5b), e.g. while working on the alarm path.
    #[arg(long)]
    alarms_only: bool,
    /// Also run the full synchronization with a role on this PostgreSQL database (an empty
    /// one: `postgres://USER@HOST:PORT/DATABASE`) and report its rate beside SQLite's.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Write SVG charts of the run into this folder: entities per second over the
    /// synchronization, and the latency distributions of the real-time and event phases.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// How long a phase may wait for a part to get where it measures from.
const PHASE_DEADLINE: Duration = Duration::from_secs(3600);

/// Peak resident memory of a process in MiB (Linux), from VmHWM.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds a process has used so far, all its threads (Linux, /proc/PID/stat; none
/// elsewhere, and the bench reports the figure as missing).
#[cfg(not(unix))]
pub(crate) fn cpu_secs(_pid: u32) -> Option<f64> {
    None
}

/// CPU seconds a process has used so far, all its threads (Linux, /proc/PID/stat).
#[cfg(unix)]
pub(crate) fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a constant of the system.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_sec > 0).then(|| ticks / per_sec as f64)
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A simulated site with its proxy on a fixed port (so that it can come back on it), the
/// parts' data side by side in one folder.
struct Site {
    bin: Binary,
    dir: PathBuf,
    sim: Process,
    proxy: Process,
    port: u16,
    /// From the proxy's start until it reported SiPass loaded.
    first_load: Duration,
    /// CPU seconds the proxy and the simulator used during that time.
    first_load_cpu: (Option<f64>, Option<f64>),
}

impl Site {
    /// Starts the simulator and the proxy in `dir`, and waits until the proxy has loaded.
    async fn start(bin: &Binary, dir: &Path, cardholders: usize, extra: &[&str]) -> Result<Self> {
        let sim_dir = dir.join("sim");
        std::fs::create_dir_all(&sim_dir)?;
        let sim = bin.start_sim(&sim_dir, cardholders, extra)?;
        let port = harness::free_port()?;
        let started = Instant::now();
        let sim_cpu = cpu_secs(sim.id());
        let proxy = start_proxy(bin, dir, sim.addr(), port)?;
        let mut site = Site {
            bin: bin.clone(),
            dir: dir.to_owned(),
            sim,
            proxy,
            port,
            first_load: Duration::ZERO,
            first_load_cpu: (None, None),
        };
        harness::wait_proxy_loaded(&site.proxy_address()?, PHASE_DEADLINE).await?;
        site.first_load = started.elapsed();
        site.first_load_cpu = (
            cpu_secs(site.proxy.id()),
            cpu_secs(site.sim.id())
                .zip(sim_cpu)
                .map(|(end, start)| end - start),
        );
        Ok(site)
    }

    fn proxy_dir(&self) -> PathBuf {
        self.dir.join("proxy")
    }

    /// Kills the proxy with SIGKILL and starts it again on the same port.
    fn restart_proxy(&mut self) -> Result<()> {
        self.proxy.kill()?;
        self.proxy = start_proxy(&self.bin, &self.dir, self.sim.addr(), self.port)?;
        Ok(())
    }

    fn proxy_address(&self) -> Result<protocol::ProxyAddress> {
        Ok(harness::proxy_address(&self.proxy_dir(), self.port)?)
    }

    /// A role with its data in `role_dir`, and a client of its REST API.
    fn start_role(&self, role_dir: &Path) -> Result<(Process, RoleApi)> {
        self.start_role_with(role_dir, &[])
    }

    /// A role as [`Site::start_role`] gives, with `extra` flags (`--database-url`).
    fn start_role_with(&self, role_dir: &Path, extra: &[&str]) -> Result<(Process, RoleApi)> {
        std::fs::create_dir_all(role_dir)?;
        let role = self
            .bin
            .start_role_with(role_dir, &self.proxy_dir(), self.port, extra)?;
        let api = RoleApi::new(role.addr(), role_dir)?;
        Ok((role, api))
    }

    async fn sim_client(&self) -> Result<SimClient> {
        Ok(SimClient::login(self.sim.addr(), &self.dir.join("sim"), "bench").await?)
    }
}

/// The proxy of the site in `dir` (data in `dir/proxy`), on loopback `port`.
fn start_proxy(bin: &Binary, dir: &Path, sim_url: &str, port: u16) -> Result<Process> {
    let proxy_dir = dir.join("proxy");
    std::fs::create_dir_all(&proxy_dir)?;
    Ok(bin.start_proxy(&proxy_dir, &dir.join("sim"), sim_url, Some(port), &[])?)
}

/// Polls the role until verified; with `kill_proxy_at` (a fraction of cardholders listed),
/// kills the site's proxy once on the way and brings it back on the same port.
/// Also returns the entities received so far at each poll (seconds since the call, count),
/// for the synchronization's chart.
async fn until_verified(
    role: &RoleApi,
    mut kill_proxy_at: Option<(f64, &mut Site)>,
) -> Result<(SyncStatus, Vec<(f64, u64)>)> {
    let every = Duration::from_millis(50);
    let mut failed = None;
    let started = Instant::now();
    let mut samples = vec![(0.0, 0)];
    let status = harness::eventually_async(PHASE_DEADLINE, every, "a verified role", async || {
        let status = role.status().await.ok()?;
        samples.push((
            started.elapsed().as_secs_f64(),
            status.transfer.listed + status.transfer.watched,
        ));
        if let Some((at, site)) = kill_proxy_at.as_mut()
            && harness::cardholder_progress(&status)
                .is_some_and(|p| p.total > 0 && p.done as f64 >= p.total as f64 * *at)
        {
            if let Err(e) = site.restart_proxy() {
                failed = Some(e);
                return Some(status);
            }
            kill_proxy_at = None;
            return None;
        }
        harness::verified(&status).then_some(status)
    })
    .await?;
    match failed {
        Some(e) => Err(e),
        None => Ok((status, samples)),
    }
}

pub async fn bench(args: BenchArgs) -> Result<()> {
    let root = match &args.data {
        Some(path) => harness::TempDir::keep(path.clone())?,
        None => harness::TempDir::new("bench")?,
    };
    // The parts log warnings only, so that logging stays out of the figures; a run made to
    // find a stall's cause can ask for more (with `--log-dir` to keep it).
    let level = std::env::var("SIPASS_BRIDGE_BENCH_LOG").unwrap_or_else(|_| "warn".into());
    let bin = Binary::current(&level)?;
    let mut report = json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "memory_gib": memory_gib(),
    });
    let mut curves = Curves::default();

    if args.alarms_only {
        alarm_phase(&args, &bin, root.path(), &mut report).await?;
        return finish(args, &report, &curves);
    }
    if !args.events_only {
        sync_phases(&args, &bin, root.path(), &mut report, &mut curves).await?;
    }

    eprintln!(
        "(4/5) events: {} per second for {} s",
        args.events_per_sec, args.events_secs
    );
    let events_dir = root.path().join("events");
    let figures = events(&bin, &events_dir, args.events_per_sec, args.events_secs).await?;
    report["events_per_sec"] = json!(figures.events_per_sec.round());
    report["journal_entries_per_sec"] = json!(figures.entries_per_sec.round());
    report["event_p50_ms"] = json!(figures.p50_ms);
    report["event_p99_ms"] = json!(figures.p99_ms);
    report["event_markers"] = json!(figures.markers);
    report["event_markers_unjournaled"] = json!(figures.markers_unjournaled);
    curves.event_latencies = figures.latencies;

    eprintln!(
        "(4b) events stored by the role: a journal backlog of {} s at {} per second",
        args.stored_fill_secs, args.events_per_sec
    );
    let stored = crate::bench_events::stored_events(
        &bin,
        &root.path().join("stored-events"),
        args.events_per_sec,
        args.stored_fill_secs,
    )
    .await?;
    report["role_events_stored_per_sec"] = json!(stored.events_per_sec.round());
    report["role_events_backlog"] = json!(stored.backlog);
    report["role_events_stored"] = json!(stored.stored);
    if let Some(cpu) = stored.role_cpu_secs {
        report["role_events_cpu_s"] = json!((cpu * 100.0).round() / 100.0);
        report["role_events_per_cpu_sec"] =
            json!(((stored.stored - stored.first_count) as f64 / cpu.max(1e-9)).round());
    }
    eprintln!("(4b) limit: the same event rows inserted by plain rusqlite into a plain table");
    let raw_events =
        raw_limit::raw_sqlite_events_per_sec(&root.path().join("raw-events"), &stored.plugin_db)?;
    report["raw_sqlite_events_per_sec"] = json!(raw_events.round());
    report["role_events_ratio"] =
        json!((stored.events_per_sec / raw_events * 1000.0).round() / 1000.0);
    eprintln!(
        "(4c) the disk's flushes alone for {DISK_FLUSH_SECS} s: what a durable commit waits for"
    );
    let flushes = raw_limit::disk_flushes(&root.path().join("disk-flushes"), DISK_FLUSH_SECS)?;
    report["disk_flushes"] = json!(flushes.count);
    report["disk_flush_p50_ms"] = json!(round1(flushes.p50_ms));
    report["disk_flush_p99_ms"] = json!(round1(flushes.p99_ms));
    report["disk_flush_max_ms"] = json!(round1(flushes.max_ms));
    report["disk_flushes_over_100ms"] = json!(flushes.over_100ms);

    alarm_phase(&args, &bin, root.path(), &mut report).await?;
    finish(args, &report, &curves)
}

/// How long the disk's flushes are measured alone (4c).
const DISK_FLUSH_SECS: u64 = 10;

/// (5b): the time from an alarm raised in SiPass to the alarm triggered in the role.
async fn alarm_phase(
    args: &BenchArgs,
    bin: &Binary,
    root: &Path,
    report: &mut Value,
) -> Result<()> {
    eprintln!(
        "(5b) alarms: {} raised in SiPass, each timed to its trigger in the role",
        args.alarm_samples
    );
    let alarms =
        crate::bench_alarms::alarm_latency(bin, &root.join("alarms"), args.alarm_samples.max(1))
            .await?;
    report["alarm_p50_ms"] = json!(alarms.p50_ms);
    report["alarm_p99_ms"] = json!(alarms.p99_ms);
    report["alarm_samples"] = json!(alarms.samples);
    Ok(())
}

/// Charts, the table and the JSON report.
fn finish(args: BenchArgs, report: &Value, curves: &Curves) -> Result<()> {
    if let Some(dir) = &args.plot {
        write_plots(dir, report, curves)?;
    }
    print_table(report);
    let text = serde_json::to_string_pretty(report)?;
    out!("{text}");
    if let Some(path) = args.out {
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// What the charts are drawn from.
#[derive(Default)]
struct Curves {
    /// (seconds since the role started, entities received) during the full synchronization.
    sync: Vec<(f64, u64)>,
    realtime_latencies: Vec<f64>,
    event_latencies: Vec<f64>,
}

/// Phases (2), (1), (3) and (5): they share one simulated site and its proxy.
async fn sync_phases(
    args: &BenchArgs,
    bin: &Binary,
    root: &Path,
    report: &mut Value,
    curves: &mut Curves,
) -> Result<()> {
    report["n"] = json!(args.cardholders);
    eprintln!(
        "(2/5) full synchronization of {} cardholders",
        args.cardholders
    );
    let site_dir = root.join("site");
    let mut site = Site::start(bin, &site_dir, args.cardholders, &[]).await?;
    report["proxy_first_load_s"] = json!(round2(site.first_load.as_secs_f64()));
    report["proxy_first_load_cpu_s"] = json!(site.first_load_cpu.0.map(round2));
    report["sim_first_load_cpu_s"] = json!(site.first_load_cpu.1.map(round2));
    let role_dir = site_dir.join("role");
    let started = Instant::now();
    let (role, api) = site.start_role(&role_dir)?;
    let (status, samples) = until_verified(&api, None).await?;
    let wall = started.elapsed().as_secs_f64();
    curves.sync = samples;
    let entities = harness::total_eligible(&status);
    eprintln!(
        "      proxy first load {:.1} s; {entities} entities in {wall:.1} s",
        site.first_load.as_secs_f64()
    );
    report["sync_entities"] = json!(entities);
    report["sync_wall_s"] = json!((wall * 100.0).round() / 100.0);
    report["sync_entities_per_sec"] = json!((entities as f64 / wall).round());
    report["role_peak_rss_mib_sync"] = json!(peak_rss_mib(role.id()).map(|m| m.round()));

    eprintln!(
        "(1/5) limit: the same rows upserted by plain rusqlite into a plain table, and through the store, nothing else running"
    );
    drop(role);
    let raw = raw_limit::raw_sqlite_rows_per_sec(
        &site_dir.join("raw-limit"),
        &role_dir.join(store::sqlite::DIRECTORY.file),
    )?;
    let store_rate = store_rows_per_sec(&root.join("limit"), &role_dir)?;
    let ratio = |rate: f64| (rate / raw * 1000.0).round() / 1000.0;
    report["raw_sqlite_rows_per_sec"] = json!(raw.round());
    report["store_rows_per_sec"] = json!(store_rate.round());
    report["store_ratio"] = json!(ratio(store_rate));
    report["sync_ratio"] = json!(ratio(entities as f64 / wall));
    eprintln!("      raw {raw:.0} rows/s, store {store_rate:.0} rows/s");
    eprintln!("(2b) the simulator alone: every cardholder page read as the proxy reads them");
    report["sim_list_s"] = json!(round2(sim_list_secs(&site).await?));
    let (role, api) = site.start_role(&role_dir)?;
    until_verified(&api, None).await?;

    eprintln!(
        "(3/5) real-time: {} changes per second for {} s",
        args.changes_per_sec, args.realtime_secs
    );
    let RealtimeFigures {
        latencies,
        proxy_latencies,
        slow_seconds,
        refused,
    } = realtime(&site, &role_dir, args.changes_per_sec, args.realtime_secs).await?;
    if !slow_seconds.is_empty() {
        eprintln!(
            "      renames over 100 ms by second of the phase (second, how many, slowest ms, slowest until the proxy's cache had it): {slow_seconds:?}"
        );
    }
    report["realtime_slow_seconds"] = json!(slow_seconds);
    report["realtime_changes_refused"] = json!(refused);
    report["realtime_p50_ms"] = json!(round1(percentile(&latencies, 0.5)));
    report["realtime_p99_ms"] = json!(round1(percentile(&latencies, 0.99)));
    report["realtime_proxy_p50_ms"] = json!(round1(percentile(&proxy_latencies, 0.5)));
    report["realtime_proxy_p99_ms"] = json!(round1(percentile(&proxy_latencies, 0.99)));
    report["realtime_changes_seen"] = json!(latencies.len());
    report["realtime_changes_sent"] = json!(args.changes_per_sec * args.realtime_secs);
    curves.realtime_latencies = latencies;
    let realtime_rss = peak_rss_mib(role.id()).map(|m| m.round());
    let sync_rss = report["role_peak_rss_mib_sync"].as_f64();
    report["role_peak_rss_mib"] = json!(sync_rss.into_iter().chain(realtime_rss).reduce(f64::max));
    drop(role);

    if let Some(url) = &args.database_url {
        postgres_sync(
            &site,
            &site_dir.join("role-postgres"),
            url,
            entities,
            report,
        )
        .await?;
    }

    eprintln!("(5/5) resume: the proxy killed halfway through a full synchronization");
    let (_role2, api) = site.start_role(&site_dir.join("role-resume"))?;
    let (status, _) = until_verified(&api, Some((0.5, &mut site))).await?;
    let transferred = status.transfer.listed + status.transfer.watched;
    let clean = harness::total_eligible(&status).max(1);
    report["resume_extra_pct"] =
        json!(((transferred as f64 / clean as f64 - 1.0) * 10000.0).round() / 100.0);
    Ok(())
}

/// (2c): the same full synchronization by a role on PostgreSQL, its rate beside SQLite's
/// `sync_entities_per_sec`. The database must be empty: a Directory already there would be
/// brought up to date rather than listed whole. `entities`: what the SQLite role verified;
/// the role says "verified" once per kind as it compares them, so the clock stops when every
/// kind is in.
async fn postgres_sync(
    site: &Site,
    role_dir: &Path,
    url: &str,
    entities: u64,
    report: &mut Value,
) -> Result<()> {
    eprintln!("(2c) the same full synchronization by a role on PostgreSQL");
    let held = store::postgres::migrate::describe(url, &store::postgres::DIRECTORY)
        .context("reading --database-url")?
        .counts
        .iter()
        .find(|c| c.table == "entities")
        .map_or(0, |c| c.rows);
    if held > 0 {
        bail!(
            "--database-url {} already holds a Directory ({held} entities): give an empty database, so that the synchronization is a whole one",
            store::postgres::location(url).display()
        );
    }
    let started = Instant::now();
    let (role, api) = site.start_role_with(role_dir, &["--database-url", url])?;
    let every = Duration::from_millis(50);
    let status = harness::eventually_async(PHASE_DEADLINE, every, "a verified role", async || {
        let status = api.status().await.ok()?;
        (harness::verified(&status) && harness::total_eligible(&status) >= entities)
            .then_some(status)
    })
    .await?;
    let wall = started.elapsed().as_secs_f64();
    let entities = harness::total_eligible(&status);
    eprintln!("      {entities} entities in {wall:.1} s on PostgreSQL");
    report["postgres_sync_wall_s"] = json!(round2(wall));
    report["postgres_sync_entities_per_sec"] = json!((entities as f64 / wall).round());
    report["role_peak_rss_mib_postgres_sync"] = json!(peak_rss_mib(role.id()).map(|m| m.round()));
    Ok(())
}

fn memory_gib() -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: f64 = meminfo
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((kib / 1024.0 / 1024.0 * 10.0).round() / 10.0)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn print_table(report: &Value) {
    let rows = [
        ("raw_sqlite_rows_per_sec", "rows/s", "the yardstick"),
        ("store_rows_per_sec", "rows/s", ""),
        ("sync_entities_per_sec", "entities/s", ""),
        (
            "postgres_sync_entities_per_sec",
            "entities/s",
            "with --database-url",
        ),
        ("sync_ratio", "", ">= 0.6"),
        ("role_peak_rss_mib", "MiB", "< 200"),
        ("proxy_first_load_s", "s", "< 30"),
        ("proxy_first_load_cpu_s", "CPU s", ""),
        ("sim_first_load_cpu_s", "CPU s", ""),
        ("sim_list_s", "s", ""),
        ("realtime_p50_ms", "ms", ""),
        ("realtime_p99_ms", "ms", "< 100"),
        ("realtime_proxy_p99_ms", "ms", ""),
        ("realtime_changes_seen", "samples", ""),
        ("events_per_sec", "events/s", ">= 50000"),
        ("role_events_stored_per_sec", "events/s", ">= 50000"),
        ("raw_sqlite_events_per_sec", "events/s", "the yardstick"),
        ("role_events_ratio", "", ""),
        ("role_events_per_cpu_sec", "events/CPU s", ""),
        ("event_p99_ms", "ms", "< 50"),
        ("event_markers", "samples", ""),
        ("disk_flush_p99_ms", "ms", "the yardstick"),
        ("disk_flush_max_ms", "ms", ""),
        ("disk_flushes_over_100ms", "flushes", ""),
        ("alarm_p50_ms", "ms", ""),
        ("alarm_p99_ms", "ms", "< 50"),
        ("alarm_samples", "samples", ""),
        ("resume_extra_pct", "%", "< 5"),
    ];
    eprintln!("{:<24} {:>14} {:<10} target", "figure", "value", "unit");
    for (key, unit, target) in rows {
        eprintln!(
            "{key:<24} {:>14} {unit:<10} {target}",
            report[key].to_string()
        );
    }
}

/// (1b): the rows the full synchronization wrote (read back from its Directory), written
/// again into an empty Directory through the same store call, with the same schema, batch
/// size and PRAGMAs, and nothing else running. Only the writes are timed. The store's own
/// rate, beside the raw limit: the gap between the two is the schema's and write path's.
fn store_rows_per_sec(dir: &Path, synced_role: &Path) -> Result<f64> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let source = harness::directory::open(synced_role)?;
    let target = store::open(&dir.join("directory.db"))?;
    let page = 2000;
    let mut writing = Duration::ZERO;
    let mut rows = 0u64;
    for kind in ["cardholder", "credential"] {
        let mut position = store::SyncPosition {
            source_kind: kind.into(),
            cache_id: "bench".into(),
            generation: 1,
            snapshot_revision: 1,
            page_token: String::new(),
            done: 0,
            total: 0,
            complete: false,
        };
        let mut after = String::new();
        loop {
            let batch: Vec<store::SourceEntity> = source
                .entities(kind, &after, page)?
                .into_iter()
                .map(|row| store::SourceEntity {
                    source_kind: row.source_kind,
                    id: row.id,
                    revision: row.revision,
                    name: row.name,
                    fields: row.fields,
                    kinds: vec![row.kind],
                })
                .collect();
            let Some(last) = batch.last() else { break };
            after = last.id.clone();
            rows += batch.len() as u64;
            position.done = rows;
            let started = Instant::now();
            target.write_page(&batch, &position)?;
            writing += started.elapsed();
        }
        let started = Instant::now();
        target.finish_listing(&position)?;
        writing += started.elapsed();
    }
    Ok(rows as f64 / writing.as_secs_f64().max(1e-9))
}

/// (3): renames cardholders at a steady rate and times each rename until its commit in the
/// Directory (read through `store` every 2 ms).
async fn realtime(site: &Site, role_dir: &Path, rate: u64, secs: u64) -> Result<RealtimeFigures> {
    let sim = Arc::new(site.sim_client().await?);
    let tokens: Vec<u64> = (1..=1000).collect();
    let mut bodies = HashMap::new();
    for t in &tokens {
        let body: Value = sim
            .request(reqwest::Method::GET, &format!("/api/V1/hr/Cardholders/{t}"))
            .send()
            .await?
            .json()
            .await?;
        bodies.insert(*t, body);
    }
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    // Each rename's send time (seconds into the phase), latency and the part of it until
    // the proxy's cache had it (ms).
    let latencies: Arc<Mutex<Vec<Timed>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let phase_start = Instant::now();
    let poller = {
        let (sent, latencies, stop) = (sent.clone(), latencies.clone(), stop.clone());
        let role_dir = role_dir.to_owned();
        let cache_path = proxy::cache_path(&site.proxy_dir());
        std::thread::spawn(move || -> Result<()> {
            let directory = harness::directory::open(&role_dir)?;
            let cache = rusqlite::Connection::open_with_flags(
                &cache_path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            // When the proxy's cache first had each pending rename.
            let mut in_cache: HashMap<String, Instant> = HashMap::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let pending: Vec<(String, Instant)> = sent
                    .lock()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
                    .unwrap_or_default();
                for (marker, at) in pending {
                    let id = marker.split('-').nth(1).unwrap_or_default().to_owned();
                    if !in_cache.contains_key(&marker)
                        && cached_name(&cache, &id).is_some_and(|n| n.ends_with(&marker))
                    {
                        in_cache.insert(marker.clone(), Instant::now());
                    }
                    let name = harness::directory::cardholder_name(&*directory, &id)
                        .ok()
                        .flatten();
                    if name.is_some_and(|n| n.ends_with(&marker)) {
                        let cached = in_cache.remove(&marker).unwrap_or_else(Instant::now);
                        if let Ok(mut l) = latencies.lock() {
                            l.push(Timed {
                                at_s: at.duration_since(phase_start).as_secs_f64(),
                                ms: at.elapsed().as_secs_f64() * 1000.0,
                                proxy_ms: cached.duration_since(at).as_secs_f64() * 1000.0,
                            });
                        }
                        if let Ok(mut m) = sent.lock() {
                            m.remove(&marker);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(())
        })
    };
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut ticker = tokio::time::interval(interval);
    let total = rate * secs;
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for i in 0..total {
        ticker.tick().await;
        let token = tokens[(i % tokens.len() as u64) as usize];
        // One change per cardholder in flight, so that each marker is the latest.
        let marker = format!("m-{token}-{i}");
        if sent
            .lock()
            .map(|m| m.keys().any(|k| k.starts_with(&format!("m-{token}-"))))
            .unwrap_or(false)
        {
            continue;
        }
        let mut body = bodies[&token].clone();
        body["LastName"] = json!(marker.clone());
        let sim = sim.clone();
        let sent = sent.clone();
        let refused = refused.clone();
        let permit = limit.clone().acquire_owned().await?;
        tokio::spawn(async move {
            let marker_sent = marker.clone();
            if let Ok(mut m) = sent.lock() {
                m.insert(marker, Instant::now());
            }
            let answer = sim
                .request(
                    reqwest::Method::PUT,
                    &format!("/api/V1/hr/Cardholders/{token}"),
                )
                .json(&body)
                .send()
                .await;
            // A rename SiPass refused or never answered changed nothing to wait for: it is
            // counted apart, not timed (it would count as unseen and block its cardholder).
            if !answer.is_ok_and(|a| a.status().is_success()) {
                if let Ok(mut m) = sent.lock() {
                    m.remove(&marker_sent);
                }
                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            drop(permit);
        });
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = poller.join();
    let timed = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    let mut figures = RealtimeFigures::of(&timed);
    figures.refused = refused.load(std::sync::atomic::Ordering::Relaxed);
    Ok(figures)
}

/// A cardholder's name in the proxy's cache (read-only, committed data only).
fn cached_name(cache: &rusqlite::Connection, id: &str) -> Option<String> {
    cache
        .prepare_cached("SELECT name FROM entities WHERE kind = 'cardholder' AND id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .ok()
}

/// One rename, timed.
#[derive(Clone, Copy)]
struct Timed {
    /// When it was sent, in seconds into the phase.
    at_s: f64,
    /// From the request to SiPass until the Directory had it.
    ms: f64,
    /// Of that, until the proxy's cache had it (SiPass and the proxy's share).
    proxy_ms: f64,
}

/// What the real-time phase measured.
struct RealtimeFigures {
    /// Each rename's latency in ms, sorted.
    latencies: Vec<f64>,
    /// Each rename's time until the proxy's cache had it, in ms, sorted.
    proxy_latencies: Vec<f64>,
    /// The renames slower than 100 ms, by the second of the phase they were sent in:
    /// (second, how many, the slowest in ms, the slowest until the proxy's cache had it). A
    /// p99 above 100 ms is nearly always a few stalls, and when and where they happened is
    /// what tells their cause.
    slow_seconds: Vec<(u64, usize, f64, f64)>,
    /// Renames SiPass refused or did not answer (not timed).
    refused: u64,
}

impl RealtimeFigures {
    fn of(timed: &[Timed]) -> RealtimeFigures {
        let sorted = |f: fn(&Timed) -> f64| {
            let mut v: Vec<f64> = timed.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let mut slow: std::collections::BTreeMap<u64, (usize, f64, f64)> = Default::default();
        for t in timed.iter().filter(|t| t.ms > 100.0) {
            let second = slow.entry(t.at_s as u64).or_default();
            second.0 += 1;
            second.1 = second.1.max(t.ms);
            second.2 = second.2.max(t.proxy_ms);
        }
        RealtimeFigures {
            latencies: sorted(|t| t.ms),
            proxy_latencies: sorted(|t| t.proxy_ms),
            slow_seconds: slow
                .into_iter()
                .map(|(s, (n, max, proxy))| (s, n, round1(max), round1(proxy)))
                .collect(),
            refused: 0,
        }
    }
}

/// What the events phase measured.
struct EventFigures {
    /// SiPass events (alarm changes not counted) journaled per second.
    events_per_sec: f64,
    /// Journal entries (events and alarm changes) per second.
    entries_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Markers sent during the window (the ones timed).
    markers: usize,
    /// Of those, markers the journal never had before timing stopped.
    markers_unjournaled: usize,
    /// Each marker's latency, sorted.
    latencies: Vec<f64>,
}

/// (4): the simulator emits events at `rate` (every event type in turn, alarm-worthy ones
/// with their alarm changes) while the bench reads the proxy's Events stream as a role would
/// (acknowledging). Counted at the journal itself: the journal's sequence at the start and
/// end of the window (read from journal.db, committed data only) gives the entries
/// journaled, and the stream tells which of them are events (the bench's markers not
/// counted). Marker events are injected every 20 ms; those sent during the window are timed
/// from the request to SiPass until the journal's committed push sequence reaches theirs
/// (polled every millisecond), or, if it never does, by their age when timing stops.
async fn events(bin: &Binary, dir: &Path, rate: u64, secs: u64) -> Result<EventFigures> {
    let rate_arg = rate.to_string();
    let site = Site::start(bin, dir, 1000, &["--events-per-sec", &rate_arg]).await?;
    let journal_path = proxy::journal_path(&site.proxy_dir());
    let journal = proxy::CommittedJournal::open(&journal_path)?;
    let reader = tokio::spawn(read_events_as_a_role(site.proxy_address()?));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (marker_tx, marker_rx) = std::sync::mpsc::channel::<(u64, Instant)>();
    let injector = tokio::spawn(inject_markers(
        Arc::new(site.sim_client().await?),
        marker_tx,
    ));
    let timer = {
        let (timed_journal, stop) = (proxy::CommittedJournal::open(&journal_path)?, stop.clone());
        std::thread::spawn(move || time_markers(&timed_journal, &marker_rx, &stop))
    };
    tokio::time::sleep(Duration::from_secs(3)).await; // warm-up
    let first = journal.last()?;
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let last = journal.last()?;
    let elapsed = window.elapsed().as_secs_f64();
    let window_end = Instant::now();
    injector.abort();
    // Markers sent at the end of the window get time to reach the journal; any still
    // missing after that count with their age, so that a stall cannot hide.
    tokio::time::sleep(MARKER_GRACE).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let timed = timer
        .join()
        .map_err(|_| anyhow::anyhow!("the marker timer panicked"))??;
    let in_window: Vec<&TimedMarker> = timed
        .iter()
        .filter(|m| m.sent >= window && m.sent < window_end)
        .collect();
    let mut latencies: Vec<f64> = in_window.iter().map(|m| m.latency_ms).collect();
    let events = count_events(reader, first, last).await?;
    latencies.sort_by(f64::total_cmp);
    let round = |v: f64| (v * 10.0).round() / 10.0;
    Ok(EventFigures {
        events_per_sec: events as f64 / elapsed,
        entries_per_sec: (last - first) as f64 / elapsed,
        p50_ms: round(percentile(&latencies, 0.5)),
        p99_ms: round(percentile(&latencies, 0.99)),
        markers: latencies.len(),
        markers_unjournaled: in_window.iter().filter(|m| !m.journaled).count(),
        latencies,
    })
}

/// How long marker timing goes on after the window, for markers sent at its end.
const MARKER_GRACE: Duration = Duration::from_secs(2);

/// One marker event: when it was sent to SiPass, and how long until the journal had it
/// (or, if it never did, its age when timing stopped).
struct TimedMarker {
    sent: Instant,
    latency_ms: f64,
    journaled: bool,
}

/// Times each marker (its SiPass push sequence, when it was sent) until the journal has
/// committed that push sequence; runs until `stop`.
fn time_markers(
    journal: &proxy::CommittedJournal,
    markers: &std::sync::mpsc::Receiver<(u64, Instant)>,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<Vec<TimedMarker>> {
    let mut pending = std::collections::VecDeque::new();
    let mut timed = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        pending.extend(markers.try_iter());
        if !pending.is_empty() {
            let reached = journal.push_sequence_reached()?;
            let now = Instant::now();
            while let Some(&(seq, sent)) = pending.front() {
                if seq > reached {
                    break;
                }
                timed.push(TimedMarker {
                    sent,
                    latency_ms: now.duration_since(sent).as_secs_f64() * 1000.0,
                    journaled: true,
                });
                pending.pop_front();
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let now = Instant::now();
    timed.extend(pending.into_iter().map(|(_, sent)| TimedMarker {
        sent,
        latency_ms: now.duration_since(sent).as_secs_f64() * 1000.0,
        journaled: false,
    }));
    Ok(timed)
}

/// Injects a marker event every 20 ms and hands its push sequence (from SiPass's answer)
/// and the moment it was sent to the timer.
async fn inject_markers(sim: Arc<SimClient>, markers: std::sync::mpsc::Sender<(u64, Instant)>) {
    for i in 0u64.. {
        let sent = Instant::now();
        let body = json!({"Type": "Access Granted", "Message": format!("bench-marker-{i}")});
        let answer = sim
            .request(reqwest::Method::POST, "/api/sim/V1/Events")
            .json(&body)
            .send()
            .await;
        if let Ok(answer) = answer
            && let Ok(event) = answer.json::<Value>().await
            && let Some(seq) = event["Sequence"].as_u64()
            && markers.send((seq, sent)).is_err()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How the bench's events reader names itself to the proxy, which keeps its acknowledgements
/// apart from a role's.
const BENCH_READER: &str = "bench-events-reader";

/// Reads the Events stream as a role would, acknowledging every half second, and sends
/// each entry's journal sequence number, and whether it is a SiPass event (not an alarm
/// change, not a bench marker), on the channel it returns.
async fn read_events_as_a_role(
    address: protocol::ProxyAddress,
) -> Result<tokio::sync::mpsc::UnboundedReceiver<(u64, bool)>> {
    let mut client = protocol::connect(&address).await?;
    let mut stream = client
        .events(protocol::pb::EventsRequest {
            after_sequence: 0,
            role_id: BENCH_READER.to_owned(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut last_ack = Instant::now();
        while let Ok(Some(batch)) = stream.message().await {
            for entry in &batch.entries {
                // The bench's own markers are not counted as SiPass's load.
                let is_event = entry.r#type == protocol::pb::JournalEntryType::Event as i32
                    && !entry.payload.windows(13).any(|w| w == b"bench-marker-");
                if tx.send((entry.sequence, is_event)).is_err() {
                    return;
                }
            }
            if let Some(last) = batch.entries.last()
                && last_ack.elapsed() > Duration::from_millis(500)
            {
                last_ack = Instant::now();
                let _ = client
                    .ack_events(protocol::pb::AckEventsRequest {
                        up_to_sequence: last.sequence,
                        role_id: BENCH_READER.to_owned(),
                        journal_id: batch.journal_id.clone(),
                    })
                    .await;
            }
        }
    });
    Ok(rx)
}

/// The events among the journal entries after `first` up to `last`, as the role-like
/// reader received them (waiting up to a minute for it to get that far).
async fn count_events(
    reader: tokio::task::JoinHandle<Result<tokio::sync::mpsc::UnboundedReceiver<(u64, bool)>>>,
    first: u64,
    last: u64,
) -> Result<u64> {
    let mut entries = reader
        .await
        .map_err(|e| anyhow::anyhow!("the events reader failed: {e}"))??;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut events = 0;
    loop {
        let entry = tokio::time::timeout_at(deadline, entries.recv()).await;
        let Ok(Some((seq, is_event))) = entry else {
            bail!(
                "the Events stream ended, or did not deliver the journal up to {last} within a minute"
            );
        };
        if seq > first && seq <= last && is_event {
            events += 1;
        }
        if seq >= last {
            return Ok(events);
        }
    }
}

/// (2b): how long the simulator alone takes to serve every cardholder page as the proxy's
/// first load asks for them (1,000 a page, every field, one after another), read whole but
/// not parsed: the simulator's share of that load.
async fn sim_list_secs(site: &Site) -> Result<f64> {
    const PAGE: usize = 1000;
    let sim = site.sim_client().await?;
    let fields: Vec<&str> = model::sipass::Cardholder::FIELDS
        .iter()
        .copied()
        .filter(|f| *f != "Token")
        .collect();
    let fields = fields.join(",");
    let started = Instant::now();
    let mut start = 0;
    loop {
        let path = format!(
            "/api/V1/hr/Cardholders?startIndex={start}&endIndex={}&searchString=&fields={fields}",
            start + PAGE
        );
        let body = sim
            .request(reqwest::Method::GET, &path)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        // The page's records are counted without decoding them: each begins with its Token.
        let records = body.windows(8).filter(|w| w == b"\"Token\":").count();
        if records == 0 {
            break;
        }
        start += records;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// `--plot DIR`: the synchronization's rate over its time, and the latency distributions.
fn write_plots(dir: &Path, report: &Value, curves: &Curves) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut markers = vec![];
    if let Some(raw) = report["raw_sqlite_rows_per_sec"].as_f64() {
        markers.push(plot::Marker {
            label: "raw SQLite limit",
            x: None,
            y: Some(raw),
        });
        markers.push(plot::Marker {
            label: "0.6 of it (target)",
            x: None,
            y: Some(raw * 0.6),
        });
    }
    if !curves.sync.is_empty() {
        plot::Chart {
            title: "Full synchronization: entities per second (1 s windows)",
            x_label: "seconds since the role started",
            y_label: "entities per second",
            series: vec![plot::Series {
                label: "received and committed by the role",
                color: "#1565c0",
                points: plot::rates(&curves.sync, 1.0),
            }],
            markers,
            x_max: None,
        }
        .write(&dir.join("sync-rate.svg"))?;
    }
    let latency = |name: &str, title, latencies: &[f64], target: f64| {
        let p999 = percentile(latencies, 0.999);
        plot::Chart {
            title,
            x_label: "milliseconds",
            y_label: "fraction at or below",
            series: vec![plot::Series {
                label: "latency",
                color: "#2e7d32",
                points: plot::cdf(latencies),
            }],
            markers: vec![
                plot::Marker {
                    label: "p99 target",
                    x: Some(target),
                    y: None,
                },
                plot::Marker {
                    label: "0.99",
                    x: None,
                    y: Some(0.99),
                },
            ],
            x_max: Some(p999.max(target) * 1.1),
        }
        .write(&dir.join(name))
    };
    if !curves.realtime_latencies.is_empty() {
        latency(
            "realtime-latency.svg",
            "Real-time: SiPass change to Directory commit (CDF)",
            &curves.realtime_latencies,
            100.0,
        )?;
    }
    if !curves.event_latencies.is_empty() {
        latency(
            "event-latency.svg",
            "Events: SiPass event to durable journal (CDF)",
            &curves.event_latencies,
            50.0,
        )?;
    }
    Ok(())
}
