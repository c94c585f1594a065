//! Background tasks: functions of the core that keep a site healthy, run once by
//! `librarian tasks run` (from cron) and, later, on a schedule by `librarian serve`.
//!
//! Each task is idempotent and bounded. A lease in the catalog makes sure two
//! overlapping runs (two cron jobs, cron and a server) never run the same task at
//! once: the second sees the lease and skips the task.

use std::collections::BTreeMap;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::catalog::{Lease, TaskRecord};
use crate::error::{Error, Result};
use crate::librarian::Librarian;

/// How long a run may hold a task's lease. A run killed with the lease held blocks
/// that task for at most this long.
pub const LEASE: SignedDuration = SignedDuration::from_secs(15 * 60);

/// How often a running task renews its lease (well inside [`LEASE`]).
pub const LEASE_RENEWAL: SignedDuration = SignedDuration::from_secs(5 * 60);

/// The tasks there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TaskKind {
    /// Roll back interrupted ingests and remove stale staging directories.
    CleanupStaging,
    /// Verify and commit incoming transfers whose data has arrived.
    ReceiveClones,
    /// Poll running batches; plan, offer and start new ones to the `[clone.to.*]` peers.
    SendClones,
    /// Send queued calls to peers ([`crate::outbox`]).
    DeliverOutbox,
    /// Ask peers about transfers stuck longer than `[clone] stale_after`.
    ReconcileTransfers,
    /// Fill the `[clone.local]` stores (drives) with verified copies.
    CloneLocal,
}

impl TaskKind {
    /// Every task, in the order `tasks run` runs them.
    pub const ALL: [TaskKind; 6] = [
        TaskKind::CleanupStaging,
        TaskKind::ReceiveClones,
        TaskKind::SendClones,
        TaskKind::DeliverOutbox,
        TaskKind::ReconcileTransfers,
        TaskKind::CloneLocal,
    ];

    /// The task's name in the CLI, the config file and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::CleanupStaging => "cleanup-staging",
            TaskKind::DeliverOutbox => "deliver-outbox",
            TaskKind::ReceiveClones => "receive-clones",
            TaskKind::SendClones => "send-clones",
            TaskKind::ReconcileTransfers => "reconcile-transfers",
            TaskKind::CloneLocal => "clone-local",
        }
    }

    /// Interval between runs when the configuration does not say.
    pub fn default_every(self) -> SignedDuration {
        match self {
            TaskKind::CleanupStaging => SignedDuration::from_hours(1),
            TaskKind::DeliverOutbox => SignedDuration::from_secs(30),
            TaskKind::ReceiveClones => SignedDuration::from_secs(60),
            TaskKind::SendClones => SignedDuration::from_secs(300),
            TaskKind::ReconcileTransfers => SignedDuration::from_hours(1),
            TaskKind::CloneLocal => SignedDuration::from_hours(1),
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TaskKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        TaskKind::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = TaskKind::ALL.iter().map(|t| t.as_str()).collect();
            Error::InvalidArgument(format!("unknown task {s:?}; tasks are: {}", names.join(", ")))
        })
    }
}

/// One task's settings in `librarian.toml`: `[tasks.cleanup-staging]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Interval between runs: a number and a unit, `s`, `m`, `h` or `d` (e.g. `"15m"`).
    pub every: Option<String>,
    /// Run on schedule at all (default true). `tasks run --only` ignores it.
    pub enabled: Option<bool>,
}

/// Parse an interval such as `90s`, `15m`, `1h` or `2d`.
pub fn parse_interval(text: &str) -> Result<SignedDuration> {
    let bad =
        || Error::InvalidArgument(format!("interval {text:?} must be a number and a unit s, m, h or d, e.g. \"15m\""));
    let t = text.trim();
    let unit_at = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (num, unit) = t.split_at(unit_at);
    let n: i64 = num.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if secs <= 0 {
        return Err(bad());
    }
    Ok(SignedDuration::from_secs(secs))
}

/// Check the `[tasks]` table of a configuration.
pub(crate) fn validate_config(tasks: &BTreeMap<String, TaskConfig>) -> Result<()> {
    for (name, cfg) in tasks {
        name.parse::<TaskKind>()?;
        if let Some(every) = &cfg.every {
            parse_interval(every)?;
        }
    }
    Ok(())
}

/// How one task's turn went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// It ran and succeeded.
    Ok,
    /// It ran and failed.
    Failed,
    /// Not due yet.
    NotDue,
    /// Another run holds its lease.
    Busy,
    /// Disabled in the configuration.
    Disabled,
}

impl TaskStatus {
    /// `ok`, `failed`, `not_due`, `busy` or `disabled` (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Ok => "ok",
            TaskStatus::Failed => "failed",
            TaskStatus::NotDue => "not_due",
            TaskStatus::Busy => "busy",
            TaskStatus::Disabled => "disabled",
        }
    }
}

/// The result of one task's turn in [`Librarian::run_tasks`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskOutcome {
    /// Task name.
    pub task: String,
    /// What happened.
    pub status: TaskStatus,
    /// What the task reported, or why it did not run.
    pub message: String,
    /// When it started (if it ran).
    pub started_at: Option<Timestamp>,
    /// When it finished (if it ran).
    pub finished_at: Option<Timestamp>,
}

/// Whether the lease owner `holder` (`uuid@pid:start:boot`) is a process of this
/// machine that no longer runs.
fn holder_is_gone(holder: &str) -> bool {
    holder.split_once('@').and_then(|(_, who)| crate::process::ProcessId::parse(who)).is_some_and(|p| p.is_gone())
}

impl Librarian {
    /// The schedule of `task`: its interval and whether it is enabled.
    pub fn task_schedule(&self, task: TaskKind) -> (SignedDuration, bool) {
        match self.config().tasks.get(task.as_str()) {
            Some(c) => (
                c.every.as_deref().and_then(|e| parse_interval(e).ok()).unwrap_or_else(|| task.default_every()),
                c.enabled.unwrap_or(true),
            ),
            None => (task.default_every(), true),
        }
    }

    /// Run each task that is due, once (`only` empty), or the tasks in `only` now,
    /// whatever their schedule. Tasks whose lease another run holds are skipped.
    /// Returns one outcome per task; the call fails only if the catalog does.
    pub fn run_tasks(&self, only: &[TaskKind]) -> Result<Vec<TaskOutcome>> {
        // The owner names this process, so a later run can tell a lease held by a
        // process that died (killed, crashed) and take it over at once.
        let owner = match crate::process::ProcessId::current() {
            Some(me) => format!("{}@{me}", uuid::Uuid::new_v4()),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let tasks: Vec<TaskKind> = if only.is_empty() { TaskKind::ALL.to_vec() } else { only.to_vec() };
        let mut outcomes = Vec::with_capacity(tasks.len());
        for task in tasks {
            let (every, enabled) = self.task_schedule(task);
            let skipped = |status, message: String| TaskOutcome {
                task: task.as_str().to_owned(),
                status,
                message,
                started_at: None,
                finished_at: None,
            };
            if only.is_empty() && !enabled {
                outcomes.push(skipped(TaskStatus::Disabled, "disabled in the configuration".into()));
                continue;
            }
            let now = Timestamp::now();
            let until = now.checked_add(LEASE).unwrap_or(now);
            let due_after = if only.is_empty() { Some(every) } else { None };
            let mut lease = self.catalog().lease_task(task.as_str(), &owner, now, until, due_after)?;
            if let Lease::Held(_) = lease
                && let Some(holder) = self.catalog().lease_holder(task.as_str())?
                && holder_is_gone(&holder)
                && self.catalog().take_over_lease(task.as_str(), &holder, &owner, until)?
            {
                log::warn!("task {task}: took over the lease of a run that died ({holder})");
                lease = Lease::Granted(TaskRecord::default());
            }
            match lease {
                Lease::Held(until) => {
                    outcomes.push(skipped(TaskStatus::Busy, format!("another run holds it (lease until {until})")));
                }
                Lease::NotDue(at) => outcomes.push(skipped(TaskStatus::NotDue, format!("next due at {at}"))),
                Lease::Granted(_) => {
                    let started = Timestamp::now();
                    let result = self.run_task_renewing(task, &owner);
                    let finished = Timestamp::now();
                    let (ok, message) = match result {
                        Ok(m) => (true, m),
                        Err(e) => (false, e.to_string()),
                    };
                    self.catalog().finish_task(task.as_str(), &owner, started, finished, ok, &message)?;
                    outcomes.push(TaskOutcome {
                        task: task.as_str().to_owned(),
                        status: if ok { TaskStatus::Ok } else { TaskStatus::Failed },
                        message,
                        started_at: Some(started),
                        finished_at: Some(finished),
                    });
                }
            }
        }
        Ok(outcomes)
    }

    /// The record of each task's last run.
    pub fn task_records(&self) -> Result<Vec<TaskRecord>> {
        self.catalog().task_records()
    }

    /// Run `task` while a second thread renews its lease every [`LEASE_RENEWAL`], so
    /// a run that lasts hours keeps it (and a run that dies loses it: no renewal).
    fn run_task_renewing(&self, task: TaskKind, owner: &str) -> Result<String> {
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let renewer = s.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    std::thread::park_timeout(LEASE_RENEWAL.unsigned_abs());
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let now = Timestamp::now();
                    let until = now.checked_add(LEASE).unwrap_or(now);
                    match self.catalog().renew_lease(task.as_str(), owner, until) {
                        Ok(true) => {}
                        Ok(false) => log::warn!("task {task}: the lease was taken by another run"),
                        Err(e) => log::warn!("task {task}: cannot renew the lease: {e}"),
                    }
                }
            });
            let result = self.run_task(task);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            renewer.thread().unpark();
            result
        })
    }

    fn run_task(&self, task: TaskKind) -> Result<String> {
        match task {
            TaskKind::CleanupStaging => {
                let removed = self.cleanup_staging()?;
                Ok(format!(
                    "removed {} stale staging director{}",
                    removed.len(),
                    if removed.len() == 1 { "y" } else { "ies" }
                ))
            }
            TaskKind::DeliverOutbox => Ok(self.deliver_outbox()?.to_string()),
            TaskKind::ReceiveClones => {
                let (completed, failed) = self.receive_clones()?;
                Ok(format!("completed {completed}, failed {failed}"))
            }
            TaskKind::SendClones => Ok(self.send_clones()?.to_string()),
            TaskKind::ReconcileTransfers => Ok(self.reconcile_transfers()?.to_string()),
            TaskKind::CloneLocal => self.clone_local_task(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("90s").ok(), Some(SignedDuration::from_secs(90)));
        assert_eq!(parse_interval("15m").ok(), Some(SignedDuration::from_secs(900)));
        assert_eq!(parse_interval("2d").ok(), Some(SignedDuration::from_secs(172_800)));
        for bad in ["", "h", "0s", "-1h", "1w", "1.5h", "1 hour"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
        assert_eq!("cleanup-staging".parse::<TaskKind>().ok(), Some(TaskKind::CleanupStaging));
        assert!("nope".parse::<TaskKind>().is_err());
    }

    fn site() -> (tempfile::TempDir, Librarian) {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = Librarian::init(&dir.path().join("s"), "site-a").expect("init");
        (dir, lib)
    }

    #[test]
    fn only_the_holder_renews_a_lease() {
        let (_d, lib) = site();
        let now = Timestamp::now();
        let soon = now.checked_add(SignedDuration::from_secs(1)).expect("time");
        let t = "cleanup-staging";
        assert!(matches!(lib.catalog().lease_task(t, "a", now, soon, None), Ok(Lease::Granted(_))));
        let later = now.checked_add(LEASE).expect("time");
        assert_eq!(lib.catalog().renew_lease(t, "b", later).ok(), Some(false), "not the holder");
        assert_eq!(lib.catalog().renew_lease(t, "a", later).ok(), Some(true));
        // Renewed: still held by `a` after the first expiry.
        let after_first = soon.checked_add(SignedDuration::from_secs(1)).expect("time");
        assert!(matches!(
            lib.catalog().lease_task(t, "b", after_first, later, None),
            Ok(Lease::Held(u)) if u.as_microsecond() == later.as_microsecond()
        ));
    }

    #[test]
    fn a_lease_excludes_other_runs_until_released_or_expired() {
        let (_d, lib) = site();
        let other = Librarian::open(lib.config_path()).expect("second handle");
        let now = Timestamp::now();
        let until = now.checked_add(LEASE).expect("time");
        let t = "cleanup-staging";
        assert!(matches!(lib.catalog().lease_task(t, "a", now, until, None), Ok(Lease::Granted(_))));
        assert!(matches!(other.catalog().lease_task(t, "b", now, until, None), Ok(Lease::Held(_))));
        // The holder may take it again (idempotent), others only after it expires.
        assert!(matches!(lib.catalog().lease_task(t, "a", now, until, None), Ok(Lease::Granted(_))));
        let later = until.checked_add(SignedDuration::from_secs(1)).expect("time");
        let later_until = later.checked_add(LEASE).expect("time");
        assert!(matches!(other.catalog().lease_task(t, "b", later, later_until, None), Ok(Lease::Granted(_))));
        // A release by a run that lost its lease changes nothing.
        lib.catalog().finish_task(t, "a", now, now, true, "late").expect("finish");
        assert!(matches!(lib.catalog().lease_task(t, "a", later, later, None), Ok(Lease::Held(_))));
        other.catalog().finish_task(t, "b", later, later, true, "done").expect("finish");
        let rec = lib.task_records().expect("records");
        assert_eq!(rec.len(), 1);
        assert_eq!(
            (rec[0].last_ok, rec[0].last_message.as_deref(), rec[0].lease_until),
            (Some(true), Some("done"), None)
        );
    }

    #[test]
    fn run_tasks_runs_what_is_due_and_respects_the_schedule() {
        let (_d, lib) = site();
        let stale = lib.stores().expect("stores")[0].staging.join("stale");
        std::fs::create_dir_all(stale.join("sub")).expect("stale dir");
        let first = lib.run_tasks(&[]).expect("run");
        assert_eq!(first.len(), TaskKind::ALL.len());
        assert!(first.iter().all(|o| o.status == TaskStatus::Ok), "{first:?}");
        let outbox = first.iter().find(|o| o.task == "deliver-outbox").expect("deliver-outbox ran");
        assert_eq!(outbox.message, "delivered 0, refused 0, postponed 0", "nothing queued: {first:?}");
        assert!(first[0].message.contains("removed 1"), "{first:?}");
        assert!(!stale.exists());
        let second = lib.run_tasks(&[]).expect("run");
        assert_eq!(second[0].status, TaskStatus::NotDue, "ran an hour early: {second:?}");
        let forced = lib.run_tasks(&[TaskKind::CleanupStaging]).expect("run");
        assert_eq!(forced[0].status, TaskStatus::Ok);
        assert!(forced[0].message.contains("removed 0"), "{forced:?}");
    }
}
