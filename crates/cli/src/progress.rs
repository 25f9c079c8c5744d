//! Following a synchronization to its end: progress bars on a terminal, a line now and then
//! otherwise.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use model::RunOutcome;
use role::report::{RunReport, SyncStatus};

use crate::api::Api;

/// Polls the role until a run newer than `before` has ended; returns that run.
pub async fn follow_run(api: &Api, before: i64, quiet: bool) -> Result<RunReport> {
    let interactive = !quiet && std::io::stderr().is_terminal();
    let bars = MultiProgress::new();
    let mut shown: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let style = ProgressStyle::with_template("{prefix:>26} [{bar:40}] {pos}/{len} {per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let mut last_line = std::time::Instant::now();
    loop {
        let status: SyncStatus = api.get("/sync/status").await?;
        if let Some(run) = status.latest_run.filter(|run| run.id > before) {
            if interactive {
                for (kind, p) in &run.progress {
                    let bar = shown.entry(kind.clone()).or_insert_with(|| {
                        let bar = bars.add(ProgressBar::new(p.total));
                        bar.set_style(style.clone());
                        bar.set_prefix(kind.clone());
                        bar
                    });
                    bar.set_length(p.total.max(p.done));
                    bar.set_position(p.done);
                }
            }
            if !quiet && !interactive && last_line.elapsed() >= Duration::from_secs(1) {
                last_line = std::time::Instant::now();
                let parts: Vec<String> = run
                    .progress
                    .iter()
                    .map(|(k, p)| format!("{k} {}/{}", p.done, p.total))
                    .collect();
                eprintln!("synchronizing: {}", parts.join(", "));
            }
            if run.outcome != RunOutcome::Running {
                for bar in shown.values() {
                    bar.finish();
                }
                if !quiet {
                    eprintln!(
                        "Synchronization {} in {:.1} s.",
                        run.outcome,
                        run.duration_ms as f64 / 1000.0
                    );
                }
                return Ok(run);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
