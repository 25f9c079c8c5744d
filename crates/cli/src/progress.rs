//! Following a synchronization to its end: progress bars on a terminal, a line now and then
//! otherwise.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::admin::Api;

/// Polls the role until a run newer than `before` has ended; returns that run.
pub async fn follow_run(api: &Api, before: i64, quiet: bool) -> Result<Value> {
    let interactive = !quiet && std::io::stderr().is_terminal();
    let bars = MultiProgress::new();
    let mut shown: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let style = ProgressStyle::with_template("{prefix:>26} [{bar:40}] {pos}/{len} {per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let mut last_line = std::time::Instant::now();
    loop {
        let status = api.get("/sync/status").await?;
        let run = &status["latest_run"];
        let current = run["id"].as_i64().unwrap_or(0) > before;
        if current {
            for (kind, p) in run["progress"].as_object().into_iter().flatten() {
                let (done, total) = (
                    p["done"].as_u64().unwrap_or(0),
                    p["total"].as_u64().unwrap_or(0),
                );
                if interactive {
                    let bar = shown.entry(kind.clone()).or_insert_with(|| {
                        let bar = bars.add(ProgressBar::new(total));
                        bar.set_style(style.clone());
                        bar.set_prefix(kind.clone());
                        bar
                    });
                    bar.set_length(total.max(done));
                    bar.set_position(done);
                }
            }
            if !quiet && !interactive && last_line.elapsed() >= Duration::from_secs(1) {
                last_line = std::time::Instant::now();
                let parts: Vec<String> = run["progress"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, p)| format!("{k} {}/{}", p["done"], p["total"]))
                    .collect();
                eprintln!("synchronizing: {}", parts.join(", "));
            }
            if run["outcome"] != "running" {
                for bar in shown.values() {
                    bar.finish();
                }
                if !quiet {
                    eprintln!(
                        "Synchronization {} in {:.1} s.",
                        run["outcome"].as_str().unwrap_or("?"),
                        run["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0
                    );
                }
                return Ok(run.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
