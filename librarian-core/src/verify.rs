//! Re-read instances from disk and compare with the catalog.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::catalog::{FileKind, FileRow, InstanceRow};
use crate::checksum::{Checksum, EntryKind, directory_digest};
use crate::error::{Error, ObjectKind, Result};
use crate::model::{Category, NewEvent, Severity};
use crate::model::{CheckStatus, EntryProblem, EntryProblemKind, InstanceCheck, VerifyReport};
use crate::name::FileName;
use crate::progress::Progress;
use crate::site::Site;
use crate::tree;

/// Which instances to check: the named files (optionally only on one store), or
/// every instance (of one store, or of all).
pub(crate) fn verify(
    lib: &Site,
    names: &[FileName],
    store: Option<&str>,
    progress: &dyn Progress,
) -> Result<VerifyReport> {
    let cat = lib.catalog();
    // The catalog file itself first: a whole verify always reads all of it; a verify
    // of some names only when the file changed since it last passed.
    let mut catalog = if names.is_empty() { cat.check_integrity() } else { cat.check_integrity_if_changed() };
    if !catalog.ok {
        let event = NewEvent {
            severity: Severity::Error,
            category: Category::CatalogCorrupt,
            subject: cat.path().display().to_string(),
            message: format!(
                "the catalog failed its integrity check (PRAGMA quick_check): {}",
                catalog.problems.join("; ")
            ),
        };
        // Only while the catalog can still be written; the report says so either way.
        match lib.raise_event(&event) {
            Ok(e) => catalog.event = Some(e.id),
            Err(e) => catalog.problems.push(format!("the catalog_corrupt event could not be recorded: {e}")),
        }
    }
    let mut checked = Vec::new();
    match check_all(lib, names, store, catalog.ok, progress, &mut checked) {
        Ok(()) => {}
        // A damaged catalog may fail the very listing of what to check: the report
        // still says so (with what could be checked), rather than only an error.
        Err(e @ (Error::Database { .. } | Error::Corrupt { .. })) if !catalog.ok => {
            catalog.problems.push(format!("verify stopped: {e}"));
        }
        Err(e) => return Err(e),
    }
    Ok(VerifyReport { ok: catalog.ok && checked.iter().all(|c| c.status == CheckStatus::Ok), checked, catalog })
}

/// List the instances to check and check them into `checked`. Nothing is written to
/// a catalog that failed its own check (`catalog_ok` false): no `verified_at`.
fn check_all(
    lib: &Site,
    names: &[FileName],
    store: Option<&str>,
    catalog_ok: bool,
    progress: &dyn Progress,
    checked: &mut Vec<InstanceCheck>,
) -> Result<()> {
    let cat = lib.catalog();
    let store_row = store.map(|s| cat.store(s)).transpose()?;
    let mut work: Vec<(FileRow, InstanceRow)> = Vec::new();
    if names.is_empty() {
        let stores = match &store_row {
            Some(s) => vec![s.clone()],
            None => cat.stores()?,
        };
        for s in stores {
            work.extend(cat.instances_on_store(s.id)?);
        }
    } else {
        for name in names {
            let file = cat.require_file(name)?;
            let mut instances = cat.instances(file.id)?;
            if let Some(s) = &store_row {
                instances.retain(|i| i.store_id == s.id);
                if instances.is_empty() {
                    return Err(Error::NotFound {
                        kind: ObjectKind::Instance,
                        name: format!("{name} on store {}", s.name),
                    });
                }
            }
            work.extend(instances.into_iter().map(|i| (file.clone(), i)));
        }
    }
    progress.start(work.iter().map(|(f, _)| f.size).sum());
    checked.reserve(work.len());
    for (file, inst) in work {
        let check = check_instance(&file, &inst, lib, progress)?;
        if check.status == CheckStatus::Ok && catalog_ok {
            cat.mark_verified(inst.id, Timestamp::now())?;
        }
        checked.push(check);
    }
    progress.finish();
    Ok(())
}

fn check_instance(file: &FileRow, inst: &InstanceRow, lib: &Site, progress: &dyn Progress) -> Result<InstanceCheck> {
    let mut check = InstanceCheck {
        name: file.name.clone(),
        store: inst.store.clone(),
        instance: inst.id,
        path: inst.path.clone(),
        status: CheckStatus::Ok,
        expected: file.checksum.clone(),
        actual: None,
        problems: Vec::new(),
        error: None,
    };
    let algorithm = file.checksum.algorithm();
    if algorithm.hasher().is_err() {
        check.status = CheckStatus::Unreadable;
        check.error = Some(format!("{algorithm} checksums cannot be recomputed"));
        return Ok(check);
    }
    match std::fs::symlink_metadata(&inst.path) {
        Err(_) => {
            check.status = CheckStatus::Missing;
            return Ok(check);
        }
        Ok(m) if m.file_type().is_symlink() => {
            // Never followed: what it points to is not the copy we hold (invariant 3).
            check.status = CheckStatus::Unreadable;
            check.error = Some(format!("{} is a symbolic link, not the stored copy", inst.path.display()));
            return Ok(check);
        }
        Ok(_) => {}
    }
    match file.kind {
        FileKind::File => match tree::hash_file(&inst.path, algorithm, progress, &mut tree::scratch()) {
            Ok((sum, _)) => {
                if !sum.matches(&file.checksum)? {
                    check.status = CheckStatus::Mismatch;
                }
                check.actual = Some(sum);
            }
            Err(e) => {
                check.status = CheckStatus::Unreadable;
                check.error = Some(e.to_string());
            }
        },
        FileKind::Directory => {
            let recorded = lib.catalog().entries(file.id)?;
            check_book(&mut check, &recorded, algorithm, progress)?;
        }
    }
    Ok(check)
}

fn check_book(
    check: &mut InstanceCheck,
    recorded: &[crate::checksum::Entry],
    algorithm: crate::checksum::Algorithm,
    progress: &dyn Progress,
) -> Result<()> {
    let mut on_disk = match tree::walk(&check.path) {
        Ok(e) => e,
        Err(e) => {
            check.status = CheckStatus::Unreadable;
            check.error = Some(e.to_string());
            if let Error::UnsupportedEntry { path, .. } = e {
                check.problems.push(EntryProblem { entry: path, problem: EntryProblemKind::Unreadable });
            }
            return Ok(());
        }
    };
    let want: BTreeMap<&str, &crate::checksum::Entry> = recorded.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut buf = tree::scratch();
    let mut seen = std::collections::BTreeSet::new();
    for e in on_disk.iter_mut() {
        seen.insert(e.path.clone());
        let Some(w) = want.get(e.path.as_str()) else {
            check.problems.push(EntryProblem { entry: e.path.clone(), problem: EntryProblemKind::Unexpected });
            continue;
        };
        if w.kind != e.kind {
            check.problems.push(EntryProblem { entry: e.path.clone(), problem: EntryProblemKind::Mismatch });
            continue;
        }
        if e.kind == EntryKind::File {
            match tree::hash_file(&check.path.join(&e.path), algorithm, progress, &mut buf) {
                Ok((sum, n)) => {
                    e.digest = Some(sum.hex().to_owned());
                    e.size = n;
                    if w.digest.as_deref() != Some(sum.hex()) {
                        check
                            .problems
                            .push(EntryProblem { entry: e.path.clone(), problem: EntryProblemKind::Mismatch });
                    }
                }
                Err(_) => {
                    check.problems.push(EntryProblem { entry: e.path.clone(), problem: EntryProblemKind::Unreadable })
                }
            }
        }
    }
    for w in recorded {
        if !seen.contains(&w.path) {
            check.problems.push(EntryProblem { entry: w.path.clone(), problem: EntryProblemKind::Missing });
        }
    }
    check.problems.sort_by(|a, b| a.entry.cmp(&b.entry));
    let actual: Option<Checksum> = if on_disk.iter().all(|e| e.kind == EntryKind::Directory || e.digest.is_some()) {
        directory_digest(algorithm, &on_disk).ok()
    } else {
        None
    };
    let digest_ok = match &actual {
        Some(a) => a.matches(&check.expected)?,
        None => false,
    };
    check.actual = actual;
    if !check.problems.is_empty() || !digest_ok {
        let only_missing_or_unreadable = !check.problems.is_empty()
            && check
                .problems
                .iter()
                .all(|p| matches!(p.problem, EntryProblemKind::Missing | EntryProblemKind::Unreadable));
        check.status = if only_missing_or_unreadable { CheckStatus::Missing } else { CheckStatus::Mismatch };
    }
    Ok(())
}
