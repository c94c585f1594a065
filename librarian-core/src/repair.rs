//! Repair: a damaged (corrupt or missing) copy is replaced with verified bytes from
//! another copy here, or else from a peer that holds one (`files/read`: the peer
//! re-reads its copy first; the bytes are hashed again here as they are written).
//!
//! The good bytes are written into a locked staging directory on the damaged copy's
//! store and checked against the catalog; only then are the bad bytes moved aside
//! into that staging directory (quarantine), the good ones renamed into place, the
//! copy marked `ok` (its event cleared), and the quarantined bytes removed with the
//! staging directory. A run killed on the way leaves the copy damaged (it is
//! repaired again) and a staging directory that `cleanup-staging` removes.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;

use jiff::Timestamp;

use crate::catalog::{FileRow, InstanceRow};
use crate::checksum::{EntryKind, directory_digest};
use crate::error::{Error, Result};
use crate::model::{Category, FileKind, InstanceState, RemoteState, RepairFailure, RepairReport, RepairedCopy};
use crate::name::FileName;
use crate::progress::Progress;
use crate::site::Site;
use crate::store::beneath::Dir;
use crate::store::{PosixStore, Store};

/// Name of the good bytes inside the repair's staging directory.
const NEW: &str = "new";
/// Name of the quarantined bad bytes inside it.
const BAD: &str = "bad";

/// Repair every damaged copy of `name`.
pub(crate) fn repair(site: &Site, name: &FileName, progress: &dyn Progress) -> Result<RepairReport> {
    let cat = site.catalog();
    let file = cat.require_file(name)?;
    let mut report = RepairReport { name: name.clone(), ok: true, repaired: Vec::new(), failed: Vec::new() };
    let damaged: Vec<InstanceRow> = cat.instances(file.id)?.into_iter().filter(|i| i.state.is_damaged()).collect();
    for d in damaged {
        match repair_one(site, &file, &d, progress) {
            Ok(from) => {
                report.repaired.push(RepairedCopy { store: d.store.clone(), instance: d.id, was: d.state, from })
            }
            Err(e) => {
                report.failed.push(RepairFailure { store: d.store.clone(), instance: d.id, reason: e.to_string() })
            }
        }
    }
    report.ok = report.failed.is_empty();
    Ok(report)
}

/// Repair every damaged copy on the site (the scrub's `repair = true`).
pub(crate) fn repair_all(site: &Site) -> Result<Vec<RepairReport>> {
    let mut names: Vec<FileName> = site.catalog().damaged_instances()?.into_iter().map(|(f, _)| f.name).collect();
    names.dedup();
    names.iter().map(|n| repair(site, n, &crate::progress::NoProgress)).collect()
}

/// Replace the damaged copy `d`; returns where the good bytes came from.
fn repair_one(site: &Site, file: &FileRow, d: &InstanceRow, progress: &dyn Progress) -> Result<String> {
    let cat = site.catalog();
    let row = cat.store(&d.store)?;
    let staging = PosixStore::new(&row.name, &row.root, &row.staging).new_staging()?;
    let sdir = Dir::open_root(staging.dir())?;
    let mut tried = Vec::new();
    let mut from = None;
    // Another copy here first: the cheapest, and no peer is bothered.
    for src in cat.instances(file.id)?.into_iter().filter(|i| i.state == InstanceState::Ok && i.id != d.id) {
        progress.start(file.size);
        let got =
            crate::tree::copy_item(&src.path, file.kind, file.checksum.algorithm(), &sdir, OsStr::new(NEW), progress);
        progress.finish();
        match got.and_then(|sum| sum.matches(&file.checksum).map(|ok| (sum, ok))) {
            Ok((_, true)) => {
                from = Some(format!("store {}", src.store));
                break;
            }
            Ok((sum, false)) => {
                let reason = format!("its bytes hash to {sum}, not {} (found by repair)", file.checksum);
                crate::verify::mark_damaged(site, file, &src, InstanceState::Corrupt, &reason)?;
                tried.push(format!("store {}: {reason}", src.store));
            }
            Err(e) => tried.push(format!("store {}: {e}", src.store)),
        }
        sdir.remove_tree(OsStr::new(NEW))?;
    }
    if from.is_none() {
        let mut peers: Vec<String> = cat
            .remote_instances(file.id)?
            .into_iter()
            .filter(|r| r.state == RemoteState::Ok)
            .map(|r| r.librarian)
            .collect();
        peers.dedup();
        for peer in peers {
            match fetch_from_peer(site, &peer, file, &sdir, progress) {
                Ok(()) => {
                    from = Some(format!("peer {peer}"));
                    break;
                }
                Err(e) => {
                    tried.push(format!("peer {peer}: {e}"));
                    sdir.remove_tree(OsStr::new(NEW))?;
                }
            }
        }
    }
    let Some(from) = from else {
        let why = if tried.is_empty() {
            "no other copy is known, here or at a peer".to_owned()
        } else {
            format!("no source had intact bytes: {}", tried.join("; "))
        };
        return Err(Error::ChecksumMismatch { name: file.name.to_string(), detail: why });
    };
    install(&row.root, &d.path, &sdir)?;
    let now = Timestamp::now();
    cat.set_instance_state(d.id, InstanceState::Ok, None, now)?;
    let subject = crate::verify::copy_subject(&d.store, &file.name);
    cat.resolve_event(Category::InstanceCorrupt, &subject, now)?;
    cat.resolve_event(Category::InstanceMissing, &subject, now)?;
    drop(staging);
    Ok(from)
}

/// Move the bad bytes at `path` (if any) aside into `sdir`, then the good ones from
/// `sdir` into place; all beneath the data area's descriptor.
fn install(root: &Path, path: &Path, sdir: &Dir) -> Result<()> {
    let rel = path.strip_prefix(root).map_err(|_| {
        Error::corrupt(
            format!("the copy at {}", path.display()),
            format!("refusing to repair it: not below its store's root {}", root.display()),
        )
    })?;
    let data = Dir::open_root(root)?;
    let parent = match rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => data.create_dirs(p)?,
        None => data,
    };
    let Some(last) = rel.file_name() else {
        return Err(Error::corrupt(format!("the copy at {}", path.display()), "it names no file"));
    };
    if parent.stat(last)?.is_some() {
        // A directory moves to another parent only while it is writable.
        crate::store::posix::set_read_only(path, false);
        parent.rename_noreplace(last, sdir, OsStr::new(BAD))?;
        crate::fault::point("repair.after-quarantine");
    }
    let new = sdir.shown().join(NEW);
    crate::store::posix::set_read_only_below(&new);
    sdir.rename_noreplace(OsStr::new(NEW), &parent, last)?;
    crate::store::posix::set_read_only(path, true);
    parent.sync()
}

/// Fetch `file` from `peer` into `sdir/new`, hashing as it is written; an error
/// unless the bytes match the catalog.
fn fetch_from_peer(site: &Site, peer: &str, file: &FileRow, sdir: &Dir, progress: &dyn Progress) -> Result<()> {
    let client = crate::access::peer_client(site, peer)?;
    let algorithm = file.checksum.algorithm();
    let shown = sdir.shown().join(NEW);
    progress.start(file.size);
    let result = match file.kind {
        FileKind::File => {
            let (mut body, _) = client.read(file.name.as_str(), None, file.size)?;
            let out = sdir.create_new(OsStr::new(NEW))?;
            let (sum, n) = crate::tree::write_stream(&mut body, out, &shown, algorithm, progress)?;
            if n != file.size || !sum.matches(&file.checksum)? {
                Err(Error::ChecksumMismatch {
                    name: file.name.to_string(),
                    detail: format!(
                        "the peer sent {n} bytes hashing to {sum}, not {} bytes hashing to {}",
                        file.size, file.checksum
                    ),
                })
            } else {
                Ok(())
            }
        }
        FileKind::Directory => fetch_book(&client, file, &site.catalog().entries(file.id)?, sdir, progress),
    };
    progress.finish();
    result
}

/// A book, entry by entry: each checked against its recorded digest, then the
/// whole against the book's checksum.
fn fetch_book(
    client: &crate::peer::client::PeerClient,
    file: &FileRow,
    recorded: &[crate::checksum::Entry],
    sdir: &Dir,
    progress: &dyn Progress,
) -> Result<()> {
    let algorithm = file.checksum.algorithm();
    sdir.mkdir(OsStr::new(NEW), 0o777)?;
    let book = sdir.open_dir(Path::new(NEW))?;
    // Only the entries the catalog recorded are asked for and written.
    for e in recorded {
        let rel = Path::new(&e.path);
        match e.kind {
            EntryKind::Directory => {
                book.create_dirs(rel)?;
            }
            EntryKind::File => {
                let (parent, last) = match rel.parent().filter(|p| !p.as_os_str().is_empty()) {
                    Some(p) => (Some(book.create_dirs(p)?), rel.file_name().unwrap_or_default()),
                    None => (None, rel.as_os_str()),
                };
                let dir = parent.as_ref().unwrap_or(&book);
                let (body, _) = client.read(file.name.as_str(), Some(&e.path), e.size)?;
                let mut body: Box<dyn Read> = Box::new(body);
                let out = dir.create_new(last)?;
                let (sum, n) = crate::tree::write_stream(&mut body, out, &dir.shown().join(last), algorithm, progress)?;
                if n != e.size || e.digest.as_deref() != Some(sum.hex()) {
                    return Err(Error::ChecksumMismatch {
                        name: file.name.to_string(),
                        detail: format!(
                            "the peer sent entry {} hashing to {}, not the recorded digest",
                            e.path,
                            sum.hex()
                        ),
                    });
                }
            }
        }
    }
    crate::store::posix::sync_filesystem(&book.fd_path())?;
    let sum = directory_digest(algorithm, recorded)?;
    if !sum.matches(&file.checksum)? {
        return Err(Error::ChecksumMismatch {
            name: file.name.to_string(),
            detail: format!("the recorded entries hash to {sum}, not {}", file.checksum),
        });
    }
    Ok(())
}
