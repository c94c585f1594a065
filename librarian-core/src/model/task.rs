//! Background tasks as values: their names, default intervals, and how a turn went.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::error::{Error, Result};

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
    /// Re-read copies from the disk within the `[scrub]` budget.
    Scrub,
    /// Delete old copies on the `[deletion.STORE]` stores that are safe elsewhere.
    RollingDeletion,
    /// Send events to the `[alerts]` sinks (webhooks, command hooks). Last, so the
    /// events the other tasks raised in the same run go out at once.
    DeliverAlerts,
}

impl TaskKind {
    all_variants!(
        /// Every task, in the order `tasks run` runs them.
        CleanupStaging, ReceiveClones, SendClones, DeliverOutbox, ReconcileTransfers, CloneLocal, Scrub,
        RollingDeletion, DeliverAlerts
    );

    /// The task's name in the CLI, the config file and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::CleanupStaging => "cleanup-staging",
            TaskKind::DeliverOutbox => "deliver-outbox",
            TaskKind::ReceiveClones => "receive-clones",
            TaskKind::SendClones => "send-clones",
            TaskKind::ReconcileTransfers => "reconcile-transfers",
            TaskKind::CloneLocal => "clone-local",
            TaskKind::Scrub => "scrub",
            TaskKind::RollingDeletion => "rolling-deletion",
            TaskKind::DeliverAlerts => "deliver-alerts",
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
            TaskKind::Scrub => SignedDuration::from_hours(1),
            TaskKind::RollingDeletion => SignedDuration::from_hours(6),
            TaskKind::DeliverAlerts => SignedDuration::from_secs(60),
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
            Error::invalid("task", format!("unknown task {s:?}; tasks are: {}", names.join(", ")))
        })
    }
}

/// How one task's turn went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// It ran and succeeded.
    Ok,
    /// It ran and failed.
    Failed,
    /// It ran, but could not make all its progress: a peer did not answer or
    /// refused, every drive is full. Its work waits; an operator may have to act.
    Degraded,
    /// Not due yet.
    NotDue,
    /// Another run holds its lease.
    Busy,
    /// Disabled in the configuration.
    Disabled,
}

impl TaskStatus {
    all_variants!(
        /// Every status.
        Ok, Failed, Degraded, NotDue, Busy, Disabled
    );

    /// `ok`, `failed`, `degraded`, `not_due`, `busy` or `disabled` (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Ok => "ok",
            TaskStatus::Failed => "failed",
            TaskStatus::Degraded => "degraded",
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
