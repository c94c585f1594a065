//! Malicious peers on either side of a clone (issue 9, defects 1 and 2).
//!
//! A sending peer that can write into the receiver's staging area (the `local`
//! manager) swaps its staged payload for links, hard links and FIFOs; a receiving
//! peer answers `stage` with destinations outside the root the sender was configured
//! with, or through links. Decoy files outside both sites must keep their bytes, mode
//! and mtime; nothing outside may be moved into a store; no digest of anything found
//! is ever sent back to a peer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use librarian_e2e::pair::{ClonePair, append_config};
use librarian_e2e::{Site, walk};
use serde_json::{Value, json};

/// A file outside every site whose bytes, mode and mtime must never change.
struct Decoy {
    path: PathBuf,
    bytes: Vec<u8>,
    mode: u32,
    mtime: (i64, i64),
}

impl Decoy {
    fn new(path: PathBuf, bytes: &[u8]) -> Decoy {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let m = std::fs::metadata(&path).unwrap();
        Decoy { path, bytes: bytes.to_vec(), mode: m.mode(), mtime: (m.mtime(), m.mtime_nsec()) }
    }

    fn assert_untouched(&self) {
        let m = std::fs::symlink_metadata(&self.path)
            .unwrap_or_else(|e| panic!("decoy {} is gone: {e}", self.path.display()));
        assert!(m.is_file(), "decoy {} is no longer a file", self.path.display());
        assert_eq!(std::fs::read(&self.path).unwrap(), self.bytes, "decoy {} bytes", self.path.display());
        assert_eq!(m.mode(), self.mode, "decoy {} mode", self.path.display());
        assert_eq!((m.mtime(), m.mtime_nsec()), self.mtime, "decoy {} mtime", self.path.display());
    }
}

/// B's staging directories of incoming transfers.
fn incoming_dirs(b: &Site) -> Vec<PathBuf> {
    walk(&b.staging())
        .into_iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("incoming-")))
        .collect()
}

/// A uploads `name` with `bytes`, sends it (the local manager copies it into B's
/// staging area and queues `staged`), and delivers the call: B's transfer is `staged`.
fn staged_at_b(p: &ClonePair, name: &str, bytes: &[u8]) -> PathBuf {
    let src = p.a.src(name);
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, bytes).unwrap();
    p.a.upload(&src, name, &[]).ok();
    ClonePair::tasks(&p.a, &["send-clones", "deliver-outbox"]).ok();
    let staged = ClonePair::transfers(&p.b, Some("staged"));
    assert_eq!(staged.len(), 1, "B has one staged transfer: {staged:?}");
    let dirs = incoming_dirs(&p.b);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let data = dirs[0].join("data");
    assert!(data.is_file(), "A's copy arrived at {}", data.display());
    data
}

/// B's queued calls to A, as text (what A will be told).
fn b_outbox_text(p: &ClonePair) -> String {
    let out = p.b.json(["outbox", "list"]);
    out.ok();
    out.stdout
}

/// B receives; the transfer must fail with `code`, nothing must be catalogued, and
/// the `fail` call to A must carry no digest.
fn assert_refused_without_leak(p: &ClonePair, name: &str, code: &str, secret_hex: &str) {
    ClonePair::tasks(&p.b, &["receive-clones"]);
    let failed = ClonePair::transfers(&p.b, Some("failed"));
    assert_eq!(failed.len(), 1, "B's transfer failed: {failed:?}");
    assert_eq!(failed[0]["error_code"], code, "{failed:?}");
    let info = p.b.json(["info", name]);
    assert_eq!(info.error_code(), "not_found", "nothing catalogued at B: {}", info.stdout);
    let calls = b_outbox_text(p);
    assert!(calls.contains("fail"), "B queued a fail call: {calls}");
    assert!(secret_hex.is_empty() || !calls.contains(secret_hex), "the fail call leaks a digest: {calls}");
    assert!(!calls.contains("blake3:"), "the fail call carries a digest: {calls}");
    p.b.assert_consistent();
}

fn blake3_hex(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x");
    std::fs::write(&f, bytes).unwrap();
    let site = Site::new();
    let up = site.upload(&f, "probe", &[]);
    up.ok();
    site.json(["info", "probe"]).json()["checksum"].as_str().unwrap().trim_start_matches("blake3:").to_owned()
}

#[test]
fn a_sender_cannot_make_the_receiver_take_a_file_through_a_symlink() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    let secret = b"the host's own file, same bytes as the file offered\n";
    let decoy = Decoy::new(p.b.tmp().join("outside/secret.dat"), secret);
    // The sender offers exactly the decoy's bytes, so only the link decides.
    let data = staged_at_b(&p, "n/offered.dat", secret);
    std::fs::remove_file(&data).unwrap();
    std::os::unix::fs::symlink(&decoy.path, &data).unwrap();
    assert_refused_without_leak(&p, "n/offered.dat", "unsupported_entry", "");
    decoy.assert_untouched();
}

#[test]
fn a_wrong_checksum_on_a_linked_file_does_not_leak_its_digest() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    let secret = b"private key material of the receiving host\n";
    let decoy = Decoy::new(p.b.tmp().join("outside/id_rsa"), secret);
    let secret_hex = blake3_hex(secret);
    let data = staged_at_b(&p, "n/probe.dat", b"whatever the sender offered\n");
    std::fs::remove_file(&data).unwrap();
    std::os::unix::fs::symlink(&decoy.path, &data).unwrap();
    assert_refused_without_leak(&p, "n/probe.dat", "unsupported_entry", &secret_hex);
    decoy.assert_untouched();

    // A plain corrupt payload (no link): the failure still carries no digest.
    let p = ClonePair::new("managers = [\"local\"]", "");
    let data = staged_at_b(&p, "n/corrupt.dat", b"the real bytes\n");
    std::fs::write(&data, b"other bytes\n").unwrap();
    assert_refused_without_leak(&p, "n/corrupt.dat", "checksum_mismatch", &blake3_hex(b"other bytes\n"));
}

#[test]
fn a_symlinked_staging_directory_hard_links_and_fifos_are_refused() {
    // The staging directory itself replaced by a link to a directory outside.
    let p = ClonePair::new("managers = [\"local\"]", "");
    let secret = b"outside directory's data\n";
    let outside_dir = p.b.tmp().join("elsewhere");
    let decoy = Decoy::new(outside_dir.join("data"), secret);
    let data = staged_at_b(&p, "n/dir.dat", secret);
    let incoming = data.parent().unwrap().to_owned();
    std::fs::remove_dir_all(&incoming).unwrap();
    std::os::unix::fs::symlink(&outside_dir, &incoming).unwrap();
    assert_refused_without_leak(&p, "n/dir.dat", "unsupported_entry", "");
    decoy.assert_untouched();

    // A hard link to a file outside (same filesystem).
    let p = ClonePair::new("managers = [\"local\"]", "");
    let secret = b"hard-linked secret\n";
    let decoy = Decoy::new(p.b.tmp().join("outside/hard.dat"), secret);
    let data = staged_at_b(&p, "n/hard.dat", secret);
    std::fs::remove_file(&data).unwrap();
    std::fs::hard_link(&decoy.path, &data).unwrap();
    assert_refused_without_leak(&p, "n/hard.dat", "unsupported_entry", "");
    decoy.assert_untouched();
    assert_eq!(std::fs::metadata(&decoy.path).unwrap().nlink(), 1, "the hard link went with the staging dir");

    // A FIFO (must not hang the receive task) and a link inside a book.
    let p = ClonePair::new("managers = [\"local\"]", "");
    let data = staged_at_b(&p, "n/fifo.dat", b"x\n");
    std::fs::remove_file(&data).unwrap();
    let c = std::ffi::CString::new(data.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    assert_refused_without_leak(&p, "n/fifo.dat", "unsupported_entry", "");

    let p = ClonePair::new("managers = [\"local\"]", "");
    let decoy = Decoy::new(p.b.tmp().join("outside/in-book.dat"), b"book secret\n");
    let book = p.a.src("n/book");
    std::fs::create_dir_all(book.join("sub")).unwrap();
    std::fs::write(book.join("sub/one"), b"one\n").unwrap();
    p.a.upload(&book, "n/book", &[]).ok();
    ClonePair::tasks(&p.a, &["send-clones", "deliver-outbox"]).ok();
    let data = incoming_dirs(&p.b)[0].join("data");
    std::fs::remove_dir_all(data.join("sub")).unwrap();
    std::os::unix::fs::symlink(decoy.path.parent().unwrap(), data.join("sub")).unwrap();
    assert_refused_without_leak(&p, "n/book", "unsupported_entry", "");
    decoy.assert_untouched();
}

#[test]
fn an_honest_transfer_still_arrives_after_the_hardening() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    let book = p.a.src("n/book");
    std::fs::create_dir_all(book.join("a/b")).unwrap();
    std::fs::write(book.join("a/b/deep"), b"deep\n").unwrap();
    std::fs::write(book.join("top"), b"top\n").unwrap();
    p.a.upload(&book, "n/book", &[]).ok();
    let f = p.a.src("n/file.dat");
    std::fs::write(&f, b"file\n").unwrap();
    p.a.upload(&f, "n/file.dat", &[]).ok();
    p.converge(5);
    assert_eq!(ClonePair::transfers(&p.b, Some("completed")).len(), 2);
    p.b.assert_consistent();
    assert!(incoming_dirs(&p.b).is_empty(), "staging is cleaned");
}

// ---- a malicious receiving peer -------------------------------------------------

/// A fake receiving site: answers `ping`, answers `stage` item `n` (counting from 1
/// over the fake's life) with `answer(n, item)`, a transfer-status question with
/// `status(id)`, and everything else with `{}`.
struct FakeReceiver {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Answer = Box<dyn Fn(usize, &Value) -> Value + Send>;

impl FakeReceiver {
    /// Every item accepted, with the destination `dest(n)`.
    fn start(dest: impl Fn(usize) -> String + Send + 'static) -> FakeReceiver {
        Self::answering(
            Box::new(move |n, it| {
                json!({"result": "accepted", "transfer_id": it["transfer_id"], "remote_id": n,
                       "destination": dest(n), "manager": "local"})
            }),
            Box::new(|_| json!({})),
        )
    }

    fn answering(answer: Answer, status: Box<dyn Fn(i64) -> Value + Send>) -> FakeReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            while !flag.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                reader.read_exact(&mut body).ok();
                let reply = match path.as_str() {
                    "/api/v1/ping" => json!({"site": "site-b", "version": "fake"}),
                    "/api/v1/clone/stage" => {
                        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let items: Vec<Value> = req["items"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .iter()
                            .map(|it| {
                                n += 1;
                                answer(n, it)
                            })
                            .collect();
                        json!({ "items": items })
                    }
                    p => match p.strip_prefix("/api/v1/transfers/").and_then(|id| id.parse().ok()) {
                        Some(id) => status(id),
                        None => json!({}),
                    },
                };
                let text = reply.to_string();
                let mut s = stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        FakeReceiver { url, stop, thread: Some(thread) }
    }
}

impl Drop for FakeReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Site A sending to the fake receiver, with `root` as its destination_root.
fn sender_to_fake(fake: &FakeReceiver, root: &Path) -> Site {
    let a = Site::named("site-a");
    let pw = a.tmp().join("pw");
    librarian_e2e::write_secret(&pw, "secret\n");
    a.run([
        "peer",
        "add",
        "site-b",
        "--url",
        &fake.url,
        "--account",
        "site-a",
        "--password-file",
        pw.to_str().unwrap(),
    ])
    .ok();
    let mut cfg = librarian_e2e::pair::disabled_tasks();
    cfg.push_str(&format!(
        "[clone]\nmanagers = [\"local\"]\n[clone.to.site-b]\ndestination_root = {:?}\n",
        root.display().to_string()
    ));
    append_config(&a, &cfg);
    let f = a.src("n/sent.dat");
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(&f, b"A's data\n").unwrap();
    a.upload(&f, "n/sent.dat", &[]).ok();
    a
}

#[test]
fn a_receiver_cannot_make_the_sender_overwrite_or_delete_outside_its_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("b-staging-root");
    std::fs::create_dir_all(&root).unwrap();
    // The victim: an existing file shaped like a staging destination, outside the root.
    let victim = Decoy::new(tmp.path().join("a-home/incoming-1/data"), b"A's own precious file\n");
    let victim_dest = victim.path.display().to_string();
    let fake = FakeReceiver::start(move |_| victim_dest.clone());
    let a = sender_to_fake(&fake, &root);
    let out = a.json(["clone", "remote", "--to", "site-b"]);
    out.ok();
    assert_eq!(out.json()["staged"], 0, "{}", out.stdout);
    victim.assert_untouched();
    let failed = ClonePair::transfers(&a, None);
    assert!(
        failed
            .iter()
            .all(|t| t["status"] == "failed" && t["error"].as_str().unwrap_or("").contains("destination_root")),
        "{failed:?}"
    );
}

#[test]
fn a_receiver_cannot_redirect_the_sender_through_a_link_below_its_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("b-staging-root");
    std::fs::create_dir_all(&root).unwrap();
    let outside = tmp.path().join("a-private");
    let victim = Decoy::new(outside.join("keep.dat"), b"untouchable\n");
    // Below the root, but `incoming-7` is a link to A's private directory.
    std::os::unix::fs::symlink(&outside, root.join("incoming-7")).unwrap();
    // And a parent that is a link: `deep/incoming-8` with `deep -> outside`.
    std::os::unix::fs::symlink(&outside, root.join("deep")).unwrap();
    let r = root.clone();
    let fake = FakeReceiver::start(move |n| {
        if n % 2 == 1 { r.join("incoming-7/data") } else { r.join("deep/incoming-8/data") }.display().to_string()
    });
    let a = sender_to_fake(&fake, &root);
    let f = a.src("n/second.dat");
    std::fs::write(&f, b"second\n").unwrap();
    a.upload(&f, "n/second.dat", &[]).ok();
    a.json(["clone", "remote", "--to", "site-b"]).ok();
    victim.assert_untouched();
    let names: Vec<_> = std::fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("keep.dat")], "nothing written through the links");
    let ts = ClonePair::transfers(&a, None);
    assert_eq!(ts.len(), 2, "{ts:?}");
    assert!(ts.iter().all(|t| t["status"] == "failed"), "{ts:?}");
}

#[test]
fn a_peer_without_a_destination_root_is_a_configuration_error() {
    let a = Site::named("site-a");
    append_config(&a, "[clone]\nmanagers = [\"local\"]\n[clone.to.site-b]\n");
    let out = a.json(["status"]);
    assert_ne!(out.code(), Some(0), "{}", out.stdout);
    let msg = out.error_message();
    assert!(msg.contains("destination_root"), "{msg}");
}

#[test]
fn a_sender_killed_between_the_stage_answer_and_recording_it_converges_in_the_next_round() {
    use std::os::unix::process::ExitStatusExt;
    let p = ClonePair::new("managers = [\"local\"]", "");
    librarian_e2e::pair::upload_files(&p.a, "n/killed", 3);
    let mut cmd = p.a.cmd();
    cmd.args(["tasks", "run", "--only", "send-clones"]).env("LIBRARIAN_FAULT", "send.after-stage-answer");
    let out = librarian_e2e::run(&mut cmd);
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "the fault point killed the sender: {out:?}");
    // Both sides hold `initiated` transfers: B answered, A never recorded the answer.
    let a_init = ClonePair::transfers(&p.a, Some("initiated"));
    let b_init = ClonePair::transfers(&p.b, Some("initiated"));
    assert_eq!((a_init.len(), b_init.len()), (3, 3), "A {a_init:?}\nB {b_init:?}");
    assert!(a_init.iter().all(|t| t["remote_id"].is_null()), "{a_init:?}");
    // The default stale_after (6 h) is far away: the next ordinary round must do it.
    let rounds = p.converge(3);
    assert!(rounds <= 2, "converged only after {rounds} rounds");
    let a_done = ClonePair::transfers(&p.a, Some("completed"));
    let b_done = ClonePair::transfers(&p.b, Some("completed"));
    assert_eq!((a_done.len(), b_done.len()), (3, 3), "A {a_done:?}\nB {b_done:?}");
    assert_eq!(ClonePair::transfers(&p.b, None).len(), 3, "B made no second incoming transfer per file");
    p.b.assert_consistent();
    assert!(incoming_dirs(&p.b).is_empty(), "no staging directory is left behind");
}

/// A store name no site may record: traversal and a terminal escape.
const EVIL_STORE: &str = "../../../etc/\u{1b}[31mEVIL";

fn remote_stores(a: &Site, name: &str) -> Vec<String> {
    let info = a.json(["info", name]);
    info.ok();
    info.json()["remote_instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["store"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_hostile_store_name_in_a_stage_answer_or_a_status_answer_is_never_recorded() {
    // `already_present` naming a hostile store: refused as a bad answer.
    let fake = FakeReceiver::answering(
        Box::new(|_, it| json!({"result": "already_present", "transfer_id": it["transfer_id"], "store": EVIL_STORE})),
        Box::new(|_| json!({})),
    );
    let tmp = tempfile::tempdir().unwrap();
    let a = sender_to_fake(&fake, tmp.path());
    a.json(["clone", "remote", "--to", "site-b"]).ok();
    assert!(remote_stores(&a, "n/sent.dat").is_empty(), "no remote instance recorded");
    let ts = ClonePair::transfers(&a, None);
    assert!(ts.iter().all(|t| t["status"] == "failed" && t["error_code"] == "bad_response"), "{ts:?}");

    // A status answer (reconciliation) naming a hostile store: the copy is recorded
    // without it.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    let dest = root.join("incoming-1/data").display().to_string();
    let fake = FakeReceiver::answering(
        Box::new(move |n, it| {
            json!({"result": "accepted", "transfer_id": it["transfer_id"], "remote_id": n,
                   "destination": dest, "manager": "local"})
        }),
        Box::new(|_| json!({"remote_id": 1, "status": "completed", "store": EVIL_STORE})),
    );
    let a = sender_to_fake(&fake, &root);
    append_config(&a, "");
    let cfg = std::fs::read_to_string(a.config()).unwrap().replace("[clone]\n", "[clone]\nstale_after = \"1s\"\n");
    std::fs::write(a.config(), cfg).unwrap();
    a.json(["clone", "remote", "--to", "site-b"]).ok();
    assert_eq!(ClonePair::transfers(&a, Some("staged")).len(), 1, "{:?}", ClonePair::transfers(&a, None));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ClonePair::tasks(&a, &["reconcile-transfers"]).ok();
    assert_eq!(ClonePair::transfers(&a, Some("completed")).len(), 1, "{:?}", ClonePair::transfers(&a, None));
    let stores = remote_stores(&a, "n/sent.dat");
    assert!(stores.iter().all(|s| !s.contains("EVIL") && !s.contains('\u{1b}')), "{stores:?}");
}

#[test]
fn a_local_upload_with_a_hostile_uploader_is_refused() {
    let site = Site::new();
    let f = site.src("x.dat");
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(&f, b"x").unwrap();
    let out = site.upload(&f, "n/x.dat", &["--uploader", "eve\u{1b}[2J"]);
    out.expect_error(2, "invalid_argument");
    let out = site.json(["info", "n/x.dat"]);
    assert_eq!(out.error_code(), "not_found");
}

#[test]
fn a_receivers_refusal_code_and_message_are_made_safe_before_they_are_recorded() {
    let fake = FakeReceiver::answering(
        Box::new(|_, it| {
            json!({"result": "refused", "transfer_id": it["transfer_id"],
                   "code": "\u{1b}[31mstore_full", "message": format!("no \u{1b}]0;pwned\u{7} room {}", "x".repeat(5000))})
        }),
        Box::new(|_| json!({})),
    );
    let tmp = tempfile::tempdir().unwrap();
    let a = sender_to_fake(&fake, tmp.path());
    a.json(["clone", "remote", "--to", "site-b"]).ok();
    let ts = ClonePair::transfers(&a, None);
    assert_eq!(ts.len(), 1, "{ts:?}");
    assert_eq!(ts[0]["error_code"], "unknown", "{ts:?}");
    let error = ts[0]["error"].as_str().unwrap();
    assert!(!error.chars().any(|c| c.is_control()), "{error:?}");
    assert!(error.contains("\\x1b]0;pwned") && error.chars().count() <= 1001, "{error:?}");
}
