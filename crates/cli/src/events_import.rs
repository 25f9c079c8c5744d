//! `events import`: an export (`events export`, CSV) loaded back into the role's plugin
//! database, for example after restoring an older backup. An event whose SiPass id is
//! stored already is skipped, so importing twice adds nothing; a row that cannot be read is
//! refused with its line number and the rest goes on. The file is hostile input: every cell
//! is bounded and checked.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use store::import::EventImport;
use store::{EventEntity, NewEvent};

use crate::DEFAULT_DATA;

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The CSV file written by `events export`.
    file: PathBuf,
    /// The role's data folder (its plugin.db is written; the role may be running).
    #[arg(long, default_value = DEFAULT_DATA, env = "SIPASS_BRIDGE_DATA")]
    data: PathBuf,
    /// A role's PostgreSQL database (its --database-url) instead of the data folder's
    /// plugin.db.
    #[arg(long, value_name = "URL", env = "SIPASS_BRIDGE_DATABASE_URL")]
    database_url: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Events per transaction.
const BATCH: usize = 1_000;
/// The longest cell read (a message, the entities); longer ones refuse their row.
const MAX_CELL: usize = 64 * 1024;
/// Refused rows listed one by one; the rest are only counted.
const MAX_LISTED: usize = 50;

/// What an import did.
#[derive(Debug, Default, serde::Serialize)]
pub struct ImportReport {
    pub imported: u64,
    /// Already stored (by SiPass's event id), or twice in the file.
    pub skipped: u64,
    /// Rows that could not be read: "line N: why".
    pub refused: Vec<String>,
    pub refused_count: u64,
}

/// A cell `events export` made text by prefixing a quote (a formula) is read back as it was.
fn uncell(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some('\''), Some('=' | '+' | '-' | '@' | '\t' | '\r')) => text[1..].to_owned(),
        _ => text.to_owned(),
    }
}

/// "kind id (name); ..." as `events export` writes an event's entities.
fn entities(text: &str) -> Result<Vec<EventEntity>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split("; ")
        .map(|part| {
            let (kind, rest) = part
                .split_once(' ')
                .ok_or_else(|| format!("entity '{part}' is not 'kind id (name)'"))?;
            let (id, name) = rest
                .split_once(" (")
                .and_then(|(id, name)| Some((id, name.strip_suffix(')')?)))
                .ok_or_else(|| format!("entity '{part}' is not 'kind id (name)'"))?;
            Ok(EventEntity {
                kind: kind.to_owned(),
                id: id.to_owned(),
                name: name.to_owned(),
            })
        })
        .collect()
}

/// The columns an export has, by name.
struct Columns {
    sipass_id: usize,
    journal_seq: usize,
    occurred_at: usize,
    event_type: usize,
    native_events: usize,
    category: usize,
    known_type: usize,
    message: usize,
    entities: usize,
}

impl Columns {
    fn find(headers: &csv::StringRecord) -> Result<Self> {
        let at = |name: &str| {
            headers.iter().position(|h| h == name).with_context(|| {
                format!("the CSV has no '{name}' column; import a file written by `sipass-bridge events export`")
            })
        };
        Ok(Columns {
            sipass_id: at("sipass_id")?,
            journal_seq: at("journal_seq")?,
            occurred_at: at("occurred_at")?,
            event_type: at("type")?,
            native_events: at("native_events")?,
            category: at("category")?,
            known_type: at("known_type")?,
            message: at("message")?,
            entities: at("entities")?,
        })
    }

    /// One row as an event to store.
    fn event(&self, row: &csv::StringRecord) -> Result<NewEvent, String> {
        let cell = |i: usize, name: &str| -> Result<String, String> {
            let text = row.get(i).ok_or_else(|| format!("no {name} cell"))?;
            if text.len() > MAX_CELL {
                return Err(format!("{name} is longer than {MAX_CELL} bytes"));
            }
            Ok(uncell(text))
        };
        let sipass_id = cell(self.sipass_id, "sipass_id")?;
        if sipass_id.is_empty() || sipass_id.len() > 200 {
            return Err("sipass_id must be 1 to 200 characters".into());
        }
        let journal_seq: u64 = cell(self.journal_seq, "journal_seq")?
            .parse()
            .map_err(|_| "journal_seq is not a whole number".to_owned())?;
        let occurred_at = cell(self.occurred_at, "occurred_at")?;
        let occurred_ms = model::time::parse_rfc3339_millis(&occurred_at)
            .ok_or_else(|| format!("occurred_at '{occurred_at}' is not an RFC 3339 time"))?;
        let known_type = match cell(self.known_type, "known_type")?.as_str() {
            "true" => true,
            "false" => false,
            other => return Err(format!("known_type '{other}' is neither true nor false")),
        };
        let sipass_type = cell(self.event_type, "type")?;
        let message = cell(self.message, "message")?;
        let native = cell(self.native_events, "native_events")?;
        let native_events = native
            .split("; ")
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        let payload = serde_json::json!({
            "Id": sipass_id, "Type": sipass_type, "OccurredAt": occurred_at,
            "Message": message, "ImportedFrom": "csv",
        })
        .to_string();
        Ok(NewEvent {
            journal_seq,
            sipass_id,
            occurred_at,
            occurred_ms,
            journaled_ms: runtime::now_millis(),
            sipass_type,
            native_events,
            category: cell(self.category, "category")?,
            known_type,
            message,
            entities: entities(&cell(self.entities, "entities")?)?,
            payload,
        })
    }
}

impl ImportReport {
    fn refuse(&mut self, line: u64, why: String) {
        self.refused_count += 1;
        if self.refused.len() < MAX_LISTED {
            self.refused.push(format!("line {line}: {why}"));
        }
    }
}

/// The plugin database events are imported into: the data folder's file, or the role's
/// PostgreSQL database.
fn open_target(data: &Path, database_url: Option<String>) -> Result<Box<dyn EventImport>> {
    Ok(match crate::services::database_url(database_url)? {
        Some(url) => Box::new(store::postgres::PgImport::open(&url)?),
        None => Box::new(store::sqlite::import::SqliteImport::open(
            &data.join(store::sqlite::PLUGIN.file),
        )?),
    })
}

/// Reads `file` and stores what it holds that is not stored yet.
pub fn import(file: &Path, db: &dyn EventImport) -> Result<ImportReport> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let columns = Columns::find(
        reader
            .headers()
            .with_context(|| format!("cannot read the header of {}", file.display()))?,
    )?;
    let mut seen: HashSet<String> = db.stored_sipass_ids()?;
    let mut report = ImportReport::default();
    let mut batch: Vec<(u64, NewEvent)> = Vec::with_capacity(BATCH);
    for row in reader.records() {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                report.refuse(line, format!("unreadable CSV: {e}"));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    bail!("cannot read {}: {e}", file.display());
                }
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line());
        match columns.event(&row) {
            Err(why) => report.refuse(line, why),
            Ok(event) if !seen.insert(event.sipass_id.clone()) => report.skipped += 1,
            Ok(event) => batch.push((line, event)),
        }
        if batch.len() >= BATCH {
            store_batch(db, &mut batch, &mut report)?;
        }
    }
    store_batch(db, &mut batch, &mut report)?;
    Ok(report)
}

fn store_batch(
    db: &dyn EventImport,
    batch: &mut Vec<(u64, NewEvent)>,
    report: &mut ImportReport,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let events: Vec<NewEvent> = batch.iter().map(|(_, e)| e.clone()).collect();
    let stored = db.import_events(&events)?;
    for ((line, event), stored) in batch.iter().zip(stored) {
        if stored {
            report.imported += 1;
        } else {
            report.refuse(
                *line,
                format!(
                    "journal sequence {} is already held by another imported event (SiPass id {} not imported)",
                    event.journal_seq, event.sipass_id
                ),
            );
        }
    }
    batch.clear();
    Ok(())
}

pub async fn import_command(args: ImportArgs) -> Result<()> {
    let (file, data, url) = (
        args.file.clone(),
        args.data.clone(),
        args.database_url.clone(),
    );
    let report =
        tokio::task::spawn_blocking(move || import(&file, open_target(&data, url)?.as_ref()))
            .await??;
    if args.json {
        out!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    out!(
        "{} events imported, {} skipped (already stored), {} rows refused",
        report.imported,
        report.skipped,
        report.refused_count
    );
    for line in &report.refused {
        out!("  {}", protocol::printable(line, 500));
    }
    if report.refused_count > report.refused.len() as u64 {
        out!(
            "  ... and {} more",
            report.refused_count - report.refused.len() as u64
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_and_neutralised_cells_read_back_as_exported() {
        assert_eq!(uncell("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(uncell("'quoted"), "'quoted");
        let read = entities("door 4 (Door 4); cardholder 12 (Ann (Lab))").unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(
            (
                read[1].kind.as_str(),
                read[1].id.as_str(),
                read[1].name.as_str()
            ),
            ("cardholder", "12", "Ann (Lab)")
        );
        assert!(entities("nonsense").is_err());
        assert!(entities("").unwrap().is_empty());
    }
}
