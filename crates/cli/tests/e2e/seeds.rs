//! The three procedures of the SiPass Plugin Guide (`shared/seeds/`), followed step by step
//! in a real browser against the simulator, the proxy and the role as real processes:
//! connecting to the SiPass server, the plugin that cannot synchronize, and upgrading.
//! Each step saves a screenshot: into docs/guide/images/ when SIPASS_BRIDGE_GUIDE_SHOTS=1
//! (the pictures of docs/guide.md come from here), else into the test's own output folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::blocking::RoleCalls;
use harness::browser::{Browser, Element};
use serde_json::Value;

use crate::support::{
    Process, SipassApi, System, TempDir, eventually, role_status, run, s, start, start_proxy,
    start_role, start_sim, terminate, verified,
};

const WAIT: Duration = Duration::from_secs(90);
/// The password the first administrator chooses.
const PASSWORD: &str = "guide-admin-password";
/// A cardholder name that would run script if a page parsed it as HTML.
const HOSTILE: &str = "<img src=x onerror=alert(1)>";
/// The window the guide's pictures are taken in: small files, still readable.
const WINDOW: (u32, u32) = (1000, 720);

/// Where each step's screenshot goes.
fn shots_folder() -> PathBuf {
    if std::env::var("SIPASS_BRIDGE_GUIDE_SHOTS").as_deref() == Ok("1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/guide/images")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guide-images")
    }
}

/// A browser following one procedure: each step is a screenshot named after it.
struct Guide {
    browser: Browser,
    procedure: &'static str,
    url: String,
}

impl Guide {
    fn start(procedure: &'static str, role_url: &str) -> Self {
        let browser = Browser::start().unwrap();
        browser.set_window_size(WINDOW.0, WINDOW.1).unwrap();
        Guide {
            browser,
            procedure,
            url: format!("{}/", role_url.trim_end_matches('/')),
        }
    }

    /// Saves the window as `<procedure>-<step>.png`.
    fn step(&self, step: &str) {
        let path = self.shot(step);
        self.browser.screenshot(&path).unwrap();
        Self::check(&path);
    }

    /// Saves only the element `selector` (the part of the page the step is about).
    fn step_of(&self, step: &str, selector: &str) {
        let path = self.shot(step);
        let element = self.find(selector);
        self.browser.scroll_to(&element).unwrap();
        self.browser.screenshot_element(&element, &path).unwrap();
        Self::check(&path);
    }

    fn shot(&self, step: &str) -> PathBuf {
        shots_folder().join(format!("{}-{step}.png", self.procedure))
    }

    fn check(path: &Path) {
        let size = std::fs::metadata(path).unwrap().len();
        assert!(size > 1000, "{} is empty", path.display());
    }

    fn open(&self, page: &str) {
        self.browser.goto(&format!("{}{page}", self.url)).unwrap();
    }

    fn find(&self, selector: &str) -> Element {
        self.browser.wait_for(selector, WAIT).unwrap()
    }

    fn click(&self, selector: &str) {
        let element = self.find(selector);
        self.browser.click(&element).unwrap();
    }

    fn type_into(&self, selector: &str, text: &str) {
        let element = self.find(selector);
        self.browser.type_into(&element, text).unwrap();
    }

    /// Waits until the first element matching `selector` has a text that satisfies `check`.
    fn text_until(&self, selector: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        eventually(WAIT, what, || {
            let element = self.browser.find_all(selector).ok()?.into_iter().next()?;
            let text = self.browser.text(&element).ok()?;
            check(&text).then_some(text)
        })
    }

    /// Accepts the confirm or prompt the last click opened.
    fn accept(&self, what: &str) -> String {
        let text = eventually(WAIT, what, || self.browser.open_dialog());
        self.browser.accept_dialog().unwrap();
        text
    }

    /// The first administrator signs in with the one-time password the role printed, and
    /// chooses a password of its own.
    fn sign_in_first(&self, role: &mut Process) {
        let first = eventually(WAIT, "the first administrator's password on stdout", || {
            let line = role.stdout_line(Duration::from_secs(1))?;
            let rest = line.split("one-time password ").nth(1)?;
            rest.split_whitespace().next().map(str::to_owned)
        });
        self.open("signin");
        self.type_into("#user", "admin");
        self.type_into("#password", &first);
        self.click("#signin");
        self.find("#change-section:not([hidden])");
        self.type_into("#new", PASSWORD);
        self.click("#change");
        self.wait_signed_in();
    }

    /// Signs in again (after the role's process restarted, its sessions are gone).
    fn sign_in(&self) {
        self.open("signin");
        self.type_into("#user", "admin");
        self.type_into("#password", PASSWORD);
        self.click("#signin");
        self.wait_signed_in();
    }

    fn wait_signed_in(&self) {
        eventually(WAIT, "the Config Tool after signing in", || {
            self.browser
                .url()
                .ok()?
                .ends_with("/synchronization")
                .then_some(())
        });
    }

    /// The health shown at the top of every page, once it reads `state`.
    fn health(&self, state: &str) -> String {
        self.text_until("#health", &format!("the health to read {state}"), |t| {
            t == state
        });
        let reason = self.find("#health-reason");
        self.browser.text(&reason).unwrap()
    }
}

fn api(calls: &RoleCalls, method: &str, path: &str) -> Value {
    let (status, body) = calls.call(method, path, None, None).unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {body}"
    );
    body
}

/// Every Directory kind's count, from the Entities page's API.
fn kind_counts(calls: &RoleCalls) -> Vec<(String, u64)> {
    api(calls, "GET", "/entity-kinds")["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kind"].as_str().unwrap().to_owned(),
                k["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Starts a role with no proxy address: as an administrator creates one.
fn start_unconfigured_role(role_dir: &Path, proxy_dir: &Path) -> (Process, String) {
    let ca = proxy::tls_dir(proxy_dir).join("ca.pem");
    let token = proxy::token_path(proxy_dir);
    start(
        "role",
        &[
            "role",
            "--data",
            s(role_dir),
            "--listen",
            "127.0.0.1:0",
            "--proxy-ca",
            s(&ca),
            "--proxy-token-file",
            s(&token),
        ],
        &[],
    )
}

/// Starts the role of `role_dir` again on the same Config Tool port.
fn restart_role(
    role_dir: &Path,
    proxy_dir: &Path,
    port: &str,
    proxy_port: u16,
) -> (Process, String) {
    let ca = proxy::tls_dir(proxy_dir).join("ca.pem");
    let token = proxy::token_path(proxy_dir);
    let listen = format!("127.0.0.1:{port}");
    let proxy_port = proxy_port.to_string();
    start(
        "role",
        &[
            "role",
            "--data",
            s(role_dir),
            "--listen",
            &listen,
            "--proxy-host",
            "127.0.0.1",
            "--proxy-port",
            &proxy_port,
            "--proxy-ca",
            s(&ca),
            "--proxy-token-file",
            s(&token),
        ],
        &[],
    )
}

/// Connecting to the SiPass server (SiPass Plugin Guide 3.2), on a role created with no
/// configuration: Properties takes the host, the port (with the note that the proxy's port
/// must change too), the alarm recipients and partitions; Apply starts the synchronization;
/// the SiPass entities, alarm entities and custom events then appear in the entity browser.
#[test]
fn connecting_to_the_sipass_server_from_the_properties_tab_synchronizes_the_entities() {
    let dir = TempDir::new("seeds-connecting");
    let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
    let (_sim, sim_url) = start_sim(&sim_dir, 25);
    let (_proxy, proxy_addr) = start_proxy(&proxy_dir, &sim_dir, &sim_url, None, &[]);
    let proxy_port = proxy_addr.rsplit(':').next().unwrap().to_owned();
    // Before you begin: create the plugin role. It starts, not configured, dialing nowhere.
    let (mut role, role_url) = start_unconfigured_role(&role_dir, &proxy_dir);
    let guide = Guide::start("connecting", &role_url);
    guide.sign_in_first(&mut role);
    let reason = guide.health("not configured");
    assert!(reason.contains("Properties"), "{reason}");
    guide.step("0-not-configured");

    // 1-2. Open the plugin's Properties tab.
    guide.click("#nav a[href='/properties']");
    guide.find("#not-configured:not([hidden])");
    guide.step("2-properties");
    // 3. The host of the SiPass proxy.
    guide.type_into("#host", "127.0.0.1");
    // 4. Its port, with the note that the proxy's port must change with it.
    guide.type_into("#port", &proxy_port);
    let note = guide.text_until("#port-note", "the port's note", |t| !t.is_empty());
    assert!(
        note.contains("5645") && note.contains("proxy's port too"),
        "{note}"
    );
    guide.step("4-host-and-port");
    // 5-6. Alarm recipients and alarm partitions.
    guide.type_into("#alarm_recipients", "user:admin");
    guide.type_into("#alarm_partitions", "Alarms");
    guide.step_of("6-alarm-recipients-and-partitions", "#alarms-section");
    // 7. Apply: the role connects and synchronizes.
    guide.click("#apply");
    let applied = guide.text_until("#applied", "Apply's answer", |t| !t.is_empty());
    assert!(applied.contains("connecting to the proxy"), "{applied}");
    guide.step_of("7-applied", "p:has(#apply)");

    // The synchronization runs by itself and ends verified.
    guide.click("#nav a[href='/synchronization']");
    guide.text_until("[data-fact='outcome']", "the first synchronization", |t| {
        t == "succeeded"
    });
    guide.health("online");
    guide.step_of("8-synchronized", "section:has(#run)");

    // The SiPass entities, under the plugin, by type, searchable, read-only.
    let calls = RoleCalls::new(&role_url, &role_dir).unwrap();
    let status = role_status(&role_url, &role_dir).unwrap();
    guide.click("#nav a[href='/entities']");
    let cardholders = guide.text_until(
        "#tree button[data-kind='cardholder']",
        "the cardholders",
        |t| t.starts_with("cardholder ("),
    );
    assert_eq!(
        cardholders,
        format!("cardholder ({})", status.kinds["cardholder"].synchronized)
    );
    guide.click("#tree button[data-kind='cardholder']");
    let first = guide.find("#list tr[data-entity] td.name");
    let name = guide.browser.text(&first).unwrap();
    let part: String = name.chars().take(5).collect();
    guide.type_into("#search", &part);
    guide.click("#search-button");
    eventually(WAIT, "the search's answer", || {
        let rows = guide
            .browser
            .find_all("#list tr[data-entity] td.name")
            .ok()?;
        let names: Vec<String> = rows
            .iter()
            .filter_map(|r| guide.browser.text(r).ok())
            .collect();
        let all_match = names
            .iter()
            .all(|n| n.to_lowercase().contains(&part.to_lowercase()));
        (!names.is_empty() && all_match).then_some(())
    });
    guide.step("9-search");
    guide.click("#list tr[data-entity]");
    guide.find("#details:not([hidden])");
    guide.text_until("#fields", "the SiPass fields", |t| t.contains("SiPass id"));
    let title = guide.text_until("#details-title", "the entity's name", |t| !t.is_empty());
    assert!(title.starts_with(&name), "{title}");
    assert!(
        guide
            .browser
            .find_all("#fields input, #fields textarea")
            .unwrap()
            .is_empty(),
        "the SiPass fields are read-only"
    );
    guide.step_of("9-entity-fields", "#details");

    // The alarm entities created from SiPass, with the recipients and partitions of step 5-6
    // (created once the alarm classes are synchronized).
    let entities = eventually(WAIT, "the alarm entities created", || {
        let list = api(&calls, "GET", "/alarm-entities");
        (!list["entities"].as_array()?.is_empty()).then_some(list)
    });
    guide.click("#view-alarm-entities");
    let alarm = guide.text_until("#list tr[data-alarm-entity]", "an alarm entity", |t| {
        !t.is_empty()
    });
    assert!(
        alarm.contains("user:admin") && alarm.contains("Alarms"),
        "{alarm}"
    );
    assert_eq!(
        guide
            .browser
            .find_all("#list tr[data-alarm-entity]")
            .unwrap()
            .len(),
        entities["entities"].as_array().unwrap().len()
    );
    guide.step("10-alarm-entities");
    // And the custom events mapped from SiPass's event types.
    guide.click("#view-custom-events");
    guide.find("#list tr[data-custom-event='Access Granted']");
    guide.step("11-custom-events");

    // SiPass's text is shown as text in the entity browser, never parsed: a cardholder named
    // as markup, renamed in SiPass and found by a search for that markup.
    let sipass = SipassApi::login(&sim_url, &sim_dir);
    let mut cardholder = sipass.ok("GET", "/api/V1/hr/Cardholders/2", None);
    cardholder["FirstName"] = serde_json::json!(HOSTILE);
    sipass.ok("PUT", "/api/V1/hr/Cardholders/2", Some(cardholder));
    eventually(WAIT, "the renamed cardholder in the Directory", || {
        let page = api(&calls, "GET", "/entities?kind=cardholder&q=%3Cimg");
        (!page["entities"].as_array()?.is_empty()).then_some(())
    });
    guide.click("#tree button[data-kind='cardholder']");
    guide.type_into("#search", "<img");
    guide.click("#search-button");
    let shown = guide.text_until("#list tr[data-entity] td.name", "the markup name", |t| {
        t.contains("<img")
    });
    assert!(shown.contains(HOSTILE), "{shown}");
    guide.click("#list tr[data-entity]");
    guide.text_until("#fields", "its fields", |t| t.contains(HOSTILE));
    assert!(
        guide.browser.find_all("#main img").unwrap().is_empty(),
        "markup was parsed"
    );
    assert_eq!(guide.browser.open_dialog(), None, "script ran");
    drop(guide);
    terminate(&mut role);
}

/// Plugin cannot synchronize with SiPass (SiPass Plugin Guide 3.3): the role turns yellow
/// with its reason when the connection drops; compatibility, Refresh, Start synchronization,
/// progress and outcome; the role restarted by Deactivate and Activate; and a proxy restart
/// that costs no full synchronization, unlike the commercial plugin's.
#[test]
fn the_plugin_cannot_synchronize_with_sipass_until_the_connection_and_a_manual_synchronization_repair_it()
 {
    let mut system = System::start("seeds-cannot-sync", 30);
    let role_dir = system.role_dir();
    let (sim_dir, proxy_dir) = (system.dir.0.join("sim"), system.dir.0.join("proxy"));
    let proxy_port = system.proxy.port().unwrap();
    let guide = Guide::start("cannot-synchronize", &system.role_url);
    guide.sign_in_first(&mut system.role);
    eventually(WAIT, "the first synchronization", || {
        role_status(&system.role_url, &role_dir).filter(verified)
    });

    // Before you begin: a connection that drops turns the role yellow, with its reason.
    terminate(&mut system.proxy);
    guide.health("warning");
    // The reason names the proxy the role cannot reach.
    guide.text_until("#health-reason", "the reason naming the proxy", |t| {
        t.contains(&format!("127.0.0.1:{proxy_port}"))
    });
    let color = guide
        .browser
        .property(&guide.find("#health"), "className")
        .unwrap();
    assert_eq!(color, "health warning");
    let (unreachable, out, err) = run(&["version", "--check", "--data", s(&role_dir)], &[]);
    assert!(
        !unreachable,
        "version --check passes without a proxy: {out}"
    );
    assert!(err.contains("unreachable"), "{err}");
    guide.step("0-disconnected");
    let (proxy, _) = start_proxy(&proxy_dir, &sim_dir, &system.sim_url, Some(proxy_port), &[]);
    system.proxy = proxy;
    guide.health("online");
    let (supported, out, err) = run(&["version", "--check", "--data", s(&role_dir)], &[]);
    assert!(supported, "{out}{err}");
    assert!(out.contains("Verdict           supported"), "{out}");

    // 1. The plugin and the SiPass server are compatible.
    guide.click("#nav a[href='/synchronization']");
    let verdict = guide.text_until("[data-version='verdict']", "the verdict", |t| {
        t.starts_with("supported")
    });
    assert!(
        verdict.contains("2.80") || verdict.contains("SiPass 2."),
        "{verdict}"
    );
    guide.step_of("1-compatible", "#compatibility-section");

    // 2-4. The Synchronization tab; Refresh; synchronized against eligible, per type.
    guide.click("#refresh");
    eventually(WAIT, "every type synchronized as eligible", || {
        let rows = guide.browser.find_all("#kinds tr[data-kind]").ok()?;
        let cells: Vec<String> = rows
            .iter()
            .filter_map(|r| guide.browser.text(r).ok())
            .collect();
        let equal = cells.iter().all(|row| {
            let parts: Vec<&str> = row.split_whitespace().collect();
            parts.len() >= 3 && parts[1] == parts[2]
        });
        (!cells.is_empty() && equal).then_some(())
    });
    guide.step("4-refresh");

    // 5-6. Start synchronization; the progress per type and the outcome.
    let runs_before = api(
        &RoleCalls::new(&system.role_url, &role_dir).unwrap(),
        "GET",
        "/sync/runs",
    );
    guide.click("#start");
    guide.text_until("[data-fact='trigger']", "a manual synchronization", |t| {
        t == "manual"
    });
    guide.text_until("[data-fact='outcome']", "its success", |t| t == "succeeded");
    let calls = RoleCalls::new(&system.role_url, &role_dir).unwrap();
    let runs = api(&calls, "GET", "/sync/runs");
    assert_eq!(
        runs.as_array().unwrap().len(),
        runs_before.as_array().unwrap().len() + 1
    );
    guide.step_of("6-synchronized", "section:has(#run)");

    // 7. Restart the plugin role: Deactivate, then Activate, from Resources.
    guide.click("#nav a[href='/resources']");
    guide.click("#deactivate");
    guide.accept("the deactivation's reason");
    let reason = guide.health("deactivated");
    assert!(reason.contains("maintenance"), "{reason}");
    guide.step("7-deactivated");
    guide.click("#activate");
    guide.health("online");
    guide.step("7-activated");

    // 8. Restart the server the role runs on (here its process): it resumes, listing nothing.
    let role_port = system.role.port().unwrap().to_string();
    let before = role_status(&system.role_url, &role_dir).unwrap();
    terminate(&mut system.role);
    let (role, _) = restart_role(&role_dir, &proxy_dir, &role_port, proxy_port);
    system.role = role;
    guide.sign_in();
    guide.health("online");
    let after = eventually(WAIT, "the restarted role verified", || {
        role_status(&system.role_url, &role_dir).filter(verified)
    });
    assert_eq!(
        after.latest_run.map(|r| r.id),
        before.latest_run.map(|r| r.id),
        "no synchronization ran after the restart"
    );
    assert_eq!(after.transfer.listed, 0, "nothing listed again");

    // 9. Restart the proxy service: no full synchronization, as the page says.
    guide.click("#nav a[href='/synchronization']");
    let note = guide.text_until("#restart-note", "the restart note", |t| !t.is_empty());
    assert!(note.contains("costs no full synchronization"), "{note}");
    let before = role_status(&system.role_url, &role_dir).unwrap();
    terminate(&mut system.proxy);
    guide.health("warning");
    let (proxy, _) = start_proxy(&proxy_dir, &sim_dir, &system.sim_url, Some(proxy_port), &[]);
    system.proxy = proxy;
    guide.health("online");
    let after = eventually(WAIT, "the role verified after the proxy's restart", || {
        role_status(&system.role_url, &role_dir).filter(verified)
    });
    assert_eq!(
        after.latest_run.map(|r| r.id),
        before.latest_run.map(|r| r.id),
        "no synchronization ran"
    );
    assert_eq!(
        after.transfer.listed, before.transfer.listed,
        "nothing listed again"
    );
    guide.step_of("9-proxy-restarted", "section:has(#restart-note)");
    drop(guide);
    terminate(&mut system.role);
}

/// The stored events' SiPass ids, through the API a page at a time.
fn event_ids(calls: &RoleCalls) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = 0;
    loop {
        let page = api(calls, "GET", &format!("/events?limit=1000&after={after}"));
        for e in page["events"].as_array().unwrap() {
            ids.push(e["sipass_id"].as_str().unwrap().to_owned());
        }
        match page["next_after"].as_i64() {
            Some(next) => after = next,
            None => return ids,
        }
    }
}

/// The events the plugin database of a stopped role holds, as `db status` counts them.
fn stored_events(role_dir: &Path) -> u64 {
    let (ok, out, err) = run(&["db", "status", "--json", "--data", s(role_dir)], &[]);
    assert!(ok, "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    status["databases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|db| db["counts"].as_array().cloned().unwrap_or_default())
        .find(|c| c["table"] == "events")
        .and_then(|c| c["rows"].as_u64())
        .expect("the plugin database counts its events")
}

/// Every alarm's id.
fn alarms(calls: &RoleCalls) -> Vec<String> {
    let list = api(calls, "GET", "/alarms?limit=1000");
    let mut alarms: Vec<String> = list["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].to_string())
        .collect();
    alarms.sort();
    alarms
}

/// Upgrading a SiPass integration (SiPass Plugin Guide 3.3), from the data folders the
/// previous release wrote (tests/fixtures): versions confirmed compatible, both databases
/// backed up, all events exported, the new release installed, Database update from
/// Resources, the role deactivated and activated, and every entity, event and alarm there.
#[test]
fn upgrading_the_sipass_plugin_keeps_every_entity_event_and_alarm() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/0.2.0-dev");
    let dir = TempDir::new("seeds-upgrading");
    let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
    for f in ["directory.db", "plugin.db"] {
        std::fs::copy(fixture.join(f), role_dir.join(f)).unwrap();
    }
    for f in ["cache.db", "journal.db"] {
        std::fs::copy(fixture.join(f), proxy_dir.join(f)).unwrap();
    }
    let backups = dir.sub("backups");

    // Optional, recommended: back up the plugin database and the Directory database, before
    // anything of the new release touches them.
    let before_upgrade = backups.join("before-upgrade.sipass-backup");
    let (ok, out, err) = run(
        &[
            "db",
            "backup",
            s(&before_upgrade),
            "--data",
            s(&role_dir),
            "--json",
        ],
        &[],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("directory.db") && out.contains("plugin.db"),
        "{out}"
    );

    // SiPass as it was: the site the fixture's release synchronized (counted on a scratch
    // copy, since this release reads only its own schema).
    let scratch = dir.sub("scratch");
    std::fs::copy(fixture.join("directory.db"), scratch.join("directory.db")).unwrap();
    assert!(run(&["db", "update", "--data", s(&scratch)], &[]).0);
    let holders = crate::support::cardholders_in_directory(&scratch).len();
    let (_sim, sim_url) = start_sim(&sim_dir, holders);

    // 1. The proxy first (it keeps its cache and journal through the update).
    let (ok, out, err) = run(&["db", "update", "--data", s(&proxy_dir)], &[]);
    assert!(ok, "db update of the proxy's folder: {out}{err}");
    let (proxy, _) = start_proxy(&proxy_dir, &sim_dir, &sim_url, None, &[]);
    let port = proxy.port().unwrap();

    // 2. The new release on the role's server. On the old schema it refuses to start, naming
    // the update, instead of half-working (and before it changed anything, so the backup
    // above is of the folder as the old release left it); the update keeps every row.
    let refused = crate::support::bin().start_role(&role_dir, &proxy_dir, port);
    let refusal = refused
        .err()
        .expect("a role on the old schema refuses to start")
        .to_string();
    assert!(refusal.contains("sipass-bridge db update"), "{refusal}");
    let (ok, out, err) = run(&["db", "update", "--data", s(&role_dir)], &[]);
    assert!(ok, "db update of the role's folder: {out}{err}");
    let stored = stored_events(&role_dir);
    let (mut role, role_url) = start_role(&role_dir, &proxy_dir, port);
    let calls = RoleCalls::new(&role_url, &role_dir).unwrap();
    let guide = Guide::start("upgrading", &role_url);
    guide.sign_in_first(&mut role);
    eventually(WAIT, "the role online on the upgraded folder", || {
        role_status(&role_url, &role_dir).filter(verified)
    });
    // The journal's events no role had acknowledged arrive after the fixture's own.
    eventually(WAIT, "the old journal's events stored", || {
        (event_ids(&calls).len() as u64 > stored).then_some(())
    });

    // Before you begin: the versions are compatible.
    let verdict = guide.text_until("[data-version='verdict']", "the verdict", |t| {
        t.starts_with("supported")
    });
    assert!(verdict.contains("bridge protocol"), "{verdict}");
    guide.step_of("0-compatible", "#compatibility-section");

    // Before you begin: export all SiPass events.
    let export = backups.join("all-events.csv");
    let (ok, out, err) = run(
        &[
            "events",
            "export",
            "--since",
            "0",
            "--until",
            "2100-01-01T00:00:00Z",
            "--out",
            s(&export),
            "--data",
            s(&role_dir),
        ],
        &[],
    );
    assert!(ok, "{out}{err}");
    let exported = std::fs::read_to_string(&export).unwrap().lines().count() - 1;
    let events_before = event_ids(&calls);
    assert_eq!(exported, events_before.len(), "every event exported");
    assert!(!events_before.is_empty(), "the fixture's events are there");
    let entities_before = kind_counts(&calls);
    let alarms_before = alarms(&calls);
    assert!(
        !alarms_before.is_empty(),
        "the old journal's alarm is there"
    );
    let alarm_entities_before = api(&calls, "GET", "/alarm-entities");

    // 3.1-3.2. The plugin's Resources tab: back up both databases.
    guide.click("#nav a[href='/resources']");
    guide.text_until("#databases", "both databases", |t| {
        t.contains("Directory") && t.contains("plugin")
    });
    guide.click("#backup");
    guide.text_until("#resources-message", "the backup written", |t| {
        t.contains("Backup written to")
    });
    guide.step_of("3-backed-up", "#backup-section");
    // 3.3. Database update.
    guide.click("#db-update");
    guide.accept("the update's confirmation");
    let updated = guide.text_until("#role-message", "the update's outcome", |t| {
        t.contains("Directory")
    });
    guide.step_of("3-database-update", "#databases-section");
    assert!(!updated.contains("failed"), "{updated}");
    // 3.4. Deactivate, then activate the plugin role.
    guide.click("#deactivate");
    guide.accept("the deactivation's reason");
    guide.health("deactivated");
    guide.step("4-deactivated");
    guide.click("#activate");
    guide.health("online");
    guide.step("4-activated");

    // After you finish: every entity, event and alarm is still there.
    eventually(WAIT, "the role verified again", || {
        role_status(&role_url, &role_dir).filter(verified)
    });
    assert_eq!(kind_counts(&calls), entities_before, "every entity kept");
    let cardholders = entities_before.iter().find(|(k, _)| k == "cardholder");
    assert_eq!(
        cardholders.map(|c| c.1),
        Some(holders as u64),
        "the fixture's cardholders"
    );
    let events_after = event_ids(&calls);
    assert!(
        events_before.iter().all(|id| events_after.contains(id)),
        "every event kept"
    );
    let alarms_after = alarms(&calls);
    assert!(
        alarms_before.iter().all(|a| alarms_after.contains(a)),
        "every alarm kept: {alarms_before:?} {alarms_after:?}"
    );
    assert_eq!(api(&calls, "GET", "/alarm-entities"), alarm_entities_before);
    guide.click("#nav a[href='/entities']");
    guide.find("#tree button[data-kind='cardholder']");
    guide.step("5-entities-kept");
    drop(guide);
    terminate(&mut role);
}
