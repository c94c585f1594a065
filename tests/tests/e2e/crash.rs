//! Invariants 2 and 5 under SIGKILL: `librarian upload` is killed at pseudo-random
//! points spread over a whole upload (and, on purpose, the moment its data appears in
//! the data area, i.e. between the rename and the catalog commit). After every kill:
//!
//! * right away, before any librarian command runs (read directly with SQLite,
//!   read-only): every instance row has its data, and every path in the data area is a
//!   catalogued instance or claimed by an `ingest_intents` row;
//! * `status` (opening the site rolls dead ingests back) and `cleanup` succeed, and then
//!   catalog and store agree exactly: no row without data, no data without a row,
//!   `verify` exits 0, the staging area is empty; a catalogued file is never corrupt;
//! * repeating the upload succeeds (`ingested`, or `already_present` when the kill came
//!   after the commit) with the reference checksum, and verifies.
//!
//! Besides the timed kills, every crash-relevant step of the ingest protocol is hit
//! deterministically through its fault point (`LIBRARIAN_FAULT`, see
//! `librarian-core/src/fault.rs`): the process kills itself there with SIGKILL, and the
//! same checks follow, plus the exact catalog rows expected at that step.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use librarian_e2e::{HANG_LIMIT, Rng, Site, raw_catalog, uncovered, write_random};

/// When to send SIGKILL.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// After this long.
    After(Duration),
    /// As soon as the upload's name appears in the data area (rename done; the catalog
    /// commit may or may not have happened yet).
    OnRename,
    /// The process kills itself at this fault point (`LIBRARIAN_FAULT`).
    Fault(&'static str),
}

/// The ingest protocol's fault points, in protocol order.
const INGEST_FAULTS: [&str; 3] = ["ingest.after-intent", "ingest.after-rename", "ingest.after-commit"];

/// Where the process was when it died, as seen right after the kill.
#[derive(Debug, Default)]
struct Tally {
    /// The upload finished before the signal.
    finished: usize,
    /// Killed with nothing in the data area.
    before_rename: usize,
    /// Killed with data in the data area but no catalog row: rolled back on next open.
    between_rename_and_commit: usize,
    /// Killed after the catalog commit.
    after_commit: usize,
}

/// One kind of upload to interrupt.
struct Campaign<'a> {
    label: &'a str,
    /// The catalog name.
    name: &'a str,
    /// Extra `upload` arguments (`--move`).
    extra: &'a [&'a str],
    /// The source to upload into `site` (for `--move`, a fresh copy inside the site's
    /// temporary directory, on the store's filesystem).
    source: &'a dyn Fn(&Site) -> PathBuf,
}

impl Campaign<'_> {
    fn moves(&self) -> bool {
        self.extra.contains(&"--move")
    }

    /// Three complete uploads into fresh sites: the shortest duration (so that timing
    /// noise pushes kill points into the upload rather than past its end), and the
    /// checksum (the same every time).
    fn reference(&self) -> (Duration, String) {
        let mut took = Vec::new();
        let mut checksums = Vec::new();
        for _ in 0..3 {
            let site = Site::fast();
            let src = (self.source)(&site);
            let started = Instant::now();
            let up = site.upload(&src, self.name, self.extra);
            took.push(started.elapsed());
            up.ok();
            let v = up.json();
            assert_eq!(v["status"], "ingested", "{up}");
            checksums.push(v["file"]["checksum"].as_str().expect("checksum").to_owned());
            site.assert_consistent();
        }
        checksums.dedup();
        assert_eq!(checksums.len(), 1, "{}: the same source gave different checksums: {checksums:?}", self.label);
        took.sort();
        (took[0], checksums.remove(0))
    }

    /// Kill the upload at each of [`INGEST_FAULTS`] (through `LIBRARIAN_FAULT`, no
    /// timing involved) and check that each lands where it says and converges.
    fn faults(&self) {
        let reference = {
            let site = Site::fast();
            let up = site.upload(&(self.source)(&site), self.name, self.extra);
            up.ok();
            up.json()["file"]["checksum"].as_str().expect("checksum").to_owned()
        };
        for (i, point) in INGEST_FAULTS.into_iter().enumerate() {
            let mut t = Tally::default();
            self.kill_once(i, Kill::Fault(point), &reference, &mut t);
            let got = (t.finished, t.before_rename, t.between_rename_and_commit, t.after_commit);
            let want = match point {
                "ingest.after-intent" => (0, 1, 0, 0),
                "ingest.after-rename" => (0, 0, 1, 0),
                _ => (0, 0, 0, 1),
            };
            assert_eq!(got, want, "{}: killed at {point}, the site looked like {t:?}", self.label);
        }
    }

    fn run(&self, random_kills: usize, rename_kills: usize, seed: u64) {
        let (full, reference) = self.reference();
        eprintln!("{}: a full upload takes {full:?} (fastest of 3); checksum {reference}", self.label);
        let mut rng = Rng::new(seed);
        let mut plan: Vec<Kill> = (0..random_kills)
            .map(|_| Kill::After(Duration::from_secs_f64(full.as_secs_f64() * 1.1 * rng.unit())))
            .collect();
        plan.extend(std::iter::repeat_n(Kill::OnRename, rename_kills));
        let mut tally = Tally::default();
        let mut random_tally = Tally::default();
        for (i, kill) in plan.into_iter().enumerate() {
            let t = if matches!(kill, Kill::After(_)) { &mut random_tally } else { &mut tally };
            self.kill_once(i, kill, &reference, t);
        }
        eprintln!("{}: random kills: {random_tally:?}; kills on rename: {tally:?}", self.label);
        let interrupted =
            random_tally.before_rename + random_tally.between_rename_and_commit + random_tally.after_commit;
        assert!(
            interrupted * 4 >= random_kills,
            "{}: too few random kills interrupted the upload ({random_tally:?}); the kill points do not cover it",
            self.label
        );
    }

    fn kill_once(&self, i: usize, kill: Kill, reference: &str, tally: &mut Tally) {
        let ctx = format!("{} kill #{i} ({kill:?})", self.label);
        let site = Site::fast();
        let src = (self.source)(&site);
        let target = site.data().join(self.name);
        let mut cmd = site.cmd();
        cmd.arg("upload").arg(&src).arg(self.name).args(self.extra).stdout(Stdio::null()).stderr(Stdio::null());
        if let Kill::Fault(point) = kill {
            cmd.env("LIBRARIAN_FAULT", point);
        }
        if matches!(kill, Kill::OnRename) {
            // Lowest priority, so the polling loop below is not starved of the CPU by the
            // upload's own threads and sees the rename before the process can finish.
            // SAFETY: nice(2) is async-signal-safe; nothing else runs in the child.
            unsafe {
                cmd.pre_exec(|| {
                    libc::nice(19);
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn librarian upload");
        match kill {
            // The pause *is* the random kill point, not a wait for a condition.
            Kill::After(d) => std::thread::sleep(d),
            Kill::OnRename => {
                let deadline = Instant::now() + HANG_LIMIT;
                while std::fs::symlink_metadata(&target).is_err() && child.try_wait().expect("try_wait").is_none() {
                    assert!(Instant::now() < deadline, "{ctx}: upload hung");
                }
            }
            Kill::Fault(_) => {
                let deadline = Instant::now() + HANG_LIMIT;
                while child.try_wait().expect("try_wait").is_none() {
                    assert!(Instant::now() < deadline, "{ctx}: upload hung");
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        if !matches!(kill, Kill::Fault(_)) {
            child.kill().expect("SIGKILL");
        }
        let status = child.wait().expect("wait");
        let finished = status.code() == Some(0);
        assert!(finished || status.signal() == Some(libc::SIGKILL), "{ctx}: upload failed on its own: {status}");
        if let Kill::Fault(point) = kill {
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{ctx}: the upload did not die at {point}: {status}");
        }

        // Right after the kill, before any librarian command: what is on disk is
        // accounted for by the catalog's rows (instances, or an open intent).
        let target_after_kill = std::fs::symlink_metadata(&target).is_ok();
        let raw = raw_catalog(&site.db());
        for p in &raw.instances {
            assert!(std::fs::symlink_metadata(p).is_ok(), "{ctx}: instance row without data: {}", p.display());
        }
        let mut owned = raw.instances.clone();
        owned.extend(raw.intents.iter().cloned());
        let stray = uncovered(&site.data(), &owned);
        assert!(stray.is_empty(), "{ctx}: data area paths with no row right after the kill: {stray:?} ({raw:?})");
        if let Kill::Fault(point) = kill {
            // Exactly the rows and data of that step: (instance rows, intent rows, data in place).
            let want = match point {
                "ingest.after-intent" => (0, 1, false),
                "ingest.after-rename" => (0, 1, true),
                _ => (1, 0, true),
            };
            let got = (raw.instances.len(), raw.intents.len(), target_after_kill);
            assert_eq!(got, want, "{ctx}: right after the kill (instance rows, intent rows, data in place)");
            assert_eq!(target_after_kill, want.2, "{ctx}: data area after the kill");
            if self.moves() {
                assert_eq!(std::fs::symlink_metadata(&src).is_ok(), !want.2, "{ctx}: the --move source after the kill");
            }
        }
        if self.moves() {
            assert!(
                target_after_kill || std::fs::symlink_metadata(&src).is_ok(),
                "{ctx}: --move lost the data: neither the source nor the data-area copy exists"
            );
        }

        // Opening the site rolls dead ingests back; cleanup removes stale staging.
        let st = site.json(["status"]);
        st.ok();
        assert_eq!(st.json()["ingests_in_progress"], 0, "{ctx}: {st}");
        site.json(["cleanup"]).ok();
        let files = site.assert_consistent_after_kill();
        let catalogued = match files.as_slice() {
            [] => false,
            [f] => {
                assert_eq!(f["name"], self.name, "{ctx}");
                assert_eq!(f["checksum"], reference, "{ctx}: a different checksum was committed");
                true
            }
            more => panic!("{ctx}: more files than uploaded: {more:?}"),
        };
        if self.moves() {
            // Exactly one home for the bytes: the catalogued copy, or (rolled back) the source.
            assert_eq!(std::fs::symlink_metadata(&src).is_ok(), !catalogued, "{ctx}: source after rollback");
        }
        if finished {
            assert!(catalogued, "{ctx}: the upload exited 0 but nothing is catalogued");
            tally.finished += 1;
        } else if catalogued {
            tally.after_commit += 1;
        } else if target_after_kill {
            tally.between_rename_and_commit += 1;
        } else {
            tally.before_rename += 1;
        }

        // Repeating the upload succeeds and verifies.
        let again_src = if self.moves() && catalogued { (self.source)(&site) } else { src };
        let up = site.upload(&again_src, self.name, self.extra);
        up.ok();
        let v = up.json();
        assert_eq!(v["status"], if catalogued { "already_present" } else { "ingested" }, "{ctx}: {up}");
        assert_eq!(v["file"]["checksum"], reference, "{ctx}: {up}");
        let verify = site.json(["verify", self.name]);
        verify.ok();
        assert_eq!(verify.json()["checked"].as_array().map(Vec::len), Some(1), "{ctx}: {verify}");
        let left = site.staging_leftovers(true);
        assert!(left.is_empty(), "{ctx}: staging not empty after the repeated upload: {left:?}");
    }
}

/// A book of `small` small files in nested directories, a few larger files and an
/// empty directory.
fn make_book(root: &Path, small: usize, large: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    for i in 0..small {
        let size = rng.below(8192) as usize;
        write_random(&root.join(format!("d{:02}/s{:02}/f{i:05}.dat", i % 20, i % 7)), size, rng.next_u64());
    }
    for i in 0..large {
        write_random(&root.join(format!("large/part{i}.bin")), (3 << 20) + i * 4099, rng.next_u64());
    }
    std::fs::create_dir_all(root.join("empty/dir")).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

#[test]
fn sigkill_during_large_file_upload() {
    let tmp = tempfile::tempdir_in(librarian_e2e::fast_tmp()).unwrap();
    let src = tmp.path().join("big.bin");
    write_random(&src, 256 << 20, 1);
    let c = Campaign { label: "256 MiB file", name: "big.bin", extra: &[], source: &|_| src.clone() };
    c.run(20, 6, 0x5eed_0001);
}

#[test]
fn sigkill_during_book_upload() {
    let tmp = tempfile::tempdir_in(librarian_e2e::fast_tmp()).unwrap();
    let src = tmp.path().join("book");
    make_book(&src, 2000, 4, 2);
    let c =
        Campaign { label: "book of 2,000 small + 4 large files", name: "book", extra: &[], source: &|_| src.clone() };
    c.run(20, 6, 0x5eed_0002);
}

#[test]
fn sigkill_during_move_upload_of_a_file_never_loses_it() {
    let tmp = tempfile::tempdir_in(librarian_e2e::fast_tmp()).unwrap();
    let pristine = tmp.path().join("moved.bin");
    write_random(&pristine, 128 << 20, 3);
    let source = |site: &Site| {
        let p = site.src("moved.bin");
        std::fs::copy(&pristine, &p).unwrap();
        p
    };
    let c = Campaign { label: "--move of a 128 MiB file", name: "moved.bin", extra: &["--move"], source: &source };
    c.run(10, 5, 0x5eed_0003);
}

#[test]
fn sigkill_during_move_upload_of_a_book_never_loses_it() {
    let tmp = tempfile::tempdir_in(librarian_e2e::fast_tmp()).unwrap();
    let pristine = tmp.path().join("book");
    make_book(&pristine, 1000, 2, 4);
    // Enough bytes that the upload (hashed in place, no copy) outlasts timing noise.
    write_random(&pristine.join("large/extra.bin"), 48 << 20, 6);
    let source = |site: &Site| {
        let p = site.src("moved-book");
        if p.exists() {
            std::fs::remove_dir_all(&p).unwrap();
        }
        copy_tree(&pristine, &p);
        p
    };
    let c = Campaign { label: "--move of a book", name: "moved-book", extra: &["--move"], source: &source };
    c.run(10, 5, 0x5eed_0004);
}

#[test]
fn rolled_back_nested_name_does_not_block_its_parent_name() {
    // An ingest of `n1/n2/book` creates the directories `n1/n2` in the data area for its
    // rename. Killed and rolled back, the book is gone from the catalog, so the name
    // `n1` is free again (names do not nest), and uploading it must work.
    let tmp = tempfile::tempdir_in(librarian_e2e::fast_tmp()).unwrap();
    let book = tmp.path().join("book");
    make_book(&book, 200, 1, 5);
    let other = tmp.path().join("other.txt");
    std::fs::write(&other, "the parent name, as a file\n").unwrap();
    // Killed (by its own fault point, no timing involved) after the rename into
    // `n1/n2/book` and before the catalog commit.
    let site = Site::fast();
    let out = site
        .cmd()
        .arg("upload")
        .arg(&book)
        .arg("n1/n2/book")
        .env("LIBRARIAN_FAULT", "ingest.after-rename")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run librarian upload");
    assert_eq!(out.signal(), Some(libc::SIGKILL), "the upload did not die at ingest.after-rename: {out}");
    let parents = site.data().join("n1/n2");
    assert!(std::fs::symlink_metadata(parents.join("book")).is_ok(), "the rename into the data area did not happen");
    site.json(["status"]).ok();
    site.json(["cleanup"]).ok();
    assert!(site.files().is_empty(), "the killed ingest was not rolled back: {:?}", site.files());
    eprintln!("rolled back; {} left: {}", parents.display(), std::fs::symlink_metadata(&parents).is_ok());
    let up = site.upload(&other, "n1", &[]);
    up.ok();
    assert_eq!(up.json()["status"], "ingested", "{up}");
    site.assert_consistent();
}

#[test]
fn fault_points_of_a_file_upload() {
    let tmp = tempfile::tempdir_in(librarian_e2e::fast_tmp()).unwrap();
    let src = tmp.path().join("small.bin");
    write_random(&src, 4 << 20, 11);
    Campaign { label: "4 MiB file", name: "small.bin", extra: &[], source: &|_| src.clone() }.faults();
}

#[test]
fn fault_points_of_a_book_upload() {
    let tmp = tempfile::tempdir_in(librarian_e2e::fast_tmp()).unwrap();
    let src = tmp.path().join("book");
    make_book(&src, 200, 1, 12);
    Campaign { label: "book of 200 small + 1 large file", name: "book", extra: &[], source: &|_| src.clone() }.faults();
}

#[test]
fn fault_points_of_a_move_upload_of_a_file() {
    let tmp = tempfile::tempdir_in(librarian_e2e::fast_tmp()).unwrap();
    let pristine = tmp.path().join("moved.bin");
    write_random(&pristine, 4 << 20, 13);
    let source = |site: &Site| {
        let p = site.src("moved.bin");
        std::fs::copy(&pristine, &p).unwrap();
        p
    };
    Campaign { label: "--move of a 4 MiB file", name: "moved.bin", extra: &["--move"], source: &source }.faults();
}

#[test]
fn fault_points_of_a_move_upload_of_a_book() {
    let tmp = tempfile::tempdir_in(librarian_e2e::fast_tmp()).unwrap();
    let pristine = tmp.path().join("book");
    make_book(&pristine, 200, 1, 14);
    let source = |site: &Site| {
        let p = site.src("moved-book");
        if p.exists() {
            std::fs::remove_dir_all(&p).unwrap();
        }
        copy_tree(&pristine, &p);
        p
    };
    Campaign { label: "--move of a book", name: "moved-book", extra: &["--move"], source: &source }.faults();
}
