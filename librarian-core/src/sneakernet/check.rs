//! Checking a drive against its manifest, offline: no configuration, no catalog. Every
//! byte is re-read; every missing, extra, truncated or altered file (and book entry)
//! is reported.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::manifest::{
    B3SUMS, LEGACY_MANIFEST, MANIFEST, MANIFEST_DIGEST, Manifest, ManifestFile, SHA256SUMS, duplicate_names,
    is_file_entry, line_problem,
};
use crate::catalog::FileKind;
use crate::checksum::{Algorithm, Checksum, EntryKind, PipeError};
use crate::error::{Error, Result};
use crate::name::FileName;
use crate::progress::Progress;
use crate::store::beneath::{Dir, EntryType};
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
    /// A symbolic link, FIFO, device or socket where data (or a directory on the way
    /// to it) should be: never followed, opened or read.
    Unsupported,
}

impl ProblemKind {
    all_variants!(
        /// Every kind of problem.
        ManifestAltered, BadEntry, Missing, Extra, Truncated, Grown, Altered, WrongKind, Unreadable, Unsupported
    );

    /// The JSON spelling, e.g. `manifest_altered`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::ManifestAltered => "manifest_altered",
            ProblemKind::BadEntry => "bad_entry",
            ProblemKind::Missing => "missing",
            ProblemKind::Extra => "extra",
            ProblemKind::Truncated => "truncated",
            ProblemKind::Grown => "grown",
            ProblemKind::Altered => "altered",
            ProblemKind::WrongKind => "wrong_kind",
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::Unsupported => "unsupported",
        }
    }
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

/// The problem an error while looking at `name` (or its book entry) amounts to: a
/// link, FIFO, device or socket is `unsupported` (never followed or opened), a missing
/// path `missing`, anything else `unreadable`.
pub(crate) fn problem_of(name: &str, entry: Option<&str>, e: &Error) -> DriveProblem {
    let kind = match e {
        Error::UnsupportedEntry { .. } => ProblemKind::Unsupported,
        Error::NotFound { .. } => ProblemKind::Missing,
        _ => ProblemKind::Unreadable,
    };
    problem(name, entry, kind, e.to_string())
}

/// A usable manifest line: its name, checksum and kind, or why it is refused
/// (`bad_entry`): a name that breaks the naming rules (`..`, a leading `/`, NUL...),
/// a name claimed by two lines, a bad checksum or kind, or book entries that are not
/// plain relative paths or do not add up to the line's checksum.
pub(crate) fn parse_line(
    mf: &ManifestFile,
    duplicates: &HashSet<&str>,
) -> std::result::Result<(FileName, Checksum, FileKind), DriveProblem> {
    let bad = |detail: String| problem(&mf.name, None, ProblemKind::BadEntry, detail);
    let (name, checksum, kind) = match (mf.file_name(), mf.parsed_checksum(), mf.file_kind()) {
        (Ok(n), Ok(c), Ok(k)) => (n, c, k),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Err(bad(e.to_string())),
    };
    if duplicates.contains(mf.name.as_str()) {
        return Err(bad("more than one line of the manifest has this name".into()));
    }
    if let Some(detail) = line_problem(mf, &checksum, kind) {
        return Err(bad(detail));
    }
    Ok((name, checksum, kind))
}

/// Where a manifest line's data is on the drive, found beneath the drive's root
/// without following a link at any component.
pub(crate) enum Found {
    /// A regular file: the directory holding it (`None`: the drive's root), its last
    /// component and its size.
    File { parent: Option<Dir>, last: OsString, size: u64 },
    /// A book: its directory, opened (hand [`Dir::fd_path`] to code that takes a path,
    /// so no component above the book is resolved by name again).
    Book(Dir),
}

impl Found {
    /// Open the file for reading (never a link, never blocking).
    pub(crate) fn open(&self, drive: &Dir) -> Result<std::fs::File> {
        match self {
            Found::File { parent, last, .. } => parent.as_ref().unwrap_or(drive).open_file(Path::new(last)),
            Found::Book(d) => Err(Error::UnsupportedEntry {
                path: d.shown().display().to_string(),
                reason: "a book, not a file".into(),
            }),
        }
    }

    /// A path that reaches this very file or book without re-resolving any component
    /// above it by name (`/proc/self/fd/N[/last]`); valid while `self` lives.
    pub(crate) fn path(&self, drive: &Dir) -> PathBuf {
        match self {
            Found::File { parent, last, .. } => parent.as_ref().unwrap_or(drive).fd_path().join(last),
            Found::Book(d) => d.fd_path(),
        }
    }
}

/// Find `name` on the drive as what the manifest says it is (`kind`), looking at
/// every component without following it: a link (at the top, in the middle, or the
/// last component), a FIFO, a device or a socket is refused before anything is
/// opened (`unsupported`), an absent one is `missing`, a file where a book should be
/// (or the reverse) `wrong_kind`.
pub(crate) fn locate(drive: &Dir, name: &FileName, kind: FileKind) -> std::result::Result<Found, DriveProblem> {
    let n = name.as_str();
    let shown = drive.shown().join(n);
    let (parent, last) = drive.parent_of(Path::new(n)).map_err(|e| problem_of(n, None, &e))?;
    let st = parent.as_ref().unwrap_or(drive).stat(last).map_err(|e| problem_of(n, None, &e))?;
    let Some(st) = st else {
        return Err(problem(n, None, ProblemKind::Missing, format!("{} is not on the drive", shown.display())));
    };
    match (st.kind, kind) {
        (EntryType::File, FileKind::File) => Ok(Found::File { last: last.to_owned(), parent, size: st.size }),
        (EntryType::Directory, FileKind::Directory) => {
            let base = parent.as_ref().unwrap_or(drive);
            base.open_dir(Path::new(last)).map(Found::Book).map_err(|e| problem_of(n, None, &e))
        }
        (EntryType::Symlink | EntryType::Special, _) => Err(problem(
            n,
            None,
            ProblemKind::Unsupported,
            format!("{}: {}; nothing was read through it", shown.display(), st.kind.refusal()),
        )),
        (_, FileKind::File) => {
            Err(problem(n, None, ProblemKind::WrongKind, format!("{} is not a regular file", shown.display())))
        }
        (_, FileKind::Directory) => {
            Err(problem(n, None, ProblemKind::WrongKind, format!("{} is not a directory (a book)", shown.display())))
        }
    }
}

/// Check one manifest file or book on the drive; its problems (empty when intact).
pub(crate) fn check_file(
    drive: &Dir,
    mf: &ManifestFile,
    duplicates: &HashSet<&str>,
    progress: &dyn Progress,
) -> Vec<DriveProblem> {
    let bad = |kind, detail: String| vec![problem(&mf.name, None, kind, detail)];
    let (name, checksum, kind) = match parse_line(mf, duplicates) {
        Ok(v) => v,
        Err(p) => return vec![p],
    };
    let found = match locate(drive, &name, kind) {
        Ok(f) => f,
        Err(p) => return vec![p],
    };
    match &found {
        Found::File { size, .. } => {
            if *size != mf.size {
                let k = if *size < mf.size { ProblemKind::Truncated } else { ProblemKind::Grown };
                return bad(k, format!("{size} bytes on the drive, {} in the manifest", mf.size));
            }
            let hashed = found.open(drive).and_then(|mut f| {
                crate::checksum::pipe(checksum.algorithm(), &mut f, None, progress, &mut tree::scratch())?.map_err(
                    |e| match e {
                        PipeError::Read(e) | PipeError::Write(e) => {
                            Error::io("cannot read", drive.shown().join(&mf.name), e)
                        }
                    },
                )
            });
            match hashed {
                Ok((got, n)) if n == mf.size && checksum.matches(&got).unwrap_or(false) => Vec::new(),
                Ok((got, _)) => bad(ProblemKind::Altered, format!("hashes to {got}, the manifest says {checksum}")),
                Err(e) => vec![problem_of(&mf.name, None, &e)],
            }
        }
        Found::Book(book) => check_book(book, mf, &checksum, progress),
    }
}

/// `e` as a problem of the book `mf`, its message naming the book on the drive rather
/// than the descriptor path it was read through.
fn book_problem(book: &Dir, mf: &ManifestFile, e: &Error) -> DriveProblem {
    let entry = match e {
        Error::UnsupportedEntry { path, .. } => Some(path.as_str()),
        _ => None,
    };
    let mut p = problem_of(&mf.name, entry, e);
    p.detail = p.detail.replace(&*book.fd_path().to_string_lossy(), &book.shown().to_string_lossy());
    p
}

fn check_book(book: &Dir, mf: &ManifestFile, checksum: &Checksum, progress: &dyn Progress) -> Vec<DriveProblem> {
    // Everything below the book is reached through its open directory, so no component
    // above it is resolved by name again.
    let root = book.fd_path();
    let mut entries = match tree::walk(&root) {
        Ok(e) => e,
        Err(e) => return vec![book_problem(book, mf, &e)],
    };
    // The book as it is on the drive, each entry hashed once (the same digest recipe
    // as ingest and verify).
    let sum = match tree::hash_book(&root, &mut entries, checksum.algorithm(), progress) {
        Ok(sum) => sum,
        Err(e) => return vec![book_problem(book, mf, &e)],
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
    if problems.is_empty() && !checksum.matches(&sum).unwrap_or(false) {
        problems.push(problem(
            &mf.name,
            None,
            ProblemKind::Altered,
            format!("the book hashes to {sum}, the manifest says {checksum}"),
        ));
    }
    problems
}

/// Files on the drive that no manifest line accounts for (directories that cannot be
/// listed are `unreadable`).
fn extra_files(drive: &Dir, manifest: &Manifest) -> Vec<DriveProblem> {
    let names: HashSet<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    let reserved = [MANIFEST, MANIFEST_DIGEST, B3SUMS, SHA256SUMS, LEGACY_MANIFEST];
    let mut out = Vec::new();
    let (found, unlisted) = files_under(drive);
    for rel in found {
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
    out.extend(unlisted);
    out
}

/// Every non-directory beneath the drive (links and special files included, never
/// followed), as `/`-separated paths relative to it, and the directories that could
/// not be listed. Each directory is opened from the root component by component
/// without following links, so a link to a directory is listed as a link, not entered.
fn files_under(drive: &Dir) -> (Vec<String>, Vec<DriveProblem>) {
    let mut out = Vec::new();
    let mut unlisted = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let shown = rel.to_string_lossy().into_owned();
        let opened = if rel.as_os_str().is_empty() { None } else { Some(drive.open_dir(&rel)) };
        let dir = match &opened {
            None => drive,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                unlisted.push(problem_of(&shown, None, e));
                continue;
            }
        };
        let names = match dir.names() {
            Ok(n) => n,
            Err(e) => {
                unlisted.push(problem_of(&shown, None, &e));
                continue;
            }
        };
        for name in names {
            let child = rel.join(&name);
            match dir.stat(&name) {
                Ok(Some(st)) if st.kind == EntryType::Directory => stack.push(child),
                Ok(Some(_)) => out.push(child.to_string_lossy().into_owned()),
                Ok(None) => {}
                Err(e) => unlisted.push(problem_of(&child.to_string_lossy(), None, &e)),
            }
        }
    }
    out.sort();
    (out, unlisted)
}

/// Check the drive at `drive` against its manifest. Errors only when there is no
/// readable manifest (absent, a link or a FIFO, too large, not JSON); everything else
/// is a problem in the report. Every path is resolved beneath the drive's root without
/// following a link: nothing outside the drive is ever opened or hashed.
pub fn verify_drive(drive: &Path, progress: &dyn Progress) -> Result<DriveReport> {
    let top = Dir::open_root(drive)?;
    let (manifest, manifest_ok) = Manifest::read_at(&top)?;
    let payload = manifest.payload(&top)?;
    let root = payload.as_ref().unwrap_or(&top);
    let mut problems = Vec::new();
    if manifest_ok == Some(false) {
        problems.push(problem(
            MANIFEST,
            None,
            ProblemKind::ManifestAltered,
            "the manifest does not match its digest (.librarian-manifest.json.b3): edited or damaged",
        ));
    }
    let duplicates = duplicate_names(&manifest);
    let bytes = manifest.files.iter().fold(0u64, |acc, f| acc.saturating_add(f.size));
    progress.start(bytes);
    let mut intact = 0;
    for mf in &manifest.files {
        let p = check_file(root, mf, &duplicates, progress);
        if p.is_empty() {
            intact += 1;
        }
        problems.extend(p);
    }
    progress.finish();
    problems.extend(extra_files(root, &manifest));
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

#[cfg(test)]
mod tests {
    use super::ProblemKind;

    #[test]
    fn problem_kind_as_str_is_the_json_spelling() {
        for k in ProblemKind::ALL {
            assert_eq!(serde_json::to_value(k).ok(), Some(serde_json::Value::from(k.as_str())), "{k:?}");
        }
    }
}
