//! The data life-cycle (issue 13): the scrub finds damaged copies within its budget
//! and marks them; a peer re-verifies its copies on request; rolling deletion and
//! `drop` never delete the last good copy.

use std::collections::BTreeSet;

use librarian_e2e::pair::{ClonePair, append_config};
use librarian_e2e::receiver::Receiver;
use librarian_e2e::{Site, walk, write_random};
use serde_json::Value;

fn instance<'a>(file: &'a Value, store: &str) -> &'a Value {
    file["instances"].as_array().and_then(|a| a.iter().find(|i| i["store"] == store)).expect("an instance there")
}

fn open_events(site: &Site, category: &str) -> Vec<Value> {
    let ev = site.json(["events", "list"]);
    ev.ok();
    ev.json().as_array().expect("events").iter().filter(|e| e["category"] == category).cloned().collect()
}

/// Flip one byte of the file at `path`, in place.
fn flip_byte(path: &std::path::Path, at: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn a_budgeted_scrub_finds_a_corrupt_file_and_book_entry_and_they_stop_being_used_until_intact() {
    let site = Site::new();
    let src = site.src("raw.dat");
    write_random(&src, 200_000, 1);
    site.upload(&src, "2026/raw.dat", &[]).ok();
    let book = site.src("book");
    std::fs::create_dir_all(book.join("sub")).unwrap();
    std::fs::write(book.join("sub/entry"), b"an entry of the book").unwrap();
    std::fs::write(book.join("top"), b"top").unwrap();
    site.upload(&book, "2026/book", &[]).ok();

    let stored_file = site.data().join("2026/raw.dat");
    let stored_entry = site.data().join("2026/book/sub/entry");
    let original_entry = std::fs::read(&stored_entry).unwrap();
    flip_byte(&stored_file, 100_000);
    flip_byte(&stored_entry, 3);

    let scrub = site.json(["verify", "--budget", "100MB"]);
    assert_eq!(scrub.code(), Some(1), "{scrub}");
    let r = scrub.json();
    assert_eq!(r["instances"], 2, "{r}");
    assert_eq!(r["stopped"], "done", "{r}");
    let problems: BTreeSet<String> =
        r["problems"].as_array().unwrap().iter().map(|p| format!("{} {}", p["name"], p["state"])).collect();
    assert_eq!(
        problems,
        BTreeSet::from(["\"2026/book\" \"corrupt\"".to_owned(), "\"2026/raw.dat\" \"corrupt\"".to_owned()]),
        "{r}"
    );
    let book_problem = r["problems"].as_array().unwrap().iter().find(|p| p["name"] == "2026/book").unwrap();
    assert_eq!(book_problem["problems"][0]["entry"], "sub/entry", "the bad entry is named: {r}");

    // Marked, not deleted: the rows and the bytes stay; events say so.
    let info = site.json(["info", "2026/raw.dat"]).json();
    let i = instance(&info, "main");
    assert_eq!((i["state"].as_str(), i["available"].as_bool()), (Some("corrupt"), Some(false)), "{info}");
    assert!(i["state_reason"].as_str().unwrap().contains("hash to"), "{info}");
    assert!(stored_file.exists());
    let events = open_events(&site, "instance_corrupt");
    let subjects: BTreeSet<&str> = events.iter().filter_map(|e| e["subject"].as_str()).collect();
    assert_eq!(subjects, BTreeSet::from(["main/2026/book", "main/2026/raw.dat"]), "{events:?}");

    // A damaged copy is never a source: get refuses without reading it.
    let out = site.tmp().join("out.dat");
    let got = site.json(["get", "2026/raw.dat", out.to_str().unwrap()]);
    assert_eq!(got.code(), Some(1), "{got}");
    assert!(!out.exists());

    // A second scrub does not re-read damaged copies (they wait for a repair).
    let again = site.json(["verify", "--budget", "100MB"]);
    again.ok();
    assert_eq!(again.json()["instances"], 0, "{again}");
    assert_eq!(again.json()["coverage"][0]["damaged"], 2, "{again}");

    // Put the entry's bytes back: verify finds it intact, restores it, clears its event.
    std::fs::write(&stored_entry, &original_entry).unwrap();
    site.json(["verify", "2026/book"]).ok();
    let info = site.json(["info", "2026/book"]).json();
    assert_eq!(instance(&info, "main")["state"], "ok", "{info}");
    assert_eq!(instance(&info, "main")["available"], true, "{info}");
    let events = open_events(&site, "instance_corrupt");
    assert_eq!(events.len(), 1, "only the file's event is left open: {events:?}");
    assert_eq!(events[0]["subject"], "main/2026/raw.dat");
}

#[test]
fn a_scrub_reads_at_most_its_budget_plus_one_file_and_repeated_runs_cover_every_copy_once() {
    let site = Site::new();
    for i in 0..10 {
        let src = site.src(&format!("f{i}"));
        write_random(&src, 300_000, i);
        site.upload(&src, &format!("f{i}"), &[]).ok();
    }
    let mut seen: Vec<BTreeSet<String>> = Vec::new();
    let mut all = BTreeSet::new();
    for _ in 0..4 {
        let run = site.json(["verify", "--budget", "1MB"]);
        run.ok();
        let r = run.json();
        let bytes = r["bytes"].as_u64().unwrap();
        assert!(bytes <= 1_000_000 + 300_000, "at most the budget plus one file: {r}");
        assert!(bytes >= 1_000_000 || r["stopped"] == "done", "stopped early: {r}");
        // Which copies it read: those whose verified_at moved.
        let files = site.files();
        let mut newest: Vec<(String, String)> = files
            .iter()
            .map(|f| {
                (f["instances"][0]["verified_at"].as_str().unwrap().to_owned(), f["name"].as_str().unwrap().to_owned())
            })
            .collect();
        newest.sort();
        let read: BTreeSet<String> =
            newest.iter().rev().take(r["instances"].as_u64().unwrap() as usize).map(|(_, n)| n.clone()).collect();
        assert!(
            read.is_disjoint(&all) || all.union(&read).count() == 10,
            "a copy read again before every copy was read once: {read:?} {all:?}"
        );
        all.extend(read.iter().cloned());
        seen.push(read);
    }
    assert_eq!(all.len(), 10, "four runs of 1 MB cover 3 MB: {seen:?}");

    // An ambiguous budget is a usage error, naming both spellings.
    let bad = site.json(["verify", "--budget", "10m"]);
    let msg = bad.expect_error(2, "invalid_argument");
    assert!(msg.contains("10min") && msg.contains("10MiB"), "{msg}");
}

/// A pair where A may delete from its store `main` once `min_copies` remote copies
/// are verified.
fn deleting_pair(min_copies: u32) -> ClonePair {
    let pair = ClonePair::new("", "");
    append_config(
        &pair.a,
        &format!("[deletion.main]\nafter = \"1s\"\nmin_copies = {min_copies}\nverified_within = \"7d\"\n"),
    );
    pair
}

fn upload_allowed(site: &Site, name: &str, seed: u64) {
    let src = site.src(name);
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    write_random(&src, 50_000, seed);
    site.upload(&src, name, &["--deletion-policy", "allowed"]).ok();
}

#[test]
fn rolling_deletion_deletes_only_what_a_peer_re_verified_and_never_the_last_copy() {
    let pair = deleting_pair(1);
    let (a, b) = (&pair.a, &pair.b);
    upload_allowed(a, "obs/good", 1);
    upload_allowed(a, "obs/rotten", 2);
    pair.converge(6);
    // The copy at B of one file rots.
    let at_b = walk(&b.data()).into_iter().find(|p| p.ends_with("obs/rotten")).expect("B's copy");
    flip_byte(&at_b, 10);
    // And one file never left A.
    upload_allowed(a, "obs/alone", 3);
    std::thread::sleep(std::time::Duration::from_millis(1100));

    // The plan changes nothing and asks no one.
    let before_a = walk(&a.data());
    let plan = a.json(["rolling-deletion", "--store", "main", "--dry-run"]);
    plan.ok();
    let p = plan.json();
    assert_eq!(p["dry_run"], true);
    assert_eq!(p["peers_asked"], serde_json::json!(["site-b"]), "{p}");
    let action = |r: &Value, name: &str| -> String {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .map(|i| i["action"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(action(&p, "obs/good"), "verify", "{p}");
    assert_eq!(action(&p, "obs/alone"), "keep", "{p}");
    assert_eq!(walk(&a.data()), before_a, "a dry run deleted something");
    assert!(a.json(["info", "obs/good"]).json()["remote_instances"][0]["verified_at"].is_null());

    // The real run asks B, which re-reads its copies: the rotten one is kept here.
    let run = a.json(["rolling-deletion", "--store", "main"]);
    run.ok();
    let r = run.json();
    assert_eq!(r["deleted"], 1, "{r}");
    assert_eq!(action(&r, "obs/good"), "delete", "{r}");
    assert_eq!(action(&r, "obs/rotten"), "keep", "{r}");
    assert_eq!(action(&r, "obs/alone"), "keep", "{r}");
    assert!(!a.data().join("obs/good").exists(), "the bytes are gone");
    assert!(a.data().join("obs/rotten").exists() && a.data().join("obs/alone").exists());
    let good = a.json(["info", "obs/good"]).json();
    assert_eq!(instance(&good, "main")["state"], "deleted", "{good}");
    assert!(instance(&good, "main")["state_reason"].as_str().unwrap().contains("re-verified"), "{good}");
    assert!(good["remote_instances"][0]["verified_at"].is_string(), "B's answer is recorded: {good}");
    let rotten = a.json(["info", "obs/rotten"]).json();
    assert_eq!(rotten["remote_instances"][0]["state"], "corrupt", "{rotten}");
    // B found its own copy corrupt while answering, and marked it.
    let at_b_info = b.json(["info", "obs/rotten"]).json();
    assert_eq!(instance(&at_b_info, "main")["state"], "corrupt", "{at_b_info}");

    // The last copy anywhere is never dropped, even with --min-copies 0.
    let last = a.json(["drop", "obs/alone", "--store", "main", "--min-copies", "0"]);
    assert_eq!(last.code(), Some(1), "{last}");
    assert!(last.json()["items"][0]["reason"].as_str().unwrap().contains("last good copy"), "{last}");
    assert!(a.data().join("obs/alone").exists());

    // `verify --remote` shows a peer's answer by hand.
    let remote = a.json(["verify", "--remote", "site-b", "obs/good", "obs/rotten"]);
    assert_eq!(remote.code(), Some(1), "the rotten copy fails: {remote}");
    let files = remote.json()["files"].as_array().unwrap().clone();
    assert_eq!(files[0]["copies"][0]["status"], "ok", "{remote}");
    assert_eq!(files[1]["copies"][0]["status"], "mismatch", "{remote}");
}

#[test]
fn with_min_copies_zero_a_copy_goes_only_when_another_good_one_exists() {
    let pair = deleting_pair(0);
    let a = &pair.a;
    upload_allowed(a, "x/kept", 7);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let run = a.json(["rolling-deletion", "--store", "main"]);
    run.ok();
    assert_eq!(run.json()["deleted"], 0, "{run}");
    assert!(a.data().join("x/kept").exists());
    // A second store holding a copy makes the first one deletable.
    let second = a.tmp().join("second");
    a.run(["store", "add", "second", "--root", second.to_str().unwrap()]).ok();
    a.run(["clone", "local", "--from", "main", "--to", "second"]).ok();
    let run = a.json(["rolling-deletion", "--store", "main"]);
    run.ok();
    assert_eq!(run.json()["deleted"], 1, "{run}");
    assert!(!a.data().join("x/kept").exists());
    let info = a.json(["info", "x/kept"]).json();
    assert_eq!(instance(&info, "second")["state"], "ok", "{info}");
    // And that copy, now the last, is never dropped.
    let drop = a.json(["drop", "x/kept", "--store", "second", "--min-copies", "0"]);
    assert_eq!(drop.code(), Some(1), "{drop}");
    assert_eq!(instance(&a.json(["info", "x/kept"]).json(), "second")["state"], "ok");
}

#[test]
fn a_corrupt_file_and_book_entry_are_found_by_the_scrub_and_repaired_from_the_peer() {
    let pair = ClonePair::new("", "");
    let (a, b) = (&pair.a, &pair.b);
    // A's operators hear about damage through a webhook (JSON bodies).
    let hook = Receiver::start();
    append_config(
        a,
        &format!(
            "[alerts]\nretry_initial = \"1s\"\n[[alerts.webhook]]\nname = \"ops\"\nurl = \"{}\"\nformat = \"json\"\nmin_severity = \"error\"\n",
            hook.url("/hook")
        ),
    );
    let src = a.src("raw.dat");
    write_random(&src, 300_000, 11);
    a.upload(&src, "obs/raw.dat", &[]).ok();
    let book = a.src("book");
    std::fs::create_dir_all(book.join("d1/d2")).unwrap();
    write_random(&book.join("d1/d2/e1"), 70_000, 12);
    write_random(&book.join("top"), 1_000, 13);
    std::fs::create_dir_all(book.join("empty")).unwrap();
    a.upload(&book, "obs/book", &[]).ok();
    pair.converge(6);
    let original_file = std::fs::read(a.data().join("obs/raw.dat")).unwrap();
    let original_entry = std::fs::read(a.data().join("obs/book/d1/d2/e1")).unwrap();

    flip_byte(&a.data().join("obs/raw.dat"), 123_456);
    flip_byte(&a.data().join("obs/book/d1/d2/e1"), 7);
    let scrub = a.json(["verify", "--budget", "100MB"]);
    assert_eq!(scrub.code(), Some(1), "{scrub}");
    assert_eq!(scrub.json()["problems"].as_array().unwrap().len(), 2, "{scrub}");
    assert_eq!(open_events(a, "instance_corrupt").len(), 2);
    // One alert per damaged copy, however often the damage is seen again.
    a.json(["tasks", "run", "--only", "deliver-alerts"]).ok();
    a.json(["verify", "obs/raw.dat"]).expect_code(1);
    a.json(["tasks", "run", "--only", "deliver-alerts"]).ok();
    let alerts = |state: &str| -> BTreeSet<String> {
        hook.accepted("/hook")
            .iter()
            .map(|r| r.json())
            .filter(|j| j["category"] == "instance_corrupt" && j["state"] == state)
            .map(|j| j["subject"].as_str().unwrap().to_owned())
            .collect()
    };
    let opened = alerts("open");
    assert_eq!(opened, BTreeSet::from(["main/obs/book".to_owned(), "main/obs/raw.dat".to_owned()]));
    assert_eq!(hook.accepted("/hook").len(), 2, "exactly one alert per damaged copy");

    for name in ["obs/raw.dat", "obs/book"] {
        let r = a.json(["repair", name]);
        r.ok();
        let rep = r.json();
        assert_eq!(rep["repaired"][0]["from"], "peer site-b", "{rep}");
        assert_eq!(rep["repaired"][0]["was"], "corrupt", "{rep}");
    }
    assert_eq!(std::fs::read(a.data().join("obs/raw.dat")).unwrap(), original_file);
    assert_eq!(std::fs::read(a.data().join("obs/book/d1/d2/e1")).unwrap(), original_entry);
    assert!(a.data().join("obs/book/empty").is_dir(), "the book's empty directory is back too");
    a.json(["verify"]).ok();
    assert!(open_events(a, "instance_corrupt").is_empty(), "repairs clear their events");
    a.json(["tasks", "run", "--only", "deliver-alerts"]).ok();
    assert_eq!(alerts("cleared"), opened, "each clearing alerted once");
    assert_eq!(hook.accepted("/hook").len(), 4, "{:?}", hook.requests());
    assert!(a.staging_leftovers(false).is_empty(), "the quarantined bytes are gone");
    // The peer was asked to read its copies: they are marked intact there still.
    let at_b = b.json(["info", "obs/book"]).json();
    assert_eq!(instance(&at_b, "main")["state"], "ok", "{at_b}");
}

#[test]
fn a_missing_copy_is_repaired_from_another_store_here_and_nothing_is_repaired_from_bad_bytes() {
    let site = Site::new();
    let second = site.tmp().join("second");
    site.run(["store", "add", "second", "--root", second.to_str().unwrap()]).ok();
    let src = site.src("f");
    write_random(&src, 100_000, 21);
    site.upload(&src, "f", &["--store", "main"]).ok();
    site.run(["clone", "local", "--from", "main", "--to", "second"]).ok();
    std::fs::remove_file(site.data().join("f")).unwrap();
    let v = site.json(["verify", "f"]);
    assert_eq!(v.code(), Some(1), "{v}");
    assert_eq!(instance(&site.json(["info", "f"]).json(), "main")["state"], "missing");
    let r = site.json(["repair", "f"]);
    r.ok();
    assert_eq!(r.json()["repaired"][0]["from"], "store second", "{r}");
    assert_eq!(std::fs::read(site.data().join("f")).unwrap(), std::fs::read(&src).unwrap());

    // Both copies rot: the repair finds the source bad too, marks it, and fails.
    flip_byte(&site.data().join("f"), 1);
    flip_byte(&second.join("f"), 2);
    site.json(["verify", "f", "--store", "main"]).expect_code(1);
    let r = site.json(["repair", "f"]);
    assert_eq!(r.code(), Some(1), "{r}");
    assert!(r.json()["failed"][0]["reason"].as_str().unwrap().contains("store second"), "{r}");
    let info = site.json(["info", "f"]).json();
    assert_eq!(instance(&info, "second")["state"], "corrupt", "the bad source is marked: {info}");
    assert_eq!(instance(&info, "main")["state"], "corrupt", "{info}");
    let flipped = std::fs::read(site.data().join("f")).unwrap();
    assert_ne!(flipped, std::fs::read(&src).unwrap(), "the damaged copy was left as it was");
}

#[test]
fn a_drop_killed_after_its_commit_and_a_repair_killed_after_quarantine_converge() {
    let site = Site::new();
    let second = site.tmp().join("second");
    site.run(["store", "add", "second", "--root", second.to_str().unwrap()]).ok();
    for (name, seed) in [("k/one", 31), ("k/two", 32)] {
        let src = site.src(name);
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        write_random(&src, 80_000, seed);
        site.upload(&src, name, &["--store", "main"]).ok();
    }
    site.run(["clone", "local", "--from", "main", "--to", "second"]).ok();

    // Killed after the deletion was committed, before the bytes went.
    let mut cmd = site.cmd();
    cmd.env("LIBRARIAN_FAULT", "deletion.after-commit").args(["drop", "k/one", "--store", "main", "--min-copies", "0"]);
    let killed = librarian_e2e::run_outcome(&mut cmd);
    assert_eq!(killed.code(), None, "killed by its fault point: {killed}");
    let info = site.json(["info", "k/one"]).json();
    assert_eq!(instance(&info, "main")["state"], "deleting", "{info}");
    assert_eq!(instance(&info, "main")["available"], false, "never read again: {info}");
    assert!(site.data().join("k/one").exists(), "the bytes are still there");
    // The next deletion on that store finishes it first.
    site.json(["drop", "k/two", "--store", "main", "--min-copies", "0"]).ok();
    assert!(!site.data().join("k/one").exists() && !site.data().join("k/two").exists());
    assert_eq!(instance(&site.json(["info", "k/one"]).json(), "main")["state"], "deleted");

    // k/one's last copy rots: nothing intact is left to repair it from.
    flip_byte(&second.join("k/one"), 5);
    site.json(["verify", "k/one", "--store", "second"]).expect_code(1);
    // A repair killed with the bad bytes aside and the good ones not yet in place:
    // k/three, intact on store third, damaged on store second.
    let third = site.tmp().join("third");
    site.run(["store", "add", "third", "--root", third.to_str().unwrap()]).ok();
    let src = site.src("k/one");
    let fresh = site.src("k/three");
    std::fs::copy(&src, &fresh).unwrap();
    site.upload(&fresh, "k/three", &["--store", "third"]).ok();
    site.run(["clone", "local", "--from", "third", "--to", "second"]).ok();
    flip_byte(&second.join("k/three"), 9);
    site.json(["verify", "k/three", "--store", "second"]).expect_code(1);
    let mut cmd = site.cmd();
    cmd.env("LIBRARIAN_FAULT", "repair.after-quarantine").args(["repair", "k/three"]);
    let killed = librarian_e2e::run_outcome(&mut cmd);
    assert_eq!(killed.code(), None, "killed by its fault point: {killed}");
    assert!(!second.join("k/three").exists(), "the bad bytes were moved aside");
    assert_eq!(instance(&site.json(["info", "k/three"]).json(), "second")["state"], "corrupt");
    let r = site.json(["repair", "k/three"]);
    r.ok();
    assert_eq!(r.json()["repaired"][0]["from"], "store third", "{r}");
    assert_eq!(std::fs::read(second.join("k/three")).unwrap(), std::fs::read(&fresh).unwrap());
    site.json(["tasks", "run", "--only", "cleanup-staging"]).ok();
    assert!(site.staging_leftovers(false).is_empty(), "the quarantine of the killed repair is cleaned up");
    // k/one has no intact copy left anywhere: its repair fails and says why.
    let r = site.json(["repair", "k/one"]);
    assert_eq!(r.code(), Some(1), "{r}");
}

#[test]
fn a_scrub_skips_a_store_that_is_not_there_and_marks_nothing() {
    let site = Site::new();
    let src = site.src("f");
    write_random(&src, 10_000, 41);
    site.upload(&src, "f", &[]).ok();
    let aside = site.tmp().join("unmounted");
    std::fs::rename(site.data(), &aside).unwrap();
    let scrub = site.json(["verify", "--budget", "1GB"]);
    assert_eq!(scrub.code(), Some(1), "an unreachable store is a problem: {scrub}");
    let r = scrub.json();
    assert_eq!((r["instances"].as_u64(), r["bytes"].as_u64()), (Some(0), Some(0)), "{r}");
    assert!(r["unreachable"][0].as_str().unwrap().contains("is the disk mounted"), "{r}");
    assert!(r["problems"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(instance(&site.json(["info", "f"]).json(), "main")["state"], "ok", "nothing marked");
    assert!(open_events(&site, "instance_missing").is_empty());
    std::fs::rename(&aside, site.data()).unwrap();
    site.json(["verify", "--budget", "1GB"]).ok();

    // Without --store, rolling-deletion answers one JSON array (one report per store).
    append_config(&site, "[deletion.main]\nafter = \"30d\"\n");
    let all = site.json(["rolling-deletion", "--dry-run"]);
    all.ok();
    assert_eq!(all.json().as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all.json()[0]["store"], "main", "{all}");
}

/// The write bits of `path`'s mode.
fn write_bits(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o222
}

#[test]
fn committed_files_and_books_are_read_only_until_the_deletion_path_removes_them() {
    let pair = deleting_pair(1);
    let a = &pair.a;
    upload_allowed(a, "ro/file", 51);
    let book = a.src("ro/book");
    std::fs::create_dir_all(book.join("d")).unwrap();
    std::fs::write(book.join("d/e"), b"entry").unwrap();
    a.upload(&book, "ro/book", &["--deletion-policy", "allowed"]).ok();
    for p in ["ro/file", "ro/book", "ro/book/d", "ro/book/d/e"] {
        assert_eq!(write_bits(&a.data().join(p)), 0, "{p} is writable");
    }
    // Not root: a stray open for writing fails (root is never stopped by modes).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::fs::OpenOptions::new().write(true).open(a.data().join("ro/file")).is_err());
    }
    // Received copies are read-only at the peer too, and drops remove read-only books.
    pair.converge(6);
    let at_b = walk(&pair.b.data()).into_iter().find(|p| p.ends_with("ro/book/d/e")).expect("B's entry");
    assert_eq!(write_bits(&at_b), 0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let run = a.json(["rolling-deletion", "--store", "main"]);
    run.ok();
    assert_eq!(run.json()["deleted"], 2, "{run}");
    assert!(!a.data().join("ro/book").exists() && !a.data().join("ro/file").exists());
    // A --move upload that fails hands the data back writable.
    let mine = a.src("ro/mine");
    std::fs::write(&mine, b"mine").unwrap();
    let twice = a.upload(&mine, "ro/file", &["--move"]);
    assert_eq!(twice.code(), Some(1), "{twice}");
    assert_ne!(write_bits(&mine), 0, "the caller's file keeps its write bits");
}

/// name -> (checksum, kind) of every file at `site`.
fn catalogue(site: &Site) -> std::collections::BTreeMap<String, (String, String)> {
    site.files()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                (f["checksum"].as_str().unwrap().to_owned(), f["kind"].as_str().unwrap().to_owned()),
            )
        })
        .collect()
}

#[test]
fn a_deleted_catalog_is_rebuilt_from_the_stores_and_remote_copies_come_back_from_the_peer() {
    let pair = ClonePair::new("", "");
    let (a, b) = (&pair.a, &pair.b);
    librarian_e2e::pair::upload_files(a, "obs", 3);
    librarian_e2e::pair::upload_book(a, "obs/book", 12);
    pair.converge(6);
    let before = catalogue(a);
    assert_eq!(before.len(), 4);
    let db = a.db();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    assert!(a.json(["status"]).code() != Some(0), "no catalog, no site");

    let rebuilt = a.json(["rebuild", "--from-stores"]);
    rebuilt.ok();
    let r = rebuilt.json();
    assert_eq!((r["files"].as_u64(), r["books"].as_u64()), (Some(3), Some(1)), "{r}");
    assert!(r["moved_aside"].is_null(), "{r}");
    assert_eq!(catalogue(a), before, "every name, kind and checksum is back");
    a.json(["verify"]).ok();

    // The peers were lost with the catalog: added again, then asked.
    let pw = a.tmp().join("a-at-b-again");
    librarian_e2e::write_secret(&pw, &format!("{}\n", librarian_e2e::pair::A_AT_B));
    let url = format!("http://{}", pair.b_addr);
    a.run(["peer", "add", "site-b", "--url", &url, "--account", "site-a", "--password-file", pw.to_str().unwrap()])
        .ok();
    let restored = a.json(["rebuild", "--remote", "site-b"]);
    restored.ok();
    assert_eq!(restored.json()["intact_at_peer"], 4, "{restored}");
    for f in a.files() {
        let remote = f["remote_instances"].as_array().unwrap();
        assert_eq!(remote.len(), 1, "{f}");
        assert_eq!((remote[0]["librarian"].as_str(), remote[0]["state"].as_str()), (Some("site-b"), Some("ok")));
        assert!(remote[0]["verified_at"].is_string(), "{f}");
    }
    // B is untouched by all this.
    assert_eq!(catalogue(b), before);
}

#[test]
fn a_damaged_catalog_is_moved_aside_and_its_stores_peers_and_accounts_salvaged() {
    let pair = ClonePair::new("", "");
    let a = &pair.a;
    let second = a.tmp().join("second");
    a.run(["store", "add", "second", "--root", second.to_str().unwrap()]).ok();
    librarian_e2e::pair::upload_files(a, "x", 2);
    a.run(["clone", "local", "--from", "main", "--to", "second"]).ok();
    let planted = a.data().join("x/planted");
    std::fs::write(&planted, b"not catalogued before").unwrap();
    let link = a.data().join("x/link");
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    // The files table is lost (the stores, peers and accounts are still readable).
    librarian_e2e::sql::write(
        &a.db(),
        "PRAGMA foreign_keys = OFF; DELETE FROM file_entries; DELETE FROM instances; DELETE FROM remote_instances; DELETE FROM files;",
    );

    let rebuilt = a.json(["rebuild", "--from-stores"]);
    assert_eq!(rebuilt.code(), Some(1), "the link is reported: {rebuilt}");
    let r = rebuilt.json();
    let old = r["moved_aside"].as_str().expect("the old catalog is kept");
    assert!(std::path::Path::new(old).exists(), "{r}");
    let salvaged: BTreeSet<&str> = r["salvaged"].as_array().unwrap().iter().filter_map(|t| t[0].as_str()).collect();
    assert_eq!(salvaged, BTreeSet::from(["accounts", "peers", "stores"]), "{r}");
    assert_eq!(r["files"], 3, "x/f000, x/f001 and the planted file: {r}");
    assert_eq!(r["extra_copies"], 2, "the copies on store second: {r}");
    let skipped = r["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{r}");
    assert!(
        skipped[0][0].as_str().unwrap().ends_with("x/link")
            && skipped[0][1].as_str().unwrap().contains("never followed")
    );
    let info = a.json(["info", "x/f000"]).json();
    assert_eq!(info["instances"].as_array().unwrap().len(), 2, "{info}");
    // The salvaged peer and B's callback account work as before.
    a.json(["peer", "ping", "site-b"]).ok();
    let asked = a.json(["rebuild", "--remote", "site-b"]);
    asked.ok();
    assert_eq!(asked.json()["intact_at_peer"], 0, "nothing was cloned to B here: {asked}");
}

#[test]
fn one_peer_holding_two_copies_counts_once_toward_min_copies() {
    let pair = deleting_pair(2);
    let (a, b) = (&pair.a, &pair.b);
    upload_allowed(a, "two/stores", 61);
    pair.converge(6);
    // B keeps the file on two of its stores: both are re-verified, both answer ok.
    let second = b.tmp().join("second");
    b.run(["store", "add", "second", "--root", second.to_str().unwrap()]).ok();
    b.run(["clone", "local", "--from", "main", "--to", "second"]).ok();
    a.json(["verify", "--remote", "site-b", "two/stores"]).ok();
    let info = a.json(["info", "two/stores"]).json();
    assert_eq!(info["remote_instances"].as_array().unwrap().len(), 2, "both copies recorded: {info}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let run = a.json(["rolling-deletion", "--store", "main"]);
    run.ok();
    let r = run.json();
    assert_eq!(r["deleted"], 0, "one site is one copy elsewhere, not two: {r}");
    assert_eq!(r["items"][0]["verified_copies"], 1, "{r}");
    assert!(a.data().join("two/stores").exists());
}
