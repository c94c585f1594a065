//! `librarian get NAME DEST` (issue 13): a file or book copied out of the stores,
//! hashed while copied, put at DEST only when it matches the catalog.

use librarian_e2e::{Site, walk};

#[test]
fn get_copies_files_and_books_and_refuses_corrupt_bytes_leaving_nothing() {
    let site = Site::new();
    let src = site.src("obs.dat");
    std::fs::write(&src, b"photons from the sky\n".repeat(1000)).unwrap();
    site.upload(&src, "2026/obs.dat", &[]).ok();
    let book = site.src("book");
    std::fs::create_dir_all(book.join("d é/e")).unwrap();
    std::fs::write(book.join("d é/e/x"), b"deep").unwrap();
    std::fs::write(book.join("top"), b"top").unwrap();
    site.upload(&book, "2026/book", &[]).ok();

    let out = site.tmp().join("out");
    std::fs::create_dir(&out).unwrap();
    let got = site.json(["get", "2026/obs.dat", out.join("obs.dat").to_str().unwrap()]);
    got.ok();
    assert_eq!(got.json()["store"], "main", "{got}");
    assert_eq!(std::fs::read(out.join("obs.dat")).unwrap(), std::fs::read(&src).unwrap());
    let text = site.run(["get", "2026/book", out.join("book").to_str().unwrap()]);
    text.ok();
    assert!(text.stdout.contains("copied 2026/book") && text.stdout.contains("from store main"), "{text}");
    assert_eq!(std::fs::read(out.join("book/d é/e/x")).unwrap(), b"deep");
    assert_eq!(std::fs::read(out.join("book/top")).unwrap(), b"top");

    // DEST exists: refused, untouched.
    let again = site.json(["get", "2026/obs.dat", out.join("obs.dat").to_str().unwrap()]);
    assert_eq!(again.code(), Some(1), "{again}");
    assert_eq!(again.json()["error"]["code"], "already_exists", "{again}");

    // A corrupt stored copy (one byte of a book entry): exit 1, nothing at DEST.
    let stored = walk(&site.data()).into_iter().find(|p| p.ends_with("d é/e/x")).expect("the stored entry");
    std::fs::write(&stored, b"deeP").unwrap();
    let bad = site.json(["get", "2026/book", out.join("book2").to_str().unwrap()]);
    assert_eq!(bad.code(), Some(1), "{bad}");
    assert_eq!(bad.json()["error"]["code"], "checksum_mismatch", "{bad}");
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "nothing new in {}: {left:?}", out.display());
}
