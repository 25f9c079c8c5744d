//! How fast the plugin database stores events, beside the machine's raw limit for the same
//! bytes (plain rusqlite, no project code), so that the schema and write path can be judged
//! apart from the role, the proxy and the network.
//!
//! `cargo run --release -p sipass-bridge-store --example event_rate -- [EVENTS] [DIR]`
//! (default 500,000 events in batches of 20,000, as the role's recorder commits them, in a
//! temporary folder). Both sides write with WAL and `synchronous=FULL`, as the plugin
//! database does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use sipass_bridge_store as store;
use store::{EventEntity, EventPosition, NewEvent};

/// Events per transaction: what the role's recorder commits at most at once.
const BATCH: usize = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(500_000);
    let dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("event-rate-{}", std::process::id())));
    std::fs::create_dir_all(&dir)?;
    let events: Vec<NewEvent> = (0..total).map(event).collect();
    let bytes: usize = events.iter().map(row_bytes).sum();
    println!(
        "{total} events, {:.0} bytes each on average, batches of {BATCH}",
        bytes as f64 / total as f64
    );
    let cpu = cpu_seconds();
    let store = store_rate(&dir.join("plugin.db"), &events)?;
    let store_cpu = cpu_seconds() - cpu;
    let cpu = cpu_seconds();
    let raw = raw_rate(&dir.join("raw.db"), &events)?;
    let raw_cpu = cpu_seconds() - cpu;
    println!(
        "store_events_per_sec {:.0} ({:.0} per CPU second)",
        per_sec(total, store),
        total as f64 / store_cpu
    );
    println!(
        "raw_sqlite_events_per_sec {:.0} ({:.0} per CPU second)",
        per_sec(total, raw),
        total as f64 / raw_cpu
    );
    println!(
        "ratio {:.2} (CPU {:.2})",
        raw.as_secs_f64() / store.as_secs_f64(),
        raw_cpu / store_cpu
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// This process's CPU seconds so far (user and system; Linux), which a machine busy with
/// other work changes less than the wall clock.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<f64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are the 14th and 15th fields, the 12th and 13th after the name.
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
}

fn per_sec(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64().max(1e-9)
}

/// Through the plugin database's own `store_events`, one batch per transaction.
fn store_rate(path: &Path, events: &[NewEvent]) -> Result<Duration, Box<dyn std::error::Error>> {
    let plugin = store::open_plugin(path)?;
    let started = Instant::now();
    for batch in events.chunks(BATCH) {
        let position = EventPosition {
            journal_id: "3f6c2a9e5b7d4e1f8a0c6b2d9e4f7a1c".into(),
            sequence: batch.last().map_or(0, |e| e.journal_seq),
        };
        plugin.store_events(
            batch,
            &vec![("stored:access".into(), batch.len() as u64)],
            &position,
        )?;
    }
    Ok(started.elapsed())
}

/// The same bytes into a plain table with an integer rowid and a unique text id (SiPass's
/// event id), one prepared statement, one transaction per batch.
fn raw_rate(path: &Path, events: &[NewEvent]) -> Result<Duration, Box<dyn std::error::Error>> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         CREATE TABLE rows (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, payload BLOB NOT NULL);",
    )?;
    let rows: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|e| (e.sipass_id.clone(), row_text(e).into_bytes()))
        .collect();
    let started = Instant::now();
    for batch in rows.chunks(BATCH) {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO rows (id, payload) VALUES (?1, ?2)")?;
            for (id, payload) in batch {
                stmt.execute(params![id, payload])?;
            }
        }
        tx.commit()?;
    }
    Ok(started.elapsed())
}

/// Every byte the store is given for one event, but its id.
fn row_text(e: &NewEvent) -> String {
    let entities: Vec<String> = e
        .entities
        .iter()
        .map(|x| format!("{}\u{1}{}\u{1}{}", x.kind, x.id, x.name))
        .collect();
    format!(
        "{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}",
        e.journal_seq,
        e.occurred_at,
        e.occurred_ms,
        e.journaled_ms,
        e.sipass_type,
        e.native_events.join("|"),
        e.category,
        e.message,
        entities.join("\u{1}"),
        e.payload
    )
}

fn row_bytes(e: &NewEvent) -> usize {
    e.sipass_id.len() + row_text(e).len()
}

/// An access event like the simulator's: a cardholder, a credential and a door, spread over
/// 100,000 cardholders and 2,000 doors so that the entity index is written all over.
fn event(n: usize) -> NewEvent {
    let cardholder = (n * 7919) % 100_000;
    let door = (n * 104_729) % 2_000;
    let ms = 1_796_000_000_000 + n as i64;
    let entities = vec![
        EventEntity {
            kind: "cardholder".into(),
            id: format!("CH-{cardholder:07}"),
            name: format!("Cardholder number {cardholder}"),
        },
        EventEntity {
            kind: "credential".into(),
            id: format!("26bit:12:{}", 100_000 + cardholder),
            name: format!("Card {}", 100_000 + cardholder),
        },
        EventEntity {
            kind: "door".into(),
            id: format!("DR-{door:05}"),
            name: format!("Door {door} of building {}", door / 100),
        },
    ];
    let payload = format!(
        r#"{{"EventId":"EV-{n:010}","EventType":"Access Granted","OccurredAt":"2026-12-01T10:{:02}:{:02}.{:03}Z","Message":"Access granted to Cardholder number {cardholder} at Door {door}","Cardholder":{{"Token":"CH-{cardholder:07}","Name":"Cardholder number {cardholder}"}},"Credential":{{"Technology":"26bit","Facility":12,"CardNumber":{}}},"Door":{{"Token":"DR-{door:05}","Name":"Door {door} of building {}"}},"Workstation":"SIPASS-SRV01","Priority":0,"Category":"Access"}}"#,
        (n / 60_000) % 60,
        (n / 1_000) % 60,
        n % 1_000,
        100_000 + cardholder,
        door / 100,
    );
    NewEvent {
        journal_seq: n as u64 + 1,
        sipass_id: format!("EV-{n:010}"),
        occurred_at: format!("2026-12-01T10:00:00.{:03}Z", n % 1_000),
        occurred_ms: ms,
        journaled_ms: ms + 3,
        sipass_type: "Access Granted".into(),
        native_events: vec!["AccessGranted".into()],
        category: "access".into(),
        known_type: true,
        message: format!("Access granted to Cardholder number {cardholder} at Door {door}"),
        entities,
        payload,
    }
}
