//! The role on PostgreSQL: a throwaway cluster of the machine's PostgreSQL (never a mock),
//! a role started with `--database-url`, 100,000 cardholders synchronized from the simulator
//! through a proxy and verified, changes followed, events stored, and the database
//! commands working on it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pgcluster::Cluster;
use serde_json::Value;
use serde_json::json;
use store::{EventFilter, PluginRead, StoredEvent};

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
    // And without the role, on the database directly, both ways.
    for command in ["backup", "restore"] {
        let (ok, _, err) = run(&["db", command, s(&backup), "--database-url", &url], &[]);
        assert!(
            !ok && err.contains("pg_dump") && err.contains("pg_restore"),
            "{err}"
        );
    }
    assert!(!backup.exists(), "nothing is written");
}

/// The role's health as `/health` gives it (state, reason, lease).
fn health(role_url: &str) -> Option<Value> {
    let (_, body) =
        harness::blocking::get_text(&format!("{}/health", role_url.trim_end_matches('/'))).ok()?;
    serde_json::from_str(&body).ok()
}

/// Every stored event, oldest first.
fn all_stored(plugin: &dyn PluginRead) -> Vec<StoredEvent> {
    let mut out: Vec<StoredEvent> = Vec::new();
    loop {
        let filter = EventFilter {
            after_id: out.last().map_or(0, |e| e.id),
            limit: 5_000,
            ..EventFilter::default()
        };
        let page = plugin.events(&filter).unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

const FAILOVER_EVENTS: usize = 1_500;

/// Injects events at a pace, counting them; returns each as the simulator emitted it.
fn inject(api: &SipassApi, injected: &AtomicUsize) -> Vec<Value> {
    (0..FAILOVER_EVENTS)
        .map(|_| {
            let event = api.ok(
                "POST",
                "/api/sim/V1/Events",
                Some(json!({ "Type": "Access Granted" })),
            );
            injected.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(4));
            event
        })
        .collect()
}

#[test]
fn two_roles_share_one_postgresql_and_the_standby_takes_over_within_ten_seconds_of_a_kill() {
    let cluster = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.create_database("shared").unwrap();
    let dir = TempDir::new("failover");
    let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
    let (_sim, sim_url) = start_sim(&sim_dir, 1_000);
    let port = free_port();
    let (_proxy, _) = start_proxy(&proxy_dir, &sim_dir, &sim_url, Some(port), &[]);
    let flags = ["--database-url", url.as_str()];
    let (a_dir, b_dir) = (dir.sub("role-a"), dir.sub("role-b"));
    let (mut a, a_url) = crate::support::start_role_with(&a_dir, &proxy_dir, port, &flags);
    eventually(Duration::from_secs(120), "role A verified", || {
        role_status(&a_url, &a_dir).filter(verified)
    });
    let (_b, b_url) = crate::support::start_role_with(&b_dir, &proxy_dir, port, &flags);

    // One active, one standby, and each says which and why.
    let standby = eventually(Duration::from_secs(30), "role B a standby naming A", || {
        health(&b_url).filter(|h| h["lease"].as_str().is_some_and(|l| l.contains("holds")))
    });
    assert_eq!(standby["state"], "deactivated", "{standby}");
    let lease = standby["lease"].as_str().unwrap();
    assert!(
        lease.starts_with("standby: the role sipass-bridge role")
            && lease.contains(&format!("pid {}", a.id())),
        "{lease}"
    );
    let active = health(&a_url).unwrap();
    assert_eq!(active["state"], "online", "{active}");
    assert!(
        active["lease"].as_str().unwrap().starts_with("active"),
        "{active}"
    );
    // The standby cannot be activated by hand beside the active one.
    let (ok, _, err) = run(&["role-state", "activate", "--data", s(&b_dir)], &[]);
    assert!(
        !ok && err.contains("standby") && err.contains("holds the lease"),
        "{err}"
    );
    assert_eq!(health(&b_url).unwrap()["state"], "deactivated");

    // Events flow; role A is killed mid-stream.
    let injected = Arc::new(AtomicUsize::new(0));
    let injector = {
        let (sim_url, sim_dir, injected) = (sim_url.clone(), sim_dir.clone(), injected.clone());
        std::thread::spawn(move || inject(&SipassApi::login(&sim_url, &sim_dir), &injected))
    };
    let plugin = store::open_postgres_plugin_read_only(&url).unwrap();
    eventually(Duration::from_secs(120), "300 events stored by A", || {
        (plugin.event_count().unwrap() >= 300).then_some(())
    });
    a.kill().unwrap(); // SIGKILL
    let killed = Instant::now();
    let at_kill = injected.load(Ordering::SeqCst);
    // Active means holding the lease and working again: connected, synchronized.
    let taken = eventually(
        Duration::from_secs(10),
        "role B working within 10 s",
        || {
            health(&b_url).filter(|h| {
                (h["state"] == "online" || h["state"] == "synchronizing")
                    && h["lease"].as_str().is_some_and(|l| l.starts_with("active"))
            })
        },
    );
    eprintln!(
        "role B active {} ms after the kill: {taken}",
        killed.elapsed().as_millis()
    );
    assert!(
        at_kill < FAILOVER_EVENTS,
        "the kill came mid-stream ({at_kill})"
    );

    // B resumes where A stopped: nothing lost, nothing doubled, sequence by sequence.
    let emitted = injector.join().expect("the injector ran");
    eventually(Duration::from_secs(120), "every event stored", || {
        (plugin.event_count().unwrap() >= FAILOVER_EVENTS as u64).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    let stored = all_stored(plugin.as_ref());
    assert_eq!(
        stored.len(),
        FAILOVER_EVENTS,
        "nothing lost, nothing doubled"
    );
    for (i, (event, emitted)) in stored.iter().zip(&emitted).enumerate() {
        assert_eq!(event.journal_seq, i as u64 + 1, "journal sequence at {i}");
        assert_eq!(event.sipass_id, emitted["Id"].as_str().unwrap(), "at {i}");
    }
    // And synchronization goes on under B: a change in SiPass reaches the Directory.
    let api = SipassApi::login(&sim_url, &sim_dir);
    let mut c = api.ok("GET", "/api/V1/hr/Cardholders/7", None);
    c["LastName"] = json!("AfterFailover");
    api.ok("PUT", "/api/V1/hr/Cardholders/7", Some(c));
    eventually(Duration::from_secs(60), "the change under B", || {
        cardholders_in_postgres(&url)
            .iter()
            .any(|(id, name)| id == "7" && name.contains("AfterFailover"))
            .then_some(())
    });
    eventually(Duration::from_secs(60), "B verified", || {
        role_status(&b_url, &b_dir).filter(verified)
    });

    // The stream exported through B and imported into the shared database adds nothing.
    let csv = dir.0.join("events.csv");
    let export = [
        "events",
        "export",
        "--since",
        "0",
        "--until",
        "99999999999999",
        "--out",
        s(&csv),
        "--data",
        s(&b_dir),
        "--role",
        &b_url,
    ];
    let (ok, _, err) = run(&export, &[]);
    assert!(ok, "events export failed: {err}");
    let (ok, out, err) = run(
        &[
            "events",
            "import",
            s(&csv),
            "--database-url",
            &url,
            "--json",
        ],
        &[],
    );
    assert!(ok, "events import failed: {err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["imported"], 0, "{report}");
    assert_eq!(report["skipped"], FAILOVER_EVENTS, "{report}");
    assert_eq!(plugin.event_count().unwrap(), FAILOVER_EVENTS as u64);
}
