//! Checking a drive against its manifest, offline: no configuration, no catalog. Every
//! byte is re-read; every missing, extra, truncated or altered file (and book entry)
//! is reported.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::manifest::{
    B3SUMS, LEGACY_MANIFEST, MANIFEST, MANIFEST_DIGEST, Manifest, ManifestFile, SHA256SUMS, is_file_entry,
};
use crate::checksum::{Algorithm, Checksum, EntryKind};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::tree;

/// What is wrong with something on a drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The manifest does not match its stored digest (edited or damaged).
    ManifestAltered,
    /// A manifest line is unusable (bad name, checksum or kind).
    BadEntry,
    /// In the manifest, not on the drive.
    Missing,
    /// On the drive, not in the manifest.
    Extra,
    /// Shorter than the manifest says.
    Truncated,
    /// Longer than the manifest says.
    Grown,
    /// The right size, other bytes.
    Altered,
    /// A file where a book is expected, or the reverse.
    WrongKind,
    /// Could not be read.
    Unreadable,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriveProblem {
    /// The catalog name (or the drive path, for extra files).
    pub name: String,
    /// The entry inside a book, if the problem is there.
    pub entry: Option<String>,
    /// What is wrong.
    pub kind: ProblemKind,
    /// Details for a person.
    pub detail: String,
}

/// The result of checking a drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriveReport {
    /// The drive directory checked.
    pub drive: PathBuf,
    /// The exporting site.
    pub site: String,
    /// Its store (the drive).
    pub store: String,
    /// Where the drive goes.
    pub destination: String,
    /// Read from the existing Librarian's manifest format.
    pub legacy: bool,
    /// Whether the manifest matched its stored digest (`None`: a legacy manifest has none).
    pub manifest_ok: Option<bool>,
    /// Files and books in the manifest.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files and books found intact.
    pub intact: u64,
    /// Every problem found.
    pub problems: Vec<DriveProblem>,
    /// True when nothing is wrong.
    pub ok: bool,
}

fn problem(name: &str, entry: Option<&str>, kind: ProblemKind, detail: impl Into<String>) -> DriveProblem {
    DriveProblem { name: name.to_owned(), entry: entry.map(str::to_owned), kind, detail: detail.into() }
}

/// Hash the file at `path` with every algorithm in `algs`, reading it once.
pub(crate) fn hash_many(path: &Path, algs: &[Algorithm], progress: &dyn Progress) -> Result<(Vec<Checksum>, u64)> {
    let mut hashers = algs.iter().map(|a| a.hasher()).collect::<Result<Vec<_>>>()?;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        for h in &mut hashers {
            h.update(&buf[..n]);
        }
        total += n as u64;
        progress.advance(n as u64);
    }
    Ok((hashers.into_iter().map(|h| h.finish()).collect(), total))
}

/// Check one manifest file or book on the drive; its problems (empty when intact).
pub(crate) fn check_file(drive: &Path, mf: &ManifestFile, progress: &dyn Progress) -> Vec<DriveProblem> {
    let bad = |kind, detail: String| vec![problem(&mf.name, None, kind, detail)];
    let (name, checksum, kind) = match (mf.file_name(), mf.parsed_checksum(), mf.file_kind()) {
        (Ok(n), Ok(c), Ok(k)) => (n, c, k),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return bad(ProblemKind::BadEntry, e.to_string()),
    };
    let path = drive.join(name.as_str());
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return bad(ProblemKind::Missing, format!("{} is not on the drive", path.display()));
        }
        Err(e) => return bad(ProblemKind::Unreadable, format!("{}: {e}", path.display())),
    };
    match kind {
        crate::catalog::FileKind::File => {
            if !meta.is_file() {
                return bad(ProblemKind::WrongKind, format!("{} is not a regular file", path.display()));
            }
            if meta.len() != mf.size {
                let k = if meta.len() < mf.size { ProblemKind::Truncated } else { ProblemKind::Grown };
                return bad(k, format!("{} bytes on the drive, {} in the manifest", meta.len(), mf.size));
            }
            match tree::hash_file(&path, checksum.algorithm(), progress, &mut tree::scratch()) {
                Ok((got, _)) if checksum.matches(&got).unwrap_or(false) => Vec::new(),
                Ok((got, _)) => bad(ProblemKind::Altered, format!("hashes to {got}, the manifest says {checksum}")),
                Err(e) => bad(ProblemKind::Unreadable, e.to_string()),
            }
        }
        crate::catalog::FileKind::Directory => {
            if !meta.is_dir() {
                return bad(ProblemKind::WrongKind, format!("{} is not a directory (a book)", path.display()));
            }
            check_book(&path, mf, &checksum, progress)
        }
    }
}

fn check_book(root: &Path, mf: &ManifestFile, checksum: &Checksum, progress: &dyn Progress) -> Vec<DriveProblem> {
    let unreadable = |e: Error| vec![problem(&mf.name, None, ProblemKind::Unreadable, e.to_string())];
    let mut entries = match tree::walk(root) {
        Ok(e) => e,
        Err(e) => return unreadable(e),
    };
    // The book as it is on the drive, each entry hashed once (the same digest recipe
    // as ingest and verify).
    let book = match tree::hash_book(root, &mut entries, checksum.algorithm(), progress) {
        Ok(sum) => sum,
        Err(e) => return unreadable(e),
    };
    let mut problems = Vec::new();
    // Entry by entry against the manifest, to say which one is wrong (legacy
    // manifests have no entries: the book digest alone decides).
    if !mf.entries.is_empty() {
        let expected: BTreeMap<&str, &super::manifest::ManifestEntry> =
            mf.entries.iter().map(|e| (e.path.as_str(), e)).collect();
        for e in &entries {
            let at = |kind, detail: String| problem(&mf.name, Some(&e.path), kind, detail);
            let want = expected.get(e.path.as_str());
            match (e.kind, want) {
                (EntryKind::Directory, None) => {
                    problems.push(at(ProblemKind::Extra, "a directory not in the manifest".into()))
                }
                (EntryKind::Directory, Some(_)) => {}
                (EntryKind::File, None) => problems.push(at(ProblemKind::Extra, "a file not in the manifest".into())),
                (EntryKind::File, Some(w)) if !is_file_entry(w) => {
                    problems.push(at(ProblemKind::WrongKind, "a file where a directory was".into()))
                }
                (EntryKind::File, Some(w)) if w.size != e.size => {
                    let k = if e.size < w.size { ProblemKind::Truncated } else { ProblemKind::Grown };
                    problems.push(at(k, format!("{} bytes, the manifest says {}", e.size, w.size)));
                }
                (EntryKind::File, Some(w)) if w.digest.as_deref().map(str::to_ascii_lowercase) != e.digest => {
                    problems.push(at(ProblemKind::Altered, "its bytes differ from the manifest's digest".into()))
                }
                (EntryKind::File, Some(_)) => {}
            }
        }
        let on_disk: HashSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        for w in mf.entries.iter().filter(|w| !on_disk.contains(w.path.as_str())) {
            problems.push(problem(&mf.name, Some(&w.path), ProblemKind::Missing, "in the manifest, not on the drive"));
        }
    }
    if problems.is_empty() && !checksum.matches(&book).unwrap_or(false) {
        problems.push(problem(
            &mf.name,
            None,
            ProblemKind::Altered,
            format!("the book hashes to {book}, the manifest says {checksum}"),
        ));
    }
    problems
}

/// Files on the drive that no manifest line accounts for.
fn extra_files(drive: &Path, manifest: &Manifest) -> Result<Vec<DriveProblem>> {
    let names: HashSet<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    let reserved = [MANIFEST, MANIFEST_DIGEST, B3SUMS, SHA256SUMS, LEGACY_MANIFEST];
    let mut out = Vec::new();
    for rel in files_under(drive)? {
        if reserved.contains(&rel.as_str()) {
            continue;
        }
        // Accounted for if the path, or one of its parent directories, is a name.
        let mut p = rel.as_str();
        let covered = loop {
            if names.contains(p) {
                break true;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => break false,
            }
        };
        if !covered {
            out.push(problem(&rel, None, ProblemKind::Extra, "on the drive, not in the manifest"));
        }
    }
    Ok(out)
}

/// Every non-directory under `root` (symlinks and special files included), as
/// `/`-separated paths relative to it.
fn files_under(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io("cannot list", &dir, e))?;
        for item in rd {
            let item = item.map_err(|e| Error::io("cannot list", &dir, e))?;
            let child = rel.join(item.file_name());
            let ft = item.file_type().map_err(|e| Error::io("cannot inspect", item.path(), e))?;
            if ft.is_dir() {
                stack.push(child);
            } else {
                out.push(child.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Check the drive at `drive` against its manifest. Errors only when there is no
/// readable manifest; everything else is a problem in the report.
pub fn verify_drive(drive: &Path, progress: &dyn Progress) -> Result<DriveReport> {
    let (manifest, manifest_ok) = Manifest::read(drive)?;
    let mut problems = Vec::new();
    if manifest_ok == Some(false) {
        problems.push(problem(
            MANIFEST,
            None,
            ProblemKind::ManifestAltered,
            "the manifest does not match its digest (.librarian-manifest.json.b3): edited or damaged",
        ));
    }
    let bytes: u64 = manifest.files.iter().map(|f| f.size).sum();
    progress.start(bytes);
    let mut intact = 0;
    for mf in &manifest.files {
        let p = check_file(drive, mf, progress);
        if p.is_empty() {
            intact += 1;
        }
        problems.extend(p);
    }
    progress.finish();
    problems.extend(extra_files(drive, &manifest)?);
    Ok(DriveReport {
        drive: drive.to_owned(),
        site: manifest.site.clone(),
        store: manifest.store.clone(),
        destination: manifest.destination.clone(),
        legacy: manifest.legacy,
        manifest_ok,
        files: manifest.files.len() as u64,
        bytes,
        intact,
        ok: problems.is_empty(),
        problems,
    })
}
