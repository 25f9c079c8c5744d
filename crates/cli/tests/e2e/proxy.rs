//! The proxy against the simulator: every change reaches a watching client in order, a missed
//! push message is found, a killed proxy loses nothing, and a client in another language
//! works from the .proto files alone.

use std::path::Path;
use std::time::{Duration, Instant};

use protocol::pb::{self, watch_event::Event};
use serde_json::{Value, json};

use crate::support::{SipassApi, TempDir, eventually, s, start_proxy, start_sim};

/// A bridge-protocol client of the proxy whose data is in `proxy_dir`.
fn bridge(api: &SipassApi, proxy_dir: &Path, addr: &str) -> protocol::BridgeClient {
    let port = addr.rsplit_once(':').unwrap().1.parse().unwrap();
    let address = harness::proxy_address(proxy_dir, port).unwrap();
    api.runtime.block_on(protocol::connect(&address)).unwrap()
}

/// Waits until the proxy has loaded SiPass and answers Summary.
fn wait_loaded(api: &SipassApi, client: &mut protocol::BridgeClient) -> pb::SummaryReply {
    eventually(Duration::from_secs(60), "the proxy to load SiPass", || {
        api.runtime
            .block_on(client.summary(pb::SummaryRequest { kinds: vec![] }))
            .ok()
            .map(|r| r.into_inner())
    })
}

fn eligible(summary: &pb::SummaryReply, kind: pb::EntityKind) -> u64 {
    summary
        .kinds
        .iter()
        .find(|k| k.kind == kind as i32)
        .map_or(0, |k| k.eligible)
}

/// Reads the watch stream until `wanted` matches a change; returns the changes seen.
fn until_change(
    api: &SipassApi,
    stream: &mut tonic::Streaming<pb::WatchEvent>,
    what: &str,
    wanted: impl Fn(&pb::Change) -> bool,
) -> Vec<pb::Change> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = api
            .runtime
            .block_on(async { tokio::time::timeout(left, stream.message()).await })
            .unwrap_or_else(|_| panic!("timed out waiting for {what}; saw {seen:?}"))
            .unwrap()
            .unwrap();
        if let Some(Event::Changes(batch)) = message.event {
            for change in batch.changes {
                let done = wanted(&change);
                seen.push(change);
                if done {
                    return seen;
                }
            }
        }
    }
}

fn cardholder_body(api: &SipassApi, token: &str) -> Value {
    api.ok("GET", &format!("/api/V1/hr/Cardholders/{token}"), None)
}

#[test]
fn list_and_watch_deliver_every_change_made_through_both_apis_in_order() {
    let dir = TempDir::new("watch");
    let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
    let (_sim, url) = start_sim(&sim_dir, 200);
    let (_proxy, addr) = start_proxy(&proxy_dir, &sim_dir, &url, None, &[]);
    let api = SipassApi::login(&url, &sim_dir);
    let mut client = bridge(&api, &proxy_dir, &addr);
    let summary = wait_loaded(&api, &mut client);
    assert_eq!(eligible(&summary, pb::EntityKind::Cardholder), 200);

    // List the cardholders in pages, then watch from the listing's snapshot.
    let (mut listed, mut token) = (0, String::new());
    let snapshot = loop {
        let page = api
            .runtime
            .block_on(client.list(pb::ListRequest {
                kind: pb::EntityKind::Cardholder as i32,
                page_size: 64,
                page_token: token,
            }))
            .unwrap()
            .into_inner();
        listed += page.entities.len();
        token = page.next_page_token;
        if token.is_empty() {
            break page.snapshot_revision;
        }
    };
    assert_eq!(listed, 200);
    let mut stream = api
        .runtime
        .block_on(client.watch(pb::WatchRequest {
            after_revision: snapshot,
            kinds: vec![],
            cache_id: String::new(),
        }))
        .unwrap()
        .into_inner();
    let mut revisions = Vec::new();

    // HR API: create, update, delete a cardholder.
    let mut new = cardholder_body(&api, "1");
    new["Token"] = json!("-1");
    new["FirstName"] = json!("Grace");
    new["LastName"] = json!("Created");
    new["Credentials"] = json!([]);
    let created = api.ok("POST", "/api/V1/hr/Cardholders", Some(new));
    let created = created["Token"].as_str().unwrap().to_owned();
    let seen = until_change(&api, &mut stream, "the created cardholder", |c| {
        c.id == created && c.name == "Grace Created"
    });
    revisions.extend(seen.iter().map(|c| c.revision));

    let mut changed = cardholder_body(&api, "1");
    changed["LastName"] = json!("Renamed");
    api.ok("PUT", "/api/V1/hr/Cardholders/1", Some(changed.clone()));
    let seen = until_change(&api, &mut stream, "the updated cardholder", |c| {
        c.id == "1" && c.name.ends_with("Renamed")
    });
    revisions.extend(seen.iter().map(|c| c.revision));

    api.ok("DELETE", "/api/V1/hr/Cardholders/2", None);
    let seen = until_change(&api, &mut stream, "the deleted cardholder", |c| {
        c.id == "2" && c.deleted
    });
    revisions.extend(seen.iter().map(|c| c.revision));

    // Management side: rename a door, delete an alarm class.
    let doors = api.ok("GET", "/api/management/V1/Doorsets", None);
    let mut door = doors["Records"][0].clone();
    let door_token = door["Token"].as_str().unwrap().to_owned();
    door["Name"] = json!("Renamed door");
    api.ok(
        "PUT",
        &format!("/api/sim/V1/Doorsets/{door_token}"),
        Some(door),
    );
    let seen = until_change(&api, &mut stream, "the renamed door", |c| {
        c.kind == pb::EntityKind::Doorset as i32 && c.id == door_token && c.name == "Renamed door"
    });
    revisions.extend(seen.iter().map(|c| c.revision));

    let classes = api.ok("GET", "/api/management/V1/AlarmClasses", None);
    let class = classes["Records"][0]["Token"].as_str().unwrap().to_owned();
    api.ok("DELETE", &format!("/api/sim/V1/AlarmClasses/{class}"), None);
    let seen = until_change(&api, &mut stream, "the deleted alarm class", |c| {
        c.kind == pb::EntityKind::AlarmClass as i32 && c.id == class && c.deleted
    });
    revisions.extend(seen.iter().map(|c| c.revision));

    assert!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "revisions in order: {revisions:?}"
    );
}

#[test]
fn a_change_whose_push_message_was_dropped_is_found_by_reconciliation() {
    let dir = TempDir::new("dropped");
    let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
    let (_sim, url) = start_sim(&sim_dir, 50);
    // A long reconciliation period: only the gap can explain finding the change quickly.
    let (_proxy, addr) = start_proxy(
        &proxy_dir,
        &sim_dir,
        &url,
        None,
        &["--reload-every", "3600"],
    );
    let api = SipassApi::login(&url, &sim_dir);
    let mut client = bridge(&api, &proxy_dir, &addr);
    wait_loaded(&api, &mut client);

    let event = api.ok(
        "POST",
        "/api/sim/V1/Events",
        Some(json!({"Type": "Access Granted"})),
    );
    let next = event["Sequence"]
        .as_u64()
        .expect("the injected event's sequence")
        + 1;
    api.ok(
        "PUT",
        "/api/sim/V1/Faults",
        Some(json!({"DropPushSequence": next})),
    );
    let mut changed = cardholder_body(&api, "3");
    changed["LastName"] = json!("Unannounced");
    api.ok("PUT", "/api/V1/hr/Cardholders/3", Some(changed));
    // The next message reveals the gap.
    api.ok(
        "POST",
        "/api/sim/V1/Events",
        Some(json!({"Type": "Door Forced"})),
    );

    eventually(
        Duration::from_secs(30),
        "the unannounced change in the proxy",
        || {
            let page = api
                .runtime
                .block_on(client.list(pb::ListRequest {
                    kind: pb::EntityKind::Cardholder as i32,
                    page_size: 100,
                    page_token: String::new(),
                }))
                .ok()?
                .into_inner();
            page.entities
                .iter()
                .any(|e| e.id == "3" && e.name.ends_with("Unannounced"))
                .then_some(())
        },
    );
}

/// Every journaled entry's SiPass sequence number, read through the Events stream.
fn journaled(api: &SipassApi, client: &mut protocol::BridgeClient, expected: usize) -> Vec<u64> {
    let mut stream = api
        .runtime
        .block_on(client.events(pb::EventsRequest {
            after_sequence: 0,
            ..Default::default()
        }))
        .unwrap()
        .into_inner();
    let mut sequences = Vec::new();
    let mut journal_seqs = Vec::new();
    while sequences.len() < expected {
        let batch = api
            .runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(20), stream.message()).await
            })
            .unwrap_or_else(|_| panic!("only {} of {expected} events journaled", sequences.len()))
            .unwrap()
            .unwrap();
        for entry in batch.entries {
            journal_seqs.push(entry.sequence);
            let payload: Value = serde_json::from_slice(&entry.payload).unwrap();
            sequences.push(payload["Sequence"].as_u64().unwrap());
        }
    }
    assert!(
        journal_seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gapless journal: {journal_seqs:?}"
    );
    sequences
}

#[test]
fn a_proxy_killed_with_sigkill_loses_no_event_and_reuses_no_revision() {
    let dir = TempDir::new("sigkill");
    let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
    let (_sim, url) = start_sim(&sim_dir, 50);
    let api = SipassApi::login(&url, &sim_dir);
    let inject = |n: usize| -> Vec<u64> {
        (0..n)
            .map(|_| {
                api.ok(
                    "POST",
                    "/api/sim/V1/Events",
                    Some(json!({"Type": "Access Granted"})),
                )["Sequence"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };

    let (mut proxy, addr) = start_proxy(&proxy_dir, &sim_dir, &url, None, &[]);
    let mut client = bridge(&api, &proxy_dir, &addr);
    wait_loaded(&api, &mut client);
    let mut injected = inject(30);
    assert_eq!(journaled(&api, &mut client, 30), injected);
    let before = api
        .runtime
        .block_on(client.hello(pb::HelloRequest {
            product_version: "0.1.0".into(),
            protocol_version: 1,
            client_name: "e2e".into(),
        }))
        .unwrap()
        .into_inner();

    proxy.kill().unwrap(); // SIGKILL: no chance to clean up
    injected.extend(inject(30)); // while the proxy is down
    let mut changed = cardholder_body(&api, "5");
    changed["LastName"] = json!("WhileDown");
    api.ok("PUT", "/api/V1/hr/Cardholders/5", Some(changed));

    let (_proxy, addr) = start_proxy(&proxy_dir, &sim_dir, &url, None, &[]);
    let mut client = bridge(&api, &proxy_dir, &addr);
    injected.extend(inject(10));
    assert_eq!(
        journaled(&api, &mut client, 70),
        injected,
        "every event, once, in order"
    );

    let after = api
        .runtime
        .block_on(client.hello(pb::HelloRequest {
            product_version: "0.1.0".into(),
            protocol_version: 1,
            client_name: "e2e".into(),
        }))
        .unwrap()
        .into_inner();
    assert_eq!(after.cache_id, before.cache_id, "the cache survived");
    let mut stream = api
        .runtime
        .block_on(client.watch(pb::WatchRequest {
            after_revision: before.revision,
            kinds: vec![],
            cache_id: before.cache_id.clone(),
        }))
        .unwrap()
        .into_inner();
    let seen = until_change(
        &api,
        &mut stream,
        "the change made while the proxy was down",
        |c| c.id == "5" && c.name.ends_with("WhileDown"),
    );
    assert!(
        seen.iter().all(|c| c.revision > before.revision),
        "no revision reused: {seen:?}"
    );
}

#[test]
fn a_python_client_generated_from_the_proto_files_calls_hello_and_list_over_tls() {
    let dir = TempDir::new("python");
    let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
    let (_sim, url) = start_sim(&sim_dir, 120);
    let metrics_addr = format!("127.0.0.1:{}", crate::support::free_port());
    let (_proxy, addr) = start_proxy(
        &proxy_dir,
        &sim_dir,
        &url,
        None,
        &["--metrics-listen", &metrics_addr],
    );
    let api = SipassApi::login(&url, &sim_dir);
    wait_loaded(&api, &mut bridge(&api, &proxy_dir, &addr));

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("tests/python/bridge_client.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .args(["--target", &addr, "--ca", s(&proxy_dir.join("tls/ca.pem"))])
        .args([
            "--token-file",
            s(&proxy_dir.join("proxy-token")),
            "--proto-dir",
            s(&root.join("proto")),
        ])
        .output()
        .expect("python3 is needed: scripts/test installs it with grpcio and grpcio-tools");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Python client failed (scripts/test installs grpcio and grpcio-tools):\n{stderr}"
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["protocol_version"], 1);
    assert_eq!(answer["sipass_version"], "2.80");
    assert_eq!(answer["cardholders"], 120);
    assert_eq!(answer["distinct_ids"], 120);
    assert_eq!(
        answer["health"],
        serde_json::json!({"(server)": "SERVING", "sipassbridge.v1.Bridge": "SERVING"})
    );

    // The proxy's metrics pass Prometheus's own checker and say what the client saw.
    let (code, metrics) =
        harness::blocking::get_text(&format!("http://{metrics_addr}/metrics")).unwrap();
    assert_eq!(code, 200, "{metrics}");
    crate::support::promtool_check(&metrics);
    let value = |name: &str, labels: &str| crate::support::metric_value(&metrics, name, labels);
    assert_eq!(value("sipass_bridge_proxy_loaded", ""), Some(1.0));
    let age = value(
        "sipass_bridge_proxy_journal_oldest_unacknowledged_age_seconds",
        "",
    );
    assert!(age.is_some_and(|a| a >= 0.0), "{metrics}");
    assert_eq!(
        value(
            "sipass_bridge_proxy_entities_eligible",
            "kind=\"cardholder\""
        ),
        Some(120.0)
    );
    assert_eq!(
        value(
            "sipass_bridge_proxy_worker_up",
            "state=\"idle\",worker=\"bridge-server\""
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[test]
fn bad_clients_are_refused_clearly_and_others_are_still_served() {
    let dir = TempDir::new("badclients");
    let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
    let (_sim, url) = start_sim(&sim_dir, 20);
    let (_proxy, addr) = start_proxy(&proxy_dir, &sim_dir, &url, None, &[]);
    let api = SipassApi::login(&url, &sim_dir);
    let mut good = bridge(&api, &proxy_dir, &addr);
    wait_loaded(&api, &mut good);
    let (host, port) = addr.rsplit_once(':').unwrap();
    let ca_pem = std::fs::read_to_string(proxy_dir.join("tls/ca.pem")).unwrap();

    // A wrong token: refused on every call, saying what to do.
    let wrong = protocol::ProxyAddress {
        host: host.to_owned(),
        port: port.parse().unwrap(),
        ca_pem: ca_pem.clone(),
        token: "not-the-token".into(),
    };
    let mut intruder = api.runtime.block_on(protocol::connect(&wrong)).unwrap();
    let status = api
        .runtime
        .block_on(intruder.summary(pb::SummaryRequest { kinds: vec![] }))
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(
        status.message().contains("bridge token"),
        "{}",
        status.message()
    );

    // An incompatible protocol version: refused, naming both versions and the rule.
    let status = api
        .runtime
        .block_on(good.hello(pb::HelloRequest {
            product_version: "9.0.0".into(),
            protocol_version: 99,
            client_name: "old".into(),
        }))
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    for expected in ["9.0.0", "99", "same-protocol-version"] {
        assert!(
            status.message().contains(expected),
            "{expected}: {}",
            status.message()
        );
    }

    // A client that does not trust the proxy's CA: the TLS handshake fails.
    let untrusted = protocol::ProxyAddress {
        ca_pem: std::fs::read_to_string(sim_dir.join("ca.pem")).unwrap(),
        ..wrong.clone()
    };
    assert!(api.runtime.block_on(protocol::connect(&untrusted)).is_err());

    // A malformed page token: a clear INVALID_ARGUMENT.
    let status = api
        .runtime
        .block_on(good.list(pb::ListRequest {
            kind: pb::EntityKind::Cardholder as i32,
            page_size: 10,
            page_token: "garbage".into(),
        }))
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);

    // The good client is still served.
    let summary = api
        .runtime
        .block_on(good.summary(pb::SummaryRequest { kinds: vec![] }))
        .unwrap()
        .into_inner();
    assert_eq!(eligible(&summary, pb::EntityKind::Cardholder), 20);
}

#[test]
fn the_proxy_serves_a_certificate_given_as_files_and_names_a_bad_one() {
    let dir = TempDir::new("tlsfiles");
    let (sim_dir, proxy_dir, pki) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("pki"));
    let (_sim, url) = start_sim(&sim_dir, 10);
    let authority = tls::Authority::load_or_create(&pki, "Site CA").unwrap();
    let identity = authority.issue_server(&["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(pki.join("proxy.pem"), &identity.cert_pem).unwrap();
    std::fs::write(pki.join("proxy-key.pem"), &identity.key_pem).unwrap();
    let (cert, key, ca) = (
        pki.join("proxy.pem"),
        pki.join("proxy-key.pem"),
        pki.join("ca.pem"),
    );

    let (_proxy, addr) = start_proxy(
        &proxy_dir,
        &sim_dir,
        &url,
        None,
        &[
            "--tls-cert",
            s(&cert),
            "--tls-key",
            s(&key),
            "--tls-ca",
            s(&ca),
        ],
    );
    let api = SipassApi::login(&url, &sim_dir);
    let (host, port) = addr.rsplit_once(':').unwrap();
    let address = protocol::ProxyAddress {
        host: host.to_owned(),
        port: port.parse().unwrap(),
        ca_pem: std::fs::read_to_string(&ca).unwrap(),
        token: std::fs::read_to_string(proxy_dir.join("proxy-token"))
            .unwrap()
            .trim()
            .to_owned(),
    };
    let mut client = api.runtime.block_on(protocol::connect(&address)).unwrap();
    wait_loaded(&api, &mut client);

    std::fs::write(pki.join("broken.pem"), "not a certificate").unwrap();
    let (ok, _, stderr) = crate::support::run(
        &[
            "proxy",
            "--data",
            s(&dir.sub("proxy2")),
            "--listen",
            "127.0.0.1:0",
            "--sipass-url",
            &url,
            "--sipass-ca",
            s(&sim_dir.join("ca.pem")),
            "--tls-cert",
            s(&pki.join("broken.pem")),
            "--tls-key",
            s(&key),
        ],
        &[("SIPASS_BRIDGE_SIPASS_PASSWORD", "sipass")],
    );
    assert!(!ok);
    assert!(
        stderr.contains("error: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn a_proxy_stops_on_sigterm_while_a_role_streams_from_it() {
    let mut system = crate::support::System::start("proxy-stop", 50);
    let role_dir = system.role_dir();
    eventually(Duration::from_secs(60), "a verified role", || {
        let status = crate::support::sync_status(&role_dir)?;
        let kind = status.kinds.get("cardholder")?;
        (kind.synchronized == 50 && kind.digest_match == Some(true)).then_some(())
    });
    // A second role or proxy on a folder in use is refused, naming the first.
    let proxy_port = system.proxy.port().unwrap();
    let proxy_dir = system.dir.0.join("proxy");
    let second = crate::support::bin().start_role(&role_dir, &proxy_dir, proxy_port);
    let refused = second.err().expect("a second role refused").to_string();
    assert!(
        refused.contains(&format!(
            "a sipass-bridge role (process {}) is already running on the data folder",
            system.role.id()
        )),
        "{refused}"
    );
    let sim_dir = system.dir.0.join("sim");
    let second =
        crate::support::bin().start_proxy(&proxy_dir, &sim_dir, &system.sim_url, None, &[]);
    let refused = second.err().expect("a second proxy refused").to_string();
    assert!(
        refused.contains("is already running on the data folder"),
        "{refused}"
    );

    // The role holds its Watch and Events streams open: a graceful stop that waited for
    // them would never end.
    let stopping = Instant::now();
    let stopped = system.proxy.terminate(Duration::from_secs(15));
    assert!(
        stopped.is_ok(),
        "the proxy was still running 15 s after SIGTERM: {}",
        system.proxy.stderr()
    );
    assert!(stopping.elapsed() < Duration::from_secs(15));
}
