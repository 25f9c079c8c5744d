//! `GET /metrics`: the role's state in the Prometheus text format, for the Prometheus a site
//! already runs. Every figure is read from the same status report `sync status` shows, at
//! scrape time, so the two can never disagree. The metric list is in docs/metrics.md.

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use role::report::SyncStatus;

/// The metric families' common prefix.
const PREFIX: &str = "sipass_bridge_role";

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every health state, so that a dashboard sees a 0 for each state the role is not in.
const HEALTH_STATES: [role::HealthState; 7] = [
    role::HealthState::Starting,
    role::HealthState::NotConfigured,
    role::HealthState::Online,
    role::HealthState::Synchronizing,
    role::HealthState::Warning,
    role::HealthState::Error,
    role::HealthState::Deactivated,
];

/// Registers a metric family, which cannot fail for the fixed, distinct names used here.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are fixed and distinct");
    metric
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    register(registry, metric)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    register(registry, IntGauge::new(name, help).expect("valid metric"))
}

/// A value's name as the JSON shows it (a health state, a worker state: lower case).
fn json_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".to_owned(),
    }
}

/// The status report as Prometheus text.
pub fn encode(status: &SyncStatus) -> String {
    let registry = Registry::new_custom(Some(PREFIX.to_owned()), None).expect("valid prefix");
    let health = gauge_vec(
        &registry,
        "health",
        "1 for the state the role is in (starting, not_configured, online, synchronizing, warning, error, deactivated), 0 for the others",
        &["state"],
    );
    for state in HEALTH_STATES {
        let value = i64::from(state == status.health.state);
        health.with_label_values(&[&json_name(&state)]).set(value);
    }
    gauge(
        &registry,
        "proxy_connected",
        "1 while the role holds a session with the proxy",
    )
    .set(i64::from(status.proxy.connected));

    let synchronized = gauge_vec(
        &registry,
        "entities_synchronized",
        "Entities of each Directory kind in the Directory",
        &["kind"],
    );
    let eligible = gauge_vec(
        &registry,
        "entities_eligible",
        "Entities of each Directory kind eligible in SiPass, as the proxy last reported",
        &["kind"],
    );
    let digest = gauge_vec(
        &registry,
        "digest_match",
        "1 when the Directory's count and digest of a kind equal the proxy's, 0 when they differ (absent until verified)",
        &["kind"],
    );
    for (kind, k) in &status.kinds {
        synchronized
            .with_label_values(&[kind])
            .set(saturating(k.synchronized));
        if let Some(n) = k.eligible {
            eligible.with_label_values(&[kind]).set(saturating(n));
        }
        if let Some(equal) = k.digest_match {
            digest.with_label_values(&[kind]).set(i64::from(equal));
        }
    }

    let received = register(
        &registry,
        IntCounterVec::new(
            Opts::new(
                "entities_received_total",
                "Entities received from the proxy since the role started, by listing (full synchronization) or by watching (real time)",
            ),
            &["via"],
        )
        .expect("valid metric"),
    );
    received
        .with_label_values(&["listing"])
        .inc_by(status.transfer.listed);
    received
        .with_label_values(&["watch"])
        .inc_by(status.transfer.watched);

    // Only while following changes: absent (not zero) while listing or disconnected, so a
    // lag alert does not read "in step" from a role that is not following at all.
    if let (Some(applied), Some(proxy), Some(behind)) = (
        status.revisions.applied,
        status.revisions.proxy,
        status.revisions.behind,
    ) {
        gauge(
            &registry,
            "sync_applied_revision",
            "The revision the Directory holds every change up to, while following changes",
        )
        .set(saturating(applied));
        gauge(
            &registry,
            "sync_proxy_revision",
            "The proxy's latest revision, as it last said while the role follows changes",
        )
        .set(saturating(proxy));
        gauge(
            &registry,
            "sync_lag_revisions",
            "Revisions the Directory is behind the proxy's cache (real-time synchronization lag)",
        )
        .set(saturating(behind));
    }

    if let Some(run) = &status.latest_run {
        gauge(
            &registry,
            "latest_run_id",
            "The id of the latest synchronization run",
        )
        .set(run.id);
        let duration = prometheus::Gauge::new(
            "latest_run_duration_seconds",
            "How long the latest synchronization run took, or has taken so far",
        )
        .expect("valid metric");
        register(&registry, duration).set(run.duration_ms as f64 / 1000.0);
        let outcome = gauge_vec(
            &registry,
            "latest_run_outcome",
            "1 for the latest synchronization run's outcome",
            &["outcome"],
        );
        outcome
            .with_label_values(&[&run.outcome.to_string()])
            .set(1);
        let done = gauge_vec(
            &registry,
            "latest_run_done",
            "Entities of each kind the latest synchronization run has written",
            &["kind"],
        );
        let total = gauge_vec(
            &registry,
            "latest_run_planned",
            "Entities of each kind the latest synchronization run has to write",
            &["kind"],
        );
        for (kind, p) in &run.progress {
            done.with_label_values(&[kind]).set(saturating(p.done));
            total.with_label_values(&[kind]).set(saturating(p.total));
        }
    }

    let workers = gauge_vec(
        &registry,
        "worker_up",
        "1 for each of the role's workers that is running (idle, busy or retrying), 0 for one that has stopped or failed",
        &["worker", "state"],
    );
    let errors = register(
        &registry,
        IntCounterVec::new(
            Opts::new(
                "worker_errors_total",
                "Errors each of the role's workers met since the role started (the connection's are the proxy being unreachable or refusing)",
            ),
            &["worker"],
        )
        .expect("valid metric"),
    );
    for worker in &status.workers {
        errors
            .with_label_values(&[&worker.name])
            .inc_by(worker.errors);
        let state = json_name(&worker.state);
        let up = matches!(state.as_str(), "idle" | "busy" | "retrying");
        workers
            .with_label_values(&[&worker.name, &state])
            .set(i64::from(up));
    }

    TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap_or_else(|e| format!("# the metrics could not be encoded: {e}\n"))
}

fn saturating(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The alarm figures of `/metrics`, read from the plugin database at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlarmFigures {
    /// Alarms not both acknowledged and cleared.
    pub active: u64,
    /// Acknowledgements made here that SiPass has not confirmed yet.
    pub acks_queued: u64,
    /// Alarm changes waiting for the webhook's receiver.
    pub webhook_waiting: u64,
    /// Alarm changes the webhook forgot since the role started (its outbox was full).
    pub webhook_dropped: u64,
}

/// The alarm figures as Prometheus text, to follow [`encode`]'s.
pub fn encode_alarms(figures: &AlarmFigures) -> String {
    let registry = Registry::new_custom(Some(PREFIX.to_owned()), None).expect("valid prefix");
    gauge(
        &registry,
        "alarms_active",
        "Alarms triggered and not yet both acknowledged and cleared",
    )
    .set(figures.active.min(i64::MAX as u64) as i64);
    gauge(
        &registry,
        "alarm_acks_queued",
        "Alarm acknowledgements made here waiting to be delivered to SiPass (the proxy is away, or SiPass did not answer)",
    )
    .set(figures.acks_queued.min(i64::MAX as u64) as i64);
    gauge(
        &registry,
        "alarm_webhook_waiting",
        "Alarm changes waiting for the webhook's receiver (at most 100,000 are kept)",
    )
    .set(saturating(figures.webhook_waiting));
    let dropped = prometheus::IntCounter::new(
        "alarm_webhook_dropped_total",
        "Alarm changes the webhook forgot, oldest first, because its receiver left 100,000 waiting",
    )
    .expect("valid metric");
    register(&registry, dropped).inc_by(figures.webhook_dropped);
    TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap_or_default()
}

/// What the role did with the proxy's journal, from the plugin database.
pub struct EventFigures {
    /// SiPass events stored.
    pub stored: u64,
    /// The plugin database's counters ("not_logged:Access", "ignored:Door Closed",
    /// "unknown_type:...", "alarm_changes", ...).
    pub counters: Vec<(String, u64)>,
}

/// The event figures as Prometheus text, to follow [`encode`]'s. The counters are summed
/// by what happened (the part before ':'), never labelled by SiPass's type names, which
/// SiPass chooses and could make the series unbounded.
pub fn encode_events(figures: &EventFigures) -> String {
    let registry = Registry::new_custom(Some(PREFIX.to_owned()), None).expect("valid prefix");
    let stored = prometheus::IntCounter::new(
        "events_stored_total",
        "SiPass events stored in the plugin database; rate() is the events per second",
    )
    .expect("valid metric");
    register(&registry, stored).inc_by(figures.stored);
    let entries = register(
        &registry,
        IntCounterVec::new(
            Opts::new(
                "journal_entries_total",
                "Journal entries not stored as events, by what was done with them (alarm_changes, not_logged, ignored, unknown_type (stored as a custom event as well), unreadable, ...)",
            ),
            &["outcome"],
        )
        .expect("valid metric"),
    );
    let mut by_outcome = std::collections::BTreeMap::<&str, u64>::new();
    for (counter, count) in &figures.counters {
        let outcome = counter.split(':').next().unwrap_or(counter);
        *by_outcome.entry(outcome).or_default() += count;
    }
    for (outcome, count) in by_outcome {
        entries.with_label_values(&[outcome]).inc_by(count);
    }
    TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap_or_default()
}

#[cfg(test)]
mod event_tests {
    use super::*;

    #[test]
    fn event_counters_are_summed_by_outcome_never_by_sipass_type() {
        let text = encode_events(&EventFigures {
            stored: 12,
            counters: vec![
                ("ignored:Door Closed".into(), 2),
                ("ignored:<script>".into(), 3),
                ("alarm_changes".into(), 4),
            ],
        });
        assert!(
            text.contains("sipass_bridge_role_events_stored_total 12"),
            "{text}"
        );
        assert!(
            text.contains("sipass_bridge_role_journal_entries_total{outcome=\"ignored\"} 5"),
            "{text}"
        );
        assert!(
            text.contains("sipass_bridge_role_journal_entries_total{outcome=\"alarm_changes\"} 4"),
            "{text}"
        );
        assert!(
            !text.contains("Door Closed") && !text.contains("script"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod alarm_tests {
    use super::*;

    #[test]
    fn alarm_figures_are_gauges_with_the_role_prefix() {
        let text = encode_alarms(&AlarmFigures {
            active: 3,
            acks_queued: 1,
            webhook_waiting: 7,
            webhook_dropped: 2,
        });
        assert!(
            text.contains("# TYPE sipass_bridge_role_alarms_active gauge"),
            "{text}"
        );
        assert!(
            text.contains("sipass_bridge_role_alarms_active 3\n"),
            "{text}"
        );
        assert!(
            text.contains("sipass_bridge_role_alarm_acks_queued 1\n"),
            "{text}"
        );
        assert!(
            text.contains("sipass_bridge_role_alarm_webhook_waiting 7\n")
                && text.contains("sipass_bridge_role_alarm_webhook_dropped_total 2\n"),
            "{text}"
        );
    }
}
