//! [`Accounts`] in the Directory's PostgreSQL schema, through a connection of its own.

use postgres::GenericClient;

use super::{DIRECTORY, Pg, migrate};
use crate::StoreError;
use crate::accounts::{Accounts, GroupRow, Membership, TokenRow, UserRow};

/// The accounts tables of a Directory the role has opened (and so migrated).
pub struct PgAccounts {
    conn: Pg,
}

impl PgAccounts {
    /// Opens the accounts of the Directory at `url`, which must be on this release's schema.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let conn = Pg::connect(url, &DIRECTORY)?;
        let status = migrate::inspect(&conn, &DIRECTORY)?;
        migrate::require_current(&DIRECTORY, conn.location(), status)?;
        Ok(PgAccounts { conn })
    }
}

fn strings(c: &mut impl GenericClient, sql: &str, key: &str) -> Result<Vec<String>, StoreError> {
    Ok(c.query(sql, &[&key])?.iter().map(|r| r.get(0)).collect())
}

fn names(c: &mut impl GenericClient, sql: &str) -> Result<Vec<String>, StoreError> {
    Ok(c.query(sql, &[])?.iter().map(|r| r.get(0)).collect())
}

fn user_row(c: &mut impl GenericClient, name: &str) -> Result<Option<UserRow>, StoreError> {
    let Some(r) = c.query_opt(
        "SELECT name, role, password_hash, must_change_password FROM users WHERE name = $1",
        &[&name],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(UserRow {
        name: r.get(0),
        role: r.get(1),
        password_hash: r.get(2),
        must_change_password: r.get(3),
        partitions: strings(
            c,
            "SELECT partition_name FROM user_partitions WHERE user_name = $1
             ORDER BY partition_name",
            name,
        )?,
    }))
}

/// Inserts `(key, value)` for each value: the links of a user or group.
fn link(
    tx: &mut postgres::Transaction<'_>,
    sql: &str,
    key: &str,
    values: &[String],
) -> Result<(), StoreError> {
    if !values.is_empty() {
        tx.execute(sql, &[&key, &values])?;
    }
    Ok(())
}

impl Accounts for PgAccounts {
    fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        self.conn.run(|c| {
            let mut users = Vec::new();
            for name in names(c, "SELECT name FROM users ORDER BY name")? {
                users.extend(user_row(c, &name)?);
            }
            Ok(users)
        })
    }

    fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        self.conn.run(|c| user_row(c, name))
    }

    fn membership(&self, name: &str) -> Result<Option<Membership>, StoreError> {
        self.conn.run(|c| {
            let Some(user) = user_row(c, name)? else {
                return Ok(None);
            };
            let groups = strings(
                c,
                "SELECT group_name FROM group_members WHERE user_name = $1 ORDER BY group_name",
                name,
            )?;
            let partitions = strings(
                c,
                "SELECT partition_name FROM user_partitions WHERE user_name = $1
                 UNION
                 SELECT gp.partition_name FROM group_partitions gp
                   JOIN group_members gm ON gm.group_name = gp.group_name
                 WHERE gm.user_name = $1
                 ORDER BY 1",
                name,
            )?;
            Ok(Some(Membership {
                user,
                groups,
                partitions,
            }))
        })
    }

    fn put_user(&self, user: &UserRow) -> Result<(), StoreError> {
        self.conn.transaction(|tx| {
            tx.execute(
                "INSERT INTO users (name, role, password_hash, must_change_password)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                   password_hash = excluded.password_hash,
                   must_change_password = excluded.must_change_password",
                &[
                    &user.name,
                    &user.role,
                    &user.password_hash,
                    &user.must_change_password,
                ],
            )?;
            tx.execute(
                "DELETE FROM user_partitions WHERE user_name = $1",
                &[&user.name],
            )?;
            link(
                tx,
                "INSERT INTO user_partitions (user_name, partition_name)
                 SELECT $1, unnest($2::text[])",
                &user.name,
                &user.partitions,
            )
        })
    }

    fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .run(|c| Ok(c.execute("DELETE FROM users WHERE name = $1", &[&name])? > 0))
    }

    fn set_password(&self, name: &str, hash: &str, must_change: bool) -> Result<bool, StoreError> {
        self.conn.run(|c| {
            Ok(c.execute(
                "UPDATE users SET password_hash = $2, must_change_password = $3 WHERE name = $1",
                &[&name, &hash, &must_change],
            )? > 0)
        })
    }

    fn administrators(&self) -> Result<u64, StoreError> {
        self.conn.run(|c| {
            let n: i64 = c
                .query_one(
                    "SELECT COUNT(*) FROM users WHERE role = 'administrator'",
                    &[],
                )?
                .get(0);
            Ok(n as u64)
        })
    }

    fn groups(&self) -> Result<Vec<GroupRow>, StoreError> {
        self.conn.run(|c| {
            names(c, "SELECT name FROM user_groups ORDER BY name")?
                .into_iter()
                .map(|name| {
                    Ok(GroupRow {
                        members: strings(
                            c,
                            "SELECT user_name FROM group_members WHERE group_name = $1 ORDER BY 1",
                            &name,
                        )?,
                        partitions: strings(
                            c,
                            "SELECT partition_name FROM group_partitions WHERE group_name = $1
                             ORDER BY 1",
                            &name,
                        )?,
                        name,
                    })
                })
                .collect()
        })
    }

    fn put_group(&self, group: &GroupRow) -> Result<(), StoreError> {
        self.conn.transaction(|tx| {
            tx.execute(
                "INSERT INTO user_groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                &[&group.name],
            )?;
            tx.execute(
                "DELETE FROM group_members WHERE group_name = $1",
                &[&group.name],
            )?;
            tx.execute(
                "DELETE FROM group_partitions WHERE group_name = $1",
                &[&group.name],
            )?;
            link(
                tx,
                "INSERT INTO group_members (group_name, user_name) SELECT $1, unnest($2::text[])",
                &group.name,
                &group.members,
            )?;
            link(
                tx,
                "INSERT INTO group_partitions (group_name, partition_name)
                 SELECT $1, unnest($2::text[])",
                &group.name,
                &group.partitions,
            )
        })
    }

    fn delete_group(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .run(|c| Ok(c.execute("DELETE FROM user_groups WHERE name = $1", &[&name])? > 0))
    }

    fn partitions(&self) -> Result<Vec<String>, StoreError> {
        self.conn
            .run(|c| names(c, "SELECT name FROM partitions ORDER BY name"))
    }

    fn add_partition(&self, name: &str) -> Result<(), StoreError> {
        self.conn.run(|c| {
            c.execute(
                "INSERT INTO partitions (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                &[&name],
            )?;
            Ok(())
        })
    }

    fn delete_partition(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .run(|c| Ok(c.execute("DELETE FROM partitions WHERE name = $1", &[&name])? > 0))
    }

    fn add_token(&self, digest: &str, user: &str, label: &str) -> Result<(), StoreError> {
        self.conn.run(|c| {
            c.execute(
                "INSERT INTO api_tokens (digest, user_name, label) VALUES ($1, $2, $3)",
                &[&digest, &user, &label],
            )?;
            Ok(())
        })
    }

    fn token_user(&self, digest: &str) -> Result<Option<String>, StoreError> {
        self.conn.run(|c| {
            Ok(c.query_opt(
                "SELECT user_name FROM api_tokens WHERE digest = $1",
                &[&digest],
            )?
            .map(|r| r.get(0)))
        })
    }

    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.conn.run(|c| {
            let rows = c.query(
                "SELECT digest, user_name, label FROM api_tokens
                 ORDER BY user_name, label, digest",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| TokenRow {
                    digest: r.get(0),
                    user: r.get(1),
                    label: r.get(2),
                })
                .collect())
        })
    }

    fn delete_token(&self, digest: &str) -> Result<bool, StoreError> {
        self.conn
            .run(|c| Ok(c.execute("DELETE FROM api_tokens WHERE digest = $1", &[&digest])? > 0))
    }
}
