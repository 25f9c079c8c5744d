//! Which entity and which command an order names: the id may name several entities (SiPass
//! numbers each kind on its own, and a controller is two entities), the action may be a
//! command's name or, for an output, the output behaviour linked to a pulse pattern.

use model::DirectoryKind;
use model::commands::{self, PulsePattern};
use model::management::ManualOverride;
use serde::{Deserialize, Serialize};
use store::EntityRow;

use super::CommandError;

/// An entity and the commands it takes, as `GET /entities/{id}/commands` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandTarget {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub commands: Vec<OfferedCommand>,
}

/// One command an entity takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedCommand {
    /// The name to send (`unlock`).
    pub name: String,
    pub label: String,
    /// For an output, the output behaviour linked to the pattern, which may be sent instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_behaviour: Option<String>,
}

impl CommandTarget {
    pub fn new(row: EntityRow, behaviours: &[(PulsePattern, String)]) -> Self {
        let supported = directory_kind(&row.kind)
            .map(commands::supported)
            .unwrap_or_default();
        CommandTarget {
            commands: supported
                .into_iter()
                .map(|c| OfferedCommand {
                    name: commands::name(c).to_owned(),
                    label: commands::label(c).to_owned(),
                    output_behaviour: PulsePattern::of(c).and_then(|p| {
                        behaviours
                            .iter()
                            .find(|(q, _)| *q == p)
                            .map(|(_, b)| b.clone())
                    }),
                })
                .collect(),
            id: row.id,
            kind: row.kind,
            name: row.name,
        }
    }
}

/// What an order comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Send `command` to `row`.
    Command {
        row: EntityRow,
        command: ManualOverride,
    },
    /// `row` does not take `command`: refuse, with `message` naming both.
    NotSupported {
        row: EntityRow,
        command: ManualOverride,
        message: String,
    },
}

/// The Directory kind of a stored kind name.
pub fn directory_kind(name: &str) -> Option<DirectoryKind> {
    DirectoryKind::from_name(name)
}

fn supports(row: &EntityRow, command: ManualOverride) -> bool {
    directory_kind(&row.kind).is_some_and(|k| commands::supported(k).contains(&command))
}

/// How an entity is named in messages: `door 'Main entrance' (3)`.
pub fn describe(row: &EntityRow) -> String {
    format!("{} '{}' ({})", row.kind, row.name.escape_debug(), row.id)
}

/// The command `action` names: a command's name, or an output behaviour's when one of
/// `rows` is an output.
fn command_of(
    action: &str,
    rows: &[EntityRow],
    behaviours: &[(PulsePattern, String)],
) -> Result<ManualOverride, CommandError> {
    if let Ok(command) = commands::parse(action) {
        return Ok(command);
    }
    let has_output = rows
        .iter()
        .any(|r| r.kind == DirectoryKind::Output.as_str());
    let behaviour = behaviours
        .iter()
        .find(|(_, b)| b.eq_ignore_ascii_case(action.trim()));
    match behaviour {
        Some((pattern, _)) if has_output => Ok(pattern.command()),
        _ => Err(CommandError::UnknownCommand(format!(
            "'{}' is not a command; the commands are: {}{}",
            action.chars().take(100).collect::<String>().escape_debug(),
            commands::names(&commands::ALL),
            if has_output {
                ", or an output behaviour linked to a pulse pattern (`sipass-bridge config show`)"
            } else {
                ""
            }
        ))),
    }
}

/// The entity among `rows` (all with one id) that takes `action`, or why none does.
pub fn resolve(
    rows: Vec<EntityRow>,
    action: &str,
    behaviours: &[(PulsePattern, String)],
) -> Result<Resolved, CommandError> {
    let command = command_of(action, &rows, behaviours)?;
    let mut taking: Vec<&EntityRow> = rows.iter().filter(|r| supports(r, command)).collect();
    match taking.len() {
        1 => {
            return Ok(Resolved::Command {
                row: taking.remove(0).clone(),
                command,
            });
        }
        0 => {}
        _ => {
            let named: Vec<String> = taking.iter().map(|r| describe(r)).collect();
            return Err(CommandError::Ambiguous(format!(
                "'{}' names several entities that take {}: {}; give the kind",
                rows[0].id,
                commands::name(command),
                named.join(", ")
            )));
        }
    }
    let takes: Vec<String> = rows
        .iter()
        .map(|r| {
            let supported = directory_kind(&r.kind)
                .map(commands::supported)
                .unwrap_or_default();
            if supported.is_empty() {
                format!("{} takes no commands", describe(r))
            } else {
                format!(
                    "{} supports only: {}",
                    describe(r),
                    commands::names(&supported)
                )
            }
        })
        .collect();
    // The first row stands for the entity in the trail (a controller's access control unit).
    let row = rows[0].clone();
    Ok(Resolved::NotSupported {
        message: format!(
            "{} does not support the command '{}' ({}); {}",
            describe(&row),
            commands::name(command),
            commands::label(command),
            takes.join("; ")
        ),
        row,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, id: &str, name: &str) -> EntityRow {
        EntityRow {
            kind: kind.into(),
            id: id.into(),
            source_kind: kind.into(),
            revision: 1,
            name: name.into(),
            fields: "{}".into(),
        }
    }

    fn defaults() -> Vec<(PulsePattern, String)> {
        PulsePattern::ALL
            .iter()
            .map(|p| (*p, p.default_behaviour().to_owned()))
            .collect()
    }

    #[test]
    fn the_command_picks_the_entity_that_takes_it_among_those_with_the_id() {
        let rows = vec![
            row("door", "3", "Main entrance"),
            row("intrusion-detection-area", "3", "Vault"),
            row("output", "3", "Siren"),
        ];
        let Resolved::Command { row: door, command } =
            resolve(rows.clone(), "unlock", &defaults()).unwrap()
        else {
            panic!("unlock goes to the door")
        };
        assert_eq!(
            (door.kind.as_str(), command),
            ("door", ManualOverride::Unlock)
        );
        let Resolved::Command {
            row: output,
            command,
        } = resolve(rows.clone(), "SiPass toggle output", &defaults()).unwrap()
        else {
            panic!("a behaviour goes to the output")
        };
        assert_eq!(
            (output.kind.as_str(), command),
            ("output", ManualOverride::Toggle)
        );
        let Resolved::Command { row: area, .. } = resolve(rows, "Arm", &defaults()).unwrap() else {
            panic!("arm goes to the area")
        };
        assert_eq!(area.name, "Vault");
    }

    #[test]
    fn an_unsupported_command_is_refused_naming_the_entity_the_command_and_what_it_takes() {
        let rows = vec![row("door", "3", "Main entrance")];
        let Resolved::NotSupported { message, .. } = resolve(rows, "arm", &defaults()).unwrap()
        else {
            panic!("a door is not armed")
        };
        assert!(message.contains("door 'Main entrance' (3)"), "{message}");
        assert!(message.contains("'arm'"), "{message}");
        assert!(message.contains("allow-access"), "{message}");
        let unit = vec![
            row("access-control-unit", "1", "ACC 1"),
            row("intrusion-detection-unit", "1", "ACC 1"),
        ];
        let Resolved::NotSupported { message, .. } = resolve(unit, "unlock", &defaults()).unwrap()
        else {
            panic!("a unit takes no commands")
        };
        assert!(message.contains("takes no commands"), "{message}");
        let err = resolve(vec![row("door", "3", "x")], "explode", &defaults()).unwrap_err();
        assert!(matches!(err, CommandError::UnknownCommand(_)), "{err}");
        // A behaviour name is a command only for an output.
        let err = resolve(
            vec![row("door", "3", "x")],
            "SiPass toggle output",
            &defaults(),
        );
        assert!(matches!(err, Err(CommandError::UnknownCommand(_))));
    }
}
