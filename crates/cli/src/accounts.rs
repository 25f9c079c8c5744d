//! `users`, `groups` and `partitions`: the Config Tool's accounts on a running role, through
//! the same REST API as the Users page (an administrator's: the role's API token is one).

use anyhow::Result;
use reqwest::Method;
use serde_json::{Value, json};
use web::accounts::{Credentials, GroupView, NewToken, PartitionView, TokenView, UserView};

use crate::RoleTarget;
use crate::api::Api;

#[derive(clap::Subcommand)]
pub enum UsersCommand {
    /// Every Config Tool user with its role, groups and partitions.
    List(RoleTarget),
    /// Create a user; its one-time password is printed once (it chooses its own at its
    /// first sign-in).
    Add {
        #[command(flatten)]
        target: RoleTarget,
        name: String,
        /// An administrator (sees and changes everything); without it, an operator, who
        /// sees only what lies in its partitions.
        #[arg(long)]
        administrator: bool,
        /// Partitions the user belongs to directly, comma-separated (they must exist).
        #[arg(long, default_value = "")]
        partitions: String,
    },
    /// Delete a user with its API tokens; its sessions end.
    Remove {
        #[command(flatten)]
        target: RoleTarget,
        name: String,
    },
    /// API tokens, for scripts acting as a user.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
}

#[derive(clap::Subcommand)]
pub enum TokensCommand {
    /// The API tokens (never the tokens themselves): id, user and label.
    List {
        #[command(flatten)]
        target: RoleTarget,
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
    },
    /// Make an API token that acts as the user; printed once, only its SHA-256 is kept.
    Create {
        #[command(flatten)]
        target: RoleTarget,
        user: String,
        /// What it is for, e.g. "nightly export".
        #[arg(long)]
        label: String,
    },
    /// Revoke an API token by its id (`users tokens list`): its next request is refused.
    Revoke {
        #[command(flatten)]
        target: RoleTarget,
        id: String,
    },
}

#[derive(clap::Subcommand)]
pub enum GroupsCommand {
    /// Every user group with its members and partitions.
    List(RoleTarget),
    /// Create a user group.
    Add {
        #[command(flatten)]
        target: RoleTarget,
        name: String,
        /// Its members, comma-separated user names.
        #[arg(long, default_value = "")]
        members: String,
        /// The partitions its members reach through it, comma-separated.
        #[arg(long, default_value = "")]
        partitions: String,
    },
    /// Delete a user group (its members stay).
    Remove {
        #[command(flatten)]
        target: RoleTarget,
        name: String,
    },
}

#[derive(clap::Subcommand)]
pub enum PartitionsCommand {
    /// Every partition.
    List(RoleTarget),
    /// Create a partition.
    Add {
        #[command(flatten)]
        target: RoleTarget,
        name: String,
    },
    /// Delete a partition (users and groups leave it).
    Remove {
        #[command(flatten)]
        target: RoleTarget,
        name: String,
    },
}

/// "a, b" -> ["a", "b"].
fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn printable(text: &str) -> String {
    protocol::printable(text, 200)
}

fn joined(list: &[String]) -> String {
    if list.is_empty() {
        "-".to_owned()
    } else {
        printable(&list.join(", "))
    }
}

/// Prints `value` as JSON for `--json`; true when it did.
fn json_out(target: &RoleTarget, value: &impl serde::Serialize) -> Result<bool> {
    if target.json {
        out!("{}", serde_json::to_string_pretty(value)?);
    }
    Ok(target.json)
}

/// What a change without an answer prints: `{"done": ...}` for `--json`, else the sentence.
fn done(target: &RoleTarget, sentence: &str) {
    if target.json {
        out!("{}", json!({ "done": sentence }));
    } else {
        out!("{sentence}");
    }
}

pub async fn users(command: UsersCommand) -> Result<()> {
    match command {
        UsersCommand::List(target) => {
            let users: Vec<UserView> = Api::new(&target)?.get("/users").await?;
            if json_out(&target, &users)? {
                return Ok(());
            }
            out!(
                "{:<24}  {:<13}  {:<24}  partitions",
                "user",
                "role",
                "groups"
            );
            for u in &users {
                let role = serde_json::to_value(u.role)?;
                out!(
                    "{:<24}  {:<13}  {:<24}  {}{}",
                    printable(&u.name),
                    role.as_str().unwrap_or_default(),
                    joined(&u.groups),
                    joined(&u.partitions),
                    if u.must_change_password {
                        "  (one-time password)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        UsersCommand::Add {
            target,
            name,
            administrator,
            partitions,
        } => {
            let role = if administrator {
                "administrator"
            } else {
                "operator"
            };
            let body = json!({ "name": name, "role": role, "partitions": names(&partitions) });
            let created: Credentials = Api::new(&target)?.post_at(&["users"], &body).await?;
            if json_out(&target, &created)? {
                return Ok(());
            }
            out!("user '{}' created", printable(&created.user));
            if let Some(password) = &created.one_time_password {
                out!(
                    "one-time password (shown only now; chosen anew at the first sign-in): {password}"
                );
            }
            Ok(())
        }
        UsersCommand::Remove { target, name } => {
            Api::new(&target)?
                .change_at(Method::DELETE, &["users", &name], None)
                .await?;
            done(
                &target,
                &format!("user '{}' deleted with its API tokens", printable(&name)),
            );
            Ok(())
        }
        UsersCommand::Tokens { command } => tokens(command).await,
    }
}

async fn tokens(command: TokensCommand) -> Result<()> {
    match command {
        TokensCommand::List { target, user } => {
            let query: Vec<(&str, &str)> = user.iter().map(|u| ("user", u.as_str())).collect();
            let tokens: Vec<TokenView> = Api::new(&target)?.get_query("/tokens", &query).await?;
            if json_out(&target, &tokens)? {
                return Ok(());
            }
            if tokens.is_empty() {
                out!("no API token");
            }
            for t in &tokens {
                out!(
                    "{:<16}  {:<24}  {}",
                    t.id,
                    printable(&t.user),
                    printable(&t.label)
                );
            }
            Ok(())
        }
        TokensCommand::Create {
            target,
            user,
            label,
        } => {
            let token: NewToken = Api::new(&target)?
                .post_at(&["users", &user, "tokens"], &json!({ "label": label }))
                .await?;
            if json_out(&target, &token)? {
                return Ok(());
            }
            out!(
                "API token {} for '{}' ({}), shown only now:",
                token.id,
                printable(&token.user),
                printable(&token.label)
            );
            out!("{}", token.token);
            Ok(())
        }
        TokensCommand::Revoke { target, id } => {
            Api::new(&target)?
                .change_at(Method::DELETE, &["tokens", &id], None)
                .await?;
            done(&target, &format!("API token {} revoked", printable(&id)));
            Ok(())
        }
    }
}

pub async fn groups(command: GroupsCommand) -> Result<()> {
    match command {
        GroupsCommand::List(target) => {
            let groups: Vec<GroupView> = Api::new(&target)?.get("/groups").await?;
            if json_out(&target, &groups)? {
                return Ok(());
            }
            out!("{:<24}  {:<30}  partitions", "group", "members");
            for g in &groups {
                out!(
                    "{:<24}  {:<30}  {}",
                    printable(&g.name),
                    joined(&g.members),
                    joined(&g.partitions)
                );
            }
            Ok(())
        }
        GroupsCommand::Add {
            target,
            name,
            members,
            partitions,
        } => {
            let body: Value = json!({
                "name": name, "members": names(&members), "partitions": names(&partitions)
            });
            Api::new(&target)?
                .change_at(Method::POST, &["groups"], Some(&body))
                .await?;
            done(&target, &format!("group '{}' created", printable(&name)));
            Ok(())
        }
        GroupsCommand::Remove { target, name } => {
            Api::new(&target)?
                .change_at(Method::DELETE, &["groups", &name], None)
                .await?;
            done(&target, &format!("group '{}' deleted", printable(&name)));
            Ok(())
        }
    }
}

pub async fn partitions(command: PartitionsCommand) -> Result<()> {
    match command {
        PartitionsCommand::List(target) => {
            let partitions: Vec<PartitionView> = Api::new(&target)?.get("/partitions").await?;
            if json_out(&target, &partitions)? {
                return Ok(());
            }
            for p in &partitions {
                out!("{}", printable(&p.name));
            }
            Ok(())
        }
        PartitionsCommand::Add { target, name } => {
            Api::new(&target)?
                .change_at(
                    Method::POST,
                    &["partitions"],
                    Some(&json!({ "name": name })),
                )
                .await?;
            done(
                &target,
                &format!("partition '{}' created", printable(&name)),
            );
            Ok(())
        }
        PartitionsCommand::Remove { target, name } => {
            Api::new(&target)?
                .change_at(Method::DELETE, &["partitions", &name], None)
                .await?;
            done(
                &target,
                &format!("partition '{}' deleted", printable(&name)),
            );
            Ok(())
        }
    }
}
