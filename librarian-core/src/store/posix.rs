//! A store on a POSIX filesystem.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Store;
use super::staging::{StagingDir, is_live};
use crate::error::{Error, Result};
use crate::name::FileName;

/// An empty, unlocked staging directory younger than this is left alone by cleanup
/// (its ingest may be between `mkdir` and taking the lock).
const UNLOCKED_GRACE: Duration = Duration::from_secs(3600);

/// A store whose data and staging areas are directories on one local filesystem.
#[derive(Debug, Clone)]
pub struct PosixStore {
    name: String,
    root: PathBuf,
    staging: PathBuf,
}

impl PosixStore {
    /// A store with data area `root` and staging area `staging`.
    pub fn new(name: impl Into<String>, root: impl Into<PathBuf>, staging: impl Into<PathBuf>) -> Self {
        PosixStore { name: name.into(), root: root.into(), staging: staging.into() }
    }

    /// The data area.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The staging area.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Create both areas if needed and check they are on one filesystem.
    pub fn prepare(&self) -> Result<()> {
        for dir in [&self.root, &self.staging] {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create store directory", dir, e))?;
        }
        if !self.same_filesystem(&self.staging)? {
            return Err(Error::invalid(
                "staging",
                format!(
                    "staging area {} and data area {} of store {} must be on one filesystem",
                    self.staging.display(),
                    self.root.display(),
                    self.name
                ),
            ));
        }
        Ok(())
    }
}

fn cstring(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::invalid("path", format!("{} contains a NUL byte", p.display())))
}

/// `rename(2)` that fails with `AlreadyExists` instead of replacing the target.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    let (Ok(f), Ok(t)) = (cstring(from), cstring(to)) else {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    };
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call.
    let rc = unsafe { libc::renameat2(libc::AT_FDCWD, f.as_ptr(), libc::AT_FDCWD, t.as_ptr(), libc::RENAME_NOREPLACE) };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        // Filesystems without RENAME_NOREPLACE: check, then rename. The name is
        // claimed in the catalog, so no other librarian ingest races us here.
        Some(libc::EINVAL) | Some(libc::ENOSYS) => {
            if std::fs::symlink_metadata(to).is_ok() {
                return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
            }
            std::fs::rename(from, to)
        }
        _ => Err(err),
    }
}

/// fsync a directory so a rename or create inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("cannot sync directory", dir, e))
}

/// Flush everything written to the filesystem holding `path` (one `syncfs(2)`), so a
/// book of many files costs one flush, not one per file.
pub(crate) fn sync_filesystem(path: &Path) -> Result<()> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the duration of the call.
    let rc = unsafe { libc::syncfs(f.as_raw_fd()) };
    if rc != 0 {
        return Err(Error::io("cannot sync filesystem of", path, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Move `from` to `to` without replacing anything, creating `to`'s parents, durably.
pub(crate) fn durable_rename(from: &Path, to: &Path) -> Result<()> {
    durable_rename_inner(from, to, None)
}

/// [`durable_rename`], refusing when `to`'s parent resolves outside `root` (a symlink
/// planted in the data area must not carry data elsewhere: design invariant 3).
fn durable_rename_checked(from: &Path, to: &Path, root: &Path) -> Result<()> {
    durable_rename_inner(from, to, Some(root))
}

fn durable_rename_inner(from: &Path, to: &Path, confine: Option<&Path>) -> Result<()> {
    // Every target is a path inside a store, built by this crate.
    let parent =
        to.parent().ok_or_else(|| Error::internal(format!("cannot rename onto {}: it has no parent", to.display())))?;
    // Create missing parents one by one and fsync each one's parent, so the new
    // directory entries are durable too.
    let mut missing = Vec::new();
    let mut p = parent;
    while std::fs::symlink_metadata(p).is_err() {
        missing.push(p.to_owned());
        match p.parent() {
            Some(pp) => p = pp,
            None => break,
        }
    }
    if let Some(root) = confine {
        let real_parent = std::fs::canonicalize(p).map_err(|e| Error::io("cannot resolve", p, e))?;
        let real_root = std::fs::canonicalize(root).map_err(|e| Error::io("cannot resolve", root, e))?;
        if !real_parent.starts_with(&real_root) {
            return Err(Error::UnsupportedEntry {
                path: to.display().to_string(),
                reason: format!(
                    "an existing directory on its path resolves to {}, outside the store",
                    real_parent.display()
                ),
            });
        }
    }
    for dir in missing.iter().rev() {
        match std::fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("cannot create directory", dir, e)),
        }
        if let Some(pp) = dir.parent() {
            sync_dir(pp)?;
        }
    }
    if !std::fs::symlink_metadata(parent).is_ok_and(|m| m.is_dir()) {
        return Err(Error::io(
            "cannot commit under",
            parent,
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "a parent of the name is a file"),
        ));
    }
    let mut renamed = rename_noreplace(from, to);
    if confine.is_some()
        && renamed.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
        && remove_empty_tree(to).unwrap_or(false)
    {
        // Only directories stood there: the parents that a failed or interrupted commit
        // of a name below this one created. The caller holds this name, and names do
        // not nest, so nothing else can be using them.
        renamed = rename_noreplace(from, to);
    }
    renamed.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            Error::AlreadyExists { kind: crate::error::ObjectKind::Path, name: to.display().to_string() }
        }
        _ => Error::io("cannot rename into", to, e),
    })?;
    // Syncing the target's directory makes the rename durable: journalling
    // filesystems commit both directory entries of a rename in one transaction, so the
    // source's directory needs no fsync of its own (one fewer per upload).
    sync_dir(parent)?;
    Ok(())
}

/// Remove `dir` if it and everything below it are directories (no files, no links).
/// Returns whether it was removed.
fn remove_empty_tree(dir: &Path) -> std::io::Result<bool> {
    if !std::fs::symlink_metadata(dir)?.is_dir() {
        return Ok(false);
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() || !remove_empty_tree(&entry.path())? {
            return Ok(false);
        }
    }
    std::fs::remove_dir(dir)?;
    Ok(true)
}

impl Store for PosixStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn free_bytes(&self) -> Result<u64> {
        let a = free_bytes_at(&self.root)?;
        let b = free_bytes_at(&self.staging)?;
        Ok(a.min(b))
    }

    fn new_staging(&self) -> Result<StagingDir> {
        StagingDir::create(&self.staging)
    }

    fn data_path(&self, name: &FileName) -> PathBuf {
        self.root.join(name.as_str())
    }

    fn commit(&self, staged: &Path, name: &FileName) -> Result<()> {
        let target = self.data_path(name);
        // Committed data is read-only: a stray open for writing fails instead of
        // changing it. Only the deletion path makes it writable again. A book's own
        // directory follows once it is in place (a directory is renamed to another
        // parent only while it is writable: its `..` changes).
        set_read_only_below(staged);
        // A rollback of another ingest prunes the empty parent directories it made;
        // if it pruned one we had just created (or found), create them again.
        let mut attempts = 0;
        loop {
            match durable_rename_checked(staged, &target, &self.root) {
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound
                        && attempts < 3
                        && std::fs::symlink_metadata(staged).is_ok() =>
                {
                    attempts += 1;
                }
                Ok(()) => {
                    set_read_only(&target, true);
                    return Ok(());
                }
                other => return other,
            }
        }
    }

    fn same_filesystem(&self, path: &Path) -> Result<bool> {
        let a = std::fs::metadata(&self.root).map_err(|e| Error::io("cannot stat", &self.root, e))?;
        let b = std::fs::symlink_metadata(path).map_err(|e| Error::io("cannot stat", path, e))?;
        Ok(a.dev() == b.dev())
    }

    fn clean_staging(&self, keep: &dyn Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        let rd = match std::fs::read_dir(&self.staging) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(Error::io("cannot list staging area", &self.staging, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("cannot list staging area", &self.staging, e))?;
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if !is_dir || keep(&path) || is_live(&path, UNLOCKED_GRACE) {
                continue;
            }
            super::remove_all(&path)?;
            removed.push(path);
        }
        Ok(removed)
    }
}

/// Take the write bits off `path` (`read_only`), or give the owner's back: a file,
/// or a directory with everything in it; links are left alone, never followed.
/// Best effort: a copy that cannot be changed (another owner's file, moved in with
/// `--move`) is logged and kept as it is.
pub(crate) fn set_read_only(path: &Path, read_only: bool) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else { return };
    if meta.file_type().is_symlink() {
        return;
    }
    if meta.is_dir()
        && let Ok(rd) = std::fs::read_dir(path)
    {
        if !read_only {
            // Writable first, so its entries can be reached whatever its mode was.
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.permissions().mode() | 0o700));
        }
        for entry in rd.flatten() {
            set_read_only(&entry.path(), read_only);
        }
    }
    let mode = meta.permissions().mode() & 0o7777;
    let wanted = if read_only { mode & !0o222 } else { mode | 0o200 | if meta.is_dir() { 0o100 } else { 0 } };
    if wanted != mode
        && let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))
    {
        log::warn!("cannot change the mode of {}: {e}", path.display());
    }
}

/// [`set_read_only`] on a file, or on everything inside a directory (not on the
/// directory itself).
pub(crate) fn set_read_only_below(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            if let Ok(rd) = std::fs::read_dir(path) {
                for entry in rd.flatten() {
                    set_read_only(&entry.path(), true);
                }
            }
        }
        Ok(_) => set_read_only(path, true),
        Err(_) => {}
    }
}

/// The `statvfs` of the filesystem holding `path`.
fn statvfs_at(path: &Path) -> Result<libc::statvfs> {
    let c = cstring(path)?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a valid C string and `st` points to writable memory of the right type.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(Error::io("cannot read free space of", path, std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs succeeded, so it filled the struct.
    Ok(unsafe { st.assume_init() })
}

/// Free bytes available to unprivileged writers on the filesystem holding `path`.
pub(crate) fn free_bytes_at(path: &Path) -> Result<u64> {
    let st = statvfs_at(path)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// The size in bytes of the filesystem holding `path`.
pub(crate) fn total_bytes_at(path: &Path) -> Result<u64> {
    let st = statvfs_at(path)?;
    Ok(st.f_blocks.saturating_mul(st.f_frsize))
}
