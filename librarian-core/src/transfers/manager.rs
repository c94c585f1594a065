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
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::FileKind;
use crate::checksum::Checksum;
use crate::error::{Error, Result};
use crate::progress::NoProgress;
use crate::tree;

/// The managers there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ManagerKind {
    /// A copy through a shared filesystem.
    Local,
    /// The `rsync` binary (local paths, or `host:path` over ssh).
    Rsync,
    /// A drive carried by hand (no bytes move over the network).
    Sneakernet,
}

impl ManagerKind {
    /// Every manager.
    pub const ALL: [ManagerKind; 3] = [ManagerKind::Local, ManagerKind::Rsync, ManagerKind::Sneakernet];

    /// The JSON, SQL and configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ManagerKind::Local => "local",
            ManagerKind::Rsync => "rsync",
            ManagerKind::Sneakernet => "sneakernet",
        }
    }
}

impl fmt::Display for ManagerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ManagerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ManagerKind::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown transfer manager {s:?}; managers: local, rsync")))
    }
}

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
    /// File or book.
    pub kind: FileKind,
    /// Its catalogued checksum here (managers that read the source may check it).
    pub checksum: Checksum,
    /// Its size in bytes.
    pub size: u64,
}

/// How a started batch is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchProgress {
    /// Still moving bytes.
    Running,
    /// Every item was copied.
    Done,
    /// It failed; the message says why. The batch may be started again.
    Failed(String),
}

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
    /// manager may keep files (logs, exit status). Returns the state to persist.
    fn start(&self, work_dir: &Path, items: &[BatchItem]) -> Result<serde_json::Value>;
    /// How the batch whose persisted state is `state` is doing.
    fn poll(&self, state: &serde_json::Value) -> Result<BatchProgress>;
    /// Stop the batch if it is still running.
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

/// Remove what an interrupted attempt left at `dst`.
pub(crate) fn clear_destination(dst: &Path) -> Result<()> {
    match std::fs::symlink_metadata(dst) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(dst).map_err(|e| Error::io("cannot clear", dst, e)),
        Ok(_) => std::fs::remove_file(dst).map_err(|e| Error::io("cannot clear", dst, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("cannot inspect", dst, e)),
    }
}

impl TransferManager for LocalManager {
    fn kind(&self) -> ManagerKind {
        ManagerKind::Local
    }

    fn copy(&self, item: &BatchItem) -> Result<()> {
        let dst = Path::new(&item.destination);
        if !dst.is_absolute() {
            return Err(Error::InvalidArgument(format!(
                "the local manager needs an absolute destination path, not {:?}",
                item.destination
            )));
        }
        clear_destination(dst)?;
        let algorithm = item.checksum.algorithm();
        let got = match item.kind {
            FileKind::File => tree::copy_file(&item.source, dst, algorithm, true, &NoProgress, &mut tree::scratch())?.0,
            FileKind::Directory => {
                let mut entries = tree::walk(&item.source)?;
                let sum = tree::copy_book(&item.source, dst, &mut entries, algorithm, &NoProgress)?;
                crate::store::posix::sync_filesystem(dst)?;
                sum
            }
        };
        if !item.checksum.matches(&got)? {
            let _ = clear_destination(dst);
            return Err(Error::ChecksumMismatch {
                name: item.source.display().to_string(),
                detail: format!("the source instance hashes to {got}, not {}: it was not sent", item.checksum),
            });
        }
        Ok(())
    }
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

    fn start(&self, _work_dir: &Path, items: &[BatchItem]) -> Result<serde_json::Value> {
        let mut state = SyncState { done: true, failed: Vec::new() };
        for item in items {
            if let Err(e) = self.0.copy(item) {
                log::warn!("{} transfer {} failed: {e}", self.0.kind(), item.transfer);
                state.failed.push((item.transfer, e.to_string()));
            }
        }
        serde_json::to_value(&state).map_err(|e| Error::InvalidArgument(e.to_string()))
    }

    fn poll(&self, state: &serde_json::Value) -> Result<BatchProgress> {
        let s: SyncState = serde_json::from_value(state.clone())
            .map_err(|e| Error::InvalidArgument(format!("unreadable {} batch state: {e}", self.kind())))?;
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

    fn item(dir: &Path, source: &Path, checksum: Checksum, kind: FileKind) -> BatchItem {
        BatchItem {
            transfer: 1,
            source: source.to_owned(),
            destination: dir.join("dest").display().to_string(),
            kind,
            checksum,
            size: 0,
        }
    }

    #[test]
    fn local_copies_files_and_books_and_refuses_a_corrupt_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("f");
        std::fs::write(&src, b"hello").expect("write");
        let (sum, _) = tree::hash_file(&src, Algorithm::Blake3, &NoProgress, &mut tree::scratch()).expect("hash");
        let m = Synchronous(LocalManager);
        let it = item(dir.path(), &src, sum.clone(), FileKind::File);
        // A leftover of an interrupted attempt is replaced.
        std::fs::write(dir.path().join("dest"), b"partial").expect("write");
        let state = m.start(dir.path(), std::slice::from_ref(&it)).expect("start");
        assert_eq!(m.poll(&state).expect("poll"), BatchProgress::Done);
        assert_eq!(std::fs::read(dir.path().join("dest")).expect("read"), b"hello");

        std::fs::write(&src, b"hellO").expect("corrupt");
        let state = m.start(dir.path(), std::slice::from_ref(&it)).expect("start");
        assert_eq!(m.poll(&state).expect("poll"), BatchProgress::Done);
        let failed = m.failed_items(&state);
        assert!(failed.len() == 1 && failed[0].1.contains("not sent"), "{failed:?}");
        assert!(!dir.path().join("dest").exists(), "a bad copy is removed");
        assert!(matches!(m.poll(&serde_json::json!({"done": false})), Ok(BatchProgress::Failed(_))));

        let book = dir.path().join("book");
        std::fs::create_dir_all(book.join("a/b")).expect("mkdir");
        std::fs::write(book.join("a/b/x"), b"x").expect("write");
        let mut entries = tree::walk(&book).expect("walk");
        let bsum = tree::hash_book(&book, &mut entries, Algorithm::Blake3, &NoProgress).expect("hash");
        let it = item(dir.path(), &book, bsum, FileKind::Directory);
        let state = m.start(dir.path(), std::slice::from_ref(&it)).expect("start");
        assert_eq!(m.poll(&state).expect("poll"), BatchProgress::Done);
        assert_eq!(std::fs::read(dir.path().join("dest/a/b/x")).expect("read"), b"x");
        assert!(m.poll(&serde_json::json!({"nonsense": 1})).is_err());
    }
}
