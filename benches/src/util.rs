//! Timing, statistics, test data, external commands and the page cache.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// Whether the source data is in the page cache when a timed run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// `sync; echo 3 > /proc/sys/vm/drop_caches` before each run.
    Cold,
    /// The source was read just before each run.
    Warm,
}

impl Cache {
    pub fn label(self) -> &'static str {
        match self {
            Cache::Cold => "cold",
            Cache::Warm => "warm",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Cache::Cold => "page cache dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before each run",
            Cache::Warm => "page cache NOT dropped; the source was read into the cache before each run",
        }
    }
}

/// Time one call.
pub fn time<T>(f: impl FnOnce() -> Res<T>) -> Res<(Duration, T)> {
    let t = Instant::now();
    let v = f()?;
    Ok((t.elapsed(), v))
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Median of a non-empty slice (mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile `p` (0..=100).
pub fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

/// Bytes per second as "1.23 GB/s" (decimal units, like dd).
pub fn rate(bytes: u64, seconds: f64) -> String {
    let r = bytes as f64 / seconds;
    if r >= 1e9 { format!("{:.2} GB/s", r / 1e9) } else { format!("{:.0} MB/s", r / 1e6) }
}

pub fn human_bytes(n: u64) -> String {
    if n >= GIB && n.is_multiple_of(GIB) {
        format!("{} GiB", n / GIB)
    } else if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} B")
    }
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `sync(2)`: flush every filesystem.
pub fn sync_all() {
    // SAFETY: sync takes no arguments and cannot fail.
    unsafe { libc::sync() }
}

/// Flush dirty data, then drop the page cache. `Ok(false)` when not permitted.
pub fn drop_caches() -> Res<bool> {
    sync_all();
    match std::fs::OpenOptions::new().write(true).open("/proc/sys/vm/drop_caches") {
        Ok(mut f) => match f.write_all(b"3\n") {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(false),
            Err(e) => Err(e.into()),
        },
        Err(e) if matches!(e.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem) => {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Read `path` (a file, or every file below a directory) so it sits in the page cache.
pub fn warm(path: &Path) -> Res<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            warm(&entry?.path())?;
        }
        return Ok(());
    }
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; MIB as usize];
    while f.read(&mut buf)? > 0 {}
    Ok(())
}

/// Put the cache in the state `cache` asks for before a timed run over `sources`.
pub fn prepare(cache: Cache, sources: &[&Path]) -> Res<()> {
    match cache {
        Cache::Cold => {
            if !drop_caches()? {
                return Err("cannot drop the page cache (not root?); use --cache warm".into());
            }
        }
        Cache::Warm => {
            sync_all();
            for s in sources {
                warm(s)?;
            }
        }
    }
    Ok(())
}

/// A fast deterministic generator (splitmix64) for incompressible test data.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let w = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }
}

/// Write `size` pseudo-random bytes to `path` (reused if it already has that size), fsynced.
pub fn make_file(path: &Path, size: u64, seed: u64) -> Res<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    let mut rng = Rng::new(seed);
    let mut f = File::create(path)?;
    let mut buf = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    Ok(())
}

/// Run a command to completion with stdout discarded; fail with its stderr.
pub fn run(cmd: &mut Command) -> Res<()> {
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output()?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()).into());
    }
    Ok(())
}

pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Peak resident set size and wall time of a child process.
#[derive(Debug, Clone, Copy)]
pub struct ChildUsage {
    pub wall: Duration,
    /// `ru_maxrss` from `wait4(2)`.
    pub max_rss_bytes: u64,
    /// Largest `VmHWM` seen in `/proc/PID/status` while polling every 5 ms.
    pub vm_hwm_bytes: u64,
}

/// Argument that makes this binary act as [`rusage_helper`].
pub const RUSAGE_HELPER: &str = "__rusage";

/// Run `program args` and measure its peak RSS, through a fresh copy of this binary.
///
/// Why the detour: `ru_maxrss` of a child started with `posix_spawn`/`vfork` (what
/// `std::process::Command` uses) includes the *parent's* high-water RSS, because the
/// child runs on the parent's address space until `exec`, and Linux folds that
/// address space's peak into the child's `maxrss`. The helper is a new small
/// process, so the measured command's figure is its own (plus the helper's ~2 MiB
/// floor). stderr of the command goes to `log`; a failure returns its contents.
pub fn run_measured(program: &Path, args: &[&std::ffi::OsStr], log: &Path) -> Res<ChildUsage> {
    let err = File::create(log)?;
    let out = Command::new(std::env::current_exe()?)
        .arg(RUSAGE_HELPER)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(err)
        .output()?;
    if !out.status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        return Err(format!("{} {args:?} failed ({}): {}", program.display(), out.status, text.trim()).into());
    }
    let text = String::from_utf8(out.stdout)?;
    let f: Vec<u64> = text.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
    match f[..] {
        [rss, hwm, ns] => Ok(ChildUsage { wall: Duration::from_nanos(ns), max_rss_bytes: rss, vm_hwm_bytes: hwm }),
        _ => Err(format!("unexpected helper output {text:?}").into()),
    }
}

fn vm_hwm(pid: libc::pid_t) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * KIB)
}

/// The helper side of [`run_measured`]: run the command (stdout discarded, stderr
/// inherited), reap it with `wait4`, print `ru_maxrss_bytes vm_hwm_bytes wall_ns`,
/// and exit with failure if the command failed.
pub fn rusage_helper(args: &[String]) -> Res<()> {
    let (program, rest) = args.split_first().ok_or("usage: __rusage PROGRAM [ARGS...]")?;
    let start = Instant::now();
    let child = Command::new(program).args(rest).stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
    let pid = libc::pid_t::try_from(child.id())?;
    let mut status: libc::c_int = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    let mut hwm = 0u64;
    loop {
        // SAFETY: `status` and `usage` are valid for writes; `pid` is our unreaped child.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, usage.as_mut_ptr()) };
        if rc == pid {
            break;
        }
        if rc == -1 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()).into());
        }
        if let Some(h) = vm_hwm(pid) {
            hwm = hwm.max(h);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let wall = start.elapsed();
    drop(child); // already reaped; dropping a Child neither waits nor kills
    // SAFETY: wait4 returned the child, so it filled the struct (zeroed before anyway).
    let usage = unsafe { usage.assume_init() };
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!("{program} exited with wait status {status}").into());
    }
    // Linux reports ru_maxrss in KiB.
    let rss = u64::try_from(usage.ru_maxrss)?.saturating_mul(KIB);
    println!("{rss} {hwm} {}", wall.as_nanos());
    Ok(())
}

/// Remove a file or a directory tree if it exists.
pub fn remove(path: &Path) -> Res<()> {
    let r = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    r.map_err(|e| format!("cannot remove {}: {e}", path.display()).into())
}

/// Device id of the filesystem holding `path`.
pub fn device(path: &Path) -> Res<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(path)?.dev())
}

/// (free, total) bytes of the filesystem holding `path`.
pub fn df(path: &Path) -> Res<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a valid C string and `st` is writable memory of the right type.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: statvfs succeeded.
    let st = unsafe { st.assume_init() };
    Ok((st.f_bavail.saturating_mul(st.f_frsize), st.f_blocks.saturating_mul(st.f_frsize)))
}

/// The mount point and filesystem type holding `path`, from /proc/self/mounts.
pub fn mount_of(path: &Path) -> String {
    let Ok(canon) = std::fs::canonicalize(path) else { return "?".into() };
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else { return "?".into() };
    let mut best: Option<(PathBuf, String)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let mp = PathBuf::from(f[1]);
        if canon.starts_with(&mp) && best.as_ref().is_none_or(|(b, _)| mp.as_os_str().len() >= b.as_os_str().len()) {
            best = Some((mp, format!("{} ({} on {})", f[1], f[2], f[0])));
        }
    }
    best.map(|(_, s)| s).unwrap_or_else(|| "?".into())
}
