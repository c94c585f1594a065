//! Issue 4: cloning A → B on loopback through real `librarian serve` processes and
//! `librarian tasks run` rounds (the local manager).
//!
//! 1. About 2 GiB (24 × 64 MiB files and a book of 10,000 × 48 KiB files) against the
//!    unavoidable work: `cp -r` of the same source tree, `sync`, `b3sum` of the copy.
//! 2. 1,000 separate files of 4 KiB: time to the last acknowledged callback.
//! 3. Planning (`Catalog::plan_outgoing`) in a catalog of 1,000,000 files of which
//!    100,000 lack a copy at the peer.
//!
//! Site A is set up (and its data ingested) once per scenario and serves for all its
//! runs. Every run clones to a new site B, named `site-bN`, which A learns as a new
//! peer; `[clone.to.site-bN]` in A's configuration names only that peer.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use librarian_core::PlanFilter;
use librarian_core::{FileName, Librarian, NoProgress, Password, UploadOptions};

use crate::memory::librarian_bin;
use crate::util::{self, Cache, KIB, Res, human_bytes, median, prepare, rate, remove, secs, sync_all, time};
use crate::{Ctx, Row, fresh_dir};

/// The tasks, all disabled on schedule: only the bench's `tasks run` rounds move anything.
const TASKS: [&str; 5] = ["cleanup-staging", "receive-clones", "send-clones", "deliver-outbox", "reconcile-transfers"];
/// Password of A's account at B.
const A_AT_B: &str = "bench-a-at-b-clone-secret";
/// Password of B's account at A.
const B_AT_A: &str = "bench-b-at-a-clone-secret";
pub(crate) const MAX_ROUNDS: usize = 10;
/// Size of each file of the book of scenario 1.
const BOOK_ENTRY: usize = 48 * KIB as usize;
/// Size of each file of scenario 2.
const SMALL: usize = 4 * KIB as usize;
const PER_DIR: usize = 100;
/// What the existing Python Librarian needs per file (issue 4).
const PYTHON_SECS_PER_FILE: f64 = 0.147;

/// Run every part of the clone bench that `--clone-parts` selects.
pub fn clone(ctx: &mut Ctx) -> Res<()> {
    let parts = ctx.clone_parts.clone();
    let mut failed = Vec::new();
    if parts.iter().any(|p| p == "big" || p == "small") {
        let bin = librarian_bin(ctx)?;
        // The small files first: deleting the gigabytes of the big part can leave the
        // disk busy (ext4 is mounted with `discard`), which slows the fsyncs that
        // dominate the small part.
        if parts.iter().any(|p| p == "small")
            && let Err(e) = small(ctx, &bin)
        {
            println!("!! clone (small) failed: {e}");
            failed.push("small");
        }
        if parts.iter().any(|p| p == "big")
            && let Err(e) = big(ctx, &bin)
        {
            println!("!! clone (big) failed: {e}");
            failed.push("big");
        }
    }
    if parts.iter().any(|p| p == "plan")
        && let Err(e) = plan(ctx)
    {
        println!("!! clone (plan) failed: {e}");
        failed.push("plan");
    }
    if failed.is_empty() { Ok(()) } else { Err(format!("clone parts failed: {}", failed.join(", ")).into()) }
}

// ---------------------------------------------------------------------------------
// Processes

/// `librarian --config CONFIG` with an environment that cannot leak another site in.
pub(crate) fn librarian(bin: &Path, config: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env_remove("LIBRARIAN_CONFIG").env_remove("LIBRARIAN_LOG").stdin(Stdio::null()).arg("--config").arg(config);
    c
}

/// Run `librarian --config CONFIG --json ARGS`; its stdout, or an error with its output.
pub(crate) fn cli<S: AsRef<OsStr>>(bin: &Path, config: &Path, args: &[S]) -> Res<String> {
    let out = librarian(bin, config).arg("--json").args(args).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let argv: Vec<String> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
        return Err(format!(
            "librarian {} failed ({}): {} {}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            stdout.trim()
        )
        .into());
    }
    Ok(stdout)
}

/// A `librarian serve --listen 127.0.0.1:0` child; stopped (SIGTERM, then SIGKILL
/// after 5 s) when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
    /// Kept open so that a later write to stdout does not fail.
    pub(crate) _stdout: BufReader<ChildStdout>,
}

impl Server {
    fn start(bin: &Path, config: &Path, log: &Path) -> Res<Server> {
        let mut child = librarian(bin, config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(File::create(log)?)
            .spawn()?;
        let mut stdout = match child.stdout.take() {
            Some(s) => BufReader::new(s),
            None => {
                stop(&mut child);
                return Err("librarian serve has no stdout".into());
            }
        };
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        match (read, line.trim().strip_prefix("listening on ")) {
            (Ok(_), Some(addr)) => {
                let url = format!("http://{addr}");
                Ok(Server { child, url, _stdout: stdout })
            }
            (r, _) => {
                stop(&mut child);
                let log = std::fs::read_to_string(log).unwrap_or_default();
                Err(format!("librarian serve did not start ({r:?}, first line {line:?}): {}", log.trim()).into())
            }
        }
    }
}

/// Stop our own child `child` (by its pid): SIGTERM, then SIGKILL after 5 s.
fn stop(child: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a pid of our own unreaped child and a valid signal.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// One task of a `tasks run --json` answer: name, seconds it ran, message.
#[derive(Debug, Clone)]
pub(crate) struct TaskTime {
    pub(crate) task: String,
    pub(crate) secs: f64,
    pub(crate) message: String,
}

/// The value of `"key": "value"` on one line of pretty-printed JSON.
fn json_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.trim().strip_prefix('"')?.strip_prefix(key)?.strip_prefix("\": \"")?;
    let rest = rest.strip_suffix(',').unwrap_or(rest);
    rest.strip_suffix('"')
}

/// `librarian tasks run --only T...` at `config`: wall seconds of the process and what
/// each task reported. A task that failed is an error.
pub(crate) fn tasks_run(bin: &Path, config: &Path, tasks: &[&str]) -> Res<(f64, Vec<TaskTime>)> {
    let mut args = vec!["tasks", "run"];
    for t in tasks {
        args.extend(["--only", t]);
    }
    let (d, out) = time(|| cli(bin, config, &args))?;
    let mut found = Vec::new();
    let (mut task, mut status, mut message, mut started) = (None, None, String::new(), None);
    for line in out.lines() {
        if let Some(v) = json_field(line, "task") {
            task = Some(v.to_owned());
        } else if let Some(v) = json_field(line, "status") {
            status = Some(v.to_owned());
        } else if let Some(v) = json_field(line, "message") {
            v.clone_into(&mut message);
        } else if let Some(v) = json_field(line, "started_at") {
            started = Some(v.parse::<Timestamp>()?);
        } else if let Some(v) = json_field(line, "finished_at") {
            let end = v.parse::<Timestamp>()?;
            let name = task.take().unwrap_or_default();
            if status.as_deref() != Some("ok") {
                return Err(format!("task {name} at {}: {status:?}: {message}", config.display()).into());
            }
            let begin = started.take().ok_or("finished_at without started_at")?;
            let secs = end.duration_since(begin).as_secs_f64();
            found.push(TaskTime { task: name, secs, message: std::mem::take(&mut message) });
        }
    }
    if found.len() != tasks.len() {
        return Err(format!("tasks run answered {} tasks of {}: {out}", found.len(), tasks.len()).into());
    }
    Ok((secs(d), found))
}

// ---------------------------------------------------------------------------------
// Sites

pub(crate) fn append(config: &Path, text: &str) -> Res<()> {
    let old = std::fs::read_to_string(config)?;
    std::fs::write(config, format!("{old}\n{text}\n"))?;
    Ok(())
}

pub(crate) fn disabled_tasks() -> String {
    TASKS.iter().map(|t| format!("[tasks.{t}]\nenabled = false\n")).collect()
}

/// Site A: its data ingested, serving, with its configuration before any `[clone.to]`.
pub(crate) struct Sender {
    pub(crate) config: PathBuf,
    pub(crate) base_config: String,
    pub(crate) data: PathBuf,
    pub(crate) server: Server,
    pub(crate) files: u64,
    pub(crate) bytes: u64,
    pub(crate) next_peer: usize,
}

/// Create site A in `dir/site-a`, configure it as a sender, ingest with `ingest`
/// (in process), and serve it.
pub(crate) fn sender(bin: &Path, dir: &Path, ingest: impl FnOnce(&Librarian) -> Res<()>) -> Res<Sender> {
    let config = Librarian::init(&dir.join("site-a"), "site-a")?.config_path().to_owned();
    append(&config, &format!("{}[clone]\nmanagers = [\"local\"]\nbatch_files = 1000\n", disabled_tasks()))?;
    let base_config = std::fs::read_to_string(&config)?;
    let lib = Librarian::open(&config)?;
    ingest(&lib)?;
    let st = lib.status()?;
    let data = st.stores.iter().find(|s| s.name == "main").ok_or("site A has no store main")?.root.clone();
    drop(lib);
    let server = Server::start(bin, &config, &dir.join("serve-a.log"))?;
    Ok(Sender { config, base_config, data, server, files: st.files, bytes: st.bytes, next_peer: 1 })
}

/// What one clone run took.
#[derive(Debug, Default)]
pub(crate) struct CloneRun {
    /// From the start of the first `tasks run` to the end of the last one (the
    /// convergence checks between rounds are not counted).
    pub(crate) secs: f64,
    pub(crate) rounds: usize,
    /// Seconds per "A task" / "B task", summed over rounds.
    pub(crate) tasks: Vec<(String, f64)>,
    /// Messages of the first round.
    pub(crate) messages: Vec<String>,
    /// Cache flushes the disk completed during the rounds (whole machine), if known.
    pub(crate) flushes: Option<u64>,
}

impl CloneRun {
    pub(crate) fn add(&mut self, site: &str, round: usize, tasks: &[TaskTime]) {
        for t in tasks {
            let key = format!("{site} {}", t.task);
            match self.tasks.iter_mut().find(|(k, _)| *k == key) {
                Some((_, s)) => *s += t.secs,
                None => self.tasks.push((key, t.secs)),
            }
            if round == 1 {
                self.messages.push(format!("{site} {}: {}", t.task, t.message));
            }
        }
    }

    /// Seconds outside the tasks themselves: process start, opening the site, leases.
    fn overhead(&self) -> f64 {
        self.secs - self.tasks.iter().map(|(_, s)| s).sum::<f64>()
    }

    pub(crate) fn breakdown(&self) -> String {
        let mut parts: Vec<String> = self.tasks.iter().map(|(k, s)| format!("{k} {s:.3}")).collect();
        parts.push(format!("processes {:.3}", self.overhead()));
        let mut text = parts.join(", ");
        if let Some(f) = self.flushes {
            text.push_str(&format!("; {f} disk flushes"));
        }
        text
    }
}

/// Whether B holds everything of A and A has recorded it, with no calls queued.
pub(crate) fn converged(a: &Librarian, b: &Librarian, peer: &str, files: u64, bytes: u64) -> Res<bool> {
    let backlog = a.peer_backlog(peer)?;
    let a_calls = a.catalog().outbox_peers()?.iter().filter(|q| q.peer == peer).map(|q| q.calls).sum::<u64>();
    let b_calls = b.catalog().outbox_peers()?.iter().map(|q| q.calls).sum::<u64>();
    let st = b.status()?;
    let done = backlog.files_without_copy == 0 && backlog.active_transfers == 0 && a_calls == 0 && b_calls == 0;
    if done && (st.files != files || st.bytes != bytes) {
        return Err(
            format!("B holds {} files, {} bytes; A has {files} files, {bytes} bytes", st.files, st.bytes).into()
        );
    }
    Ok(done)
}

/// A new site B in `run_dir/site-b` (named `site-bN`), its configuration ending with
/// `extra`: its peer name and configuration file.
pub(crate) fn new_receiver(a: &mut Sender, run_dir: &Path, extra: &str) -> Res<(String, PathBuf)> {
    let peer = format!("site-b{}", a.next_peer);
    a.next_peer += 1;
    let b_config = Librarian::init(&run_dir.join("site-b"), &peer)?.config_path().to_owned();
    append(&b_config, extra)?;
    Ok((peer, b_config))
}

/// Serve B and make A and B peers of each other (accounts and passwords both ways).
pub(crate) fn link(bin: &Path, a: &Sender, b_config: &Path, peer: &str, run_dir: &Path) -> Res<Server> {
    let served_b = Server::start(bin, b_config, &run_dir.join("serve-b.log"))?;
    let pw_a = run_dir.join("a-at-b.pw");
    let pw_b = run_dir.join("b-at-a.pw");
    for (path, secret) in [(&pw_a, A_AT_B), (&pw_b, B_AT_A)] {
        std::fs::write(path, format!("{secret}\n"))?;
        // librarian refuses a password file that others may read.
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    }
    let (pw_a, pw_b) = (pw_a.to_string_lossy().into_owned(), pw_b.to_string_lossy().into_owned());
    let url_a = a.server.url.clone();
    cli(bin, b_config, &["peer", "add", "site-a", "--url", &url_a, "--account", peer, "--password-file", &pw_b])?;
    cli(
        bin,
        b_config,
        &["account", "add", "site-a", "--level", "read-append", "--for-peer", "site-a", "--password-file", &pw_a],
    )?;
    cli(
        bin,
        &a.config,
        &["peer", "add", peer, "--url", &served_b.url, "--account", "site-a", "--password-file", &pw_a],
    )?;
    cli(
        bin,
        &a.config,
        &["account", "add", peer, "--level", "callback", "--for-peer", peer, "--password-file", &pw_b],
    )?;
    Ok(served_b)
}

/// Make a new site B in `run_dir/site-b`, pair it with A, and clone A → B in rounds
/// of `tasks run` until everything is committed at B and acknowledged at A.
pub(crate) fn clone_run(bin: &Path, a: &mut Sender, run_dir: &Path, cache: Cache) -> Res<CloneRun> {
    let (peer, b_config) = new_receiver(a, run_dir, &disabled_tasks())?;
    // Kept until the end: B serves its callbacks' answers for the whole run.
    let _served_b = link(bin, a, &b_config, &peer, run_dir)?;
    let root = format!("destination_root = {:?}", run_dir.display().to_string());
    std::fs::write(&a.config, format!("{}\n[clone.to.{peer}]\n{root}\n", a.base_config))?;
    let lib_a = Librarian::open(&a.config)?;
    let lib_b = Librarian::open(&b_config)?;
    prepare(cache, &[&a.data])?;
    let mut run = CloneRun::default();
    let flushes = disk_flushes(&a.data);
    for round in 1..=MAX_ROUNDS {
        let (wa, ta) = tasks_run(bin, &a.config, &["send-clones", "deliver-outbox"])?;
        let (wb, tb) = tasks_run(bin, &b_config, &["receive-clones", "deliver-outbox"])?;
        run.secs += wa + wb;
        run.rounds = round;
        run.add("A", round, &ta);
        run.add("B", round, &tb);
        if converged(&lib_a, &lib_b, &peer, a.files, a.bytes)? {
            run.flushes = flushes.zip(disk_flushes(&a.data)).map(|(before, after)| after.saturating_sub(before));
            return Ok(run);
        }
    }
    let backlog = lib_a.peer_backlog(&peer)?;
    Err(format!(
        "no convergence after {MAX_ROUNDS} rounds: {backlog:?}; B holds {} files; first round: {}",
        lib_b.status()?.files,
        run.messages.join("; ")
    )
    .into())
}

/// Flush (cache flush) requests completed so far by the disk holding `path`, from
/// `/proc/diskstats` (field 16, Linux 5.5+). Counts every process on the machine.
fn disk_flushes(path: &Path) -> Option<u64> {
    let mount = util::mount_of(path);
    let dev = mount.rsplit_once(" on /dev/")?.1.trim_end_matches(')').to_owned();
    let stats = std::fs::read_to_string("/proc/diskstats").ok()?;
    let line = stats.lines().find(|l| l.split_whitespace().nth(2) == Some(dev.as_str()))?;
    line.split_whitespace().nth(18)?.parse().ok()
}

/// Remove every file of at least 1 MiB under `dir`, so that the next run writes into
/// recycled page-cache memory (pitfall 1) without deleting many inodes at once
/// (pitfall 2): the small files are kept until the end of the bench.
pub(crate) fn remove_large_files(dir: &Path) -> Res<()> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in rd {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            remove_large_files(&entry.path())?;
        } else if ft.is_file() && entry.metadata()?.len() >= util::MIB {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Every regular file under `dir`.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Res<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            files_under(&entry.path(), out)?;
        } else if ft.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// The unavoidable work: `cp -r SRC DST`, `sync`, `b3sum` of every file of the copy.
/// Seconds of each step.
pub(crate) fn baseline(src: &Path, dst: &Path, cache: Cache) -> Res<[f64; 3]> {
    prepare(cache, &[src])?;
    let (cp, ()) = time(|| util::run(Command::new("cp").arg("-r").arg(src).arg(dst)))?;
    let (sync, ()) = time(|| util::run(&mut Command::new("sync")))?;
    let (hash, ()) = time(|| {
        let mut files = Vec::new();
        files_under(dst, &mut files)?;
        for chunk in files.chunks(2000) {
            util::run(Command::new("b3sum").args(chunk))?;
        }
        Ok(())
    })?;
    Ok([secs(cp), secs(sync), secs(hash)])
}

// ---------------------------------------------------------------------------------
// 1. About 2 GiB

/// The source tree of scenario 1: `big/fNN.bin` and `book/dNNN/fNNN.dat`.
pub(crate) fn make_big_source(ctx: &Ctx, root: &Path) -> Res<u64> {
    std::fs::create_dir_all(root.join("big"))?;
    for i in 0..ctx.clone_files {
        util::make_file(&root.join(format!("big/f{i:02}.bin")), ctx.clone_file_size, 0xc10e + i as u64)?;
    }
    let book = root.join("book");
    let marker = root.join(format!("book-{}.complete", ctx.clone_book_files));
    if !marker.exists() {
        remove(&book)?;
        std::fs::create_dir_all(&book)?;
        let mut rng = util::Rng::new(0xb00c2);
        let mut buf = vec![0u8; BOOK_ENTRY];
        for i in 0..ctx.clone_book_files {
            let dir = book.join(format!("d{:03}", i / PER_DIR));
            if i % PER_DIR == 0 {
                std::fs::create_dir(&dir)?;
            }
            rng.fill(&mut buf);
            std::fs::write(dir.join(format!("f{:03}.dat", i % PER_DIR)), &buf)?;
        }
        sync_all();
        std::fs::write(marker, b"")?;
    }
    Ok(ctx.clone_files as u64 * ctx.clone_file_size + (ctx.clone_book_files * BOOK_ENTRY) as u64)
}

/// Site A in `base` holding the ~2 GiB mix of scenario 1, serving: a description of
/// the data, its bytes, the time the ingest took, and A.
pub(crate) fn big_sender(ctx: &Ctx, bin: &Path, base: &Path) -> Res<(String, u64, Duration, Sender)> {
    let src = ctx.dir.join("src-clone");
    let bytes = make_big_source(ctx, &src)?;
    let what = format!(
        "{} x {} + a book of {} x 48 KiB = {}",
        ctx.clone_files,
        human_bytes(ctx.clone_file_size),
        ctx.clone_book_files,
        gib(bytes)
    );
    let (d, a) = time(|| {
        sender(bin, base, |lib| {
            let opts = UploadOptions::default();
            for i in 0..ctx.clone_files {
                let name = FileName::new(&format!("clone/big/f{i:02}.bin"))?;
                lib.upload(&src.join(format!("big/f{i:02}.bin")), &name, &opts, &NoProgress)?;
            }
            lib.upload(&src.join("book"), &FileName::new("clone/book")?, &opts, &NoProgress)?;
            Ok(())
        })
    })?;
    if a.bytes != bytes {
        return Err(format!("site A holds {} bytes, expected {bytes}", a.bytes).into());
    }
    Ok((what, bytes, d, a))
}

/// (1) Clone of ~2 GiB vs `cp -r` + `sync` + `b3sum`; target ≤ 1.5×.
fn big(ctx: &mut Ctx, bin: &Path) -> Res<()> {
    let base = fresh_dir(ctx, "clone-big")?;
    let (what, bytes, d, mut a) = big_sender(ctx, bin, &base)?;
    let src = ctx.dir.join("src-clone");
    let outs = base.join("runs");
    std::fs::create_dir_all(&outs)?;
    // At most 3 runs per cache state: each moves 4 GiB and takes 10-20 s.
    let runs = ctx.runs.min(3);
    let mut counter = 0usize;
    for cache in ctx.caches.clone() {
        ctx.header(&format!("(issue 4) clone A -> B of {what}, local manager [{}]", cache.label()), Some(cache));
        if counter == 0 {
            println!(
                "   site A: {} files ingested in process in {:.1} s; serving at {}",
                a.files,
                secs(d),
                a.server.url
            );
        }
        println!("   librarian: rounds of `tasks run --only send-clones --only deliver-outbox` at A, then");
        println!("              `tasks run --only receive-clones --only deliver-outbox` at B (both sites serving),");
        println!("              from the first tasks run until B committed everything and A recorded every copy");
        println!(
            "   baseline:  cp -r SRC DST && sync && b3sum (every file of DST): move the bytes once, hash them once"
        );
        let mut ours = Vec::new();
        let mut base_t = Vec::new();
        let mut base_nosync = Vec::new();
        for r in 0..runs {
            counter += 1;
            let run_dir = outs.join(format!("run{counter}"));
            std::fs::create_dir_all(&run_dir)?;
            let mut line = [String::new(), String::new()];
            for k in 0..2 {
                if (r + k) % 2 == 0 {
                    let run = clone_run(bin, &mut a, &run_dir, cache)?;
                    line[0] = format!(
                        "clone {:.3} s = {} ({} round{}: {})",
                        run.secs,
                        rate(bytes, run.secs),
                        run.rounds,
                        if run.rounds == 1 { "" } else { "s" },
                        run.breakdown()
                    );
                    if r == 0 {
                        println!("   first run: {}", run.messages.join("; "));
                    }
                    ours.push(run.secs);
                    remove_large_files(&run_dir.join("site-b"))?;
                } else {
                    let [cp, sync, hash] = baseline(&src, &run_dir.join("copy"), cache)?;
                    let total = cp + sync + hash;
                    line[1] = format!("cp -r {cp:.3} + sync {sync:.3} + b3sum {hash:.3} = {total:.3} s");
                    base_t.push(total);
                    base_nosync.push(cp + hash);
                    remove_large_files(&run_dir.join("copy"))?;
                }
                sync_all();
            }
            println!("   run {}: {} | {}   [load {}]", r + 1, line[0], line[1], util::loadavg());
        }
        let (o, b) = (median(&ours), median(&base_t));
        let ratio = o / b;
        println!(
            "   median: clone {o:.3} s ({}), cp -r+sync+b3sum {b:.3} s ({}); ratio {ratio:.2} (target <= 1.50) {}",
            rate(bytes, o),
            rate(bytes, b),
            if ratio <= 1.5 { "PASS" } else { "FAIL" }
        );
        println!(
            "   (without the sync, cp -r + b3sum: median {:.3} s, ratio {:.2})",
            median(&base_nosync),
            o / median(&base_nosync)
        );
        ctx.row(Row {
            id: "clone",
            what: format!("clone A->B {} [{}]", gib(bytes), cache.label()),
            value: format!("{o:.3} s ({})", rate(bytes, o)),
            baseline: format!("cp -r+sync+b3sum {b:.3} s"),
            ratio: format!("{ratio:.2}x"),
            target: "<= 1.50x".into(),
            pass: Some(ratio <= 1.5),
        });
    }
    drop(a);
    remove(&base)?;
    sync_all();
    Ok(())
}

pub(crate) fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / util::GIB as f64)
}

// ---------------------------------------------------------------------------------
// 2. Many small files

/// (2) Clone of 1,000 separate 4 KiB files; target ≤ 10 s.
fn small(ctx: &mut Ctx, bin: &Path) -> Res<()> {
    let n = ctx.clone_small_files;
    let base = fresh_dir(ctx, "clone-small")?;
    let src = ctx.dir.join("src-clone-small");
    std::fs::create_dir_all(&src)?;
    let mut rng = util::Rng::new(0x5a11c);
    let mut buf = vec![0u8; SMALL];
    let mut sources = Vec::with_capacity(n);
    for i in 0..n {
        let p = src.join(format!("s{i:05}.dat"));
        rng.fill(&mut buf);
        std::fs::write(&p, &buf)?;
        sources.push((p, FileName::new(&format!("small/s{i:05}.dat"))?));
    }
    sync_all();
    let (d, mut a) = time(|| {
        sender(bin, &base, |lib| {
            for (p, name) in &sources {
                lib.upload(p, name, &UploadOptions::default(), &NoProgress)?;
            }
            Ok(())
        })
    })?;
    ctx.header(&format!("(issue 4) clone A -> B of {n} separate files of 4 KiB, local manager"), Some(Cache::Warm));
    println!("   site A: {} files ingested in process in {:.1} s (separate uploads)", a.files, secs(d));
    println!("   time from the first tasks run until B committed all and A recorded every copy");
    let mut times = Vec::new();
    for r in 0..ctx.runs {
        let run_dir = base.join(format!("run{}", r + 1));
        std::fs::create_dir_all(&run_dir)?;
        let run = clone_run(bin, &mut a, &run_dir, Cache::Warm)?;
        if r == 0 {
            println!("   first run: {}", run.messages.join("; "));
        }
        println!(
            "   run {}: {:.3} s = {:.0} files/s ({} round{}: {}{})   [load {}]",
            r + 1,
            run.secs,
            n as f64 / run.secs,
            run.rounds,
            if run.rounds == 1 { "" } else { "s" },
            run.breakdown(),
            run.flushes.map(|f| format!(" = {:.1} per file", f as f64 / n as f64)).unwrap_or_default(),
            util::loadavg()
        );
        times.push(run.secs);
    }
    let m = median(&times);
    let python = n as f64 * PYTHON_SECS_PER_FILE;
    println!(
        "   median {m:.3} s = {:.0} files/s (target <= 10 s) {}; the Python Librarian: ~{python:.0} s ({:.0}x slower)",
        n as f64 / m,
        if m <= 10.0 { "PASS" } else { "FAIL" },
        python / m
    );
    ctx.row(Row {
        id: "clone-small",
        what: format!("clone A->B {n} x 4 KiB files [warm]"),
        value: format!("{m:.3} s ({:.0} files/s)", n as f64 / m),
        baseline: format!("Python ~{python:.0} s"),
        ratio: format!("{:.2}x of target", m / 10.0),
        target: "<= 10 s".into(),
        pass: Some(m <= 10.0),
    });
    drop(a);
    remove(&base)?;
    Ok(())
}

// ---------------------------------------------------------------------------------
// 3. Planning

/// The checksum of plan file `i` (fake but well-formed).
fn fake_checksum(rng: &mut util::Rng) -> String {
    let mut s = String::with_capacity(7 + 64);
    s.push_str("blake3:");
    for _ in 0..4 {
        s.push_str(&format!("{:016x}", rng.next_u64()));
    }
    s
}

/// Fill the catalog at `db` with `total` files, each with an available instance on
/// store `main`. Peer `site-b` has a remote instance of all but the newest 10 %
/// (a backlog of recent files); peer `site-c` of all but every tenth file.
fn build_plan_catalog(db: &Path, total: u64) -> Res<()> {
    let mut conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let store: i64 = conn.query_row("SELECT id FROM stores WHERE name = 'main'", [], |r| r.get(0))?;
    let now = Timestamp::now().as_microsecond();
    let missing = total / 10;
    let tx = conn.transaction()?;
    {
        let mut file = tx.prepare(
            "INSERT INTO files (id, name, size, checksum, kind, uploader, source, created_at)
             VALUES (?1, ?2, ?3, ?4, 'file', 'bench', 'site-a', ?5)",
        )?;
        let mut inst = tx.prepare(
            "INSERT INTO instances (file_id, store_id, path, available, deletion_policy, created_at)
             VALUES (?1, ?2, ?3, 1, 'disallowed', ?4)",
        )?;
        let mut remote = tx.prepare(
            "INSERT INTO remote_instances (file_id, librarian, store, copied_at) VALUES (?1, ?2, 'main', ?3)",
        )?;
        let mut rng = util::Rng::new(0x91a2);
        for i in 1..=total {
            let id = i64::try_from(i)?;
            let name = format!("plan/{:04}/f{i:07}.dat", i / 1000);
            let created = now - i64::try_from(total - i)?;
            file.execute(rusqlite::params![id, name, 1 << 20, fake_checksum(&mut rng), created])?;
            inst.execute(rusqlite::params![id, store, name, created])?;
            if i <= total - missing {
                remote.execute(rusqlite::params![id, "site-b", created])?;
            }
            if i % 10 != 0 {
                remote.execute(rusqlite::params![id, "site-c", created])?;
            }
        }
    }
    tx.commit()?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// (3) `Catalog::plan_outgoing` in a catalog of `plan_files` files, a tenth of them
/// without a copy at the peer: one batch (1,000) and the whole backlog; target ≤ 2 s.
fn plan(ctx: &mut Ctx) -> Res<()> {
    let total = ctx.plan_files;
    if total < 10_000 {
        return Err("--plan-files must be at least 10000".into());
    }
    let missing = total / 10;
    let site = fresh_dir(ctx, "plan-site")?;
    ctx.header(&format!("(issue 4) planning: Catalog::plan_outgoing, {total} files, {missing} without a copy"), None);
    let config = Librarian::init(&site, "site-a")?.config_path().to_owned();
    let db = site.join("librarian.db");
    let (d, ()) = time(|| build_plan_catalog(&db, total))?;
    println!(
        "   built with rusqlite (files, an available instance each, remote instances): {:.1} s, database {}",
        secs(d),
        human_bytes(std::fs::metadata(&db)?.len())
    );
    {
        let lib = Librarian::open(&config)?;
        let pw = Password::new("unused-bench-password".into())?;
        lib.add_peer("site-b", "http://127.0.0.1:9", "site-a", &pw)?;
        lib.add_peer("site-c", "http://127.0.0.1:9", "site-a", &pw)?;
    }
    let layouts = [("site-b", "the newest 10 % lack a copy"), ("site-c", "every tenth file lacks a copy")];
    let runs = ctx.runs;
    for cache in ctx.caches.clone() {
        println!("   [{}] {}", cache.label(), cache.describe());
        for (peer, layout) in layouts {
            let mut one = Vec::new();
            let mut all = Vec::new();
            for _ in 0..runs {
                for (max, out) in [(1000usize, &mut one), (usize::try_from(missing)?, &mut all)] {
                    if cache == Cache::Cold {
                        util::drop_caches()?;
                    }
                    let lib = Librarian::open(&config)?;
                    let (d, items) =
                        time(|| Ok(lib.catalog().plan_outgoing(peer, &PlanFilter::default(), max, u64::MAX)?))?;
                    if items.len() != max {
                        return Err(format!("plan for {peer} returned {} files, expected {max}", items.len()).into());
                    }
                    out.push(secs(d));
                }
            }
            let (o, a) = (median(&one), median(&all));
            println!(
                "   {peer} ({layout}): one batch of 1,000: median {o:.3} s (runs {}) {}; all {missing}: median {a:.3} s {}; \
",
                one.iter().map(|s| format!("{s:.3}")).collect::<Vec<_>>().join(" "),
                if o <= 2.0 { "PASS" } else { "FAIL" },
                if a <= 2.0 { "PASS" } else { "FAIL" },
            );
            for (what, m) in [("1,000", o), ("all", a)] {
                ctx.row(Row {
                    id: "plan",
                    what: format!("plan {what} of {missing} missing in {total}, {layout} [{}]", cache.label()),
                    value: format!("{m:.3} s"),
                    baseline: String::new(),
                    ratio: format!("{:.2}x of target", m / 2.0),
                    target: "<= 2 s".into(),
                    pass: Some(m <= 2.0),
                });
            }
        }
    }
    remove(&site)?;
    backlog_growth(ctx)?;
    Ok(())
}

/// `Librarian::peer_backlog` (what `librarian status` shows per peer) on small
/// catalogs of the same layout: its time grows with the square of the catalog.
fn backlog_growth(ctx: &mut Ctx) -> Res<()> {
    let mut line = Vec::new();
    let mut times = Vec::new();
    for n in [5_000u64, 10_000] {
        let site = fresh_dir(ctx, "backlog-site")?;
        let config = Librarian::init(&site, "site-a")?.config_path().to_owned();
        build_plan_catalog(&site.join("librarian.db"), n)?;
        let lib = Librarian::open(&config)?;
        lib.add_peer("site-b", "http://127.0.0.1:9", "site-a", &Password::new("unused-bench-password".into())?)?;
        let (d, b) = time(|| Ok(lib.peer_backlog("site-b")?))?;
        if b.files_without_copy != n / 10 {
            return Err(format!("backlog of site-b: {b:?}, expected {} files", n / 10).into());
        }
        line.push(format!("{n} files {:.3} s", secs(d)));
        times.push(secs(d));
        drop(lib);
        remove(&site)?;
    }
    let growth = times[1] / times[0];
    println!(
        "   peer_backlog (librarian status, per peer), same layout: {}; x{growth:.1} for twice the files",
        line.join(", ")
    );
    ctx.row(Row {
        id: "plan",
        what: "peer_backlog (status) at 5,000 / 10,000 files [warm]".into(),
        value: format!("{:.3} s / {:.3} s", times[0], times[1]),
        baseline: String::new(),
        ratio: format!("x{growth:.1} for 2x files"),
        target: String::new(),
        pass: None,
    });
    Ok(())
}
