//! The background thread of each task: it waits while the task is INACTIVE, then plays
//! its scenario (faults, failure, slowness) and really copies between the collection
//! directories, updating the counters as it goes. A cancel (or the deadline) ends
//! it between two files.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::copy::{self, Fault, Op};
use crate::server::Fake;
use crate::tasks::{Mode, Status, Task};

/// How long a `fail` scenario runs before it fails.
const FAIL_AFTER: Duration = Duration::from_millis(200);
/// How often a waiting runner looks at the deadline.
const TICK: Duration = Duration::from_millis(250);

pub fn spawn(fake: &Arc<Fake>, task_id: &str) {
    let (fake, task_id) = (Arc::clone(fake), task_id.to_string());
    std::thread::spawn(move || run(&fake, &task_id));
}

/// Why the runner stops early: the task is gone or already terminal (canceled,
/// expired), or it just failed.
struct Stop;

fn run(fake: &Fake, task_id: &str) {
    let Ok(task) = wait_while_inactive(fake, task_id) else { return };
    let _ = play(fake, &task);
}

/// Applies `change` to the task unless it is gone or terminal; expires it at its
/// deadline. `persist` writes the state file (status changes and events).
fn update(fake: &Fake, task_id: &str, persist: bool, change: impl FnOnce(&mut Task)) -> Result<(), Stop> {
    let mut inner = fake.lock();
    let Some(task) = inner.task_mut(task_id) else { return Err(Stop) };
    if task.status.is_terminal() {
        return Err(Stop);
    }
    if Timestamp::now() > task.deadline {
        task.fail("EXPIRED", "The task deadline was reached before the transfer completed");
        fake.changed(&inner);
        return Err(Stop);
    }
    change(task);
    if persist {
        fake.changed(&inner);
    }
    Ok(())
}

/// Sleeps `duration`, waking early to stop when the task ends (cancel, deadline).
fn pause(fake: &Fake, task_id: &str, duration: Duration) -> Result<(), Stop> {
    let end = Instant::now() + duration;
    loop {
        update(fake, task_id, false, |_| {})?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        let inner = fake.lock();
        let _ = fake.changed.wait_timeout(inner, (end - now).min(TICK));
    }
}

fn wait_while_inactive(fake: &Fake, task_id: &str) -> Result<Task, Stop> {
    loop {
        update(fake, task_id, false, |_| {})?;
        let inner = fake.lock();
        match inner.task(task_id) {
            Some(task) if task.status == Status::Inactive => {
                let _ = fake.changed.wait_timeout(inner, TICK);
            }
            Some(task) => return Ok(task.clone()),
            None => return Err(Stop),
        }
    }
}

fn play(fake: &Fake, task: &Task) -> Result<(), Stop> {
    let id = task.task_id.as_str();
    let faults = task.scenario.faults;
    update(fake, id, true, |t| {
        t.event("STARTED", false, "started", None);
        t.nice_status = Some("OK".into());
        t.is_ok = Some(true);
        for _ in 0..faults {
            t.event(
                "CONNECTION_RESET",
                true,
                "Connection reset by peer",
                Some("Error (transfer)\nConnection reset".into()),
            );
            t.counters.faults += 1;
        }
        if faults > 0 {
            t.nice_status = Some("CONNECTION_RESET".into());
            t.is_ok = Some(false);
        }
    })?;
    let slow = match &task.scenario.mode {
        Mode::Fail { code, description } => {
            pause(fake, id, FAIL_AFTER)?;
            return update(fake, id, true, |t| t.fail(code, description));
        }
        Mode::Slow { seconds } => Some(Duration::from_secs_f64(seconds.max(0.0))),
        Mode::Ok | Mode::Inactive => None,
    };
    let started = Instant::now();
    match copy_items(fake, task, slow) {
        Ok(()) => {}
        Err(Failure::Stop) => return Err(Stop),
        Err(Failure::Fault(fault)) => return update(fake, id, true, |t| t.fail(fault.code, &fault.description)),
    }
    if let Some(slow) = slow {
        pause(fake, id, slow.saturating_sub(started.elapsed()))?;
    }
    update(fake, id, true, Task::succeed)
}

enum Failure {
    Stop,
    Fault(Fault),
}

impl From<Stop> for Failure {
    fn from(_: Stop) -> Self {
        Failure::Stop
    }
}

impl From<Fault> for Failure {
    fn from(fault: Fault) -> Self {
        Failure::Fault(fault)
    }
}

/// The plan of one item: the destination collection root and the operations.
struct Planned {
    root: PathBuf,
    file_item: bool,
    ops: Vec<Op>,
}

fn collection_root(fake: &Fake, id: &str) -> Result<PathBuf, Fault> {
    fake.settings
        .collections
        .get(id)
        .cloned()
        .ok_or_else(|| Fault { code: "ENDPOINT_ERROR", description: format!("Unknown collection {id}") })
}

/// Expands every item (counting `files` and `directories`), then copies, pacing the
/// files over `slow` when given.
fn copy_items(fake: &Fake, task: &Task, slow: Option<Duration>) -> Result<(), Failure> {
    let id = task.task_id.as_str();
    let source_root = collection_root(fake, &task.source)?;
    let destination_root = collection_root(fake, &task.destination)?;
    let mut plans = Vec::new();
    for item in &task.items {
        let (from, to) = (&item.source_path, &item.destination_path);
        let destination = copy::resolve(&destination_root, to)?;
        let planned = copy::resolve(&source_root, from)
            .and_then(|source| copy::plan(&source, &destination, from, to, item.recursive));
        let ops = match planned {
            Ok(ops) => ops,
            Err(fault) if task.options.skip_source_errors && is_skippable(&fault) => {
                update(fake, id, true, |t| {
                    t.event(fault.code, true, &fault.description, None);
                    t.counters.subtasks_skipped_errors += 1;
                    t.counters.subtasks_total += 1;
                })?;
                continue;
            }
            Err(fault) => return Err(fault.into()),
        };
        let files = ops.iter().filter(|op| matches!(op, Op::File { .. })).count() as u64;
        let directories = ops.len() as u64 - files;
        update(fake, id, false, |t| {
            t.counters.files += files;
            t.counters.directories += directories;
            t.counters.subtasks_total += files;
        })?;
        let file_item = matches!(ops.as_slice(), [Op::File { .. }]);
        plans.push(Planned { root: destination_root.clone(), file_item, ops });
    }
    let files: u32 = plans.iter().flat_map(|p| &p.ops).filter(|op| matches!(op, Op::File { .. })).count() as u32;
    let step = slow.map(|s| s / (files + 1));
    for planned in &plans {
        for op in &planned.ops {
            match op {
                Op::Dir { destination, display } => copy::create_dirs(&planned.root, destination, display)?,
                Op::File { source, destination, display, destination_display, size: _ } => {
                    if let Some(step) = step {
                        pause(fake, id, step)?;
                    }
                    if planned.file_item
                        && let Some(parent) = destination.parent()
                    {
                        copy::create_dirs(&planned.root, parent, destination_display)?;
                    }
                    let skip = copy::in_sync(source, destination, task.options.sync_level)
                        .map_err(|e| Fault::io(&e, display))?;
                    let bytes = if skip {
                        0
                    } else {
                        copy::copy_file(source, destination, task.options.preserve_timestamp)
                            .map_err(|e| Fault::io(&e, display))?
                    };
                    update(fake, id, false, |t| {
                        if skip {
                            t.counters.files_skipped += 1;
                        } else {
                            t.counters.files_transferred += 1;
                            t.counters.bytes_transferred += bytes;
                        }
                        t.counters.subtasks_succeeded += 1;
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// Source errors that `skip_source_errors` skips (reference §4.8).
fn is_skippable(fault: &Fault) -> bool {
    matches!(fault.code, "PERMISSION_DENIED" | "FILE_NOT_FOUND" | "AMBIGUOUS_PATH")
}
