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
