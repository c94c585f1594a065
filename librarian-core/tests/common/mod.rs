//! Helpers shared by the integration tests of `librarian-core`: a site in a
//! temporary directory, file-tree snapshots, and the catalog/store invariant checker.

#![allow(dead_code, clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use librarian_core::{
    Error, File, FileName, Librarian, NoProgress, Result, SearchQuery, Upload, UploadOptions, VerifyReport,
};

/// Name of the site every test creates.
pub const SITE: &str = "site-a";

/// A fresh site in a temporary directory.
pub struct Site {
    /// Keeps the directory alive.
    pub tmp: tempfile::TempDir,
    /// The open site.
    pub lib: Librarian,
}

impl Site {
    /// `Librarian::init` in `<tmp>/site`, named [`SITE`].
    pub fn new() -> Site {
        let tmp = tempfile::tempdir().expect("tempdir");
        let lib = Librarian::init(&tmp.path().join("site"), SITE).expect("init");
        std::fs::create_dir_all(tmp.path().join("src")).expect("mkdir src");
        Site { tmp, lib }
    }

    /// The temporary directory (same filesystem as the stores).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// A path under the temporary directory, outside the site.
    pub fn src(&self, rel: &str) -> PathBuf {
        self.tmp.path().join("src").join(rel)
    }

    /// The configuration file.
    pub fn config(&self) -> PathBuf {
        self.lib.config_path().to_owned()
    }

    /// Open the site again (a new process would do this).
    pub fn reopen(&self) -> Librarian {
        Librarian::open(&self.config()).expect("open")
    }

    /// The data area of `store`.
    pub fn root(&self, store: &str) -> PathBuf {
        store_paths(&self.lib, store).0
    }

    /// The staging area of `store`.
    pub fn staging(&self, store: &str) -> PathBuf {
        store_paths(&self.lib, store).1
    }
}

/// Data area and staging area of a store.
pub fn store_paths(lib: &Librarian, store: &str) -> (PathBuf, PathBuf) {
    let s = lib.stores().expect("stores").into_iter().find(|s| s.name == store).expect("store exists");
    (s.root, s.staging)
}

/// Write `bytes` to `path`, creating parent directories.
pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
}

/// Deterministic bytes.
pub fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + usize::from(seed) * 7) % 251) as u8).collect()
}

/// A validated name.
pub fn name(s: &str) -> FileName {
    FileName::new(s).expect("valid name")
}

/// Upload with default options.
pub fn upload(lib: &Librarian, src: &Path, n: &str) -> Result<Upload> {
    lib.upload(src, &name(n), &UploadOptions::default(), &NoProgress)
}

/// Upload with options.
pub fn upload_with(lib: &Librarian, src: &Path, n: &str, opts: &UploadOptions) -> Result<Upload> {
    lib.upload(src, &name(n), opts, &NoProgress)
}

/// Verify the named files.
pub fn verify(lib: &Librarian, names: &[&str]) -> VerifyReport {
    let names: Vec<FileName> = names.iter().map(|n| name(n)).collect();
    lib.verify(&names, None, &NoProgress).expect("verify runs")
}

/// `blake3:<hex>` of `data`, computed independently of the core.
pub fn blake3_text(data: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(data).to_hex())
}

/// `sha256:<hex>` of `data`, computed independently of the core.
pub fn sha256_text(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// One entry of a snapshot: a directory, a regular file with its bytes, a symlink with its target, or other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(PathBuf),
    Other,
}

/// Every entry under `root` (not following symlinks), keyed by path relative to `root`.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for item in rd {
            let item = item.expect("read_dir entry");
            let p = item.path();
            let rel = p.strip_prefix(root).expect("under root").to_owned();
            let ft = item.file_type().expect("file type");
            let node = if ft.is_dir() {
                stack.push(p.clone());
                Node::Dir
            } else if ft.is_file() {
                Node::File(std::fs::read(&p).expect("read"))
            } else if ft.is_symlink() {
                Node::Symlink(std::fs::read_link(&p).expect("readlink"))
            } else {
                Node::Other
            };
            out.insert(rel, node);
        }
    }
    out
}

/// Regular files (and other non-directories) under `root`, as absolute paths.
pub fn non_dirs(root: &Path) -> Vec<PathBuf> {
    snapshot(root).into_iter().filter(|(_, n)| *n != Node::Dir).map(|(p, _)| root.join(p)).collect()
}

/// Every catalogued file with its instances.
pub fn all_files(lib: &Librarian) -> Vec<File> {
    lib.search(&SearchQuery { limit: Some(u32::MAX), ..Default::default() }).expect("search")
}

/// Entries left in every staging area of the site.
pub fn staging_leftovers(lib: &Librarian) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for s in lib.stores().expect("stores") {
        for e in std::fs::read_dir(&s.staging).expect("staging area exists") {
            out.push(e.expect("entry").path());
        }
    }
    out
}

/// Assert every staging area is empty.
pub fn assert_staging_empty(lib: &Librarian) {
    let left = staging_leftovers(lib);
    assert!(left.is_empty(), "staging areas should be empty, found {left:?}");
}

/// The catalog and the stores agree:
/// - every non-directory under a store's data area lies at or inside the path of an
///   instance on that store (nothing appears in a data area without a catalog row);
/// - every instance's path exists, as a regular file for a file and a directory for a book;
/// - no ingest is half-done (no intents).
pub fn check_invariants(lib: &Librarian) {
    let files = all_files(lib);
    let status = lib.status().expect("status");
    assert_eq!(status.ingests_in_progress, 0, "no ingest should be in progress");
    assert_eq!(status.files as usize, files.len(), "status counts every catalogued file");
    for s in lib.stores().expect("stores") {
        let instances: Vec<(PathBuf, librarian_core::FileKind)> = files
            .iter()
            .flat_map(|f| f.instances.iter().filter(|i| i.store == s.name).map(|i| (i.path.clone(), f.kind)))
            .collect();
        for (path, kind) in &instances {
            assert!(
                path.starts_with(&s.root),
                "instance {} lies outside data area {}",
                path.display(),
                s.root.display()
            );
            let meta = std::fs::symlink_metadata(path)
                .unwrap_or_else(|e| panic!("instance path {} does not exist: {e}", path.display()));
            match kind {
                librarian_core::FileKind::File => assert!(meta.is_file(), "{} is not a regular file", path.display()),
                librarian_core::FileKind::Directory => assert!(meta.is_dir(), "{} is not a directory", path.display()),
            }
        }
        for p in non_dirs(&s.root) {
            assert!(
                instances.iter().any(|(i, _)| p.starts_with(i)),
                "{} is in data area of store {} but belongs to no instance",
                p.display(),
                s.name
            );
        }
    }
}

/// A book tree for tests: `a/x` (1 KiB), `b.txt`, `sub/deep/y` and the empty directory `empty/`.
pub fn make_book(dir: &Path, seed: u8) {
    write(&dir.join("a/x"), &bytes(1024, seed));
    write(&dir.join("b.txt"), b"hello book");
    write(&dir.join("sub/deep/y"), &bytes(300, seed.wrapping_add(1)));
    std::fs::create_dir_all(dir.join("empty")).expect("mkdir");
}

/// The path-aware directory digest (docs/checksums.md), computed independently of the
/// core from a list of (relative path, Some(content) for a file / None for a directory).
pub fn book_digest(entries: &[(&str, Option<&[u8]>)]) -> String {
    let mut lines: Vec<(Vec<u8>, String)> = entries
        .iter()
        .map(|(p, c)| match c {
            Some(data) => (p.as_bytes().to_vec(), blake3::hash(data).to_hex().to_string()),
            None => (format!("{p}/").into_bytes(), "0".repeat(64)),
        })
        .collect();
    lines.sort();
    let mut listing = Vec::new();
    for (p, h) in lines {
        listing.extend_from_slice(h.as_bytes());
        listing.extend_from_slice(b"  ");
        listing.extend_from_slice(&p);
        listing.push(b'\n');
    }
    blake3_text(&listing)
}

/// Lossy text of an OS path (for messages).
pub fn lossy(p: &Path) -> String {
    String::from_utf8_lossy(p.as_os_str().as_bytes()).into_owned()
}

/// Describe an unexpected result.
pub fn describe<T: std::fmt::Debug>(r: &Result<T, Error>) -> String {
    format!("{r:?}")
}
