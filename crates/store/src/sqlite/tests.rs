use std::path::PathBuf;

use rusqlite::Connection;

use super::*;
use crate::migrate::Schema;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn temp_db(name: &str) -> PathBuf {
    temp_dir(name).join("directory.db")
}

/// A copy of the Directory the 0.1.0 release wrote.
fn fixture(name: &str) -> PathBuf {
    let from =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/0.1.0/directory.db");
    let to = temp_db(name);
    std::fs::copy(from, &to).unwrap();
    to
}

fn rows(path: &Path, table: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// This release's Directory schema version: the tests follow it as migrations are added.
const LATEST: i64 = DIRECTORY_MIGRATIONS.len() as i64;

/// The "N name" of every migration after the first (what updating 0.1.0 applies).
fn after_first() -> Vec<String> {
    DIRECTORY_MIGRATIONS[1..]
        .iter()
        .map(|m| format!("{} {}", m.version, m.name))
        .collect()
}

/// This release's migrations and one more step.
fn next_release() -> Schema {
    let mut migrations = DIRECTORY_MIGRATIONS.to_vec();
    migrations.push(Migration {
        version: LATEST + 1,
        name: "config_note",
        sql: "ALTER TABLE config ADD COLUMN note TEXT;",
    });
    Schema {
        migrations: Box::leak(migrations.into_boxed_slice()),
        ..DIRECTORY
    }
}

#[test]
fn sqlite_passes_the_conformance_suite() {
    let dir = temp_dir("conformance");
    let next = std::sync::atomic::AtomicU32::new(0);
    crate::conformance::test_suite(&|| {
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        crate::open(&dir.join(format!("directory-{n}.db"))).unwrap()
    });
}

#[test]
fn the_schema_is_versioned_and_survives_reopening() {
    let path = temp_db("schema");
    {
        let dir = SqliteDirectory::open(&path).unwrap();
        dir.set_config(&[("host", "sipass.local".into())]).unwrap();
    }
    let dir = SqliteDirectory::open(&path).unwrap();
    assert_eq!(dir.config("host").unwrap().as_deref(), Some("sipass.local"));
    drop(dir);
    let report = migrate::update(&path, &DIRECTORY, &mut |_| {}).unwrap();
    assert_eq!((report.from, report.to), (LATEST, LATEST));
    assert!(report.applied.is_empty());
}

/// A copy of the 0.1.0 Directory brought to this release's schema by `db update`.
fn updated_fixture(name: &str) -> PathBuf {
    let path = fixture(name);
    migrate::update(&path, &DIRECTORY, &mut |_| {}).unwrap();
    path
}

/// The columns every version of the Directory has, table by table: the contents that an
/// update must carry over (0002 adds only the entities' own row number).
const CARRIED: [(&str, &str); 6] = [
    (
        "entities",
        "source_kind, id, kind, primary_row, revision, name, fields, generation",
    ),
    ("config", "*"),
    ("sync_runs", "*"),
    ("sync_position", "*"),
    ("source_digest", "*"),
    ("watch_position", "*"),
];

#[test]
fn the_release_0_1_0_directory_is_refused_until_updated_then_has_every_row() {
    let path = fixture("fixture");
    let entities = rows(&path, "entities");
    assert_eq!(entities, 110);
    let status = migrate::describe(&path, &DIRECTORY).unwrap();
    assert_eq!((status.schema.found, status.schema.expected), (1, LATEST));
    assert!(
        status
            .counts
            .iter()
            .any(|c| c.table == "entities" && c.rows == 110)
    );
    let refused = crate::open(&path).err().unwrap();
    assert!(
        matches!(
            refused,
            StoreError::NeedsUpdate {
                found: 1,
                expected: LATEST,
                ..
            }
        ),
        "{refused}"
    );
    let report = migrate::update(&path, &DIRECTORY, &mut |_| {}).unwrap();
    assert_eq!(report.applied, after_first());
    let dir = crate::open(&path).unwrap();
    assert_eq!(dir.count("cardholder").unwrap(), 40);
    assert!(dir.config("proxy.host").unwrap().is_some());
    assert!(dir.latest_run().unwrap().is_some());
    assert!(dir.watch_position().unwrap().is_some());
    drop(dir);
    let original = fixture("fixture-again");
    for (table, columns) in CARRIED {
        assert_eq!(
            contents(&path, table, columns),
            contents(&original, table, columns),
            "{table}"
        );
    }
    assert_eq!(contents(&path, "entities", "*").len(), 110);
}

#[test]
fn the_updated_directory_keeps_entities_in_a_rowid_table_with_unique_source_ids() {
    let path = updated_fixture("rowid");
    let conn = Connection::open(&path).unwrap();
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'entities'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!sql.contains("WITHOUT ROWID"), "{sql}");
    let some: (String, String, String) = conn
        .query_row(
            "SELECT source_kind, id, kind FROM entities LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let duplicate = conn.execute(
        "INSERT INTO entities (source_kind, id, kind, primary_row, revision, name, fields, generation)
         VALUES (?1, ?2, ?3, 1, 1, 'x', '{}', 1)",
        rusqlite::params![some.0, some.1, some.2],
    );
    assert!(duplicate.is_err(), "(source_kind, id, kind) stays unique");
}

/// A listing page of `n` cardholders from `from` on, at `revision`.
fn cardholders(from: u32, n: u32, revision: u64) -> Vec<SourceEntity> {
    (from..from + n)
        .map(|i| SourceEntity {
            source_kind: "cardholder".into(),
            id: format!("{i:06}"),
            revision,
            name: format!("Holder {i}"),
            fields: format!("{{\"Token\":\"{i}\"}}"),
            kinds: vec!["cardholder".into()],
        })
        .collect()
}

fn listing(generation: i64) -> SyncPosition {
    SyncPosition {
        source_kind: "cardholder".into(),
        cache_id: "c".into(),
        generation,
        snapshot_revision: 1,
        page_token: String::new(),
        done: 0,
        total: 0,
        complete: false,
    }
}

#[test]
fn a_listing_page_over_held_rows_rewrites_each_once_and_keeps_the_digest_in_step() {
    let path = temp_db("relist");
    let dir = crate::open(&path).unwrap();
    dir.write_page(&cardholders(0, 50, 1), &listing(1)).unwrap();
    // A second listing overlapping the first half, with new revisions, and new ids.
    dir.write_page(&cardholders(25, 50, 2), &listing(2))
        .unwrap();
    let mut expected = Digest::default();
    for e in cardholders(0, 25, 1).iter().chain(&cardholders(25, 50, 2)) {
        expected.add(&e.id, e.revision);
    }
    assert_eq!(dir.digest("cardholder").unwrap(), expected);
    assert_eq!(dir.count("cardholder").unwrap(), 75);
    assert_eq!(rows(&path, "entities"), 75);
    assert_eq!(dir.entity("000030").unwrap()[0].revision, 2);
    assert_eq!(dir.entity("000010").unwrap()[0].revision, 1);
    // Finishing the second listing removes what it did not see.
    assert_eq!(dir.finish_listing(&listing(2)).unwrap(), 25);
    assert_eq!(dir.count("cardholder").unwrap(), 50);
}

/// Every row of a table, each as the debug form of its values, sorted: equal contents give
/// equal vectors whatever order SQLite returns them in.
fn contents(path: &Path, table: &str, columns: &str) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(&format!("SELECT {columns} FROM {table}"))
        .unwrap();
    let columns = stmt.column_count();
    let mut rows: Vec<String> = stmt
        .query_map([], |r| {
            (0..columns)
                .map(|i| {
                    r.get::<_, rusqlite::types::Value>(i)
                        .map(|v| format!("{v:?}"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|values| values.join("|"))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    rows
}

#[test]
fn looking_an_entity_up_by_id_seeks_the_primary_key_instead_of_reading_the_table() {
    let path = updated_fixture("entity-plan");
    let conn = Connection::open(&path).unwrap();
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", read::entity_by_id_sql()))
        .unwrap()
        .query_map(["1"], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter()
            .any(|step| step.contains("USING PRIMARY KEY") || step.contains("USING INDEX")),
        "{plan:?}"
    );
    assert!(
        !plan.iter().any(|step| step.starts_with("SCAN entities")),
        "{plan:?}"
    );
    let dir = crate::open(&path).unwrap();
    let some = dir.all_entities("cardholder").unwrap().remove(0);
    let found = dir.entity(&some.id).unwrap();
    assert!(
        found
            .iter()
            .any(|e| e.kind == "cardholder" && e.name == some.name)
    );
}

#[test]
fn a_database_from_a_newer_release_is_refused_naming_both_versions() {
    let path = temp_db("newer");
    drop(SqliteDirectory::open(&path).unwrap());
    migrate::update(&path, &next_release(), &mut |_| {}).unwrap();
    let err = SqliteDirectory::open(&path).err().unwrap();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema { found, expected, .. } if found == LATEST + 1 && expected == LATEST
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("version {}", LATEST + 1))
            && text.contains(&format!("version {LATEST}")),
        "{text}"
    );
    assert!(text.contains("sipass-bridge db restore"), "{text}");
    assert!(crate::open_read_only(&path).is_err());
    assert!(migrate::update(&path, &DIRECTORY, &mut |_| {}).is_err());
}

#[test]
fn an_older_database_is_refused_naming_db_update_which_brings_it_up_keeping_its_rows() {
    let path = fixture("older");
    let mut conn = super::connect(&path).unwrap();
    let next = next_release();
    let err = migrate::prepare(&mut conn, &next, &path).unwrap_err();
    drop(conn);
    let text = err.to_string();
    assert!(
        matches!(
            err,
            StoreError::NeedsUpdate { found: 1, expected, .. } if expected == LATEST + 1
        ),
        "{text}"
    );
    let folder = path.parent().unwrap().display().to_string();
    assert!(
        text.contains(&format!("sipass-bridge db update --data {folder}")),
        "{text}"
    );

    let before = migrate::describe(&path, &next).unwrap();
    let mut steps = Vec::new();
    let report = migrate::update(&path, &next, &mut |m| steps.push(m.version)).unwrap();
    let expected_steps: Vec<i64> = (2..=LATEST + 1).collect();
    assert_eq!(
        (report.from, report.to, steps),
        (1, LATEST + 1, expected_steps)
    );
    let mut applied = after_first();
    applied.push(format!("{} config_note", LATEST + 1));
    assert_eq!(report.applied, applied);
    let after = migrate::describe(&path, &next).unwrap();
    assert_eq!(after.schema.found, LATEST + 1);
    assert_eq!(after.counts, before.counts, "every row kept");
    let mut conn = super::connect(&path).unwrap();
    assert_eq!(
        migrate::prepare(&mut conn, &next, &path).unwrap().found,
        LATEST + 1
    );
}

#[test]
fn an_edited_migration_is_refused_by_name() {
    let path = temp_db("edited");
    drop(SqliteDirectory::open(&path).unwrap());
    static EDITED: &[Migration] = &[Migration {
        version: 1,
        name: "directory",
        sql: "CREATE TABLE config (key TEXT PRIMARY KEY);",
    }];
    let edited = Schema {
        migrations: EDITED,
        ..DIRECTORY
    };
    let conn = Connection::open(&path).unwrap();
    let err = migrate::inspect(&conn, &edited, &path).unwrap_err();
    assert!(
        matches!(&err, StoreError::ChecksumMismatch { version: 1, name, .. } if name == "directory"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_directory_is_refused() {
    let path = temp_db("foreign");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE something (x);")
        .unwrap();
    let err = SqliteDirectory::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::Unrecognised { .. }), "{err}");
}

#[test]
fn a_read_only_handle_reads_beside_the_writer_and_update_waits_for_it_to_stop() {
    let path = temp_db("beside");
    let dir = crate::open(&path).unwrap();
    dir.write_page(
        &[SourceEntity {
            source_kind: "cardholder".into(),
            id: "1".into(),
            revision: 1,
            name: "Ada".into(),
            fields: "{}".into(),
            kinds: vec!["cardholder".into()],
        }],
        &SyncPosition {
            source_kind: "cardholder".into(),
            cache_id: "c".into(),
            generation: 1,
            snapshot_revision: 1,
            page_token: String::new(),
            done: 1,
            total: 1,
            complete: false,
        },
    )
    .unwrap();
    let reader = crate::open_read_only(&path).unwrap();
    assert_eq!(reader.entity("1").unwrap()[0].name, "Ada");
    dir.set_config(&[("k", "v".into())]).unwrap();
    assert_eq!(reader.config("k").unwrap().as_deref(), Some("v"));

    let err = migrate::update(&path, &DIRECTORY, &mut |_| {}).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    assert!(err.to_string().contains("stop it"), "{err}");
    drop((dir, reader));
    migrate::update(&path, &DIRECTORY, &mut |_| {}).unwrap();
}

#[test]
fn a_run_left_running_by_a_killed_role_is_marked_interrupted_when_the_directory_opens() {
    let path = temp_db("interrupted");
    let run = {
        let dir = SqliteDirectory::open(&path).unwrap();
        dir.start_run("first connection").unwrap()
        // dropped without finish_run: the role was killed
    };
    let dir = SqliteDirectory::open(&path).unwrap();
    let latest = dir.latest_run().unwrap().unwrap();
    assert_eq!(latest.id, run);
    assert_eq!(latest.outcome, RunOutcome::Interrupted);
    assert!(latest.ended_at.is_some());
}

#[test]
fn a_damaged_directory_is_refused_at_open_naming_the_file() {
    let path = fixture("damaged");
    let mut bytes = std::fs::read(&path).unwrap();
    // 12 KiB of garbage in the middle, over entity pages (as the hardening issue found it).
    let middle = bytes.len() / 2;
    for (i, b) in bytes[middle..middle + 12 * 1024].iter_mut().enumerate() {
        *b = (i * 7 + 13) as u8;
    }
    std::fs::write(&path, bytes).unwrap();
    let err = SqliteDirectory::open(&path)
        .err()
        .expect("a damaged file is refused");
    assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("restore a backup"), "{message}");
    assert!(message.contains("sipass-bridge db restore"), "{message}");
}

#[test]
fn two_kilobyte_cardholders_take_about_their_size_on_disk_not_a_page_each() {
    let path = temp_db("page-size");
    let directory = SqliteDirectory::open(&path).unwrap();
    // A proxy's revisions start at its creation time in microseconds; the fields are about
    // the size of a simulated cardholder's SiPass object: two such rows do not fit a 4 KiB
    // page.
    let mut holders = cardholders(0, 2000, 1_796_000_000_000_000);
    for h in &mut holders {
        h.fields = format!(
            "{{\"Token\":\"{}\",\"Notes\":\"{}\"}}",
            h.id,
            "x".repeat(2000)
        );
    }
    directory.write_page(&holders, &listing(1)).unwrap();
    drop(directory);
    let conn = Connection::open(&path).unwrap();
    let table_bytes: i64 = conn
        .query_row(
            "SELECT SUM(pgsize) FROM dbstat WHERE name = 'entities'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // With 4 KiB pages each row took a page of its own: 8 MB for 4 MB of rows.
    assert!(
        table_bytes < 2000 * 2600,
        "2,000 rows of 2 KB take {table_bytes} bytes"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
