//! The rsync transfer manager: moves a batch with the real `rsync` binary, in one
//! detached background process that outlives whoever started it.
//!
//! # Design
//!
//! [`RsyncManager::start`] prepares the destinations (a local destination must lie
//! below the peer's configured `destination_root`; its parents are created beneath
//! that root without following a link, and anything at the destination that this
//! site did not write is refused, never removed),
//! writes the batch's `(source, destination)` pairs NUL-separated to
//! `<work_dir>/rsync.items`, and spawns **one** `/bin/sh` for the whole batch. That
//! shell feeds the list to `xargs -0 -n 2`, which runs one
//! `rsync -a --partial [-s -e SSH] EXTRA... -- SRC DEST` per item, in order, and stops
//! at the first failure. When it is over the shell writes the exit status to
//! `<work_dir>/rsync.status.tmp` and renames it to `<work_dir>/rsync.status`, so a
//! reader sees either no status or a complete one. Its stdout and stderr (and so
//! rsync's messages) go to `<work_dir>/rsync.log`.
//!
//! No path is ever pasted into shell code: the script is a constant, the rsync
//! command prefix travels as the shell's positional parameters (`"$@"`), the file
//! names travel NUL-separated through the list file to `xargs -0`, and the few paths
//! the script itself needs come through environment variables. Names with spaces,
//! quotes, `$` or newlines arrive intact, and a batch may be arbitrarily large (no
//! command-line length limit applies to the list).
//!
//! A directory ("book") is sent as `SRC/` to `DEST/`, so its contents land at `DEST`.
//!
//! ## Why the batch survives the process that started it
//!
//! The shell calls `setsid(2)` before it executes: it leads a new session and process
//! group (its id is its pid) with no controlling terminal. A hang-up or Ctrl-C of the
//! starting terminal does not reach it, and when the starting process exits the
//! shell is simply re-parented to init. While the starting process lives, a small
//! thread reaps the shell when it ends so no zombie lingers. Without a controlling
//! terminal, ssh cannot ask for a password either: it fails (use key authentication,
//! e.g. `ssh -o BatchMode=yes`) instead of hanging the batch.
//!
//! ## Polling and the PID-reuse guard
//!
//! The state that [`RsyncManager::start`] returns (see [`AsyncTransferManager`]) is
//! plain JSON, so any later process polls it. [`RsyncManager::poll`] first looks for
//! the status file: `0` is [`BatchProgress::Done`], anything else
//! [`BatchProgress::Failed`] with the exit code and the last lines of the log. With
//! no status the batch is running only if its shell is: a pid alone is not proof,
//! since after the shell died (killed, machine rebooted) the kernel may give its pid
//! to an unrelated process. The state therefore also records the shell's start time
//! (field 22 of `/proc/PID/stat`, in clock ticks since boot) and the kernel's boot id
//! (`/proc/sys/kernel/random/boot_id`); a process with that pid but another start
//! time or boot is not ours. A shell that is gone without a status is reported as
//! [`BatchProgress::Failed`] so the caller starts the batch again; any rsync it left
//! behind in its process group is killed first, so two rsyncs never write the same
//! destination. (A process-group id stays reserved by the kernel while any member
//! lives, so when the shell's pid has not been reused, the group is still ours.)
//!
//! [`RsyncManager::cancel`] sends SIGTERM to the whole process group (the shell,
//! `xargs`, `rsync` and its helpers, `ssh`), then SIGKILL if anything is left after a
//! few seconds. It does nothing when the group is gone or the pid was reused.
//!
//! ## Remote destinations
//!
//! A destination that is not an absolute path must be `host:path` (or
//! `user@host:path`); rsync then reaches the host through `ssh` (or the command in
//! [`RsyncManager::ssh`], passed as `-e`), with `--protect-args` (`-s`) so the remote
//! shell does not split or expand the path. Remote destinations are not cleared: the
//! destination site gives a fresh staging path, and rsync brings an interrupted copy
//! up to date (`--partial` keeps partly sent files for that).
//!
//! Managers only move bytes: the destination re-hashes everything before it commits.

use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::manager::{AsyncTransferManager, BatchItem, BatchProgress, SaveState, local_destination};
use crate::error::{Error, Result};
use crate::model::FileKind;
use crate::model::ManagerKind;
#[cfg(test)]
use crate::process::parse_stat;
use crate::process::{boot_id, proc_stat};
use crate::store::beneath::{Dir, EntryType};

/// The file in the work directory that holds the batch's exit status once it is over.
const STATUS_FILE: &str = "rsync.status";
/// The file in the work directory that receives the output of the batch.
const LOG_FILE: &str = "rsync.log";
/// The NUL-separated `source, destination` pairs of the batch.
const LIST_FILE: &str = "rsync.items";
/// The exit code of the rsync that failed (xargs itself only says "124").
const RC_FILE: &str = "rsync.rc";
/// The version of [`RsyncState`].
const STATE_VERSION: u32 = 1;
/// How many lines of the log a failure quotes.
const LOG_TAIL_LINES: usize = 12;

/// The batch's shell. Positional parameters: the rsync command prefix (program,
/// options, `--`). Environment: `LIBRARIAN_RSYNC_LIST` (the NUL-separated pairs),
/// `LIBRARIAN_RSYNC_STATUS` (the status file), `LIBRARIAN_RSYNC_RC` (where a failing
/// rsync's exit code is kept) and `LIBRARIAN_RSYNC_ITEM` ([`ITEM_SCRIPT`]).
const BATCH_SCRIPT: &str = r#"
xargs -0 -r -n 2 /bin/sh -c "$LIBRARIAN_RSYNC_ITEM" librarian-rsync-item "$@" < "$LIBRARIAN_RSYNC_LIST"
rc=$?
if [ "$rc" -ne 0 ] && [ -s "$LIBRARIAN_RSYNC_RC" ]; then
    read -r rc < "$LIBRARIAN_RSYNC_RC"
fi
printf 'librarian: rsync batch finished with status %s\n' "$rc"
printf '%s\n' "$rc" > "$LIBRARIAN_RSYNC_STATUS.tmp" && mv -f -- "$LIBRARIAN_RSYNC_STATUS.tmp" "$LIBRARIAN_RSYNC_STATUS"
"#;

/// One item, run by xargs with the command prefix and the item's two operands as
/// positional parameters. A failure is recorded and ends the batch (xargs stops when
/// a command exits with 255).
const ITEM_SCRIPT: &str = r#"
"$@"
rc=$?
if [ "$rc" -ne 0 ]; then
    printf '%s\n' "$rc" > "$LIBRARIAN_RSYNC_RC"
    exit 255
fi
"#;

/// Moves batches with the `rsync` binary in a detached background process; see the
/// [module documentation](self) for the design.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsyncManager {
    /// The rsync program: a bare name is looked up on `PATH` (default `rsync`), a
    /// path containing `/` is used as it is.
    pub program: PathBuf,
    /// The remote shell for `host:path` destinations, passed to rsync as `-e`
    /// (e.g. `ssh -o BatchMode=yes`); `None` leaves rsync's default (`ssh`).
    pub ssh: Option<String>,
    /// More arguments for every rsync run, placed after the manager's own options
    /// (e.g. `--bwlimit=50M`).
    pub extra_args: Vec<String>,
}

impl Default for RsyncManager {
    fn default() -> Self {
        RsyncManager { program: PathBuf::from("rsync"), ssh: None, extra_args: Vec::new() }
    }
}

/// The persisted state of a batch (the JSON the catalog keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RsyncState {
    /// [`STATE_VERSION`].
    version: u32,
    /// The batch's shell.
    pid: i32,
    /// Its process group (and session): the same number, the shell leads both.
    pgid: i32,
    /// The shell's start time, field 22 of `/proc/PID/stat` (clock ticks since boot).
    proc_start: u64,
    /// The kernel's boot id when the batch started, if readable.
    boot_id: Option<String>,
    /// The rsync program used (resolved).
    program: PathBuf,
    /// The batch's work directory.
    work_dir: PathBuf,
    /// Where the exit status appears.
    status_file: PathBuf,
    /// Where the output goes.
    log_file: PathBuf,
    /// How many items the batch has.
    items: usize,
    /// When it started (RFC 3339).
    started_at: String,
}

impl RsyncState {
    fn from_value(state: &serde_json::Value) -> Result<Self> {
        let s: RsyncState = serde_json::from_value(state.clone())
            .map_err(|e| Error::corrupt("an rsync batch state in the catalog", e.to_string()))?;
        if s.version != STATE_VERSION {
            return Err(Error::corrupt(
                "an rsync batch state in the catalog",
                format!("version {} is not supported (expected {STATE_VERSION})", s.version),
            ));
        }
        // Never signal pid 0 (our own group) or 1 (init; -1 is every process).
        if s.pid < 2 || s.pgid != s.pid {
            return Err(Error::corrupt(
                "an rsync batch state in the catalog",
                format!("it names an impossible process (pid {}, process group {})", s.pid, s.pgid),
            ));
        }
        Ok(s)
    }
}

impl AsyncTransferManager for RsyncManager {
    fn kind(&self) -> ManagerKind {
        ManagerKind::Rsync
    }

    fn start(&self, work_dir: &Path, _save: SaveState<'_>, items: &[BatchItem]) -> Result<serde_json::Value> {
        let program = resolve_program(&self.program)?;
        // Check every item before touching anything.
        let mut operands = Vec::with_capacity(items.len());
        let mut any_remote = false;
        for item in items {
            let op = Operands::of(item)?;
            any_remote |= op.local_destination.is_none();
            operands.push(op);
        }
        let work_dir = std::path::absolute(work_dir).map_err(|e| Error::io("cannot resolve", work_dir, e))?;
        std::fs::create_dir_all(&work_dir).map_err(|e| Error::io("cannot create", &work_dir, e))?;

        let mut prefix: Vec<OsString> = vec![program.clone().into_os_string(), "-a".into(), "--partial".into()];
        if any_remote {
            prefix.push("--protect-args".into());
            if let Some(ssh) = &self.ssh {
                prefix.push("-e".into());
                prefix.push(ssh.into());
            }
        }
        prefix.extend(self.extra_args.iter().map(OsString::from));
        prefix.push("--".into());

        let status_file = work_dir.join(STATUS_FILE);
        let log_file = work_dir.join(LOG_FILE);
        let list_file = work_dir.join(LIST_FILE);
        let rc_file = work_dir.join(RC_FILE);
        // What an earlier attempt in this work directory left must not be read as ours.
        for stale in [&status_file, &status_file.with_extension("status.tmp"), &rc_file] {
            remove_if_present(stale)?;
        }

        for op in &operands {
            if let Some((root, rel)) = &op.local_destination {
                prepare_local_destination(root, rel)?;
            }
        }

        let mut list = Vec::new();
        for op in &operands {
            list.extend_from_slice(op.source.as_bytes());
            list.push(0);
            list.extend_from_slice(op.destination.as_bytes());
            list.push(0);
        }
        std::fs::write(&list_file, &list).map_err(|e| Error::io("cannot write", &list_file, e))?;

        let started_at = jiff::Timestamp::now().to_string();
        let mut log = std::fs::File::create(&log_file).map_err(|e| Error::io("cannot create", &log_file, e))?;
        writeln!(log, "librarian: rsync batch of {} item(s) started at {started_at}", items.len())
            .map_err(|e| Error::io("cannot write", &log_file, e))?;
        let log_err = log.try_clone().map_err(|e| Error::io("cannot open", &log_file, e))?;

        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(BATCH_SCRIPT)
            .arg("librarian-rsync")
            .args(&prefix)
            .env("LIBRARIAN_RSYNC_LIST", &list_file)
            .env("LIBRARIAN_RSYNC_STATUS", &status_file)
            .env("LIBRARIAN_RSYNC_RC", &rc_file)
            .env("LIBRARIAN_RSYNC_ITEM", ITEM_SCRIPT)
            .current_dir(&work_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        // SAFETY: the closure runs in the forked child before exec and only calls
        // setsid(2), which is async-signal-safe; it touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| Error::io("cannot start the rsync batch shell", "/bin/sh", e))?;
        let pid = match i32::try_from(child.id()) {
            Ok(pid) => pid,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::internal(format!("pid {} out of range", child.id())));
            }
        };
        // The child is not reaped yet, so /proc/PID exists (at worst as a zombie), and
        // its start time, set at fork, does not change when it executes the shell.
        let proc_start = match proc_stat(pid) {
            Some(st) => st.start,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::io(
                    "cannot read the start time of the rsync batch shell from",
                    format!("/proc/{pid}/stat"),
                    std::io::Error::other("unreadable"),
                ));
            }
        };
        // Reap the shell when it ends, while this process lives; after it exits, init
        // does. A failure to start the thread costs one zombie at most.
        let _ = std::thread::Builder::new().name(format!("rsync-batch-{pid}")).spawn(move || child.wait());

        let state = RsyncState {
            version: STATE_VERSION,
            pid,
            pgid: pid,
            proc_start,
            boot_id: boot_id(),
            program,
            work_dir,
            status_file,
            log_file,
            items: items.len(),
            started_at,
        };
        serde_json::to_value(&state).map_err(|e| Error::internal(format!("cannot encode an rsync batch state: {e}")))
    }

    fn poll(&self, state: &mut serde_json::Value, _save: SaveState<'_>) -> Result<BatchProgress> {
        let s = RsyncState::from_value(state)?;
        if let Some(progress) = read_status(&s)? {
            return Ok(progress);
        }
        let leader = leader(&s);
        if leader == Leader::Running {
            return Ok(BatchProgress::Running);
        }
        // It may have written its status and exited between the two looks.
        if let Some(progress) = read_status(&s)? {
            return Ok(progress);
        }
        let why = match leader {
            Leader::Reused => " (its pid now belongs to another process)",
            _ => {
                // Whatever it left running (an rsync whose shell was killed) must not
                // keep writing while the caller starts the batch again.
                if group_alive(s.pgid) {
                    let _ = signal_group(s.pgid, libc::SIGKILL);
                }
                ""
            }
        };
        Ok(BatchProgress::Failed(format!(
            "rsync process {} (batch of {} item(s) in {}, started {}) is gone without a status{why}{}",
            s.pid,
            s.items,
            s.work_dir.display(),
            s.started_at,
            log_excerpt(&s.log_file)
        )))
    }

    fn cancel(&self, state: &serde_json::Value) -> Result<()> {
        let s = RsyncState::from_value(state)?;
        if leader(&s) == Leader::Reused {
            // Our whole group is gone (the kernel reuses a pid only once no process
            // uses it as a group id): the pid is someone else's now.
            return Ok(());
        }
        if !group_alive(s.pgid) {
            return Ok(());
        }
        signal_group(s.pgid, libc::SIGTERM)?;
        if wait_group_gone(s.pgid, Duration::from_secs(3)) {
            return Ok(());
        }
        signal_group(s.pgid, libc::SIGKILL)?;
        if wait_group_gone(s.pgid, Duration::from_secs(5)) {
            return Ok(());
        }
        Err(Error::io(
            "cannot stop the rsync batch in",
            &s.work_dir,
            std::io::Error::other(format!("processes of group {} survived SIGKILL", s.pgid)),
        ))
    }
}

/// The two rsync operands of an item, checked.
#[derive(Debug)]
struct Operands {
    source: OsString,
    destination: OsString,
    /// When the destination is local: the configured root and the path below it.
    local_destination: Option<(PathBuf, PathBuf)>,
}

impl Operands {
    fn of(item: &BatchItem) -> Result<Self> {
        if !item.source.is_absolute() {
            // A relative `a:b` would be taken by rsync for a remote path.
            return Err(Error::internal(format!(
                "transfer {}: the rsync manager needs an absolute source path, not {:?}",
                item.transfer, item.source
            )));
        }
        let dest = item.destination.as_str();
        let local_destination = if dest.starts_with('/') {
            let (root, rel) = local_destination(item)?;
            Some((root.to_owned(), rel))
        } else {
            match dest.split_once(':') {
                Some((host, path)) if !host.is_empty() && !host.contains('/') && !path.is_empty() => None,
                _ => {
                    return Err(Error::corrupt(
                        format!("the destination of transfer {}", item.transfer),
                        format!("{dest:?} is neither an absolute path nor host:path"),
                    ));
                }
            }
        };
        let mut source = item.source.clone().into_os_string().into_vec();
        let mut destination = dest.as_bytes().to_vec();
        if item.kind == FileKind::Directory {
            // `SRC/` into `DEST/`: the directory's contents land at DEST.
            for op in [&mut source, &mut destination] {
                if !op.ends_with(b"/") {
                    op.push(b'/');
                }
            }
        }
        Ok(Operands {
            source: OsString::from_vec(source),
            destination: OsString::from_vec(destination),
            local_destination,
        })
    }
}

/// Make a local destination's parents below `root` (never following a link, never
/// leaving it) and check what is already at the destination: nothing, or a file or
/// directory of this user's that an interrupted attempt left (rsync brings it up to
/// date). A link, a special file or someone else's entry there is refused; nothing is
/// removed.
fn prepare_local_destination(root: &Path, rel: &Path) -> Result<()> {
    let (Some(parent_rel), Some(last)) = (rel.parent(), rel.file_name()) else {
        return Err(Error::corrupt("an rsync destination", format!("{} is too short", rel.display())));
    };
    let parent = Dir::open_root(root)?.create_dirs(parent_rel)?;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    match parent.stat(last)? {
        None => Ok(()),
        Some(st)
            if st.uid == me && (st.kind == EntryType::Directory || (st.kind == EntryType::File && st.nlink <= 1)) =>
        {
            Ok(())
        }
        Some(st) => Err(Error::UnsupportedEntry {
            path: root.join(rel).display().to_string(),
            reason: format!(
                "the destination already holds {} this site did not write; not writing there",
                st.kind.describe()
            ),
        }),
    }
}

/// Find the rsync program: a bare name on `PATH`, a path as it is.
fn resolve_program(program: &Path) -> Result<PathBuf> {
    let not_found = |detail: String| {
        Error::io("cannot find the rsync program", program, std::io::Error::new(std::io::ErrorKind::NotFound, detail))
    };
    if program.as_os_str().is_empty() {
        return Err(Error::invalid("rsync program", "is an empty path"));
    }
    if program.as_os_str().as_bytes().contains(&b'/') {
        let p = std::path::absolute(program).map_err(|e| Error::io("cannot resolve", program, e))?;
        return if is_executable_file(&p) {
            Ok(p)
        } else {
            Err(not_found("no executable file there; install rsync (Debian package \"rsync\")".into()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|p| is_executable_file(p))
        .ok_or_else(|| {
            not_found("not found on PATH; install rsync (Debian package \"rsync\") or configure its path".into())
        })
}

fn is_executable_file(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn remove_if_present(p: &Path) -> Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("cannot remove", p, e)),
        _ => Ok(()),
    }
}

/// The batch's outcome if its status file is there.
fn read_status(s: &RsyncState) -> Result<Option<BatchProgress>> {
    let text = match std::fs::read_to_string(&s.status_file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot read", &s.status_file, e)),
    };
    Ok(Some(match text.trim().parse::<i32>() {
        Ok(0) => BatchProgress::Done,
        Ok(code) => BatchProgress::Failed(format!(
            "rsync exited with status {code}{}{}",
            explain_exit(code).map(|m| format!(" ({m})")).unwrap_or_default(),
            log_excerpt(&s.log_file)
        )),
        Err(_) => BatchProgress::Failed(format!(
            "the rsync batch left an unreadable status {:?} in {}{}",
            text,
            s.status_file.display(),
            log_excerpt(&s.log_file)
        )),
    }))
}

/// What rsync's (or the shell's) common exit codes mean.
fn explain_exit(code: i32) -> Option<&'static str> {
    Some(match code {
        1 => "syntax or usage error",
        2 => "protocol incompatibility",
        3 => "errors selecting input/output files or directories",
        5 => "error starting the client-server protocol",
        10 => "error in socket I/O",
        11 => "error in file I/O",
        12 => "error in the rsync protocol data stream",
        20 => "interrupted by a signal",
        23 => "partial transfer due to an error",
        24 => "partial transfer: some source files vanished",
        30 => "timeout in data send/receive",
        35 => "timeout waiting for a daemon connection",
        126 => "the rsync program could not be executed",
        127 => "the rsync program was not found",
        255 => "the remote shell failed",
        c if c > 128 && c < 128 + 65 => "killed by a signal",
        _ => return None,
    })
}

/// `; last lines of LOG:\n...`, or nothing when the log is empty or unreadable.
fn log_excerpt(log: &Path) -> String {
    let tail = read_tail(log, 16 * 1024).unwrap_or_default();
    let text = String::from_utf8_lossy(&tail);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let from = lines.len().saturating_sub(LOG_TAIL_LINES);
    format!("; last lines of {}:\n{}", log.display(), lines[from..].join("\n"))
}

fn read_tail(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(max);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf)?;
    if start > 0 {
        // Drop the partial first line.
        if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            buf.drain(..=nl);
        }
    }
    Ok(buf)
}

/// What became of the batch's shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leader {
    /// It runs.
    Running,
    /// It ended (no such process, or a zombie): the process group id is still ours.
    Exited,
    /// Its pid belongs to another process now (other start time or other boot).
    Reused,
}

fn leader(s: &RsyncState) -> Leader {
    if let (Some(then), Some(now)) = (&s.boot_id, boot_id())
        && *then != now
    {
        return Leader::Reused;
    }
    match proc_stat(s.pid) {
        None => Leader::Exited,
        Some(st) if st.start != s.proc_start => Leader::Reused,
        Some(st) if st.is_dead() => Leader::Exited,
        Some(_) => Leader::Running,
    }
}

/// Whether a live (not zombie) process is in the process group `pgid`.
fn group_alive(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter_map(proc_stat)
        .any(|st| st.pgrp == pgid && !st.is_dead())
}

fn wait_group_gone(pgid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !group_alive(pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal_group(pgid: i32, signal: libc::c_int) -> Result<()> {
    if pgid < 2 {
        return Err(Error::internal(format!("refusing to signal process group {pgid}")));
    }
    // SAFETY: kill(2) has no memory-safety preconditions; pgid >= 2 so this signals
    // exactly that group (never our own group, nor every process).
    let rc = unsafe { libc::kill(-pgid, signal) };
    if rc == -1 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(Error::io("cannot signal the rsync batch, process group", format!("{pgid}"), e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    fn no_save(_: &serde_json::Value) -> crate::error::Result<()> {
        Ok(())
    }
    use super::*;
    use crate::checksum::{Algorithm, Checksum};

    fn item(transfer: i64, source: &Path, destination: &str, kind: FileKind) -> BatchItem {
        BatchItem {
            transfer,
            source: source.to_owned(),
            destination: destination.to_owned(),
            // Local destinations: the root is their grandparent (`ROOT/stage/x`).
            destination_root: Path::new(destination).parent().and_then(Path::parent).map(Path::to_owned),
            kind,
            checksum: Checksum::from_hex(Algorithm::Blake3, &"0".repeat(64)).expect("checksum"),
            size: 0,
            fresh: true,
        }
    }

    fn have_rsync() -> bool {
        let ok = resolve_program(Path::new("rsync")).is_ok();
        if !ok {
            crate::test_skip("rsync is not on PATH");
        }
        ok
    }

    /// Poll until the batch is no longer running (at most 30 s).
    fn wait(m: &RsyncManager, state: &serde_json::Value) -> BatchProgress {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let p = m.poll(&mut state.clone(), &no_save).expect("poll");
            if p != BatchProgress::Running {
                return p;
            }
            assert!(Instant::now() < deadline, "the batch is still running after 30 s");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// A stand-in for rsync: a shell script.
    fn fake_program(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("fake-rsync");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    fn state_of(v: &serde_json::Value) -> RsyncState {
        RsyncState::from_value(v).expect("state")
    }

    #[test]
    fn rsync_copies_a_file_and_a_book_to_local_destinations() {
        if !have_rsync() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("obs data.bin");
        std::fs::write(&file, b"photons").expect("write");
        let book = dir.path().join("book's dir");
        std::fs::create_dir_all(book.join("a/b c/d")).expect("mkdir");
        std::fs::write(book.join("top"), b"top").expect("write");
        std::fs::write(book.join("a/b c/d/it's a $HOME file"), b"deep").expect("write");
        std::fs::write(book.join("a/line\nbreak"), b"nl").expect("write");
        std::fs::create_dir_all(book.join("empty")).expect("mkdir");

        let stage = dir.path().join("stage");
        std::fs::create_dir_all(&stage).expect("mkdir");
        // A leftover of an interrupted attempt of ours is brought up to date (never removed).
        std::fs::create_dir_all(stage.join("book out")).expect("mkdir");
        std::fs::write(stage.join("book out/stale"), b"old").expect("write");
        let file_dest = stage.join("missing parent/file out");
        let book_dest = stage.join("book out");
        let items = [
            item(1, &file, file_dest.to_str().expect("utf8"), FileKind::File),
            item(2, &book, book_dest.to_str().expect("utf8"), FileKind::Directory),
        ];

        let work = dir.path().join("work");
        let m = RsyncManager::default();
        let state = m.start(&work, &no_save, &items).expect("start");
        for field in
            ["pid", "pgid", "proc_start", "boot_id", "work_dir", "status_file", "log_file", "items", "started_at"]
        {
            assert!(state.get(field).is_some(), "state has {field}: {state}");
        }
        assert_eq!(state["items"], 2);
        assert!(state["started_at"].as_str().expect("str").parse::<jiff::Timestamp>().is_ok());

        // A later process: the state goes through text and a fresh manager.
        let text = serde_json::to_string(&state).expect("to text");
        let later: serde_json::Value = serde_json::from_str(&text).expect("from text");
        assert_eq!(wait(&RsyncManager::default(), &later), BatchProgress::Done);
        assert_eq!(m.poll(&mut state.clone(), &no_save).expect("poll"), BatchProgress::Done, "Done stays Done");

        assert_eq!(std::fs::read(&file_dest).expect("read"), b"photons");
        assert_eq!(std::fs::read(book_dest.join("top")).expect("read"), b"top");
        assert_eq!(std::fs::read(book_dest.join("a/b c/d/it's a $HOME file")).expect("read"), b"deep");
        assert_eq!(std::fs::read(book_dest.join("a/line\nbreak")).expect("read"), b"nl");
        assert!(book_dest.join("empty").is_dir());
        assert!(book_dest.join("stale").exists(), "nothing at the destination is removed");
        assert!(!book_dest.join("book's dir").exists(), "the contents land at DEST");

        // A link at the destination (or in its path) is refused before rsync starts,
        // and nothing is written through it.
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::os::unix::fs::symlink(&outside, stage.join("linked")).expect("symlink");
        for dest in [stage.join("linked"), stage.join("linked/x")] {
            let it = item(3, &book, dest.to_str().expect("utf8"), FileKind::Directory);
            let it = BatchItem { destination_root: Some(dir.path().to_owned()), ..it };
            let err = m.start(&dir.path().join("work3"), &no_save, &[it]).expect_err("refused");
            assert_eq!(err.code(), "unsupported_entry", "{}: {err}", dest.display());
        }
        assert_eq!(std::fs::read_dir(&outside).expect("ls").count(), 0);
    }

    #[test]
    fn rsync_failing_batch_reports_the_exit_code_and_the_log() {
        if !have_rsync() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("no such source");
        let dest = dir.path().join("stage/out");
        let m = RsyncManager::default();
        let state = m
            .start(
                &dir.path().join("work"),
                &no_save,
                &[item(1, &missing, dest.to_str().expect("utf8"), FileKind::File)],
            )
            .expect("start");
        match wait(&m, &state) {
            BatchProgress::Failed(msg) => {
                assert!(msg.contains("status 23"), "{msg}");
                assert!(msg.contains("no such source"), "the log excerpt names the file: {msg}");
                assert!(msg.contains("rsync.log"), "{msg}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn rsync_missing_program_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("f");
        std::fs::write(&src, b"x").expect("write");
        let items = [item(1, &src, "/nonexistent-dir/x", FileKind::File)];
        for program in ["librarian-no-such-rsync", "/nonexistent/bin/rsync"] {
            let m = RsyncManager { program: program.into(), ..RsyncManager::default() };
            let err = m.start(&dir.path().join("work"), &no_save, &items).expect_err("no program");
            let msg = err.to_string();
            assert!(msg.contains(program) && msg.contains("rsync"), "{msg}");
        }
    }

    #[test]
    fn rsync_passes_awkward_names_intact_and_uses_ssh_for_remote_destinations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let calls = dir.path().join("calls");
        std::fs::create_dir_all(&calls).expect("mkdir");
        // Each call stores its arguments NUL-separated in a file of its own.
        let program = fake_program(
            dir.path(),
            &format!("n=$(ls '{}' | wc -l); printf '%s\\0' \"$@\" > '{}'/$n", calls.display(), calls.display()),
        );
        let m = RsyncManager {
            program: program.clone(),
            ssh: Some("ssh -o BatchMode=yes".into()),
            extra_args: vec!["--bwlimit=1M".into()],
        };
        let awkward = dir.path().join("it's a \"book\" $(touch pwned) `x`\nline");
        let file = dir.path().join("plain file");
        let items = [
            item(1, &awkward, "archive.example.org:/stage/x y", FileKind::Directory),
            item(2, &file, "user@host:/stage/$f", FileKind::File),
        ];
        let state = m.start(&dir.path().join("work"), &no_save, &items).expect("start");
        assert_eq!(wait(&m, &state), BatchProgress::Done);
        let read = |n: usize| -> Vec<String> {
            let raw = std::fs::read(calls.join(n.to_string())).expect("call");
            raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
        };
        let opts = ["-a", "--partial", "--protect-args", "-e", "ssh -o BatchMode=yes", "--bwlimit=1M", "--"];
        let mut first: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        first.push(format!("{}/", awkward.display()));
        first.push("archive.example.org:/stage/x y/".into());
        assert_eq!(read(0), first);
        let mut second: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        second.push(file.display().to_string());
        second.push("user@host:/stage/$f".into());
        assert_eq!(read(1), second);
        assert!(!dir.path().join("work/pwned").exists() && !dir.path().join("pwned").exists());

        // Bad operands are refused before anything starts: a relative source is our
        // bug (internal), a bad destination came from a peer's answer kept in the
        // catalog (corrupt); neither is the caller's usage error.
        for (src, dst) in
            [("relative", "/abs"), ("/abs", "relative/path"), ("/abs", ":/x"), ("/abs", "host:"), ("/abs", "/")]
        {
            let it = item(1, Path::new(src), dst, FileKind::File);
            let err = m.start(&dir.path().join("work2"), &no_save, &[it]).expect_err("refused");
            let want = if src == "relative" { "internal" } else { "corrupt" };
            assert_eq!(err.code(), want, "{src} {dst}: {err}");
        }
    }

    #[test]
    fn rsync_batch_stops_at_the_first_failing_item() {
        let dir = tempfile::tempdir().expect("tempdir");
        let count = dir.path().join("count");
        let program = fake_program(
            dir.path(),
            &format!("echo call >> '{}'; echo 'boom: it broke' >&2; exit 12", count.display()),
        );
        let m = RsyncManager { program, ..RsyncManager::default() };
        let src = dir.path().join("f");
        let items = [
            item(1, &src, &format!("{}/stage/a", dir.path().display()), FileKind::File),
            item(2, &src, &format!("{}/stage/b", dir.path().display()), FileKind::File),
        ];
        let state = m.start(&dir.path().join("work"), &no_save, &items).expect("start");
        match wait(&m, &state) {
            BatchProgress::Failed(msg) => {
                assert!(msg.contains("status 12") && msg.contains("protocol data stream"), "{msg}");
                assert!(msg.contains("boom: it broke"), "{msg}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&count).expect("count"), "call\n", "the second item never ran");

        // Starting again in the same work directory forgets the old outcome.
        let ok = fake_program(dir.path(), "exit 0");
        let m = RsyncManager { program: ok, ..RsyncManager::default() };
        let state = m.start(&dir.path().join("work"), &no_save, &items).expect("start");
        assert_eq!(wait(&m, &state), BatchProgress::Done);
    }

    /// A batch that runs until stopped.
    fn slow_batch(dir: &Path) -> (RsyncManager, serde_json::Value) {
        let program = fake_program(dir, "sleep 60");
        let m = RsyncManager { program, ..RsyncManager::default() };
        let src = dir.join("f");
        let state = m
            .start(&dir.join("work"), &no_save, &[item(1, &src, &format!("{}/stage/a", dir.display()), FileKind::File)])
            .expect("start");
        // Wait until the fake rsync runs (it is then in the group too).
        let deadline = Instant::now() + Duration::from_secs(10);
        let pgid = state_of(&state).pgid;
        while !group_members(pgid).iter().any(|(_, comm)| comm.contains("sleep")) {
            assert!(Instant::now() < deadline, "the fake rsync did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        (m, state)
    }

    /// The live members of a process group: (pid, comm).
    fn group_members(pgid: i32) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").expect("proc").flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/stat")) else { continue };
            let Some(st) = parse_stat(&raw) else { continue };
            if st.pgrp == pgid && !st.is_dead() {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                out.push((pid, comm.trim().to_owned()));
            }
        }
        out
    }

    #[test]
    fn rsync_batch_killed_from_outside_is_gone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (m, state) = slow_batch(dir.path());
        assert_eq!(m.poll(&mut state.clone(), &no_save).expect("poll"), BatchProgress::Running);
        let pgid = state_of(&state).pgid;
        // SAFETY: test code signalling the batch's own process group.
        assert_eq!(unsafe { libc::kill(-pgid, libc::SIGKILL) }, 0);
        match wait(&m, &state) {
            BatchProgress::Failed(msg) => assert!(msg.contains("is gone without a status"), "{msg}"),
            other => panic!("expected gone, got {other:?}"),
        }
        // SIGKILL reaches the group's members one by one: allow them a moment.
        assert!(wait_group_gone(pgid, Duration::from_secs(5)), "left: {:?}", group_members(pgid));
        m.cancel(&state).expect("cancel after the end is a no-op");
    }

    #[test]
    fn rsync_poll_kills_what_a_dead_shell_left_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (m, state) = slow_batch(dir.path());
        let s = state_of(&state);
        // Only the shell dies; its fake rsync (sleep) keeps running.
        // SAFETY: test code signalling the batch's own shell.
        assert_eq!(unsafe { libc::kill(s.pid, libc::SIGKILL) }, 0);
        match wait(&m, &state) {
            BatchProgress::Failed(msg) => assert!(msg.contains("gone"), "{msg}"),
            other => panic!("expected gone, got {other:?}"),
        }
        assert!(wait_group_gone(s.pgid, Duration::from_secs(5)), "left: {:?}", group_members(s.pgid));
    }

    #[test]
    fn rsync_cancel_stops_a_long_batch_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (m, state) = slow_batch(dir.path());
        let pgid = state_of(&state).pgid;
        assert!(!group_members(pgid).is_empty());
        // Detached: the shell leads a session of its own, apart from ours.
        let raw = std::fs::read(format!("/proc/{pgid}/stat")).expect("stat");
        let close = raw.iter().rposition(|&b| b == b')').expect("comm");
        let fields: Vec<String> =
            String::from_utf8_lossy(&raw[close + 1..]).split_ascii_whitespace().map(str::to_owned).collect();
        assert_eq!(fields[3], pgid.to_string(), "session id (field 6) is the shell's pid");
        let ours = std::fs::read(format!("/proc/{}/stat", std::process::id())).expect("stat");
        assert_ne!(parse_stat(&ours).expect("parse").pgrp, pgid);
        let t = Instant::now();
        m.cancel(&state).expect("cancel");
        assert!(t.elapsed() < Duration::from_secs(3), "SIGTERM was enough");
        assert!(group_members(pgid).is_empty(), "{:?}", group_members(pgid));
        assert!(
            matches!(m.poll(&mut state.clone(), &no_save).expect("poll"), BatchProgress::Failed(e) if e.contains("gone"))
        );
        m.cancel(&state).expect("again");
        RsyncManager::default().cancel(&state).expect("from another manager value");
    }

    #[test]
    fn rsync_a_reused_pid_is_not_taken_for_the_batch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (m, state) = slow_batch(dir.path());
        let pgid = state_of(&state).pgid;

        let mut tampered = state.clone();
        tampered["proc_start"] = serde_json::json!(state_of(&state).proc_start + 1);
        match m.poll(&mut tampered.clone(), &no_save).expect("poll") {
            BatchProgress::Failed(msg) => assert!(msg.contains("belongs to another process"), "{msg}"),
            other => panic!("expected gone, got {other:?}"),
        }
        m.cancel(&tampered).expect("cancel");
        assert!(!group_members(pgid).is_empty(), "a reused pid is never signalled");

        let mut other_boot = state.clone();
        other_boot["boot_id"] = serde_json::json!("00000000-0000-0000-0000-000000000000");
        assert!(matches!(m.poll(&mut other_boot.clone(), &no_save).expect("poll"), BatchProgress::Failed(_)));

        assert_eq!(m.poll(&mut state.clone(), &no_save).expect("poll"), BatchProgress::Running);
        m.cancel(&state).expect("cancel");
        assert!(group_members(pgid).is_empty());
    }

    #[test]
    fn rsync_rejects_unusable_state() {
        let m = RsyncManager::default();
        let dir = tempfile::tempdir().expect("tempdir");
        let good = RsyncState {
            version: STATE_VERSION,
            pid: 12345,
            pgid: 12345,
            proc_start: 1,
            boot_id: None,
            program: "rsync".into(),
            work_dir: dir.path().to_owned(),
            status_file: dir.path().join(STATUS_FILE),
            log_file: dir.path().join(LOG_FILE),
            items: 1,
            started_at: "2026-01-01T00:00:00Z".into(),
        };
        for (pid, pgid, version) in [(0, 0, 1), (1, 1, 1), (-5, -5, 1), (12345, 1, 1), (12345, 12345, 99)] {
            let s = RsyncState { pid, pgid, version, ..good.clone() };
            let v = serde_json::to_value(&s).expect("json");
            assert!(m.poll(&mut v.clone(), &no_save).is_err(), "{v}");
            assert!(m.cancel(&v).is_err(), "{v}");
        }
        assert!(m.poll(&mut serde_json::json!({"done": true}), &no_save).is_err());
        assert!(signal_group(1, libc::SIGTERM).is_err());
    }

    #[test]
    fn rsync_parses_proc_stat_with_awkward_command_names() {
        let raw = b"4242 (we ird) (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        let st = parse_stat(raw).expect("parse");
        assert_eq!((st.state, st.pgrp, st.start), (b'S', 4242, 987654));
        assert!(parse_stat(b"garbage").is_none());
        let me = proc_stat(std::process::id() as i32).expect("self");
        assert!(!me.is_dead());
    }
}
