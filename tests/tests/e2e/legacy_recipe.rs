//! The legacy (older Python Librarian) checksums through the CLI: `librarian upload
//! --algorithm md5|xxh3` agrees with the shell recipes of `docs/checksums.md`
//! ("Legacy checksums") and with the older Librarian's own text form.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};

use librarian_e2e::{Site, skip, which, write_random, write_text};

/// The recipe for an `md5:` book, run in the book's directory (`$1`): prints the hex.
/// Keep in step with `docs/checksums.md`.
const MD5_RECIPE: &str = r#"cd "$1" || exit 1
find . -type f -print0 | xargs -0 -r md5sum -- | cut -c1-32 | LC_ALL=C sort \
  | tr -d '\n' | md5sum | cut -d ' ' -f 1
"#;

/// The same for an `xxh3:` book.
const XXH3_RECIPE: &str = r#"cd "$1" || exit 1
find . -type f -print0 | xargs -0 -r xxhsum -q -H2 -- | cut -c1-32 | LC_ALL=C sort \
  | tr -d '\n' | xxhsum -q -H2 | cut -d ' ' -f 1
"#;

fn recipe(script: &str, book: &Path) -> String {
    let out =
        Command::new("sh").arg("-c").arg(script).arg("sh").arg(book).stdin(Stdio::null()).output().expect("run sh");
    assert!(out.status.success(), "the recipe failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "the recipe complained: {}", String::from_utf8_lossy(&out.stderr));
    let hex = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(hex.len(), 32, "not a digest: {hex:?}");
    hex
}

/// Nested and empty directories, two files with the same content, an empty file, a
/// name with spaces, a leading `-`, and a file larger than one copy buffer.
fn legacy_book(root: &Path) {
    for (path, text) in [
        ("top.txt", "hello librarian\n"),
        ("a/one.dat", "same content"),
        ("a/b/two.dat", "same content"),
        ("a/c d/-dash", "dash"),
        ("empty-file", ""),
    ] {
        write_text(&root.join(path), text);
    }
    write_random(&root.join("big/part.bin"), (2 << 20) + 3, 5);
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::create_dir_all(root.join("z/empty too")).unwrap();
}

fn checksum(site: &Site, src: &Path, name: &str, extra: &[&str]) -> String {
    let up = site.upload(src, name, extra);
    up.ok();
    up.json()["file"]["checksum"].as_str().unwrap().to_owned()
}

#[test]
fn md5_book_digest_matches_the_shell_recipe() {
    // md5sum is part of coreutils: this one always runs.
    let site = Site::new();
    let book = site.src("book");
    legacy_book(&book);
    let sum = checksum(&site, &book, "books/md5", &["--algorithm", "md5"]);
    let hex = recipe(MD5_RECIPE, &book);
    assert_eq!(sum, format!("md5:{hex}"));
    // Paths and empty directories take no part: a renamed copy with an extra empty
    // directory has the same digest.
    let moved = site.src("moved");
    std::fs::rename(&book, &moved).unwrap();
    std::fs::rename(moved.join("a"), moved.join("renamed")).unwrap();
    std::fs::create_dir(moved.join("new-empty")).unwrap();
    assert_eq!(checksum(&site, &moved, "books/md5-moved", &["--algorithm", "md5"]), sum);
    // The older Librarian's text form is accepted as an expectation.
    let expect = format!("md5:::{hex}");
    assert_eq!(checksum(&site, &moved, "books/md5-expected", &["--expect-checksum", &expect]), sum);
    site.json(["verify", "books/md5", "books/md5-moved", "books/md5-expected"]).ok();
}

#[test]
fn xxh3_book_digest_matches_the_shell_recipe() {
    let site = Site::new();
    let book = site.src("book");
    legacy_book(&book);
    let sum = checksum(&site, &book, "books/xxh3", &["--algorithm", "xxh3"]);
    assert!(sum.starts_with("xxh3:") && sum.len() == 5 + 32, "{sum}");
    site.json(["verify", "books/xxh3"]).ok();
    // A single file: XXH3-128 of "a", as Python's xxhash.xxh3_128(b"a").hexdigest().
    let f = site.src("a.txt");
    write_text(&f, "a");
    assert_eq!(checksum(&site, &f, "a", &["--algorithm", "xxh3"]), "xxh3:a96faf705af16834e6c632b61e964e1f");
    if which("xxhsum").is_none() {
        skip("xxhsum is not installed; the xxh3 shell recipe did not run");
        return;
    }
    assert_eq!(sum, format!("xxh3:{}", recipe(XXH3_RECIPE, &book)));
}
