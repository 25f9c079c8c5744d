//! The PostgreSQL engine against a real, throwaway PostgreSQL cluster (the machine's own;
//! `scripts/test` installs it): the same conformance suites as SQLite, the migration lists
//! matching SQLite's, schema versions refused as SQLite's are, accounts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use pgcluster::Cluster;

use super::*;
use crate::PluginRead;
use crate::accounts::{Accounts, GroupRow, UserRow};

/// A new empty database in `cluster`.
fn database(cluster: &Cluster) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    cluster.create_database(&format!("store_{n}")).unwrap()
}

#[test]
fn the_migrations_have_sqlites_versions_and_names() {
    let names =
        |m: &[Migration]| -> Vec<(i64, &str)> { m.iter().map(|m| (m.version, m.name)).collect() };
    assert_eq!(
        names(DIRECTORY_MIGRATIONS),
        names(crate::sqlite::DIRECTORY_MIGRATIONS)
    );
    assert_eq!(
        names(PLUGIN_MIGRATIONS),
        names(crate::sqlite::PLUGIN_MIGRATIONS)
    );
}

#[test]
fn messages_name_a_database_without_its_password() {
    let shown = |url: &str| location(url).display().to_string();
    assert_eq!(
        shown("postgres://bridge:s3cret@db:5432/sipass"),
        "postgres://bridge@db:5432/sipass"
    );
    assert_eq!(
        shown("postgresql://bridge@localhost/sipass?password=s3cret&host=/run/postgresql"),
        "postgresql://bridge@localhost/sipass?host=/run/postgresql"
    );
    assert_eq!(shown("postgres://db/sipass"), "postgres://db/sipass");
}

#[test]
fn postgres_passes_the_conformance_suites() {
    let cluster = Cluster::start().unwrap();
    crate::conformance::test_suite(&|| Arc::new(PgDirectory::open(&database(&cluster)).unwrap()));
    crate::plugin_conformance::test_suite(&|| {
        Arc::new(PgPlugin::open(&database(&cluster)).unwrap())
    });
}

#[test]
fn postgres_keeps_schemas_versions_accounts_and_works_under_a_runtime() {
    let cluster = Cluster::start().unwrap();
    let url = database(&cluster);
    // The Directory and the plugin database are two schemas of one database.
    let directory = PgDirectory::open(&url).unwrap();
    let plugin = PgPlugin::open(&url).unwrap();
    let role_id = plugin.role_id().unwrap();
    drop(plugin);
    assert_eq!(PgPlugin::open(&url).unwrap().role_id().unwrap(), role_id);
    let status = migrate::describe(&url, &DIRECTORY).unwrap();
    assert_eq!(status.schema.found, status.schema.expected);
    assert!(status.counts.iter().any(|c| c.table == "entities"));

    // The client blocks: from inside the role's async runtime it must still work.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async { directory.set_config(&[("k", "v".into())]).unwrap() });
    assert_eq!(directory.config("k").unwrap().as_deref(), Some("v"));

    accounts_work(&PgAccounts::open(&url).unwrap());
    imports_skip_what_is_stored(&url);

    // A newer schema (a later release's step recorded) is refused naming the URL option.
    let pg = Pg::connect(&url, &DIRECTORY).unwrap();
    pg.run(|c| {
        c.execute(
            "INSERT INTO schema_migrations VALUES (99, 'later', 'x', 0)",
            &[],
        )?;
        Ok(())
    })
    .unwrap();
    let err = PgDirectory::open(&url).err().unwrap();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("--database-url"), "{err}");
    assert!(!err.to_string().contains("--data "), "{err}");

    // A schema one step behind is refused until `db update` brings it forward.
    let behind = database(&cluster);
    let pg = Pg::connect(&behind, &PLUGIN).unwrap();
    let older = Schema {
        migrations: &PLUGIN_MIGRATIONS[..2],
        ..PLUGIN
    };
    migrate::prepare(&pg, &older).unwrap();
    let err = PgPlugin::open(&behind).err().unwrap();
    assert!(
        matches!(err, StoreError::NeedsUpdate { found: 2, .. }),
        "{err:?}"
    );
    let report = migrate::update(&behind, &PLUGIN, &mut |_| {}).unwrap();
    assert_eq!((report.from, report.to), (2, 3));
    assert_eq!(report.applied, ["3 plugin_activity"]);
    PgPlugin::open(&behind).unwrap();
}

fn accounts_work(accounts: &dyn Accounts) {
    accounts.add_partition("North").unwrap();
    accounts.add_partition("South").unwrap();
    accounts
        .put_user(&UserRow {
            name: "olga".into(),
            role: "operator".into(),
            password_hash: "h".into(),
            must_change_password: true,
            partitions: vec!["North".into()],
        })
        .unwrap();
    accounts
        .put_group(&GroupRow {
            name: "night".into(),
            members: vec!["olga".into()],
            partitions: vec!["South".into()],
        })
        .unwrap();
    let m = accounts.membership("olga").unwrap().unwrap();
    assert_eq!(m.groups, ["night"]);
    assert_eq!(m.partitions, ["North", "South"]);
    assert!(m.user.must_change_password);
    assert!(accounts.set_password("olga", "h2", false).unwrap());
    assert!(accounts.delete_partition("South").unwrap());
    assert_eq!(
        accounts.membership("olga").unwrap().unwrap().partitions,
        ["North"]
    );
    accounts.add_token("d1", "olga", "script").unwrap();
    accounts.add_token("d2", "olga", "backup").unwrap();
    assert_eq!(accounts.token_user("d1").unwrap().as_deref(), Some("olga"));
    let labels: Vec<String> = accounts
        .tokens()
        .unwrap()
        .into_iter()
        .map(|t| t.label)
        .collect();
    assert_eq!(labels, ["backup", "script"]);
    assert!(accounts.delete_token("d2").unwrap());
    assert!(!accounts.delete_token("d2").unwrap());
    assert!(accounts.delete_user("olga").unwrap());
    assert_eq!(accounts.token_user("d1").unwrap(), None);
    assert!(accounts.groups().unwrap()[0].members.is_empty());
    assert_eq!(accounts.administrators().unwrap(), 0);
    assert_eq!(accounts.partitions().unwrap(), ["North", "SiPass"]);
}

#[test]
fn one_role_holds_the_lease_and_another_takes_it_once_it_is_gone() {
    use super::lease::{Lease, LeaseState};
    let cluster = Cluster::start().unwrap();
    let url = database(&cluster);
    let first = Lease::new(&url, "role on host-a");
    let second = Lease::new(&url, "role on host-b");
    assert_eq!(first.hold().unwrap(), LeaseState::Held);
    assert_eq!(
        first.hold().unwrap(),
        LeaseState::Held,
        "held, not taken twice"
    );
    let LeaseState::Elsewhere { holder } = second.hold().unwrap() else {
        panic!("the lease is taken")
    };
    assert!(
        holder.starts_with("role on host-a (from 127.0.0.1"),
        "{holder}"
    );
    // The holder's connection ends (its process killed): PostgreSQL releases the lease.
    drop(first);
    let taken = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        second.hold().unwrap() == LeaseState::Held
    });
    assert!(taken, "the second role takes the lease once it is free");
    // A server that goes away loses the lease for its holder, which says so.
    drop(cluster);
    assert!(second.hold().is_err());
}

#[test]
fn a_connection_the_server_closed_is_made_again_at_the_next_call() {
    let cluster = Cluster::start().unwrap();
    let url = database(&cluster);
    let directory = PgDirectory::open(&url).unwrap();
    directory.set_config(&[("k", "v".into())]).unwrap();
    // Every session of the database ended by the server, as a restart does.
    let admin = Pg::connect(&url, &DIRECTORY).unwrap();
    admin
        .run(|c| {
            c.batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )?;
            Ok(())
        })
        .unwrap();
    // Each connection (the reader, the writer) fails once, as transient, then works.
    let failed = directory
        .config("k")
        .expect_err("the closed reader fails once");
    assert!(failed.is_transient(), "{failed:?}");
    assert_eq!(directory.config("k").unwrap().as_deref(), Some("v"));
    let failed = directory
        .set_config(&[("k", "w".into())])
        .expect_err("the closed writer fails once");
    assert!(failed.is_transient(), "{failed:?}");
    directory.set_config(&[("k", "w".into())]).unwrap();
    assert_eq!(directory.config("k").unwrap().as_deref(), Some("w"));
}

fn imports_skip_what_is_stored(url: &str) {
    use crate::PluginDatabase;
    use crate::import::EventImport;
    let plugin = PgPlugin::open(url).unwrap();
    let event = |seq: u64| crate::NewEvent {
        journal_seq: seq,
        sipass_id: format!("ev-{seq}"),
        occurred_at: "2026-01-01T00:00:00+00:00".into(),
        occurred_ms: 1_000,
        journaled_ms: 1_000,
        sipass_type: "Access Granted".into(),
        native_events: vec![],
        category: "Access".into(),
        known_type: true,
        message: String::new(),
        entities: vec![],
        payload: "{}".into(),
    };
    let position = crate::EventPosition {
        journal_id: "j".into(),
        sequence: 1,
    };
    plugin
        .store_events(&[event(1)], &vec![], &position)
        .unwrap();
    let import = PgImport::open(url).unwrap();
    assert!(import.stored_sipass_ids().unwrap().contains("ev-1"));
    assert_eq!(
        import.import_events(&[event(1), event(2)]).unwrap(),
        [true, true]
    );
    assert_eq!(
        import.import_events(&[event(2)]).unwrap(),
        [false],
        "an imported sequence is stored once"
    );
    assert_eq!(plugin.event_count().unwrap(), 3);
    assert_eq!(
        plugin.event_position().unwrap(),
        position,
        "the journal position stays"
    );
}
