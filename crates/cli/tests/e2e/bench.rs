//! A smoke run of `sipass-bridge bench` at tiny sizes: it keeps the harness working and its
//! report complete. No figure is judged here; docs/performance.md records real runs.

use crate::support::{TempDir, run, s};

#[test]
fn a_small_bench_run_names_every_figure_and_draws_its_charts() {
    // The PostgreSQL phase runs on a throwaway cluster of the machine's PostgreSQL.
    let cluster = pgcluster::Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    let database_url = cluster.create_database("bench").unwrap();
    let dir = TempDir::new("bench");
    let plots = dir.0.join("plots");
    let (ok, stdout, stderr) = run(
        &[
            "bench",
            "--cardholders",
            "2000",
            "--changes-per-sec",
            "50",
            "--realtime-secs",
            "2",
            "--events-per-sec",
            "2000",
            "--events-secs",
            "2",
            "--data",
            s(&dir.0),
            "--plot",
            s(&plots),
            "--database-url",
            &database_url,
        ],
        &[],
    );
    assert!(ok, "the bench failed:\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("the bench printed no JSON report ({e}):\n{stdout}"));
    for key in [
        "n",
        "cores",
        "memory_gib",
        "raw_sqlite_rows_per_sec",
        "store_rows_per_sec",
        "proxy_first_load_s",
        "sim_list_s",
        "sync_entities_per_sec",
        "postgres_sync_entities_per_sec",
        "sync_ratio",
        "role_peak_rss_mib",
        "realtime_p50_ms",
        "realtime_p99_ms",
        "realtime_changes_seen",
        "event_markers",
        "events_per_sec",
        "event_p99_ms",
        "resume_extra_pct",
    ] {
        assert!(report[key].is_number(), "{key} is missing: {report}");
    }
    assert!(
        report["events_per_sec"].as_f64() > Some(0.0),
        "no event was journaled: {report}"
    );
    assert!(
        report["postgres_sync_entities_per_sec"].as_f64() > Some(0.0),
        "{report}"
    );
    assert!(
        report["realtime_changes_seen"].as_u64() > Some(0),
        "no change reached the Directory: {report}"
    );
    for chart in ["sync-rate.svg", "realtime-latency.svg", "event-latency.svg"] {
        let svg = std::fs::read_to_string(plots.join(chart))
            .unwrap_or_else(|e| panic!("{chart} was not written: {e}"));
        assert!(
            svg.starts_with("<svg") && svg.contains("<polyline"),
            "{chart}: {svg}"
        );
    }
}
