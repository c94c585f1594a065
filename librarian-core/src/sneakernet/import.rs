//! `sneakernet import`: ingest a drive at its destination, verifying each file as it
//! is copied (one read), and queue a `complete` call per file to the exporting site.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use super::check::{DriveProblem, Found, ProblemKind, check_file, locate, parse_line, problem_of};
use super::manifest::{Manifest, ManifestFile, duplicate_names};
use crate::catalog::ImportItem;
use crate::error::{Error, ObjectKind, Result};
use crate::ingest::UploadOptions;
use crate::model::UploadStatus;
use crate::model::{Category, NewEvent, Severity};
use crate::progress::{NoProgress, Progress};
use crate::site::Site;
use crate::store::beneath::Dir;

/// One manifest line being imported, with what it is checked against.
#[derive(Clone, Copy)]
struct Line<'a> {
    root: &'a Dir,
    manifest: &'a Manifest,
    mf: &'a ManifestFile,
    duplicates: &'a HashSet<&'a str>,
    /// The drive's site is a peer here: imports are recorded as its transfers and
    /// completed there.
    callbacks: bool,
}

/// What an import did (or, with `dry_run`, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The drive directory.
    pub drive: PathBuf,
    /// The exporting site.
    pub site: String,
    /// Read from the existing Librarian's manifest format.
    pub legacy: bool,
    /// Whether the manifest matched its digest (`None` for a legacy manifest).
    pub manifest_ok: Option<bool>,
    /// Files and books ingested now (with `dry_run`: that would be).
    pub imported: Vec<String>,
    /// Already catalogued here with the same checksum (counted as done).
    pub already_present: Vec<String>,
    /// Imported by an earlier run of this import (nothing done).
    pub already_imported: Vec<String>,
    /// Refused, with why (bad data, conflicts, bad manifest lines).
    pub refused: Vec<DriveProblem>,
    /// `complete` calls queued to the exporting site.
    pub callbacks_queued: u64,
    /// Nothing was changed.
    pub dry_run: bool,
}

impl ImportReport {
    /// True when nothing was refused and the manifest was intact.
    pub fn ok(&self) -> bool {
        self.refused.is_empty() && self.manifest_ok != Some(false)
    }
}

/// A problem with the type or size of what `found` is, from metadata alone (a book's
/// entries are listed, not read).
fn shape_problem(found: &Found, mf: &ManifestFile) -> Option<DriveProblem> {
    let bad = |kind, detail: String| Some(DriveProblem { name: mf.name.clone(), entry: None, kind, detail });
    let size = match found {
        Found::File { size, .. } => *size,
        Found::Book(book) => match crate::tree::walk(&book.fd_path()) {
            Ok(entries) => entries.iter().map(|e| e.size).sum(),
            Err(e) => {
                let mut p = problem_of(
                    &mf.name,
                    match &e {
                        Error::UnsupportedEntry { path, .. } => Some(path.as_str()),
                        _ => None,
                    },
                    &e,
                );
                p.detail = p.detail.replace(&*book.fd_path().to_string_lossy(), &book.shown().to_string_lossy());
                return Some(p);
            }
        },
    };
    if size != mf.size {
        let k = if size < mf.size { ProblemKind::Truncated } else { ProblemKind::Grown };
        return bad(k, format!("{size} bytes on the drive, {} in the manifest", mf.size));
    }
    None
}

/// Import the drive at `drive` into `store` (default: a store with room). Every file
/// is verified while it is copied; bad ones are refused, good ones imported. The
/// exporting site must be a peer here (its `complete` calls wait in the outbox
/// until it can be reached). A drive in the original Librarian's format needs no
/// peer; when its site is one here (imported with `import-original`, or linked),
/// its transfers are completed there the same way, else no call is queued.
pub(crate) fn sneakernet_import(
    site: &Site,
    drive: &Path,
    store: Option<&str>,
    dry_run: bool,
    progress: &dyn Progress,
) -> Result<ImportReport> {
    // Every path on the drive is resolved beneath this root, never following a link.
    let top = Dir::open_root(drive)?;
    let (manifest, manifest_ok) = Manifest::read_at(&top)?;
    let payload = manifest.payload(&top)?;
    let root = payload.as_ref().unwrap_or(&top);
    // A drive of the original Librarian names its site too: when that site is a
    // peer here (it migrated, or it is linked), the drive's transfers are completed
    // there as ours are; otherwise nothing is recorded or called.
    let callbacks = !manifest.legacy || crate::access::peer(site, &manifest.site).is_ok();
    if !manifest.legacy {
        crate::access::peer(site, &manifest.site).map_err(|_| Error::NotFound {
            kind: ObjectKind::Peer,
            name: format!("{} (the drive's exporting site: add it as a peer before importing)", manifest.site),
        })?;
    }
    if let Some(s) = store {
        site.catalog().store(s)?;
    }
    let mut report = ImportReport {
        drive: drive.to_owned(),
        site: manifest.site.clone(),
        legacy: manifest.legacy,
        manifest_ok,
        imported: Vec::new(),
        already_present: Vec::new(),
        already_imported: Vec::new(),
        refused: Vec::new(),
        callbacks_queued: 0,
        dry_run,
    };
    if manifest_ok == Some(false) {
        // Nothing on the drive can be trusted against an edited or damaged
        // manifest: a checksum in it may have been changed to match bad bytes.
        report.refused = manifest
            .files
            .iter()
            .map(|mf| DriveProblem {
                name: mf.name.clone(),
                entry: None,
                kind: ProblemKind::ManifestAltered,
                detail: "the manifest does not match its digest; nothing was imported (run sneakernet verify)".into(),
            })
            .collect();
        return Ok(report);
    }
    let duplicates = duplicate_names(&manifest);
    progress.start(manifest.files.iter().fold(0u64, |acc, f| acc.saturating_add(f.size)));
    for mf in &manifest.files {
        let line = Line { root, manifest: &manifest, mf, duplicates: &duplicates, callbacks };
        import_one(site, &line, store, dry_run, progress, &mut report)?;
    }
    progress.finish();
    Ok(report)
}

fn import_one(
    site: &Site,
    line: &Line<'_>,
    store: Option<&str>,
    dry_run: bool,
    progress: &dyn Progress,
    report: &mut ImportReport,
) -> Result<()> {
    let Line { root, manifest, mf, duplicates, callbacks } = *line;
    let refuse = |report: &mut ImportReport, kind, detail: String| {
        report.refused.push(DriveProblem { name: mf.name.clone(), entry: None, kind, detail });
    };
    // A line that breaks the rules (a name with `..` or a leading `/`, a name
    // twice, entries that do not add up) is refused before anything is looked at.
    let (name, checksum, kind) = match parse_line(mf, duplicates) {
        Ok(v) => v,
        Err(p) => {
            report.refused.push(p);
            return Ok(());
        }
    };
    let record = |report: &mut ImportReport, held_on: &str| -> Result<()> {
        if !callbacks || dry_run || mf.transfer_id.is_none() {
            return Ok(());
        }
        let item = ImportItem {
            remote_id: mf.transfer_id,
            name: &name,
            size: mf.size,
            checksum: &checksum,
            kind,
            uploader: &mf.uploader,
            source: &mf.source,
            created_at: mf.created_at,
            store: held_on,
        };
        if site.catalog().record_import(&manifest.site, &item, Timestamp::now())? {
            report.callbacks_queued += 1;
        }
        Ok(())
    };
    if let Some(id) = mf.transfer_id
        && callbacks
        && site.catalog().incoming_by_remote(&manifest.site, id)?.is_some()
    {
        report.already_imported.push(mf.name.clone());
        return Ok(());
    }
    if let Some(existing) = site.catalog().file(&name)? {
        let same = existing.checksum.matches(&checksum)?;
        if same && let Some(held) = crate::transfers::receive::store_holding(site, existing.id)? {
            report.already_present.push(mf.name.clone());
            return record(report, &held);
        }
    }
    if let Some(existing) = site.catalog().file(&name)?.filter(|e| !e.checksum.matches(&checksum).unwrap_or(false)) {
        let detail = format!("this site holds {name} with checksum {}, the drive has {checksum}", existing.checksum);
        if !dry_run {
            site.raise_event(&NewEvent {
                severity: Severity::Error,
                category: Category::Conflict,
                subject: name.to_string(),
                message: format!("drive from {}: {detail}; nothing was overwritten", manifest.site),
            })?;
        }
        refuse(report, ProblemKind::Altered, format!("conflict: {detail}"));
        return Ok(());
    }
    // What the manifest says must hold before any byte is read: a regular file or a
    // directory beneath the drive, reached without following a link at any
    // component (no link out of the drive, no FIFO, no device), of the size it gives.
    let found = match locate(root, &name, kind) {
        Ok(f) => f,
        Err(p) => {
            report.refused.push(p);
            return Ok(());
        }
    };
    if let Some(p) = shape_problem(&found, mf) {
        report.refused.push(p);
        return Ok(());
    }
    if dry_run {
        let problems = check_file(root, mf, duplicates, progress);
        if problems.is_empty() {
            report.imported.push(mf.name.clone());
        } else {
            report.refused.extend(problems);
        }
        return Ok(());
    }
    let opts = UploadOptions {
        store: store.map(str::to_owned),
        expect_checksum: Some(checksum.clone()),
        uploader: Some(mf.uploader.clone()),
        source: Some(mf.source.clone()),
        // The time it was created at its origin (never later than now: clamped).
        created_at: mf.created_at,
        ..Default::default()
    };
    // The data is handed over through its open directory (`/proc/self/fd/N`), not
    // by its name on the drive.
    match crate::ingest::upload(site, &found.path(root), &name, &opts, progress) {
        Ok(up) => {
            crate::fault::point("import.after-ingest");
            let held = up.file.instances.first().map(|i| i.store.clone()).unwrap_or_default();
            match up.status {
                UploadStatus::Ingested => report.imported.push(mf.name.clone()),
                _ => report.already_present.push(mf.name.clone()),
            }
            record(report, &held)
        }
        Err(
            e @ (Error::ChecksumMismatch { .. }
            | Error::UnsupportedEntry { .. }
            | Error::NotFound { kind: ObjectKind::Path, .. }
            | Error::InvalidName { .. }),
        ) => {
            // Say exactly what is wrong (which entry of a book), re-reading it.
            let problems = check_file(root, mf, duplicates, &NoProgress);
            if problems.is_empty() {
                refuse(report, ProblemKind::Altered, e.to_string());
            } else {
                report.refused.extend(problems);
            }
            Ok(())
        }
        Err(e @ Error::Conflict { .. }) => {
            refuse(report, ProblemKind::Altered, e.to_string());
            Ok(())
        }
        Err(e) => Err(e),
    }
}
