//! `alarms list|ack|history|entities|add-partition`: the alarms of a running role, through
//! its REST API. Text from SiPass is shown escaped on a terminal.

use anyhow::Result;
use model::access::Recipient;
use role::alarms::{AckAnswer, AlarmView};
use web::alarms::{AlarmEntityList, AlarmHistory, AlarmPage};

use crate::RoleTarget;
use crate::api::Api;

#[derive(clap::Subcommand)]
pub enum AlarmsCommand {
    /// Alarm instances, newest first: ours and SiPass's ids, class, state, who acknowledged.
    List {
        #[command(flatten)]
        target: RoleTarget,
        /// Only active alarms (not both acknowledged and cleared).
        #[arg(long)]
        active: bool,
        /// How many at most.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Start below this alarm id (ours), for paging.
        #[arg(long)]
        before: Option<i64>,
    },
    /// Acknowledge an alarm: recorded here at once with your user and sent to SiPass (at
    /// once, or when the proxy is back). Acknowledging again changes nothing.
    Ack {
        #[command(flatten)]
        target: RoleTarget,
        /// The alarm's id (ours, as `alarms list` shows).
        id: i64,
        /// Why, or what was done (kept in the history and sent to SiPass).
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// An alarm's history: triggered, acknowledged, cleared; by whom, with what comment.
    History {
        #[command(flatten)]
        target: RoleTarget,
        /// The alarm's id (ours).
        id: i64,
    },
    /// The alarm entities (one per SiPass alarm class) with their recipients and partitions.
    Entities(RoleTarget),
    /// Add a partition to one alarm entity by hand (the next change of the alarm_partitions
    /// setting removes it: that setting is authoritative).
    AddPartition {
        #[command(flatten)]
        target: RoleTarget,
        /// The alarm entity's id (SiPass's alarm class token, as `alarms entities` shows).
        entity: String,
        /// The partition's name.
        partition: String,
    },
}

pub async fn alarms(command: AlarmsCommand) -> Result<()> {
    match command {
        AlarmsCommand::List {
            target,
            active,
            limit,
            before,
        } => list(&target, active, limit, before).await,
        AlarmsCommand::Ack {
            target,
            id,
            comment,
        } => ack(&target, id, &comment).await,
        AlarmsCommand::History { target, id } => history(&target, id).await,
        AlarmsCommand::Entities(target) => entities(&target).await,
        AlarmsCommand::AddPartition {
            target,
            entity,
            partition,
        } => add_partition(&target, &entity, &partition).await,
    }
}

/// Text as a terminal should show it: control characters escaped, a huge value cut.
fn printable(text: &str) -> String {
    protocol::printable(text, 200)
}

/// "user:olga, group:night shift", or the warning that nobody will be notified.
pub fn recipients_text(recipients: &[Recipient]) -> String {
    if recipients.is_empty() {
        return "(none: nobody will be notified)".to_owned();
    }
    recipients
        .iter()
        .map(|r| match r {
            Recipient::User(name) => format!("user:{}", printable(name)),
            Recipient::Group(name) => format!("group:{}", printable(name)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where an alarm stands, in a word or two.
fn state(alarm: &AlarmView) -> String {
    let a = &alarm.alarm;
    let mut words = match (a.acknowledged, a.cleared) {
        (false, false) => "active".to_owned(),
        (true, false) => "acknowledged".to_owned(),
        (false, true) => "cleared, unacknowledged".to_owned(),
        (true, true) => "closed".to_owned(),
    };
    if a.ack_pending {
        words.push_str(" (ack queued for SiPass)");
    }
    words
}

async fn list(target: &RoleTarget, active: bool, limit: u32, before: Option<i64>) -> Result<()> {
    let mut query = vec![("limit", limit.to_string())];
    if active {
        query.push(("active", "true".into()));
    }
    if let Some(before) = before {
        query.push(("before", before.to_string()));
    }
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page: AlarmPage = Api::new(target)?.get_query("/alarms", &query).await?;
    if target.json {
        out!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    if page.alarms.is_empty() {
        out!(
            "{}",
            if active {
                "no active alarm"
            } else {
                "no alarm"
            }
        );
        return Ok(());
    }
    out!(
        "{:>6}  {:>8}  {:<24}  {:>4}  {:<25}  {:<30}  acknowledged by",
        "id",
        "sipass",
        "class",
        "prio",
        "triggered at",
        "state"
    );
    for view in &page.alarms {
        let a = &view.alarm;
        out!(
            "{:>6}  {:>8}  {:<24}  {:>4}  {:<25}  {:<30}  {}{}",
            a.id,
            printable(&a.sipass_id),
            printable(&a.class_name),
            a.priority,
            printable(&a.triggered_at),
            state(view),
            printable(&a.acknowledged_by),
            if view.for_you { "  [for you]" } else { "" }
        );
    }
    if let Some(next) = page.next_before {
        out!("more: --before {next}");
    }
    Ok(())
}

async fn ack(target: &RoleTarget, id: i64, comment: &str) -> Result<()> {
    let id_text = id.to_string();
    let answer: AckAnswer = Api::new(target)?
        .post_at(
            &["alarms", &id_text, "acknowledge"],
            &serde_json::json!({ "comment": comment }),
        )
        .await?;
    if target.json {
        out!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let a = &answer.alarm.alarm;
    if answer.already_acknowledged {
        out!(
            "alarm {id} was acknowledged already by {} at {}; nothing changed",
            printable(&a.acknowledged_by),
            printable(&a.acknowledged_at)
        );
    } else if a.ack_pending {
        out!(
            "alarm {id} acknowledged by {}; queued for SiPass (sent as soon as the proxy answers)",
            printable(&a.acknowledged_by)
        );
    } else {
        out!(
            "alarm {id} acknowledged by {} and in SiPass",
            printable(&a.acknowledged_by)
        );
    }
    Ok(())
}

async fn history(target: &RoleTarget, id: i64) -> Result<()> {
    let id_text = id.to_string();
    let answer: AlarmHistory = Api::new(target)?
        .get_at(&["alarms", &id_text, "history"])
        .await?;
    if target.json {
        out!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let a = &answer.alarm.alarm;
    out!(
        "alarm {} (SiPass {}): {} — {}",
        a.id,
        printable(&a.sipass_id),
        printable(&a.class_name),
        state(&answer.alarm)
    );
    out!("message:    {}", printable(&a.message));
    let partitions = match answer.alarm.partitions.as_slice() {
        [] => "(none: only administrators see it)".to_owned(),
        p => printable(&p.join(", ")),
    };
    out!("partitions: {partitions}");
    out!("recipients: {}", recipients_text(&answer.alarm.recipients));
    for h in &answer.history {
        let by = if h.by.is_empty() {
            String::new()
        } else {
            format!(" by {}", printable(&h.by))
        };
        let comment = if h.comment.is_empty() {
            String::new()
        } else {
            format!(": \"{}\"", printable(&h.comment))
        };
        out!(
            "  {:<25}  {:<12}{by} (in {}){comment}",
            printable(&h.at),
            h.action.as_str(),
            if h.origin == store::ORIGIN_HERE {
                "the bridge"
            } else {
                "SiPass"
            }
        );
    }
    Ok(())
}

async fn entities(target: &RoleTarget) -> Result<()> {
    let list: AlarmEntityList = Api::new(target)?.get("/alarm-entities").await?;
    if target.json {
        out!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if list.entities.is_empty() {
        out!("no alarm entity yet (they appear as alarm classes are synchronized)");
    }
    for view in &list.entities {
        let e = &view.entity;
        out!("{:>6}  {}", printable(&e.id), printable(&e.name));
        out!("        recipients: {}", recipients_text(&e.recipients));
        let partitions = match e.partitions.as_slice() {
            [] => "(none: only administrators see its alarms)".to_owned(),
            p => printable(&p.join(", ")),
        };
        out!("        partitions: {partitions}");
    }
    Ok(())
}

async fn add_partition(target: &RoleTarget, entity: &str, partition: &str) -> Result<()> {
    let view: role::alarms::AlarmEntityView = Api::new(target)?
        .post_at(
            &["alarm-entities", entity, "partitions"],
            &serde_json::json!({ "partition": partition }),
        )
        .await?;
    if target.json {
        out!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        out!(
            "alarm entity {} now in partitions: {}",
            printable(&view.entity.id),
            printable(&view.entity.partitions.join(", "))
        );
    }
    Ok(())
}
