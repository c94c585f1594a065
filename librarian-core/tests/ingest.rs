//! Ingest of files and books through the public API: what is catalogued, what lands in
//! the data area, and that every refusal leaves nothing behind.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::*;
use librarian_core::{
    Algorithm, Checksum, DeletionPolicy, Error, FileKind, Librarian, ObjectKind, UploadOptions, UploadStatus,
};

/// Nothing at all was catalogued, placed, or left in staging.
fn assert_untouched(site: &Site, n: &str) {
    let lib = &site.lib;
    match lib.file(&name(n)) {
        Err(Error::NotFound { kind: ObjectKind::File, .. }) => {}
        other => panic!("{n} should not be catalogued: {other:?}"),
    }
    let root = site.root("main");
    assert!(non_dirs(&root).is_empty(), "data area should hold nothing: {:?}", snapshot(&root));
    assert_staging_empty(lib);
    assert_eq!(lib.status().unwrap().files, 0);
    check_invariants(lib);
}

#[test]
fn file_upload_records_every_field() {
    let site = Site::new();
    let data = bytes(10_000, 1);
    let src = site.src("obs.dat");
    write(&src, &data);
    let opts = UploadOptions { uploader: Some("alice".into()), ..Default::default() };
    let up = upload_with(&site.lib, &src, "2026/11/obs.dat", &opts).unwrap();
    assert_eq!(up.status, UploadStatus::Ingested);
    let f = &up.file;
    assert_eq!(f.name.as_str(), "2026/11/obs.dat");
    assert_eq!(f.size, 10_000);
    assert_eq!(f.kind, FileKind::File);
    let text = f.checksum.to_string();
    assert_eq!(text, blake3_text(&data));
    assert!(text.starts_with("blake3:") && text.len() == 7 + 64, "{text}");
    assert!(text[7..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{text}");
    assert_eq!(f.uploader, "alice");
    assert_eq!(f.source, SITE);
    assert!(f.remote_instances.is_empty());
    assert_eq!(f.instances.len(), 1);
    let inst = &f.instances[0];
    assert_eq!(inst.store, "main");
    let root = site.root("main");
    assert_eq!(inst.path, root.join("2026/11/obs.dat"));
    assert!(inst.available);
    assert_eq!(inst.deletion_policy, DeletionPolicy::Disallowed);
    assert_eq!(std::fs::read(&inst.path).unwrap(), data);
    assert!(std::fs::symlink_metadata(&inst.path).unwrap().is_file());
    // A copy: the source is untouched.
    assert_eq!(std::fs::read(&src).unwrap(), data);
    // The catalog answers the same.
    assert_eq!(site.lib.file(&name("2026/11/obs.dat")).unwrap(), up.file);
    assert_eq!(site.lib.instances(&name("2026/11/obs.dat")).unwrap(), f.instances);
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
    assert!(verify(&site.lib, &["2026/11/obs.dat"]).ok);
}

#[test]
fn default_uploader_is_the_user_and_deletion_policy_can_be_allowed() {
    let site = Site::new();
    let src = site.src("f");
    write(&src, b"x");
    let up = upload(&site.lib, &src, "f").unwrap();
    let expected = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    assert_eq!(up.file.uploader, expected);
    assert_eq!(up.file.instances[0].deletion_policy, DeletionPolicy::Disallowed);

    let opts = UploadOptions { deletion_policy: DeletionPolicy::Allowed, ..Default::default() };
    let up = upload_with(&site.lib, &src, "g", &opts).unwrap();
    assert_eq!(up.file.instances[0].deletion_policy, DeletionPolicy::Allowed);
    assert_eq!(site.lib.instances(&name("g")).unwrap()[0].deletion_policy, DeletionPolicy::Allowed);
}

#[test]
fn book_upload_records_entries_and_the_path_aware_digest() {
    let site = Site::new();
    let src = site.src("book");
    make_book(&src, 3);
    let up = upload(&site.lib, &src, "books/b1").unwrap();
    assert_eq!(up.status, UploadStatus::Ingested);
    let f = &up.file;
    assert_eq!(f.kind, FileKind::Directory);
    assert_eq!(f.size, 1024 + 10 + 300);
    let x = bytes(1024, 3);
    let y = bytes(300, 4);
    let expected = book_digest(&[
        ("a", None),
        ("a/x", Some(&x)),
        ("b.txt", Some(b"hello book")),
        ("empty", None),
        ("sub", None),
        ("sub/deep", None),
        ("sub/deep/y", Some(&y)),
    ]);
    assert_eq!(f.checksum.to_string(), expected);
    let inst = &f.instances[0].path;
    assert_eq!(*inst, site.root("main").join("books/b1"));
    assert_eq!(snapshot(inst), snapshot(&src), "the stored book is an exact copy");
    assert_eq!(snapshot(&src).len(), 7, "source untouched");
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
    assert!(verify(&site.lib, &["books/b1"]).ok);
}

#[test]
fn same_content_again_is_already_present_with_no_new_instance() {
    let site = Site::new();
    let data = bytes(5000, 9);
    let src = site.src("f");
    write(&src, &data);
    let first = upload(&site.lib, &src, "f").unwrap();
    let book = site.src("book");
    make_book(&book, 1);
    upload(&site.lib, &book, "b").unwrap();
    let before = snapshot(&site.root("main"));

    // The same bytes from another path.
    let other = site.src("elsewhere/copy");
    write(&other, &data);
    let again = upload(&site.lib, &other, "f").unwrap();
    assert_eq!(again.status, UploadStatus::AlreadyPresent);
    assert_eq!(again.file, first.file, "nothing about the file changed");
    assert_eq!(site.lib.instances(&name("f")).unwrap().len(), 1);

    let book_again = upload(&site.lib, &book, "b").unwrap();
    assert_eq!(book_again.status, UploadStatus::AlreadyPresent);
    assert_eq!(book_again.file.instances.len(), 1);

    assert_eq!(snapshot(&site.root("main")), before);
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
}

#[test]
fn same_name_different_content_is_a_conflict_and_changes_nothing() {
    let site = Site::new();
    let src = site.src("f");
    write(&src, b"original");
    let first = upload(&site.lib, &src, "f").unwrap();
    let book = site.src("book");
    make_book(&book, 1);
    let first_book = upload(&site.lib, &book, "b").unwrap();
    let before = snapshot(&site.root("main"));

    let other = site.src("other");
    write(&other, b"imposter");
    match upload(&site.lib, &other, "f") {
        Err(Error::Conflict { name, existing, incoming }) => {
            assert_eq!(name, "f");
            assert_eq!(existing, blake3_text(b"original"));
            assert_eq!(incoming, blake3_text(b"imposter"));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A book that differs by one byte of one entry.
    write(&book.join("b.txt"), b"hello bool");
    match upload(&site.lib, &book, "b") {
        Err(Error::Conflict { name, existing, .. }) => {
            assert_eq!(name, "b");
            assert_eq!(existing, first_book.file.checksum.to_string());
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A file where a book is, and a book where a file is.
    assert!(matches!(upload(&site.lib, &other, "b"), Err(Error::Conflict { .. })));
    assert!(matches!(upload(&site.lib, &book, "f"), Err(Error::Conflict { .. })));

    assert_eq!(snapshot(&site.root("main")), before, "the data area is byte for byte unchanged");
    assert_eq!(site.lib.file(&name("f")).unwrap(), first.file);
    assert_eq!(site.lib.file(&name("b")).unwrap(), first_book.file);
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
    assert!(verify(&site.lib, &["f", "b"]).ok);
}

#[test]
fn expected_checksum_that_matches_is_accepted() {
    let site = Site::new();
    let data = bytes(3000, 2);
    let src = site.src("f");
    write(&src, &data);
    let expect = Checksum::parse(&blake3_text(&data)).unwrap();
    let opts = UploadOptions { expect_checksum: Some(expect.clone()), ..Default::default() };
    let up = upload_with(&site.lib, &src, "f", &opts).unwrap();
    assert_eq!(up.status, UploadStatus::Ingested);
    assert_eq!(up.file.checksum, expect);
    // Uppercase hex in the expectation is the same checksum.
    let upper = format!("blake3:{}", blake3::hash(&data).to_hex().to_ascii_uppercase());
    let opts = UploadOptions { expect_checksum: Some(Checksum::parse(&upper).unwrap()), ..Default::default() };
    assert_eq!(upload_with(&site.lib, &src, "f", &opts).unwrap().status, UploadStatus::AlreadyPresent);
}

#[test]
fn expected_checksum_mismatch_commits_nothing() {
    let site = Site::new();
    let src = site.src("f");
    write(&src, b"actual bytes");
    let wrong = Checksum::parse(&blake3_text(b"other bytes")).unwrap();
    let opts = UploadOptions { expect_checksum: Some(wrong.clone()), ..Default::default() };
    match upload_with(&site.lib, &src, "f", &opts) {
        Err(Error::ChecksumMismatch { name, detail }) => {
            assert_eq!(name, "f");
            assert!(detail.contains(&wrong.to_string()), "{detail}");
            assert!(detail.contains(&blake3_text(b"actual bytes")), "{detail}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert_untouched(&site, "f");

    // A book, and a --move upload (whose source must stay where it is).
    let book = site.src("book");
    make_book(&book, 5);
    let before = snapshot(&book);
    match upload_with(&site.lib, &book, "b", &opts) {
        Err(Error::ChecksumMismatch { name, .. }) => assert_eq!(name, "b"),
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let mv = UploadOptions { move_source: true, ..opts.clone() };
    assert!(matches!(upload_with(&site.lib, &book, "b", &mv), Err(Error::ChecksumMismatch { .. })));
    assert!(matches!(upload_with(&site.lib, &src, "f", &mv), Err(Error::ChecksumMismatch { .. })));
    assert_eq!(snapshot(&book), before, "a refused --move leaves the source in place");
    assert_eq!(std::fs::read(&src).unwrap(), b"actual bytes");
    assert_untouched(&site, "b");
}

#[test]
fn expectation_is_checked_even_when_the_name_is_already_catalogued() {
    let site = Site::new();
    let src = site.src("f");
    write(&src, b"content");
    upload(&site.lib, &src, "f").unwrap();
    // Same bytes, but the caller expected other bytes: that is not a success.
    for wrong in [blake3_text(b"something else"), sha256_text(b"something else")] {
        let opts = UploadOptions { expect_checksum: Some(Checksum::parse(&wrong).unwrap()), ..Default::default() };
        match upload_with(&site.lib, &src, "f", &opts) {
            Err(Error::ChecksumMismatch { name, .. }) => assert_eq!(name, "f"),
            other => panic!("expectation {wrong} should fail, got {other:?}"),
        }
    }
    // The right expectation, in either algorithm, is an idempotent success.
    for right in [blake3_text(b"content"), sha256_text(b"content")] {
        let opts = UploadOptions { expect_checksum: Some(Checksum::parse(&right).unwrap()), ..Default::default() };
        let up = upload_with(&site.lib, &src, "f", &opts).unwrap();
        assert_eq!(up.status, UploadStatus::AlreadyPresent, "{right}");
    }
    check_invariants(&site.lib);
}

#[test]
fn sha256_uploads() {
    let site = Site::new();
    let data = bytes(4096, 7);
    let src = site.src("f");
    write(&src, &data);
    let opts = UploadOptions { algorithm: Some(Algorithm::Sha256), ..Default::default() };
    let up = upload_with(&site.lib, &src, "f", &opts).unwrap();
    assert_eq!(up.file.checksum.to_string(), sha256_text(&data));
    assert_eq!(up.file.checksum.algorithm(), Algorithm::Sha256);
    assert!(verify(&site.lib, &["f"]).ok);
    // Re-upload with default options compares in the catalogued algorithm.
    assert_eq!(upload(&site.lib, &src, "f").unwrap().status, UploadStatus::AlreadyPresent);
    write(&src, b"changed");
    match upload(&site.lib, &src, "f") {
        Err(Error::Conflict { existing, incoming, .. }) => {
            assert_eq!(existing, sha256_text(&data));
            assert_eq!(incoming, sha256_text(b"changed"));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    // The algorithm follows the expectation.
    let src2 = site.src("g");
    write(&src2, b"gee");
    let opts =
        UploadOptions { expect_checksum: Some(Checksum::parse(&sha256_text(b"gee")).unwrap()), ..Default::default() };
    let up = upload_with(&site.lib, &src2, "g", &opts).unwrap();
    assert_eq!(up.file.checksum.to_string(), sha256_text(b"gee"));

    // A book hashed with SHA-256 verifies too.
    let book = site.src("book");
    make_book(&book, 2);
    let opts = UploadOptions { algorithm: Some(Algorithm::Sha256), ..Default::default() };
    let up = upload_with(&site.lib, &book, "b", &opts).unwrap();
    assert_eq!(up.file.checksum.algorithm(), Algorithm::Sha256);
    assert!(verify(&site.lib, &["b"]).ok);

    // Expectation and algorithm that disagree are refused before any work.
    let src3 = site.src("h");
    write(&src3, b"h");
    let opts = UploadOptions {
        expect_checksum: Some(Checksum::parse(&sha256_text(b"h")).unwrap()),
        algorithm: Some(Algorithm::Blake3),
        ..Default::default()
    };
    assert!(matches!(upload_with(&site.lib, &src3, "h", &opts), Err(Error::AlgorithmMismatch { .. })));
    assert!(site.lib.file(&name("h")).is_err());
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
}

#[test]
fn legacy_algorithms_are_computed_and_a_wrong_expectation_changes_nothing() {
    // xxh3 and md5 (the older Librarian's) are computed like the others; more in
    // tests/legacy_checksums.rs.
    let site = Site::new();
    let src = site.src("f");
    write(&src, b"legacy");
    // md5 / XXH3-128 of "a", not of "legacy": refused with both digests named.
    for text in ["md5:::0cc175b9c0f1b6a831c399e269772661", "xxh3:::a96faf705af16834e6c632b61e964e1f"] {
        let expect = Checksum::parse(text).unwrap();
        let opts = UploadOptions { expect_checksum: Some(expect.clone()), ..Default::default() };
        match upload_with(&site.lib, &src, "f", &opts) {
            Err(Error::ChecksumMismatch { detail, .. }) => {
                assert!(detail.contains(&expect.to_string()), "{detail}");
                assert!(detail.contains(&format!("{}:", expect.algorithm())), "{detail}");
            }
            other => panic!("expected a checksum mismatch for {text}, got {other:?}"),
        }
    }
    assert_eq!(std::fs::read(&src).unwrap(), b"legacy");
    assert_untouched(&site, "f");
    // Asking for the algorithm directly works.
    for (alg, n) in [(Algorithm::Md5, "m"), (Algorithm::Xxh3, "x")] {
        let opts = UploadOptions { algorithm: Some(alg), ..Default::default() };
        let up = upload_with(&site.lib, &src, n, &opts).unwrap();
        assert_eq!(up.file.checksum.algorithm(), alg);
        assert_eq!(up.file.checksum.hex().len(), 32);
        assert!(verify(&site.lib, &[n]).ok);
    }
    check_invariants(&site.lib);
}

#[test]
fn move_of_a_file_renames_it_into_the_store() {
    let site = Site::new();
    let data = bytes(70_000, 4);
    let src = site.src("to-move.dat");
    write(&src, &data);
    let opts = UploadOptions { move_source: true, ..Default::default() };
    let up = upload_with(&site.lib, &src, "moved.dat", &opts).unwrap();
    assert!(std::fs::symlink_metadata(&src).is_err(), "the source is gone");
    let path = &up.file.instances[0].path;
    assert_eq!(*path, site.root("main").join("moved.dat"));
    assert_eq!(std::fs::read(path).unwrap(), data);
    // The checksum equals that of a copy-upload of identical bytes.
    let copy = site.src("copy.dat");
    write(&copy, &data);
    let copied = upload(&site.lib, &copy, "copied.dat").unwrap();
    assert_eq!(up.file.checksum, copied.file.checksum);
    assert_eq!(up.file.checksum.to_string(), blake3_text(&data));
    assert_eq!(up.file.size, 70_000);
    assert!(copy.exists(), "a copy upload keeps its source");
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
    assert!(verify(&site.lib, &["moved.dat", "copied.dat"]).ok);
}

#[test]
fn move_of_a_book_renames_it_into_the_store() {
    let site = Site::new();
    let src = site.src("book");
    make_book(&src, 8);
    let expected = snapshot(&src);
    let copy = site.src("copy");
    make_book(&copy, 8);
    let opts = UploadOptions { move_source: true, ..Default::default() };
    let up = upload_with(&site.lib, &src, "moved/book", &opts).unwrap();
    assert_eq!(up.file.kind, FileKind::Directory);
    assert!(std::fs::symlink_metadata(&src).is_err(), "the source is gone");
    assert_eq!(snapshot(&up.file.instances[0].path), expected);
    let copied = upload(&site.lib, &copy, "copied/book").unwrap();
    assert_eq!(up.file.checksum, copied.file.checksum);
    assert_eq!(up.file.size, copied.file.size);
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
    assert!(verify(&site.lib, &["moved/book", "copied/book"]).ok);
}

#[test]
fn empty_file_and_empty_book() {
    let site = Site::new();
    let f = site.src("empty.dat");
    write(&f, b"");
    let up = upload(&site.lib, &f, "empty.dat").unwrap();
    assert_eq!(up.file.size, 0);
    assert_eq!(up.file.kind, FileKind::File);
    assert_eq!(up.file.checksum.to_string(), "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    assert_eq!(std::fs::read(&up.file.instances[0].path).unwrap(), b"");

    let b = site.src("empty-book");
    std::fs::create_dir_all(&b).unwrap();
    let up = upload(&site.lib, &b, "empty-book").unwrap();
    assert_eq!(up.file.size, 0);
    assert_eq!(up.file.kind, FileKind::Directory);
    assert_eq!(up.file.checksum.to_string(), book_digest(&[]));
    let path = &up.file.instances[0].path;
    assert!(path.is_dir());
    assert!(snapshot(path).is_empty());
    assert!(verify(&site.lib, &["empty.dat", "empty-book"]).ok);
    assert_eq!(upload(&site.lib, &b, "empty-book").unwrap().status, UploadStatus::AlreadyPresent);
    check_invariants(&site.lib);
}

#[test]
fn empty_subdirectory_is_part_of_a_book() {
    let site = Site::new();
    let with = site.src("with");
    write(&with.join("f"), b"data");
    std::fs::create_dir_all(with.join("hollow/inner")).unwrap();
    let without = site.src("without");
    write(&without.join("f"), b"data");
    let a = upload(&site.lib, &with, "with").unwrap();
    let b = upload(&site.lib, &without, "without").unwrap();
    assert_ne!(a.file.checksum, b.file.checksum, "an empty directory changes the digest");
    assert_eq!(
        a.file.checksum.to_string(),
        book_digest(&[("f", Some(b"data")), ("hollow", None), ("hollow/inner", None)])
    );
    assert!(a.file.instances[0].path.join("hollow/inner").is_dir(), "empty directories are stored");
    assert!(verify(&site.lib, &["with", "without"]).ok);
    // Removing the empty directory from the stored copy is noticed.
    std::fs::remove_dir(a.file.instances[0].path.join("hollow/inner")).unwrap();
    assert!(!verify(&site.lib, &["with"]).ok);
}

/// Upload a book containing one bad entry at `bad` (relative); it must be refused as
/// UnsupportedEntry naming `shown`, leaving nothing behind.
fn refused_entry(site: &Site, book: &Path, shown: &str, reason_word: &str) {
    let err = upload(&site.lib, book, "bad-book").expect_err("a book with a bad entry is refused");
    match &err {
        Error::UnsupportedEntry { path, reason } => {
            assert_eq!(path, shown, "the error names the entry");
            assert!(reason.contains(reason_word), "reason {reason:?} should mention {reason_word:?}");
        }
        other => panic!("expected UnsupportedEntry for {shown:?}, got {other:?}"),
    }
    assert!(err.to_string().contains(shown), "message {err} names the entry");
    assert_untouched(site, "bad-book");
}

#[test]
fn symlinks_inside_a_book_are_refused() {
    let site = Site::new();
    let outside = site.src("outside.txt");
    write(&outside, b"secret");

    let book = site.src("inner-link");
    make_book(&book, 1);
    std::os::unix::fs::symlink("b.txt", book.join("link")).unwrap();
    refused_entry(&site, &book, "link", "symbolic link");

    let book = site.src("outer-link");
    make_book(&book, 1);
    std::os::unix::fs::symlink(&outside, book.join("sub/deep/escape")).unwrap();
    refused_entry(&site, &book, "sub/deep/escape", "symbolic link");

    let book = site.src("dir-link");
    make_book(&book, 1);
    std::os::unix::fs::symlink(site.src(""), book.join("a/up")).unwrap();
    refused_entry(&site, &book, "a/up", "symbolic link");

    let book = site.src("dangling");
    make_book(&book, 1);
    std::os::unix::fs::symlink("/nonexistent/target", book.join("gone")).unwrap();
    refused_entry(&site, &book, "gone", "symbolic link");
}

#[test]
fn special_files_inside_a_book_are_refused() {
    let site = Site::new();
    let book = site.src("fifo");
    make_book(&book, 1);
    let fifo = std::ffi::CString::new(book.join("sub/pipe").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    refused_entry(&site, &book, "sub/pipe", "named pipe");

    let book = site.src("sock");
    make_book(&book, 1);
    let _listener = std::os::unix::net::UnixListener::bind(book.join("s")).unwrap();
    refused_entry(&site, &book, "s", "socket");
}

#[test]
fn bad_entry_names_inside_a_book_are_refused() {
    let site = Site::new();

    let book = site.src("newline");
    make_book(&book, 1);
    write(&book.join("sub/bad\nname"), b"x");
    refused_entry(&site, &book, "sub/bad\nname", "control character");

    let book = site.src("backslash");
    make_book(&book, 1);
    write(&book.join("bad\\name"), b"x");
    refused_entry(&site, &book, "bad\\name", "backslash");

    let book = site.src("not-utf8");
    make_book(&book, 1);
    write(&book.join("a").join(OsStr::from_bytes(b"bad\xffname")), b"x");
    refused_entry(&site, &book, "a/bad\u{FFFD}name", "UTF-8");

    // A bad directory name is refused too, even when it is empty.
    let book = site.src("bad-dir");
    make_book(&book, 1);
    std::fs::create_dir(book.join("tab\there")).unwrap();
    refused_entry(&site, &book, "tab\there", "control character");
}

#[test]
fn a_source_that_is_a_symlink_is_resolved() {
    let site = Site::new();
    let target = site.src("real.dat");
    write(&target, b"real bytes");
    let link = site.src("link.dat");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let up = upload(&site.lib, &link, "via-link").unwrap();
    let path = &up.file.instances[0].path;
    assert!(std::fs::symlink_metadata(path).unwrap().is_file(), "the store holds a regular file, not a link");
    assert_eq!(std::fs::read(path).unwrap(), b"real bytes");
    assert_eq!(up.file.checksum.to_string(), blake3_text(b"real bytes"));
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink(), "the link is left alone");
    assert_eq!(std::fs::read(&target).unwrap(), b"real bytes");

    // A symlink to a directory is uploaded as the book it points to.
    let dir = site.src("realbook");
    make_book(&dir, 2);
    let dlink = site.src("booklink");
    std::os::unix::fs::symlink(&dir, &dlink).unwrap();
    let up = upload(&site.lib, &dlink, "book-via-link").unwrap();
    assert_eq!(up.file.kind, FileKind::Directory);
    assert_eq!(snapshot(&up.file.instances[0].path), snapshot(&dir));
    check_invariants(&site.lib);
    assert!(verify(&site.lib, &["via-link", "book-via-link"]).ok);
}

#[test]
fn a_missing_source_is_not_found() {
    let site = Site::new();
    let missing = site.src("no/such/file");
    match upload(&site.lib, &missing, "x") {
        Err(Error::NotFound { kind: ObjectKind::Path, name }) => assert!(name.contains("no/such/file"), "{name}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // A dangling symlink as source is missing too.
    let link = site.src("dangling");
    std::os::unix::fs::symlink(&missing, &link).unwrap();
    assert!(matches!(upload(&site.lib, &link, "x"), Err(Error::NotFound { kind: ObjectKind::Path, .. })));
    // A FIFO as the source itself is refused.
    let fifo = site.src("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    assert!(matches!(upload(&site.lib, &fifo, "x"), Err(Error::UnsupportedEntry { .. })));
    assert_untouched(&site, "x");
}

/// `a` is catalogued; every name below it is refused with an error that names `a`,
/// and nothing is left half-done.
fn names_below_are_refused(site: &Site, parent: &str) {
    let lib: &Librarian = &site.lib;
    let before_files = all_files(lib);
    let before_data = snapshot(&site.root("main"));
    let src = site.src("child");
    write(&src, b"child bytes");
    let book = site.src("child-book");
    make_book(&book, 9);
    for child in [format!("{parent}/b"), format!("{parent}/b/c"), format!("{parent}/x")] {
        for source in [&src, &book] {
            let err = upload(lib, source, &child).expect_err("a name inside a catalogued file is refused");
            let msg = err.to_string();
            assert!(msg.contains(parent), "error for {child} should name {parent}: {msg}");
            assert!(lib.file(&name(&child)).is_err(), "{child} must not be catalogued");
        }
    }
    assert_eq!(all_files(lib), before_files);
    assert_eq!(snapshot(&site.root("main")), before_data, "data area unchanged");
    assert_staging_empty(lib);
    check_invariants(lib);
    assert!(verify(lib, &[parent]).ok);
}

#[test]
fn a_name_below_a_catalogued_file_is_refused() {
    let site = Site::new();
    let src = site.src("a");
    write(&src, b"I am a file");
    upload(&site.lib, &src, "dir/a").unwrap();
    names_below_are_refused(&site, "dir/a");
}

#[test]
fn a_name_below_a_catalogued_book_is_refused() {
    let site = Site::new();
    let book = site.src("abook");
    write(&book.join("x"), b"entry x");
    upload(&site.lib, &book, "dir/a").unwrap();
    names_below_are_refused(&site, "dir/a");
}

#[test]
fn a_name_above_a_catalogued_file_is_refused() {
    let site = Site::new();
    let src = site.src("leaf");
    write(&src, b"leaf");
    upload(&site.lib, &src, "top/mid/leaf").unwrap();
    let before = snapshot(&site.root("main"));
    let book = site.src("book");
    make_book(&book, 1);
    for n in ["top", "top/mid"] {
        assert!(upload(&site.lib, &src, n).is_err(), "file {n} would hide top/mid/leaf");
        assert!(upload(&site.lib, &book, n).is_err(), "book {n} would contain top/mid/leaf");
    }
    assert_eq!(snapshot(&site.root("main")), before);
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Any small tree round-trips: the stored copy is identical, the checksum is the
    /// documented path-aware digest, and it verifies.
    #[test]
    fn any_small_book_round_trips(
        files in proptest::collection::btree_map("[ab]{1,2}(/[ab]{1,2}){0,2}", proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..8),
        dirs in proptest::collection::vec("[ab]{1,2}(/[ab]{1,2}){0,2}", 0..3),
    ) {
        let site = Site::new();
        let root = site.src("book");
        std::fs::create_dir_all(&root).unwrap();
        for (p, data) in &files {
            write(&root.join(format!("{p}.f")), data);
        }
        for d in &dirs {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let on_disk = snapshot(&root);
        let listed: Vec<(String, Option<Vec<u8>>)> = on_disk
            .iter()
            .map(|(p, n)| match n {
                Node::File(b) => (lossy(p), Some(b.clone())),
                _ => (lossy(p), None),
            })
            .collect();
        let refs: Vec<(&str, Option<&[u8]>)> = listed.iter().map(|(p, b)| (p.as_str(), b.as_deref())).collect();
        let up = upload(&site.lib, &root, "prop/book").unwrap();
        proptest::prop_assert_eq!(up.file.checksum.to_string(), book_digest(&refs));
        let total: usize = files.values().map(Vec::len).sum();
        proptest::prop_assert_eq!(up.file.size, total as u64);
        proptest::prop_assert_eq!(snapshot(&up.file.instances[0].path), on_disk);
        proptest::prop_assert!(verify(&site.lib, &["prop/book"]).ok);
        check_invariants(&site.lib);
        assert_staging_empty(&site.lib);
    }
}

/// Catalogue `n` as a catalog-only file (copies only at another site) with the digest of
/// the data at `src` as computed by a throwaway site.
fn catalogue_remote_only(site: &Site, src: &Path, n: &str) -> librarian_core::File {
    let scratch = Site::new();
    let up = upload(&scratch.lib, src, "x").unwrap();
    let entries = scratch.lib.catalog().entries(scratch.lib.catalog().require_file(&name("x")).unwrap().id).unwrap();
    let file_name = name(n);
    let new = librarian_core::NewFile {
        name: &file_name,
        size: up.file.size,
        checksum: &up.file.checksum,
        kind: up.file.kind,
        uploader: "someone",
        source: "site-b",
        created_at: None,
        entries: &entries,
    };
    site.lib.catalog().insert_remote_files(&[new], "site-b", "main", jiff::Timestamp::now()).unwrap();
    let f = site.lib.file(&file_name).unwrap();
    assert!(f.instances.is_empty() && f.remote_instances.len() == 1);
    f
}

#[test]
fn same_bytes_under_a_remote_only_name_become_its_first_local_copy() {
    let site = Site::new();
    let data = bytes(30_000, 4);
    let src = site.src("f");
    write(&src, &data);
    let remote = catalogue_remote_only(&site, &src, "remote/f");

    let up = upload(&site.lib, &src, "remote/f").unwrap();
    assert_eq!(up.status, UploadStatus::Ingested, "a local copy was made");
    assert_eq!(up.file.instances.len(), 1);
    assert_eq!(up.file.remote_instances.len(), 1, "the remote copy is still known");
    assert_eq!((up.file.checksum.clone(), up.file.uploader.clone()), (remote.checksum, remote.uploader));
    assert_eq!(std::fs::read(&up.file.instances[0].path).unwrap(), data);
    assert!(verify(&site.lib, &["remote/f"]).ok);
    // Now it has a local copy: the usual idempotent success.
    assert_eq!(upload(&site.lib, &src, "remote/f").unwrap().status, UploadStatus::AlreadyPresent);
    assert_eq!(site.lib.instances(&name("remote/f")).unwrap().len(), 1);
    check_invariants(&site.lib);
    assert_staging_empty(&site.lib);

    // A book too, and its entries verify.
    let book = site.src("book");
    make_book(&book, 5);
    catalogue_remote_only(&site, &book, "remote/book");
    assert_eq!(upload(&site.lib, &book, "remote/book").unwrap().status, UploadStatus::Ingested);
    assert!(verify(&site.lib, &["remote/book"]).ok);
}

#[test]
fn different_bytes_under_a_remote_only_name_conflict_and_change_nothing() {
    let site = Site::new();
    let src = site.src("f");
    write(&src, &bytes(1000, 6));
    catalogue_remote_only(&site, &src, "remote/f");
    let other = site.src("other");
    write(&other, &bytes(1000, 7));
    let err = upload(&site.lib, &other, "remote/f").unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert!(site.lib.file(&name("remote/f")).unwrap().instances.is_empty());
    assert!(non_dirs(&site.root("main")).is_empty(), "nothing reached the data area");
    assert_staging_empty(&site.lib);
}

/// Issue 11, bug 7: a file created elsewhere keeps its creation time; its arrival is
/// `arrived_at`; a creation time after the arrival is taken as the arrival.
#[test]
fn created_at_is_the_origins_and_never_after_the_arrival() {
    let site = Site::new();
    let at = |n: &str, created_at: Option<jiff::Timestamp>| {
        let src = site.src(n);
        write(&src, n.as_bytes());
        let opts = UploadOptions { created_at, ..Default::default() };
        let before = jiff::Timestamp::now();
        let f = upload_with(&site.lib, &src, n, &opts).unwrap().file;
        let after = jiff::Timestamp::now();
        assert!(before <= f.arrived_at && f.arrived_at <= after, "{f:?}");
        assert_eq!(site.lib.file(&name(n)).unwrap(), f, "read back the same");
        f
    };
    let here = at("t/here", None);
    assert_eq!(here.created_at, here.arrived_at, "ingested here: created when it arrived");
    let past: jiff::Timestamp = "2020-05-01T12:00:00Z".parse().unwrap();
    assert_eq!(at("t/past", Some(past)).created_at, past);
    let future: jiff::Timestamp = "2999-01-01T00:00:00Z".parse().unwrap();
    let f = at("t/future", Some(future));
    assert_eq!(f.created_at, f.arrived_at, "clamped to the arrival");
}
