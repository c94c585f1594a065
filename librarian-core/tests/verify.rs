//! Verify: re-read instances from disk and name what is wrong.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use librarian_core::{
    CheckStatus, EntryProblem, EntryProblemKind, Error, NoProgress, ObjectKind, StoreSpec, UploadOptions, VerifyReport,
};

/// Flip one byte of `path` in place.
fn flip_byte(path: &Path, at: usize) {
    let mut data = std::fs::read(path).unwrap();
    data[at] ^= 0x01;
    std::fs::write(path, data).unwrap();
}

fn site_with_file_and_book() -> (Site, PathBuf, PathBuf) {
    let site = Site::new();
    let f = site.src("f.dat");
    write(&f, &bytes(5000, 1));
    let b = site.src("book");
    make_book(&b, 2);
    let fp = upload(&site.lib, &f, "f.dat").unwrap().file.instances[0].path.clone();
    let bp = upload(&site.lib, &b, "book").unwrap().file.instances[0].path.clone();
    (site, fp, bp)
}

fn only(report: &VerifyReport) -> &librarian_core::InstanceCheck {
    assert_eq!(report.checked.len(), 1, "{report:?}");
    &report.checked[0]
}

#[test]
fn verify_ok_updates_verified_at() {
    let (site, _, _) = site_with_file_and_book();
    let before = site.lib.instances(&name("f.dat")).unwrap()[0].verified_at.unwrap();
    let book_before = site.lib.instances(&name("book")).unwrap()[0].verified_at.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let report = verify(&site.lib, &["f.dat", "book"]);
    assert!(report.ok);
    assert_eq!(report.checked.len(), 2);
    for c in &report.checked {
        assert_eq!(c.status, CheckStatus::Ok);
        assert_eq!(c.actual.as_ref(), Some(&c.expected));
        assert!(c.problems.is_empty() && c.error.is_none());
    }
    let after = site.lib.instances(&name("f.dat")).unwrap()[0].verified_at.unwrap();
    let book_after = site.lib.instances(&name("book")).unwrap()[0].verified_at.unwrap();
    assert!(after > before, "{after} should be later than {before}");
    assert!(book_after > book_before);
    assert!(report.into_result().is_ok());
}

#[test]
fn a_corrupt_file_is_a_mismatch_naming_it() {
    let (site, fp, _) = site_with_file_and_book();
    let before = site.lib.instances(&name("f.dat")).unwrap()[0].verified_at;
    flip_byte(&fp, 4321);
    let report = verify(&site.lib, &["f.dat"]);
    assert!(!report.ok);
    let c = only(&report);
    assert_eq!(c.status, CheckStatus::Mismatch);
    assert_eq!(c.name.as_str(), "f.dat");
    assert_eq!(c.path, fp);
    assert_eq!(c.expected.to_string(), blake3_text(&bytes(5000, 1)));
    assert_eq!(c.actual.as_ref().map(|a| a.to_string()), Some(blake3_text(&std::fs::read(&fp).unwrap())));
    assert_eq!(site.lib.instances(&name("f.dat")).unwrap()[0].verified_at, before, "a failed check is not recorded");
    match report.into_result() {
        Err(Error::ChecksumMismatch { name, detail }) => {
            assert_eq!(name, "f.dat");
            assert!(detail.contains(&fp.display().to_string()), "{detail}");
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    // The book next to it is fine.
    assert!(verify(&site.lib, &["book"]).ok);
    // A truncated file is a mismatch too.
    std::fs::write(&fp, b"").unwrap();
    assert_eq!(only(&verify(&site.lib, &["f.dat"])).status, CheckStatus::Mismatch);
}

#[test]
fn a_corrupt_book_entry_is_named() {
    let (site, _, bp) = site_with_file_and_book();
    flip_byte(&bp.join("sub/deep/y"), 7);
    let report = verify(&site.lib, &["book"]);
    let c = only(&report);
    assert_eq!(c.status, CheckStatus::Mismatch);
    assert_eq!(c.problems, vec![EntryProblem { entry: "sub/deep/y".into(), problem: EntryProblemKind::Mismatch }]);
    match report.into_result() {
        Err(Error::ChecksumMismatch { name, detail }) => {
            assert_eq!(name, "book");
            assert!(detail.contains("sub/deep/y"), "{detail}");
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
}

#[test]
fn a_missing_book_entry_is_named() {
    let (site, _, bp) = site_with_file_and_book();
    std::fs::remove_file(bp.join("a/x")).unwrap();
    let report = verify(&site.lib, &["book"]);
    let c = only(&report);
    assert_eq!(c.status, CheckStatus::Missing);
    assert_eq!(c.problems, vec![EntryProblem { entry: "a/x".into(), problem: EntryProblemKind::Missing }]);
    match report.into_result() {
        Err(Error::DataMissing { name, detail }) => {
            assert_eq!(name, "book");
            assert!(detail.contains("a/x"), "{detail}");
        }
        other => panic!("expected DataMissing, got {other:?}"),
    }
    // A missing empty directory is named too.
    std::fs::remove_dir(bp.join("empty")).unwrap();
    let report = verify(&site.lib, &["book"]);
    let entries: Vec<&str> = only(&report).problems.iter().map(|p| p.entry.as_str()).collect();
    assert_eq!(entries, ["a/x", "empty"]);
}

#[test]
fn a_missing_instance_is_data_missing() {
    let (site, fp, bp) = site_with_file_and_book();
    std::fs::remove_file(&fp).unwrap();
    std::fs::remove_dir_all(&bp).unwrap();
    let report = verify(&site.lib, &["f.dat", "book"]);
    assert!(!report.ok);
    assert!(report.checked.iter().all(|c| c.status == CheckStatus::Missing), "{report:?}");
    match report.into_result() {
        Err(Error::DataMissing { name, detail }) => {
            assert_eq!(name, "f.dat");
            assert!(detail.contains("missing"), "{detail}");
        }
        other => panic!("expected DataMissing, got {other:?}"),
    }
}

#[test]
fn an_unexpected_book_entry_is_reported() {
    let (site, _, bp) = site_with_file_and_book();
    write(&bp.join("sub/intruder"), b"not catalogued");
    let report = verify(&site.lib, &["book"]);
    let c = only(&report);
    assert_eq!(c.status, CheckStatus::Mismatch);
    assert_eq!(c.problems, vec![EntryProblem { entry: "sub/intruder".into(), problem: EntryProblemKind::Unexpected }]);
    let err = report.into_result().expect_err("an extra entry is a problem");
    assert!(err.to_string().contains("sub/intruder"), "{err}");
    // An unexpected empty directory too.
    std::fs::remove_file(bp.join("sub/intruder")).unwrap();
    std::fs::create_dir(bp.join("newdir")).unwrap();
    let report = verify(&site.lib, &["book"]);
    assert_eq!(
        only(&report).problems,
        vec![EntryProblem { entry: "newdir".into(), problem: EntryProblemKind::Unexpected }]
    );
}

#[test]
fn an_entry_replaced_by_a_symlink_is_reported_not_followed() {
    let (site, _, bp) = site_with_file_and_book();
    // The link points at identical bytes: following it would wrongly pass.
    let twin = site.src("twin-b.txt");
    write(&twin, b"hello book");
    std::fs::remove_file(bp.join("b.txt")).unwrap();
    std::os::unix::fs::symlink(&twin, bp.join("b.txt")).unwrap();
    let report = verify(&site.lib, &["book"]);
    let c = only(&report);
    assert_ne!(c.status, CheckStatus::Ok);
    assert!(c.problems.iter().any(|p| p.entry == "b.txt"), "{c:?}");
    let err = report.into_result().expect_err("a symlink in a book is a problem");
    assert!(err.to_string().contains("b.txt"), "{err}");

    // A directory entry replaced by a symlink to an identical copy.
    let (site, _, bp) = site_with_file_and_book();
    let copy = site.src("sub-copy");
    std::fs::rename(bp.join("sub"), &copy).unwrap();
    std::os::unix::fs::symlink(&copy, bp.join("sub")).unwrap();
    let report = verify(&site.lib, &["book"]);
    assert!(!report.ok);
    assert!(only(&report).problems.iter().any(|p| p.entry == "sub"), "{report:?}");
}

#[test]
fn an_instance_replaced_by_a_symlink_is_reported_not_followed() {
    let (site, fp, bp) = site_with_file_and_book();
    let twin = site.src("twin.dat");
    std::fs::rename(&fp, &twin).unwrap();
    std::os::unix::fs::symlink(&twin, &fp).unwrap();
    let twin_book = site.src("twin-book");
    std::fs::rename(&bp, &twin_book).unwrap();
    std::os::unix::fs::symlink(&twin_book, &bp).unwrap();
    let report = verify(&site.lib, &["f.dat", "book"]);
    assert!(!report.ok, "{report:?}");
    for c in &report.checked {
        assert_ne!(c.status, CheckStatus::Ok, "{} was followed through a symlink", c.name);
        assert!(c.error.as_deref().is_some_and(|e| e.contains("symbolic link")), "{c:?}");
    }
    assert!(report.into_result().is_err());
}

#[test]
fn verify_all_and_by_store() {
    let site = Site::new();
    site.lib.add_store(&StoreSpec::new("second", site.path().join("second"))).unwrap();
    let on = |s: &str| UploadOptions { store: Some(s.into()), ..Default::default() };
    for (n, store, seed) in [("m1", "main", 1), ("m2", "main", 2), ("s1", "second", 3)] {
        let src = site.src(n);
        write(&src, &bytes(2000, seed));
        upload_with(&site.lib, &src, n, &on(store)).unwrap();
    }
    let all = site.lib.verify(&[], None, &NoProgress).unwrap();
    assert!(all.ok);
    let mut names: Vec<&str> = all.checked.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["m1", "m2", "s1"]);

    let second = site.lib.verify(&[], Some("second"), &NoProgress).unwrap();
    assert_eq!(second.checked.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["s1"]);
    assert!(second.checked.iter().all(|c| c.store == "second"));
    let main = site.lib.verify(&[], Some("main"), &NoProgress).unwrap();
    assert_eq!(main.checked.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["m1", "m2"]);

    // Damage on `second` is seen by a verify of all and of `second`, not of `main`.
    flip_byte(&site.root("second").join("s1"), 0);
    assert!(!site.lib.verify(&[], None, &NoProgress).unwrap().ok);
    assert!(!site.lib.verify(&[], Some("second"), &NoProgress).unwrap().ok);
    assert!(site.lib.verify(&[], Some("main"), &NoProgress).unwrap().ok);

    // A named file on a store that has no copy of it, an unknown store, an unknown file.
    match site.lib.verify(&[name("m1")], Some("second"), &NoProgress) {
        Err(Error::NotFound { kind: ObjectKind::Instance, name }) => assert!(name.contains("m1"), "{name}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(matches!(
        site.lib.verify(&[], Some("nope"), &NoProgress),
        Err(Error::NotFound { kind: ObjectKind::Store, .. })
    ));
    assert!(matches!(
        site.lib.verify(&[name("nope")], None, &NoProgress),
        Err(Error::NotFound { kind: ObjectKind::File, .. })
    ));
    assert!(site.lib.verify(&[name("m1")], Some("main"), &NoProgress).unwrap().ok);
}
