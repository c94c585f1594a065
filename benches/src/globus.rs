//! Issue 12: the Globus manager through the fake Globus (`fake-globus`, a real process
//! that copies between the directories behind its collections).
//!
//! 1. `big`: clone A → B of the 2 GiB mix (`--clone-files` × `--clone-file-size` and a
//!    book of `--clone-book-files` × 48 KiB) through the Globus manager and the fake,
//!    against the `local` manager on the same data in the same run (the runs take
//!    turns). Target: ≤ 1.2× (the fake copies as fast as `local`; the difference is
//!    our bookkeeping and polling).
//! 2. `submit`: planning and submitting `--globus-files` (100,000) missing files into
//!    Globus tasks in one `tasks run --only send-clones`, against a stub receiver that
//!    accepts every offer at once (so only A's side is measured). Target: ≤ 5 s, and
//!    a later poll round makes ≤ 1 Transfer request per 1,000 files.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use librarian_core::{Librarian, Password};

use crate::clone::{
    CloneRun, Sender, big_sender, clone_run, converged, disabled_tasks, gib, link, new_receiver, remove_large_files,
    tasks_run,
};
use crate::memory::librarian_bin;
use crate::util::{self, Cache, Res, median, rate, remove, secs, sync_all, time};
use crate::{Ctx, Row, fresh_dir};

const CLIENT_ID: &str = "b3e4c5d6-0000-4000-8000-0000000000c1";
const COLLECTION_A: &str = "b3e4c5d6-0000-4000-8000-0000000000aa";
const COLLECTION_B: &str = "b3e4c5d6-0000-4000-8000-0000000000bb";
/// Wait between rounds while Globus tasks run (a scheduler's `every` in production).
const POLL: Duration = Duration::from_millis(100);
/// Longest a Globus clone may take before the bench gives up.
const LIMIT: Duration = Duration::from_secs(600);

/// Run the parts `--globus-parts` selects.
pub fn globus(ctx: &mut Ctx) -> Res<()> {
    let bin = librarian_bin(ctx)?;
    let fake = fake_bin(ctx)?;
    let mut failed = Vec::new();
    if ctx.globus_parts.iter().any(|p| p == "submit")
        && let Err(e) = submit(ctx, &bin, &fake)
    {
        println!("!! globus (submit) failed: {e}");
        failed.push("submit");
    }
    if ctx.globus_parts.iter().any(|p| p == "big")
        && let Err(e) = big(ctx, &bin, &fake)
    {
        println!("!! globus (big) failed: {e}");
        failed.push("big");
    }
    if failed.is_empty() { Ok(()) } else { Err(format!("globus parts failed: {}", failed.join(", ")).into()) }
}

/// `fake-globus`, built like the CLI (next to this binary, or next to `--librarian`).
fn fake_bin(ctx: &Ctx) -> Res<PathBuf> {
    crate::memory::built_bin("fake-globus", "fake-globus", ctx.librarian.as_deref())
}

/// A `fake-globus` child, killed when dropped.
struct Fake {
    child: Child,
    url: String,
}

impl Fake {
    fn start(bin: &Path, collections: &[(&str, &Path)], secret: &str) -> Res<Fake> {
        let mut cmd = Command::new(bin);
        cmd.args(["--listen", "127.0.0.1:0", "--client", &format!("{CLIENT_ID}:{secret}")]);
        for (id, dir) in collections {
            cmd.arg("--collection").arg(format!("{id}={}", dir.display()));
        }
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let url = line.trim().to_owned();
        if !url.starts_with("http://") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("fake-globus did not start: {line:?}").into());
        }
        Ok(Fake { child, url })
    }

    fn get(&self, path: &str) -> Res<serde_json::Value> {
        // The log holds every submitted document: large for 100,000 files.
        let text = ureq::get(&format!("{}{path}", self.url))
            .call()?
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()?;
        Ok(serde_json::from_str(&text)?)
    }

    fn post(&self, path: &str, body: &serde_json::Value) -> Res<()> {
        ureq::post(&format!("{}{path}", self.url)).header("Content-Type", "application/json").send(body.to_string())?;
        Ok(())
    }

    /// Transfer API requests (not token grants) logged so far.
    fn transfer_requests(&self) -> Res<usize> {
        let log = self.get("/_fake/log")?;
        let n = log
            .as_array()
            .map_or(0, |l| l.iter().filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/v0.10/"))).count());
        Ok(n)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `[globus]` tables of a site whose stores `collection` shows, rooted at
/// `site_dir/stores`.
fn globus_tables(fake: &Fake, site_dir: &Path, collection: &str, secret_file: &Path) -> String {
    format!(
        "[globus]\nclient_id = {CLIENT_ID:?}\nclient_secret_file = {:?}\nauth_url = {:?}\ntransfer_url = {:?}\n\
         [globus.stores.main]\ncollection = {collection:?}\ncollection_root = {:?}\n",
        secret_file.display().to_string(),
        fake.url,
        fake.url,
        site_dir.join("stores").display().to_string()
    )
}

fn secret_file(dir: &Path) -> Res<(PathBuf, String)> {
    let secret = format!("bench-globus-secret-{}", std::process::id());
    let path = dir.join("globus.secret");
    std::fs::write(&path, format!("{secret}\n"))?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok((path, secret))
}

/// Clone A → a new B through the Globus manager: rounds of `tasks run` with [`POLL`]
/// between them until B committed everything and A recorded every copy. `secs` is
/// the wall time from the first round to convergence, the waits included.
fn globus_run(bin: &Path, fake_bin: &Path, a: &mut Sender, run_dir: &Path, cache: Cache) -> Res<CloneRun> {
    let (secret_path, secret) = secret_file(run_dir)?;
    let (peer, b_config) = new_receiver(a, run_dir, &disabled_tasks())?;
    let a_dir = a.config.parent().ok_or("A's config has no directory")?.to_owned();
    let b_dir = b_config.parent().ok_or("B's config has no directory")?.to_owned();
    let fake = Fake::start(
        fake_bin,
        &[(COLLECTION_A, &a_dir.join("stores")), (COLLECTION_B, &b_dir.join("stores"))],
        &secret,
    )?;
    crate::clone::append(
        &b_config,
        &format!("[clone]\nmanagers = [\"globus\"]\n{}", globus_tables(&fake, &b_dir, COLLECTION_B, &secret_path)),
    )?;
    let served_b = link(bin, a, &b_config, &peer, run_dir)?;
    let base = a.base_config.replace("managers = [\"local\"]", "managers = [\"globus\"]");
    std::fs::write(
        &a.config,
        format!(
            "{base}\n[clone.to.{peer}]\ndestination_root = \"globus:{COLLECTION_B}:/main/staging\"\n{}",
            globus_tables(&fake, &a_dir, COLLECTION_A, &secret_path)
        ),
    )?;
    let lib_a = Librarian::open(&a.config)?;
    let lib_b = Librarian::open(&b_config)?;
    util::prepare(cache, &[&a.data])?;
    let mut run = CloneRun::default();
    let started = Instant::now();
    let mut round = 0;
    loop {
        round += 1;
        let (_, ta) = tasks_run(bin, &a.config, &["send-clones", "deliver-outbox"])?;
        let (_, tb) = tasks_run(bin, &b_config, &["receive-clones", "deliver-outbox"])?;
        run.rounds = round;
        run.add("A", round, &ta);
        run.add("B", round, &tb);
        if converged(&lib_a, &lib_b, &peer, a.files, a.bytes)? {
            run.secs = secs(started.elapsed());
            break;
        }
        if started.elapsed() > LIMIT {
            return Err(format!("no convergence in {LIMIT:?}: {:?}", lib_a.peer_backlog(&peer)?).into());
        }
        std::thread::sleep(POLL);
    }
    let tasks = fake.get("/_fake/tasks")?;
    run.messages.push(format!("{} Globus task(s)", tasks.as_array().map_or(0, Vec::len)));
    drop(served_b);
    Ok(run)
}

/// (1) The 2 GiB mix through Globus and the fake vs the local manager; ≤ 1.2×.
fn big(ctx: &mut Ctx, bin: &Path, fake_bin: &Path) -> Res<()> {
    let base = fresh_dir(ctx, "globus-big")?;
    let (what, bytes, d, mut a) = big_sender(ctx, bin, &base)?;
    let outs = base.join("runs");
    std::fs::create_dir_all(&outs)?;
    let runs = ctx.runs.min(3);
    let mut counter = 0;
    for cache in ctx.caches.clone() {
        ctx.header(
            &format!("(issue 12) clone A -> B of {what}: Globus (fake) vs local manager [{}]", cache.label()),
            Some(cache),
        );
        if counter == 0 {
            println!("   site A: {} files ingested in {:.1} s", a.files, secs(d));
        }
        println!(
            "   globus: rounds of tasks run at A and B with {} ms between them while tasks run,",
            POLL.as_millis()
        );
        println!("           the fake copying in the background; wall time from the first round to convergence");
        println!("   local:  the same rounds with the local manager (sum of the tasks runs)");
        let (mut g, mut l) = (Vec::new(), Vec::new());
        for r in 0..runs {
            let mut line = [String::new(), String::new()];
            for k in 0..2 {
                counter += 1;
                let run_dir = outs.join(format!("run{counter}"));
                std::fs::create_dir_all(&run_dir)?;
                if (r + k) % 2 == 0 {
                    let run = globus_run(bin, fake_bin, &mut a, &run_dir, cache)?;
                    line[0] = format!(
                        "globus {:.3} s = {} ({} rounds, {}; {})",
                        run.secs,
                        rate(bytes, run.secs),
                        run.rounds,
                        run.messages.last().cloned().unwrap_or_default(),
                        run.breakdown()
                    );
                    g.push(run.secs);
                } else {
                    let run = clone_run(bin, &mut a, &run_dir, cache)?;
                    line[1] = format!("local {:.3} s = {} ({} rounds)", run.secs, rate(bytes, run.secs), run.rounds);
                    l.push(run.secs);
                }
                remove_large_files(&run_dir)?;
                sync_all();
            }
            println!("   run {}: {} | {}   [load {}]", r + 1, line[0], line[1], util::loadavg());
        }
        let (gm, lm) = (median(&g), median(&l));
        let ratio = gm / lm;
        println!(
            "   median: globus {gm:.3} s ({}), local {lm:.3} s ({}); ratio {ratio:.2} (target <= 1.20) {}",
            rate(bytes, gm),
            rate(bytes, lm),
            if ratio <= 1.2 { "PASS" } else { "FAIL" }
        );
        ctx.row(Row {
            id: "globus",
            what: format!("clone A->B {} through the fake Globus [{}]", gib(bytes), cache.label()),
            value: format!("{gm:.3} s ({})", rate(bytes, gm)),
            baseline: format!("local manager {lm:.3} s"),
            ratio: format!("{ratio:.2}x"),
            target: "<= 1.20x".into(),
            pass: Some(ratio <= 1.2),
        });
    }
    drop(a);
    remove(&base)?;
    sync_all();
    Ok(())
}

// ---------------------------------------------------------------------------------
// 2. Planning and submitting 100,000 files

/// A receiver that accepts every offered item at once, into a Globus staging path:
/// `ping` and `stage` only, one request per connection.
fn stub_receiver() -> Res<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer_stub(stream);
        }
    });
    Ok(url)
}

fn answer_stub(stream: std::net::TcpStream) -> Res<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let answer = if request.contains("/api/v1/ping") {
        serde_json::json!({"site": "stub", "version": "bench", "features": []})
    } else if request.contains("/api/v1/clone/stage") {
        let req: serde_json::Value = serde_json::from_slice(&body)?;
        let items: Vec<serde_json::Value> = req["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|it| {
                        let id = it["transfer_id"].as_i64().unwrap_or_default();
                        serde_json::json!({
                            "result": "accepted", "transfer_id": id, "remote_id": id, "manager": "globus",
                            "destination": format!("globus:{COLLECTION_B}:/staging/incoming-{id}/data"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        serde_json::json!({ "items": items })
    } else {
        serde_json::json!({})
    };
    let text = answer.to_string();
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    Ok(())
}

/// (2) One `send-clones` run plans and submits `n` files (a catalog of `n` files, each
/// with a one-byte instance on disk, none at the peer); then a poll round.
fn submit(ctx: &mut Ctx, bin: &Path, fake_bin: &Path) -> Res<()> {
    let n = ctx.globus_files;
    let base = fresh_dir(ctx, "globus-submit")?;
    ctx.header(&format!("(issue 12) planning and submitting {n} missing files into Globus tasks"), Some(Cache::Warm));
    let site = base.join("site-a");
    let config = Librarian::init(&site, "site-a")?.config_path().to_owned();
    let dest = base.join("dest");
    std::fs::create_dir_all(&dest)?;
    let (d, ()) = time(|| build_submit_catalog(&site, n))?;
    println!("   site A: {n} files of 1 byte on disk and in the catalog (rusqlite) in {:.1} s", secs(d));
    let (secret_path, secret) = secret_file(&base)?;
    let fake = Fake::start(fake_bin, &[(COLLECTION_A, &site.join("stores")), (COLLECTION_B, &dest)], &secret)?;
    // The tasks wait (INACTIVE) instead of copying: only submission is measured.
    fake.post("/_fake/scenario", &serde_json::json!({"mode": "inactive"}))?;
    let stub = stub_receiver()?;
    {
        let lib = Librarian::open(&config)?;
        lib.add_peer("stub", &stub, "site-a", &Password::new("unused-bench-password".into())?)?;
    }
    let batches = n.div_ceil(1000);
    crate::clone::append(
        &config,
        &format!(
            "{}[clone]\nmanagers = [\"globus\"]\nbatch_files = 1000\nbatches_per_run = {batches}\n\
             [clone.to.stub]\ndestination_root = \"globus:{COLLECTION_B}:/staging\"\n{}",
            disabled_tasks(),
            globus_tables(&fake, &site, COLLECTION_A, &secret_path)
        ),
    )?;
    let before = fake.transfer_requests()?;
    let (wall, tasks) = tasks_run_degraded(bin, &config)?;
    let submitted = fake.transfer_requests()? - before;
    let task_count = fake.get("/_fake/tasks")?.as_array().map_or(0, Vec::len);
    println!(
        "   tasks run --only send-clones: {wall:.3} s ({tasks}); {task_count} Globus tasks, {submitted} Transfer requests"
    );
    let (poll_wall, _) = tasks_run_degraded(bin, &config)?;
    let polled = fake.transfer_requests()? - before - submitted;
    let per_1000 = polled as f64 / (n as f64 / 1000.0);
    println!(
        "   a poll round: {poll_wall:.3} s, {polled} Transfer requests = {per_1000:.2} per 1,000 files (target <= 1) {}",
        if per_1000 <= 1.0 { "PASS" } else { "FAIL" }
    );
    println!("   planning and submitting: {wall:.3} s (target <= 5 s) {}", if wall <= 5.0 { "PASS" } else { "FAIL" });
    ctx.row(Row {
        id: "globus-submit",
        what: format!("plan + submit {n} files into {task_count} Globus tasks [warm]"),
        value: format!("{wall:.3} s"),
        baseline: String::new(),
        ratio: format!("{:.2}x of target", wall / 5.0),
        target: "<= 5 s".into(),
        pass: Some(wall <= 5.0),
    });
    ctx.row(Row {
        id: "globus-poll",
        what: format!("Transfer requests per poll round, {n} files in {task_count} tasks"),
        value: format!("{polled} ({per_1000:.2} per 1,000 files)"),
        baseline: String::new(),
        ratio: String::new(),
        target: "<= 1 per 1,000 files".into(),
        pass: Some(per_1000 <= 1.0),
    });
    drop(fake);
    remove(&base)?;
    Ok(())
}

/// `tasks run --only send-clones` whose batches are INACTIVE (exit 3, degraded, is
/// expected): wall seconds and the task's message.
fn tasks_run_degraded(bin: &Path, config: &Path) -> Res<(f64, String)> {
    let started = Instant::now();
    let out = Command::new(bin)
        .env_remove("LIBRARIAN_CONFIG")
        .arg("--config")
        .arg(config)
        .args(["--json", "tasks", "run", "--only", "send-clones"])
        .output()?;
    let wall = secs(started.elapsed());
    if !matches!(out.status.code(), Some(0 | 3)) {
        return Err(format!("send-clones failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok((wall, v[0]["message"].as_str().unwrap_or_default().to_owned()))
}

/// `n` files of one byte under A's data area, catalogued with an available instance
/// each (no remote copy anywhere).
fn build_submit_catalog(site: &Path, n: u64) -> Res<()> {
    let data = site.join("stores/main/data");
    let mut conn = rusqlite::Connection::open(site.join("librarian.db"))?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let store: i64 = conn.query_row("SELECT id FROM stores WHERE name = 'main'", [], |r| r.get(0))?;
    let now = jiff::Timestamp::now().as_microsecond();
    let sum = librarian_core::hash_bytes(librarian_core::Algorithm::Blake3, b"x")?.to_string();
    let tx = conn.transaction()?;
    {
        let mut file = tx.prepare(
            "INSERT INTO files (id, name, size, checksum, kind, uploader, source, created_at, arrived_at)
             VALUES (?1, ?2, 1, ?3, 'file', 'bench', 'site-a', ?4, ?4)",
        )?;
        let mut inst = tx.prepare(
            "INSERT INTO instances (file_id, store_id, path, available, deletion_policy, created_at)
             VALUES (?1, ?2, ?3, 1, 'disallowed', ?4)",
        )?;
        for i in 1..=n {
            let name = format!("sub/{:04}/f{i:07}.dat", i / 1000);
            let path = data.join(&name);
            if i == 1 || i % 1000 == 0 {
                std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
            }
            std::fs::write(&path, b"x")?;
            let id = i64::try_from(i)?;
            file.execute(rusqlite::params![id, name, sum, now])?;
            inst.execute(rusqlite::params![id, store, name, now])?;
        }
    }
    tx.commit()?;
    Ok(())
}
