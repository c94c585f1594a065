//! Background tasks: functions of the core that keep a site healthy, run once by
//! `librarian tasks run` (from cron) and, later, on a schedule by `librarian serve`.
//!
//! Each task is idempotent and bounded. A lease in the catalog makes sure two
//! overlapping runs (two cron jobs, cron and a server) never run the same task at
//! once: the second sees the lease and skips the task.

use jiff::{SignedDuration, Timestamp};

use crate::catalog::{Lease, TaskRecord};
use crate::error::Result;
use crate::model::{TaskKind, TaskOutcome, TaskStatus, parse_interval};
use crate::site::Site;

/// How long a run may hold a task's lease. A run killed with the lease held blocks
/// that task for at most this long.
pub const LEASE: SignedDuration = SignedDuration::from_secs(15 * 60);

/// How often a running task renews its lease (well inside [`LEASE`]).
pub const LEASE_RENEWAL: SignedDuration = SignedDuration::from_secs(5 * 60);

/// Whether the lease owner `holder` (`uuid@pid:start:boot`) is a process of this
/// machine that no longer runs.
fn holder_is_gone(holder: &str) -> bool {
    holder.split_once('@').and_then(|(_, who)| crate::process::ProcessId::parse(who)).is_some_and(|p| p.is_gone())
}

/// The schedule of `task`: its interval and whether it is enabled.
pub(crate) fn task_schedule(site: &Site, task: TaskKind) -> (SignedDuration, bool) {
    match site.config().tasks.get(task.as_str()) {
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
pub(crate) fn run_tasks(site: &Site, only: &[TaskKind]) -> Result<Vec<TaskOutcome>> {
    // The owner names this process, so a later run can tell a lease held by a
    // process that died (killed, crashed) and take it over at once.
    let owner = match crate::process::ProcessId::current() {
        Some(me) => format!("{}@{me}", uuid::Uuid::new_v4()),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let tasks: Vec<TaskKind> = if only.is_empty() { TaskKind::ALL.to_vec() } else { only.to_vec() };
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (every, enabled) = task_schedule(site, task);
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
        let mut lease = site.catalog().lease_task(task.as_str(), &owner, now, until, due_after)?;
        if let Lease::Held(_) = lease
            && let Some(holder) = site.catalog().lease_holder(task.as_str())?
            && holder_is_gone(&holder)
            && site.catalog().take_over_lease(task.as_str(), &holder, &owner, until)?
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
                let result = run_task_renewing(site, task, &owner);
                let finished = Timestamp::now();
                let (status, message) = match result {
                    Ok((m, None)) => (TaskStatus::Ok, m),
                    Ok((m, Some(why))) => (TaskStatus::Degraded, format!("{m}; could not make progress: {why}")),
                    Err(e) => (TaskStatus::Failed, e.to_string()),
                };
                let ok = status != TaskStatus::Failed;
                site.catalog().finish_task(task.as_str(), &owner, started, finished, ok, &message)?;
                outcomes.push(TaskOutcome {
                    task: task.as_str().to_owned(),
                    status,
                    message,
                    started_at: Some(started),
                    finished_at: Some(finished),
                });
            }
        }
    }
    // The metrics textfile, for node_exporter (a site run from cron has no /metrics
    // to scrape). Its failure is logged, never the run's: the tasks did their work.
    let ran = outcomes.iter().any(|o| o.started_at.is_some());
    if let Err(e) = crate::metrics::textfile::refresh(site, ran) {
        log::error!("cannot write the metrics textfile: {e}");
    }
    Ok(outcomes)
}

/// The record of each task's last run.
pub(crate) fn task_records(site: &Site) -> Result<Vec<TaskRecord>> {
    site.catalog().task_records()
}

/// Run `task` while a second thread renews its lease every [`LEASE_RENEWAL`], so
/// a run that lasts hours keeps it (and a run that dies loses it: no renewal).
fn run_task_renewing(site: &Site, task: TaskKind, owner: &str) -> Result<TaskRun> {
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
                match site.catalog().renew_lease(task.as_str(), owner, until) {
                    Ok(true) => {}
                    Ok(false) => log::warn!("task {task}: the lease was taken by another run"),
                    Err(e) => log::warn!("task {task}: cannot renew the lease: {e}"),
                }
            }
        });
        let result = run_task(site, task);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        renewer.thread().unpark();
        result
    })
}

/// What a task did, and why it could not make all its progress (then `tasks run`
/// reports it `degraded`: a peer that does not answer, every drive full).
type TaskRun = (String, Option<String>);

/// "peers a, b unreachable" for a non-empty list.
fn peers_blocked(peers: &[String], what: &str) -> Option<String> {
    let mut peers = peers.to_vec();
    peers.sort();
    peers.dedup();
    (!peers.is_empty()).then(|| format!("{what}: {}", peers.join(", ")))
}

fn run_task(site: &Site, task: TaskKind) -> Result<TaskRun> {
    match task {
        TaskKind::CleanupStaging => {
            let removed = crate::stores::cleanup_staging(site)?;
            let n = removed.len();
            Ok((format!("removed {n} stale staging director{}", if n == 1 { "y" } else { "ies" }), None))
        }
        TaskKind::DeliverOutbox => {
            let r = crate::outbox::deliver_outbox(site)?;
            let stalled = peers_blocked(&r.failing_peers, "calls to these peers are failing (see `outbox list`)");
            Ok((r.to_string(), stalled))
        }
        TaskKind::ReceiveClones => {
            let (completed, failed) = crate::transfers::receive::receive_clones(site)?;
            Ok((format!("completed {completed}, failed {failed}"), None))
        }
        TaskKind::SendClones => {
            let r = crate::transfers::send::send_clones(site)?;
            let mut stalled = peers_blocked(&r.unreachable_peers, "these peers did not answer or refused the offer");
            if r.globus_refused {
                let globus = "Globus refused this site's credentials (see `events list`)".to_owned();
                stalled = Some(match stalled {
                    Some(s) => format!("{s}; {globus}"),
                    None => globus,
                });
            }
            if !r.stalled_batches.is_empty() {
                let ids: Vec<String> = r.stalled_batches.iter().map(i64::to_string).collect();
                let batches = format!("batches stuck or not answering (see `events list`): {}", ids.join(", "));
                stalled = Some(match stalled {
                    Some(s) => format!("{s}; {batches}"),
                    None => batches,
                });
            }
            Ok((r.to_string(), stalled))
        }
        TaskKind::ReconcileTransfers => {
            let r = crate::transfers::reconcile::reconcile_transfers(site)?;
            let stalled = peers_blocked(&r.unreachable_peers, "these peers could not be asked");
            Ok((r.to_string(), stalled))
        }
        TaskKind::CloneLocal => crate::sneakernet::fill::clone_local_task(site),
        TaskKind::Scrub => scrub_task(site),
        TaskKind::RollingDeletion => deletion_task(site),
        TaskKind::DeliverAlerts => {
            let r = crate::alerts::deliver_alerts(site)?;
            let stalled = peers_blocked(&r.failing_sinks, "alerts to these sinks are failing (see `alerts list`)");
            Ok((r.to_string(), stalled))
        }
    }
}

/// The `rolling-deletion` task: one run on each store with a `[deletion.STORE]`
/// table. Degraded when a peer could not re-verify or bytes could not be removed.
fn deletion_task(site: &Site) -> Result<TaskRun> {
    let (mut deleted, mut bytes, mut kept) = (0u64, 0u64, 0usize);
    let mut problems = Vec::new();
    let stores: Vec<String> = site.config().deletion.keys().cloned().collect();
    for store in &stores {
        match crate::deletion::rolling_deletion(site, store, false) {
            Ok(r) => {
                deleted += r.deleted;
                bytes += r.bytes_freed;
                kept += r.items.iter().filter(|i| !i.done).count();
                problems.extend(r.problems.into_iter().map(|p| format!("{store}: {p}")));
            }
            Err(e) => problems.push(format!("{store}: {e}")),
        }
    }
    let message = format!(
        "deleted {deleted} cop{} ({bytes} bytes) on {} store(s); kept {kept} not yet safe elsewhere",
        if deleted == 1 { "y" } else { "ies" },
        stores.len()
    );
    Ok((message, (!problems.is_empty()).then(|| problems.join("; "))))
}

/// The `scrub` task: one run within the `[scrub]` budget. With no budget set, the
/// run reads what is past the coverage target plus its share of the coverage window
/// (see [`crate::scrub::ScrubOptions::pace`]), so a site keeps its target without
/// tuning. Degraded when copies stay past the target or damaged copies were found.
fn scrub_task(site: &Site) -> Result<TaskRun> {
    let cfg = &site.config().scrub;
    let (every, _) = task_schedule(site, TaskKind::Scrub);
    let opts = crate::scrub::ScrubOptions {
        budget_bytes: cfg.budget_bytes(),
        budget_time: cfg.budget_time(),
        max_rate: cfg.max_rate(),
        store: None,
        pace: Some(every),
    };
    let report = crate::scrub::scrub(site, &opts, &crate::progress::NoProgress)?;
    // With `repair = true`, every damaged copy (found now or before) is repaired.
    let repairs = if cfg.repair.unwrap_or(false) { crate::repair::repair_all(site)? } else { Vec::new() };
    let repaired: usize = repairs.iter().map(|r| r.repaired.len()).sum();
    let unrepaired: Vec<String> = repairs
        .iter()
        .flat_map(|r| r.failed.iter().map(move |f| format!("{}/{}: {}", f.store, r.name, f.reason)))
        .collect();
    let behind: Vec<String> = report
        .coverage
        .iter()
        .filter(|c| c.overdue_instances > 0)
        .map(|c| format!("{} ({} copies past the target)", c.store, c.overdue_instances))
        .collect();
    let damaged: Vec<String> = if cfg.repair.unwrap_or(false) {
        unrepaired
    } else {
        report.problems.iter().map(|p| format!("{}/{} {}", p.store, p.name, p.state)).collect()
    };
    let message = format!(
        "re-read {} cop{} ({} bytes), found {} damaged, repaired {repaired}; stopped: {}",
        report.instances,
        if report.instances == 1 { "y" } else { "ies" },
        report.bytes,
        report.problems.len(),
        report.stopped.as_str()
    );
    let mut why = Vec::new();
    if !damaged.is_empty() {
        why.push(format!("damaged copies not repaired (see `events list`): {}", damaged.join(", ")));
    }
    if !behind.is_empty() {
        why.push(format!("coverage behind target on {}", behind.join(", ")));
    }
    Ok((message, (!why.is_empty()).then(|| why.join("; "))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Librarian;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("90s").ok(), Some(SignedDuration::from_secs(90)));
        assert_eq!(parse_interval("15m").ok(), Some(SignedDuration::from_secs(900)));
        assert_eq!(parse_interval("2d").ok(), Some(SignedDuration::from_secs(172_800)));
        // Written the way people write them (model/units.rs has the rest).
        assert_eq!(parse_interval("1 hour").ok(), Some(SignedDuration::from_secs(3600)));
        assert_eq!(parse_interval("1.5h").ok(), Some(SignedDuration::from_secs(5400)));
        assert_eq!(parse_interval("1w").ok(), Some(SignedDuration::from_secs(604_800)));
        for bad in ["", "h", "0s", "-1h", "1 fortnight"] {
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
