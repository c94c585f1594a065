//! Processes on this machine, as `/proc` shows them: used to tell whether the process
//! that holds something (a task lease, a detached rsync) is still alive, without being
//! fooled by a reused pid (its start time differs) or a reboot (the boot id differs).
//! And running a short-lived program with a deadline ([`run_with_input`], the alert
//! command hook).

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The fields of `/proc/PID/stat` used here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcStat {
    /// Field 3.
    pub(crate) state: u8,
    /// Field 5.
    pub(crate) pgrp: i32,
    /// Field 22.
    pub(crate) start: u64,
}

impl ProcStat {
    pub(crate) fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

pub(crate) fn proc_stat(pid: i32) -> Option<ProcStat> {
    parse_stat(&std::fs::read(format!("/proc/{pid}/stat")).ok()?)
}

pub(crate) fn parse_stat(raw: &[u8]) -> Option<ProcStat> {
    // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so
    // count fields from the last `)`.
    let close = raw.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(raw.get(close + 1..)?).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3.
    Some(ProcStat {
        state: *fields.first()?.as_bytes().first()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

pub(crate) fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_owned())
}

/// Who a process is: pid, start time (clock ticks after boot) and boot id. Written as
/// `pid:start:boot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessId {
    pid: i32,
    start: u64,
    boot: String,
}

impl ProcessId {
    /// This process.
    pub(crate) fn current() -> Option<ProcessId> {
        let pid = i32::try_from(std::process::id()).ok()?;
        Some(ProcessId { pid, start: proc_stat(pid)?.start, boot: boot_id()? })
    }

    /// Parse `pid:start:boot`.
    pub(crate) fn parse(text: &str) -> Option<ProcessId> {
        let mut parts = text.splitn(3, ':');
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        let boot = parts.next()?.to_owned();
        Some(ProcessId { pid, start, boot })
    }

    /// Certainly gone: same machine and boot, and no live process with that pid and
    /// start time. (Another boot, or no `/proc`: not known to be gone.)
    pub(crate) fn is_gone(&self) -> bool {
        if boot_id().as_deref() != Some(self.boot.as_str()) {
            return false;
        }
        match proc_stat(self.pid) {
            Some(st) => st.start != self.start || st.is_dead(),
            None => true,
        }
    }
}

impl std::fmt::Display for ProcessId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.pid, self.start, self.boot)
    }
}

/// How much of a program's standard error [`run_with_input`] keeps (its end).
const STDERR_TAIL: usize = 2048;

/// How a program run by [`run_with_input`] ended.
#[derive(Debug)]
pub(crate) struct Finished {
    /// Its exit status; `None` when it ran out of time and was killed.
    pub(crate) status: Option<ExitStatus>,
    /// The end of what it wrote on standard error (lossy UTF-8).
    pub(crate) stderr: String,
}

/// Run `argv` (the program, then its arguments; no shell) with `input` on its standard
/// input, its standard output discarded, this process's environment less the variables
/// `hidden` (secrets), in a process group of its own. If it has not exited within
/// `timeout`, the whole group is killed (SIGKILL). An error only when it cannot be
/// started.
pub(crate) fn run_with_input(
    argv: &[String],
    input: &[u8],
    hidden: &[&str],
    timeout: Duration,
) -> std::io::Result<Finished> {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no program to run"));
    };
    let mut command = Command::new(program);
    for name in hidden {
        command.env_remove(name);
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let deadline = Instant::now() + timeout;
    // Feed and drain on threads of their own: a program that reads nothing, or writes
    // a lot, must not block this one past the deadline.
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        // A program that exits without reading its input closes the pipe: not an error.
        let _ = std::thread::Builder::new().name("hook-stdin".into()).spawn(move || stdin.write_all(&input));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = std::thread::Builder::new().name("hook-stderr".into()).spawn(move || {
            let mut tail = Vec::new();
            let mut buf = [0_u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            let _ = tx.send(tail);
        });
    }
    let group = i32::try_from(child.id()).ok();
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        let now = Instant::now();
        if now >= deadline {
            if let Some(pgid) = group {
                // SAFETY: kill(2) with a negative pid signals the process group the child
                // leads (process_group(0) above); it touches no memory.
                unsafe { libc::kill(-pgid, libc::SIGKILL) };
            }
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    };
    // Whatever it left running may hold standard error open: wait a moment, no more.
    let mut tail = rx.recv_timeout(Duration::from_millis(500)).unwrap_or_default();
    if tail.len() > STDERR_TAIL {
        tail.drain(..tail.len() - STDERR_TAIL);
    }
    Ok(Finished { status, stderr: String::from_utf8_lossy(&tail).trim().to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_gone() {
        let me = ProcessId::current().expect("/proc");
        assert!(!me.is_gone());
        assert_eq!(ProcessId::parse(&me.to_string()), Some(me.clone()));
        let reused = ProcessId { start: me.start + 1, ..me.clone() };
        assert!(reused.is_gone(), "a pid with another start time is another process");
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = i32::try_from(child.id()).expect("pid");
        let start = proc_stat(pid).map(|s| s.start);
        child.wait().expect("wait");
        if let Some(start) = start {
            assert!(ProcessId { pid, start, boot: me.boot.clone() }.is_gone());
        }
        let elsewhere = ProcessId { boot: "another-boot".into(), ..reused };
        assert!(!elsewhere.is_gone(), "another machine's process is not known to be gone");
        assert!(ProcessId::parse("garbage").is_none());
    }

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn a_program_gets_its_input_and_runs_out_of_time() {
        let long = Duration::from_secs(60);
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("stdin");
        let script = format!("cat > '{}'; echo oops >&2; exit 3", out.display());
        let done = run_with_input(&sh(&script), b"{\"a\": 1}", &[], long).expect("run");
        assert_eq!(done.status.and_then(|s| s.code()), Some(3));
        assert_eq!(done.stderr, "oops");
        assert_eq!(std::fs::read(&out).expect("written"), b"{\"a\": 1}");
        // One that never reads its input, and one that outlives its time (with a child).
        let done = run_with_input(&sh("exit 0"), &vec![b'x'; 1 << 20], &[], long).expect("run");
        assert!(done.status.is_some_and(|s| s.success()));
        let started = Instant::now();
        let done = run_with_input(&sh("sleep 30 & sleep 30"), b"", &[], Duration::from_millis(200)).expect("run");
        assert!(done.status.is_none(), "killed: {done:?}");
        assert!(started.elapsed() < Duration::from_secs(20), "the deadline was kept");
        // Hidden variables do not reach it (PATH does).
        let env = dir.path().join("env");
        let script = format!("env > '{}'", env.display());
        run_with_input(&sh(&script), b"", &["HOME"], long).expect("run");
        let seen = std::fs::read_to_string(&env).expect("env");
        assert!(seen.contains("PATH=") && !seen.lines().any(|l| l.starts_with("HOME=")), "{seen}");
        assert!(run_with_input(&["/nonexistent/program".into()], b"", &[], long).is_err());
        assert!(run_with_input(&[], b"", &[], long).is_err());
    }
}
