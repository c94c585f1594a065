//! Crash recovery of the ingest protocol (see the header of `src/ingest.rs`).
//!
//! Each test builds the state a process killed at one point of the protocol would
//! leave behind: a staging directory whose lock nobody holds, an intent row (recorded
//! through the public `Catalog::claim_name`, exactly as the ingest does), and the
//! payload either still in staging or already renamed into the data area. Then a new
//! `Librarian::open` (or `cleanup_staging`) must converge: no data in a data area
//! without a catalog row, `--move` sources returned intact, live ingests untouched,
//! and uploading the same name again works.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::*;
use jiff::Timestamp;
use librarian_core::IntentClaim;
use librarian_core::{FileKind, Librarian, UploadOptions, UploadStatus};
use librarian_core::{PosixStore, Store};

/// Payload name inside a staging directory (`src/store/staging.rs`).
const PAYLOAD: &str = "data";

/// A staging directory as a killed ingest leaves it: nobody holds its lock (the
/// directory is flock'ed by a live ingest). It holds a stray entry so that it is
/// not mistaken for one in the instant between `mkdir` and locking.
fn dead_staging(site: &Site) -> PathBuf {
    let dir = site.staging("main").join(uuid::Uuid::now_v7().to_string());
    std::fs::create_dir(&dir).unwrap();
    std::fs::File::create(dir.join("stray")).unwrap();
    dir
}

/// Put a file (or, with `book`, a book) payload at `path`; returns the source snapshot.
fn payload(path: &Path, book: bool, seed: u8) {
    if book {
        make_book(path, seed);
    } else {
        write(path, &bytes(20_000, seed));
    }
}

/// Record an intent exactly as `upload` does at step 3.
fn claim(lib: &Librarian, n: &str, staging_dir: &Path, moved_from: Option<&Path>) {
    let store = lib.catalog().store("main").unwrap().id;
    match lib.catalog().claim_name(&name(n), store, staging_dir, moved_from, Timestamp::now()).unwrap() {
        IntentClaim::Claimed(_) => {}
        other => panic!("could not claim {n}: {other:?}"),
    }
}

/// After recovery: nothing half-done, nothing stray, and the name can be uploaded
/// again and verifies.
fn converged(site: &Site, lib: &Librarian, n: &str, book: bool) {
    assert_eq!(lib.status().unwrap().ingests_in_progress, 0, "the intent was dropped");
    check_invariants(lib);
    assert_staging_empty(lib);
    let src = site.src(&format!("again-{}", n.replace('/', "_")));
    payload(&src, book, 77);
    let up = upload(lib, &src, n).unwrap();
    assert_eq!(up.status, UploadStatus::Ingested);
    assert_eq!(up.file.kind, if book { FileKind::Directory } else { FileKind::File });
    assert_eq!(snapshot(&up.file.instances[0].path), snapshot(&src), "the new upload's bytes, not the old ones");
    assert!(verify(lib, &[n]).ok);
    check_invariants(lib);
    assert_staging_empty(lib);
}

#[test]
fn killed_while_staging_without_intent_cleanup_removes_it() {
    let site = Site::new();
    // Killed mid-copy: a partial payload; killed after fsync: a whole one; killed
    // while removing staging: a leftover entry.
    let partial = dead_staging(&site);
    std::fs::write(partial.join(PAYLOAD), &bytes(1000, 1)[..300]).unwrap();
    let whole = dead_staging(&site);
    payload(&whole.join(PAYLOAD), true, 2);
    let src = site.src("f");
    write(&src, b"committed");
    upload(&site.lib, &src, "committed").unwrap();
    let after_commit = dead_staging(&site);

    // Opening does not touch staging directories without intents...
    let lib = site.reopen();
    assert!(partial.exists() && whole.exists() && after_commit.exists());
    // ...cleanup does.
    let mut removed = lib.cleanup_staging().unwrap();
    removed.sort();
    let mut expected = vec![partial.clone(), whole.clone(), after_commit.clone()];
    expected.sort();
    assert_eq!(removed, expected);
    for d in &expected {
        assert!(!d.exists(), "{} should be gone", d.display());
    }
    assert!(lib.cleanup_staging().unwrap().is_empty(), "cleanup is idempotent");
    assert!(verify(&lib, &["committed"]).ok, "committed data is untouched");
    converged(&site, &lib, "f", false);
    converged(&site, &lib, "b", true);
}

#[test]
fn an_empty_unlocked_staging_directory_gets_a_grace_period() {
    let site = Site::new();
    // Between `mkdir` and taking the lock, an ingest's directory is empty and unlocked.
    let young = site.staging("main").join(uuid::Uuid::now_v7().to_string());
    std::fs::create_dir(&young).unwrap();
    assert!(
        site.lib.cleanup_staging().unwrap().is_empty(),
        "a fresh, empty, unlocked directory may belong to a live ingest"
    );
    assert!(young.exists());
    // Two hours later it is stale.
    let old = SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::open(&young).unwrap().set_modified(old).unwrap();
    assert_eq!(site.lib.cleanup_staging().unwrap(), vec![young.clone()]);
    assert!(!young.exists());
    converged(&site, &site.lib, "x", false);
}

fn intent_before_rename(book: bool) {
    let site = Site::new();
    let n = "crash/before-rename";
    let staging = dead_staging(&site);
    payload(&staging.join(PAYLOAD), book, 3);
    claim(&site.lib, n, &staging, None);
    assert_eq!(site.lib.status().unwrap().ingests_in_progress, 1);

    let lib = site.reopen();
    assert_eq!(lib.status().unwrap().ingests_in_progress, 0, "the dead ingest's intent is dropped on open");
    assert!(!staging.exists(), "its staging directory is removed");
    assert!(std::fs::symlink_metadata(site.root("main").join(n)).is_err(), "nothing was placed in the data area");
    assert!(lib.file(&name(n)).is_err());
    converged(&site, &lib, n, book);
}

#[test]
fn killed_after_claiming_before_renaming_a_file() {
    intent_before_rename(false);
}

#[test]
fn killed_after_claiming_before_renaming_a_book() {
    intent_before_rename(true);
}

fn intent_after_rename(book: bool) {
    let site = Site::new();
    let n = "crash/after/rename";
    let staging = dead_staging(&site);
    let target = site.root("main").join(n);
    payload(&staging.join(PAYLOAD), book, 4);
    claim(&site.lib, n, &staging, None);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::rename(staging.join(PAYLOAD), &target).unwrap();
    // The rename happened, the catalog commit did not: data without a row.
    assert!(site.lib.file(&name(n)).is_err());

    let lib = site.reopen();
    assert!(std::fs::symlink_metadata(&target).is_err(), "the uncatalogued data left the data area");
    assert!(non_dirs(&site.root("main")).is_empty(), "no data-area path without a catalog row");
    assert!(!staging.exists());
    assert!(lib.file(&name(n)).is_err());
    converged(&site, &lib, n, book);
}

#[test]
fn killed_after_renaming_a_file_before_the_catalog_commit() {
    intent_after_rename(false);
}

#[test]
fn killed_after_renaming_a_book_before_the_catalog_commit() {
    intent_after_rename(true);
}

fn moved_intent(book: bool, renamed: bool) {
    let site = Site::new();
    let n = "moved/item";
    let origin = site.src("user-data/item");
    payload(&origin, book, 5);
    let origin = std::fs::canonicalize(&origin).unwrap();
    let before = if book { snapshot(&origin) } else { Default::default() };
    let before_bytes = if book { Vec::new() } else { std::fs::read(&origin).unwrap() };
    let staging = dead_staging(&site);
    claim(&site.lib, n, &staging, Some(&origin));
    let target = site.root("main").join(n);
    if renamed {
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::rename(&origin, &target).unwrap();
    }

    let lib = site.reopen();
    assert!(std::fs::symlink_metadata(&target).is_err(), "nothing uncatalogued stays in the data area");
    if book {
        assert_eq!(snapshot(&origin), before, "the user's book is back where it was, intact");
    } else {
        assert_eq!(std::fs::read(&origin).unwrap(), before_bytes, "the user's file is back, intact");
    }
    assert!(!staging.exists());
    assert!(lib.file(&name(n)).is_err());
    converged(&site, &lib, n, book);
    // And the --move upload can be repeated from the returned source.
    let opts = UploadOptions { move_source: true, ..Default::default() };
    let up = upload_with(&lib, &origin, "moved/again", &opts).unwrap();
    assert!(std::fs::symlink_metadata(&origin).is_err());
    assert!(verify(&lib, &[up.file.name.as_str()]).ok);
    check_invariants(&lib);
}

#[test]
fn killed_after_moving_a_file_into_the_store_returns_it_to_its_origin() {
    moved_intent(false, true);
}

#[test]
fn killed_after_moving_a_book_into_the_store_returns_it_to_its_origin() {
    moved_intent(true, true);
}

#[test]
fn killed_before_moving_leaves_the_source_alone() {
    moved_intent(false, false);
    moved_intent(true, false);
}

#[test]
fn an_upload_of_the_same_name_rolls_back_a_dead_ingest_first() {
    let site = Site::new();
    let n = "contested";
    let staging = dead_staging(&site);
    let target = site.root("main").join(n);
    payload(&staging.join(PAYLOAD), false, 6);
    claim(&site.lib, n, &staging, None);
    std::fs::rename(staging.join(PAYLOAD), &target).unwrap();
    // No reopen: the upload itself finds the dead intent holding the name.
    let src = site.src("new");
    write(&src, b"the new content");
    let up = upload(&site.lib, &src, n).unwrap();
    assert_eq!(up.status, UploadStatus::Ingested);
    assert_eq!(std::fs::read(&target).unwrap(), b"the new content");
    assert!(!staging.exists());
    check_invariants(&site.lib);
    assert_staging_empty(&site.lib);
    assert!(verify(&site.lib, &[n]).ok);
}

#[test]
fn a_live_ingest_is_never_rolled_back() {
    let site = Site::new();
    let (root, staging_area) = (site.root("main"), site.staging("main"));
    let store = PosixStore::new("main", &root, &staging_area);
    let live = store.new_staging().unwrap();
    let dir = live.dir().to_owned();
    assert!(dir.starts_with(&staging_area));
    payload(&live.payload(), false, 8);

    // Between steps 1 and 3: cleanup from this or another Librarian leaves it alone.
    assert!(site.lib.cleanup_staging().unwrap().is_empty());
    assert!(site.reopen().cleanup_staging().unwrap().is_empty());
    assert!(live.payload().exists());

    // Between steps 4 and 5: claimed and renamed, not yet committed.
    let n = "live/one";
    claim(&site.lib, n, &dir, None);
    let target = store.data_path(&name(n));
    store.commit(&live.payload(), &name(n)).unwrap();
    assert!(target.is_file());
    let other = site.reopen();
    assert_eq!(other.status().unwrap().ingests_in_progress, 1, "a live ingest's intent is kept");
    assert!(other.cleanup_staging().unwrap().is_empty());
    assert!(target.is_file(), "a live ingest's data is not moved");
    assert!(dir.exists());

    // The process dies (its lock is released and, here, its directory removed too).
    drop(live);
    let after = site.reopen();
    assert!(std::fs::symlink_metadata(&target).is_err(), "the dead ingest's data left the data area");
    assert!(!dir.exists());
    converged(&site, &after, n, false);
}
