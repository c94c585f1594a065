//! The local clone (SneakerNet): `librarian clone local` and the `clone-local` task fill
//! a drive store with verified copies, stop at its reserve with a `store_full` event,
//! refuse to copy a corrupt source, and survive being killed mid-copy. Real processes;
//! the full-drive test needs permission to mount tmpfs (skipped otherwise).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use librarian_e2e::*;
use serde_json::Value;

/// `store add NAME --root DIR/data --staging DIR/staging --no-ingest --reserve BYTES`.
fn add_drive(site: &Site, name: &str, dir: &Path, reserve: u64) -> PathBuf {
    let root = dir.join("data");
    let staging = dir.join("staging");
    site.json([
        "store",
        "add",
        name,
        "--root",
        root.to_str().unwrap(),
        "--staging",
        staging.to_str().unwrap(),
        "--no-ingest",
        "--reserve",
        &reserve.to_string(),
    ])
    .ok();
    std::fs::canonicalize(root).unwrap()
}

/// `clone local --json --from main --to TO EXTRA...`.
fn clone_local(site: &Site, to: &str, extra: &[&str]) -> Outcome {
    site.json(["clone", "local", "--from", "main", "--to", to].iter().chain(extra))
}

/// The stores holding an instance of `name`, sorted.
fn stores_of(site: &Site, name: &str) -> Vec<String> {
    let info = site.json(["info", name]);
    info.ok();
    let mut v: Vec<String> =
        info.json()["instances"].as_array().unwrap().iter().map(|i| i["store"].as_str().unwrap().to_owned()).collect();
    v.sort();
    v
}

/// Instance paths on `store` of every catalogued file.
fn instance_paths(site: &Site, store: &str) -> Vec<PathBuf> {
    site.files()
        .iter()
        .flat_map(|f| f["instances"].as_array().unwrap().clone())
        .filter(|i| i["store"] == store)
        .map(|i| PathBuf::from(i["path"].as_str().unwrap()))
        .collect()
}

/// `verify --store STORE` passes and checked `n` instances.
#[track_caller]
fn verify_store(site: &Site, store: &str, n: usize) {
    let v = site.json(["verify", "--store", store]);
    v.ok();
    assert_eq!(v.json()["ok"], true, "{v}");
    assert_eq!(v.json()["checked"].as_array().map(Vec::len), Some(n), "{v}");
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

#[test]
fn files_and_a_book_go_to_a_drive_verified_and_only_once() {
    let site = Site::new();
    write_text(&site.src("a.dat"), "first file");
    write_text(&site.src("book/x.dat"), "inside the book");
    write_text(&site.src("book/sub/y.dat"), "deeper inside");
    write_text(&site.src("c.dat"), "third file");
    for (src, name) in [("a.dat", "2026/a.dat"), ("book", "2026/book"), ("c.dat", "2026/c.dat")] {
        site.upload(&site.src(src), name, &[]).ok();
    }
    let drive = add_drive(&site, "drive1", &site.tmp().join("drive1"), 0);

    // A dry run lists the plan, oldest first, and changes nothing.
    let dry = clone_local(&site, "drive1", &["--dry-run"]);
    dry.ok();
    let plan = dry.json();
    assert_eq!(strings(&plan["planned"]), ["2026/a.dat", "2026/book", "2026/c.dat"], "{dry}");
    assert_eq!((plan["copied"].as_u64(), plan["full"].as_bool()), (Some(0), Some(false)), "{dry}");
    assert!(walk(&drive).is_empty(), "a dry run copied something: {:?}", walk(&drive));
    assert_eq!(stores_of(&site, "2026/a.dat"), ["main"]);
    let text = site.run(["clone", "local", "--from", "main", "--to", "drive1", "--dry-run"]);
    text.ok();
    assert!(text.stdout.contains("2026/book") && text.stderr.contains("3 file(s) would be copied"), "{text}");

    let out = clone_local(&site, "drive1", &[]);
    out.ok();
    let r = out.json();
    let want = ("first file".len() + "inside the book".len() + "deeper inside".len() + "third file".len()) as u64;
    assert_eq!((r["copied"].as_u64(), r["bytes"].as_u64(), r["full"].as_bool()), (Some(3), Some(want), Some(false)));
    assert_eq!(r["failed"], Value::Array(vec![]), "{out}");
    for name in ["2026/a.dat", "2026/book", "2026/c.dat"] {
        assert_eq!(stores_of(&site, name), ["drive1", "main"], "{name}");
    }
    assert_eq!(std::fs::read_to_string(drive.join("2026/book/sub/y.dat")).unwrap(), "deeper inside");
    verify_store(&site, "drive1", 3);
    let stray = uncovered(&drive, &instance_paths(&site, "drive1"));
    assert!(stray.is_empty(), "uncatalogued data on the drive: {stray:?}");

    // Again: nothing to copy.
    let again = clone_local(&site, "drive1", &[]);
    again.ok();
    assert_eq!((again.json()["copied"].as_u64(), again.json()["already_there"].as_u64()), (Some(0), Some(3)));
    let text = site.run(["clone", "local", "--from", "main", "--to", "drive1"]);
    text.ok();
    assert!(text.stdout.contains("copied 0 file(s) (0 bytes) from main to drive1; 3 already there"), "{text}");

    // Bad arguments.
    clone_local(&site, "nope", &[]).expect_error(1, "not_found");
    site.json(["clone", "local", "--from", "main", "--to", "main"]).expect_error(2, "invalid_argument");
    site.json(["store", "disable", "drive1"]).ok();
    let msg = clone_local(&site, "drive1", &[]).expect_error(2, "invalid_argument");
    assert!(msg.contains("disabled"), "{msg}");
}

#[test]
fn a_full_drive_raises_store_full_and_the_next_drive_gets_the_rest() {
    let site = Site::new();
    let names: Vec<String> = (0..5).map(|i| format!("2026/obs_{i}.dat")).collect();
    for (i, name) in names.iter().enumerate() {
        let src = site.src(&format!("obs_{i}.dat"));
        write_random(&src, 1_000_000, i as u64);
        site.upload(&src, name, &[]).ok();
    }
    // 4 MiB with 1 MiB kept in reserve: room for about three of the five files.
    let Some(mnt) = Tmpfs::mount(&site.tmp().join("drive1"), "size=4m") else { return };
    let drive1 = add_drive(&site, "drive1", &mnt.0, 1 << 20);

    let dry = clone_local(&site, "drive1", &["--dry-run"]);
    dry.ok();
    assert_eq!(dry.json()["full"], true, "{dry}");
    let out = clone_local(&site, "drive1", &[]);
    out.ok();
    let r = out.json();
    let copied = r["copied"].as_u64().unwrap();
    let left = r["left_for_next_drive"].as_u64().unwrap();
    assert_eq!(r["full"], true, "{out}");
    assert!(copied >= 1 && copied + left == 5, "{out}");
    assert_eq!(strings(&dry.json()["planned"]).len() as u64, copied, "the dry run planned what fitted: {dry}");
    // Order is kept: the oldest files are on the drive, the newest wait.
    for (i, name) in names.iter().enumerate() {
        let want: &[&str] = if (i as u64) < copied { &["drive1", "main"] } else { &["main"] };
        assert_eq!(stores_of(&site, name), want, "{name}");
    }
    verify_store(&site, "drive1", copied as usize);
    assert!(list_dir(&mnt.0.join("staging")).is_empty(), "staging: {:?}", list_dir(&mnt.0.join("staging")));

    let events = site.json(["events", "list"]);
    events.ok();
    let ev = events.json();
    let full: Vec<&Value> = ev.as_array().unwrap().iter().filter(|e| e["category"] == "store_full").collect();
    assert_eq!(full.len(), 1, "{events}");
    assert_eq!((full[0]["subject"].as_str(), full[0]["severity"].as_str()), (Some("drive1"), Some("warning")));
    assert!(full[0]["message"].as_str().unwrap().contains(&format!("{left} files")), "{events}");

    // The task fills the drives in order: drive1 is full, drive2 gets the rest.
    let drive2 = add_drive(&site, "drive2", &site.tmp().join("drive2"), 0);
    let base = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(site.config(), format!("{base}\n[clone.local]\nfrom = \"main\"\nto = [\"drive1\", \"drive2\"]\n"))
        .unwrap();
    let task = site.json(["tasks", "run", "--only", "clone-local"]);
    task.ok();
    let msg = task.json()[0]["message"].as_str().unwrap().to_owned();
    assert_eq!(task.json()[0]["status"], "ok", "{task}");
    assert!(
        msg.contains(&format!("drive1 full, {left} files wait for the next drive"))
            && msg.contains(&format!("copied {left} files (")),
        "{msg}"
    );
    for (i, name) in names.iter().enumerate() {
        let want: &[&str] = if (i as u64) < copied { &["drive1", "main"] } else { &["drive2", "main"] };
        assert_eq!(stores_of(&site, name), want, "one copy among the drives: {name}");
    }
    verify_store(&site, "drive2", left as usize);
    assert_eq!(walk(&drive2).iter().filter(|p| p.is_file()).count() as u64, left);
    assert_eq!(walk(&drive1).iter().filter(|p| p.is_file()).count() as u64, copied);

    // A later run finds nothing to do (nothing waits, so drive1 is not reported full).
    let task = site.json(["tasks", "run", "--only", "clone-local"]);
    task.ok();
    assert_eq!(task.json()[0]["message"], "copied 0 files (0 bytes) to drive1", "{task}");
    std::fs::write(site.config(), format!("{base}\n[clone.local]\nfrom = \"main\"\nto = []\n")).unwrap();
    site.json(["tasks", "run", "--only", "clone-local"]).expect_error(1, "config");
    drop(mnt);
}

#[test]
fn a_corrupt_source_is_not_copied_and_the_others_are() {
    let site = Site::new();
    for (i, name) in ["2026/a.dat", "2026/b.dat", "2026/c.dat"].iter().enumerate() {
        let src = site.src(&format!("f{i}"));
        write_random(&src, 10_000, i as u64);
        site.upload(&src, name, &[]).ok();
    }
    flip_byte(&site.data().join("2026/b.dat"), 1234);
    let drive = add_drive(&site, "drive1", &site.tmp().join("drive1"), 0);

    let out = clone_local(&site, "drive1", &[]);
    out.expect_code(1);
    let r = out.json();
    assert_eq!(r["copied"], 2, "{out}");
    let failed = r["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{out}");
    assert_eq!(failed[0][0], "2026/b.dat");
    assert!(failed[0][1].as_str().unwrap().contains("corrupt"), "{out}");
    assert!(out.stderr.contains("2026/b.dat"), "{out}");
    assert!(!drive.join("2026/b.dat").exists(), "the bad copy reached the drive");
    assert_eq!(stores_of(&site, "2026/b.dat"), ["main"]);
    verify_store(&site, "drive1", 2);
    assert!(list_dir(&site.tmp().join("drive1/staging")).is_empty());

    // Still corrupt: still refused, nothing else to copy.
    let again = clone_local(&site, "drive1", &[]);
    again.expect_code(1);
    assert_eq!((again.json()["copied"].as_u64(), again.json()["already_there"].as_u64()), (Some(0), Some(2)));
}

#[test]
fn a_run_killed_mid_copy_and_run_again_ends_consistent() {
    let site = Site::fast();
    let n = 4;
    for i in 0..n {
        let src = site.src(&format!("big_{i}"));
        write_random(&src, 24 << 20, 100 + i as u64);
        site.upload(&src, &format!("big/{i}.dat"), &[]).ok();
        std::fs::remove_file(&src).unwrap();
    }
    let drive_dir = site.tmp().join("drive1");
    let drive = add_drive(&site, "drive1", &drive_dir, 0);
    let staging = drive_dir.join("staging");
    let mut rng = Rng::new(7);
    let mut killed_mid_copy = 0;
    for round in 0..4 {
        let mut cmd = site.cmd();
        if round == 0 {
            // Deterministic: killed with a copied payload in the drive's staging area.
            cmd.env("LIBRARIAN_FAULT", "local-clone.after-copy");
        }
        let mut child = cmd
            .args(["clone", "local", "--from", "main", "--to", "drive1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if round == 0 {
            use std::os::unix::process::ExitStatusExt;
            let status = child.wait().unwrap();
            assert_eq!(status.signal(), Some(libc::SIGKILL), "the fault point killed the run");
            assert!(list_dir(&staging).iter().any(|d| d.join("data").exists()), "a payload was left in staging");
            killed_mid_copy += 1;
            continue;
        } else {
            std::thread::sleep(Duration::from_millis(rng.below(150)));
        }
        if child.try_wait().unwrap().is_none() {
            if list_dir(&staging).iter().any(|d| d.join("data").exists()) {
                killed_mid_copy += 1;
            }
            child.kill().unwrap(); // SIGKILL
        }
        child.wait().unwrap();
    }
    assert!(killed_mid_copy >= 1, "the fault point run left a payload in staging");
    // Plant the trace of a run killed between its rename and its insert, torn (as if
    // it were not the run's data): it must be replaced by an intact copy.
    let torn = drive.join("big/3.dat");
    if !instance_paths(&site, "drive1").contains(&torn) {
        let _ = std::fs::remove_file(&torn);
        write_text(&torn, "not the file");
    }

    let out = clone_local(&site, "drive1", &[]);
    out.ok();
    let r = out.json();
    assert_eq!(r["failed"], Value::Array(vec![]), "{out}");
    assert_eq!(r["copied"].as_u64().unwrap() + r["already_there"].as_u64().unwrap(), n as u64, "{out}");
    verify_store(&site, "drive1", n);
    for i in 0..n {
        assert_eq!(stores_of(&site, &format!("big/{i}.dat")), ["drive1", "main"]);
    }
    let stray = uncovered(&drive, &instance_paths(&site, "drive1"));
    assert!(stray.is_empty(), "data on the drive without an instance: {stray:?}");
    let left: Vec<PathBuf> =
        list_dir(&staging).into_iter().filter(|p| !(p.is_dir() && list_dir(p).is_empty())).collect();
    assert!(left.is_empty(), "staging leftovers: {left:?}");
    site.assert_consistent_after_kill();
}
