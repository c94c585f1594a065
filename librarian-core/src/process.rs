//! Processes on this machine, as `/proc` shows them: used to tell whether the process
//! that holds something (a task lease, a detached rsync) is still alive, without being
//! fooled by a reused pid (its start time differs) or a reboot (the boot id differs).

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
}
