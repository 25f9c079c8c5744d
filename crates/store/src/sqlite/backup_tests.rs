use std::path::PathBuf;

use super::*;
use crate::backup::{self, BackupError};
use crate::{Directory, NewEvent, PluginDatabase, SourceEntity, SyncPosition};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("store-backup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` cardholders from `from` on, with fields big enough that a copy takes several steps.
fn cardholders(from: u32, n: u32) -> Vec<SourceEntity> {
    (from..from + n)
        .map(|i| SourceEntity {
            source_kind: "cardholder".into(),
            id: format!("{i:06}"),
            revision: 1,
            name: format!("Holder {i}"),
            fields: format!("{{\"Token\":\"{i}\",\"Notes\":\"{}\"}}", "x".repeat(1500)),
            kinds: vec!["cardholder".into()],
        })
        .collect()
}

fn listing() -> SyncPosition {
    SyncPosition {
        source_kind: "cardholder".into(),
        cache_id: "c".into(),
        generation: 1,
        snapshot_revision: 1,
        page_token: "t".into(),
        done: 0,
        total: 0,
        complete: false,
    }
}

fn event(seq: u64) -> NewEvent {
    NewEvent {
        journal_seq: seq,
        sipass_id: format!("ev-{seq}"),
        occurred_at: "2026-12-01T07:00:00Z".into(),
        occurred_ms: 1_700_000_000_000 + seq as i64,
        journaled_ms: 1_700_000_000_000 + seq as i64,
        sipass_type: "Access Granted".into(),
        native_events: vec!["AccessGranted".into()],
        category: "access".into(),
        known_type: true,
        message: format!("event {seq}"),
        entities: vec![],
        payload: "{}".into(),
    }
}

/// A role's data folder with `holders` cardholders and `events` events.
fn role_folder(
    name: &str,
    holders: u32,
    events: u64,
) -> (PathBuf, Arc<dyn Directory>, Arc<dyn PluginDatabase>) {
    let dir = temp_dir(name);
    let directory = crate::open(&dir.join("directory.db")).unwrap();
    directory
        .write_page(&cardholders(0, holders), &listing())
        .unwrap();
    let plugin = crate::open_plugin(&dir.join("plugin.db")).unwrap();
    let batch: Vec<NewEvent> = (1..=events).map(event).collect();
    let position = crate::EventPosition {
        journal_id: "j".into(),
        sequence: events,
    };
    plugin.store_events(&batch, &vec![], &position).unwrap();
    (dir, directory, plugin)
}

use std::sync::Arc;

fn backup_of(dir: &Path, file: &Path) -> backup::Manifest {
    let dbs = role_databases(dir);
    let refs: Vec<&dyn Maintained> = dbs.iter().map(|d| d as &dyn Maintained).collect();
    let origin = dbs[1].origin().unwrap().unwrap();
    backup::write(file, &refs, &origin, "test", &mut |_, _| {}).unwrap()
}

fn restore_into(
    dir: &Path,
    file: &Path,
    accept_foreign: bool,
) -> Result<backup::RestoreReport, BackupError> {
    let dbs = role_databases(dir);
    let refs: Vec<&dyn Maintained> = dbs.iter().map(|d| d as &dyn Maintained).collect();
    let current = dbs[1].origin()?;
    let checked = backup::check(file, &refs, current.as_deref(), accept_foreign, dir)?;
    backup::restore(checked, &refs, &mut |_, _| {})
}

#[test]
fn a_backup_is_one_snapshot_while_the_role_writes_and_restores_to_an_equal_database() {
    const HOLDERS: u64 = 10_000;
    let (dir, directory, plugin) = role_folder("snapshot", HOLDERS as u32, 50);
    let digest = directory.digest("cardholder").unwrap();
    let file = dir.join("site.backup");
    let dbs = role_databases(&dir);
    let refs: Vec<&dyn Maintained> = dbs.iter().map(|d| d as &dyn Maintained).collect();
    let mut steps = 0;
    let mut next = 10_000;
    // Between steps the role writes pages: the copy keeps the state at its start.
    let manifest = backup::write(&file, &refs, "me", "test", &mut |db, p| {
        if db == "Directory database" && p.done < p.total {
            steps += 1;
            directory
                .write_page(&cardholders(next, 200), &listing())
                .unwrap();
            next += 200;
        }
    })
    .unwrap();
    assert!(steps >= 2, "the copy took {steps} steps");
    assert_eq!(manifest.parts.len(), 2);
    assert_eq!(
        manifest.parts[0].schema_version,
        super::super::DIRECTORY.expected()
    );
    assert!(
        directory.count("cardholder").unwrap() > HOLDERS,
        "the role wrote meanwhile"
    );

    let other = temp_dir("snapshot-restored");
    let report = restore_into(&other, &file, false).unwrap();
    assert!(report.updates.is_empty());
    let restored = crate::open(&other.join("directory.db")).unwrap();
    assert_eq!(restored.count("cardholder").unwrap(), HOLDERS);
    assert_eq!(restored.digest("cardholder").unwrap(), digest);
    let events = crate::open_plugin(&other.join("plugin.db")).unwrap();
    assert_eq!(events.event_count().unwrap(), 50);
    assert_eq!(events.role_id().unwrap(), plugin.role_id().unwrap());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_restore_replaces_what_a_running_role_reads_through_its_own_connections() {
    let (dir, directory, plugin) = role_folder("live", 100, 10);
    let file = dir.join("before.backup");
    backup_of(&dir, &file);
    directory
        .write_page(&cardholders(1000, 50), &listing())
        .unwrap();
    plugin
        .store_events(
            &[event(11)],
            &vec![],
            &crate::EventPosition {
                journal_id: "j".into(),
                sequence: 11,
            },
        )
        .unwrap();
    assert_eq!(directory.count("cardholder").unwrap(), 150);
    restore_into(&dir, &file, false).unwrap();
    assert_eq!(directory.count("cardholder").unwrap(), 100);
    assert_eq!(plugin.event_count().unwrap(), 10);
    assert_eq!(plugin.event_position().unwrap().sequence, 10);
}

/// Every refusal leaves the databases as they were.
#[test]
fn corrupt_truncated_foreign_newer_and_foreign_format_backups_are_refused_untouched() {
    let (dir, directory, plugin) = role_folder("refused", 300, 20);
    let good = dir.join("good.backup");
    backup_of(&dir, &good);
    directory
        .write_page(&cardholders(5000, 10), &listing())
        .unwrap();
    let digest = directory.digest("cardholder").unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let untouched = || {
        assert_eq!(directory.digest("cardholder").unwrap(), digest);
        assert_eq!(plugin.event_count().unwrap(), 20);
    };

    let corrupt = dir.join("corrupt.backup");
    let mut flipped = bytes.clone();
    let at = bytes.len() - 5000;
    flipped[at] ^= 0xff;
    std::fs::write(&corrupt, &flipped).unwrap();
    let e = restore_into(&dir, &corrupt, false).unwrap_err();
    assert!(matches!(e, BackupError::Checksum { .. }), "{e}");
    assert!(e.to_string().contains("corrupt.backup"), "{e}");
    untouched();

    let truncated = dir.join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let e = restore_into(&dir, &truncated, false).unwrap_err();
    assert!(matches!(e, BackupError::Truncated { .. }), "{e}");
    untouched();

    let garbage = dir.join("garbage.backup");
    std::fs::write(&garbage, b"PK\x03\x04 a zip file").unwrap();
    let e = restore_into(&dir, &garbage, false).unwrap_err();
    assert!(matches!(e, BackupError::NotABackup(_)), "{e}");
    untouched();

    let (other, ..) = role_folder("refused-other", 10, 1);
    let foreign = other.join("foreign.backup");
    backup_of(&other, &foreign);
    let e = restore_into(&dir, &foreign, false).unwrap_err();
    assert!(matches!(e, BackupError::Foreign { .. }), "{e}");
    assert!(e.to_string().contains(&plugin.role_id().unwrap()), "{e}");
    assert!(e.to_string().contains("--accept-foreign"), "{e}");
    untouched();

    // A backup from a release whose Directory has one more migration.
    let (newer_dir, newer_directory, _) = role_folder("refused-newer", 10, 1);
    drop(newer_directory);
    {
        let conn = Connection::open(newer_dir.join("directory.db")).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (99, 'future', 'x', 0)",
            [],
        )
        .unwrap();
    }
    let newer = newer_dir.join("newer.backup");
    let dbs = role_databases(&newer_dir);
    let refs: Vec<&dyn Maintained> = dbs.iter().map(|d| d as &dyn Maintained).collect();
    let e = backup::write(&newer, &refs, "x", "9.0.0", &mut |_, _| {}).unwrap_err();
    assert!(
        e.to_string().contains("newer"),
        "a newer database is not even backed up: {e}"
    );
    let e = restore_into(&dir, &foreign_with_newer_schema(&newer_dir, &newer), true).unwrap_err();
    assert!(
        matches!(e, BackupError::NewerSchema { found: 99, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("9.0.0"), "{e}");
    untouched();

    // The good one still restores.
    restore_into(&dir, &good, false).unwrap();
    assert_eq!(directory.count("cardholder").unwrap(), 300);
}

/// A backup file whose Directory copy records a migration this release does not know,
/// framed by hand as a newer release would write it.
fn foreign_with_newer_schema(dir: &Path, file: &Path) -> PathBuf {
    let dbs = role_databases(dir);
    let copies: Vec<PathBuf> = dbs
        .iter()
        .map(|d| {
            let copy = dir.join(format!("copy-{}", d.schema().file));
            std::fs::copy(d.location(), &copy).unwrap();
            copy
        })
        .collect();
    let parts = dbs
        .iter()
        .zip(&copies)
        .map(|(d, c)| {
            let bytes = std::fs::read(c).unwrap();
            let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
            backup::Part {
                database: d.schema().database.into(),
                file: d.schema().file.into(),
                schema_version: 99,
                bytes: bytes.len() as u64,
                sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
            }
        })
        .collect();
    let manifest = backup::Manifest {
        format: backup::FORMAT,
        product_version: "9.0.0".into(),
        engine: "sqlite".into(),
        origin: "x".into(),
        created_at: "2030-01-01T00:00:00Z".into(),
        parts,
    };
    let mut out = backup::MAGIC.to_vec();
    out.extend(serde_json::to_vec(&manifest).unwrap());
    out.push(b'\n');
    for c in &copies {
        out.extend(std::fs::read(c).unwrap());
    }
    std::fs::write(file, out).unwrap();
    file.to_owned()
}

#[test]
fn a_backup_of_an_older_release_is_restored_then_updated() {
    let old = temp_dir("older-source");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/0.1.0/directory.db");
    std::fs::copy(&fixture, old.join("directory.db")).unwrap();
    crate::open_plugin(&old.join("plugin.db")).unwrap();
    let file = old.join("old.backup");
    let manifest = backup_of(&old, &file);
    assert_eq!(manifest.parts[0].schema_version, 1);

    let (dir, ..) = role_folder("older", 5, 1);
    let dbs = role_databases(&dir);
    let refs: Vec<&dyn Maintained> = dbs.iter().map(|d| d as &dyn Maintained).collect();
    let checked = backup::check(&file, &refs, None, false, &dir).unwrap();
    let expected = super::super::DIRECTORY.expected();
    assert_eq!(
        checked.older(),
        [format!("Directory database (version 1 -> {expected})")]
    );
    let report = backup::restore(checked, &refs, &mut |_, _| {}).unwrap();
    assert_eq!(report.updates.len(), 1);
    let applied: Vec<String> = super::super::DIRECTORY_MIGRATIONS[1..]
        .iter()
        .map(|m| format!("{} {}", m.version, m.name))
        .collect();
    assert_eq!(report.updates[0].applied, applied);
    let directory = crate::open(&dir.join("directory.db")).unwrap();
    assert_eq!(directory.count("cardholder").unwrap(), 40);
}

#[test]
fn a_failed_backup_leaves_the_earlier_one_and_no_partial_file() {
    let (dir, ..) = role_folder("failed", 50, 5);
    let file = dir.join("site.backup");
    let first = backup_of(&dir, &file);
    let before = std::fs::read(&file).unwrap();
    // The plugin database is gone: the backup fails after copying the Directory.
    std::fs::remove_file(dir.join("plugin.db")).unwrap();
    let dbs = role_databases(&dir);
    let refs: Vec<&dyn Maintained> = dbs.iter().map(|d| d as &dyn Maintained).collect();
    let e = backup::write(&file, &refs, &first.origin, "test", &mut |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("plugin.db"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let partial: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
}

#[test]
fn a_manifest_with_control_characters_or_huge_values_is_refused_as_damaged() {
    let (dir, ..) = role_folder("hostile", 5, 1);
    let good = dir.join("good.backup");
    backup_of(&dir, &good);
    let bytes = std::fs::read(&good).unwrap();
    let text_end = bytes
        .iter()
        .skip(backup::MAGIC.len())
        .position(|b| *b == b'\n')
        .unwrap()
        + backup::MAGIC.len();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&bytes[backup::MAGIC.len()..text_end]).unwrap();
    for hostile in ["\u{1b}[2Jrole", &"x".repeat(500)] {
        manifest["product_version"] = serde_json::json!(hostile);
        let mut out = backup::MAGIC.to_vec();
        out.extend(serde_json::to_vec(&manifest).unwrap());
        out.extend(&bytes[text_end..]);
        let file = dir.join("hostile.backup");
        std::fs::write(&file, out).unwrap();
        let e = restore_into(&dir, &file, false).unwrap_err();
        assert!(matches!(e, BackupError::BadManifest { .. }), "{e}");
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
        assert!(e.to_string().len() < 400, "{e}");
    }
}

#[test]
fn a_replacement_that_fails_names_the_database_its_file_and_what_was_restored_already() {
    let (dir, ..) = role_folder("replace-fails", 5, 1);
    let file = dir.join("site.backup");
    backup_of(&dir, &file);
    let target = temp_dir("replace-fails-target");
    // Where the plugin database should be, a folder: SQLite cannot open it.
    std::fs::create_dir_all(target.join("plugin.db")).unwrap();
    let e = restore_into(&target, &file, false).unwrap_err();
    assert!(matches!(e, BackupError::Replace { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&target.join("plugin.db").display().to_string()),
        "{text}"
    );
    assert!(
        text.contains("the Directory database was restored already"),
        "{text}"
    );
}
