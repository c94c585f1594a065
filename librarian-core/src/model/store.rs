//! Settings of a new store (`librarian store add`).

use std::path::PathBuf;

/// Name of the store `init` creates.
pub const DEFAULT_STORE: &str = "main";

/// Settings of a new store (`librarian store add`).
#[derive(Debug, Clone)]
pub struct StoreSpec {
    /// Unique store name.
    pub name: String,
    /// Data area; created if missing.
    pub root: PathBuf,
    /// Staging area; default `<root>.staging` (see [`StoreSpec::staging_or_default`]).
    pub staging: Option<PathBuf>,
    /// Accept new data (default true).
    pub ingestable: bool,
    /// Bytes of free space to keep.
    pub reserve_bytes: u64,
}

impl StoreSpec {
    /// A store with data area `root`, ingestable, no reserve, default staging.
    pub fn new(name: &str, root: impl Into<PathBuf>) -> Self {
        StoreSpec { name: name.to_owned(), root: root.into(), staging: None, ingestable: true, reserve_bytes: 0 }
    }

    /// The staging area: the one given, else `<root>.staging`, a sibling of the data
    /// area (so on the same filesystem in the usual layout).
    pub fn staging_or_default(&self) -> PathBuf {
        self.staging.clone().unwrap_or_else(|| {
            let mut s = self.root.clone().into_os_string();
            s.push(".staging");
            PathBuf::from(s)
        })
    }
}
