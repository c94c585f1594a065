//! Verified ingest of a file or a book into a store.
//!
//! Protocol (crash-safe at every step; see `docs/architecture.md`):
//! 1. copy the source into a fresh, locked staging directory while hashing it (one
//!    read), fsync (one `syncfs` for a book);
//! 2. check the expected checksum;
//! 3. claim the name in the catalog with an *intent* row (a durable write-ahead record
//!    naming the staging directory);
//! 4. rename the payload into the data area (`RENAME_NOREPLACE`) and fsync the parent;
//! 5. in one transaction insert File + entries + Instance and delete the intent;
//! 6. remove the staging directory.
//!
//! A process killed between 3 and 5 leaves an intent whose lock is free: the next open
//! of the site moves the data back out of the data area (or back to its origin for
//! `--move`) and drops the intent.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::catalog::{DeletionPolicy, FileKind, FileRow, IntentClaim, IntentRow, NewFile, StoreRow};
use crate::checksum::{Algorithm, Checksum, Entry};
use crate::error::{Error, Result};
use crate::model::{Upload, UploadStatus};
use crate::name::FileName;
use crate::progress::Progress;
use crate::site::Site;
use crate::store::posix::{durable_rename, sync_filesystem};
use crate::store::staging::{PAYLOAD, is_live};
use crate::store::{PosixStore, Store};
use crate::tree::{self, SourceKind};

/// How long an upload waits for another live process that holds the same name.
const HELD_WAIT: Duration = Duration::from_secs(120);

/// Options of [`Librarian::upload`].
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// Put the data on this store (default: the first enabled, ingestable store with room).
    pub store: Option<String>,
    /// Rename the source into the store instead of copying it (same filesystem only).
    pub move_source: bool,
    /// Deletion policy of the new instance (default: disallowed).
    pub deletion_policy: DeletionPolicy,
    /// Fail, committing nothing, unless the data hashes to this.
    pub expect_checksum: Option<Checksum>,
    /// Algorithm for new checksums (default BLAKE3; taken from `expect_checksum` when given).
    pub algorithm: Option<Algorithm>,
    /// Uploader recorded in the catalog (default: `$USER`).
    pub uploader: Option<String>,
    /// Site recorded as the file's source (default: this site; a clone keeps the
    /// source of the original).
    pub source: Option<String>,
    /// The file's creation time at its origin, for data created elsewhere (a clone or
    /// a drive keeps the original's); default: the time of this ingest, which is
    /// always its `arrived_at`. A time after the ingest is taken as the ingest's.
    pub created_at: Option<Timestamp>,
}

struct Hashed {
    checksum: Checksum,
    size: u64,
    entries: Vec<Entry>,
}

/// `$USER` (else `$LOGNAME`), when it is a valid uploader; else `unknown`.
fn default_uploader() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| {
            !u.is_empty() && crate::text::check_identifier("uploader", u, crate::text::MAX_UPLOADER_BYTES).is_ok()
        })
        .unwrap_or_else(|| "unknown".into())
}

fn check_expected(name: &FileName, expected: Option<&Checksum>, actual: &Checksum) -> Result<()> {
    match expected {
        Some(exp) if !exp.matches(actual)? => {
            Err(Error::ChecksumMismatch { name: name.to_string(), detail: format!("expected {exp}, got {actual}") })
        }
        _ => Ok(()),
    }
}

/// Hash a source in place (no copy).
fn hash_source(src: &Path, kind: SourceKind, algorithm: Algorithm, progress: &dyn Progress) -> Result<Hashed> {
    match kind {
        SourceKind::File => {
            let (checksum, size) = tree::hash_file(src, algorithm, progress, &mut tree::scratch())?;
            Ok(Hashed { checksum, size, entries: Vec::new() })
        }
        SourceKind::Directory => {
            let mut entries = tree::walk(src)?;
            let checksum = tree::hash_book(src, &mut entries, algorithm, progress)?;
            Ok(Hashed { checksum, size: tree::total_size(&entries), entries })
        }
    }
}

/// Does `ours` (or, when the algorithms differ, `rehash` of the same data) equal the
/// catalogued checksum?
fn same_as_existing(
    existing: &FileRow,
    ours: &Checksum,
    rehash: &dyn Fn(Algorithm) -> Result<Checksum>,
) -> Result<(bool, Checksum)> {
    let ours = if existing.checksum.algorithm() == ours.algorithm() {
        ours.clone()
    } else {
        rehash(existing.checksum.algorithm())?
    };
    Ok((existing.checksum.matches(&ours)?, ours))
}

/// Same name already catalogued: same checksum is success, anything else a conflict.
fn against_existing(
    lib: &Site,
    existing: FileRow,
    ours: &Checksum,
    rehash: &dyn Fn(Algorithm) -> Result<Checksum>,
) -> Result<Upload> {
    let (same, ours) = same_as_existing(&existing, ours, rehash)?;
    if same {
        log::info!("{} is already catalogued with {}", existing.name, existing.checksum);
        Ok(Upload { status: UploadStatus::AlreadyPresent, file: crate::queries::file(lib, &existing.name)? })
    } else {
        Err(conflict(&existing, &ours))
    }
}

fn conflict(existing: &FileRow, ours: &Checksum) -> Error {
    Error::Conflict {
        name: existing.name.to_string(),
        existing: existing.checksum.to_string(),
        incoming: ours.to_string(),
    }
}

pub(crate) fn upload(
    lib: &Site,
    src: &Path,
    name: &FileName,
    opts: &UploadOptions,
    progress: &dyn Progress,
) -> Result<Upload> {
    let algorithm = match (&opts.expect_checksum, opts.algorithm) {
        (Some(exp), Some(alg)) if exp.algorithm() != alg => {
            return Err(Error::AlgorithmMismatch { left: exp.algorithm().to_string(), right: alg.to_string() });
        }
        (Some(exp), _) => exp.algorithm(),
        (None, alg) => alg.unwrap_or_default(),
    };
    algorithm.hasher()?; // refuse parse-only algorithms before any work
    // The same rule as for an uploader a peer sends: what we catalog, we can send.
    if let Some(u) = &opts.uploader {
        crate::text::check_identifier("uploader", u, crate::text::MAX_UPLOADER_BYTES)?;
    }
    // A source reached through an open directory (`/proc/self/fd/N/…`: a drive's book
    // or a received payload, opened without following links) is kept as it is, so the
    // kernel resolves it through that descriptor every time instead of by a name
    // someone else could change; a copy needs no resolved path. Anything else (an
    // operator's path, which may be a link to the data) is resolved once here.
    let through_fd = src.starts_with("/proc/self/fd") && !opts.move_source;
    let resolved = if through_fd { Ok(src.to_owned()) } else { std::fs::canonicalize(src) };
    let src = resolved.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::NotFound { kind: crate::error::ObjectKind::Path, name: src.display().to_string() }
        }
        _ => Error::io("cannot resolve", src, e),
    })?;
    let (kind, file_len) = tree::source_kind(&src)?;
    let expected = opts.expect_checksum.as_ref();

    // Already catalogued: hash the source in place and compare; nothing is copied,
    // unless the file has only remote copies so far: then the same bytes become its
    // first local copy (`attach`).
    let mut algorithm = algorithm;
    let mut attach: Option<FileRow> = None;
    if let Some(existing) = lib.catalog().file(name)? {
        let alg =
            if existing.checksum.algorithm().hasher().is_ok() { existing.checksum.algorithm() } else { algorithm };
        let h = hash_source(&src, kind, alg, progress)?;
        if let Some(exp) = expected {
            let ours = if exp.algorithm() == alg {
                h.checksum.clone()
            } else {
                hash_source(&src, kind, exp.algorithm(), progress)?.checksum
            };
            check_expected(name, Some(exp), &ours)?;
        }
        let rehash = |a: Algorithm| Ok(hash_source(&src, kind, a, progress)?.checksum);
        if !lib.catalog().instances(existing.id)?.is_empty() {
            return against_existing(lib, existing, &h.checksum, &rehash);
        }
        let (same, ours) = same_as_existing(&existing, &h.checksum, &rehash)?;
        if !same {
            return Err(conflict(&existing, &ours));
        }
        algorithm = existing.checksum.algorithm();
        attach = Some(existing);
    }

    // Fail early, before any copy; `claim_name` checks again atomically.
    lib.catalog().check_nesting(name)?;

    let mut entries = match kind {
        SourceKind::File => Vec::new(),
        SourceKind::Directory => tree::walk(&src)?,
    };
    let size_hint = match kind {
        SourceKind::File => file_len,
        SourceKind::Directory => tree::total_size(&entries),
    };
    let (store_row, store) =
        choose_store(lib.catalog().stores()?, opts.store.as_deref(), size_hint, opts.move_source.then_some(&*src))?;
    let staging = store.new_staging()?;
    progress.start(size_hint);
    let hashed = if opts.move_source {
        match kind {
            SourceKind::File => {
                let (c, n) = tree::hash_file_once(&src, algorithm, progress, &mut tree::scratch())?;
                std::fs::File::open(&src).and_then(|f| f.sync_all()).map_err(|e| Error::io("cannot sync", &src, e))?;
                Hashed { checksum: c, size: n, entries: Vec::new() }
            }
            SourceKind::Directory => {
                let c = tree::hash_book(&src, &mut entries, algorithm, progress)?;
                sync_filesystem(&src)?;
                Hashed { checksum: c, size: tree::total_size(&entries), entries }
            }
        }
    } else {
        let payload = staging.payload();
        match kind {
            SourceKind::File => {
                let (c, n) = tree::copy_file(&src, &payload, algorithm, true, progress, &mut tree::scratch())?;
                Hashed { checksum: c, size: n, entries: Vec::new() }
            }
            SourceKind::Directory => {
                let c = tree::copy_book(&src, &payload, &mut entries, algorithm, progress)?;
                sync_filesystem(staging.dir())?;
                Hashed { checksum: c, size: tree::total_size(&entries), entries }
            }
        }
    };
    progress.finish();
    check_expected(name, expected, &hashed.checksum)?;
    if let Some(existing) = &attach
        && !existing.checksum.matches(&hashed.checksum)?
    {
        // The source changed since it was compared above.
        return Err(conflict(existing, &hashed.checksum));
    }

    let (staged, moved_from): (PathBuf, Option<&Path>) =
        if opts.move_source { (src.clone(), Some(&src)) } else { (staging.payload(), None) };
    let rehash_staged = |a: Algorithm| Ok(hash_source(&staged, kind, a, &crate::progress::NoProgress)?.checksum);

    let started = Instant::now();
    let intent = loop {
        let claim = match &attach {
            None => lib.catalog().claim_name(name, store_row.id, staging.dir(), moved_from, Timestamp::now())?,
            Some(f) => {
                lib.catalog().claim_local_copy(f.id, name, store_row.id, staging.dir(), moved_from, Timestamp::now())?
            }
        };
        match claim {
            IntentClaim::Claimed(id) => break id,
            IntentClaim::Catalogued(existing) => {
                return against_existing(lib, existing, &hashed.checksum, &rehash_staged);
            }
            IntentClaim::Held(other) => {
                if !is_live(&other.staging_dir, Duration::ZERO) {
                    recover_intent(lib, &other)?;
                } else if started.elapsed() > HELD_WAIT {
                    return Err(Error::Busy { name: name.to_string() });
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    };

    crate::fault::point("ingest.after-intent");
    if let Err(e) = store.commit(&staged, name) {
        lib.catalog().drop_intent(intent)?;
        return Err(e);
    }
    crate::fault::point("ingest.after-rename");
    let file_kind = match kind {
        SourceKind::File => FileKind::File,
        SourceKind::Directory => FileKind::Directory,
    };
    let uploader = opts.uploader.clone().unwrap_or_else(default_uploader);
    let new = NewFile {
        name,
        size: hashed.size,
        checksum: &hashed.checksum,
        kind: file_kind,
        uploader: &uploader,
        source: opts.source.as_deref().unwrap_or(&lib.config().name),
        created_at: opts.created_at,
        entries: &hashed.entries,
    };
    let rel = Path::new(name.as_str());
    let committed = match &attach {
        None => lib.catalog().commit_ingest(intent, &new, store_row.id, rel, opts.deletion_policy, Timestamp::now()),
        Some(f) => lib.catalog().commit_local_copy(
            intent,
            f.id,
            &hashed.entries,
            store_row.id,
            rel,
            opts.deletion_policy,
            Timestamp::now(),
        ),
    };
    if let Err(e) = committed {
        // Put the data back where it came from, then release the name.
        crate::store::posix::set_read_only(&store.data_path(name), false);
        durable_rename(&store.data_path(name), &staged)?;
        lib.catalog().drop_intent(intent)?;
        return Err(e);
    }
    crate::fault::point("ingest.after-commit");
    drop(staging);
    Ok(Upload { status: UploadStatus::Ingested, file: crate::queries::file(lib, name)? })
}

/// Roll back an ingest whose process died between claiming its name and committing:
/// move its data out of the data area (back to its origin for `--move`), drop the
/// intent and the staging directory. Never deletes data it did not put there.
pub(crate) fn recover_intent(lib: &Site, intent: &IntentRow) -> Result<()> {
    let row = lib.catalog().store_by_id(intent.store_id)?;
    let store = PosixStore::new(&row.name, &row.root, &row.staging);
    let name = FileName::new(&intent.name)?;
    let target = store.data_path(&name);
    let committed = lib.catalog().instance_at(row.id, name.as_str())?;
    let payload = intent.staging_dir.join(PAYLOAD);
    if !committed && std::fs::symlink_metadata(&target).is_ok() {
        // Did this ingest's rename happen? Only then is the target its data.
        let (origin, renamed) = match &intent.moved_from {
            Some(from) => (from.clone(), std::fs::symlink_metadata(from).is_err()),
            None => (payload.clone(), std::fs::symlink_metadata(&payload).is_err()),
        };
        if renamed {
            if intent.moved_from.is_none() && std::fs::symlink_metadata(&intent.staging_dir).is_err() {
                std::fs::create_dir_all(&intent.staging_dir)
                    .map_err(|e| Error::io("cannot recreate staging directory", &intent.staging_dir, e))?;
            }
            log::warn!(
                "rolling back interrupted ingest of {}: moving {} to {}",
                name,
                target.display(),
                origin.display()
            );
            // Writable again (a directory moves only while it is; the caller's data
            // goes back as it came: writable by its owner).
            crate::store::posix::set_read_only(&target, false);
            durable_rename(&target, &origin)?;
            crate::store::prune_empty_parents(&target, &row.root);
        }
    }
    lib.catalog().drop_intent(intent.id)?;
    crate::store::remove_all(&intent.staging_dir)
}

/// Pick the store for `needed` bytes: the requested one, or the first (by name) that
/// is enabled, ingestable and has room above its reserve. For `--move`, only stores on
/// the source's filesystem qualify and no space is needed.
pub(crate) fn choose_store(
    stores: Vec<StoreRow>,
    requested: Option<&str>,
    needed: u64,
    move_from: Option<&Path>,
) -> Result<(StoreRow, PosixStore)> {
    let needed = if move_from.is_some() { 0 } else { needed };
    let mut skipped = Vec::new();
    let mut found_requested = false;
    for row in stores {
        if requested.is_some_and(|r| r != row.name) {
            continue;
        }
        found_requested = true;
        let store = PosixStore::new(&row.name, &row.root, &row.staging);
        if !row.enabled {
            skipped.push(format!("{}: disabled", row.name));
            continue;
        }
        if !row.ingestable {
            skipped.push(format!("{}: not ingestable", row.name));
            continue;
        }
        if let Some(src) = move_from
            && !store.same_filesystem(src)?
        {
            if requested.is_some() {
                return Err(Error::CrossDevice { path: src.to_owned(), store: row.name });
            }
            skipped.push(format!("{}: not on the source's filesystem", row.name));
            continue;
        }
        let free = match store.free_bytes() {
            Ok(f) => f,
            Err(e) => {
                skipped.push(format!("{}: unavailable ({e})", row.name));
                continue;
            }
        };
        let usable = free.saturating_sub(row.reserve_bytes);
        if usable < needed {
            skipped.push(format!("{}: {usable} bytes usable ({free} free, {} reserved)", row.name, row.reserve_bytes));
            continue;
        }
        return Ok((row, store));
    }
    if let Some(r) = requested
        && !found_requested
    {
        return Err(Error::NotFound { kind: crate::error::ObjectKind::Store, name: r.to_owned() });
    }
    if let Some(src) = move_from
        && skipped.iter().all(|s| s.ends_with("not on the source's filesystem"))
        && !skipped.is_empty()
    {
        return Err(Error::CrossDevice { path: src.to_owned(), store: "any".into() });
    }
    if skipped.is_empty() {
        skipped.push("the site has no stores".into());
    }
    Err(Error::StoreFull { needed, detail: skipped.join("; ") })
}

/// Roll back the interrupted ingests of dead processes (run by every open).
pub(crate) fn recover_interrupted(site: &Site) {
    let intents = match site.catalog().intents() {
        Ok(i) => i,
        Err(e) => {
            log::warn!("cannot list interrupted ingests: {e}");
            return;
        }
    };
    for intent in intents {
        if crate::store::staging::is_live(&intent.staging_dir, std::time::Duration::ZERO) {
            continue;
        }
        if let Err(e) = recover_intent(site, &intent) {
            log::warn!("cannot roll back interrupted ingest of {}: {e}", intent.name);
        }
    }
}
