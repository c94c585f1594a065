//! One ingest's staging directory, locked for as long as the ingest runs.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the payload (file or directory) inside each staging directory.
pub(crate) const PAYLOAD: &str = "data";

/// Suffix of the private directory a payload is taken into: `incoming-ID.taken`, a
/// sibling of the peer-writable `incoming-ID` in the staging root (which only this
/// site writes). The name is fixed so that a payload taken by a run that died before
/// committing it is found again by the next run, instead of being lost and sent again.
pub(crate) const TAKEN_SUFFIX: &str = ".taken";

/// A staging directory `<staging>/<uuid>/` holding the payload. The directory itself
/// is flock'ed while this value lives, so other processes can tell a running ingest
/// from a dead one (the kernel drops the lock when the process dies). Locking the
/// directory rather than a lock file inside it saves a create and an unlink per
/// upload. Dropping the value removes the directory and everything in it.
#[derive(Debug)]
pub struct StagingDir {
    dir: PathBuf,
    _lock: File,
}

impl StagingDir {
    pub(crate) fn create(staging_root: &Path) -> Result<Self> {
        let dir = staging_root.join(uuid::Uuid::now_v7().to_string());
        std::fs::create_dir(&dir).map_err(|e| Error::io("cannot create staging directory", &dir, e))?;
        let lock = File::open(&dir).map_err(|e| Error::io("cannot open staging directory", &dir, e))?;
        lock.lock().map_err(|e| Error::io("cannot lock", &dir, e))?;
        Ok(StagingDir { dir, _lock: lock })
    }

    /// The staging directory `<staging_root>/<name>` with a name of the caller's
    /// choosing: created when missing, taken over when a dead process left it (its
    /// lock is free), [`Error::Busy`] while a live one holds it. Never follows a link.
    pub(crate) fn create_or_adopt(staging_root: &Path, name: &str) -> Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = staging_root.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("cannot create staging directory", &dir, e)),
        }
        let lock = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
            .open(&dir)
            .map_err(|e| Error::io("cannot open staging directory", &dir, e))?;
        match lock.try_lock() {
            Ok(()) => Ok(StagingDir { dir, _lock: lock }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Busy { name: dir.display().to_string() }),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io("cannot lock", &dir, e)),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the payload goes.
    pub fn payload(&self) -> PathBuf {
        self.dir.join(PAYLOAD)
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if let Err(e) = super::remove_all(&self.dir) {
            log::warn!("could not remove staging directory {}: {e}", self.dir.display());
        }
    }
}

/// Is the ingest that owns staging directory `dir` still running (its lock held)?
///
/// A directory nobody locks belongs to a dead process, with one exception: its
/// creator locks it just after `mkdir`, so an *empty* unlocked directory younger than
/// `grace` may be in that instant and counts as live. (A payload is only written
/// after the lock is taken, so a non-empty unlocked directory is always dead.)
/// A missing directory is not live.
pub(crate) fn is_live(dir: &Path, grace: std::time::Duration) -> bool {
    let handle = match File::open(dir) {
        Ok(f) => f,
        Err(_) => return false,
    };
    match handle.try_lock() {
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(e)) => {
            log::warn!("cannot test the lock of {}: {e}", dir.display());
            true
        }
        Ok(()) => {
            let empty = std::fs::read_dir(dir).map(|mut rd| rd.next().is_none()).unwrap_or(false);
            empty
                && handle
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age < grace)
        }
    }
}
