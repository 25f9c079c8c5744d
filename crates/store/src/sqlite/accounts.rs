//! [`Accounts`] in the Directory's SQLite file, through a connection of its own.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{DIRECTORY, connect, lock, migrate};
use crate::StoreError;
use crate::accounts::{Accounts, GroupRow, Membership, TokenRow, UserRow};

/// The accounts tables of a Directory the role has opened (and so migrated).
pub struct SqliteAccounts {
    conn: Mutex<Connection>,
}

impl SqliteAccounts {
    /// Opens the accounts of the Directory at `path`, which must be on this release's schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = connect(path)?;
        let status = migrate::inspect(&conn, &DIRECTORY, path)?;
        crate::migrate::require_current(&DIRECTORY, path, status)?;
        Ok(SqliteAccounts {
            conn: Mutex::new(conn),
        })
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

fn strings(conn: &Connection, sql: &str, key: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map([key], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn user_row(conn: &Connection, name: &str) -> Result<Option<UserRow>, StoreError> {
    let row = conn
        .query_row(
            "SELECT name, role, password_hash, must_change_password FROM users WHERE name = ?1",
            [name],
            |r| {
                Ok(UserRow {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    password_hash: r.get(2)?,
                    must_change_password: r.get(3)?,
                    partitions: Vec::new(),
                })
            },
        )
        .optional()?;
    let Some(mut user) = row else {
        return Ok(None);
    };
    user.partitions = strings(
        conn,
        "SELECT partition_name FROM user_partitions WHERE user_name = ?1 ORDER BY partition_name",
        name,
    )?;
    Ok(Some(user))
}

impl Accounts for SqliteAccounts {
    fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let conn = lock(&self.conn);
        let names = {
            let mut stmt = conn.prepare_cached("SELECT name FROM users ORDER BY name")?;
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut users = Vec::with_capacity(names.len());
        for name in names {
            users.extend(user_row(&conn, &name)?);
        }
        Ok(users)
    }

    fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        user_row(&lock(&self.conn), name)
    }

    fn membership(&self, name: &str) -> Result<Option<Membership>, StoreError> {
        let conn = lock(&self.conn);
        let Some(user) = user_row(&conn, name)? else {
            return Ok(None);
        };
        let groups = strings(
            &conn,
            "SELECT group_name FROM group_members WHERE user_name = ?1 ORDER BY group_name",
            name,
        )?;
        let partitions = strings(
            &conn,
            "SELECT partition_name FROM user_partitions WHERE user_name = ?1
             UNION
             SELECT gp.partition_name FROM group_partitions gp
               JOIN group_members gm ON gm.group_name = gp.group_name
             WHERE gm.user_name = ?1
             ORDER BY 1",
            name,
        )?;
        Ok(Some(Membership {
            user,
            groups,
            partitions,
        }))
    }

    fn put_user(&self, user: &UserRow) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO users (name, role, password_hash, must_change_password)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                   password_hash = excluded.password_hash,
                   must_change_password = excluded.must_change_password",
                params![
                    user.name,
                    user.role,
                    user.password_hash,
                    user.must_change_password
                ],
            )?;
            tx.execute(
                "DELETE FROM user_partitions WHERE user_name = ?1",
                [&user.name],
            )?;
            for p in &user.partitions {
                tx.execute(
                    "INSERT INTO user_partitions (user_name, partition_name) VALUES (?1, ?2)",
                    params![user.name, p],
                )?;
            }
            Ok(())
        })
    }

    fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        self.write(|tx| Ok(tx.execute("DELETE FROM users WHERE name = ?1", [name])? > 0))
    }

    fn set_password(&self, name: &str, hash: &str, must_change: bool) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE users SET password_hash = ?2, must_change_password = ?3 WHERE name = ?1",
                params![name, hash, must_change],
            )? > 0)
        })
    }

    fn administrators(&self) -> Result<u64, StoreError> {
        let conn = lock(&self.conn);
        Ok(conn.query_row(
            "SELECT COUNT(*) FROM users WHERE role = 'administrator'",
            [],
            |r| r.get(0),
        )?)
    }

    fn groups(&self) -> Result<Vec<GroupRow>, StoreError> {
        let conn = lock(&self.conn);
        let names = {
            let mut stmt = conn.prepare_cached("SELECT name FROM user_groups ORDER BY name")?;
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?
        };
        names
            .into_iter()
            .map(|name| {
                Ok(GroupRow {
                    members: strings(
                        &conn,
                        "SELECT user_name FROM group_members WHERE group_name = ?1 ORDER BY 1",
                        &name,
                    )?,
                    partitions: strings(
                        &conn,
                        "SELECT partition_name FROM group_partitions WHERE group_name = ?1 ORDER BY 1",
                        &name,
                    )?,
                    name,
                })
            })
            .collect()
    }

    fn put_group(&self, group: &GroupRow) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO user_groups (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
                [&group.name],
            )?;
            tx.execute(
                "DELETE FROM group_members WHERE group_name = ?1",
                [&group.name],
            )?;
            tx.execute(
                "DELETE FROM group_partitions WHERE group_name = ?1",
                [&group.name],
            )?;
            for m in &group.members {
                tx.execute(
                    "INSERT INTO group_members (group_name, user_name) VALUES (?1, ?2)",
                    params![group.name, m],
                )?;
            }
            for p in &group.partitions {
                tx.execute(
                    "INSERT INTO group_partitions (group_name, partition_name) VALUES (?1, ?2)",
                    params![group.name, p],
                )?;
            }
            Ok(())
        })
    }

    fn delete_group(&self, name: &str) -> Result<bool, StoreError> {
        self.write(|tx| Ok(tx.execute("DELETE FROM user_groups WHERE name = ?1", [name])? > 0))
    }

    fn partitions(&self) -> Result<Vec<String>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached("SELECT name FROM partitions ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn add_partition(&self, name: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO partitions (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
                [name],
            )?;
            Ok(())
        })
    }

    fn delete_partition(&self, name: &str) -> Result<bool, StoreError> {
        self.write(|tx| Ok(tx.execute("DELETE FROM partitions WHERE name = ?1", [name])? > 0))
    }

    fn add_token(&self, digest: &str, user: &str, label: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO api_tokens (digest, user_name, label) VALUES (?1, ?2, ?3)",
                params![digest, user, label],
            )?;
            Ok(())
        })
    }

    fn token_user(&self, digest: &str) -> Result<Option<String>, StoreError> {
        let conn = lock(&self.conn);
        Ok(conn
            .query_row(
                "SELECT user_name FROM api_tokens WHERE digest = ?1",
                [digest],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(
            "SELECT digest, user_name, label FROM api_tokens ORDER BY user_name, label, digest",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TokenRow {
                    digest: r.get(0)?,
                    user: r.get(1)?,
                    label: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn delete_token(&self, digest: &str) -> Result<bool, StoreError> {
        self.write(|tx| Ok(tx.execute("DELETE FROM api_tokens WHERE digest = ?1", [digest])? > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_reach_a_user_directly_and_through_its_groups() {
        let dir = std::env::temp_dir().join(format!("accounts-{}", crate::sqlite::random_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("directory.db");
        let _directory = crate::sqlite::SqliteDirectory::open(&path).unwrap();
        let accounts = SqliteAccounts::open(&path).unwrap();
        accounts.add_partition("North").unwrap();
        accounts.add_partition("South").unwrap();
        let olga = UserRow {
            name: "olga".into(),
            role: "operator".into(),
            password_hash: "h".into(),
            must_change_password: false,
            partitions: vec!["North".into()],
        };
        accounts.put_user(&olga).unwrap();
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
        assert!(accounts.delete_partition("South").unwrap());
        assert_eq!(
            accounts.membership("olga").unwrap().unwrap().partitions,
            ["North"]
        );
        accounts.add_token("d1", "olga", "script").unwrap();
        accounts.add_token("d2", "olga", "another").unwrap();
        assert_eq!(accounts.token_user("d1").unwrap().as_deref(), Some("olga"));
        let labels: Vec<String> = accounts
            .tokens()
            .unwrap()
            .into_iter()
            .map(|t| t.label)
            .collect();
        assert_eq!(labels, ["another", "script"]);
        assert!(accounts.delete_token("d2").unwrap());
        assert!(!accounts.delete_token("d2").unwrap(), "revoked already");
        assert_eq!(accounts.token_user("d2").unwrap(), None);
        assert!(accounts.delete_user("olga").unwrap());
        assert_eq!(accounts.token_user("d1").unwrap(), None);
        assert!(accounts.groups().unwrap()[0].members.is_empty());
        assert_eq!(accounts.administrators().unwrap(), 0);
        std::fs::remove_dir_all(dir).ok();
    }
}
