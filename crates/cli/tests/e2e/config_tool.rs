//! The Config Tool in a real browser (headless Chromium through chromedriver) against the
//! simulator, the proxy and the role as real processes: the first administrator's sign-in,
//! Properties refusing a bad port beside its field, a synchronization watched to its end,
//! SiPass text shown as text, and an operator kept out of another partition's entities in
//! the page and the API. Every page is saved as a screenshot under target/screenshots.

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::blocking::RoleCalls;
use harness::browser::Browser;
use serde_json::{Value, json};

use crate::support::{SipassApi, System, eventually};

const WAIT: Duration = Duration::from_secs(60);
/// A cardholder name that would run script if a page parsed it as HTML.
const HOSTILE: &str = "<img src=x onerror=alert(1)>";

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target folder")
        .join("screenshots")
}

/// Saves the page as a screenshot, once its header shows the role's health with a reason.
fn shoot(browser: &Browser, name: &str) {
    let state = text_until(browser, "#health", "the health state", |t| {
        !t.is_empty() && t != "…"
    });
    let reason = text_until(browser, "#health-reason", "the health's reason", |t| {
        !t.is_empty()
    });
    assert!(!state.contains("unreachable"), "{name}: {state}: {reason}");
    let path = screenshots().join(format!("{name}.png"));
    browser.screenshot(&path).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 1000, "{name}");
}

fn sign_in(browser: &Browser, url: &str, user: &str, password: &str) {
    browser.goto(&format!("{url}signin")).unwrap();
    browser
        .type_into(&browser.find("#user").unwrap(), user)
        .unwrap();
    browser
        .type_into(&browser.find("#password").unwrap(), password)
        .unwrap();
    browser.click(&browser.find("#signin").unwrap()).unwrap();
}

/// Waits until the element's text satisfies `check`; returns it.
fn text_until(
    browser: &Browser,
    selector: &str,
    what: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    eventually(WAIT, what, || {
        let element = browser.find_all(selector).ok()?.into_iter().next()?;
        let text = browser.text(&element).ok()?;
        check(&text).then_some(text)
    })
}

fn api(
    calls: &RoleCalls,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    calls.call(method, path, token, body.as_ref()).unwrap()
}

#[test]
fn an_administrator_and_an_operator_use_the_config_tool_in_a_browser() {
    let mut system = System::start("config-tool", 30);
    let url = format!("{}/", system.role_url.trim_end_matches('/'));
    let first = eventually(WAIT, "the first administrator's password on stdout", || {
        let line = system.role.stdout_line(Duration::from_secs(1))?;
        let rest = line.split("one-time password ").nth(1)?;
        rest.split_whitespace().next().map(str::to_owned)
    });
    let calls = RoleCalls::new(&system.role_url, &system.role_dir()).unwrap();
    eventually(WAIT, "the first synchronization", || {
        let status = crate::support::role_status(&system.role_url, &system.role_dir())?;
        crate::support::verified(&status).then_some(())
    });

    // A cardholder whose name is markup, renamed in SiPass and synchronized in real time.
    let sipass = SipassApi::login(&system.sim_url, &system.dir.0.join("sim"));
    let mut cardholder = sipass.ok("GET", "/api/V1/hr/Cardholders/1", None);
    cardholder["FirstName"] = json!(HOSTILE);
    sipass.ok("PUT", "/api/V1/hr/Cardholders/1", Some(cardholder));
    let hostile_id = eventually(WAIT, "the renamed cardholder in the Directory", || {
        let (_, page) = api(
            &calls,
            "GET",
            "/entities?kind=cardholder&limit=1000",
            None,
            None,
        );
        page["entities"].as_array()?.iter().find_map(|e| {
            e["name"]
                .as_str()?
                .contains(HOSTILE)
                .then(|| e["id"].as_str().unwrap().to_owned())
        })
    });

    let browser = Browser::start().unwrap();

    // An unsigned visitor is sent to the sign-in page.
    browser.goto(&format!("{url}properties")).unwrap();
    eventually(WAIT, "the sign-in page", || {
        browser.url().ok()?.contains("/signin").then_some(())
    });
    shoot(&browser, "signin");
    sign_in(&browser, &url, "admin", "not the password");
    let refused = text_until(&browser, "[data-error-for='']", "the refusal", |t| {
        !t.is_empty()
    });
    assert!(refused.contains("wrong user name or password"), "{refused}");

    // The first administrator signs in with the one-time password and must choose its own.
    sign_in(&browser, &url, "admin", &first);
    browser
        .wait_for("#change-section:not([hidden])", WAIT)
        .unwrap();
    shoot(&browser, "signin-choose-password");
    browser
        .type_into(&browser.find("#new").unwrap(), "admin-password-2")
        .unwrap();
    browser.click(&browser.find("#change").unwrap()).unwrap();
    eventually(
        WAIT,
        "the synchronization page after the password change",
        || {
            browser
                .url()
                .ok()?
                .ends_with("/synchronization")
                .then_some(())
        },
    );

    // Synchronization: start one and watch it reach completion.
    let kinds = browser
        .wait_for("#kinds tr[data-kind='cardholder']", WAIT)
        .unwrap();
    assert!(browser.text(&kinds).unwrap().starts_with("cardholder"));
    browser.click(&browser.find("#start").unwrap()).unwrap();
    text_until(
        &browser,
        "[data-fact='trigger']",
        "a manual synchronization",
        |t| t == "manual",
    );
    text_until(
        &browser,
        "[data-fact='outcome']",
        "the synchronization to succeed",
        |t| t == "succeeded",
    );
    eventually(WAIT, "both runs in the history", || {
        (browser.find_all("#history tr[data-run]").ok()?.len() >= 2).then_some(())
    });
    let newest = browser.find("#history tr[data-run]").unwrap();
    assert!(browser.text(&newest).unwrap().contains("manual"));
    let health = text_until(&browser, "#health", "the health state", |t| t == "online");
    assert_eq!(health, "online");
    assert!(
        !browser
            .text(&browser.find("#health-reason").unwrap())
            .unwrap()
            .is_empty()
    );
    shoot(&browser, "synchronization");

    // Properties: a port out of range is refused beside its field, and nothing changes.
    let (_, before) = api(&calls, "GET", "/config", None, None);
    browser.goto(&format!("{url}properties")).unwrap();
    let port = browser.find("#port").unwrap();
    eventually(WAIT, "the settings in the form", || {
        let value = browser.property(&port, "value").ok()?;
        (!value.as_str()?.is_empty()).then_some(())
    });
    browser.type_into(&port, "70000").unwrap();
    browser.click(&browser.find("#apply").unwrap()).unwrap();
    let error = text_until(
        &browser,
        "[data-error-for='port']",
        "the port's error",
        |t| !t.is_empty(),
    );
    assert!(
        error.contains("70000") && error.contains("65535"),
        "{error}"
    );
    shoot(&browser, "properties-port-refused");
    let (_, after) = api(&calls, "GET", "/config", None, None);
    assert_eq!(before, after, "a refused Apply changes nothing");

    // Monitoring: SiPass text is shown as text, never run or parsed.
    browser.goto(&format!("{url}monitoring")).unwrap();
    let cell = browser
        .wait_for(
            &format!("#cardholders tr[data-entity='{hostile_id}'] td.name"),
            WAIT,
        )
        .unwrap();
    assert!(browser.text(&cell).unwrap().contains(HOSTILE));
    assert!(
        browser.find_all("#main img").unwrap().is_empty(),
        "markup was parsed"
    );
    assert_eq!(browser.open_dialog(), None, "script ran");
    shoot(&browser, "monitoring");

    // An alarm raised in SiPass is acknowledged with a comment from the page, and SiPass has it.
    let raised = sipass.ok(
        "POST",
        "/api/sim/V1/Alarms",
        Some(json!({ "AlarmClassToken": "3", "Message": "raised by the browser test" })),
    );
    let alarm_id = raised["AlarmId"].as_str().unwrap().to_owned();
    eventually(WAIT, "the alarm on the Monitoring page", || {
        browser.goto(&format!("{url}monitoring")).ok()?;
        let rows = browser.find_all("#alarms tr[data-alarm]").ok()?;
        rows.into_iter().next()
    });
    browser
        .type_into(
            &browser.find("#alarms tr[data-alarm] input").unwrap(),
            "checked by the guard",
        )
        .unwrap();
    browser
        .click(&browser.find("#alarms tr[data-alarm] button").unwrap())
        .unwrap();
    let state = text_until(
        &browser,
        "#alarms tr[data-alarm] td.state",
        "the acknowledgement",
        |t| t.starts_with("acknowledged"),
    );
    assert!(
        state.contains("admin") && state.contains("checked by the guard"),
        "{state}"
    );
    shoot(&browser, "monitoring-alarm-acknowledged");
    eventually(WAIT, "the acknowledgement in SiPass", || {
        let a = sipass.ok(
            "GET",
            &format!("/api/management/V1/Alarms/{alarm_id}"),
            None,
        );
        (a["Acknowledged"] == true).then_some(a)
    });
    let in_sipass = sipass.ok(
        "GET",
        &format!("/api/management/V1/Alarms/{alarm_id}"),
        None,
    );
    assert_eq!(in_sipass["Operator"], "admin");
    assert_eq!(in_sipass["Comment"], "checked by the guard");
    alarm_history_on_the_page(&browser);
    unlock_a_door_from_the_page(&browser, &url, &sipass);

    // Users: a partition, an operator in it, and that operator's API token.
    browser.goto(&format!("{url}users")).unwrap();
    browser
        .wait_for("#users tr[data-user='admin']", WAIT)
        .unwrap();
    browser
        .type_into(&browser.find("#partition-name").unwrap(), "North")
        .unwrap();
    browser
        .click(&browser.find("#partition-save").unwrap())
        .unwrap();
    browser
        .wait_for("#partitions tr[data-partition='North']", WAIT)
        .unwrap();
    browser
        .type_into(&browser.find("#user-name").unwrap(), "olga")
        .unwrap();
    browser
        .type_into(&browser.find("#user-partitions").unwrap(), "North")
        .unwrap();
    browser.click(&browser.find("#user-save").unwrap()).unwrap();
    let secret = text_until(&browser, "#secret", "olga's one-time password", |t| {
        t.len() >= 20
    });
    browser
        .wait_for("#users tr[data-user='olga']", WAIT)
        .unwrap();
    // An API token for olga, shown once and listed by its id.
    browser
        .type_into(&browser.find("#token-for").unwrap(), "olga")
        .unwrap();
    browser
        .type_into(&browser.find("#token-label").unwrap(), "e2e")
        .unwrap();
    browser
        .click(&browser.find("#token-save").unwrap())
        .unwrap();
    let olga_token = text_until(&browser, "#token-secret", "olga's API token", |t| {
        t.len() >= 32
    });
    let listed = text_until(
        &browser,
        "#tokens tr[data-token]",
        "the token listed",
        |t| t.contains("olga") && t.contains("e2e"),
    );
    assert!(
        !listed.contains(&olga_token),
        "a listed token is never shown"
    );
    shoot(&browser, "users");
    browser.goto(&format!("{url}resources")).unwrap();
    // Both databases with their schema, size and rows, from the role's database status.
    text_until(&browser, "#databases", "both databases listed", |t| {
        let t = t.to_lowercase();
        t.contains("directory") && t.contains("plugin") && t.contains("events")
    });
    // Back up now: the backup appears in the list of the backups folder, restorable.
    browser.click(&browser.find("#backup").unwrap()).unwrap();
    text_until(&browser, "#resources-message", "the backup written", |t| {
        t.contains("Backup written to")
    });
    text_until(&browser, "#backups", "the backup listed", |t| {
        t.contains(".sipass-backup") && t.contains("Directory database")
    });
    shoot(&browser, "resources");
    let (north_alarm, south_alarm) = alarms_in_two_partitions(&calls, &sipass);
    browser.click(&browser.find("#signout").unwrap()).unwrap();
    eventually(WAIT, "the sign-in page after signing out", || {
        browser.url().ok()?.contains("/signin").then_some(())
    });

    // The operator, in partition North, does not see the SiPass partition's entities.
    sign_in(&browser, &url, "olga", &secret);
    browser
        .wait_for("#change-section:not([hidden])", WAIT)
        .unwrap();
    browser
        .type_into(&browser.find("#new").unwrap(), "olga-password-2")
        .unwrap();
    browser.click(&browser.find("#change").unwrap()).unwrap();
    eventually(WAIT, "olga's synchronization page", || {
        browser
            .url()
            .ok()?
            .ends_with("/synchronization")
            .then_some(())
    });
    let nav = text_until(&browser, "#nav", "the operator's navigation", |t| {
        t.contains("Monitoring")
    });
    assert!(
        !nav.contains("Properties") && !nav.contains("Users"),
        "{nav}"
    );
    browser.goto(&format!("{url}monitoring")).unwrap();
    let none = text_until(
        &browser,
        "#cardholders td",
        "the empty cardholder list",
        |t| !t.is_empty(),
    );
    assert_eq!(none, "No cardholder you may see.");
    assert!(
        browser
            .find_all("#cardholders tr[data-entity]")
            .unwrap()
            .is_empty()
    );
    // North's alarm is on olga's page, South's is not.
    browser
        .wait_for(&format!("#alarms tr[data-alarm='{north_alarm}']"), WAIT)
        .unwrap();
    let rows = browser.find_all("#alarms tr[data-alarm]").unwrap();
    assert_eq!(rows.len(), 1, "olga sees North's alarm only");
    assert!(
        browser
            .find_all(&format!("#alarms tr[data-alarm='{south_alarm}']"))
            .unwrap()
            .is_empty()
    );
    text_until(&browser, "#doors td", "no door for olga", |t| {
        t == "No door you may see."
    });
    text_until(&browser, "#events", "no live events for olga", |t| {
        t.contains("No live events") && t.contains("belongs to none of the partitions")
    });
    shoot(&browser, "monitoring-operator");
    browser.goto(&format!("{url}properties")).unwrap();
    let refused = text_until(&browser, "#page-error", "the operator's refusal", |t| {
        !t.is_empty()
    });
    assert!(refused.contains("only an administrator"), "{refused}");
    assert!(
        browser.find_all("#properties").unwrap().is_empty(),
        "no empty settings form for an operator"
    );

    // The API tells the same: with olga's token, the entity is not there.
    let olga = olga_token.as_str();
    let (status, body) = api(
        &calls,
        "GET",
        &format!("/alarms/{south_alarm}"),
        Some(olga),
        None,
    );
    assert_eq!(status, 404, "another partition's alarm: {body}");
    let (status, body) = api(
        &calls,
        "GET",
        &format!("/alarms/{north_alarm}"),
        Some(olga),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let (_, page) = api(&calls, "GET", "/alarms", Some(olga), None);
    let ids: Vec<i64> = page["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [north_alarm]);
    let (status, _) = api(
        &calls,
        "GET",
        &format!("/entities/{hostile_id}"),
        Some(olga),
        None,
    );
    assert_eq!(status, 404);
    let (_, page) = api(&calls, "GET", "/entities?kind=cardholder", Some(olga), None);
    assert_eq!(page["entities"], json!([]));
    let (status, _) = api(
        &calls,
        "PUT",
        "/config",
        Some(olga),
        Some(json!({"port": 5645})),
    );
    assert_eq!(status, 403);
    // Once North holds the SiPass entities, olga sees them.
    let (status, body) = api(
        &calls,
        "PUT",
        "/config",
        None,
        Some(json!({"entity_partitions": ["North"]})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, found) = api(
        &calls,
        "GET",
        &format!("/entities/{hostile_id}"),
        Some(olga),
        None,
    );
    assert_eq!(status, 200, "{found}");
    drop(browser);
    accounts_through_the_cli(&system.role_dir(), &calls);
    crate::support::terminate(&mut system.role);
}

/// `sipass-bridge ARGS --json --data ROLE_DIR`: its JSON, or its standard error.
fn cli(role_dir: &Path, args: &[&str]) -> Result<Value, String> {
    let mut all = args.to_vec();
    all.extend(["--json", "--data", crate::support::s(role_dir)]);
    let (ok, out, err) = crate::support::run(&all, &[]);
    if !ok {
        return Err(err);
    }
    Ok(serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed {out}: {e}")))
}

/// Users, groups, partitions and tokens made, listed, used, revoked and removed with the
/// CLI, through the role's REST API.
fn accounts_through_the_cli(role_dir: &Path, calls: &RoleCalls) {
    let ok = |args: &[&str]| cli(role_dir, args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let names = |list: Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect()
    };
    ok(&["partitions", "add", "West"]);
    assert!(names(ok(&["partitions", "list"])).contains(&"West".to_owned()));
    let created = ok(&["users", "add", "oleg", "--partitions", "West"]);
    assert!(created["one_time_password"].as_str().unwrap().len() >= 20);
    ok(&[
        "groups",
        "add",
        "night",
        "--members",
        "oleg",
        "--partitions",
        "North",
    ]);
    let groups = ok(&["groups", "list"]);
    assert!(groups.to_string().contains("night"), "{groups}");
    let users = ok(&["users", "list"]);
    let oleg = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "oleg")
        .unwrap_or_else(|| panic!("{users}"));
    assert_eq!(
        (&oleg["role"], &oleg["groups"], &oleg["partitions"]),
        (&json!("operator"), &json!(["night"]), &json!(["West"]))
    );

    let token = ok(&["users", "tokens", "create", "oleg", "--label", "cli"]);
    let (id, secret) = (
        token["id"].as_str().unwrap(),
        token["token"].as_str().unwrap(),
    );
    let (status, session) = api(calls, "GET", "/session", Some(secret), None);
    assert_eq!((status, &session["user"]), (200, &json!("oleg")));
    let listed = ok(&["users", "tokens", "list", "--user", "oleg"]);
    assert_eq!(listed, json!([{"id": id, "user": "oleg", "label": "cli"}]));
    ok(&["users", "tokens", "revoke", id]);
    let (status, _) = api(calls, "GET", "/session", Some(secret), None);
    assert_eq!(status, 401, "a revoked token");
    let again = cli(role_dir, &["users", "tokens", "revoke", id]).unwrap_err();
    assert!(again.contains("no API token with id"), "{again}");

    ok(&["groups", "remove", "night"]);
    ok(&["users", "remove", "oleg"]);
    ok(&["partitions", "remove", "West"]);
    assert!(!names(ok(&["users", "list"])).contains(&"oleg".to_owned()));
    assert!(!names(ok(&["partitions", "list"])).contains(&"West".to_owned()));
    let missing = cli(role_dir, &["users", "remove", "nobody"]).unwrap_err();
    assert!(
        missing.contains("there is no user named 'nobody'"),
        "{missing}"
    );
}

/// The acknowledged alarm's history, opened from its row: triggered, then acknowledged by
/// admin with the comment.
fn alarm_history_on_the_page(browser: &Browser) {
    browser
        .click(
            &browser
                .find("#alarms tr[data-alarm] button.history")
                .unwrap(),
        )
        .unwrap();
    browser
        .wait_for("#alarm-history-section:not([hidden])", WAIT)
        .unwrap();
    let acknowledged = eventually(WAIT, "the acknowledgement in the history", || {
        let rows = browser.find_all("#alarm-history tr[data-history]").ok()?;
        let texts: Vec<String> = rows.iter().filter_map(|r| browser.text(r).ok()).collect();
        texts.first()?.contains("triggered").then_some(())?;
        texts.into_iter().find(|t| t.contains("acknowledged"))
    });
    assert!(
        acknowledged.contains("admin") && acknowledged.contains("checked by the guard"),
        "{acknowledged}"
    );
    shoot(browser, "monitoring-alarm-history");
}

/// Devices are listed in their names' order ("ACC-0001 Aux Out 1", "ACC-0001 Aux Out 2",
/// "Door 0001 Lock"... "Door 0008 Lock", tokens 1 to 10 on this site), not in the API's id
/// text order ("1", "10", "2"...), in which the last door's lock comes second.
fn devices_in_the_order_people_read(browser: &Browser) {
    let ids: Vec<u64> = browser
        .find_all("#outputs tr[data-device]")
        .unwrap()
        .iter()
        .map(|row| {
            let id = browser.attribute(row, "data-device").unwrap().unwrap();
            id.parse()
                .expect("the simulator's output tokens are numbers")
        })
        .collect();
    assert!(ids.len() >= 10, "the site has ten outputs or more: {ids:?}");
    assert!(ids.is_sorted(), "outputs in their names' order: {ids:?}");
}

/// Unlocks the first door from the Monitoring page: SiPass answers, the activity trail
/// shows the command with every field, and the simulator's door is unlocked.
fn unlock_a_door_from_the_page(browser: &Browser, url: &str, sipass: &SipassApi) {
    browser.goto(&format!("{url}monitoring")).unwrap();
    let row = browser.wait_for("#doors tr[data-device]", WAIT).unwrap();
    browser.wait_for("#outputs tr[data-device]", WAIT).unwrap();
    devices_in_the_order_people_read(browser);
    let door = browser
        .attribute(&row, "data-device")
        .unwrap()
        .expect("the door's id");
    let name = browser
        .text(&browser.find("#doors tr[data-device] td.name").unwrap())
        .unwrap();
    let name = name.lines().next().unwrap_or_default().to_owned();
    browser
        .click(
            &browser
                .find(&format!(
                    "#doors tr[data-device='{door}'] button[data-command='unlock']"
                ))
                .unwrap(),
        )
        .unwrap();
    let result = text_until(browser, "#command-result", "SiPass's answer", |t| {
        !t.is_empty()
    });
    assert!(result.contains("Succeeded"), "{result}");
    let field = |name: &str| {
        text_until(
            browser,
            &format!("#activity tr[data-activity] td[data-field='{name}']"),
            name,
            |t| !t.is_empty(),
        )
    };
    assert!(field("entity").contains(&name), "the door's name");
    assert!(field("entity").contains(&door), "the door's id");
    assert_eq!(field("activity"), "Unlock door");
    assert_eq!(field("application"), "Config Tool");
    assert_eq!(field("version"), model::version::PRODUCT_VERSION);
    assert_eq!(field("user"), "admin");
    assert!(!field("machine").is_empty());
    assert!(field("outcome").starts_with("succeeded"));
    let at = field("at");
    assert!(
        at.starts_with("20") && at.contains('T'),
        "a timestamp: {at}"
    );
    let now = sipass.ok("GET", &format!("/api/management/V1/Doorsets/{door}"), None);
    assert_eq!(now["State"]["Lock"], "Unlocked", "{now}");
    let last = match &now["State"]["LastOverride"] {
        Value::Null => &now["LastOverride"],
        last => last,
    };
    assert_eq!(last, "Unlock", "{now}");
    // A click scrolls the trail into view for the screenshot.
    browser
        .click(
            &browser
                .find("#activity tr[data-activity] td[data-field='user']")
                .unwrap(),
        )
        .unwrap();
    shoot(browser, "monitoring-door-unlocked");
}

/// Alarms now go to partition South, except alarm class 5 (Tamper), given North by hand;
/// one alarm of each is raised in SiPass. Our ids: (North's, South's).
fn alarms_in_two_partitions(calls: &RoleCalls, sipass: &SipassApi) -> (i64, i64) {
    let (status, body) = api(
        calls,
        "PUT",
        "/config",
        None,
        Some(json!({"alarm_partitions": ["South"]})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = api(
        calls,
        "POST",
        "/alarm-entities/5/partitions",
        None,
        Some(json!({"partition": "North"})),
    );
    assert_eq!(status, 200, "{body}");
    let mut ours = Vec::new();
    for class in ["5", "3"] {
        let raised = sipass.ok(
            "POST",
            "/api/sim/V1/Alarms",
            Some(json!({ "AlarmClassToken": class, "Message": "partitions" })),
        );
        let sipass_id = raised["AlarmId"].as_str().unwrap().to_owned();
        ours.push(eventually(WAIT, "the alarm in the role", || {
            let (_, page) = api(calls, "GET", "/alarms", None, None);
            page["alarms"]
                .as_array()?
                .iter()
                .find(|a| a["sipass_id"] == sipass_id.as_str())?["id"]
                .as_i64()
        }));
    }
    (ours[0], ours[1])
}
