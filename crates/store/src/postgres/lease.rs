//! Which of the roles sharing one PostgreSQL database is active: the one holding its lease,
//! a session-level advisory lock on a connection of its own. PostgreSQL releases the lock
//! when that connection ends, however the role ends (stopped, killed, its machine gone: the
//! session's keepalives notice a dead peer within about ten seconds), so a standby polling
//! for it takes over without a clock or a timestamp to trust.

use std::str::FromStr;
use std::sync::Mutex;

use postgres::{Client, NoTls};

use super::{location, off_runtime};
use crate::StoreError;

/// The advisory lock's two keys: the product's, and the role lease's.
const LOCK_CLASS: i32 = 0x5342_5247; // "SBRG"
const LOCK_OBJECT: i32 = 1;

/// What the lease says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseState {
    /// This role holds the lease: it is the active one.
    Held,
    /// Another session holds it: who, as PostgreSQL knows it (the name it gave, its
    /// address and server process), or empty when it went between two looks.
    Elsewhere { holder: String },
}

/// The lease of the roles on one database, as one role holds or waits for it.
pub struct Lease {
    url: String,
    /// How this role names itself to PostgreSQL (`application_name`), for the other role
    /// to say who holds the lease.
    name: String,
    /// The lease's own connection, and whether it holds the lock.
    conn: Mutex<Option<(Client, bool)>>,
}

impl Lease {
    pub fn new(url: &str, name: &str) -> Self {
        Lease {
            url: url.to_owned(),
            name: name.chars().take(60).collect(),
            conn: Mutex::new(None),
        }
    }

    /// Takes the lease when it is free, or checks that it is still held: a connection that
    /// failed has lost it (PostgreSQL released it), and is dropped, to be made again at the
    /// next call.
    pub fn hold(&self) -> Result<LeaseState, StoreError> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut *guard;
        let result = off_runtime(|| self.hold_on(slot));
        if result.is_err() {
            let lost = slot.take();
            off_runtime(move || drop(lost));
        }
        result
    }

    fn hold_on(&self, slot: &mut Option<(Client, bool)>) -> Result<LeaseState, StoreError> {
        if slot.is_none() {
            *slot = Some((self.connect()?, false));
        }
        let Some((client, held)) = slot.as_mut() else {
            return Ok(LeaseState::Elsewhere {
                holder: String::new(),
            });
        };
        if *held {
            client.batch_execute("SELECT 1")?;
            return Ok(LeaseState::Held);
        }
        let taken: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, $2)",
                &[&LOCK_CLASS, &LOCK_OBJECT],
            )?
            .get(0);
        if taken {
            *held = true;
            return Ok(LeaseState::Held);
        }
        Ok(LeaseState::Elsewhere {
            holder: holder(client)?,
        })
    }

    /// A connection whose death PostgreSQL notices within about ten seconds even when the
    /// peer vanishes without closing it (keepalives every 3 s, 3 missed).
    fn connect(&self) -> Result<Client, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            database: "database (its lease)",
            path: location(&self.url),
            reason,
        };
        let mut config =
            postgres::Config::from_str(&self.url).map_err(|e| open_error(e.to_string()))?;
        config.application_name(&self.name);
        config.connect_timeout(std::time::Duration::from_secs(5));
        let mut client = config
            .connect(NoTls)
            .map_err(|e| open_error(e.to_string()))?;
        client.batch_execute(
            "SET tcp_keepalives_idle = 3; SET tcp_keepalives_interval = 3;
             SET tcp_keepalives_count = 3",
        )?;
        Ok(client)
    }
}

/// Who holds the lease, as PostgreSQL knows the session.
fn holder(client: &mut Client) -> Result<String, StoreError> {
    let row = client.query_opt(
        "SELECT a.application_name, COALESCE(host(a.client_addr), 'local socket'), a.pid
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid
           AND l.objid = $2::oid AND l.objsubid = 2",
        &[&(LOCK_CLASS as u32), &(LOCK_OBJECT as u32)],
    )?;
    Ok(row.map_or_else(String::new, |r| {
        format!(
            "{} (from {}, server process {})",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, i32>(2)
        )
    }))
}

/// Holds the lease it took until dropped, on a thread where the client may block.
impl Drop for Lease {
    fn drop(&mut self) {
        let conn = self
            .conn
            .get_mut()
            .map_or_else(|e| e.into_inner().take(), Option::take);
        off_runtime(move || drop(conn));
    }
}
