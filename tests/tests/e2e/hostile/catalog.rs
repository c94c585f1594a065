//! A damaged catalog (issue 9, defect 10): the SQLite file itself is overwritten page
//! by page. SQLite notices a bad page only when a statement reads it, so before this
//! fix `search` and `verify` exited 0 on catalogs `PRAGMA quick_check` rejects.
//!
//! Deterministic: one catalog with enough rows (files, instances, the entries of a
//! book) is built and checkpointed; then, for every page of the file (or a fixed
//! seeded selection of pages for a larger file), a copy has that page overwritten with
//! seeded random bytes, and `search`, `info`, `status` and `verify` run on the copy.
//! For every case: a command that exits 0 must be on a catalog `quick_check` accepts
//! and give the right answer; on a catalog `quick_check` rejects, every command exits
//! 1 with code `database` (verify: in its report's `catalog`, or as its error).

use std::collections::BTreeSet;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use librarian_e2e::*;
use serde_json::Value;

/// Files uploaded one by one (rows in `files`, `instances`), plus one book.
const FILES: usize = 40;
/// Entries of the book (rows in `file_entries`).
const BOOK_ENTRIES: usize = 300;
/// Pages corrupted at most (all of them when the file has fewer).
const MAX_CASES: u64 = 90;

struct Expected {
    names: BTreeSet<String>,
    probe: String,
    probe_checksum: String,
}

fn build() -> (Site, Expected) {
    let site = Site::named("cat");
    for i in 0..FILES {
        let name = format!("2026/obs/file_{i:03}_with_a_longer_name_to_fill_pages");
        let src = site.src(&name);
        write_random(&src, 64 + i, i as u64);
        site.upload(&src, &name, &[]).ok();
    }
    let book = site.src("book");
    for i in 0..BOOK_ENTRIES {
        write_text(&book.join(format!("d{}/entry_{i:04}.dat", i % 7)), &format!("entry {i}\n"));
    }
    site.upload(&book, "2026/books/b0", &[]).ok();
    let files = site.files();
    let names: BTreeSet<String> = files.iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names.len(), FILES + 1);
    let probe = "2026/obs/file_007_with_a_longer_name_to_fill_pages".to_owned();
    let probe_checksum =
        files.iter().find(|f| f["name"] == probe.as_str()).unwrap()["checksum"].as_str().unwrap().to_owned();
    (site, Expected { names, probe, probe_checksum })
}

/// A copy of `site`'s configuration and (checkpointed) catalog in `dir`; its stores
/// are the original site's. Returns the copy's configuration.
fn copy_site(site: &Site, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(site.config(), dir.join("librarian.toml")).unwrap();
    std::fs::copy(site.db(), dir.join("librarian.db")).unwrap();
    dir.join("librarian.toml")
}

/// `PRAGMA quick_check` by SQLite itself, read-only (an oracle independent of
/// librarian): it passes when the only row is `ok`; an error (a page so damaged that
/// the check cannot even run) is a failed check.
fn quick_check_passes(db: &Path) -> bool {
    let conn = match rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(c) => c,
        Err(_) => return false,
    };
    sql::try_rows(&conn, "PRAGMA quick_check").is_ok_and(|rows| rows == [["ok"]])
}

fn page_size(db: &Path) -> u64 {
    let mut hdr = [0u8; 100];
    std::fs::File::open(db).unwrap().read_exact_at(&mut hdr, 0).unwrap();
    assert_eq!(&hdr[..16], b"SQLite format 3\0", "not a SQLite database");
    match u16::from_be_bytes([hdr[16], hdr[17]]) {
        1 => 65536,
        n => u64::from(n),
    }
}

/// The error code of a failed `--json` run: `error.code`, or for `verify`'s report the
/// code of its `catalog` check.
fn failure_code(o: &Outcome) -> Option<String> {
    let v: Value = serde_json::from_str(&o.stdout).ok()?;
    v["error"]["code"].as_str().or_else(|| v["catalog"]["code"].as_str()).map(str::to_owned)
}

#[test]
fn damaged_pages_never_end_in_exit_0() {
    let (site, want) = build();
    // Checkpointed: every row is in the main file (the last process to close the
    // database checkpoints it; make sure).
    let wal = PathBuf::from(format!("{}-wal", site.db().display()));
    let out = sql::try_rows(&sql::read_write(&site.db()), "PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    assert!(out.first().is_some_and(|r| r[0] == "0"), "checkpoint (busy, log, checkpointed): {out:?}");
    assert!(std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0, "the WAL still holds pages");
    let db_len = std::fs::metadata(site.db()).unwrap().len();
    let page = page_size(&site.db());
    let pages = db_len / page;
    assert!(pages >= 20, "a catalog of {pages} pages is too small to test");
    let chosen: Vec<u64> = if pages <= MAX_CASES {
        (1..=pages).collect()
    } else {
        let mut rng = Rng::new(10);
        let mut set = BTreeSet::from([1, 2, pages]);
        while (set.len() as u64) < MAX_CASES {
            set.insert(1 + rng.below(pages));
        }
        set.into_iter().collect()
    };

    let mut rejected = 0;
    let mut events_raised = 0;
    let mut failures = Vec::new();
    for &pgno in &chosen {
        let dir = site.tmp().join(format!("case-{pgno}"));
        let config = copy_site(&site, &dir);
        let db = dir.join("librarian.db");
        let mut junk = vec![0u8; page as usize];
        Rng::new(1000 + pgno).fill(&mut junk);
        let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        f.write_all_at(&junk, (pgno - 1) * page).unwrap();
        f.sync_all().unwrap();
        drop(f);
        let sound = quick_check_passes(&db);
        if !sound {
            rejected += 1;
        }
        let cmd = |args: &[&str]| run_outcome(librarian(&config).arg("--json").args(args));
        let limit = (FILES + 10).to_string();
        let runs = [
            ("search", cmd(&["search", "--limit", &limit])),
            ("info", cmd(&["info", &want.probe])),
            ("status", cmd(&["status"])),
            ("verify", cmd(&["verify"])),
        ];
        for (what, o) in &runs {
            let case = format!("page {pgno} of {pages}, quick_check {}: {what}", if sound { "ok" } else { "FAILS" });
            if o.code() == Some(0) {
                if !sound {
                    failures.push(format!("{case}: exit 0 on a catalog quick_check rejects: {o}"));
                    continue;
                }
                // Exit 0 on a sound catalog: the answer must still be right.
                let v = o.json();
                let right = match *what {
                    "search" => {
                        v.as_array()
                            .unwrap()
                            .iter()
                            .map(|f| f["name"].as_str().unwrap().to_owned())
                            .collect::<BTreeSet<_>>()
                            == want.names
                    }
                    "info" => v["checksum"] == want.probe_checksum.as_str(),
                    "status" => v["files"] == want.names.len(),
                    _ => v["ok"] == true && v["checked"].as_array().unwrap().len() == want.names.len(),
                };
                if !right {
                    failures.push(format!("{case}: exit 0 with a wrong answer: {o}"));
                }
                continue;
            }
            // A failure: exit 1 with a clear code; `database` whenever quick_check fails.
            let code = failure_code(o);
            if o.code() != Some(1) || code.is_none() {
                failures.push(format!("{case}: not exit 1 with an error code: {o}"));
            } else if !sound && code.as_deref() != Some("database") {
                failures.push(format!("{case}: code {code:?}, not database: {o}"));
            }
            if *what == "verify"
                && let Ok(v) = serde_json::from_str::<Value>(&o.stdout)
                && v["catalog"]["event"].is_i64()
            {
                events_raised += 1;
                assert_eq!(v["ok"], false, "{o}");
                assert!(!v["catalog"]["problems"].as_array().unwrap().is_empty(), "{o}");
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
    // The cases really were damage that quick_check sees, and verify raised the event
    // where the catalog could still be written.
    assert!(rejected * 2 >= chosen.len(), "only {rejected} of {} cases were rejected by quick_check", chosen.len());
    assert!(events_raised > 0, "no catalog_corrupt event was ever raised ({rejected} damaged catalogs)");
    eprintln!(
        "{} pages of {pages} overwritten: {rejected} rejected by quick_check; {events_raised} events",
        chosen.len()
    );
}

#[test]
fn verify_reports_a_damaged_catalog_and_raises_an_event() {
    // One chosen case, end to end: a page of the `file_entries` table (the book's rows)
    // overwritten, found with SQLite's dbstat table.
    let (site, _) = build();
    let db = site.db();
    let page = page_size(&db);
    let pgno =
        sql::count(&db, "SELECT pageno FROM dbstat WHERE name = 'file_entries' AND pagetype = 'leaf' LIMIT 1 OFFSET 2");
    let mut junk = vec![0u8; page as usize];
    Rng::new(77).fill(&mut junk);
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.write_all_at(&junk, (pgno - 1) * page).unwrap();
    f.sync_all().unwrap();
    drop(f);

    let v = site.json(["verify"]);
    v.expect_code(1);
    let r = v.json();
    assert_eq!(r["ok"], false, "{v}");
    assert_eq!(r["catalog"]["ok"], false, "{v}");
    assert_eq!(r["catalog"]["code"], "database", "{v}");
    assert!(!r["catalog"]["problems"].as_array().unwrap().is_empty(), "{v}");
    // The human form says so too.
    let t = site.run(["verify"]);
    t.expect_code(1);
    assert!(t.stdout.contains("CATALOG DAMAGED"), "{t}");
    // Every other command refuses the catalog: exit 1, code database.
    for args in [vec!["search"], vec!["info", "2026/books/b0"], vec!["status"], vec!["events", "list"]] {
        site.json(&args).expect_error(1, "database");
    }
    // The event is in the catalog (read directly, which does not need the damaged page
    // for it), when the catalog could still be written.
    if r["catalog"]["event"].is_i64() {
        let rows = sql::column(&db, "SELECT category FROM events WHERE category = 'catalog_corrupt'");
        assert_eq!(rows, ["catalog_corrupt"], "{v}");
    }
    // A verify of one name checks the catalog too (the file changed since it passed).
    site.json(["verify", "2026/obs/file_000_with_a_longer_name_to_fill_pages"]).expect_code(1);
}

#[test]
fn a_recorded_pass_does_not_hide_later_damage() {
    // Commands skip the check while the file is the one that last passed (recorded in
    // `librarian.db-checked`); damage after that must still be refused.
    let (site, want) = build();
    let db = site.db();
    let record = PathBuf::from(format!("{}-checked", db.display()));
    // A file modified within the last seconds is never recorded (a write in the same
    // clock tick could hide behind an equal mtime): age it, then let a command pass.
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60)).unwrap();
    drop(f);
    let out = site.json(["search"]);
    out.ok();
    assert_eq!(out.json().as_array().unwrap().len(), want.names.len(), "{out}");
    assert!(record.is_file(), "the pass was not recorded");
    // Now a page in the middle of the file.
    let page = page_size(&db);
    let pages = std::fs::metadata(&db).unwrap().len() / page;
    let mut junk = vec![0u8; page as usize];
    Rng::new(5).fill(&mut junk);
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.write_all_at(&junk, (pages / 2) * page).unwrap();
    f.sync_all().unwrap();
    drop(f);
    site.json(["search"]).expect_error(1, "database");
    site.json(["info", &want.probe]).expect_error(1, "database");
    site.json(["status"]).expect_error(1, "database");
    assert!(!record.exists(), "the record of the pass outlived the damage");
}

#[test]
fn a_command_that_ends_well_records_the_catalog_it_wrote_as_checked() {
    // A run of uploads must not read the whole catalog again for every command: the
    // command that found the catalog sound and wrote to it records the result.
    let (site, _want) = build();
    let db = site.db();
    let record = PathBuf::from(format!("{}-checked", db.display()));
    let stamp = |db: &Path| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(db).unwrap();
        format!("{} {} {} {}.{:09}\n", m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec())
    };
    for i in 0..3 {
        let src = site.src(&format!("loop/{i}"));
        write_text(&src, &format!("loop {i}\n"));
        site.upload(&src, &format!("loop/{i}"), &[]).ok();
        assert_eq!(std::fs::read_to_string(&record).unwrap_or_default(), stamp(&db), "after upload {i}");
    }
    // A failed command records nothing new.
    std::fs::remove_file(&record).unwrap();
    site.json(["info", "loop/none"]).expect_error(1, "not_found");
    assert!(!record.exists() || std::fs::read_to_string(&record).unwrap() == stamp(&db));
}
