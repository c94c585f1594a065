//! Transfer managers: what moves the bytes of a batch from a source instance here to
//! the staging destination a peer gave us.
//!
//! - [`TransferManager`]: a synchronous copy of one item (the local manager, for
//!   sites that share a filesystem).
//! - [`AsyncTransferManager`]: start a batch, poll it, cancel it. Its state is JSON
//!   that the catalog keeps (`transfer_batches.state`), so a later `tasks run`, in
//!   another process, resumes polling a batch started by one that has exited. A
//!   synchronous manager becomes an asynchronous one through [`Synchronous`].
//!
//! Managers only move bytes. Whether they arrived intact is decided by the
//! destination, which re-hashes everything before it commits.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checksum::Checksum;
use crate::error::{Error, Result};
use crate::model::{FileKind, ManagerKind};
use crate::progress::NoProgress;
use crate::store::beneath::Dir;
use crate::tree;

/// One item of a batch: a source instance here and where its bytes must go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// Our (outgoing) transfer id.
    pub transfer: i64,
    /// The instance to read (a file or a directory).
    pub source: PathBuf,
    /// Where the destination wants the data: a path that must not exist yet (the
    /// destination's staging area), or `host:path` for rsync over ssh.
    pub destination: String,
    /// For a local destination: the directory this site was configured to write
    /// below for that peer (`[clone.to.PEER] destination_root`). Managers write only
    /// beneath it, never following a link; without it they write nothing locally.
    #[serde(default)]
    pub destination_root: Option<PathBuf>,
    /// File or book.
    pub kind: FileKind,
    /// Its catalogued checksum here (managers that read the source may check it).
    pub checksum: Checksum,
    /// Its size in bytes.
    pub size: u64,
    /// Nothing was ever written at the destination (the batch's first attempt): a
    /// manager may skip what already exists there. False when a failed attempt may
    /// have left partial data.
    #[serde(default)]
    pub fresh: bool,
}

/// How a started batch is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchProgress {
    /// Still moving bytes.
    Running,
    /// Every item was copied (or failed alone: [`AsyncTransferManager::failed_items`]).
    Done,
    /// It failed; the message says why. The batch may be started again.
    Failed(String),
    /// Still running, but it will not move on without an operator (a Globus task
    /// that is INACTIVE, credentials refused): the message says why. The batch is
    /// kept and a `needs_attention` event raised until it moves again.
    NeedsAttention(String),
    /// Nothing could be learnt this time (the service or network is down): the batch
    /// is kept and polled again later.
    Unknown(String),
}

/// Writes a batch's manager state to the catalog at once: a manager calls it before
/// a step that must never be repeated differently after a crash (a Globus
/// submission id is saved before the submission that uses it).
pub type SaveState<'a> = &'a dyn Fn(&serde_json::Value) -> Result<()>;

/// A synchronous copy of one item.
pub trait TransferManager: fmt::Debug + Send + Sync {
    /// Which manager this is.
    fn kind(&self) -> ManagerKind;
    /// Copy `item`, replacing anything a previous interrupted attempt left at its
    /// destination.
    fn copy(&self, item: &BatchItem) -> Result<()>;
}

/// A manager that moves whole batches in the background.
pub trait AsyncTransferManager: fmt::Debug + Send + Sync {
    /// Which manager this is.
    fn kind(&self) -> ManagerKind;
    /// Start moving `items`; `work_dir` is a directory of this batch's own where the
    /// manager may keep files (logs, exit status); `save` persists an intermediate
    /// state. Returns the state to persist.
    fn start(&self, work_dir: &Path, save: SaveState<'_>, items: &[BatchItem]) -> Result<serde_json::Value>;
    /// How the batch whose persisted state is `state` is doing. A manager may update
    /// `state` (the caller persists it when it changed) and `save` it on the way.
    fn poll(&self, state: &mut serde_json::Value, save: SaveState<'_>) -> Result<BatchProgress>;
    /// Stop the batch if it is still running (`transfers cancel` of its last
    /// transfer).
    fn cancel(&self, state: &serde_json::Value) -> Result<()>;
    /// For a batch that is [`BatchProgress::Done`]: the items that nevertheless failed
    /// on their own (transfer id, why), for managers that copy items independently.
    /// Those transfers fail; the others go on. Default: none.
    fn failed_items(&self, _state: &serde_json::Value) -> Vec<(i64, String)> {
        Vec::new()
    }
}

/// Copy through a shared filesystem, checking on the way that the source still
/// hashes to its catalogued checksum (a corrupt source is never sent).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalManager;

/// Remove what an interrupted attempt left at `dst`: a directory this site created
/// (a receiver's own staging directory). Links are removed, never followed.
pub(crate) fn clear_destination(dst: &Path) -> Result<()> {
    match std::fs::symlink_metadata(dst) {
        Ok(m) if m.is_dir() => crate::store::remove_all(dst),
        Ok(_) => std::fs::remove_file(dst).map_err(|e| Error::io("cannot clear", dst, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("cannot inspect", dst, e)),
    }
}

/// A local destination split into the configured root and the plain relative path
/// below it (at least `incoming-ID/data`).
pub(crate) fn local_destination(item: &BatchItem) -> Result<(&Path, PathBuf)> {
    let dst = Path::new(&item.destination);
    let refuse = |why: &str| {
        Err(Error::corrupt(
            format!("the destination of transfer {}", item.transfer),
            format!("refusing {:?}: {why}", item.destination),
        ))
    };
    let Some(root) = item.destination_root.as_deref() else {
        return refuse("no destination_root is configured for this peer");
    };
    let Ok(rel) = dst.strip_prefix(root) else { return refuse("not below the configured destination_root") };
    if !dst.is_absolute()
        || rel.components().count() < 2
        || rel.components().any(|c| !matches!(c, Component::Normal(_)))
    {
        return refuse("not a plain path below the configured destination_root");
    }
    Ok((root, rel.to_owned()))
}

impl TransferManager for LocalManager {
    fn kind(&self) -> ManagerKind {
        ManagerKind::Local
    }

    /// Write the item beneath the configured root through directory descriptors: the
    /// parents are opened (created only when missing) without following a link, the
    /// data is written under a fresh temporary name this attempt creates, then renamed
    /// to the destination name without replacing anything. Nothing this site did not
    /// create in this attempt is ever removed or overwritten.
    fn copy(&self, item: &BatchItem) -> Result<()> {
        let (root, rel) = local_destination(item)?;
        let (Some(parent_rel), Some(last)) = (rel.parent(), rel.file_name()) else {
            return Err(Error::corrupt(format!("the destination of transfer {}", item.transfer), "too short"));
        };
        let parent = Dir::open_root(root)?.create_dirs(parent_rel)?;
        if parent.stat(last)?.is_some() {
            return Err(Error::AlreadyExists { kind: crate::error::ObjectKind::Path, name: item.destination.clone() });
        }
        let tmp = std::ffi::OsString::from(format!(".librarian-partial-{}", uuid::Uuid::now_v7()));
        let written = write_item(item, &parent, &tmp).and_then(|()| parent.rename_noreplace(&tmp, &parent, last));
        if let Err(e) = written {
            if let Err(e2) = parent.remove_tree(&tmp) {
                log::warn!("cannot remove {}: {e2}", parent.shown().join(&tmp).display());
            }
            return Err(e);
        }
        parent.sync()
    }
}

/// Copy `item`'s source to the new entry `tmp` of `parent`, checking on the way that it
/// still hashes to its catalogued checksum.
fn write_item(item: &BatchItem, parent: &Dir, tmp: &std::ffi::OsStr) -> Result<()> {
    let got = tree::copy_item(&item.source, item.kind, item.checksum.algorithm(), parent, tmp, &NoProgress)?;
    if !item.checksum.matches(&got)? {
        return Err(Error::ChecksumMismatch {
            name: item.source.display().to_string(),
            detail: format!("the source instance hashes to {got}, not {}: it was not sent", item.checksum),
        });
    }
    Ok(())
}

/// Persisted state of a [`Synchronous`] batch: written once every item was tried.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SyncState {
    done: bool,
    #[serde(default)]
    failed: Vec<(i64, String)>,
}

/// Runs a [`TransferManager`] as an [`AsyncTransferManager`]: `start` copies every
/// item before it returns, so `poll` only reports the outcome. An item that fails
/// (e.g. its source no longer hashes to its checksum) fails alone
/// ([`AsyncTransferManager::failed_items`]); the rest of the batch goes on.
#[derive(Debug)]
pub struct Synchronous<M>(pub M);

impl<M: TransferManager> AsyncTransferManager for Synchronous<M> {
    fn kind(&self) -> ManagerKind {
        self.0.kind()
    }

    fn start(&self, _work_dir: &Path, _save: SaveState<'_>, items: &[BatchItem]) -> Result<serde_json::Value> {
        let mut state = SyncState { done: true, failed: Vec::new() };
        for item in items {
            if let Err(e) = self.0.copy(item) {
                log::warn!("{} transfer {} failed: {e}", self.0.kind(), item.transfer);
                state.failed.push((item.transfer, e.to_string()));
            }
        }
        serde_json::to_value(&state).map_err(|e| Error::internal(format!("cannot encode a batch state: {e}")))
    }

    fn poll(&self, state: &mut serde_json::Value, _save: SaveState<'_>) -> Result<BatchProgress> {
        let s: SyncState = serde_json::from_value(state.clone())
            .map_err(|e| Error::corrupt(format!("a {} batch state in the catalog", self.kind()), e.to_string()))?;
        Ok(if s.done { BatchProgress::Done } else { BatchProgress::Failed("interrupted before it finished".into()) })
    }

    fn cancel(&self, _state: &serde_json::Value) -> Result<()> {
        Ok(())
    }

    fn failed_items(&self, state: &serde_json::Value) -> Vec<(i64, String)> {
        serde_json::from_value::<SyncState>(state.clone()).map(|s| s.failed).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::Algorithm;

    fn no_save(_: &serde_json::Value) -> Result<()> {
        Ok(())
    }

    fn item(dir: &Path, source: &Path, checksum: Checksum, kind: FileKind) -> BatchItem {
        BatchItem {
            transfer: 1,
            source: source.to_owned(),
            destination: dir.join("root/incoming-1/data").display().to_string(),
            destination_root: Some(dir.join("root")),
            kind,
            checksum,
            size: 0,
            fresh: true,
        }
    }

    #[test]
    fn local_copies_files_and_books_and_refuses_a_corrupt_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("root/incoming-1/data");
        let src = dir.path().join("f");
        std::fs::write(&src, b"hello").expect("write");
        let (sum, _) = tree::hash_file(&src, Algorithm::Blake3, &NoProgress, &mut tree::scratch()).expect("hash");
        let m = Synchronous(LocalManager);
        let it = item(dir.path(), &src, sum.clone(), FileKind::File);
        // The root must exist; missing parents below it are created.
        let state = m.start(dir.path(), &no_save, std::slice::from_ref(&it)).expect("start");
        assert_eq!(m.failed_items(&state).len(), 1, "no root: nothing written");
        std::fs::create_dir(dir.path().join("root")).expect("mkdir");
        let state = m.start(dir.path(), &no_save, std::slice::from_ref(&it)).expect("start");
        assert_eq!(m.poll(&mut state.clone(), &no_save).expect("poll"), BatchProgress::Done);
        assert!(m.failed_items(&state).is_empty(), "{:?}", m.failed_items(&state));
        assert_eq!(std::fs::read(&dest).expect("read"), b"hello");
        // Something already at the destination is never replaced.
        std::fs::write(&dest, b"theirs").expect("write");
        let state = m.start(dir.path(), &no_save, std::slice::from_ref(&it)).expect("start");
        assert_eq!(m.failed_items(&state).len(), 1);
        assert_eq!(std::fs::read(&dest).expect("read"), b"theirs");
        std::fs::remove_file(&dest).expect("rm");

        std::fs::write(&src, b"hellO").expect("corrupt");
        let state = m.start(dir.path(), &no_save, std::slice::from_ref(&it)).expect("start");
        assert_eq!(m.poll(&mut state.clone(), &no_save).expect("poll"), BatchProgress::Done);
        let failed = m.failed_items(&state);
        assert!(failed.len() == 1 && failed[0].1.contains("not sent"), "{failed:?}");
        assert!(!dest.exists(), "a bad copy is not left behind");
        let leftovers = std::fs::read_dir(dest.parent().expect("parent")).expect("ls").count();
        assert_eq!(leftovers, 0, "the partial copy is removed");
        assert!(matches!(m.poll(&mut serde_json::json!({"done": false}), &no_save), Ok(BatchProgress::Failed(_))));

        let book = dir.path().join("book");
        std::fs::create_dir_all(book.join("a/b")).expect("mkdir");
        std::fs::write(book.join("a/b/x"), b"x").expect("write");
        let mut entries = tree::walk(&book).expect("walk");
        let bsum = tree::hash_book(&book, &mut entries, Algorithm::Blake3, &NoProgress).expect("hash");
        let it = item(dir.path(), &book, bsum, FileKind::Directory);
        let state = m.start(dir.path(), &no_save, std::slice::from_ref(&it)).expect("start");
        assert_eq!(m.poll(&mut state.clone(), &no_save).expect("poll"), BatchProgress::Done);
        assert!(m.failed_items(&state).is_empty());
        assert_eq!(std::fs::read(dest.join("a/b/x")).expect("read"), b"x");
        assert!(m.poll(&mut serde_json::json!({"nonsense": 1}), &no_save).is_err());
    }

    #[test]
    fn local_never_writes_outside_the_root_or_through_a_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("f");
        std::fs::write(&src, b"hello").expect("write");
        let (sum, _) = tree::hash_file(&src, Algorithm::Blake3, &NoProgress, &mut tree::scratch()).expect("hash");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("root")).expect("mkdir");
        std::os::unix::fs::symlink(&outside, dir.path().join("root/incoming-1")).expect("symlink");
        let mut it = item(dir.path(), &src, sum, FileKind::File);
        assert!(matches!(LocalManager.copy(&it), Err(Error::UnsupportedEntry { .. })));
        assert_eq!(std::fs::read_dir(&outside).expect("ls").count(), 0, "nothing written through the link");
        it.destination = outside.join("incoming-2/data").display().to_string();
        assert!(LocalManager.copy(&it).is_err());
        it.destination_root = None;
        it.destination = dir.path().join("root/incoming-3/data").display().to_string();
        assert!(LocalManager.copy(&it).is_err(), "no root, no write");
        assert_eq!(std::fs::read_dir(&outside).expect("ls").count(), 0);
    }
}
