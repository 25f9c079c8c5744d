//! `db status` and `db update` on copies of the databases the 0.1.0 release wrote, as an
//! administrator runs them on a stopped role's or proxy's data folder.

use std::path::Path;

use crate::support::{TempDir, run, s};

/// A data folder holding copies of the named 0.1.0 fixtures.
fn folder_with(name: &str, files: &[&str]) -> TempDir {
    let dir = TempDir::new(name);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/0.1.0");
    for file in files {
        std::fs::copy(fixtures.join(file), dir.0.join(file)).unwrap();
    }
    dir
}

fn status(data: &Path) -> serde_json::Value {
    let (ok, out, err) = run(&["db", "status", "--json", "--data", s(data)], &[]);
    assert!(ok, "db status failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// (database, found, expected, rows of `table`) of each database in a status.
fn summary(status: &serde_json::Value, table: &str) -> Vec<(String, i64, i64, i64)> {
    status["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let rows = d["counts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["table"] == table)
                .map_or(-1, |c| c["rows"].as_i64().unwrap());
            (
                d["database"].as_str().unwrap().to_owned(),
                d["found"].as_i64().unwrap(),
                d["expected"].as_i64().unwrap(),
                rows,
            )
        })
        .collect()
}

/// This release's Directory schema version, and what updating 0.1.0's applies.
fn directory_latest() -> i64 {
    store::sqlite::DIRECTORY_MIGRATIONS.len() as i64
}

fn directory_applied() -> String {
    store::sqlite::DIRECTORY_MIGRATIONS[1..]
        .iter()
        .map(|m| format!("{} {}", m.version, m.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn db_status_reads_version_1_on_the_release_0_1_0_databases() {
    let role = folder_with("db-status-role", &["directory.db"]);
    assert_eq!(
        summary(&status(&role.0), "entities"),
        [("Directory database".to_owned(), 1, directory_latest(), 110)]
    );
    let proxy = folder_with("db-status-proxy", &["cache.db", "journal.db"]);
    let found = status(&proxy.0);
    assert_eq!(
        summary(&found, "entities")[0],
        ("proxy cache".to_owned(), 1, 2, 109)
    );
    assert_eq!(
        summary(&found, "entries")[1],
        ("event journal".to_owned(), 1, 1, 10)
    );
    assert!(found["databases"][0]["size_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn db_update_brings_directory_and_cache_to_rowid_entities_leaves_the_journal_and_keeps_every_row() {
    let data = folder_with("db-update", &["directory.db", "cache.db", "journal.db"]);
    let before = status(&data.0);
    let (ok, out, err) = run(&["db", "update", "--data", s(&data.0)], &[]);
    assert!(ok, "db update failed: {err}");
    assert!(
        out.contains(&format!(
            "schema version 1 -> {} (applied {})",
            directory_latest(),
            directory_applied()
        )),
        "{out}"
    );
    assert!(
        out.contains("schema version 1 -> 2 (applied 2 cache_entities_rowid)"),
        "{out}"
    );
    assert_eq!(
        out.matches("already at schema version 1").count(),
        1,
        "{out}"
    );
    let after = status(&data.0);
    // Same rows in every table; only the Directory's and the cache's versions moved.
    let rows = |s: &serde_json::Value, table| -> Vec<(String, i64)> {
        summary(s, table)
            .into_iter()
            .map(|(database, _, _, rows)| (database, rows))
            .collect()
    };
    for table in ["entities", "changes", "batches", "config", "sync_runs"] {
        assert_eq!(rows(&after, table), rows(&before, table), "{table}");
    }
    assert_eq!(
        summary(&after, "entities")
            .iter()
            .map(|(_, found, expected, _)| (*found, *expected))
            .collect::<Vec<_>>(),
        [(directory_latest(), directory_latest()), (2, 2), (1, 1)]
    );
    let (ok, out, err) = run(&["db", "update", "--json", "--data", s(&data.0)], &[]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["databases"].as_array().unwrap().len(), 3);
    assert_eq!(report["databases"][0]["to"], directory_latest());
}

#[test]
fn db_commands_on_a_folder_without_databases_say_what_belongs_there() {
    let empty = TempDir::new("db-empty");
    for command in ["status", "update"] {
        let (ok, _, err) = run(&["db", command, "--data", s(&empty.0)], &[]);
        assert!(!ok);
        assert!(
            err.contains("directory.db") && err.contains("cache.db"),
            "{err}"
        );
    }
}
