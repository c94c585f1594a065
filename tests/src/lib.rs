//! Helpers for the end-to-end tests: find the `librarian` binary built by this
//! workspace, make sites in temporary directories, run real `librarian` processes
//! against them, and check that a site's catalog and its stores agree.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod fake_peer;
pub mod globus;
pub mod pair;
pub mod postgres;
pub mod receiver;
mod server;
pub mod sql;

pub use server::{Server, free_loopback_addr};

/// Longest any single `librarian` command may take in these tests before it counts as
/// hung (a generous bound for a loaded 2-core machine, not a performance check).
pub const HANG_LIMIT: Duration = Duration::from_secs(120);

/// The `librarian` binary: `$LIBRARIAN_BIN`, else `<target dir>/<profile>/librarian`
/// next to this test executable. Panics with a hint when it has not been built.
pub fn librarian_bin() -> PathBuf {
    let path = match std::env::var_os("LIBRARIAN_BIN") {
        Some(p) => PathBuf::from(p),
        None => {
            // Test executables live in <target>/<profile>/deps/.
            let exe = std::env::current_exe().unwrap_or_default();
            let profile_dir = exe.parent().and_then(Path::parent).map(Path::to_owned).unwrap_or_default();
            profile_dir.join("librarian")
        }
    };
    assert!(
        path.is_file(),
        "the librarian binary is missing at {}: run `cargo build -p librarian-cli` first (or set LIBRARIAN_BIN)",
        path.display()
    );
    path
}

/// A `Command` for `librarian` with `--config` pointing at `config`, and an
/// environment that cannot leak another site's configuration in.
pub fn librarian(config: &Path) -> Command {
    let mut c = bare_librarian();
    c.arg("--config").arg(config);
    c
}

/// A `Command` for `librarian` with no `--config`.
pub fn bare_librarian() -> Command {
    let mut c = Command::new(librarian_bin());
    c.env_remove("LIBRARIAN_CONFIG").env_remove("LIBRARIAN_LOG").env("USER", "e2e").stdin(Stdio::null());
    c
}

/// Run and capture.
pub fn run(cmd: &mut Command) -> Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {cmd:?}: {e}"),
    }
}

/// The captured result of one `librarian` run.
#[derive(Debug)]
pub struct Outcome {
    /// What was run (for messages).
    pub what: String,
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Outcome {
    fn from_output(what: String, o: Output) -> Self {
        Outcome {
            what,
            status: o.status,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// The exit code (`None` when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panic unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), Some(code), "{self}");
        self
    }

    /// Panic unless the command succeeded.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.expect_code(0)
    }

    /// Panic unless `tasks run` made all its progress (exit 0) or was held up by a
    /// peer that does not answer (exit 3, a task "degraded"): never a failure.
    #[track_caller]
    pub fn ok_or_degraded(&self) -> &Self {
        assert!(matches!(self.code(), Some(0 | 3)), "{self}");
        self
    }

    /// Standard output parsed as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        match serde_json::from_str(&self.stdout) {
            Ok(v) => v,
            Err(e) => panic!("stdout is not one JSON document ({e}): {self}"),
        }
    }

    /// The `error.code` of a `--json` error document.
    #[track_caller]
    pub fn error_code(&self) -> String {
        let v = self.json();
        match v["error"]["code"].as_str() {
            Some(c) => c.to_owned(),
            None => panic!("no error.code in the JSON output: {self}"),
        }
    }

    /// The `error.message` of a `--json` error document.
    #[track_caller]
    pub fn error_message(&self) -> String {
        let v = self.json();
        match v["error"]["message"].as_str() {
            Some(c) => c.to_owned(),
            None => panic!("no error.message in the JSON output: {self}"),
        }
    }

    /// Panic unless this is a `--json` failure with exit code `exit` and error code `code`;
    /// returns the error message.
    #[track_caller]
    pub fn expect_error(&self, exit: i32, code: &str) -> String {
        self.expect_code(exit);
        assert_eq!(self.error_code(), code, "{self}");
        assert!(self.stderr.contains("error"), "no diagnostic on stderr: {self}");
        self.error_message()
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            self.what, self.status, self.stdout, self.stderr
        )
    }
}

/// Run `cmd` to completion, failing the test if it takes longer than [`HANG_LIMIT`]
/// (the child is killed first, so a hung `librarian` cannot hang the suite).
pub fn run_outcome(cmd: &mut Command) -> Outcome {
    let what = describe(cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    wait_outcome(child, what)
}

/// Wait for a child started with piped stdout/stderr, with the [`HANG_LIMIT`] guard.
pub fn wait_outcome(mut child: Child, what: String) -> Outcome {
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let t_out = std::thread::spawn(move || read_all(out.as_mut()));
    let t_err = std::thread::spawn(move || read_all(err.as_mut()));
    let deadline = Instant::now() + HANG_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {HANG_LIMIT:?}; killed it");
            }
            Err(e) => panic!("cannot wait for {what}: {e}"),
        }
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    Outcome::from_output(what, Output { status, stdout, stderr })
}

fn read_all<R: std::io::Read>(r: Option<&mut R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(r) = r {
        let _ = r.read_to_end(&mut buf);
    }
    buf
}

/// `librarian a b c` for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = String::from("librarian");
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// One site in a temporary directory: `<tmp>/site/librarian.toml` with its default
/// store `main`, and `<tmp>/src/` for sources (same filesystem, so `--move` works).
#[derive(Debug)]
pub struct Site {
    tmp: tempfile::TempDir,
    config: PathBuf,
}

impl Site {
    /// `librarian init <tmp>/site --name e2e`.
    pub fn new() -> Site {
        Self::named("e2e")
    }

    /// A site with the given site name.
    pub fn named(name: &str) -> Site {
        Self::create(name, &std::env::temp_dir())
    }

    /// A site in [`fast_tmp`]: for tests that run hundreds of uploads.
    pub fn fast() -> Site {
        Self::create("e2e", &fast_tmp())
    }

    fn create(name: &str, base: &Path) -> Site {
        let tmp = tempfile::Builder::new().prefix("librarian-e2e-").tempdir_in(base).expect("temporary directory");
        let dir = tmp.path().join("site");
        run_outcome(bare_librarian().arg("init").arg(&dir).arg("--name").arg(name)).ok();
        std::fs::create_dir(tmp.path().join("src")).expect("create src dir");
        let config = std::fs::canonicalize(dir.join("librarian.toml")).expect("config written by init");
        Site { tmp, config }
    }

    /// The temporary directory holding everything.
    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// The configuration file.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The site directory.
    pub fn dir(&self) -> PathBuf {
        self.config.parent().expect("config has a parent").to_owned()
    }

    /// The catalog database.
    pub fn db(&self) -> PathBuf {
        self.dir().join("librarian.db")
    }

    /// Data area of the default store.
    pub fn data(&self) -> PathBuf {
        self.dir().join("stores/main/data")
    }

    /// Staging area of the default store.
    pub fn staging(&self) -> PathBuf {
        self.dir().join("stores/main/staging")
    }

    /// Where test sources go: `<tmp>/src/<rel>`.
    pub fn src(&self, rel: &str) -> PathBuf {
        self.tmp.path().join("src").join(rel)
    }

    /// A `librarian --config <site>` command.
    pub fn cmd(&self) -> Command {
        librarian(&self.config)
    }

    /// Run `librarian --config <site> ARGS`.
    pub fn run<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_outcome(self.cmd().args(args))
    }

    /// Run `librarian --config <site> --json ARGS`.
    pub fn json<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_outcome(self.cmd().arg("--json").args(args))
    }

    /// `upload --json SRC NAME EXTRA...`.
    pub fn upload(&self, src: &Path, name: &str, extra: &[&str]) -> Outcome {
        run_outcome(self.cmd().arg("--json").arg("upload").arg(src).arg(name).args(extra))
    }

    /// Every catalogued file (`search --json` without filters).
    #[track_caller]
    pub fn files(&self) -> Vec<Value> {
        let out = self.json(["search", "--limit", "1000000"]);
        out.ok();
        match out.json() {
            Value::Array(a) => a,
            other => panic!("search --json did not return an array: {other}"),
        }
    }

    /// Check that catalog and stores agree (after any interrupted ingest was rolled back):
    /// every catalogued instance exists with the right kind (through `search --json` and
    /// `info --json`), every path in the data area belongs to a catalogued instance,
    /// `verify` exits 0, and the staging area is empty. Returns the files.
    #[track_caller]
    pub fn assert_consistent(&self) -> Vec<Value> {
        self.consistent(false)
    }

    /// [`Site::assert_consistent`] after a process was killed: the staging area may
    /// also hold empty unlocked directories, the trace of an ingest killed
    /// between creating its staging directory and locking it, which `cleanup`
    /// deliberately leaves alone for an hour (it cannot tell them from an ingest that
    /// is just starting).
    #[track_caller]
    pub fn assert_consistent_after_kill(&self) -> Vec<Value> {
        self.consistent(true)
    }

    /// Entries of the staging area, less (when `tolerate_unlocked`) empty directories.
    pub fn staging_leftovers(&self, tolerate_unlocked: bool) -> Vec<PathBuf> {
        list_dir(&self.staging())
            .into_iter()
            .filter(|p| !(tolerate_unlocked && p.is_dir() && list_dir(p).is_empty()))
            .collect()
    }

    #[track_caller]
    fn consistent(&self, tolerate_unlocked: bool) -> Vec<Value> {
        let files = self.files();
        let mut instance_paths = Vec::new();
        for f in &files {
            let name = f["name"].as_str().expect("file has a name");
            let info = self.json(["info", name]);
            info.ok();
            let info = info.json();
            assert_eq!(&info, f, "info --json and search --json disagree about {name}");
            let instances = f["instances"].as_array().expect("instances array");
            assert!(!instances.is_empty(), "{name} is catalogued without any instance");
            for i in instances {
                let path = PathBuf::from(i["path"].as_str().expect("instance path"));
                let meta = std::fs::symlink_metadata(&path)
                    .unwrap_or_else(|e| panic!("catalogued instance {} of {name} is missing: {e}", path.display()));
                let want_dir = f["kind"] == "directory";
                assert_eq!(meta.is_dir(), want_dir, "instance {} of {name} has the wrong kind", path.display());
                instance_paths.push(path);
            }
        }
        let stray = uncovered(&self.data(), &instance_paths);
        assert!(stray.is_empty(), "data area holds uncatalogued paths: {stray:?}");
        let v = self.json(["verify"]);
        v.ok();
        assert_eq!(v.json()["ok"], Value::Bool(true), "{v}");
        let left = self.staging_leftovers(tolerate_unlocked);
        assert!(left.is_empty(), "staging area is not empty: {left:?}");
        files
    }
}

impl Default for Site {
    fn default() -> Self {
        Self::new()
    }
}

/// A directory for tests that write a lot: `$LIBRARIAN_E2E_TMP`, else `/dev/shm` when
/// it is a writable directory (a tmpfs: a book upload's one `syncfs(2)` then does not
/// wait for whatever else the machine is writing to disk; process-kill crash safety does
/// not depend on the filesystem), else the usual temporary directory.
pub fn fast_tmp() -> PathBuf {
    if let Some(p) = std::env::var_os("LIBRARIAN_E2E_TMP") {
        return PathBuf::from(p);
    }
    let shm = Path::new("/dev/shm");
    if tempfile::tempdir_in(shm).is_ok() { shm.to_owned() } else { std::env::temp_dir() }
}

/// Every path below `root` (files, directories, anything), absolute, sorted.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("cannot list {}: {e}", dir.display()),
        };
        for item in rd {
            let item = item.expect("directory entry");
            let p = item.path();
            if item.file_type().expect("file type").is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The entries directly in `dir` (empty when `dir` does not exist).
pub fn list_dir(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd.map(|e| e.expect("directory entry").path()).collect();
            v.sort();
            v
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    }
}

/// Paths below `data` that belong to none of `owned`: a path belongs to an owned path
/// when it is that path, lies inside it (an entry of a book), or is a directory on the
/// way to it (the parents of a nested name).
pub fn uncovered(data: &Path, owned: &[PathBuf]) -> Vec<PathBuf> {
    walk(data)
        .into_iter()
        .filter(|p| !owned.iter().any(|o| p.starts_with(o) || (o.starts_with(p) && p.is_dir())))
        .collect()
}

/// `which PROGRAM`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

/// A small deterministic PRNG (SplitMix64): reproducible test data and kill points.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Fill `buf` with pseudo-random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Write `size` pseudo-random bytes (seeded by `seed`) to `path`, creating parents.
/// Cheap enough for hundreds of MiB in a debug build: one random MiB, then each further
/// MiB is that block with fresh random words every 4 KiB (so no two 4 KiB blocks repeat).
pub fn write_random(path: &Path, size: usize, seed: u64) {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent");
    }
    let mut rng = Rng::new(seed);
    let mut f = std::fs::File::create(path).expect("create file");
    let mut buf = vec![0u8; 1 << 20];
    rng.fill(&mut buf);
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len());
        f.write_all(&buf[..n]).expect("write");
        left -= n;
        for block in buf.chunks_mut(4096) {
            block[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        }
    }
}

/// Write `text` to `path`, creating parents.
pub fn write_text(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent");
    }
    std::fs::write(path, text).expect("write file");
}

/// Invert one byte of the file at `path` at `offset`.
pub fn flip_byte(path: &Path, offset: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(path).expect("open for flipping");
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset)).expect("seek");
    f.read_exact(&mut b).expect("read byte");
    b[0] = !b[0];
    f.seek(SeekFrom::Start(offset)).expect("seek");
    f.write_all(&b).expect("write byte");
    f.sync_all().expect("sync");
}

/// The one way a test gives up on (part of) a check because a tool, a privilege or a
/// timed event it needs is missing. With `CI` set (non-empty) it panics, so the
/// test fails: `.ci/run` installs `b3sum`, `rsync`, `xxhsum` and PostgreSQL and runs as root, so
/// nothing there may pass without checking. Otherwise (a developer's machine) it
/// prints `SKIPPED: …` (visible with `--nocapture` and in nextest's output) and the
/// caller returns or goes on without that check.
pub fn skip(what: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!(
            "{what}: not skipped because CI is set (.ci/run installs b3sum, rsync, xxhsum and postgresql and runs as root)"
        );
    }
    eprintln!("SKIPPED: {what}");
}

/// What the catalog database says, read directly (read-only, so nothing is recovered
/// or changed by looking).
#[derive(Debug, Default)]
pub struct RawCatalog {
    /// Absolute paths of every instance row.
    pub instances: Vec<PathBuf>,
    /// Absolute data-area paths claimed by `ingest_intents` rows.
    pub intents: Vec<PathBuf>,
}

/// Read the instance and intent rows of the catalog at `db` without opening the site
/// through librarian (which would roll dead ingests back).
pub fn raw_catalog(db: &Path) -> RawCatalog {
    let query = "SELECT 'I', s.root || '/' || i.path FROM instances i JOIN stores s ON s.id = i.store_id \
                 UNION ALL SELECT 'N', s.root || '/' || n.name FROM ingest_intents n JOIN stores s ON s.id = n.store_id";
    let mut raw = RawCatalog::default();
    for row in sql::rows(db, query) {
        match row.as_slice() {
            [kind, p] if kind == "I" => raw.instances.push(PathBuf::from(p)),
            [kind, p] if kind == "N" => raw.intents.push(PathBuf::from(p)),
            _ => panic!("unexpected row {row:?}"),
        }
    }
    raw
}

/// A tmpfs mounted for one test (needs root), unmounted when dropped.
#[derive(Debug)]
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    /// Mount a tmpfs with `options` (e.g. `size=4m`) at `dir`, creating it; `None`
    /// (after saying so with [`skip`]) when mounting is not permitted.
    pub fn mount(dir: &Path, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip(&format!("cannot mount a tmpfs at {} (not root?)", dir.display()));
            return None;
        }
        Some(Tmpfs(dir.to_owned()))
    }

    /// Change the mount's options (e.g. `size=8m`).
    pub fn remount(&self, options: &str) {
        let st = Command::new("mount").args(["-o", &format!("remount,{options}")]).arg(&self.0).status().unwrap();
        assert!(st.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Write a password file readable by its owner only (`librarian` refuses a password
/// file that its group or others may read), creating parents.
pub fn write_secret(path: &Path, text: &str) {
    write_text(path, text);
    make_private(path);
}

/// `chmod 600 path`.
pub fn make_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// A drive problem as `(name, entry, kind)`, as `sneakernet verify`/`import` report it.
pub type DriveProblem = (String, Option<String>, String);

/// `(name, entry, kind)` of every problem in a JSON list of drive problems.
pub fn problems(v: &Value) -> std::collections::BTreeSet<DriveProblem> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("a problem names its file").to_owned(),
                p["entry"].as_str().map(str::to_owned),
                p["kind"].as_str().expect("a problem has a kind").to_owned(),
            )
        })
        .collect()
}

/// One expected drive problem.
pub fn problem(name: &str, entry: Option<&str>, kind: &str) -> DriveProblem {
    (name.to_owned(), entry.map(str::to_owned), kind.to_owned())
}
