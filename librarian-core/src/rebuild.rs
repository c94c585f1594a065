//! Disaster recovery: a catalog lost or damaged beyond repair is rebuilt from the
//! stores' data areas (`librarian rebuild --from-stores`), every file and book hashed
//! again; then remote instances come back from the peers, who re-verify their copies
//! (`librarian rebuild --remote PEER`, through `files/verify`).
//!
//! The damaged database is moved aside, never deleted: its stores, peers and
//! accounts are copied into the new catalog when it can still be read. In a data
//! area, a directory without write bits is a book (committed books are read-only),
//! as is one matching a `--book` pattern; other directories are only part of names.
//! What cannot be restored is reported: unreadable or unnamable entries, a name
//! found on two stores with different contents, the history (transfers, events,
//! deletion policies, the checksums' original algorithms: everything is BLAKE3 now).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::catalog::{NewFile, Rebuilt};
use crate::checksum::{Algorithm, Checksum, Entry};
use crate::error::{Error, Result};
use crate::model::{FileId, FileKind, StoreSpec};
use crate::name::FileName;
use crate::progress::Progress;
use crate::site::Site;
use crate::store::beneath::{Dir, EntryType};

/// Files catalogued per transaction.
const BATCH: usize = 500;

/// What to rebuild from.
#[derive(Debug, Clone, Default)]
pub struct RebuildOptions {
    /// Stores to read (added to those salvaged from the old catalog); when there are
    /// none at all, the default store of `librarian init` (`stores/main`).
    pub stores: Vec<StoreSpec>,
    /// Glob patterns (`*`, `?`) of names that are books, for books committed before
    /// committed data was made read-only.
    pub books: Vec<String>,
}

/// What a rebuild restored and what it could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebuildReport {
    /// The new catalog.
    pub database: PathBuf,
    /// Where the old database was moved (with its `-wal`), if there was one.
    pub moved_aside: Option<PathBuf>,
    /// Tables copied from the old database (`stores`, `peers`, `accounts`), with the
    /// rows copied.
    pub salvaged: Vec<(String, usize)>,
    /// Tables that could not be copied, with why.
    pub not_salvaged: Vec<(String, String)>,
    /// The stores read.
    pub stores: Vec<String>,
    /// Files catalogued.
    pub files: u64,
    /// Books catalogued.
    pub books: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Copies found on a second store (one file, two instances).
    pub extra_copies: u64,
    /// What was found and not catalogued: (path, why).
    pub skipped: Vec<(PathBuf, String)>,
}

/// Move the catalog of `config_path` aside (if any), create a new one, salvage what
/// the old one still holds, and catalogue every file and book of the stores.
pub(crate) fn rebuild_from_stores(
    config_path: &Path,
    opts: &RebuildOptions,
    progress: &dyn Progress,
) -> Result<(Site, RebuildReport)> {
    let config_path = crate::site::absolute(config_path)?;
    let config = std::sync::Arc::new(crate::config::Config::load(&config_path)?);
    let database = config.database_path(&config_path);
    let moved_aside = move_aside(&database)?;
    let site = Site::with_config(config, &config_path, true)?;
    let mut report = RebuildReport {
        database: database.clone(),
        moved_aside: moved_aside.clone(),
        salvaged: Vec::new(),
        not_salvaged: Vec::new(),
        stores: Vec::new(),
        files: 0,
        books: 0,
        bytes: 0,
        extra_copies: 0,
        skipped: Vec::new(),
    };
    if let Some(old) = &moved_aside {
        for (table, outcome) in site.catalog().salvage_from(old) {
            match outcome {
                Ok(n) => report.salvaged.push((table.to_owned(), n)),
                Err(e) => report.not_salvaged.push((table.to_owned(), e)),
            }
        }
    }
    for spec in &opts.stores {
        if site.catalog().store(&spec.name).is_err() {
            crate::stores::add_store(&site, spec)?;
        }
    }
    if site.catalog().stores()?.is_empty() {
        crate::stores::add_default_store(&site)?;
    }
    let mut seen: HashMap<FileName, (FileId, Checksum, String)> = HashMap::new();
    for store in site.catalog().stores()? {
        report.stores.push(store.name.clone());
        let mut found = Vec::new();
        collect(&store.root, &opts.books, &mut found, &mut report.skipped);
        let mut batch: Vec<(FileName, PathBuf, Hashed)> = Vec::new();
        for (name, path, kind) in found {
            match hash(&path, kind, progress) {
                Ok(h) => batch.push((name, path, h)),
                Err(e) => report.skipped.push((path, e.to_string())),
            }
            if batch.len() >= BATCH {
                commit(&site, &store, std::mem::take(&mut batch), &mut seen, &mut report)?;
            }
        }
        commit(&site, &store, batch, &mut seen, &mut report)?;
    }
    Ok((site, report))
}

/// A file or book, hashed.
#[derive(Debug)]
struct Hashed {
    kind: FileKind,
    size: u64,
    checksum: Checksum,
    entries: Vec<Entry>,
}

fn hash(path: &Path, kind: FileKind, progress: &dyn Progress) -> Result<Hashed> {
    let algorithm = Algorithm::Blake3;
    match kind {
        FileKind::File => {
            let (checksum, size) = crate::tree::hash_file(path, algorithm, progress, &mut crate::tree::scratch())?;
            Ok(Hashed { kind, size, checksum, entries: Vec::new() })
        }
        FileKind::Directory => {
            let mut entries = crate::tree::walk(path)?;
            let checksum = crate::tree::hash_book(path, &mut entries, algorithm, progress)?;
            Ok(Hashed { kind, size: crate::tree::total_size(&entries), checksum, entries })
        }
    }
}

/// Catalogue one batch found on `store`: new names as files, names already found on
/// another store as a second copy (same checksum) or skipped (another one).
fn commit(
    site: &Site,
    store: &crate::catalog::StoreRow,
    batch: Vec<(FileName, PathBuf, Hashed)>,
    seen: &mut HashMap<FileName, (FileId, Checksum, String)>,
    report: &mut RebuildReport,
) -> Result<()> {
    let now = Timestamp::now();
    let source = site.config().name.clone();
    let mut fresh = Vec::new();
    for (name, path, h) in &batch {
        match seen.get(name) {
            Some((id, sum, _)) if sum == &h.checksum => {
                let rel = path.strip_prefix(&store.root).unwrap_or(path);
                site.catalog().insert_rebuilt_copy(*id, store.id, rel, now)?;
                report.extra_copies += 1;
            }
            Some((_, sum, first)) => report.skipped.push((
                path.clone(),
                format!("{name} on store {first} hashes to {sum}; this copy hashes to {}: kept out", h.checksum),
            )),
            None => fresh.push((name, path, h)),
        }
    }
    let rows: Vec<Rebuilt<'_>> = fresh
        .iter()
        .map(|(name, path, h)| Rebuilt {
            file: NewFile {
                name,
                size: h.size,
                checksum: &h.checksum,
                kind: h.kind,
                uploader: "rebuild",
                source: &source,
                created_at: None,
                entries: &h.entries,
            },
            store: store.id,
            rel: path.strip_prefix(&store.root).unwrap_or(path),
        })
        .collect();
    let ids = site.catalog().insert_rebuilt(&rows, now)?;
    for ((name, _, h), id) in fresh.iter().zip(ids) {
        match h.kind {
            FileKind::File => report.files += 1,
            FileKind::Directory => report.books += 1,
        }
        report.bytes += h.size;
        seen.insert((*name).clone(), (id, h.checksum.clone(), store.name.clone()));
    }
    Ok(())
}

/// Walk the data area `root`, collecting files and books by name. Every directory
/// is opened beneath the root's descriptor, never following a link; links and
/// special files are reported, not followed.
fn collect(
    root: &Path,
    books: &[String],
    found: &mut Vec<(FileName, PathBuf, FileKind)>,
    skipped: &mut Vec<(PathBuf, String)>,
) {
    let top = match Dir::open_root(root) {
        Ok(d) => d,
        Err(e) => {
            skipped.push((root.to_owned(), format!("cannot open: {e}")));
            return;
        }
    };
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let opened;
        let dir = if rel.as_os_str().is_empty() {
            &top
        } else {
            match top.open_dir(&rel) {
                Ok(d) => {
                    opened = d;
                    &opened
                }
                Err(e) => {
                    skipped.push((root.join(&rel), format!("cannot open: {e}")));
                    continue;
                }
            }
        };
        let mut names = match dir.names() {
            Ok(n) => n,
            Err(e) => {
                skipped.push((root.join(&rel), format!("cannot list: {e}")));
                continue;
            }
        };
        names.sort();
        for raw in names {
            let child = rel.join(&raw);
            let path = root.join(&child);
            if rel.as_os_str().is_empty()
                && raw.to_string_lossy().starts_with(crate::sneakernet::manifest::RESERVED_PREFIX)
            {
                continue; // a drive's own manifest files
            }
            let st = match dir.stat(&raw) {
                Ok(Some(st)) => st,
                Ok(None) => continue,
                Err(e) => {
                    skipped.push((path, format!("cannot be read: {e}")));
                    continue;
                }
            };
            let name = child.to_str().map(FileName::new);
            let kind = match st.kind {
                EntryType::Directory => {
                    let is_book =
                        st.perm & 0o222 == 0 || child.to_str().is_some_and(|r| books.iter().any(|g| glob(g, r)));
                    if !is_book {
                        stack.push(child);
                        continue;
                    }
                    FileKind::Directory
                }
                EntryType::File => FileKind::File,
                other => {
                    skipped.push((path, format!("{}: never followed", other.describe())));
                    continue;
                }
            };
            match name {
                Some(Ok(n)) => found.push((n, path, kind)),
                Some(Err(e)) => skipped.push((path, e.to_string())),
                None => skipped.push((path, "its name is not UTF-8".into())),
            }
        }
    }
    found.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
}

/// `pattern` (`*` any run of characters, `?` one) matches all of `text`.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Move the database at `database` (and its `-wal`, `-shm`) aside as
/// `<database>.lost-<time>`; `None` when there is none.
fn move_aside(database: &Path) -> Result<Option<PathBuf>> {
    if std::fs::symlink_metadata(database).is_err() {
        return Ok(None);
    }
    let stamp = Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut aside = database.as_os_str().to_owned();
    aside.push(format!(".lost-{stamp}"));
    let aside = PathBuf::from(aside);
    for suffix in ["", "-wal", "-shm"] {
        let mut from = database.as_os_str().to_owned();
        from.push(suffix);
        let mut to = aside.as_os_str().to_owned();
        to.push(suffix);
        match std::fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("cannot move the old catalog aside", Path::new(&from), e)),
        }
    }
    Ok(Some(aside))
}

/// Restore the remote instances at `peer` of every file catalogued: the peer
/// re-reads its copies and answers (`files/verify`), as `verify --remote` does.
/// Returns (files asked, files with an intact copy there).
pub(crate) fn restore_remote(site: &Site, peer: &str) -> Result<(u64, u64)> {
    const PAGE: u32 = 10_000;
    let mut names = Vec::new();
    let mut q = crate::model::SearchQuery { limit: Some(PAGE), ..Default::default() };
    loop {
        let page = site.catalog().search(&q)?;
        let full = page.len() == PAGE as usize;
        let last = page.last().map(|f| f.name.to_string());
        names.extend(page.into_iter().map(|f| f.name));
        match last {
            Some(l) if full => q.after = Some(l),
            _ => break,
        }
    }
    let answers = crate::remote_verify::verify_remote(site, peer, &names)?;
    let intact = answers.iter().filter(|a| a.intact()).count() as u64;
    Ok((names.len() as u64, intact))
}
