//! The directory digest can be recomputed with stock tools, exactly as
//! `docs/checksums.md` says: `find`, `sed`, `xargs`, `sort` and `b3sum` (or
//! `sha256sum`). This runs that shell recipe and compares it with `librarian upload`.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};

use librarian_e2e::{Site, skip, which, write_random, write_text};

/// The recipe for a `blake3:` book, run in the book's directory (`$1`): prints the hex.
/// Keep in step with `docs/checksums.md`.
const B3_RECIPE: &str = r#"cd "$1" || exit 1
{ find . -mindepth 1 -type d -printf '%P/\n' \
    | sed 's/^/0000000000000000000000000000000000000000000000000000000000000000  /'
  find . -type f -printf '%P\0' | xargs -0 -r b3sum --no-mmap --
} | LC_ALL=C sort -t ' ' -k3 | b3sum --no-names
"#;

/// The same for a `sha256:` book.
const SHA256_RECIPE: &str = r#"cd "$1" || exit 1
{ find . -mindepth 1 -type d -printf '%P/\n' \
    | sed 's/^/0000000000000000000000000000000000000000000000000000000000000000  /'
  find . -type f -printf '%P\0' | xargs -0 -r sha256sum --
} | LC_ALL=C sort -t ' ' -k3 | sha256sum | cut -d ' ' -f 1
"#;

fn recipe(script: &str, book: &Path) -> String {
    let out =
        Command::new("sh").arg("-c").arg(script).arg("sh").arg(book).stdin(Stdio::null()).output().expect("run sh");
    assert!(out.status.success(), "the recipe failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "the recipe complained: {}", String::from_utf8_lossy(&out.stderr));
    let hex = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(hex.len(), 64, "not a digest: {hex:?}");
    hex
}

fn have_b3sum() -> bool {
    if which("b3sum").is_some() {
        return true;
    }
    skip("b3sum is not installed (CI installs it with apt); the checksum recipe test did not run");
    false
}

/// Nested directories, empty directories, spaces (leading, inner, trailing), a name
/// starting with `-`, names that sort differently by bytes than by locale, non-ASCII,
/// an empty file and a larger one.
fn awkward_book(root: &Path) {
    for (path, text) in [
        ("a b", "space"),
        ("a-b", "dash"),
        ("a.b", "dot"),
        ("a/b", "nested"),
        ("a/c d/e", "deeper with space"),
        ("A", "upper"),
        ("-dash", "leading dash"),
        (" lead", "leading space"),
        ("trail ", "trailing space"),
        ("dir with space/x y.txt", "x"),
        ("ü.txt", "non-ASCII"),
        ("Z/z", "z"),
        ("empty.txt", ""),
    ] {
        write_text(&root.join(path), text);
    }
    write_random(&root.join("big/part.bin"), 3 << 20, 77);
    std::fs::create_dir_all(root.join("empty dir")).unwrap();
    std::fs::create_dir_all(root.join("a/empty/nested empty")).unwrap();
}

#[test]
fn blake3_book_digest_matches_the_shell_recipe() {
    if !have_b3sum() {
        return;
    }
    let site = Site::new();
    let book = site.src("book");
    awkward_book(&book);
    let up = site.upload(&book, "books/awkward", &[]);
    up.ok();
    let sum = up.json()["file"]["checksum"].as_str().unwrap().to_owned();
    assert_eq!(sum, format!("blake3:{}", recipe(B3_RECIPE, &book)));

    // An extra empty directory changes both the same way.
    std::fs::create_dir(book.join("a/new-empty")).unwrap();
    let up2 = site.upload(&book, "books/awkward2", &[]);
    up2.ok();
    let sum2 = up2.json()["file"]["checksum"].as_str().unwrap().to_owned();
    assert_ne!(sum2, sum);
    assert_eq!(sum2, format!("blake3:{}", recipe(B3_RECIPE, &book)));
}

#[test]
fn sha256_book_digest_matches_the_shell_recipe() {
    // sha256sum is part of coreutils: this one always runs.
    let site = Site::new();
    let book = site.src("book");
    awkward_book(&book);
    let up = site.upload(&book, "books/awkward", &["--algorithm", "sha256"]);
    up.ok();
    let sum = up.json()["file"]["checksum"].as_str().unwrap().to_owned();
    assert_eq!(sum, format!("sha256:{}", recipe(SHA256_RECIPE, &book)));
}

#[test]
fn empty_books_match_the_shell_recipe() {
    if !have_b3sum() {
        return;
    }
    let site = Site::new();
    let empty = site.src("empty");
    std::fs::create_dir(&empty).unwrap();
    let up = site.upload(&empty, "books/empty", &[]);
    up.ok();
    assert_eq!(up.json()["file"]["kind"], "directory");
    // The digest of empty input.
    assert_eq!(
        up.json()["file"]["checksum"],
        "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
    assert_eq!(up.json()["file"]["checksum"], format!("blake3:{}", recipe(B3_RECIPE, &empty)));

    let dirs_only = site.src("dirs-only");
    std::fs::create_dir_all(dirs_only.join("x/y")).unwrap();
    let up = site.upload(&dirs_only, "books/dirs-only", &[]);
    up.ok();
    assert_eq!(up.json()["file"]["checksum"], format!("blake3:{}", recipe(B3_RECIPE, &dirs_only)));
}

#[test]
fn single_file_digest_is_b3sum() {
    if !have_b3sum() {
        return;
    }
    let site = Site::new();
    let f = site.src("one.bin");
    write_random(&f, (1 << 20) + 7, 78);
    let up = site.upload(&f, "one.bin", &[]);
    up.ok();
    let out = Command::new("b3sum").arg("--no-names").arg(&f).output().unwrap();
    assert!(out.status.success());
    let hex = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(up.json()["file"]["checksum"], format!("blake3:{hex}"));
}
