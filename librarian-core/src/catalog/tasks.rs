//! SQL for background tasks: leases (so two overlapping `tasks run` never run the same
//! task at once) and the record of each task's last run.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Catalog, ts_from_sql, ts_to_sql};
use crate::error::{Error, Result};

/// What the catalog knows about one task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskRecord {
    /// Task name.
    pub task: String,
    /// When its last run started.
    pub last_started: Option<Timestamp>,
    /// When its last run finished.
    pub last_finished: Option<Timestamp>,
    /// Whether that run succeeded.
    pub last_ok: Option<bool>,
    /// What it reported.
    pub last_message: Option<String>,
    /// Held by a run until this time (in the past when free).
    pub lease_until: Option<Timestamp>,
}

/// A `task_runs` row: lease owner and expiry, last start, finish, result and message.
type LeaseRow = (Option<String>, i64, Option<i64>, Option<i64>, Option<String>, Option<String>);

/// The answer to [`Catalog::lease_task`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// The lease is ours until the given time; the task's previous record is attached.
    Granted(TaskRecord),
    /// Another run holds the lease until the given time.
    Held(Timestamp),
    /// The task ran less than its interval ago; next due at the given time.
    NotDue(Timestamp),
}

impl Catalog {
    /// Atomically take the lease of `task` for `owner` until `until`, unless another
    /// owner holds an unexpired lease, or (when `due_after` is given) the task last
    /// started less than that long ago.
    pub fn lease_task(
        &self,
        task: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        due_after: Option<jiff::SignedDuration>,
    ) -> Result<Lease> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("leasing a task"))?;
        tx.execute("INSERT INTO task_runs (task) VALUES (?1) ON CONFLICT (task) DO NOTHING", [task])
            .map_err(Error::db("leasing a task"))?;
        let row: LeaseRow = tx
            .query_row(
                "SELECT lease_owner, lease_until, last_started, last_finished, last_result, last_message
                 FROM task_runs WHERE task = ?1",
                [task],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .map_err(Error::db("leasing a task"))?;
        let (holder, lease_until, last_started, last_finished, last_result, last_message) = row;
        let held_until = ts_from_sql(lease_until).map_err(Error::db("reading a lease"))?;
        if holder.as_deref().is_some_and(|h| h != owner) && held_until > now {
            return Ok(Lease::Held(held_until));
        }
        let last_started = last_started.map(ts_from_sql).transpose().map_err(Error::db("reading a task"))?;
        if let (Some(every), Some(started)) = (due_after, last_started) {
            let due = started.checked_add(every).unwrap_or(started);
            if due > now {
                return Ok(Lease::NotDue(due));
            }
        }
        tx.execute(
            "UPDATE task_runs SET lease_owner = ?2, lease_until = ?3 WHERE task = ?1",
            params![task, owner, ts_to_sql(until)],
        )
        .map_err(Error::db("leasing a task"))?;
        tx.commit().map_err(Error::db("leasing a task"))?;
        Ok(Lease::Granted(TaskRecord {
            task: task.to_owned(),
            last_started,
            last_finished: last_finished.map(ts_from_sql).transpose().map_err(Error::db("reading a task"))?,
            last_ok: last_result.map(|r| r == "ok"),
            last_message,
            lease_until: Some(until),
        }))
    }

    /// Extend `owner`'s lease of `task` to `until`; false if `owner` no longer holds it.
    pub fn renew_lease(&self, task: &str, owner: &str, until: Timestamp) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE task_runs SET lease_until = ?3 WHERE task = ?1 AND lease_owner = ?2",
                params![task, owner, ts_to_sql(until)],
            )
            .map_err(Error::db("renewing a lease"))?;
        Ok(n == 1)
    }

    /// Who holds the lease of `task` now, if anyone.
    pub fn lease_holder(&self, task: &str) -> Result<Option<String>> {
        self.conn()
            .query_row("SELECT lease_owner FROM task_runs WHERE task = ?1", [task], |r| r.get::<_, Option<String>>(0))
            .optional()
            .map(Option::flatten)
            .map_err(Error::db("reading a lease"))
    }

    /// Take the lease of `task` from `dead_owner` (a run that died) for `owner`, until
    /// `until`; false if someone else changed it meanwhile.
    pub fn take_over_lease(&self, task: &str, dead_owner: &str, owner: &str, until: Timestamp) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE task_runs SET lease_owner = ?3, lease_until = ?4 WHERE task = ?1 AND lease_owner = ?2",
                params![task, dead_owner, owner, ts_to_sql(until)],
            )
            .map_err(Error::db("taking over a lease"))?;
        Ok(n == 1)
    }

    /// Record the end of a run and release the lease (only if `owner` still holds it).
    pub fn finish_task(
        &self,
        task: &str,
        owner: &str,
        started: Timestamp,
        finished: Timestamp,
        ok: bool,
        message: &str,
    ) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE task_runs SET lease_owner = NULL, lease_until = 0, last_started = ?3, last_finished = ?4,
                     last_result = ?5, last_message = ?6
                 WHERE task = ?1 AND lease_owner = ?2",
                params![
                    task,
                    owner,
                    ts_to_sql(started),
                    ts_to_sql(finished),
                    if ok { "ok" } else { "failed" },
                    message
                ],
            )
            .map_err(Error::db("recording a task run"))?;
        Ok(())
    }

    /// The record of every task that has run (or been leased) at least once.
    pub fn task_records(&self) -> Result<Vec<TaskRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT task, last_started, last_finished, last_result, last_message, lease_until
                 FROM task_runs ORDER BY task",
            )
            .map_err(Error::db("listing tasks"))?;
        let rows = stmt
            .query_map([], |r| {
                let lease: i64 = r.get(5)?;
                Ok(TaskRecord {
                    task: r.get(0)?,
                    last_started: r.get::<_, Option<i64>>(1)?.map(ts_from_sql).transpose()?,
                    last_finished: r.get::<_, Option<i64>>(2)?.map(ts_from_sql).transpose()?,
                    last_ok: r.get::<_, Option<String>>(3)?.map(|s| s == "ok"),
                    last_message: r.get(4)?,
                    lease_until: if lease > 0 { Some(ts_from_sql(lease)?) } else { None },
                })
            })
            .map_err(Error::db("listing tasks"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing tasks"))
    }
}
