//! SneakerNet end to end (design §5, `docs/sneakernet.md`): a drive store filled at A
//! by the local clone, exported (manifest, digest, `b3sum`/`sha256sum` lists), checked
//! offline, imported at B while A is down, and acknowledged when A is back; every kind
//! of damage to a drive named by `verify` and refused by `import` (with the rest
//! imported and no bad byte committed); a second import that does nothing; a drive
//! written by the existing (Python) Librarian; and bad inputs and dry runs that change
//! nothing.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use librarian_e2e::pair::{ClonePair, outbox_len};
use librarian_e2e::*;
use serde_json::{Value, json};

const MANIFEST: &str = ".librarian-manifest.json";
const MANIFEST_DIGEST: &str = ".librarian-manifest.json.b3";
const B3SUMS: &str = ".librarian-b3sums.txt";
const SHA256SUMS: &str = ".librarian-sha256sums.txt";

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

fn pw_file(site: &Site, name: &str) -> String {
    let p = site.tmp().join(name);
    write_secret(&p, "sneakernet-e2e-secret\n");
    p.to_str().unwrap().to_owned()
}

/// Make `peer` a peer of `site` at an address where nothing listens (enough for
/// exporting to it, or importing from it: the calls wait in the outbox).
fn add_dead_peer(site: &Site, peer: &str) {
    site.run([
        "peer",
        "add",
        peer,
        "--url",
        "http://127.0.0.1:9",
        "--account",
        "x",
        "--password-file",
        &pw_file(site, "pw"),
    ])
    .ok();
}

/// `sneakernet verify --json DRIVE`, with no configuration at all.
fn verify_drive(drive: &Path) -> Outcome {
    run_outcome(bare_librarian().arg("--json").args(["sneakernet", "verify"]).arg(drive))
}

fn import(site: &Site, drive: &Path, extra: &[&str]) -> Outcome {
    run_outcome(site.cmd().arg("--json").args(["sneakernet", "import"]).arg(drive).args(extra))
}

fn info(site: &Site, name: &str) -> Value {
    let out = site.json(["info", name]);
    out.ok();
    out.json()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn events(site: &Site, category: &str) -> Vec<Value> {
    let out = site.json(["events", "list"]);
    out.ok();
    out.json().as_array().unwrap().iter().filter(|e| e["category"] == category).cloned().collect()
}

fn store(site: &Site, name: &str) -> Value {
    let out = site.json(["store", "list"]);
    out.ok();
    out.json().as_array().unwrap().iter().find(|s| s["name"] == name).cloned().unwrap_or(Value::Null)
}

/// Names and checksums of a site's catalog.
fn catalog(site: &Site) -> BTreeMap<String, String> {
    site.files()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f["checksum"].as_str().unwrap().to_owned()))
        .collect()
}

/// Every path under `dir`, relative, sorted (files and directories).
fn tree(dir: &Path) -> Vec<PathBuf> {
    walk(dir).into_iter().map(|p| p.strip_prefix(dir).unwrap().to_owned()).collect()
}

/// Add the drive store `drive` (no ingest, `reserve` bytes kept free) on `site` and
/// fill it from `main` with `clone local`; returns the local clone's report.
fn fill_drive(site: &Site, drive: &str, root: &Path, staging: &Path, reserve: u64) -> Value {
    let out = site.run([
        "store",
        "add",
        drive,
        "--root",
        root.to_str().unwrap(),
        "--staging",
        staging.to_str().unwrap(),
        "--no-ingest",
        "--reserve",
        &reserve.to_string(),
    ]);
    out.ok();
    let out = site.json(["clone", "local", "--from", "main", "--to", drive]);
    out.ok();
    out.json()
}

/// Small fixtures: three files and a book with entries in subdirectories.
const FILES: [(&str, &str); 3] =
    [("x/f0", "zero zero zero\n"), ("x/f1", "one one one one one one\n"), ("x/sub/f2", "two\n")];
const BOOK: &str = "x/book";
const BOOK_ENTRIES: [(&str, &str); 3] = [("d0/e0", "entry zero\n"), ("d1/e1", "entry one, longer\n"), ("top", "t\n")];

fn all_names() -> BTreeSet<String> {
    FILES.iter().map(|(n, _)| (*n).to_owned()).chain([BOOK.to_owned()]).collect()
}

/// Site A (no server: exporting needs none) with the fixtures on an exported drive
/// `drive1` at `<tmp>/drive1`.
struct Exported {
    a: Site,
    drive: PathBuf,
}

/// Upload the fixtures at `site` (store `main`).
fn upload_fixtures(site: &Site) {
    for (name, text) in FILES {
        let src = site.src(name);
        write_text(&src, text);
        site.upload(&src, name, &[]).ok();
    }
    let src = site.src(BOOK);
    for (e, text) in BOOK_ENTRIES {
        write_text(&src.join(e), text);
    }
    site.upload(&src, BOOK, &[]).ok();
}

/// Put the fixtures on a drive store `drive1` at `<a tmp>/drive1`: uploaded to `main`
/// and copied onto the drive by `clone local`.
fn put_fixtures_on_drive(a: &Site) -> PathBuf {
    let drive = a.tmp().join("drive1");
    upload_fixtures(a);
    let r = fill_drive(a, "drive1", &drive, &a.tmp().join("drive1.staging"), 0);
    assert_eq!((r["copied"].clone(), r["full"].clone()), (json!(4), json!(false)), "{r}");
    drive
}

/// A pair's drive, filled and exported to site-b.
fn drive_for_pair(p: &ClonePair) -> PathBuf {
    let drive = put_fixtures_on_drive(&p.a);
    p.a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b"]).ok();
    drive
}

fn exported_drive() -> Exported {
    let a = Site::named("site-a");
    add_dead_peer(&a, "site-b");
    let drive = put_fixtures_on_drive(&a);
    let out = a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b"]);
    out.ok();
    assert_eq!(strings(&out.json()["files"]), all_names(), "{out}");
    verify_drive(&drive).ok();
    Exported { a, drive }
}

/// A fresh site B that knows site-a as a peer (down: its calls wait).
fn importer() -> Site {
    let b = Site::named("site-b");
    add_dead_peer(&b, "site-a");
    b
}

/// The damaged drive: `verify` must name exactly `want` and exit 1; `import` into a
/// fresh B must refuse exactly `refused` (exit 1), import the rest, commit no bad byte
/// (B consistent, the refused names absent) and queue one call per imported file.
#[track_caller]
fn assert_damage_handled(ex: &Exported, want: &[(String, Option<String>, String)], refused: &[&str]) {
    let v = verify_drive(&ex.drive);
    v.expect_code(1);
    let report = v.json();
    assert_eq!(report["ok"], false, "{v}");
    assert_eq!(problems(&report["problems"]), want.iter().cloned().collect(), "{v}");
    // The text form names them too.
    let text = run_outcome(bare_librarian().args(["sneakernet", "verify"]).arg(&ex.drive));
    text.expect_code(1);
    for (name, entry, kind) in want {
        assert!(text.stdout.contains(name.as_str()) && text.stdout.contains(kind.as_str()), "{name} {kind}: {text}");
        if let Some(e) = entry {
            assert!(text.stdout.contains(e.as_str()), "{e}: {text}");
        }
    }

    let b = importer();
    let expected_imported: BTreeSet<String> = all_names().difference(&set(refused)).cloned().collect();
    // A dry run says what the import will do, and changes nothing.
    let dry = import(&b, &ex.drive, &["--dry-run"]);
    dry.expect_code(1);
    let d = dry.json();
    let dry_refused: BTreeSet<String> =
        d["refused"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!((dry_refused, strings(&d["imported"])), (set(refused), expected_imported.clone()), "{dry}");
    assert!(b.files().is_empty() && outbox_len(&b) == 0, "{dry}");

    let out = import(&b, &ex.drive, &[]);
    out.expect_code(1);
    let r = out.json();
    assert_eq!(r["ok"], false, "{out}");
    let refused_names: BTreeSet<String> =
        r["refused"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(refused_names, set(refused), "{out}");
    assert_eq!(strings(&r["imported"]), expected_imported, "{out}");
    assert_eq!(r["callbacks_queued"], expected_imported.len(), "{out}");
    assert_eq!(outbox_len(&b), expected_imported.len());

    let files = b.assert_consistent();
    let at_b: BTreeSet<String> = files.iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(at_b, expected_imported);
    for name in refused {
        let i = b.json(["info", name]);
        assert_ne!(i.code(), Some(0), "{i}");
    }
    // What B holds is what A catalogued, byte for byte.
    let at_a = catalog(&ex.a);
    for (name, sum) in catalog(&b) {
        assert_eq!(Some(&sum), at_a.get(&name), "{name}");
    }
}

// ---------------------------------------------------------------------------------
// 1. Acceptance
// ---------------------------------------------------------------------------------

/// Run `b3sum`/`sha256sum --check LIST` in `dir` if the tool is installed.
fn standard_check(tool: &str, dir: &Path, list: &str, lines: usize) {
    let Some(bin) = which(tool) else {
        skip(&format!("{tool} is not installed: drive not checked with it"));
        return;
    };
    let out = run(Command::new(bin).arg("--check").arg(list).current_dir(dir));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tool} --check {list}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.ends_with(": OK")).count(), lines, "{stdout}");
}

#[test]
fn drive_from_a_to_b_while_a_is_down() {
    let mut p = ClonePair::new("", "");
    // 3 books first (the local clone copies oldest first), then 100 files of 4000
    // bytes: one 4 KiB page each on tmpfs.
    let mut books = Vec::new();
    for k in 0..3 {
        let name = format!("2026/books/b{k}");
        let src = p.a.src(&name);
        for i in 0..5 {
            write_text(&src.join(format!("d{}/e{i}", i % 2)), &format!("{name} entry {i}\n"));
        }
        p.a.upload(&src, &name, &[]).ok();
        books.push(name);
    }
    for i in 0..100 {
        let name = format!("2026/obs/f{i:03}");
        let src = p.a.src(&name);
        write_random(&src, 4000, i);
        p.a.upload(&src, &name, &[]).ok();
    }
    assert_eq!(p.a.files().len(), 103);

    // The drive: a 512 KiB tmpfs with 192 KiB in reserve (about 75 files fit), else a
    // directory whose reserve leaves room for about 300 KB.
    let mnt = Tmpfs::mount(&p.a.tmp().join("drivefs"), "size=512k");
    let (root, staging, reserve) = match &mnt {
        Some(m) => (m.0.join("data"), m.0.join("staging"), 192 * 1024),
        None => {
            skip("cannot mount a tmpfs (not root?): the drive is a directory with a computed reserve");
            let free = store(&p.a, "main")["free_bytes"].as_u64().unwrap();
            (p.a.tmp().join("drive1"), p.a.tmp().join("drive1.staging"), free - 300_000)
        }
    };
    let report = fill_drive(&p.a, "drive1", &root, &staging, reserve);
    assert_eq!(report["full"], true, "{report}");
    let copied = report["copied"].as_u64().unwrap();
    let left = report["left_for_next_drive"].as_u64().unwrap();
    assert!(copied >= 10 && left >= 10, "{report}");
    assert_eq!(copied + left, 103, "{report}");
    let full = events(&p.a, "store_full");
    assert_eq!(full.len(), 1, "{full:?}");
    assert_eq!(full[0]["subject"], "drive1");

    // What is on the drive (each with its main instance too).
    let on_drive: BTreeSet<String> =
        p.a.files()
            .iter()
            .filter(|f| f["instances"].as_array().unwrap().iter().any(|i| i["store"] == "drive1"))
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(on_drive.len() as u64, copied);
    for b in &books {
        assert!(on_drive.contains(b), "{b} (oldest) is on the drive");
    }

    let out = p.a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b"]);
    out.ok();
    let ex = out.json();
    assert_eq!(strings(&ex["files"]), on_drive, "{out}");
    assert_eq!(ex["skipped"], json!([]), "{out}");
    for f in [MANIFEST, MANIFEST_DIGEST, B3SUMS, SHA256SUMS] {
        assert!(root.join(f).is_file(), "{f} written on the drive");
    }
    let v = verify_drive(&root);
    v.ok();
    let vr = v.json();
    assert_eq!(
        (vr["ok"].clone(), vr["files"].clone(), vr["intact"].clone()),
        (json!(true), json!(copied), json!(copied))
    );
    assert_eq!((vr["site"].as_str(), vr["destination"].as_str()), (Some("site-a"), Some("site-b")));
    let payload_files = copied as usize - 3 + 3 * 5;
    standard_check("b3sum", &root, B3SUMS, payload_files);
    standard_check("sha256sum", &root, SHA256SUMS, payload_files);
    standard_check("b3sum", &root, MANIFEST_DIGEST, 1);
    assert_eq!(store(&p.a, "drive1")["enabled"], false);
    let outgoing = ClonePair::transfers(&p.a, Some("ongoing"));
    assert_eq!(outgoing.len() as u64, copied);
    assert!(outgoing.iter().all(|t| t["manager"] == "sneakernet" && t["peer"] == "site-b" && t["store"] == "drive1"));

    // B imports with A down.
    drop(p.served_a.take());
    let out = import(&p.b, &root, &[]);
    out.ok();
    let r = out.json();
    assert_eq!(strings(&r["imported"]), on_drive, "{out}");
    assert_eq!(r["refused"], json!([]), "{out}");
    assert_eq!(r["callbacks_queued"], copied, "{out}");
    let at_b = p.b.assert_consistent();
    assert_eq!(at_b.len() as u64, copied);
    let at_a = catalog(&p.a);
    for f in &at_b {
        let name = f["name"].as_str().unwrap();
        assert_eq!(Some(f["checksum"].as_str().unwrap()), at_a.get(name).map(String::as_str), "{name}");
        assert_eq!(f["source"], "site-a", "{f}");
    }
    let incoming = ClonePair::transfers(&p.b, Some("completed"));
    assert_eq!(incoming.len() as u64, copied);
    let calls = p.b.json(["outbox", "list"]).json();
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len() as u64, copied, "{calls:?}");
    // A is down: delivering leaves them queued (the task is degraded: exit 3).
    ClonePair::tasks(&p.b, &["deliver-outbox"]).expect_code(3);
    assert_eq!(outbox_len(&p.b) as u64, copied);
    assert!(p.a.files().iter().all(|f| f["remote_instances"] == json!([])));

    // A is back on the same address; B delivers.
    p.served_a = Some(Server::start_at(&p.a, &p.a_addr));
    p.b.run(["outbox", "retry"]).ok();
    for _ in 0..10 {
        ClonePair::tasks(&p.b, &["deliver-outbox"]).ok();
        if outbox_len(&p.b) == 0 {
            break;
        }
        p.b.run(["outbox", "retry"]).ok();
    }
    assert_eq!(outbox_len(&p.b), 0, "{}", p.b.json(["outbox", "list"]).stdout);

    for f in p.a.files() {
        let name = f["name"].as_str().unwrap();
        let remote = f["remote_instances"].as_array().unwrap();
        let drive_inst: Vec<&Value> =
            f["instances"].as_array().unwrap().iter().filter(|i| i["store"] == "drive1").collect();
        let main_inst: Vec<&Value> =
            f["instances"].as_array().unwrap().iter().filter(|i| i["store"] == "main").collect();
        assert_eq!(main_inst.len(), 1, "{f}");
        assert_eq!(main_inst[0]["available"], true, "{f}");
        if on_drive.contains(name) {
            assert_eq!(remote.len(), 1, "{f}");
            assert_eq!((remote[0]["librarian"].as_str(), remote[0]["store"].as_str()), (Some("site-b"), Some("main")));
            assert_eq!(drive_inst.len(), 1, "{f}");
            assert_eq!(drive_inst[0]["available"], false, "{f}");
        } else {
            assert!(remote.is_empty() && drive_inst.is_empty(), "{f}");
        }
    }
    assert_eq!(store(&p.a, "drive1")["enabled"], false);
    assert!(ClonePair::transfers(&p.a, None).iter().all(|t| t["status"] == "completed"));
    let done = events(&p.a, "drive_done");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["subject"], "drive1");
    assert_eq!(events(&p.a, "store_full").len(), 1, "the rest still waits for a second drive");
}

// ---------------------------------------------------------------------------------
// 2. Tampering
// ---------------------------------------------------------------------------------

fn edit_manifest(drive: &Path, edit: impl FnOnce(&mut Value)) {
    let path = drive.join(MANIFEST);
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut m);
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

fn manifest_file<'a>(m: &'a mut Value, name: &str) -> &'a mut Value {
    m["files"].as_array_mut().unwrap().iter_mut().find(|f| f["name"] == name).unwrap()
}

#[test]
fn flipped_byte_in_a_file() {
    let ex = exported_drive();
    flip_byte(&ex.drive.join("x/f1"), 3);
    assert_damage_handled(&ex, &[problem("x/f1", None, "altered")], &["x/f1"]);
    // The standard tools see it too.
    for (tool, list) in [("b3sum", B3SUMS), ("sha256sum", SHA256SUMS)] {
        if let Some(bin) = which(tool) {
            let out = run(Command::new(bin).args(["--check", list]).current_dir(&ex.drive));
            assert!(!out.status.success(), "{tool} --check passed on a damaged drive");
            assert!(String::from_utf8_lossy(&out.stdout).contains("x/f1: FAILED"), "{tool}");
        } else {
            skip(&format!("{tool} is not installed: the damaged drive was not checked with it"));
        }
    }
}

#[test]
fn flipped_byte_in_a_book_entry() {
    let ex = exported_drive();
    flip_byte(&ex.drive.join(BOOK).join("d1/e1"), 0);
    assert_damage_handled(&ex, &[problem(BOOK, Some("d1/e1"), "altered")], &[BOOK]);
}

#[test]
fn truncated_file_and_book_entry() {
    let ex = exported_drive();
    let f = std::fs::OpenOptions::new().write(true).open(ex.drive.join("x/sub/f2")).unwrap();
    f.set_len(2).unwrap();
    let e = std::fs::OpenOptions::new().write(true).open(ex.drive.join(BOOK).join("d0/e0")).unwrap();
    e.set_len(0).unwrap();
    assert_damage_handled(
        &ex,
        &[problem("x/sub/f2", None, "truncated"), problem(BOOK, Some("d0/e0"), "truncated")],
        &["x/sub/f2", BOOK],
    );
}

#[test]
fn deleted_file() {
    let ex = exported_drive();
    std::fs::remove_file(ex.drive.join("x/f0")).unwrap();
    assert_damage_handled(&ex, &[problem("x/f0", None, "missing")], &["x/f0"]);
}

#[test]
fn deleted_book_entry() {
    let ex = exported_drive();
    std::fs::remove_file(ex.drive.join(BOOK).join("top")).unwrap();
    assert_damage_handled(&ex, &[problem(BOOK, Some("top"), "missing")], &[BOOK]);
}

#[test]
fn added_file_in_a_book() {
    let ex = exported_drive();
    write_text(&ex.drive.join(BOOK).join("d0/intruder"), "not exported\n");
    assert_damage_handled(&ex, &[problem(BOOK, Some("d0/intruder"), "extra")], &[BOOK]);
}

#[test]
fn added_file_on_the_drive() {
    // Not in the manifest: verify names it; import leaves it alone and imports the rest.
    let ex = exported_drive();
    write_text(&ex.drive.join("x/intruder"), "not exported\n");
    let v = verify_drive(&ex.drive);
    v.expect_code(1);
    assert_eq!(problems(&v.json()["problems"]), [problem("x/intruder", None, "extra")].into_iter().collect(), "{v}");
    let b = importer();
    let out = import(&b, &ex.drive, &[]);
    assert_eq!(strings(&out.json()["imported"]), all_names(), "{out}");
    b.assert_consistent();
    b.json(["info", "x/intruder"]).expect_error(1, "not_found");
}

#[test]
fn manifest_checksum_edited() {
    let ex = exported_drive();
    edit_manifest(&ex.drive, |m| {
        let f = manifest_file(m, "x/f0");
        let sum = f["checksum"].as_str().unwrap().to_owned();
        // Same length, other digest.
        let (alg, hex) = sum.split_once(':').unwrap();
        let other: String = hex.chars().map(|c| if c == '0' { '1' } else { '0' }).collect();
        f["checksum"] = json!(format!("{alg}:{other}"));
    });
    // An edited manifest is not trusted for anything: verify names the edit, import
    // refuses every file (a checksum in it could have been changed to match bad bytes).
    let everything = all_names();
    assert_damage_handled(
        &ex,
        &[problem(MANIFEST, None, "manifest_altered"), problem("x/f0", None, "altered")],
        &everything.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

#[test]
fn manifest_size_edited() {
    let ex = exported_drive();
    edit_manifest(&ex.drive, |m| {
        let f = manifest_file(m, "x/f1");
        f["size"] = json!(f["size"].as_u64().unwrap() + 1);
    });
    let everything = all_names();
    assert_damage_handled(
        &ex,
        &[problem(MANIFEST, None, "manifest_altered"), problem("x/f1", None, "truncated")],
        &everything.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

#[test]
fn manifest_rewritten_to_match_altered_bytes() {
    // Someone alters a file and rewrites its manifest line (checksum) to match. The
    // digest beside the manifest gives it away: verify says the manifest was altered.
    // Then B must not hold, as A's file, bytes A never had, and A must not believe it
    // does (no RemoteInstance, drive copy still available).
    let p = ClonePair::new("", "");
    let drive = drive_for_pair(&p);
    let path = drive.join("x/f1");
    flip_byte(&path, 0);
    let new_sum = format!("blake3:{}", blake3_hex(&std::fs::read(&path).unwrap()));
    let a_sum = info(&p.a, "x/f1")["checksum"].as_str().unwrap().to_owned();
    assert!(a_sum.starts_with("blake3:") && a_sum != new_sum, "{a_sum}");
    edit_manifest(&drive, |m| manifest_file(m, "x/f1")["checksum"] = json!(new_sum));
    let v = verify_drive(&drive);
    v.expect_code(1);
    assert_eq!(
        problems(&v.json()["problems"]),
        [problem(MANIFEST, None, "manifest_altered")].into_iter().collect(),
        "{v}"
    );
    let out = import(&p.b, &drive, &[]);
    out.expect_code(1);
    p.b.assert_consistent();
    ClonePair::tasks(&p.b, &["deliver-outbox"]).ok();

    let mut wrong = Vec::new();
    let at_b = catalog(&p.b);
    if at_b.get("x/f1") == Some(&new_sum) {
        wrong.push(format!("B committed the altered bytes of x/f1 ({new_sum}; A has {a_sum}) from a drive whose manifest fails its digest"));
    }
    let f = info(&p.a, "x/f1");
    if at_b.get("x/f1") != Some(&a_sum) && !f["remote_instances"].as_array().unwrap().is_empty() {
        wrong.push(format!(
            "A records a RemoteInstance of x/f1 at site-b, which holds other bytes: {}",
            f["remote_instances"]
        ));
    }
    if f["instances"].as_array().unwrap().iter().any(|i| i["store"] == "drive1" && i["available"] == false) {
        wrong.push("A marked its drive copy of x/f1 unavailable".into());
    }
    assert!(wrong.is_empty(), "{}\n{out}", wrong.join("\n"));
}

#[test]
fn manifest_line_escaping_the_drive() {
    // An added manifest line whose name leaves the drive: a bad entry, never read.
    let ex = exported_drive();
    write_text(&ex.drive.join("../escape"), "outside the drive\n");
    edit_manifest(&ex.drive, |m| {
        let mut line = manifest_file(m, "x/f0").clone();
        line["name"] = json!("../escape");
        line["transfer_id"] = json!(999);
        m["files"].as_array_mut().unwrap().push(line);
    });
    let mut everything: Vec<String> = all_names().into_iter().collect();
    everything.push("../escape".into());
    assert_damage_handled(
        &ex,
        &[problem(MANIFEST, None, "manifest_altered"), problem("../escape", None, "bad_entry")],
        &everything.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

#[test]
fn file_replaced_by_a_symlink_to_the_same_bytes() {
    // Verify reads the drive as it is: a symlink is not the exported file, even when it
    // points at the same bytes; import must agree with verify.
    let ex = exported_drive();
    let outside = ex.a.tmp().join("elsewhere");
    std::fs::copy(ex.drive.join("x/f0"), &outside).unwrap();
    std::fs::remove_file(ex.drive.join("x/f0")).unwrap();
    std::os::unix::fs::symlink(&outside, ex.drive.join("x/f0")).unwrap();
    assert_damage_handled(&ex, &[problem("x/f0", None, "unsupported")], &["x/f0"]);
}

#[test]
fn name_held_at_b_with_other_bytes_is_a_conflict() {
    let ex = exported_drive();
    let b = importer();
    let src = b.src("mine");
    write_text(&src, "B's own x/f0\n");
    b.upload(&src, "x/f0", &[]).ok();
    let mine = info(&b, "x/f0")["checksum"].clone();
    let out = import(&b, &ex.drive, &[]);
    out.expect_code(1);
    let r = out.json();
    assert_eq!(
        r["refused"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["x/f0"],
        "{out}"
    );
    assert_eq!(strings(&r["imported"]), set(&["x/f1", "x/sub/f2", BOOK]), "{out}");
    assert_eq!(info(&b, "x/f0")["checksum"], mine, "nothing overwritten");
    let conflicts = events(&b, "conflict");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0]["subject"], "x/f0");
    b.assert_consistent();
}

#[test]
fn export_run_again_reuses_its_transfers() {
    let a = Site::named("site-a");
    add_dead_peer(&a, "site-b");
    let drive = put_fixtures_on_drive(&a);
    a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b"]).ok();
    let first = ClonePair::transfers(&a, None);
    let manifest_ids = |d: &Path| -> BTreeSet<i64> {
        let m: Value = serde_json::from_slice(&std::fs::read(d.join(MANIFEST)).unwrap()).unwrap();
        m["files"].as_array().unwrap().iter().map(|f| f["transfer_id"].as_i64().unwrap()).collect()
    };
    let ids = manifest_ids(&drive);
    assert_eq!(ids.len(), 4);
    let again = a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b"]);
    again.ok();
    assert_eq!(strings(&again.json()["files"]), all_names(), "{again}");
    assert_eq!(ClonePair::transfers(&a, None), first, "no new transfers");
    assert_eq!(manifest_ids(&drive), ids);
    assert_eq!(first.iter().map(|t| t["id"].as_i64().unwrap()).collect::<BTreeSet<_>>(), ids);
    verify_drive(&drive).ok();
}

/// BLAKE3 of `bytes` (hex), by uploading them at a scratch site.
fn blake3_hex(bytes: &[u8]) -> String {
    let scratch = Site::new();
    let src = scratch.src("blob");
    std::fs::write(&src, bytes).unwrap();
    scratch.upload(&src, "blob", &[]).ok();
    info(&scratch, "blob")["checksum"].as_str().unwrap().trim_start_matches("blake3:").to_owned()
}

#[test]
fn manifest_digest_deleted() {
    let ex = exported_drive();
    std::fs::remove_file(ex.drive.join(MANIFEST_DIGEST)).unwrap();
    let v = verify_drive(&ex.drive);
    v.expect_code(1);
    assert_eq!(
        problems(&v.json()["problems"]),
        [problem(MANIFEST, None, "manifest_altered")].into_iter().collect(),
        "{v}"
    );
}

#[test]
fn manifest_deleted() {
    let ex = exported_drive();
    std::fs::remove_file(ex.drive.join(MANIFEST)).unwrap();
    let v = verify_drive(&ex.drive);
    let msg = v.expect_error(1, "not_found");
    assert!(msg.contains(MANIFEST) && msg.contains("manifest"), "{v}");
    let text = run_outcome(bare_librarian().args(["sneakernet", "verify"]).arg(&ex.drive));
    assert_ne!(text.code(), Some(0), "{text}");
    assert!(text.stderr.contains(MANIFEST), "{text}");
    let b = importer();
    let out = import(&b, &ex.drive, &[]);
    out.expect_error(1, "not_found");
    assert!(b.files().is_empty());
    assert_eq!(outbox_len(&b), 0);
}

// ---------------------------------------------------------------------------------
// 3. Import twice
// ---------------------------------------------------------------------------------

#[test]
fn import_twice_changes_nothing_the_second_time() {
    let p = ClonePair::new("", "");
    let drive = drive_for_pair(&p);

    let first = import(&p.b, &drive, &[]);
    first.ok();
    assert_eq!(strings(&first.json()["imported"]), all_names(), "{first}");
    let queued = outbox_len(&p.b);
    assert_eq!(queued, 4);
    let transfers_before = ClonePair::transfers(&p.b, None);

    let second = import(&p.b, &drive, &[]);
    second.ok();
    let r = second.json();
    assert_eq!(r["imported"], json!([]), "{second}");
    assert_eq!(strings(&r["already_imported"]), all_names(), "{second}");
    assert_eq!(r["callbacks_queued"], 0, "{second}");
    assert_eq!(outbox_len(&p.b), queued, "no duplicate callbacks");
    assert_eq!(ClonePair::transfers(&p.b, None), transfers_before);
    p.b.assert_consistent();

    ClonePair::tasks(&p.b, &["deliver-outbox"]).ok();
    // A third import after the calls were delivered still queues nothing.
    let third = import(&p.b, &drive, &[]);
    third.ok();
    assert_eq!(third.json()["callbacks_queued"], 0, "{third}");
    ClonePair::tasks(&p.b, &["deliver-outbox"]).ok();
    assert_eq!(outbox_len(&p.b), 0);
    for f in p.a.files() {
        assert_eq!(f["remote_instances"].as_array().unwrap().len(), 1, "{f}");
    }
    assert_eq!(events(&p.a, "drive_done").len(), 1);
}

#[test]
fn import_again_after_repairing_a_refused_file() {
    // The first import refuses the damaged file and takes the rest; once the file is
    // repaired, the same import takes just that one and queues just its call.
    let p = ClonePair::new("", "");
    let drive = drive_for_pair(&p);
    flip_byte(&drive.join("x/f1"), 2);
    let first = import(&p.b, &drive, &[]);
    first.expect_code(1);
    assert_eq!(first.json()["imported"].as_array().unwrap().len(), 3, "{first}");
    assert_eq!(outbox_len(&p.b), 3);
    flip_byte(&drive.join("x/f1"), 2);
    verify_drive(&drive).ok();
    let second = import(&p.b, &drive, &[]);
    second.ok();
    let r = second.json();
    assert_eq!(r["imported"], json!(["x/f1"]), "{second}");
    assert_eq!(strings(&r["already_imported"]), set(&["x/f0", "x/sub/f2", BOOK]), "{second}");
    assert_eq!(r["callbacks_queued"], 1, "{second}");
    assert_eq!(outbox_len(&p.b), 4);
    p.b.assert_consistent();
    ClonePair::tasks(&p.b, &["deliver-outbox"]).ok();
    assert_eq!(outbox_len(&p.b), 0);
    for f in p.a.files() {
        assert_eq!(f["remote_instances"].as_array().unwrap().len(), 1, "{f}");
    }
    assert_eq!(events(&p.a, "drive_done").len(), 1);
}

// ---------------------------------------------------------------------------------
// 4. The existing Librarian's manifest
// ---------------------------------------------------------------------------------

/// The checksum `librarian upload --algorithm ALG` computes for `src` (at a scratch
/// site), as printed (`xxh3:<hex>`, `md5:<hex>`).
fn product_checksum(scratch: &Site, src: &Path, algorithm: &str) -> String {
    let name = format!("scratch/{}", scratch.files().len());
    scratch.upload(src, &name, &["--algorithm", algorithm]).ok();
    info(scratch, &name)["checksum"].as_str().unwrap().to_owned()
}

#[test]
fn legacy_manifest_of_the_existing_librarian() {
    let drive_parent = tempfile::tempdir().unwrap();
    let drive = drive_parent.path().join("drive");
    write_text(&drive.join("2019/obs_empty.uvh5"), "");
    write_text(&drive.join("2019/obs_1.uvh5"), "visibilities, the old way\n");
    write_text(&drive.join("2019/obs_2.uvh5"), "md5 was the first algorithm\n");
    write_text(&drive.join("2019/book.ms/table.dat"), "a measurement set\n");
    write_text(&drive.join("2019/book.ms/sub/table.f0"), "column data\n");

    let scratch = Site::new();
    let x_empty = product_checksum(&scratch, &drive.join("2019/obs_empty.uvh5"), "xxh3");
    // The published XXH3-128 of empty input.
    assert_eq!(x_empty, "xxh3:99aa06d3014798d86001c324468d497f");
    let x1 = product_checksum(&scratch, &drive.join("2019/obs_1.uvh5"), "xxh3");
    let m2 = product_checksum(&scratch, &drive.join("2019/obs_2.uvh5"), "md5");
    let mbook = product_checksum(&scratch, &drive.join("2019/book.ms"), "md5");
    let hex = |s: &str| s.split_once(':').unwrap().1.to_owned();
    let entry = |name: &str, size: u64, checksum: String| {
        json!({
            "name": name,
            "create_time": "2026-01-02T03:04:05",
            "size": size,
            "checksum": checksum,
            "uploader": "hera",
            "source": "karoo",
            "instance_path": format!("/mnt/store/{name}"),
            "deletion_policy": "DISALLOWED",
            "instance_create_time": "2026-01-02T03:04:06.123456",
            "instance_available": true,
            "outgoing_transfer_id": -1,
        })
    };
    let manifest = json!({
        "librarian_name": "karoo-librarian",
        "store_name": "sneaker-07",
        "store_files": [
            entry("2019/obs_empty.uvh5", 0, format!("xxh3:::{}", hex(&x_empty))),
            entry("2019/obs_1.uvh5", 26, format!("xxh3:::{}", hex(&x1))),
            entry("2019/obs_2.uvh5", 28, hex(&m2)),
            entry("2019/book.ms", 30, format!("md5:::{}", hex(&mbook))),
        ],
    });
    std::fs::write(drive.join("manifest.json"), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();

    let v = verify_drive(&drive);
    v.ok();
    let vr = v.json();
    assert_eq!(
        (vr["legacy"].clone(), vr["files"].clone(), vr["intact"].clone()),
        (json!(true), json!(4), json!(4)),
        "{v}"
    );
    assert_eq!(vr["site"], "karoo-librarian");

    // No peer karoo-librarian at B: a legacy drive needs none.
    let b = Site::named("site-b");
    let before = tree(&drive);
    let out = import(&b, &drive, &[]);
    out.ok();
    let r = out.json();
    assert_eq!(r["imported"].as_array().unwrap().len(), 4, "{out}");
    assert_eq!(r["callbacks_queued"], 0, "{out}");
    assert_eq!(tree(&drive), before, "the import wrote nothing on the drive");
    b.assert_consistent();
    for (name, want) in [
        ("2019/obs_empty.uvh5", &x_empty),
        ("2019/obs_1.uvh5", &x1),
        ("2019/obs_2.uvh5", &m2),
        ("2019/book.ms", &mbook),
    ] {
        let f = info(&b, name);
        assert_eq!(f["checksum"].as_str(), Some(want.as_str()), "{f}");
        assert_eq!((f["uploader"].as_str(), f["source"].as_str()), (Some("hera"), Some("karoo")), "{f}");
        assert_eq!(f["created_at"], "2026-01-02T03:04:05Z", "the existing Librarian's create_time: {f}");
    }
    assert_eq!(info(&b, "2019/book.ms")["kind"], "directory");

    // Damage to a legacy drive is caught with the legacy digests too.
    flip_byte(&drive.join("2019/obs_1.uvh5"), 0);
    let v = verify_drive(&drive);
    v.expect_code(1);
    assert_eq!(problems(&v.json()["problems"]), [problem("2019/obs_1.uvh5", None, "altered")].into_iter().collect());
}

// ---------------------------------------------------------------------------------
// 5. Bad inputs and dry runs
// ---------------------------------------------------------------------------------

#[test]
fn export_of_unknown_store_or_to_unknown_peer() {
    let a = Site::named("site-a");
    add_dead_peer(&a, "site-b");
    a.run(["store", "add", "drive1", "--root", a.tmp().join("drive1").to_str().unwrap()]).ok();
    a.json(["sneakernet", "export", "--store", "nope", "--to", "site-b"]).expect_error(1, "not_found");
    let msg = a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-z"]).expect_error(1, "not_found");
    assert!(msg.contains("site-z"), "{msg}");
    assert_eq!(store(&a, "drive1")["enabled"], true);
    assert!(list_dir(&a.tmp().join("drive1")).is_empty());
}

#[test]
fn import_from_a_site_that_is_not_a_peer() {
    let ex = exported_drive();
    let b = Site::named("site-b");
    let out = import(&b, &ex.drive, &[]);
    let msg = out.expect_error(1, "not_found");
    assert!(msg.contains("site-a") && msg.contains("peer"), "{out}");
    assert!(b.files().is_empty());
    assert!(ClonePair::transfers(&b, None).is_empty());
    assert_eq!(outbox_len(&b), 0);

    // Once it is a peer, an unknown --store is refused before anything is imported.
    add_dead_peer(&b, "site-a");
    import(&b, &ex.drive, &["--store", "nope"]).expect_error(1, "not_found");
    assert!(b.files().is_empty());
    assert_eq!(outbox_len(&b), 0);
}

#[test]
fn verify_of_a_directory_without_manifest() {
    let dir = tempfile::tempdir().unwrap();
    write_text(&dir.path().join("some/file"), "data\n");
    let out = verify_drive(dir.path());
    let msg = out.expect_error(1, "not_found");
    assert!(msg.contains(MANIFEST), "{out}");
    let missing = dir.path().join("no-such-dir");
    assert_ne!(verify_drive(&missing).code(), Some(0));
}

/// What a dry run must leave alone at a site.
fn snapshot(site: &Site) -> (Vec<Value>, Value, Vec<Value>, usize) {
    let stores = site.json(["store", "list"]);
    stores.ok();
    let mut stores = stores.json();
    for s in stores.as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("free_bytes");
    }
    (ClonePair::transfers(site, None), stores, site.files(), outbox_len(site))
}

#[test]
fn dry_runs_change_nothing() {
    let a = Site::named("site-a");
    add_dead_peer(&a, "site-b");
    let drive = put_fixtures_on_drive(&a);
    let before = snapshot(&a);
    let drive_before = tree(&drive);
    let out = a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b", "--dry-run"]);
    out.ok();
    let r = out.json();
    assert_eq!((r["dry_run"].clone(), strings(&r["files"])), (json!(true), all_names()), "{out}");
    assert_eq!(snapshot(&a), before);
    assert_eq!(tree(&drive), drive_before, "a dry run writes nothing on the drive");
    assert_ne!(verify_drive(&drive).code(), Some(0), "no manifest after a dry run");

    // The real export, then a dry-run import.
    a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b"]).ok();
    flip_byte(&drive.join("x/f0"), 0);
    let b = importer();
    let before = snapshot(&b);
    let drive_before = tree(&drive);
    let out = import(&b, &drive, &["--dry-run"]);
    out.expect_code(1);
    let r = out.json();
    assert_eq!(r["dry_run"], true, "{out}");
    let would: BTreeSet<String> = all_names().into_iter().filter(|n| n != "x/f0").collect();
    assert_eq!(strings(&r["imported"]), would, "{out}");
    assert_eq!(problems(&r["refused"]), [problem("x/f0", None, "altered")].into_iter().collect(), "{out}");
    assert_eq!(r["callbacks_queued"], 0, "{out}");
    assert_eq!(snapshot(&b), before);
    assert_eq!(tree(&drive), drive_before);
    assert!(list_dir(&b.staging()).is_empty());
    let ev = b.json(["events", "list"]);
    assert_eq!(ev.json(), json!([]), "{ev}");
}

/// An import killed at each step of committing a file from the drive (through its
/// fault point): the next import takes what is left and records what the killed one
/// committed, B is consistent, and A learns of every file exactly once.
#[test]
fn an_import_killed_at_each_step_converges() {
    use std::os::unix::process::ExitStatusExt;
    for point in ["ingest.after-intent", "ingest.after-rename", "ingest.after-commit", "import.after-ingest"] {
        let p = ClonePair::new("", "");
        let drive = drive_for_pair(&p);
        let killed = run_outcome(
            p.b.cmd().arg("--json").args(["sneakernet", "import"]).arg(&drive).env("LIBRARIAN_FAULT", point),
        );
        assert_eq!(killed.status.signal(), Some(libc::SIGKILL), "{point}: {killed}");
        p.b.assert_consistent_after_kill();
        let again = import(&p.b, &drive, &[]);
        again.ok();
        let r = again.json();
        let mut seen = strings(&r["imported"]);
        seen.extend(strings(&r["already_imported"]));
        seen.extend(strings(&r["already_present"]));
        assert_eq!(seen, all_names(), "{point}: {again}");
        // (An ingest killed after its commit leaves its empty staging directory for
        // `cleanup`.)
        p.b.assert_consistent_after_kill();
        verify_drive(&drive).ok();
        ClonePair::tasks(&p.b, &["deliver-outbox"]).ok();
        assert_eq!(outbox_len(&p.b), 0, "{point}");
        for f in p.a.files() {
            assert_eq!(f["remote_instances"].as_array().unwrap().len(), 1, "{point}: {f}");
        }
        assert_eq!(events(&p.a, "drive_done").len(), 1, "{point}");
    }
}

// ---------------------------------------------------------------------------------
// 6. Issue 11: creation times on a drive; files the destination already holds
// ---------------------------------------------------------------------------------

fn time(v: &Value) -> jiff::Timestamp {
    v.as_str().unwrap_or_else(|| panic!("not a time: {v}")).parse().unwrap()
}

/// Bug 7: a file imported from a drive keeps its creation time at its origin (the
/// manifest's `created_at`); its arrival is `arrived_at`.
#[test]
fn creation_time_travels_on_the_drive() {
    let ex = exported_drive();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = importer();
    import(&b, &ex.drive, &[]).ok();
    for name in all_names() {
        let (at_a, at_b) = (info(&ex.a, &name), info(&b, &name));
        assert_eq!(at_b["created_at"], at_a["created_at"], "{at_b}");
        assert_eq!(at_a["arrived_at"], at_a["created_at"], "{at_a}");
        let waited = time(&at_b["arrived_at"]).duration_since(time(&at_b["created_at"]));
        assert!(waited.as_secs_f64() >= 1.1, "arrived_at is the import: {at_b}");
    }
}

/// Bug 9: export leaves out of the delivery the files the destination already holds
/// (a remote instance there): they stay on the drive and in the manifest (so the drive
/// checks out whole) but get no transfer and their drive copies are retired; the
/// report says how many. `--include-held` exports them like the others.
#[test]
fn export_sends_no_transfer_for_files_the_destination_holds_unless_asked() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    upload_fixtures(&p.a);
    p.converge(5);
    assert_eq!(catalog(&p.b).len(), 4, "B holds the fixtures");
    let fresh = ["y/new0", "y/new1"];
    for name in fresh {
        let src = p.a.src(name);
        write_text(&src, &format!("{name} is new\n"));
        p.a.upload(&src, name, &[]).ok();
    }
    let drive = p.a.tmp().join("drive1");
    let r = fill_drive(&p.a, "drive1", &drive, &p.a.tmp().join("drive1.staging"), 0);
    assert_eq!(r["copied"], 6, "{r}");
    let everything: BTreeSet<String> = all_names().into_iter().chain(fresh.map(str::to_owned)).collect();

    let dry = p.a.run(["sneakernet", "export", "--store", "drive1", "--to", "site-b", "--dry-run"]);
    dry.ok();
    assert!(dry.stdout.contains("4 already held at site-b"), "{dry}");
    let out = p.a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b"]);
    out.ok();
    let ex = out.json();
    assert_eq!(strings(&ex["files"]), everything, "{out}");
    assert_eq!(strings(&ex["held"]), all_names(), "{out}");
    assert_eq!(ex["skipped"], json!([]), "{out}");
    let sent: BTreeSet<String> =
        ClonePair::transfers(&p.a, Some("ongoing")).iter().map(|t| t["file"].as_str().unwrap().to_owned()).collect();
    assert_eq!(sent, set(&fresh), "transfers only for what B lacks");
    let m: Value = serde_json::from_slice(&std::fs::read(drive.join(MANIFEST)).unwrap()).unwrap();
    for f in m["files"].as_array().unwrap() {
        let held = all_names().contains(f["name"].as_str().unwrap());
        assert_eq!(f["transfer_id"].is_null(), held, "{f}");
    }
    for name in all_names() {
        let f = info(&p.a, &name);
        let on_drive = f["instances"].as_array().unwrap().iter().find(|i| i["store"] == "drive1").unwrap().clone();
        assert_eq!(on_drive["available"], false, "the drive copy of a held file is retired: {f}");
    }
    verify_drive(&drive).ok();
    // Run again (after an interruption, say): the same files, the same transfers.
    let before = ClonePair::transfers(&p.a, None);
    let again = p.a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b"]);
    again.ok();
    assert_eq!((strings(&again.json()["files"]), strings(&again.json()["held"])), (everything.clone(), all_names()));
    assert_eq!(ClonePair::transfers(&p.a, None), before);
    verify_drive(&drive).ok();

    // B imports what it lacks and finds the rest; only the fresh files call back.
    let out = import(&p.b, &drive, &[]);
    out.ok();
    let r = out.json();
    assert_eq!(strings(&r["imported"]), set(&fresh), "{out}");
    assert_eq!(strings(&r["already_present"]), all_names(), "{out}");
    assert_eq!(r["callbacks_queued"], 2, "{out}");
    ClonePair::tasks(&p.b, &["deliver-outbox"]).ok();
    assert_eq!(events(&p.a, "drive_done").len(), 1);
    p.a.run(["store", "recycle", "drive1"]).ok();

    // Asked to, export makes a transfer for every file, held or not.
    let drive2 = p.a.tmp().join("drive2");
    let r = fill_drive(&p.a, "drive2", &drive2, &p.a.tmp().join("drive2.staging"), 0);
    assert_eq!(r["copied"], 6, "{r}");
    let out = p.a.json(["sneakernet", "export", "--store", "drive2", "--to", "site-b", "--include-held"]);
    out.ok();
    assert_eq!(out.json()["held"], json!([]), "{out}");
    let ongoing = ClonePair::transfers(&p.a, Some("ongoing"));
    assert_eq!(ongoing.len(), 6, "{ongoing:?}");
    assert!(ongoing.iter().all(|t| t["store"] == "drive2"));
}
