//! The activity trail in the SQLite plugin database.

use rusqlite::{Connection, params, params_from_iter};

use super::{SqlitePlugin, lock};
use crate::StoreError;
use crate::activity::{Activity, ActivityFilter, ActivityTrail, MAX_ACTIVITY_PAGE};

impl ActivityTrail for SqlitePlugin {
    fn record_activity(&self, a: &Activity) -> Result<Activity, StoreError> {
        let conn = lock(&self.writer);
        conn.prepare_cached(
            "INSERT INTO activity (at_ms, at, entity_id, entity_kind, entity_name, activity,
                activity_label, application, application_version, machine, user_name, outcome,
                message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?
        .execute(params![
            a.at_ms,
            a.at,
            a.entity_id,
            a.entity_kind,
            a.entity_name,
            a.activity,
            a.activity_label,
            a.application,
            a.application_version,
            a.machine,
            a.user,
            a.outcome,
            a.message,
        ])?;
        Ok(Activity {
            id: conn.last_insert_rowid(),
            ..a.clone()
        })
    }

    fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>, StoreError> {
        list(&lock(&self.reader), filter)
    }
}

fn list(conn: &Connection, filter: &ActivityFilter) -> Result<Vec<Activity>, StoreError> {
    let mut sql = String::from(
        "SELECT id, at_ms, at, entity_id, entity_kind, entity_name, activity, activity_label,
                application, application_version, machine, user_name, outcome, message
         FROM activity WHERE 1 = 1",
    );
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if filter.before_id > 0 {
        sql.push_str(" AND id < ?");
        args.push(filter.before_id.into());
    }
    if let Some(entity) = &filter.entity {
        sql.push_str(" AND entity_id = ?");
        args.push(entity.clone().into());
    }
    if let Some(since) = filter.since_ms {
        sql.push_str(" AND at_ms >= ?");
        args.push(since.into());
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    // One more than a page is allowed, for a caller to tell whether another page follows.
    args.push(i64::from(filter.limit.clamp(1, MAX_ACTIVITY_PAGE + 1)).into());
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| {
            Ok(Activity {
                id: r.get(0)?,
                at_ms: r.get(1)?,
                at: r.get(2)?,
                entity_id: r.get(3)?,
                entity_kind: r.get(4)?,
                entity_name: r.get(5)?,
                activity: r.get(6)?,
                activity_label: r.get(7)?,
                application: r.get(8)?,
                application_version: r.get(9)?,
                machine: r.get(10)?,
                user: r.get(11)?,
                outcome: r.get(12)?,
                message: r.get(13)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(entity: &str, at_ms: i64) -> Activity {
        Activity {
            id: 0,
            at_ms,
            at: model::time::rfc3339_millis(at_ms),
            entity_id: entity.into(),
            entity_kind: "door".into(),
            entity_name: "Main entrance".into(),
            activity: "unlock".into(),
            activity_label: "Unlock door".into(),
            application: "CLI".into(),
            application_version: "0.1.0".into(),
            machine: "role-host".into(),
            user: "api-token".into(),
            outcome: "succeeded".into(),
            message: "Unlock sent to doorset 3".into(),
        }
    }

    #[test]
    fn activities_are_kept_newest_first_filtered_and_never_with_an_empty_field() {
        let dir = std::env::temp_dir().join(format!("plugin-activity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = SqlitePlugin::open(&dir.join("plugin.db")).unwrap();
        let first = db.record_activity(&sample("3", 1_000)).unwrap();
        let second = db.record_activity(&sample("4", 2_000)).unwrap();
        assert!(second.id > first.id);
        let all = db
            .activities(&ActivityFilter {
                limit: 10,
                ..ActivityFilter::default()
            })
            .unwrap();
        assert_eq!(all, vec![second.clone(), first.clone()]);
        let door3 = db
            .activities(&ActivityFilter {
                entity: Some("3".into()),
                limit: 10,
                ..ActivityFilter::default()
            })
            .unwrap();
        assert_eq!(door3, vec![first.clone()]);
        let recent = db
            .activities(&ActivityFilter {
                since_ms: Some(1_500),
                limit: 10,
                ..ActivityFilter::default()
            })
            .unwrap();
        assert_eq!(recent, vec![second]);
        let holed = Activity {
            user: String::new(),
            ..sample("3", 3_000)
        };
        assert!(
            db.record_activity(&holed).is_err(),
            "an empty user is refused"
        );
    }
}
