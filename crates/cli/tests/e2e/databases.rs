//! Backup, restore and update end to end, as an administrator runs them on a live site:
//! a backup taken through the running role during a synchronization, restored into it (it
//! deactivates itself meanwhile) and into a fresh folder; damaged, truncated and foreign
//! backups refused with the databases untouched; a backup killed with SIGKILL leaving the
//! earlier one intact; the fixtures of earlier releases updated with every row kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use store::DirectoryRead;

use crate::support::{
    SipassApi, System, TempDir, eventually, role_status, run, s, start_proxy, start_role,
    start_sim, terminate, verified,
};

const CARDHOLDERS: usize = 20_000;
const DEADLINE: Duration = Duration::from_secs(600);

fn directory(role_dir: &Path) -> std::sync::Arc<dyn DirectoryRead> {
    store::open_read_only(&role_dir.join("directory.db")).expect("the Directory opens")
}

fn event_count(role_dir: &Path) -> u64 {
    store::open_plugin_read_only(&role_dir.join("plugin.db"))
        .and_then(|p| p.event_count())
        .unwrap_or(0)
}

/// Count and digest of every SiPass kind the Directory holds.
fn digests(role_dir: &Path) -> BTreeMap<String, (u64, u64)> {
    let dir = directory(role_dir);
    model::EntityKind::ALL
        .iter()
        .map(|k| {
            let d = dir.digest(k.as_str()).unwrap();
            (k.as_str().to_owned(), (d.count(), d.value()))
        })
        .collect()
}

fn backup(role_dir: &Path, file: &Path) -> Value {
    let (ok, out, err) = run(
        &["db", "backup", s(file), "--data", s(role_dir), "--json"],
        &[],
    );
    assert!(ok, "db backup failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// `db restore`: (success, stdout, stderr).
fn restore(role_dir: &Path, file: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["db", "restore", s(file), "--data", s(role_dir)];
    args.extend(extra);
    run(&args, &[])
}

fn deep_verify_consistent(role_dir: &Path) {
    let (ok, out, err) = run(
        &["sync", "verify", "--deep", "--json", "--data", s(role_dir)],
        &[],
    );
    assert!(ok, "sync verify --deep failed: {err}{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["consistent"], true, "{out}");
}

fn wait_verified(system: &System) {
    eventually(DEADLINE, "the role verified equal to SiPass", || {
        role_status(&system.role_url, &system.role_dir()).filter(verified)
    });
}

#[test]
fn a_backup_during_synchronization_restores_to_an_equal_database_and_bad_backups_are_refused() {
    let system = System::start("db-backup", CARDHOLDERS);
    let role_dir = system.role_dir();
    let backups = system.dir.sub("backups");

    // Through the running role, while it lists cardholders.
    eventually(DEADLINE, "the cardholder listing under way", || {
        let status = role_status(&system.role_url, &role_dir)?;
        let p = harness::cardholder_progress(&status)?;
        (p.done >= 1_000 && p.done < p.total).then_some(())
    });
    let during = backups.join("during.backup");
    let manifest = backup(&role_dir, &during)["manifest"].clone();
    assert_eq!(manifest["parts"].as_array().unwrap().len(), 2, "{manifest}");
    assert_eq!(manifest["parts"][0]["database"], "Directory database");
    let origin = manifest["origin"].as_str().unwrap().to_owned();
    assert!(!origin.is_empty());

    wait_verified(&system);
    let api = SipassApi::login(&system.sim_url, &system.dir.0.join("sim"));
    for _ in 0..25 {
        api.ok(
            "POST",
            "/api/sim/V1/Events",
            Some(json!({ "Type": "Access Granted" })),
        );
    }
    eventually(DEADLINE, "the events stored", || {
        (event_count(&role_dir) == 25).then_some(())
    });
    let after = backups.join("after.backup");
    backup(&role_dir, &after);
    let live = digests(&role_dir);

    // Into a fresh folder (no role there): an equal Directory, the same events.
    let fresh = system.dir.sub("fresh");
    let (ok, out, err) = restore(&fresh, &after, &[]);
    assert!(ok, "restore into a fresh folder failed: {err}");
    assert!(out.contains("into the data folder"), "{out}");
    assert_eq!(digests(&fresh), live);
    assert_eq!(event_count(&fresh), 25);
    assert_eq!(
        directory(&fresh).count("cardholder").unwrap(),
        CARDHOLDERS as u64
    );

    // Damaged, truncated and foreign backups: refused, the role online and untouched.
    let bytes = std::fs::read(&after).unwrap();
    let damaged = backups.join("damaged.backup");
    let mut flipped = bytes.clone();
    let middle = bytes.len() / 2;
    flipped[middle] ^= 0x5a;
    std::fs::write(&damaged, &flipped).unwrap();
    let truncated = backups.join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() - 4096]).unwrap();
    let foreign_dir = system.dir.sub("foreign");
    store::open(&foreign_dir.join("directory.db")).unwrap();
    store::open_plugin(&foreign_dir.join("plugin.db")).unwrap();
    let foreign = backups.join("foreign.backup");
    let foreign_origin = backup(&foreign_dir, &foreign)["manifest"]["origin"]
        .as_str()
        .unwrap()
        .to_owned();
    for (file, expected) in [
        (&damaged, "damaged"),
        (&truncated, "truncated"),
        (&foreign, "--accept-foreign"),
    ] {
        let (ok, _, err) = restore(&role_dir, file, &[]);
        assert!(!ok, "{} was restored", file.display());
        assert!(err.contains(expected), "{}: {err}", file.display());
        assert!(err.contains(s(file)), "the message names the file: {err}");
    }
    let (_, _, err) = restore(&role_dir, &foreign, &[]);
    assert!(
        err.contains(&foreign_origin) && err.contains(&origin),
        "both identities named: {err}"
    );
    assert_eq!(digests(&role_dir), live);
    assert_eq!(event_count(&role_dir), 25);
    let status = role_status(&system.role_url, &role_dir).unwrap();
    assert!(
        verified(&status),
        "a refused restore does not touch the role: {status:?}"
    );

    // The backup taken mid-listing, restored into the running role: deactivated meanwhile,
    // it resumes the interrupted listing and ends verified equal to SiPass again.
    let (ok, out, err) = restore(&role_dir, &during, &[]);
    assert!(ok, "restore into the running role failed: {err}");
    assert!(out.contains("deactivated meanwhile"), "{out}");
    assert!(
        directory(&role_dir).count("cardholder").unwrap() < CARDHOLDERS as u64
            || verified(&role_status(&system.role_url, &role_dir).unwrap()),
        "the restored Directory is the one from mid-listing"
    );
    wait_verified(&system);
    assert_eq!(digests(&role_dir), live);
    deep_verify_consistent(&role_dir);
}

/// The partial files a backup to `file` may leave beside it.
fn partials(file: &Path) -> Vec<PathBuf> {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(&format!(".{name}")) && n.ends_with(".partial")
        })
        .collect()
}

#[test]
fn a_backup_killed_midway_leaves_the_earlier_backup_intact_and_the_next_one_completes() {
    let dir = TempDir::new("db-kill");
    let data = dir.sub("role");
    let directory = store::open(&data.join("directory.db")).unwrap();
    store::open_plugin(&data.join("plugin.db")).unwrap();
    let position = store::SyncPosition {
        source_kind: "cardholder".into(),
        cache_id: "c".into(),
        generation: 1,
        snapshot_revision: 1,
        page_token: String::new(),
        done: 0,
        total: 0,
        complete: false,
    };
    // About 200 MB, so that the copy takes a while.
    let notes = "n".repeat(4000);
    for page in 0..50 {
        let rows: Vec<store::SourceEntity> = (0..1000)
            .map(|i| store::SourceEntity {
                source_kind: "cardholder".into(),
                id: format!("{page:03}{i:04}"),
                revision: 1,
                name: format!("Holder {page} {i}"),
                fields: json!({ "Notes": notes }).to_string(),
                kinds: vec!["cardholder".into()],
            })
            .collect();
        directory.write_page(&rows, &position).unwrap();
    }
    drop(directory);
    let file = dir.0.join("site.backup");
    backup(&data, &file);
    let earlier = std::fs::read(&file).unwrap();

    let binary = std::env::var("SIPASS_BRIDGE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sipass-bridge").to_owned());
    let mut child = std::process::Command::new(binary)
        .args(["db", "backup", s(&file), "--data", s(&data)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(60), "the backup under way", || {
        (!partials(&file).is_empty()).then_some(())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        std::fs::read(&file).unwrap(),
        earlier,
        "the earlier backup is intact"
    );
    // And it still restores.
    let other = dir.sub("restored");
    let (ok, _, err) = restore(&other, &file, &[]);
    assert!(ok, "{err}");
    assert_eq!(
        store::open_read_only(&other.join("directory.db"))
            .unwrap()
            .count("cardholder")
            .unwrap(),
        50_000
    );
    // The next backup to that name completes and leaves no partial file.
    backup(&data, &file);
    assert!(partials(&file).is_empty(), "{:?}", partials(&file));
}

/// Every row of every table of an SQLite file, sorted, by table.
fn contents(path: &Path) -> BTreeMap<String, Vec<String>> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|table| {
            let columns: Vec<String> = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            // The Directory's 0002 adds the rows' own number: the contents are the rest.
            let kept: Vec<String> = columns.into_iter().filter(|c| c != "row_id").collect();
            let sql = format!("SELECT {} FROM {table}", kept.join(", "));
            let mut rows: Vec<String> = conn
                .prepare(&sql)
                .unwrap()
                .query_map([], |r| {
                    let values: Vec<String> = (0..kept.len())
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect();
                    Ok(values.join("|"))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            rows.sort();
            (table, rows)
        })
        .collect()
}

/// SiPass's id of every stored event (none without a plugin database).
fn sipass_ids(role_dir: &Path) -> Vec<String> {
    if !role_dir.join("plugin.db").is_file() {
        return Vec::new();
    }
    exported_fields(role_dir)
        .into_iter()
        .map(|e| e.sipass_id)
        .collect()
}

/// The role databases of each fixture folder (tests/fixtures/<release>/).
fn fixture_folders() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("directory.db").is_file())
        .collect();
    folders.sort();
    assert!(!folders.is_empty(), "no fixture in {}", root.display());
    folders
}

#[test]
fn the_fixtures_of_every_release_are_updated_with_every_row_kept_and_a_role_comes_online_on_them() {
    for fixture in fixture_folders() {
        let release = fixture.file_name().unwrap().to_string_lossy().into_owned();
        let dir = TempDir::new(&format!("db-upgrade-{release}"));
        let data = dir.sub("role");
        let files: Vec<&str> = ["directory.db", "plugin.db"]
            .into_iter()
            .filter(|f| fixture.join(f).is_file())
            .collect();
        for f in &files {
            std::fs::copy(fixture.join(f), data.join(f)).unwrap();
        }
        let before: Vec<_> = files.iter().map(|f| contents(&data.join(f))).collect();
        let (ok, out, err) = run(&["db", "update", "--data", s(&data)], &[]);
        assert!(ok, "{release}: db update failed: {err}");
        for (f, before) in files.iter().zip(&before) {
            let after = contents(&data.join(f));
            for (table, rows) in before {
                assert_eq!(
                    after.get(table),
                    Some(rows),
                    "{release}/{f}: table {table} changed by the update ({out})"
                );
            }
        }

        // The release's proxy databases too, updated the same way: the role resumes from
        // the positions its Directory holds in that proxy's cache.
        let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
        let proxy_files: Vec<&str> = ["cache.db", "journal.db"]
            .into_iter()
            .filter(|f| fixture.join(f).is_file())
            .collect();
        for f in &proxy_files {
            std::fs::copy(fixture.join(f), proxy_dir.join(f)).unwrap();
        }
        if !proxy_files.is_empty() {
            let (ok, _, err) = run(&["db", "update", "--data", s(&proxy_dir)], &[]);
            assert!(
                ok,
                "{release}: db update of the proxy's folder failed: {err}"
            );
        }

        // A role started on the updated folder comes online with what it held.
        let events_before = event_count(&data);
        let ids_before = sipass_ids(&data);
        // The release's journal holds events no role acknowledged (its role kept none).
        let journal_events = u64::from(proxy_files.contains(&"journal.db"));
        let runs_before = directory(&data).latest_run().unwrap().map(|r| r.id);
        let holders = directory(&data).count("cardholder").unwrap();
        assert!(holders > 0, "{release}: the fixture holds cardholders");
        let (_sim, sim_url) = start_sim(&sim_dir, holders as usize);
        let (proxy, _) = start_proxy(&proxy_dir, &sim_dir, &sim_url, None, &[]);
        let (_role, role_url) = start_role(&data, &proxy_dir, proxy.port().unwrap());
        eventually(DEADLINE, "the role online on the updated folder", || {
            role_status(&role_url, &data).filter(verified)
        });
        eventually(DEADLINE, "the journal's events stored", || {
            (event_count(&data) >= events_before + journal_events).then_some(())
        });
        let runs_after = directory(&data).latest_run().unwrap().map(|r| r.id);
        let ids_after = sipass_ids(&data);
        let unique: std::collections::BTreeSet<&String> = ids_after.iter().collect();
        assert_eq!(unique.len(), ids_after.len(), "{release}: no event doubled");
        assert!(
            ids_before.iter().all(|id| unique.contains(id)),
            "{release}: every event of the fixture kept"
        );
        // No full synchronization: what the role held stays; a kind this release adds
        // (outputs, say) is listed alone, by a run saying so.
        if !proxy_files.is_empty() && runs_after != runs_before {
            let status = role_status(&role_url, &data).unwrap();
            let run = status.latest_run.unwrap();
            assert_eq!(run.trigger, "kinds newly synchronized", "{release}");
            assert!(
                !run.progress.contains_key("cardholder")
                    && !run.progress.contains_key("credential"),
                "{release}: listed again {:?}",
                run.progress.keys().collect::<Vec<_>>()
            );
            assert!(
                status.transfer.listed < holders,
                "{release}: {} entities listed",
                status.transfer.listed
            );
        }
        let (ok, out, err) = run(&["db", "status", "--json", "--data", s(&data)], &[]);
        assert!(ok, "{err}");
        let status: Value = serde_json::from_str(&out).unwrap();
        for db in status["databases"].as_array().unwrap() {
            assert_eq!(db["found"], db["expected"], "{release}: {db}");
        }
    }
}

/// Every stored event, in our order, without our own id (which a new database gives anew).
fn exported_fields(role_dir: &Path) -> Vec<store::StoredEvent> {
    let plugin = store::open_plugin_read_only(&role_dir.join("plugin.db")).unwrap();
    plugin
        .events(&store::EventFilter {
            limit: 10_000,
            ..store::EventFilter::default()
        })
        .unwrap()
        .into_iter()
        .map(|e| store::StoredEvent { id: 0, ..e })
        .collect()
}

fn import(data: &Path, file: &Path) -> Value {
    let (ok, out, err) = run(
        &["events", "import", s(file), "--data", s(data), "--json"],
        &[],
    );
    assert!(ok, "events import failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn exported_events_imported_into_an_emptied_plugin_database_are_the_same_and_a_second_import_adds_nothing()
 {
    let system = System::start("db-import", 20);
    let role_dir = system.role_dir();
    let api = SipassApi::login(&system.sim_url, &system.dir.0.join("sim"));
    for i in 0..40 {
        let event_type =
            model::management::EVENT_TYPES[i % model::management::EVENT_TYPES.len()].name;
        api.ok(
            "POST",
            "/api/sim/V1/Events",
            Some(json!({ "Type": event_type })),
        );
    }
    eventually(DEADLINE, "the events stored", || {
        (event_count(&role_dir) == 40).then_some(())
    });
    let csv = system.dir.0.join("events.csv");
    let (ok, _, err) = run(
        &[
            "events",
            "export",
            "--since",
            "2000-01-01T00:00:00Z",
            "--until",
            "2100-01-01T00:00:00Z",
            "--out",
            s(&csv),
            "--data",
            s(&role_dir),
        ],
        &[],
    );
    assert!(ok, "events export failed: {err}");
    let original = exported_fields(&role_dir);
    assert_eq!(original.len(), 40);

    // Into the running role's own database: everything is there already.
    let again = import(&role_dir, &csv);
    assert_eq!(
        (again["imported"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(40))
    );
    assert_eq!(event_count(&role_dir), 40);

    // Into an emptied plugin database: the same events.
    let emptied = system.dir.sub("emptied");
    store::open_plugin(&emptied.join("plugin.db")).unwrap();
    let first = import(&emptied, &csv);
    assert_eq!(first["imported"], 40, "{first}");
    assert_eq!(first["refused_count"], 0, "{first}");
    assert_eq!(exported_fields(&emptied), original);
    let second = import(&emptied, &csv);
    assert_eq!(
        (second["imported"].as_u64(), second["skipped"].as_u64()),
        (Some(0), Some(40))
    );
    assert_eq!(event_count(&emptied), 40);

    // A damaged row is refused by line number; the others still count.
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("999,new-1,notanumber,2026-11-22T09:33:20+00:00,Door Forced,,Alarm,true,m,\n");
    text.push_str("1000,new-2,77,yesterday,Door Forced,,Alarm,true,m,\n");
    let damaged = system.dir.0.join("damaged.csv");
    std::fs::write(&damaged, text).unwrap();
    let report = import(&emptied, &damaged);
    assert_eq!(report["imported"], 0, "{report}");
    assert_eq!(report["refused_count"], 2, "{report}");
    let refused: Vec<&str> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        refused[0].starts_with("line ") && refused[0].contains("journal_seq"),
        "{refused:?}"
    );
    assert!(
        refused[1].contains("occurred_at 'yesterday'"),
        "{refused:?}"
    );
}

#[test]
fn a_backup_into_a_folder_that_refuses_writes_names_the_path_and_the_cause() {
    let dir = TempDir::new("db-refused-folder");
    let data = dir.sub("role");
    store::open(&data.join("directory.db")).unwrap();
    store::open_plugin(&data.join("plugin.db")).unwrap();
    // The kernel refuses new files in /sys, even to root: a folder the backup cannot write.
    let (ok, _, err) = run(
        &["db", "backup", "/sys/site.backup", "--data", s(&data)],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("/sys/.site.backup.partial"), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    // Nor is anything left beside the databases.
    let names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn a_deactivated_role_says_why_takes_no_change_even_after_a_restart_and_resumes_them_when_activated()
 {
    let mut system = System::start("db-role-state", 30);
    let role_dir = system.role_dir();
    wait_verified(&system);
    let runs_before = directory(&role_dir).latest_run().unwrap().map(|r| r.id);

    // `db update` beside a running role goes through it (deactivated around the update).
    let (ok, out, err) = run(&["db", "update", "--data", s(&role_dir)], &[]);
    assert!(ok, "db update through the role failed: {err}");
    assert!(
        out.contains("Directory database") && out.contains("already at schema version"),
        "{out}"
    );
    wait_verified(&system);

    let (ok, out, err) = run(
        &[
            "role-state",
            "deactivate",
            "--reason",
            "upgrading to 0.3",
            "--data",
            s(&role_dir),
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(out.contains("deactivated"), "{out}");
    let (code, body) =
        harness::blocking::get_text(&format!("{}/health", system.role_url.trim_end_matches('/')))
            .unwrap();
    assert_eq!(code, 503, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["state"], "deactivated", "{body}");
    assert_eq!(health["reason"], "deactivated: upgrading to 0.3", "{body}");

    // A restart keeps it deactivated: the service coming back does not resume on its own.
    terminate(&mut system.role);
    let (role, role_url) = start_role(
        &role_dir,
        &system.dir.0.join("proxy"),
        system.proxy.port().unwrap(),
    );
    (system.role, system.role_url) = (role, role_url);
    let health = eventually(DEADLINE, "the restarted role's health", || {
        let url = format!("{}/health", system.role_url.trim_end_matches('/'));
        let (code, body) = harness::blocking::get_text(&url).ok()?;
        (code == 503).then(|| serde_json::from_str::<Value>(&body).unwrap())
    });
    assert_eq!(health["state"], "deactivated", "{health}");
    let reason = health["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("deactivated: upgrading to 0.3 (kept across the restart"),
        "{reason}"
    );

    // A SiPass change while deactivated is not taken...
    let api = SipassApi::login(&system.sim_url, &system.dir.0.join("sim"));
    let mut c = api.ok("GET", "/api/V1/hr/Cardholders/1", None);
    c["LastName"] = json!("Renamed-While-Deactivated");
    api.ok("PUT", "/api/V1/hr/Cardholders/1", Some(c));
    std::thread::sleep(Duration::from_millis(1500));
    let name = |dir: &Path| harness::directory::cardholder_name(&*directory(dir), "1").unwrap();
    assert!(!name(&role_dir).unwrap_or_default().contains("Renamed"));

    // ...until the role is activated: then it resumes, without listing everything again.
    let (ok, out, err) = run(&["role-state", "activate", "--data", s(&role_dir)], &[]);
    assert!(ok, "{err}");
    assert!(out.contains("starting"), "{out}");
    eventually(DEADLINE, "the change taken after activation", || {
        name(&role_dir)
            .filter(|n| n.contains("Renamed-While-Deactivated"))
            .and_then(|_| role_status(&system.role_url, &role_dir).filter(verified))
    });
    assert_eq!(
        directory(&role_dir).latest_run().unwrap().map(|r| r.id),
        runs_before
    );
    let (ok, out, _) = run(&["role-state", "activate", "--data", s(&role_dir)], &[]);
    assert!(ok && out.contains("nothing to do"), "{out}");
}

#[test]
fn an_older_foreign_backup_needs_accept_foreign_then_is_restored_updated_and_the_role_comes_back() {
    let system = System::start("db-older", 40);
    let role_dir = system.role_dir();
    wait_verified(&system);
    // A backup of the 0.2.0-dev fixture's role: another role, an older Directory schema.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/0.2.0-dev");
    let old = system.dir.sub("old-role");
    for f in ["directory.db", "plugin.db"] {
        std::fs::copy(fixture.join(f), old.join(f)).unwrap();
    }
    let file = system.dir.0.join("old.backup");
    let manifest = backup(&old, &file)["manifest"].clone();
    let old_version = manifest["parts"][0]["schema_version"].as_i64().unwrap();
    let expected = store::sqlite::DIRECTORY.expected();
    assert!(old_version < expected, "{manifest}");
    let old_events = event_count(&old);

    let (ok, _, err) = restore(&role_dir, &file, &[]);
    assert!(!ok && err.contains("--accept-foreign"), "{err}");
    let (ok, out, err) = restore(&role_dir, &file, &["--accept-foreign"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "the backup was at schema version {old_version}, updated to {expected}"
        )),
        "{out}"
    );
    // The role is now the fixture's role, with its events and its configuration: the proxy
    // address it had. Pointed at this site's proxy, it lists the site again (another cache)
    // until it is verified equal to SiPass.
    let settings: Value = {
        let (ok, out, err) = run(&["config", "show", "--json", "--data", s(&role_dir)], &[]);
        assert!(ok, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let port = system.proxy.port().unwrap().to_string();
    assert!(settings["port"].is_u64(), "{settings}");
    assert_ne!(
        settings["port"].to_string(),
        port,
        "the backup's own address: {settings}"
    );
    let (ok, _, err) = run(
        &[
            "config",
            "set",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--data",
            s(&role_dir),
        ],
        &[],
    );
    assert!(ok, "{err}");
    eventually(
        Duration::from_secs(180),
        "the role verified equal to SiPass",
        || role_status(&system.role_url, &role_dir).filter(verified),
    );
    assert!(event_count(&role_dir) >= old_events);
    assert_eq!(
        directory(&role_dir).count("cardholder").unwrap(),
        40,
        "the Directory equals this SiPass again"
    );
    deep_verify_consistent(&role_dir);
}
