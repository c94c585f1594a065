//! The older (Python) Librarian's checksums, `xxh3` (XXH3-128) and `md5`, computed
//! through the public API: single files, books with the legacy `dirhash`, per-entry
//! digests, and verification (docs/checksums.md, "Legacy checksums").
//!
//! Expected values are computed here independently of the core (straight from the
//! `md-5` / `xxhash-rust` crates) and were cross-checked with Python's `hashlib.md5` and
//! `xxhash.xxh3_128` running the older Librarian's `dirhash` over `os.walk`.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use librarian_core::{Algorithm, CheckStatus, Checksum, EntryProblem, EntryProblemKind, UploadOptions, UploadStatus};
use md5::Digest as _;

/// The files of the test book; `make_tree` adds the directories `empty/` and
/// `z/empty-too/`, which take no part in the legacy digest.
const TREE: [(&str, &[u8]); 5] = [
    ("top.txt", b"hello librarian\n"),
    ("a/one.dat", b"same content"),
    ("a/b/two.dat", b"same content"),
    ("a/b/c/deep.bin", b"deep\x00\x01\x02"),
    ("empty-file", b""),
];

/// `dirhash(TREE, "md5")` and `dirhash(TREE, "xxh3")` as printed by Python.
const TREE_MD5: &str = "bd01d07fd3eb9809a3d067bb3e37aa10";
const TREE_XXH3: &str = "ce30f949cf4e35a40bea12e1e2d45e5b";

fn make_tree(root: &Path) {
    for (path, content) in TREE {
        write(&root.join(path), content);
    }
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::create_dir_all(root.join("z/empty-too")).unwrap();
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5::Md5::digest(data))
}

fn xxh3_hex(data: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(data))
}

/// Hex digest of one input in one algorithm, computed without the core.
type FileHex = fn(&[u8]) -> String;

/// The legacy recipe by hand: hash of the concatenated, sorted per-file hex digests.
fn dirhash_by_hand(file_hex: FileHex) -> String {
    let mut hexes: Vec<String> = TREE.iter().map(|(_, c)| file_hex(c)).collect();
    hexes.sort();
    file_hex(hexes.concat().as_bytes())
}

#[test]
fn the_hand_computed_dirhash_matches_python() {
    assert_eq!(dirhash_by_hand(md5_hex), TREE_MD5);
    assert_eq!(dirhash_by_hand(xxh3_hex), TREE_XXH3);
    // Known vectors of the crates used as the independent reference.
    assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(xxh3_hex(b""), "99aa06d3014798d86001c324468d497f");
    assert_eq!(xxh3_hex(b"a"), "a96faf705af16834e6c632b61e964e1f");
}

#[test]
fn legacy_books_upload_with_the_older_librarians_digest_and_verify() {
    let site = Site::new();
    let book = site.src("book");
    make_tree(&book);
    let cases: [(Algorithm, &str, FileHex, &str); 2] =
        [(Algorithm::Md5, TREE_MD5, md5_hex, "md5"), (Algorithm::Xxh3, TREE_XXH3, xxh3_hex, "xxh3")];
    for (alg, want, file_hex, n) in cases {
        let opts = UploadOptions { algorithm: Some(alg), ..Default::default() };
        let up = upload_with(&site.lib, &book, n, &opts).unwrap();
        assert_eq!(up.status, UploadStatus::Ingested);
        assert_eq!(up.file.checksum.algorithm(), alg);
        assert_eq!(up.file.checksum.hex(), dirhash_by_hand(file_hex));
        assert_eq!(up.file.checksum.hex(), want);
        assert_eq!(up.file.checksum.to_string(), format!("{n}:{want}"));

        // Every entry is catalogued; files keep their own digest in the algorithm.
        let id = site.lib.catalog().require_file(&name(n)).unwrap().id;
        let entries = site.lib.catalog().entries(id).unwrap();
        let mut paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "a",
                "a/b",
                "a/b/c",
                "a/b/c/deep.bin",
                "a/b/two.dat",
                "a/one.dat",
                "empty",
                "empty-file",
                "top.txt",
                "z",
                "z/empty-too"
            ]
        );
        for e in &entries {
            let content = TREE.iter().find(|(p, _)| *p == e.path).map(|(_, c)| *c);
            assert_eq!(e.digest, content.map(file_hex), "{}", e.path);
        }
        assert!(verify(&site.lib, &[n]).ok, "{n}");

        // The same book expected in the older Librarian's own text form: already there.
        let expect = Checksum::parse(&format!("{n}:::{want}")).unwrap();
        let opts = UploadOptions { expect_checksum: Some(expect), ..Default::default() };
        assert_eq!(upload_with(&site.lib, &book, n, &opts).unwrap().status, UploadStatus::AlreadyPresent);
    }

    // A corrupt entry of a legacy book is named, like for any book.
    let stored = site.lib.file(&name("xxh3")).unwrap().instances[0].path.clone();
    write(&stored.join("a/b/two.dat"), b"same Content");
    let report = verify(&site.lib, &["xxh3"]);
    assert!(!report.ok);
    assert_eq!(report.checked[0].status, CheckStatus::Mismatch);
    assert_eq!(
        report.checked[0].problems,
        vec![EntryProblem { entry: "a/b/two.dat".into(), problem: EntryProblemKind::Mismatch }]
    );
    assert!(verify(&site.lib, &["md5"]).ok);
    check_invariants(&site.lib);
}

#[test]
fn legacy_expectations_pick_the_algorithm_of_a_file_upload() {
    let site = Site::new();
    let src = site.src("f");
    write(&src, b"a");
    // XXH3-128 of "a" (Python: xxhash.xxh3_128(b"a").hexdigest()).
    let expect = Checksum::parse("xxh3:::a96faf705af16834e6c632b61e964e1f").unwrap();
    let opts = UploadOptions { expect_checksum: Some(expect.clone()), ..Default::default() };
    let up = upload_with(&site.lib, &src, "x", &opts).unwrap();
    assert_eq!(up.status, UploadStatus::Ingested);
    assert_eq!(up.file.checksum, expect);
    // A bare 32-hex checksum is the older Librarian's md5.
    let bare = Checksum::parse("0cc175b9c0f1b6a831c399e269772661").unwrap();
    let opts = UploadOptions { expect_checksum: Some(bare.clone()), ..Default::default() };
    let up = upload_with(&site.lib, &src, "m", &opts).unwrap();
    assert_eq!(up.file.checksum, bare);
    assert_eq!(up.file.checksum.to_string(), "md5:0cc175b9c0f1b6a831c399e269772661");
    assert!(verify(&site.lib, &["x", "m"]).ok);
    // A re-upload compares in the catalogued algorithm.
    assert_eq!(upload(&site.lib, &src, "x").unwrap().status, UploadStatus::AlreadyPresent);
    // A wrong legacy expectation commits nothing.
    let wrong = Checksum::parse("md5:::00000000000000000000000000000000").unwrap();
    let opts = UploadOptions { expect_checksum: Some(wrong), ..Default::default() };
    assert!(upload_with(&site.lib, &src, "w", &opts).is_err());
    assert!(site.lib.file(&name("w")).is_err());
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
}
