//! One ingest's staging directory, locked for as long as the ingest runs.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the lock file inside each staging directory.
pub(crate) const LOCK_FILE: &str = ".lock";
/// Name of the payload (file or directory) inside each staging directory.
pub(crate) const PAYLOAD: &str = "data";

/// A staging directory `<staging>/<uuid>/` holding a lock file (flock held while this
/// value lives, so other processes can tell a running ingest from a dead one) and the
/// payload. Dropping it removes the directory and everything in it.
#[derive(Debug)]
pub struct StagingDir {
    dir: PathBuf,
    _lock: File,
}

impl StagingDir {
    pub(crate) fn create(staging_root: &Path) -> Result<Self> {
        let dir = staging_root.join(uuid::Uuid::now_v7().to_string());
        std::fs::create_dir(&dir).map_err(|e| Error::io("cannot create staging directory", &dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::create(&lock_path).map_err(|e| Error::io("cannot create lock file", &lock_path, e))?;
        lock.lock().map_err(|e| Error::io("cannot lock", &lock_path, e))?;
        Ok(StagingDir { dir, _lock: lock })
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
        if let Err(e) = std::fs::remove_dir_all(&self.dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            log::warn!("could not remove staging directory {}: {e}", self.dir.display());
        }
    }
}

/// Is the ingest that owns `dir` still running? (Its lock is held.) A directory
/// without a lock file counts as running while it is younger than `grace`, since its
/// creator may be between `mkdir` and creating the lock.
pub(crate) fn is_live(dir: &Path, grace: std::time::Duration) -> bool {
    let lock_path = dir.join(LOCK_FILE);
    match File::open(&lock_path) {
        Ok(f) => match f.try_lock() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(e)) => {
                log::warn!("cannot test lock {}: {e}", lock_path.display());
                true
            }
        },
        Err(_) => std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < grace),
    }
}
