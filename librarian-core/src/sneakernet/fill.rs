//! The local clone (SneakerNet, design §5): fill a store, usually a mounted drive,
//! with verified copies of the files of another store of this site, until the drive
//! reaches its reserve; then raise a `store_full` event.
//!
//! Each copy follows the ingest protocol minus the name claim (the file is already
//! catalogued): copy into a fresh, locked staging directory of the target store while
//! hashing with the file's algorithm, flush, compare with the catalogued checksum,
//! rename into the data area (`RENAME_NOREPLACE`), then insert the instance. A process
//! killed between the rename and the insert leaves data at the file's path on the
//! target with no instance: the next run re-hashes it and records it if intact, or
//! moves it out of the data area and copies again. Nothing else on the target is
//! ever replaced or removed.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use crate::catalog::{DeletionPolicy, FileKind, FileRow, LocalCloneItem, StoreRow};
use crate::checksum::Checksum;
use crate::error::{Error, Result};
use crate::model::{Category, NewEvent, Severity};
use crate::progress::{NoProgress, Progress};
use crate::site::Site;
use crate::store::posix::sync_filesystem;
use crate::store::{PosixStore, Store};
use crate::tree;

/// What [`Librarian::clone_local`] did (or, for a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocalCloneReport {
    /// Files copied (and verified) onto the target store.
    pub copied: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files of the source store the target already held: with an instance before this
    /// run, or found intact on the target after an interrupted run (then recorded
    /// without a copy).
    pub already_there: u64,
    /// Files that did not fit above the target's reserve (they wait for the next drive).
    pub left_for_next_drive: u64,
    /// Files that could not be copied, with why (e.g. the source copy is corrupt).
    pub failed: Vec<(String, String)>,
    /// The target reached its reserve (or ran out of space) before every file fitted.
    pub full: bool,
    /// Dry run: the names that would be copied, in order.
    pub planned: Vec<String>,
}

impl std::fmt::Display for LocalCloneReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "copied {} files ({} bytes), {} already there", self.copied, self.bytes, self.already_there)?;
        if self.full {
            write!(f, "; store full, {} files wait for the next drive", self.left_for_next_drive)?;
        }
        if !self.failed.is_empty() {
            write!(f, "; {} failed", self.failed.len())?;
        }
        Ok(())
    }
}

/// How one file's turn went.
enum Step {
    Copied,
    Adopted,
    /// The target has no room for it.
    Full,
    Failed(String),
}

/// Is `e` the target filesystem running out of bytes, inodes or quota?
fn is_no_space(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)))
}

/// Is `e` a failure of the target store (not of the source copy)?
fn on_target(e: &Error, target: &StoreRow) -> bool {
    matches!(e, Error::Io { path, .. } if path.starts_with(&target.root) || path.starts_with(&target.staging))
}

/// Hash the copy at `path` in place with the file's algorithm; `None` if it is not a
/// readable copy of the right kind (a symlink, a file where a book belongs, ...).
fn hash_in_place(file: &FileRow, path: &Path, progress: &dyn Progress) -> Option<Checksum> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let algorithm = file.checksum.algorithm();
    match file.kind {
        FileKind::File if meta.is_file() => {
            tree::hash_file(path, algorithm, progress, &mut tree::scratch()).ok().map(|(c, _)| c)
        }
        FileKind::Directory if meta.is_dir() => {
            let mut entries = tree::walk(path).ok()?;
            tree::hash_book(path, &mut entries, algorithm, progress).ok()
        }
        _ => None,
    }
}

/// Copy the files that have an available instance on store `from` and no instance
/// on store `to` onto `to`, oldest first, each verified against its catalogued
/// checksum, until `to` would keep less than its reserve free: then stop (order is
/// kept; smaller files are not squeezed in), set `full` and raise a `store_full`
/// event. `to` must be enabled (it need not be ingestable). A copy whose bytes do
/// not match the catalog (a corrupt source) is not committed and is listed in
/// `failed`; the others go on. With `dry_run`, nothing changes and `planned` lists
/// what would be copied (as far as the free space now allows).
pub(crate) fn clone_local(
    site: &Site,
    from: &str,
    to: &str,
    dry_run: bool,
    progress: &dyn Progress,
) -> Result<LocalCloneReport> {
    clone_local_skipping(site, from, to, &[], dry_run, progress)
}

/// [`Librarian::clone_local`], leaving out too the files that have an instance on
/// any store of `not_on` (the other drives of the same set: one copy among them is
/// enough). Stores of `not_on` that do not exist are ignored.
pub(crate) fn clone_local_skipping(
    site: &Site,
    from: &str,
    to: &str,
    not_on: &[String],
    dry_run: bool,
    progress: &dyn Progress,
) -> Result<LocalCloneReport> {
    clone_local_inner(site, from, to, not_on, dry_run, progress, &|s| s.free_bytes())
}

/// The local clone, with the target's free space measured by `free_bytes` (the
/// filesystem's, except in tests).
fn clone_local_inner(
    site: &Site,
    from: &str,
    to: &str,
    not_on: &[String],
    dry_run: bool,
    progress: &dyn Progress,
    free_bytes: &dyn Fn(&PosixStore) -> Result<u64>,
) -> Result<LocalCloneReport> {
    let cat = site.catalog();
    if from == to {
        return Err(Error::invalid("to", format!("cannot clone store {from} onto itself")));
    }
    let source = cat.store(from)?;
    let target = cat.store(to)?;
    for s in [&source, &target] {
        if !s.enabled {
            return Err(Error::invalid(
                "to",
                format!("store {} is disabled (librarian store enable {} first)", s.name, s.name),
            ));
        }
    }
    let mut excluded = vec![target.id];
    for name in not_on.iter().filter(|n| *n != to && *n != from) {
        match cat.store(name) {
            Ok(s) => excluded.push(s.id),
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let items = cat.plan_local_clone(source.id, &excluded)?;
    let mut report =
        LocalCloneReport { already_there: cat.count_local_copies(source.id, target.id)?, ..Default::default() };
    let store = PosixStore::new(&target.name, &target.root, &target.staging);
    let usable = || -> Result<u64> { Ok(free_bytes(&store)?.saturating_sub(target.reserve_bytes)) };

    if !dry_run {
        // Staging directories of killed runs hold space the drive needs: remove them
        // (only unlocked ones that no ingest intent or incoming transfer owns).
        let mut owned: Vec<std::path::PathBuf> = cat.intents()?.into_iter().map(|i| i.staging_dir).collect();
        owned.extend(cat.active_incoming_dirs()?);
        for dir in store.clean_staging(&|p| owned.iter().any(|o| o == p))? {
            log::info!("removed the staging directory {} of an interrupted run", dir.display());
        }
    }

    // What fits now: the dry run's plan, and the progress bar's total.
    let mut room = usable()?;
    let fitting = items
        .iter()
        .take_while(|it| {
            let fits = it.file.size <= room;
            room = room.saturating_sub(it.file.size);
            fits
        })
        .count();
    if dry_run {
        report.planned = items[..fitting].iter().map(|it| it.file.name.to_string()).collect();
        report.left_for_next_drive = (items.len() - fitting) as u64;
        report.full = fitting < items.len();
        return Ok(report);
    }

    progress.start(items[..fitting].iter().map(|it| it.file.size).sum());
    let mut result = Ok(());
    for (k, item) in items.iter().enumerate() {
        match clone_one(site, item, &target, &store, &usable, progress) {
            Ok(Step::Copied) => {
                report.copied += 1;
                report.bytes += item.file.size;
            }
            Ok(Step::Adopted) => report.already_there += 1,
            Ok(Step::Failed(why)) => {
                log::warn!("not copying {} to store {to}: {why}", item.file.name);
                report.failed.push((item.file.name.to_string(), why));
            }
            Ok(Step::Full) => {
                report.full = true;
                report.left_for_next_drive = (items.len() - k) as u64;
                break;
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    progress.finish();
    result?;
    if report.full {
        let left_bytes: u64 =
            items[items.len() - report.left_for_next_drive as usize..].iter().map(|it| it.file.size).sum();
        let message = format!(
            "store {to} is full (reserve {} bytes): copied {} files ({} bytes) from {from} in this run; \
             {} files ({left_bytes} bytes) wait for the next drive",
            target.reserve_bytes, report.copied, report.bytes, report.left_for_next_drive
        );
        log::warn!("{message}");
        site.raise_event(&NewEvent {
            severity: Severity::Warning,
            category: Category::StoreFull,
            subject: to.to_owned(),
            message,
        })?;
    }
    Ok(report)
}

/// Copy one file onto the target (or record the intact copy an interrupted run
/// left there). `Err` only for failures of the target or the catalog, which end
/// the run.
fn clone_one(
    site: &Site,
    item: &LocalCloneItem,
    target: &StoreRow,
    store: &PosixStore,
    usable: &dyn Fn() -> Result<u64>,
    progress: &dyn Progress,
) -> Result<Step> {
    let file = &item.file;
    if file.checksum.algorithm().hasher().is_err() {
        return Ok(Step::Failed(format!("{} checksums cannot be recomputed", file.checksum.algorithm())));
    }
    let dest = store.data_path(&file.name);
    if std::fs::symlink_metadata(&dest).is_ok() && adopt_or_move_out(site, file, target, store, progress)? {
        return Ok(Step::Adopted);
    }
    if std::fs::symlink_metadata(&item.source).is_ok_and(|m| m.file_type().is_symlink()) {
        // Never followed: what it points to is not the copy the catalog holds.
        return Ok(Step::Failed(format!("the source copy {} is a symbolic link", item.source.display())));
    }
    if file.size > usable()? {
        return Ok(Step::Full);
    }
    let staging = match store.new_staging() {
        Ok(s) => s,
        Err(e) if is_no_space(&e) => return Ok(Step::Full),
        Err(e) => return Err(e),
    };
    let payload = staging.payload();
    let algorithm = file.checksum.algorithm();
    let copied = match file.kind {
        FileKind::File => {
            tree::copy_file(&item.source, &payload, algorithm, true, progress, &mut tree::scratch()).map(|(c, _)| c)
        }
        FileKind::Directory => tree::walk(&item.source).and_then(|mut entries| {
            let c = tree::copy_book(&item.source, &payload, &mut entries, algorithm, progress)?;
            sync_filesystem(staging.dir())?;
            Ok(c)
        }),
    };
    crate::fault::point("local-clone.after-copy");
    let sum = match copied {
        Ok(sum) => sum,
        Err(e) if is_no_space(&e) => return Ok(Step::Full),
        Err(e) if on_target(&e, target) => return Err(e),
        Err(e) => return Ok(Step::Failed(e.to_string())),
    };
    if !sum.matches(&file.checksum)? {
        return Ok(Step::Failed(format!(
            "the copy on store {} does not match the catalog (expected {}, got {sum}): the source copy {} is corrupt",
            target.name,
            file.checksum,
            item.source.display()
        )));
    }
    match store.commit(&payload, &file.name) {
        Ok(()) => {}
        Err(Error::AlreadyExists { .. }) => {
            // Another run committed it meanwhile: take its copy if intact.
            drop(staging);
            return Ok(if adopt_or_move_out(site, file, target, store, &NoProgress)? {
                Step::Adopted
            } else {
                Step::Failed(format!("{} appeared on store {} during the copy", file.name, target.name))
            });
        }
        Err(e) if is_no_space(&e) => return Ok(Step::Full),
        Err(e) if on_target(&e, target) => return Ok(Step::Failed(e.to_string())),
        Err(e) => return Err(e),
    }
    site.catalog().insert_instance_for(
        file.id,
        target.id,
        Path::new(file.name.as_str()),
        DeletionPolicy::Disallowed,
        Timestamp::now(),
    )?;
    drop(staging);
    Ok(Step::Copied)
}

/// Data sits at the file's path on the target but the catalog has no instance
/// there: left by a run killed between its rename and its insert. If it is an
/// intact copy, record it (true); otherwise move it out of the data area, through a
/// staging directory that is then removed, so the file can be copied again (false).
fn adopt_or_move_out(
    site: &Site,
    file: &FileRow,
    target: &StoreRow,
    store: &PosixStore,
    progress: &dyn Progress,
) -> Result<bool> {
    let dest = store.data_path(&file.name);
    let rel = Path::new(file.name.as_str());
    if let Some(sum) = hash_in_place(file, &dest, progress)
        && sum.matches(&file.checksum)?
    {
        log::info!("{} was already on store {} (an interrupted copy): recording it", file.name, target.name);
        site.catalog().insert_instance_for(file.id, target.id, rel, DeletionPolicy::Disallowed, Timestamp::now())?;
        return Ok(true);
    }
    if site.catalog().instance_at(target.id, file.name.as_str())? {
        return Err(Error::AlreadyExists {
            kind: crate::error::ObjectKind::Instance,
            name: dest.display().to_string(),
        });
    }
    log::warn!(
        "{} on store {} is not an intact copy of {} (an interrupted copy?): removing it to copy again",
        dest.display(),
        target.name,
        file.name
    );
    let trash = store.new_staging()?;
    crate::store::posix::set_read_only(&dest, false);
    crate::store::posix::durable_rename(&dest, &trash.payload())?;
    drop(trash);
    Ok(false)
}

/// The `clone-local` task: fill the `[clone.local]` stores in order.
/// The `clone-local` task: fill the `[clone.local]` drives in order. Returns what it
/// did, and why it could not finish when every drive is full with files left over.
pub(crate) fn clone_local_task(site: &Site) -> Result<(String, Option<String>)> {
    let Some(cfg) = &site.config().clone.local else {
        return Ok(("nothing to do: no [clone.local] in the configuration".into(), None));
    };
    let mut parts = Vec::new();
    let mut waiting = None;
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for to in &cfg.to {
        match site.catalog().store(to) {
            Ok(row) if !row.enabled => {
                parts.push(format!("{to} disabled, skipped"));
                continue;
            }
            Ok(_) => {}
            Err(Error::NotFound { .. }) => {
                parts.push(format!("{to}: no such store, skipped"));
                continue;
            }
            Err(e) => return Err(e),
        }
        let r = clone_local_skipping(site, &cfg.from, to, &cfg.to, false, &NoProgress)?;
        failed.extend(r.failed.iter().cloned());
        parts.push(format!("copied {} files ({} bytes) to {to}", r.copied, r.bytes));
        if r.full {
            parts.push(format!("{to} full, {} files wait for the next drive", r.left_for_next_drive));
            waiting = Some(r.left_for_next_drive);
            continue;
        }
        waiting = None;
        break;
    }
    if parts.is_empty() {
        parts.push("no store to fill".into());
    }
    if let Some((name, why)) = failed.iter().next() {
        parts.push(format!("{} failed (first: {name}: {why})", failed.len()));
    }
    let stalled =
        waiting.map(|n| format!("every [clone.local] drive is full and {n} files wait: mount the next drive"));
    Ok((parts.join("; "), stalled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Librarian;
    use crate::{FileName, StoreSpec, UploadOptions};

    fn site() -> (tempfile::TempDir, Librarian) {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = Librarian::init(&dir.path().join("s"), "site-a").expect("init");
        (dir, lib)
    }

    fn upload(lib: &Librarian, dir: &Path, name: &str, bytes: &[u8]) {
        let src = dir.join("src").join(name.replace('/', "_"));
        std::fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
        std::fs::write(&src, bytes).expect("write");
        let opts = UploadOptions { store: Some("main".into()), ..Default::default() };
        lib.upload(&src, &FileName::new(name).expect("name"), &opts, &NoProgress).expect("upload");
    }

    fn upload_book(lib: &Librarian, dir: &Path, name: &str) {
        let src = dir.join("src").join("book");
        std::fs::create_dir_all(src.join("sub")).expect("mkdir");
        std::fs::write(src.join("a.dat"), b"alpha").expect("write");
        std::fs::write(src.join("sub/b.dat"), b"beta").expect("write");
        let opts = UploadOptions { store: Some("main".into()), ..Default::default() };
        lib.upload(&src, &FileName::new(name).expect("name"), &opts, &NoProgress).expect("upload book");
    }

    fn add_drive(lib: &Librarian, dir: &Path, name: &str, reserve: u64) -> StoreRow {
        let spec = StoreSpec {
            name: name.into(),
            root: dir.join(name).join("data"),
            staging: Some(dir.join(name).join("staging")),
            ingestable: false,
            reserve_bytes: reserve,
        };
        lib.add_store(&spec).expect("add store");
        lib.catalog().store(name).expect("store row")
    }

    fn stores_of(lib: &Librarian, name: &str) -> Vec<String> {
        let mut v: Vec<String> = lib
            .instances(&FileName::new(name).expect("name"))
            .expect("instances")
            .into_iter()
            .map(|i| i.store)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn copies_missing_files_verified_then_nothing_more() {
        let (d, lib) = site();
        upload(&lib, d.path(), "2026/a.dat", b"first");
        upload_book(&lib, d.path(), "2026/book");
        upload(&lib, d.path(), "2026/c.dat", b"third file");
        let drive = add_drive(&lib, d.path(), "drive1", 0);

        let plan = lib.clone_local("main", "drive1", true, &NoProgress).expect("dry run");
        assert_eq!(plan.planned, ["2026/a.dat", "2026/book", "2026/c.dat"], "oldest first");
        assert_eq!((plan.copied, plan.full), (0, false));
        assert!(crate::tree::walk(&drive.root).expect("walk").is_empty(), "a dry run copies nothing");

        let r = lib.clone_local("main", "drive1", false, &NoProgress).expect("clone");
        assert_eq!((r.copied, r.bytes, r.already_there, r.full), (3, 5 + 9 + 10, 0, false), "{r:?}");
        assert!(r.failed.is_empty() && r.planned.is_empty());
        for n in ["2026/a.dat", "2026/book", "2026/c.dat"] {
            assert_eq!(stores_of(&lib, n), ["drive1", "main"], "{n}");
        }
        assert_eq!(std::fs::read(drive.root.join("2026/book/sub/b.dat")).expect("read"), b"beta");
        let v = lib.verify(&[], Some("drive1"), &NoProgress).expect("verify");
        assert!(v.ok && v.checked.len() == 3, "{v:?}");
        let inst = lib.instances(&FileName::new("2026/a.dat").expect("n")).expect("i");
        let on_drive = inst.iter().find(|i| i.store == "drive1").expect("drive instance");
        assert_eq!(on_drive.deletion_policy, DeletionPolicy::Disallowed);

        let again = lib.clone_local("main", "drive1", false, &NoProgress).expect("again");
        assert_eq!((again.copied, again.already_there), (0, 3), "{again:?}");
        assert!(crate::tree::walk(&drive.staging).expect("walk").is_empty(), "staging is clean");
    }

    #[test]
    fn refuses_unknown_disabled_or_same_stores() {
        let (d, lib) = site();
        assert!(matches!(lib.clone_local("main", "nope", false, &NoProgress), Err(Error::NotFound { .. })));
        assert!(matches!(lib.clone_local("nope", "main", false, &NoProgress), Err(Error::NotFound { .. })));
        assert!(matches!(lib.clone_local("main", "main", false, &NoProgress), Err(Error::InvalidArgument { .. })));
        add_drive(&lib, d.path(), "drive1", 0);
        lib.set_store_enabled("drive1", false).expect("disable");
        assert!(matches!(lib.clone_local("main", "drive1", false, &NoProgress), Err(Error::InvalidArgument { .. })));
    }

    #[test]
    fn stops_at_the_reserve_in_order_and_raises_store_full() {
        let (d, lib) = site();
        upload(&lib, d.path(), "a", &[1u8; 100]);
        upload(&lib, d.path(), "b", &[2u8; 5000]);
        upload(&lib, d.path(), "c", &[3u8; 10]);
        // A drive of 2,500 bytes with a reserve of 500: "a" fits, "b" does not, and
        // "c" (small) is not squeezed in after it.
        let drive = add_drive(&lib, d.path(), "drive1", 500);
        let root = drive.root.clone();
        let small_disk = move |_: &PosixStore| -> Result<u64> {
            let used: u64 = crate::tree::walk(&root)?.iter().map(|e| e.size).sum();
            Ok(2500u64.saturating_sub(used))
        };
        let dry =
            clone_local_inner(lib.site(), "main", "drive1", &[], true, &NoProgress, &small_disk).expect("dry run");
        assert_eq!((dry.planned.as_slice(), dry.left_for_next_drive, dry.full), (&["a".to_owned()][..], 2, true));
        assert!(lib.events(false).expect("events").is_empty(), "a dry run raises nothing");
        let r = clone_local_inner(lib.site(), "main", "drive1", &[], false, &NoProgress, &small_disk).expect("clone");
        assert_eq!((r.copied, r.bytes, r.full), (1, 100, true), "{r:?}");
        assert_eq!(r.left_for_next_drive, 2);
        assert_eq!(stores_of(&lib, "c"), ["main"], "order is kept");
        let ev = lib.events(false).expect("events");
        let full: Vec<_> = ev.iter().filter(|e| e.category == Category::StoreFull).collect();
        assert_eq!(full.len(), 1, "{ev:?}");
        assert_eq!(full[0].subject, "drive1");
        assert!(full[0].message.contains("2 files (5010 bytes)"), "{}", full[0].message);
        let again =
            clone_local_inner(lib.site(), "main", "drive1", &[], false, &NoProgress, &small_disk).expect("again");
        assert_eq!((again.copied, again.full, again.left_for_next_drive), (0, true, 2));
        let ev = lib.events(false).expect("events");
        assert_eq!(ev.iter().find(|e| e.category == Category::StoreFull).map(|e| e.count), Some(2), "counted");

        // A second drive, skipping what the first holds, gets the rest.
        add_drive(&lib, d.path(), "drive2", 0);
        let rest = lib.clone_local_skipping("main", "drive2", &["drive1".into()], false, &NoProgress).expect("rest");
        assert_eq!((rest.copied, rest.full), (2, false), "{rest:?}");
        assert_eq!(stores_of(&lib, "a"), ["drive1", "main"]);
        assert_eq!(stores_of(&lib, "b"), ["drive2", "main"]);
    }

    #[test]
    fn a_corrupt_source_is_not_copied_and_the_rest_is() {
        let (d, lib) = site();
        upload(&lib, d.path(), "good1", b"good one");
        upload(&lib, d.path(), "bad", b"will rot");
        upload(&lib, d.path(), "good2", b"good two");
        let main = lib.catalog().store("main").expect("main");
        std::fs::write(main.root.join("bad"), b"has rot!").expect("corrupt");
        let drive = add_drive(&lib, d.path(), "drive1", 0);
        let r = lib.clone_local("main", "drive1", false, &NoProgress).expect("clone");
        assert_eq!(r.copied, 2, "{r:?}");
        assert_eq!(r.failed.len(), 1);
        assert_eq!(r.failed[0].0, "bad");
        assert!(r.failed[0].1.contains("corrupt"), "{r:?}");
        assert!(!drive.root.join("bad").exists());
        assert!(crate::tree::walk(&drive.staging).expect("walk").is_empty());
        assert_eq!(stores_of(&lib, "bad"), ["main"]);
    }

    #[test]
    fn an_interrupted_copy_is_recorded_if_intact_and_replaced_if_not() {
        let (d, lib) = site();
        upload(&lib, d.path(), "x/intact", b"intact bytes");
        upload(&lib, d.path(), "x/torn", b"the whole file");
        upload_book(&lib, d.path(), "x/book");
        let drive = add_drive(&lib, d.path(), "drive1", 0);
        // As left by a run killed between its rename and its insert.
        std::fs::create_dir_all(drive.root.join("x")).expect("mkdir");
        std::fs::write(drive.root.join("x/intact"), b"intact bytes").expect("write");
        std::fs::write(drive.root.join("x/torn"), b"the whole").expect("write");
        std::fs::create_dir_all(drive.root.join("x/book/sub")).expect("mkdir");
        std::fs::write(drive.root.join("x/book/a.dat"), b"alpha").expect("write");
        std::fs::write(drive.root.join("x/book/sub/b.dat"), b"beta").expect("write");
        let r = lib.clone_local("main", "drive1", false, &NoProgress).expect("clone");
        assert_eq!((r.copied, r.already_there), (1, 2), "{r:?}");
        assert_eq!(std::fs::read(drive.root.join("x/torn")).expect("read"), b"the whole file");
        let v = lib.verify(&[], Some("drive1"), &NoProgress).expect("verify");
        assert!(v.ok && v.checked.len() == 3, "{v:?}");
        assert!(crate::tree::walk(&drive.staging).expect("walk").is_empty());
    }

    #[test]
    fn the_task_fills_drives_in_order() {
        let (d, lib) = site();
        let (msg, stalled) = clone_local_task(lib.site()).expect("task");
        assert!(msg.contains("no [clone.local]") && stalled.is_none(), "{msg}");
        upload(&lib, d.path(), "a", b"aaaa");
        upload(&lib, d.path(), "b", b"bbbb");
        add_drive(&lib, d.path(), "drive1", 0);
        add_drive(&lib, d.path(), "drive2", 0);
        let text = std::fs::read_to_string(lib.config_path()).expect("config");
        std::fs::write(
            lib.config_path(),
            format!("{text}\n[clone.local]\nfrom = \"main\"\nto = [\"drive1\", \"drive2\"]\n"),
        )
        .expect("write config");
        let lib = Librarian::open(lib.config_path()).expect("reopen");
        let (msg, stalled) = clone_local_task(lib.site()).expect("task");
        assert_eq!((msg.as_str(), stalled), ("copied 2 files (8 bytes) to drive1", None));
        lib.set_store_enabled("drive1", false).expect("disable");
        upload(&lib, d.path(), "c", b"cc");
        let (msg, stalled) = clone_local_task(lib.site()).expect("task");
        assert_eq!((msg.as_str(), stalled), ("drive1 disabled, skipped; copied 1 files (2 bytes) to drive2", None));
        assert_eq!(stores_of(&lib, "a"), ["drive1", "main"], "one copy among the drives is enough");
    }

    #[test]
    fn the_task_says_when_every_drive_is_full() {
        let (d, lib) = site();
        upload(&lib, d.path(), "a", b"aaaa");
        add_drive(&lib, d.path(), "drive1", u64::MAX / 4);
        let text = std::fs::read_to_string(lib.config_path()).expect("config");
        std::fs::write(lib.config_path(), format!("{text}\n[clone.local]\nfrom = \"main\"\nto = [\"drive1\"]\n"))
            .expect("write config");
        let lib = Librarian::open(lib.config_path()).expect("reopen");
        let (msg, stalled) = clone_local_task(lib.site()).expect("task");
        let stalled = stalled.unwrap_or_default();
        assert!(stalled.contains("full") && stalled.contains("1 files wait"), "{msg} / {stalled}");
    }

    #[test]
    fn config_is_validated() {
        let ok = crate::config::LocalClone { from: "main".into(), to: vec!["d1".into(), "d2".into()] };
        let mut cfg = crate::config::CloneConfig { local: Some(ok.clone()), ..Default::default() };
        assert!(cfg.validate().is_ok());
        for bad in [
            crate::config::LocalClone { to: vec![], ..ok.clone() },
            crate::config::LocalClone { to: vec!["main".into()], ..ok.clone() },
            crate::config::LocalClone { to: vec!["d1".into(), "d1".into()], ..ok.clone() },
            crate::config::LocalClone { from: "../x".into(), ..ok.clone() },
        ] {
            cfg.local = Some(bad.clone());
            assert!(cfg.validate().is_err(), "{bad:?}");
        }
    }
}
