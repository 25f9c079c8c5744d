//! Events end to end: SiPass events injected into the simulator reach the role's plugin
//! database through the proxy's journal, each exactly once, mapped and linked, while the
//! proxy and then the role are killed with SIGKILL mid-stream.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use model::event_mapping::{linked_kinds, native_events};
use model::management::{EVENT_TYPES, ObjectKind};
use serde_json::{Value, json};
use store::{EventFilter, PluginRead, StoredEvent};

use crate::support::{
    SipassApi, TempDir, eventually, free_port, run, s, start_proxy, start_role, start_sim,
};

const EVENTS: usize = 10_000;
const DEADLINE: Duration = Duration::from_secs(300);
const PACE: Duration = Duration::from_millis(2);

/// The role's plugin database, read beside the running role (None until it exists).
fn plugin(role_dir: &Path) -> Option<Arc<dyn PluginRead>> {
    store::open_plugin_read_only(&role_dir.join("plugin.db")).ok()
}

fn stored_count(role_dir: &Path) -> u64 {
    plugin(role_dir)
        .and_then(|p| p.event_count().ok())
        .unwrap_or(0)
}

/// Every stored event, oldest first.
fn all_stored(role_dir: &Path) -> Vec<StoredEvent> {
    let plugin = plugin(role_dir).expect("the plugin database opens");
    let mut out: Vec<StoredEvent> = Vec::new();
    loop {
        let page = plugin
            .events(&EventFilter {
                after_id: out.last().map_or(0, |e| e.id),
                limit: 5_000,
                ..EventFilter::default()
            })
            .expect("events read");
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Injects `EVENTS` events, every type in turn, counting them in `injected`; returns each
/// as the simulator emitted it, in order. Paced (a few hundred a second) so that both kills
/// fall while events still flow.
fn inject(api: &SipassApi, injected: &AtomicUsize) -> Vec<Value> {
    (0..EVENTS)
        .map(|i| {
            let event_type = EVENT_TYPES[i % EVENT_TYPES.len()].name;
            let event = api.ok(
                "POST",
                "/api/sim/V1/Events",
                Some(json!({ "Type": event_type })),
            );
            injected.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(PACE);
            event
        })
        .collect()
}

/// The (kind, id) links a stored event must have for what the simulator emitted.
fn expected_links(emitted: &Value) -> BTreeSet<(String, String)> {
    let mut links = BTreeSet::new();
    let kind: Option<ObjectKind> = serde_json::from_value(emitted["EntityKind"].clone()).ok();
    let token = emitted["EntityToken"].as_str().unwrap_or_default();
    if let Some(kind) = kind
        && !token.is_empty()
    {
        for k in linked_kinds(kind) {
            links.insert(((*k).to_owned(), token.to_owned()));
        }
    }
    let cardholder = emitted["CardholderToken"].as_str().unwrap_or_default();
    if !cardholder.is_empty() {
        links.insert(("cardholder".into(), cardholder.to_owned()));
    }
    let card = emitted["CardNo"].as_str().unwrap_or_default();
    if !card.is_empty() {
        let id = format!("{}:{}:{card}", emitted["CardTech"], emitted["CardFacility"]);
        links.insert(("credential".into(), id));
    }
    links
}

#[test]
fn ten_thousand_events_of_every_type_are_stored_once_through_a_proxy_and_a_role_killed_mid_stream()
{
    let dir = TempDir::new("events");
    let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
    let (_sim, url) = start_sim(&sim_dir, 200);
    let port = free_port();
    let (mut proxy, _) = start_proxy(&proxy_dir, &sim_dir, &url, Some(port), &[]);
    let (mut role, _) = start_role(&role_dir, &proxy_dir, port);

    let injected = Arc::new(AtomicUsize::new(0));
    let injector = {
        let (url, sim_dir, injected) = (url.clone(), sim_dir.clone(), injected.clone());
        std::thread::spawn(move || inject(&SipassApi::login(&url, &sim_dir), &injected))
    };

    // The proxy killed while events flow, and started again on its port.
    eventually(DEADLINE, "2,000 events stored", || {
        (stored_count(&role_dir) >= 2_000).then_some(())
    });
    proxy.kill().unwrap(); // SIGKILL
    let at_proxy_kill = injected.load(Ordering::SeqCst);
    let (_proxy, _) = start_proxy(&proxy_dir, &sim_dir, &url, Some(port), &[]);

    // The role killed while events flow, and started again.
    eventually(DEADLINE, "6,000 events stored", || {
        (stored_count(&role_dir) >= 6_000).then_some(())
    });
    role.kill().unwrap(); // SIGKILL
    let at_role_kill = injected.load(Ordering::SeqCst);
    let (_role, role_url) = start_role(&role_dir, &proxy_dir, port);
    assert!(
        at_proxy_kill < EVENTS && at_role_kill < EVENTS,
        "the kills came mid-stream (injected {at_proxy_kill} and {at_role_kill} of {EVENTS})"
    );

    let emitted = injector.join().expect("the injector ran");
    eventually(DEADLINE, "every event stored", || {
        (stored_count(&role_dir) >= EVENTS as u64).then_some(())
    });
    // A moment for anything doubled to show up too.
    std::thread::sleep(Duration::from_secs(1));
    let stored = all_stored(&role_dir);
    assert_eq!(stored.len(), EVENTS, "nothing lost, nothing doubled");

    // Sequence by sequence: the journal's numbers without a gap or a repeat, each holding
    // the event the simulator emitted at that place, mapped and linked.
    for (i, (event, emitted)) in stored.iter().zip(&emitted).enumerate() {
        assert_eq!(event.journal_seq, i as u64 + 1, "journal sequence at {i}");
        assert_eq!(event.sipass_id, emitted["Id"].as_str().unwrap(), "at {i}");
        let event_type = emitted["Type"].as_str().unwrap();
        assert_eq!(event.sipass_type, event_type);
        assert!(event.known_type, "{event_type}");
        assert_eq!(
            event.native_events,
            native_events(event_type).unwrap(),
            "{event_type}"
        );
        let links: BTreeSet<(String, String)> = event
            .entities
            .iter()
            .map(|e| (e.kind.clone(), e.id.clone()))
            .collect();
        assert_eq!(links, expected_links(emitted), "{event_type} at {i}");
        assert!(
            event.entities.iter().all(|e| !e.name.is_empty()),
            "{event:?}"
        );
    }
    let types: BTreeSet<&str> = stored.iter().map(|e| e.sipass_type.as_str()).collect();
    assert_eq!(types.len(), EVENT_TYPES.len(), "every type");

    // What a user sees: the listing and the export carry SiPass's id beside ours.
    let door_forced = emitted
        .iter()
        .filter(|e| e["Type"] == "Door Forced")
        .count();
    let (ok, out, err) = run(
        &[
            "events",
            "list",
            "--json",
            "--type",
            "Door Forced",
            "--limit",
            "10000",
            "--data",
            s(&role_dir),
            "--role",
            &role_url,
        ],
        &[],
    );
    assert!(ok, "events list failed: {err}");
    let page: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), door_forced);
    let csv = dir.0.join("events.csv");
    let (ok, out, err) = run(
        &[
            "events",
            "export",
            "--since",
            "0",
            "--until",
            "99999999999999",
            "--out",
            s(&csv),
            "--data",
            s(&role_dir),
            "--role",
            &role_url,
        ],
        &[],
    );
    assert!(ok, "events export failed: {err}");
    assert!(out.contains(&format!("{EVENTS} events written")), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("id,sipass_id,journal_seq,"),
        "{}",
        &text[..80]
    );
    assert_eq!(
        text.lines().filter(|l| l.contains("Door Forced")).count(),
        door_forced
    );
}
