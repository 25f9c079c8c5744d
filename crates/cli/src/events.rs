//! `events list` and `events export`: the SiPass events a running role stored, read through
//! its REST API. Text from SiPass is hostile: control characters are shown escaped on a
//! terminal, and in a CSV file a cell that a spreadsheet would run as a formula is made text.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use store::StoredEvent;
use web::events::{EventPage, EventSummary};

use crate::RoleTarget;
use crate::api::Api;

#[derive(clap::Subcommand)]
pub enum EventsCommand {
    /// Stored events, oldest first, with SiPass's own event id beside ours.
    List {
        #[command(flatten)]
        target: RoleTarget,
        #[command(flatten)]
        filter: Filter,
        /// How many at most.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Start after this event id (ours), for paging.
        #[arg(long)]
        after: Option<i64>,
    },
    /// How many events are stored, where reading the proxy's journal stands, and what was
    /// counted instead of stored (categories not logged, ignored types, unknown types).
    Summary(RoleTarget),
    /// Every stored event of a time range into a CSV file (header, RFC 4180 quoting).
    Export {
        #[command(flatten)]
        target: RoleTarget,
        #[command(flatten)]
        filter: Filter,
        /// The CSV file to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Load an export back into the role's plugin database (e.g. after restoring an older
    /// backup): events already stored (by SiPass's event id) are skipped.
    Import(crate::events_import::ImportArgs),
}

/// Which events.
#[derive(clap::Args, Clone, Default)]
pub struct Filter {
    /// Occurred at or after: RFC 3339 (2026-11-22T09:00:00Z) or Unix milliseconds.
    #[arg(long)]
    since: Option<String>,
    /// Occurred before: RFC 3339 or Unix milliseconds.
    #[arg(long)]
    until: Option<String>,
    /// SiPass's event type or a native event name, e.g. "Door Forced" or "Access Denied".
    #[arg(long = "type")]
    event_type: Option<String>,
    /// An entity id (SiPass token) the events concern, e.g. a door's or cardholder's.
    #[arg(long)]
    entity: Option<String>,
}

/// Events per request while exporting.
const EXPORT_PAGE: u32 = 5_000;

pub async fn events(command: EventsCommand) -> Result<()> {
    match command {
        EventsCommand::List {
            target,
            filter,
            limit,
            after,
        } => list(&target, &filter, limit, after).await,
        EventsCommand::Export {
            target,
            filter,
            out,
        } => export(&target, &filter, &out).await,
        EventsCommand::Summary(target) => summary(&target).await,
        EventsCommand::Import(args) => crate::events_import::import_command(args).await,
    }
}

async fn summary(target: &RoleTarget) -> Result<()> {
    let summary: EventSummary = Api::new(target)?.get("/events/summary").await?;
    if target.json {
        out!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    out!("stored events: {}", summary.stored);
    let journal = match summary.position.journal_id.as_str() {
        "" => "(none yet)".to_owned(),
        id => printable(id),
    };
    out!(
        "journal {journal}, read up to sequence {}",
        summary.position.sequence
    );
    if summary.counters.is_empty() {
        out!("nothing was left unstored");
    }
    for (counter, n) in &summary.counters {
        out!("  {:<40} {n}", printable(counter));
    }
    Ok(())
}

/// `/events?...` for a filter, a page size and a cursor.
fn path(filter: &Filter, limit: u32, after: Option<i64>) -> Result<String> {
    let mut pairs: Vec<(&str, String)> = vec![("limit", limit.to_string())];
    let optional = [
        ("since", &filter.since),
        ("until", &filter.until),
        ("type", &filter.event_type),
        ("entity", &filter.entity),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            pairs.push((key, v.clone()));
        }
    }
    if let Some(after) = after {
        pairs.push(("after", after.to_string()));
    }
    let url = reqwest::Url::parse_with_params("http://role/events", &pairs)?;
    Ok(format!("/events?{}", url.query().unwrap_or_default()))
}

async fn list(target: &RoleTarget, filter: &Filter, limit: u32, after: Option<i64>) -> Result<()> {
    let page: EventPage = Api::new(target)?.get(&path(filter, limit, after)?).await?;
    if target.json {
        out!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    if page.events.is_empty() {
        out!("no stored event matches");
        return Ok(());
    }
    out!(
        "{:>8}  {:>8}  {:<25}  {:<26}  {:<22}  entities",
        "id",
        "sipass",
        "occurred at",
        "type",
        "native"
    );
    for e in &page.events {
        out!(
            "{:>8}  {:>8}  {:<25}  {:<26}  {:<22}  {}",
            e.id,
            printable(&e.sipass_id),
            printable(&e.occurred_at),
            printable(&e.sipass_type),
            printable(&e.native_events.join(", ")),
            printable(&entities_text(e))
        );
    }
    if let Some(next) = page.next_after {
        out!("more: --after {next}");
    }
    Ok(())
}

/// "kind id (name); ..." of an event's entities.
fn entities_text(e: &StoredEvent) -> String {
    e.entities
        .iter()
        .map(|x| format!("{} {} ({})", x.kind, x.id, x.name))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Text as a terminal should show it: control characters (which could move the cursor,
/// forge lines or change colours) escaped, and a huge value cut.
fn printable(text: &str) -> String {
    protocol::printable(text, MAX_SHOWN)
}

/// The most characters of one value shown in a listing.
const MAX_SHOWN: usize = 500;

/// A cell a spreadsheet would take as a formula (=, +, -, @, or a tab or carriage return
/// first) is prefixed with a quote so that it stays text; the CSV writer does the quoting.
fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

const HEADER: [&str; 10] = [
    "id",
    "sipass_id",
    "journal_seq",
    "occurred_at",
    "type",
    "native_events",
    "category",
    "known_type",
    "message",
    "entities",
];

fn record(e: &StoredEvent) -> [String; 10] {
    [
        e.id.to_string(),
        cell(&e.sipass_id),
        e.journal_seq.to_string(),
        cell(&e.occurred_at),
        cell(&e.sipass_type),
        cell(&e.native_events.join("; ")),
        cell(&e.category),
        e.known_type.to_string(),
        cell(&e.message),
        cell(&entities_text(e)),
    ]
}

async fn export(target: &RoleTarget, filter: &Filter, out: &PathBuf) -> Result<()> {
    if filter.since.is_none() || filter.until.is_none() {
        bail!("give the time range to export: --since and --until (RFC 3339 or Unix milliseconds)");
    }
    let api = Api::new(target)?;
    // Written beside the target and renamed at the end, so that a failed export never
    // leaves a half file under the name asked for.
    let partial = out.with_extension("csv.partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
    writer.write_record(HEADER)?;
    let mut after = None;
    let mut written = 0u64;
    loop {
        let page: EventPage = api.get(&path(filter, EXPORT_PAGE, after)?).await?;
        for e in &page.events {
            writer.write_record(record(e))?;
        }
        written += page.events.len() as u64;
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    writer.flush()?;
    drop(writer);
    std::fs::rename(&partial, out)
        .with_context(|| format!("cannot move the export to {}", out.display()))?;
    if target.json {
        out!("{}", serde_json::json!({ "file": out, "events": written }));
    } else {
        out!("{written} events written to {}", out.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_quoting_is_the_writer_s() {
        let e = StoredEvent {
            id: 1,
            journal_seq: 2,
            sipass_id: "-7".into(),
            occurred_at: "2026-11-22T09:33:20+00:00".into(),
            occurred_ms: 0,
            sipass_type: "=HYPERLINK(\"http://x\")".into(),
            native_events: vec!["Access Denied".into()],
            category: "Access".into(),
            known_type: true,
            message: "line one\nline \"two\", @three".into(),
            entities: vec![],
        };
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(HEADER).unwrap();
        writer.write_record(record(&e)).unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[1], "'-7");
        assert_eq!(&row[4], "'=HYPERLINK(\"http://x\")");
        assert_eq!(&row[8], "line one\nline \"two\", @three", "read back whole");
        assert_eq!(reader.headers().unwrap().len(), 10);
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("Door\u{1b}[2J\nX é"), "Door\\u{1b}[2J\\nX é");
    }
}
