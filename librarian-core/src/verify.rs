//! Re-read instances from disk and compare with the catalog.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::catalog::{FileKind, FileRow, InstanceRow, StoreRow};
use crate::checksum::{Checksum, EntryKind, directory_digest};
use crate::error::{Error, ObjectKind, Result};
use crate::model::{Category, InstanceState, NewEvent, Severity, StoreId};
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
    let mut catalog = check_catalog(lib, names.is_empty());
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

/// Answer a peer's `files/verify`: re-read every copy here of each named file (the
/// damaged ones too: one may have been repaired), record what was found as any
/// verify does, and answer per file and copy. A name this site does not catalogue
/// (or that is not a valid name) is answered `present: false`.
pub(crate) fn answer_peer_verify(site: &Site, req: &crate::model::VerifyRequest) -> Result<crate::model::VerifyAnswer> {
    use crate::model::{CopyCheck, FileVerification, MAX_VERIFY_NAMES, VerifyAnswer};
    if req.names.len() > MAX_VERIFY_NAMES {
        return Err(Error::invalid(
            "names",
            format!("files/verify takes at most {MAX_VERIFY_NAMES} names, not {}", req.names.len()),
        ));
    }
    let catalog = check_catalog(site, false);
    let mut checker = Checker::new(site, catalog.ok, true)?;
    let mut files = Vec::with_capacity(req.names.len());
    for asked in &req.names {
        let file = match FileName::new(asked) {
            Ok(n) => site.catalog().file(&n)?,
            Err(_) => None,
        };
        let mut answer = FileVerification {
            name: asked.clone(),
            present: file.is_some(),
            checksum: file.as_ref().map(|f| f.checksum.to_string()),
            size: file.as_ref().map(|f| f.size),
            copies: Vec::new(),
            verified_at: Timestamp::now(),
        };
        if let Some(f) = &file {
            for inst in site.catalog().instances(f.id)? {
                if !(inst.state == InstanceState::Ok || inst.state.is_damaged()) {
                    continue;
                }
                // A store that is not there, or a checksum this build cannot
                // recompute, says nothing about an intact copy: it is not reported.
                let unknowable = checker.offline(inst.store_id).is_some() || f.checksum.algorithm().hasher().is_err();
                if unknowable && inst.state == InstanceState::Ok {
                    continue;
                }
                let check = checker.check(f, &inst, &crate::progress::NoProgress)?;
                answer.copies.push(CopyCheck { store: inst.store.clone(), status: check.status, state: check.state });
            }
        }
        answer.verified_at = Timestamp::now();
        files.push(answer);
    }
    Ok(VerifyAnswer { site: site.config().name.clone(), files })
}

/// The catalog file's own check: all of it (`whole`), or only when it changed since
/// it last passed. A failure raises a `catalog_corrupt` event while the catalog can
/// still be written.
pub(crate) fn check_catalog(lib: &Site, whole: bool) -> crate::model::CatalogCheck {
    let cat = lib.catalog();
    let mut catalog = if whole { cat.check_integrity() } else { cat.check_integrity_if_changed() };
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
    catalog
}

/// List the instances to check and check them into `checked`. Nothing is written to
/// a catalog that failed its own check (`catalog_ok` false): no `verified_at`, no
/// state. Copies deleted or retired on purpose are not checked (their bytes are
/// meant to be gone).
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
    work.retain(|(_, i)| matches!(i.state, InstanceState::Ok) || i.state.is_damaged());
    let mut checker = Checker::new(lib, catalog_ok, false)?;
    progress.start(work.iter().map(|(f, _)| f.size).sum());
    checked.reserve(work.len());
    for (file, inst) in work {
        checked.push(checker.check(&file, &inst, progress)?);
    }
    progress.finish();
    Ok(())
}

/// Checks instances and records what it finds: `verified_at` for an intact copy, the
/// `corrupt` or `missing` state (and its event) for a damaged one, `ok` again (the
/// events cleared) for a damaged copy found intact. Copies of a store whose root is
/// not there (an unmounted disk) are reported and left as they were.
pub(crate) struct Checker<'a> {
    site: &'a Site,
    record: bool,
    from_device: bool,
    offline: BTreeMap<StoreId, String>,
    stores: Vec<StoreRow>,
}

impl<'a> Checker<'a> {
    /// `record` false: check only, write nothing. `from_device`: read each copy
    /// from the disk, not the page cache (the scrub).
    pub(crate) fn new(site: &'a Site, record: bool, from_device: bool) -> Result<Self> {
        Ok(Checker { site, record, from_device, offline: BTreeMap::new(), stores: site.catalog().stores()? })
    }

    /// Why the copies of `store` cannot be checked now (its root is not there), if so.
    pub(crate) fn offline(&mut self, store: StoreId) -> Option<String> {
        self.store_offline(store)
    }

    fn store_offline(&mut self, store: StoreId) -> Option<String> {
        if let Some(why) = self.offline.get(&store) {
            return (!why.is_empty()).then(|| why.clone());
        }
        let why = match self.stores.iter().find(|s| s.id == store) {
            Some(s) if !s.root.is_dir() => {
                format!(
                    "store {}: its root {} is not there (is the disk mounted?); nothing was marked",
                    s.name,
                    s.root.display()
                )
            }
            _ => String::new(),
        };
        self.offline.insert(store, why.clone());
        (!why.is_empty()).then_some(why)
    }

    /// Check one instance and record the outcome.
    pub(crate) fn check(
        &mut self,
        file: &FileRow,
        inst: &InstanceRow,
        progress: &dyn Progress,
    ) -> Result<InstanceCheck> {
        if let Some(why) = self.store_offline(inst.store_id) {
            return Ok(InstanceCheck {
                name: file.name.clone(),
                store: inst.store.clone(),
                instance: inst.id,
                path: inst.path.clone(),
                status: CheckStatus::Unreadable,
                expected: file.checksum.clone(),
                actual: None,
                problems: Vec::new(),
                error: Some(why),
                state: inst.state,
            });
        }
        let mut check = check_instance(file, inst, self.site, progress, self.from_device)?;
        if self.record {
            check.state = record_outcome(self.site, file, inst, &check)?;
        }
        Ok(check)
    }
}

/// The subject of a copy's events: `store/name`.
pub(crate) fn copy_subject(store: &str, name: &FileName) -> String {
    format!("{store}/{name}")
}

/// Record what a check found; returns the copy's state now.
fn record_outcome(site: &Site, file: &FileRow, inst: &InstanceRow, check: &InstanceCheck) -> Result<InstanceState> {
    let cat = site.catalog();
    let now = Timestamp::now();
    let subject = copy_subject(&inst.store, &file.name);
    let found = match check.status {
        CheckStatus::Ok => InstanceState::Ok,
        CheckStatus::Mismatch => InstanceState::Corrupt,
        CheckStatus::Missing => InstanceState::Missing,
        // A checksum this build cannot recompute says nothing about the copy.
        CheckStatus::Unreadable if file.checksum.algorithm().hasher().is_err() => return Ok(inst.state),
        CheckStatus::Unreadable => InstanceState::Missing,
    };
    match found {
        InstanceState::Ok => {
            if inst.state == InstanceState::Ok {
                cat.mark_verified(inst.id, now)?;
            } else {
                cat.set_instance_state(inst.id, InstanceState::Ok, None, now)?;
                cat.resolve_event(Category::InstanceCorrupt, &subject, now)?;
                cat.resolve_event(Category::InstanceMissing, &subject, now)?;
            }
        }
        state => mark_damaged(site, file, inst, state, &damage_reason(check))?,
    }
    Ok(found)
}

/// Mark `inst` (a copy of `file`) `state` (corrupt or missing) for `reason`, with its
/// event (the other damage event of the copy is cleared): found by a verify, a
/// scrub, a `get` or a repair that read it.
pub(crate) fn mark_damaged(
    site: &Site,
    file: &FileRow,
    inst: &InstanceRow,
    state: InstanceState,
    reason: &str,
) -> Result<()> {
    let cat = site.catalog();
    let now = Timestamp::now();
    let subject = copy_subject(&inst.store, &file.name);
    cat.set_instance_state(inst.id, state, Some(reason), now)?;
    let (category, other) = if state == InstanceState::Corrupt {
        (Category::InstanceCorrupt, Category::InstanceMissing)
    } else {
        (Category::InstanceMissing, Category::InstanceCorrupt)
    };
    cat.resolve_event(other, &subject, now)?;
    site.raise_event(&NewEvent {
        severity: Severity::Error,
        category,
        subject,
        message: format!(
            "{} on store {} is {state}: {reason}; it is no longer used (`librarian repair {}`)",
            file.name, inst.store, file.name
        ),
    })?;
    Ok(())
}

/// One line saying what is wrong with a damaged copy.
fn damage_reason(check: &InstanceCheck) -> String {
    if let Some(e) = &check.error {
        return e.clone();
    }
    if !check.problems.is_empty() {
        let list: Vec<String> =
            check.problems.iter().take(5).map(|p| format!("{} {}", p.entry, p.problem.as_str())).collect();
        let more = check.problems.len().saturating_sub(5);
        return if more > 0 { format!("{} and {more} more", list.join(", ")) } else { list.join(", ") };
    }
    match (check.status, &check.actual) {
        (CheckStatus::Missing, _) => format!("{} is not there", check.path.display()),
        (_, Some(actual)) => format!("its bytes hash to {actual}, not {}", check.expected),
        _ => "it does not match the catalog".to_owned(),
    }
}

fn check_instance(
    file: &FileRow,
    inst: &InstanceRow,
    lib: &Site,
    progress: &dyn Progress,
    from_device: bool,
) -> Result<InstanceCheck> {
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
        state: inst.state,
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
        FileKind::File => {
            // A BLAKE3 digest recorded beside a legacy checksum (an import from the
            // original Librarian, re-hashed) is what is checked from then on.
            let (algorithm, expected) = match lib.catalog().recorded_blake3(file.id)? {
                Some(b3) => (b3.algorithm(), b3),
                None => (algorithm, file.checksum.clone()),
            };
            check.expected = expected.clone();
            match tree::hash_file_checked(&inst.path, algorithm, progress, &mut tree::scratch(), from_device) {
                Ok((sum, _)) => {
                    if !sum.matches(&expected)? {
                        check.status = CheckStatus::Mismatch;
                    }
                    check.actual = Some(sum);
                }
                Err(e) => {
                    check.status = CheckStatus::Unreadable;
                    check.error = Some(e.to_string());
                }
            }
        }
        FileKind::Directory => {
            let recorded = lib.catalog().entries(file.id)?;
            check_book(&mut check, &recorded, algorithm, progress, from_device)?;
        }
    }
    Ok(check)
}

fn check_book(
    check: &mut InstanceCheck,
    recorded: &[crate::checksum::Entry],
    algorithm: crate::checksum::Algorithm,
    progress: &dyn Progress,
    from_device: bool,
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
            match tree::hash_file_checked(&check.path.join(&e.path), algorithm, progress, &mut buf, from_device) {
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
