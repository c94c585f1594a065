//! `librarian demo`: two sites end to end in a temporary directory. Site A ingests
//! files and a book; two real `librarian serve` processes listen on loopback; rounds
//! of the background tasks (what `tasks run` does) clone everything to site B, which
//! verifies it; A records the copies at B. With `--globus` the bytes move through
//! Globus transfer tasks, served by the fake Globus of the test suite (`fake-globus`,
//! a real process on loopback that copies between the two sites' stores).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Instant;

use librarian_core::{Error, FileName, Level, Librarian, NoProgress, Password, TaskKind, TaskStatus, UploadOptions};

use crate::error::{CliError, Result};
use crate::output::Out;

/// A failed file or process operation of the demo: code `io`, exit 1 (never a usage
/// error: `librarian demo` takes no input that could be wrong).
fn io(what: &'static str) -> impl Fn(std::io::Error) -> CliError {
    move |source| CliError::Io { context: format!("demo: {what}"), source }
}

/// A `librarian serve` child process, stopped (SIGTERM, then waited for) when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(config: &Path) -> Result<Server> {
        let exe = std::env::current_exe().map_err(io("finding the librarian binary"))?;
        let mut child = Command::new(exe)
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("starting librarian serve"))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line).map_err(io("reading the server's address"))?;
        }
        match line.trim().strip_prefix("listening on ") {
            Some(addr) => Ok(Server { url: format!("http://{addr}"), child }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(Error::internal(format!("demo: librarian serve did not start (it said {line:?})")).into())
            }
        }
    }
}

/// The fake Globus (`fake-globus`) as a child process, killed when dropped.
struct FakeGlobus {
    child: Child,
    url: String,
}

/// The demo's Globus client id and the collections showing each site's stores.
const DEMO_CLIENT: &str = "0d3a3c36-0000-4000-8000-0000000000de";
const COLLECTION_A: &str = "0d3a3c36-0000-4000-8000-0000000000aa";
const COLLECTION_B: &str = "0d3a3c36-0000-4000-8000-0000000000bb";

impl FakeGlobus {
    /// `fake-globus` from `$FAKE_GLOBUS_BIN`, else next to this binary.
    fn start(root: &Path, secret: &str) -> Result<FakeGlobus> {
        let exe = match std::env::var_os("FAKE_GLOBUS_BIN") {
            Some(p) => PathBuf::from(p),
            None => std::env::current_exe().map_err(io("finding the librarian binary"))?.with_file_name("fake-globus"),
        };
        if !exe.is_file() {
            return Err(Error::NotFound {
                kind: librarian_core::ObjectKind::Path,
                name: format!(
                    "{} (the fake Globus of the test suite: build it with `cargo build -p fake-globus` beside \
                     librarian, or set FAKE_GLOBUS_BIN)",
                    exe.display()
                ),
            }
            .into());
        }
        let mut child = Command::new(exe)
            .args(["--listen", "127.0.0.1:0", "--collection"])
            .arg(format!("{COLLECTION_A}={}", root.join("site-a/stores").display()))
            .arg("--collection")
            .arg(format!("{COLLECTION_B}={}", root.join("site-b/stores").display()))
            .arg("--client")
            .arg(format!("{DEMO_CLIENT}:{secret}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("starting fake-globus"))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line).map_err(io("reading fake-globus's address"))?;
        }
        let url = line.trim().to_owned();
        if !url.starts_with("http://") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::internal(format!("demo: fake-globus did not start (it said {line:?})")).into());
        }
        Ok(FakeGlobus { child, url })
    }

    /// The `[globus]` tables of a site whose stores the collection `collection` shows.
    fn config(&self, site_dir: &Path, collection: &str, secret_file: &Path) -> String {
        format!(
            "\n[globus]\nclient_id = {DEMO_CLIENT:?}\nclient_secret_file = {:?}\nauth_url = {:?}\ntransfer_url = {:?}\n\n\
             [globus.stores.main]\ncollection = {collection:?}\ncollection_root = {:?}\n",
            secret_file.display().to_string(),
            self.url,
            self.url,
            site_dir.join("stores").display().to_string()
        )
    }
}

impl Drop for FakeGlobus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM: the server finishes what it is doing and exits 0.
        let stopped =
            Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A site whose scheduled tasks are off (the demo runs them in rounds itself).
fn site(root: &Path, name: &str) -> Result<Librarian> {
    let lib = Librarian::init(&root.join(name), name)?;
    let config = lib.config_path().to_owned();
    let mut text = std::fs::read_to_string(&config).map_err(io("reading a configuration"))?;
    for t in TaskKind::ALL {
        text.push_str(&format!("\n[tasks.{t}]\nenabled = false\n"));
    }
    std::fs::write(&config, text).map_err(io("writing a configuration"))?;
    Ok(Librarian::open(&config)?)
}

/// `lib` with `extra` appended to its configuration, opened again.
fn configure(lib: Librarian, extra: &str) -> Result<Librarian> {
    let config = lib.config_path().to_owned();
    drop(lib);
    let mut text = std::fs::read_to_string(&config).map_err(io("reading a configuration"))?;
    text.push_str(extra);
    std::fs::write(&config, text).map_err(io("writing a configuration"))?;
    Ok(Librarian::open(&config)?)
}

fn sample_data(raw: &Path) -> Result<()> {
    std::fs::create_dir_all(raw.join("book_0001/detector_1")).map_err(io("sample data"))?;
    let obs: Vec<u8> = (0u32..(4 << 20)).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(raw.join("obs_0001.dat"), &obs).map_err(io("sample data"))?;
    for i in 0..5 {
        std::fs::write(raw.join(format!("book_0001/detector_1/tod_{i}.dat")), format!("samples {i}\n").repeat(1000))
            .map_err(io("sample data"))?;
    }
    std::fs::write(raw.join("book_0001/M_index.yaml"), "book_id: book_0001\n").map_err(io("sample data"))?;
    std::fs::create_dir_all(raw.join("book_0001/empty_dir")).map_err(io("sample data"))?;
    for i in 0..20 {
        std::fs::write(raw.join(format!("hk_{i:02}.txt")), format!("housekeeping {i}\n")).map_err(io("sample data"))?;
    }
    Ok(())
}

/// Write a file only its owner may read.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io("writing the demo's Globus secret"))?;
    f.write_all(text.as_bytes()).map_err(io("writing the demo's Globus secret"))
}

fn secret() -> Result<Password> {
    Ok(Password::new(format!("demo-{}", uuid_like()))?)
}

/// A random secret for a throwaway demo (never printed): 16 bytes of /dev/urandom.
fn uuid_like() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        bytes[..16].copy_from_slice(&t.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn run(out: &mut Out, keep: bool, globus: bool) -> Result<ExitCode> {
    let tmp = tempfile::Builder::new().prefix("librarian-demo-").tempdir().map_err(io("temporary directory"))?;
    let root: PathBuf = tmp.path().to_owned();
    let json = out.json();
    let say = |s: String| {
        if !json {
            crate::output::put!("{s}");
        }
    };
    let started = Instant::now();
    say(format!("demo directory: {}", root.display()));
    let a = site(&root, "site-a")?;
    let b = site(&root, "site-b")?;
    say("1. created sites site-a and site-b (each a directory with a catalog and a store)".into());
    let (fake, a_more, b_more) = if globus {
        let secret_file = root.join("globus-client-secret");
        write_private(&secret_file, &uuid_like())?;
        let secret = std::fs::read_to_string(&secret_file).map_err(io("reading the demo's Globus secret"))?;
        let fake = FakeGlobus::start(&root, secret.trim())?;
        // site-a may make Globus write only below site-b's staging area.
        let a_more = format!(
            "\n[clone]\nmanagers = [\"globus\"]\n\n[clone.to.site-b]\ndestination_root = \"globus:{COLLECTION_B}:/main/staging\"\n{}",
            fake.config(&root.join("site-a"), COLLECTION_A, &secret_file)
        );
        let b_more = format!(
            "\n[clone]\nmanagers = [\"globus\"]\n{}",
            fake.config(&root.join("site-b"), COLLECTION_B, &secret_file)
        );
        say(format!("   started a fake Globus (Auth and Transfer API v0.10) at {}", fake.url));
        (Some(fake), a_more, b_more)
    } else {
        // site-a writes only below site-b's directory (where site-b's staging area is).
        let a_more = format!(
            "\n[clone]\nmanagers = [\"local\"]\n\n[clone.to.site-b]\ndestination_root = {:?}\n",
            root.join("site-b").display().to_string()
        );
        (None, a_more, String::new())
    };
    let a = configure(a, &a_more)?;
    let b = configure(b, &b_more)?;

    let raw = root.join("incoming");
    sample_data(&raw)?;
    let opts = UploadOptions::default();
    let mut uploads = Vec::new();
    uploads.push(a.upload(&raw.join("obs_0001.dat"), &FileName::new("2026/11/obs_0001.dat")?, &opts, &NoProgress)?);
    uploads.push(a.upload(&raw.join("book_0001"), &FileName::new("2026/11/book_0001")?, &opts, &NoProgress)?);
    for i in 0..20 {
        let name = FileName::new(&format!("2026/11/hk/hk_{i:02}.txt"))?;
        uploads.push(a.upload(&raw.join(format!("hk_{i:02}.txt")), &name, &opts, &NoProgress)?);
    }
    let bytes: u64 = uploads.iter().map(|u| u.file.size).sum();
    say(format!("2. site-a ingested {} files and books ({bytes} bytes), each hashed as it was copied", uploads.len()));

    let server_a = Server::start(a.config_path())?;
    let server_b = Server::start(b.config_path())?;
    say(format!("3. started librarian serve for site-a at {} and site-b at {}", server_a.url, server_b.url));

    let (a_at_b, b_at_a) = (secret()?, secret()?);
    b.add_peer("site-a", &server_a.url, "site-b", &b_at_a)?;
    b.add_account("site-a", Level::ReadAppend, Some("site-a"), &a_at_b)?;
    a.add_peer("site-b", &server_b.url, "site-a", &a_at_b)?;
    a.add_account("site-b", Level::Callback, Some("site-b"), &b_at_a)?;
    let ping = a.ping_peer("site-b")?;
    say(format!("4. peers and accounts set up; site-a pinged site-b in {:.1} ms", ping.latency_ms));
    if let Some(check) = a.check_globus()? {
        if !check.ok {
            return Err(Error::internal(format!("demo: the Globus credentials do not work: {}", check.detail)).into());
        }
        say("   site-a obtained a Globus Transfer token".into());
    }

    let mut rounds = 0;
    let converged = loop {
        rounds += 1;
        for (lib, tasks) in [
            (&a, [TaskKind::SendClones, TaskKind::DeliverOutbox]),
            (&b, [TaskKind::ReceiveClones, TaskKind::DeliverOutbox]),
        ] {
            for o in lib.run_tasks(&tasks)? {
                if o.status == TaskStatus::Failed {
                    return Err(Error::internal(format!("demo: task {} failed: {}", o.task, o.message)).into());
                }
            }
        }
        let done = a.peer_backlog("site-b")?.files_without_copy == 0
            && a.outbox(None)?.is_empty()
            && b.outbox(None)?.is_empty();
        // Globus tasks run in the background: later rounds poll them.
        let limit = if globus { 100 } else { 10 };
        if done || rounds == limit {
            break done;
        }
        if globus {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    let how = if globus { "had Globus copy" } else { "copied" };
    say(format!(
        "5. {rounds} round(s) of tasks: site-a offered, {how} and reported; site-b re-hashed, committed and confirmed"
    ));
    let report = b.verify(&[], None, &NoProgress)?;
    let b_status = b.status()?;
    say(format!(
        "6. site-b verified {} instance(s) by re-reading them: {}",
        report.checked.len(),
        if report.ok { "all intact" } else { "PROBLEMS FOUND" }
    ));
    let recorded = a.peer_backlog("site-b")?.files_with_copy;
    say(format!("7. site-a records a verified copy at site-b for {recorded} of {} files", uploads.len()));
    drop(server_a);
    drop(server_b);
    drop(fake);
    let ok = converged && report.ok && recorded == uploads.len() as u64 && b_status.files == uploads.len() as u64;
    say(format!(
        "{} in {:.1} s",
        if ok { "demo complete: every file is at both sites, verified" } else { "demo FAILED" },
        started.elapsed().as_secs_f64()
    ));
    if json {
        out.emit_value(&serde_json::json!({
            "directory": root,
            "ok": ok,
            "rounds": rounds,
            "uploads": uploads,
            "verify": report,
            "status": { "site-a": a.status()?, "site-b": b_status },
            "remote_copies_recorded": recorded,
            "manager": if globus { "globus" } else { "local" },
        }))?;
    }
    if keep {
        let kept = tmp.keep();
        say(format!("kept {}", kept.display()));
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
