//! The proxy's metrics in the Prometheus text format (served by `--metrics-listen`, off by
//! default), read from the running proxy's own state at scrape time. The metric list is in
//! docs/metrics.md.

use std::sync::atomic::Ordering;

use prometheus::{Gauge, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::shared::Shared;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are fixed and distinct");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str, value: u64) {
    let metric = register(registry, IntGauge::new(name, help).expect("valid metric"));
    metric.set(i64::try_from(value).unwrap_or(i64::MAX));
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    register(registry, metric)
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    register(registry, metric)
}

/// The proxy's state as Prometheus text.
pub fn encode(shared: &Shared) -> String {
    let registry =
        Registry::new_custom(Some("sipass_bridge_proxy".to_owned()), None).expect("valid prefix");
    gauge(
        &registry,
        "loaded",
        "1 once SiPass has been read completely and roles are served",
        u64::from(shared.loaded.load(Ordering::Acquire)),
    );
    gauge(
        &registry,
        "load_cardholders_done",
        "Cardholders read from SiPass by the current or latest full read",
        shared.progress.loaded.load(Ordering::Relaxed),
    );
    gauge(
        &registry,
        "load_cardholders_planned",
        "Cardholders SiPass reported for the current or latest full read",
        shared.progress.total.load(Ordering::Relaxed),
    );
    // Revisions are microsecond clock values: exact in a float up to the year 2255.
    let revision = Gauge::new("cache_revision", "The cache's latest revision").expect("valid");
    register(&registry, revision).set(shared.cache.revision() as f64);

    // Kinds the SiPass behind the proxy cannot give (a real one: devices) are named in
    // `sipass_feature_unavailable`, not reported as zero.
    let kinds: Vec<model::EntityKind> = shared.available_kinds();
    let (_, summaries) = shared.cache.summaries(&kinds);
    let eligible = gauge_vec(
        &registry,
        "entities_eligible",
        "Entities of each SiPass kind in the cache, as served to roles",
        &["kind"],
    );
    for (kind, summary) in kinds.iter().zip(summaries) {
        eligible
            .with_label_values(&[&kind.to_string()])
            .set(i64::try_from(summary.eligible).unwrap_or(i64::MAX));
    }

    let unavailable = gauge_vec(
        &registry,
        "sipass_feature_unavailable",
        "1 for each feature the SiPass behind the proxy does not offer (a real SiPass has no management API or push channel of the bridge's): devices, commands, push channel, events, alarms",
        &["feature"],
    );
    for u in shared.unavailable() {
        unavailable.with_label_values(&[&u.feature]).set(1);
    }

    gauge(
        &registry,
        "journal_last_sequence",
        "The last sequence number in the event journal",
        shared.journal.last(),
    );
    gauge(
        &registry,
        "journal_depth",
        "Journal entries kept because a role has not acknowledged them yet",
        shared.journal.depth(),
    );
    let oldest_age = shared
        .journal
        .oldest_kept_at()
        .ok()
        .flatten()
        .map_or(0.0, |at| {
            (runtime::now_millis() - at).max(0) as f64 / 1000.0
        });
    let age = Gauge::new(
        "journal_oldest_unacknowledged_age_seconds",
        "How long ago the oldest journal entry a role has not acknowledged was journaled (0 when none)",
    )
    .expect("valid metric");
    register(&registry, age).set(oldest_age);

    let counts = shared.connections.counts();
    let connections = gauge_vec(
        &registry,
        "connections",
        "Connections open on the bridge port, by stage",
        &["stage"],
    );
    connections
        .with_label_values(&["handshake"])
        .set(counts.handshaking as i64);
    connections
        .with_label_values(&["established"])
        .set(counts.established as i64);
    let turned_away = prometheus::IntCounter::new(
        "connections_turned_away_total",
        "Connections closed on arrival or pushed out because a limit was reached",
    )
    .expect("valid metric");
    register(&registry, turned_away).inc_by(counts.turned_away);

    let streams = gauge_vec(
        &registry,
        "streams",
        "Watch and Events streams open",
        &["call"],
    );
    let caps = &shared.streams;
    for (call, places) in [("watch", &caps.watch), ("events", &caps.events)] {
        let open = caps.max.saturating_sub(places.available_permits());
        streams.with_label_values(&[call]).set(open as i64);
    }

    let up = gauge_vec(
        &registry,
        "worker_up",
        "1 for each worker that is running (idle, busy or retrying), 0 for one that has stopped or failed; the SiPass session is the sipass-session worker, the push channel the push-follower",
        &["worker", "state"],
    );
    let errors = counter_vec(
        &registry,
        "worker_errors_total",
        "Errors each worker met since the proxy started (for the SiPass session and the push channel: reconnections)",
        &["worker"],
    );
    for worker in shared.workers.statuses() {
        let state = serde_json::to_value(worker.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned());
        let running = matches!(state.as_str(), "idle" | "busy" | "retrying");
        up.with_label_values(&[&worker.name, &state])
            .set(i64::from(running));
        errors
            .with_label_values(&[&worker.name])
            .inc_by(worker.errors);
    }

    TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap_or_else(|e| format!("# the metrics could not be encoded: {e}\n"))
}
