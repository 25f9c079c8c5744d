//! How fast a full synchronization's pages are written by each engine: the same listing of
//! SiPass objects (about 1.2 kB of attributes each, as a cardholder's) written page by page
//! through `Directory::write_page` into SQLite and into a throwaway PostgreSQL cluster of the
//! machine's PostgreSQL (crates/pgcluster), nothing else running.
//!
//! `cargo run --release -p sipass-bridge-store --example page_rate -- [OBJECTS] [PAGE]`
//! (default 100,000 objects in pages of 1,000).

use std::time::Instant;

use sipass_bridge_store as store;
use store::{Directory, SourceEntity, SyncPosition};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100_000);
    let page: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(1_000);
    let objects: Vec<SourceEntity> = (0..total).map(object).collect();
    let dir = std::env::temp_dir().join(format!("page-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sqlite = store::open(&dir.join("directory.db"))?;
    let sqlite_rate = rate(sqlite.as_ref(), &objects, page)?;
    println!("sqlite:     {sqlite_rate:.0} objects/s");
    let cluster = pgcluster::Cluster::start()?;
    cluster.create_database("rate")?;
    let url = match std::env::var("PAGE_RATE_SOCKET") {
        Ok(_) => cluster.socket_url("rate"),
        Err(_) => cluster.url("rate"),
    };
    let postgres = store::open_postgres(&url)?;
    let postgres_rate = rate(postgres.as_ref(), &objects, page)?;
    println!("postgresql: {postgres_rate:.0} objects/s");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Objects per second written in pages of `page`, each with the listing's position.
fn rate(
    directory: &dyn Directory,
    objects: &[SourceEntity],
    page: usize,
) -> Result<f64, store::StoreError> {
    let started = Instant::now();
    for (i, chunk) in objects.chunks(page).enumerate() {
        let position = SyncPosition {
            source_kind: "cardholder".into(),
            cache_id: "bench".into(),
            generation: 1,
            snapshot_revision: 1,
            page_token: format!("page-{i}"),
            done: ((i + 1) * page) as u64,
            total: objects.len() as u64,
            complete: false,
        };
        directory.write_page(chunk, &position)?;
    }
    Ok(objects.len() as f64 / started.elapsed().as_secs_f64())
}

fn object(i: usize) -> SourceEntity {
    SourceEntity {
        source_kind: "cardholder".into(),
        id: format!("{i:08}"),
        revision: i as u64 + 1,
        name: format!("Person {i}"),
        fields: format!("{{\"Token\":\"{i}\",\"Notes\":\"{}\"}}", "x".repeat(1_150)),
        kinds: vec!["cardholder".into()],
    }
}
