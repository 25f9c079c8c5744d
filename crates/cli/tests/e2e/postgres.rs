//! The role on PostgreSQL: a throwaway cluster of the machine's PostgreSQL (never a mock),
//! a role started with `--database-url`, 100,000 cardholders synchronized from the simulator
//! through a proxy and verified, changes followed, events stored, and the database
//! commands working on it.

use std::collections::BTreeSet;
use std::time::Duration;

use pgcluster::Cluster;
use serde_json::json;
use store::{EventFilter, PluginRead};

use crate::support::{
    SipassApi, TempDir, cardholders_in_sipass, eventually, free_port, role_status, run, s,
    start_proxy, start_sim, verified,
};

const LARGE: usize = 100_000;
/// How long a large synchronization may take on a slow two-core machine.
const LARGE_DEADLINE: Duration = Duration::from_secs(600);
const EVENTS: usize = 50;

/// Every cardholder in the role's PostgreSQL Directory, read through `store`.
fn cardholders_in_postgres(url: &str) -> BTreeSet<(String, String)> {
    let directory = harness::directory::open_postgres(url).unwrap();
    harness::directory::cardholders_in(directory.as_ref()).unwrap()
}

/// SiPass's event ids stored in the role's PostgreSQL plugin database.
fn stored_event_ids(plugin: &dyn PluginRead) -> Vec<String> {
    let filter = EventFilter {
        limit: 10_000,
        ..EventFilter::default()
    };
    plugin
        .events(&filter)
        .unwrap()
        .into_iter()
        .map(|e| e.sipass_id)
        .collect()
}

#[test]
fn a_role_on_postgresql_synchronizes_a_hundred_thousand_cardholders_and_stores_events() {
    let cluster = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.create_database("bridge").unwrap();
    let dir = TempDir::new("postgres");
    let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
    let (_sim, sim_url) = start_sim(&sim_dir, LARGE);
    let port = free_port();
    let (_proxy, _) = start_proxy(&proxy_dir, &sim_dir, &sim_url, Some(port), &[]);
    let (_role, role_url) =
        crate::support::start_role_with(&role_dir, &proxy_dir, port, &["--database-url", &url]);

    let status = eventually(LARGE_DEADLINE, "the synchronization to be verified", || {
        role_status(&role_url, &role_dir).filter(verified)
    });
    assert!(status.kinds["cardholder"].synchronized >= LARGE as u64);
    assert!(
        !role_dir.join("directory.db").exists() && !role_dir.join("plugin.db").exists(),
        "nothing is kept in SQLite files"
    );

    // What PostgreSQL holds is SiPass's, row for row, and follows a change.
    let api = SipassApi::login(&sim_url, &sim_dir);
    let mut c = api.ok("GET", "/api/V1/hr/Cardholders/30", None);
    c["LastName"] = json!("OnPostgres");
    api.ok("PUT", "/api/V1/hr/Cardholders/30", Some(c));
    let expected = cardholders_in_sipass(&api);
    assert!(expected.len() >= LARGE);
    eventually(
        Duration::from_secs(120),
        "the Directory to equal SiPass",
        || (cardholders_in_postgres(&url) == expected).then_some(()),
    );

    // Events reach the plugin database on PostgreSQL, each once.
    let emitted: BTreeSet<String> = (0..EVENTS)
        .map(|_| {
            let event = api.ok(
                "POST",
                "/api/sim/V1/Events",
                Some(json!({ "Type": "Access Granted" })),
            );
            event["Id"]
                .as_str()
                .map_or_else(|| event["Id"].to_string(), str::to_owned)
        })
        .collect();
    let plugin = store::open_postgres_plugin_read_only(&url).unwrap();
    let stored = eventually(Duration::from_secs(120), "every event stored", || {
        let ids = stored_event_ids(plugin.as_ref());
        (ids.len() >= EVENTS).then_some(ids)
    });
    assert_eq!(stored.len(), EVENTS, "each event stored once");
    assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), emitted);

    // The database commands work on it: status reads both schemas, up to date.
    let (ok, out, err) = run(&["db", "status", "--json", "--database-url", &url], &[]);
    assert!(ok, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let databases = status["databases"].as_array().unwrap();
    assert_eq!(databases.len(), 2);
    for db in databases {
        assert_eq!(db["found"], db["expected"], "{db}");
    }
    assert!(out.contains("\"entities\""), "{out}");

    // A backup through the running role is refused, naming PostgreSQL's own tools.
    let backup = dir.0.join("role.backup");
    let (ok, _, err) = run(&["db", "backup", s(&backup), "--data", s(&role_dir)], &[]);
    assert!(!ok, "a backup of a role on PostgreSQL is refused");
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!backup.exists(), "nothing is written");
}
