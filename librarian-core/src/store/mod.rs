//! Stores: where data lives. A store is a staging area and a data area on one
//! filesystem; data enters the data area only by an atomic rename from staging.

pub(crate) mod beneath;
pub(crate) mod posix;
pub(crate) mod staging;

use std::path::{Path, PathBuf};

pub use posix::PosixStore;
pub use staging::StagingDir;

use crate::error::Result;
use crate::name::FileName;

/// What the ingest and verify code needs from a place that holds data.
pub trait Store: std::fmt::Debug {
    /// The store's name.
    fn name(&self) -> &str;
    /// Bytes that may still be written (free space of the data and staging areas,
    /// whichever is smaller). The reserve is applied by the caller.
    fn free_bytes(&self) -> Result<u64>;
    /// Create a fresh, locked staging directory for one ingest.
    fn new_staging(&self) -> Result<StagingDir>;
    /// Where `name` lives (or would live) in the data area.
    fn data_path(&self, name: &FileName) -> PathBuf;
    /// Atomically move `staged` (a file or directory on the store's filesystem) to
    /// `name` in the data area, never replacing anything, and make the rename durable.
    fn commit(&self, staged: &Path, name: &FileName) -> Result<()>;
    /// Is `path` on the same filesystem as the data area (so `--move` can rename it)?
    fn same_filesystem(&self, path: &Path) -> Result<bool>;
    /// Remove leftover staging directories of ingests that are no longer running.
    /// Returns the directories removed.
    fn clean_staging(&self, keep: &dyn Fn(&Path) -> bool) -> Result<Vec<PathBuf>>;
}

/// Remove the directories above `path`, up to (not including) the store root `root`,
/// that are empty: the ones a rolled-back ingest created for its name, or the ones
/// that held only a recycled drive's copies. `rmdir` only removes an empty directory,
/// so nothing another file needs is touched; an ingest that created one of them and
/// has not renamed into it yet creates it again ([`Store::commit`] retries).
pub(crate) fn prune_empty_parents(path: &Path, root: &Path) {
    let mut next = path.parent();
    while let Some(dir) = next {
        if dir == root || !dir.starts_with(root) || std::fs::remove_dir(dir).is_err() {
            break;
        }
        next = dir.parent();
    }
}

/// Remove `path` (a file, a link, or a directory with everything in it, read-only
/// directories included), never following a link; nothing there is not an error.
pub(crate) fn remove_all(path: &Path) -> Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(crate::error::Error::invalid("path", format!("{} names nothing to remove", path.display())));
    };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    match beneath::Dir::open_root(parent) {
        Ok(dir) => dir.remove_tree(name),
        Err(_) if std::fs::symlink_metadata(parent).is_err() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Remove the copy at `path` (a file, or a book with everything in it) from the
/// data area `root`, walking beneath the root's descriptor (a link anywhere on the
/// way is refused, never followed; a link at `path` itself is removed, not what it
/// points to), then the directories above it left empty (never the root).
pub(crate) fn remove_copy(path: &Path, root: &Path) -> Result<()> {
    let rel = path.strip_prefix(root).map_err(|_| {
        crate::error::Error::corrupt(
            format!("the copy at {}", path.display()),
            format!("refusing to remove it: not below its store's root {}", root.display()),
        )
    })?;
    let dir = beneath::Dir::open_root(root)?;
    let (parent, name) = dir.parent_of(rel)?;
    parent.as_ref().unwrap_or(&dir).remove_tree(name)?;
    prune_empty_parents(path, root);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_stops_at_a_directory_in_use_and_never_removes_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        std::fs::create_dir_all(root.join("a/keep")).unwrap();
        prune_empty_parents(&root.join("a/b/c/gone.dat"), &root);
        assert!(!root.join("a/b").exists(), "empty directories above the path go");
        assert!(root.join("a/keep").is_dir(), "a directory in use stays");
        std::fs::remove_dir(root.join("a/keep")).unwrap();
        prune_empty_parents(&root.join("a/x"), &root);
        assert!(!root.join("a").exists());
        assert!(root.is_dir(), "the root stays, empty");
        // A path outside the root touches nothing.
        std::fs::create_dir_all(tmp.path().join("other/d")).unwrap();
        prune_empty_parents(&tmp.path().join("other/d/f"), &root);
        assert!(tmp.path().join("other/d").is_dir());
    }
}
