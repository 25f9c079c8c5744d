//! `sipass-bridge command ENTITY ACTION` and `sipass-bridge activity`: manual overrides sent
//! to SiPass through a running role, and the activity trail that records them.
//!
//! ENTITY is a SiPass token or an entity's exact name. SiPass numbers each kind on its own,
//! so a token may name a door and an output at once: the command then goes to the one that
//! takes it, and a name or token that still names several is refused with the candidates.

use anyhow::{Result, bail};
use model::DirectoryKind;
use model::commands;

use crate::RoleTarget;
use crate::admin::shown;
use crate::api::Api;

/// The kinds that take commands, searched for a name.
const COMMANDED: [DirectoryKind; 3] = [
    DirectoryKind::Door,
    DirectoryKind::IntrusionDetectionArea,
    DirectoryKind::Output,
];

/// Entities per page when searching names.
const NAME_PAGE: u32 = 5_000;

#[derive(clap::Args)]
pub struct CommandArgs {
    #[command(flatten)]
    target: RoleTarget,
    /// The entity: its SiPass token or its exact name (see `entities list --kind door`).
    entity: String,
    /// The command: allow-access, block, unblock, lock, unlock, buzzer-on, buzzer-off,
    /// return-to-schedule (doors); arm, disarm (intrusion areas); fast-pulse, single-pulse,
    /// slow-pulse, toggle, or the output behaviour linked to one (outputs).
    action: String,
    /// The entity's Directory kind (door, intrusion-detection-area, output), when its token
    /// names several.
    #[arg(long, value_parser = ["door", "intrusion-detection-area", "output"])]
    kind: Option<String>,
}

#[derive(clap::Args)]
pub struct ActivityArgs {
    #[command(flatten)]
    target: RoleTarget,
    /// Only commands sent to this entity (SiPass token).
    #[arg(long)]
    entity: Option<String>,
    /// Only commands sent at or after this time (RFC 3339 or Unix milliseconds).
    #[arg(long)]
    since: Option<String>,
    /// How many at most, newest first (1 to 1000).
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

/// One entity a name or token may mean.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    kind: String,
    id: String,
    name: String,
}

impl Candidate {
    fn describe(&self) -> String {
        format!(
            "{} '{}' ({})",
            self.kind,
            shown(&self.name),
            shown(&self.id)
        )
    }

    /// Whether this entity takes `action` (a command or, for an output, maybe a behaviour).
    fn takes(&self, action: &str) -> bool {
        let kind = COMMANDED.iter().find(|k| k.as_str() == self.kind);
        match (kind, commands::parse(action)) {
            (Some(kind), Ok(command)) => commands::supported(*kind).contains(&command),
            (Some(kind), Err(_)) => *kind == DirectoryKind::Output,
            (None, _) => false,
        }
    }
}

/// `PATTERN=BEHAVIOUR` arguments as the settings' `output_behaviours` object (the role
/// checks the patterns and names).
pub fn behaviour_pairs(pairs: &[String]) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut map = serde_json::Map::new();
    for pair in pairs {
        let Some((pattern, behaviour)) = pair.split_once('=') else {
            bail!(
                "--output-behaviour '{}' is not PATTERN=BEHAVIOUR, e.g. toggle=\"SiPass toggle output\"",
                shown(pair)
            );
        };
        map.insert(
            pattern.trim().to_owned(),
            serde_json::Value::String(behaviour.trim().to_owned()),
        );
    }
    Ok(map)
}

pub async fn command(args: CommandArgs) -> Result<()> {
    let api = Api::new(&args.target)?;
    let (id, kind) = resolve(&api, &args).await?;
    let body = web::commands::CommandBody {
        action: args.action.clone(),
        kind,
    };
    let answer: role::commands::CommandAnswer =
        api.post_at(&["entities", &id, "commands"], &body).await?;
    if args.target.json {
        out!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let a = &answer.activity;
    out!(
        "{}: {} on {} '{}' ({}): {}",
        shown(&answer.result),
        shown(&a.activity_label),
        a.entity_kind,
        shown(&a.entity_name),
        shown(&a.entity_id),
        shown(&answer.message)
    );
    if answer.result != "Succeeded" {
        bail!(
            "SiPass did not carry out the command: {} ({})",
            shown(&answer.message),
            shown(&answer.result)
        );
    }
    Ok(())
}

/// The id (and kind) `args.entity` names, refusing a name that names several.
async fn resolve(api: &Api, args: &CommandArgs) -> Result<(String, Option<String>)> {
    let mut candidates: Vec<Candidate> = Vec::new();
    let by_token: Option<web::EntityMatches> =
        api.get_at_if_found(&["entities", &args.entity]).await?;
    for e in by_token.map(|m| m.entities).unwrap_or_default() {
        candidates.push(Candidate {
            kind: e.kind,
            id: e.id,
            name: e.name,
        });
    }
    for kind in COMMANDED {
        if args.kind.as_deref().is_some_and(|k| k != kind.as_str()) {
            continue;
        }
        for found in named(api, kind, &args.entity).await? {
            if !candidates.contains(&found) {
                candidates.push(found);
            }
        }
    }
    if let Some(kind) = &args.kind {
        candidates.retain(|c| &c.kind == kind);
    }
    let mut ids: Vec<&str> = candidates.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    match ids.as_slice() {
        [] => bail!(
            "no entity has the SiPass token or the name '{}'{}; `sipass-bridge entities list --kind door` lists the doors",
            shown(&args.entity),
            args.kind
                .as_deref()
                .map(|k| format!(" among the {}s", shown(k)))
                .unwrap_or_default()
        ),
        // One id: the role picks among its entities and refuses what none takes.
        [id] => return Ok(((*id).to_owned(), args.kind.clone())),
        _ => {}
    }
    let taking: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.takes(&args.action))
        .collect();
    if let [one] = taking.as_slice() {
        return Ok((one.id.clone(), Some(one.kind.clone())));
    }
    let listed: Vec<String> = candidates.iter().map(Candidate::describe).collect();
    bail!(
        "'{}' names several entities: {}; give the SiPass token of one (and --kind when needed)",
        shown(&args.entity),
        listed.join(", ")
    )
}

/// The entities of `kind` whose name is exactly `name`.
async fn named(api: &Api, kind: DirectoryKind, name: &str) -> Result<Vec<Candidate>> {
    let mut found = Vec::new();
    let mut after = String::new();
    let limit = NAME_PAGE.to_string();
    loop {
        let query = [
            ("kind", kind.as_str()),
            ("limit", limit.as_str()),
            ("after", after.as_str()),
        ];
        let page: web::EntityPage = api.get_query("/entities", &query).await?;
        found.extend(
            page.entities
                .into_iter()
                .filter(|e| e.name == name)
                .map(|e| Candidate {
                    kind: e.kind,
                    id: e.id,
                    name: e.name,
                }),
        );
        match page.next_after {
            Some(next) => after = next,
            None => return Ok(found),
        }
    }
}

pub async fn activity(args: ActivityArgs) -> Result<()> {
    let api = Api::new(&args.target)?;
    let limit = args.limit.clamp(1, store::MAX_ACTIVITY_PAGE).to_string();
    let mut query = vec![("limit", limit.as_str())];
    if let Some(entity) = &args.entity {
        query.push(("entity", entity));
    }
    if let Some(since) = &args.since {
        query.push(("since", since));
    }
    let page: web::commands::ActivityPage = api.get_query("/activity", &query).await?;
    if args.target.json {
        out!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    if page.activities.is_empty() {
        out!("no command recorded matches");
        return Ok(());
    }
    out!(
        "{:<24}  {:<36}  {:<40}  {:<11}  {:<8}  {:<16}  {:<16}  {:<14}  message",
        "timestamp",
        "source entity",
        "activity",
        "application",
        "version",
        "machine",
        "user",
        "outcome"
    );
    for a in &page.activities {
        out!(
            "{:<24}  {:<36}  {:<40}  {:<11}  {:<8}  {:<16}  {:<16}  {:<14}  {}",
            a.at,
            format!(
                "{} '{}' ({})",
                a.entity_kind,
                shown(&a.entity_name),
                shown(&a.entity_id)
            ),
            shown(&a.activity_label),
            shown(&a.application),
            shown(&a.application_version),
            shown(&a.machine),
            shown(&a.user),
            shown(&a.outcome),
            shown(&a.message)
        );
    }
    if let Some(before) = page.next_before {
        out!("(more: older than activity {before}; narrow with --since or --entity)");
    }
    Ok(())
}
